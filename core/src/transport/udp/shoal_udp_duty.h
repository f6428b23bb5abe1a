/*
 * What the sender and receiver duties both hold: their command queue from
 * the conductor, the conductor's queue they answer on
 * (shoal_udp_commands.h), their datagram buffers (allocated once) and the
 * timer of their endpoints' housekeeping. Each duty embeds it as `duty`.
 */
#ifndef SHOAL_UDP_DUTY_H
#define SHOAL_UDP_DUTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/udp/shoal_udp_commands.h"
#include "transport/udp/shoal_udp_transport.h"
#include "util/shoal_array.h"

typedef struct shoal_udp_duty_stct
{
    shoal_udp_command_queue_t commands;      /* from the conductor */
    shoal_udp_command_queue_t *to_conductor; /* RELEASED, SETUP, RESULT, ERROR */
    shoal_udp_command_handler_t on_command;  /* the owning duty's */
    void *owner;
    shoal_udp_recv_batch_t batch;
    int64_t time_of_last_idle_ns;
} shoal_udp_duty_t;

/* slot_length: the largest datagram the duty reads; on_command(owner) runs
 * each command the conductor sends. */
int shoal_udp_duty_init(shoal_udp_duty_t *d, shoal_udp_command_queue_t *to_conductor, size_t slot_length,
    shoal_udp_command_handler_t on_command, void *owner);
/* Frees the duty's queue and buffers, and the duty's two object lists. */
void shoal_udp_duty_close(shoal_udp_duty_t *d, void *list_a, void *list_b);

/* Runs queued commands (up to SHOAL_UDP_COMMANDS_PER_CYCLE): the start of
 * each duty cycle, and what the conductor calls in shared mode when the
 * queue is full. */
int shoal_udp_duty_do_commands(shoal_udp_duty_t *d);

/* Shared threading mode: the conductor, the queue's only producer, runs the
 * duty on its own thread, so a full queue is drained in place. */
void shoal_udp_duty_set_shared(shoal_udp_duty_t *d, bool shared);

/* The outcome of a command's add step: a failure (rc < 0) goes back to the
 * conductor, naming the duty, so the request that caused it fails. */
static inline void shoal_udp_duty_check_added(shoal_udp_duty_t *d, int rc, const char *who)
{
    if (rc < 0)
    {
        shoal_udp_command_queue_post_outcome(d->to_conductor, -1, -1, who);
    }
}

/* Adds object to the list `name` of duty owner o; a failure goes back to
 * the conductor (shoal_udp_duty_check_added). */
#define SHOAL_UDP_DUTY_TRACK(o, name, object, who)                                                                     \
    shoal_udp_duty_check_added(&(o)->duty, SHOAL_POINTER_LIST_ADD(o, name, object), who)

/* Drops object from the list `name` of duty owner o and hands it back to the
 * conductor, which may free it once it reads this. */
#define SHOAL_UDP_DUTY_RELEASE(o, name, type, object)                                                                  \
    do                                                                                                                 \
    {                                                                                                                  \
        SHOAL_POINTER_LIST_REMOVE(o, name, object);                                                                    \
        shoal_udp_command_queue_post_released((o)->duty.to_conductor, type, object);                                   \
    }                                                                                                                  \
    while (0)

/* Whether the endpoints' housekeeping is due (every SHOAL_UDP_IDLE_INTERVAL_NS);
 * if so the next interval starts now. */
static inline bool shoal_udp_duty_idle_due(shoal_udp_duty_t *d, int64_t now_ns)
{
    if (now_ns - d->time_of_last_idle_ns < SHOAL_UDP_IDLE_INTERVAL_NS)
    {
        return false;
    }
    d->time_of_last_idle_ns = now_ns;
    return true;
}

#endif
