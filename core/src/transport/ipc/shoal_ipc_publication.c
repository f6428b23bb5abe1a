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
    pub->session_id_explicit = params->session_id_explicit;
    pub->state = SHOAL_IPC_PUB_ACTIVE;
    pub->term_window_length = params->resource.log.term_length / 2;
    pub->trip_gain = pub->term_window_length / 8;
    int64_t start = shoal_log_buffer_producer_position(&pub->log);
    pub->trip_limit = start;
    pub->clean_position = start;
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
    for (int32_t i = 0; i < pub->subscriber_count; i++)
    {
        shoal_counters_manager_free(counters, now_ms, pub->subscribers[i].counter_id);
    }
    shoal_publication_resource_close(&pub->resource, &pub->log, counters, now_ms);
    free(pub->subscribers);
    free(pub);
}

int shoal_ipc_publication_add_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id,
    int64_t image_id, int32_t counter_id, int64_t *value)
{
    if (shoal_array_ensure((void **)&pub->subscribers, pub->subscriber_count, &pub->subscriber_capacity,
            sizeof(*pub->subscribers), "ipc publication: adding a subscriber") < 0)
    {
        return -1;
    }
    /* Join at the producer position: a new subscriber sees what is published
     * from now on; the limit cannot move backwards for it. */
    int64_t join_position = shoal_log_buffer_producer_position(&pub->log);
    shoal_store_release(value, join_position);
    pub->subscribers[pub->subscriber_count++] = (shoal_subscriber_position_t){
        .subscription_registration_id = subscription_registration_id,
        .image_id = image_id,
        .counter_id = counter_id,
        .value = value,
    };
    if (1 == pub->subscriber_count)
    {
        pub->last_consumer_position = join_position;
    }
    if (join_position > pub->consumer_position)
    {
        pub->consumer_position = join_position;
    }
    return pub->subscriber_count - 1;
}

int32_t shoal_ipc_publication_remove_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id)
{
    for (int32_t i = 0; i < pub->subscriber_count; i++)
    {
        if (pub->subscribers[i].subscription_registration_id == subscription_registration_id)
        {
            int32_t counter_id = pub->subscribers[i].counter_id;
            pub->subscribers[i] = pub->subscribers[--pub->subscriber_count];
            return counter_id;
        }
    }
    return -1;
}

/* A subscriber reads only what was produced, and the limit keeps the
 * producer within the term window (plus one message) of the slowest
 * subscriber: any value outside [producer - term length, producer] was
 * written by a broken or hostile client. It is clamped (INT64_MAX would make
 * the cleaning loop run for hours, a negative one index outside the log) and
 * counted once per excursion. */
static int64_t subscriber_position(shoal_ipc_publication_t *pub, shoal_subscriber_position_t *s,
    int64_t producer_position)
{
    const int64_t value = shoal_load_acquire(s->value);
    const int64_t lowest = producer_position - pub->log.term_length;
    const int64_t clamped = value > producer_position ? producer_position : value < lowest ? lowest : value;
    if (clamped != value && !s->out_of_range)
    {
        pub->invalid_position_count++;
        pub->last_invalid_position = value;
        pub->last_invalid_subscription_registration_id = s->subscription_registration_id;
    }
    s->out_of_range = clamped != value;
    return clamped;
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

    int64_t producer_position = shoal_log_buffer_producer_position(&pub->log);
    shoal_store_release(pub->resource.pub_pos, producer_position);

    if (pub->subscriber_count > 0)
    {
        int64_t min_sub = INT64_MAX;
        int64_t max_sub = pub->consumer_position;
        bool clamped = false;
        for (int32_t i = 0; i < pub->subscriber_count; i++)
        {
            int64_t p = subscriber_position(pub, &pub->subscribers[i], producer_position);
            min_sub = p < min_sub ? p : min_sub;
            max_sub = p > max_sub ? p : max_sub;
            clamped |= pub->subscribers[i].out_of_range;
        }
        pub->consumer_position = max_sub;
        int64_t new_limit = min_sub + pub->term_window_length;
        if (SHOAL_IPC_PUB_ACTIVE != pub->state)
        {
            work += shoal_log_buffer_clean(&pub->log, &pub->clean_position, min_sub - pub->log.term_length);
        }
        else if (new_limit > pub->trip_limit ||
            (new_limit > shoal_load_relaxed(pub->resource.pub_limit) &&
                shoal_load_relaxed(pub->resource.pub_limit) - producer_position < pub->term_window_length / 2))
        {
            /* (or the publisher is past half its window: then every step
             * counts, so it is not left waiting for a parked conductor) */
            /* Clean one term behind the slowest reader before letting the
             * publisher advance, so it only ever enters zeroed terms. */
            work += shoal_log_buffer_clean(&pub->log, &pub->clean_position, min_sub - pub->log.term_length);
            if (new_limit > shoal_load_relaxed(pub->resource.pub_limit))
            {
                shoal_store_release(pub->resource.pub_limit, new_limit);
                shoal_log_waiters_notify_publishers(pub->log.meta);
                work++;
            }
            pub->trip_limit = new_limit + pub->trip_gain;
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
        /* Nobody reads (none yet, or the last one left): the limit drops to
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
        /* Everything written so far can never be read: clean behind it. */
        work += shoal_log_buffer_clean(&pub->log, &pub->clean_position, producer_position - pub->log.term_length);
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
