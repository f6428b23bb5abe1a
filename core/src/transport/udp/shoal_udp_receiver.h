/*
 * The receiver duty of the driver: owns its lists of receive endpoints and
 * images and its datagram buffers (allocated once); do_work is one duty
 * cycle, on the conductor's thread (shared threading mode) or its own
 * (dedicated). The lists change only through its command queue
 * (shoal_udp_commands.h), and the conductor frees an object only after the
 * receiver released it.
 *
 * A cycle: datagrams from every receive endpoint (up to a few batches each),
 * then each image's rebuild / status message / loss work; every millisecond
 * the endpoints' housekeeping. A SETUP for a wanted stream goes to the
 * conductor, which builds the image and hands it back by command.
 */
#ifndef SHOAL_UDP_RECEIVER_H
#define SHOAL_UDP_RECEIVER_H

#include <stdint.h>

#include "transport/udp/shoal_publication_image.h"
#include "transport/udp/shoal_receive_channel_endpoint.h"
#include "transport/udp/shoal_udp_duty.h"
#include "util/shoal_array.h"

typedef struct shoal_udp_receiver_stct
{
    shoal_udp_duty_t duty;
    SHOAL_POINTER_LIST(shoal_receive_channel_endpoint_t *, endpoints); /* polled in turn, a few batches each */
    SHOAL_POINTER_LIST(shoal_publication_image_t *, images);
} shoal_udp_receiver_t;

int shoal_udp_receiver_init(shoal_udp_receiver_t *r, shoal_udp_command_queue_t *to_conductor);
void shoal_udp_receiver_close(shoal_udp_receiver_t *r);
int shoal_udp_receiver_do_work(shoal_udp_receiver_t *r, int64_t now_ns);
/* The receive endpoints' on_setup callback (clientd: the receiver): tells
 * the conductor, which builds the image. */
void shoal_udp_receiver_on_setup(void *clientd, shoal_receive_channel_endpoint_t *ep, const shoal_setup_header_t *setup,
    const struct sockaddr_storage *control, const struct sockaddr_storage *source, int64_t now_ns);

#endif
