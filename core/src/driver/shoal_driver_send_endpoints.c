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

static shoal_send_channel_endpoint_t *get_send_endpoint(shoal_driver_conductor_t *c, const shoal_udp_channel_t *ch,
    int64_t now_ms)
{
    shoal_send_channel_endpoint_t *ep =
        shoal_driver_find_endpoint((void *const *)c->send_endpoints, c->send_endpoints_count, ch);
    if (NULL != ep)
    {
        if (shoal_driver_revive_endpoint(&ep->udp))
        {
            shoal_driver_ask_sender(c, SHOAL_UDP_CMD_ADD_SEND_ENDPOINT, ep, ep);
        }
        return ep;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, send_endpoints) < 0)
    {
        return NULL;
    }
    shoal_send_channel_endpoint_params_t p = {
        .udp = shoal_driver_endpoint_params(c, ch),
        .destination_timeout_ns = (int64_t)c->ctx->flow_control_receiver_timeout_ms * 1000000LL,
        .on_response_setup = shoal_udp_sender_on_response_setup,
        .on_response_setup_clientd = c->sender,
    };
    if (shoal_send_channel_endpoint_create(&ep, &p) < 0)
    {
        return NULL;
    }
    shoal_driver_adopt_endpoint(c, (void **)c->send_endpoints, &c->send_endpoints_count, &ep->udp, true, now_ms);
    shoal_driver_ask_sender(c, SHOAL_UDP_CMD_ADD_SEND_ENDPOINT, ep, ep);
    return ep;
}

static void release_send_endpoint(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep)
{
    if (shoal_driver_release_endpoint(&ep->udp))
    {
        shoal_driver_ask_sender(c, SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT, ep, ep);
    }
}

/* An endpoint made (or revived) for a publication that then failed: nobody holds it. */
static void release_unused_send_endpoint(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep)
{
    if (0 == ep->udp.ref_count)
    {
        ep->udp.ref_count = 1;
        release_send_endpoint(c, ep);
    }
}

void shoal_driver_on_send_endpoint_released(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep,
    int64_t now_ms)
{
    if (shoal_driver_endpoint_released(c, (void **)c->send_endpoints, &c->send_endpoints_count, &ep->udp, now_ms))
    {
        shoal_send_channel_endpoint_delete(ep);
    }
}

/* Response channels: a response publication (control-mode=response) names
 * the image of its requester's request stream, which must have asked for a
 * response channel; a request publication names a response subscription
 * of this driver. Returns the image for the first (NULL for the second), or
 * sends the error and sets *refused. */
static shoal_publication_image_t *check_response_channel(shoal_driver_conductor_t *c, int64_t correlation_id,
    const char *channel, const shoal_uri_t *uri, bool *refused)
{
    char why[160];
    *refused = false;
    if (SHOAL_CONTROL_MODE_RESPONSE == uri->control_mode)
    {
        shoal_publication_image_t *image = NULL;
        if (!uri->has_response_correlation_id)
        {
            snprintf(why, sizeof(why),
                "control-mode=response needs response-correlation-id (an image's correlation id)");
        }
        else if (NULL == (image = shoal_driver_find_image(c, uri->response_correlation_id)))
        {
            snprintf(why, sizeof(why), "response-correlation-id %lld: no such image",
                (long long)uri->response_correlation_id);
        }
        else if (!image->send_response_setup)
        {
            snprintf(why, sizeof(why),
                "response-correlation-id %lld: that image's publication asked for no response channel",
                (long long)uri->response_correlation_id);
            image = NULL;
        }
        if (NULL == image)
        {
            *refused = true;
            shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel, why);
        }
        return image;
    }
    if (uri->has_response_correlation_id)
    {
        for (int32_t i = 0; i < c->subscription_links_count; i++)
        {
            const shoal_subscription_link_t *l = &c->subscription_links[i];
            if (l->registration_id == uri->response_correlation_id && SHOAL_MEDIA_UDP == l->media && l->is_response)
            {
                return NULL;
            }
        }
        snprintf(why, sizeof(why),
            "response-correlation-id %lld: no response subscription (control-mode=response) with that registration id",
            (long long)uri->response_correlation_id);
        *refused = true;
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel, why);
    }
    return NULL;
}

void shoal_driver_on_add_network_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, bool exclusive, int64_t now_ms)
{
    shoal_udp_channel_t ch;
    if (shoal_driver_udp_channel_of(c, &ch, uri, correlation_id, channel) < 0)
    {
        return;
    }
    if (!ch.has_endpoint && SHOAL_CONTROL_MODE_NONE == uri->control_mode)
    {
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel,
            "a publication needs 'endpoint' (or control-mode for MDC)");
        return;
    }
    bool refused;
    shoal_publication_image_t *request_image = check_response_channel(c, correlation_id, channel, uri, &refused);
    if (refused)
    {
        return;
    }
    int32_t term_length, mtu;
    if (!shoal_driver_publication_sizes(c, correlation_id, channel, uri, (int32_t)c->ctx->term_length,
            SHOAL_UDP_MAX_DATAGRAM - 32, &term_length, &mtu))
    {
        return;
    }

    shoal_send_channel_endpoint_t *ep = get_send_endpoint(c, &ch, now_ms);
    if (NULL == ep)
    {
        shoal_driver_send_channel_error(c, correlation_id, shoal_errcode(), channel, NULL);
        return;
    }

    shoal_network_publication_t *pub = NULL;
    if (!exclusive)
    {
        for (int32_t i = 0; i < c->network_publications_count; i++)
        {
            shoal_network_publication_t *p = c->network_publications[i];
            if (p->endpoint == ep && SHOAL_NET_PUB_ACTIVE == p->state &&
                shoal_publication_resource_shareable(&p->resource, stream_id, uri))
            {
                pub = p;
                break;
            }
        }
    }
    if (!shoal_driver_share_or_check(c, correlation_id, stream_id, uri, NULL == pub ? NULL : &pub->resource,
            NULL == pub ? 0 : pub->log.term_length, term_length, mtu))
    {
        release_unused_send_endpoint(c, ep);
        return;
    }
    if (NULL == pub)
    {
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
            .resource = shoal_driver_publication_params(c, SHOAL_MEDIA_UDP, correlation_id, stream_id, uri, term_length,
                mtu, exclusive, canonical),
            .ttl = ch.ttl,
            .reliable = uri->has_reliable ? uri->reliable : true,
            .spies_simulate_connection = uri->has_ssc ? uri->ssc : c->ctx->spies_simulate_connection,
            .fc_default = ch.is_multicast ||
                    (SHOAL_CONTROL_MODE_NONE != uri->control_mode && SHOAL_CONTROL_MODE_RESPONSE != uri->control_mode)
                ? SHOAL_FC_MAX
                : SHOAL_FC_UNICAST,
            .fc_spec = uri->fc,
            .connection_timeout_ns = (int64_t)c->ctx->publication_connection_timeout_ms * 1000000LL,
            .fc_receiver_timeout_ns = (int64_t)c->ctx->flow_control_receiver_timeout_ms * 1000000LL,
            .retransmit_linger_ns = (int64_t)c->ctx->retransmit_linger_us * 1000LL,
            .retransmit_budget = (int64_t)c->ctx->retransmit_budget,
            .retransmit_budget_interval_ns = (int64_t)c->ctx->retransmit_budget_interval_us * 1000LL,
            .tail_probe_interval_ns = (int64_t)c->ctx->nak_retry_delay_us * 1000LL,
            .unblock_timeout_ns = (int64_t)c->ctx->publication_unblock_timeout_ms * 1000000LL,
            .linger_ns = uri->has_linger ? uri->linger_ns : (int64_t)c->ctx->publication_linger_ms * 1000000LL,
            .is_response = SHOAL_CONTROL_MODE_RESPONSE == uri->control_mode,
        };
        if (shoal_network_publication_create(&pub, c->ctx->dir, &params, ep, &c->counters, now_ns) < 0)
        {
            shoal_driver_send_channel_error(c, correlation_id, shoal_errcode(), channel, NULL);
            release_unused_send_endpoint(c, ep);
            return;
        }
        ep->udp.ref_count++;
        c->network_publications[c->network_publications_count++] = pub;
        if (NULL != request_image)
        {
            /* The image announces the session in RSP_SETUPs until the
             * requester's status messages reach this publication. */
            pub->response_image_correlation_id = request_image->correlation_id;
            shoal_store_release(&request_image->response_session_id, (int64_t)pub->resource.session_id);
        }
        shoal_driver_ask_sender(c, SHOAL_UDP_CMD_ADD_PUBLICATION, pub, ep);
        (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])++;
    }
    if (shoal_driver_link_publication(c, correlation_id, client_id, &pub->resource) < 0)
    {
        return;
    }
    if (1 == pub->resource.ref_count)
    {
        shoal_driver_link_spies_to(c, pub, now_ms);
    }
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
    int32_t i = shoal_driver_find_own_link(c, client_id, correlation_id, registration_id, "publication",
        c->publication_links, c->publication_links_count, sizeof(c->publication_links[0]));
    if (-2 == i)
    {
        return;
    }
    if (-1 == i)
    {
        snprintf(msg, sizeof(msg), "%s: unknown publication registration %lld (closed?)", fn,
            (long long)registration_id);
        shoal_driver_send_error(c, correlation_id, SHOAL_ECLOSED, msg);
        return;
    }
    shoal_publication_resource_t *r = c->publication_links[i].resource;
    shoal_network_publication_t *pub = SHOAL_MEDIA_UDP == r->media ? (shoal_network_publication_t *)r : NULL;
    if (NULL == pub || SHOAL_CONTROL_MODE_MANUAL != pub->endpoint->control_mode)
    {
        snprintf(msg, sizeof(msg),
            "%s: publication '%s' is not a manual MDC publication (needs aeron:udp with "
            "control-mode=manual)",
            fn, NULL == pub ? "aeron:ipc" : pub->channel);
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
    if (address.ss_family != ep->udp.transport.local.ss_family)
    {
        snprintf(msg, sizeof(msg), "%s: destination '%s' is not of the publication socket's address family", fn,
            destination);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    if (shoal_driver_ask_sender_destination(c, add, ep, correlation_id, &address) < 0)
    {
        snprintf(msg, sizeof(msg), "%s: %s", fn, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), msg);
    }
}

int shoal_driver_tick_network_publications(shoal_driver_conductor_t *c, int64_t now_ms)
{
    int work = 0;
    int64_t now_ns = shoal_nano_time();
    for (int32_t i = c->network_publications_count - 1; i >= 0; i--)
    {
        shoal_network_publication_t *pub = c->network_publications[i];
        const shoal_network_publication_state_t before = pub->state;
        const int64_t invalid_before = pub->spies.invalid_position_count;
        if (pub->spies.count > 0 && (SHOAL_NET_PUB_ACTIVE == before || SHOAL_NET_PUB_DRAINING == before))
        {
            work += shoal_driver_check_tethers(c, &pub->spies, &pub->resource,
                shoal_network_publication_untethered_window_limit(pub), shoal_network_publication_join_position(pub),
                now_ns);
        }
        work += shoal_network_publication_on_tick(pub, now_ns,
            c->system_counters[SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS]);
        if (pub->response_image_correlation_id >= 0 && shoal_load_acquire(&pub->has_receivers))
        {
            /* The requester hears its responses: its image stops announcing. */
            shoal_publication_image_t *image = shoal_driver_find_image(c, pub->response_image_correlation_id);
            if (NULL != image)
            {
                shoal_store_release(&image->response_session_id, SHOAL_IMAGE_NO_RESPONSE_SESSION);
            }
            pub->response_image_correlation_id = -1;
        }
        if (pub->spies.invalid_position_count != invalid_before)
        {
            shoal_driver_report_invalid_positions(c, &pub->spies, &pub->resource,
                pub->spies.invalid_position_count - invalid_before);
        }
        if (SHOAL_NET_PUB_LINGER == pub->state && SHOAL_NET_PUB_LINGER != before)
        {
            /* Drained: the spies have read everything; their images go now. */
            shoal_driver_unlink_spies(c, pub, now_ms);
        }
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

void shoal_driver_on_network_publication_released(shoal_driver_conductor_t *c, shoal_network_publication_t *pub,
    int64_t now_ms)
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
