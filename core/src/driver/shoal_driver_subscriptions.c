/* Subscriptions: a link per add_subscription call; every ACTIVE IPC stream
 * with the same stream id (and session id, if the URI names one) gives the
 * subscription an image with its own position counter. */
#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

static bool matches(const shoal_subscription_link_t *link, const shoal_ipc_publication_t *pub)
{
    return SHOAL_MEDIA_IPC == link->media && link->stream_id == pub->resource.stream_id &&
        !link->awaiting_response_session && (!link->has_session_id || link->session_id == pub->resource.session_id);
}

static void link_one(shoal_driver_conductor_t *c, const shoal_subscription_link_t *link, shoal_ipc_publication_t *pub,
    int64_t now_ms)
{
    int64_t image_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver);
    int32_t counter_id = shoal_stream_counter_allocate(&c->counters, now_ms, SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION,
        "sub-pos", link->registration_id, pub->resource.session_id, pub->resource.stream_id, "aeron:ipc", NULL,
        link->client_id);
    if (counter_id < 0)
    {
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_tether_params_t tether = shoal_driver_tether_params(link, &pub->resource);
    if (shoal_ipc_publication_add_subscriber(pub, link->registration_id, image_id, counter_id,
            shoal_counter_addr(c->counters.values, counter_id), &tether, shoal_nano_time()) < 0)
    {
        shoal_counters_manager_free(&c->counters, now_ms, counter_id);
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_driver_send_image_available(c, pub, link->registration_id, image_id, counter_id);
}

void shoal_driver_link_subscriptions_to(shoal_driver_conductor_t *c, shoal_ipc_publication_t *pub, int64_t now_ms)
{
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        if (matches(&c->subscription_links[i], pub))
        {
            link_one(c, &c->subscription_links[i], pub, now_ms);
        }
    }
}

void shoal_driver_link_response_subscription(shoal_driver_conductor_t *c, int64_t registration_id,
    shoal_ipc_publication_t *pub, int64_t now_ms)
{
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        shoal_subscription_link_t *link = &c->subscription_links[i];
        if (link->registration_id == registration_id && SHOAL_MEDIA_IPC == link->media &&
            link->awaiting_response_session)
        {
            link->awaiting_response_session = false;
            link->has_session_id = true;
            link->session_id = pub->resource.session_id;
            if (matches(link, pub))
            {
                link_one(c, link, pub, now_ms);
            }
        }
    }
}

void shoal_driver_unlink_subscribers(shoal_driver_conductor_t *c, shoal_subscriber_positions_t *subscribers,
    int32_t stream_id, int64_t now_ms)
{
    while (subscribers->count > 0)
    {
        shoal_subscriber_position_t s = subscribers->items[--subscribers->count];
        if (shoal_driver_subscriber_has_image(&s))
        {
            shoal_driver_send_image_unavailable(c, s.image_id, s.subscription_registration_id, stream_id);
        }
        shoal_counters_manager_free(&c->counters, now_ms, s.counter_id);
    }
}

void shoal_driver_unlink_publication(shoal_driver_conductor_t *c, shoal_ipc_publication_t *pub, int64_t now_ms)
{
    shoal_driver_unlink_subscribers(c, &pub->subscribers, pub->resource.stream_id, now_ms);
}

void shoal_driver_on_add_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, int64_t now_ms)
{
    shoal_uri_t uri;
    if (shoal_driver_parse_request_channel(c, correlation_id, channel, &uri, false) < 0)
    {
        return;
    }
    if (uri.spy)
    {
        shoal_driver_on_add_spy_subscription(c, client_id, correlation_id, stream_id, channel, &uri, now_ms);
        return;
    }
    if (SHOAL_MEDIA_UDP == uri.media)
    {
        shoal_driver_on_add_network_subscription(c, client_id, correlation_id, stream_id, channel, &uri, now_ms);
        return;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, subscription_links) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_subscription_link_t *link =
        shoal_driver_add_subscription_link(c, client_id, correlation_id, stream_id, &uri, SHOAL_MEDIA_IPC);
    for (int32_t i = 0; i < c->ipc_publications_count; i++)
    {
        shoal_ipc_publication_t *pub = c->ipc_publications[i];
        if (SHOAL_IPC_PUB_ACTIVE == pub->state && matches(link, pub))
        {
            link_one(c, link, pub, now_ms);
        }
    }
}

void shoal_driver_remove_subscription_link(shoal_driver_conductor_t *c, int32_t index, int64_t now_ms)
{
    int64_t registration_id = c->subscription_links[index].registration_id;
    if (c->subscription_links[index].spy)
    {
        shoal_driver_remove_spy_subscription_link(c, &c->subscription_links[index], now_ms);
    }
    else if (SHOAL_MEDIA_UDP == c->subscription_links[index].media)
    {
        shoal_driver_remove_network_subscription_link(c, &c->subscription_links[index], now_ms);
    }
    for (int32_t i = 0; i < c->ipc_publications_count; i++)
    {
        int32_t counter_id = shoal_ipc_publication_remove_subscriber(c->ipc_publications[i], registration_id);
        if (counter_id >= 0)
        {
            shoal_counters_manager_free(&c->counters, now_ms, counter_id);
        }
    }
    c->subscription_links[index] = c->subscription_links[--c->subscription_links_count];
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_SUBSCRIPTIONS_ACTIVE])--;
}
