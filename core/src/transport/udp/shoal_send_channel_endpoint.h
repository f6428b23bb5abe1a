/*
 * Send side of a UDP channel: the socket publications send from, the
 * destinations they send to, and the dispatch of control frames (status
 * messages, NAKs, RTT measurements) that come back, by session and stream.
 * Publications on the same channel (same canonical endpoint/control/
 * interface) share one endpoint.
 *
 * Destinations:
 *  - unicast: the endpoint address;
 *  - multicast: the group; control frames arrive on group + 1;
 *  - MDC dynamic (control=host:port|control-mode=dynamic): the socket binds
 *    the control address; every receiver that sends an SM there becomes a
 *    destination, and is dropped after the receiver timeout without SMs;
 *  - MDC manual (control-mode=manual): destinations added and removed by
 *    the application (shoal_publication_add_destination). Destinations
 *    belong to the endpoint, so publications sharing the channel share
 *    them. A removed destination's receiver leaves flow control at once,
 *    and its status messages (its image keeps sending them until its
 *    liveness timeout) are ignored while they keep coming: with fc=min it
 *    would otherwise hold every other receiver back.
 *  - response (control=host:port|control-mode=response): the socket binds
 *    the control address, shared by the response publications of every
 *    requester; each publication sends to the one address whose status
 *    message with the SETUP flag named its session (its requester's
 *    response subscription), nowhere before. Status messages must name
 *    the session exactly (no session-0 wildcard here).
 *  - RSP_SETUP frames (a responder's image naming the response session)
 *    are handed, for a publication with response-correlation-id, to
 *    on_response_setup (the sender passes them to the conductor).
 *
 * Thread ownership: the sender duty uses it (send, poll, destinations,
 * publications: the conductor asks through the sender's command queue); the
 * conductor creates it and deletes it once the sender released it.
 */
#ifndef SHOAL_SEND_CHANNEL_ENDPOINT_H
#define SHOAL_SEND_CHANNEL_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/udp/shoal_network_publication.h"
#include "transport/udp/shoal_udp_endpoint.h"

#define SHOAL_MDC_MAX_DESTINATIONS 64

/* response_correlation_id: the publication's (its requester's response
 * subscription); response_session_id: what the RSP_SETUP named. */
typedef void (*shoal_on_response_setup_fn)(void *clientd, int64_t response_correlation_id, int32_t response_session_id);

typedef struct shoal_udp_destination_stct
{
    struct sockaddr_storage address;
    int64_t receiver_id;     /* from its status messages; 0 until one came */
    int64_t registration_id; /* manual destinations: the add_destination correlation id */
    int64_t time_of_last_activity_ns;
    bool manual;
} shoal_udp_destination_t;

struct shoal_send_channel_endpoint_stct
{
    shoal_udp_endpoint_t udp; /* first; ref_count: publications using it */
    shoal_control_mode_t control_mode;
    int64_t destination_timeout_ns;
    int32_t destination_count;
    shoal_udp_destination_t destinations[SHOAL_MDC_MAX_DESTINATIONS];
    /* Removed manual destinations whose SMs are still ignored (see above);
     * an entry expires after destination_timeout_ns without an SM. */
    int32_t removed_count;
    shoal_udp_destination_t removed[SHOAL_MDC_MAX_DESTINATIONS];
    shoal_network_publication_t **publications;
    int32_t publication_count;
    int32_t publication_capacity;
    struct mmsghdr *msgs; /* SHOAL_UDP_BATCH * SHOAL_MDC_MAX_DESTINATIONS */
    shoal_on_response_setup_fn on_response_setup;
    void *on_response_setup_clientd;
};

typedef struct shoal_send_channel_endpoint_params_stct
{
    shoal_udp_endpoint_params_t udp;
    int64_t destination_timeout_ns;
    shoal_on_response_setup_fn on_response_setup; /* NULL: RSP_SETUP frames are dropped */
    void *on_response_setup_clientd;
} shoal_send_channel_endpoint_params_t;

int shoal_send_channel_endpoint_create(shoal_send_channel_endpoint_t **ep,
    const shoal_send_channel_endpoint_params_t *params);
void shoal_send_channel_endpoint_delete(shoal_send_channel_endpoint_t *ep);

int shoal_send_channel_endpoint_add_publication(shoal_send_channel_endpoint_t *ep, shoal_network_publication_t *pub);
void shoal_send_channel_endpoint_remove_publication(shoal_send_channel_endpoint_t *ep,
    shoal_network_publication_t *pub);

/* Manual MDC destinations: -1 with SHOAL_EINVAL naming the address when it
 * is already there (add) or not there (remove), SHOAL_ENOMEM when full.
 * Sender duty only (SHOAL_UDP_CMD_ADD/REMOVE_DESTINATION). */
int shoal_send_channel_endpoint_add_destination(shoal_send_channel_endpoint_t *ep,
    const struct sockaddr_storage *address, int64_t registration_id, int64_t now_ns);
int shoal_send_channel_endpoint_remove_destination(shoal_send_channel_endpoint_t *ep,
    const struct sockaddr_storage *address, int64_t now_ns);

/* Sends each datagram to every destination. Returns how many datagrams went
 * out to all of them (the rest are for the next attempt). */
int shoal_send_channel_endpoint_send(shoal_send_channel_endpoint_t *ep, const struct iovec *datagrams, int count);
/* Sends each datagram to one address (a response publication's
 * requester); returns datagrams sent. */
int shoal_send_channel_endpoint_send_batch_to(shoal_send_channel_endpoint_t *ep, const struct iovec *datagrams,
    int count, const struct sockaddr_storage *to);
/* Resends for a NAK from requester: MDC sends them to the requester only
 * (the other receivers have the data or ask themselves), multicast and
 * unicast as shoal_send_channel_endpoint_send. Returns datagrams sent. */
int shoal_send_channel_endpoint_resend(shoal_send_channel_endpoint_t *ep, const struct iovec *datagrams, int count,
    const struct sockaddr_storage *requester);
/* One datagram to every destination (setup, heartbeat); true if sent. */
bool shoal_send_channel_endpoint_send_all(shoal_send_channel_endpoint_t *ep, const void *buf, size_t length);
ssize_t shoal_send_channel_endpoint_send_to(shoal_send_channel_endpoint_t *ep, const void *buf, size_t length,
    const struct sockaddr_storage *to);

/* Reads control frames and dispatches them; returns datagrams handled. */
int shoal_send_channel_endpoint_poll(shoal_send_channel_endpoint_t *ep, shoal_udp_recv_batch_t *batch, int64_t now_ns);
/* Drops dynamic destinations silent for the destination timeout. */
int shoal_send_channel_endpoint_on_idle(shoal_send_channel_endpoint_t *ep, int64_t now_ns);

#endif
