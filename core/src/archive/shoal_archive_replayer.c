#include "archive/shoal_archive_replayer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/shoal_recording_reader.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_uri.h"

/* Blocks offered per do_work at most: a replay shares its thread with the
 * server's other sessions. */
#define REPLAYER_BLOCKS_PER_WORK 16

struct shoal_archive_replayer_stct
{
    shoal_recording_reader_t *reader;
    shoal_publication_t *publication;
    int64_t position; /* published up to here */
    size_t max_block_length;
    int64_t connect_deadline_ns;
    bool connected;
    bool done;
    bool failed;
    int32_t session_id;
    int32_t stream_id;
    /* A block the reader handed out that the publication refused for now
     * (back pressure): offered again first (valid until the next read). */
    const uint8_t *pending;
    size_t pending_length;
    char channel[SHOAL_URI_MAX_LENGTH + 1];
};

/* The replay channel: the caller's, with the recording's geometry and the
 * start position added, so the image shows the recorded positions. */
static int replay_channel(char *out, size_t out_length, const shoal_archive_replay_params_t *p, int64_t start)
{
    shoal_uri_t uri;
    if (shoal_uri_parse(p->channel, &uri) < 0)
    {
        return -1;
    }
    if (uri.has_term_length || uri.has_mtu || uri.has_session_id || uri.has_position || uri.spy)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "replay channel '%s': term-length, mtu, session-id, init-term-id, term-id and term-offset come from the "
            "recording and the replay session, leave them out (and no aeron-spy:)",
            p->channel);
    }
    const shoal_recording_descriptor_t *d = p->recording;
    const size_t bits = (size_t)__builtin_ctz((unsigned)d->term_length);
    const int32_t term_id = (int32_t)((uint32_t)d->initial_term_id + (uint32_t)(start >> bits));
    const int32_t term_offset = (int32_t)(start & (d->term_length - 1));
    int n =
        snprintf(out, out_length, "%s%cterm-length=%d|mtu=%d|session-id=%d|init-term-id=%d|term-id=%d|term-offset=%d",
            p->channel, NULL == strchr(p->channel, '?') ? '?' : '|', d->term_length, d->mtu, p->session_id,
            d->initial_term_id, term_id, term_offset);
    if (n < 0 || (size_t)n >= out_length)
    {
        return shoal_set_err(SHOAL_EINVAL, "replay channel '%s' is too long once the recording's keys are added",
            p->channel);
    }
    return 0;
}

int shoal_archive_replayer_create(shoal_archive_replayer_t **r, shoal_client_t *client,
    const shoal_archive_replay_params_t *p)
{
    if (NULL == r || NULL == client || NULL == p || NULL == p->archive_dir || NULL == p->recording ||
        NULL == p->channel)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "shoal_archive_replayer_create: r, client, params and their archive_dir, recording and channel must "
            "not be NULL");
    }
    shoal_archive_replayer_t *rp = calloc(1, sizeof(*rp));
    if (NULL == rp)
    {
        return shoal_set_err(SHOAL_ENOMEM, "replayer: out of memory");
    }
    if (shoal_recording_reader_open(&rp->reader, p->archive_dir, p->recording, p->position, p->length) < 0)
    {
        free(rp);
        return -1;
    }
    rp->position = shoal_recording_reader_position(rp->reader);
    if (replay_channel(rp->channel, sizeof(rp->channel), p, rp->position) < 0 ||
        shoal_add_exclusive_publication(client, rp->channel, p->stream_id, &rp->publication) < 0)
    {
        shoal_recording_reader_close(rp->reader);
        free(rp);
        return -1;
    }
    rp->session_id = p->session_id;
    rp->stream_id = p->stream_id;
    rp->max_block_length = 0 != p->max_block_length ? p->max_block_length : SHOAL_ARCHIVE_REPLAY_DEFAULT_BLOCK_LENGTH;
    rp->connect_deadline_ns = shoal_nano_time() +
        (p->connect_timeout_ns > 0 ? p->connect_timeout_ns : SHOAL_ARCHIVE_REPLAY_DEFAULT_CONNECT_TIMEOUT_NS);
    *r = rp;
    return 0;
}

/* The end: the publication closes, its subscribers read to the end of the
 * stream and then lose the image. */
static int replayer_finish(shoal_archive_replayer_t *r)
{
    shoal_publication_t *pub = r->publication;
    r->publication = NULL;
    r->done = true;
    r->pending_length = 0;
    return NULL != pub ? shoal_publication_close(pub) : 0;
}

/* Ends the replay with an error: why (NULL: the current error) about the
 * replay's channel and position. */
static int replayer_fail(shoal_archive_replayer_t *r, const char *why)
{
    char msg[SHOAL_ERRMSG_MAX];
    snprintf(msg, sizeof(msg), "%s", NULL != why ? why : shoal_errmsg());
    int32_t code = NULL != why ? SHOAL_ESTATE : shoal_errcode();
    replayer_finish(r);
    r->failed = true;
    return shoal_set_err(code, "replay session %d (stream %d, %s) at position %lld: %s", r->session_id, r->stream_id,
        r->channel, (long long)r->position, msg);
}

/* Reads the next block into pending, as much as the window takes (the
 * reader hands out at least one whole frame). 1: a block; 0: none now. */
static int replayer_read(shoal_archive_replayer_t *r)
{
    int64_t window = shoal_publication_position_limit(r->publication) - r->position;
    if (window <= 0)
    {
        return 0;
    }
    size_t max_length = (uint64_t)window < r->max_block_length ? (size_t)window : r->max_block_length;
    int64_t at;
    int rc = shoal_recording_reader_next_block(r->reader, &r->pending, &r->pending_length, &at, max_length);
    if (rc < 0)
    {
        return replayer_fail(r, NULL);
    }
    if (rc > 0 && at != r->position)
    {
        r->pending_length = 0;
        char why[128];
        snprintf(why, sizeof(why), "the recording reader gave a block at position %lld", (long long)at);
        return replayer_fail(r, why);
    }
    return rc;
}

int shoal_archive_replayer_do_work(shoal_archive_replayer_t *r)
{
    if (NULL == r)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_replayer_do_work: r must not be NULL");
    }
    if (r->done)
    {
        return 0;
    }
    if (!r->connected)
    {
        if (!shoal_publication_is_connected(r->publication))
        {
            return shoal_nano_time() > r->connect_deadline_ns ? replayer_fail(r, "no subscriber connected in time") : 0;
        }
        r->connected = true;
    }
    int work = 0;
    for (int i = 0; i < REPLAYER_BLOCKS_PER_WORK; i++)
    {
        if (0 == r->pending_length)
        {
            int rc = replayer_read(r);
            if (rc < 0)
            {
                return -1;
            }
            if (0 == rc)
            {
                if (shoal_recording_reader_is_done(r->reader))
                {
                    return replayer_finish(r) < 0 ? replayer_fail(r, NULL) : work + 1;
                }
                break;
            }
        }
        int64_t result = shoal_publication_offer_block(r->publication, r->pending, r->pending_length);
        if (result > 0)
        {
            r->position = result;
            r->pending_length = 0;
            work++;
        }
        else if (SHOAL_BACK_PRESSURED == result || SHOAL_ADMIN_ACTION == result)
        {
            break;
        }
        else
        {
            return replayer_fail(r,
                SHOAL_NOT_CONNECTED == result ? "the subscriber went away"
                    : SHOAL_CLOSED == result  ? "the replay publication was closed"
                                              : NULL);
        }
    }
    return work;
}

bool shoal_archive_replayer_is_done(const shoal_archive_replayer_t *r)
{
    return NULL == r || r->done;
}

bool shoal_archive_replayer_failed(const shoal_archive_replayer_t *r)
{
    return NULL != r && r->failed;
}

int64_t shoal_archive_replayer_position(const shoal_archive_replayer_t *r)
{
    return NULL == r ? shoal_set_err(SHOAL_EINVAL, "shoal_archive_replayer_position: r must not be NULL") : r->position;
}

int32_t shoal_archive_replayer_session_id(const shoal_archive_replayer_t *r)
{
    return NULL == r ? shoal_set_err(SHOAL_EINVAL, "shoal_archive_replayer_session_id: r must not be NULL")
                     : r->session_id;
}

int shoal_archive_replayer_set_stop(shoal_archive_replayer_t *r, int64_t stop_position)
{
    if (NULL == r)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_replayer_set_stop: r must not be NULL");
    }
    return shoal_recording_reader_set_stop(r->reader, stop_position);
}

int shoal_archive_replayer_close(shoal_archive_replayer_t *r)
{
    if (NULL == r)
    {
        return 0;
    }
    int rc = replayer_finish(r);
    if (shoal_recording_reader_close(r->reader) < 0)
    {
        rc = -1;
    }
    free(r);
    return rc;
}
