/*
 * The public recording cursor (shoal_archive.h): raw blocks from the
 * recording reader, turned into messages as a subscription delivers them.
 * Fragments of one message may come in two blocks (a block ends where the
 * read did): the cursor assembles across blocks, and reports as its position
 * only ends of whole messages (or of padding between them).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "archive/shoal_archive_reader.h"
#include "archive/shoal_recording_reader.h"
#include "archive/shoal_time_index.h"
#include "logbuffer/shoal_term_reader.h"
#include "util/shoal_error.h"

#define CURSOR_BLOCK (1024 * 1024)

struct shoal_recording_cursor_stct
{
    shoal_archive_reader_t *reader;
    shoal_recording_reader_t *rd;
    shoal_time_index_reader_t times;
    const uint8_t *block;
    size_t block_length;
    size_t block_offset;
    int64_t block_position;
    bool times_refreshed; /* since the current block was read */
    int64_t position;
    int64_t timestamp_ns;
    int64_t start_timestamp_ns;
    bool assembling;
    shoal_header_t first; /* of the message being assembled */
    uint8_t flags;
    shoal_assembly_buffer_t assembly;
    size_t assembled;
};

int shoal_recording_cursor_open(shoal_recording_cursor_t **c_out, shoal_archive_reader_t *r, int64_t recording_id,
    int64_t position, int64_t length)
{
    if (c_out == NULL || r == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_cursor_open: NULL argument");
    }
    *c_out = NULL;
    shoal_recording_descriptor_t d;
    if (shoal_archive_reader_find(r, recording_id, &d) < 0)
    {
        return -1;
    }
    shoal_recording_cursor_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "recording cursor");
    }
    if (shoal_recording_reader_open(&c->rd, r->dir, &d, position, length) < 0)
    {
        free(c);
        return -1;
    }
    if (shoal_time_index_reader_open(&c->times, r->dir, recording_id) < 0)
    {
        shoal_recording_reader_close(c->rd);
        free(c);
        return -1;
    }
    c->reader = r;
    c->position = shoal_recording_reader_position(c->rd);
    c->start_timestamp_ns = d.start_timestamp_ns;
    c->timestamp_ns = d.start_timestamp_ns;
    r->cursors++;
    *c_out = c;
    return 0;
}

int shoal_recording_cursor_close(shoal_recording_cursor_t *c)
{
    if (c == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_cursor_close: NULL cursor");
    }
    c->reader->cursors--;
    shoal_recording_reader_close(c->rd);
    shoal_time_index_reader_close(&c->times);
    shoal_assembly_buffer_close(&c->assembly);
    free(c);
    return 0;
}

static int64_t time_of(shoal_recording_cursor_t *c, int64_t end)
{
    if (!c->times_refreshed && (c->times.count == 0 || c->times.entries[c->times.count - 1].position < end))
    {
        c->times_refreshed = true; /* a live (or unrecovered) recording's index grows behind its data */
        shoal_time_index_reader_refresh(&c->times);
    }
    return shoal_time_index_reader_time_at(&c->times, end, c->timestamp_ns);
}

static int append_fragment(shoal_recording_cursor_t *c, const uint8_t *payload, size_t length)
{
    if (shoal_assembly_buffer_ensure(&c->assembly, c->assembled + length) < 0)
    {
        return -1;
    }
    memcpy(c->assembly.data + c->assembled, payload, length);
    c->assembled += length;
    return 0;
}

/* Handles the frame at the cursor: 1 a message was delivered, 0 not, -1 error. */
static int on_frame(shoal_recording_cursor_t *c, shoal_fragment_handler_t h, void *clientd)
{
    const uint8_t *frame = c->block + c->block_offset;
    const shoal_data_header_t *f = (const shoal_data_header_t *)frame;
    const int32_t frame_length = f->frame_header.frame_length;
    const int64_t end = c->block_position + (int64_t)c->block_offset + SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
    const uint8_t flags = f->frame_header.flags;
    const uint8_t *payload = frame + SHOAL_DATA_HEADER_LENGTH;
    const size_t length = (size_t)(frame_length - SHOAL_DATA_HEADER_LENGTH);
    c->block_offset += (size_t)SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);

    if (f->frame_header.type != SHOAL_HDR_TYPE_DATA)
    {
        c->assembling = false; /* padding ends any chain (a broken one is dropped) */
        c->position = end;
        return 0;
    }
    if ((flags & SHOAL_FRAME_FLAG_UNFRAGMENTED) == SHOAL_FRAME_FLAG_UNFRAGMENTED)
    {
        shoal_header_t hdr;
        shoal_term_header_fill(&hdr, f, flags, end);
        c->assembling = false;
        c->position = end;
        c->timestamp_ns = time_of(c, end);
        h(clientd, payload, length, &hdr);
        return 1;
    }
    if (flags & SHOAL_FRAME_FLAG_BEGIN)
    {
        shoal_term_header_fill(&c->first, f, flags, end);
        c->assembling = true;
        c->assembled = 0;
        c->flags = flags;
        return append_fragment(c, payload, length) < 0 ? -1 : 0;
    }
    if (!c->assembling)
    {
        c->position = end; /* an orphan fragment (the cursor began mid-message): skipped */
        return 0;
    }
    if (append_fragment(c, payload, length) < 0)
    {
        return -1;
    }
    c->flags |= flags;
    if (!(flags & SHOAL_FRAME_FLAG_END))
    {
        return 0;
    }
    c->assembling = false;
    c->first.flags = (uint8_t)(c->flags & (SHOAL_FRAME_FLAG_UNFRAGMENTED | SHOAL_FRAME_FLAG_EOS));
    c->first.position = end;
    c->position = end;
    c->timestamp_ns = time_of(c, end);
    h(clientd, c->assembly.data, c->assembled, &c->first);
    return 1;
}

int shoal_recording_cursor_poll(shoal_recording_cursor_t *c, shoal_fragment_handler_t h, void *clientd,
    int fragment_limit)
{
    if (c == NULL || h == NULL || fragment_limit <= 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_cursor_poll: NULL argument or fragment_limit <= 0");
    }
    int delivered = 0;
    while (delivered < fragment_limit)
    {
        if (c->block_offset >= c->block_length)
        {
            size_t length;
            int64_t position;
            const int rc = shoal_recording_reader_next_block(c->rd, &c->block, &length, &position, CURSOR_BLOCK);
            if (rc <= 0)
            {
                return rc < 0 ? -1 : delivered;
            }
            c->block_length = length;
            c->block_offset = 0;
            c->block_position = position;
            c->times_refreshed = false;
        }
        const int rc = on_frame(c, h, clientd);
        if (rc < 0)
        {
            return -1;
        }
        delivered += rc;
    }
    return delivered;
}

bool shoal_recording_cursor_is_end(const shoal_recording_cursor_t *c)
{
    if (c == NULL)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_recording_cursor_is_end: NULL cursor");
        return false;
    }
    return c->block_offset >= c->block_length && shoal_recording_reader_is_done(c->rd);
}

int64_t shoal_recording_cursor_position(const shoal_recording_cursor_t *c)
{
    if (c == NULL)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_recording_cursor_position: NULL cursor");
        return -1;
    }
    return c->position;
}

int64_t shoal_recording_cursor_timestamp_ns(const shoal_recording_cursor_t *c)
{
    if (c == NULL)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_recording_cursor_timestamp_ns: NULL cursor");
        return -1;
    }
    return c->timestamp_ns;
}
