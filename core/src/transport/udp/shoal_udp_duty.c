#include "transport/udp/shoal_udp_duty.h"

#include <string.h>

int shoal_udp_duty_init(shoal_udp_duty_t *d, shoal_udp_command_queue_t *to_conductor, size_t slot_length)
{
    memset(d, 0, sizeof(*d));
    d->to_conductor = to_conductor;
    if (shoal_udp_command_queue_init(&d->commands, SHOAL_UDP_COMMAND_QUEUE_CAPACITY) < 0)
    {
        return -1;
    }
    return shoal_udp_recv_batch_init(&d->batch, slot_length);
}

void shoal_udp_duty_close(shoal_udp_duty_t *d)
{
    shoal_udp_recv_batch_close(&d->batch);
    shoal_udp_command_queue_close(&d->commands);
}
