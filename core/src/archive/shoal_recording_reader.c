/*
 * Raw block reader of a recording (see shoal_recording_reader.h).
 */
#include "archive/shoal_recording_reader.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/shoal_archive_format.h"
#include "archive/shoal_catalog_file.h"
#include "archive/shoal_recording_scan.h"
#include "archive/shoal_segment_file.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

#define MIN_BUFFER          (64 * 1024)
#define REFRESH_INTERVAL_NS 1000000

struct shoal_recording_reader_stct
{
    shoal_recording_descriptor_t d;
    int64_t position;
    int64_t limit; /* -1: following, end not known */
    bool to_stop;  /* length was -1: the limit is the stop when it appears */
    int64_t last_refresh_ns;
    shoal_segment_view_t segment;
    uint8_t *buffer;
    size_t capacity;
    char channel[SHOAL_CATALOG_CHANNEL_MAX];
    char source_identity[SHOAL_CATALOG_SOURCE_MAX];
    char dir[PATH_MAX];
};

static int ensure_buffer(shoal_recording_reader_t *rd, size_t length)
{
    if (length <= rd->capacity)
    {
        return 0;
    }
    uint8_t *grown = realloc(rd->buffer, length);
    if (grown == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "recording reader buffer of %zu bytes", length);
    }
    rd->buffer = grown;
    rd->capacity = length;
    return 0;
}

/* Reads [position, position + length) into the buffer: bytes read, or -1. */
static ssize_t read_at(shoal_recording_reader_t *rd, int64_t position, size_t length)
{
    if (ensure_buffer(rd, length) < 0)
    {
        return -1;
    }
    return shoal_segment_view_read(&rd->segment, rd->buffer, length, position);
}

static bool following(const shoal_recording_reader_t *rd)
{
    return rd->d.stop_position == -1;
}

int shoal_recording_reader_set_stop(shoal_recording_reader_t *rd, int64_t stop_position)
{
    if (rd == NULL || stop_position < rd->d.start_position)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_reader_set_stop: NULL reader or stop before the start");
    }
    rd->d.stop_position = stop_position;
    if (rd->to_stop || rd->limit > stop_position)
    {
        rd->limit = stop_position;
    }
    return 0;
}

/* Following: sees whether the catalog now shows the recording stopped. */
static void refresh_stop(shoal_recording_reader_t *rd)
{
    const int64_t now = shoal_nano_time();
    if (now - rd->last_refresh_ns < REFRESH_INTERVAL_NS)
    {
        return;
    }
    rd->last_refresh_ns = now;
    char path[PATH_MAX];
    const int fd = shoal_catalog_file_open_read(rd->dir, path, sizeof(path));
    if (fd < 0)
    {
        return; /* retried at the next refresh */
    }
    shoal_catalog_record_t rec;
    int32_t state;
    if (shoal_catalog_file_read_record(fd, path, rd->d.recording_id, &rec, &state) == 0 && rec.stop_position != -1)
    {
        rd->d.stop_timestamp_ns = rec.stop_timestamp_ns;
        shoal_recording_reader_set_stop(rd, rec.stop_position);
    }
    close(fd);
}

static int check_start(shoal_recording_reader_t *rd, int64_t position)
{
    if (position == rd->d.start_position || position == rd->d.stop_position)
    {
        return 0;
    }
    const int opened = shoal_segment_view_at(&rd->segment, rd->dir, &rd->d, position);
    if (opened != 0)
    {
        return opened < 0
            ? -1
            : shoal_set_err(SHOAL_EINVAL, "position %" PRId64 " of recording %" PRId64 " is past its recorded data",
                  position, rd->d.recording_id);
    }
    const ssize_t n = read_at(rd, position, SHOAL_DATA_HEADER_LENGTH);
    if (n < 0)
    {
        return -1;
    }
    const char *why = "";
    const shoal_frame_check_t check = shoal_recording_frame_check(&rd->d, rd->buffer, (size_t)n, position, &why);
    if (check == SHOAL_FRAME_VALID || (check == SHOAL_FRAME_SHORT && n == SHOAL_DATA_HEADER_LENGTH) ||
        (check == SHOAL_FRAME_UNWRITTEN && following(rd)))
    {
        return 0;
    }
    return shoal_set_err(SHOAL_EINVAL, "position %" PRId64 " of recording %" PRId64 " is not at a frame (%s)", position,
        rd->d.recording_id, check == SHOAL_FRAME_INVALID ? why : "no frame there");
}

int shoal_recording_reader_open(shoal_recording_reader_t **rd_out, const char *dir,
    const shoal_recording_descriptor_t *d, int64_t position, int64_t length)
{
    if (rd_out == NULL || dir == NULL || d == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_reader_open: NULL argument");
    }
    *rd_out = NULL;
    if (shoal_recording_geometry_check(d->start_position, d->term_length, d->segment_length) < 0)
    {
        return -1;
    }
    const int64_t from = position == -1 ? d->start_position : position;
    const int64_t end_known = d->stop_position;
    if (from < d->start_position || (end_known != -1 && from > end_known) || (from & (SHOAL_FRAME_ALIGNMENT - 1)) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "position %" PRId64 " is outside recording %" PRId64 " [%" PRId64 ", %" PRId64 "] or not 32-aligned", from,
            d->recording_id, d->start_position, end_known);
    }
    if (length < -1 || (length >= 0 && end_known != -1 && from + length > end_known))
    {
        return shoal_set_err(SHOAL_EINVAL,
            "length %" PRId64 " from %" PRId64 " reaches past the stop %" PRId64 " of recording %" PRId64, length, from,
            end_known, d->recording_id);
    }
    shoal_recording_reader_t *rd = calloc(1, sizeof(*rd));
    if (rd == NULL || strlen(dir) >= sizeof(rd->dir))
    {
        free(rd);
        return shoal_set_err(rd == NULL ? SHOAL_ENOMEM : SHOAL_EINVAL, "recording reader (or too long a path)");
    }
    rd->d = *d;
    snprintf(rd->channel, sizeof(rd->channel), "%s", d->channel != NULL ? d->channel : "");
    snprintf(rd->source_identity, sizeof(rd->source_identity), "%s",
        d->source_identity != NULL ? d->source_identity : "");
    rd->d.channel = rd->channel;
    rd->d.source_identity = rd->source_identity;
    strcpy(rd->dir, dir);
    rd->position = from;
    rd->to_stop = length == -1;
    rd->limit = length >= 0 ? from + length : end_known;
    shoal_segment_view_init(&rd->segment);
    if (ensure_buffer(rd, MIN_BUFFER) < 0 || check_start(rd, from) < 0)
    {
        shoal_recording_reader_close(rd);
        return -1;
    }
    *rd_out = rd;
    return 0;
}

bool shoal_recording_reader_is_done(const shoal_recording_reader_t *rd)
{
    return rd == NULL || (rd->limit >= 0 && rd->position >= rd->limit);
}

int64_t shoal_recording_reader_position(const shoal_recording_reader_t *rd)
{
    return rd != NULL ? rd->position : -1;
}

int64_t shoal_recording_reader_limit(const shoal_recording_reader_t *rd)
{
    return rd != NULL ? rd->limit : -1;
}

const shoal_recording_descriptor_t *shoal_recording_reader_descriptor(const shoal_recording_reader_t *rd)
{
    return rd != NULL ? &rd->d : NULL;
}

/* Nothing at the position: a live recording is not that far yet (0), a
 * stopped one is damaged (-1). */
static int nothing_there(shoal_recording_reader_t *rd, const char *what)
{
    if (following(rd))
    {
        refresh_stop(rd); /* if it stopped meanwhile, its last blocks are there now: the next call reads them */
        return 0;
    }
    return shoal_set_err(SHOAL_EIO,
        "recording %" PRId64 ": %s at position %" PRId64 " before its stop %" PRId64 " (%s)", rd->d.recording_id, what,
        rd->position, rd->d.stop_position, rd->segment.path);
}

int shoal_recording_reader_next_block(shoal_recording_reader_t *rd, const uint8_t **block, size_t *length,
    int64_t *position, size_t max_length)
{
    if (rd == NULL || block == NULL || length == NULL || position == NULL || max_length == 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_reader_next_block: NULL argument or max_length 0");
    }
    if (shoal_recording_reader_is_done(rd))
    {
        return 0;
    }
    const int64_t at = rd->position;
    const int opened = shoal_segment_view_at(&rd->segment, rd->dir, &rd->d, at);
    if (opened != 0)
    {
        return opened < 0 ? -1 : nothing_there(rd, "segment file missing");
    }
    int64_t want = ((at | (rd->d.term_length - 1)) + 1) - at; /* to the term end */
    if (rd->limit >= 0 && rd->limit - at < want)
    {
        want = rd->limit - at;
    }
    if ((int64_t)max_length < want)
    {
        want = (int64_t)max_length < SHOAL_DATA_HEADER_LENGTH ? SHOAL_DATA_HEADER_LENGTH : (int64_t)max_length;
    }
    ssize_t n = read_at(rd, at, (size_t)want);
    if (n < 0)
    {
        return -1;
    }
    size_t offset = 0;
    while (offset < (size_t)n)
    {
        const char *why = "";
        const int64_t frame_position = at + (int64_t)offset;
        shoal_frame_check_t check =
            shoal_recording_frame_check(&rd->d, rd->buffer + offset, (size_t)n - offset, frame_position, &why);
        if (check == SHOAL_FRAME_SHORT && offset == 0 && n >= SHOAL_DATA_HEADER_LENGTH)
        {
            /* One frame longer than max_length or than what is left to the limit. */
            const int32_t aligned = shoal_recording_frame_aligned_length(rd->buffer);
            if (rd->limit >= 0 && at + aligned > rd->limit)
            {
                rd->limit = at; /* the limit is inside this frame: end before it */
                return 0;
            }
            n = read_at(rd, at, (size_t)aligned);
            if (n < 0)
            {
                return -1;
            }
            check = shoal_recording_frame_check(&rd->d, rd->buffer, (size_t)n, at, &why);
        }
        if (check == SHOAL_FRAME_INVALID)
        {
            return shoal_set_err(SHOAL_EIO, "recording %" PRId64 ": corrupt frame at position %" PRId64 " in %s: %s",
                rd->d.recording_id, frame_position, rd->segment.path, why);
        }
        if (check != SHOAL_FRAME_VALID)
        {
            break; /* unwritten or cut by the read: the block ends before it */
        }
        const int32_t aligned = shoal_recording_frame_aligned_length(rd->buffer + offset);
        if (rd->limit >= 0 && frame_position + aligned > rd->limit)
        {
            if (offset == 0)
            {
                rd->limit = at;
                return 0;
            }
            break;
        }
        offset += (size_t)aligned;
    }
    if (offset == 0)
    {
        return nothing_there(rd, "no frame");
    }
    *block = rd->buffer;
    *length = offset;
    *position = at;
    rd->position = at + (int64_t)offset;
    return 1;
}

int shoal_recording_reader_close(shoal_recording_reader_t *rd)
{
    if (rd == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_reader_close: NULL reader");
    }
    shoal_segment_view_close(&rd->segment);
    free(rd->buffer);
    free(rd);
    return 0;
}
