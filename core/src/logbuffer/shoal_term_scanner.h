/*
 * Sender-side term scan: how many bytes of committed frames, starting at
 * offset, fit in one datagram of max_length bytes.
 *
 * Frames are taken whole and back to back (32-byte aligned) while
 * committed (frame_length > 0, load-acquired: publishers in other processes
 * commit with a release store). A PAD frame ends the scan: only its header
 * travels (the receiver pads the rest of the term) and *padding gets the
 * bytes it covers beyond the header, so the sender position advances by
 * available + padding. Returns 0 when the first frame is not committed or
 * does not fit. A frame whose length runs past the term end is treated as
 * not committed, so offset + available + padding never leaves the term.
 */
#ifndef SHOAL_TERM_SCANNER_H
#define SHOAL_TERM_SCANNER_H

#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"

static inline int32_t shoal_term_scan_for_availability(const uint8_t *term, int32_t offset, int32_t max_length,
    int32_t term_length, int32_t *padding)
{
    int32_t limit = term_length - offset;
    if (max_length < limit)
    {
        limit = max_length;
    }
    int32_t available = 0;
    *padding = 0;
    while (available < limit)
    {
        const uint8_t *frame = term + offset + available;
        int32_t frame_length = shoal_load_acquire((const int32_t *)frame);
        if (frame_length <= 0 || frame_length > term_length - offset - available)
        {
            /* Not committed yet, or a corrupt length (the log is shared
             * memory) that would carry the position past the term end:
             * nothing from here on is sent. */
            break;
        }
        int32_t aligned = SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        uint16_t type = *(const uint16_t *)(frame + SHOAL_FRAME_TYPE_OFFSET);
        if (SHOAL_HDR_TYPE_PAD == type)
        {
            if (available + SHOAL_DATA_HEADER_LENGTH <= limit)
            {
                *padding = aligned - SHOAL_DATA_HEADER_LENGTH;
                available += SHOAL_DATA_HEADER_LENGTH;
            }
            break;
        }
        if (available + aligned > limit)
        {
            break;
        }
        available += aligned;
    }
    return available;
}

#endif
