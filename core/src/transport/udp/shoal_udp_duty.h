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

typedef struct shoal_udp_duty_stct
{
    shoal_udp_command_queue_t commands;      /* from the conductor */
    shoal_udp_command_queue_t *to_conductor; /* RELEASED, SETUP, RESULT, ERROR */
    shoal_udp_recv_batch_t batch;
    int64_t time_of_last_idle_ns;
} shoal_udp_duty_t;

/* slot_length: the largest datagram the duty reads. */
int shoal_udp_duty_init(shoal_udp_duty_t *d, shoal_udp_command_queue_t *to_conductor, size_t slot_length);
void shoal_udp_duty_close(shoal_udp_duty_t *d);

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
