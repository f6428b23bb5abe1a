/*
 * Idle strategies for duty cycles (driver conductor, client conductor, pollers).
 * Call shoal_idle(i, work_count) once per cycle with the amount of work done;
 * any work resets the backoff. Each shoal_idle_t belongs to one thread.
 *
 *   busy-spin  shoal_cpu_pause only: lowest latency, burns a core
 *   yield      sched_yield every idle cycle
 *   sleep      1 ms nanosleep every idle cycle: lowest CPU
 *   backoff    10 spins, 20 yields, then sleeps doubling from 1 us to 1 ms
 *              (no yields, and parks from 100 us, for a while after a slow
 *              yield: below)
 *
 * Backoff counts duty cycles, not time: a driver cycle makes a few syscalls
 * (recvmmsg per endpoint, several us each in a VM), so 100 spin cycles held
 * the core for milliseconds. A driver whose work arrives every few cycles
 * (a UDP round trip) then never yielded, and an application thread sharing its
 * core waited for the driver's whole time slice: UDP round trip p50 ~0.7 ms.
 * A few spins, then yields, hand the core over within a few cycles.
 *
 * A yield is only cheap when whoever shares the core yields back (or nobody
 * does): given to a thread that busy-polls, it is not returned until that
 * thread's time slice ends (2-5 ms here with EEVDF), while a driver that
 * parked would have been woken in tens of us. A pinned IPC stream whose
 * subscriber shares the driver's core then waits milliseconds at a time for
 * its publication limit (1 KiB throughput 7.3 M msgs/s with the yields, 13-14
 * without). So a yield that kept the thread off the core for longer than
 * SHOAL_IDLE_SLOW_YIELD_NS skips the yield phase (spin, then park from
 * 100 us) for SHOAL_IDLE_SLOW_YIELD_BACKOFF_NS, then yields are tried
 * again: threads that yield to each other (a UDP round trip with --yield)
 * keep them, and a round trip that parks instead pays the wake-up (p50 28 ->
 * 96 us measured).
 */
#ifndef SHOAL_IDLE_H
#define SHOAL_IDLE_H

#include <stdint.h>

#include "shoal/shoal.h"

#define SHOAL_IDLE_BACKOFF_MAX_SPINS            10
#define SHOAL_IDLE_BACKOFF_MAX_YIELDS           20
#define SHOAL_IDLE_BACKOFF_MIN_PARK_NS          1000LL
#define SHOAL_IDLE_BACKOFF_MAX_PARK_NS          1000000LL
#define SHOAL_IDLE_SLEEP_NS                     1000000LL
#define SHOAL_IDLE_SLOW_YIELD_NS                500000LL
#define SHOAL_IDLE_SLOW_YIELD_BACKOFF_NS        250000000LL
#define SHOAL_IDLE_BACKOFF_NO_YIELD_MIN_PARK_NS 100000LL

typedef struct shoal_idle_stct
{
    shoal_idle_strategy_t kind;
    int64_t spins;          /* idle cycles spent spinning since the last work */
    int64_t yields;         /* idle cycles spent yielding since the last work */
    int64_t park_ns;        /* next sleep length; 0 until parking starts */
    int64_t yield_again_ns; /* no yield phase before this time (a yield was slow) */
} shoal_idle_t;

void shoal_idle_init(shoal_idle_t *i, shoal_idle_strategy_t kind);
/* work_count > 0 resets the backoff and returns at once. */
void shoal_idle(shoal_idle_t *i, int work_count);
/* Forget accumulated backoff (e.g. after a burst is expected). */
void shoal_idle_reset(shoal_idle_t *i);
/* "busy-spin" | "yield" | "sleep" | "backoff" -> 0; else -1 with SHOAL_EINVAL naming it. */
int shoal_idle_parse(const char *name, shoal_idle_strategy_t *out);
/* Inverse of parse; "unknown" for a bad value. */
const char *shoal_idle_name(shoal_idle_strategy_t kind);

#endif
