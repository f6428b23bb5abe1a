/*
 * Appends frames into one term of a log buffer.
 *
 * Frame commit protocol (readers in other processes depend on it):
 *   1. frame_length = -frame_length, store-release (claimed, not committed)
 *   2. the term_offset/session_id and stream_id/term_id words, store-release
 *      (shoal_frame_check.h), then the rest of the header and the payload,
 *      with plain stores
 *   3. frame_length = +frame_length, store-release (committed)
 * A reader load-acquires frame_length and reads the frame only when > 0 (in
 * a log not cleaned between laps, and only when its header words are this
 * lap's: shoal_term_frame_length_checked). Nothing is written past a frame.
 * Padding frames (type PAD, flags of the default header, length = bytes to
 * the end of the term) follow the same protocol.
 *
 * Concurrent appenders (any number of threads) claim space with one
 * shoal_get_and_add on the partition's raw tail; a fragmented message claims
 * all its fragments at once, so they are contiguous. Exclusive appenders
 * (one writer) keep term_id/term_offset locally and store-release the tail.
 *
 * Results (int32_t):
 *   >= 0                          the term offset after the appended frame(s)
 *   SHOAL_TERM_APPENDER_TRIPPED   the message does not fit in this term; a
 *                                 PAD frame was written to the end of the
 *                                 term if this writer was the one to cross
 *                                 it. The caller must rotate the log
 *                                 (shoal_logbuffer_rotate_log) and return
 *                                 SHOAL_ADMIN_ACTION. (Also returned, after
 *                                 padding the claimed range, if the tail
 *                                 already belongs to a newer term than
 *                                 active_term_id: the log rotated under a
 *                                 descheduled caller; rotating is then a
 *                                 harmless no-op.)
 *   SHOAL_TERM_APPENDER_FAILED    bad argument (length can never fit a term,
 *                                 iov shorter than length); error set,
 *                                 nothing written, the tail untouched.
 *
 * No allocation and no system call on any path.
 */
#ifndef SHOAL_TERM_APPENDER_H
#define SHOAL_TERM_APPENDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shoal/shoal.h"
#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_frame_check.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "logbuffer/shoal_logbuffer_tsan.h"
#include "logbuffer/shoal_payload_copy.h"
#include "protocol/shoal_frames.h"

#define SHOAL_TERM_APPENDER_TRIPPED (-1)
#define SHOAL_TERM_APPENDER_FAILED  (-2)

/* ---- concurrent (tail_counter shared by all writers of the partition) ---- */

/* Claims a frame for length payload bytes (length <= max payload length);
 * fills claim (data, length, frame_) for shoal_term_claim_commit/abort. */
int32_t shoal_term_appender_claim(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, size_t length, shoal_claim_t *claim, int32_t active_term_id);

/* One frame (BEGIN|END) holding the bytes of iov[0..iovcnt) (length in total). */
int32_t shoal_term_appender_append_unfragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    int64_t reserved_value, int32_t active_term_id);

/* ceil(length / max_payload_length) frames: BEGIN on the first, END on the
 * last (both on a single frame). reserved_value goes in every fragment. */
int32_t shoal_term_appender_append_fragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    size_t max_payload_length, int64_t reserved_value, int32_t active_term_id);

/* ---- exclusive (single writer; term_offset is the writer's local tail) ---- */

int32_t shoal_exclusive_term_appender_claim(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, size_t length,
    shoal_claim_t *claim);

int32_t shoal_exclusive_term_appender_append_unfragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, const shoal_iovec_t *iov,
    size_t iovcnt, size_t length, int64_t reserved_value);

int32_t shoal_exclusive_term_appender_append_fragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, const shoal_iovec_t *iov,
    size_t iovcnt, size_t length, size_t max_payload_length, int64_t reserved_value);

/* Writes the header of a frame at offset: first the claim, one 8-byte store
 * with release of the negated length, the version, flags and type; then the
 * words readers of an uncleaned log check (shoal_frame_check.h); then the
 * reserved value. Few, wide stores: a reader spinning on this line can take
 * it back between two of the writer's stores, and the writer then has to
 * fetch it again; the shorter the sequence, the rarer that is (the 32 B
 * round trip's mean went from 98 to 95 ns with the claim in one store). */
static inline shoal_data_header_t *shoal_term_appender_header_write(uint8_t *term, int32_t offset, int32_t frame_length,
    int32_t term_id, const shoal_data_header_t *default_header, uint8_t flags, uint16_t type, int64_t reserved_value)
{
    shoal_data_header_t *hdr = (shoal_data_header_t *)(term + offset);
    const shoal_frame_header_t claim = { -frame_length, default_header->frame_header.version, flags, type };
    uint64_t claim_word;
    memcpy(&claim_word, &claim, sizeof(claim_word));

    shoal_logbuffer_tsan_before_write(term, term_id);
    shoal_store_release((uint64_t *)(void *)hdr, claim_word);
    shoal_frame_words_write(term, offset, default_header->session_id, default_header->stream_id, term_id);
    hdr->reserved_value = reserved_value;
    return hdr;
}

/* Pads the term from term_offset to its end (a PAD frame, when the exclusive
 * writer's claim crossed it): SHOAL_TERM_APPENDER_TRIPPED. */
int32_t shoal_exclusive_term_appender_pad_end(uint8_t *term, int32_t term_length, int32_t term_offset, int32_t term_id,
    const shoal_data_header_t *default_header);

/* Writes one whole frame of buf[0..length) at term_offset, claimed. */
static SHOAL_ALWAYS_INLINE void shoal_term_appender_write_bytes(uint8_t *term, int32_t term_offset, int32_t term_id,
    const shoal_data_header_t *default_header, const uint8_t *buf, size_t length)
{
    const int32_t frame_length = (int32_t)length + SHOAL_DATA_HEADER_LENGTH;
    shoal_data_header_t *hdr = shoal_term_appender_header_write(term, term_offset, frame_length, term_id,
        default_header, SHOAL_FRAME_FLAG_UNFRAGMENTED, SHOAL_HDR_TYPE_DATA, 0);
    shoal_payload_copy((uint8_t *)hdr + SHOAL_DATA_HEADER_LENGTH, buf, length);
    shoal_logbuffer_frame_commit(hdr, frame_length);
}

/* What a concurrent claim that did not land in active_term_id's term with
 * room does: pads what it took (SHOAL_TERM_APPENDER_TRIPPED). */
int32_t shoal_term_appender_claim_missed(uint8_t *term, int32_t term_length, const shoal_data_header_t *default_header,
    int32_t active_term_id, int64_t raw_tail, int64_t aligned_length);

/* One frame holding buf[0..length) (buf not NULL, length <= the mtu's
 * payload and the term's message limit: the caller checks): the common
 * offer, inlined into it, without the gather copy and the calls of the
 * general entries. Same protocol and results as the _append_unfragmented
 * entries. The exclusive one moves its own tail; the concurrent one adds to
 * the shared tail. */
static SHOAL_ALWAYS_INLINE int32_t shoal_exclusive_term_appender_append_bytes(uint8_t *term, int64_t *tail_counter,
    int32_t term_length, const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset,
    const uint8_t *buf, size_t length)
{
    const int64_t resulting_offset =
        (int64_t)term_offset + SHOAL_ALIGN((int32_t)length + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    shoal_store_release(tail_counter, (int64_t)(((uint64_t)(uint32_t)term_id << 32) + (uint64_t)resulting_offset));
    if (SHOAL_UNLIKELY(resulting_offset > term_length))
    {
        return shoal_exclusive_term_appender_pad_end(term, term_length, term_offset, term_id, default_header);
    }
    shoal_term_appender_write_bytes(term, term_offset, term_id, default_header, buf, length);
    return (int32_t)resulting_offset;
}

static SHOAL_ALWAYS_INLINE int32_t shoal_term_appender_append_bytes(uint8_t *term, int64_t *tail_counter,
    int32_t term_length, const shoal_data_header_t *default_header, int32_t active_term_id, const uint8_t *buf,
    size_t length)
{
    const int64_t aligned_length = SHOAL_ALIGN((int32_t)length + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    const int64_t raw_tail = shoal_get_and_add(tail_counter, aligned_length);
    const int64_t term_offset = raw_tail & 0xFFFFFFFFLL;
    if (SHOAL_UNLIKELY(
            shoal_logbuffer_term_id(raw_tail) != active_term_id || term_offset + aligned_length > term_length))
    {
        return shoal_term_appender_claim_missed(term, term_length, default_header, active_term_id, raw_tail,
            aligned_length);
    }
    shoal_term_appender_write_bytes(term, (int32_t)term_offset, active_term_id, default_header, buf, length);
    return (int32_t)(term_offset + aligned_length);
}

/* Aligned bytes a message of length takes in a term (all its fragments). */
int64_t shoal_term_appender_required_length(size_t length, size_t max_payload_length);

/* ---- claims (shoal_claim.c) ---- */

/* Commits a claimed frame: store-release of the positive frame length.
 * 0, or -1 (SHOAL_EINVAL/SHOAL_ESTATE) if claim is NULL or already done.
 * Clears the claim. */
int shoal_term_claim_commit(shoal_claim_t *claim);

/* Turns the claimed frame into padding readers skip (type PAD, then
 * positive length with release). Same results as commit. */
int shoal_term_claim_abort(shoal_claim_t *claim);

#endif /* SHOAL_TERM_APPENDER_H */
