#include "logbuffer/shoal_log_waiters.h"

void shoal_log_waiters_wake_subscribers(shoal_logbuffer_metadata_t *meta)
{
    /* Only the writer that clears the flag wakes: concurrent writers that
     * saw it set need not all make the system call. */
    if (0 != __atomic_exchange_n(&meta->subscriber_waiting, 0, __ATOMIC_SEQ_CST))
    {
        __atomic_fetch_add(&meta->subscriber_wake_seq, 1, __ATOMIC_SEQ_CST);
        shoal_futex_wake_all(&meta->subscriber_wake_seq, true);
    }
}

void shoal_log_waiters_notify_subscribers_fenced(shoal_logbuffer_metadata_t *meta)
{
    shoal_store_load_fence();
    if (0 != shoal_load_relaxed(&meta->subscriber_waiting))
    {
        shoal_log_waiters_wake_subscribers(meta);
    }
}

void shoal_log_waiters_notify_publishers(shoal_logbuffer_metadata_t *meta)
{
    shoal_store_load_fence();
    if (0 != shoal_load_relaxed(&meta->publisher_waiting) &&
        0 != __atomic_exchange_n(&meta->publisher_waiting, 0, __ATOMIC_SEQ_CST))
    {
        __atomic_fetch_add(&meta->publisher_wake_seq, 1, __ATOMIC_SEQ_CST);
        shoal_futex_wake_all(&meta->publisher_wake_seq, true);
    }
}

void shoal_log_waiters_writer_attach(shoal_logbuffer_metadata_t *meta)
{
    if (!shoal_membarrier_register())
    {
        shoal_store_release(&meta->unfenced_writers, 1);
    }
}
