/*
 * Idle strategies. Backoff moves through three phases while a duty cycle finds
 * no work: spin (stay hot for a few cycles), yield (let a thread sharing the
 * core run: on a machine with fewer cores than busy threads, that is who the
 * driver waits for), then park with sleeps doubling from 1 us to 1 ms (give the core away,
 * bound the wake-up latency). Any work resets it to spinning. A yield that
 * came back late (the core went to a thread that does not yield) turns the
 * yield phase off for a while: shoal_idle.h says why.
 */
#include "util/shoal_idle.h"

#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

static void idle_sleep_ns(int64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000LL), .tv_nsec = (long)(ns % 1000000000LL) };
    /* An interrupted sleep just ends the idle period early; the caller polls again. */
    nanosleep(&ts, NULL);
}

void shoal_idle_reset(shoal_idle_t *i)
{
    i->spins = 0;
    i->yields = 0;
    i->park_ns = 0;
}

void shoal_idle_init(shoal_idle_t *i, shoal_idle_strategy_t kind)
{
    i->kind = kind;
    i->yield_again_ns = 0; /* kept across resets: it describes the core, not the episode */
    shoal_idle_reset(i);
}

/* Idle path only: reads the clock. */
static bool idle_yield_allowed(shoal_idle_t *i)
{
    if (shoal_nano_time() < i->yield_again_ns)
    {
        return false;
    }
    i->yield_again_ns = 0;
    return true;
}

static void idle_backoff(shoal_idle_t *i)
{
    if (i->spins < SHOAL_IDLE_BACKOFF_MAX_SPINS)
    {
        i->spins++;
        shoal_cpu_pause();
    }
    else if (i->yields < SHOAL_IDLE_BACKOFF_MAX_YIELDS && (0 == i->yield_again_ns || idle_yield_allowed(i)))
    {
        i->yields++;
        const int64_t start = shoal_nano_time();
        sched_yield();
        const int64_t end = shoal_nano_time();
        if (end - start > SHOAL_IDLE_SLOW_YIELD_NS)
        {
            i->yield_again_ns = end + SHOAL_IDLE_SLOW_YIELD_BACKOFF_NS;
        }
    }
    else
    {
        if (i->park_ns <= 0)
        {
            /* Without yields the co-runner is a thread that does not yield:
             * each wake-up takes the core from it, and 1 us parks (some 50
             * us with the default timer slack) woke us up to check ~20 times
             * a ms (32 B IPC throughput 127 -> 108 M msgs/s). */
            i->park_ns =
                0 != i->yield_again_ns ? SHOAL_IDLE_BACKOFF_NO_YIELD_MIN_PARK_NS : SHOAL_IDLE_BACKOFF_MIN_PARK_NS;
        }
        idle_sleep_ns(i->park_ns);
        i->park_ns = i->park_ns * 2 > SHOAL_IDLE_BACKOFF_MAX_PARK_NS ? SHOAL_IDLE_BACKOFF_MAX_PARK_NS : i->park_ns * 2;
    }
}

void shoal_idle(shoal_idle_t *i, int work_count)
{
    if (work_count > 0)
    {
        if (i->spins != 0 || i->yields != 0 || i->park_ns != 0)
        {
            shoal_idle_reset(i);
        }
        return;
    }
    switch (i->kind)
    {
        case SHOAL_IDLE_BUSY_SPIN: shoal_cpu_pause(); break;
        case SHOAL_IDLE_YIELD: sched_yield(); break;
        case SHOAL_IDLE_SLEEP: idle_sleep_ns(SHOAL_IDLE_SLEEP_NS); break;
        case SHOAL_IDLE_BACKOFF:
        default: idle_backoff(i); break;
    }
}

/* The names settings and environment variables use. */
typedef struct idle_name_stct
{
    const char *name;
    shoal_idle_strategy_t kind;
} idle_name_t;

static const idle_name_t IDLE_NAMES[] = {
    { "busy-spin", SHOAL_IDLE_BUSY_SPIN },
    { "yield", SHOAL_IDLE_YIELD },
    { "sleep", SHOAL_IDLE_SLEEP },
    { "backoff", SHOAL_IDLE_BACKOFF },
};

int shoal_idle_parse(const char *name, shoal_idle_strategy_t *out)
{
    if (name == NULL || out == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "idle strategy: NULL argument");
    }
    for (size_t k = 0; k < sizeof(IDLE_NAMES) / sizeof(IDLE_NAMES[0]); k++)
    {
        if (strcmp(name, IDLE_NAMES[k].name) == 0)
        {
            *out = IDLE_NAMES[k].kind;
            return 0;
        }
    }
    return shoal_set_err(SHOAL_EINVAL, "unknown idle strategy '%.100s' (expected busy-spin, yield, sleep or backoff)",
        name);
}

const char *shoal_idle_name(shoal_idle_strategy_t kind)
{
    for (size_t k = 0; k < sizeof(IDLE_NAMES) / sizeof(IDLE_NAMES[0]); k++)
    {
        if (IDLE_NAMES[k].kind == kind)
        {
            return IDLE_NAMES[k].name;
        }
    }
    return "unknown";
}
