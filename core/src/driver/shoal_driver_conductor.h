/*
 * The driver conductor: the thread that owns every driver resource (with the
 * sender and receiver duties on it in shared threading mode, on their own
 * threads in dedicated mode). It reads client commands from the to-driver ring,
 * answers on the broadcast buffer, and on each tick moves publisher limits,
 * times out dead clients and retires drained streams. Split by duty:
 *   shoal_driver_conductor.c          duty cycle, command dispatch (clients' and
 *                                     the UDP duties'), responses
 *   shoal_driver_clients.c            client liveness
 *   shoal_driver_publications.c       publication links (IPC and UDP), session ids,
 *                                     IPC streams
 *   shoal_driver_subscriptions.c      add/remove subscriptions, IPC image linking
 *   shoal_driver_spies.c              aeron-spy: subscriptions on local UDP publications
 *   shoal_driver_tethers.c            untethered subscribers: dropped, resting, rejoining
 *   shoal_driver_send_endpoints.c     UDP publications, send endpoints, MDC destinations
 *   shoal_driver_receive_endpoints.c  UDP subscriptions, receive endpoints, images
 *   shoal_driver_udp_proxy.c          the sender/receiver duties: set-up, commands,
 *                                     their cycles in shared mode
 *   shoal_driver_udp_endpoints.c      what send and receive endpoints share: lookup,
 *                                     references, release hand-shake, counters
 * Nothing here is on a publisher's or subscriber's hot path.
 */
#ifndef SHOAL_DRIVER_CONDUCTOR_H
#define SHOAL_DRIVER_CONDUCTOR_H

#include <stdint.h>
#include <stdbool.h>

#include "common/shoal_context.h"
#include "concurrent/shoal_broadcast_transmitter.h"
#include "concurrent/shoal_mpsc_rb.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "transport/ipc/shoal_ipc_publication.h"
#include "transport/udp/shoal_udp_receiver.h"
#include "transport/udp/shoal_udp_sender.h"
#include "util/shoal_array.h"
#include "util/shoal_counters.h"
#include "util/shoal_error_log.h"
#include "util/shoal_loss_report.h"
#include "util/shoal_uri.h"

typedef struct shoal_driver_client_stct
{
    int64_t client_id;
    int64_t last_keepalive_ms;
    int32_t heartbeat_counter_id;
} shoal_driver_client_t;

/* One add_publication call of one client. Concurrent publications of the
 * same stream share one publication (IPC or UDP) through several links,
 * each holding a reference. */
typedef struct shoal_publication_link_stct
{
    int64_t registration_id;
    int64_t client_id;
    shoal_publication_resource_t *resource; /* first member of a shoal_ipc_ or shoal_network_publication_t */
} shoal_publication_link_t;

typedef struct shoal_subscription_link_stct
{
    int64_t registration_id;
    int64_t client_id;
    int32_t stream_id;
    bool has_session_id;
    int32_t session_id;
    shoal_media_t media;
    /* A response subscription (control-mode=response) links no stream until
     * its responder names the session (RSP_SETUP, or the IPC response
     * publication); then has_session_id/session_id hold that session. */
    bool awaiting_response_session;
    bool is_response;
    /* IPC and spies: tether=... (else the driver's default) and the
     * untethered timeouts the URI named (0: the publication's) */
    bool tether;
    int64_t untethered_window_limit_timeout_ns;
    int64_t untethered_resting_timeout_ns;
    /* aeron-spy: (media UDP, no endpoint): channel holds the canonical text of
     * the send channel it spies on */
    bool spy;
    /* UDP only */
    shoal_receive_channel_endpoint_t *endpoint;
    bool reliable;
    /* sparse=true on the subscription: its images' log files are not reserved */
    bool sparse;
    int32_t rcv_window;
    char channel[SHOAL_UDP_CANONICAL_MAX];
} shoal_subscription_link_t;

#define SHOAL_DRIVER_ARRAY(type, name) SHOAL_ARRAY(type, name)

typedef struct shoal_driver_conductor_stct
{
    const shoal_context_t *ctx;
    shoal_cnc_view_t cnc;
    shoal_mpsc_rb_t to_driver;
    shoal_broadcast_transmitter_t to_clients;
    shoal_counters_manager_t counters;
    shoal_error_log_t error_log;
    shoal_loss_report_t loss_report; /* written by the receiver (images), set up and closed here */
    int64_t *system_counters[SHOAL_SYSTEM_COUNTER_COUNT];

    SHOAL_DRIVER_ARRAY(shoal_driver_client_t, clients);
    SHOAL_DRIVER_ARRAY(shoal_publication_link_t, publication_links);
    SHOAL_DRIVER_ARRAY(shoal_ipc_publication_t *, ipc_publications);
    SHOAL_DRIVER_ARRAY(shoal_subscription_link_t, subscription_links);

    /* UDP (shoal_driver_send_endpoints.c, _receive_endpoints.c, _udp_proxy.c) */
    SHOAL_DRIVER_ARRAY(shoal_network_publication_t *, network_publications);
    SHOAL_DRIVER_ARRAY(shoal_send_channel_endpoint_t *, send_endpoints);
    SHOAL_DRIVER_ARRAY(shoal_receive_channel_endpoint_t *, receive_endpoints);
    SHOAL_DRIVER_ARRAY(shoal_publication_image_t *, images);
    shoal_udp_command_queue_t to_conductor; /* RELEASED, SETUP, RESULT from the duties */
    shoal_udp_sender_t *sender;
    shoal_udp_receiver_t *receiver;
    int64_t receiver_id;
    bool random_fallback_logged; /* getrandom failed once: logged */
    uint64_t next_loss_seed;

    int64_t last_timer_ms;
    int64_t last_to_driver_consumer_position;
    int64_t time_of_last_to_driver_position_change_ms;
    uint8_t scratch[8192] __attribute__((aligned(8)));
} shoal_driver_conductor_t;

/* Takes the mapped CnC view (already laid out) and builds the structures on it. */
int shoal_driver_conductor_init(shoal_driver_conductor_t *c, const shoal_context_t *ctx, shoal_cnc_view_t *cnc);
void shoal_driver_conductor_close(shoal_driver_conductor_t *c);
/* One duty cycle; returns the work count for the idle strategy. */
int shoal_driver_conductor_do_work(shoal_driver_conductor_t *c);

/* Grows a SHOAL_DRIVER_ARRAY by one slot; -1 on allocation failure. */
#define SHOAL_DRIVER_ARRAY_ENSURE(c, name) SHOAL_ARRAY_ENSURE(c, name, "driver")

/* Responses (shoal_driver_conductor.c) */
void shoal_driver_send_error(shoal_driver_conductor_t *c, int64_t correlation_id, int32_t code, const char *message);
void shoal_driver_send_operation_success(shoal_driver_conductor_t *c, int64_t correlation_id);
void shoal_driver_send_image_available(shoal_driver_conductor_t *c, const shoal_ipc_publication_t *pub,
    int64_t subscription_registration_id, int64_t image_id, int32_t position_counter_id);
/* Same for any stream: UDP images give their log and source address. */
void shoal_driver_send_image_available_for(shoal_driver_conductor_t *c, int32_t session_id, int32_t stream_id,
    const char *log_file, const char *source, int64_t subscription_registration_id, int64_t image_id,
    int32_t position_counter_id);
void shoal_driver_send_image_unavailable(shoal_driver_conductor_t *c, int64_t image_id,
    int64_t subscription_registration_id, int32_t stream_id);
/* ERROR "channel 'channel': why" (why NULL: the current shoal_errmsg). */
void shoal_driver_send_channel_error(shoal_driver_conductor_t *c, int64_t correlation_id, int32_t code,
    const char *channel, const char *why);
void shoal_driver_record_error(shoal_driver_conductor_t *c, int32_t code, const char *message);
/* Refuses a command of client_id naming registration_id, which another
 * client holds (what: "publication" or "subscription"): error response,
 * counted in FOREIGN_COMMANDS. Commands carry the sender's client id and the
 * driver checks it against the registration's owner; that is what keeps a
 * confused client off other clients' handles (any process that can write
 * cnc.dat could also forge the id: the directory's user is the boundary). */
void shoal_driver_refuse_foreign(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    const char *what, int64_t registration_id);
int64_t shoal_driver_now_ms(void);
/* The index of client_id's link registration_id in links (publication or
 * subscription links: count of them, stride bytes apart); -1 if nobody
 * holds it (the caller answers), -2 if another client does (refused here). */
int32_t shoal_driver_find_own_link(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int64_t registration_id, const char *what, const void *links, int32_t count, size_t stride);
/* A new subscription link (room already ensured) with the fields every
 * medium has; counted and answered SUBSCRIPTION_READY. */
shoal_subscription_link_t *shoal_driver_add_subscription_link(shoal_driver_conductor_t *c, int64_t client_id,
    int64_t correlation_id, int32_t stream_id, const shoal_uri_t *uri, shoal_media_t media);

/* Clients (shoal_driver_clients.c) */
shoal_driver_client_t *shoal_driver_client_touch(shoal_driver_conductor_t *c, int64_t client_id, int64_t now_ms);
void shoal_driver_on_client_close(shoal_driver_conductor_t *c, int64_t client_id, int64_t now_ms);
int shoal_driver_check_client_liveness(shoal_driver_conductor_t *c, int64_t now_ms);

/* Publications, IPC and UDP (shoal_driver_publications.c) */
void shoal_driver_on_add_ipc_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, bool exclusive, int64_t now_ms);
/* The term length and mtu an add_publication asks for (uri's, else
 * default_term_length and the context's mtu); false with EURI sent when the
 * mtu does not fit the term (an eighth of it) or max_mtu. */
bool shoal_driver_publication_sizes(shoal_driver_conductor_t *c, int64_t correlation_id, const char *channel,
    const shoal_uri_t *uri, int32_t default_term_length, int32_t max_mtu, int32_t *term_length, int32_t *mtu);
/* An add_publication's check against existing, the shareable publication
 * of the stream (of existing_term_length) or NULL: with one, takes a
 * reference if what uri asks fits it; without, checks that the session id
 * uri names (if any) is free. False with ECLASH sent otherwise. */
bool shoal_driver_share_or_check(shoal_driver_conductor_t *c, int64_t correlation_id, int32_t stream_id,
    const shoal_uri_t *uri, shoal_publication_resource_t *existing, int32_t existing_term_length, int32_t term_length,
    int32_t mtu);
/* What a new publication of either medium is made of: its log (uri's
 * session id or a fresh random one, a random initial term id, sparse) and
 * identity; channel labels its counters. */
shoal_publication_resource_params_t shoal_driver_publication_params(shoal_driver_conductor_t *c, shoal_media_t media,
    int64_t correlation_id, int32_t stream_id, const shoal_uri_t *uri, int32_t term_length, int32_t mtu, bool exclusive,
    const char *channel);
/* Records that client_id holds r (its reference already counted) under
 * correlation_id and answers PUBLICATION_READY. On failure the error is sent
 * and the reference dropped. */
int shoal_driver_link_publication(shoal_driver_conductor_t *c, int64_t correlation_id, int64_t client_id,
    shoal_publication_resource_t *r);
/* Drops a link; the last one tells its publication that its publishers are gone. */
void shoal_driver_remove_publication_link(shoal_driver_conductor_t *c, int32_t index, int64_t now_ms);
int shoal_driver_tick_publications(shoal_driver_conductor_t *c, int64_t now_ms);
/* Counts and logs count clamped subscriber positions of r's subscribers (set). */
void shoal_driver_report_invalid_positions(shoal_driver_conductor_t *c, const shoal_subscriber_positions_t *set,
    const shoal_publication_resource_t *r, int64_t count);
/* Whether stream_id/session_id is taken by any IPC or UDP publication. */
bool shoal_driver_session_in_use(const shoal_driver_conductor_t *c, int32_t stream_id, int32_t session_id);
/* A random session id (getrandom) not in use for the stream, never 0 (0 in
 * an MDC status message means any session). */
int32_t shoal_driver_next_session_id(shoal_driver_conductor_t *c, int32_t stream_id);
/* A random initial term id for a new log. */
int32_t shoal_driver_next_initial_term_id(shoal_driver_conductor_t *c);
/* Logs, once per driver, that getrandom failed (fallback != 0) and ids may be guessable. */
void shoal_driver_note_random_fallback(shoal_driver_conductor_t *c, int fallback);

/* Subscriptions (shoal_driver_subscriptions.c) */
void shoal_driver_on_add_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, int64_t now_ms);
void shoal_driver_remove_subscription_link(shoal_driver_conductor_t *c, int32_t index, int64_t now_ms);
/* Links every matching subscription to a new publication (image per subscription). */
void shoal_driver_link_subscriptions_to(shoal_driver_conductor_t *c, shoal_ipc_publication_t *pub, int64_t now_ms);
/* IPC response channels: the response subscription registration_id (still
 * waiting for its responder) takes pub's session and is linked to it. */
void shoal_driver_link_response_subscription(shoal_driver_conductor_t *c, int64_t registration_id,
    shoal_ipc_publication_t *pub, int64_t now_ms);
/* Tells each of subscribers its stream is gone and frees its position. */
void shoal_driver_unlink_subscribers(shoal_driver_conductor_t *c, shoal_subscriber_positions_t *subscribers,
    int32_t stream_id, int64_t now_ms);
/* Tells linked subscribers the stream is gone and frees their positions. */
void shoal_driver_unlink_publication(shoal_driver_conductor_t *c, shoal_ipc_publication_t *pub, int64_t now_ms);

/* Spies (shoal_driver_spies.c) */
void shoal_driver_on_add_spy_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, int64_t now_ms);
void shoal_driver_remove_spy_subscription_link(shoal_driver_conductor_t *c, const shoal_subscription_link_t *link,
    int64_t now_ms);
/* A new UDP publication: every matching spy subscription spies on it. */
void shoal_driver_link_spies_to(shoal_driver_conductor_t *c, shoal_network_publication_t *pub, int64_t now_ms);
/* The publication stopped (drained): its spies' images go. */
void shoal_driver_unlink_spies(shoal_driver_conductor_t *c, shoal_network_publication_t *pub, int64_t now_ms);

/* Untethered subscribers (shoal_driver_tethers.c) */
/* The tether of a subscriber of link on publication r: the link's own
 * settings, else r's timeouts. */
shoal_tether_params_t shoal_driver_tether_params(const shoal_subscription_link_t *link,
    const shoal_publication_resource_t *r);
/* Runs the untethered state machine of r's subscribers (set) and sends the
 * image events it calls for; returns the work done. */
int shoal_driver_check_tethers(shoal_driver_conductor_t *c, shoal_subscriber_positions_t *set,
    const shoal_publication_resource_t *r, int64_t window_limit_position, int64_t live_position, int64_t now_ns);
/* Whether the client holds an image for s (it was not dropped, or has rejoined). */
static inline bool shoal_driver_subscriber_has_image(const shoal_subscriber_position_t *s)
{
    return SHOAL_TETHER_ACTIVE == s->state;
}

/* UDP publications (shoal_driver_send_endpoints.c) */
void shoal_driver_on_add_network_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, bool exclusive, int64_t now_ms);
/* add/remove_destination of a manual MDC publication (registration_id of
 * the client's link); answers OPERATION_SUCCESS or ERROR. */
void shoal_driver_on_destination(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int64_t registration_id, const char *destination, bool add);
/* Lifecycle of UDP publications; every conductor cycle. */
int shoal_driver_tick_network_publications(shoal_driver_conductor_t *c, int64_t now_ms);
/* The sender released a publication / an endpoint: freed now. */
void shoal_driver_on_network_publication_released(shoal_driver_conductor_t *c, shoal_network_publication_t *pub,
    int64_t now_ms);
void shoal_driver_on_send_endpoint_released(shoal_driver_conductor_t *c, shoal_send_channel_endpoint_t *ep,
    int64_t now_ms);

/* UDP subscriptions and images (shoal_driver_receive_endpoints.c) */
void shoal_driver_on_add_network_subscription(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, const shoal_uri_t *uri, int64_t now_ms);
void shoal_driver_remove_network_subscription_link(shoal_driver_conductor_t *c, shoal_subscription_link_t *link,
    int64_t now_ms);
/* A SETUP the receiver heard for a wanted stream: builds the image if it is news and fits. */
void shoal_driver_on_setup(shoal_driver_conductor_t *c, shoal_receive_channel_endpoint_t *ep,
    const shoal_setup_header_t *setup, const struct sockaddr_storage *from, const struct sockaddr_storage *source);
/* A request publication of ours heard its responder's RSP_SETUP: the
 * response subscription response_correlation_id names takes that session. */
void shoal_driver_on_response_setup(shoal_driver_conductor_t *c, int64_t response_correlation_id,
    int32_t response_session_id);
/* The active image of correlation_id, or NULL. */
shoal_publication_image_t *shoal_driver_find_image(shoal_driver_conductor_t *c, int64_t correlation_id);
/* Lifecycle of images; every conductor cycle. */
int shoal_driver_tick_images(shoal_driver_conductor_t *c, int64_t now_ms);
/* The receiver released an endpoint: freed now. */
void shoal_driver_on_receive_endpoint_released(shoal_driver_conductor_t *c, shoal_receive_channel_endpoint_t *ep,
    int64_t now_ms);

/* Parses an add request's channel into uri; -1 (the client told why) when it
 * does not parse or names what this kind of request may not use (a spy for a
 * publication, a start position for a subscription). */
int shoal_driver_parse_request_channel(shoal_driver_conductor_t *c, int64_t correlation_id, const char *channel,
    shoal_uri_t *uri, bool publication);

/* The UDP channel of a request's parsed uri; -1 when it is no valid UDP
 * channel, the client told why (shoal_driver_udp_endpoints.c). */
int shoal_driver_udp_channel_of(shoal_driver_conductor_t *c, shoal_udp_channel_t *ch, const shoal_uri_t *uri,
    int64_t correlation_id, const char *channel);

/* Send and receive endpoints alike (shoal_driver_udp_endpoints.c), through
 * the shoal_udp_endpoint_t both start with; arrays are the conductor's
 * send_endpoints or receive_endpoints. */
shoal_udp_endpoint_params_t shoal_driver_endpoint_params(shoal_driver_conductor_t *c, const shoal_udp_channel_t *ch);
/* The endpoint of the same channel (canonical text), or NULL. */
void *shoal_driver_find_endpoint(void *const *endpoints, int32_t count, const shoal_udp_channel_t *ch);
/* A new endpoint: its counters, and a place in the array (room ensured by the caller). */
void shoal_driver_adopt_endpoint(shoal_driver_conductor_t *c, void **endpoints, int32_t *count, shoal_udp_endpoint_t *e,
    bool send_side, int64_t now_ms);
/* An endpoint whose removal is still on its way to its duty is taken back
 * (its socket still holds the port): true if the caller must ask its duty
 * to add it again (the queue is FIFO: the duty drops it, then adds it). */
bool shoal_driver_revive_endpoint(shoal_udp_endpoint_t *e);
/* Drops a reference; true if it was the last (the caller asks its duty to remove it). */
bool shoal_driver_release_endpoint(shoal_udp_endpoint_t *e);
/* Its duty released it: true if it is to be deleted now (out of the array,
 * counters freed); false while it was revived or another removal is in flight. */
bool shoal_driver_endpoint_released(shoal_driver_conductor_t *c, void **endpoints, int32_t *count,
    shoal_udp_endpoint_t *e, int64_t now_ms);
/* Frees every UDP publication, image and endpoint (driver closing, duties stopped). */
void shoal_driver_udp_close(shoal_driver_conductor_t *c);

/* The sender/receiver proxy (shoal_driver_udp_proxy.c) */
/* Sets up the duties and their queues; drain_agent_messages drains the
 * conductor's own queue in place when it fills in shared mode. */
int shoal_driver_udp_proxy_init(shoal_driver_conductor_t *c, shoal_udp_drain_fn_t drain_agent_messages);
void shoal_driver_udp_proxy_close(shoal_driver_conductor_t *c);
/* Asks the sender or receiver duty (a command that cannot be queued is
 * noted in the error log). */
void shoal_driver_ask_sender(shoal_driver_conductor_t *c, int32_t type, void *object, void *endpoint);
/* add/remove_destination for the sender, answered by its RESULT; -1 if it cannot be queued. */
int shoal_driver_ask_sender_destination(shoal_driver_conductor_t *c, bool add, void *endpoint, int64_t correlation_id,
    const struct sockaddr_storage *address);
void shoal_driver_ask_receiver(shoal_driver_conductor_t *c, int32_t type, void *object, void *endpoint,
    int32_t stream_id, int64_t cooldown_ns);
/* A stream interest of a subscription on a receive endpoint (any session,
 * or one session: response subscriptions), added or dropped. */
void shoal_driver_ask_receiver_stream(shoal_driver_conductor_t *c, bool add, void *endpoint,
    const shoal_subscription_link_t *link);
/* Sender and receiver duties when they share the conductor's thread. */
int shoal_driver_udp_proxy_do_work(shoal_driver_conductor_t *c);
/* Where waiting for room in a full command queue gives up (dedicated mode). */
void shoal_driver_udp_proxy_set_stop_flag(shoal_driver_conductor_t *c, volatile int *stop);

#endif
