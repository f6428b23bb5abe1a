#include "transport/ipc/shoal_ipc_publication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_term_unblocker.h"
#include "util/shoal_error.h"
#include "util/shoal_fs.h"

int shoal_ipc_publication_create(shoal_ipc_publication_t **pubp, const char *dir,
    const shoal_ipc_publication_params_t *params, shoal_counters_manager_t *counters, int64_t now_ms)
{
    shoal_ipc_publication_t *pub = calloc(1, sizeof(*pub));
    if (NULL == pub)
    {
        return shoal_set_err(SHOAL_ENOMEM, "ipc publication: out of memory");
    }
    pub->registration_id = params->registration_id;
    pub->session_id = params->session_id;
    pub->stream_id = params->stream_id;
    pub->exclusive = params->exclusive;
    pub->session_id_explicit = params->session_id_explicit;
    pub->state = SHOAL_IPC_PUB_ACTIVE;
    pub->ref_count = 1;
    pub->term_length = params->term_length;
    pub->mtu = params->mtu;
    pub->position_bits_to_shift = shoal_logbuffer_position_bits_to_shift(params->term_length);
    pub->term_window_length = params->term_length / 2;
    pub->trip_gain = pub->term_window_length / 8;
    pub->pub_limit_counter_id = -1;
    pub->pub_pos_counter_id = -1;
    /* A random initial term id, as Aeron, so positions of different streams
     * never look alike to a confused reader. */
    pub->initial_term_id = params->initial_term_id;

    char sub_dir[448];
    snprintf(sub_dir, sizeof(sub_dir), "%s/publications", dir);
    if (shoal_fs_mkdir_private(sub_dir) < 0)
    {
        free(pub);
        return -1;
    }
    snprintf(pub->log_file, sizeof(pub->log_file), "%s/%lld.logbuffer", sub_dir, (long long)params->registration_id);
    pub->mapped_length = 3 * (size_t)params->term_length + SHOAL_LOG_META_DATA_LENGTH;
    void *addr = NULL;
    if (shoal_fs_map_new(pub->log_file, pub->mapped_length, !params->sparse, &addr) < 0)
    {
        free(pub);
        return -1;
    }
    pub->mapped = addr;
    for (int i = 0; i < 3; i++)
    {
        pub->terms[i] = pub->mapped + (size_t)i * (size_t)params->term_length;
    }
    pub->meta = (shoal_logbuffer_metadata_t *)(pub->mapped + 3 * (size_t)params->term_length);
    if (shoal_logbuffer_metadata_init(pub->meta, params->term_length, params->mtu, (int32_t)sysconf(_SC_PAGESIZE),
        pub->initial_term_id, params->session_id, params->stream_id, params->registration_id) < 0)
    {
        shoal_ipc_publication_delete(pub, counters, now_ms);
        return -1;
    }

    char label[160];
    uint8_t key[16];
    memcpy(key, &params->registration_id, 8);
    memcpy(key + 8, &params->session_id, 4);
    memcpy(key + 12, &params->stream_id, 4);
    snprintf(label, sizeof(label), "pub-lmt: %lld %d %d aeron:ipc", (long long)params->registration_id,
        params->session_id, params->stream_id);
    pub->pub_limit_counter_id = shoal_counters_manager_allocate(counters, now_ms, SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT,
        key, sizeof(key), label, params->registration_id, 0);
    snprintf(label, sizeof(label), "pub-pos: %lld %d %d aeron:ipc", (long long)params->registration_id,
        params->session_id, params->stream_id);
    pub->pub_pos_counter_id = shoal_counters_manager_allocate(counters, now_ms, SHOAL_COUNTER_TYPE_PUBLISHER_POSITION,
        key, sizeof(key), label, params->registration_id, 0);
    if (pub->pub_limit_counter_id < 0 || pub->pub_pos_counter_id < 0)
    {
        shoal_ipc_publication_delete(pub, counters, now_ms);
        return -1;
    }
    pub->pub_limit = shoal_counter_addr(counters->values, pub->pub_limit_counter_id);
    pub->pub_pos = shoal_counter_addr(counters->values, pub->pub_pos_counter_id);
    int64_t start = shoal_ipc_publication_producer_position(pub);
    shoal_store_release(pub->pub_pos, start);
    shoal_store_release(pub->pub_limit, start);
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
    if (pub->pub_limit_counter_id >= 0)
    {
        shoal_counters_manager_free(counters, now_ms, pub->pub_limit_counter_id);
    }
    if (pub->pub_pos_counter_id >= 0)
    {
        shoal_counters_manager_free(counters, now_ms, pub->pub_pos_counter_id);
    }
    for (int32_t i = 0; i < pub->subscriber_count; i++)
    {
        shoal_counters_manager_free(counters, now_ms, pub->subscribers[i].counter_id);
    }
    if (NULL != pub->mapped)
    {
        shoal_fs_unmap(pub->mapped, pub->mapped_length);
        /* Clients that still map the file keep their mapping; the name goes now. */
        unlink(pub->log_file);
    }
    free(pub->subscribers);
    free(pub);
}

int64_t shoal_ipc_publication_producer_position(const shoal_ipc_publication_t *pub)
{
    int32_t term_count = shoal_load_acquire(&pub->meta->active_term_count);
    int64_t raw_tail = shoal_load_acquire(&pub->meta->term_tail_counters[shoal_logbuffer_index_by_term_count(term_count)]);
    int32_t term_id = shoal_logbuffer_term_id(raw_tail);
    int32_t term_offset = shoal_logbuffer_term_offset(raw_tail, pub->term_length);
    return shoal_logbuffer_compute_position(term_id, term_offset, pub->position_bits_to_shift, pub->initial_term_id);
}

int shoal_ipc_publication_add_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id,
    int64_t image_id, int32_t counter_id, int64_t *value)
{
    if (pub->subscriber_count == pub->subscriber_capacity)
    {
        int32_t cap = pub->subscriber_capacity ? pub->subscriber_capacity * 2 : 4;
        shoal_subscriber_position_t *grown = realloc(pub->subscribers, (size_t)cap * sizeof(*grown));
        if (NULL == grown)
        {
            return shoal_set_err(SHOAL_ENOMEM, "ipc publication: out of memory adding a subscriber");
        }
        pub->subscribers = grown;
        pub->subscriber_capacity = cap;
    }
    /* Join at the producer position: a new subscriber sees what is published
     * from now on; the limit cannot move backwards for it. */
    int64_t join_position = shoal_ipc_publication_producer_position(pub);
    shoal_store_release(value, join_position);
    shoal_subscriber_position_t *s = &pub->subscribers[pub->subscriber_count++];
    s->subscription_registration_id = subscription_registration_id;
    s->image_id = image_id;
    s->counter_id = counter_id;
    s->value = value;
    s->out_of_range = false;
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

static int clean_chunk(shoal_ipc_publication_t *pub, int64_t position)
{
    int64_t clean_position = pub->clean_position;
    size_t index = shoal_logbuffer_index_by_position(clean_position, pub->position_bits_to_shift);
    int64_t bytes_to_clean = position - clean_position;
    int32_t term_offset = (int32_t)(clean_position & (pub->term_length - 1));
    int64_t bytes_left_in_term = pub->term_length - term_offset;
    int64_t length = bytes_to_clean < bytes_left_in_term ? bytes_to_clean : bytes_left_in_term;
    uint8_t *addr = pub->terms[index] + term_offset;
    if (length > (int64_t)sizeof(int64_t))
    {
        memset(addr + sizeof(int64_t), 0, (size_t)length - sizeof(int64_t));
    }
    shoal_store_release((int64_t *)addr, (int64_t)0);
    pub->clean_position = clean_position + length;
    return 1;
}

/* Zeroes the log up to `position`, a term-bounded chunk at a time. The first
 * word of a chunk (where a frame length may live) is cleared last with
 * release. Loops to the end: the limit moves right after, and the publisher
 * must only ever find zeroed terms ahead of it.
 * A correct stream moves the target by less than a term a tick (the
 * publisher stops at the limit this tick sets). A target more than the whole
 * log ahead comes from a tail counter a client wrote: everything in between
 * would be zeroed several times over, so skip to the last log length. */
static int clean_buffer(shoal_ipc_publication_t *pub, int64_t position)
{
    int work = 0;
    const int64_t log_length = (int64_t)SHOAL_LOGBUFFER_PARTITION_COUNT * pub->term_length;
    if (position - pub->clean_position > log_length)
    {
        pub->clean_position = position - log_length;
    }
    while (position > pub->clean_position)
    {
        work += clean_chunk(pub, position);
    }
    return work;
}

/* Pads over a claim that was never committed at blocked_position. */
static bool unblock_log(shoal_ipc_publication_t *pub, int64_t blocked_position)
{
    if (blocked_position < 0)
    {
        /* Only a corrupt tail counter puts the producer, and so the clamped
         * consumer, below the start of the stream. */
        return false;
    }
    shoal_logbuffer_metadata_t *m = pub->meta;
    int32_t blocked_term_count = (int32_t)(blocked_position >> pub->position_bits_to_shift);
    int32_t blocked_offset = (int32_t)(blocked_position & (pub->term_length - 1));
    int32_t active_term_count = shoal_load_acquire(&m->active_term_count);

    if (active_term_count == blocked_term_count - 1 && 0 == blocked_offset)
    {
        /* The writer tripped the term end and died before rotating. */
        int64_t raw = shoal_load_acquire(&m->term_tail_counters[shoal_logbuffer_index_by_term_count(active_term_count)]);
        return shoal_logbuffer_rotate_log(m, active_term_count, shoal_logbuffer_term_id(raw));
    }

    size_t index = shoal_logbuffer_index_by_term_count(blocked_term_count);
    int64_t raw_tail = shoal_load_acquire(&m->term_tail_counters[index]);
    int32_t term_id = shoal_logbuffer_term_id(raw_tail);
    int32_t tail_offset = shoal_logbuffer_term_offset(raw_tail, pub->term_length);
    switch (shoal_term_unblocker_unblock(m, pub->terms[index], pub->term_length, blocked_offset, tail_offset, term_id))
    {
        case SHOAL_UNBLOCK_UNBLOCKED_TO_END: /* the unblocker rotated the log too */
        case SHOAL_UNBLOCK_UNBLOCKED:
            return true;
        default:
            return false;
    }
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
    const int64_t lowest = producer_position - pub->term_length;
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

static bool is_possibly_blocked(const shoal_ipc_publication_t *pub, int64_t producer_position, int64_t consumer_position)
{
    int32_t producer_term_count = shoal_load_acquire(&pub->meta->active_term_count);
    int32_t expected_term_count = (int32_t)(consumer_position >> pub->position_bits_to_shift);
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

    int64_t producer_position = shoal_ipc_publication_producer_position(pub);
    shoal_store_release(pub->pub_pos, producer_position);

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
            work += clean_buffer(pub, min_sub - pub->term_length);
        }
        else if (new_limit > pub->trip_limit ||
            (new_limit > shoal_load_relaxed(pub->pub_limit) &&
                shoal_load_relaxed(pub->pub_limit) - producer_position < pub->term_window_length / 2))
        {
            /* (or the publisher is past half its window: then every step
             * counts, so it is not left waiting for a parked conductor) */
            /* Clean one term behind the slowest reader before letting the
             * publisher advance, so it only ever enters zeroed terms. */
            work += clean_buffer(pub, min_sub - pub->term_length);
            if (new_limit > shoal_load_relaxed(pub->pub_limit))
            {
                shoal_store_release(pub->pub_limit, new_limit);
                work++;
            }
            pub->trip_limit = new_limit + pub->trip_gain;
        }
        if (SHOAL_IPC_PUB_ACTIVE == pub->state && 0 == shoal_load_relaxed(&pub->meta->is_connected))
        {
            shoal_store_release(&pub->meta->is_connected, 1);
        }

        /* A clamped position is no evidence of a stuck claim: padding at a
         * made-up position could land inside a frame. */
        if (!clamped && min_sub == pub->last_consumer_position &&
            is_possibly_blocked(pub, producer_position, min_sub))
        {
            if (now_ms > pub->time_of_last_consumer_change_ms + unblock_timeout_ms)
            {
                if (unblock_log(pub, min_sub))
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
        if (SHOAL_IPC_PUB_ACTIVE == pub->state && shoal_load_relaxed(pub->pub_limit) > pub->consumer_position)
        {
            shoal_store_release(pub->pub_limit, pub->consumer_position);
            pub->trip_limit = pub->consumer_position;
            work++;
        }
        if (shoal_load_relaxed(&pub->meta->is_connected))
        {
            shoal_store_release(&pub->meta->is_connected, 0);
        }
        /* Everything written so far can never be read: clean behind it. */
        work += clean_buffer(pub, producer_position - pub->term_length);
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
        shoal_store_release(pub->pub_limit, shoal_ipc_publication_producer_position(pub));
        shoal_store_release(&pub->meta->is_connected, 0);
    }
}
