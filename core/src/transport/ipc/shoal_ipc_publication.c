#include "transport/ipc/shoal_ipc_publication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_log_waiters.h"
#include "util/shoal_array.h"
#include "util/shoal_error.h"

int shoal_ipc_publication_create(shoal_ipc_publication_t **pubp, const char *dir,
    const shoal_ipc_publication_params_t *params, shoal_counters_manager_t *counters, int64_t now_ms)
{
    shoal_ipc_publication_t *pub = calloc(1, sizeof(*pub));
    if (NULL == pub)
    {
        return shoal_set_err(SHOAL_ENOMEM, "ipc publication: out of memory");
    }
    if (shoal_publication_resource_open(&pub->resource, &pub->log, dir, &params->resource, counters, now_ms) < 0)
    {
        free(pub);
        return -1;
    }
    /* Not zeroed between laps: readers tell this lap's frames by their
     * headers (shoal_term_frame_length_checked). */
    shoal_log_buffer_mark_uncleaned(&pub->log);
    pub->session_id_explicit = params->session_id_explicit;
    pub->state = SHOAL_IPC_PUB_ACTIVE;
    pub->term_window_length = params->resource.log.term_length / 2;
    pub->trip_gain = pub->term_window_length / SHOAL_IPC_PUB_TRIP_GAIN_DIVISOR;
    int64_t start = shoal_log_buffer_producer_position(&pub->log);
    pub->trip_limit = start;
    pub->consumer_position = start;
    pub->last_consumer_position = start;
    pub->time_of_last_consumer_change_ms = now_ms;
    *pubp = pub;
    return 0;
}

void shoal_ipc_publication_delete(shoal_ipc_publication_t *pub, shoal_counters_manager_t *counters, int64_t now_ms)
{
    if (NULL == pub)
    {
        return;
    }
    for (int32_t i = 0; i < pub->subscribers.count; i++)
    {
        shoal_counters_manager_free(counters, now_ms, pub->subscribers.items[i].counter_id);
    }
    shoal_publication_resource_close(&pub->resource, &pub->log, counters, now_ms);
    shoal_subscriber_positions_close(&pub->subscribers);
    free(pub);
}

int64_t shoal_ipc_publication_join_position(const shoal_ipc_publication_t *pub)
{
    /* A subscriber sees what is published from now on; the limit cannot
     * move backwards for it. */
    return shoal_log_buffer_producer_position(&pub->log);
}

int64_t shoal_ipc_publication_untethered_window_limit(const shoal_ipc_publication_t *pub)
{
    return shoal_untethered_window_limit(pub->consumer_position, pub->term_window_length);
}

int shoal_ipc_publication_add_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id,
    int64_t image_id, int32_t counter_id, int64_t *value, const shoal_tether_params_t *tether, int64_t now_ns)
{
    static const shoal_tether_params_t tethered = { .tether = true };
    int64_t join_position = shoal_ipc_publication_join_position(pub);
    bool first = !shoal_subscriber_positions_any_working(&pub->subscribers);
    int index = shoal_subscriber_positions_add(&pub->subscribers, subscription_registration_id, image_id, counter_id,
        value, NULL == tether ? &tethered : tether, join_position, now_ns);
    if (index < 0)
    {
        return -1;
    }
    if (first)
    {
        pub->last_consumer_position = join_position;
    }
    if (join_position > pub->consumer_position)
    {
        pub->consumer_position = join_position;
    }
    return index;
}

int32_t shoal_ipc_publication_remove_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id)
{
    return shoal_subscriber_positions_remove(&pub->subscribers, subscription_registration_id);
}

static bool is_possibly_blocked(const shoal_ipc_publication_t *pub, int64_t producer_position,
    int64_t consumer_position)
{
    int32_t producer_term_count = shoal_load_acquire(&pub->log.meta->active_term_count);
    int32_t expected_term_count = (int32_t)(consumer_position >> pub->log.position_bits_to_shift);
    return producer_term_count != expected_term_count || producer_position > consumer_position;
}

int shoal_ipc_publication_on_tick(shoal_ipc_publication_t *pub, int64_t now_ms, int64_t unblock_timeout_ms,
    int64_t linger_ms, int64_t *unblocked_counter)
{
    int work = 0;
    if (SHOAL_IPC_PUB_LINGER == pub->state)
    {
        if (now_ms >= pub->linger_deadline_ms)
        {
            pub->state = SHOAL_IPC_PUB_DONE;
            work++;
        }
        return work;
    }

    shoal_subscriber_positions_sample(&pub->subscribers);
    int64_t producer_position = shoal_log_buffer_producer_position(&pub->log);
    shoal_store_release(pub->resource.pub_pos, producer_position);

    int64_t min_sub = INT64_MAX;
    int64_t max_sub = INT64_MIN;
    if (shoal_subscriber_positions_bounds(&pub->subscribers, producer_position, pub->log.term_length, &min_sub,
            &max_sub))
    {
        const bool clamped = shoal_subscriber_positions_any_out_of_range(&pub->subscribers);
        pub->consumer_position = max_sub > pub->consumer_position ? max_sub : pub->consumer_position;
        int64_t new_limit = min_sub + pub->term_window_length;
        /* The log is not cleaned (readers check each frame's header:
         * shoal_frame_check.h), so a trip only moves the limit. */
        if (SHOAL_IPC_PUB_ACTIVE == pub->state && new_limit > pub->trip_limit)
        {
            if (new_limit > shoal_load_relaxed(pub->resource.pub_limit))
            {
                shoal_store_release(pub->resource.pub_limit, new_limit);
                shoal_log_waiters_notify_publishers(pub->log.meta);
                work++;
            }
            pub->trip_limit = new_limit + pub->trip_gain;
        }
        else if (SHOAL_IPC_PUB_ACTIVE == pub->state && new_limit > shoal_load_relaxed(pub->resource.pub_limit) &&
            shoal_load_relaxed(pub->resource.pub_limit) - producer_position < pub->term_window_length / 2)
        {
            /* A publisher past half its window gets every step the subscriber
             * takes, at whatever pace the conductor ticks; but that is not
             * work: a conductor kept from idling by it took a core from the
             * publisher or the subscriber on 2 cores. */
            shoal_store_release(pub->resource.pub_limit, new_limit);
            shoal_log_waiters_notify_publishers(pub->log.meta);
        }
        if (SHOAL_IPC_PUB_ACTIVE == pub->state && 0 == shoal_load_relaxed(&pub->log.meta->is_connected))
        {
            shoal_store_release(&pub->log.meta->is_connected, 1);
        }

        /* A clamped position is no evidence of a stuck claim: padding at a
         * made-up position could land inside a frame. */
        if (!clamped && min_sub == pub->last_consumer_position && is_possibly_blocked(pub, producer_position, min_sub))
        {
            if (now_ms > pub->time_of_last_consumer_change_ms + unblock_timeout_ms)
            {
                if (shoal_log_buffer_unblock(&pub->log, min_sub))
                {
                    pub->unblocked_count++;
                    (*unblocked_counter)++;
                    work++;
                }
                pub->time_of_last_consumer_change_ms = now_ms;
            }
        }
        else
        {
            pub->last_consumer_position = min_sub;
            pub->time_of_last_consumer_change_ms = now_ms;
        }

        if (SHOAL_IPC_PUB_DRAINING == pub->state && min_sub >= producer_position)
        {
            pub->state = SHOAL_IPC_PUB_LINGER;
            pub->linger_deadline_ms = now_ms + linger_ms;
            work++;
        }
    }
    else
    {
        /* Nobody reads (none yet, the last one left, or only untethered
         * subscribers that were let go): the limit drops to
         * what was consumed, at or behind the producer, so the next offer
         * reports NOT_CONNECTED instead of writing into the void (up to a
         * term window of it). The limit goes first: a publisher that sees
         * is_connected = 0 sees the lowered limit too. */
        if (SHOAL_IPC_PUB_ACTIVE == pub->state && shoal_load_relaxed(pub->resource.pub_limit) > pub->consumer_position)
        {
            shoal_store_release(pub->resource.pub_limit, pub->consumer_position);
            pub->trip_limit = pub->consumer_position;
            work++;
        }
        if (shoal_load_relaxed(&pub->log.meta->is_connected))
        {
            shoal_store_release(&pub->log.meta->is_connected, 0);
        }
        if (SHOAL_IPC_PUB_DRAINING == pub->state)
        {
            pub->state = SHOAL_IPC_PUB_LINGER;
            pub->linger_deadline_ms = now_ms + linger_ms;
            work++;
        }
    }
    return work;
}

void shoal_ipc_publication_on_publishers_gone(shoal_ipc_publication_t *pub, int64_t now_ms)
{
    (void)now_ms;
    if (SHOAL_IPC_PUB_ACTIVE == pub->state)
    {
        pub->state = SHOAL_IPC_PUB_DRAINING;
        /* Stop further writes by any straggling handle (limit first, as on tick). */
        shoal_store_release(pub->resource.pub_limit, shoal_log_buffer_producer_position(&pub->log));
        shoal_store_release(&pub->log.meta->is_connected, 0);
    }
}
