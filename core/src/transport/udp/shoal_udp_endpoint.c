#include "transport/udp/shoal_udp_endpoint.h"

#include <string.h>

void shoal_udp_endpoint_init(shoal_udp_endpoint_t *e, const shoal_udp_channel_t *channel)
{
    memset(e, 0, sizeof(*e));
    e->channel = *channel;
    for (int i = 0; i < SHOAL_UDP_COUNTER_COUNT; i++)
    {
        e->counter_ids[i] = -1;
    }
}

int shoal_udp_endpoint_open(shoal_udp_endpoint_t *e, const shoal_udp_endpoint_params_t *p,
    shoal_udp_transport_params_t *tp)
{
    tp->channel = &e->channel;
    tp->rcvbuf = p->rcvbuf;
    tp->sndbuf = p->sndbuf;
    tp->send_loss_rate = p->send_loss_rate;
    tp->recv_loss_rate = p->recv_loss_rate;
    tp->loss_seed = p->loss_seed;
    return shoal_udp_transport_open(&e->transport, tp, &e->counters);
}

void shoal_udp_endpoint_close(shoal_udp_endpoint_t *e)
{
    shoal_udp_transport_close(&e->transport);
}
