/*
 * The archive client (shoal_archive_t): one control session with an archive
 * server. Requests go out on an exclusive publication to the server's control
 * stream; answers come back on a subscription to the response stream, where
 * the server has a publication per session. That subscription sees the
 * answers of every session on the stream, so each one is matched by control
 * session id and correlation id (unique in the driver: the driver's
 * correlation counter hands them out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/shoal_archive_client.h"
#include "archive/shoal_archive_codec.h"
#include "client/shoal_client.h"
#include "shoal/shoal_archive.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

struct shoal_archive_stct
{
    shoal_client_t *client;
    shoal_publication_t *requests;
    shoal_subscription_t *responses;
    int64_t control_session_id; /* -1 until connected */
    uint64_t timeout_ms;
    uint8_t buffer[SHOAL_ARCHIVE_MESSAGE_MAX];

    /* the answer being waited for (filled by the response handler) */
    int64_t awaited_correlation_id;
    bool answered;
    int32_t code;
    int64_t value;
    char message[SHOAL_ERRMSG_MAX];
    shoal_recording_descriptor_handler_t descriptor_handler;
    void *descriptor_clientd;
};

static int64_t next_correlation_id(shoal_archive_t *a)
{
    return shoal_mpsc_rb_next_correlation_id(&a->client->to_driver);
}

/* Offers the encoded request, retrying while the stream is not ready, up to
 * the message timeout. */
static int send_request(shoal_archive_t *a, const shoal_archive_msg_t *msg)
{
    int length = shoal_archive_encode(msg, a->buffer, sizeof(a->buffer));
    if (length < 0)
    {
        return -1;
    }
    const int64_t deadline = shoal_nano_time() + (int64_t)a->timeout_ms * 1000000LL;
    for (;;)
    {
        int64_t rc = shoal_publication_offer(a->requests, a->buffer, (size_t)length);
        if (rc > 0)
        {
            return 0;
        }
        if (SHOAL_CLOSED == rc || SHOAL_MAX_POSITION_EXCEEDED == rc || SHOAL_ERROR == rc)
        {
            return shoal_set_err(SHOAL_ECLOSED, "archive %s: the control publication is closed",
                shoal_archive_msg_type_name(msg->type));
        }
        if (shoal_nano_time() > deadline)
        {
            return shoal_set_err(SHOAL_ETIMEDOUT, "archive %s: no archive server took the request within %llu ms (%s)",
                shoal_archive_msg_type_name(msg->type), (unsigned long long)a->timeout_ms,
                SHOAL_NOT_CONNECTED == rc ? "no server on the control stream" : "back pressured");
        }
        if (a->client->invoker)
        {
            shoal_client_do_work(a->client);
        }
        shoal_publication_wait_available(a->requests, 1000000);
    }
}

static shoal_controlled_action_t on_response(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    shoal_archive_t *a = clientd;
    shoal_archive_msg_t m;
    if (shoal_archive_decode(buf, len, &m) < 0 || m.correlation_id != a->awaited_correlation_id ||
        (a->control_session_id >= 0 && m.control_session_id != a->control_session_id))
    {
        return SHOAL_ACTION_CONTINUE; /* another session's answer, or an old one */
    }
    if (SHOAL_ARCHIVE_DESCRIPTOR == m.type)
    {
        if (NULL != a->descriptor_handler)
        {
            char channel[SHOAL_ARCHIVE_STRING_MAX];
            char source[SHOAL_ARCHIVE_STRING_MAX];
            snprintf(channel, sizeof(channel), "%.*s", (int)m.text_length, m.text);
            snprintf(source, sizeof(source), "%.*s", (int)m.source_length, m.source);
            shoal_recording_descriptor_t d = { m.id, m.start_position, m.stop_position, m.start_timestamp_ns,
                m.stop_timestamp_ns, m.initial_term_id, m.term_length, m.mtu, m.segment_length, m.session_id,
                m.stream_id, channel, source };
            a->descriptor_handler(a->descriptor_clientd, &d);
        }
        return SHOAL_ACTION_CONTINUE;
    }
    if (SHOAL_ARCHIVE_RESPONSE != m.type)
    {
        return SHOAL_ACTION_CONTINUE;
    }
    a->answered = true;
    a->code = m.code;
    a->value = m.value;
    snprintf(a->message, sizeof(a->message), "%.*s", (int)m.text_length, m.text);
    if (a->control_session_id < 0)
    {
        a->control_session_id = m.control_session_id; /* CONNECT's answer names the session */
    }
    return SHOAL_ACTION_BREAK;
}

/* A CONNECT is sent again this often until answered: the control stream may
 * be connected before the server polls it (a server restarting while the
 * subscription of the one before is not timed out yet takes the request, and
 * a new subscription joins the stream after it). The server answers a
 * repeated CONNECT with the same session. Other requests are sent once: they
 * go to a session that has shown it reads the stream. */
#define CONNECT_RESEND_NS (250 * 1000 * 1000LL)

/* Sends msg (its correlation id is set here) and waits for its RESPONSE:
 * its value (>= 0), or -1 with the server's code and message. */
static int64_t call(shoal_archive_t *a, shoal_archive_msg_t *msg)
{
    msg->correlation_id = next_correlation_id(a);
    msg->control_session_id = a->control_session_id;
    a->awaited_correlation_id = msg->correlation_id;
    a->answered = false;
    if (send_request(a, msg) < 0)
    {
        return -1;
    }
    const int64_t deadline = shoal_nano_time() + (int64_t)a->timeout_ms * 1000000LL;
    int64_t resend_at = shoal_nano_time() + CONNECT_RESEND_NS;
    while (!a->answered)
    {
        int n = shoal_subscription_controlled_poll(a->responses, on_response, a, 64);
        if (n < 0)
        {
            return -1;
        }
        if (a->answered)
        {
            break;
        }
        if (SHOAL_ARCHIVE_CONNECT == msg->type && shoal_nano_time() > resend_at)
        {
            resend_at = shoal_nano_time() + CONNECT_RESEND_NS;
            int length = shoal_archive_encode(msg, a->buffer, sizeof(a->buffer));
            if (length > 0)
            {
                shoal_publication_offer(a->requests, a->buffer, (size_t)length);
            }
        }
        if (shoal_nano_time() > deadline)
        {
            return shoal_set_err(SHOAL_ETIMEDOUT, "archive %s: no answer from the archive server within %llu ms",
                shoal_archive_msg_type_name(msg->type), (unsigned long long)a->timeout_ms);
        }
        if (a->client->invoker)
        {
            shoal_client_do_work(a->client);
            shoal_subscription_wait(a->responses, 1000000);
        }
        else if (0 == n)
        {
            shoal_subscription_wait(a->responses, 10000000);
        }
    }
    if (0 != a->code)
    {
        return shoal_set_err(a->code, "%s", a->message);
    }
    return a->value;
}

static void archive_free(shoal_archive_t *a)
{
    if (NULL != a->requests)
    {
        shoal_publication_close(a->requests);
    }
    if (NULL != a->responses)
    {
        shoal_subscription_close(a->responses);
    }
    free(a);
}

int shoal_archive_connect(shoal_archive_t **ap, shoal_client_t *client)
{
    if (NULL == ap || NULL == client)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_connect: a and client must not be NULL");
    }
    if (shoal_client_check_open(client) < 0)
    {
        return -1;
    }
    shoal_archive_t *a = calloc(1, sizeof(*a));
    if (NULL == a)
    {
        return shoal_set_err(SHOAL_ENOMEM, "shoal_archive_connect: out of memory");
    }
    const shoal_context_t *ctx = client->ctx;
    a->client = client;
    a->control_session_id = -1;
    a->timeout_ms = ctx->archive_message_timeout_ms;
    if (shoal_add_subscription(client, ctx->archive_control_response_channel,
            (int32_t)ctx->archive_control_response_stream_id, &a->responses) < 0 ||
        shoal_add_exclusive_publication(client, ctx->archive_control_channel, (int32_t)ctx->archive_control_stream_id,
            &a->requests) < 0)
    {
        archive_free(a);
        return -1;
    }
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_CONNECT,
        .stream_id = (int32_t)ctx->archive_control_response_stream_id,
        .text = ctx->archive_control_response_channel,
        .text_length = -1 };
    if (call(a, &msg) < 0)
    {
        char why[SHOAL_ERRMSG_MAX];
        snprintf(why, sizeof(why), "%s", shoal_errmsg());
        int code = shoal_errcode();
        archive_free(a);
        return shoal_set_err(code, "shoal_archive_connect (control %s stream %u): %s", ctx->archive_control_channel,
            ctx->archive_control_stream_id, why);
    }
    *ap = a;
    return 0;
}

int shoal_archive_close(shoal_archive_t *a)
{
    if (NULL == a)
    {
        return 0;
    }
    /* Best effort: a server that is gone cannot end the session, and the
     * server also ends sessions whose client went away. */
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_CLOSE_SESSION };
    msg.correlation_id = next_correlation_id(a);
    msg.control_session_id = a->control_session_id;
    int length = shoal_archive_encode(&msg, a->buffer, sizeof(a->buffer));
    if (length > 0)
    {
        shoal_publication_offer(a->requests, a->buffer, (size_t)length);
    }
    archive_free(a);
    return 0;
}

int64_t shoal_archive_control_session_id(const shoal_archive_t *a)
{
    return NULL == a ? shoal_set_err(SHOAL_EINVAL, "shoal_archive_control_session_id: a must not be NULL")
                     : a->control_session_id;
}

#define CHECK_ARCHIVE(fn)                                                                                              \
    if (NULL == a)                                                                                                     \
    {                                                                                                                  \
        return shoal_set_err(SHOAL_EINVAL, fn ": a must not be NULL");                                                 \
    }

int64_t shoal_archive_start_recording_from(shoal_archive_t *a, const char *channel, int32_t stream_id,
    shoal_archive_source_location_t source)
{
    CHECK_ARCHIVE("shoal_archive_start_recording");
    if (NULL == channel || (SHOAL_ARCHIVE_SOURCE_LOCAL != source && SHOAL_ARCHIVE_SOURCE_REMOTE != source))
    {
        return shoal_set_err(SHOAL_EINVAL,
            "shoal_archive_start_recording: channel must not be NULL, source LOCAL "
            "or REMOTE");
    }
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_START_RECORDING,
        .stream_id = stream_id,
        .count = source,
        .text = channel,
        .text_length = -1 };
    return call(a, &msg);
}

int64_t shoal_archive_start_recording(shoal_archive_t *a, const char *channel, int32_t stream_id)
{
    return shoal_archive_start_recording_from(a, channel, stream_id, SHOAL_ARCHIVE_SOURCE_LOCAL);
}

static int64_t call_with_id(shoal_archive_t *a, int32_t type, int64_t id, int64_t position)
{
    shoal_archive_msg_t msg = { .type = type, .id = id, .position = position };
    return call(a, &msg);
}

int shoal_archive_stop_recording(shoal_archive_t *a, int64_t subscription_id)
{
    CHECK_ARCHIVE("shoal_archive_stop_recording");
    return call_with_id(a, SHOAL_ARCHIVE_STOP_RECORDING, subscription_id, 0) < 0 ? -1 : 0;
}

int shoal_archive_list_recordings(shoal_archive_t *a, int64_t from_id, int32_t count,
    shoal_recording_descriptor_handler_t handler, void *clientd)
{
    CHECK_ARCHIVE("shoal_archive_list_recordings");
    if (NULL == handler || count < 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_list_recordings: handler must not be NULL, count >= 0");
    }
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_LIST_RECORDINGS, .id = from_id, .count = count };
    a->descriptor_handler = handler;
    a->descriptor_clientd = clientd;
    int64_t listed = call(a, &msg);
    a->descriptor_handler = NULL;
    return listed < 0 ? -1 : (int)listed;
}

int64_t shoal_archive_recording_position(shoal_archive_t *a, int64_t recording_id)
{
    CHECK_ARCHIVE("shoal_archive_recording_position");
    return call_with_id(a, SHOAL_ARCHIVE_RECORDING_POSITION, recording_id, 0);
}

int64_t shoal_archive_replay(shoal_archive_t *a, int64_t recording_id, int64_t position, int64_t length,
    const char *replay_channel, int32_t replay_stream_id)
{
    CHECK_ARCHIVE("shoal_archive_replay");
    if (NULL == replay_channel)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_replay: replay_channel must not be NULL");
    }
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_REPLAY,
        .id = recording_id,
        .position = position,
        .length = length,
        .stream_id = replay_stream_id,
        .text = replay_channel,
        .text_length = -1 };
    return call(a, &msg);
}

int shoal_archive_stop_replay(shoal_archive_t *a, int64_t replay_session_id)
{
    CHECK_ARCHIVE("shoal_archive_stop_replay");
    return call_with_id(a, SHOAL_ARCHIVE_STOP_REPLAY, replay_session_id, 0) < 0 ? -1 : 0;
}

int shoal_archive_truncate(shoal_archive_t *a, int64_t recording_id, int64_t position)
{
    CHECK_ARCHIVE("shoal_archive_truncate");
    return call_with_id(a, SHOAL_ARCHIVE_TRUNCATE, recording_id, position) < 0 ? -1 : 0;
}

int shoal_archive_purge(shoal_archive_t *a, int64_t recording_id)
{
    CHECK_ARCHIVE("shoal_archive_purge");
    return call_with_id(a, SHOAL_ARCHIVE_PURGE, recording_id, 0) < 0 ? -1 : 0;
}

shoal_client_t *shoal_archive_client_of(const shoal_archive_t *a)
{
    return NULL == a ? NULL : a->client;
}
