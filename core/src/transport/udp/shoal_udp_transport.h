/*
 * Non-blocking UDP sockets for the driver, with batched I/O (recvmmsg /
 * sendmmsg) and the test loss generators.
 *
 * A transport has a send socket and a receive socket. For unicast they are
 * the same socket; for multicast they differ, as in Aeron: the receive side
 * binds the group port and joins the group, the send side binds the
 * interface and sets IP_MULTICAST_IF / TTL.
 *
 * Thread ownership: a transport is used by one thread (the sender's or the
 * receiver's duty); only open/close run on the conductor.
 */
#ifndef SHOAL_UDP_TRANSPORT_H
#define SHOAL_UDP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "transport/udp/shoal_loss_generator.h"
#include "transport/udp/shoal_udp_channel.h"

/* Datagrams read or written per system call. */
#define SHOAL_UDP_BATCH 16
/* Largest datagram we accept: the largest mtu. */
#define SHOAL_UDP_MAX_DATAGRAM 65536

/* Counters of one endpoint (per-endpoint block in the CnC, see the driver). */
typedef enum shoal_udp_counter_en
{
    SHOAL_UDP_COUNTER_BYTES_SENT = 0,
    SHOAL_UDP_COUNTER_BYTES_RECEIVED,
    SHOAL_UDP_COUNTER_FRAMES_SENT,
    SHOAL_UDP_COUNTER_FRAMES_RECEIVED,
    SHOAL_UDP_COUNTER_NAKS_SENT,
    SHOAL_UDP_COUNTER_NAKS_RECEIVED,
    SHOAL_UDP_COUNTER_RETRANSMITS_SENT,
    SHOAL_UDP_COUNTER_SMS_SENT,
    SHOAL_UDP_COUNTER_SMS_RECEIVED,
    SHOAL_UDP_COUNTER_SHORT_SENDS,
    SHOAL_UDP_COUNTER_INVALID_FRAMES,
    SHOAL_UDP_COUNTER_HEARTBEATS_SENT,
    SHOAL_UDP_COUNTER_NAKS_UNSERVED,
    /* Hostile or confused peers (receiver side): */
    SHOAL_UDP_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT, /* images per endpoint or in total at their limit */
    SHOAL_UDP_COUNTER_SETUPS_REFUSED_TERM_LENGTH, /* term length above MAX_SETUP_TERM_LENGTH */
    SHOAL_UDP_COUNTER_FRAMES_FROM_WRONG_SOURCE,   /* an image's session from another address */
    /* (sender side): */
    SHOAL_UDP_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS, /* no status message came from that address */
    SHOAL_UDP_COUNTER_NAKS_OVER_BUDGET,            /* retransmit budget spent for the interval */
    SHOAL_UDP_COUNTER_SM_WINDOWS_CLAMPED,          /* window beyond half a term */
    SHOAL_UDP_COUNTER_COUNT
} shoal_udp_counter_t;

const char *shoal_udp_counter_name(int which);
/* The SHOAL_SYSTEM_COUNTER_* an endpoint counter also adds to; -1: none. */
int32_t shoal_udp_counter_system_counter(int which);

/* Per-endpoint counter addresses plus the matching system counters (either
 * may be NULL). Updated by the one thread that owns the endpoint; system
 * counters are shared between sender and receiver threads, so they are
 * updated with an atomic add, once per batch. */
typedef struct shoal_udp_counters_stct
{
    int64_t *endpoint[SHOAL_UDP_COUNTER_COUNT];
    int64_t *system[SHOAL_UDP_COUNTER_COUNT];
} shoal_udp_counters_t;

void shoal_udp_counters_add(shoal_udp_counters_t *c, int which, int64_t delta);

typedef struct shoal_udp_transport_stct
{
    int send_fd;
    int recv_fd;                        /* == send_fd for unicast */
    struct sockaddr_storage local;      /* bound address of send_fd */
    struct sockaddr_storage recv_local; /* bound address of recv_fd */
    shoal_loss_generator_t send_loss;
    shoal_loss_generator_t recv_loss;
    shoal_udp_counters_t *counters;
} shoal_udp_transport_t;

typedef struct shoal_udp_transport_params_stct
{
    /* Where recv_fd binds (NULL: ephemeral on the interface / any). */
    const struct sockaddr_storage *bind_address;
    /* Multicast group recv_fd joins (NULL: none); makes send_fd separate. */
    const struct sockaddr_storage *join_group;
    const shoal_udp_channel_t *channel; /* interface, ttl */
    bool reuse_address;
    uint32_t rcvbuf;
    uint32_t sndbuf;
    double send_loss_rate;
    double recv_loss_rate;
    uint64_t loss_seed;
} shoal_udp_transport_params_t;

int shoal_udp_transport_open(shoal_udp_transport_t *t, const shoal_udp_transport_params_t *params,
    shoal_udp_counters_t *counters);
void shoal_udp_transport_close(shoal_udp_transport_t *t);

/* Receive buffers for one thread, allocated once. */
typedef struct shoal_udp_recv_batch_stct
{
    struct mmsghdr msgs[SHOAL_UDP_BATCH];
    struct iovec iov[SHOAL_UDP_BATCH];
    struct sockaddr_storage addrs[SHOAL_UDP_BATCH];
    uint8_t *buffers; /* SHOAL_UDP_BATCH * slot_length, 64-aligned */
    size_t slot_length;
} shoal_udp_recv_batch_t;

int shoal_udp_recv_batch_init(shoal_udp_recv_batch_t *b, size_t slot_length);
void shoal_udp_recv_batch_close(shoal_udp_recv_batch_t *b);

/* Reads up to SHOAL_UDP_BATCH datagrams from recv_fd. Returns the count
 * (0 when nothing is waiting). Datagrams the loss generator drops have
 * msgs[i].msg_len set to 0 and are counted as received. Truncated ones
 * (MSG_TRUNC) are also reported with msg_len 0 and counted invalid. */
int shoal_udp_transport_recv(shoal_udp_transport_t *t, shoal_udp_recv_batch_t *b);

/* Sends msgs[0..count) (each with msg_name set) from send_fd. Returns how
 * many the kernel took (datagrams the loss generator ate count as sent);
 * fewer than count is a short send (counted). */
int shoal_udp_transport_sendmmsg(shoal_udp_transport_t *t, struct mmsghdr *msgs, int count);

/* One datagram; returns bytes sent (length also for a lost one), 0 when the
 * socket is full (short send), -1 on a hard error (counted as short send). */
ssize_t shoal_udp_transport_sendto(shoal_udp_transport_t *t, const void *buf, size_t length,
    const struct sockaddr_storage *to);

#endif
