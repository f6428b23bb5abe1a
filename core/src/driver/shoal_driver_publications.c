/* Publications: each add_publication call becomes a link; concurrent links
 * of one stream (same stream id, same session) share one IPC log, exclusive
 * ones always get their own. */
#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_error.h"

static bool session_in_use(const shoal_driver_conductor_t *c, int32_t stream_id, int32_t session_id)
{
    return shoal_driver_session_in_use(c, stream_id, session_id);
}

static shoal_ipc_publication_t *find_shared(shoal_driver_conductor_t *c, int32_t stream_id, const shoal_uri_t *uri)
{
    for (int32_t i = 0; i < c->ipc_publications_count; i++)
    {
        shoal_ipc_publication_t *p = c->ipc_publications[i];
        if (!p->exclusive && SHOAL_IPC_PUB_ACTIVE == p->state && p->stream_id == stream_id &&
            (!uri->has_session_id || uri->session_id == p->session_id))
        {
            return p;
        }
    }
    return NULL;
}

static void send_publication_ready(shoal_driver_conductor_t *c, int64_t correlation_id, int64_t registration_id,
    const shoal_ipc_publication_t *pub)
{
    shoal_publication_ready_t *r = (shoal_publication_ready_t *)c->scratch;
    r->correlation_id = correlation_id;
    r->registration_id = registration_id;
    r->session_id = pub->session_id;
    r->stream_id = pub->stream_id;
    r->position_limit_counter_id = pub->pub_limit_counter_id;
    r->publisher_position_counter_id = pub->pub_pos_counter_id;
    r->log_file_length = (int32_t)strlen(pub->log_file);
    memcpy(c->scratch + sizeof(*r), pub->log_file, (size_t)r->log_file_length);
    shoal_broadcast_transmitter_transmit(&c->to_clients,
        pub->exclusive ? SHOAL_RSP_ON_EXCLUSIVE_PUBLICATION_READY : SHOAL_RSP_ON_PUBLICATION_READY,
        c->scratch, sizeof(*r) + (size_t)r->log_file_length);
}

void shoal_driver_on_add_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, bool exclusive, int64_t now_ms)
{
    shoal_uri_t uri;
    char msg[SHOAL_ERRMSG_MAX + 64];
    if (shoal_uri_parse(channel, &uri) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        return;
    }
    if (SHOAL_MEDIA_UDP == uri.media)
    {
        shoal_driver_on_add_network_publication(c, client_id, correlation_id, stream_id, channel, &uri, exclusive,
            now_ms);
        return;
    }
    int32_t term_length = uri.has_term_length ? uri.term_length : (int32_t)c->ctx->ipc_term_length;
    int32_t mtu = uri.has_mtu ? uri.mtu : (int32_t)c->ctx->mtu;
    if (mtu > term_length / 8 + (int32_t)SHOAL_DATA_HEADER_LENGTH)
    {
        snprintf(msg, sizeof(msg), "channel '%s': mtu %d too large for term-length %d", channel, mtu, term_length);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }

    shoal_ipc_publication_t *pub = exclusive ? NULL : find_shared(c, stream_id, &uri);
    if (NULL != pub)
    {
        if ((uri.has_term_length && uri.term_length != pub->term_length) || (uri.has_mtu && uri.mtu != pub->mtu))
        {
            snprintf(msg, sizeof(msg),
                "stream %d clash: existing publication session %d has term-length %d mtu %d, requested %d/%d",
                stream_id, pub->session_id, pub->term_length, pub->mtu, term_length, mtu);
            shoal_driver_send_error(c, correlation_id, SHOAL_ECLASH, msg);
            return;
        }
        pub->ref_count++;
    }
    else
    {
        if (uri.has_session_id && session_in_use(c, stream_id, uri.session_id))
        {
            snprintf(msg, sizeof(msg), "stream %d clash: session-id %d is already in use", stream_id, uri.session_id);
            shoal_driver_send_error(c, correlation_id, SHOAL_ECLASH, msg);
            return;
        }
        if (SHOAL_DRIVER_ARRAY_ENSURE(c, ipc_publications) < 0)
        {
            shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
            return;
        }
        shoal_ipc_publication_params_t params = {
            .registration_id = correlation_id,
            .session_id = uri.has_session_id ? uri.session_id : shoal_driver_next_session_id(c, stream_id),
            .initial_term_id = shoal_driver_next_initial_term_id(c),
            .stream_id = stream_id,
            .term_length = term_length,
            .mtu = mtu,
            .exclusive = exclusive,
            .session_id_explicit = uri.has_session_id,
            .sparse = uri.has_sparse && uri.sparse,
        };
        if (shoal_ipc_publication_create(&pub, c->ctx->dir, &params, &c->counters, now_ms) < 0)
        {
            shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
            return;
        }
        c->ipc_publications[c->ipc_publications_count++] = pub;
        (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])++;
    }

    if (shoal_driver_add_publication_link(c, correlation_id, client_id, pub, NULL) < 0)
    {
        pub->ref_count--;
        return;
    }
    send_publication_ready(c, correlation_id, correlation_id, pub);
    if (1 == pub->ref_count)
    {
        shoal_driver_link_subscriptions_to(c, pub, now_ms);
    }
}

int shoal_driver_add_publication_link(shoal_driver_conductor_t *c, int64_t correlation_id, int64_t client_id,
    shoal_ipc_publication_t *ipc, shoal_network_publication_t *network)
{
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, publication_links) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        return -1;
    }
    shoal_publication_link_t *link = &c->publication_links[c->publication_links_count++];
    link->registration_id = correlation_id;
    link->client_id = client_id;
    link->publication = ipc;
    link->network = network;
    return 0;
}

void shoal_driver_remove_publication_link(shoal_driver_conductor_t *c, int32_t index, int64_t now_ms)
{
    shoal_ipc_publication_t *pub = c->publication_links[index].publication;
    shoal_network_publication_t *network = c->publication_links[index].network;
    c->publication_links[index] = c->publication_links[--c->publication_links_count];
    if (NULL != network)
    {
        shoal_driver_remove_network_publication_link(c, network);
        return;
    }
    if (--pub->ref_count <= 0)
    {
        shoal_ipc_publication_on_publishers_gone(pub, now_ms);
    }
}

void shoal_driver_on_remove_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int64_t registration_id, int64_t now_ms)
{
    bool foreign = false;
    for (int32_t i = 0; i < c->publication_links_count; i++)
    {
        if (c->publication_links[i].registration_id != registration_id)
        {
            continue;
        }
        if (c->publication_links[i].client_id == client_id)
        {
            shoal_driver_remove_publication_link(c, i, now_ms);
            shoal_driver_send_operation_success(c, correlation_id);
            return;
        }
        foreign = true;
    }
    if (foreign)
    {
        shoal_driver_refuse_foreign(c, client_id, correlation_id, "publication", registration_id);
        return;
    }
    char msg[128];
    snprintf(msg, sizeof(msg), "unknown publication registration %lld", (long long)registration_id);
    shoal_driver_send_error(c, correlation_id, SHOAL_EINVAL, msg);
}

static void report_invalid_position(shoal_driver_conductor_t *c, const shoal_ipc_publication_t *pub, int64_t count)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "subscriber position %lld of subscription %lld on IPC stream %d session %d is "
        "impossible (beyond what was published or a whole term behind it): clamped; a client wrote its position "
        "counter", (long long)pub->last_invalid_position, (long long)pub->last_invalid_subscription_registration_id,
        pub->stream_id, pub->session_id);
    shoal_get_and_add(c->system_counters[SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES], count);
    shoal_driver_record_error(c, SHOAL_EINVAL, msg);
}

int shoal_driver_tick_publications(shoal_driver_conductor_t *c, int64_t now_ms)
{
    int work = 0;
    for (int32_t i = c->ipc_publications_count - 1; i >= 0; i--)
    {
        shoal_ipc_publication_t *pub = c->ipc_publications[i];
        shoal_ipc_publication_state_t before = pub->state;
        const int64_t invalid_before = pub->invalid_position_count;
        work += shoal_ipc_publication_on_tick(pub, now_ms, (int64_t)c->ctx->publication_unblock_timeout_ms,
            (int64_t)c->ctx->publication_linger_ms, c->system_counters[SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS]);
        if (pub->invalid_position_count != invalid_before)
        {
            report_invalid_position(c, pub, pub->invalid_position_count - invalid_before);
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
