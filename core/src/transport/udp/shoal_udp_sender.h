/*
 * The sender duty of the driver: owns its lists of send endpoints and
 * network publications and its control-frame buffers (allocated once);
 * do_work is one duty cycle. In shared threading mode the conductor calls it
 * after its own work on the same thread; in dedicated mode it runs on its
 * own thread.
 *
 * The lists are its alone: the conductor changes them only through the
 * command queue (shoal_udp_commands.h), drained at the start of each cycle,
 * and frees an object only after the sender released it.
 *
 * A cycle: control frames from every send endpoint first (status messages
 * open windows, NAKs ask for resends), then each publication sends, round
 * robin so none starves; every millisecond the endpoints drop silent MDC
 * destinations.
 */
#ifndef SHOAL_UDP_SENDER_H
#define SHOAL_UDP_SENDER_H

#include <stdint.h>

#include "transport/udp/shoal_network_publication.h"
#include "transport/udp/shoal_send_channel_endpoint.h"
#include "transport/udp/shoal_udp_duty.h"
#include "util/shoal_array.h"

typedef struct shoal_udp_sender_stct
{
    SHOAL_POINTER_LIST(shoal_network_publication_t *, publications);
    SHOAL_POINTER_LIST(shoal_send_channel_endpoint_t *, endpoints);
    shoal_udp_duty_t duty;
    uint32_t round_robin;
} shoal_udp_sender_t;

int shoal_udp_sender_init(shoal_udp_sender_t *s, shoal_udp_command_queue_t *to_conductor);
void shoal_udp_sender_close(shoal_udp_sender_t *s);
int shoal_udp_sender_do_work(shoal_udp_sender_t *s, int64_t now_ns);
/* A send endpoint's on_response_setup (clientd: the sender): passed on to
 * the conductor as SHOAL_UDP_MSG_RESPONSE_SETUP. */
void shoal_udp_sender_on_response_setup(void *clientd, int64_t response_correlation_id, int32_t response_session_id);

#endif
