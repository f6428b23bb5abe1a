/* UDP publications, conductor side: publications on aeron:udp channels
 * become network publications on a send channel endpoint (shared by
 * channel), linked to their clients as any publication is
 * (shoal_driver_publications.c); manual MDC destinations; their lifecycle
 * ticks. The sender duty does the per-packet work and is asked through the
 * proxy (shoal_driver_udp_proxy.c); an object is freed only once the sender
 * released it, in either threading mode. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

static shoal_send_channel_endpoint_t *find_send_endpoint(shoal_driver_conductor_t *c, const shoal_udp_channel_t *ch)
{
    for (int32_t i = 0; i < c->send_endpoints_count; i++)
    {
        if (0 == strcmp(c->send_endpoints[i]->channel.canonical, ch->canonical))
        {
            return c->send_endpoints[i];
        }
    }
    return NULL;
}

/* An endpoint whose removal is still on its way to the sender is taken
 * back (its socket still holds the port): the queue is FIFO, so the sender
 * drops it and adds it again. */
static void revive_send_endpoint(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep)
{
    if (ep->closing)
    {
        ep->closing = false;
        shoal_driver_ask_sender(c, SHOAL_UDP_CMD_ADD_SEND_ENDPOINT, ep, ep);
    }
}

static shoal_send_channel_endpoint_t *get_send_endpoint(shoal_driver_conductor_t *c, const shoal_udp_channel_t *ch,
    int64_t now_ms)
{
    shoal_send_channel_endpoint_t *ep = find_send_endpoint(c, ch);
    if (NULL != ep)
    {
        revive_send_endpoint(c, ep);
        return ep;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, send_endpoints) < 0)
    {
        return NULL;
    }
    shoal_send_channel_endpoint_params_t p = {
        .channel = ch,
        .rcvbuf = c->ctx->socket_rcvbuf,
        .sndbuf = c->ctx->socket_sndbuf,
        .send_loss_rate = c->ctx->send_loss_rate,
        .recv_loss_rate = c->ctx->rcv_loss_rate,
        .loss_seed = c->next_loss_seed++,
        .destination_timeout_ns = (int64_t)c->ctx->flow_control_receiver_timeout_ms * 1000000LL,
    };
    if (shoal_send_channel_endpoint_create(&ep, &p) < 0)
    {
        return NULL;
    }
    shoal_driver_allocate_endpoint_counters(c, "snd-channel", SHOAL_COUNTER_TYPE_SEND_CHANNEL, ch, &ep->counters, ep->counter_ids,
        now_ms);
    c->send_endpoints[c->send_endpoints_count++] = ep;
    shoal_driver_ask_sender(c, SHOAL_UDP_CMD_ADD_SEND_ENDPOINT, ep, ep);
    return ep;
}

static void release_send_endpoint(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep)
{
    if (--ep->ref_count > 0)
    {
        return;
    }
    ep->closing = true;
    ep->pending_releases++;
    shoal_driver_ask_sender(c, SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT, ep, ep);
}

/* An endpoint made (or revived) for a publication that then failed: nobody holds it. */
static void release_unused_send_endpoint(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep)
{
    if (0 == ep->ref_count)
    {
        ep->ref_count = 1;
        release_send_endpoint(c, ep);
    }
}

void shoal_driver_on_send_endpoint_released(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep, int64_t now_ms)
{
    if (--ep->pending_releases > 0 || !ep->closing)
    {
        return;
    }
    for (int32_t i = 0; i < c->send_endpoints_count; i++)
    {
        if (c->send_endpoints[i] == ep)
        {
            c->send_endpoints[i] = c->send_endpoints[--c->send_endpoints_count];
            break;
        }
    }
    shoal_driver_free_endpoint_counters(c, ep->counter_ids, now_ms);
    shoal_send_channel_endpoint_delete(ep);
}

void shoal_driver_on_add_network_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, bool exclusive, int64_t now_ms)
{
    char msg[SHOAL_ERRMSG_MAX + SHOAL_MAX_CHANNEL_LENGTH];
    shoal_udp_channel_t ch;
    if (shoal_udp_channel_init(&ch, uri) < 0)
    {
        snprintf(msg, sizeof(msg), "channel '%s': %s", channel, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    if (!ch.has_endpoint && SHOAL_CONTROL_MODE_NONE == uri->control_mode)
    {
        snprintf(msg, sizeof(msg), "channel '%s': a publication needs 'endpoint' (or control-mode for MDC)", channel);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    int32_t term_length = uri->has_term_length ? uri->term_length : (int32_t)c->ctx->term_length;
    int32_t mtu = uri->has_mtu ? uri->mtu : (int32_t)c->ctx->mtu;
    if (mtu > term_length / 8 + (int32_t)SHOAL_DATA_HEADER_LENGTH || mtu > SHOAL_UDP_MAX_DATAGRAM - 32)
    {
        snprintf(msg, sizeof(msg), "channel '%s': mtu %d too large for term-length %d", channel, mtu, term_length);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }

    shoal_send_channel_endpoint_t *ep = get_send_endpoint(c, &ch, now_ms);
    if (NULL == ep)
    {
        snprintf(msg, sizeof(msg), "channel '%s': %s", channel, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), msg);
        return;
    }

    shoal_network_publication_t *pub = NULL;
    if (!exclusive)
    {
        for (int32_t i = 0; i < c->network_publications_count; i++)
        {
            shoal_network_publication_t *p = c->network_publications[i];
            if (!p->resource.exclusive && p->endpoint == ep && SHOAL_NET_PUB_ACTIVE == p->state &&
                p->resource.stream_id == stream_id && (!uri->has_session_id || uri->session_id == p->resource.session_id))
            {
                pub = p;
                break;
            }
        }
    }
    if (NULL != pub)
    {
        if (!shoal_driver_publication_fits(c, correlation_id, &pub->resource, pub->log.term_length, uri, term_length,
            mtu))
        {
            return;
        }
        pub->resource.ref_count++;
    }
    else
    {
        if (!shoal_driver_session_id_free(c, correlation_id, stream_id, uri))
        {
            release_unused_send_endpoint(c, ep);
            return;
        }
        if (SHOAL_DRIVER_ARRAY_ENSURE(c, network_publications) < 0)
        {
            shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
            return;
        }
        char canonical[SHOAL_URI_PRINT_MAX_LENGTH];
        if (shoal_uri_print(uri, canonical, sizeof(canonical)) < 0)
        {
            snprintf(canonical, sizeof(canonical), "%s", channel);
        }
        int64_t now_ns = shoal_nano_time();
        shoal_network_publication_params_t params = {
            .registration_id = correlation_id,
            .session_id = shoal_driver_session_id_for(c, stream_id, uri),
            .initial_term_id = shoal_driver_next_initial_term_id(c),
            .stream_id = stream_id,
            .term_length = term_length,
            .mtu = mtu,
            .ttl = ch.ttl,
            .exclusive = exclusive,
            .sparse = uri->has_sparse && uri->sparse,
            .reliable = uri->has_reliable ? uri->reliable : true,
            .channel = canonical,
            .fc_default = ch.is_multicast || SHOAL_CONTROL_MODE_NONE != uri->control_mode ? SHOAL_FC_MAX : SHOAL_FC_UNICAST,
            .fc_spec = uri->fc,
            .connection_timeout_ns = (int64_t)c->ctx->publication_connection_timeout_ms * 1000000LL,
            .fc_receiver_timeout_ns = (int64_t)c->ctx->flow_control_receiver_timeout_ms * 1000000LL,
            .retransmit_linger_ns = (int64_t)c->ctx->retransmit_linger_us * 1000LL,
            .retransmit_budget = (int64_t)c->ctx->retransmit_budget,
            .retransmit_budget_interval_ns = (int64_t)c->ctx->retransmit_budget_interval_us * 1000LL,
            .tail_probe_interval_ns = (int64_t)c->ctx->nak_retry_delay_us * 1000LL,
            .unblock_timeout_ns = (int64_t)c->ctx->publication_unblock_timeout_ms * 1000000LL,
            .linger_ns = uri->has_linger ? uri->linger_ns : (int64_t)c->ctx->publication_linger_ms * 1000000LL,
        };
        if (shoal_network_publication_create(&pub, c->ctx->dir, &params, ep, &c->counters, now_ns) < 0)
        {
            snprintf(msg, sizeof(msg), "channel '%s': %s", channel, shoal_errmsg());
            shoal_driver_send_error(c, correlation_id, shoal_errcode(), msg);
            release_unused_send_endpoint(c, ep);
            return;
        }
        ep->ref_count++;
        c->network_publications[c->network_publications_count++] = pub;
        shoal_driver_ask_sender(c, SHOAL_UDP_CMD_ADD_PUBLICATION, pub, ep);
        (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])++;
    }
    shoal_driver_link_publication(c, correlation_id, client_id, &pub->resource);
}

/* MDC manual: the application adds and removes destinations. The command
 * names the publication by the client's registration id; the destinations
 * live on the publication's send endpoint, which only the sender edits: it
 * answers with a RESULT, which becomes the client's response. */
void shoal_driver_on_destination(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int64_t registration_id, const char *destination, bool add)
{
    const char *fn = add ? "add_destination" : "remove_destination";
    char msg[SHOAL_ERRMSG_MAX + SHOAL_MAX_CHANNEL_LENGTH];
    shoal_network_publication_t *pub = NULL;
    bool found = false;
    bool foreign = false;
    for (int32_t i = 0; i < c->publication_links_count && !found; i++)
    {
        const shoal_publication_link_t *link = &c->publication_links[i];
        if (link->registration_id == registration_id && link->client_id == client_id)
        {
            found = true;
            pub = SHOAL_MEDIA_UDP == link->resource->media ? (shoal_network_publication_t *)link->resource : NULL;
        }
        foreign |= link->registration_id == registration_id && link->client_id != client_id;
    }
    if (!found && foreign)
    {
        shoal_driver_refuse_foreign(c, client_id, correlation_id, "publication", registration_id);
        return;
    }
    if (!found)
    {
        snprintf(msg, sizeof(msg), "%s: unknown publication registration %lld (closed?)", fn,
            (long long)registration_id);
        shoal_driver_send_error(c, correlation_id, SHOAL_ECLOSED, msg);
        return;
    }
    if (NULL == pub || SHOAL_CONTROL_MODE_MANUAL != pub->endpoint->control_mode)
    {
        snprintf(msg, sizeof(msg), "%s: publication '%s' is not a manual MDC publication (needs aeron:udp with "
            "control-mode=manual)", fn, NULL == pub ? "aeron:ipc" : pub->channel);
        shoal_driver_send_error(c, correlation_id, SHOAL_EINVAL, msg);
        return;
    }
    shoal_uri_t uri;
    if (shoal_uri_parse(destination, &uri) < 0)
    {
        snprintf(msg, sizeof(msg), "%s: %s", fn, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    if (SHOAL_MEDIA_UDP != uri.media || '\0' == uri.endpoint[0] || '\0' != uri.control[0] ||
        SHOAL_CONTROL_MODE_NONE != uri.control_mode)
    {
        snprintf(msg, sizeof(msg), "%s: destination '%s' must be aeron:udp?endpoint=host:port (no control)", fn,
            destination);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    struct sockaddr_storage address;
    socklen_t address_length;
    if (shoal_udp_resolve(uri.endpoint, &address, &address_length) < 0)
    {
        snprintf(msg, sizeof(msg), "%s: destination '%s': %s", fn, destination, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    shoal_send_channel_endpoint_t *ep = pub->endpoint;
    if (address.ss_family != ep->transport.local.ss_family)
    {
        snprintf(msg, sizeof(msg), "%s: destination '%s' is not of the publication socket's address family", fn,
            destination);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    shoal_udp_command_t cmd;
    memset(&cmd, 0, offsetof(shoal_udp_command_t, message));
    cmd.endpoint = ep;
    cmd.correlation_id = correlation_id;
    cmd.registration_id = correlation_id;
    cmd.address = address;
    if (shoal_udp_command_queue_post(&c->sender->commands,
        add ? SHOAL_UDP_CMD_ADD_DESTINATION : SHOAL_UDP_CMD_REMOVE_DESTINATION, &cmd) < 0)
    {
        snprintf(msg, sizeof(msg), "%s: %s", fn, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), msg);
    }
}

int shoal_driver_tick_network_publications(shoal_driver_conductor_t *c, int64_t now_ms)
{
    (void)now_ms;
    int work = 0;
    int64_t now_ns = shoal_nano_time();
    for (int32_t i = c->network_publications_count - 1; i >= 0; i--)
    {
        shoal_network_publication_t *pub = c->network_publications[i];
        work += shoal_network_publication_on_tick(pub, now_ns,
            c->system_counters[SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS]);
        if (SHOAL_NET_PUB_DONE == pub->state && !pub->retiring)
        {
            /* Freed when the sender releases it (on_publication_released). */
            pub->retiring = true;
            shoal_driver_ask_sender(c, SHOAL_UDP_CMD_REMOVE_PUBLICATION, pub, pub->endpoint);
            (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])--;
            work++;
        }
    }
    return work;
}

void shoal_driver_on_network_publication_released(shoal_driver_conductor_t *c, shoal_network_publication_t *pub, int64_t now_ms)
{
    for (int32_t i = 0; i < c->network_publications_count; i++)
    {
        if (c->network_publications[i] == pub)
        {
            c->network_publications[i] = c->network_publications[--c->network_publications_count];
            break;
        }
    }
    release_send_endpoint(c, pub->endpoint);
    shoal_network_publication_delete(pub, &c->counters, now_ms);
}

void shoal_driver_send_endpoints_close(shoal_driver_conductor_t *c)
{
    int64_t now_ms = shoal_epoch_ms();
    for (int32_t i = 0; i < c->network_publications_count; i++)
    {
        shoal_network_publication_delete(c->network_publications[i], &c->counters, now_ms);
    }
    for (int32_t i = 0; i < c->send_endpoints_count; i++)
    {
        shoal_driver_free_endpoint_counters(c, c->send_endpoints[i]->counter_ids, now_ms);
        shoal_send_channel_endpoint_delete(c->send_endpoints[i]);
    }
    free(c->network_publications);
    free(c->send_endpoints);
    c->network_publications = NULL;
    c->send_endpoints = NULL;
    c->network_publications_count = c->send_endpoints_count = 0;
}

