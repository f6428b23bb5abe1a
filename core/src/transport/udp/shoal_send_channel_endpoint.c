#include "transport/udp/shoal_send_channel_endpoint.h"

#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "transport/udp/shoal_udp_frames.h"
#include "util/shoal_array.h"
#include "util/shoal_error.h"

int shoal_send_channel_endpoint_create(shoal_send_channel_endpoint_t **epp,
    const shoal_send_channel_endpoint_params_t *p)
{
    shoal_send_channel_endpoint_t *ep = calloc(1, sizeof(*ep));
    if (NULL == ep)
    {
        return shoal_set_err(SHOAL_ENOMEM, "send endpoint: out of memory");
    }
    shoal_udp_endpoint_init(&ep->udp, p->udp.channel);
    ep->control_mode = p->udp.channel->uri.control_mode;
    ep->destination_timeout_ns = p->destination_timeout_ns;
    ep->on_response_setup = p->on_response_setup;
    ep->on_response_setup_clientd = p->on_response_setup_clientd;
    ep->msgs = calloc((size_t)SHOAL_UDP_BATCH * SHOAL_MDC_MAX_DESTINATIONS, sizeof(struct mmsghdr));
    if (NULL == ep->msgs)
    {
        free(ep);
        return shoal_set_err(SHOAL_ENOMEM, "send endpoint: out of memory");
    }

    const shoal_udp_channel_t *ch = &ep->udp.channel;
    shoal_udp_transport_params_t tp = { .bind_address = NULL };
    if (ch->is_multicast)
    {
        /* Control frames come back on group + 1. */
        tp.bind_address = &ch->multicast_control;
        tp.join_group = &ch->multicast_control;
        tp.reuse_address = true;
    }
    else if (ch->has_control)
    {
        /* MDC: receivers send their status messages to our control address
         * (manual mode too when one is given, as Aeron). */
        tp.bind_address = &ch->control;
    }
    if (shoal_udp_endpoint_open(&ep->udp, &p->udp, &tp) < 0)
    {
        free(ep->msgs);
        free(ep);
        return -1;
    }
    if (ch->has_endpoint && SHOAL_CONTROL_MODE_NONE == ch->uri.control_mode)
    {
        ep->destinations[0].address = ch->endpoint;
        ep->destination_count = 1;
    }
    *epp = ep;
    return 0;
}

void shoal_send_channel_endpoint_delete(shoal_send_channel_endpoint_t *ep)
{
    if (NULL == ep)
    {
        return;
    }
    shoal_udp_endpoint_close(&ep->udp);
    free(ep->publications);
    free(ep->msgs);
    free(ep);
}

int shoal_send_channel_endpoint_add_publication(shoal_send_channel_endpoint_t *ep, shoal_network_publication_t *pub)
{
    if (shoal_array_ensure((void **)&ep->publications, ep->publication_count, &ep->publication_capacity,
            sizeof(*ep->publications), "send endpoint") < 0)
    {
        return -1;
    }
    ep->publications[ep->publication_count++] = pub;
    return 0;
}

void shoal_send_channel_endpoint_remove_publication(shoal_send_channel_endpoint_t *ep, shoal_network_publication_t *pub)
{
    for (int32_t i = 0; i < ep->publication_count; i++)
    {
        if (ep->publications[i] == pub)
        {
            ep->publications[i] = ep->publications[--ep->publication_count];
            return;
        }
    }
}

static shoal_udp_destination_t *find_destination(shoal_send_channel_endpoint_t *ep,
    const struct sockaddr_storage *address)
{
    for (int32_t i = 0; i < ep->destination_count; i++)
    {
        if (shoal_udp_addr_equal(&ep->destinations[i].address, address))
        {
            return &ep->destinations[i];
        }
    }
    return NULL;
}

static void forget_removed(shoal_send_channel_endpoint_t *ep, const struct sockaddr_storage *address)
{
    for (int32_t i = ep->removed_count - 1; i >= 0; i--)
    {
        if (shoal_udp_addr_equal(&ep->removed[i].address, address))
        {
            ep->removed[i] = ep->removed[--ep->removed_count];
        }
    }
}

int shoal_send_channel_endpoint_add_destination(shoal_send_channel_endpoint_t *ep,
    const struct sockaddr_storage *address, int64_t registration_id, int64_t now_ns)
{
    char text[SHOAL_UDP_ADDR_TEXT_MAX];
    if (NULL != find_destination(ep, address))
    {
        shoal_udp_addr_format(address, text, sizeof(text));
        return shoal_set_err(SHOAL_EINVAL, "destination %s is already on this publication", text);
    }
    if (ep->destination_count == SHOAL_MDC_MAX_DESTINATIONS)
    {
        return shoal_set_err(SHOAL_ENOMEM, "destination table full (%d destinations)", SHOAL_MDC_MAX_DESTINATIONS);
    }
    /* Welcome back: its status messages count again. */
    forget_removed(ep, address);
    shoal_udp_destination_t *d = &ep->destinations[ep->destination_count++];
    memset(d, 0, sizeof(*d));
    d->address = *address;
    d->manual = true;
    d->registration_id = registration_id;
    d->time_of_last_activity_ns = now_ns;
    return 0;
}

int shoal_send_channel_endpoint_remove_destination(shoal_send_channel_endpoint_t *ep,
    const struct sockaddr_storage *address, int64_t now_ns)
{
    for (int32_t i = 0; i < ep->destination_count; i++)
    {
        shoal_udp_destination_t d = ep->destinations[i];
        if (!shoal_udp_addr_equal(&d.address, address))
        {
            continue;
        }
        ep->destinations[i] = ep->destinations[--ep->destination_count];
        if (0 != d.receiver_id)
        {
            for (int32_t k = 0; k < ep->publication_count; k++)
            {
                shoal_flow_control_remove_receiver(&ep->publications[k]->flow_control, d.receiver_id);
            }
        }
        /* Full: the oldest tombstone makes room (worst case its receiver
         * counts again until its image times out). */
        int32_t slot = ep->removed_count < SHOAL_MDC_MAX_DESTINATIONS ? ep->removed_count++ : 0;
        ep->removed[slot] = d;
        ep->removed[slot].time_of_last_activity_ns = now_ns;
        return 0;
    }
    char text[SHOAL_UDP_ADDR_TEXT_MAX];
    shoal_udp_addr_format(address, text, sizeof(text));
    return shoal_set_err(SHOAL_EINVAL, "destination %s is not on this publication", text);
}

/* Whether an SM from `from` comes from a removed destination (and so is
 * ignored); refreshes the tombstone. Usually no tombstones: one compare. */
static bool is_removed(shoal_send_channel_endpoint_t *ep, const struct sockaddr_storage *from, int64_t now_ns)
{
    for (int32_t i = 0; i < ep->removed_count; i++)
    {
        if (shoal_udp_addr_equal(&ep->removed[i].address, from))
        {
            ep->removed[i].time_of_last_activity_ns = now_ns;
            return true;
        }
    }
    return false;
}

/* Fills msg to send one datagram to address (sendmmsg leaves it as given). */
static inline void datagram_to(struct mmsghdr *msg, const struct iovec *datagram,
    const struct sockaddr_storage *address)
{
    struct msghdr *h = &msg->msg_hdr;
    h->msg_name = (void *)address;
    h->msg_namelen = shoal_udp_addr_length(address);
    h->msg_iov = (struct iovec *)datagram;
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    msg->msg_len = 0;
}

int shoal_send_channel_endpoint_send(shoal_send_channel_endpoint_t *ep, const struct iovec *datagrams, int count)
{
    int32_t destinations = ep->destination_count;
    if (0 == destinations)
    {
        /* Nobody to send to (MDC without receivers yet): as if sent. */
        return count;
    }
    struct mmsghdr *msgs = ep->msgs;
    int n = 0;
    for (int i = 0; i < count; i++)
    {
        for (int32_t d = 0; d < destinations; d++)
        {
            datagram_to(&msgs[n++], &datagrams[i], &ep->destinations[d].address);
        }
    }
    int sent = shoal_udp_transport_sendmmsg(&ep->udp.transport, msgs, n);
    return sent / destinations;
}

int shoal_send_channel_endpoint_resend(shoal_send_channel_endpoint_t *ep, const struct iovec *datagrams, int count,
    const struct sockaddr_storage *requester)
{
    if (NULL == requester || ep->udp.channel.is_multicast || SHOAL_CONTROL_MODE_NONE == ep->control_mode)
    {
        return shoal_send_channel_endpoint_send(ep, datagrams, count);
    }
    /* MDC: a resend to every destination multiplies the repair traffic by
     * their number, and under load the receivers that did not ask drown in
     * duplicates, fall behind, and NAK more (3 receivers at 10 % loss: NAKs
     * and resends several times the losses). The requester's address is
     * its data socket (receivers send control frames from it). */
    return shoal_send_channel_endpoint_send_batch_to(ep, datagrams, count, requester);
}

int shoal_send_channel_endpoint_send_batch_to(shoal_send_channel_endpoint_t *ep, const struct iovec *datagrams,
    int count, const struct sockaddr_storage *to)
{
    struct mmsghdr *msgs = ep->msgs;
    for (int i = 0; i < count; i++)
    {
        datagram_to(&msgs[i], &datagrams[i], to);
    }
    return shoal_udp_transport_sendmmsg(&ep->udp.transport, msgs, count);
}

bool shoal_send_channel_endpoint_send_all(shoal_send_channel_endpoint_t *ep, const void *buf, size_t length)
{
    struct iovec iov = { (void *)buf, length };
    return 1 == shoal_send_channel_endpoint_send(ep, &iov, 1);
}

ssize_t shoal_send_channel_endpoint_send_to(shoal_send_channel_endpoint_t *ep, const void *buf, size_t length,
    const struct sockaddr_storage *to)
{
    return shoal_udp_transport_sendto(&ep->udp.transport, buf, length, to);
}

static void invalid(shoal_send_channel_endpoint_t *ep)
{
    shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_INVALID_FRAMES, 1);
}

/* MDC dynamic: a receiver that sends status messages to our control address
 * is a destination until it goes quiet. */
static void on_dynamic_receiver(shoal_send_channel_endpoint_t *ep, const struct sockaddr_storage *from,
    int64_t receiver_id, int64_t now_ns)
{
    shoal_udp_destination_t *d = find_destination(ep, from);
    if (NULL == d)
    {
        if (ep->destination_count == SHOAL_MDC_MAX_DESTINATIONS)
        {
            return;
        }
        d = &ep->destinations[ep->destination_count++];
        memset(d, 0, sizeof(*d));
        d->address = *from;
    }
    d->receiver_id = receiver_id;
    d->time_of_last_activity_ns = now_ns;
}

/* RSP_SETUP: a responder's image names the session of the response
 * publication it made for one of our request publications. Anything else
 * (no such publication, or one that asked for no response channel) is
 * counted invalid: nobody sends it legitimately. */
static void on_response_setup(shoal_send_channel_endpoint_t *ep, const uint8_t *buf)
{
    shoal_response_setup_header_t r;
    memcpy(&r, buf, sizeof(r));
    for (int32_t i = 0; i < ep->publication_count; i++)
    {
        shoal_network_publication_t *pub = ep->publications[i];
        if (pub->resource.stream_id == r.stream_id && pub->resource.session_id == r.session_id &&
            pub->resource.response_correlation_id >= 0 && !pub->is_response)
        {
            if (NULL != ep->on_response_setup)
            {
                ep->on_response_setup(ep->on_response_setup_clientd, pub->resource.response_correlation_id,
                    r.response_session_id);
            }
            return;
        }
    }
    invalid(ep);
}

static void dispatch(void *endpoint, const uint8_t *buf, size_t length, const struct sockaddr_storage *from,
    int64_t now_ns)
{
    shoal_send_channel_endpoint_t *ep = endpoint;
    int type = shoal_udp_datagram_type(buf, length);
    if (SHOAL_HDR_TYPE_RSP_SETUP == type)
    {
        on_response_setup(ep, buf);
        return;
    }
    if (SHOAL_HDR_TYPE_SM != type && SHOAL_HDR_TYPE_NAK != type && SHOAL_HDR_TYPE_RTTM != type &&
        SHOAL_HDR_TYPE_ERR != type)
    {
        invalid(ep);
        return;
    }
    /* session id and stream id sit at the same offsets in SM, NAK, ERR and RTTM. */
    int32_t session_id, stream_id;
    memcpy(&session_id, buf + 8, 4);
    memcpy(&stream_id, buf + 12, 4);
    if (SHOAL_HDR_TYPE_ERR == type)
    {
        return;
    }
    bool is_setup_elicit = SHOAL_HDR_TYPE_SM == type && (buf[SHOAL_FRAME_FLAGS_OFFSET] & SHOAL_SM_FLAG_SETUP);
    if (SHOAL_HDR_TYPE_SM == type)
    {
        shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_SMS_RECEIVED, 1);
        int64_t receiver_id;
        memcpy(&receiver_id, buf + offsetof(shoal_status_message_header_t, receiver_id), 8);
        if (SHOAL_CONTROL_MODE_DYNAMIC == ep->control_mode)
        {
            on_dynamic_receiver(ep, from, receiver_id, now_ns);
        }
        else if (SHOAL_CONTROL_MODE_MANUAL == ep->control_mode)
        {
            if (ep->removed_count > 0 && is_removed(ep, from, now_ns))
            {
                return;
            }
            /* Remember who answers for a destination: removing it takes that
             * receiver out of flow control. */
            shoal_udp_destination_t *d = find_destination(ep, from);
            if (NULL != d)
            {
                d->receiver_id = receiver_id;
                d->time_of_last_activity_ns = now_ns;
            }
        }
    }
    else if (SHOAL_HDR_TYPE_NAK == type)
    {
        shoal_udp_counters_add(&ep->udp.counters, SHOAL_UDP_COUNTER_NAKS_RECEIVED, 1);
    }
    bool matched = false;
    /* Session 0 asks every session of the stream for a SETUP (MDC); a
     * response publication belongs to one requester: exact sessions only. */
    bool any_session = is_setup_elicit && 0 == session_id && SHOAL_CONTROL_MODE_RESPONSE != ep->control_mode;
    for (int32_t i = 0; i < ep->publication_count; i++)
    {
        shoal_network_publication_t *pub = ep->publications[i];
        if (pub->resource.stream_id != stream_id || (pub->resource.session_id != session_id && !any_session))
        {
            continue;
        }
        matched = true;
        switch (type)
        {
            case SHOAL_HDR_TYPE_SM: shoal_network_publication_on_status_message(pub, buf, length, from, now_ns); break;
            case SHOAL_HDR_TYPE_NAK: shoal_network_publication_on_nak(pub, buf, from, now_ns); break;
            default: shoal_network_publication_on_rttm(pub, buf, from, now_ns); break;
        }
    }
    if (!matched && !is_setup_elicit && !ep->udp.channel.is_multicast)
    {
        /* On a multicast control group other publishers' frames are normal. */
        invalid(ep);
    }
}

int shoal_send_channel_endpoint_poll(shoal_send_channel_endpoint_t *ep, shoal_udp_recv_batch_t *batch, int64_t now_ns)
{
    return shoal_udp_endpoint_poll(&ep->udp, ep, batch, dispatch, now_ns);
}

int shoal_send_channel_endpoint_on_idle(shoal_send_channel_endpoint_t *ep, int64_t now_ns)
{
    int work = 0;
    for (int32_t i = ep->removed_count - 1; i >= 0; i--)
    {
        if (now_ns - ep->removed[i].time_of_last_activity_ns > ep->destination_timeout_ns)
        {
            ep->removed[i] = ep->removed[--ep->removed_count];
            work++;
        }
    }
    if (SHOAL_CONTROL_MODE_DYNAMIC != ep->control_mode)
    {
        return work;
    }
    for (int32_t i = ep->destination_count - 1; i >= 0; i--)
    {
        if (!ep->destinations[i].manual &&
            now_ns - ep->destinations[i].time_of_last_activity_ns > ep->destination_timeout_ns)
        {
            ep->destinations[i] = ep->destinations[--ep->destination_count];
            work++;
        }
    }
    return work;
}
