/* Spy subscriptions: "aeron-spy:aeron:udp?..." subscribes to the network
 * publications of this driver on that channel (same send channel, same
 * stream id, the session id if the URI names one) by reading their logs in
 * place, as an IPC subscriber would: no socket, nothing on the wire. A spy
 * has an image per publication ("aeron:ipc" as source identity, as Aeron)
 * and a position counter that counts in the publication's limit (tethered by
 * default; tether=false lets it be dropped and rejoin, shoal_driver_tethers.c).
 * ssc=true on the publication makes a spy count as a connection. */
#include <stdio.h>
#include <string.h>

#include "driver/shoal_driver_conductor.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

static bool spy_matches(const shoal_subscription_link_t *link, const shoal_network_publication_t *pub)
{
    return link->spy && link->stream_id == pub->resource.stream_id &&
        (!link->has_session_id || link->session_id == pub->resource.session_id) &&
        0 == strcmp(link->channel, pub->endpoint->udp.channel.canonical);
}

static void link_spy(shoal_driver_conductor_t *c, const shoal_subscription_link_t *link,
    shoal_network_publication_t *pub, int64_t now_ms)
{
    const shoal_publication_resource_t *r = &pub->resource;
    int64_t image_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver);
    int32_t counter_id = shoal_stream_counter_allocate(&c->counters, now_ms, SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION,
        "sub-pos", link->registration_id, r->session_id, r->stream_id, pub->channel, "spy", link->client_id);
    if (counter_id < 0)
    {
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_tether_params_t tether = shoal_driver_tether_params(link, r);
    if (shoal_subscriber_positions_add(&pub->spies, link->registration_id, image_id, counter_id,
            shoal_counter_addr(c->counters.values, counter_id), &tether, shoal_network_publication_join_position(pub),
            shoal_nano_time()) < 0)
    {
        shoal_counters_manager_free(&c->counters, now_ms, counter_id);
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_driver_send_image_available_for(c, r->session_id, r->stream_id, r->log_file, "aeron:ipc",
        link->registration_id, image_id, counter_id);
}

void shoal_driver_on_add_spy_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, int64_t now_ms)
{
    /* The channel as its publication's send endpoint knows it (resolved
     * addresses), so any spelling of the same channel matches. */
    shoal_udp_channel_t ch;
    if (shoal_driver_udp_channel_of(c, &ch, uri, correlation_id, channel) < 0)
    {
        return;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, subscription_links) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_subscription_link_t *link =
        shoal_driver_add_subscription_link(c, client_id, correlation_id, stream_id, uri, SHOAL_MEDIA_UDP);
    link->spy = true;
    snprintf(link->channel, sizeof(link->channel), "%s", ch.canonical);
    for (int32_t i = 0; i < c->network_publications_count; i++)
    {
        shoal_network_publication_t *pub = c->network_publications[i];
        if (shoal_network_publication_accepts_spies(pub) && spy_matches(link, pub))
        {
            link_spy(c, link, pub, now_ms);
        }
    }
}

void shoal_driver_link_spies_to(shoal_driver_conductor_t *c, shoal_network_publication_t *pub, int64_t now_ms)
{
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        if (spy_matches(&c->subscription_links[i], pub))
        {
            link_spy(c, &c->subscription_links[i], pub, now_ms);
        }
    }
}

void shoal_driver_remove_spy_subscription_link(shoal_driver_conductor_t *c, const shoal_subscription_link_t *link,
    int64_t now_ms)
{
    for (int32_t i = 0; i < c->network_publications_count; i++)
    {
        int32_t counter_id =
            shoal_subscriber_positions_remove(&c->network_publications[i]->spies, link->registration_id);
        if (counter_id >= 0)
        {
            shoal_counters_manager_free(&c->counters, now_ms, counter_id);
        }
    }
}

void shoal_driver_unlink_spies(shoal_driver_conductor_t *c, shoal_network_publication_t *pub, int64_t now_ms)
{
    shoal_driver_unlink_subscribers(c, &pub->spies, pub->resource.stream_id, now_ms);
}
