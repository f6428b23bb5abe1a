#include "logbuffer/shoal_term_block.h"

#include <stddef.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "logbuffer/shoal_logbuffer_tsan.h"
#include "logbuffer/shoal_term_appender.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

int shoal_term_block_check(const uint8_t *frames, size_t length, int32_t term_id, int32_t term_offset,
    int32_t term_length)
{
    const size_t room = (size_t)(term_length - term_offset);
    if (0 == length || 0 != (length & (SHOAL_FRAME_ALIGNMENT - 1)) || length > room)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "block of %zu bytes: must be whole 32-byte aligned frames, not empty, within the %zu bytes left in the "
            "term",
            length, room);
    }
    size_t at = 0;
    while (at < length)
    {
        shoal_data_header_t h;
        if (length - at < SHOAL_DATA_HEADER_LENGTH)
        {
            return shoal_set_err(SHOAL_EINVAL, "block: frame at byte %zu is cut short (%zu bytes left)", at,
                length - at);
        }
        memcpy(&h, frames + at, sizeof(h));
        const int32_t expected_offset = term_offset + (int32_t)at;
        const size_t aligned = SHOAL_ALIGN((size_t)(uint32_t)h.frame_header.frame_length, SHOAL_FRAME_ALIGNMENT);
        if (h.frame_header.type != SHOAL_HDR_TYPE_DATA && h.frame_header.type != SHOAL_HDR_TYPE_PAD)
        {
            return shoal_set_err(SHOAL_EINVAL, "block: frame at byte %zu has type %u (DATA or PAD expected)", at,
                (unsigned)h.frame_header.type);
        }
        if (h.frame_header.frame_length < SHOAL_DATA_HEADER_LENGTH || aligned > length - at)
        {
            return shoal_set_err(SHOAL_EINVAL,
                "block: frame at byte %zu has length %d (at least a 32-byte header, and no more than the %zu bytes "
                "left in the block)",
                at, h.frame_header.frame_length, length - at);
        }
        if (h.term_id != term_id || h.term_offset != expected_offset)
        {
            return shoal_set_err(SHOAL_EINVAL,
                "block: frame at byte %zu is for term %d offset %d, the publication is at term %d offset %d", at,
                h.term_id, h.term_offset, term_id, expected_offset);
        }
        at += aligned;
    }
    return 0;
}

int32_t shoal_term_block_append(uint8_t *term, int64_t *tail_counter, int32_t term_id, int32_t term_offset,
    const uint8_t *frames, size_t length, int32_t session_id, int32_t stream_id)
{
    uint8_t *dst = term + term_offset;
    shoal_data_header_t *first = (shoal_data_header_t *)dst;
    int32_t first_length;
    memcpy(&first_length, frames, sizeof(first_length));
    /* The first frame is claimed and its checked words written like an
     * appender's (shoal_frame_check.h); the frames after it are reached only
     * through its commit. */
    shoal_logbuffer_tsan_before_write(term, term_id);
    shoal_store_release(&first->frame_header.frame_length, -first_length);
    shoal_frame_words_write(term, term_offset, session_id, stream_id, term_id);
    memcpy(&first->frame_header.version, frames + offsetof(shoal_data_header_t, frame_header.version),
        sizeof(shoal_frame_header_t) - sizeof(int32_t));
    memcpy(&first->reserved_value, frames + offsetof(shoal_data_header_t, reserved_value),
        length - offsetof(shoal_data_header_t, reserved_value));
    for (size_t at = SHOAL_ALIGN((size_t)first_length, SHOAL_FRAME_ALIGNMENT); at < length;)
    {
        shoal_data_header_t *h = (shoal_data_header_t *)(dst + at);
        int32_t frame_length;
        memcpy(&frame_length, frames + at, sizeof(frame_length));
        h->session_id = session_id;
        h->stream_id = stream_id;
        at += SHOAL_ALIGN((size_t)frame_length, SHOAL_FRAME_ALIGNMENT);
    }
    const int32_t end = term_offset + (int32_t)length;
    shoal_store_release(tail_counter, shoal_logbuffer_pack_tail(term_id, end));
    shoal_logbuffer_frame_commit(first, first_length);
    return end;
}
