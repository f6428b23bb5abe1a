/*
 * Receive side of a UDP channel: the socket bound to the channel's endpoint
 * (joined to the group for multicast), the streams local subscriptions want
 * on it, and the images of the publications heard on it. Datagrams are
 * validated (shoal_udp_frames.h) and dispatched by session and stream:
 *
 *   DATA/PAD  -> the image's insert; for a wanted stream without an image,
 *                a status message with the SETUP flag asks the sender for a
 *                SETUP (rate limited per session);
 *   SETUP     -> a new image (through the on_setup callback: the conductor
 *                allocates logs and counters) or, for a known image, a
 *                prompt status message (the sender has not heard us yet);
 *   RTTM      -> the image (replies to our measurement requests).
 * Anything malformed is dropped and counted in INVALID_FRAMES.
 *
 * Defences against datagrams from anyone who can reach the port: an image
 * is bound to the address its SETUP came from (the sender's one socket, for
 * unicast, multicast and MDC alike) and its DATA/PAD/EOS/SETUP from any
 * other address is dropped (FRAMES_FROM_WRONG_SOURCE); a SETUP asking for a
 * term longer than max_setup_term_length, or arriving while the endpoint
 * holds max_images images, builds nothing (SETUPS_REFUSED_*). The conductor
 * checks the same limits and the driver-wide one again (SETUPs in flight to
 * it are not in image_count yet).
 *
 * A subscription with control=host:port (MDC dynamic) makes the endpoint
 * announce itself: an SM with the SETUP flag to the control address every
 * 100 ms for each wanted stream, so the publication adds it as a destination.
 *
 * Response channels (control=host:port|control-mode=response, see
 * docs/response-channels.md): the endpoint binds an ephemeral port (the
 * interface's, else the wildcard address), and wants a stream only for the
 * one session the responder named in its RSP_SETUP; it announces itself
 * with an SM carrying that session id and the SETUP flag to the control
 * address, every 100 ms until the image is there (the response publication
 * takes the SM's source as its destination).
 *
 * Thread ownership: the receiver duty polls it and changes its streams and
 * images (asked by the conductor through its command queue); the conductor
 * creates it and deletes it once the receiver released it.
 */
#ifndef SHOAL_RECEIVE_CHANNEL_ENDPOINT_H
#define SHOAL_RECEIVE_CHANNEL_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "protocol/shoal_frames.h"
#include "transport/udp/shoal_publication_image.h"
#include "transport/udp/shoal_udp_endpoint.h"

#define SHOAL_RCV_MAX_PENDING_SESSIONS 32
#define SHOAL_RCV_ELICIT_INTERVAL_NS   (100 * 1000 * 1000LL)

/* control: where the image's SMs and NAKs go; source: where the SETUP came
 * from (the image accepts frames from there only). */
typedef void (*shoal_on_setup_fn)(void *clientd, shoal_receive_channel_endpoint_t *ep,
    const shoal_setup_header_t *setup, const struct sockaddr_storage *control, const struct sockaddr_storage *source,
    int64_t now_ns);

/* A stream wanted on the endpoint: any session of it, or (response
 * channels) one session. */
typedef struct shoal_rcv_stream_interest_stct
{
    int32_t stream_id;
    bool has_session_id;
    int32_t session_id;
    int32_t ref_count;
} shoal_rcv_stream_interest_t;

typedef struct shoal_rcv_pending_session_stct
{
    int32_t session_id;
    int32_t stream_id;
    int64_t expiry_ns;
} shoal_rcv_pending_session_t;

struct shoal_receive_channel_endpoint_stct
{
    shoal_udp_endpoint_t udp; /* first; ref_count: subscription links */
    int64_t receiver_id;
    shoal_rcv_stream_interest_t *streams;
    int32_t stream_count;
    int32_t stream_capacity;
    shoal_publication_image_t **images;
    int32_t image_count;
    int32_t image_capacity;
    int32_t pending_count;
    shoal_rcv_pending_session_t pending[SHOAL_RCV_MAX_PENDING_SESSIONS];
    int64_t time_of_last_control_elicit_ns;
    int32_t max_images;
    int32_t max_setup_term_length;
    shoal_on_setup_fn on_setup;
    void *on_setup_clientd;
};

typedef struct shoal_receive_channel_endpoint_params_stct
{
    shoal_udp_endpoint_params_t udp;
    int64_t receiver_id;
    int32_t max_images;            /* 0: unlimited */
    int32_t max_setup_term_length; /* 0: any valid term length */
    shoal_on_setup_fn on_setup;
    void *on_setup_clientd;
} shoal_receive_channel_endpoint_params_t;

int shoal_receive_channel_endpoint_create(shoal_receive_channel_endpoint_t **ep,
    const shoal_receive_channel_endpoint_params_t *params);
void shoal_receive_channel_endpoint_delete(shoal_receive_channel_endpoint_t *ep);

/* Stream interests, counted: any session of stream_id, or only session_id
 * when has_session_id. */
int shoal_receive_channel_endpoint_add_stream(shoal_receive_channel_endpoint_t *ep, int32_t stream_id,
    bool has_session_id, int32_t session_id);
void shoal_receive_channel_endpoint_remove_stream(shoal_receive_channel_endpoint_t *ep, int32_t stream_id,
    bool has_session_id, int32_t session_id);
/* Whether a subscription here wants session_id of stream_id. */
bool shoal_receive_channel_endpoint_wants(const shoal_receive_channel_endpoint_t *ep, int32_t session_id,
    int32_t stream_id);

int shoal_receive_channel_endpoint_add_image(shoal_receive_channel_endpoint_t *ep, shoal_publication_image_t *image);
/* Removes the image from dispatch; its session is ignored for cooldown_ns. */
void shoal_receive_channel_endpoint_remove_image(shoal_receive_channel_endpoint_t *ep, shoal_publication_image_t *image,
    int64_t now_ns, int64_t cooldown_ns);
shoal_publication_image_t *shoal_receive_channel_endpoint_find_image(shoal_receive_channel_endpoint_t *ep,
    int32_t session_id, int32_t stream_id);

int shoal_receive_channel_endpoint_poll(shoal_receive_channel_endpoint_t *ep, shoal_udp_recv_batch_t *batch,
    int64_t now_ns);
int shoal_receive_channel_endpoint_on_idle(shoal_receive_channel_endpoint_t *ep, int64_t now_ns);

/* Control frames (SM, NAK, RTTM) go out of the send socket. */
ssize_t shoal_receive_channel_endpoint_send_to(shoal_receive_channel_endpoint_t *ep, const void *buf, size_t length,
    const struct sockaddr_storage *to);
void shoal_receive_channel_endpoint_send_sm(shoal_receive_channel_endpoint_t *ep, const struct sockaddr_storage *to,
    int32_t session_id, int32_t stream_id, int32_t term_id, int32_t term_offset, int32_t window, uint8_t flags);

#endif
