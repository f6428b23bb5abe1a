/* UDP streams, conductor side. Publications on aeron:udp channels become
 * network publications on a send channel endpoint (shared by channel);
 * subscriptions add their stream to a receive channel endpoint (shared by
 * channel); a SETUP frame heard on a receive endpoint for a wanted stream
 * becomes an image, linked to every matching subscription. The sender and
 * receiver duties do the per-packet work (transport/udp); this file creates,
 * links, times out and frees. It never touches what those duties iterate:
 * it asks them through their command queues (shoal_udp_commands.h) and
 * frees an object only when the duty says RELEASED, in either threading
 * mode. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_random.h"

/* Counter type ids of the per-endpoint blocks (SHOAL_COUNTER_TYPE_SEND_CHANNEL,
 * _RECEIVE_CHANNEL, as Aeron's channel status ids) are in shoal/shoal.h. */

/* An image that ended is not rebuilt from the same session for this long. */
#define SHOAL_IMAGE_COOLDOWN_NS (1000 * 1000 * 1000LL)

static const int SYSTEM_COUNTER_OF[SHOAL_UDP_COUNTER_COUNT] = {
    [SHOAL_UDP_COUNTER_BYTES_SENT] = SHOAL_SYSTEM_COUNTER_BYTES_SENT,
    [SHOAL_UDP_COUNTER_BYTES_RECEIVED] = SHOAL_SYSTEM_COUNTER_BYTES_RECEIVED,
    [SHOAL_UDP_COUNTER_FRAMES_SENT] = -1,
    [SHOAL_UDP_COUNTER_FRAMES_RECEIVED] = -1,
    [SHOAL_UDP_COUNTER_NAKS_SENT] = SHOAL_SYSTEM_COUNTER_NAKS_SENT,
    [SHOAL_UDP_COUNTER_NAKS_RECEIVED] = SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED,
    [SHOAL_UDP_COUNTER_RETRANSMITS_SENT] = SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT,
    [SHOAL_UDP_COUNTER_SMS_SENT] = SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT,
    [SHOAL_UDP_COUNTER_SMS_RECEIVED] = SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED,
    [SHOAL_UDP_COUNTER_SHORT_SENDS] = SHOAL_SYSTEM_COUNTER_SHORT_SENDS,
    [SHOAL_UDP_COUNTER_INVALID_FRAMES] = SHOAL_SYSTEM_COUNTER_INVALID_FRAMES,
    [SHOAL_UDP_COUNTER_HEARTBEATS_SENT] = SHOAL_SYSTEM_COUNTER_HEARTBEATS_SENT,
    [SHOAL_UDP_COUNTER_NAKS_UNSERVED] = SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED,
    [SHOAL_UDP_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT] = SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT,
    [SHOAL_UDP_COUNTER_SETUPS_REFUSED_TERM_LENGTH] = SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_TERM_LENGTH,
    [SHOAL_UDP_COUNTER_FRAMES_FROM_WRONG_SOURCE] = SHOAL_SYSTEM_COUNTER_FRAMES_FROM_WRONG_SOURCE,
    [SHOAL_UDP_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS] = SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS,
    [SHOAL_UDP_COUNTER_NAKS_OVER_BUDGET] = SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET,
    [SHOAL_UDP_COUNTER_SM_WINDOWS_CLAMPED] = SHOAL_SYSTEM_COUNTER_SM_WINDOWS_CLAMPED,
};

static void drain_agent_messages_in_place(void *clientd)
{
    shoal_driver_network_do_agent_messages(clientd);
}

static void drain_sender_commands_in_place(void *clientd)
{
    shoal_udp_sender_do_commands(clientd);
}

static void drain_receiver_commands_in_place(void *clientd)
{
    shoal_udp_receiver_do_commands(clientd);
}

void shoal_driver_network_set_stop_flag(shoal_driver_conductor_t *c, volatile int *stop)
{
    c->to_conductor.stop = stop;
    c->sender->commands.stop = stop;
    c->receiver->commands.stop = stop;
}

/* Asks the sender or receiver duty; a command that cannot be queued (only
 * when the driver stops, or the queue is full in a nested drain) is noted
 * in the error log. */
static void ask(shoal_driver_conductor_t *c, shoal_udp_command_queue_t *q, int32_t type, shoal_udp_command_t *cmd)
{
    if (shoal_udp_command_queue_post(q, type, cmd) < 0)
    {
        shoal_driver_record_error(c, shoal_errcode(), shoal_errmsg());
        shoal_err_clear();
    }
}

static void ask_sender(shoal_driver_conductor_t *c, int32_t type, void *object, void *endpoint)
{
    shoal_udp_command_t cmd;
    memset(&cmd, 0, offsetof(shoal_udp_command_t, message));
    cmd.object = object;
    cmd.endpoint = endpoint;
    ask(c, &c->sender->commands, type, &cmd);
}

static void ask_receiver(shoal_driver_conductor_t *c, int32_t type, void *object, void *endpoint, int32_t stream_id,
    int64_t cooldown_ns)
{
    shoal_udp_command_t cmd;
    memset(&cmd, 0, offsetof(shoal_udp_command_t, message));
    cmd.object = object;
    cmd.endpoint = endpoint;
    cmd.stream_id = stream_id;
    cmd.cooldown_ns = cooldown_ns;
    ask(c, &c->receiver->commands, type, &cmd);
}

int shoal_driver_network_init(shoal_driver_conductor_t *c)
{
    c->sender = calloc(1, sizeof(*c->sender));
    c->receiver = calloc(1, sizeof(*c->receiver));
    if (NULL == c->sender || NULL == c->receiver)
    {
        return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory");
    }
    if (shoal_udp_command_queue_init(&c->to_conductor, SHOAL_UDP_CONDUCTOR_QUEUE_CAPACITY) < 0 ||
        shoal_udp_sender_init(c->sender, &c->to_conductor) < 0 ||
        shoal_udp_receiver_init(c->receiver, &c->to_conductor) < 0)
    {
        return -1;
    }
    bool shared = SHOAL_THREADING_SHARED == c->ctx->threading_mode;
    c->to_conductor.shared = shared;
    c->to_conductor.drain_in_place = drain_agent_messages_in_place;
    c->to_conductor.drain_clientd = c;
    c->sender->commands.shared = shared;
    c->sender->commands.drain_in_place = drain_sender_commands_in_place;
    c->sender->commands.drain_clientd = c->sender;
    c->receiver->commands.shared = shared;
    c->receiver->commands.drain_in_place = drain_receiver_commands_in_place;
    c->receiver->commands.drain_clientd = c->receiver;
    /* Identifies this driver's receivers in status messages (flow control
     * tells receivers apart by it). */
    shoal_driver_note_random_fallback(c, shoal_random_fill(&c->receiver_id, sizeof(c->receiver_id)) < 0);
    c->next_loss_seed = c->ctx->loss_seed ? c->ctx->loss_seed : (uint64_t)shoal_nano_time();
    return 0;
}

static void free_endpoint_counters(shoal_driver_conductor_t *c, int32_t *ids, int64_t now_ms)
{
    for (int i = 0; i < SHOAL_UDP_COUNTER_COUNT; i++)
    {
        if (ids[i] >= 0)
        {
            shoal_counters_manager_free(&c->counters, now_ms, ids[i]);
            ids[i] = -1;
        }
    }
}

void shoal_driver_network_close(shoal_driver_conductor_t *c)
{
    int64_t now_ms = shoal_epoch_ms();
    for (int32_t i = 0; i < c->network_publications_count; i++)
    {
        shoal_network_publication_delete(c->network_publications[i], &c->counters, now_ms);
    }
    for (int32_t i = 0; i < c->images_count; i++)
    {
        shoal_publication_image_delete(c->images[i], &c->counters, now_ms);
    }
    for (int32_t i = 0; i < c->send_endpoints_count; i++)
    {
        free_endpoint_counters(c, c->send_endpoints[i]->counter_ids, now_ms);
        shoal_send_channel_endpoint_delete(c->send_endpoints[i]);
    }
    for (int32_t i = 0; i < c->receive_endpoints_count; i++)
    {
        free_endpoint_counters(c, c->receive_endpoints[i]->counter_ids, now_ms);
        shoal_receive_channel_endpoint_delete(c->receive_endpoints[i]);
    }
    free(c->network_publications);
    free(c->images);
    free(c->send_endpoints);
    free(c->receive_endpoints);
    c->network_publications = NULL;
    c->images = NULL;
    c->send_endpoints = NULL;
    c->receive_endpoints = NULL;
    c->network_publications_count = c->images_count = c->send_endpoints_count = c->receive_endpoints_count = 0;
    if (NULL != c->sender)
    {
        shoal_udp_sender_close(c->sender);
        free(c->sender);
        c->sender = NULL;
    }
    if (NULL != c->receiver)
    {
        shoal_udp_receiver_close(c->receiver);
        free(c->receiver);
        c->receiver = NULL;
    }
    shoal_udp_command_queue_close(&c->to_conductor);
}

static void allocate_endpoint_counters(shoal_driver_conductor_t *c, const char *kind, int32_t type_id,
    const shoal_udp_channel_t *ch, shoal_udp_counters_t *counters, int32_t *ids, int64_t now_ms)
{
    char label[SHOAL_COUNTER_MAX_LABEL_LENGTH];
    char uri[SHOAL_URI_PRINT_MAX_LENGTH];
    if (shoal_uri_print(&ch->uri, uri, sizeof(uri)) < 0)
    {
        snprintf(uri, sizeof(uri), "%s", ch->canonical);
    }
    for (int i = 0; i < SHOAL_UDP_COUNTER_COUNT; i++)
    {
        snprintf(label, sizeof(label), "%s %s: %.300s", kind, shoal_udp_counter_name(i), uri);
        uint8_t key[8];
        int32_t which = i;
        memcpy(key, &which, 4);
        memcpy(key + 4, &type_id, 4);
        ids[i] = shoal_counters_manager_allocate(&c->counters, now_ms, type_id, key, sizeof(key), label, 0, 0);
        counters->endpoint[i] = ids[i] >= 0 ? shoal_counter_addr(c->counters.values, ids[i]) : NULL;
        counters->system[i] = SYSTEM_COUNTER_OF[i] >= 0 ? c->system_counters[SYSTEM_COUNTER_OF[i]] : NULL;
    }
    shoal_err_clear();
}

/* ------------------------------------------------------------ publications */

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
        ask_sender(c, SHOAL_UDP_CMD_ADD_SEND_ENDPOINT, ep, ep);
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
    allocate_endpoint_counters(c, "snd-channel", SHOAL_COUNTER_TYPE_SEND_CHANNEL, ch, &ep->counters, ep->counter_ids,
        now_ms);
    c->send_endpoints[c->send_endpoints_count++] = ep;
    ask_sender(c, SHOAL_UDP_CMD_ADD_SEND_ENDPOINT, ep, ep);
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
    ask_sender(c, SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT, ep, ep);
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

static void on_send_endpoint_released(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep, int64_t now_ms)
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
    free_endpoint_counters(c, ep->counter_ids, now_ms);
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
        ask_sender(c, SHOAL_UDP_CMD_ADD_PUBLICATION, pub, ep);
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

/* ----------------------------------------------------------- subscriptions */

static shoal_receive_channel_endpoint_t *find_receive_endpoint(shoal_driver_conductor_t *c,
    const shoal_udp_channel_t *ch)
{
    for (int32_t i = 0; i < c->receive_endpoints_count; i++)
    {
        if (0 == strcmp(c->receive_endpoints[i]->channel.canonical, ch->canonical))
        {
            return c->receive_endpoints[i];
        }
    }
    return NULL;
}

static shoal_receive_channel_endpoint_t *get_receive_endpoint(shoal_driver_conductor_t *c,
    const shoal_udp_channel_t *ch, int64_t now_ms)
{
    shoal_receive_channel_endpoint_t *ep = find_receive_endpoint(c, ch);
    if (NULL != ep)
    {
        if (ep->closing)
        {
            /* Taken back before the receiver dropped it (see revive_send_endpoint). */
            ep->closing = false;
            ask_receiver(c, SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT, ep, ep, 0, 0);
        }
        return ep;
    }
    if (SHOAL_DRIVER_ARRAY_ENSURE(c, receive_endpoints) < 0)
    {
        return NULL;
    }
    shoal_receive_channel_endpoint_params_t p = {
        .channel = ch,
        .rcvbuf = c->ctx->socket_rcvbuf,
        .sndbuf = c->ctx->socket_sndbuf,
        .send_loss_rate = c->ctx->send_loss_rate,
        .recv_loss_rate = c->ctx->rcv_loss_rate,
        .loss_seed = c->next_loss_seed++,
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
    allocate_endpoint_counters(c, "rcv-channel", SHOAL_COUNTER_TYPE_RECEIVE_CHANNEL, ch, &ep->counters,
        ep->counter_ids, now_ms);
    c->receive_endpoints[c->receive_endpoints_count++] = ep;
    ask_receiver(c, SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT, ep, ep, 0, 0);
    return ep;
}

static bool link_matches_image(const shoal_subscription_link_t *link, const shoal_publication_image_t *image)
{
    return SHOAL_MEDIA_UDP == link->media && link->endpoint == image->endpoint && link->stream_id == image->stream_id &&
        (!link->has_session_id || link->session_id == image->session_id);
}

static void link_image(shoal_driver_conductor_t *c, const shoal_subscription_link_t *link,
    shoal_publication_image_t *image, int64_t now_ms)
{
    int32_t counter_id = shoal_stream_counter_allocate(&c->counters, now_ms, SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION,
        "sub-pos", link->registration_id, image->session_id, image->stream_id, link->channel, image->source,
        link->client_id);
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
        endpoint_live |= c->receive_endpoints[i] == ep && !ep->closing;
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

static void on_setup(shoal_driver_conductor_t *c, shoal_receive_channel_endpoint_t *ep,
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
        if (SHOAL_MEDIA_UDP == l->media && l->endpoint == ep && l->stream_id == setup->stream_id &&
            (!l->has_session_id || l->session_id == setup->session_id))
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
        .correlation_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver),
        .session_id = setup->session_id,
        .stream_id = setup->stream_id,
        .initial_term_id = setup->initial_term_id,
        .active_term_id = setup->active_term_id,
        .term_offset = setup->term_offset,
        .term_length = setup->term_length,
        .mtu = setup->mtu,
        .rcv_window = first->rcv_window > 0 ? first->rcv_window : (int32_t)c->ctx->rcv_window,
        .reliable = first->reliable,
        .sparse = first->sparse,
        .receiver_id = c->receiver_id,
        .nak_retry_delay_ns = (int64_t)c->ctx->nak_retry_delay_us * 1000LL,
        .control_address = from,
        .source_address = source,
        .source = source_text,
        .channel = first->channel,
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
    ask_receiver(c, SHOAL_UDP_CMD_ADD_IMAGE, image, ep, 0, 0);
}

void shoal_driver_on_add_network_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, int64_t now_ms)
{
    char msg[SHOAL_ERRMSG_MAX + SHOAL_MAX_CHANNEL_LENGTH];
    shoal_udp_channel_t ch;
    if (shoal_udp_channel_init(&ch, uri) < 0)
    {
        snprintf(msg, sizeof(msg), "channel '%s': %s", channel, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
        return;
    }
    if (!ch.has_endpoint)
    {
        snprintf(msg, sizeof(msg), "channel '%s': a subscription needs 'endpoint' to receive on", channel);
        shoal_driver_send_error(c, correlation_id, SHOAL_EURI, msg);
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
        snprintf(msg, sizeof(msg), "channel '%s': %s", channel, shoal_errmsg());
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), msg);
        return;
    }
    ask_receiver(c, SHOAL_UDP_CMD_ADD_STREAM, NULL, ep, stream_id, 0);
    ep->ref_count++;
    shoal_subscription_link_t *link = &c->subscription_links[c->subscription_links_count++];
    memset(link, 0, sizeof(*link));
    link->registration_id = correlation_id;
    link->client_id = client_id;
    link->stream_id = stream_id;
    link->has_session_id = uri->has_session_id;
    link->session_id = uri->session_id;
    link->media = SHOAL_MEDIA_UDP;
    link->endpoint = ep;
    link->reliable = uri->has_reliable ? uri->reliable : true;
    link->sparse = uri->has_sparse && uri->sparse;
    link->rcv_window = uri->has_rcv_window ? uri->rcv_window : 0;
    if (shoal_uri_print(uri, link->channel, sizeof(link->channel)) < 0)
    {
        snprintf(link->channel, sizeof(link->channel), "%s", channel);
        shoal_err_clear();
    }
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_SUBSCRIPTIONS_ACTIVE])++;

    shoal_subscription_ready_t r = { correlation_id, -1 };
    shoal_broadcast_transmitter_transmit(&c->to_clients, SHOAL_RSP_ON_SUBSCRIPTION_READY, &r, sizeof(r));
    for (int32_t i = 0; i < c->images_count; i++)
    {
        shoal_publication_image_t *image = c->images[i];
        if (SHOAL_IMAGE_ACTIVE == image->state && link_matches_image(link, image))
        {
            link_image(c, link, image, now_ms);
        }
    }
}

/* Takes an image out of service: no more frames, subscribers told, then it
 * lingers so clients can let go of the log. */
static void deactivate_image(shoal_driver_conductor_t *c, shoal_publication_image_t *image, int64_t now_ns,
    int64_t now_ms, int64_t cooldown_ns)
{
    image->released = false;
    image->cooldown_deadline_ns = now_ns + cooldown_ns;
    ask_receiver(c, SHOAL_UDP_CMD_REMOVE_IMAGE, image, image->endpoint, 0, cooldown_ns);
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
    ask_receiver(c, SHOAL_UDP_CMD_REMOVE_STREAM, NULL, ep, link->stream_id, 0);
    if (--ep->ref_count > 0)
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
    ep->closing = true;
    ep->pending_releases++;
    ask_receiver(c, SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT, ep, ep, 0, 0);
}

static void on_receive_endpoint_released(shoal_driver_conductor_t *c, shoal_receive_channel_endpoint_t *ep,
    int64_t now_ms)
{
    if (--ep->pending_releases > 0 || !ep->closing)
    {
        return;
    }
    for (int32_t i = 0; i < c->receive_endpoints_count; i++)
    {
        if (c->receive_endpoints[i] == ep)
        {
            c->receive_endpoints[i] = c->receive_endpoints[--c->receive_endpoints_count];
            break;
        }
    }
    for (int32_t i = 0; i < c->images_count; i++)
    {
        if (c->images[i]->endpoint == ep)
        {
            c->images[i]->endpoint = NULL;
        }
    }
    free_endpoint_counters(c, ep->counter_ids, now_ms);
    shoal_receive_channel_endpoint_delete(ep);
}

/* -------------------------------------------------------------------- ticks */

int shoal_driver_tick_network(shoal_driver_conductor_t *c, int64_t now_ms)
{
    if (0 == c->network_publications_count && 0 == c->images_count)
    {
        return 0;
    }
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
            ask_sender(c, SHOAL_UDP_CMD_REMOVE_PUBLICATION, pub, pub->endpoint);
            (*c->system_counters[SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE])--;
            work++;
        }
    }
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

static void on_publication_released(shoal_driver_conductor_t *c, shoal_network_publication_t *pub, int64_t now_ms)
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

static void on_agent_message(int32_t type, const shoal_udp_command_t *msg, void *clientd)
{
    shoal_driver_conductor_t *c = clientd;
    int64_t now_ms = shoal_epoch_ms();
    switch (type)
    {
        case SHOAL_UDP_MSG_RELEASED:
            switch (msg->command)
            {
                case SHOAL_UDP_CMD_REMOVE_PUBLICATION:
                    on_publication_released(c, msg->object, now_ms);
                    break;
                case SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT:
                    on_send_endpoint_released(c, msg->object, now_ms);
                    break;
                case SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT:
                    on_receive_endpoint_released(c, msg->object, now_ms);
                    break;
                case SHOAL_UDP_CMD_REMOVE_IMAGE:
                    ((shoal_publication_image_t *)msg->object)->released = true;
                    break;
                default:
                    break;
            }
            break;
        case SHOAL_UDP_MSG_SETUP:
            on_setup(c, msg->endpoint, &msg->setup, &msg->address, &msg->source);
            break;
        case SHOAL_UDP_MSG_RESULT:
            if (0 == msg->code)
            {
                shoal_driver_send_operation_success(c, msg->correlation_id);
            }
            else
            {
                shoal_driver_send_error(c, msg->correlation_id, msg->code, msg->message);
            }
            break;
        case SHOAL_UDP_MSG_ERROR:
            shoal_driver_record_error(c, msg->code, msg->message);
            break;
        default:
            break;
    }
}

int shoal_driver_network_do_agent_messages(shoal_driver_conductor_t *c)
{
    return shoal_udp_command_queue_drain(&c->to_conductor, on_agent_message, c, SIZE_MAX);
}

/* Shared mode: the sender's and receiver's duties inside the conductor's
 * cycle, each timed on its own so both modes fill the same counters. */
int shoal_driver_network_do_work(shoal_driver_conductor_t *c)
{
    int64_t now_ns = shoal_nano_time();
    int work = shoal_udp_sender_do_work(c->sender, now_ns);
    int64_t sent_ns = shoal_nano_time();
    shoal_counter_propose_max_ordered(c->system_counters[SHOAL_SYSTEM_COUNTER_SENDER_MAX_CYCLE_TIME_NS],
        sent_ns - now_ns);
    work += shoal_udp_receiver_do_work(c->receiver, sent_ns);
    shoal_counter_propose_max_ordered(c->system_counters[SHOAL_SYSTEM_COUNTER_RECEIVER_MAX_CYCLE_TIME_NS],
        shoal_nano_time() - sent_ns);
    return work;
}
