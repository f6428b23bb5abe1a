/*
 * The control protocol's encoder and decoder (layout: shoal_archive_codec.h).
 * Fields are written and read one at a time with memcpy at explicit offsets,
 * so the layout does not depend on struct padding and unaligned input is fine;
 * each type's layout is written down once, for both directions.
 */
#include "archive/shoal_archive_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util/shoal_error.h"

/* One cursor for both directions: the body of each message type is
 * described once (messages[] below) and walked to write it or to read it, so
 * the encoder and the decoder cannot disagree about a layout. */
typedef struct codec_stct
{
    uint8_t *out;      /* encoding: the buffer written */
    const uint8_t *in; /* decoding: the buffer read */
    size_t capacity;   /* bytes in that buffer */
    size_t offset;
    bool failed;
} codec_t;

static void field(codec_t *c, void *value, size_t length)
{
    if (c->failed || length > c->capacity - c->offset)
    {
        c->failed = true;
        if (NULL != c->in)
        {
            memset(value, 0, length);
        }
        return;
    }
    if (NULL != c->in)
    {
        memcpy(value, c->in + c->offset, length);
    }
    else
    {
        memcpy(c->out + c->offset, value, length);
    }
    c->offset += length;
}

static void i32(codec_t *c, int32_t *v)
{
    field(c, v, sizeof(*v));
}

static void i64(codec_t *c, int64_t *v)
{
    field(c, v, sizeof(*v));
}

/* An i32 length then that many bytes. Decoding points *s into the buffer
 * (no copy); a length that is negative, too long for a string or past the
 * end fails. */
static void string(codec_t *c, const char **s, int32_t *length)
{
    i32(c, length);
    if (NULL == c->in)
    {
        if (!c->failed && *length > 0)
        {
            field(c, (void *)*s, (size_t)*length);
        }
        return;
    }
    if (c->failed || *length < 0 || *length >= SHOAL_ARCHIVE_STRING_MAX || (size_t)*length > c->capacity - c->offset)
    {
        c->failed = true;
        *s = NULL;
        *length = 0;
        return;
    }
    *s = (const char *)(c->in + c->offset);
    c->offset += (size_t)*length;
}

/* The fixed header after version, type and length. */
static void header_ids(codec_t *c, shoal_archive_msg_t *m)
{
    i64(c, &m->control_session_id);
    i64(c, &m->correlation_id);
}

/* A field of a message body: how it goes on the wire (a STRING is an i32
 * length then that many bytes) and where it is in shoal_archive_msg_t. */
typedef enum field_kind_en
{
    FIELD_END,
    FIELD_I32,
    FIELD_I64,
    FIELD_STRING
} field_kind_t;

typedef struct field_stct
{
    field_kind_t kind;
    size_t offset;        /* of the value in shoal_archive_msg_t */
    size_t length_offset; /* FIELD_STRING: of its length */
} field_t;

/* clang-format off */
#define I32(f)       { FIELD_I32, offsetof(shoal_archive_msg_t, f), 0 }
#define I64(f)       { FIELD_I64, offsetof(shoal_archive_msg_t, f), 0 }
#define STRING(s, n) { FIELD_STRING, offsetof(shoal_archive_msg_t, s), offsetof(shoal_archive_msg_t, n) }
#define END          { FIELD_END, 0, 0 }
#define BODY(...)    (const field_t[]){ __VA_ARGS__, END }
/* clang-format on */

typedef struct message_stct
{
    const char *name;
    const field_t *body;
} message_t;

/* Each type's name and body, in wire order (shoal_archive_codec.h lists
 * them); a type without a name is unknown. */
static const message_t messages[SHOAL_ARCHIVE_TYPE_MAX] = {
    [SHOAL_ARCHIVE_CONNECT] = { "CONNECT", BODY(I32(stream_id), STRING(text, text_length)) },
    [SHOAL_ARCHIVE_CLOSE_SESSION] = { "CLOSE_SESSION", (const field_t[]){ END } },
    [SHOAL_ARCHIVE_START_RECORDING] = { "START_RECORDING",
        BODY(I32(stream_id), I32(count), STRING(text, text_length)) },
    [SHOAL_ARCHIVE_STOP_RECORDING] = { "STOP_RECORDING", BODY(I64(id)) },
    [SHOAL_ARCHIVE_LIST_RECORDINGS] = { "LIST_RECORDINGS", BODY(I64(id), I32(count)) },
    [SHOAL_ARCHIVE_RECORDING_POSITION] = { "RECORDING_POSITION", BODY(I64(id)) },
    [SHOAL_ARCHIVE_REPLAY] = { "REPLAY",
        BODY(I64(id), I64(position), I64(length), I32(stream_id), STRING(text, text_length)) },
    [SHOAL_ARCHIVE_STOP_REPLAY] = { "STOP_REPLAY", BODY(I64(id)) },
    [SHOAL_ARCHIVE_TRUNCATE] = { "TRUNCATE", BODY(I64(id), I64(position)) },
    [SHOAL_ARCHIVE_PURGE] = { "PURGE", BODY(I64(id)) },
    [SHOAL_ARCHIVE_RESPONSE] = { "RESPONSE", BODY(I32(code), I64(value), STRING(text, text_length)) },
    [SHOAL_ARCHIVE_DESCRIPTOR] = { "DESCRIPTOR",
        BODY(I64(id), I64(start_position), I64(stop_position), I64(start_timestamp_ns), I64(stop_timestamp_ns),
            I32(initial_term_id), I32(term_length), I32(mtu), I32(segment_length), I32(session_id), I32(stream_id),
            STRING(text, text_length), STRING(source, source_length)) },
};

static const message_t *message_of(int32_t type)
{
    return type > 0 && type < SHOAL_ARCHIVE_TYPE_MAX && NULL != messages[type].name ? &messages[type] : NULL;
}

/* Walks m's body to write or read it. False for an unknown type. */
static bool body(codec_t *c, shoal_archive_msg_t *m)
{
    const message_t *message = message_of(m->type);
    if (NULL == message)
    {
        return false;
    }
    uint8_t *base = (uint8_t *)m;
    for (const field_t *f = message->body; FIELD_END != f->kind; f++)
    {
        switch (f->kind)
        {
            case FIELD_I32: i32(c, (int32_t *)(base + f->offset)); break;
            case FIELD_I64: i64(c, (int64_t *)(base + f->offset)); break;
            case FIELD_STRING:
                string(c, (const char **)(base + f->offset), (int32_t *)(base + f->length_offset));
                break;
            case FIELD_END: break;
        }
    }
    return true;
}

static int32_t string_length(const char *s, int32_t length)
{
    if (NULL == s)
    {
        return 0;
    }
    return length >= 0 ? length : (int32_t)strnlen(s, SHOAL_ARCHIVE_STRING_MAX);
}

int shoal_archive_encode(const shoal_archive_msg_t *msg, uint8_t *buf, size_t capacity)
{
    if (NULL == msg || NULL == buf)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive encode: msg and buf must not be NULL");
    }
    shoal_archive_msg_t m = *msg; /* the walk takes fields by address; the lengths are settled here */
    m.text_length = string_length(m.text, m.text_length);
    m.source_length = string_length(m.source, m.source_length);
    if (m.text_length >= SHOAL_ARCHIVE_STRING_MAX || m.source_length >= SHOAL_ARCHIVE_STRING_MAX)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive %s: a string is longer than %d bytes",
            shoal_archive_msg_type_name(m.type), SHOAL_ARCHIVE_STRING_MAX - 1);
    }
    codec_t c = { .out = buf, .capacity = capacity };
    uint8_t version[2] = { SHOAL_ARCHIVE_PROTOCOL_VERSION, 0 };
    uint16_t type = (uint16_t)m.type;
    int32_t length = 0; /* patched below */
    field(&c, version, sizeof(version));
    field(&c, &type, sizeof(type));
    i32(&c, &length);
    header_ids(&c, &m);
    if (!body(&c, &m))
    {
        return shoal_set_err(SHOAL_EINVAL, "archive encode: unknown message type %d", (int)m.type);
    }
    if (c.failed)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive %s: message does not fit in %zu bytes",
            shoal_archive_msg_type_name(m.type), capacity);
    }
    length = (int32_t)c.offset;
    memcpy(buf + 4, &length, sizeof(length));
    return length;
}

int shoal_archive_decode(const uint8_t *buf, size_t length, shoal_archive_msg_t *m)
{
    if (NULL == buf || NULL == m)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive decode: buf and msg must not be NULL");
    }
    memset(m, 0, sizeof(*m));
    if (length < SHOAL_ARCHIVE_HEADER_LENGTH)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive message of %zu bytes is shorter than its header", length);
    }
    codec_t c = { .in = buf, .capacity = length };
    uint8_t version[2];
    uint16_t type;
    int32_t declared;
    field(&c, version, sizeof(version));
    field(&c, &type, sizeof(type));
    i32(&c, &declared);
    m->type = type;
    header_ids(&c, m);
    if (SHOAL_ARCHIVE_PROTOCOL_VERSION != version[0])
    {
        return shoal_set_err(SHOAL_EINVAL, "archive message version %d (this is version %d)", (int)version[0],
            SHOAL_ARCHIVE_PROTOCOL_VERSION);
    }
    if (declared < 0 || (size_t)declared != length)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive message declares %d bytes but holds %zu", (int)declared, length);
    }
    if (!body(&c, m))
    {
        return shoal_set_err(SHOAL_EINVAL, "archive message of unknown type %d", (int)m->type);
    }
    if (c.failed || c.offset != length)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive %s message of %zu bytes is malformed (%s)",
            shoal_archive_msg_type_name(m->type), length, c.failed ? "truncated body or bad string" : "trailing bytes");
    }
    return 0;
}

const char *shoal_archive_msg_type_name(int32_t type)
{
    const message_t *message = message_of(type);
    return NULL != message ? message->name : "UNKNOWN";
}
