/*
 * Archive server internals. One thread runs the server's duty cycle: it polls
 * the control stream, answers requests, moves recorded frames from the
 * recording subscriptions to the segment files and drives the replays. It
 * alone touches the server's state, so nothing here is locked; the client it
 * connected with is its own (add/close calls from this thread only).
 *
 * Control sessions: a CONNECT request makes one (id handed back) with an
 * exclusive publication to the client's response channel and stream; it ends
 * with CLOSE_SESSION, or when that publication has no subscriber any more
 * (the client went away). Later
 * requests name their session; a request of an unknown session, one that does
 * not decode, or one of unknown type is dropped and counted (malformed_count),
 * never answered with a crash.
 */
#ifndef SHOAL_ARCHIVE_SERVER_H
#define SHOAL_ARCHIVE_SERVER_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "archive/shoal_archive_codec.h"
#include "archive/shoal_archive_recorder.h"
#include "shoal/shoal_archive.h"

typedef struct shoal_archive_replay_stct shoal_archive_replay_t;

typedef struct shoal_archive_control_session_stct
{
    int64_t id;
    int64_t connect_correlation_id; /* of the CONNECT that made it: a repeated CONNECT gets the same answer */
    shoal_publication_t *responses;
    /* CONNECT is answered once the response publication is connected, by the
     * duty cycle (not waited for inside it: a client that never subscribes
     * must not hold up the others); until then the session is not answered,
     * and it ends when the client's own wait (the message timeout) is over. */
    bool answered;
    int64_t answer_deadline_ns;
} shoal_archive_control_session_t;

struct shoal_archive_server_stct
{
    shoal_context_t *ctx;
    shoal_client_t *client;
    bool client_is_invoker; /* the context's mode when the client connected: its duty runs in do_work */
    shoal_subscription_t *control;
    char archive_dir[PATH_MAX];
    shoal_archive_recorder_t recorder;

    shoal_archive_control_session_t *sessions;
    int32_t session_count, session_capacity;
    int64_t next_session_id;

    shoal_archive_replay_t *replays; /* shoal_archive_replays.c */
    int32_t replay_count_live, replay_capacity;
    int64_t replay_count; /* replays started: the high bits of replay session ids */

    uint8_t buffer[SHOAL_ARCHIVE_MESSAGE_MAX]; /* encoded responses */
    int64_t malformed_count;                   /* requests dropped: undecodable, unknown type or session */
    int64_t error_count;                       /* recording errors and responses that could not be sent */

    pthread_t thread;
    bool threaded;
    volatile int stop; /* embedded: set by shoal_archive_server_close */
};

/* The server's state ready to run (the client connected, the control stream
 * subscribed, the archive opened); shoal_archive_server_release undoes it. */
int shoal_archive_server_init(shoal_archive_server_t *srv, shoal_context_t *ctx, const char *archive_dir);
void shoal_archive_server_release(shoal_archive_server_t *srv);
/* One duty cycle: the work done (>= 0). */
int shoal_archive_server_do_work(shoal_archive_server_t *srv);

/* Sends a RESPONSE to a session: code 0 with value, or code/message. */
void shoal_archive_server_respond(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    int64_t correlation_id, int32_t code, int64_t value, const char *message);
/* Sends any message to a session (retrying back pressure up to the message
 * timeout); -1 when it could not be sent (then counted in error_count). */
int shoal_archive_server_send(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    shoal_archive_msg_t *msg);

/* shoal_archive_commands.c: executes a decoded request of an existing session. */
void shoal_archive_server_execute(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    const shoal_archive_msg_t *request);

/* shoal_archive_replays.c: REPLAY (the replay session id, or -1), STOP_REPLAY
 * (0, or -1 with SHOAL_EINVAL for an unknown id), the replays' share of the
 * duty cycle (work done), and ending them all (the server's close). */
int64_t shoal_archive_server_replay(shoal_archive_server_t *srv, const shoal_archive_msg_t *request);
int shoal_archive_server_stop_replay(shoal_archive_server_t *srv, int64_t replay_session_id);
int shoal_archive_server_do_replays(shoal_archive_server_t *srv);
/* How many replays of recording_id are running. */
int32_t shoal_archive_server_replays_of(const shoal_archive_server_t *srv, int64_t recording_id);
void shoal_archive_server_close_replays(shoal_archive_server_t *srv);

/* Tests: requests dropped as malformed so far; control sessions open. */
int64_t shoal_archive_server_malformed_count(const shoal_archive_server_t *srv);
int32_t shoal_archive_server_session_count(const shoal_archive_server_t *srv);

#endif
