/*
 * An IPC publication's log is not cleaned between laps: a reader takes a
 * frame for this lap's only if its header names this term and offset
 * (shoal_frame_check.h), so it never takes last lap's bytes for a frame,
 * before the tail or between fragments. Here an exclusive publication's
 * one publisher thread, then a concurrent publication's two, lap a 64 KiB-term
 * log hundreds of times with messages of random sizes (one frame up to
 * several fragments) by offer, offerv and try_claim, while one subscriber
 * reads from the start and another joins half way: every message must
 * arrive whole, intact and in its writer's order, and the late one must
 * start at a message boundary and miss nothing after it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"
#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_writer_bias.h"

#define STREAM_ID   4501
#define MESSAGES    40000
#define MAX_LENGTH  6000 /* up to 5 fragments of a 1408-byte mtu; the term's limit is 8 KiB */
#define HEADER_SIZE 12   /* u64 seq, u32 length */

/* Messages carry seq numbers; writer w of WRITERS sends w, w + WRITERS, ...
 * (one writer: every seq), and each writer's must arrive in its order. */
#define WRITERS 2

typedef struct reader_stct
{
    int64_t next_seq[WRITERS]; /* per writer; -1: nothing read yet (a late joiner starts anywhere) */
    int64_t messages;
    int64_t bad;
    char first_error[160];
} reader_t;

typedef struct run_stct
{
    shoal_publication_t *pub;
    int writers;       /* threads offering on pub: 1 (exclusive) or WRITERS (concurrent) */
    int64_t published; /* by all writers */
    int failed;
    int stop; /* the reader gave up: back pressure will not end */
    /* > 0: writers take turns of this many messages each (a concurrent
     * log's tail handed from thread to thread, shoal_writer_bias.h);
     * 0: they all write at once */
    int turn_length;
    int64_t turn;
} run_t;

typedef struct writer_stct
{
    run_t *run;
    int id;
} writer_t;

static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static uint8_t pattern(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 31 + i * 7 + 1);
}

static size_t length_of(uint64_t seq)
{
    uint64_t s = seq * 0x9E3779B97F4A7C15ULL + 1;
    return HEADER_SIZE + (size_t)(next_random(&s) % (MAX_LENGTH - HEADER_SIZE));
}

static void fill(uint8_t *buf, uint64_t seq, size_t length)
{
    uint32_t len32 = (uint32_t)length;
    memcpy(buf, &seq, sizeof(seq));
    memcpy(buf + 8, &len32, sizeof(len32));
    for (size_t i = HEADER_SIZE; i < length; i++)
    {
        buf[i] = pattern(seq, i);
    }
}

/* Retries while back pressured; false on any other refusal. */
static bool publish(run_t *run, uint64_t seq, uint8_t *buf, uint64_t *rng)
{
    shoal_publication_t *pub = run->pub;
    const size_t length = length_of(seq);
    fill(buf, seq, length);
    const int how = (int)(next_random(rng) % 3);
    for (;;)
    {
        int64_t r;
        if (0 == how || length > shoal_publication_max_payload_length(pub))
        {
            r = shoal_publication_offer(pub, buf, length);
        }
        else if (1 == how)
        {
            shoal_iovec_t iov[2] = { { buf, HEADER_SIZE }, { buf + HEADER_SIZE, length - HEADER_SIZE } };
            r = shoal_publication_offerv(pub, iov, 2);
        }
        else
        {
            shoal_claim_t claim;
            r = shoal_publication_try_claim(pub, length, &claim);
            if (r > 0)
            {
                memcpy(claim.data, buf, length);
                if (shoal_claim_commit(&claim) < 0)
                {
                    return false;
                }
            }
        }
        if (r > 0)
        {
            return true;
        }
        if ((SHOAL_BACK_PRESSURED != r && SHOAL_ADMIN_ACTION != r) || shoal_load_acquire(&run->stop))
        {
            return false;
        }
        sched_yield();
    }
}

static void *publisher(void *arg)
{
    writer_t *w = arg;
    run_t *run = w->run;
    uint8_t *buf = malloc(MAX_LENGTH);
    uint64_t rng = 0x5eed + (uint64_t)w->id;
    int in_turn = 0;
    for (uint64_t seq = (uint64_t)w->id; seq < MESSAGES; seq += (uint64_t)run->writers)
    {
        while (run->turn_length > 0 && 0 == in_turn && shoal_load_acquire(&run->turn) % run->writers != w->id &&
            !shoal_load_acquire(&run->stop))
        {
            sched_yield();
        }
        if (!publish(run, seq, buf, &rng))
        {
            shoal_store_release(&run->failed, 1);
            break;
        }
        shoal_get_and_add(&run->published, 1);
        if (run->turn_length > 0 && ++in_turn == run->turn_length)
        {
            in_turn = 0;
            shoal_get_and_add(&run->turn, 1);
        }
    }
    free(buf);
    return NULL;
}

static void on_message(void *clientd, const uint8_t *msg, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    reader_t *r = clientd;
    uint64_t seq = UINT64_MAX;
    uint32_t declared = 0;
    if (len >= HEADER_SIZE)
    {
        memcpy(&seq, msg, sizeof(seq));
        memcpy(&declared, msg + 8, sizeof(declared));
    }
    int64_t *next = &r->next_seq[seq % WRITERS];
    bool ok = len >= HEADER_SIZE && declared == len && len == length_of(seq) && (*next < 0 || (int64_t)seq == *next);
    for (size_t i = HEADER_SIZE; ok && i < len; i++)
    {
        ok = msg[i] == pattern(seq, i);
    }
    if (!ok)
    {
        if (0 == r->bad)
        {
            snprintf(r->first_error, sizeof(r->first_error),
                "message %lld: %zu bytes, seq %llu (expected %lld), declared length %u", (long long)r->messages, len,
                (unsigned long long)seq, (long long)*next, declared);
        }
        r->bad++;
    }
    *next = (int64_t)seq + WRITERS;
    r->messages++;
}

/* Read up to the last message of every writer. */
static bool read_to_the_end(const reader_t *r)
{
    for (int w = 0; w < WRITERS; w++)
    {
        if (r->next_seq[w] < MESSAGES)
        {
            return false;
        }
    }
    return true;
}

static void laps_of_an_uncleaned_log_read_intact(bool exclusive, int turn_length)
{
    shoal_test_env_t env;
    const char *const settings[] = { "IPC_TERM_LENGTH", "64k", NULL };
    assert_int_equal(0, shoal_test_env_start_settings(&env, "exclusive-laps", SHOAL_TEST_ENV_DEFAULTS, settings));
    shoal_subscription_t *first, *late = NULL;
    run_t run = { .writers = exclusive ? 1 : WRITERS, .turn_length = turn_length };
    assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", STREAM_ID, &first));
    assert_int_equal(0,
        exclusive ? shoal_add_exclusive_publication(env.client, "aeron:ipc", STREAM_ID, &run.pub)
                  : shoal_add_publication(env.client, "aeron:ipc", STREAM_ID, &run.pub));
    assert_int_equal(0, shoal_test_wait_connected(run.pub));
    assert_int_equal(0, shoal_test_wait_images(first, 1, 5000));

    reader_t from_start = { .next_seq = { 0, 1 } };
    reader_t joiner = { .next_seq = { -1, -1 } };
    pthread_t threads[WRITERS];
    writer_t writers[WRITERS];
    for (int w = 0; w < run.writers; w++)
    {
        writers[w] = (writer_t){ &run, w };
        assert_int_equal(0, pthread_create(&threads[w], NULL, publisher, &writers[w]));
    }
    const int64_t deadline = shoal_test_now_ms() + 60000;
    while (from_start.messages < MESSAGES && !shoal_load_acquire(&run.failed) && shoal_test_now_ms() < deadline)
    {
        int n = shoal_subscription_poll(first, on_message, &from_start, 64);
        if (NULL == late && shoal_load_acquire(&run.published) >= MESSAGES / 2)
        {
            assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", STREAM_ID, &late));
        }
        if (NULL != late)
        {
            n += shoal_subscription_poll(late, on_message, &joiner, 64);
        }
        if (0 == n)
        {
            sched_yield();
        }
    }
    /* The late subscriber reads on to the end of what was published. */
    while (NULL != late && !read_to_the_end(&joiner) && shoal_test_now_ms() < deadline)
    {
        if (0 == shoal_subscription_poll(late, on_message, &joiner, 64))
        {
            sched_yield();
        }
    }
    shoal_store_release(&run.stop, 1);
    for (int w = 0; w < run.writers; w++)
    {
        pthread_join(threads[w], NULL);
    }
    printf("%s laps, %d writer(s): %lld messages read from the start (%lld bad%s%s), %lld by the late subscriber "
           "(%lld bad%s%s)\n",
        exclusive ? "exclusive" : "concurrent", run.writers, (long long)from_start.messages, (long long)from_start.bad,
        from_start.bad ? ": " : "", from_start.first_error, (long long)joiner.messages, (long long)joiner.bad,
        joiner.bad ? ": " : "", joiner.first_error);
    assert_false(shoal_load_acquire(&run.failed));
    const int64_t bias = shoal_load_acquire(&run.pub->meta->writer_bias);
    if (exclusive)
    {
        assert_int_equal(SHOAL_WRITER_BIAS_FREE, bias); /* an exclusive log has no use for it */
    }
    else if (turn_length > 0 && shoal_membarrier_register())
    {
        /* 40 turns: handed over 15 times, then shared for good. */
        assert_int_equal(SHOAL_WRITER_BIAS_SHARED, bias);
    }
    assert_int_equal(MESSAGES, from_start.messages);
    assert_int_equal(0, from_start.bad);
    assert_non_null(late);
    assert_true(joiner.messages > 0);
    assert_true(read_to_the_end(&joiner));
    assert_int_equal(0, joiner.bad);
    assert_int_equal(0, shoal_publication_close(run.pub));
    assert_int_equal(0, shoal_subscription_close(first));
    assert_int_equal(0, shoal_subscription_close(late));
    shoal_test_env_stop(&env);
}

static void test_laps_of_an_uncleaned_exclusive_log_read_intact(void **state)
{
    (void)state;
    laps_of_an_uncleaned_log_read_intact(true, 0);
}

static void test_laps_of_an_uncleaned_concurrent_log_read_intact(void **state)
{
    (void)state;
    laps_of_an_uncleaned_log_read_intact(false, 0);
}

/* Two threads taking turns of 1,000 messages: the tail goes from one to the
 * other, 40 times, more than the bias hands over before it is shared. */
static void test_concurrent_log_written_by_turns_read_intact(void **state)
{
    (void)state;
    laps_of_an_uncleaned_log_read_intact(false, 1000);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_laps_of_an_uncleaned_exclusive_log_read_intact),
    cmocka_unit_test(test_laps_of_an_uncleaned_concurrent_log_read_intact),
    cmocka_unit_test(test_concurrent_log_written_by_turns_read_intact),
})
