/*
 * Term reader: whole messages out of a term, reassembling fragments. See
 * shoal_term_reader.h for the rules. Invariant kept by the loop: `offset` is
 * always the start of a frame that has not been consumed, and everything
 * before it has been delivered or skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_term_reader.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

void shoal_assembly_buffer_close(shoal_assembly_buffer_t *b)
{
    if (NULL != b)
    {
        free(b->data);
        b->data = NULL;
        b->capacity = 0;
        b->scanning = false;
    }
}

int shoal_assembly_buffer_ensure(shoal_assembly_buffer_t *b, size_t length)
{
    if (length <= b->capacity && NULL != b->data)
    {
        return 0; /* (a first, empty, reassembled message still gets a real buffer) */
    }
    size_t capacity = b->capacity < 4096 ? 4096 : b->capacity;
    while (capacity < length)
    {
        capacity *= 2;
    }
    uint8_t *data = (uint8_t *)realloc(b->data, capacity);
    if (NULL == data)
    {
        return shoal_set_err(SHOAL_ENOMEM, "cannot grow the fragment assembly buffer to %zu bytes", capacity);
    }
    b->data = data;
    b->capacity = capacity;
    return 0;
}

typedef enum chain_status_en
{
    CHAIN_COMPLETE,   /* END found; *end_offset after it, *total payload bytes */
    CHAIN_INCOMPLETE, /* a fragment is not committed yet: retry later */
    CHAIN_BROKEN      /* no END: *end_offset is where the broken chain stops */
} chain_status_t;

static bool assemble(const uint8_t *term, int32_t begin, int32_t end, uint8_t *dst, size_t total);

/* The scan stopped at frontier, a fragment not committed yet: copies the
 * committed fragments that end SHOAL_ASSEMBLY_COPY_LAG or more before it
 * (all checked by the scan) into the assembly buffer. */
static void copy_behind(const uint8_t *term, int32_t frontier, size_t frontier_bytes, shoal_assembly_buffer_t *assembly)
{
    int32_t end = assembly->copy_offset;
    size_t bytes = 0;
    while (end < frontier)
    {
        const int32_t frame_length = shoal_load_acquire(&shoal_term_frame_at(term, end)->frame_header.frame_length);
        const int32_t next = end + SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        if (frame_length < SHOAL_DATA_HEADER_LENGTH || next > frontier - SHOAL_ASSEMBLY_COPY_LAG)
        {
            break;
        }
        bytes += (size_t)(frame_length - SHOAL_DATA_HEADER_LENGTH);
        end = next;
    }
    if (0 == bytes || assembly->copy_bytes + bytes > frontier_bytes ||
        shoal_assembly_buffer_ensure(assembly, assembly->copy_bytes + bytes) < 0 ||
        !assemble(term, assembly->copy_offset, end, assembly->data + assembly->copy_bytes, bytes))
    {
        return; /* nothing yet, or no memory: the rest is copied at END */
    }
    assembly->copy_offset = end;
    assembly->copy_bytes += bytes;
}

/* Looks ahead over the fragments that follow the BEGIN frame at
 * begin_offset (already committed, of length begin_length). A scan that
 * stopped at a fragment not yet committed is resumed where it stopped (the
 * fragments before it are committed and stay so until this reader moves past
 * them), so a large message is not re-read from its start at every poll
 * while its publisher is still writing it; meanwhile the fragments far enough
 * behind the one not yet committed are copied (copy_behind). */
static chain_status_t scan_chain(const uint8_t *term, int32_t term_length, int64_t term_base_position,
    const shoal_frame_expect_t *expect, int32_t begin_offset, int32_t begin_length, shoal_assembly_buffer_t *assembly,
    int32_t *end_offset, size_t *total, uint8_t *flags_union)
{
    int32_t offset;
    size_t bytes;
    uint8_t flags;
    const int64_t begin_position = term_base_position + begin_offset;
    if (assembly->scanning && assembly->scan_begin_position == begin_position)
    {
        offset = assembly->scan_offset;
        bytes = assembly->scan_bytes;
        flags = assembly->scan_flags;
    }
    else
    {
        offset = begin_offset + SHOAL_ALIGN(begin_length, SHOAL_FRAME_ALIGNMENT);
        bytes = (size_t)(begin_length - SHOAL_DATA_HEADER_LENGTH);
        flags = shoal_term_frame_at(term, begin_offset)->frame_header.flags;
        assembly->copy_offset = begin_offset;
        assembly->copy_bytes = 0;
    }
    assembly->scanning = false;

    while (offset < term_length)
    {
        const int32_t frame_length = shoal_term_frame_length_checked(term, offset, expect);
        if (frame_length <= 0)
        {
            assembly->scanning = true;
            assembly->scan_begin_position = begin_position;
            assembly->scan_offset = offset;
            assembly->scan_bytes = bytes;
            assembly->scan_flags = flags;
            if (offset - assembly->copy_offset > 2 * SHOAL_ASSEMBLY_COPY_LAG)
            {
                copy_behind(term, offset, bytes, assembly);
            }
            return CHAIN_INCOMPLETE;
        }
        const shoal_data_header_t *f = shoal_term_frame_at(term, offset);
        if (f->frame_header.type != SHOAL_HDR_TYPE_DATA || (f->frame_header.flags & SHOAL_FRAME_FLAG_BEGIN) ||
            frame_length < SHOAL_DATA_HEADER_LENGTH || frame_length > term_length - offset)
        {
            *end_offset = offset;
            return CHAIN_BROKEN;
        }
        bytes += (size_t)(frame_length - SHOAL_DATA_HEADER_LENGTH);
        flags |= f->frame_header.flags;
        offset += SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        if (f->frame_header.flags & SHOAL_FRAME_FLAG_END)
        {
            *end_offset = offset;
            *total = bytes;
            *flags_union = flags;
            return CHAIN_COMPLETE;
        }
    }
    *end_offset = term_length;
    return CHAIN_BROKEN;
}

/* Copies the payloads of the complete chain [begin, end) into dst, which
 * holds total bytes. The lengths are read again: a writer that changed a
 * committed frame since the scan (only a broken or hostile one can) makes
 * this return false instead of copying out of bounds. */
static bool assemble(const uint8_t *term, int32_t begin, int32_t end, uint8_t *dst, size_t total)
{
    int32_t offset = begin;
    size_t copied = 0;
    while (offset < end)
    {
        const int32_t frame_length = shoal_load_acquire(&shoal_term_frame_at(term, offset)->frame_header.frame_length);
        if (frame_length < SHOAL_DATA_HEADER_LENGTH || frame_length > end - offset)
        {
            return false;
        }
        const size_t bytes = (size_t)(frame_length - SHOAL_DATA_HEADER_LENGTH);
        if (bytes > total - copied)
        {
            return false;
        }
        memcpy(dst + copied, term + offset + SHOAL_DATA_HEADER_LENGTH, bytes);
        copied += bytes;
        offset += SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
    }
    return copied == total && offset == end;
}

shoal_chain_read_t shoal_term_read_chain(const uint8_t *term, int32_t term_length, int64_t term_base_position,
    const shoal_frame_expect_t *expect, int32_t offset, int32_t frame_length, shoal_assembly_buffer_t *assembly,
    int32_t *end_offset, size_t *length, shoal_header_t *hdr)
{
    size_t total = 0;
    uint8_t flags_union = 0;
    chain_status_t status = scan_chain(term, term_length, term_base_position, expect, offset, frame_length, assembly,
        end_offset, &total, &flags_union);
    if (CHAIN_INCOMPLETE == status)
    {
        return SHOAL_CHAIN_READ_STOP;
    }
    if (CHAIN_BROKEN == status)
    {
        return SHOAL_CHAIN_READ_SKIP;
    }
    if (shoal_assembly_buffer_ensure(assembly, total) < 0)
    {
        return SHOAL_CHAIN_READ_STOP;
    }
    /* A scan that stopped on this message has copied its first fragments. */
    const bool resumed = assembly->copy_bytes > 0 && assembly->copy_offset > offset &&
        assembly->scan_begin_position == term_base_position + offset && assembly->copy_bytes <= total;
    const int32_t from = resumed ? assembly->copy_offset : offset;
    const size_t done = resumed ? assembly->copy_bytes : 0;
    assembly->copy_bytes = 0;
    if (!assemble(term, from, *end_offset, assembly->data + done, total - done))
    {
        return SHOAL_CHAIN_READ_SKIP;
    }
    *length = total;
    shoal_term_header_fill(hdr, shoal_term_frame_at(term, offset),
        (uint8_t)(SHOAL_FRAME_FLAG_UNFRAGMENTED | (flags_union & SHOAL_FRAME_FLAG_EOS)),
        term_base_position + *end_offset);
    return SHOAL_CHAIN_READ_DELIVER;
}

shoal_term_read_result_t shoal_term_read_messages(const uint8_t *term, int32_t term_offset, int32_t term_length,
    int64_t term_base_position, const shoal_frame_expect_t *expect, size_t message_limit,
    shoal_term_message_handler_t handler, void *clientd, shoal_assembly_buffer_t *assembly)
{
    return shoal_term_read_inline(term, term_offset, term_length, term_base_position, expect, message_limit, handler,
        clientd, assembly);
}
