/*
 * Term reader: whole-message delivery, reassembly, limits, controlled
 * actions, incomplete and broken fragment chains.
 */
#include "../shoal_test_main.h"
#include "logbuffer_test_util.h"

#define BIG_TERM_LENGTH (1024 * 1024)

typedef test_term_t fixture_t;

static int setup(void **state)
{
    *state = test_term_open(BIG_TERM_LENGTH);
    return 0;
}

static shoal_term_read_result_t read_n(fixture_t *f, int32_t from, size_t limit)
{
    return test_term_read(f, from, 1000000, limit);
}

static void test_random_fragmented_reassembly(void **state)
{
    fixture_t *f = *state;
    const size_t max_len = 10 * TEST_MTU;
    uint8_t *msg = malloc(max_len);
    uint32_t rnd = 12345;
    int total = 0;

    for (int round = 0; round < 20; round++)
    {
        size_t lens[256];
        int n = 0;
        int32_t end = 0;
        shoal_term_clean(f->term, 0, BIG_TERM_LENGTH);
        *f->tail = shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, 0);
        test_sink_close(&f->sink);

        while (n < 256)
        {
            size_t len = 1 + test_rand(&rnd) % max_len;
            test_fill(msg, len, (uint32_t)(round * 1000 + n));
            int32_t r = test_term_append(f, msg, len);
            if (r < 0)
            {
                assert_int_equal(SHOAL_TERM_APPENDER_TRIPPED, r);
                break;
            }
            lens[n++] = len;
            end = r;
        }

        /* read in small batches so reads start mid-term */
        int32_t offset = 0;
        int got = 0;
        for (;;)
        {
            shoal_term_read_result_t res = read_n(f, offset, 3);
            offset = res.offset;
            got += res.messages;
            if (0 == res.messages)
            {
                break;
            }
        }
        assert_int_equal(n, got);
        assert_true(offset >= end);
        for (int i = 0; i < n; i++)
        {
            test_fill(msg, lens[i], (uint32_t)(round * 1000 + i));
            assert_int_equal(lens[i], f->sink.lengths[i]);
            assert_memory_equal(msg, f->sink.data[i], lens[i]);
        }
        total += n;
    }
    assert_true(total > 1000);
    free(msg);
}

static void test_message_limit(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3000] = { 0 };
    for (int i = 0; i < 10; i++)
    {
        test_term_append(f, msg, (i % 2) ? 3000 : 100); /* every other message fragmented */
    }
    shoal_term_read_result_t res = read_n(f, 0, 4);
    assert_int_equal(4, res.messages);
    assert_int_equal(f->sink.headers[3].position - 1000000, res.offset);
    res = read_n(f, res.offset, 0);
    assert_int_equal(0, res.messages);
    res = read_n(f, res.offset, 100);
    assert_int_equal(6, res.messages);
    assert_int_equal(10, f->sink.count);
}

static void test_abort_does_not_consume(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3000] = { 0 };
    int32_t e0 = test_term_append(f, msg, 100);
    test_term_append(f, msg, 3000);
    int32_t e2 = test_term_append(f, msg, 50);

    f->sink.action = SHOAL_ACTION_ABORT;
    f->sink.action_at = 1; /* abort the fragmented one */
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset);

    /* retried next time */
    f->sink.action_at = -1;
    f->sink.action = SHOAL_ACTION_CONTINUE;
    res = read_n(f, res.offset, 100);
    assert_int_equal(2, res.messages);
    assert_int_equal(e2, res.offset);
    assert_int_equal(3000, f->sink.lengths[1]);
}

static void test_break_consumes_and_stops(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[100] = { 0 };
    test_term_append(f, msg, 10);
    int32_t e1 = test_term_append(f, msg, 20);
    test_term_append(f, msg, 30);

    f->sink.action = SHOAL_ACTION_BREAK;
    f->sink.action_at = 1;
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(2, res.messages);
    assert_int_equal(e1, res.offset);
    assert_int_equal(1000000 + e1, f->sink.headers[1].position);
}

static void test_commit_continues(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[100] = { 0 };
    test_term_append(f, msg, 10);
    test_term_append(f, msg, 20);
    int32_t e2 = test_term_append(f, msg, 30);
    f->sink.action = SHOAL_ACTION_COMMIT;
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(3, res.messages);
    assert_int_equal(e2, res.offset);
}

static void test_uncommitted_fragment_stops_before_begin(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[4 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 5);
    int32_t e0 = test_term_append(f, msg, 10);
    int32_t e1 = test_term_append(f, msg, sizeof(msg)); /* 4 frames of mtu from e0 */
    assert_int_equal(e0 + 4 * TEST_MTU, e1);

    /* third fragment claimed but not committed yet */
    int32_t *third = (int32_t *)(f->term + e0 + 2 * TEST_MTU);
    *third = -*third;

    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset); /* stopped before BEGIN */

    res = read_n(f, e0, 100);
    assert_int_equal(0, res.messages);
    assert_int_equal(e0, res.offset);

    *third = -*third; /* committed */
    res = read_n(f, e0, 100);
    assert_int_equal(1, res.messages);
    assert_int_equal(e1, res.offset);
    assert_memory_equal(msg, f->sink.data[1], sizeof(msg));
}

/* While a large message is still being written, each read looks only at the
 * fragments committed since the last one (it used to re-read the message from
 * its BEGIN frame at every poll: the subscriber spent most of its time there
 * and took the lines the publisher was writing). */
static void test_incomplete_chain_scan_resumes_where_it_stopped(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[6 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 11);
    int32_t e0 = test_term_append(f, msg, sizeof(msg)); /* 6 frames of mtu */
    int32_t *frames[6];
    for (int i = 0; i < 6; i++)
    {
        frames[i] = (int32_t *)(f->term + i * TEST_MTU);
    }
    /* the publisher has committed BEGIN and the next fragment only */
    for (int i = 2; i < 6; i++)
    {
        *frames[i] = -*frames[i];
    }
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(0, res.messages);
    assert_int_equal(0, res.offset);
    assert_true(f->assembly.scanning);
    assert_int_equal(2 * TEST_MTU, f->assembly.scan_offset);
    assert_int_equal(1000000, f->assembly.scan_begin_position);

    *frames[2] = -*frames[2];
    *frames[3] = -*frames[3];
    res = read_n(f, 0, 100);
    assert_int_equal(0, res.messages);
    assert_int_equal(4 * TEST_MTU, f->assembly.scan_offset);

    *frames[4] = -*frames[4];
    *frames[5] = -*frames[5];
    res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset);
    assert_false(f->assembly.scanning);
    assert_int_equal(sizeof(msg), f->sink.lengths[0]);
    assert_memory_equal(msg, f->sink.data[0], sizeof(msg));
    assert_int_equal(0, f->sink.headers[0].term_offset);
}

/* A writer that lengthens a fragment the scan already counted (only a broken
 * or hostile one can) must not make the copy overrun the assembly buffer. */
static void test_committed_fragment_changed_after_scan_is_skipped(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 12);
    test_term_append(f, msg, sizeof(msg));
    int32_t e1 = test_term_append(f, msg, 77);
    int32_t *last = (int32_t *)(f->term + 2 * TEST_MTU);
    *last = -*last;
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(0, res.messages);
    assert_true(f->assembly.scanning);

    /* the middle fragment now claims to be far longer than when counted */
    int32_t *middle = (int32_t *)(f->term + TEST_MTU);
    *middle = TEST_MTU * 2;
    *last = -*last;
    res = read_n(f, 0, 100);
    assert_true(res.padding_or_gap_skipped);
    for (int32_t i = 0; i < res.messages; i++)
    {
        assert_true(f->sink.lengths[i] <= sizeof(msg));
    }
    assert_true(res.offset <= e1);
}

/* Turns the frame at offset into padding (as the unblocker does). */
static void make_pad(fixture_t *f, int32_t offset)
{
    shoal_data_header_t *h = (shoal_data_header_t *)(f->term + offset);
    h->frame_header.type = SHOAL_HDR_TYPE_PAD;
}

/* While the publisher is still writing a large message, the reader copies
 * the fragments committed SHOAL_ASSEMBLY_COPY_LAG or more behind the first
 * uncommitted one, growing the assembly buffer as it goes; at END it copies
 * only the rest. Committed one fragment per read, the message still arrives
 * whole, once, and only after its END. */
#define LAG_FRAGMENTS 40
static void test_incomplete_chain_copied_behind_the_writer(void **state)
{
    fixture_t *f = *state;
    static uint8_t msg[LAG_FRAGMENTS * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 13);
    int32_t e0 = test_term_append(f, msg, sizeof(msg));
    assert_int_equal(LAG_FRAGMENTS * TEST_MTU, e0);
    for (int i = 1; i < LAG_FRAGMENTS; i++)
    {
        int32_t *length = (int32_t *)(f->term + i * TEST_MTU);
        *length = -*length;
    }
    size_t copied_before_end = 0;
    for (int i = 1; i < LAG_FRAGMENTS; i++)
    {
        shoal_term_read_result_t res = read_n(f, 0, 100);
        assert_int_equal(0, res.messages);
        assert_int_equal(0, res.offset);
        /* never closer than the lag to the fragment not yet committed */
        assert_true(f->assembly.copy_offset <= i * TEST_MTU - SHOAL_ASSEMBLY_COPY_LAG || 0 == f->assembly.copy_bytes);
        assert_true(f->assembly.copy_bytes <= f->assembly.capacity);
        if (f->assembly.copy_bytes > 0)
        {
            assert_memory_equal(msg, f->assembly.data, f->assembly.copy_bytes);
        }
        copied_before_end = f->assembly.copy_bytes;
        int32_t *length = (int32_t *)(f->term + i * TEST_MTU);
        *length = -*length;
    }
    assert_true(copied_before_end >= sizeof(msg) - (size_t)(3 * SHOAL_ASSEMBLY_COPY_LAG) - TEST_MAX_PAYLOAD);
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset);
    assert_int_equal(sizeof(msg), f->sink.lengths[0]);
    assert_memory_equal(msg, f->sink.data[0], sizeof(msg));
    assert_int_equal(0, f->sink.headers[0].term_offset);
}

/* A message partly copied, then broken (the driver padded its dead
 * publisher's rest): skipped, and the copy it left does not leak into the
 * next message. */
static void test_partly_copied_broken_chain_then_next_message(void **state)
{
    fixture_t *f = *state;
    static uint8_t first[LAG_FRAGMENTS * TEST_MAX_PAYLOAD], second[LAG_FRAGMENTS * TEST_MAX_PAYLOAD];
    test_fill(first, sizeof(first), 14);
    test_fill(second, sizeof(second), 15);
    int32_t e0 = test_term_append(f, first, sizeof(first));
    int32_t e1 = test_term_append(f, second, sizeof(second));
    const int cut = LAG_FRAGMENTS - 2;
    int32_t *length = (int32_t *)(f->term + cut * TEST_MTU);
    *length = -*length;
    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(0, res.messages);
    assert_true(f->assembly.copy_bytes > 0);

    *length = -*length;
    make_pad(f, cut * TEST_MTU);
    res = read_n(f, 0, 100);
    assert_true(res.padding_or_gap_skipped);
    res = read_n(f, res.offset, 100);
    assert_int_equal(e1, res.offset);
    assert_int_equal(1, f->sink.count);
    assert_int_equal(sizeof(second), f->sink.lengths[0]);
    assert_memory_equal(second, f->sink.data[0], sizeof(second));
    assert_int_equal(e0, f->sink.headers[0].term_offset);
}

static void test_broken_chain_pad_is_skipped(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[4 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 6);
    int32_t e0 = test_term_append(f, msg, sizeof(msg));
    int32_t e1 = test_term_append(f, msg, 99);
    make_pad(f, 2 * TEST_MTU); /* a middle fragment was never committed and got padded */

    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_true(res.padding_or_gap_skipped);
    assert_int_equal(e1, res.offset);
    assert_int_equal(99, f->sink.lengths[0]);
    assert_int_equal(e1 + 1000000, f->sink.headers[0].position);
    assert_int_equal(e0, f->sink.headers[0].term_offset);
}

static void test_broken_chain_new_begin_is_skipped(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 7);
    test_term_append(f, msg, sizeof(msg));
    int32_t e1 = test_term_append(f, msg, sizeof(msg));
    /* drop END of the first message: its last fragment became a BEGIN-less
     * middle, followed by the BEGIN of the next message */
    shoal_data_header_t *last = (shoal_data_header_t *)(f->term + 2 * TEST_MTU);
    last->frame_header.flags = 0;

    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_true(res.padding_or_gap_skipped);
    assert_int_equal(e1, res.offset);
    assert_memory_equal(msg, f->sink.data[0], sizeof(msg));
    assert_int_equal(3 * TEST_MTU, f->sink.headers[0].term_offset);
}

static void test_orphan_fragments_and_heartbeats_skipped(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 8);
    test_term_append(f, msg, sizeof(msg));
    make_pad(f, 0); /* BEGIN padded: middle and END are orphans */

    /* a heartbeat: zero-length DATA frame without flags */
    int32_t hb = 3 * TEST_MTU;
    shoal_data_header_t *h = (shoal_data_header_t *)(f->term + hb);
    memcpy(h, f->dh, sizeof(*h));
    h->term_offset = hb;
    h->term_id = TEST_INITIAL_TERM_ID;
    h->frame_header.flags = 0;
    h->frame_header.frame_length = 32;
    *f->tail += 32;
    int32_t e = test_term_append(f, msg, 5);

    shoal_term_read_result_t res = read_n(f, 0, 100);
    assert_int_equal(1, res.messages);
    assert_int_equal(e, res.offset);
    assert_int_equal(5, f->sink.lengths[0]);
    assert_true(res.padding_or_gap_skipped);
}

static void test_assembly_buffer_grows_only_for_larger(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[8 * TEST_MAX_PAYLOAD];
    test_fill(msg, sizeof(msg), 9);
    test_term_append(f, msg, 64);

    /* an unfragmented message needs no assembly buffer */
    shoal_term_read_result_t res = read_n(f, 0, 1);
    assert_int_equal(1, res.messages);
    assert_null(f->assembly.data);

    test_term_append(f, msg, 2 * TEST_MAX_PAYLOAD);
    res = read_n(f, res.offset, 1);
    assert_non_null(f->assembly.data);
    size_t cap = f->assembly.capacity;
    uint8_t *data = f->assembly.data;
    assert_true(cap >= 2 * TEST_MAX_PAYLOAD);

    test_term_append(f, msg, 2 * TEST_MAX_PAYLOAD - 7); /* smaller: no realloc */
    res = read_n(f, res.offset, 1);
    assert_int_equal(1, res.messages);
    assert_ptr_equal(data, f->assembly.data);
    assert_int_equal(cap, f->assembly.capacity);

    test_term_append(f, msg, sizeof(msg)); /* larger: grows */
    res = read_n(f, res.offset, 1);
    assert_int_equal(1, res.messages);
    assert_true(f->assembly.capacity >= sizeof(msg));
    assert_memory_equal(msg, f->sink.data[3], sizeof(msg));
}

static shoal_controlled_action_t pointer_handler(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    (void)len;
    (void)hdr;
    *(const uint8_t **)clientd = buf;
    return SHOAL_ACTION_CONTINUE;
}

static void test_zero_copy_pointer(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[64] = { 1 };
    test_term_append(f, msg, sizeof(msg));
    const uint8_t *seen = NULL;
    shoal_term_read_result_t res =
        shoal_term_read_messages(f->term, 0, BIG_TERM_LENGTH, 0, &f->expect, 10, pointer_handler, &seen, &f->assembly);
    assert_int_equal(1, res.messages);
    assert_ptr_equal(f->term + SHOAL_DATA_HEADER_LENGTH, seen);
}

static void test_header_fields(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[64] = { 0 };
    shoal_iovec_t iov = { msg, sizeof(msg) };
    test_term_append(f, msg, 10);
    int32_t e = shoal_term_appender_append_unfragmented(f->term, f->tail, BIG_TERM_LENGTH, f->dh, &iov, 1, 64, -99,
        TEST_INITIAL_TERM_ID);
    read_n(f, 0, 10);
    shoal_header_t *h = &f->sink.headers[1];
    assert_int_equal(TEST_SESSION_ID, h->session_id);
    assert_int_equal(TEST_STREAM_ID, h->stream_id);
    assert_int_equal(TEST_INITIAL_TERM_ID, h->term_id);
    assert_int_equal(64, h->term_offset);
    assert_int_equal(96, h->frame_length);
    assert_int_equal(-99, h->reserved_value);
    assert_int_equal(1000000 + e, h->position);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, test_term_teardown)

SHOAL_TEST_MAIN({
    T(test_random_fragmented_reassembly),
    T(test_message_limit),
    T(test_abort_does_not_consume),
    T(test_break_consumes_and_stops),
    T(test_commit_continues),
    T(test_uncommitted_fragment_stops_before_begin),
    T(test_incomplete_chain_scan_resumes_where_it_stopped),
    T(test_incomplete_chain_copied_behind_the_writer),
    T(test_partly_copied_broken_chain_then_next_message),
    T(test_committed_fragment_changed_after_scan_is_skipped),
    T(test_broken_chain_pad_is_skipped),
    T(test_broken_chain_new_begin_is_skipped),
    T(test_orphan_fragments_and_heartbeats_skipped),
    T(test_assembly_buffer_grows_only_for_larger),
    T(test_zero_copy_pointer),
    T(test_header_fields),
})
