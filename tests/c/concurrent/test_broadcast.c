/* Tests for the one-to-many broadcast buffer (core/src/concurrent/shoal_broadcast_*.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_broadcast_receiver.h"
#include "concurrent/shoal_broadcast_transmitter.h"
#include "ring_test_util.h"
#include "shoal/shoal.h"

#define CAPACITY 1024
#define MSG_TYPE 3

static uint8_t *new_region(size_t capacity)
{
    return ring_test_region(capacity + SHOAL_BROADCAST_TRAILER_LENGTH);
}

/* Messages carry a sequence number and a body derived from it, so any torn or
 * misplaced copy is detectable from the message alone. */
typedef struct
{
    int64_t sequence;
    uint32_t checksum;
    uint32_t body_length;
    uint8_t body[96];
} test_message_t;

static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
    {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static size_t make_message(test_message_t *m, int64_t sequence, uint32_t body_length)
{
    m->sequence = sequence;
    m->body_length = body_length;
    for (uint32_t i = 0; i < body_length; i++)
    {
        m->body[i] = (uint8_t)(sequence * 7 + i);
    }
    m->checksum = checksum(m->body, body_length);
    return offsetof(test_message_t, body) + body_length;
}

/* 0 if intact; -1 if the copy is torn. */
static int check_message(const uint8_t *buffer, size_t length, test_message_t *out)
{
    if (length < offsetof(test_message_t, body) || length > sizeof(*out))
    {
        return -1;
    }
    memcpy(out, buffer, length);
    if (length != offsetof(test_message_t, body) + out->body_length ||
        checksum(out->body, out->body_length) != out->checksum)
    {
        return -1;
    }
    for (uint32_t i = 0; i < out->body_length; i++)
    {
        if (out->body[i] != (uint8_t)(out->sequence * 7 + i))
        {
            return -1;
        }
    }
    return 0;
}

typedef struct
{
    int count;
    int torn;
    int out_of_order;
    int32_t last_type;
    int64_t first_sequence;
    int64_t last_sequence;
} seen_t;

static void on_message(int32_t msg_type_id, const uint8_t *buffer, size_t length, void *clientd)
{
    seen_t *s = clientd;
    test_message_t m;
    if (check_message(buffer, length, &m) < 0)
    {
        s->torn++;
        return;
    }
    if (s->count > 0 && m.sequence <= s->last_sequence)
    {
        s->out_of_order++;
    }
    if (0 == s->count)
    {
        s->first_sequence = m.sequence;
    }
    s->last_type = msg_type_id;
    s->last_sequence = m.sequence;
    s->count++;
}

/* A receiver on the fixture's buffer and what it has seen. */
typedef struct
{
    shoal_broadcast_receiver_t rx;
    seen_t seen;
} reader_t;

typedef struct
{
    uint8_t *region; /* first: ring_test_teardown */
    shoal_broadcast_transmitter_t tx;
    reader_t reader; /* there from the start, for the tests that need one */
} fixture_t;

static void new_receiver(fixture_t *f, shoal_broadcast_receiver_t *rx)
{
    assert_int_equal(0, shoal_broadcast_receiver_init(rx, f->region, CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH));
}

static void new_reader(fixture_t *f, reader_t *r)
{
    memset(&r->seen, 0, sizeof(r->seen));
    new_receiver(f, &r->rx);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->region = new_region(CAPACITY);
    *state = f;
    const int rc = shoal_broadcast_transmitter_init(&f->tx, f->region, CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH);
    if (0 == rc)
    {
        new_reader(f, &f->reader);
    }
    return rc;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    shoal_broadcast_receiver_close(&f->reader.rx);
    return ring_test_teardown(state);
}

/* Receives what is there; returns how many messages. */
static int receive(reader_t *r)
{
    return shoal_broadcast_receiver_receive(&r->rx, on_message, &r->seen);
}

static void transmit_sequence(fixture_t *f, int64_t sequence, uint32_t body_length)
{
    test_message_t m;
    const size_t length = make_message(&m, sequence, body_length);
    assert_int_equal(0, shoal_broadcast_transmitter_transmit(&f->tx, MSG_TYPE, &m, length));
}

/* Transmits message sequence (body_length bytes); r receives it, alone. */
static void transmit_and_receive(fixture_t *f, reader_t *r, int64_t sequence, uint32_t body_length)
{
    transmit_sequence(f, sequence, body_length);
    assert_int_equal(1, receive(r));
    assert_int_equal(sequence, r->seen.last_sequence);
}

static void test_init_rejects_bad_regions(void **state)
{
    (void)state;
    uint8_t *region = new_region(4096);
    shoal_broadcast_transmitter_t tx;
    shoal_broadcast_receiver_t rx;

    assert_int_equal(-1, shoal_broadcast_transmitter_init(&tx, region, 1000 + SHOAL_BROADCAST_TRAILER_LENGTH));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "not a power of 2"));
    assert_int_equal(-1, shoal_broadcast_receiver_init(&rx, region, 3000 + SHOAL_BROADCAST_TRAILER_LENGTH));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "receiver"));
    assert_null(rx.scratch);
    assert_int_equal(-1, shoal_broadcast_transmitter_init(&tx, region, 16));
    assert_int_equal(-1, shoal_broadcast_transmitter_init(&tx, region + 4, 1024 + SHOAL_BROADCAST_TRAILER_LENGTH));
    assert_non_null(strstr(shoal_errmsg(), "aligned"));

    assert_int_equal(0, shoal_broadcast_transmitter_init(&tx, region, 4096 + SHOAL_BROADCAST_TRAILER_LENGTH));
    assert_int_equal(4096, tx.capacity);
    assert_int_equal(512, tx.max_message_length);
    assert_int_equal(0, shoal_broadcast_receiver_init(&rx, region, 4096 + SHOAL_BROADCAST_TRAILER_LENGTH));
    assert_int_equal(512, rx.scratch_length);
    shoal_broadcast_receiver_close(&rx);
    shoal_broadcast_receiver_close(&rx); /* twice is harmless */
    free(region);
}

static int transmit(void *tx, int32_t msg_type_id, const void *msg, size_t length)
{
    return shoal_broadcast_transmitter_transmit(tx, msg_type_id, msg, length);
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    ring_test_check_write_arguments(transmit, &f->tx, MSG_TYPE, f->tx.max_message_length);
}

static void test_transmit_receive(void **state)
{
    fixture_t *f = *state;
    reader_t *r = &f->reader;

    assert_int_equal(0, receive(r));
    transmit_and_receive(f, r, 1, 13);
    assert_int_equal(1, r->seen.count);
    assert_int_equal(MSG_TYPE, r->seen.last_type);
    assert_int_equal(0, r->seen.torn);
    assert_int_equal(0, receive(r));

    transmit_sequence(f, 2, 0);
    transmit_sequence(f, 3, 96);
    assert_int_equal(2, receive(r));
    assert_int_equal(3, r->seen.last_sequence);
    assert_int_equal(0, r->seen.torn + r->seen.out_of_order);
    assert_int_equal(0, r->rx.lapped_count);
}

static void test_every_receiver_sees_every_message(void **state)
{
    fixture_t *f = *state;
    reader_t readers[3];
    for (int i = 0; i < 3; i++)
    {
        new_reader(f, &readers[i]);
    }
    for (int64_t s = 0; s < 5; s++)
    {
        transmit_sequence(f, s, (uint32_t)s * 10);
    }
    for (int i = 0; i < 3; i++)
    {
        reader_t *r = &readers[i];
        assert_int_equal(5, receive(r));
        assert_int_equal(0, r->seen.first_sequence);
        assert_int_equal(4, r->seen.last_sequence);
        assert_int_equal(0, r->seen.torn + r->seen.out_of_order);
        shoal_broadcast_receiver_close(&r->rx);
    }
}

static void test_wrap_with_padding(void **state)
{
    fixture_t *f = *state;
    reader_t *r = &f->reader;

    /* 16 + 88 = 104 byte payload -> 112-byte records: 9 fit, the 10th wraps. */
    for (int64_t s = 0; s < 9; s++)
    {
        transmit_sequence(f, s, 88);
    }
    assert_int_equal(9, receive(r));
    assert_int_equal(CAPACITY - 16, f->tx.descriptor->tail_counter);

    transmit_sequence(f, 9, 88);
    const shoal_broadcast_record_descriptor_t *pad =
        (const shoal_broadcast_record_descriptor_t *)(f->region + CAPACITY - 16);
    assert_int_equal(SHOAL_BROADCAST_PADDING_MSG_TYPE_ID, pad->msg_type_id);
    assert_int_equal(16, pad->length);
    assert_int_equal(CAPACITY, f->tx.descriptor->latest_counter);
    assert_int_equal(CAPACITY + 112, f->tx.descriptor->tail_counter);

    assert_int_equal(1, receive(r));
    assert_int_equal(9, r->seen.last_sequence);

    /* Several more laps, reading as we go: nothing lost, nothing torn. */
    for (int64_t s = 10; s < 100; s++)
    {
        transmit_and_receive(f, r, s, (uint32_t)(s % 97));
    }
    assert_int_equal(100, r->seen.count);
    assert_int_equal(99, r->seen.last_sequence);
    assert_int_equal(0, r->seen.torn + r->seen.out_of_order);
    assert_int_equal(0, r->rx.lapped_count);
}

static void test_lapped_receiver_resyncs_to_latest(void **state)
{
    fixture_t *f = *state;
    reader_t *r = &f->reader;

    transmit_sequence(f, 0, 40);
    /* Three times the capacity without reading. */
    for (int64_t s = 1; s < 60; s++)
    {
        transmit_sequence(f, s, 40);
    }
    assert_int_equal(1, receive(r));
    assert_int_equal(1, r->rx.lapped_count);
    assert_int_equal(59, r->seen.first_sequence);
    assert_int_equal(0, r->seen.torn);

    /* Back in step afterwards. */
    transmit_and_receive(f, r, 60, 40);
    assert_int_equal(1, r->rx.lapped_count);
}

/* The transmitter raises the tail intent before it overwrites: a receiver
 * that copied a record while that happened must drop the copy. */
static void overwrite_during_copy(int32_t msg_type_id, const uint8_t *buffer, size_t length, void *clientd)
{
    (void)msg_type_id;
    (void)buffer;
    (void)length;
    (void)clientd;
    fail_msg("a record overwritten during the copy was delivered");
}

static void test_overtaken_record_is_dropped(void **state)
{
    fixture_t *f = *state;
    reader_t *r = &f->reader;

    transmit_sequence(f, 0, 40); /* 64-byte records at 0 and 64 */
    transmit_sequence(f, 1, 40);
    /* Simulate the transmitter having begun to lap both records: intent only,
     * the bytes still look fine, which is exactly why the check matters. */
    int64_t *intent = &f->tx.descriptor->tail_intent_counter;
    const int64_t saved_intent = *intent;
    *intent = 64 + CAPACITY + 8;
    assert_int_equal(0, shoal_broadcast_receiver_receive(&r->rx, overwrite_during_copy, NULL));
    assert_int_equal(1, r->rx.lapped_count);
    assert_int_equal(64, r->rx.next_record); /* resynced to latest, which was not intact either */

    *intent = saved_intent;
    assert_int_equal(1, receive(r));
    assert_int_equal(1, r->seen.first_sequence);
    assert_int_equal(0, r->seen.torn);
}

static void test_late_receiver_sees_only_new_messages(void **state)
{
    fixture_t *f = *state;
    reader_t r;

    for (int64_t s = 0; s < 5; s++)
    {
        transmit_sequence(f, s, 8);
    }
    new_reader(f, &r);
    assert_int_equal(0, receive(&r));
    transmit_sequence(f, 5, 8);
    transmit_sequence(f, 6, 8);
    assert_int_equal(2, receive(&r));
    assert_int_equal(5, r.seen.first_sequence);
    assert_int_equal(6, r.seen.last_sequence);
    assert_int_equal(0, r.rx.lapped_count);
    shoal_broadcast_receiver_close(&r.rx);
}

static void test_corrupt_record_is_an_error_and_skipped(void **state)
{
    fixture_t *f = *state;
    reader_t *r = &f->reader;

    transmit_sequence(f, 0, 8);
    ((shoal_broadcast_record_descriptor_t *)f->region)->length = 4; /* shorter than a header */
    assert_int_equal(-1, receive(r));
    assert_int_equal(SHOAL_EIO, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "corrupt"));
    assert_int_equal(0, r->seen.count);
    assert_int_equal(1, r->rx.corrupt_count);
    /* Not stuck on it: what comes later is delivered. */
    transmit_and_receive(f, r, 1, 8);
    assert_int_equal(1, r->rx.corrupt_count);
}

/* ---- one transmitter thread, receiver threads racing it ---- */

#define MT_MESSAGES  200000
#define MT_CAPACITY  4096
#define MT_RECEIVERS 2

/* Transmits MT_MESSAGES on the calling thread; how many failed. */
static int transmit_all(shoal_broadcast_transmitter_t *tx)
{
    int failures = 0;
    test_message_t m;
    for (int64_t s = 0; s < MT_MESSAGES; s++)
    {
        const size_t length = make_message(&m, s, (uint32_t)(s % 97));
        if (shoal_broadcast_transmitter_transmit(tx, MSG_TYPE, &m, length) < 0)
        {
            failures++;
        }
        if (0 == s % 64)
        {
            sched_yield(); /* let receivers keep up some of the time, not always */
        }
    }
    return failures;
}

typedef struct
{
    shoal_broadcast_receiver_t rx;
    seen_t seen;
    int errors;
} mt_receiver_t;

static void *receiver_run(void *arg)
{
    mt_receiver_t *r = arg;
    /* The last message is the latest once the transmitter stops, so every
     * receiver reaches it whether or not it was lapped on the way. */
    while (0 == r->seen.count || r->seen.last_sequence != MT_MESSAGES - 1)
    {
        const int n = shoal_broadcast_receiver_receive(&r->rx, on_message, &r->seen);
        if (n < 0)
        {
            r->errors++;
            break;
        }
        if (0 == n)
        {
            sched_yield();
        }
    }
    return NULL;
}

static void test_concurrent_receivers_never_see_torn_messages(void **state)
{
    (void)state;
    uint8_t *region = new_region(MT_CAPACITY);
    shoal_broadcast_transmitter_t tx;
    assert_int_equal(0, shoal_broadcast_transmitter_init(&tx, region, MT_CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH));

    mt_receiver_t receivers[MT_RECEIVERS];
    pthread_t rx_threads[MT_RECEIVERS];
    memset(receivers, 0, sizeof(receivers));
    for (int i = 0; i < MT_RECEIVERS; i++)
    {
        assert_int_equal(0,
            shoal_broadcast_receiver_init(&receivers[i].rx, region, MT_CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH));
        assert_int_equal(0, pthread_create(&rx_threads[i], NULL, receiver_run, &receivers[i]));
    }

    /* This thread is the transmitter the receivers race. */
    assert_int_equal(0, transmit_all(&tx));

    int64_t delivered = 0, lapped = 0;
    for (int i = 0; i < MT_RECEIVERS; i++)
    {
        assert_int_equal(0, pthread_join(rx_threads[i], NULL));
        mt_receiver_t *r = &receivers[i];
        assert_int_equal(0, r->errors);
        assert_int_equal(0, r->seen.torn);
        assert_int_equal(0, r->seen.out_of_order);
        assert_int_equal(MT_MESSAGES - 1, r->seen.last_sequence);
        assert_true(r->seen.count > 0 && r->seen.count <= MT_MESSAGES);
        /* Whatever was not delivered must have been skipped by a lap. */
        if (r->seen.count < MT_MESSAGES)
        {
            assert_true(r->rx.lapped_count > 0);
        }
        delivered += r->seen.count;
        lapped += r->rx.lapped_count;
        shoal_broadcast_receiver_close(&r->rx);
    }
    print_message("delivered %lld of %d per receiver on average, %lld laps in total\n",
        (long long)(delivered / MT_RECEIVERS), MT_MESSAGES, (long long)lapped);
    free(region);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_regions),
        T(test_bad_arguments),
        T(test_transmit_receive),
        T(test_every_receiver_sees_every_message),
        T(test_wrap_with_padding),
        T(test_lapped_receiver_resyncs_to_latest),
        T(test_overtaken_record_is_dropped),
        T(test_late_receiver_sees_only_new_messages),
        T(test_corrupt_record_is_an_error_and_skipped),
        cmocka_unit_test(test_concurrent_receivers_never_see_torn_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
