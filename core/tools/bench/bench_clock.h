/*
 * Clock, start flags and --rate pacing of shoal-bench's threads, shared by the
 * shoal, ZeroMQ and Aeron loops so that all of them pace and time alike.
 * Inline: these sit in timed loops.
 */
#ifndef SHOAL_BENCH_CLOCK_H
#define SHOAL_BENCH_CLOCK_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

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
