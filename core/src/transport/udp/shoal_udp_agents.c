#include "transport/udp/shoal_udp_agents.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/shoal_clock.h"
#include "util/shoal_error.h"

#define SHOAL_UDP_IDLE_INTERVAL_NS (1000 * 1000LL)
#define SHOAL_UDP_CONTROL_SLOT 2048
/* Batches read from one receive endpoint per cycle before moving on. */
#define SHOAL_UDP_RECEIVE_BATCHES_PER_CYCLE 4

static int list_add(void **items, int32_t *count, int32_t *capacity, void *item)
{
    if (*count == *capacity)
    {
        int32_t cap = *capacity ? *capacity * 2 : 8;
        void **grown = realloc(*items, (size_t)cap * sizeof(void *));
        if (NULL == grown)
        {
            return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory");
        }
        *items = grown;
        *capacity = cap;
    }
    ((void **)*items)[(*count)++] = item;
    return 0;
}

static void list_remove(void **items, int32_t *count, const void *item)
{
    for (int32_t i = 0; i < *count; i++)
    {
        if (items[i] == item)
        {
            items[i] = items[--(*count)];
            return;
        }
    }
}

#define LIST_ADD(o, name, item) list_add((void **)&(o)->name, &(o)->name##_count, &(o)->name##_capacity, (item))
#define LIST_REMOVE(o, name, item) list_remove((void **)(o)->name, &(o)->name##_count, (item))

/* Commands handled per cycle: bounded so a burst cannot delay the data path. */
#define SHOAL_UDP_COMMANDS_PER_CYCLE 64

static void post_to_conductor(shoal_udp_command_queue_t *q, int32_t type, shoal_udp_command_t *cmd)
{
    if (shoal_udp_command_queue_post(q, type, cmd) < 0)
    {
        shoal_err_clear();
    }
}

static void post_released(shoal_udp_command_queue_t *q, int32_t command, void *object)
{
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.command = command;
    msg.object = object;
    post_to_conductor(q, SHOAL_UDP_MSG_RELEASED, &msg);
}

/* RESULT (correlation_id >= 0) or ERROR, from the current shoal_errmsg. */
static void post_outcome(shoal_udp_command_queue_t *q, int64_t correlation_id, int rc, const char *what)
{
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.correlation_id = correlation_id;
    msg.code = rc < 0 ? shoal_errcode() : 0;
    snprintf(msg.message, sizeof(msg.message), "%s: %s", what, rc < 0 ? shoal_errmsg() : "ok");
    shoal_err_clear();
    post_to_conductor(q, correlation_id >= 0 ? SHOAL_UDP_MSG_RESULT : SHOAL_UDP_MSG_ERROR, &msg);
}

/* ------------------------------------------------------------------ sender */

int shoal_udp_sender_init(shoal_udp_sender_t *s, shoal_udp_command_queue_t *to_conductor)
{
    memset(s, 0, sizeof(*s));
    s->to_conductor = to_conductor;
    if (shoal_udp_command_queue_init(&s->commands, SHOAL_UDP_COMMAND_QUEUE_CAPACITY) < 0)
    {
        return -1;
    }
    return shoal_udp_recv_batch_init(&s->control_batch, SHOAL_UDP_CONTROL_SLOT);
}

void shoal_udp_sender_close(shoal_udp_sender_t *s)
{
    shoal_udp_recv_batch_close(&s->control_batch);
    shoal_udp_command_queue_close(&s->commands);
    free(s->publications);
    free(s->endpoints);
    memset(s, 0, sizeof(*s));
}

static void on_sender_command(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    shoal_udp_sender_t *s = clientd;
    switch (type)
    {
        case SHOAL_UDP_CMD_ADD_SEND_ENDPOINT:
            if (LIST_ADD(s, endpoints, cmd->object) < 0)
            {
                post_outcome(s->to_conductor, -1, -1, "sender");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT:
            LIST_REMOVE(s, endpoints, cmd->object);
            post_released(s->to_conductor, type, cmd->object);
            break;
        case SHOAL_UDP_CMD_ADD_PUBLICATION:
            if (shoal_send_channel_endpoint_add_publication(cmd->endpoint, cmd->object) < 0 ||
                LIST_ADD(s, publications, cmd->object) < 0)
            {
                shoal_send_channel_endpoint_remove_publication(cmd->endpoint, cmd->object);
                post_outcome(s->to_conductor, -1, -1, "sender");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_PUBLICATION:
            LIST_REMOVE(s, publications, cmd->object);
            shoal_send_channel_endpoint_remove_publication(cmd->endpoint, cmd->object);
            post_released(s->to_conductor, type, cmd->object);
            break;
        case SHOAL_UDP_CMD_ADD_DESTINATION:
            post_outcome(s->to_conductor, cmd->correlation_id, shoal_send_channel_endpoint_add_destination(
                cmd->endpoint, &cmd->address, cmd->registration_id, shoal_nano_time()), "add_destination");
            break;
        case SHOAL_UDP_CMD_REMOVE_DESTINATION:
            post_outcome(s->to_conductor, cmd->correlation_id, shoal_send_channel_endpoint_remove_destination(
                cmd->endpoint, &cmd->address, shoal_nano_time()), "remove_destination");
            break;
        default:
            break;
    }
}

int shoal_udp_sender_do_commands(shoal_udp_sender_t *s)
{
    return shoal_udp_command_queue_drain(&s->commands, on_sender_command, s, SHOAL_UDP_COMMANDS_PER_CYCLE);
}

int shoal_udp_sender_do_work(shoal_udp_sender_t *s, int64_t now_ns)
{
    int work = shoal_udp_sender_do_commands(s);
    for (int32_t i = 0; i < s->endpoints_count; i++)
    {
        work += shoal_send_channel_endpoint_poll(s->endpoints[i], &s->control_batch, now_ns);
    }
    int32_t count = s->publications_count;
    if (count > 0)
    {
        uint32_t start = s->round_robin++ % (uint32_t)count;
        for (int32_t n = 0; n < count; n++)
        {
            int32_t i = (int32_t)((start + (uint32_t)n) % (uint32_t)count);
            work += shoal_network_publication_send(s->publications[i], now_ns);
        }
    }
    if (now_ns - s->time_of_last_idle_ns >= SHOAL_UDP_IDLE_INTERVAL_NS)
    {
        s->time_of_last_idle_ns = now_ns;
        for (int32_t i = 0; i < s->endpoints_count; i++)
        {
            work += shoal_send_channel_endpoint_on_idle(s->endpoints[i], now_ns);
        }
    }
    return work;
}

/* ---------------------------------------------------------------- receiver */

int shoal_udp_receiver_init(shoal_udp_receiver_t *r, shoal_udp_command_queue_t *to_conductor)
{
    memset(r, 0, sizeof(*r));
    r->to_conductor = to_conductor;
    if (shoal_udp_command_queue_init(&r->commands, SHOAL_UDP_COMMAND_QUEUE_CAPACITY) < 0)
    {
        return -1;
    }
    return shoal_udp_recv_batch_init(&r->data_batch, SHOAL_UDP_MAX_DATAGRAM);
}

void shoal_udp_receiver_close(shoal_udp_receiver_t *r)
{
    shoal_udp_recv_batch_close(&r->data_batch);
    shoal_udp_command_queue_close(&r->commands);
    free(r->endpoints);
    free(r->images);
    memset(r, 0, sizeof(*r));
}

static void on_receiver_command(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    shoal_udp_receiver_t *r = clientd;
    switch (type)
    {
        case SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT:
            if (LIST_ADD(r, endpoints, cmd->object) < 0)
            {
                post_outcome(r->to_conductor, -1, -1, "receiver");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT:
            LIST_REMOVE(r, endpoints, cmd->object);
            post_released(r->to_conductor, type, cmd->object);
            break;
        case SHOAL_UDP_CMD_ADD_STREAM:
            if (shoal_receive_channel_endpoint_add_stream(cmd->endpoint, cmd->stream_id) < 0)
            {
                post_outcome(r->to_conductor, -1, -1, "receiver");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_STREAM:
            shoal_receive_channel_endpoint_remove_stream(cmd->endpoint, cmd->stream_id);
            break;
        case SHOAL_UDP_CMD_ADD_IMAGE:
            if (shoal_receive_channel_endpoint_add_image(cmd->endpoint, cmd->object) < 0 ||
                LIST_ADD(r, images, cmd->object) < 0)
            {
                shoal_receive_channel_endpoint_remove_image(cmd->endpoint, cmd->object, shoal_nano_time(), 0);
                post_outcome(r->to_conductor, -1, -1, "receiver");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_IMAGE:
            LIST_REMOVE(r, images, cmd->object);
            shoal_receive_channel_endpoint_remove_image(cmd->endpoint, cmd->object, shoal_nano_time(),
                cmd->cooldown_ns);
            post_released(r->to_conductor, type, cmd->object);
            break;
        default:
            break;
    }
}

int shoal_udp_receiver_do_commands(shoal_udp_receiver_t *r)
{
    return shoal_udp_command_queue_drain(&r->commands, on_receiver_command, r, SHOAL_UDP_COMMANDS_PER_CYCLE);
}

void shoal_udp_receiver_on_setup(void *clientd, shoal_receive_channel_endpoint_t *ep,
    const shoal_setup_header_t *setup, const struct sockaddr_storage *control, const struct sockaddr_storage *source,
    int64_t now_ns)
{
    (void)now_ns;
    shoal_udp_receiver_t *r = clientd;
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.endpoint = ep;
    msg.setup = *setup;
    msg.address = *control;
    msg.source = *source;
    /* A full queue drops it: the sender repeats SETUP until it hears us. */
    if (!shoal_udp_command_queue_offer(r->to_conductor, SHOAL_UDP_MSG_SETUP, &msg))
    {
        shoal_err_clear();
    }
}

int shoal_udp_receiver_do_work(shoal_udp_receiver_t *r, int64_t now_ns)
{
    int work = shoal_udp_receiver_do_commands(r);
    for (int32_t i = 0; i < r->endpoints_count; i++)
    {
        for (int b = 0; b < SHOAL_UDP_RECEIVE_BATCHES_PER_CYCLE; b++)
        {
            int n = shoal_receive_channel_endpoint_poll(r->endpoints[i], &r->data_batch, now_ns);
            work += n;
            if (n < SHOAL_UDP_BATCH)
            {
                break;
            }
        }
    }
    for (int32_t i = 0; i < r->images_count; i++)
    {
        work += shoal_publication_image_do_work(r->images[i], now_ns);
    }
    if (now_ns - r->time_of_last_idle_ns >= SHOAL_UDP_IDLE_INTERVAL_NS)
    {
        r->time_of_last_idle_ns = now_ns;
        for (int32_t i = 0; i < r->endpoints_count; i++)
        {
            work += shoal_receive_channel_endpoint_on_idle(r->endpoints[i], now_ns);
        }
    }
    return work;
}
