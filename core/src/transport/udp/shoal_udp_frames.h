/*
 * Validation of datagrams as they come off the wire. Every length and field
 * a later step relies on is checked here first, so the endpoints can use the
 * frame structs of protocol/shoal_frames.h directly afterwards. Pure
 * functions over (buffer, length): the libFuzzer target drives these.
 *
 * Rules (drop, and count in INVALID_FRAMES, anything else):
 *  - at least the 8-byte frame header, version 0, a known type;
 *  - frame_length at least the type's header length and no more than the
 *    datagram (except PAD, whose length covers the bytes it pads, at most
 *    to the term end, while only its header travels: term-end padding, a
 *    claim a dead publisher left and the unblocker padded over, or a gap
 *    an unreliable publication will not resend);
 *  - DATA / PAD datagrams may carry several frames back to back at 32-byte
 *    aligned offsets (see shoal_udp_data_datagram_check); a heartbeat is one
 *    DATA header with frame_length 0.
 */
#ifndef SHOAL_UDP_FRAMES_H
#define SHOAL_UDP_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"

/* Optional group tag after the SM body (Aeron's tagged flow control). */
#define SHOAL_SM_HEADER_WITH_GROUP_TAG_LENGTH (SHOAL_SM_HEADER_LENGTH + 8)

/* Returns the frame type of a datagram whose first frame is well formed for
 * that type, or -1. DATA/PAD are only checked for their first header here. */
static inline int shoal_udp_datagram_type(const uint8_t *buf, size_t length)
{
    if (length < SHOAL_FRAME_HEADER_LENGTH || length > 65536)
    {
        return -1;
    }
    shoal_frame_header_t h;
    memcpy(&h, buf, sizeof(h));
    if (SHOAL_FRAME_VERSION != h.version || h.frame_length < 0)
    {
        return -1;
    }
    size_t min;
    switch (h.type)
    {
        case SHOAL_HDR_TYPE_DATA:
        case SHOAL_HDR_TYPE_PAD:
            if (length < SHOAL_DATA_HEADER_LENGTH)
            {
                return -1;
            }
            if (SHOAL_HDR_TYPE_DATA == h.type && 0 == h.frame_length)
            {
                return SHOAL_HDR_TYPE_DATA; /* heartbeat */
            }
            if (h.frame_length < SHOAL_DATA_HEADER_LENGTH ||
                (SHOAL_HDR_TYPE_DATA == h.type && (size_t)h.frame_length > length))
            {
                return -1;
            }
            return h.type;
        case SHOAL_HDR_TYPE_NAK: min = SHOAL_NAK_HEADER_LENGTH; break;
        case SHOAL_HDR_TYPE_SM: min = SHOAL_SM_HEADER_LENGTH; break;
        case SHOAL_HDR_TYPE_ERR: min = SHOAL_ERROR_HEADER_LENGTH; break;
        case SHOAL_HDR_TYPE_SETUP: min = SHOAL_SETUP_HEADER_LENGTH; break;
        case SHOAL_HDR_TYPE_RTTM: min = SHOAL_RTTM_HEADER_LENGTH; break;
        case SHOAL_HDR_TYPE_RSP_SETUP: min = SHOAL_RSP_SETUP_HEADER_LENGTH; break;
        default: return -1;
    }
    if (length < min || (size_t)h.frame_length < min || (size_t)h.frame_length > length)
    {
        return -1;
    }
    if (SHOAL_HDR_TYPE_ERR == h.type)
    {
        shoal_error_header_t e;
        memcpy(&e, buf, sizeof(e));
        if (e.error_length < 0 || (size_t)e.error_length > (size_t)h.frame_length - SHOAL_ERROR_HEADER_LENGTH)
        {
            return -1;
        }
    }
    return h.type;
}

/*
 * Checks a DATA/PAD datagram against the term it claims to belong to:
 * term_offset 32-aligned and inside the term, every frame back to back with
 * the same session, stream and term id and consecutive term offsets, each
 * frame inside both the datagram and the term, a PAD only last and ending
 * exactly at the term end. Returns the bytes the frames occupy in the term
 * (aligned, PAD counted to the term end; 0 for a heartbeat) or -1.
 */
static inline int32_t shoal_udp_data_datagram_check(const uint8_t *buf, size_t length, int32_t term_length)
{
    shoal_data_header_t first;
    memcpy(&first, buf, sizeof(first));
    if (first.term_offset < 0 || first.term_offset > term_length || (first.term_offset & (SHOAL_FRAME_ALIGNMENT - 1)))
    {
        return -1;
    }
    if (0 == first.frame_header.frame_length)
    {
        return SHOAL_HDR_TYPE_DATA == first.frame_header.type && length == SHOAL_DATA_HEADER_LENGTH ? 0 : -1;
    }
    if (first.term_offset == term_length)
    {
        return -1;
    }
    size_t offset = 0;
    int64_t in_term = 0;
    while (offset < length)
    {
        size_t remaining = length - offset;
        if (remaining < SHOAL_DATA_HEADER_LENGTH)
        {
            return -1;
        }
        shoal_data_header_t h;
        memcpy(&h, buf + offset, sizeof(h));
        if (SHOAL_FRAME_VERSION != h.frame_header.version || h.session_id != first.session_id ||
            h.stream_id != first.stream_id || h.term_id != first.term_id ||
            (int64_t)h.term_offset != (int64_t)first.term_offset + (int64_t)offset ||
            h.frame_header.frame_length < SHOAL_DATA_HEADER_LENGTH)
        {
            return -1;
        }
        int64_t term_end = (int64_t)h.term_offset + h.frame_header.frame_length;
        if (SHOAL_HDR_TYPE_PAD == h.frame_header.type)
        {
            if (remaining != SHOAL_DATA_HEADER_LENGTH || term_end > term_length)
            {
                return -1;
            }
            return (int32_t)(term_end - first.term_offset);
        }
        if (SHOAL_HDR_TYPE_DATA != h.frame_header.type || (size_t)h.frame_header.frame_length > remaining ||
            term_end > term_length)
        {
            return -1;
        }
        size_t aligned = SHOAL_ALIGN((size_t)h.frame_header.frame_length, SHOAL_FRAME_ALIGNMENT);
        in_term = (int64_t)h.term_offset + (int64_t)aligned - first.term_offset;
        if ((int64_t)first.term_offset + in_term > term_length)
        {
            return -1;
        }
        offset += aligned;
    }
    return (int32_t)in_term;
}

#endif
