#include "transport/udp/shoal_network_publication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_log_waiters.h"
#include "logbuffer/shoal_logbuffer_tsan.h"
#include "transport/udp/shoal_send_channel_endpoint.h"
#include "logbuffer/shoal_term_scanner.h"
#include "util/shoal_error.h"
#include "util/shoal_alloc.h"

static int32_t allocate_counter(shoal_counters_manager_t *counters, int64_t now_ms, int32_t type, const char *name,
    const shoal_network_publication_params_t *p)
{
    const shoal_log_buffer_params_t *log = &p->resource.log;
    return shoal_stream_counter_allocate(counters, now_ms, type, name, log->registration_id, log->session_id,
        log->stream_id, p->resource.channel, NULL, 0);
}

int shoal_network_publication_create(shoal_network_publication_t **pubp, const char *dir,
    const shoal_network_publication_params_t *p, shoal_send_channel_endpoint_t *endpoint,
    shoal_counters_manager_t *counters, int64_t now_ns)
{
    int64_t now_ms = now_ns / 1000000;
    shoal_network_publication_t *pub = shoal_alloc_cache_aligned(sizeof(*pub), "network publication");
    if (NULL == pub)
    {
        return -1;
    }
    pub->reliable = p->reliable;
    pub->spies_simulate_connection = p->spies_simulate_connection;
    pub->spy_position = INT64_MIN;
    pub->ttl = p->ttl;
    pub->endpoint = endpoint;
    pub->state = SHOAL_NET_PUB_ACTIVE;
    pub->term_window_length = p->resource.log.term_length / 2;
    pub->connection_timeout_ns = p->connection_timeout_ns;
    pub->tail_probe_interval_ns = p->tail_probe_interval_ns;
    pub->tail_probe_backoff_ns = p->tail_probe_interval_ns;
    pub->unblock_timeout_ns = p->unblock_timeout_ns;
    pub->linger_ns = p->linger_ns;
    pub->is_response = p->is_response;
    pub->response_image_correlation_id = -1;
    pub->snd_pos_counter_id = pub->snd_lmt_counter_id = pub->snd_bpe_counter_id = -1;
    snprintf(pub->channel, sizeof(pub->channel), "%s", p->resource.channel);
    shoal_retransmit_handler_init(&pub->retransmit, p->retransmit_linger_ns);
    pub->retransmit_budget = p->retransmit_budget > 0 ? p->retransmit_budget : INT64_MAX;
    pub->retransmit_budget_interval_ns =
        p->retransmit_budget_interval_ns > 0 ? p->retransmit_budget_interval_ns : 1000 * 1000 * 1000LL;
    pub->retransmit_budget_start_ns = now_ns;
    if (shoal_flow_control_init(&pub->flow_control, p->fc_spec, p->fc_default, p->fc_receiver_timeout_ns) < 0)
    {
        free(pub);
        return -1;
    }
    if (shoal_publication_resource_open(&pub->resource, &pub->log, dir, &p->resource, counters, now_ms) < 0)
    {
        free(pub);
        return -1;
    }
    pub->snd_pos_counter_id = allocate_counter(counters, now_ms, SHOAL_COUNTER_TYPE_SENDER_POSITION, "snd-pos", p);
    pub->snd_lmt_counter_id = allocate_counter(counters, now_ms, SHOAL_COUNTER_TYPE_SENDER_LIMIT, "snd-lmt", p);
    pub->snd_bpe_counter_id = allocate_counter(counters, now_ms, SHOAL_COUNTER_TYPE_SENDER_BPE, "snd-bpe", p);
    if (pub->snd_pos_counter_id < 0 || pub->snd_lmt_counter_id < 0 || pub->snd_bpe_counter_id < 0)
    {
        shoal_network_publication_delete(pub, counters, now_ms);
        return -1;
    }
    pub->setup_flags =
        pub->resource.response_correlation_id >= 0 && !pub->is_response ? SHOAL_SETUP_FLAG_SEND_RESPONSE : 0;
    pub->snd_pos = shoal_counter_addr(counters->values, pub->snd_pos_counter_id);
    pub->snd_lmt = shoal_counter_addr(counters->values, pub->snd_lmt_counter_id);
    pub->snd_bpe = shoal_counter_addr(counters->values, pub->snd_bpe_counter_id);

    int64_t start = shoal_log_buffer_producer_position(&pub->log);
    shoal_store_release(pub->snd_pos, start);
    shoal_store_release(pub->snd_lmt, start);
    /* Sending, flow control and cleaning all start where the producer is. */
    pub->sender_position = pub->sender_limit = start;
    pub->clean_position = pub->acked_position = pub->last_snd_pos_seen = start;
    pub->time_of_last_snd_pos_change_ns = now_ns;
    pub->should_send_setup = true;
    pub->time_of_last_setup_ns = now_ns - SHOAL_NET_PUB_SETUP_INTERVAL_NS;
    pub->time_of_last_data_or_heartbeat_ns = now_ns;
    pub->time_of_last_sm_ns = now_ns - p->connection_timeout_ns - 1;
    *pubp = pub;
    return 0;
}

void shoal_network_publication_delete(shoal_network_publication_t *pub, shoal_counters_manager_t *counters,
    int64_t now_ms)
{
    if (NULL == pub)
    {
        return;
    }
    for (int32_t i = 0; i < pub->spies.count; i++)
    {
        shoal_counters_manager_free(counters, now_ms, pub->spies.items[i].counter_id);
    }
    shoal_subscriber_positions_close(&pub->spies);
    shoal_stream_counter_free(counters, now_ms, &pub->snd_pos_counter_id);
    shoal_stream_counter_free(counters, now_ms, &pub->snd_lmt_counter_id);
    shoal_stream_counter_free(counters, now_ms, &pub->snd_bpe_counter_id);
    shoal_publication_resource_close(&pub->resource, &pub->log, counters, now_ms);
    free(pub);
}

/* ------------------------------------------------------------------ sender */

/* Datagrams to the publication's receivers: the endpoint's destinations,
 * or a response publication's one requester (none known yet: as if sent,
 * as MDC without receivers). One predictable branch per batch. */
static inline int send_datagrams(shoal_network_publication_t *pub, const struct iovec *datagrams, int count)
{
    if (pub->is_response)
    {
        return pub->has_response_address
            ? shoal_send_channel_endpoint_send_batch_to(pub->endpoint, datagrams, count, &pub->response_address)
            : count;
    }
    return shoal_send_channel_endpoint_send(pub->endpoint, datagrams, count);
}

static bool send_one(shoal_network_publication_t *pub, const void *buf, size_t length)
{
    struct iovec iov = { (void *)buf, length };
    return 1 == send_datagrams(pub, &iov, 1);
}

static void send_setup(shoal_network_publication_t *pub, int64_t now_ns)
{
    shoal_setup_header_t s;
    int32_t term_offset = (int32_t)(pub->sender_position & (pub->log.term_length - 1));
    s.frame_header = shoal_frame_header(SHOAL_SETUP_HEADER_LENGTH, pub->setup_flags, SHOAL_HDR_TYPE_SETUP);
    s.term_offset = term_offset;
    s.session_id = pub->resource.session_id;
    s.stream_id = pub->resource.stream_id;
    s.initial_term_id = pub->log.initial_term_id;
    s.active_term_id = shoal_logbuffer_compute_term_id_from_position(pub->sender_position,
        pub->log.position_bits_to_shift, pub->log.initial_term_id);
    s.term_length = pub->log.term_length;
    s.mtu = pub->resource.mtu;
    s.ttl = pub->ttl;
    if (send_one(pub, &s, sizeof(s)))
    {
        pub->time_of_last_setup_ns = now_ns;
    }
}

static void send_heartbeat(shoal_network_publication_t *pub, int64_t now_ns)
{
    shoal_data_header_t h;
    h.frame_header = shoal_frame_header(0,
        SHOAL_FRAME_FLAG_UNFRAGMENTED | (shoal_load_acquire(&pub->end_of_stream) ? SHOAL_FRAME_FLAG_EOS : 0),
        SHOAL_HDR_TYPE_DATA);
    h.term_offset = (int32_t)(pub->sender_position & (pub->log.term_length - 1));
    h.session_id = pub->resource.session_id;
    h.stream_id = pub->resource.stream_id;
    h.term_id = shoal_logbuffer_compute_term_id_from_position(pub->sender_position, pub->log.position_bits_to_shift,
        pub->log.initial_term_id);
    h.reserved_value = 0;
    if (send_one(pub, &h, sizeof(h)))
    {
        pub->time_of_last_data_or_heartbeat_ns = now_ns;
        shoal_udp_counters_add(&pub->endpoint->udp.counters, SHOAL_UDP_COUNTER_HEARTBEATS_SENT, 1);
    }
}

/* ssc=true with no live receiver: the spies are the audience, so the sender
 * moves along with the furthest of them (sending that range to nobody is
 * pointless); the publisher limit follows the sender position. */
static void follow_spies(shoal_network_publication_t *pub)
{
    if (!pub->spies_simulate_connection || shoal_load_relaxed(&pub->has_receivers))
    {
        return;
    }
    const int64_t spy = shoal_load_acquire(&pub->spy_position);
    if (spy > pub->sender_position)
    {
        pub->sender_position = spy;
        shoal_store_release(pub->snd_pos, spy);
        if (pub->sender_limit < spy)
        {
            pub->sender_limit = spy;
            shoal_store_release(pub->snd_lmt, spy);
        }
    }
}

static int send_data(shoal_network_publication_t *pub, int64_t now_ns)
{
    int64_t position = pub->sender_position;
    int64_t window = pub->sender_limit - position;
    if (window <= 0)
    {
        return 0;
    }
    struct iovec iov[SHOAL_UDP_BATCH];
    int64_t position_after[SHOAL_UDP_BATCH];
    int count = 0;
    shoal_logbuffer_tsan_before_scan(pub->log.meta);
    while (count < SHOAL_UDP_BATCH && window > 0)
    {
        int32_t term_offset = (int32_t)(position & (pub->log.term_length - 1));
        size_t index = shoal_logbuffer_index_by_position(position, pub->log.position_bits_to_shift);
        int32_t max_length = window < pub->resource.mtu ? (int32_t)window : pub->resource.mtu;
        int32_t padding = 0;
        int32_t available = shoal_term_scan_for_availability(pub->log.terms[index], term_offset, max_length,
            pub->log.term_length, &padding);
        if (available <= 0)
        {
            break;
        }
        iov[count].iov_base = pub->log.terms[index] + term_offset;
        iov[count].iov_len = (size_t)available;
        position += available + padding;
        window -= available + padding;
        position_after[count++] = position;
    }
    if (0 == count)
    {
        return 0;
    }
    int sent = send_datagrams(pub, iov, count);
    if (sent > 0)
    {
        pub->sender_position = position_after[sent - 1];
        shoal_store_release(pub->snd_pos, pub->sender_position);
        pub->time_of_last_data_or_heartbeat_ns = now_ns;
        pub->time_of_last_data_ns = now_ns;
    }
    return sent;
}

int shoal_network_publication_send(shoal_network_publication_t *pub, int64_t now_ns)
{
    int work = 0;
    if (pub->should_send_setup && now_ns - pub->time_of_last_setup_ns >= SHOAL_NET_PUB_SETUP_INTERVAL_NS)
    {
        send_setup(pub, now_ns);
        work++;
    }
    follow_spies(pub);
    int sent = send_data(pub, now_ns);
    work += sent;
    if (0 == sent)
    {
        int64_t idle = now_ns - pub->time_of_last_data_or_heartbeat_ns;
        if (idle >= SHOAL_NET_PUB_HEARTBEAT_INTERVAL_NS ||
            (idle >= pub->tail_probe_backoff_ns && pub->sender_position > shoal_load_relaxed(&pub->acked_position) &&
                shoal_load_relaxed(&pub->has_receivers)))
        {
            /* Also a tail-loss probe: if the last datagrams were lost, the
             * receiver learns from the heartbeat's position that they exist.
             * Probes back off (x2) until data flows or an SM catches up. */
            send_heartbeat(pub, now_ns);
            if (pub->tail_probe_backoff_ns < SHOAL_NET_PUB_HEARTBEAT_INTERVAL_NS)
            {
                pub->tail_probe_backoff_ns *= 2;
            }
            work++;
        }
        if (!pub->back_pressured && pub->sender_limit - pub->sender_position < pub->resource.mtu &&
            shoal_log_buffer_producer_position(&pub->log) > pub->sender_position)
        {
            pub->back_pressured = true;
            shoal_store_release(pub->snd_bpe, shoal_load_relaxed(pub->snd_bpe) + 1);
        }
    }
    else
    {
        pub->back_pressured = false;
        pub->tail_probe_backoff_ns = pub->tail_probe_interval_ns;
    }

    if (shoal_load_relaxed(&pub->has_receivers) && now_ns - pub->time_of_last_sm_ns > pub->connection_timeout_ns)
    {
        /* The conductor lowers the publisher limit, then clears is_connected. */
        shoal_store_release(&pub->has_receivers, 0);
        pub->should_send_setup = SHOAL_NET_PUB_ACTIVE == shoal_load_relaxed(&pub->state);
    }
    int64_t limit = shoal_flow_control_on_idle(&pub->flow_control, now_ns, pub->sender_limit, pub->sender_position);
    if (limit != pub->sender_limit)
    {
        pub->sender_limit = limit;
        shoal_store_release(pub->snd_lmt, limit);
    }
    if (pub->retransmit.count > 0)
    {
        shoal_retransmit_handler_process_timeouts(&pub->retransmit, now_ns);
    }
    return work;
}

/* Known receivers: an entry per address that sent a valid status message.
 * Linear scans of at most SHOAL_NET_PUB_MAX_KNOWN_RECEIVERS (usually one or
 * a few): no allocation on the SM or NAK path. */
static void remember_receiver(shoal_network_publication_t *pub, const struct sockaddr_storage *from, int32_t window,
    int64_t now_ns)
{
    int32_t stalest = 0;
    for (int32_t i = 0; i < pub->known_receiver_count; i++)
    {
        shoal_known_receiver_t *r = &pub->known_receivers[i];
        if (shoal_udp_addr_equal(&r->address, from))
        {
            r->time_of_last_sm_ns = now_ns;
            r->window = window;
            return;
        }
        if (r->time_of_last_sm_ns < pub->known_receivers[stalest].time_of_last_sm_ns)
        {
            stalest = i;
        }
    }
    int32_t slot =
        pub->known_receiver_count < SHOAL_NET_PUB_MAX_KNOWN_RECEIVERS ? pub->known_receiver_count++ : stalest;
    pub->known_receivers[slot].address = *from;
    pub->known_receivers[slot].time_of_last_sm_ns = now_ns;
    pub->known_receivers[slot].window = window;
}

static const shoal_known_receiver_t *find_receiver(const shoal_network_publication_t *pub,
    const struct sockaddr_storage *from, int64_t now_ns)
{
    for (int32_t i = 0; i < pub->known_receiver_count; i++)
    {
        const shoal_known_receiver_t *r = &pub->known_receivers[i];
        if (shoal_udp_addr_equal(&r->address, from))
        {
            return now_ns - r->time_of_last_sm_ns <= pub->connection_timeout_ns ? r : NULL;
        }
    }
    return NULL;
}

void shoal_network_publication_on_status_message(shoal_network_publication_t *pub, const uint8_t *frame, size_t length,
    const struct sockaddr_storage *from, int64_t now_ns)
{
    shoal_status_message_header_t sm;
    memcpy(&sm, frame, sizeof(sm));
    (void)length;
    shoal_network_publication_state_t state = shoal_load_relaxed(&pub->state);
    if (sm.frame_header.flags & SHOAL_SM_FLAG_SETUP)
    {
        /* A receiver wants to (re)build an image: only a live stream obliges. */
        if (SHOAL_NET_PUB_ACTIVE == state || SHOAL_NET_PUB_DRAINING == state)
        {
            pub->should_send_setup = true;
            pub->time_of_last_setup_ns = now_ns - SHOAL_NET_PUB_SETUP_INTERVAL_NS;
            if (pub->is_response)
            {
                /* The requester's response subscription, from the socket it
                 * receives on: where this stream goes (as Aeron). */
                pub->response_address = *from;
                pub->has_response_address = true;
            }
        }
        return;
    }
    if (sm.consumption_term_offset < 0 || sm.consumption_term_offset > pub->log.term_length || sm.receiver_window < 0)
    {
        return;
    }
    int64_t position = shoal_logbuffer_compute_position(sm.consumption_term_id, sm.consumption_term_offset,
        pub->log.position_bits_to_shift, pub->log.initial_term_id);
    if (position < 0 || position > pub->sender_position)
    {
        /* Not a position this stream has sent: another incarnation, or forged. */
        return;
    }
    if (sm.receiver_window > pub->log.term_length / 2)
    {
        /* No receiver holds more than half a term ahead of what it consumed:
         * a bigger window is a forgery that would let the sender overrun. */
        sm.receiver_window = pub->log.term_length / 2;
        shoal_udp_counters_add(&pub->endpoint->udp.counters, SHOAL_UDP_COUNTER_SM_WINDOWS_CLAMPED, 1);
    }
    remember_receiver(pub, from, sm.receiver_window, now_ns);
    int64_t limit = shoal_flow_control_on_status_message(&pub->flow_control, sm.receiver_id, position,
        sm.receiver_window, pub->sender_limit, now_ns);
    if (limit != pub->sender_limit)
    {
        pub->sender_limit = limit;
        shoal_store_release(pub->snd_lmt, limit);
    }
    /* What every known receiver has consumed: the drain waits for it. */
    int64_t acked = shoal_flow_control_min_position(&pub->flow_control, position);
    if (acked != shoal_load_relaxed(&pub->acked_position))
    {
        shoal_store_release(&pub->acked_position, acked);
    }
    shoal_store_release(&pub->time_of_last_sm_ns, now_ns);
    pub->should_send_setup = false;
    if (!shoal_load_relaxed(&pub->has_receivers) && shoal_flow_control_has_required_receivers(&pub->flow_control))
    {
        /* The conductor raises the publisher limit, then sets is_connected. */
        shoal_store_release(&pub->has_receivers, 1);
    }
}

/* reliable=false: the data is not sent again, but a receiver that NAKs (a
 * reliable subscription) is told to step over the range: one PAD header
 * covering it, as the receiver's own gap fill would write, so it moves on
 * instead of stalling on a gap that nobody will fill. The NAKed range runs
 * from a frame start to a frame start (or the sender position). It goes
 * where a resend would (MDC: the requester only). */
static void send_gap_padding(shoal_network_publication_t *pub, const shoal_nak_header_t *nak, int64_t length,
    const struct sockaddr_storage *from)
{
    if (length > pub->log.term_length - nak->term_offset)
    {
        length = pub->log.term_length - nak->term_offset;
    }
    if (length < SHOAL_DATA_HEADER_LENGTH || (length & (SHOAL_FRAME_ALIGNMENT - 1)))
    {
        return;
    }
    shoal_data_header_t h = shoal_pad_header((int32_t)length, nak->term_offset, pub->resource.session_id,
        pub->resource.stream_id, nak->term_id);
    struct iovec iov = { &h, sizeof(h) };
    shoal_send_channel_endpoint_resend(pub->endpoint, &iov, 1, from);
}

void shoal_network_publication_on_nak(shoal_network_publication_t *pub, const uint8_t *frame,
    const struct sockaddr_storage *from, int64_t now_ns)
{
    const shoal_known_receiver_t *receiver = find_receiver(pub, from, now_ns);
    if (NULL == receiver)
    {
        /* Not from a receiver of ours: a spoofed or stray NAK must not make
         * us send (NAK amplification). */
        shoal_udp_counters_add(&pub->endpoint->udp.counters, SHOAL_UDP_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS, 1);
        return;
    }
    shoal_nak_header_t nak;
    memcpy(&nak, frame, sizeof(nak));
    if (nak.term_offset < 0 || nak.term_offset >= pub->log.term_length ||
        (nak.term_offset & (SHOAL_FRAME_ALIGNMENT - 1)) || nak.length <= 0)
    {
        return;
    }
    int64_t position = shoal_logbuffer_compute_position(nak.term_id, nak.term_offset, pub->log.position_bits_to_shift,
        pub->log.initial_term_id);
    /* The log is intact a whole term behind the sender (cleaning stays a term
     * back, the publisher a term window ahead). Receivers can be more than a
     * window behind: the sender steps over padding beyond its limit. */
    int64_t bottom = pub->sender_position - pub->log.term_length;
    if (position >= 0 && position < bottom)
    {
        /* Overwritten: a receiver this far behind (possible with fc=max,
         * which lets the fastest set the pace) cannot be repaired. Counted
         * so that a stuck receiver can be explained. */
        shoal_udp_counters_add(&pub->endpoint->udp.counters, SHOAL_UDP_COUNTER_NAKS_UNSERVED, 1);
        return;
    }
    if (position < 0 || position >= pub->sender_position)
    {
        return;
    }
    if (now_ns - pub->retransmit_budget_start_ns >= pub->retransmit_budget_interval_ns)
    {
        pub->retransmit_budget_start_ns = now_ns;
        pub->retransmit_budget_used = 0;
    }
    int64_t budget_left = pub->retransmit_budget - pub->retransmit_budget_used;
    if (budget_left < pub->resource.mtu)
    {
        /* Spent (less than a frame left would send nothing). */
        shoal_udp_counters_add(&pub->endpoint->udp.counters, SHOAL_UDP_COUNTER_NAKS_OVER_BUDGET, 1);
        return;
    }
    if (!shoal_retransmit_handler_on_nak(&pub->retransmit, nak.term_id, nak.term_offset, now_ns))
    {
        return;
    }
    /* A receiver never misses more than its window: what it cannot hold it
     * would not have NAKed. Never less than an mtu, so a gap always moves. */
    int64_t remaining = nak.length;
    int64_t window = receiver->window > pub->resource.mtu ? receiver->window : pub->resource.mtu;
    remaining = remaining < window ? remaining : window;
    remaining = remaining < budget_left ? remaining : budget_left;
    if (remaining > pub->sender_position - position)
    {
        remaining = pub->sender_position - position;
    }
    if (!pub->reliable)
    {
        send_gap_padding(pub, &nak, remaining, from);
        return;
    }
    size_t index = shoal_logbuffer_index_by_position(position, pub->log.position_bits_to_shift);
    uint8_t *term = pub->log.terms[index];
    int32_t offset = nak.term_offset;
    shoal_logbuffer_tsan_before_scan(pub->log.meta);
    while (remaining > 0)
    {
        struct iovec iov[SHOAL_UDP_BATCH];
        int count = 0;
        while (count < SHOAL_UDP_BATCH && remaining > 0 && offset < pub->log.term_length)
        {
            int32_t padding = 0;
            int32_t max_length = remaining < pub->resource.mtu ? (int32_t)remaining : pub->resource.mtu;
            int32_t available =
                shoal_term_scan_for_availability(term, offset, max_length, pub->log.term_length, &padding);
            if (available <= 0)
            {
                remaining = 0;
                break;
            }
            iov[count].iov_base = term + offset;
            iov[count].iov_len = (size_t)available;
            count++;
            offset += available + padding;
            remaining -= available + padding;
        }
        if (0 == count)
        {
            break;
        }
        int sent = shoal_send_channel_endpoint_resend(pub->endpoint, iov, count, from);
        shoal_udp_counters_add(&pub->endpoint->udp.counters, SHOAL_UDP_COUNTER_RETRANSMITS_SENT, sent);
        pub->retransmits_sent += sent;
        for (int i = 0; i < sent; i++)
        {
            pub->retransmit_budget_used += (int64_t)iov[i].iov_len;
            pub->retransmit_bytes_sent += (int64_t)iov[i].iov_len;
        }
        if (sent < count)
        {
            break;
        }
    }
}

void shoal_network_publication_on_rttm(shoal_network_publication_t *pub, const uint8_t *frame,
    const struct sockaddr_storage *from, int64_t now_ns)
{
    shoal_rttm_header_t r;
    memcpy(&r, frame, sizeof(r));
    (void)now_ns;
    if (r.frame_header.flags & SHOAL_RTTM_FLAG_REPLY)
    {
        return;
    }
    r.frame_header.frame_length = SHOAL_RTTM_HEADER_LENGTH;
    r.frame_header.flags = SHOAL_RTTM_FLAG_REPLY;
    r.reception_delta = 0;
    if (pub->endpoint->udp.channel.is_multicast)
    {
        /* A multicast receiver sends from a socket that does not read (its
         * data socket is bound to the group): answer on the group, where
         * each image takes only replies with its own receiver id (as Aeron). */
        shoal_send_channel_endpoint_send_all(pub->endpoint, &r, sizeof(r));
        return;
    }
    shoal_send_channel_endpoint_send_to(pub->endpoint, &r, sizeof(r), from);
}

/* --------------------------------------------------------------- conductor */

bool shoal_network_publication_accepts_spies(const shoal_network_publication_t *pub)
{
    return SHOAL_NET_PUB_ACTIVE == pub->state;
}

int64_t shoal_network_publication_join_position(const shoal_network_publication_t *pub)
{
    return shoal_load_acquire(pub->snd_pos);
}

int64_t shoal_network_publication_untethered_window_limit(const shoal_network_publication_t *pub)
{
    return shoal_untethered_window_limit(shoal_load_acquire(pub->snd_pos), pub->term_window_length);
}

static void enter_linger(shoal_network_publication_t *pub, int64_t now_ns)
{
    shoal_store_release(&pub->state, SHOAL_NET_PUB_LINGER);
    pub->linger_deadline_ns = now_ns + pub->linger_ns;
}

int shoal_network_publication_on_tick(shoal_network_publication_t *pub, int64_t now_ns, int64_t *unblocked_counter)
{
    int work = 0;
    shoal_subscriber_positions_sample(&pub->spies);
    int64_t producer = shoal_log_buffer_producer_position(&pub->log);
    int64_t snd_pos = shoal_load_acquire(pub->snd_pos);
    shoal_store_release(pub->resource.pub_pos, producer);
    bool connected = 0 != shoal_load_acquire(&pub->has_receivers);

    /* Spies counted in the limit (tethered, or untethered and not let go). */
    int64_t spy_min = INT64_MAX;
    int64_t spy_max = INT64_MIN;
    const bool spies = SHOAL_NET_PUB_ACTIVE == pub->state || SHOAL_NET_PUB_DRAINING == pub->state
        ? shoal_subscriber_positions_bounds(&pub->spies, producer, pub->log.term_length, &spy_min, &spy_max)
        : false;
    const int64_t spy_position = pub->spies_simulate_connection && spies
        ? spy_max & ~(int64_t)(SHOAL_FRAME_ALIGNMENT - 1) /* the sender only ever stands on a frame boundary */
        : INT64_MIN;
    if (spy_position != shoal_load_relaxed(&pub->spy_position))
    {
        shoal_store_release(&pub->spy_position, spy_position);
    }
    const int64_t consumer = spy_min < snd_pos ? spy_min : snd_pos;

    switch (pub->state)
    {
        case SHOAL_NET_PUB_ACTIVE:
            /* Clean a whole term behind the sender (and every counted spy)
             * BEFORE the limit moves: the publisher must only ever enter
             * zeroed terms (retransmits read at most a term window behind the
             * sender). */
            shoal_log_buffer_clean(&pub->log, &pub->clean_position, consumer - pub->log.term_length);
            if (connected || (pub->spies_simulate_connection && spies))
            {
                int64_t limit = consumer + pub->term_window_length;
                if (limit > shoal_load_relaxed(pub->resource.pub_limit))
                {
                    shoal_store_release(pub->resource.pub_limit, limit);
                    shoal_log_waiters_notify_publishers(pub->log.meta);
                    work++;
                }
                if (!shoal_load_relaxed(&pub->log.meta->is_connected))
                {
                    shoal_store_release(&pub->log.meta->is_connected, 1);
                    work++;
                }
            }
            else
            {
                /* No live receiver (none yet, or connection timeout): the
                 * limit drops to the sender position so the next offer says
                 * NOT_CONNECTED rather than filling a term window nobody
                 * will receive. Limit first: a publisher that sees
                 * is_connected = 0 sees the lowered limit too. */
                if (shoal_load_relaxed(pub->resource.pub_limit) > consumer)
                {
                    shoal_store_release(pub->resource.pub_limit, consumer);
                    work++;
                }
                if (shoal_load_relaxed(&pub->log.meta->is_connected))
                {
                    shoal_store_release(&pub->log.meta->is_connected, 0);
                    work++;
                }
            }
            break;
        case SHOAL_NET_PUB_DRAINING:
        {
            /* Spies read what was written, as IPC subscribers do, before
             * their images go. */
            const bool spies_done = !spies || spy_min >= producer;
            if (snd_pos >= producer)
            {
                if (!shoal_load_relaxed(&pub->end_of_stream))
                {
                    shoal_store_release(&pub->end_of_stream, 1);
                }
                if (spies_done &&
                    (!connected || shoal_load_acquire(&pub->acked_position) >= producer ||
                        now_ns >= pub->drain_deadline_ns))
                {
                    enter_linger(pub, now_ns);
                    work++;
                }
            }
            else if (spies_done && !connected && now_ns >= pub->drain_deadline_ns)
            {
                enter_linger(pub, now_ns);
                work++;
            }
            break;
        }
        case SHOAL_NET_PUB_LINGER:
            if (now_ns >= pub->linger_deadline_ns)
            {
                shoal_store_release(&pub->state, SHOAL_NET_PUB_DONE);
                work++;
            }
            return work;
        case SHOAL_NET_PUB_DONE: return work;
    }

    if (snd_pos != pub->last_snd_pos_seen || producer <= snd_pos)
    {
        pub->last_snd_pos_seen = snd_pos;
        pub->time_of_last_snd_pos_change_ns = now_ns;
    }
    else if (snd_pos < shoal_load_acquire(pub->snd_lmt) &&
        now_ns - pub->time_of_last_snd_pos_change_ns > pub->unblock_timeout_ns)
    {
        /* The sender is allowed on but the frame at its position never got
         * committed: a publisher died holding a claim. */
        if (shoal_log_buffer_unblock(&pub->log, snd_pos))
        {
            (*unblocked_counter)++;
            work++;
        }
        pub->time_of_last_snd_pos_change_ns = now_ns;
    }
    return work;
}

void shoal_network_publication_on_publishers_gone(shoal_network_publication_t *pub, int64_t now_ns)
{
    if (SHOAL_NET_PUB_ACTIVE == pub->state)
    {
        shoal_store_release(pub->resource.pub_limit, shoal_log_buffer_producer_position(&pub->log));
        shoal_store_release(&pub->log.meta->is_connected, 0);
        shoal_store_release(&pub->state, SHOAL_NET_PUB_DRAINING);
        pub->drain_deadline_ns = now_ns + pub->linger_ns + pub->connection_timeout_ns;
    }
}
