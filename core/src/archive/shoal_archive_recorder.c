/* The recorder: recording subscriptions, one recording per image (shoal_archive_recorder.h). */
#include "archive/shoal_archive_recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/shoal_block_poll.h"
#include "util/shoal_array.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

/* The most one image hands the writer per cycle: big enough for few large
 * writes, small enough that one busy image does not starve the others. A
 * first frame longer than the limit goes whole. */
#define RECORDER_BLOCK_LIMIT (1024 * 1024)

int shoal_archive_recorder_init(shoal_archive_recorder_t *r, shoal_client_t *client, const char *archive_dir,
    int32_t segment_length, shoal_archive_fsync_policy_t fsync)
{
    memset(r, 0, sizeof(*r));
    r->client = client;
    r->segment_length = segment_length;
    r->fsync = fsync;
    return shoal_archive_catalog_open(&r->catalog, archive_dir, fsync);
}

static shoal_archive_recording_t *find_recording(const shoal_archive_recorder_t *r, int64_t subscription_id,
    int32_t *index)
{
    for (int32_t i = 0; i < r->recording_count; i++)
    {
        if (r->recordings[i]->subscription_id == subscription_id)
        {
            *index = i;
            return r->recordings[i];
        }
    }
    return NULL;
}

/* Ends one image's recording: the writer's close sets the stop position and
 * time in the catalog. */
static void stop_session(shoal_archive_recorder_t *r, shoal_archive_recording_session_t *s)
{
    if (NULL != s->writer && shoal_recording_writer_close(s->writer) < 0)
    {
        r->error_count++;
        fprintf(stderr, "shoal archive: recording %lld: %s\n", (long long)s->recording_id, shoal_errmsg());
    }
    s->writer = NULL;
}

static void free_recording(shoal_archive_recorder_t *r, shoal_archive_recording_t *rec)
{
    for (int32_t i = 0; i < rec->session_count; i++)
    {
        stop_session(r, &rec->sessions[i]);
    }
    if (NULL != rec->subscription)
    {
        shoal_subscription_close(rec->subscription);
    }
    free(rec->sessions);
    free(rec->channel);
    free(rec);
}

void shoal_archive_recorder_close(shoal_archive_recorder_t *r)
{
    for (int32_t i = 0; i < r->recording_count; i++)
    {
        free_recording(r, r->recordings[i]);
    }
    free(r->recordings);
    r->recordings = NULL;
    r->recording_count = 0;
    if (NULL != r->catalog)
    {
        shoal_archive_catalog_close(r->catalog);
        r->catalog = NULL;
    }
}

int64_t shoal_archive_recorder_start(shoal_archive_recorder_t *r, const char *channel, int32_t stream_id,
    shoal_archive_source_location_t source)
{
    for (int32_t i = 0; i < r->recording_count; i++)
    {
        if (r->recordings[i]->stream_id == stream_id && 0 == strcmp(r->recordings[i]->channel, channel))
        {
            return shoal_set_err(SHOAL_ECLASH, "%s stream %d is recorded already (subscription %lld)", channel,
                (int)stream_id, (long long)r->recordings[i]->subscription_id);
        }
    }
    /* A local UDP publication is read from its log (a spy), not received. */
    char uri[SHOAL_ARCHIVE_STRING_MAX + 16];
    bool spy = SHOAL_ARCHIVE_SOURCE_LOCAL == source && 0 == strncmp(channel, "aeron:udp", 9);
    snprintf(uri, sizeof(uri), "%s%s", spy ? "aeron-spy:" : "", channel);

    shoal_archive_recording_t *rec = calloc(1, sizeof(*rec));
    if (NULL == rec || NULL == (rec->channel = strdup(channel)))
    {
        free(rec);
        return shoal_set_err(SHOAL_ENOMEM, "start recording: out of memory");
    }
    rec->stream_id = stream_id;
    if (shoal_add_subscription(r->client, uri, stream_id, &rec->subscription) < 0)
    {
        free_recording(r, rec);
        return -1;
    }
    rec->subscription_id = shoal_subscription_registration_id(rec->subscription);
    if (shoal_pointer_list_add((void **)&r->recordings, &r->recording_count, &r->recording_capacity, rec) < 0)
    {
        free_recording(r, rec);
        return shoal_set_err(SHOAL_ENOMEM, "start recording: out of memory");
    }
    return rec->subscription_id;
}

int shoal_archive_recorder_stop(shoal_archive_recorder_t *r, int64_t subscription_id)
{
    int32_t index = 0;
    shoal_archive_recording_t *rec = find_recording(r, subscription_id, &index);
    if (NULL == rec)
    {
        return shoal_set_err(SHOAL_EINVAL, "no recording subscription %lld", (long long)subscription_id);
    }
    /* What the images committed before the stop is recorded too. */
    shoal_archive_recorder_do_work(r);
    shoal_pointer_list_remove((void **)r->recordings, &r->recording_count, rec);
    free_recording(r, rec);
    return 0;
}

static shoal_archive_recording_session_t *find_session(shoal_archive_recording_t *rec, int64_t image_correlation_id)
{
    for (int32_t i = 0; i < rec->session_count; i++)
    {
        if (rec->sessions[i].image_correlation_id == image_correlation_id)
        {
            return &rec->sessions[i];
        }
    }
    return NULL;
}

/* A new image: its catalog entry and writer, starting where the image starts. */
static shoal_archive_recording_session_t *start_session(shoal_archive_recorder_t *r, shoal_archive_recording_t *rec,
    const shoal_image_t *image)
{
    if (rec->session_count == rec->session_capacity)
    {
        int32_t capacity = 0 == rec->session_capacity ? 4 : 2 * rec->session_capacity;
        void *grown = realloc(rec->sessions, (size_t)capacity * sizeof(*rec->sessions));
        if (NULL == grown)
        {
            shoal_set_err(SHOAL_ENOMEM, "recording: out of memory");
            return NULL;
        }
        rec->sessions = grown;
        rec->session_capacity = capacity;
    }
    const shoal_logbuffer_metadata_t *meta = image->meta;
    /* Segments hold whole terms: never shorter than a term. */
    int32_t segment_length = r->segment_length < image->term_length ? image->term_length : r->segment_length;
    shoal_recording_descriptor_t d = { 0 };
    d.start_position = image->position;
    d.start_timestamp_ns = shoal_epoch_ns();
    d.initial_term_id = meta->initial_term_id;
    d.term_length = image->term_length;
    d.mtu = meta->mtu_length;
    d.segment_length = segment_length;
    d.session_id = image->session_id;
    d.stream_id = image->stream_id;
    d.channel = rec->channel;
    d.source_identity = image->source_identity;

    shoal_archive_recording_session_t *s = &rec->sessions[rec->session_count];
    memset(s, 0, sizeof(*s));
    s->image_correlation_id = image->correlation_id;
    s->position = d.start_position;
    s->recording_id = shoal_archive_catalog_add_recording(r->catalog, &d);
    if (s->recording_id < 0 ||
        shoal_recording_writer_open(&s->writer, r->catalog, s->recording_id, d.start_position, d.initial_term_id,
            d.term_length, segment_length, r->fsync) < 0)
    {
        r->error_count++;
        fprintf(stderr, "shoal archive: cannot record session %d of %s stream %d: %s\n", (int)d.session_id,
            rec->channel, (int)d.stream_id, shoal_errmsg());
        s->writer = NULL;
    }
    rec->session_count++;
    return s;
}

static void on_block(void *clientd, shoal_image_t *image, const uint8_t *frames, size_t length, int64_t position)
{
    (void)image;
    shoal_archive_recording_session_t *s = clientd;
    if (NULL == s->writer)
    {
        return; /* a failed recording: the image is drained, not recorded */
    }
    /* Written from the log as it is: a copy to a private buffer first cost
     * more than it saved (docs/performance.md, archive recording). */
    if (shoal_recording_writer_write(s->writer, frames, length, position, shoal_epoch_ns()) < 0)
    {
        fprintf(stderr, "shoal archive: recording %lld stops at %lld: %s\n", (long long)s->recording_id,
            (long long)s->position, shoal_errmsg());
        shoal_recording_writer_close(s->writer);
        s->writer = NULL;
        return;
    }
    s->position = position + (int64_t)length;
}

static int record_images(shoal_archive_recorder_t *r, shoal_archive_recording_t *rec)
{
    const shoal_image_list_t *list = shoal_subscription_poller_images(rec->subscription);
    for (int32_t i = 0; i < rec->session_count; i++)
    {
        rec->sessions[i].seen = false;
    }
    int64_t bytes = 0;
    for (int32_t i = 0; NULL != list && i < list->count; i++)
    {
        shoal_image_t *image = list->images[i];
        shoal_archive_recording_session_t *s = find_session(rec, image->correlation_id);
        if (NULL == s && NULL == (s = start_session(r, rec, image)))
        {
            continue;
        }
        s->seen = true;
        bytes += shoal_image_block_poll(image, on_block, s, RECORDER_BLOCK_LIMIT);
    }
    /* Images that left the subscription: their recordings end. */
    for (int32_t i = 0; i < rec->session_count;)
    {
        if (!rec->sessions[i].seen)
        {
            stop_session(r, &rec->sessions[i]);
            rec->sessions[i] = rec->sessions[--rec->session_count];
        }
        else
        {
            i++;
        }
    }
    return bytes > INT32_MAX ? INT32_MAX : (int)bytes;
}

int shoal_archive_recorder_do_work(shoal_archive_recorder_t *r)
{
    int64_t bytes = 0;
    for (int32_t i = 0; i < r->recording_count; i++)
    {
        bytes += record_images(r, r->recordings[i]);
    }
    return bytes > INT32_MAX ? INT32_MAX : (int)bytes;
}

int64_t shoal_archive_recorder_position(const shoal_archive_recorder_t *r, int64_t recording_id)
{
    for (int32_t i = 0; i < r->recording_count; i++)
    {
        const shoal_archive_recording_t *rec = r->recordings[i];
        for (int32_t j = 0; j < rec->session_count; j++)
        {
            if (rec->sessions[j].recording_id == recording_id && NULL != rec->sessions[j].writer)
            {
                return rec->sessions[j].position;
            }
        }
    }
    return -1;
}
