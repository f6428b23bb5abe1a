/*
 * The archive server's requests, carried out on the server thread: each gets
 * exactly one RESPONSE (code 0 and a value, or the error's code and message);
 * LIST_RECORDINGS sends a DESCRIPTOR per recording before it.
 */
#include <stdio.h>
#include <string.h>

#include "archive/shoal_archive_server.h"
#include "util/shoal_error.h"

typedef struct list_context_stct
{
    shoal_archive_server_t *srv;
    shoal_archive_control_session_t *session;
    int64_t correlation_id;
    int32_t sent;
    bool failed;
} list_context_t;

static void send_descriptor(void *clientd, const shoal_recording_descriptor_t *d)
{
    list_context_t *list = clientd;
    if (list->failed)
    {
        return;
    }
    /* An active recording's stop position is -1 in the catalog, as in Aeron. */
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_DESCRIPTOR,
        .correlation_id = list->correlation_id,
        .id = d->recording_id,
        .start_position = d->start_position,
        .stop_position = d->stop_position,
        .start_timestamp_ns = d->start_timestamp_ns,
        .stop_timestamp_ns = d->stop_timestamp_ns,
        .initial_term_id = d->initial_term_id,
        .term_length = d->term_length,
        .mtu = d->mtu,
        .segment_length = d->segment_length,
        .session_id = d->session_id,
        .stream_id = d->stream_id,
        .text = d->channel,
        .text_length = -1,
        .source = d->source_identity,
        .source_length = -1 };
    if (shoal_archive_server_send(list->srv, list->session, &msg) < 0)
    {
        list->failed = true;
        return;
    }
    list->sent++;
}

/* The value of a request that succeeded, or -1 with the error set. */
/* A truncate or purge would cut the files under a running replay: refused
 * until its replays end or are stopped (as Aeron's archive does). */
static bool replayed(const shoal_archive_server_t *srv, const shoal_archive_msg_t *request)
{
    int32_t n = shoal_archive_server_replays_of(srv, request->id);
    if (n > 0)
    {
        shoal_set_err(SHOAL_ESTATE, "recording %lld has %d replay%s running: stop %s first (shoal_archive_stop_replay)",
            (long long)request->id, (int)n, n > 1 ? "s" : "", n > 1 ? "them" : "it");
    }
    return n > 0;
}

static int64_t carry_out(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    const shoal_archive_msg_t *request)
{
    shoal_archive_recorder_t *recorder = &srv->recorder;
    shoal_recording_descriptor_t d;
    switch (request->type)
    {
        case SHOAL_ARCHIVE_START_RECORDING:
        {
            char channel[SHOAL_ARCHIVE_STRING_MAX];
            snprintf(channel, sizeof(channel), "%.*s", (int)request->text_length, request->text);
            if (SHOAL_ARCHIVE_SOURCE_LOCAL != request->count && SHOAL_ARCHIVE_SOURCE_REMOTE != request->count)
            {
                return shoal_set_err(SHOAL_EINVAL, "start recording: unknown source location %d", (int)request->count);
            }
            return shoal_archive_recorder_start(recorder, channel, request->stream_id,
                (shoal_archive_source_location_t)request->count);
        }
        case SHOAL_ARCHIVE_STOP_RECORDING: return shoal_archive_recorder_stop(recorder, request->id);
        case SHOAL_ARCHIVE_LIST_RECORDINGS:
        {
            if (request->count < 0)
            {
                return shoal_set_err(SHOAL_EINVAL, "list recordings: count %d is negative", (int)request->count);
            }
            list_context_t list = { srv, session, request->correlation_id, 0, false };
            if (shoal_archive_catalog_list(recorder->catalog, request->id, request->count, send_descriptor, &list) < 0)
            {
                return -1;
            }
            return list.failed ? shoal_set_err(SHOAL_EIO, "list recordings: could not send every descriptor")
                               : list.sent;
        }
        case SHOAL_ARCHIVE_RECORDING_POSITION:
        {
            int64_t live = shoal_archive_recorder_position(recorder, request->id);
            if (live >= 0)
            {
                return live;
            }
            if (shoal_archive_catalog_find(recorder->catalog, request->id, &d) < 0)
            {
                return -1;
            }
            /* Active in the catalog but not here: its writer failed; the
             * position is what recovery will find. */
            return d.stop_position >= 0 ? d.stop_position : d.start_position;
        }
        case SHOAL_ARCHIVE_REPLAY: return shoal_archive_server_replay(srv, request);
        case SHOAL_ARCHIVE_STOP_REPLAY: return shoal_archive_server_stop_replay(srv, request->id);
        case SHOAL_ARCHIVE_TRUNCATE:
            return replayed(srv, request)
                ? -1
                : shoal_archive_catalog_truncate(recorder->catalog, request->id, request->position);
        case SHOAL_ARCHIVE_PURGE:
            return replayed(srv, request) ? -1 : shoal_archive_catalog_purge(recorder->catalog, request->id);
        default: return shoal_set_err(SHOAL_EINVAL, "request type %d is not carried out", (int)request->type);
    }
}

void shoal_archive_server_execute(shoal_archive_server_t *srv, shoal_archive_control_session_t *session,
    const shoal_archive_msg_t *request)
{
    int64_t value = carry_out(srv, session, request);
    if (value < 0)
    {
        int code = shoal_errcode();
        shoal_archive_server_respond(srv, session, request->correlation_id, 0 == code ? SHOAL_EINVAL : code, -1,
            shoal_errmsg());
        return;
    }
    shoal_archive_server_respond(srv, session, request->correlation_id, 0, value, NULL);
}
