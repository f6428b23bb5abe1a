/* The sender/receiver proxy, conductor side: sets up the sender and
 * receiver duties and their command queues (shoal_udp_commands.h), asks
 * them to add and drop objects, and, in shared threading mode, runs their
 * cycles inside the conductor's. The conductor never touches what the
 * duties iterate; their answers (RELEASED, SETUP, RESULT, ERROR) are
 * handled in shoal_driver_conductor.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/shoal_driver_conductor.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_random.h"

void shoal_driver_udp_proxy_set_stop_flag(shoal_driver_conductor_t *c, volatile int *stop)
{
    c->to_conductor.stop = stop;
    c->sender->duty.commands.stop = stop;
    c->receiver->duty.commands.stop = stop;
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

/* A command about object on endpoint (only its text is left unset: not queued). */
static void command_init(shoal_udp_command_t *cmd, void *object, void *endpoint)
{
    memset(cmd, 0, offsetof(shoal_udp_command_t, message));
    cmd->object = object;
    cmd->endpoint = endpoint;
}

void shoal_driver_ask_sender(shoal_driver_conductor_t *c, int32_t type, void *object, void *endpoint)
{
    shoal_udp_command_t cmd;
    command_init(&cmd, object, endpoint);
    ask(c, &c->sender->duty.commands, type, &cmd);
}

int shoal_driver_ask_sender_destination(shoal_driver_conductor_t *c, bool add, void *endpoint, int64_t correlation_id,
    const struct sockaddr_storage *address)
{
    shoal_udp_command_t cmd;
    command_init(&cmd, NULL, endpoint);
    cmd.correlation_id = correlation_id;
    cmd.registration_id = correlation_id;
    cmd.address = *address;
    return shoal_udp_command_queue_post(&c->sender->duty.commands,
        add ? SHOAL_UDP_CMD_ADD_DESTINATION : SHOAL_UDP_CMD_REMOVE_DESTINATION, &cmd);
}

void shoal_driver_ask_receiver(shoal_driver_conductor_t *c, int32_t type, void *object, void *endpoint,
    int32_t stream_id, int64_t cooldown_ns)
{
    shoal_udp_command_t cmd;
    command_init(&cmd, object, endpoint);
    cmd.stream_id = stream_id;
    cmd.cooldown_ns = cooldown_ns;
    ask(c, &c->receiver->duty.commands, type, &cmd);
}

void shoal_driver_ask_receiver_stream(shoal_driver_conductor_t *c, bool add, void *endpoint,
    const shoal_subscription_link_t *link)
{
    shoal_udp_command_t cmd;
    command_init(&cmd, NULL, endpoint);
    cmd.stream_id = link->stream_id;
    /* Only a response subscription's interest is per session: a session-id
     * in a plain subscription's URI filters images in the conductor. */
    cmd.has_session_id = link->is_response;
    cmd.session_id = link->session_id;
    ask(c, &c->receiver->duty.commands, add ? SHOAL_UDP_CMD_ADD_STREAM : SHOAL_UDP_CMD_REMOVE_STREAM, &cmd);
}

int shoal_driver_udp_proxy_init(shoal_driver_conductor_t *c, shoal_udp_drain_fn_t drain_agent_messages)
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
    c->to_conductor.drain_in_place = drain_agent_messages;
    c->to_conductor.drain_clientd = c;
    shoal_udp_duty_set_shared(&c->sender->duty, shared);
    shoal_udp_duty_set_shared(&c->receiver->duty, shared);
    /* Identifies this driver's receivers in status messages (flow control
     * tells receivers apart by it). */
    shoal_driver_note_random_fallback(c, shoal_random_fill(&c->receiver_id, sizeof(c->receiver_id)) < 0);
    c->next_loss_seed = c->ctx->loss_seed ? c->ctx->loss_seed : (uint64_t)shoal_nano_time();
    return 0;
}

void shoal_driver_udp_proxy_close(shoal_driver_conductor_t *c)
{
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

/* Shared mode: the sender's and receiver's duties inside the conductor's
 * cycle, each timed on its own so both modes fill the same counters. */
int shoal_driver_udp_proxy_do_work(shoal_driver_conductor_t *c)
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
