#include "transport/udp/shoal_receive_channel_endpoint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "transport/udp/shoal_udp_frames.h"
#include "util/shoal_array.h"
#include "util/shoal_error.h"

int shoal_receive_channel_endpoint_create(shoal_receive_channel_endpoint_t **epp,
    const shoal_receive_channel_endpoint_params_t *p)
{
    const bool is_response = SHOAL_CONTROL_MODE_RESPONSE == p->udp.channel->uri.control_mode;
    if (!p->udp.channel->has_endpoint && !(is_response && p->udp.channel->has_control))
    {
        return shoal_set_err(SHOAL_EURI, "subscription channel '%s' needs an endpoint to receive on",
            p->udp.channel->uri.control);
    }
    shoal_receive_channel_endpoint_t *ep = calloc(1, sizeof(*ep));
    if (NULL == ep)
    {
        return shoal_set_err(SHOAL_ENOMEM, "receive endpoint: out of memory");
    }
    shoal_udp_endpoint_init(&ep->udp, p->udp.channel);
    ep->receiver_id = p->receiver_id;
    ep->max_images = p->max_images > 0 ? p->max_images : INT32_MAX;
    ep->max_setup_term_length = p->max_setup_term_length > 0 ? p->max_setup_term_length : INT32_MAX;
    ep->on_setup = p->on_setup;
    ep->on_setup_clientd = p->on_setup_clientd;
    const shoal_udp_channel_t *ch = &ep->udp.channel;
    shoal_udp_transport_params_t tp = {
        .bind_address = &ch->endpoint,
        .join_group = ch->is_multicast ? &ch->endpoint : NULL,
        .reuse_address = ch->is_multicast,
    };
    struct sockaddr_storage wildcard;
    if (!ch->has_endpoint)
    {
        /* A requester's response subscription: any port; the responder
         * learns it from our status messages. All zeros is the wildcard
         * address, port 0, of either family. */
        memset(&wildcard, 0, sizeof(wildcard));
        wildcard.ss_family = ch->control.ss_family;
        tp.bind_address = ch->has_interface && ch->interface_address.ss_family == ch->control.ss_family
            ? &ch->interface_address
            : &wildcard;
    }
    if (shoal_udp_endpoint_open(&ep->udp, &p->udp, &tp) < 0)
    {
        free(ep);
        return -1;
    }
    *epp = ep;
    return 0;
}

static int32_t find_stream(const shoal_receive_channel_endpoint_t *ep, int32_t stream_id, bool has_session_id,
    int32_t session_id)
{
    for (int32_t i = 0; i < ep->stream_count; i++)
    {
        const shoal_rcv_stream_interest_t *s = &ep->streams[i];
        if (s->stream_id == stream_id && s->has_session_id == has_session_id &&
            (!has_session_id || s->session_id == session_id))
        {
            return i;
        }
    }
    return -1;
}

int shoal_receive_channel_endpoint_add_stream(shoal_receive_channel_endpoint_t *ep, int32_t stream_id,
    bool has_session_id, int32_t session_id)
{
    int32_t i = find_stream(ep, stream_id, has_session_id, session_id);
    if (i >= 0)
    {
        ep->streams[i].ref_count++;
        return 0;
    }
    if (shoal_array_ensure((void **)&ep->streams, ep->stream_count, &ep->stream_capacity, sizeof(*ep->streams),
            "receive endpoint") < 0)
    {
        return -1;
    }
    ep->streams[ep->stream_count] = (shoal_rcv_stream_interest_t){
        .stream_id = stream_id,
        .has_session_id = has_session_id,
        .session_id = has_session_id ? session_id : 0,
        .ref_count = 1,
    };
    ep->stream_count++;
    /* Announce ourselves at once to an MDC control address. */
    ep->time_of_last_control_elicit_ns = 0;
    return 0;
}

void shoal_receive_channel_endpoint_remove_stream(shoal_receive_channel_endpoint_t *ep, int32_t stream_id,
    bool has_session_id, int32_t session_id)
{
    int32_t i = find_stream(ep, stream_id, has_session_id, session_id);
    if (i >= 0 && --ep->streams[i].ref_count <= 0)
    {
        ep->streams[i] = ep->streams[--ep->stream_count];
    }
}

bool shoal_receive_channel_endpoint_wants(const shoal_receive_channel_endpoint_t *ep, int32_t session_id,
    int32_t stream_id)
{
    for (int32_t i = 0; i < ep->stream_count; i++)
    {
        const shoal_rcv_stream_interest_t *s = &ep->streams[i];
        if (s->stream_id == stream_id && (!s->has_session_id || s->session_id == session_id))
        {
            return true;
        }
    }
    return false;
}

int shoal_receive_channel_endpoint_add_image(shoal_receive_channel_endpoint_t *ep, shoal_publication_image_t *image)
{
    if (shoal_array_ensure((void **)&ep->images, ep->image_count, &ep->image_capacity, sizeof(*ep->images),
            "receive endpoint") < 0)
    {
        return -1;
    }
    ep->images[ep->image_count++] = image;
    return 0;
}

static void add_pending(shoal_receive_channel_endpoint_t *ep, int32_t session_id, int32_t stream_id, int64_t expiry_ns)
{
    for (int32_t i = 0; i < ep->pending_count; i++)
    {
        if (ep->pending[i].session_id == session_id && ep->pending[i].stream_id == stream_id)
        {
            if (expiry_ns > ep->pending[i].expiry_ns)
            {
                ep->pending[i].expiry_ns = expiry_ns;
            }
            return;
        }
    }
    int32_t slot = ep->pending_count;
    if (slot == SHOAL_RCV_MAX_PENDING_SESSIONS)
    {
        /* Full: replace the entry expiring first. */
        slot = 0;
        for (int32_t i = 1; i < ep->pending_count; i++)
        {
            if (ep->pending[i].expiry_ns < ep->pending[slot].expiry_ns)
            {
                slot = i;
            }
        }
    }
    else
    {
        ep->pending_count++;
    }
    ep->pending[slot].session_id = session_id;
    ep->pending[slot].stream_id = stream_id;
    ep->pending[slot].expiry_ns = expiry_ns;
}

static bool is_pending(const shoal_receive_channel_endpoint_t *ep, int32_t session_id, int32_t stream_id,
    int64_t now_ns)
{
    for (int32_t i = 0; i < ep->pending_count; i++)
    {
        if (ep->pending[i].session_id == session_id && ep->pending[i].stream_id == stream_id)
        {
            return now_ns < ep->pending[i].expiry_ns;
        }
    }
    return false;
}

void shoal_receive_channel_endpoint_remove_image(shoal_receive_channel_endpoint_t *ep, shoal_publication_image_t *image,
    int64_t now_ns, int64_t cooldown_ns)
{
    for (int32_t i = 0; i < ep->image_count; i++)
    {
        if (ep->images[i] == image)
        {
            ep->images[i] = ep->images[--ep->image_count];
            break;
        }
    }
    add_pending(ep, image->session_id, image->stream_id, now_ns + cooldown_ns);
}

shoal_publication_image_t *shoal_receive_channel_endpoint_find_image(shoal_receive_channel_endpoint_t *ep,
    int32_t session_id, int32_t stream_id)
{
    for (int32_t i = 0; i < ep->image_count; i++)
    {
        shoal_publication_image_t *image = ep->images[i];
        if (image->session_id == session_id && image->stream_id == stream_id)
        {
            return image;
        }
    }
    return NULL;
}

ssize_t shoal_receive_channel_endpoint_send_to(shoal_receive_channel_endpoint_t *ep, const void *buf, size_t length,
    const struct sockaddr_storage *to)
{
    return shoal_udp_transport_sendto(&ep->udp.transport, buf, length, to);
}

void shoal_receive_channel_endpoint_send_sm(shoal_receive_channel_endpoint_t *ep, const struct sockaddr_storage *to,
    int32_t session_id, int32_t stream_id, int32_t term_id, int32_t term_offset, int32_t window, uint8_t flags)
{
    shoal_status_message_header_t sm;
    sm.frame_header = shoal_frame_header(SHOAL_SM_HEADER_LENGTH, flags, SHOAL_HDR_TYPE_SM);
    sm.session_id = session_id;
    sm.stream_id = stream_id;
    sm.consumption_term_id = term_id;
    sm.consumption_term_offset = term_offset;
    sm.receiver_window = window;
    sm.receiver_id = ep->receiver_id;
    if (shoal_udp_transport_sendto(&ep->udp.transport, &sm, sizeof(sm), to) > 0)
    {
        shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_SMS_SENT, 1);
    }
}

/* Where this endpoint's control frames go for a source seen at `from`. */
static const struct sockaddr_storage *control_address_for(const shoal_receive_channel_endpoint_t *ep,
    const struct sockaddr_storage *from)
{
    return ep->udp.channel.is_multicast ? &ep->udp.channel.multicast_control : from;
}

static void invalid(shoal_receive_channel_endpoint_t *ep)
{
    shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_INVALID_FRAMES, 1);
}

static void on_data(shoal_receive_channel_endpoint_t *ep, const uint8_t *buf, size_t length,
    const struct sockaddr_storage *from, int64_t now_ns)
{
    int32_t session_id, stream_id;
    memcpy(&session_id, buf + SHOAL_DATA_SESSION_ID_OFFSET, 4);
    memcpy(&stream_id, buf + SHOAL_DATA_STREAM_ID_OFFSET, 4);
    shoal_publication_image_t *image = shoal_receive_channel_endpoint_find_image(ep, session_id, stream_id);
    if (NULL != image)
    {
        if (!shoal_udp_addr_equal(from, &image->source_address))
        {
            /* Forged or stray: only the socket that sent the SETUP feeds the image. */
            shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_FRAMES_FROM_WRONG_SOURCE, 1);
            return;
        }
        int32_t span = shoal_udp_data_datagram_check(buf, length, image->log.term_length);
        if (span < 0)
        {
            invalid(ep);
            return;
        }
        shoal_publication_image_insert(image, buf, length, span, now_ns);
        return;
    }
    if (!shoal_receive_channel_endpoint_wants(ep, session_id, stream_id) ||
        is_pending(ep, session_id, stream_id, now_ns))
    {
        return;
    }
    /* A publication we have no image for: ask it for a SETUP. */
    add_pending(ep, session_id, stream_id, now_ns + SHOAL_RCV_ELICIT_INTERVAL_NS);
    shoal_receive_channel_endpoint_send_sm(ep, control_address_for(ep, from), session_id, stream_id, 0, 0, 0,
        SHOAL_SM_FLAG_SETUP);
}

static bool valid_setup(const shoal_setup_header_t *s)
{
    return 0 == shoal_logbuffer_check_term_length(s->term_length) &&
        0 == shoal_logbuffer_check_mtu(s->mtu, s->term_length) && s->term_offset >= 0 &&
        s->term_offset < s->term_length && 0 == (s->term_offset & (SHOAL_FRAME_ALIGNMENT - 1)) &&
        shoal_logbuffer_compute_term_count(s->active_term_id, s->initial_term_id) >= 0;
}

static void on_setup(shoal_receive_channel_endpoint_t *ep, const uint8_t *buf, const struct sockaddr_storage *from,
    int64_t now_ns)
{
    shoal_setup_header_t s;
    memcpy(&s, buf, sizeof(s));
    if (!valid_setup(&s))
    {
        shoal_err_clear();
        invalid(ep);
        return;
    }
    shoal_publication_image_t *image = shoal_receive_channel_endpoint_find_image(ep, s.session_id, s.stream_id);
    if (NULL != image)
    {
        if (!shoal_udp_addr_equal(from, &image->source_address))
        {
            shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_FRAMES_FROM_WRONG_SOURCE, 1);
            return;
        }
        /* The sender has not heard our status messages yet. */
        image->sm_pending = true;
        return;
    }
    if (!shoal_receive_channel_endpoint_wants(ep, s.session_id, s.stream_id))
    {
        return;
    }
    for (int32_t i = 0; i < ep->pending_count; i++)
    {
        /* A session in cooldown (its image just ended) stays ended. */
        if (ep->pending[i].session_id == s.session_id && ep->pending[i].stream_id == s.stream_id &&
            now_ns < ep->pending[i].expiry_ns && ep->pending[i].expiry_ns - now_ns > SHOAL_RCV_ELICIT_INTERVAL_NS)
        {
            return;
        }
    }
    if (s.term_length > ep->max_setup_term_length)
    {
        /* A long term costs the receiver a log of 3 terms: not on a stranger's say. */
        shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_SETUPS_REFUSED_TERM_LENGTH, 1);
        return;
    }
    if (ep->image_count >= ep->max_images)
    {
        shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT, 1);
        return;
    }
    if (NULL != ep->on_setup)
    {
        ep->on_setup(ep->on_setup_clientd, ep, &s, control_address_for(ep, from), from, now_ns);
    }
}

static void dispatch(void *endpoint, const uint8_t *buf, size_t length, const struct sockaddr_storage *from,
    int64_t now_ns)
{
    shoal_receive_channel_endpoint_t *ep = endpoint;
    int type = shoal_udp_datagram_type(buf, length);
    switch (type)
    {
        case SHOAL_HDR_TYPE_DATA:
        case SHOAL_HDR_TYPE_PAD: on_data(ep, buf, length, from, now_ns); break;
        case SHOAL_HDR_TYPE_SETUP: on_setup(ep, buf, from, now_ns); break;
        case SHOAL_HDR_TYPE_RTTM:
        {
            int32_t session_id, stream_id;
            memcpy(&session_id, buf + 8, 4);
            memcpy(&stream_id, buf + 12, 4);
            shoal_publication_image_t *image = shoal_receive_channel_endpoint_find_image(ep, session_id, stream_id);
            if (NULL != image)
            {
                shoal_publication_image_on_rttm(image, buf, now_ns);
            }
            break;
        }
        case SHOAL_HDR_TYPE_SM:
        case SHOAL_HDR_TYPE_NAK:
        case SHOAL_HDR_TYPE_ERR:
        case SHOAL_HDR_TYPE_RSP_SETUP:
            /* Control frames are for senders; harmless here (e.g. looped back). */
            break;
        default: invalid(ep); break;
    }
}

int shoal_receive_channel_endpoint_poll(shoal_receive_channel_endpoint_t *ep, shoal_udp_recv_batch_t *batch,
    int64_t now_ns)
{
    return shoal_udp_endpoint_poll(&ep->udp, ep, batch, dispatch, now_ns);
}

int shoal_receive_channel_endpoint_on_idle(shoal_receive_channel_endpoint_t *ep, int64_t now_ns)
{
    int work = 0;
    for (int32_t i = ep->pending_count - 1; i >= 0; i--)
    {
        if (now_ns >= ep->pending[i].expiry_ns)
        {
            ep->pending[i] = ep->pending[--ep->pending_count];
        }
    }
    if (ep->udp.channel.has_control && now_ns - ep->time_of_last_control_elicit_ns >= SHOAL_RCV_ELICIT_INTERVAL_NS)
    {
        /* MDC: tell the publication's control address we are here, for every
         * stream we want (session 0: any session of it); response channels:
         * for the one session the responder named. */
        for (int32_t i = 0; i < ep->stream_count; i++)
        {
            const shoal_rcv_stream_interest_t *s = &ep->streams[i];
            bool has_image = false;
            for (int32_t k = 0; k < ep->image_count && !has_image; k++)
            {
                has_image = ep->images[k]->stream_id == s->stream_id &&
                    (!s->has_session_id || ep->images[k]->session_id == s->session_id);
            }
            if (!has_image)
            {
                shoal_receive_channel_endpoint_send_sm(ep, &ep->udp.channel.control,
                    s->has_session_id ? s->session_id : 0, s->stream_id, 0, 0, 0, SHOAL_SM_FLAG_SETUP);
                work++;
            }
        }
        ep->time_of_last_control_elicit_ns = now_ns;
    }
    return work;
}

void shoal_receive_channel_endpoint_delete(shoal_receive_channel_endpoint_t *ep)
{
    if (NULL != ep)
    {
        shoal_udp_endpoint_close(&ep->udp);
        free(ep->streams);
        free(ep->images);
        free(ep);
    }
}
