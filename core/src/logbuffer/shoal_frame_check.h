/*
 * Which frames of a term are this lap's.
 *
 * Most logs are zeroed a term behind their slowest reader, so a length word
 * > 0 means a committed frame. A log marked laps_uncleaned (an IPC
 * publication's: shoal_log_buffer_mark_uncleaned) is not: past its tail lie
 * last lap's bytes, and a positive length word there is an old frame's, or
 * payload. There a frame is this lap's only if the two header words after
 * its length name this offset, session, stream and term:
 *
 *   writer: length = -length (claimed), then the words (store-release, so a
 *           reader that sees them sees the claim too), then the rest of the
 *           header and the payload, then length = +length (release)
 *   reader: length > 0 (acquire), the words match (acquire), then the length
 *           again (acquire): it is the claim or the commit of this lap, never
 *           last lap's, and > 0 only once committed
 *
 * The words are read only with atomic loads, so a reader meeting a writer
 * mid-header sees one value or the other, never a torn frame. Last lap's
 * bytes pass only if they hold, at this very offset, a header for this
 * offset of the same session, stream and term id three terms on: a payload
 * made to imitate the next lap's header, byte for byte.
 * In a cleaned log the check is a mask of 0 and always passes.
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
    uint64_t session_word; /* the word at 8 with a term_offset of 0 */
    uint64_t term_word;    /* the word at 16: stream id, term id */
    uint64_t mask;         /* all ones in an uncleaned log, 0 in a cleaned one */
} shoal_frame_expect_t;

/* The 8 bytes of two adjacent int32 header fields, as they lie in memory. */
static inline uint64_t shoal_frame_word(int32_t first, int32_t second)
{
    const int32_t fields[2] = { first, second };
    uint64_t word;
    memcpy(&word, fields, sizeof(word));
    return word;
}

/* The header word at field (8 or 16) of the frame at term + offset: frames
 * are 32-byte aligned, so the word is 8-byte aligned. */
static inline uint64_t *shoal_frame_word_at(const uint8_t *term, int32_t offset, size_t field)
{
    return (uint64_t *)__builtin_assume_aligned(term + offset + field, sizeof(uint64_t));
}

static inline shoal_frame_expect_t shoal_frame_expect(bool uncleaned, int32_t session_id, int32_t stream_id,
    int32_t term_id)
{
    const shoal_frame_expect_t e = { shoal_frame_word(0, session_id), shoal_frame_word(stream_id, term_id),
        uncleaned ? ~(uint64_t)0 : 0 };
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

/* Whether the header words of the frame at term + offset are this lap's
 * (always, in a cleaned log). */
static SHOAL_ALWAYS_INLINE bool shoal_frame_words_match(const uint8_t *term, int32_t offset,
    const shoal_frame_expect_t *expect)
{
    const uint64_t session_word =
        shoal_load_acquire(shoal_frame_word_at(term, offset, offsetof(shoal_data_header_t, term_offset)));
    const uint64_t term_word =
        shoal_load_acquire(shoal_frame_word_at(term, offset, offsetof(shoal_data_header_t, stream_id)));
    const uint64_t differs =
        (session_word ^ (expect->session_word | shoal_frame_word(offset, 0))) | (term_word ^ expect->term_word);
    return 0 == (differs & expect->mask);
}

/* The length word of the frame at term + offset: > 0 only for a frame of
 * this lap that is committed (0 for last lap's bytes). */
static SHOAL_ALWAYS_INLINE int32_t shoal_term_frame_length_checked(const uint8_t *term, int32_t offset,
    const shoal_frame_expect_t *expect)
{
    const int32_t *length_word = &((const shoal_data_header_t *)(term + offset))->frame_header.frame_length;
    const int32_t length = shoal_load_acquire(length_word);
    if (length <= 0)
    {
        return length;
    }
    if (SHOAL_UNLIKELY(!shoal_frame_words_match(term, offset, expect)))
    {
        return 0;
    }
    return shoal_load_acquire(length_word);
}

#endif /* SHOAL_FRAME_CHECK_H */
