/*
 * Which frames of a term are this lap's.
 *
 * Most logs are zeroed a term behind their slowest reader, so a length word
 * > 0 means a committed frame. A log marked laps_uncleaned (an IPC
 * publication's: shoal_log_buffer_mark_uncleaned) is not: past its tail lie
 * last lap's bytes, and a positive length word there is an old frame's, or
 * payload. There a frame is this lap's only if its header names this
 * stream and term (the stream_id|term_id word of its header):
 *
 *   writer: length = -length (claimed), then the term_offset|session_id and
 *           stream_id|term_id words (store-release, so a reader that sees
 *           them sees the claim too), then the rest of the header and the
 *           payload, then length = +length (release)
 *   reader: the stream_id|term_id word (acquire), then the length (acquire):
 *           when the word matches, the length is this lap's claim (< 0) or
 *           commit (> 0), never last lap's; when it does not, the frame is
 *           not this lap's
 *
 * The word is read only with atomic loads, so a reader meeting a writer
 * mid-header sees one value or the other, never a torn frame. Last lap's
 * frame at the same offset names a term id three lower; last lap's payload
 * passes only if it holds, 16 bytes past this very offset, the stream id
 * and the term id of three terms on (a payload made to imitate the next
 * lap's header). One word, not the term_offset|session_id one as well: the
 * reader's loop is the hot path of every poll, and a second word cost 12 %
 * of poll_batch's rate in bindings/lua/bench.lua's loop (docs/performance.md).
 * In a cleaned log nothing is compared.
 */
#ifndef SHOAL_FRAME_CHECK_H
#define SHOAL_FRAME_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"

/* What a reader expects in the header words of the frames of one term. */
typedef struct shoal_frame_expect_stct
{
    uint64_t term_word; /* the word at 16: stream id, term id */
    bool uncleaned;     /* the log is not zeroed between laps: check */
} shoal_frame_expect_t;

/* The 8 bytes of two adjacent int32 header fields, as they lie in memory. */
static inline uint64_t shoal_frame_word(int32_t first, int32_t second)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the same bytes as the copy below, in two integer ops instead of a
     * round trip through vector registers */
    return (uint64_t)(uint32_t)first | ((uint64_t)(uint32_t)second << 32);
#else
    const int32_t fields[2] = { first, second };
    uint64_t word;
    memcpy(&word, fields, sizeof(word));
    return word;
#endif
}

/* The header word at field (8 or 16) of the frame at term + offset: frames
 * are 32-byte aligned, so the word is 8-byte aligned. */
static inline uint64_t *shoal_frame_word_at(const uint8_t *term, int32_t offset, size_t field)
{
    return (uint64_t *)__builtin_assume_aligned(term + offset + field, sizeof(uint64_t));
}

static inline shoal_frame_expect_t shoal_frame_expect(bool uncleaned, int32_t stream_id, int32_t term_id)
{
    const shoal_frame_expect_t e = { shoal_frame_word(stream_id, term_id), uncleaned };
    return e;
}

/* The writer's side: the header words of the frame at term + offset, after
 * its claim (the negative length) and before anything else of it. */
static inline void shoal_frame_words_write(uint8_t *term, int32_t offset, int32_t session_id, int32_t stream_id,
    int32_t term_id)
{
    shoal_store_release(shoal_frame_word_at(term, offset, offsetof(shoal_data_header_t, term_offset)),
        shoal_frame_word(offset, session_id));
    shoal_store_release(shoal_frame_word_at(term, offset, offsetof(shoal_data_header_t, stream_id)),
        shoal_frame_word(stream_id, term_id));
}

/* The length word of the frame at term + offset as this lap's: > 0 for a
 * committed frame, < 0 for a claimed one, 0 for a frame not yet claimed or
 * last lap's bytes. In an uncleaned log the stream_id|term_id word is read
 * first, so a match orders the length load after the writer's claim: one
 * load more than a cleaned log's, from the line the reader reads anyway. */
static SHOAL_ALWAYS_INLINE int32_t shoal_term_frame_length_checked(const uint8_t *term, int32_t offset,
    const shoal_frame_expect_t *expect)
{
    const int32_t *const length_at = &((const shoal_data_header_t *)(term + offset))->frame_header.frame_length;
    if (expect->uncleaned)
    {
        const uint64_t term_word =
            shoal_load_acquire(shoal_frame_word_at(term, offset, offsetof(shoal_data_header_t, stream_id)));
        const int32_t length = shoal_load_acquire(length_at);
        return term_word == expect->term_word ? length : 0;
    }
    return shoal_load_acquire(length_at);
}

#endif /* SHOAL_FRAME_CHECK_H */
