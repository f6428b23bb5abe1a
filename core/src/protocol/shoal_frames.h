/*
 * Aeron wire frames, byte for byte (little-endian, packed to 4 like Aeron).
 *
 * The same layouts are used on the wire (UDP) and inside log buffers: a term
 * is a sequence of 32-byte aligned DATA/PAD frames whose first word,
 * frame_length, is the commit word (see logbuffer/shoal_term_appender.h).
 *
 *   0        4       5      6        8
 *   +--------+-------+------+--------+
 *   | length |version| flags|  type  |   shoal_frame_header_t (8 bytes)
 *   +--------+-------+------+--------+
 *
 * All multi-byte fields are little-endian; shoal only builds on
 * little-endian hosts (checked below), so the structs are used in place.
 */
#ifndef SHOAL_FRAMES_H
#define SHOAL_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
#error "shoal wire frames assume a little-endian host"
#endif

/* Compile-time check that is clean even under -std=c99 -pedantic: a
 * negative array size fails the build; msg documents the failure. */
#ifndef SHOAL_LAYOUT_ASSERT
#define SHOAL_LAYOUT_ASSERT_CAT2(a, b) a##b
#define SHOAL_LAYOUT_ASSERT_CAT(a, b)  SHOAL_LAYOUT_ASSERT_CAT2(a, b)
#define SHOAL_LAYOUT_ASSERT(cond, msg)                                                                                 \
    typedef char SHOAL_LAYOUT_ASSERT_CAT(shoal_layout_assert_, __COUNTER__)[(cond) ? 1 : -1]
#endif

/* The checks the layouts below take: type is length bytes; field of type
 * starts at byte offset. */
#define SHOAL_LAYOUT_SIZE(type, length) SHOAL_LAYOUT_ASSERT(sizeof(type) == (length), #type " is " #length " bytes")
#define SHOAL_LAYOUT_OFFSET(type, field, offset)                                                                       \
    SHOAL_LAYOUT_ASSERT(offsetof(type, field) == (offset), #type "." #field " at " #offset)

/* ---- frame types ---- */
#define SHOAL_HDR_TYPE_PAD   0x00
#define SHOAL_HDR_TYPE_DATA  0x01
#define SHOAL_HDR_TYPE_NAK   0x02
#define SHOAL_HDR_TYPE_SM    0x03
#define SHOAL_HDR_TYPE_ERR   0x04
#define SHOAL_HDR_TYPE_SETUP 0x05
#define SHOAL_HDR_TYPE_RTTM  0x06
/* Response setup (Aeron's RSP_SETUP): a responder's image tells the
 * requester's publication which session carries its responses. */
#define SHOAL_HDR_TYPE_RSP_SETUP 0x0B

#define SHOAL_FRAME_VERSION 0

/* ---- DATA frame flags (same values as SHOAL_FLAG_* in shoal.h) ---- */
#define SHOAL_FRAME_FLAG_BEGIN        0x80
#define SHOAL_FRAME_FLAG_END          0x40
#define SHOAL_FRAME_FLAG_EOS          0x20
#define SHOAL_FRAME_FLAG_UNFRAGMENTED (SHOAL_FRAME_FLAG_BEGIN | SHOAL_FRAME_FLAG_END)

/* SM flag: the receiver asks the sender for a SETUP frame. */
#define SHOAL_SM_FLAG_SETUP 0x80
/* SETUP flags: the publication wants a response channel (its URI has
 * response-correlation-id), and Aeron's group semantics. */
#define SHOAL_SETUP_FLAG_SEND_RESPONSE 0x80
#define SHOAL_SETUP_FLAG_GROUP         0x40
/* RTTM flag: this frame is a reply. */
#define SHOAL_RTTM_FLAG_REPLY 0x80

/* ---- lengths ---- */
#define SHOAL_FRAME_HEADER_LENGTH     8
#define SHOAL_DATA_HEADER_LENGTH      32
#define SHOAL_FRAME_ALIGNMENT         32
#define SHOAL_NAK_HEADER_LENGTH       28
#define SHOAL_SM_HEADER_LENGTH        36
#define SHOAL_ERROR_HEADER_LENGTH     40
#define SHOAL_SETUP_HEADER_LENGTH     40
#define SHOAL_RTTM_HEADER_LENGTH      40
#define SHOAL_RSP_SETUP_HEADER_LENGTH 20

/* Byte offsets used by code that touches frames without the structs. */
#define SHOAL_FRAME_LENGTH_OFFSET        0
#define SHOAL_FRAME_VERSION_OFFSET       4
#define SHOAL_FRAME_FLAGS_OFFSET         5
#define SHOAL_FRAME_TYPE_OFFSET          6
#define SHOAL_DATA_TERM_OFFSET_OFFSET    8
#define SHOAL_DATA_SESSION_ID_OFFSET     12
#define SHOAL_DATA_STREAM_ID_OFFSET      16
#define SHOAL_DATA_TERM_ID_OFFSET        20
#define SHOAL_DATA_RESERVED_VALUE_OFFSET 24

#pragma pack(push, 4)

typedef struct shoal_frame_header_stct
{
    int32_t frame_length; /* including the header; negative = claimed, not committed (in a log) */
    uint8_t version;
    uint8_t flags;
    uint16_t type;
} shoal_frame_header_t;

/* The appender claims a frame with one 8-byte store of these four fields. */
SHOAL_LAYOUT_ASSERT(sizeof(shoal_frame_header_t) == 8, "frame header is 8 bytes");

/* DATA (and PAD) frame: header of every frame in a term. */
typedef struct shoal_data_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t term_offset;
    int32_t session_id;
    int32_t stream_id;
    int32_t term_id;
    int64_t reserved_value;
} shoal_data_header_t;

/* NAK: ask the sender to retransmit [term_offset, term_offset + length) of term_id. */
typedef struct shoal_nak_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t session_id;
    int32_t stream_id;
    int32_t term_id;
    int32_t term_offset;
    int32_t length;
} shoal_nak_header_t;

/* Status message: receiver's consumption position and window (flow control). */
typedef struct shoal_status_message_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t session_id;
    int32_t stream_id;
    int32_t consumption_term_id;
    int32_t consumption_term_offset;
    int32_t receiver_window;
    int64_t receiver_id;
} shoal_status_message_header_t;

/* Error frame; error_length bytes of message text follow the header. */
typedef struct shoal_error_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t session_id;
    int32_t stream_id;
    int64_t receiver_id;
    int64_t group_tag;
    int32_t error_code;
    int32_t error_length;
} shoal_error_header_t;

/* SETUP: tells a receiver how to build the image (log) of a publication. */
typedef struct shoal_setup_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t term_offset;
    int32_t session_id;
    int32_t stream_id;
    int32_t initial_term_id;
    int32_t active_term_id;
    int32_t term_length;
    int32_t mtu;
    int32_t ttl;
} shoal_setup_header_t;

/* RTT measurement (request or reply, see SHOAL_RTTM_FLAG_REPLY). */
typedef struct shoal_rttm_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t session_id;
    int32_t stream_id;
    int64_t echo_timestamp;
    int64_t reception_delta;
    int64_t receiver_id;
} shoal_rttm_header_t;

/* Response setup: sent by the image of a request stream (session_id,
 * stream_id: the request publication's) to the request publication's
 * address, naming the session of the response publication made for it. */
typedef struct shoal_response_setup_header_stct
{
    shoal_frame_header_t frame_header;
    int32_t session_id;
    int32_t stream_id;
    int32_t response_session_id;
} shoal_response_setup_header_t;

#pragma pack(pop)

SHOAL_LAYOUT_SIZE(shoal_frame_header_t, SHOAL_FRAME_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_data_header_t, SHOAL_DATA_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_nak_header_t, SHOAL_NAK_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_status_message_header_t, SHOAL_SM_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_error_header_t, SHOAL_ERROR_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_setup_header_t, SHOAL_SETUP_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_rttm_header_t, SHOAL_RTTM_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_response_setup_header_t, SHOAL_RSP_SETUP_HEADER_LENGTH);
SHOAL_LAYOUT_OFFSET(shoal_data_header_t, term_offset, SHOAL_DATA_TERM_OFFSET_OFFSET);
SHOAL_LAYOUT_OFFSET(shoal_data_header_t, term_id, SHOAL_DATA_TERM_ID_OFFSET);
SHOAL_LAYOUT_OFFSET(shoal_data_header_t, reserved_value, SHOAL_DATA_RESERVED_VALUE_OFFSET);
SHOAL_LAYOUT_OFFSET(shoal_status_message_header_t, receiver_id, 28);
SHOAL_LAYOUT_OFFSET(shoal_setup_header_t, ttl, 36);
SHOAL_LAYOUT_OFFSET(shoal_rttm_header_t, receiver_id, 32);

/* The 8 bytes every frame starts with (version 0). */
static inline shoal_frame_header_t shoal_frame_header(int32_t frame_length, uint8_t flags, uint16_t type)
{
    shoal_frame_header_t h = { frame_length, SHOAL_FRAME_VERSION, flags, type };
    return h;
}

/* A PAD frame's header over [term_offset, term_offset + frame_length) of
 * term_id: what a receiver steps over. */
static inline shoal_data_header_t shoal_pad_header(int32_t frame_length, int32_t term_offset, int32_t session_id,
    int32_t stream_id, int32_t term_id)
{
    shoal_data_header_t h = { shoal_frame_header(frame_length, SHOAL_FRAME_FLAG_UNFRAGMENTED, SHOAL_HDR_TYPE_PAD),
        term_offset, session_id, stream_id, term_id, 0 };
    return h;
}

#endif /* SHOAL_FRAMES_H */
