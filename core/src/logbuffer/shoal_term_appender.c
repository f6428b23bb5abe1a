/*
 * Term appenders: the publisher side of the frame commit protocol described
 * in shoal_term_appender.h. Everything here is on the offer hot path: no
 * allocation, no system call, one atomic add (concurrent) or one release
 * store (exclusive) on the tail.
 */
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "logbuffer/shoal_logbuffer_tsan.h"
#include "logbuffer/shoal_term_appender.h"
#include "util/shoal_error.h"

static inline void term_appender_frame_commit(shoal_data_header_t *hdr, int32_t frame_length)
{
    shoal_logbuffer_frame_commit(hdr, frame_length);
}

/* Pads term[term_offset..term_length) if this writer crossed the end. */
static int32_t term_appender_handle_end_of_log(uint8_t *term, int32_t term_length, int64_t term_offset, int32_t term_id,
    const shoal_data_header_t *default_header)
{
    if (term_offset < term_length)
    {
        const int32_t padding_length = term_length - (int32_t)term_offset;
        shoal_data_header_t *hdr = shoal_term_appender_header_write(term, (int32_t)term_offset, padding_length, term_id,
            default_header, default_header->frame_header.flags, SHOAL_HDR_TYPE_PAD, default_header->reserved_value);
        term_appender_frame_commit(hdr, padding_length);
    }
    return SHOAL_TERM_APPENDER_TRIPPED;
}

/* Gather copy: copies len bytes starting at the iov cursor (*idx, *off). */
static inline void iov_copy(uint8_t *dst, size_t len, const shoal_iovec_t *iov, size_t iovcnt, size_t *idx, size_t *off)
{
    while (len > 0 && *idx < iovcnt)
    {
        size_t avail = iov[*idx].length - *off;
        size_t n = avail < len ? avail : len;
        if (n > 0)
        {
            memcpy(dst, iov[*idx].base + *off, n);
            dst += n;
            len -= n;
            *off += n;
        }
        if (*off == iov[*idx].length)
        {
            (*idx)++;
            *off = 0;
        }
    }
}

static int check_iov(const shoal_iovec_t *iov, size_t iovcnt, size_t length)
{
    size_t total = 0;
    for (size_t i = 0; i < iovcnt; i++)
    {
        if (NULL == iov[i].base && iov[i].length > 0)
        {
            return shoal_set_err(SHOAL_EINVAL, "iov[%zu] has NULL base and length %zu", i, iov[i].length);
        }
        total += iov[i].length;
    }
    if (total < length)
    {
        return shoal_set_err(SHOAL_EINVAL, "iov holds %zu bytes, fewer than length %zu", total, length);
    }
    return 0;
}

int64_t shoal_term_appender_required_length(size_t length, size_t max_payload_length)
{
    if (length > (size_t)INT32_MAX)
    {
        return INT64_MAX; /* never fits a term */
    }
    if (0 == max_payload_length || length <= max_payload_length)
    {
        return SHOAL_ALIGN((int64_t)length + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    }
    const int64_t full_frames = (int64_t)(length / max_payload_length);
    const int64_t remaining = (int64_t)(length % max_payload_length);
    const int64_t full_frame_length =
        SHOAL_ALIGN((int64_t)max_payload_length + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    const int64_t last_frame_length =
        remaining > 0 ? SHOAL_ALIGN(remaining + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT) : 0;
    return full_frames * full_frame_length + last_frame_length;
}

/* Checked before computing the required length so the arithmetic cannot
 * overflow for absurd lengths. */
static inline int check_raw_length(size_t length, int32_t term_length)
{
    if (SHOAL_UNLIKELY(length > (size_t)term_length))
    {
        return shoal_set_err(SHOAL_EMSGSIZE, "message of %zu bytes is longer than the term length %d", length,
            term_length);
    }
    return 0;
}

static inline int check_length(int64_t required_length, int32_t term_length, size_t length)
{
    if (SHOAL_UNLIKELY(required_length > term_length))
    {
        return shoal_set_err(SHOAL_EMSGSIZE, "message of %zu bytes needs %lld bytes, more than the term length %d",
            length, (long long)required_length, term_length);
    }
    return 0;
}

/* The length a message of length bytes claims in the term: fragmented into
 * max_payload_length pieces or whole; gather: the payload is in iov (else a
 * claim, filled by the caller later). SHOAL_TERM_APPENDER_FAILED with the
 * error set when it can never fit. Inline with constant flags at each
 * caller: the same checks as written out there. */
static inline int64_t checked_length(int32_t term_length, size_t length, bool fragmented, size_t max_payload_length,
    bool gather, const shoal_iovec_t *iov, size_t iovcnt)
{
    if (fragmented && 0 == max_payload_length)
    {
        shoal_set_err(SHOAL_EINVAL, "max payload length is 0");
        return SHOAL_TERM_APPENDER_FAILED;
    }
    if (check_raw_length(length, term_length) < 0)
    {
        return SHOAL_TERM_APPENDER_FAILED;
    }
    const int64_t required_length = shoal_term_appender_required_length(length, fragmented ? max_payload_length : 0);
    if (check_length(required_length, term_length, length) < 0 || (gather && check_iov(iov, iovcnt, length) < 0))
    {
        return SHOAL_TERM_APPENDER_FAILED;
    }
    return required_length;
}

/* Writes the frames of a message at term_offset (space already claimed). */
static void write_unfragmented(uint8_t *term, int32_t term_offset, int32_t term_id,
    const shoal_data_header_t *default_header, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    int64_t reserved_value)
{
    const int32_t frame_length = (int32_t)length + SHOAL_DATA_HEADER_LENGTH;
    shoal_data_header_t *hdr = shoal_term_appender_header_write(term, term_offset, frame_length, term_id,
        default_header, SHOAL_FRAME_FLAG_UNFRAGMENTED, SHOAL_HDR_TYPE_DATA, reserved_value);
    size_t idx = 0, off = 0;

    iov_copy(term + term_offset + SHOAL_DATA_HEADER_LENGTH, length, iov, iovcnt, &idx, &off);
    term_appender_frame_commit(hdr, frame_length);
}

static void write_fragmented(uint8_t *term, int32_t term_offset, int32_t term_id,
    const shoal_data_header_t *default_header, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    size_t max_payload_length, int64_t reserved_value)
{
    uint8_t flags = SHOAL_FRAME_FLAG_BEGIN;
    size_t remaining = length;
    int32_t offset = term_offset;
    size_t idx = 0, off = 0;

    do
    {
        const size_t bytes = remaining < max_payload_length ? remaining : max_payload_length;
        const int32_t frame_length = (int32_t)bytes + SHOAL_DATA_HEADER_LENGTH;
        const int32_t aligned_length = SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        remaining -= bytes;
        if (0 == remaining)
        {
            flags |= SHOAL_FRAME_FLAG_END;
        }
        shoal_data_header_t *hdr = shoal_term_appender_header_write(term, offset, frame_length, term_id, default_header,
            flags, SHOAL_HDR_TYPE_DATA, reserved_value);
        iov_copy(term + offset + SHOAL_DATA_HEADER_LENGTH, bytes, iov, iovcnt, &idx, &off);
        term_appender_frame_commit(hdr, frame_length);

        flags = 0;
        offset += aligned_length;
    }
    while (remaining > 0);
}

static void write_claim(uint8_t *term, int32_t term_offset, int32_t term_id, const shoal_data_header_t *default_header,
    size_t length, shoal_claim_t *claim)
{
    const int32_t frame_length = (int32_t)length + SHOAL_DATA_HEADER_LENGTH;
    shoal_data_header_t *hdr = shoal_term_appender_header_write(term, term_offset, frame_length, term_id,
        default_header, SHOAL_FRAME_FLAG_UNFRAGMENTED, SHOAL_HDR_TYPE_DATA, default_header->reserved_value);

    claim->data = term + term_offset + SHOAL_DATA_HEADER_LENGTH;
    claim->length = length;
    claim->frame_ = hdr;
}

/* ---- the two kinds of tail ---- */

/* Claims aligned_length on the shared tail. Returns the term offset of the
 * claim, or TRIPPED (after padding if this claim crossed the end). */
/* Where a claim on the shared tail landed: its term offset, or TRIPPED
 * after padding if it crossed the end or landed in a newer term. */
static inline int64_t concurrent_claim_outcome(uint8_t *term, int32_t term_length,
    const shoal_data_header_t *default_header, int64_t aligned_length, int32_t term_id, int64_t term_offset,
    int32_t tail_term_id)
{
    if (SHOAL_UNLIKELY(tail_term_id != term_id))
    {
        /* The partition was rotated to a newer term between the caller
         * reading the tail and this add (the caller was descheduled for a
         * long time). The claimed range belongs to that term: fill it with
         * padding so readers are not blocked, and make the caller retry. */
        if (term_offset + aligned_length <= term_length)
        {
            shoal_data_header_t *hdr = shoal_term_appender_header_write(term, (int32_t)term_offset,
                (int32_t)aligned_length, tail_term_id, default_header, default_header->frame_header.flags,
                SHOAL_HDR_TYPE_PAD, default_header->reserved_value);
            term_appender_frame_commit(hdr, (int32_t)aligned_length);
            return SHOAL_TERM_APPENDER_TRIPPED;
        }
        return term_appender_handle_end_of_log(term, term_length, term_offset, tail_term_id, default_header);
    }
    if (term_offset + aligned_length > term_length)
    {
        return term_appender_handle_end_of_log(term, term_length, term_offset, term_id, default_header);
    }
    return term_offset;
}

/* Claims aligned_length on the shared tail. Returns the term offset of the
 * claim, or TRIPPED (after padding if this claim crossed the end). */
static inline int64_t concurrent_claim(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int64_t aligned_length, int32_t term_id)
{
    const int64_t raw_tail = shoal_get_and_add(tail_counter, aligned_length);
    return concurrent_claim_outcome(term, term_length, default_header, aligned_length, term_id, raw_tail & 0xFFFFFFFFLL,
        shoal_logbuffer_term_id(raw_tail));
}

/* Moves the local tail by aligned_length (store-release of the raw tail,
 * which may pass term_length like a concurrent trip). Returns the offset of
 * the claim or TRIPPED after padding. */
static inline int64_t exclusive_claim(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, int64_t aligned_length)
{
    const int64_t resulting_offset = (int64_t)term_offset + aligned_length;

    shoal_store_release(tail_counter, (int64_t)(((uint64_t)(uint32_t)term_id << 32) + (uint64_t)resulting_offset));
    if (resulting_offset > term_length)
    {
        return term_appender_handle_end_of_log(term, term_length, term_offset, term_id, default_header);
    }
    return term_offset;
}

/* ---- one append, either kind of tail ---- */

/* What one call appends: a frame left for the caller to fill (CLAIM), or a
 * message gathered from iov in one frame (WHOLE) or in fragments of
 * max_payload_length (FRAGMENTS). Built as a constant at each public entry,
 * so the inlined append keeps only that entry's branch. */
typedef enum term_appender_kind_en
{
    TERM_APPENDER_CLAIM,
    TERM_APPENDER_WHOLE,
    TERM_APPENDER_FRAGMENTS
} term_appender_kind_t;

typedef struct term_appender_message_stct
{
    term_appender_kind_t kind;
    size_t length;
    const shoal_iovec_t *iov;
    size_t iovcnt;
    size_t max_payload_length;
    int64_t reserved_value;
    shoal_claim_t *claim;
} term_appender_message_t;

/* The steps of every append: the length it needs (FAILED if it can never
 * fit), the claim on the tail (TRIPPED after padding at the term end), the
 * frames; returns the term offset after them. exclusive: the publisher's
 * own tail, moved from term_offset by a release store; else the shared tail,
 * moved by one atomic add. */
static SHOAL_ALWAYS_INLINE int32_t term_appender_append(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, bool exclusive, int32_t term_offset,
    const term_appender_message_t *m)
{
    const int64_t aligned_length = checked_length(term_length, m->length, TERM_APPENDER_FRAGMENTS == m->kind,
        m->max_payload_length, TERM_APPENDER_CLAIM != m->kind, m->iov, m->iovcnt);
    if (aligned_length < 0)
    {
        return SHOAL_TERM_APPENDER_FAILED;
    }
    const int64_t offset = exclusive
        ? exclusive_claim(term, tail_counter, term_length, default_header, term_id, term_offset, aligned_length)
        : concurrent_claim(term, tail_counter, term_length, default_header, aligned_length, term_id);
    if (offset < 0)
    {
        return (int32_t)offset;
    }
    switch (m->kind)
    {
        case TERM_APPENDER_CLAIM:
            write_claim(term, (int32_t)offset, term_id, default_header, m->length, m->claim);
            break;
        case TERM_APPENDER_WHOLE:
            write_unfragmented(term, (int32_t)offset, term_id, default_header, m->iov, m->iovcnt, m->length,
                m->reserved_value);
            break;
        case TERM_APPENDER_FRAGMENTS:
            write_fragmented(term, (int32_t)offset, term_id, default_header, m->iov, m->iovcnt, m->length,
                m->max_payload_length, m->reserved_value);
            break;
    }
    return (int32_t)(offset + aligned_length);
}

/* The message descriptors of the public entry points (inlined: the
 * concurrent and exclusive variants compile to straight-line code). */
static SHOAL_ALWAYS_INLINE term_appender_message_t whole_message(const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    int64_t reserved_value)
{
    const term_appender_message_t m = { .kind = TERM_APPENDER_WHOLE,
        .length = length,
        .iov = iov,
        .iovcnt = iovcnt,
        .reserved_value = reserved_value };
    return m;
}

static SHOAL_ALWAYS_INLINE term_appender_message_t fragments_message(const shoal_iovec_t *iov, size_t iovcnt,
    size_t length, size_t max_payload_length, int64_t reserved_value)
{
    const term_appender_message_t m = { .kind = TERM_APPENDER_FRAGMENTS,
        .length = length,
        .iov = iov,
        .iovcnt = iovcnt,
        .max_payload_length = max_payload_length,
        .reserved_value = reserved_value };
    return m;
}

int32_t shoal_term_appender_claim(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, size_t length, shoal_claim_t *claim, int32_t active_term_id)
{
    const term_appender_message_t m = { .kind = TERM_APPENDER_CLAIM, .length = length, .claim = claim };
    return term_appender_append(term, tail_counter, term_length, default_header, active_term_id, false, 0, &m);
}

int32_t shoal_term_appender_append_unfragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    int64_t reserved_value, int32_t active_term_id)
{
    const term_appender_message_t m = whole_message(iov, iovcnt, length, reserved_value);
    return term_appender_append(term, tail_counter, term_length, default_header, active_term_id, false, 0, &m);
}

int32_t shoal_term_appender_append_fragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    size_t max_payload_length, int64_t reserved_value, int32_t active_term_id)
{
    const term_appender_message_t m = fragments_message(iov, iovcnt, length, max_payload_length, reserved_value);
    return term_appender_append(term, tail_counter, term_length, default_header, active_term_id, false, 0, &m);
}

int32_t shoal_exclusive_term_appender_claim(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, size_t length,
    shoal_claim_t *claim)
{
    const term_appender_message_t m = { .kind = TERM_APPENDER_CLAIM, .length = length, .claim = claim };
    return term_appender_append(term, tail_counter, term_length, default_header, term_id, true, term_offset, &m);
}

int32_t shoal_term_appender_claim_missed(uint8_t *term, int32_t term_length, const shoal_data_header_t *default_header,
    int32_t active_term_id, int64_t raw_tail, int64_t aligned_length)
{
    /* concurrent_claim's own answer for the same raw tail: a claim in a newer
     * term is padded, one past the end pads the end. */
    const int64_t term_offset = raw_tail & 0xFFFFFFFFLL;
    const int32_t tail_term_id = shoal_logbuffer_term_id(raw_tail);
    return (int32_t)concurrent_claim_outcome(term, term_length, default_header, aligned_length, active_term_id,
        term_offset, tail_term_id);
}

int32_t shoal_exclusive_term_appender_pad_end(uint8_t *term, int32_t term_length, int32_t term_offset, int32_t term_id,
    const shoal_data_header_t *default_header)
{
    return term_appender_handle_end_of_log(term, term_length, term_offset, term_id, default_header);
}

int32_t shoal_exclusive_term_appender_append_unfragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, const shoal_iovec_t *iov,
    size_t iovcnt, size_t length, int64_t reserved_value)
{
    const term_appender_message_t m = whole_message(iov, iovcnt, length, reserved_value);
    return term_appender_append(term, tail_counter, term_length, default_header, term_id, true, term_offset, &m);
}

int32_t shoal_exclusive_term_appender_append_fragmented(uint8_t *term, int64_t *tail_counter, int32_t term_length,
    const shoal_data_header_t *default_header, int32_t term_id, int32_t term_offset, const shoal_iovec_t *iov,
    size_t iovcnt, size_t length, size_t max_payload_length, int64_t reserved_value)
{
    const term_appender_message_t m = fragments_message(iov, iovcnt, length, max_payload_length, reserved_value);
    return term_appender_append(term, tail_counter, term_length, default_header, term_id, true, term_offset, &m);
}
