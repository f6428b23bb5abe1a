/*
 * Clock, start flags and --rate pacing of shoal-bench's threads, shared by the
 * shoal, ZeroMQ and Aeron loops so that all of them pace and time alike.
 * Inline: these sit in timed loops.
 *
 * The clock is the TSC, scaled to nanoseconds, wherever the kernel keeps
 * its own time with it (clocksource "tsc": invariant and synchronised
 * across CPUs), else CLOCK_MONOTONIC. An IPC round trip takes 0.1-0.5 us;
 * clock_gettime costs ~20 ns a reading inside it and, on some VMs, moves in
 * 10 ns steps, so two loops 5 ns apart land in the same or in neighbouring
 * buckets by chance. bench_clock_init() chooses and calibrates, once, before
 * any thread reads the clock.
 */
#ifndef SHOAL_BENCH_CLOCK_H
#define SHOAL_BENCH_CLOCK_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#else
#define BENCH_HAVE_TSC 0
#endif

typedef struct
{
    int tsc;            /* 1: bench_now_ns reads the TSC */
    double ns_per_tick; /* calibrated against CLOCK_MONOTONIC */
    uint64_t base_tick; /* TSC and CLOCK_MONOTONIC at the same moment */
    int64_t base_ns;
} bench_clock_t;

extern bench_clock_t bench_clock;

static inline int64_t bench_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t bench_now_ns(void)
{
#if BENCH_HAVE_TSC
    if (bench_clock.tsc)
    {
        /* rdtscp: the reading waits for the loads before it (the pong's). */
        unsigned aux;
        const uint64_t ticks = __rdtscp(&aux) - bench_clock.base_tick;
        return bench_clock.base_ns + (int64_t)((double)ticks * bench_clock.ns_per_tick);
    }
#endif
    return bench_monotonic_ns();
}

/* Chooses the clock (want_tsc 0: CLOCK_MONOTONIC whatever the machine) and
 * describes it into desc (the header's "clock" line): source, rate, cost of
 * a reading and its smallest step. */
void bench_clock_init(int want_tsc, char *desc, size_t desc_len);

static inline void bench_wait_flag(const int *flag)
{
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
        sched_yield();
}

/* Ping i of a paced run that started at start: waits for its intended send time (sleep while far, then
 * spin; if late, no wait) and returns that time. The latency counts from the intended time, not from now
 * (t0): time lost to a stall is not left out. */
static inline int64_t bench_pace(int64_t start, long i, double interval_ns, int64_t t0)
{
    const int64_t intended = start + (int64_t)((double)i * interval_ns);
    for (int64_t ahead; (ahead = intended - t0) > 0; t0 = bench_now_ns())
    {
        if (ahead > 200000)
        {
            struct timespec ts = { 0, ahead - 100000 };
            nanosleep(&ts, NULL);
        }
    }
    return intended;
}

#endif
