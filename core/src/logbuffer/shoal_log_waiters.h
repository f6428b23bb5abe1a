/*
 * Sleeping on a log until it changes: the words of the metadata page that
 * subscribers and back-pressured publishers sleep on, and the checks the
 * writers make so that nobody sleeps through a change.
 *
 * Subscribers (any process mapping the log) sleep on subscriber_wake_seq:
 *     waiter                              writer (offer, claim, receiver)
 *     seq = load(wake_seq)                commit the frame (release)
 *     store(subscriber_waiting, 1)        compiler fence
 *     shoal_membarrier_global()           if (load_relaxed(waiting))
 *     re-check the log for data               waiting = 0, wake_seq++, wake
 *     futex_wait(wake_seq, seq)
 * The waiter's membarrier stands in for the writer's StoreLoad fence (see
 * shoal_futex.h): either the writer's load sees the flag, or the waiter's
 * re-check sees the frame. The writer clears the flag when it wakes, so a
 * commit costs one plain load whenever nobody went to sleep since the last
 * wake, and a waiter that died asleep costs one wake, not one per message.
 * Spurious wake-ups happen (another waiter's data, a signal): waiters
 * re-check.
 *
 * Back-pressured publishers sleep on publisher_wake_seq the same way; the
 * writer there is the driver moving the publication limit, a cold path
 * that pays for a full fence instead of relying on the membarrier.
 */
#ifndef SHOAL_LOG_WAITERS_H
#define SHOAL_LOG_WAITERS_H

#include <stdbool.h>

#include "concurrent/shoal_atomic.h"
#include "concurrent/shoal_futex.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"

/* Wakes the subscribers sleeping on meta (the writer found the flag set). */
void shoal_log_waiters_wake_subscribers(shoal_logbuffer_metadata_t *meta);

/* After committing a frame on a hot path: one plain load when nobody sleeps.
 * The writer's process must have called shoal_membarrier_register (or set
 * meta->unfenced_writers). */
static inline void shoal_log_waiters_notify_subscribers(shoal_logbuffer_metadata_t *meta)
{
    shoal_compiler_fence();
    if (SHOAL_UNLIKELY(0 != shoal_load_relaxed(&meta->subscriber_waiting)))
    {
        shoal_log_waiters_wake_subscribers(meta);
    }
}

/* As above from a cold path (the driver padding a stuck claim): a full
 * fence instead of counting on the waiter's membarrier. */
void shoal_log_waiters_notify_subscribers_fenced(shoal_logbuffer_metadata_t *meta);

/* After the driver moved a publication's limit (any direction): wakes the
 * publishers sleeping on it. Full fence, cold path. */
void shoal_log_waiters_notify_publishers(shoal_logbuffer_metadata_t *meta);

/* For a process about to write frames into meta's log: registers it for
 * the waiters' membarrier, or marks the log so waiters bound their sleeps. */
void shoal_log_waiters_writer_attach(shoal_logbuffer_metadata_t *meta);

#endif
