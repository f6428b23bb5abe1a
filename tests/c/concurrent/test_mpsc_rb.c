/* Tests for the many-producer single-consumer ring (core/src/concurrent/shoal_mpsc_rb.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../shoal_test_main.h"
#include "concurrent/shoal_mpsc_rb.h"
#include "ring_test_util.h"
#include "shoal/shoal.h"

#define CAPACITY 1024
#define MSG_TYPE 7

typedef struct
{
    uint8_t *region; /* first: ring_test_teardown */
    shoal_mpsc_rb_t rb;
} fixture_t;

static uint8_t *new_region(size_t capacity)
{
    return ring_test_region(capacity + SHOAL_RB_TRAILER_LENGTH);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->region = new_region(CAPACITY);
    *state = f;
    return shoal_mpsc_rb_init(&f->rb, f->region, CAPACITY + SHOAL_RB_TRAILER_LENGTH);
}

/* Collects what the handler saw. */
typedef struct
{
    int count;
    int32_t types[64];
    size_t lengths[64];
    uint8_t payloads[64][256];
} captured_t;

static void capture(int32_t msg_type_id, const uint8_t *buffer, size_t length, void *clientd)
{
    captured_t *c = clientd;
    assert_true(c->count < 64);
    assert_true(length <= 256);
    c->types[c->count] = msg_type_id;
    c->lengths[c->count] = length;
    memcpy(c->payloads[c->count], buffer, length);
    c->count++;
}

static void fill(uint8_t *buf, size_t length, uint8_t seed)
{
    for (size_t i = 0; i < length; i++)
    {
        buf[i] = (uint8_t)(seed + i * 31);
    }
}

static void test_init_rejects_bad_regions(void **state)
{
    (void)state;
    shoal_mpsc_rb_t rb;
    uint8_t *region = new_region(4096);

    assert_int_equal(-1, shoal_mpsc_rb_init(&rb, region, 1000 + SHOAL_RB_TRAILER_LENGTH));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "not a power of 2"));

    assert_int_equal(-1, shoal_mpsc_rb_init(&rb, region, 10));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "trailer"));

    assert_int_equal(-1, shoal_mpsc_rb_init(&rb, region, 32 + SHOAL_RB_TRAILER_LENGTH));
    assert_non_null(strstr(shoal_errmsg(), "outside"));

    assert_int_equal(-1, shoal_mpsc_rb_init(&rb, region + 4, 1024 + SHOAL_RB_TRAILER_LENGTH));
    assert_non_null(strstr(shoal_errmsg(), "aligned"));

    assert_int_equal(0, shoal_mpsc_rb_init(&rb, region, 4096 + SHOAL_RB_TRAILER_LENGTH));
    assert_int_equal(4096, rb.capacity);
    assert_int_equal(512, rb.max_message_length);
    free(region);
}

static void test_write_read_round_trip(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };
    const char hello[] = "hello, driver";

    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, hello, sizeof(hello)));
    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE + 1, NULL, 0));
    assert_int_equal(SHOAL_ALIGN(8 + sizeof(hello), 8) + 8, shoal_mpsc_rb_producer_position(&f->rb));
    assert_int_equal(0, shoal_mpsc_rb_consumer_position(&f->rb));

    assert_int_equal(2, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
    assert_int_equal(MSG_TYPE, c.types[0]);
    assert_int_equal(sizeof(hello), c.lengths[0]);
    assert_memory_equal(hello, c.payloads[0], sizeof(hello));
    assert_int_equal(MSG_TYPE + 1, c.types[1]);
    assert_int_equal(0, c.lengths[1]);

    assert_int_equal(shoal_mpsc_rb_producer_position(&f->rb), shoal_mpsc_rb_consumer_position(&f->rb));
    assert_int_equal(0, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));

    /* Consumed space is zeroed so the next lap reads "nothing there". */
    for (size_t i = 0; i < CAPACITY; i++)
    {
        assert_int_equal(0, f->region[i]);
    }
}

static void test_wrap_inserts_padding(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };
    uint8_t msg[100];

    /* 9 records of 112 bytes leave 16 bytes before the end. */
    for (int i = 0; i < 9; i++)
    {
        fill(msg, sizeof(msg), (uint8_t)i);
        assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    }
    assert_int_equal(9, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
    assert_int_equal(CAPACITY - 16, shoal_mpsc_rb_producer_position(&f->rb));

    fill(msg, sizeof(msg), 99);
    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    assert_int_equal(CAPACITY - 16 + 16 + 112, shoal_mpsc_rb_producer_position(&f->rb));

    const shoal_rb_record_descriptor_t *pad = (const shoal_rb_record_descriptor_t *)(f->region + CAPACITY - 16);
    assert_int_equal(SHOAL_RB_PADDING_MSG_TYPE_ID, pad->msg_type_id);
    assert_int_equal(16, pad->length);
    const shoal_rb_record_descriptor_t *rec = (const shoal_rb_record_descriptor_t *)f->region;
    assert_int_equal(108, rec->length);

    /* One read crosses the end: padding is skipped, never delivered. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
    assert_int_equal(MSG_TYPE, c.types[0]);
    assert_int_equal(sizeof(msg), c.lengths[0]);
    assert_memory_equal(msg, c.payloads[0], sizeof(msg));
    assert_int_equal(shoal_mpsc_rb_producer_position(&f->rb), shoal_mpsc_rb_consumer_position(&f->rb));
}

static void test_full_ring_fails_then_recovers(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };
    uint8_t msg[120] = { 0 };

    for (int i = 0; i < CAPACITY / 128; i++)
    {
        assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    }
    assert_int_equal(-1, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    assert_int_equal(SHOAL_EDRIVER, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "to-driver ring full"));
    assert_int_equal(-1, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, NULL, 0));
    assert_int_equal(CAPACITY, shoal_mpsc_rb_producer_position(&f->rb));

    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 1));
    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    assert_int_equal(-1, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, NULL, 0));
}

static void test_wrap_needs_room_at_start(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };
    uint8_t msg[120] = { 0 };

    /* tail at 1008, head at 0: 16 bytes to the end but index 0.. still in use. */
    for (int i = 0; i < 9; i++)
    {
        assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, 104));
    }
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 1)); /* head 112 */
    assert_int_equal(-1, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    assert_int_equal(SHOAL_EDRIVER, shoal_errcode());
    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, 96)); /* 104 + 16 pad fits */
    assert_int_equal(9, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
}

static int write_rb(void *rb, int32_t msg_type_id, const void *msg, size_t length)
{
    return shoal_mpsc_rb_write(rb, msg_type_id, msg, length);
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    ring_test_check_write_arguments(write_rb, &f->rb, MSG_TYPE, f->rb.max_message_length);
    /* The ring buffer says which argument, and keeps the padding type to itself. */
    const uint8_t msg[8] = { 0 };
    assert_int_equal(-1, shoal_mpsc_rb_write(&f->rb, 0, msg, 8));
    assert_non_null(strstr(shoal_errmsg(), "type id"));
    assert_int_equal(-1, shoal_mpsc_rb_write(&f->rb, SHOAL_RB_PADDING_MSG_TYPE_ID, msg, 8));
}

static void test_message_count_limit(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };

    for (int32_t i = 0; i < 10; i++)
    {
        assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, &i, sizeof(i)));
    }
    assert_int_equal(0, shoal_mpsc_rb_read(&f->rb, capture, &c, 0));
    assert_int_equal(3, shoal_mpsc_rb_read(&f->rb, capture, &c, 3));
    assert_int_equal(3 * 16, shoal_mpsc_rb_consumer_position(&f->rb));
    assert_int_equal(7, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
    assert_int_equal(10, c.count);
    for (int32_t i = 0; i < 10; i++)
    {
        int32_t v;
        memcpy(&v, c.payloads[i], sizeof(v));
        assert_int_equal(i, v);
    }
}

static void test_correlation_ids_increase(void **state)
{
    fixture_t *f = *state;
    int64_t last = shoal_mpsc_rb_next_correlation_id(&f->rb);
    assert_true(last > 0);
    for (int i = 0; i < 1000; i++)
    {
        const int64_t next = shoal_mpsc_rb_next_correlation_id(&f->rb);
        assert_true(next > last);
        last = next;
    }

    /* A second handle on the same region (another process) shares the counter. */
    shoal_mpsc_rb_t other;
    assert_int_equal(0, shoal_mpsc_rb_init(&other, f->region, CAPACITY + SHOAL_RB_TRAILER_LENGTH));
    assert_int_equal(last + 1, shoal_mpsc_rb_next_correlation_id(&other));
}

static void test_consumer_heartbeat(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(0, shoal_mpsc_rb_consumer_heartbeat_time_value(&f->rb));
    shoal_mpsc_rb_consumer_heartbeat_time(&f->rb, INT64_C(1700000000123));
    assert_int_equal(INT64_C(1700000000123), shoal_mpsc_rb_consumer_heartbeat_time_value(&f->rb));
}

/* A producer that claimed `required` bytes and then died; with_header: it got
 * as far as writing the negative length. Returns the claimed index. */
static size_t claim_and_die(fixture_t *f, size_t payload_length, int with_header)
{
    shoal_rb_descriptor_t *d = f->rb.descriptor;
    const size_t required = SHOAL_ALIGN(payload_length + SHOAL_RB_RECORD_HEADER_LENGTH, 8);
    const int64_t tail = d->tail_position;
    const size_t index = (size_t)tail & (CAPACITY - 1);
    assert_true(index + required <= CAPACITY);
    d->tail_position = tail + (int64_t)required;
    if (with_header)
    {
        ((shoal_rb_record_descriptor_t *)(f->region + index))->length =
            -(int32_t)(payload_length + SHOAL_RB_RECORD_HEADER_LENGTH);
    }
    return index;
}

static void test_unblock_nothing_stuck(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };
    assert_false(shoal_mpsc_rb_unblock(&f->rb)); /* empty */
    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, "x", 1));
    assert_false(shoal_mpsc_rb_unblock(&f->rb)); /* committed, just not read yet */
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 10));
}

static void test_unblock_producer_died_after_header(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };

    claim_and_die(f, 50, 1);
    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, "after", 5));
    assert_int_equal(0, shoal_mpsc_rb_read(&f->rb, capture, &c, 10)); /* blocked behind the dead record */

    assert_true(shoal_mpsc_rb_unblock(&f->rb));
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 10));
    assert_memory_equal("after", c.payloads[0], 5);
    assert_int_equal(shoal_mpsc_rb_producer_position(&f->rb), shoal_mpsc_rb_consumer_position(&f->rb));
    assert_false(shoal_mpsc_rb_unblock(&f->rb));
}

static void test_unblock_producer_died_before_header(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };

    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, "before", 6));
    claim_and_die(f, 40, 0);
    /* Nothing after the dead claim yet: its size is unknowable, so leave it. */
    assert_false(shoal_mpsc_rb_unblock(&f->rb));
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 10));
    assert_false(shoal_mpsc_rb_unblock(&f->rb));

    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, "after", 5));
    assert_int_equal(0, shoal_mpsc_rb_read(&f->rb, capture, &c, 10));
    assert_true(shoal_mpsc_rb_unblock(&f->rb));
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 10));
    assert_int_equal(2, c.count);
    assert_memory_equal("after", c.payloads[1], 5);
    assert_int_equal(shoal_mpsc_rb_producer_position(&f->rb), shoal_mpsc_rb_consumer_position(&f->rb));
}

static void test_unblock_producer_died_in_wrapping_claim(void **state)
{
    fixture_t *f = *state;
    captured_t c = { 0 };
    uint8_t msg[100] = { 0 };
    shoal_rb_descriptor_t *d = f->rb.descriptor;

    for (int i = 0; i < 9; i++)
    {
        assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, msg, sizeof(msg)));
    }
    assert_int_equal(9, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));

    /* Claimed 16 bytes of padding + a 64-byte record at 0, wrote neither. */
    d->tail_position += 16 + 64;
    assert_true(shoal_mpsc_rb_unblock(&f->rb)); /* the padding it never wrote */
    assert_int_equal(0, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
    assert_int_equal(CAPACITY, shoal_mpsc_rb_consumer_position(&f->rb));
    assert_false(shoal_mpsc_rb_unblock(&f->rb)); /* record at 0: no later record bounds it yet */

    assert_int_equal(0, shoal_mpsc_rb_write(&f->rb, MSG_TYPE, "next", 4));
    assert_true(shoal_mpsc_rb_unblock(&f->rb));
    assert_int_equal(1, shoal_mpsc_rb_read(&f->rb, capture, &c, 100));
    assert_memory_equal("next", c.payloads[9], 4);
    assert_int_equal(shoal_mpsc_rb_producer_position(&f->rb), shoal_mpsc_rb_consumer_position(&f->rb));
}

/* ---- many producers, one consumer ---- */

#define PRODUCERS             4
#define MESSAGES_PER_PRODUCER 100000
#define MT_CAPACITY           (64 * 1024)

typedef struct
{
    int32_t producer;
    int32_t filler_length;
    int64_t sequence;
    uint8_t filler[48];
} mt_message_t;

typedef struct
{
    shoal_mpsc_rb_t *rb;
    int32_t producer;
    int64_t full_retries;
    int failures;
    int *failed; /* shared: any producer gave up, so the reader stops waiting */
} producer_t;

typedef struct
{
    int64_t expected[PRODUCERS];
    int64_t received;
    int errors;
} consumer_t;

static void *producer_run(void *arg)
{
    producer_t *p = arg;
    mt_message_t m;
    memset(&m, 0, sizeof(m));
    m.producer = p->producer;

    for (int64_t seq = 0; seq < MESSAGES_PER_PRODUCER; seq++)
    {
        m.sequence = seq;
        /* Vary the size so records land at every alignment and wrap with padding. */
        m.filler_length = (int32_t)(seq % 7) * 8;
        memset(m.filler, (int)(seq & 0xff), (size_t)m.filler_length);
        const size_t length = offsetof(mt_message_t, filler) + (size_t)m.filler_length;
        while (shoal_mpsc_rb_write(p->rb, 1 + p->producer, &m, length) < 0)
        {
            /* Only "full" may be retried: a claim that raced the consumer
             * past a stale tail once came back as "corrupt". */
            if (shoal_errcode() != SHOAL_EDRIVER || NULL == strstr(shoal_errmsg(), "ring full"))
            {
                p->failures++;
                fprintf(stderr, "producer %d: %s\n", (int)p->producer, shoal_errmsg());
                __atomic_store_n(p->failed, 1, __ATOMIC_RELEASE);
                return NULL;
            }
            p->full_retries++;
            sched_yield();
        }
    }
    return NULL;
}

static void consume(int32_t msg_type_id, const uint8_t *buffer, size_t length, void *clientd)
{
    consumer_t *c = clientd;
    mt_message_t m;
    if (length < offsetof(mt_message_t, filler) || length > sizeof(m))
    {
        c->errors++;
        return;
    }
    memcpy(&m, buffer, length);
    if (m.producer < 0 || m.producer >= PRODUCERS || msg_type_id != 1 + m.producer ||
        length != offsetof(mt_message_t, filler) + (size_t)m.filler_length || m.sequence != c->expected[m.producer])
    {
        c->errors++;
        return;
    }
    for (int32_t i = 0; i < m.filler_length; i++)
    {
        if (m.filler[i] != (uint8_t)(m.sequence & 0xff))
        {
            c->errors++;
            return;
        }
    }
    c->expected[m.producer]++;
    c->received++;
}

/*
 * PRODUCERS threads write interleaved sequences while this thread reads:
 * nothing lost, duplicated or reordered per producer, and no write fails
 * except on a full ring. eager: the reader never yields, so the ring is
 * mostly empty and the consumer often overtakes a tail a producer read a
 * moment before (that race once made claims report a corrupt ring).
 */
static void run_many_producers(size_t capacity, bool eager)
{
    uint8_t *region = new_region(capacity);
    shoal_mpsc_rb_t rb;
    assert_int_equal(0, shoal_mpsc_rb_init(&rb, region, capacity + SHOAL_RB_TRAILER_LENGTH));

    pthread_t threads[PRODUCERS];
    producer_t producers[PRODUCERS];
    consumer_t consumer;
    memset(&consumer, 0, sizeof(consumer));
    int failed = 0;
    for (int i = 0; i < PRODUCERS; i++)
    {
        producers[i] = (producer_t){ .rb = &rb, .producer = i, .failed = &failed };
        assert_int_equal(0, pthread_create(&threads[i], NULL, producer_run, &producers[i]));
    }

    const int64_t total = (int64_t)PRODUCERS * MESSAGES_PER_PRODUCER;
    while (consumer.received < total && consumer.errors == 0 && !__atomic_load_n(&failed, __ATOMIC_ACQUIRE))
    {
        if (0 == shoal_mpsc_rb_read(&rb, consume, &consumer, 256) && !eager)
        {
            sched_yield();
        }
    }
    int64_t full_retries = 0;
    for (int i = 0; i < PRODUCERS; i++)
    {
        assert_int_equal(0, pthread_join(threads[i], NULL));
        assert_int_equal(0, producers[i].failures);
        full_retries += producers[i].full_retries;
    }
    print_message("%lld bytes through a %zu byte ring, %lld writes retried on a full ring\n",
        (long long)shoal_mpsc_rb_producer_position(&rb), capacity, (long long)full_retries);

    assert_int_equal(0, consumer.errors);
    assert_int_equal(total, consumer.received);
    for (int i = 0; i < PRODUCERS; i++)
    {
        assert_int_equal(MESSAGES_PER_PRODUCER, consumer.expected[i]);
    }
    assert_int_equal(0, shoal_mpsc_rb_read(&rb, consume, &consumer, 256));
    assert_int_equal(shoal_mpsc_rb_producer_position(&rb), shoal_mpsc_rb_consumer_position(&rb));
    free(region);
}

static void test_many_producers_keep_per_producer_order(void **state)
{
    (void)state;
    run_many_producers(MT_CAPACITY, false);
}

static void test_many_producers_race_an_eager_consumer(void **state)
{
    (void)state;
    run_many_producers(1024, true);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, ring_test_teardown)

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_init_rejects_bad_regions),
    T(test_write_read_round_trip),
    T(test_wrap_inserts_padding),
    T(test_full_ring_fails_then_recovers),
    T(test_wrap_needs_room_at_start),
    T(test_bad_arguments),
    T(test_message_count_limit),
    T(test_correlation_ids_increase),
    T(test_consumer_heartbeat),
    T(test_unblock_nothing_stuck),
    T(test_unblock_producer_died_after_header),
    T(test_unblock_producer_died_before_header),
    T(test_unblock_producer_died_in_wrapping_claim),
    cmocka_unit_test(test_many_producers_keep_per_producer_order),
    cmocka_unit_test(test_many_producers_race_an_eager_consumer),
})
