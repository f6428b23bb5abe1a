/* Client liveness: a client exists from its first command until it closes or
 * stops sending keepalives for the client liveness timeout; then everything
 * it registered is released as if it had closed each handle. */
#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_error.h"

static int32_t find_client(const shoal_driver_conductor_t *c, int64_t client_id)
{
    for (int32_t i = 0; i < c->clients_count; i++)
    {
        if (c->clients[i].client_id == client_id)
        {
            return i;
        }
    }
    return -1;
}

shoal_driver_client_t *shoal_driver_client_touch(shoal_driver_conductor_t *c, int64_t client_id, int64_t now_ms)
{
    int32_t i = find_client(c, client_id);
    if (i < 0)
    {
        if (SHOAL_DRIVER_ARRAY_ENSURE(c, clients) < 0)
        {
            return NULL;
        }
        char label[64];
        snprintf(label, sizeof(label), "client-heartbeat: %lld", (long long)client_id);
        int32_t counter_id = shoal_counters_manager_allocate(&c->counters, now_ms, SHOAL_COUNTER_TYPE_CLIENT_HEARTBEAT,
            (const uint8_t *)&client_id, sizeof(client_id), label, client_id, client_id);
        if (counter_id < 0)
        {
            return NULL;
        }
        i = c->clients_count++;
        c->clients[i].client_id = client_id;
        c->clients[i].heartbeat_counter_id = counter_id;
        (*c->system_counters[SHOAL_SYSTEM_COUNTER_CLIENTS_ACTIVE])++;
    }
    shoal_driver_client_t *client = &c->clients[i];
    client->last_keepalive_ms = now_ms;
    shoal_store_release(shoal_counter_addr(c->counters.values, client->heartbeat_counter_id), now_ms);
    return client;
}

static void release_client(shoal_driver_conductor_t *c, int32_t index, int64_t now_ms)
{
    int64_t client_id = c->clients[index].client_id;
    for (int32_t i = c->publication_links_count - 1; i >= 0; i--)
    {
        if (c->publication_links[i].client_id == client_id)
        {
            shoal_driver_remove_publication_link(c, i, now_ms);
        }
    }
    for (int32_t i = c->subscription_links_count - 1; i >= 0; i--)
    {
        if (c->subscription_links[i].client_id == client_id)
        {
            shoal_driver_remove_subscription_link(c, i, now_ms);
        }
    }
    shoal_counters_manager_free(&c->counters, now_ms, c->clients[index].heartbeat_counter_id);
    c->clients[index] = c->clients[--c->clients_count];
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_CLIENTS_ACTIVE])--;
}

void shoal_driver_on_client_close(shoal_driver_conductor_t *c, int64_t client_id, int64_t now_ms)
{
    int32_t i = find_client(c, client_id);
    if (i >= 0)
    {
        release_client(c, i, now_ms);
    }
}

int shoal_driver_check_client_liveness(shoal_driver_conductor_t *c, int64_t now_ms)
{
    int work = 0;
    for (int32_t i = c->clients_count - 1; i >= 0; i--)
    {
        shoal_driver_client_t *client = &c->clients[i];
        if (now_ms > client->last_keepalive_ms + (int64_t)c->ctx->client_liveness_timeout_ms)
        {
            char msg[128];
            snprintf(msg, sizeof(msg), "client %lld timed out after %llu ms without keepalive: resources released",
                (long long)client->client_id, (unsigned long long)c->ctx->client_liveness_timeout_ms);
            shoal_driver_record_error(c, SHOAL_ETIMEDOUT, msg);
            shoal_client_timeout_t r = { client->client_id };
            shoal_broadcast_transmitter_transmit(&c->to_clients, SHOAL_RSP_ON_CLIENT_TIMEOUT, &r, sizeof(r));
            (*c->system_counters[SHOAL_SYSTEM_COUNTER_CLIENT_TIMEOUTS])++;
            release_client(c, i, now_ms);
            work++;
        }
    }
    return work;
}
