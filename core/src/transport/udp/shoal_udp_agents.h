/*
 * The sender and receiver duties of the driver. Each owns its list of
 * objects and its I/O buffers (allocated once); do_work is one duty cycle.
 * In shared threading mode the conductor calls both after its own work on
 * the same thread; in dedicated mode each runs on its own thread.
 *
 * The lists are theirs alone: the conductor changes them only through the
 * command queues (shoal_udp_commands.h), which each duty drains at the start
 * of its cycle, and frees an object only after the duty released it.
 *
 *  sender:   control frames from every send endpoint first (status messages
 *            open windows, NAKs ask for resends), then each publication
 *            sends, round robin so none starves; every millisecond the
 *            endpoints drop silent MDC destinations.
 *  receiver: datagrams from every receive endpoint (up to a few batches
 *            each per cycle), then each image's rebuild/SM/NAK work; every
 *            millisecond the endpoints' housekeeping.
 */
#ifndef SHOAL_UDP_AGENTS_H
#define SHOAL_UDP_AGENTS_H

#include <stdint.h>

#include "transport/udp/shoal_network_publication.h"
#include "transport/udp/shoal_publication_image.h"
#include "transport/udp/shoal_receive_channel_endpoint.h"
#include "transport/udp/shoal_send_channel_endpoint.h"
#include "transport/udp/shoal_udp_commands.h"
#include "transport/udp/shoal_udp_transport.h"

#define SHOAL_UDP_AGENT_LIST(type, name) \
    type *name;                          \
    int32_t name##_count;                \
    int32_t name##_capacity

typedef struct shoal_udp_sender_stct
{
    SHOAL_UDP_AGENT_LIST(shoal_network_publication_t *, publications);
    SHOAL_UDP_AGENT_LIST(shoal_send_channel_endpoint_t *, endpoints);
    shoal_udp_recv_batch_t control_batch;
    shoal_udp_command_queue_t commands;
    shoal_udp_command_queue_t *to_conductor;
    uint32_t round_robin;
    int64_t time_of_last_idle_ns;
} shoal_udp_sender_t;

typedef struct shoal_udp_receiver_stct
{
    SHOAL_UDP_AGENT_LIST(shoal_receive_channel_endpoint_t *, endpoints);
    SHOAL_UDP_AGENT_LIST(shoal_publication_image_t *, images);
    shoal_udp_recv_batch_t data_batch;
    shoal_udp_command_queue_t commands;
    shoal_udp_command_queue_t *to_conductor;
    int64_t time_of_last_idle_ns;
} shoal_udp_receiver_t;

/* Command queue sizes: records are under 1 KiB, a busy cycle posts tens. */
#define SHOAL_UDP_COMMAND_QUEUE_CAPACITY (256 * 1024)
#define SHOAL_UDP_CONDUCTOR_QUEUE_CAPACITY (1024 * 1024)

int shoal_udp_sender_init(shoal_udp_sender_t *s, shoal_udp_command_queue_t *to_conductor);
void shoal_udp_sender_close(shoal_udp_sender_t *s);
/* Runs queued commands; shoal_udp_sender_do_work does it first. */
int shoal_udp_sender_do_commands(shoal_udp_sender_t *s);
int shoal_udp_sender_do_work(shoal_udp_sender_t *s, int64_t now_ns);

int shoal_udp_receiver_init(shoal_udp_receiver_t *r, shoal_udp_command_queue_t *to_conductor);
void shoal_udp_receiver_close(shoal_udp_receiver_t *r);
int shoal_udp_receiver_do_commands(shoal_udp_receiver_t *r);
int shoal_udp_receiver_do_work(shoal_udp_receiver_t *r, int64_t now_ns);
/* The receive endpoints' on_setup callback (clientd: the receiver): tells
 * the conductor, which builds the image. */
void shoal_udp_receiver_on_setup(void *clientd, shoal_receive_channel_endpoint_t *ep,
    const shoal_setup_header_t *setup, const struct sockaddr_storage *control, const struct sockaddr_storage *source,
    int64_t now_ns);

#endif
