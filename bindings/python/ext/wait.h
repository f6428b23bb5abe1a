/*
 * Time, timeouts and waiting with the GIL released: the one loop every
 * `timeout=` argument (offer, try_claim, poll*, recv_into, wait_connected)
 * goes through. Polls and offers sleep in the library's futex waits between
 * attempts (no CPU while idle); wait_connected backs off (spin, yield, sleep).
 */
#ifndef SHOAL_PY_WAIT_H
#define SHOAL_PY_WAIT_H

#include "handle.h"

int64_t mono_ns(void);

/* None -> *wait_ns = -1 (do not wait); seconds >= 0 -> nanoseconds (INT64_MAX: forever).
 * -1 with an exception for anything else. */
int parse_timeout(PyObject *obj, int64_t *wait_ns);

/* Monotonic time wait_ns from now (INT64_MAX stays forever). */
int64_t deadline_after(int64_t wait_ns);

typedef int (*attempt_fn)(void *arg); /* nonzero: done */

enum
{
    WAIT_TIMEOUT = 0,
    WAIT_DONE = 1,
    WAIT_CLOSING = 2,
    WAIT_SIGNAL = -1
};

/* Calls attempt(arg) with the GIL released until it reports done, *closing
 * becomes non-zero or the deadline passes. Takes the GIL back every 50 ms to
 * run signal handlers (Ctrl-C interrupts the wait: WAIT_SIGNAL, exception
 * set). Called with the GIL. */
int wait_released(attempt_fn attempt, void *arg, const int *closing, int64_t deadline);

/* Sleeps (GIL released) at most max_ns, or until the attempt may succeed. */
typedef void (*sleep_fn)(void *arg, int64_t max_ns);

/* As wait_released, sleeping between attempts in sleep(arg, ...) (a
 * shoal_subscription_wait or shoal_publication_wait_available: no CPU while
 * idle), each sleep bounded by the next signal check; NULL sleep: backoff. */
int wait_released_sleeping(attempt_fn attempt, sleep_fn sleep, void *arg, const int *closing, int64_t deadline);

/* wait_released until handle closes: WAIT_DONE or WAIT_TIMEOUT, or -1 with
 * an exception (a signal handler raised, or ClosedError: it closed meanwhile). */
int wait_released_or_raise(attempt_fn attempt, void *arg, HandleObject *handle, int64_t deadline);

#endif
