/*
 * Concurrent appenders: 4 threads offer messages (some fragmented) into one
 * log of 1 MiB terms while a reader thread consumes them, rotating over the
 * 3 partitions many times. Every message must arrive intact and, per
 * writer, in order. The writers behave like a concurrent publication
 * (flow-control window of term_length / 2 behind the reader, rotate on
 * TRIPPED); the reader behaves like an image (clean the term it leaves).
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "../shoal_test_main.h"
#include "logbuffer_test_util.h"

#define C_TERM_LENGTH         (1024 * 1024)
#define C_WRITERS             4
#define C_MESSAGES_PER_WRITER 20000
#define C_HEADER              12 /* writer id, seq, length */
#define C_TIMEOUT_S           120

typedef struct shared_stct
{
    test_log_t log;
    size_t bits;
    int64_t reader_position; /* release by the reader, acquire by writers */
    int failed;              /* set by any thread on a broken invariant */
} shared_t;

typedef struct writer_stct
{
    shared_t *shared;
    uint32_t id;
    pthread_t thread;
    int64_t admin_actions;
    int64_t back_pressured;
} writer_t;

static void pattern(uint8_t *buf, size_t len, uint32_t id, uint32_t seq)
{
    for (size_t i = C_HEADER; i < len; i++)
    {
        buf[i] = (uint8_t)(id * 31u + seq * 7u + i * 13u + len);
    }
}

static size_t message_length(uint32_t *rnd)
{
    uint32_t r = test_rand(rnd);
    if (r % 4 == 0)
    {
        return C_HEADER + r % (10 * TEST_MTU); /* often fragmented */
    }
    return C_HEADER + r % 300;
}

static void *writer_run(void *arg)
{
    writer_t *w = (writer_t *)arg;
    shared_t *s = w->shared;
    shoal_logbuffer_metadata_t *meta = s->log.meta;
    const shoal_data_header_t *dh = shoal_logbuffer_default_header(meta);
    const int32_t initial = meta->initial_term_id;
    uint8_t *buf = malloc(C_HEADER + 10 * TEST_MTU);
    uint32_t rnd = 0x9e3779b9u * (w->id + 1);

    for (uint32_t seq = 0; seq < C_MESSAGES_PER_WRITER && !shoal_load_relaxed(&s->failed);)
    {
        size_t len = message_length(&rnd);
        uint32_t hdr[3] = { w->id, seq, (uint32_t)len };
        memcpy(buf, hdr, sizeof(hdr));
        pattern(buf, len, w->id, seq);

        for (;;)
        {
            const int32_t term_count = shoal_logbuffer_active_term_count(meta);
            const size_t index = shoal_logbuffer_index_by_term_count(term_count);
            const int64_t raw_tail = shoal_load_acquire(&meta->term_tail_counters[index]);
            const int32_t term_id = shoal_logbuffer_term_id(raw_tail);
            const int32_t term_offset = shoal_logbuffer_term_offset(raw_tail, C_TERM_LENGTH);
            if (term_count != shoal_logbuffer_compute_term_count(term_id, initial))
            {
                w->admin_actions++; /* rotation in progress */
                continue;
            }
            const int64_t position = shoal_logbuffer_compute_position(term_id, term_offset, s->bits, initial);
            const int64_t limit = shoal_load_acquire(&s->reader_position) + C_TERM_LENGTH / 2;
            if (position >= limit)
            {
                w->back_pressured++;
                sched_yield();
                continue;
            }
            uint8_t *term = test_log_term(&s->log, index);
            int32_t r = test_append(term, &meta->term_tail_counters[index], C_TERM_LENGTH, dh, buf, len, term_id);
            if (SHOAL_TERM_APPENDER_TRIPPED == r)
            {
                shoal_logbuffer_rotate_log(meta, term_count, term_id);
                w->admin_actions++;
                continue;
            }
            if (r < 0)
            {
                shoal_store_relaxed(&s->failed, 1);
            }
            break;
        }
        seq++;
    }
    free(buf);
    return NULL;
}

typedef struct reader_state_stct
{
    uint32_t next_seq[C_WRITERS];
    int64_t messages;
    int64_t bytes;
    int64_t last_position;
    int errors;
} reader_state_t;

static shoal_controlled_action_t verify_handler(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    reader_state_t *rs = (reader_state_t *)clientd;
    uint32_t h[3];
    uint8_t expected[C_HEADER + 10 * TEST_MTU];

    if (len < C_HEADER)
    {
        rs->errors++;
        return SHOAL_ACTION_BREAK;
    }
    memcpy(h, buf, sizeof(h));
    if (h[0] >= C_WRITERS || h[2] != len || h[1] != rs->next_seq[h[0]] || hdr->position <= rs->last_position)
    {
        if (rs->errors++ < 5)
        {
            print_error("bad message: writer %u seq %u (expected %u) len %u/%zu pos %lld\n", h[0], h[1],
                h[0] < C_WRITERS ? rs->next_seq[h[0]] : 0, h[2], len, (long long)hdr->position);
        }
        return SHOAL_ACTION_BREAK;
    }
    pattern(expected, len, h[0], h[1]);
    if (0 != memcmp(expected + C_HEADER, buf + C_HEADER, len - C_HEADER))
    {
        rs->errors++;
        return SHOAL_ACTION_BREAK;
    }
    rs->next_seq[h[0]]++;
    rs->messages++;
    rs->bytes += (int64_t)len;
    rs->last_position = hdr->position;
    return SHOAL_ACTION_CONTINUE;
}

static void test_concurrent_writers_one_reader(void **state)
{
    (void)state;
    shared_t *s = calloc(1, sizeof(*s));
    test_log_init(&s->log, C_TERM_LENGTH, -17);
    s->bits = shoal_logbuffer_position_bits_to_shift(C_TERM_LENGTH);

    writer_t writers[C_WRITERS];
    for (uint32_t i = 0; i < C_WRITERS; i++)
    {
        writers[i] = (writer_t){ .shared = s, .id = i };
        assert_int_equal(0, pthread_create(&writers[i].thread, NULL, writer_run, &writers[i]));
    }

    /* the reader runs on this thread */
    reader_state_t rs;
    memset(&rs, 0, sizeof(rs));
    rs.last_position = -1;
    shoal_assembly_buffer_t assembly = { NULL, 0 };
    int64_t term_count = 0;
    int32_t offset = 0;
    int64_t terms_completed = 0;
    const int64_t total = (int64_t)C_WRITERS * C_MESSAGES_PER_WRITER;
    time_t deadline = time(NULL) + C_TIMEOUT_S;

    while (rs.messages < total && 0 == rs.errors && !shoal_load_relaxed(&s->failed))
    {
        size_t index = shoal_logbuffer_index_by_term_count(term_count);
        uint8_t *term = test_log_term(&s->log, index);
        int64_t base = term_count * C_TERM_LENGTH;
        const shoal_frame_expect_t expect =
            shoal_frame_expect(true, TEST_STREAM_ID, s->log.meta->initial_term_id + (int32_t)term_count);
        shoal_term_read_result_t r =
            shoal_term_read_messages(term, offset, C_TERM_LENGTH, base, &expect, 64, verify_handler, &rs, &assembly);
        offset = r.offset;
        if (offset == C_TERM_LENGTH)
        {
            /* leave the term: clean it for its reuse 3 terms later */
            shoal_term_clean(term, 0, C_TERM_LENGTH);
            term_count++;
            offset = 0;
            terms_completed++;
        }
        shoal_store_release(&s->reader_position, term_count * C_TERM_LENGTH + offset);
        if (0 == r.messages)
        {
            if (time(NULL) > deadline)
            {
                break;
            }
            sched_yield();
        }
    }

    shoal_store_relaxed(&s->failed, s->failed | (rs.messages < total ? 2 : 0));
    for (int i = 0; i < C_WRITERS; i++)
    {
        pthread_join(writers[i].thread, NULL);
    }
    print_message("%lld messages, %lld bytes, %lld terms completed, writer 0: %lld admin actions, %lld back "
                  "pressured\n",
        (long long)rs.messages, (long long)rs.bytes, (long long)terms_completed, (long long)writers[0].admin_actions,
        (long long)writers[0].back_pressured);

    assert_int_equal(0, rs.errors);
    assert_int_equal(total, rs.messages);
    for (int i = 0; i < C_WRITERS; i++)
    {
        assert_int_equal(C_MESSAGES_PER_WRITER, rs.next_seq[i]);
    }
    assert_true(terms_completed >= 6); /* rotated over the 3 partitions at least twice */
    assert_int_equal(0, s->failed & 1);

    shoal_assembly_buffer_close(&assembly);
    test_log_close(&s->log);
    free(s);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_concurrent_writers_one_reader),
})
