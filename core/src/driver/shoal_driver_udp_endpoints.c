/* What the conductor does alike for send and receive channel endpoints,
 * through their common head (transport/udp/shoal_udp_endpoint.h): socket
 * settings from the context, lookup by channel, references, the removal
 * hand-shake with their duty, and each endpoint's block of counters
 * (SHOAL_COUNTER_TYPE_SEND_CHANNEL or _RECEIVE_CHANNEL, as Aeron's channel
 * status ids), each also added to the matching system counter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/shoal_driver_conductor.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

static void allocate_counters(shoal_driver_conductor_t *c, const char *kind, int32_t type_id,
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
        int32_t system_counter = shoal_udp_counter_system_counter(i);
        counters->system[i] = system_counter >= 0 ? c->system_counters[system_counter] : NULL;
    }
    shoal_err_clear();
}

static void free_counters(shoal_driver_conductor_t *c, int32_t *ids, int64_t now_ms)
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

shoal_udp_endpoint_params_t shoal_driver_endpoint_params(shoal_driver_conductor_t *c, const shoal_udp_channel_t *ch)
{
    shoal_udp_endpoint_params_t p = {
        .channel = ch,
        .rcvbuf = c->ctx->socket_rcvbuf,
        .sndbuf = c->ctx->socket_sndbuf,
        .send_loss_rate = c->ctx->send_loss_rate,
        .recv_loss_rate = c->ctx->rcv_loss_rate,
        .loss_seed = c->next_loss_seed++,
    };
    return p;
}

void *shoal_driver_find_endpoint(void *const *endpoints, int32_t count, const shoal_udp_channel_t *ch)
{
    for (int32_t i = 0; i < count; i++)
    {
        const shoal_udp_endpoint_t *e = endpoints[i];
        if (0 == strcmp(e->channel.canonical, ch->canonical))
        {
            return endpoints[i];
        }
    }
    return NULL;
}

void shoal_driver_adopt_endpoint(shoal_driver_conductor_t *c, void **endpoints, int32_t *count, shoal_udp_endpoint_t *e,
    bool send_side, int64_t now_ms)
{
    if (send_side)
    {
        allocate_counters(c, "snd-channel", SHOAL_COUNTER_TYPE_SEND_CHANNEL, &e->channel, &e->counters, e->counter_ids,
            now_ms);
    }
    else
    {
        allocate_counters(c, "rcv-channel", SHOAL_COUNTER_TYPE_RECEIVE_CHANNEL, &e->channel, &e->counters,
            e->counter_ids, now_ms);
    }
    endpoints[(*count)++] = e;
}

bool shoal_driver_revive_endpoint(shoal_udp_endpoint_t *e)
{
    if (!e->closing)
    {
        return false;
    }
    e->closing = false;
    return true;
}

bool shoal_driver_release_endpoint(shoal_udp_endpoint_t *e)
{
    if (--e->ref_count > 0)
    {
        return false;
    }
    e->closing = true;
    e->pending_releases++;
    return true;
}

bool shoal_driver_endpoint_released(shoal_driver_conductor_t *c, void **endpoints, int32_t *count,
    shoal_udp_endpoint_t *e, int64_t now_ms)
{
    if (--e->pending_releases > 0 || !e->closing)
    {
        return false;
    }
    for (int32_t i = 0; i < *count; i++)
    {
        if (endpoints[i] == e)
        {
            endpoints[i] = endpoints[--(*count)];
            break;
        }
    }
    free_counters(c, e->counter_ids, now_ms);
    return true;
}

static void free_endpoints(shoal_driver_conductor_t *c, void ***endpoints, int32_t *count,
    void (*delete_endpoint)(void *), int64_t now_ms)
{
    for (int32_t i = 0; i < *count; i++)
    {
        free_counters(c, ((shoal_udp_endpoint_t *)(*endpoints)[i])->counter_ids, now_ms);
        delete_endpoint((*endpoints)[i]);
    }
    free(*endpoints);
    *endpoints = NULL;
    *count = 0;
}

static void delete_send_endpoint(void *ep)
{
    shoal_send_channel_endpoint_delete(ep);
}

static void delete_receive_endpoint(void *ep)
{
    shoal_receive_channel_endpoint_delete(ep);
}

void shoal_driver_udp_close(shoal_driver_conductor_t *c)
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
    free(c->network_publications);
    free(c->images);
    c->network_publications = NULL;
    c->images = NULL;
    c->network_publications_count = c->images_count = 0;
    free_endpoints(c, (void ***)&c->send_endpoints, &c->send_endpoints_count, delete_send_endpoint, now_ms);
    free_endpoints(c, (void ***)&c->receive_endpoints, &c->receive_endpoints_count, delete_receive_endpoint, now_ms);
}

int shoal_driver_udp_channel_of(shoal_driver_conductor_t *c, shoal_udp_channel_t *ch, const shoal_uri_t *uri,
    int64_t correlation_id, const char *channel)
{
    if (shoal_udp_channel_init(ch, uri) < 0)
    {
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel, NULL);
        return -1;
    }
    return 0;
}
