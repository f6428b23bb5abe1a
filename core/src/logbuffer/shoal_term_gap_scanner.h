/*
 * Receiver-side term scans over a log rebuilt from datagrams, where frames
 * arrive out of order and a gap is a run of zero length words at frame
 * boundaries (32-byte aligned). Length words are load-acquired: frames are
 * committed with a release store of their length, so any thread may scan.
 */
#ifndef SHOAL_TERM_GAP_SCANNER_H
#define SHOAL_TERM_GAP_SCANNER_H

#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"

/*
 * Scans term[from..limit) for the first gap: returns the offset of the
 * first frame whose frame_length is <= 0 (not committed), or limit if all
 * frames are committed (a frame reaching past limit counts as reaching it).
 */
int32_t shoal_term_scan_for_gap(const uint8_t *term, int32_t from, int32_t limit);

/* Where the gap starting at gap_start ends: the first frame boundary after
 * it whose length word is not zero, or limit. */
static inline int32_t shoal_term_gap_end(const uint8_t *term, int32_t gap_start, int32_t limit)
{
    int32_t gap_end = gap_start + SHOAL_FRAME_ALIGNMENT;
    while (gap_end < limit && 0 == shoal_load_relaxed((const int32_t *)(term + gap_end)))
    {
        gap_end += SHOAL_FRAME_ALIGNMENT;
    }
    return gap_end;
}

#endif
