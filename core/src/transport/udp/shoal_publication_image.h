/*
 * Receiver side of one remote publication (one session of one stream on one
 * receive channel): a log buffer rebuilt from DATA frames by term offset,
 * which local subscriptions read exactly as they read an IPC log.
 *
 * Positions (all stream positions, like a publication's):
 *   join        where the image started (the SETUP's active term/offset)
 *   rebuild     end of the contiguous frames from the join (rcv-pos)
 *   hwm         highest position seen in a frame or heartbeat (rcv-hwm)
 *   consumption slowest subscriber (sub-pos counters, written by clients)
 * Invariant: consumption <= rebuild <= hwm <= consumption + window, with the
 * window (receiver window, at most half a term) advertised in status
 * messages. Frames outside [last SM position, last SM position + window]
 * are dropped: the sender never sends them legitimately and accepting them
 * could overwrite a term a subscriber still reads.
 *
 * Receiver duty (one thread): insert frames (each frame copied whole, its
 * length word stored last with release: the commit protocol subscribers
 * read), advance rebuild, clean a term behind the slowest subscriber before
 * the window moves, status messages (on creation, every window/4 consumed,
 * else every 200 ms), loss: every gap between rebuild and hwm is NAKed at
 * once and again after the retry delay until filled, or padded over with
 * reliable=false (shoal_loss_detector.h). RTT measurement every second
 * (the loss detector's retry delay uses it). A heartbeat at a position we already hold is
 * answered with an SM at once: the sender probes like that when it waits
 * for an acknowledgement that may have been lost.
 *
 * Response channels: an image whose SETUP had the SEND_RESPONSE flag may
 * get a response publication (the conductor stores its session in
 * response_session_id); until that publication hears its requester, every
 * status message goes with an RSP_SETUP naming the session.
 *
 * Conductor duty: subscribers join/leave (the slowest subscriber's position
 * is published to the receiver in subscriber_position), liveness (no frame for the image
 * liveness timeout), end of stream (EOS heartbeat and every subscriber past
 * it), lifecycle ACTIVE -> INACTIVE (images unavailable) -> LINGER -> DONE.
 */
#ifndef SHOAL_PUBLICATION_IMAGE_H
#define SHOAL_PUBLICATION_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "logbuffer/shoal_log_buffer.h"
#include "transport/udp/shoal_loss_detector.h"
#include "util/shoal_counters.h"
#include "util/shoal_loss_report.h"

typedef struct shoal_receive_channel_endpoint_stct shoal_receive_channel_endpoint_t;

typedef enum shoal_image_state_en
{
    SHOAL_IMAGE_ACTIVE,
    SHOAL_IMAGE_INACTIVE,
    SHOAL_IMAGE_LINGER,
    SHOAL_IMAGE_DONE
} shoal_image_state_t;

#define SHOAL_IMAGE_SM_INTERVAL_NS   (200 * 1000 * 1000LL)
#define SHOAL_IMAGE_RTTM_INTERVAL_NS (1000 * 1000 * 1000LL)
/* response_session_id when there is none to announce. */
#define SHOAL_IMAGE_NO_RESPONSE_SESSION INT64_MIN

typedef struct shoal_image_subscriber_stct
{
    int64_t subscription_registration_id;
    int32_t counter_id;
    int64_t *position;
} shoal_image_subscriber_t;

typedef struct shoal_publication_image_params_stct
{
    shoal_log_buffer_params_t log; /* registration_id: the image's correlation id */
    int32_t active_term_id;        /* where the SETUP says the stream is */
    int32_t term_offset;
    int32_t rcv_window;
    bool reliable;
    int64_t receiver_id;
    int64_t nak_retry_delay_ns;
    const struct sockaddr_storage *control_address; /* where SMs and NAKs go */
    const struct sockaddr_storage *source_address;  /* where the SETUP came from */
    const char *source;                             /* text for labels / clients */
    const char *channel;
    uint8_t setup_flags; /* of the SETUP that made it */
} shoal_publication_image_params_t;

typedef struct shoal_publication_image_stct
{
    /* ---- identity and log ---- */
    int64_t correlation_id;
    int32_t session_id;
    int32_t stream_id;
    int32_t mtu;
    char log_file[512];
    char source[64];
    char channel[SHOAL_LOSS_REPORT_MAX_TEXT + 1]; /* for the loss report */
    shoal_log_buffer_t log;
    shoal_receive_channel_endpoint_t *endpoint;
    struct sockaddr_storage control_address;
    struct sockaddr_storage source_address; /* the only address whose frames are taken */
    int64_t receiver_id;
    int32_t rcv_window;
    int64_t join_position;
    bool send_response_setup; /* the publication asked for a response channel */
    int32_t rcv_hwm_counter_id, rcv_pos_counter_id;
    int64_t *rcv_hwm, *rcv_pos;

    /* ---- conductor only ---- */
    shoal_image_subscriber_t *subscribers;
    int32_t subscriber_count;
    int32_t subscriber_capacity;
    int64_t linger_deadline_ns;
    int64_t cooldown_deadline_ns; /* no new image of this session before */
    bool released;                /* the receiver no longer touches it */

    /* ---- conductor writes, receiver reads ---- */
    shoal_image_state_t state;
    int64_t subscriber_position; /* slowest subscriber; INT64_MAX: none */
    int64_t response_session_id; /* to announce in RSP_SETUPs; SHOAL_IMAGE_NO_RESPONSE_SESSION: none */

    /* ---- receiver writes, conductor reads ---- */
    int64_t time_of_last_packet_ns;
    int64_t rebuild_position;
    int64_t end_of_stream_position; /* INT64_MAX until an EOS heartbeat */

    /* ---- receiver only ---- */
    int64_t hwm_position;
    int64_t consumption_position;
    int64_t last_sm_position;
    int64_t time_of_last_sm_ns;
    bool sm_pending;
    int64_t clean_position;
    shoal_loss_detector_t loss;
    int64_t time_of_last_rttm_ns;
    int64_t naks_sent;
    int64_t gap_fills;
    int64_t *gap_fills_system;
    bool consumption_out_of_range; /* the slowest subscriber claimed more than was received */
    int64_t invalid_consumptions;
    int64_t *invalid_values_system;   /* SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES (atomic adds) */
    shoal_loss_report_t *loss_report; /* the driver's (set before the receiver sees the image); NULL: none */
    int64_t loss_report_offset;       /* this image's entry; -1: none yet, -2: the report was full */
} shoal_publication_image_t;

/* The conductor, once the receiver released it: counters, log, memory. */
void shoal_publication_image_delete(shoal_publication_image_t *image, shoal_counters_manager_t *counters,
    int64_t now_ms);
/* Builds the image for a SETUP (the conductor): its log in dir, its counters;
 * the receiver gets it by command. -1 with the error set. */
int shoal_publication_image_create(shoal_publication_image_t **image, const char *dir,
    const shoal_publication_image_params_t *params, shoal_receive_channel_endpoint_t *endpoint,
    shoal_counters_manager_t *counters, int64_t now_ns);

/* ---- receiver duty ---- */
/* A validated DATA/PAD datagram of term_span bytes (0: heartbeat). */
void shoal_publication_image_insert(shoal_publication_image_t *image, const uint8_t *buf, size_t length,
    int32_t term_span, int64_t now_ns);
void shoal_publication_image_on_rttm(shoal_publication_image_t *image, const uint8_t *frame, int64_t now_ns);
/* Rebuild, cleaning, status messages, NAKs, RTT measurement. */
int shoal_publication_image_do_work(shoal_publication_image_t *image, int64_t now_ns);

/* ---- conductor duty ---- */
/* Adds a subscriber at the rebuild position (a message boundary). */
int shoal_publication_image_add_subscriber(shoal_publication_image_t *image, int64_t subscription_registration_id,
    int32_t counter_id, int64_t *position);
/* Returns the subscriber's counter id or -1. */
int32_t shoal_publication_image_remove_subscriber(shoal_publication_image_t *image,
    int64_t subscription_registration_id);
/* Publishes the slowest subscriber's position to the receiver; 1 if it moved. */
int shoal_publication_image_track_subscribers(shoal_publication_image_t *image);
/* Whether the image should become INACTIVE now (liveness, end of stream, no subscriber). */
bool shoal_publication_image_is_finished(const shoal_publication_image_t *image, int64_t now_ns,
    int64_t liveness_timeout_ns);

#endif
