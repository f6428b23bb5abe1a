/*
 * Unblocks a log whose consumers are stuck behind a frame a publisher
 * claimed but never committed (it died or stalled between claim and commit).
 *
 * The driver calls it when the consumer position has stayed at
 * blocked_offset (in term term_id) for the unblock timeout while the
 * producer tail (tail_offset in the same term, clamped to term_length) is
 * ahead:
 *  - frame_length < 0 at blocked_offset (claimed, not committed): the frame
 *    becomes a PAD frame of abs(frame_length) bytes             -> UNBLOCKED
 *  - no frame of this lap at blocked_offset (frame_length == 0, or, in an
 *    uncleaned log, last lap's bytes: shoal_frame_check.h): scans forward
 *    in 32-byte steps to the next frame of this lap (claimed or committed)
 *    before tail_offset; if nothing in between became one meanwhile, the
 *    range becomes one PAD frame                               -> UNBLOCKED
 *    if nothing is found up to the end of the term (tail tripped and the
 *    tripping writer never wrote its padding), pads to the end of the term
 *    and rotates the log (term count from metadata->initial_term_id)
 *                                                       -> UNBLOCKED_TO_END
 *    (an exclusive writer stuck between its tail and its header has
 *    nothing after it: NO_ACTION, unless its claim crossed the term end)
 *  - a committed frame that BEGINs a fragmented message: readers that
 *    reassemble in the log (IPC images) wait there until every fragment is
 *    committed, so a writer that died mid-message blocks them at a later
 *    fragment. The chain is followed to its first uncommitted fragment
 *    (before tail_offset), which is unblocked as above (same statuses);
 *    the reader then finds the chain broken and skips the message
 *  - otherwise (a committed frame, or a whole chain: consumers are just
 *    slow; a chain broken by another frame: readers skip it) -> NO_ACTION
 * PAD frames are written with the commit protocol (negative, header, then
 * positive length with release), from metadata's default header.
 */
#ifndef SHOAL_TERM_UNBLOCKER_H
#define SHOAL_TERM_UNBLOCKER_H

#include <stdbool.h>
#include <stdint.h>

#include "logbuffer/shoal_logbuffer_descriptor.h"

typedef enum shoal_unblock_status_en
{
    SHOAL_UNBLOCK_NO_ACTION,
    SHOAL_UNBLOCK_UNBLOCKED,
    SHOAL_UNBLOCK_UNBLOCKED_TO_END
} shoal_unblock_status_t;

shoal_unblock_status_t shoal_term_unblocker_unblock(shoal_logbuffer_metadata_t *meta, uint8_t *term,
    int32_t term_length, int32_t blocked_offset, int32_t tail_offset, int32_t term_id, bool uncleaned);

/*
 * Zeroes term[from..to) so the partition can be reused for term id + 3:
 * everything but the first 8 bytes, then the first 8 bytes (a
 * frame_length word) with a release store, so whoever acquires that word
 * also sees the rest zeroed. from must be 8-aligned. Callers publish the
 * cleaning to writers through their own release (e.g. a consumer position).
 */
void shoal_term_clean(uint8_t *term, int32_t from, int32_t to);

#endif /* SHOAL_TERM_UNBLOCKER_H */
