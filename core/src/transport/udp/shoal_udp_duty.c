#include "transport/udp/shoal_udp_duty.h"

#include <stdlib.h>
#include <string.h>

int shoal_udp_duty_init(shoal_udp_duty_t *d, shoal_udp_command_queue_t *to_conductor, size_t slot_length,
    shoal_udp_command_handler_t on_command, void *owner)
{
    memset(d, 0, sizeof(*d));
    d->to_conductor = to_conductor;
    d->on_command = on_command;
    d->owner = owner;
    if (shoal_udp_command_queue_init(&d->commands, SHOAL_UDP_COMMAND_QUEUE_CAPACITY) < 0)
    {
        return -1;
    }
    return shoal_udp_recv_batch_init(&d->batch, slot_length);
}

void shoal_udp_duty_close(shoal_udp_duty_t *d, void *list_a, void *list_b)
{
    shoal_udp_recv_batch_close(&d->batch);
    shoal_udp_command_queue_close(&d->commands);
    free(list_a);
    free(list_b);
}

int shoal_udp_duty_do_commands(shoal_udp_duty_t *d)
{
    return shoal_udp_command_queue_drain(&d->commands, d->on_command, d->owner, SHOAL_UDP_COMMANDS_PER_CYCLE);
}

static void drain_in_place(void *duty)
{
    shoal_udp_duty_do_commands(duty);
}

void shoal_udp_duty_set_shared(shoal_udp_duty_t *d, bool shared)
{
    d->commands.shared = shared;
    d->commands.drain_in_place = drain_in_place;
    d->commands.drain_clientd = d;
}
