/*
 * What send and receive channel endpoints share, embedded first in both
 * (as `udp`): the channel, its socket(s), the per-endpoint counters, and
 * the conductor's bookkeeping (links holding it, its removal in flight).
 * The conductor finds, revives, releases and frees either kind through this
 * head (driver/shoal_driver_udp_endpoints.c).
 */
#ifndef SHOAL_UDP_ENDPOINT_H
#define SHOAL_UDP_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/udp/shoal_udp_channel.h"
#include "transport/udp/shoal_udp_transport.h"

typedef struct shoal_udp_endpoint_stct
{
    shoal_udp_channel_t channel;
    shoal_udp_transport_t transport;
    shoal_udp_counters_t counters;
    int32_t counter_ids[SHOAL_UDP_COUNTER_COUNT]; /* -1: none */
    int32_t ref_count;                            /* conductor: links using it */
    bool closing;                                 /* conductor: removal asked of its duty */
    int32_t pending_releases;                     /* conductor: removals not yet released */
} shoal_udp_endpoint_t;

/* The socket settings every endpoint takes from the driver's context. */
typedef struct shoal_udp_endpoint_params_stct
{
    const shoal_udp_channel_t *channel;
    uint32_t rcvbuf;
    uint32_t sndbuf;
    double send_loss_rate;
    double recv_loss_rate;
    uint64_t loss_seed;
} shoal_udp_endpoint_params_t;

/* Copies the channel and marks the counters absent; opens nothing. */
void shoal_udp_endpoint_init(shoal_udp_endpoint_t *e, const shoal_udp_channel_t *channel);

/* Opens the socket(s) with tp's addresses (pointing into e->channel) and
 * params' buffer sizes and loss rates. */
int shoal_udp_endpoint_open(shoal_udp_endpoint_t *e, const shoal_udp_endpoint_params_t *params,
    shoal_udp_transport_params_t *tp);

void shoal_udp_endpoint_close(shoal_udp_endpoint_t *e);

/* A datagram of an endpoint's socket, to the endpoint's own dispatch. */
typedef void (*shoal_udp_datagram_handler_t)(void *endpoint, const uint8_t *buf, size_t length,
    const struct sockaddr_storage *from, int64_t now_ns);

/* Reads a batch and hands each non-empty datagram to dispatch. Inline: the
 * callers pass their own static dispatch, so the call is direct. Returns
 * the datagrams read. */
static inline int shoal_udp_endpoint_poll(shoal_udp_endpoint_t *e, void *endpoint, shoal_udp_recv_batch_t *batch,
    shoal_udp_datagram_handler_t dispatch, int64_t now_ns)
{
    int n = shoal_udp_transport_recv(&e->transport, batch);
    for (int i = 0; i < n; i++)
    {
        if (batch->msgs[i].msg_len > 0)
        {
            dispatch(endpoint, batch->iov[i].iov_base, batch->msgs[i].msg_len, &batch->addrs[i], now_ns);
        }
    }
    return n;
}

#endif
