/*
 * Driver side of a UDP publication: the log the clients write, and the
 * sender that puts it on the wire.
 *
 * Sender (sender duty, one thread):
 *  - DATA: committed frames from the sender position, batched up to an mtu
 *    per datagram and SHOAL_UDP_BATCH datagrams per sendmmsg, zero copy
 *    from the term; never past the sender limit.
 *  - SETUP every 100 ms until a status message (SM) arrives, and again when
 *    a receiver asks for it (SM with the SETUP flag).
 *  - Heartbeat (0-length DATA at the sender position, EOS flag once the
 *    stream ended) after 100 ms without data, or every NAK retry delay
 *    while data is sent but not yet acknowledged (tail-loss probe).
 *  - SMs move the sender limit through flow control; NAKs resend ranges
 *    from the term (retransmit handler: one resend per range per linger);
 *    RTT measurement requests are answered at once.
 *  - A 28-byte NAK can ask for a whole term, and anyone can send one, so:
 *    NAKs are served only for addresses that sent this publication a status
 *    message within the connection timeout (its receivers: the unicast
 *    peer, each MDC destination, each multicast member heard; a bounded
 *    table, the stalest entry replaced when full); a NAK's length is cut to
 *    that receiver's advertised window; and the bytes resent per
 *    retransmit_budget_interval are capped at retransmit_budget (NAKs past
 *    it are dropped: the receiver asks again after its retry delay). An SM
 *    window is cut to half a term, the most a receiver may hold ahead.
 *  - Connected while SMs keep coming (publication connection timeout).
 *
 * Response channels (docs/response-channels.md): a request publication
 * (response-correlation-id in its URI) sets the SEND_RESPONSE flag in its
 * SETUPs; a response publication (control-mode=response) sends to the
 * address of the status message with the SETUP flag that named its
 * session, and nothing before one came.
 *
 * Conductor (conductor duty): publisher limit = sender position + term
 * window while connected (the slowest counted spy's position instead when
 * that is behind: spies, aeron-spy: subscriptions on this host, read the log
 * in place and are tethered unless tether=false, see
 * shoal_subscriber_positions.h), = sender position while no receiver is live
 * (so offers say NOT_CONNECTED instead of writing what nobody will receive;
 * with ssc=true a counted spy makes the publication connected too, and the
 * sender, receiverless, moves its position along with the furthest spy),
 * the log's is_connected flag after the limit, cleaning a term behind
 * the sender, unblocking a claim of a dead publisher, and the lifecycle:
 * ACTIVE -> DRAINING (publishers gone: send what was written, wait for the
 * receivers to acknowledge it and the spies to read it, EOS) -> LINGER (keep
 * answering NAKs; the spies' images are gone) -> DONE.
 *
 * Memory model between the two duties (also in dedicated threading mode):
 * sender_position / sender_limit / connection are published through
 * counters and atomics written by the sender only (has_receivers is the
 * sender's view of connection); state, end_of_stream, spy_position, the
 * publisher limit and the log's is_connected are written by the conductor
 * only; the spies themselves are the conductor's alone.
 */
#ifndef SHOAL_NETWORK_PUBLICATION_H
#define SHOAL_NETWORK_PUBLICATION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "logbuffer/shoal_log_buffer.h"
#include "transport/shoal_publication_resource.h"
#include "transport/shoal_subscriber_positions.h"
#include "transport/udp/shoal_flow_control.h"
#include "transport/udp/shoal_retransmit_handler.h"
#include "transport/udp/shoal_udp_transport.h"
#include "util/shoal_counters.h"

typedef struct shoal_send_channel_endpoint_stct shoal_send_channel_endpoint_t;

typedef enum shoal_network_publication_state_en
{
    SHOAL_NET_PUB_ACTIVE,
    SHOAL_NET_PUB_DRAINING,
    SHOAL_NET_PUB_LINGER,
    SHOAL_NET_PUB_DONE
} shoal_network_publication_state_t;

#define SHOAL_NET_PUB_SETUP_INTERVAL_NS     (100 * 1000 * 1000LL)
#define SHOAL_NET_PUB_HEARTBEAT_INTERVAL_NS (100 * 1000 * 1000LL)
#define SHOAL_NET_PUB_MAX_KNOWN_RECEIVERS   64

/* An address that sent this publication a status message (sender only). */
typedef struct shoal_known_receiver_stct
{
    struct sockaddr_storage address;
    int64_t time_of_last_sm_ns;
    int32_t window;
} shoal_known_receiver_t;

typedef struct shoal_network_publication_params_stct
{
    shoal_publication_resource_params_t resource; /* media UDP; random initial term id (the driver draws it) */
    int32_t ttl;
    bool reliable;                  /* false: NAKs are answered with padding, never data */
    bool spies_simulate_connection; /* ssc: a counted spy makes it connected */
    shoal_flow_control_kind_t fc_default;
    const char *fc_spec;
    int64_t connection_timeout_ns;
    int64_t fc_receiver_timeout_ns;
    int64_t retransmit_linger_ns;
    int64_t retransmit_budget; /* bytes per interval; 0: unlimited */
    int64_t retransmit_budget_interval_ns;
    int64_t tail_probe_interval_ns;
    int64_t unblock_timeout_ns;
    int64_t linger_ns;
    bool is_response; /* control-mode=response */
} shoal_network_publication_params_t;

typedef struct shoal_network_publication_stct
{
    /* ---- identity and log (set at creation) ---- */
    shoal_publication_resource_t resource; /* first: publication links point here */
    bool reliable;
    bool spies_simulate_connection;
    char channel[256];
    shoal_log_buffer_t log;
    int32_t ttl;
    int64_t term_window_length;
    shoal_send_channel_endpoint_t *endpoint;

    int32_t snd_pos_counter_id, snd_lmt_counter_id, snd_bpe_counter_id;
    int64_t *snd_pos, *snd_lmt, *snd_bpe;

    int64_t connection_timeout_ns;
    int64_t tail_probe_interval_ns;
    int64_t unblock_timeout_ns;
    int64_t linger_ns;
    bool is_response;    /* a response publication (control-mode=response) */
    uint8_t setup_flags; /* SHOAL_SETUP_FLAG_SEND_RESPONSE for a request publication */

    /* ---- conductor only ---- */
    bool retiring; /* conductor: DONE, removal asked of the sender */
    /* A response publication's image (its requester's request stream) that
     * sends RSP_SETUPs until a status message comes; -1: none (any more). */
    int64_t response_image_correlation_id;
    shoal_subscriber_positions_t spies;
    int64_t clean_position;
    int64_t last_snd_pos_seen;
    int64_t time_of_last_snd_pos_change_ns;
    int64_t drain_deadline_ns;
    int64_t linger_deadline_ns;

    /* ---- written by the conductor, read by the sender ---- */
    shoal_network_publication_state_t state;
    int32_t end_of_stream;
    /* With ssc: the furthest counted spy's position, where the sender moves
     * while no receiver is live; INT64_MIN otherwise. */
    int64_t spy_position;

    /* ---- written by the sender, read by the conductor ---- */
    int64_t acked_position; /* slowest known receiver's consumption */
    int64_t time_of_last_sm_ns;
    int32_t has_receivers;

    /* ---- sender only ---- */
    int64_t sender_position;
    int64_t sender_limit;
    int64_t time_of_last_data_or_heartbeat_ns;
    int64_t time_of_last_setup_ns;
    int64_t time_of_last_data_ns;
    int64_t tail_probe_backoff_ns;
    bool should_send_setup;
    bool back_pressured;
    shoal_flow_control_t flow_control;
    shoal_retransmit_handler_t retransmit;
    int64_t retransmits_sent;
    int64_t retransmit_budget;
    int64_t retransmit_budget_interval_ns;
    int64_t retransmit_budget_start_ns;
    int64_t retransmit_budget_used;
    int64_t retransmit_bytes_sent;
    int32_t known_receiver_count;
    shoal_known_receiver_t known_receivers[SHOAL_NET_PUB_MAX_KNOWN_RECEIVERS];
    bool has_response_address; /* response publications: where the requester is */
    struct sockaddr_storage response_address;
} shoal_network_publication_t;

int shoal_network_publication_create(shoal_network_publication_t **pub, const char *dir,
    const shoal_network_publication_params_t *params, shoal_send_channel_endpoint_t *endpoint,
    shoal_counters_manager_t *counters, int64_t now_ns);
void shoal_network_publication_delete(shoal_network_publication_t *pub, shoal_counters_manager_t *counters,
    int64_t now_ms);

/* ---- sender duty ---- */
/* Sends data / setup / heartbeat as due; returns work done. msgs is the
 * sender's scratch of SHOAL_UDP_BATCH * destinations mmsghdrs. */
int shoal_network_publication_send(shoal_network_publication_t *pub, int64_t now_ns);
void shoal_network_publication_on_status_message(shoal_network_publication_t *pub, const uint8_t *frame, size_t length,
    const struct sockaddr_storage *from, int64_t now_ns);
void shoal_network_publication_on_nak(shoal_network_publication_t *pub, const uint8_t *frame,
    const struct sockaddr_storage *from, int64_t now_ns);
void shoal_network_publication_on_rttm(shoal_network_publication_t *pub, const uint8_t *frame,
    const struct sockaddr_storage *from, int64_t now_ns);

/* ---- conductor duty ---- */
int shoal_network_publication_on_tick(shoal_network_publication_t *pub, int64_t now_ns, int64_t *unblocked_counter);
/* Whether a spy may join now: ACTIVE only (as IPC subscribers). */
bool shoal_network_publication_accepts_spies(const shoal_network_publication_t *pub);
/* Where a new spy joins, and where an untethered one rejoins: the sender's position. */
int64_t shoal_network_publication_join_position(const shoal_network_publication_t *pub);
/* Where "behind" starts for untethered spies. */
int64_t shoal_network_publication_untethered_window_limit(const shoal_network_publication_t *pub);
void shoal_network_publication_on_publishers_gone(shoal_network_publication_t *pub, int64_t now_ns);

#endif
