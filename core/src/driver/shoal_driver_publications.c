/* Publications, IPC and UDP alike: each add_publication call becomes a link
 * to a publication resource (transport/shoal_publication_resource.h);
 * concurrent links of one stream (same stream id, same session) share one
 * publication, exclusive ones always get their own. This file owns the
 * links, the session ids, the ready answer, and the IPC streams; the UDP
 * ones are made in shoal_driver_send_endpoints.c through the same helpers. */
#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_random.h"

/* ------------------------------------------------------------- session ids */

void shoal_driver_note_random_fallback(shoal_driver_conductor_t *c, int fallback)
{
    /* Logged once per driver: ids still come, but the operator should know
     * they may be guessable. */
    if (fallback && !c->random_fallback_logged)
    {
        c->random_fallback_logged = true;
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
    }
    shoal_err_clear();
}

bool shoal_driver_session_in_use(const shoal_driver_conductor_t *c, int32_t stream_id, int32_t session_id)
{
    for (int32_t i = 0; i < c->ipc_publications_count; i++)
    {
        const shoal_ipc_publication_t *p = c->ipc_publications[i];
        if (p->resource.stream_id == stream_id && p->resource.session_id == session_id &&
            SHOAL_IPC_PUB_DONE != p->state)
        {
            return true;
        }
    }
    for (int32_t i = 0; i < c->network_publications_count; i++)
    {
        const shoal_network_publication_t *p = c->network_publications[i];
        if (p->resource.stream_id == stream_id && p->resource.session_id == session_id &&
            SHOAL_NET_PUB_DONE != p->state)
        {
            return true;
        }
    }
    return false;
}

int32_t shoal_driver_next_session_id(shoal_driver_conductor_t *c, int32_t stream_id)
{
    int32_t id;
    int fallback = 0;
    do
    {
        id = shoal_random_int32(&fallback);
        shoal_driver_note_random_fallback(c, fallback);
    }
    while (0 == id || shoal_driver_session_in_use(c, stream_id, id));
    return id;
}

int32_t shoal_driver_next_initial_term_id(shoal_driver_conductor_t *c)
{
    int fallback = 0;
    int32_t id = shoal_random_int32(&fallback);
    shoal_driver_note_random_fallback(c, fallback);
    return id;
}

/* ---------------------------------------------------------------- links */

bool shoal_driver_publication_sizes(shoal_driver_conductor_t *c, int64_t correlation_id, const char *channel,
    const shoal_uri_t *uri, int32_t default_term_length, int32_t max_mtu, int32_t *term_length, int32_t *mtu)
{
    *term_length = uri->has_term_length ? uri->term_length : default_term_length;
    *mtu = uri->has_mtu ? uri->mtu : (int32_t)c->ctx->mtu;
    if (*mtu > *term_length / 8 + (int32_t)SHOAL_DATA_HEADER_LENGTH || *mtu > max_mtu)
    {
        char why[96];
        snprintf(why, sizeof(why), "mtu %d too large for term-length %d", *mtu, *term_length);
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel, why);
        return false;
    }
    return true;
}

bool shoal_driver_share_or_check(shoal_driver_conductor_t *c, int64_t correlation_id, int32_t stream_id,
    const shoal_uri_t *uri, shoal_publication_resource_t *existing, int32_t existing_term_length, int32_t term_length,
    int32_t mtu)
{
    char msg[256];
    if (NULL == existing)
    {
        if (uri->has_session_id && shoal_driver_session_in_use(c, stream_id, uri->session_id))
        {
            snprintf(msg, sizeof(msg), "stream %d clash: session-id %d is already in use", stream_id, uri->session_id);
            shoal_driver_send_error(c, correlation_id, SHOAL_ECLASH, msg);
            return false;
        }
        return true;
    }
    if ((uri->has_term_length && uri->term_length != existing_term_length) ||
        (uri->has_mtu && uri->mtu != existing->mtu))
    {
        snprintf(msg, sizeof(msg),
            "stream %d clash: existing publication session %d has term-length %d mtu %d, requested %d/%d",
            existing->stream_id, existing->session_id, existing_term_length, existing->mtu, term_length, mtu);
        shoal_driver_send_error(c, correlation_id, SHOAL_ECLASH, msg);
        return false;
    }
    existing->ref_count++;
    return true;
}

shoal_publication_resource_params_t shoal_driver_publication_params(shoal_driver_conductor_t *c, shoal_media_t media,
    int64_t correlation_id, int32_t stream_id, const shoal_uri_t *uri, int32_t term_length, int32_t mtu, bool exclusive,
    const char *channel)
{
    shoal_publication_resource_params_t p = {
        .media = media,
        .log = {
            .registration_id = correlation_id,
            .term_length = term_length,
            .mtu = mtu,
            .initial_term_id = uri->has_position ? uri->initial_term_id : shoal_driver_next_initial_term_id(c),
            .session_id = uri->has_session_id ? uri->session_id : shoal_driver_next_session_id(c, stream_id),
            .stream_id = stream_id,
            .sparse = uri->has_sparse && uri->sparse,
            .has_start = uri->has_position,
            .start_term_id = uri->term_id,
            .start_term_offset = uri->term_offset,
        },
        .exclusive = exclusive,
        .response_correlation_id = uri->has_response_correlation_id ? uri->response_correlation_id : -1,
        .channel = channel,
        .untethered_window_limit_timeout_ns = uri->has_untethered_window_limit_timeout
            ? uri->untethered_window_limit_timeout_ns
            : (int64_t)c->ctx->untethered_window_limit_timeout_ms * 1000000LL,
        .untethered_resting_timeout_ns = uri->has_untethered_resting_timeout
            ? uri->untethered_resting_timeout_ns
            : (int64_t)c->ctx->untethered_resting_timeout_ms * 1000000LL,
    };
    return p;
}

static void send_publication_ready(shoal_driver_conductor_t *c, int64_t correlation_id,
    const shoal_publication_resource_t *r)
{
    shoal_publication_ready_t *ready = (shoal_publication_ready_t *)c->scratch;
    ready->correlation_id = correlation_id;
    ready->registration_id = correlation_id;
    ready->session_id = r->session_id;
    ready->stream_id = r->stream_id;
    ready->position_limit_counter_id = r->pub_limit_counter_id;
    ready->publisher_position_counter_id = r->pub_pos_counter_id;
    ready->log_file_length = (int32_t)strlen(r->log_file);
    memcpy(c->scratch + sizeof(*ready), r->log_file, (size_t)ready->log_file_length);
    shoal_broadcast_transmitter_transmit(&c->to_clients,
        r->exclusive ? SHOAL_RSP_ON_EXCLUSIVE_PUBLICATION_READY : SHOAL_RSP_ON_PUBLICATION_READY, c->scratch,
        sizeof(*ready) + (size_t)ready->log_file_length);
}

int shoal_driver_link_publication(shoal_driver_conductor_t *c, int64_t correlation_id, int64_t client_id,
    shoal_publication_resource_t *r)
{
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, publication_links) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        r->ref_count--;
        return -1;
    }
    shoal_publication_link_t *link = &c->publication_links[c->publication_links_count++];
    link->registration_id = correlation_id;
    link->client_id = client_id;
    link->resource = r;
    send_publication_ready(c, correlation_id, r);
    return 0;
}

void shoal_driver_remove_publication_link(shoal_driver_conductor_t *c, int32_t index, int64_t now_ms)
{
    shoal_publication_resource_t *r = c->publication_links[index].resource;
    c->publication_links[index] = c->publication_links[--c->publication_links_count];
    if (--r->ref_count > 0)
    {
        return;
    }
    /* The resource is the first member of either publication. */
    if (SHOAL_MEDIA_UDP == r->media)
    {
        shoal_network_publication_on_publishers_gone((shoal_network_publication_t *)r, shoal_nano_time());
    }
    else
    {
        shoal_ipc_publication_on_publishers_gone((shoal_ipc_publication_t *)r, now_ms);
    }
}

/* ------------------------------------------------------------------- IPC */

static shoal_ipc_publication_t *find_shared(shoal_driver_conductor_t *c, int32_t stream_id, const shoal_uri_t *uri)
{
    for (int32_t i = 0; i < c->ipc_publications_count; i++)
    {
        shoal_ipc_publication_t *p = c->ipc_publications[i];
        if (SHOAL_IPC_PUB_ACTIVE == p->state && shoal_publication_resource_shareable(&p->resource, stream_id, uri))
        {
            return p;
        }
    }
    return NULL;
}

/* Response channels on one host (docs/response-channels.md), the UDP rules
 * without the wire: a request publication (response-correlation-id) names
 * an IPC response subscription of this driver; a response publication
 * (control-mode=response) names the image (IPC image id) of a request
 * publication, whose response subscription will take the new publication's
 * session. *requester is that subscription's registration id, -1 when
 * none. False with the error sent. */
static bool check_ipc_response_channel(shoal_driver_conductor_t *c, int64_t correlation_id, const shoal_uri_t *uri,
    int64_t *requester)
{
    char why[192];
    *requester = -1;
    if (SHOAL_CONTROL_MODE_RESPONSE == uri->control_mode)
    {
        const shoal_ipc_publication_t *request = NULL;
        for (int32_t i = 0; i < c->ipc_publications_count && NULL == request; i++)
        {
            const shoal_ipc_publication_t *p = c->ipc_publications[i];
            for (int32_t k = 0; k < p->subscribers.count && uri->has_response_correlation_id; k++)
            {
                request = p->subscribers.items[k].image_id == uri->response_correlation_id ? p : request;
            }
        }
        if (!uri->has_response_correlation_id)
        {
            snprintf(why, sizeof(why),
                "aeron:ipc?control-mode=response needs response-correlation-id (an image's "
                "correlation id)");
        }
        else if (NULL == request)
        {
            snprintf(why, sizeof(why), "aeron:ipc response-correlation-id %lld: no such image",
                (long long)uri->response_correlation_id);
        }
        else if (request->resource.response_correlation_id < 0)
        {
            snprintf(why, sizeof(why),
                "aeron:ipc response-correlation-id %lld: that image's publication asked for no response channel",
                (long long)uri->response_correlation_id);
        }
        else
        {
            *requester = request->resource.response_correlation_id;
            return true;
        }
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, why);
        return false;
    }
    if (!uri->has_response_correlation_id)
    {
        return true;
    }
    for (int32_t i = 0; i < c->subscription_links_count; i++)
    {
        const shoal_subscription_link_t *l = &c->subscription_links[i];
        if (l->registration_id == uri->response_correlation_id && SHOAL_MEDIA_IPC == l->media && l->is_response)
        {
            return true;
        }
    }
    snprintf(why, sizeof(why),
        "aeron:ipc response-correlation-id %lld: no response subscription (aeron:ipc?control-mode=response) with "
        "that registration id",
        (long long)uri->response_correlation_id);
    shoal_driver_send_error(c, correlation_id, SHOAL_EURI, why);
    return false;
}

void shoal_driver_on_add_ipc_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, bool exclusive, int64_t now_ms)
{
    int64_t requester;
    if (!check_ipc_response_channel(c, correlation_id, uri, &requester))
    {
        return;
    }
    int32_t term_length, mtu;
    if (!shoal_driver_publication_sizes(c, correlation_id, channel, uri, (int32_t)c->ctx->ipc_term_length, INT32_MAX,
            &term_length, &mtu))
    {
        return;
    }
    shoal_ipc_publication_t *pub = exclusive ? NULL : find_shared(c, stream_id, uri);
    if (!shoal_driver_share_or_check(c, correlation_id, stream_id, uri, NULL == pub ? NULL : &pub->resource,
            NULL == pub ? 0 : pub->log.term_length, term_length, mtu))
    {
        return;
    }
    if (NULL == pub)
    {
        if (SHOAL_DRIVER_ARRAY_ENSURE(c, ipc_publications) < 0)
        {
            shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
            return;
        }
        shoal_ipc_publication_params_t params = {
            .resource = shoal_driver_publication_params(c, SHOAL_MEDIA_IPC, correlation_id, stream_id, uri, term_length,
                mtu, exclusive, "aeron:ipc"),
            .session_id_explicit = uri->has_session_id,
        };
        if (shoal_ipc_publication_create(&pub, c->ctx->dir, &params, &c->counters, now_ms) < 0)
        {
            shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
            return;
        }
        c->ipc_publications[c->ipc_publications_count++] = pub;
        (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])++;
    }

    if (shoal_driver_link_publication(c, correlation_id, client_id, &pub->resource) < 0)
    {
        return;
    }
    if (1 == pub->resource.ref_count)
    {
        shoal_driver_link_subscriptions_to(c, pub, now_ms);
        if (requester >= 0)
        {
            shoal_driver_link_response_subscription(c, requester, pub, now_ms);
        }
    }
}

void shoal_driver_report_invalid_positions(shoal_driver_conductor_t *c, const shoal_subscriber_positions_t *set,
    const shoal_publication_resource_t *r, int64_t count)
{
    char msg[256];
    snprintf(msg, sizeof(msg),
        "subscriber position %lld of subscription %lld on %s stream %d session %d is "
        "impossible (beyond what was published or a whole term behind it): clamped; a client wrote its position "
        "counter",
        (long long)set->last_invalid_position, (long long)set->last_invalid_subscription_registration_id,
        SHOAL_MEDIA_UDP == r->media ? "the spied-on UDP" : "IPC", r->stream_id, r->session_id);
    shoal_get_and_add(c->system_counters[SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES], count);
    shoal_driver_record_error(c, SHOAL_EINVAL, msg);
}

int shoal_driver_tick_publications(shoal_driver_conductor_t *c, int64_t now_ms)
{
    int work = 0;
    int64_t now_ns = c->ipc_publications_count > 0 ? shoal_nano_time() : 0;
    for (int32_t i = c->ipc_publications_count - 1; i >= 0; i--)
    {
        shoal_ipc_publication_t *pub = c->ipc_publications[i];
        shoal_ipc_publication_state_t before = pub->state;
        const int64_t invalid_before = pub->subscribers.invalid_position_count;
        if (SHOAL_IPC_PUB_ACTIVE == pub->state || SHOAL_IPC_PUB_DRAINING == pub->state)
        {
            work += shoal_driver_check_tethers(c, &pub->subscribers, &pub->resource,
                shoal_ipc_publication_untethered_window_limit(pub), shoal_ipc_publication_join_position(pub), now_ns);
        }
        work += shoal_ipc_publication_on_tick(pub, now_ms, (int64_t)c->ctx->publication_unblock_timeout_ms,
            (int64_t)c->ctx->publication_linger_ms, c->system_counters[SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS]);
        if (pub->subscribers.invalid_position_count != invalid_before)
        {
            shoal_driver_report_invalid_positions(c, &pub->subscribers, &pub->resource,
                pub->subscribers.invalid_position_count - invalid_before);
        }
        if (SHOAL_IPC_PUB_LINGER == pub->state && SHOAL_IPC_PUB_LINGER != before)
        {
            /* Drained: subscribers have read everything; their images go away now. */
            shoal_driver_unlink_publication(c, pub, now_ms);
        }
        if (SHOAL_IPC_PUB_DONE == pub->state)
        {
            shoal_ipc_publication_delete(pub, &c->counters, now_ms);
            c->ipc_publications[i] = c->ipc_publications[--c->ipc_publications_count];
            (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])--;
            work++;
        }
    }
    return work;
}
