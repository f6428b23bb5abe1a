/*
 * Reads whole messages out of one term for a subscriber.
 *
 * Frames are read per the commit protocol in shoal_term_appender.h:
 * frame_length is load-acquired and a frame is only read once it is > 0.
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
} shoal_assembly_buffer_t;

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
 * of them. term_base_position is the stream position of term offset 0. */
shoal_term_read_result_t shoal_term_read_messages(const uint8_t *term, int32_t term_offset, int32_t term_length,
    int64_t term_base_position, size_t message_limit, shoal_term_message_handler_t handler, void *clientd,
    shoal_assembly_buffer_t *assembly);

#endif /* SHOAL_TERM_READER_H */
