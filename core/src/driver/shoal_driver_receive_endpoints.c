/* UDP subscriptions, conductor side: subscriptions add their stream to a
 * receive channel endpoint (shared by channel); a SETUP frame heard on it
 * for a wanted stream becomes an image, linked to every matching
 * subscription; images time out, end and linger here. The receiver duty
 * does the per-packet work and is asked through the proxy
 * (shoal_driver_udp_proxy.c); an object is freed only once the receiver
 * released it, in either threading mode. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_control_protocol.h"
#include "transport/shoal_publication_resource.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

/* An image that ended is not rebuilt from the same session for this long. */
#define SHOAL_IMAGE_COOLDOWN_NS (1000 * 1000 * 1000LL)

static shoal_receive_channel_endpoint_t *get_receive_endpoint(shoal_driver_conductor_t *c,
    const shoal_udp_channel_t *ch, int64_t now_ms)
{
    shoal_receive_channel_endpoint_t *ep =
        shoal_driver_find_endpoint((void *const *)c->receive_endpoints, c->receive_endpoints_count, ch);
    if (NULL != ep)
    {
        if (shoal_driver_revive_endpoint(&ep->udp))
        {
            shoal_driver_ask_receiver(c, SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT, ep, ep, 0, 0);
        }
        return ep;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, receive_endpoints) < 0)
    {
        return NULL;
    }
    shoal_receive_channel_endpoint_params_t p = {
        .udp = shoal_driver_endpoint_params(c, ch),
        .receiver_id = c->receiver_id,
        .max_images = (int32_t)c->ctx->max_images_per_endpoint,
        .max_setup_term_length = (int32_t)c->ctx->max_setup_term_length,
        .on_setup = shoal_udp_receiver_on_setup,
        .on_setup_clientd = c->receiver,
    };
    if (shoal_receive_channel_endpoint_create(&ep, &p) < 0)
    {
        return NULL;
    }
    shoal_driver_adopt_endpoint(c, (void **)c->receive_endpoints, &c->receive_endpoints_count, &ep->udp, false, now_ms);
    shoal_driver_ask_receiver(c, SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT, ep, ep, 0, 0);
    return ep;
}

/* Whether link wants session_id of stream_id on ep. */
static bool link_wants(const shoal_subscription_link_t *link, const shoal_receive_channel_endpoint_t *ep,
    int32_t session_id, int32_t stream_id)
{
    return SHOAL_MEDIA_UDP == link->media && link->endpoint == ep && link->stream_id == stream_id &&
        !link->awaiting_response_session && (!link->has_session_id || link->session_id == session_id);
}

static bool link_matches_image(const shoal_subscription_link_t *link, const shoal_publication_image_t *image)
{
    return link_wants(link, image->endpoint, image->session_id, image->stream_id);
}

static void link_image(shoal_driver_conductor_t *c, const shoal_subscription_link_t *link,
    shoal_publication_image_t *image, int64_t now_ms)
{
    int32_t counter_id =
        shoal_stream_counter_allocate(&c->counters, now_ms, SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION, "sub-pos",
            link->registration_id, image->session_id, image->stream_id, link->channel, image->source, link->client_id);
    if (counter_id < 0)
    {
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    if (shoal_publication_image_add_subscriber(image, link->registration_id, counter_id,
            shoal_counter_addr(c->counters.values, counter_id)) < 0)
    {
        shoal_counters_manager_free(&c->counters, now_ms, counter_id);
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_driver_send_image_available_for(c, image->session_id, image->stream_id, image->log_file, image->source,
        link->registration_id, image->correlation_id, counter_id);
}

/* Whether a SETUP for this session is news: no image of it is running,
 * cooling down after its end, or about to be (several SETUPs may be queued
 * before the receiver hears of the image). */
static bool setup_is_new(const shoal_driver_conductor_t *c, const shoal_receive_channel_endpoint_t *ep,
    const shoal_setup_header_t *setup, int64_t now_ns)
{
    bool endpoint_live = false;
    for (int32_t i = 0; i < c->receive_endpoints_count; i++)
    {
        endpoint_live |= c->receive_endpoints[i] == ep && !ep->udp.closing;
    }
    if (!endpoint_live)
    {
        return false;
    }
    for (int32_t i = 0; i < c->images_count; i++)
    {
        const shoal_publication_image_t *image = c->images[i];
        if (image->endpoint == ep && image->session_id == setup->session_id && image->stream_id == setup->stream_id &&
            (SHOAL_IMAGE_ACTIVE == image->state || now_ns < image->cooldown_deadline_ns))
        {
            return false;
        }
    }
    return true;
}

/* Whether one more image fits: per endpoint (the receiver checked against
 * the images it knows, but SETUPs of many sessions can be on their way
 * before it hears of the images they built) and in the whole driver (every
 * image holds counters and a mapped log: a flood of SETUPs must not starve
 * local publications and subscriptions of them). */
static bool image_fits(const shoal_driver_conductor_t *c, const shoal_receive_channel_endpoint_t *ep)
{
    int64_t on_endpoint = 0, total = 0;
    for (int32_t i = 0; i < c->images_count; i++)
    {
        if (SHOAL_IMAGE_ACTIVE == c->images[i]->state)
        {
            total++;
            on_endpoint += c->images[i]->endpoint == ep;
        }
    }
    return on_endpoint < (int64_t)c->ctx->max_images_per_endpoint && total < (int64_t)c->ctx->max_images;
}

void shoal_driver_on_setup(shoal_driver_conductor_t *c, shoal_receive_channel_endpoint_t *ep,
    const shoal_setup_header_t *setup, const struct sockaddr_storage *from, const struct sockaddr_storage *source)
{
    int64_t now_ms = shoal_epoch_ms();
    int64_t now_ns = shoal_nano_time();
    if (!setup_is_new(c, ep, setup, now_ns))
    {
        return;
    }
    if (!image_fits(c, ep))
    {
        shoal_get_and_add(c->system_counters[SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT], 1);
        return;
    }
    const shoal_subscription_link_t *first = NULL;
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        const shoal_subscription_link_t *l = &c->subscription_links[i];
        if (link_wants(l, ep, setup->session_id, setup->stream_id))
        {
            first = l;
            break;
        }
    }
    if (NULL == first || SHOAL_DRIVER_ARRAY_ENSURE(c, images) < 0)
    {
        shoal_err_clear();
        return;
    }
    char source_text[SHOAL_UDP_ADDR_TEXT_MAX];
    shoal_udp_addr_format(from, source_text, sizeof(source_text));
    shoal_publication_image_params_t p = {
        .log = {
            .registration_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver),
            .term_length = setup->term_length,
            .mtu = setup->mtu,
            .initial_term_id = setup->initial_term_id,
            .session_id = setup->session_id,
            .stream_id = setup->stream_id,
            .sparse = first->sparse,
        },
        .active_term_id = setup->active_term_id,
        .term_offset = setup->term_offset,
        .rcv_window = first->rcv_window > 0 ? first->rcv_window : (int32_t)c->ctx->rcv_window,
        .reliable = first->reliable,
        .receiver_id = c->receiver_id,
        .nak_retry_delay_ns = (int64_t)c->ctx->nak_retry_delay_us * 1000LL,
        .control_address = from,
        .source_address = source,
        .source = source_text,
        .channel = first->channel,
        .setup_flags = setup->frame_header.flags,
    };
    shoal_publication_image_t *image = NULL;
    if (shoal_publication_image_create(&image, c->ctx->dir, &p, ep, &c->counters, now_ns) < 0)
    {
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        return;
    }
    image->gap_fills_system = c->system_counters[SHOAL_SYSTEM_COUNTER_LOSS_GAP_FILLS];
    image->loss_report = &c->loss_report;
    image->invalid_values_system = c->system_counters[SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES];
    c->images[c->images_count++] = image;
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        if (link_matches_image(&c->subscription_links[i], image))
        {
            link_image(c, &c->subscription_links[i], image, now_ms);
        }
    }
    shoal_driver_ask_receiver(c, SHOAL_UDP_CMD_ADD_IMAGE, image, ep, 0, 0);
}

void shoal_driver_on_add_network_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, int64_t now_ms)
{
    shoal_udp_channel_t ch;
    if (shoal_driver_udp_channel_of(c, &ch, uri, correlation_id, channel) < 0)
    {
        return;
    }
    if (!ch.has_endpoint && SHOAL_CONTROL_MODE_RESPONSE != uri->control_mode)
    {
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel,
            "a subscription needs 'endpoint' to receive on (or control-mode=response with control)");
        return;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, subscription_links) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        return;
    }
    shoal_receive_channel_endpoint_t *ep = get_receive_endpoint(c, &ch, now_ms);
    if (NULL == ep)
    {
        shoal_driver_send_channel_error(c, correlation_id, shoal_errcode(), channel, NULL);
        return;
    }
    ep->udp.ref_count++;
    shoal_subscription_link_t *link =
        shoal_driver_add_subscription_link(c, client_id, correlation_id, stream_id, uri, SHOAL_MEDIA_UDP);
    link->endpoint = ep;
    if (!link->awaiting_response_session)
    {
        shoal_driver_ask_receiver_stream(c, true, ep, link);
    }
    link->reliable = uri->has_reliable ? uri->reliable : true;
    link->sparse = uri->has_sparse && uri->sparse;
    link->rcv_window = uri->has_rcv_window ? uri->rcv_window : 0;
    if (shoal_uri_print(uri, link->channel, sizeof(link->channel)) < 0)
    {
        snprintf(link->channel, sizeof(link->channel), "%s", channel);
        shoal_err_clear();
    }
    for (int32_t i = 0; i < c->images_count; i++)
    {
        shoal_publication_image_t *image = c->images[i];
        if (SHOAL_IMAGE_ACTIVE == image->state && link_matches_image(link, image))
        {
            link_image(c, link, image, now_ms);
        }
    }
}

void shoal_driver_on_response_setup(shoal_driver_conductor_t *c, int64_t response_correlation_id,
    int32_t response_session_id)
{
    int64_t now_ms = shoal_epoch_ms();
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        shoal_subscription_link_t *link = &c->subscription_links[i];
        if (link->registration_id != response_correlation_id || SHOAL_MEDIA_UDP != link->media ||
            !link->awaiting_response_session)
        {
            /* Already set up (the responder repeats RSP_SETUP until our
             * status messages reach its response publication), or gone. */
            continue;
        }
        link->awaiting_response_session = false;
        link->has_session_id = true;
        link->session_id = response_session_id;
        shoal_driver_ask_receiver_stream(c, true, link->endpoint, link);
        for (int32_t k = 0; k < c->images_count; k++)
        {
            shoal_publication_image_t *image = c->images[k];
            if (SHOAL_IMAGE_ACTIVE == image->state && link_matches_image(link, image))
            {
                link_image(c, link, image, now_ms);
            }
        }
    }
}

shoal_publication_image_t *shoal_driver_find_image(shoal_driver_conductor_t *c, int64_t correlation_id)
{
    for (int32_t i = 0; i < c->images_count; i++)
    {
        if (c->images[i]->correlation_id == correlation_id && SHOAL_IMAGE_ACTIVE == c->images[i]->state)
        {
            return c->images[i];
        }
    }
    return NULL;
}

/* Takes an image out of service: no more frames, subscribers told, then it
 * lingers so clients can let go of the log. */
static void deactivate_image(shoal_driver_conductor_t *c, shoal_publication_image_t *image, int64_t now_ns,
    int64_t now_ms, int64_t cooldown_ns)
{
    image->released = false;
    image->cooldown_deadline_ns = now_ns + cooldown_ns;
    shoal_driver_ask_receiver(c, SHOAL_UDP_CMD_REMOVE_IMAGE, image, image->endpoint, 0, cooldown_ns);
    while (image->subscriber_count > 0)
    {
        shoal_image_subscriber_t s = image->subscribers[image->subscriber_count - 1];
        shoal_publication_image_remove_subscriber(image, s.subscription_registration_id);
        shoal_driver_send_image_unavailable(c, image->correlation_id, s.subscription_registration_id, image->stream_id);
        shoal_counters_manager_free(&c->counters, now_ms, s.counter_id);
    }
    shoal_store_release(&image->state, SHOAL_IMAGE_LINGER);
    image->linger_deadline_ns = now_ns + (int64_t)c->ctx->publication_linger_ms * 1000000LL;
}

void shoal_driver_remove_network_subscription_link(shoal_driver_conductor_t *c, shoal_subscription_link_t *link,
    int64_t now_ms)
{
    shoal_receive_channel_endpoint_t *ep = link->endpoint;
    int64_t now_ns = shoal_nano_time();
    for (int32_t i = 0; i < c->images_count; i++)
    {
        shoal_publication_image_t *image = c->images[i];
        if (image->endpoint == ep)
        {
            int32_t counter_id = shoal_publication_image_remove_subscriber(image, link->registration_id);
            if (counter_id >= 0)
            {
                shoal_counters_manager_free(&c->counters, now_ms, counter_id);
            }
        }
    }
    if (!link->awaiting_response_session)
    {
        shoal_driver_ask_receiver_stream(c, false, ep, link);
    }
    if (!shoal_driver_release_endpoint(&ep->udp))
    {
        return;
    }
    for (int32_t i = 0; i < c->images_count; i++)
    {
        if (c->images[i]->endpoint == ep && SHOAL_IMAGE_ACTIVE == c->images[i]->state)
        {
            deactivate_image(c, c->images[i], now_ns, now_ms, 0);
        }
    }
    shoal_driver_ask_receiver(c, SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT, ep, ep, 0, 0);
}

void shoal_driver_on_receive_endpoint_released(shoal_driver_conductor_t *c, shoal_receive_channel_endpoint_t *ep,
    int64_t now_ms)
{
    if (!shoal_driver_endpoint_released(c, (void **)c->receive_endpoints, &c->receive_endpoints_count, &ep->udp,
            now_ms))
    {
        return;
    }
    for (int32_t i = 0; i < c->images_count; i++)
    {
        if (c->images[i]->endpoint == ep)
        {
            c->images[i]->endpoint = NULL;
        }
    }
    shoal_receive_channel_endpoint_delete(ep);
}

int shoal_driver_tick_images(shoal_driver_conductor_t *c, int64_t now_ms)
{
    int work = 0;
    int64_t now_ns = shoal_nano_time();
    int64_t liveness_ns = (int64_t)c->ctx->image_liveness_timeout_ms * 1000000LL;
    for (int32_t i = c->images_count - 1; i >= 0; i--)
    {
        shoal_publication_image_t *image = c->images[i];
        if (SHOAL_IMAGE_ACTIVE == image->state && shoal_publication_image_is_finished(image, now_ns, liveness_ns))
        {
            deactivate_image(c, image, now_ns, now_ms, image->subscriber_count > 0 ? SHOAL_IMAGE_COOLDOWN_NS : 0);
            work++;
        }
        else if (SHOAL_IMAGE_ACTIVE == image->state)
        {
            /* Counted as work: while subscribers move, the conductor stays
             * awake to pass their progress on (status messages depend on it). */
            work += shoal_publication_image_track_subscribers(image);
        }
        else if (SHOAL_IMAGE_LINGER == image->state && image->released && now_ns >= image->linger_deadline_ns)
        {
            shoal_publication_image_delete(image, &c->counters, now_ms);
            c->images[i] = c->images[--c->images_count];
            work++;
        }
    }
    return work;
}
