/*
 * Log buffer scanning of a corrupted term. A log is shared memory: any
 * process that can map it (every publisher and subscriber of the stream) can
 * leave anything in it, and a publisher can die half way through a frame.
 * The readers of a term must stay inside it whatever they find:
 *   - shoal_term_read_messages (subscriber poll, with fragment reassembly),
 *   - shoal_term_scan_for_availability (sender: what to put in a datagram),
 *   - shoal_term_scan_for_gap (receiver: where to NAK),
 *   - shoal_term_unblocker_unblock (driver: padding over a dead publisher).
 * Input: 16 bytes of parameters, then the term's bytes (rest zero). The term
 * is a heap block of exactly term_length bytes, so ASan sees any overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "logbuffer/shoal_term_reader.h"
#include "logbuffer/shoal_term_gap_scanner.h"
#include "logbuffer/shoal_term_unblocker.h"
#include "logbuffer/shoal_term_scanner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PARAMS 16

typedef struct reader_state_stct
{
    int32_t term_length;
    size_t total;
    int calls;
    uint8_t action;
} reader_state_t;

static shoal_controlled_action_t on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    reader_state_t *s = clientd;
    /* Touch every byte handed out: ASan checks it is real memory. */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
    {
        sum = (uint8_t)(sum + buf[i]);
    }
    (void)sum;
    if (hdr->term_offset < 0 && hdr->frame_length < 0)
    {
        s->total++;
    }
    s->total += len;
    s->calls++;
    switch ((s->action >> (s->calls % 4 * 2)) & 3)
    {
        case 0: return SHOAL_ACTION_CONTINUE;
        case 1: return SHOAL_ACTION_COMMIT;
        case 2: return SHOAL_ACTION_BREAK;
        default: return (s->calls & 1) ? SHOAL_ACTION_ABORT : SHOAL_ACTION_CONTINUE;
    }
}

static int32_t read_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PARAMS || size > PARAMS + 65536)
    {
        return -1;
    }
    const uint8_t *params = data;
    const uint8_t *content = data + PARAMS;
    size_t content_length = size - PARAMS;

    int32_t term_length = 1024;
    while ((size_t)term_length < content_length)
    {
        term_length *= 2;
    }
    uint8_t *term = malloc((size_t)term_length);
    shoal_logbuffer_metadata_t *meta = calloc(1, SHOAL_LOG_META_DATA_LENGTH);
    if (NULL == term || NULL == meta)
    {
        free(term);
        free(meta);
        return 0;
    }
    memset(term, 0, (size_t)term_length);
    memcpy(term, content, content_length);

    /* Offsets are frame aligned, as every caller's are. */
    const int32_t mask = term_length - 1;
    const int32_t start = (read_i32(params) & mask) & ~(SHOAL_FRAME_ALIGNMENT - 1);
    const int32_t tail = read_i32(params + 4);
    const int32_t term_id = read_i32(params + 8);
    const int32_t max_length = (int32_t)(params[12] | (params[13] << 8)) + SHOAL_DATA_HEADER_LENGTH;
    const uint8_t action = params[14];
    const uint8_t which = params[15];

    /* 1. Subscriber: every message, from the start and from the offset; in
     * a log cleaned or not (there a frame counts if its header names the
     * stream and term id of the first frame's). */
    const shoal_frame_expect_t expect = shoal_frame_expect(0 != (which & 8), read_i32(term + 16), read_i32(term + 20));
    reader_state_t state = { term_length, 0, 0, action };
    shoal_assembly_buffer_t assembly = { NULL, 0 };
    int32_t offset = 0 != (which & 1) ? start : 0;
    for (int round = 0; round < 64 && offset < term_length; round++)
    {
        shoal_term_read_result_t r = shoal_term_read_messages(term, offset, term_length, (int64_t)term_length * 5,
            &expect, 1 + (which >> 4), on_message, &state, &assembly);
        if (r.offset < offset || r.offset > term_length || (r.offset & (SHOAL_FRAME_ALIGNMENT - 1)) != 0)
        {
            abort(); /* the reader moved backwards, out of the term or off the frame grid */
        }
        if (r.offset == offset)
        {
            break;
        }
        offset = r.offset;
    }
    shoal_assembly_buffer_close(&assembly);

    /* 2. Sender: datagram-sized runs of committed frames. */
    int32_t scan = start;
    for (int round = 0; round < 64 && scan < term_length; round++)
    {
        int32_t padding = 0;
        int32_t available = shoal_term_scan_for_availability(term, scan, max_length, term_length, &padding);
        if (available < 0 || available > max_length || available > term_length - scan || padding < 0 ||
            (int64_t)scan + available + padding > term_length)
        {
            abort(); /* a datagram longer than asked for or a position outside the term */
        }
        if (0 == available)
        {
            break;
        }
        scan += available + padding;
    }

    /* 3. Receiver: the first gap at or after start, up to the tail. */
    int32_t limit = tail < 0 ? term_length : (tail & mask);
    int32_t gap = shoal_term_scan_for_gap(term, start, limit);
    if (start < limit && (gap < start || gap > limit))
    {
        abort();
    }

    /* 4. Driver: unblock at start with a fuzzed tail, then read the result. */
    meta->initial_term_id = (int32_t)((uint32_t)term_id - (uint32_t)(which & 3));
    meta->term_length = term_length;
    meta->default_frame_header_length = SHOAL_DATA_HEADER_LENGTH;
    memcpy(meta->default_frame_header, content, content_length < SHOAL_DATA_HEADER_LENGTH ? content_length : 0);
    (void)shoal_term_unblocker_unblock(meta, term, term_length, start, tail, term_id, 0 != (which & 4));
    shoal_assembly_buffer_t again = { NULL, 0 };
    (void)shoal_term_read_messages(term, start, term_length, 0, &expect, 1000, on_message, &state, &again);
    shoal_assembly_buffer_close(&again);

    free(term);
    free(meta);
    return 0;
}
