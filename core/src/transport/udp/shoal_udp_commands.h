/*
 * Commands between the driver conductor and its sender and receiver duties.
 *
 * The conductor owns every UDP object (endpoints, publications, images) and
 * never edits what the sender or receiver iterate: it asks them, through a
 * command queue per duty, to add or drop an object, a stream interest or an
 * MDC destination. They answer through the conductor's queue: RELEASED when
 * they no longer touch an object (only then may the conductor free it),
 * SETUP when a publication is heard that a subscription wants (the conductor
 * builds the image), RESULT for a destination command, ERROR otherwise.
 * Every queue is FIFO, so an object added, dropped and added again is seen in
 * that order.
 *
 * The same queues run in both threading modes. In shared mode the consumer
 * is the producer's own thread: a full queue is drained in place. In
 * dedicated mode the producer yields until the consumer makes room (or the
 * driver is stopping). Queues are sized so that neither happens in normal
 * running: a cycle posts at most a few hundred records.
 */
#ifndef SHOAL_UDP_COMMANDS_H
#define SHOAL_UDP_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "concurrent/shoal_mpsc_rb.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

typedef enum shoal_udp_command_type_en
{
    /* conductor -> sender */
    SHOAL_UDP_CMD_ADD_SEND_ENDPOINT = 1,
    SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT,
    SHOAL_UDP_CMD_ADD_PUBLICATION,
    SHOAL_UDP_CMD_REMOVE_PUBLICATION,
    SHOAL_UDP_CMD_ADD_DESTINATION,
    SHOAL_UDP_CMD_REMOVE_DESTINATION,
    /* conductor -> receiver */
    SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT,
    SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT,
    SHOAL_UDP_CMD_ADD_STREAM,
    SHOAL_UDP_CMD_REMOVE_STREAM,
    SHOAL_UDP_CMD_ADD_IMAGE,
    SHOAL_UDP_CMD_REMOVE_IMAGE,
    /* sender / receiver -> conductor */
    SHOAL_UDP_MSG_RELEASED, /* command: which REMOVE_* released object */
    SHOAL_UDP_MSG_SETUP,
    SHOAL_UDP_MSG_RESPONSE_SETUP, /* correlation_id: the request publication's response-correlation-id; session_id */
    SHOAL_UDP_MSG_RESULT,         /* correlation_id, code (0: success), message */
    SHOAL_UDP_MSG_ERROR           /* code, message: for the driver's error log */
} shoal_udp_command_type_t;

typedef struct shoal_udp_command_stct
{
    void *object;                    /* endpoint, publication or image */
    void *endpoint;                  /* the publication's or image's endpoint */
    int64_t correlation_id;          /* destination commands and RESULT */
    int64_t registration_id;         /* ADD_DESTINATION */
    int64_t cooldown_ns;             /* REMOVE_IMAGE */
    int32_t stream_id;               /* ADD/REMOVE_STREAM */
    bool has_session_id;             /* ADD/REMOVE_STREAM: one session of it only */
    int32_t session_id;              /* ADD/REMOVE_STREAM; RESPONSE_SETUP: the response session */
    int32_t command;                 /* RELEASED */
    int32_t code;                    /* RESULT, ERROR */
    struct sockaddr_storage address; /* destination; SETUP: control address */
    struct sockaddr_storage source;  /* SETUP: where it came from */
    shoal_setup_header_t setup;      /* SETUP */
    char message[SHOAL_ERRMSG_MAX];  /* RESULT, ERROR: only its text is queued */
} shoal_udp_command_t;

typedef void (*shoal_udp_command_handler_t)(int32_t type, const shoal_udp_command_t *cmd, void *clientd);
typedef void (*shoal_udp_drain_fn_t)(void *clientd);

typedef struct shoal_udp_command_queue_stct
{
    shoal_mpsc_rb_t rb;
    void *buffer;
    bool shared;                         /* consumer runs on the producer's thread */
    bool draining;                       /* consumer is inside drain */
    shoal_udp_drain_fn_t drain_in_place; /* shared mode: what drains it */
    void *drain_clientd;
    volatile int *stop; /* dedicated mode: stop waiting for room */
} shoal_udp_command_queue_t;

/* Command queue sizes: records are under 1 KiB, a busy cycle posts tens. */
#define SHOAL_UDP_COMMAND_QUEUE_CAPACITY   (256 * 1024)
#define SHOAL_UDP_CONDUCTOR_QUEUE_CAPACITY (1024 * 1024)
/* Commands a duty handles per cycle: bounded so a burst cannot delay the data path. */
#define SHOAL_UDP_COMMANDS_PER_CYCLE 64
/* How often the duties run their endpoints' housekeeping. */
#define SHOAL_UDP_IDLE_INTERVAL_NS (1000 * 1000LL)

int shoal_udp_command_queue_init(shoal_udp_command_queue_t *q, size_t capacity);
void shoal_udp_command_queue_close(shoal_udp_command_queue_t *q);
/* Queues a record, waiting for room as the threading mode allows; -1 (and
 * the record dropped) only when it cannot be queued at all. */
int shoal_udp_command_queue_post(shoal_udp_command_queue_t *q, int32_t type, const shoal_udp_command_t *cmd);
/* Queues a record if there is room now; false otherwise. */
bool shoal_udp_command_queue_offer(shoal_udp_command_queue_t *q, int32_t type, const shoal_udp_command_t *cmd);
/* Consumer: handles up to limit records in order; returns how many. */
int shoal_udp_command_queue_drain(shoal_udp_command_queue_t *q, shoal_udp_command_handler_t handler, void *clientd,
    size_t limit);

/* Answers of the duties to the conductor (a record that cannot be queued
 * is dropped: only when the driver stops). RELEASED: the duty no longer
 * touches object, removed by command. */
void shoal_udp_command_queue_post_released(shoal_udp_command_queue_t *q, int32_t command, void *object);
/* RESULT of a destination command (correlation_id >= 0) or ERROR (-1): rc
 * and the current shoal_errmsg, prefixed by what; clears the error. */
void shoal_udp_command_queue_post_outcome(shoal_udp_command_queue_t *q, int64_t correlation_id, int rc,
    const char *what);

#endif
