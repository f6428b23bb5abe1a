/*
 * Reads whole messages out of one term for a subscriber.
 *
 * Frames are read per the commit protocol in shoal_term_appender.h:
 * frame_length is load-acquired and a frame is only read once it is > 0,
 * and, in a log not cleaned between laps, once its header is this lap's
 * (expect: shoal_frame_check.h; a cleaned log's expect has a mask of 0).
 *
 *  - PAD frames are consumed silently (padding_or_gap_skipped = true).
 *  - A DATA frame with BEGIN|END is handed to the handler in place (zero
 *    copy: buf points into the term). A zero-length one is a valid empty
 *    message (offered with length 0).
 *  - A DATA frame without BEGIN and without payload is a heartbeat:
 *    consumed silently.
 *  - A BEGIN-only frame starts a fragmented message. The reader looks ahead
 *    over the contiguous frames that follow:
 *      all committed up to the END fragment -> payloads are copied into the
 *        assembly buffer and the message is delivered once;
 *      one not yet committed -> the reader stops BEFORE the BEGIN frame
 *        (nothing of it consumed; it is retried on the next call, whose
 *        look-ahead resumes at that fragment: the assembly buffer remembers
 *        how far the committed fragments go);
 *      the chain is broken (a PAD, a new BEGIN, or the end of the term before
 *        END, e.g. after the driver unblocked a dead publisher) -> the broken
 *        fragments are skipped silently (padding_or_gap_skipped = true).
 *  - A fragment without BEGIN that does not continue a chain is an orphan
 *    (its head was unblocked): skipped silently.
 *
 * Handler results: ABORT = the message is not consumed and the read stops;
 * BREAK = consumed, stop; COMMIT and CONTINUE = consumed, go on (the caller
 * implements COMMIT by storing hdr->position itself).
 *
 * The header given to the handler describes the message: ids, term_id,
 * term_offset, frame_length, reserved_value of its first frame, flags
 * BEGIN|END (plus EOS if any fragment had it) for a reassembled message, and
 * position = term_base_position + the term offset just after its last frame.
 *
 * No system call; the only allocation is the assembly buffer growing (once)
 * when a fragmented message larger than its capacity arrives. If that
 * realloc fails the reader stops before the message with SHOAL_ENOMEM set.
 */
#ifndef SHOAL_TERM_READER_H
#define SHOAL_TERM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_frame_check.h"
#include "protocol/shoal_frames.h"
#include "shoal/shoal.h"

/* Reassembly storage for fragmented messages; zero-initialise it. */
typedef struct shoal_assembly_buffer_stct
{
    uint8_t *data;
    size_t capacity;
    /* Where the scan of a fragmented message whose fragments are not all
     * committed yet stopped: the next read resumes there instead of
     * re-reading the message from its BEGIN frame. */
    bool scanning;
    int64_t scan_begin_position;
    int32_t scan_offset;
    size_t scan_bytes;
    uint8_t scan_flags;
    /* How much of that message is already in data: the fragments before
     * copy_offset, copy_bytes of payload (see SHOAL_ASSEMBLY_COPY_LAG). */
    int32_t copy_offset;
    size_t copy_bytes;
} shoal_assembly_buffer_t;

/* While a fragmented message is still being written, the reader copies the
 * fragments committed at least this many bytes behind the first one not yet
 * committed, so that most of the copy overlaps the publisher's writing
 * instead of following it; the lines right behind the publisher are left
 * alone, as reading them while it writes the next ones slows it down. */
#ifndef SHOAL_ASSEMBLY_COPY_LAG
#define SHOAL_ASSEMBLY_COPY_LAG (4 * 1024)
#endif

void shoal_assembly_buffer_close(shoal_assembly_buffer_t *b);

/* Makes capacity >= length (realloc). 0, or -1 with SHOAL_ENOMEM. */
int shoal_assembly_buffer_ensure(shoal_assembly_buffer_t *b, size_t length);

typedef shoal_controlled_action_t (
    *shoal_term_message_handler_t)(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr);

typedef struct shoal_term_read_result_stct
{
    int32_t offset;              /* term offset after the last consumed frame */
    int32_t messages;            /* messages delivered and consumed (ABORTed ones not counted) */
    bool padding_or_gap_skipped; /* PAD frames, orphan or broken fragments were consumed */
} shoal_term_read_result_t;

/* Reads messages from term[term_offset..term_length), at most message_limit
 * of them. term_base_position is the stream position of term offset 0. The handler is called through a pointer; the
 * subscription's polls use shoal_term_read_inline instead. */
shoal_term_read_result_t shoal_term_read_messages(const uint8_t *term, int32_t term_offset, int32_t term_length,
    int64_t term_base_position, const shoal_frame_expect_t *expect, size_t message_limit,
    shoal_term_message_handler_t handler, void *clientd, shoal_assembly_buffer_t *assembly);

/* ---- the reader's loop, inlined into each poll so that its handler is a
 * known function the compiler inlines too (no indirect call, no header copy
 * per message); the rare fragmented branch stays out of line ---- */

typedef enum shoal_chain_read_en
{
    SHOAL_CHAIN_READ_STOP,    /* not all committed yet, or no memory: stop before it */
    SHOAL_CHAIN_READ_DELIVER, /* reassembled into assembly->data: *length bytes, *hdr filled */
    SHOAL_CHAIN_READ_SKIP     /* broken chain: consume up to *end_offset silently */
} shoal_chain_read_t;

/* The fragmented message whose BEGIN frame (committed, frame_length long) is
 * at offset. */
shoal_chain_read_t shoal_term_read_chain(const uint8_t *term, int32_t term_length, int64_t term_base_position,
    const shoal_frame_expect_t *expect, int32_t offset, int32_t frame_length, shoal_assembly_buffer_t *assembly,
    int32_t *end_offset, size_t *length, shoal_header_t *hdr);

static inline const shoal_data_header_t *shoal_term_frame_at(const uint8_t *term, int32_t offset)
{
    return (const shoal_data_header_t *)(term + offset);
}

static inline void shoal_term_header_fill(shoal_header_t *h, const shoal_data_header_t *f, uint8_t flags,
    int64_t position)
{
    h->session_id = f->session_id;
    h->stream_id = f->stream_id;
    h->term_id = f->term_id;
    h->term_offset = f->term_offset;
    h->frame_length = f->frame_header.frame_length;
    h->flags = flags;
    h->reserved_pad[0] = 0;
    h->reserved_pad[1] = 0;
    h->reserved_pad[2] = 0;
    h->reserved_value = f->reserved_value;
    h->position = position;
}

/* One message handed to the handler; false when the read stops here (ABORT
 * leaves the message unconsumed, BREAK consumes it). */
static SHOAL_ALWAYS_INLINE bool shoal_term_deliver(shoal_term_message_handler_t handler, void *clientd,
    const uint8_t *payload, size_t length, const shoal_header_t *hdr, int32_t end_offset, int32_t *offset,
    size_t *messages)
{
    const shoal_controlled_action_t action = handler(clientd, payload, length, hdr);
    if (SHOAL_ACTION_ABORT == action)
    {
        return false;
    }
    *offset = end_offset;
    (*messages)++;
    return SHOAL_ACTION_BREAK != action;
}

static SHOAL_ALWAYS_INLINE shoal_term_read_result_t shoal_term_read_inline(const uint8_t *term, int32_t term_offset,
    int32_t term_length, int64_t term_base_position, const shoal_frame_expect_t *expect, size_t message_limit,
    shoal_term_message_handler_t handler, void *clientd, shoal_assembly_buffer_t *assembly)
{
    shoal_term_read_result_t result = { term_offset, 0, false };
    int32_t offset = term_offset;
    size_t messages = 0;

    while (messages < message_limit && offset < term_length)
    {
        const int32_t frame_length = shoal_term_frame_length_checked(term, offset, expect);
        if (frame_length <= 0 || SHOAL_UNLIKELY(frame_length > term_length - offset))
        {
            break; /* not committed yet (or a corrupt length: never read past the term) */
        }

        const shoal_data_header_t *f = shoal_term_frame_at(term, offset);
        const int32_t aligned_length = SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        const uint8_t flags = f->frame_header.flags;

        if (SHOAL_LIKELY(f->frame_header.type == SHOAL_HDR_TYPE_DATA && frame_length >= SHOAL_DATA_HEADER_LENGTH &&
                (flags & SHOAL_FRAME_FLAG_UNFRAGMENTED) == SHOAL_FRAME_FLAG_UNFRAGMENTED))
        {
            /* The common case has a header of its own that never escapes to
             * an out-of-line call, so a handler the compiler inlines (a
             * batch poll's) costs no stores to it. */
            const int32_t end_offset = offset + aligned_length;
            shoal_header_t hdr;
            shoal_term_header_fill(&hdr, f, flags, term_base_position + end_offset);
            if (!shoal_term_deliver(handler, clientd, term + offset + SHOAL_DATA_HEADER_LENGTH,
                    (size_t)(frame_length - SHOAL_DATA_HEADER_LENGTH), &hdr, end_offset, &offset, &messages))
            {
                break;
            }
        }
        else if (f->frame_header.type != SHOAL_HDR_TYPE_DATA || frame_length < SHOAL_DATA_HEADER_LENGTH)
        {
            /* PAD (or anything that is not data): consume silently. */
            offset += aligned_length;
            result.padding_or_gap_skipped = true;
        }
        else if (flags & SHOAL_FRAME_FLAG_BEGIN)
        {
            shoal_header_t hdr;
            size_t length;
            int32_t end_offset;
            shoal_chain_read_t chain = shoal_term_read_chain(term, term_length, term_base_position, expect, offset,
                frame_length, assembly, &end_offset, &length, &hdr);
            if (SHOAL_CHAIN_READ_STOP == chain)
            {
                break;
            }
            if (SHOAL_CHAIN_READ_SKIP == chain)
            {
                offset = end_offset;
                result.padding_or_gap_skipped = true;
                continue;
            }
            if (!shoal_term_deliver(handler, clientd, assembly->data, length, &hdr, end_offset, &offset, &messages))
            {
                break;
            }
        }
        else
        {
            /* Heartbeat (no payload) or an orphan middle/END fragment whose
             * BEGIN was lost to an unblock: consume silently. */
            offset += aligned_length;
            if (frame_length > SHOAL_DATA_HEADER_LENGTH)
            {
                result.padding_or_gap_skipped = true;
            }
        }
    }

    result.offset = offset;
    result.messages = (int32_t)messages;
    return result;
}

#endif /* SHOAL_TERM_READER_H */
