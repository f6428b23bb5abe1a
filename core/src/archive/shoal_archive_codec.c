/*
 * The control protocol's encoder and decoder (layout: shoal_archive_codec.h).
 * Fields are written and read one at a time with memcpy at explicit offsets,
 * so the layout does not depend on struct padding and unaligned input is fine;
 * each type's layout is written down once, for both directions.
 */
#include "archive/shoal_archive_codec.h"

#include <stdbool.h>
#include <string.h>

#include "util/shoal_error.h"

/* One cursor for both directions: the body of each message type is
 * described once (body() below) and walked to write it or to read it, so
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

/* Each type's body, in wire order (shoal_archive_codec.h lists them).
 * False for an unknown type. */
static bool body(codec_t *c, shoal_archive_msg_t *m)
{
    switch (m->type)
    {
        case SHOAL_ARCHIVE_CONNECT:
            i32(c, &m->stream_id);
            string(c, &m->text, &m->text_length);
            return true;
        case SHOAL_ARCHIVE_CLOSE_SESSION: return true;
        case SHOAL_ARCHIVE_START_RECORDING:
            i32(c, &m->stream_id);
            i32(c, &m->count);
            string(c, &m->text, &m->text_length);
            return true;
        case SHOAL_ARCHIVE_STOP_RECORDING:
        case SHOAL_ARCHIVE_RECORDING_POSITION:
        case SHOAL_ARCHIVE_STOP_REPLAY:
        case SHOAL_ARCHIVE_PURGE: i64(c, &m->id); return true;
        case SHOAL_ARCHIVE_LIST_RECORDINGS:
            i64(c, &m->id);
            i32(c, &m->count);
            return true;
        case SHOAL_ARCHIVE_REPLAY:
            i64(c, &m->id);
            i64(c, &m->position);
            i64(c, &m->length);
            i32(c, &m->stream_id);
            string(c, &m->text, &m->text_length);
            return true;
        case SHOAL_ARCHIVE_TRUNCATE:
            i64(c, &m->id);
            i64(c, &m->position);
            return true;
        case SHOAL_ARCHIVE_RESPONSE:
            i32(c, &m->code);
            i64(c, &m->value);
            string(c, &m->text, &m->text_length);
            return true;
        case SHOAL_ARCHIVE_DESCRIPTOR:
            i64(c, &m->id);
            i64(c, &m->start_position);
            i64(c, &m->stop_position);
            i64(c, &m->start_timestamp_ns);
            i64(c, &m->stop_timestamp_ns);
            i32(c, &m->initial_term_id);
            i32(c, &m->term_length);
            i32(c, &m->mtu);
            i32(c, &m->segment_length);
            i32(c, &m->session_id);
            i32(c, &m->stream_id);
            string(c, &m->text, &m->text_length);
            string(c, &m->source, &m->source_length);
            return true;
        default: return false;
    }
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
    switch (type)
    {
        case SHOAL_ARCHIVE_CONNECT: return "CONNECT";
        case SHOAL_ARCHIVE_CLOSE_SESSION: return "CLOSE_SESSION";
        case SHOAL_ARCHIVE_START_RECORDING: return "START_RECORDING";
        case SHOAL_ARCHIVE_STOP_RECORDING: return "STOP_RECORDING";
        case SHOAL_ARCHIVE_LIST_RECORDINGS: return "LIST_RECORDINGS";
        case SHOAL_ARCHIVE_RECORDING_POSITION: return "RECORDING_POSITION";
        case SHOAL_ARCHIVE_REPLAY: return "REPLAY";
        case SHOAL_ARCHIVE_STOP_REPLAY: return "STOP_REPLAY";
        case SHOAL_ARCHIVE_TRUNCATE: return "TRUNCATE";
        case SHOAL_ARCHIVE_PURGE: return "PURGE";
        case SHOAL_ARCHIVE_RESPONSE: return "RESPONSE";
        case SHOAL_ARCHIVE_DESCRIPTOR: return "DESCRIPTOR";
        default: return "UNKNOWN";
    }
}
