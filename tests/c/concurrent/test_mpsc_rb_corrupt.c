/*
 * The to-driver ring is shared memory any local process can write: corrupt
 * record headers must never make the consumer read or zero outside the data
 * region, nor move head past tail (regression input
 * tests/fuzz/corpus/driver_commands/regress-ring-record-past-end); nor may
 * corrupt positions make a producer write at a misaligned address or
 * overflow (tests/fuzz/corpus/cnc/regress-*).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_mpsc_rb.h"
#include "util/shoal_error.h"

#define CAPACITY 1024

typedef struct ring_stct
{
    shoal_mpsc_rb_t rb;
    int messages;
} ring_t;

/* The ring a test works on, empty: every test starts a new one over the
 * same memory. */
static ring_t *empty_ring(void)
{
    static uint8_t memory[CAPACITY + SHOAL_RB_TRAILER_LENGTH] __attribute__((aligned(64)));
    static ring_t ring;
    memset(memory, 0, sizeof(memory));
    memset(&ring, 0, sizeof(ring));
    assert_int_equal(0, shoal_mpsc_rb_init(&ring.rb, memory, sizeof(memory)));
    return &ring;
}

static void on_message(int32_t type, const uint8_t *buffer, size_t length, void *clientd)
{
    ring_t *r = clientd;
    assert_int_equal(7, type);
    assert_true(length <= 64);
    (void)buffer;
    r->messages++;
}

/* A producer that claims 64 bytes and writes a header of its own choosing. */
static void poke(ring_t *r, int32_t length, int32_t type)
{
    int64_t tail = r->rb.descriptor->tail_position;
    int32_t *header = (int32_t *)(r->rb.buffer + ((size_t)tail & (CAPACITY - 1)));
    header[1] = type;
    header[0] = length;
    r->rb.descriptor->tail_position = tail + 64;
}

/* A well-formed 16-byte message of type 7; the write's result. */
static int write_message(ring_t *r)
{
    const uint8_t msg[16] = { 0 };
    return shoal_mpsc_rb_write(&r->rb, 7, msg, sizeof(msg));
}

/* Reads up to 10 messages into r->messages; how many there were. */
static int read_messages(ring_t *r)
{
    return (int)shoal_mpsc_rb_read(&r->rb, on_message, r, 10);
}

/* The consumer's head as it is and as producers have cached it. */
static void set_head(ring_t *r, int64_t position)
{
    r->rb.descriptor->head_position = position;
    r->rb.descriptor->head_cache_position = position;
}

static void oversized_record_is_skipped_to_the_tail(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    assert_int_equal(0, write_message(r));
    poke(r, 100000, 7);
    assert_int_equal(1, read_messages(r));
    assert_int_equal(1, r->messages);
    assert_int_equal(1, (int)r->rb.corrupt_skips);
    assert_int_equal(shoal_mpsc_rb_producer_position(&r->rb), shoal_mpsc_rb_consumer_position(&r->rb));
    /* the ring works on afterwards */
    assert_int_equal(0, write_message(r));
    assert_int_equal(1, read_messages(r));
}

static void short_record_is_skipped(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    poke(r, 3, 7);
    assert_int_equal(0, read_messages(r));
    assert_int_equal(1, (int)r->rb.corrupt_skips);
    assert_int_equal(64, shoal_mpsc_rb_consumer_position(&r->rb));
}

static void unblock_of_a_huge_claim_stops_at_the_tail(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    poke(r, INT32_MIN, 7);
    assert_true(shoal_mpsc_rb_unblock(&r->rb));
    assert_int_equal(0, read_messages(r));
    assert_int_equal(0, (int)r->rb.corrupt_skips);
    assert_int_equal(64, shoal_mpsc_rb_consumer_position(&r->rb));
    assert_int_equal(64, shoal_mpsc_rb_producer_position(&r->rb));
}

/* The correlation counter is in shared memory too: any value, no overflow. */
static void correlation_counter_wraps(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    r->rb.descriptor->correlation_counter = INT64_MAX;
    assert_true(INT64_MIN == shoal_mpsc_rb_next_correlation_id(&r->rb));
}

static void assert_write_refused_as_corrupt(ring_t *r)
{
    const int64_t tail = r->rb.descriptor->tail_position;
    assert_int_equal(-1, write_message(r));
    assert_int_equal(SHOAL_EDRIVER, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "to-driver ring corrupt"));
    assert_true(tail == r->rb.descriptor->tail_position); /* nothing claimed */
}

static void misaligned_tail_is_refused(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    /* near the end, so the claim would wrap and pad at a misaligned index */
    set_head(r, CAPACITY + 1000);
    r->rb.descriptor->tail_position = CAPACITY + 1019;
    assert_write_refused_as_corrupt(r);
    r->rb.descriptor->tail_position = 1003; /* no wrap either */
    set_head(r, 1000);
    assert_write_refused_as_corrupt(r);
}

static void head_past_tail_is_refused(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    r->rb.descriptor->tail_position = 8;
    set_head(r, INT64_MAX - 7);
    assert_write_refused_as_corrupt(r);
    /* positions whose difference overflows a signed subtraction are 8 apart
     * modulo 2^64, which is how positions wrap: accepted, and no UB (UBSan) */
    r->rb.descriptor->tail_position = INT64_MIN;
    assert_int_equal(0, write_message(r));
    assert_true(INT64_MIN + 24 == r->rb.descriptor->tail_position);
    /* a stale cache alone is not corruption: the real head decides */
    r->rb.descriptor->tail_position = 4 * CAPACITY;
    r->rb.descriptor->head_position = 4 * CAPACITY;
    r->rb.descriptor->head_cache_position = 0;
    assert_int_equal(0, write_message(r));
    assert_int_equal(4 * CAPACITY, r->rb.descriptor->head_cache_position);
    assert_int_equal(1, read_messages(r));
}

static void misaligned_head_is_realigned_by_the_consumer(void **state)
{
    (void)state;
    ring_t *r = empty_ring();
    assert_int_equal(0, write_message(r));
    assert_int_equal(0, write_message(r));
    r->rb.descriptor->head_position = 5;
    assert_false(shoal_mpsc_rb_unblock(&r->rb));
    assert_int_equal(0, read_messages(r));
    assert_int_equal(1, (int)r->rb.corrupt_skips);
    assert_int_equal(8, shoal_mpsc_rb_consumer_position(&r->rb));
    /* the aligned head lands inside the first record's zero payload, which
     * reads as a dead claim: unblock pads up to the second record, read gets it */
    assert_int_equal(0, read_messages(r));
    assert_true(shoal_mpsc_rb_unblock(&r->rb));
    assert_int_equal(1, read_messages(r));
    assert_int_equal(1, r->messages);
    assert_true(shoal_mpsc_rb_consumer_position(&r->rb) <= shoal_mpsc_rb_producer_position(&r->rb));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oversized_record_is_skipped_to_the_tail),
        cmocka_unit_test(short_record_is_skipped),
        cmocka_unit_test(unblock_of_a_huge_claim_stops_at_the_tail),
        cmocka_unit_test(correlation_counter_wraps),
        cmocka_unit_test(misaligned_tail_is_refused),
        cmocka_unit_test(head_past_tail_is_refused),
        cmocka_unit_test(misaligned_head_is_realigned_by_the_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
