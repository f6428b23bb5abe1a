/*
 * The sender and receiver duties of the driver. Each owns its list of
 * objects and its I/O buffers (allocated once); do_work is one duty cycle.
 * In shared threading mode the conductor calls both after its own work on
 * the same thread; in dedicated mode each runs on its own thread.
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
    uint32_t round_robin;
    int64_t time_of_last_idle_ns;
} shoal_udp_sender_t;

typedef struct shoal_udp_receiver_stct
{
    SHOAL_UDP_AGENT_LIST(shoal_receive_channel_endpoint_t *, endpoints);
    SHOAL_UDP_AGENT_LIST(shoal_publication_image_t *, images);
    shoal_udp_recv_batch_t data_batch;
    int64_t time_of_last_idle_ns;
} shoal_udp_receiver_t;

int shoal_udp_sender_init(shoal_udp_sender_t *s);
void shoal_udp_sender_close(shoal_udp_sender_t *s);
int shoal_udp_sender_add_publication(shoal_udp_sender_t *s, shoal_network_publication_t *pub);
void shoal_udp_sender_remove_publication(shoal_udp_sender_t *s, shoal_network_publication_t *pub);
int shoal_udp_sender_add_endpoint(shoal_udp_sender_t *s, shoal_send_channel_endpoint_t *ep);
void shoal_udp_sender_remove_endpoint(shoal_udp_sender_t *s, shoal_send_channel_endpoint_t *ep);
int shoal_udp_sender_do_work(shoal_udp_sender_t *s, int64_t now_ns);

int shoal_udp_receiver_init(shoal_udp_receiver_t *r);
void shoal_udp_receiver_close(shoal_udp_receiver_t *r);
int shoal_udp_receiver_add_endpoint(shoal_udp_receiver_t *r, shoal_receive_channel_endpoint_t *ep);
void shoal_udp_receiver_remove_endpoint(shoal_udp_receiver_t *r, shoal_receive_channel_endpoint_t *ep);
int shoal_udp_receiver_add_image(shoal_udp_receiver_t *r, shoal_publication_image_t *image);
void shoal_udp_receiver_remove_image(shoal_udp_receiver_t *r, shoal_publication_image_t *image);
int shoal_udp_receiver_do_work(shoal_udp_receiver_t *r, int64_t now_ns);

#endif
