/*
 * Frame checks and recording scans (see shoal_recording_scan.h).
 */
#include "archive/shoal_recording_scan.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/shoal_archive_format.h"
#include "archive/shoal_segment_file.h"
#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

#define SCAN_CHUNK (1024 * 1024)

shoal_frame_check_t shoal_recording_frame_check(const shoal_recording_descriptor_t *d, const uint8_t *buf,
    size_t available, int64_t position, const char **why)
{
    if (available < SHOAL_DATA_HEADER_LENGTH)
    {
        return SHOAL_FRAME_SHORT;
    }
    shoal_data_header_t h;
    memcpy(&h, buf, sizeof(h));
    if (h.frame_header.frame_length == 0)
    {
        return SHOAL_FRAME_UNWRITTEN;
    }
    const int32_t term_length = d->term_length;
    const int32_t term_offset = (int32_t)(position & (term_length - 1));
    const int shift = __builtin_ctz((unsigned)term_length);
    const int32_t term_id = (int32_t)((uint32_t)d->initial_term_id + (uint32_t)(position >> shift));
    if (h.frame_header.frame_length < SHOAL_DATA_HEADER_LENGTH ||
        h.frame_header.frame_length > term_length - term_offset ||
        SHOAL_ALIGN(h.frame_header.frame_length, SHOAL_FRAME_ALIGNMENT) > term_length - term_offset)
    {
        *why = "frame length out of its term";
        return SHOAL_FRAME_INVALID;
    }
    if (h.frame_header.type == SHOAL_HDR_TYPE_DATA && h.frame_header.frame_length > d->mtu)
    {
        *why = "DATA frame longer than the recording's mtu";
        return SHOAL_FRAME_INVALID;
    }
    if (h.frame_header.version != SHOAL_FRAME_VERSION ||
        (h.frame_header.type != SHOAL_HDR_TYPE_DATA && h.frame_header.type != SHOAL_HDR_TYPE_PAD))
    {
        *why = "not a DATA or PAD frame";
        return SHOAL_FRAME_INVALID;
    }
    if (h.term_offset != term_offset || h.term_id != term_id)
    {
        *why = "term id or offset does not match the position";
        return SHOAL_FRAME_INVALID;
    }
    if (h.session_id != d->session_id || h.stream_id != d->stream_id)
    {
        *why = "session or stream id is not the recording's";
        return SHOAL_FRAME_INVALID;
    }
    if ((size_t)SHOAL_ALIGN(h.frame_header.frame_length, SHOAL_FRAME_ALIGNMENT) > available)
    {
        return SHOAL_FRAME_SHORT; /* the header is valid; the rest is not in the buffer */
    }
    return SHOAL_FRAME_VALID;
}

int32_t shoal_recording_frame_aligned_length(const uint8_t *frame)
{
    int32_t length;
    memcpy(&length, frame, sizeof(length));
    return SHOAL_ALIGN(length, SHOAL_FRAME_ALIGNMENT);
}

bool shoal_recording_frame_ends_message(const uint8_t *frame)
{
    const shoal_frame_header_t *h = (const shoal_frame_header_t *)frame;
    return h->type == SHOAL_HDR_TYPE_PAD || (h->flags & SHOAL_FRAME_FLAG_END) != 0;
}

typedef struct scan_state_stct
{
    const char *dir;
    const shoal_recording_descriptor_t *d;
    uint8_t *buf;
    shoal_segment_view_t segment;
} scan_state_t;

/* Reads the chunk at position (never past its term end or limit): bytes, or -1. */
static ssize_t scan_read(scan_state_t *s, int64_t position, int64_t limit)
{
    const int64_t term_end = (position | (s->d->term_length - 1)) + 1;
    int64_t want = term_end - position;
    if (limit >= 0 && limit - position < want)
    {
        want = limit - position;
    }
    if (want > SCAN_CHUNK)
    {
        want = SCAN_CHUNK;
    }
    return shoal_segment_view_read(&s->segment, s->buf, (size_t)want, position);
}

int shoal_recording_scan(const char *dir, const shoal_recording_descriptor_t *d, int64_t from, int64_t limit,
    shoal_recording_scan_t *out)
{
    memset(out, 0, sizeof(*out));
    out->frames_end = from;
    out->complete_end = from;
    scan_state_t s = { dir, d, malloc(SCAN_CHUNK), { -1, -1, { 0 } } };
    if (s.buf == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "recording scan buffer");
    }
    int rc = 0;
    int64_t position = from;
    bool stop = false;
    while (!stop && (limit < 0 || position < limit))
    {
        const int opened = shoal_segment_view_at(&s.segment, dir, d, position);
        if (opened != 0)
        {
            rc = opened < 0 ? -1 : 0;
            out->segment_missing = opened > 0;
            break;
        }
        const ssize_t n = scan_read(&s, position, limit);
        if (n < 0)
        {
            rc = -1;
            break;
        }
        size_t offset = 0;
        while (true)
        {
            const char *why = "";
            const shoal_frame_check_t check =
                shoal_recording_frame_check(d, s.buf + offset, (size_t)n - offset, position, &why);
            const bool pad_header = check == SHOAL_FRAME_SHORT && (size_t)n - offset >= SHOAL_DATA_HEADER_LENGTH &&
                ((const shoal_frame_header_t *)(s.buf + offset))->type == SHOAL_HDR_TYPE_PAD;
            if (check == SHOAL_FRAME_SHORT && !pad_header)
            {
                if (offset == 0 && (size_t)n >= SHOAL_DATA_HEADER_LENGTH)
                {
                    /* A frame longer than what is left to limit, or past the file's end. */
                    out->invalid = (limit < 0 || (size_t)n < (size_t)(limit - position));
                    snprintf(out->why, sizeof(out->why), "frame at %" PRId64 " is cut short", position);
                    stop = true;
                }
                else if (offset == 0)
                {
                    out->unwritten = true; /* the file ends (or limit reached) */
                    stop = true;
                }
                break;
            }
            if (check == SHOAL_FRAME_UNWRITTEN)
            {
                out->unwritten = true;
                stop = true;
                break;
            }
            if (check == SHOAL_FRAME_INVALID)
            {
                out->invalid = true;
                snprintf(out->why, sizeof(out->why), "frame at %" PRId64 ": %s", position, why);
                stop = true;
                break;
            }
            const int32_t aligned = shoal_recording_frame_aligned_length(s.buf + offset);
            const bool ends = shoal_recording_frame_ends_message(s.buf + offset);
            const bool is_pad = ((const shoal_frame_header_t *)(s.buf + offset))->type == SHOAL_HDR_TYPE_PAD;
            position += aligned;
            offset += (size_t)aligned;
            out->frames++;
            out->frames_end = position;
            if (ends)
            {
                out->complete_end = position;
                out->messages += is_pad ? 0 : 1;
            }
            if (offset >= (size_t)n || (limit >= 0 && position >= limit))
            {
                break;
            }
        }
    }
    shoal_segment_view_close(&s.segment);
    free(s.buf);
    return rc;
}
