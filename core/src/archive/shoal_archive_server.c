/*
 * The archive server: lifecycle (embedded thread or the caller's thread),
 * the duty cycle and control sessions (shoal_archive_server.h). The requests
 * themselves are carried out in shoal_archive_commands.c.
 */
#include "archive/shoal_archive_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/shoal_context.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_idle.h"

#define CONTROL_FRAGMENT_LIMIT 16

int64_t shoal_archive_server_malformed_count(const shoal_archive_server_t *srv)
{
    return __atomic_load_n(&srv->malformed_count, __ATOMIC_RELAXED);
}

static void count_malformed(shoal_archive_server_t *srv)
{
    __atomic_store_n(&srv->malformed_count, srv->malformed_count + 1, __ATOMIC_RELAXED);
}

static shoal_archive_control_session_t *find_session(shoal_archive_server_t *srv, int64_t id)
{
    for (int32_t i = 0; i < srv->session_count; i++)
    {
        if (srv->sessions[i].id == id)
        {
            return &srv->sessions[i];
        }
    }
    return NULL;
}

static void close_session(shoal_archive_server_t *srv, shoal_archive_control_session_t *session)
{
    shoal_publication_close(session->responses);
    *session = srv->sessions[srv->session_count - 1];
    __atomic_store_n(&srv->session_count, srv->session_count - 1, __ATOMIC_RELAXED);
}

int shoal_archive_server_send(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    shoal_archive_msg_t *msg)
{
    msg->control_session_id = session->id;
    int length = shoal_archive_encode(msg, srv->buffer, sizeof(srv->buffer));
    if (length < 0)
    {
        srv->error_count++;
        return -1;
    }
    /* The client subscribed to its response stream before it connected, so
     * the publication is connected unless the client went away; back
     * pressure from a slow client is waited out up to the message timeout. */
    const int64_t deadline = shoal_nano_time() + (int64_t)srv->ctx->archive_message_timeout_ms * 1000000LL;
    for (;;)
    {
        int64_t rc = shoal_publication_offer(session->responses, srv->buffer, (size_t)length);
        if (rc > 0)
        {
            return 0;
        }
        if (SHOAL_CLOSED == rc || SHOAL_ERROR == rc || SHOAL_MAX_POSITION_EXCEEDED == rc ||
            shoal_nano_time() > deadline)
        {
            srv->error_count++;
            return -1;
        }
        shoal_publication_wait_available(session->responses, 1000000);
    }
}

void shoal_archive_server_respond(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    int64_t correlation_id, int32_t code, int64_t value, const char *message)
{
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_RESPONSE,
        .correlation_id = correlation_id,
        .code = code,
        .value = value,
        .text = NULL == message ? "" : message,
        .text_length = -1 };
    shoal_archive_server_send(srv, session, &msg);
}

static void answer_connect(shoal_archive_server_t *srv, shoal_archive_control_session_t *session)
{
    shoal_archive_server_send(srv, session,
        &(shoal_archive_msg_t){ .type = SHOAL_ARCHIVE_RESPONSE,
            .correlation_id = session->connect_correlation_id,
            .value = session->id });
}

/* CONNECT: a new session answering on the client's response channel, once
 * that channel is connected (do_sessions). */
static void connect_session(shoal_archive_server_t *srv, const shoal_archive_msg_t *request)
{
    for (int32_t i = 0; i < srv->session_count; i++)
    {
        if (srv->sessions[i].connect_correlation_id == request->correlation_id)
        {
            /* The client sent its CONNECT again (see shoal_archive_client.c):
             * the same session, answered again if it was answered already. */
            if (srv->sessions[i].answered)
            {
                answer_connect(srv, &srv->sessions[i]);
            }
            return;
        }
    }
    char channel[SHOAL_ARCHIVE_STRING_MAX];
    snprintf(channel, sizeof(channel), "%.*s", (int)request->text_length, request->text);
    shoal_archive_control_session_t session = { .id = srv->next_session_id,
        .connect_correlation_id = request->correlation_id,
        .answer_deadline_ns = shoal_nano_time() + (int64_t)srv->ctx->archive_message_timeout_ms * 1000000LL };
    if (shoal_add_exclusive_publication(srv->client, channel, request->stream_id, &session.responses) < 0)
    {
        /* Nowhere to answer: the client times out. */
        srv->error_count++;
        fprintf(stderr, "shoal archive: cannot answer on %s stream %d: %s\n", channel, (int)request->stream_id,
            shoal_errmsg());
        return;
    }
    if (srv->session_count == srv->session_capacity)
    {
        int32_t capacity = 0 == srv->session_capacity ? 8 : 2 * srv->session_capacity;
        void *grown = realloc(srv->sessions, (size_t)capacity * sizeof(*srv->sessions));
        if (NULL == grown)
        {
            shoal_publication_close(session.responses);
            srv->error_count++;
            return;
        }
        srv->sessions = grown;
        srv->session_capacity = capacity;
    }
    srv->next_session_id++;
    srv->sessions[srv->session_count] = session;
    __atomic_store_n(&srv->session_count, srv->session_count + 1, __ATOMIC_RELAXED);
}

static void on_request(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    shoal_archive_server_t *srv = clientd;
    shoal_archive_msg_t request;
    if (shoal_archive_decode(buf, len, &request) < 0 || request.type >= SHOAL_ARCHIVE_RESPONSE)
    {
        count_malformed(srv);
        return;
    }
    if (SHOAL_ARCHIVE_CONNECT == request.type)
    {
        connect_session(srv, &request);
        return;
    }
    shoal_archive_control_session_t *session = find_session(srv, request.control_session_id);
    if (NULL == session || !session->answered)
    {
        count_malformed(srv); /* no session to answer to (yet: its id was not sent) */
        return;
    }
    if (SHOAL_ARCHIVE_CLOSE_SESSION == request.type)
    {
        close_session(srv, session);
        return;
    }
    shoal_archive_server_execute(srv, session, &request);
}

int32_t shoal_archive_server_session_count(const shoal_archive_server_t *srv)
{
    return __atomic_load_n(&srv->session_count, __ATOMIC_RELAXED);
}

/* Answers the CONNECTs whose response publication is now connected, and ends
 * the sessions whose client went away: one never connected within the
 * message timeout, or one that was connected and is no more (closed without
 * CLOSE_SESSION, or dead and timed out by the driver); with their
 * publications. */
static int do_sessions(shoal_archive_server_t *srv)
{
    int work = 0;
    int64_t now_ns = 0;
    for (int32_t i = 0; i < srv->session_count;)
    {
        shoal_archive_control_session_t *session = &srv->sessions[i];
        bool connected = shoal_publication_is_connected(session->responses);
        bool gone = false;
        if (session->answered)
        {
            gone = !connected;
        }
        else if (connected)
        {
            session->answered = true;
            answer_connect(srv, session);
            work++;
        }
        else
        {
            now_ns = 0 == now_ns ? shoal_nano_time() : now_ns;
            gone = now_ns > session->answer_deadline_ns;
        }
        if (gone)
        {
            close_session(srv, session);
            work++;
        }
        else
        {
            i++;
        }
    }
    return work;
}

int shoal_archive_server_do_work(shoal_archive_server_t *srv)
{
    /* A client connected in conductor-invoker mode has no conductor thread:
     * its duty (keepalives, images) runs here. The mode is the one it was
     * connected with: the context may be switched since, for other clients. */
    if (srv->client_is_invoker && shoal_client_do_work(srv->client) < 0)
    {
        return -1;
    }
    int work = shoal_subscription_poll(srv->control, on_request, srv, CONTROL_FRAGMENT_LIMIT);
    if (work < 0)
    {
        return -1;
    }
    int recorded = shoal_archive_recorder_do_work(&srv->recorder);
    return work + (recorded > 0 ? 1 : 0) + shoal_archive_server_do_replays(srv) + do_sessions(srv);
}

int shoal_archive_server_init(shoal_archive_server_t *srv, shoal_context_t *ctx, const char *archive_dir)
{
    memset(srv, 0, sizeof(*srv));
    srv->ctx = ctx;
    if (strlen(archive_dir) >= sizeof(srv->archive_dir))
    {
        return shoal_set_err(SHOAL_EINVAL, "archive server: archive directory path too long");
    }
    snprintf(srv->archive_dir, sizeof(srv->archive_dir), "%s", archive_dir);
    if (shoal_archive_recorder_init(&srv->recorder, NULL, archive_dir, (int32_t)ctx->archive_segment_length,
            (shoal_archive_fsync_policy_t)ctx->archive_fsync) < 0)
    {
        shoal_archive_recorder_close(&srv->recorder);
        return -1;
    }
    srv->client_is_invoker = ctx->use_conductor_invoker;
    if (shoal_client_connect(&srv->client, ctx) < 0)
    {
        shoal_archive_recorder_close(&srv->recorder);
        return -1;
    }
    srv->recorder.client = srv->client;
    if (shoal_add_subscription(srv->client, ctx->archive_control_channel, (int32_t)ctx->archive_control_stream_id,
            &srv->control) < 0)
    {
        shoal_archive_server_release(srv);
        return -1;
    }
    return 0;
}

void shoal_archive_server_release(shoal_archive_server_t *srv)
{
    shoal_archive_server_close_replays(srv);
    shoal_archive_recorder_close(&srv->recorder);
    while (srv->session_count > 0)
    {
        close_session(srv, &srv->sessions[0]);
    }
    free(srv->sessions);
    srv->sessions = NULL;
    if (NULL != srv->control)
    {
        shoal_subscription_close(srv->control);
        srv->control = NULL;
    }
    if (NULL != srv->client)
    {
        shoal_client_close(srv->client);
        srv->client = NULL;
    }
}

static int run(shoal_archive_server_t *srv, volatile int *stop_flag)
{
    shoal_idle_t idle;
    shoal_idle_init(&idle, srv->ctx->idle_strategy);
    /* close sets the flag from another thread (release): load it with acquire. */
    while (0 == __atomic_load_n(stop_flag, __ATOMIC_ACQUIRE))
    {
        int work = shoal_archive_server_do_work(srv);
        if (work < 0)
        {
            fprintf(stderr, "shoal archive: stopping: %s\n", shoal_errmsg());
            return -1; /* the client lost its driver */
        }
        shoal_idle(&idle, work);
    }
    return 0;
}

static void *server_thread(void *arg)
{
    shoal_archive_server_t *srv = arg;
    run(srv, &srv->stop);
    return NULL;
}

/* A server of archive_dir on ctx, for what (the caller's name in errors): NULL on error. */
static shoal_archive_server_t *server_new(shoal_context_t *ctx, const char *archive_dir, const char *what)
{
    shoal_archive_server_t *srv = calloc(1, sizeof(*srv));
    if (NULL == srv)
    {
        shoal_set_err(SHOAL_ENOMEM, "%s: out of memory", what);
        return NULL;
    }
    if (shoal_archive_server_init(srv, ctx, archive_dir) < 0)
    {
        free(srv);
        return NULL;
    }
    return srv;
}

/* Records what the images committed before the end, then lets go of all. */
static void server_free(shoal_archive_server_t *srv)
{
    shoal_archive_recorder_do_work(&srv->recorder);
    shoal_archive_server_release(srv);
    free(srv);
}

int shoal_archive_server_start(shoal_archive_server_t **srvp, shoal_context_t *ctx, const char *archive_dir)
{
    if (NULL == srvp || NULL == ctx || NULL == archive_dir)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_server_start: srv, ctx and archive_dir must not be NULL");
    }
    shoal_archive_server_t *srv = server_new(ctx, archive_dir, "shoal_archive_server_start");
    if (NULL == srv)
    {
        return -1;
    }
    if (0 != pthread_create(&srv->thread, NULL, server_thread, srv))
    {
        shoal_archive_server_release(srv);
        free(srv);
        return shoal_set_err(SHOAL_ENOMEM, "shoal_archive_server_start: cannot start the server thread");
    }
    srv->threaded = true;
    *srvp = srv;
    return 0;
}

int shoal_archive_server_close(shoal_archive_server_t *srv)
{
    if (NULL == srv)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_server_close: srv must not be NULL");
    }
    if (srv->threaded)
    {
        __atomic_store_n(&srv->stop, 1, __ATOMIC_RELEASE);
        pthread_join(srv->thread, NULL);
    }
    server_free(srv);
    return 0;
}

int shoal_archive_server_run(shoal_context_t *ctx, const char *archive_dir, volatile int *stop_flag)
{
    if (NULL == ctx || NULL == archive_dir || NULL == stop_flag)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_server_run: ctx, archive_dir and stop_flag must not be NULL");
    }
    shoal_archive_server_t *srv = server_new(ctx, archive_dir, "shoal_archive_server_run");
    if (NULL == srv)
    {
        return -1;
    }
    int rc = run(srv, stop_flag);
    server_free(srv);
    return rc;
}
