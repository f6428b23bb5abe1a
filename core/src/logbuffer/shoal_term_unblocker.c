/*
 * Term unblocker (driver side) and term cleaning. See shoal_term_unblocker.h.
 */
#include <stdint.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_frame_check.h"
#include "logbuffer/shoal_term_unblocker.h"

/* Writes a PAD frame of frame_length at term_offset with the commit protocol. */
static void unblocker_reset_header(shoal_logbuffer_metadata_t *meta, uint8_t *term, int32_t term_offset,
    int32_t term_id, int32_t frame_length)
{
    const shoal_data_header_t *default_header = (const shoal_data_header_t *)meta->default_frame_header;
    shoal_data_header_t *hdr = (shoal_data_header_t *)(term + term_offset);

    shoal_store_release(&hdr->frame_header.frame_length, -frame_length);
    shoal_frame_words_write(term, term_offset, default_header->session_id, default_header->stream_id, term_id);
    hdr->frame_header.version = default_header->frame_header.version;
    hdr->frame_header.flags = default_header->frame_header.flags;
    hdr->frame_header.type = SHOAL_HDR_TYPE_PAD;
    hdr->reserved_value = default_header->reserved_value;
    shoal_store_release(&hdr->frame_header.frame_length, frame_length);
}

/* True if no frame of this lap starts in [blocked_offset, current_offset)
 * (every length word 0, or last lap's), scanning backwards (a writer that
 * claimed late would show up there). */
static bool scan_back_to_confirm_unwritten(const uint8_t *term, int32_t current_offset, int32_t blocked_offset,
    const shoal_frame_expect_t *expect)
{
    for (int32_t i = current_offset - SHOAL_FRAME_ALIGNMENT; i >= blocked_offset; i -= SHOAL_FRAME_ALIGNMENT)
    {
        if (0 != shoal_term_frame_length_checked(term, i, expect))
        {
            return false;
        }
    }
    return true;
}

/* The consumer waits at a committed frame: it is blocked only if that frame
 * BEGINs a fragmented message whose chain stops at a fragment never
 * committed (readers that reassemble in the log stay at BEGIN until the
 * whole message is there). Returns that fragment's offset, or -1 if the
 * chain is whole, broken by another frame (readers skip it), or reaches the
 * tail (its writer may still be claiming). */
static int32_t find_uncommitted_fragment(const uint8_t *term, int32_t term_length, int32_t offset, int32_t frame_length,
    int32_t tail_offset, const shoal_frame_expect_t *expect)
{
    const shoal_data_header_t *hdr = (const shoal_data_header_t *)(term + offset);
    if (SHOAL_HDR_TYPE_DATA != hdr->frame_header.type ||
        SHOAL_FRAME_FLAG_BEGIN != (hdr->frame_header.flags & SHOAL_FRAME_FLAG_UNFRAGMENTED))
    {
        return -1;
    }
    for (;;)
    {
        if (frame_length < (int32_t)SHOAL_DATA_HEADER_LENGTH || frame_length > term_length - offset)
        {
            return -1; /* a corrupt length: not ours to repair */
        }
        offset += SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        if (offset >= tail_offset)
        {
            return -1;
        }
        hdr = (const shoal_data_header_t *)(term + offset);
        frame_length = shoal_term_frame_length_checked(term, offset, expect);
        if (frame_length <= 0)
        {
            return offset;
        }
        if (SHOAL_HDR_TYPE_DATA != hdr->frame_header.type ||
            (hdr->frame_header.flags & (SHOAL_FRAME_FLAG_BEGIN | SHOAL_FRAME_FLAG_END)))
        {
            return -1;
        }
    }
}

shoal_unblock_status_t shoal_term_unblocker_unblock(shoal_logbuffer_metadata_t *meta, uint8_t *term,
    int32_t term_length, int32_t blocked_offset, int32_t tail_offset, int32_t term_id, bool uncleaned)
{
    const shoal_data_header_t *default_header = (const shoal_data_header_t *)meta->default_frame_header;
    const shoal_frame_expect_t expect = shoal_frame_expect(uncleaned, default_header->stream_id, term_id);
    shoal_unblock_status_t status = SHOAL_UNBLOCK_NO_ACTION;

    if (blocked_offset < 0 || blocked_offset >= term_length)
    {
        return SHOAL_UNBLOCK_NO_ACTION;
    }
    if (tail_offset > term_length)
    {
        tail_offset = term_length;
    }

    int32_t frame_length = shoal_term_frame_length_checked(term, blocked_offset, &expect);
    if (frame_length > 0)
    {
        blocked_offset =
            find_uncommitted_fragment(term, term_length, blocked_offset, frame_length, tail_offset, &expect);
        if (blocked_offset < 0)
        {
            return SHOAL_UNBLOCK_NO_ACTION;
        }
        frame_length = shoal_term_frame_length_checked(term, blocked_offset, &expect);
    }
    if (frame_length < 0)
    {
        /* The claimed length comes from shared memory: a corrupt one (even
         * INT32_MIN) must not make a PAD reaching past the term end. */
        const int64_t claimed = -(int64_t)frame_length;
        const int32_t to_end = term_length - blocked_offset;
        unblocker_reset_header(meta, term, blocked_offset, term_id, claimed > to_end ? to_end : (int32_t)claimed);
        status = SHOAL_UNBLOCK_UNBLOCKED;
    }
    else if (0 == frame_length)
    {
        int32_t current_offset = blocked_offset + SHOAL_FRAME_ALIGNMENT;

        while (current_offset < tail_offset)
        {
            frame_length = shoal_term_frame_length_checked(term, current_offset, &expect);
            if (0 != frame_length)
            {
                if (scan_back_to_confirm_unwritten(term, current_offset, blocked_offset, &expect))
                {
                    unblocker_reset_header(meta, term, blocked_offset, term_id, current_offset - blocked_offset);
                    status = SHOAL_UNBLOCK_UNBLOCKED;
                }
                break;
            }
            current_offset += SHOAL_FRAME_ALIGNMENT;
        }

        if (current_offset == term_length)
        {
            if (0 == shoal_term_frame_length_checked(term, blocked_offset, &expect) &&
                scan_back_to_confirm_unwritten(term, current_offset, blocked_offset, &expect))
            {
                unblocker_reset_header(meta, term, blocked_offset, term_id, current_offset - blocked_offset);
                status = SHOAL_UNBLOCK_UNBLOCKED_TO_END;
            }
        }
    }

    if (SHOAL_UNBLOCK_UNBLOCKED_TO_END == status)
    {
        /* The writer that tripped died before rotating: do it for it
         * (a no-op if the log already moved on). */
        const int32_t term_count = shoal_logbuffer_compute_term_count(term_id, meta->initial_term_id);
        shoal_logbuffer_rotate_log(meta, term_count, term_id);
    }
    return status;
}

#if defined(__x86_64__) && defined(__SSE2__) && !defined(__SANITIZE_THREAD__)
#define SHOAL_CLEAN_STREAMING 1
#include <emmintrin.h>
/* Cleaning lags the subscribers by up to a term, so the lines are cold and
 * no one reads them until the publisher comes round again: non-temporal
 * stores zero them without reading them in and without evicting what the
 * thread sharing this core (a subscriber, often) has in its caches. */
#define SHOAL_CLEAN_STREAMING_MIN (64 * 1024)
static void zero_streaming(uint8_t *p, size_t length)
{
    uint8_t *const end = p + length;
    uint8_t *const line =
        (uint8_t *)(((uintptr_t)p + SHOAL_CACHE_LINE_LENGTH - 1) & ~(uintptr_t)(SHOAL_CACHE_LINE_LENGTH - 1));
    memset(p, 0, (size_t)(line - p)); /* up to the first line (length >= 64 KiB: line < end) */
    p = line;
    const __m128i zero = _mm_setzero_si128();
    for (; p + SHOAL_CACHE_LINE_LENGTH <= end; p += SHOAL_CACHE_LINE_LENGTH)
    {
        _mm_stream_si128((__m128i *)p, zero);
        _mm_stream_si128((__m128i *)(p + 16), zero);
        _mm_stream_si128((__m128i *)(p + 32), zero);
        _mm_stream_si128((__m128i *)(p + 48), zero);
    }
    memset(p, 0, (size_t)(end - p));
    _mm_sfence(); /* streaming stores are weakly ordered: before the release store */
}
#endif

void shoal_term_clean(uint8_t *term, int32_t from, int32_t to)
{
    if (to <= from)
    {
        return;
    }
    const size_t length = (size_t)(to - from);
    if (length >= sizeof(int64_t))
    {
        /* The release store orders the zeroing before it for any thread that
         * acquires the first word (no standalone fence: TSan cannot model
         * one, and the store is enough). */
#ifdef SHOAL_CLEAN_STREAMING
        if (length >= SHOAL_CLEAN_STREAMING_MIN)
        {
            zero_streaming(term + from + sizeof(int64_t), length - sizeof(int64_t));
        }
        else
#endif
        {
            memset(term + from + sizeof(int64_t), 0, length - sizeof(int64_t));
        }
        shoal_store_release((int64_t *)(term + from), (int64_t)0);
    }
    else
    {
        memset(term + from, 0, length);
    }
}
