/*
 * Archive tests: a log builder that lays out frames as the term appender does
 * (32-byte data headers, 32-byte alignment, fragmentation at mtu, a PAD frame
 * where a message does not fit before the term end) and hands them to a
 * recording writer in blocks of whole frames; messages carry a sequence
 * number and a pattern derived from it, so a reader can check every byte.
 */
#ifndef ARCHIVE_TEST_UTIL_H
#define ARCHIVE_TEST_UTIL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/shoal_archive_catalog.h"
#include "archive/shoal_recording_writer.h"
#include "shoal/shoal_archive.h"
#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_fs.h"

#define LB_SESSION_ID      0x5107
#define LB_STREAM_ID       1001
#define LB_CHANNEL         "aeron:ipc?term-length=64k"
#define LB_TERM_LENGTH     (64 * 1024)
#define LB_SEGMENT_LENGTH  (128 * 1024)
#define LB_MTU             1408
#define LB_INITIAL_TERM_ID 7

typedef struct log_builder_stct
{
    int32_t term_length;
    int32_t mtu;
    int32_t initial_term_id;
    int64_t position; /* next append */
    int64_t flushed;  /* handed to the writer up to here */
    int64_t time_ns;  /* the time given to the next block */
    uint8_t *term;    /* the current term: [term_base, term_base + term_length) */
    int64_t term_base;
    size_t max_block; /* blocks of at most this many bytes (at least one frame) */
    uint32_t rng;
    shoal_recording_writer_t *writer;
    int64_t on_written_calls;
    void (*on_written)(void *clientd, int64_t position); /* after each block (the crash test reports it) */
    void *clientd;
} log_builder_t;

static inline uint32_t lb_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static inline void lb_init(log_builder_t *lb, int32_t term_length, int32_t mtu, int32_t initial_term_id,
    int64_t start_position, shoal_recording_writer_t *w)
{
    memset(lb, 0, sizeof(*lb));
    lb->term_length = term_length;
    lb->mtu = mtu;
    lb->initial_term_id = initial_term_id;
    lb->position = start_position;
    lb->flushed = start_position;
    lb->term_base = start_position - (start_position & (term_length - 1));
    lb->term = calloc(1, (size_t)term_length);
    lb->max_block = 4096;
    lb->rng = 12345;
    lb->time_ns = 1000000000LL;
    lb->writer = w;
}

static inline void lb_free(log_builder_t *lb)
{
    free(lb->term);
}

static inline void lb_frame(log_builder_t *lb, int32_t frame_length, uint8_t flags, uint16_t type, int64_t seq)
{
    const int32_t offset = (int32_t)(lb->position - lb->term_base);
    shoal_data_header_t h = { shoal_frame_header(frame_length, flags, type), offset, LB_SESSION_ID, LB_STREAM_ID,
        lb->initial_term_id + (int32_t)(lb->term_base / lb->term_length), seq };
    memcpy(lb->term + offset, &h, sizeof(h));
    lb->position += SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
}

/* Writes [flushed, position) to the writer in blocks of whole frames: 0 or -1. */
static inline int lb_flush(log_builder_t *lb)
{
    while (lb->flushed < lb->position)
    {
        const int32_t start = (int32_t)(lb->flushed - lb->term_base);
        int32_t end = start;
        const size_t limit = 1 + lb_rand(&lb->rng) % lb->max_block;
        while (lb->term_base + end < lb->position)
        {
            int32_t len;
            memcpy(&len, lb->term + end, sizeof(len));
            const int32_t aligned = SHOAL_ALIGN(len, SHOAL_FRAME_ALIGNMENT);
            if (end > start && (size_t)(end - start + aligned) > limit)
            {
                break;
            }
            end += aligned;
        }
        lb->time_ns += 1000;
        if (lb->writer != NULL &&
            shoal_recording_writer_write(lb->writer, lb->term + start, (size_t)(end - start), lb->flushed,
                lb->time_ns) < 0)
        {
            return -1;
        }
        lb->flushed = lb->term_base + end;
        if (lb->on_written != NULL)
        {
            lb->on_written(lb->clientd, lb->flushed);
        }
    }
    return 0;
}

static inline uint8_t lb_pattern(int64_t seq, size_t i)
{
    return (uint8_t)((uint64_t)seq * 31u + i);
}

/* Payload of message seq: 8 bytes of seq, then the pattern. */
static inline size_t lb_payload(uint8_t *buf, int64_t seq, size_t length)
{
    for (size_t i = 0; i < length; i++)
    {
        buf[i] = lb_pattern(seq, i);
    }
    if (length >= sizeof(seq))
    {
        memcpy(buf, &seq, sizeof(seq));
    }
    return length;
}

/* Appends message seq of length bytes (fragmented past mtu - 32), padding to
 * the term end first when it does not fit (flushing the term out). 0 or -1. */
static inline int lb_append(log_builder_t *lb, int64_t seq, size_t length)
{
    const size_t max_payload = (size_t)lb->mtu - SHOAL_DATA_HEADER_LENGTH;
    const size_t fragments = length == 0 ? 1 : (length + max_payload - 1) / max_payload;
    const size_t last = length - (fragments - 1) * max_payload;
    const int64_t needed = (int64_t)(fragments - 1) * SHOAL_ALIGN((int64_t)lb->mtu, SHOAL_FRAME_ALIGNMENT) +
        SHOAL_ALIGN((int64_t)(last + SHOAL_DATA_HEADER_LENGTH), SHOAL_FRAME_ALIGNMENT);
    const int64_t term_end = lb->term_base + lb->term_length;
    if (lb->position + needed > term_end)
    {
        if (lb->position < term_end)
        {
            lb_frame(lb, (int32_t)(term_end - lb->position), SHOAL_FRAME_FLAG_UNFRAGMENTED, SHOAL_HDR_TYPE_PAD, 0);
        }
        if (lb_flush(lb) < 0)
        {
            return -1;
        }
        lb->term_base = term_end;
        memset(lb->term, 0, (size_t)lb->term_length);
    }
    uint8_t *payload = malloc(length > 0 ? length : 1);
    lb_payload(payload, seq, length);
    for (size_t k = 0; k < fragments; k++)
    {
        const size_t chunk = k + 1 == fragments ? last : max_payload;
        const int32_t offset = (int32_t)(lb->position - lb->term_base);
        uint8_t flags = 0;
        flags |= k == 0 ? SHOAL_FRAME_FLAG_BEGIN : 0;
        flags |= k + 1 == fragments ? SHOAL_FRAME_FLAG_END : 0;
        memcpy(lb->term + offset + SHOAL_DATA_HEADER_LENGTH, payload + k * max_payload, chunk);
        lb_frame(lb, (int32_t)(chunk + SHOAL_DATA_HEADER_LENGTH), flags, SHOAL_HDR_TYPE_DATA, seq);
    }
    free(payload);
    return 0;
}

/* Checks a delivered message against the pattern of its sequence number
 * (its reserved value): true if every byte matches. */
static inline bool lb_check_message(const uint8_t *buf, size_t len, int64_t seq)
{
    for (size_t i = 0; i < len; i++)
    {
        const uint8_t want = i < sizeof(seq) && len >= sizeof(seq) ? ((const uint8_t *)&seq)[i] : lb_pattern(seq, i);
        if (buf[i] != want)
        {
            return false;
        }
    }
    return true;
}

/* The message length the tests use for seq: mostly small, some fragmented. */
static inline size_t lb_length_of(int64_t seq, int32_t mtu)
{
    switch (seq % 7)
    {
        case 0: return 0;
        case 1: return 8;
        case 2: return 100 + (size_t)(seq % 50);
        case 3: return (size_t)mtu * 3 + 17; /* fragmented */
        case 4: return 1000;
        case 5: return (size_t)mtu - SHOAL_DATA_HEADER_LENGTH; /* exactly one frame */
        default: return 24;
    }
}

/* Adds a recording of d to cat, opens its writer and a builder writing to
 * it: the recording id, or -1 (the error set). */
static inline int64_t lb_start_recording(shoal_archive_catalog_t *cat, const shoal_recording_descriptor_t *d,
    shoal_archive_fsync_policy_t fsync, shoal_recording_writer_t **w, log_builder_t *lb)
{
    const int64_t id = shoal_archive_catalog_add_recording(cat, d);
    if (id < 0 ||
        shoal_recording_writer_open(w, cat, id, d->start_position, d->initial_term_id, d->term_length,
            d->segment_length, fsync) < 0)
    {
        return -1;
    }
    lb_init(lb, d->term_length, d->mtu, d->initial_term_id, d->start_position, *w);
    return id;
}

/* Checks messages read back (a fragment handler): in order from next_seq,
 * each byte its pattern, ids, flags and term id right, positions growing;
 * with a cursor, its position is the message's and its time never goes back.
 * Zero-initialise, set next_seq and cursor if needed. */
typedef struct lb_check_stct
{
    int64_t next_seq;
    int64_t last_position;
    int64_t last_time;
    shoal_recording_cursor_t *cursor;
    int64_t bad;
} lb_check_t;

static inline void lb_check_on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    lb_check_t *c = clientd;
    const int64_t seq = hdr->reserved_value;
    if (seq != c->next_seq || len != lb_length_of(seq, LB_MTU) || !lb_check_message(buf, len, seq) ||
        hdr->position <= c->last_position || hdr->session_id != LB_SESSION_ID || hdr->stream_id != LB_STREAM_ID ||
        (hdr->flags & SHOAL_FLAG_BEGIN) == 0 || (hdr->flags & SHOAL_FLAG_END) == 0 ||
        hdr->term_id != LB_INITIAL_TERM_ID + (int32_t)((hdr->position - 1) / LB_TERM_LENGTH))
    {
        c->bad++;
    }
    if (c->cursor != NULL)
    {
        const int64_t t = shoal_recording_cursor_timestamp_ns(c->cursor);
        if (t < c->last_time || shoal_recording_cursor_position(c->cursor) != hdr->position)
        {
            c->bad++;
        }
        c->last_time = t;
    }
    c->last_position = hdr->position;
    c->next_seq = seq + 1;
}

static inline void archive_test_dir(char *out, size_t len, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, len, "%s/shoal-%s-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", name);
    if (mkdtemp(out) == NULL)
    {
        abort();
    }
}

static inline shoal_recording_descriptor_t archive_test_descriptor(int64_t start_position, int32_t term_length,
    int32_t segment_length, int32_t mtu)
{
    shoal_recording_descriptor_t d;
    memset(&d, 0, sizeof(d));
    d.start_position = start_position;
    d.start_timestamp_ns = 1000000000LL;
    d.initial_term_id = LB_INITIAL_TERM_ID;
    d.term_length = term_length;
    d.mtu = mtu;
    d.segment_length = segment_length;
    d.session_id = LB_SESSION_ID;
    d.stream_id = LB_STREAM_ID;
    d.channel = LB_CHANNEL;
    d.source_identity = "test";
    return d;
}

/* Opens the catalog in dir and starts its first recording from position 0
 * with the LB_ sizes, as the children that crash or fill the disk do: the
 * recording id (0 in a fresh catalog), or -1 (the error set). */
static inline int64_t lb_start_first_recording(const char *dir, shoal_archive_fsync_policy_t fsync,
    shoal_archive_catalog_t **cat, shoal_recording_writer_t **w, log_builder_t *lb)
{
    const shoal_recording_descriptor_t d = archive_test_descriptor(0, LB_TERM_LENGTH, LB_SEGMENT_LENGTH, LB_MTU);
    if (shoal_archive_catalog_open(cat, dir, fsync) < 0)
    {
        return -1;
    }
    return lb_start_recording(*cat, &d, fsync, w, lb);
}

#endif
