/*
 * Shared helpers for the log buffer tests (header-only: each test_*.c is its
 * own executable).
 */
#ifndef LOGBUFFER_TEST_UTIL_H
#define LOGBUFFER_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "logbuffer/shoal_term_appender.h"
#include "logbuffer/shoal_term_reader.h"
#include "logbuffer/shoal_term_gap_scanner.h"
#include "logbuffer/shoal_term_unblocker.h"
#include "protocol/shoal_frames.h"

#define TEST_TERM_LENGTH     (64 * 1024)
#define TEST_MTU             1408
#define TEST_MAX_PAYLOAD     (TEST_MTU - SHOAL_DATA_HEADER_LENGTH)
#define TEST_SESSION_ID      0x5e55
#define TEST_STREAM_ID       1001
#define TEST_INITIAL_TERM_ID 7

/* A whole log (3 terms + metadata) in zeroed, page-aligned memory. */
typedef struct test_log_stct
{
    uint8_t *base;
    int32_t term_length;
    shoal_logbuffer_metadata_t *meta;
} test_log_t;

static inline void test_log_init(test_log_t *log, int32_t term_length, int32_t initial_term_id)
{
    size_t length = (size_t)shoal_logbuffer_compute_log_length(term_length);
    void *p = NULL;
    assert_int_equal(0, posix_memalign(&p, 4096, length));
    memset(p, 0, length);
    log->base = (uint8_t *)p;
    log->term_length = term_length;
    log->meta = shoal_logbuffer_metadata(log->base, term_length);
    assert_int_equal(0,
        shoal_logbuffer_metadata_init(log->meta, term_length, TEST_MTU, 4096, initial_term_id, TEST_SESSION_ID,
            TEST_STREAM_ID, 42));
}

static inline void test_log_close(test_log_t *log)
{
    free(log->base);
    log->base = NULL;
}

static inline uint8_t *test_log_term(test_log_t *log, size_t index)
{
    return shoal_logbuffer_term(log->base, log->term_length, index);
}

static inline const shoal_data_header_t *test_frame(const uint8_t *term, int32_t offset)
{
    return (const shoal_data_header_t *)(term + offset);
}

/* Deterministic payload pattern. */
static inline void test_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
    {
        buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
    }
}

/* xorshift for reproducible "random" sizes */
static inline uint32_t test_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Collects delivered messages (copies) for assertions. */
#define TEST_MAX_MSGS 4096
typedef struct test_sink_stct
{
    int count;
    size_t lengths[TEST_MAX_MSGS];
    uint8_t *data[TEST_MAX_MSGS];
    shoal_header_t headers[TEST_MAX_MSGS];
    shoal_controlled_action_t action; /* returned for every message ... */
    int action_at;                    /* ... or only for message index action_at (-1: always) */
} test_sink_t;

static inline void test_sink_init(test_sink_t *s)
{
    memset(s, 0, sizeof(*s));
    s->action = SHOAL_ACTION_CONTINUE;
    s->action_at = -1;
}

static inline void test_sink_close(test_sink_t *s)
{
    for (int i = 0; i < s->count; i++)
    {
        free(s->data[i]);
    }
    s->count = 0;
}

static inline shoal_controlled_action_t test_sink_handler(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    test_sink_t *s = (test_sink_t *)clientd;
    int index = s->count;
    shoal_controlled_action_t action = (s->action_at < 0 || s->action_at == index) ? s->action : SHOAL_ACTION_CONTINUE;
    if (SHOAL_ACTION_ABORT == action)
    {
        return action;
    }
    assert_true(index < TEST_MAX_MSGS);
    s->data[index] = (uint8_t *)malloc(len > 0 ? len : 1);
    if (len > 0)
    {
        memcpy(s->data[index], buf, len);
    }
    s->lengths[index] = len;
    s->headers[index] = *hdr;
    s->count++;
    return action;
}

static inline int32_t test_append(uint8_t *term, int64_t *tail, int32_t term_length,
    const shoal_data_header_t *default_header, const uint8_t *buf, size_t len, int32_t term_id)
{
    shoal_iovec_t iov = { buf, len };
    if (len <= TEST_MAX_PAYLOAD)
    {
        return shoal_term_appender_append_unfragmented(term, tail, term_length, default_header, &iov, 1, len, 0,
            term_id);
    }
    return shoal_term_appender_append_fragmented(term, tail, term_length, default_header, &iov, 1, len,
        TEST_MAX_PAYLOAD, 0, term_id);
}

/* One term to append to and read from, with a sink and an assembly buffer:
 * the fixture of the term appender, reader and unblocker tests. */
typedef struct test_term_stct
{
    test_log_t log;
    uint8_t *term;
    int64_t *tail;
    const shoal_data_header_t *dh;
    int32_t term_length;
    test_sink_t sink;
    shoal_assembly_buffer_t assembly;
    shoal_frame_expect_t expect; /* the reader's: as in an uncleaned log, the first term */
} test_term_t;

static inline test_term_t *test_term_open(int32_t term_length)
{
    test_term_t *f = calloc(1, sizeof(*f));
    test_log_init(&f->log, term_length, TEST_INITIAL_TERM_ID);
    f->term = test_log_term(&f->log, 0);
    f->tail = &f->log.meta->term_tail_counters[0];
    f->dh = shoal_logbuffer_default_header(f->log.meta);
    f->term_length = term_length;
    f->expect = shoal_frame_expect(true, TEST_STREAM_ID, TEST_INITIAL_TERM_ID);
    test_sink_init(&f->sink);
    return f;
}

/* cmocka setup and teardown for a TEST_TERM_LENGTH term */
static inline int test_term_setup(void **state)
{
    *state = test_term_open(TEST_TERM_LENGTH);
    return 0;
}

static inline int test_term_teardown(void **state)
{
    test_term_t *f = *state;
    test_sink_close(&f->sink);
    shoal_assembly_buffer_close(&f->assembly);
    test_log_close(&f->log);
    free(f);
    return 0;
}

/* Reads up to limit messages from offset from into the sink. */
static inline shoal_term_read_result_t test_term_read(test_term_t *f, int32_t from, int64_t position, size_t limit)
{
    return shoal_term_read_messages(f->term, from, f->term_length, position, &f->expect, limit, test_sink_handler,
        &f->sink, &f->assembly);
}

static inline int32_t test_term_append(test_term_t *f, const uint8_t *buf, size_t len)
{
    return test_append(f->term, f->tail, f->term_length, f->dh, buf, len, TEST_INITIAL_TERM_ID);
}

#endif
