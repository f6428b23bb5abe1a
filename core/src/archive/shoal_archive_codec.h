/*
 * The archive's control protocol: requests from clients to the server and
 * responses back, each message one shoal message (little-endian, as the
 * rest of the wire). docs/archive.md ("Control protocol") is the reference;
 * this header is its one definition in code.
 *
 * Every message starts with a 24-byte header:
 *     u8 version (1) | u8 reserved (0) | u16 type | i32 length (of the whole message)
 *     i64 control_session_id | i64 correlation_id
 * then a fixed body per type, then (for the types that have one) a string of
 * string_length bytes (no NUL) at the end. The decoder checks the version,
 * the type, that length equals the bytes received, that the body is complete
 * and that strings are shorter than SHOAL_ARCHIVE_STRING_MAX: anything else
 * is malformed and decodes to -1 (the server drops and counts it).
 */
#ifndef SHOAL_ARCHIVE_CODEC_H
#define SHOAL_ARCHIVE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_ARCHIVE_PROTOCOL_VERSION 1
#define SHOAL_ARCHIVE_HEADER_LENGTH    24
/* Channels and source identities: what a channel URI may be, NUL excluded. */
#define SHOAL_ARCHIVE_STRING_MAX 1024
/* The longest message: a descriptor with two strings. */
#define SHOAL_ARCHIVE_MESSAGE_MAX (SHOAL_ARCHIVE_HEADER_LENGTH + 96 + 2 * SHOAL_ARCHIVE_STRING_MAX)

typedef enum shoal_archive_msg_type_en
{
    /* requests */
    SHOAL_ARCHIVE_CONNECT = 1,            /* i32 response_stream_id, string response_channel */
    SHOAL_ARCHIVE_CLOSE_SESSION = 2,      /* (no body) */
    SHOAL_ARCHIVE_START_RECORDING = 3,    /* i32 stream_id, i32 source_location, string channel */
    SHOAL_ARCHIVE_STOP_RECORDING = 4,     /* i64 subscription_id */
    SHOAL_ARCHIVE_LIST_RECORDINGS = 5,    /* i64 from_recording_id, i32 count */
    SHOAL_ARCHIVE_RECORDING_POSITION = 6, /* i64 recording_id */
    SHOAL_ARCHIVE_REPLAY = 7,             /* i64 recording_id, position, length; i32 stream_id; string channel */
    SHOAL_ARCHIVE_STOP_REPLAY = 8,        /* i64 replay_session_id */
    SHOAL_ARCHIVE_TRUNCATE = 9,           /* i64 recording_id, position */
    SHOAL_ARCHIVE_PURGE = 10,             /* i64 recording_id */
    /* responses */
    SHOAL_ARCHIVE_RESPONSE = 101,   /* i32 code (shoal_errcode_t, 0: ok), i64 value, string message */
    SHOAL_ARCHIVE_DESCRIPTOR = 102, /* one recording of a LIST_RECORDINGS answer (then a RESPONSE) */
    SHOAL_ARCHIVE_TYPE_MAX = 103
} shoal_archive_msg_type_t;

/* A decoded message: the fields its type uses are set, the others zero.
 * Strings point into the decoded buffer (not NUL-terminated). */
typedef struct shoal_archive_msg_stct
{
    int32_t type;
    int64_t control_session_id;
    int64_t correlation_id;
    int64_t id;       /* subscription / recording / replay session id, from id of a list */
    int64_t position; /* REPLAY, TRUNCATE */
    int64_t length;   /* REPLAY */
    int64_t value;    /* RESPONSE */
    int32_t stream_id;
    int32_t count;    /* LIST_RECORDINGS; source location of START_RECORDING */
    int32_t code;     /* RESPONSE */
    const char *text; /* channel, or a response's message */
    int32_t text_length;
    /* DESCRIPTOR */
    int64_t start_position, stop_position, start_timestamp_ns, stop_timestamp_ns;
    int32_t initial_term_id, term_length, mtu, segment_length, session_id;
    const char *source;
    int32_t source_length;
} shoal_archive_msg_t;

/* Encodes msg (its type's fields; text/source lengths as given, -1: strlen)
 * into buf[0..capacity): the message length, or -1 with SHOAL_EINVAL when it
 * does not fit or a string is too long. */
int shoal_archive_encode(const shoal_archive_msg_t *msg, uint8_t *buf, size_t capacity);

/* Decodes buf[0..length) into msg: 0, or -1 (malformed: the reason in
 * shoal_errmsg, SHOAL_EINVAL). Never reads outside buf. */
int shoal_archive_decode(const uint8_t *buf, size_t length, shoal_archive_msg_t *msg);

/* The name of a message type ("START_RECORDING"), "UNKNOWN" otherwise. */
const char *shoal_archive_msg_type_name(int32_t type);

#endif
