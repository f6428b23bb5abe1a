/*
 * The control protocol's encoder and decoder (layout: shoal_archive_codec.h).
 * Fields are written and read one at a time with memcpy at explicit offsets,
 * so the layout does not depend on struct padding and unaligned input is fine.
 */
#include "archive/shoal_archive_codec.h"

#include <string.h>

#include "util/shoal_error.h"

typedef struct writer_stct
{
    uint8_t *buf;
    size_t capacity;
    size_t offset;
    int failed;
} writer_t;

static void put(writer_t *w, const void *value, size_t length)
{
    if (w->failed || length > w->capacity - w->offset)
    {
        w->failed = 1;
        return;
    }
    memcpy(w->buf + w->offset, value, length);
    w->offset += length;
}

static void put_i32(writer_t *w, int32_t v)
{
    put(w, &v, sizeof(v));
}

static void put_i64(writer_t *w, int64_t v)
{
    put(w, &v, sizeof(v));
}

static void put_string(writer_t *w, const char *s, int32_t length)
{
    put_i32(w, length);
    if (length > 0)
    {
        put(w, s, (size_t)length);
    }
}

typedef struct reader_stct
{
    const uint8_t *buf;
    size_t length;
    size_t offset;
    int failed;
} reader_t;

static void get(reader_t *r, void *value, size_t length)
{
    if (r->failed || length > r->length - r->offset)
    {
        r->failed = 1;
        memset(value, 0, length);
        return;
    }
    memcpy(value, r->buf + r->offset, length);
    r->offset += length;
}

static int32_t get_i32(reader_t *r)
{
    int32_t v;
    get(r, &v, sizeof(v));
    return v;
}

static int64_t get_i64(reader_t *r)
{
    int64_t v;
    get(r, &v, sizeof(v));
    return v;
}

static void get_string(reader_t *r, const char **s, int32_t *length)
{
    int32_t n = get_i32(r);
    if (r->failed || n < 0 || n >= SHOAL_ARCHIVE_STRING_MAX || (size_t)n > r->length - r->offset)
    {
        r->failed = 1;
        *s = NULL;
        *length = 0;
        return;
    }
    *s = (const char *)(r->buf + r->offset);
    *length = n;
    r->offset += (size_t)n;
}

static int32_t string_length(const char *s, int32_t length)
{
    if (NULL == s)
    {
        return 0;
    }
    return length >= 0 ? length : (int32_t)strnlen(s, SHOAL_ARCHIVE_STRING_MAX);
}

int shoal_archive_encode(const shoal_archive_msg_t *m, uint8_t *buf, size_t capacity)
{
    if (NULL == m || NULL == buf)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive encode: msg and buf must not be NULL");
    }
    int32_t text_length = string_length(m->text, m->text_length);
    int32_t source_length = string_length(m->source, m->source_length);
    if (text_length >= SHOAL_ARCHIVE_STRING_MAX || source_length >= SHOAL_ARCHIVE_STRING_MAX)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive %s: a string is longer than %d bytes",
            shoal_archive_msg_type_name(m->type), SHOAL_ARCHIVE_STRING_MAX - 1);
    }
    writer_t w = { buf, capacity, 0, 0 };
    uint8_t version[2] = { SHOAL_ARCHIVE_PROTOCOL_VERSION, 0 };
    uint16_t type = (uint16_t)m->type;
    put(&w, version, sizeof(version));
    put(&w, &type, sizeof(type));
    put_i32(&w, 0); /* length, patched below */
    put_i64(&w, m->control_session_id);
    put_i64(&w, m->correlation_id);
    switch (m->type)
    {
        case SHOAL_ARCHIVE_CONNECT:
            put_i32(&w, m->stream_id);
            put_string(&w, m->text, text_length);
            break;
        case SHOAL_ARCHIVE_CLOSE_SESSION: break;
        case SHOAL_ARCHIVE_START_RECORDING:
            put_i32(&w, m->stream_id);
            put_i32(&w, m->count);
            put_string(&w, m->text, text_length);
            break;
        case SHOAL_ARCHIVE_STOP_RECORDING:
        case SHOAL_ARCHIVE_RECORDING_POSITION:
        case SHOAL_ARCHIVE_STOP_REPLAY:
        case SHOAL_ARCHIVE_PURGE: put_i64(&w, m->id); break;
        case SHOAL_ARCHIVE_LIST_RECORDINGS:
            put_i64(&w, m->id);
            put_i32(&w, m->count);
            break;
        case SHOAL_ARCHIVE_REPLAY:
            put_i64(&w, m->id);
            put_i64(&w, m->position);
            put_i64(&w, m->length);
            put_i32(&w, m->stream_id);
            put_string(&w, m->text, text_length);
            break;
        case SHOAL_ARCHIVE_TRUNCATE:
            put_i64(&w, m->id);
            put_i64(&w, m->position);
            break;
        case SHOAL_ARCHIVE_RESPONSE:
            put_i32(&w, m->code);
            put_i64(&w, m->value);
            put_string(&w, m->text, text_length);
            break;
        case SHOAL_ARCHIVE_DESCRIPTOR:
            put_i64(&w, m->id);
            put_i64(&w, m->start_position);
            put_i64(&w, m->stop_position);
            put_i64(&w, m->start_timestamp_ns);
            put_i64(&w, m->stop_timestamp_ns);
            put_i32(&w, m->initial_term_id);
            put_i32(&w, m->term_length);
            put_i32(&w, m->mtu);
            put_i32(&w, m->segment_length);
            put_i32(&w, m->session_id);
            put_i32(&w, m->stream_id);
            put_string(&w, m->text, text_length);
            put_string(&w, m->source, source_length);
            break;
        default: return shoal_set_err(SHOAL_EINVAL, "archive encode: unknown message type %d", (int)m->type);
    }
    if (w.failed)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive %s: message does not fit in %zu bytes",
            shoal_archive_msg_type_name(m->type), capacity);
    }
    int32_t length = (int32_t)w.offset;
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
    reader_t r = { buf, length, 0, 0 };
    uint8_t version[2];
    uint16_t type;
    get(&r, version, sizeof(version));
    get(&r, &type, sizeof(type));
    int32_t declared = get_i32(&r);
    m->type = type;
    m->control_session_id = get_i64(&r);
    m->correlation_id = get_i64(&r);
    if (SHOAL_ARCHIVE_PROTOCOL_VERSION != version[0])
    {
        return shoal_set_err(SHOAL_EINVAL, "archive message version %d (this is version %d)", (int)version[0],
            SHOAL_ARCHIVE_PROTOCOL_VERSION);
    }
    if (declared < 0 || (size_t)declared != length)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive message declares %d bytes but holds %zu", (int)declared, length);
    }
    switch (m->type)
    {
        case SHOAL_ARCHIVE_CONNECT:
            m->stream_id = get_i32(&r);
            get_string(&r, &m->text, &m->text_length);
            break;
        case SHOAL_ARCHIVE_CLOSE_SESSION: break;
        case SHOAL_ARCHIVE_START_RECORDING:
            m->stream_id = get_i32(&r);
            m->count = get_i32(&r);
            get_string(&r, &m->text, &m->text_length);
            break;
        case SHOAL_ARCHIVE_STOP_RECORDING:
        case SHOAL_ARCHIVE_RECORDING_POSITION:
        case SHOAL_ARCHIVE_STOP_REPLAY:
        case SHOAL_ARCHIVE_PURGE: m->id = get_i64(&r); break;
        case SHOAL_ARCHIVE_LIST_RECORDINGS:
            m->id = get_i64(&r);
            m->count = get_i32(&r);
            break;
        case SHOAL_ARCHIVE_REPLAY:
            m->id = get_i64(&r);
            m->position = get_i64(&r);
            m->length = get_i64(&r);
            m->stream_id = get_i32(&r);
            get_string(&r, &m->text, &m->text_length);
            break;
        case SHOAL_ARCHIVE_TRUNCATE:
            m->id = get_i64(&r);
            m->position = get_i64(&r);
            break;
        case SHOAL_ARCHIVE_RESPONSE:
            m->code = get_i32(&r);
            m->value = get_i64(&r);
            get_string(&r, &m->text, &m->text_length);
            break;
        case SHOAL_ARCHIVE_DESCRIPTOR:
            m->id = get_i64(&r);
            m->start_position = get_i64(&r);
            m->stop_position = get_i64(&r);
            m->start_timestamp_ns = get_i64(&r);
            m->stop_timestamp_ns = get_i64(&r);
            m->initial_term_id = get_i32(&r);
            m->term_length = get_i32(&r);
            m->mtu = get_i32(&r);
            m->segment_length = get_i32(&r);
            m->session_id = get_i32(&r);
            m->stream_id = get_i32(&r);
            get_string(&r, &m->text, &m->text_length);
            get_string(&r, &m->source, &m->source_length);
            break;
        default: return shoal_set_err(SHOAL_EINVAL, "archive message of unknown type %d", (int)m->type);
    }
    if (r.failed || r.offset != length)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive %s message of %zu bytes is malformed (%s)",
            shoal_archive_msg_type_name(m->type), length, r.failed ? "truncated body or bad string" : "trailing bytes");
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
