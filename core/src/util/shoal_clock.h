/*
 * Clocks. Epoch clocks (CLOCK_REALTIME) for timestamps other processes read
 * (heartbeats, error log); the monotonic clock for timeouts and durations.
 * All are vDSO calls on Linux (~20 ns), cheap enough for duty cycles.
 */
#ifndef SHOAL_CLOCK_H
#define SHOAL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t shoal_epoch_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

static inline int64_t shoal_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000LL + (int64_t)ts.tv_nsec / 1000000LL;
}

/* Monotonic nanoseconds from an arbitrary origin: only differences mean anything. */
static inline int64_t shoal_nano_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

#endif
