#include "transport/udp/shoal_publication_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_log_waiters.h"
#include "logbuffer/shoal_term_gap_scanner.h"
#include "logbuffer/shoal_term_unblocker.h"
#include "transport/udp/shoal_receive_channel_endpoint.h"
#include "transport/udp/shoal_udp_frames.h"
#include "util/shoal_clock.h"
#include "util/shoal_array.h"
#include "util/shoal_error.h"
#include "transport/shoal_publication_resource.h"
#include "util/shoal_alloc.h"

/* What the loss detector asks of its image (receiver duty). */
static void report_loss(void *clientd, int32_t gap_length);
static void send_nak(void *clientd, int32_t term_id, int32_t term_offset, int32_t length);
static void fill_gap(void *clientd, uint8_t *term, int32_t term_id, int32_t offset, int32_t length);

static int32_t allocate_counter(shoal_counters_manager_t *counters, int64_t now_ms, int32_t type, const char *name,
    const shoal_publication_image_params_t *p)
{
    return shoal_stream_counter_allocate(counters, now_ms, type, name, p->log.registration_id, p->log.session_id,
        p->log.stream_id, p->channel, p->source, 0);
}

int shoal_publication_image_create(shoal_publication_image_t **imagep, const char *dir,
    const shoal_publication_image_params_t *p, shoal_receive_channel_endpoint_t *endpoint,
    shoal_counters_manager_t *counters, int64_t now_ns)
{
    shoal_publication_image_t *image = shoal_alloc_cache_aligned(sizeof(*image), "image");
    if (NULL == image)
    {
        return -1;
    }
    image->correlation_id = p->log.registration_id;
    image->session_id = p->log.session_id;
    image->stream_id = p->log.stream_id;
    image->mtu = p->log.mtu;
    image->endpoint = endpoint;
    image->control_address = *p->control_address;
    image->source_address = NULL != p->source_address ? *p->source_address : *p->control_address;
    image->receiver_id = p->receiver_id;
    image->send_response_setup = 0 != (p->setup_flags & SHOAL_SETUP_FLAG_SEND_RESPONSE);
    image->response_session_id = SHOAL_IMAGE_NO_RESPONSE_SESSION;
    /* Subscribers consume a fragmented message only once all of it is in,
     * so the window must hold the largest message a publication accepts
     * (with a header per fragment), else the stream would stall on it. */
    const int32_t term_length = p->log.term_length;
    int64_t max_message = (int64_t)shoal_logbuffer_max_message_length(term_length);
    int64_t payload = p->log.mtu - SHOAL_DATA_HEADER_LENGTH;
    int64_t floor = ((max_message + payload - 1) / payload) * p->log.mtu;
    int64_t window = p->rcv_window > floor ? p->rcv_window : floor;
    image->rcv_window = (int32_t)(window < term_length / 2 ? window : term_length / 2);
    const shoal_loss_handlers_t handlers = { report_loss, send_nak, fill_gap, image };
    shoal_loss_detector_init(&image->loss, p->reliable, p->nak_retry_delay_ns, &handlers);
    image->rcv_hwm_counter_id = image->rcv_pos_counter_id = -1;
    image->state = SHOAL_IMAGE_ACTIVE;
    image->end_of_stream_position = INT64_MAX;
    snprintf(image->source, sizeof(image->source), "%s", p->source);
    snprintf(image->channel, sizeof(image->channel), "%s", NULL != p->channel ? p->channel : "");
    image->loss_report_offset = -1;

    if (shoal_log_buffer_create(&image->log, image->log_file, sizeof(image->log_file), dir, &p->log) < 0)
    {
        free(image);
        return -1;
    }
    int64_t now_ms = now_ns / 1000000;
    image->rcv_hwm_counter_id = allocate_counter(counters, now_ms, SHOAL_COUNTER_TYPE_RECEIVER_HWM, "rcv-hwm", p);
    image->rcv_pos_counter_id = allocate_counter(counters, now_ms, SHOAL_COUNTER_TYPE_RECEIVER_POSITION, "rcv-pos", p);
    if (image->rcv_hwm_counter_id < 0 || image->rcv_pos_counter_id < 0)
    {
        shoal_publication_image_delete(image, counters, now_ms);
        return -1;
    }
    image->rcv_hwm = shoal_counter_addr(counters->values, image->rcv_hwm_counter_id);
    image->rcv_pos = shoal_counter_addr(counters->values, image->rcv_pos_counter_id);

    int64_t join = shoal_logbuffer_compute_position(p->active_term_id, p->term_offset,
        image->log.position_bits_to_shift, p->log.initial_term_id);
    /* Rebuilding, status messages and cleaning all start at the join. */
    image->join_position = image->rebuild_position = image->hwm_position = join;
    image->consumption_position = image->last_sm_position = image->clean_position = join;
    image->subscriber_position = INT64_MAX;
    shoal_store_release(image->rcv_hwm, join);
    shoal_store_release(image->rcv_pos, join);
    image->sm_pending = true;
    image->time_of_last_packet_ns = now_ns;
    image->time_of_last_sm_ns = now_ns;
    image->time_of_last_rttm_ns = now_ns - SHOAL_IMAGE_RTTM_INTERVAL_NS;
    shoal_log_waiters_writer_attach(image->log.meta); /* the receiver writes it */
    shoal_store_release(&image->log.meta->is_connected, 1);
    *imagep = image;
    return 0;
}

void shoal_publication_image_delete(shoal_publication_image_t *image, shoal_counters_manager_t *counters,
    int64_t now_ms)
{
    if (NULL == image)
    {
        return;
    }
    shoal_stream_counter_free(counters, now_ms, &image->rcv_hwm_counter_id);
    shoal_stream_counter_free(counters, now_ms, &image->rcv_pos_counter_id);
    for (int32_t i = 0; i < image->subscriber_count; i++)
    {
        shoal_counters_manager_free(counters, now_ms, image->subscribers[i].counter_id);
    }
    shoal_log_buffer_delete(&image->log, image->log_file);
    free(image->subscribers);
    free(image);
}

/* ---------------------------------------------------------------- receiver */

void shoal_publication_image_insert(shoal_publication_image_t *image, const uint8_t *buf, size_t length,
    int32_t term_span, int64_t now_ns)
{
    shoal_data_header_t first;
    memcpy(&first, buf, sizeof(first));
    int32_t term_count = shoal_logbuffer_compute_term_count(first.term_id, image->log.initial_term_id);
    if (term_count < 0)
    {
        return;
    }
    int64_t position = ((int64_t)term_count << image->log.position_bits_to_shift) + first.term_offset;
    int64_t proposed = position + term_span;
    /* A PAD travels as a header: only the bytes on the wire need window (the
     * sender may step over padding beyond its limit). */
    int64_t wire_end = position + ((int64_t)length < (int64_t)term_span ? (int64_t)length : (int64_t)term_span);
    if (position < image->last_sm_position)
    {
        /* Behind what we consumed: a late duplicate, or a retransmit another
         * receiver asked for. The term there may still be read. It proves
         * the publication alive all the same. */
        shoal_store_relaxed(&image->time_of_last_packet_ns, now_ns);
        return;
    }
    int64_t window_end = image->last_sm_position + image->rcv_window;
    if (wire_end > window_end)
    {
        /* Beyond the window we advertised (the term there may not be clean
         * yet): with fc=max a faster receiver took the sender past us.
         * Dropped, but everything up to our window end exists: raising the
         * hwm there (frame aligned) makes the loss scan NAK it, and the
         * sender resends whole frames inside the NAKed range only, so we
         * catch up while the data is still in its term. No liveness credit
         * (as Aeron): a receiver left more than a term behind stays stuck,
         * times out and rejoins at the live position. */
        int64_t cap = window_end & ~(int64_t)(SHOAL_FRAME_ALIGNMENT - 1);
        if (cap > image->hwm_position)
        {
            image->hwm_position = cap;
            shoal_store_release(image->rcv_hwm, cap);
        }
        return;
    }
    shoal_store_relaxed(&image->time_of_last_packet_ns, now_ns);

    if (0 == term_span)
    {
        if (position > image->hwm_position)
        {
            image->hwm_position = position;
            shoal_store_release(image->rcv_hwm, position);
        }
        else if (position <= image->rebuild_position)
        {
            /* We hold everything the sender has: its heartbeat (a tail probe
             * while it waits for an SM) gets one now, in case ours was lost. */
            image->sm_pending = true;
        }
        if ((first.frame_header.flags & SHOAL_FRAME_FLAG_EOS) && INT64_MAX == image->end_of_stream_position)
        {
            shoal_store_release(&image->end_of_stream_position, position);
            shoal_store_release(&image->log.meta->end_of_stream_position, position);
            image->sm_pending = true;
        }
        return;
    }

    uint8_t *term = image->log.terms[shoal_logbuffer_index_by_term_count(term_count)];
    size_t offset = 0;
    while (offset < length)
    {
        const uint8_t *src = buf + offset;
        int32_t frame_length;
        memcpy(&frame_length, src, sizeof(frame_length));
        uint8_t *dest = term + first.term_offset + offset;
        bool is_pad = SHOAL_HDR_TYPE_PAD == *(const uint16_t *)(src + SHOAL_FRAME_TYPE_OFFSET);
        if (0 == shoal_load_relaxed((int32_t *)dest))
        {
            /* Copy all but the length word, then commit with the length. */
            size_t copy = is_pad ? SHOAL_DATA_HEADER_LENGTH : (size_t)frame_length;
            memcpy(dest + sizeof(int32_t), src + sizeof(int32_t), copy - sizeof(int32_t));
            shoal_store_release((int32_t *)dest, frame_length);
        }
        if (is_pad)
        {
            break;
        }
        offset += SHOAL_ALIGN((size_t)frame_length, SHOAL_FRAME_ALIGNMENT);
    }
    image->loss.inserted_since_scan = true;
    shoal_log_waiters_notify_subscribers(image->log.meta);
    if (proposed > image->hwm_position)
    {
        image->hwm_position = proposed;
        shoal_store_release(image->rcv_hwm, proposed);
    }
}

void shoal_publication_image_on_rttm(shoal_publication_image_t *image, const uint8_t *frame, int64_t now_ns)
{
    shoal_rttm_header_t r;
    memcpy(&r, frame, sizeof(r));
    if (!(r.frame_header.flags & SHOAL_RTTM_FLAG_REPLY) || r.receiver_id != image->receiver_id)
    {
        return;
    }
    int64_t rtt = now_ns - r.echo_timestamp - r.reception_delta;
    if (rtt > 0 && rtt < 10LL * 1000 * 1000 * 1000)
    {
        shoal_loss_detector_on_rtt_sample(&image->loss, rtt);
    }
}

static void send_rttm(shoal_publication_image_t *image, int64_t now_ns)
{
    shoal_rttm_header_t r;
    r.frame_header = shoal_frame_header(SHOAL_RTTM_HEADER_LENGTH, 0, SHOAL_HDR_TYPE_RTTM);
    r.session_id = image->session_id;
    r.stream_id = image->stream_id;
    r.echo_timestamp = now_ns;
    r.reception_delta = 0;
    r.receiver_id = image->receiver_id;
    shoal_receive_channel_endpoint_send_to(image->endpoint, &r, sizeof(r), &image->control_address);
    image->time_of_last_rttm_ns = now_ns;
}

/* Tells the requester which session its responses come on (to the
 * request publication's socket, as the status messages). */
static void send_response_setup(shoal_publication_image_t *image)
{
    int64_t session = shoal_load_acquire(&image->response_session_id);
    if (SHOAL_IMAGE_NO_RESPONSE_SESSION == session)
    {
        return;
    }
    shoal_response_setup_header_t r;
    r.frame_header = shoal_frame_header(SHOAL_RSP_SETUP_HEADER_LENGTH, 0, SHOAL_HDR_TYPE_RSP_SETUP);
    r.session_id = image->session_id;
    r.stream_id = image->stream_id;
    r.response_session_id = (int32_t)session;
    shoal_receive_channel_endpoint_send_to(image->endpoint, &r, sizeof(r), &image->control_address);
}

static void send_nak(void *clientd, int32_t term_id, int32_t term_offset, int32_t length)
{
    shoal_publication_image_t *image = clientd;
    shoal_nak_header_t n;
    n.frame_header = shoal_frame_header(SHOAL_NAK_HEADER_LENGTH, 0, SHOAL_HDR_TYPE_NAK);
    n.session_id = image->session_id;
    n.stream_id = image->stream_id;
    n.term_id = term_id;
    n.term_offset = term_offset;
    n.length = length;
    if (shoal_receive_channel_endpoint_send_to(image->endpoint, &n, sizeof(n), &image->control_address) > 0)
    {
        image->naks_sent++;
        shoal_udp_counters_add(&image->endpoint->udp.counters, SHOAL_UDP_COUNTER_NAKS_SENT, 1);
    }
}

/* End of the contiguous committed frames from position, up to hwm. Frame
 * lengths are committed with a release store, so any thread may scan. */
static int64_t contiguous_end(const shoal_publication_image_t *image, int64_t position, int64_t hwm)
{
    while (position < hwm)
    {
        int32_t offset = (int32_t)(position & (image->log.term_length - 1));
        int64_t limit = (int64_t)offset + (hwm - position);
        int32_t term_limit = limit < image->log.term_length ? (int32_t)limit : image->log.term_length;
        const size_t index = shoal_logbuffer_index_by_position(position, image->log.position_bits_to_shift);
        uint8_t *term = image->log.terms[index];
        int32_t end = shoal_term_scan_for_gap(term, offset, term_limit);
        position += end - offset;
        if (end < term_limit || end < image->log.term_length)
        {
            break;
        }
    }
    return position;
}

/* Rebuild position: end of the contiguous committed frames, up to the hwm. */
static bool track_rebuild(shoal_publication_image_t *image)
{
    int64_t position = contiguous_end(image, image->rebuild_position, image->hwm_position);
    if (position != image->rebuild_position)
    {
        shoal_store_release(&image->rebuild_position, position);
        shoal_store_release(image->rcv_pos, position);
        return true;
    }
    return false;
}

/* A PAD frame over a gap nobody will fill (reliable=false). */
static void fill_gap(void *clientd, uint8_t *term, int32_t term_id, int32_t offset, int32_t length)
{
    shoal_publication_image_t *image = clientd;
    /* Written with the commit protocol: all but the length, then the length. */
    shoal_data_header_t h = shoal_pad_header(0, offset, image->session_id, image->stream_id, term_id);
    memcpy(term + offset + sizeof(int32_t), (const uint8_t *)&h + sizeof(int32_t), sizeof(h) - sizeof(int32_t));
    shoal_store_release((int32_t *)(term + offset), length);
    shoal_log_waiters_notify_subscribers(image->log.meta);
    image->gap_fills++;
    if (NULL != image->gap_fills_system)
    {
        shoal_get_and_add(image->gap_fills_system, 1);
    }
}

/* A new gap: one observation in the driver's loss report (epoch time read
 * here, on loss only). */
static void report_loss(void *clientd, int32_t gap_length)
{
    shoal_publication_image_t *image = clientd;
    if (NULL == image->loss_report || -2 == image->loss_report_offset)
    {
        return;
    }
    int64_t now_ms = shoal_epoch_ms();
    if (image->loss_report_offset >= 0)
    {
        shoal_loss_report_record_observation(image->loss_report, image->loss_report_offset, gap_length, now_ms);
        return;
    }
    image->loss_report_offset = shoal_loss_report_create_entry(image->loss_report, gap_length, now_ms,
        image->session_id, image->stream_id, image->channel, image->source);
    if (image->loss_report_offset < 0)
    {
        shoal_err_clear(); /* full: the counters still count the NAKs; nothing to tell the receiver */
        image->loss_report_offset = -2;
    }
}

int shoal_publication_image_do_work(shoal_publication_image_t *image, int64_t now_ns)
{
    int work = 0;
    if (SHOAL_IMAGE_ACTIVE != shoal_load_acquire(&image->state))
    {
        return 0;
    }
    if (track_rebuild(image))
    {
        work++;
    }

    int64_t consumption = shoal_load_acquire(&image->subscriber_position);
    if (INT64_MAX == consumption)
    {
        consumption = image->rebuild_position;
    }
    else if (consumption > image->hwm_position)
    {
        /* Nobody can have read past what was received: a client wrote its
         * position counter. Believed, it would make the cleaning below run
         * for hours and the status messages open the window without end. */
        if (!image->consumption_out_of_range)
        {
            image->consumption_out_of_range = true;
            image->invalid_consumptions++;
            if (NULL != image->invalid_values_system)
            {
                shoal_get_and_add(image->invalid_values_system, 1);
            }
        }
        consumption = image->hwm_position;
    }
    else
    {
        image->consumption_out_of_range = false;
    }
    if (consumption > image->consumption_position)
    {
        image->consumption_position = consumption;
    }

    /* Zero a term behind the slowest reader before the window moves past it. */
    shoal_log_buffer_clean(&image->log, &image->clean_position, image->consumption_position - image->log.term_length);

    int64_t threshold = image->rcv_window / 4;
    if (image->sm_pending || image->consumption_position >= image->last_sm_position + threshold ||
        now_ns - image->time_of_last_sm_ns >= SHOAL_IMAGE_SM_INTERVAL_NS)
    {
        int64_t position = image->consumption_position;
        int32_t term_id = shoal_logbuffer_compute_term_id_from_position(position, image->log.position_bits_to_shift,
            image->log.initial_term_id);
        int32_t term_offset = (int32_t)(position & (image->log.term_length - 1));
        shoal_receive_channel_endpoint_send_sm(image->endpoint, &image->control_address, image->session_id,
            image->stream_id, term_id, term_offset, image->rcv_window, 0);
        if (image->send_response_setup)
        {
            send_response_setup(image);
        }
        image->last_sm_position = position;
        image->time_of_last_sm_ns = now_ns;
        image->sm_pending = false;
        work++;
    }

    work +=
        shoal_loss_detector_do_work(&image->loss, &image->log, image->rebuild_position, image->hwm_position, now_ns);

    if (now_ns - image->time_of_last_rttm_ns >= SHOAL_IMAGE_RTTM_INTERVAL_NS)
    {
        send_rttm(image, now_ns);
    }
    return work;
}

/* --------------------------------------------------------------- conductor */

int shoal_publication_image_add_subscriber(shoal_publication_image_t *image, int64_t subscription_registration_id,
    int32_t counter_id, int64_t *position)
{
    if (shoal_array_ensure((void **)&image->subscribers, image->subscriber_count, &image->subscriber_capacity,
            sizeof(*image->subscribers), "image: adding a subscriber") < 0)
    {
        return -1;
    }
    /* The first subscriber starts at the join position; later ones where the
     * contiguous frames end now. Not at the rebuild position alone: with a
     * receiver thread of its own it lags what subscribers already read by up
     * to a duty cycle, and the newcomer would get messages from before it. */
    int64_t start = 0 == image->subscriber_count
        ? image->join_position
        : contiguous_end(image, shoal_load_acquire(&image->rebuild_position), shoal_load_acquire(image->rcv_hwm));
    shoal_store_release(position, start);
    shoal_image_subscriber_t *s = &image->subscribers[image->subscriber_count++];
    s->subscription_registration_id = subscription_registration_id;
    s->counter_id = counter_id;
    s->position = position;
    shoal_publication_image_track_subscribers(image);
    return 0;
}

int32_t shoal_publication_image_remove_subscriber(shoal_publication_image_t *image,
    int64_t subscription_registration_id)
{
    for (int32_t i = 0; i < image->subscriber_count; i++)
    {
        if (image->subscribers[i].subscription_registration_id == subscription_registration_id)
        {
            int32_t id = image->subscribers[i].counter_id;
            image->subscribers[i] = image->subscribers[--image->subscriber_count];
            shoal_publication_image_track_subscribers(image);
            return id;
        }
    }
    return -1;
}

int shoal_publication_image_track_subscribers(shoal_publication_image_t *image)
{
    int64_t slowest = INT64_MAX;
    for (int32_t i = 0; i < image->subscriber_count; i++)
    {
        int64_t p = shoal_load_acquire(image->subscribers[i].position);
        slowest = p < slowest ? p : slowest;
    }
    if (slowest != shoal_load_relaxed(&image->subscriber_position))
    {
        shoal_store_release(&image->subscriber_position, slowest);
        return 1;
    }
    return 0;
}

bool shoal_publication_image_is_finished(const shoal_publication_image_t *image, int64_t now_ns,
    int64_t liveness_timeout_ns)
{
    if (0 == image->subscriber_count)
    {
        return true;
    }
    if (now_ns - shoal_load_relaxed(&image->time_of_last_packet_ns) > liveness_timeout_ns)
    {
        return true;
    }
    int64_t eos = shoal_load_acquire(&image->end_of_stream_position);
    if (INT64_MAX != eos && shoal_load_acquire(&image->rebuild_position) >= eos)
    {
        for (int32_t i = 0; i < image->subscriber_count; i++)
        {
            if (shoal_load_acquire(image->subscribers[i].position) < eos)
            {
                return false;
            }
        }
        return true;
    }
    return false;
}
