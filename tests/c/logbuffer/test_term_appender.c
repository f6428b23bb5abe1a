/*
 * Term appenders: frame layout and commit protocol, claims, trips,
 * fragmentation, gather, exclusive variants.
 */
#include "../shoal_test_main.h"
#include "logbuffer_test_util.h"

typedef test_term_t fixture_t;

static shoal_term_read_result_t read_all(fixture_t *f, int32_t from)
{
    return test_term_read(f, from, 0, 1000);
}

/* The shared appenders on the fixture's term, its first term id. */
static int32_t append_unfragmented(fixture_t *f, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    int64_t reserved_value)
{
    return shoal_term_appender_append_unfragmented(f->term, f->tail, TEST_TERM_LENGTH, f->dh, iov, iovcnt, length,
        reserved_value, TEST_INITIAL_TERM_ID);
}

static int32_t append_fragmented(fixture_t *f, const shoal_iovec_t *iov, size_t iovcnt, size_t length,
    int64_t reserved_value)
{
    return shoal_term_appender_append_fragmented(f->term, f->tail, TEST_TERM_LENGTH, f->dh, iov, iovcnt, length,
        TEST_MAX_PAYLOAD, reserved_value, TEST_INITIAL_TERM_ID);
}

/* A message of len bytes filled from seed (test_fill); the caller frees it. */
static uint8_t *filled_message(size_t len, uint32_t seed)
{
    uint8_t *msg = malloc(len);
    assert_non_null(msg);
    test_fill(msg, len, seed);
    return msg;
}

static void test_unfragmented_frame_layout(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[100];
    test_fill(msg, sizeof(msg), 1);
    shoal_iovec_t iov = { msg, sizeof(msg) };

    int32_t r = append_unfragmented(f, &iov, 1, sizeof(msg), 0x1122334455667788LL);
    assert_int_equal(160, r); /* align(100 + 32, 32) */
    assert_int_equal(shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, 160), *f->tail);

    const shoal_data_header_t *h = test_frame(f->term, 0);
    assert_int_equal(132, h->frame_header.frame_length);
    assert_int_equal(SHOAL_FRAME_FLAG_BEGIN | SHOAL_FRAME_FLAG_END, h->frame_header.flags);
    assert_int_equal(SHOAL_HDR_TYPE_DATA, h->frame_header.type);
    assert_int_equal(0, h->term_offset);
    assert_int_equal(TEST_INITIAL_TERM_ID, h->term_id);
    assert_int_equal(TEST_SESSION_ID, h->session_id);
    assert_int_equal(TEST_STREAM_ID, h->stream_id);
    assert_int_equal(0x1122334455667788LL, h->reserved_value);
    assert_memory_equal(msg, f->term + 32, sizeof(msg));

    r = append_unfragmented(f, &iov, 1, 1, 0);
    assert_int_equal(160 + 64, r);
    assert_int_equal(160, test_frame(f->term, 160)->term_offset);
    assert_int_equal(33, test_frame(f->term, 160)->frame_header.frame_length);
}

/* The inline copy of small payloads (shoal_payload_copy.h): every length
 * around its width switches, from and to odd addresses, and not a byte
 * outside the destination range touched. */
static void test_payload_copy_every_small_length(void **state)
{
    (void)state;
    uint8_t src[256 + 8], dst[256 + 64];
    for (size_t i = 0; i < sizeof(src); i++)
    {
        src[i] = (uint8_t)(i * 7 + 1);
    }
    for (size_t skew = 0; skew < 3; skew++)
    {
        for (size_t n = 0; n <= 200; n++)
        {
            memset(dst, 0xa5, sizeof(dst));
            shoal_payload_copy(dst + 16 + skew, src + 1 + skew, n);
            for (size_t i = 0; i < sizeof(dst); i++)
            {
                const bool inside = i >= 16 + skew && i < 16 + skew + n;
                const uint8_t want = inside ? src[1 + skew + (i - 16 - skew)] : 0xa5;
                if (dst[i] != want)
                {
                    fail_msg("copy of %zu bytes (skew %zu): byte %zu is 0x%02x, expected 0x%02x", n, skew, i, dst[i],
                        want);
                }
            }
        }
    }
}

/* Offers of every length up to 100 bytes through the bytes path (the one
 * shoal_publication_offer takes): each frame holds exactly its message, and
 * the reader gets them back in order. */
static void test_append_bytes_every_small_length(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[128];
    int32_t offset = 0;
    for (size_t len = 0; len <= 100; len++)
    {
        test_fill(msg, len, (uint32_t)len + 1);
        int32_t r = shoal_exclusive_term_appender_append_bytes(f->term, f->tail, TEST_TERM_LENGTH, f->dh,
            TEST_INITIAL_TERM_ID, offset, msg, len);
        assert_int_equal(offset + SHOAL_ALIGN((int32_t)len + 32, 32), r);
        const shoal_data_header_t *h = test_frame(f->term, offset);
        assert_int_equal((int32_t)len + 32, h->frame_header.frame_length);
        if (len > 0)
        {
            assert_memory_equal(msg, f->term + offset + 32, len);
        }
        for (int32_t i = offset + 32 + (int32_t)len; i < r; i++)
        {
            assert_int_equal(0, f->term[i]); /* the frame's alignment padding is left as cleaned */
        }
        offset = r;
    }
    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(101, res.messages);
    assert_int_equal(offset, res.offset);
}

static void test_unfragmented_append_and_read(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[200];
    int32_t end = 0;
    for (int i = 0; i < 10; i++)
    {
        test_fill(msg, sizeof(msg), (uint32_t)i);
        end = test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, (size_t)(10 + i * 19), TEST_INITIAL_TERM_ID);
        assert_true(end > 0);
    }
    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(10, res.messages);
    assert_int_equal(end, res.offset);
    assert_false(res.padding_or_gap_skipped);
    for (int i = 0; i < 10; i++)
    {
        test_fill(msg, sizeof(msg), (uint32_t)i);
        assert_int_equal(10 + i * 19, f->sink.lengths[i]);
        assert_memory_equal(msg, f->sink.data[i], f->sink.lengths[i]);
        assert_int_equal(SHOAL_FLAG_BEGIN | SHOAL_FLAG_END, f->sink.headers[i].flags);
    }
    assert_int_equal(end, f->sink.headers[9].position);

    /* nothing more to read */
    res = read_all(f, res.offset);
    assert_int_equal(0, res.messages);
    assert_int_equal(end, res.offset);
}

static void test_zero_length_message(void **state)
{
    fixture_t *f = *state;
    int32_t r = append_unfragmented(f, NULL, 0, 0, 0);
    assert_int_equal(32, r);
    assert_int_equal(32, test_frame(f->term, 0)->frame_header.frame_length);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(0, f->sink.lengths[0]);
    assert_int_equal(32, f->sink.headers[0].position);
    assert_int_equal(32, res.offset);
}

static void test_claim_commit(void **state)
{
    fixture_t *f = *state;
    shoal_claim_t claim;
    int32_t r = shoal_term_appender_claim(f->term, f->tail, TEST_TERM_LENGTH, f->dh, 64, &claim, TEST_INITIAL_TERM_ID);
    assert_int_equal(96, r);
    assert_ptr_equal(f->term + 32, claim.data);
    assert_int_equal(64, claim.length);
    assert_int_equal(-96, test_frame(f->term, 0)->frame_header.frame_length);

    /* not visible before commit */
    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(0, res.messages);
    assert_int_equal(0, res.offset);

    memset(claim.data, 0xAB, claim.length);
    assert_int_equal(0, shoal_term_claim_commit(&claim));
    assert_null(claim.frame_);
    assert_int_equal(96, test_frame(f->term, 0)->frame_header.frame_length);
    assert_int_equal(-1, shoal_term_claim_commit(&claim)); /* double commit */
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());

    res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(64, f->sink.lengths[0]);
    assert_int_equal(0xAB, f->sink.data[0][63]);
}

static void test_claim_abort_is_skipped(void **state)
{
    fixture_t *f = *state;
    shoal_claim_t claim;
    uint8_t msg[10] = { 1, 2, 3 };
    assert_int_equal(96,
        shoal_term_appender_claim(f->term, f->tail, TEST_TERM_LENGTH, f->dh, 50, &claim, TEST_INITIAL_TERM_ID));
    int32_t end = test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, sizeof(msg), TEST_INITIAL_TERM_ID);
    assert_int_equal(96 + 64, end);

    /* the claim blocks the later message */
    assert_int_equal(0, read_all(f, 0).messages);

    assert_int_equal(0, shoal_term_claim_abort(&claim));
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, 0)->frame_header.type);
    assert_int_equal(82, test_frame(f->term, 0)->frame_header.frame_length);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_true(res.padding_or_gap_skipped);
    assert_int_equal(end, res.offset);
    assert_memory_equal(msg, f->sink.data[0], sizeof(msg));
    assert_int_equal(-1, shoal_term_claim_abort(&claim));
    assert_int_equal(-1, shoal_term_claim_abort(NULL));
}

static void test_fragmented_frame_layout(void **state)
{
    fixture_t *f = *state;
    const size_t len = 2 * TEST_MAX_PAYLOAD + 100;
    uint8_t *msg = filled_message(len, 9);
    shoal_iovec_t iov = { msg, len };

    int32_t r = append_fragmented(f, &iov, 1, len, 77);
    assert_int_equal(2 * TEST_MTU + 160, r);
    assert_int_equal(r, shoal_term_appender_required_length(len, TEST_MAX_PAYLOAD));

    const shoal_data_header_t *h0 = test_frame(f->term, 0);
    const shoal_data_header_t *h1 = test_frame(f->term, TEST_MTU);
    const shoal_data_header_t *h2 = test_frame(f->term, 2 * TEST_MTU);
    assert_int_equal(TEST_MTU, h0->frame_header.frame_length);
    assert_int_equal(SHOAL_FRAME_FLAG_BEGIN, h0->frame_header.flags);
    assert_int_equal(TEST_MTU, h1->frame_header.frame_length);
    assert_int_equal(0, h1->frame_header.flags);
    assert_int_equal(TEST_MTU, h1->term_offset);
    assert_int_equal(132, h2->frame_header.frame_length);
    assert_int_equal(SHOAL_FRAME_FLAG_END, h2->frame_header.flags);
    assert_int_equal(77, h2->reserved_value);
    assert_memory_equal(msg + TEST_MAX_PAYLOAD, f->term + TEST_MTU + 32, TEST_MAX_PAYLOAD);
    assert_memory_equal(msg + 2 * TEST_MAX_PAYLOAD, f->term + 2 * TEST_MTU + 32, 100);

    /* exact multiple of the max payload: last full frame carries END */
    int32_t r2 = append_fragmented(f, &iov, 1, 2 * TEST_MAX_PAYLOAD, 0);
    assert_int_equal(r + 2 * TEST_MTU, r2);
    assert_int_equal(SHOAL_FRAME_FLAG_END, test_frame(f->term, r + TEST_MTU)->frame_header.flags);

    /* a single fragment is an unfragmented frame */
    int32_t r3 = append_fragmented(f, &iov, 1, 10, 0);
    assert_int_equal(r2 + 64, r3);
    assert_int_equal(SHOAL_FRAME_FLAG_UNFRAGMENTED, test_frame(f->term, r2)->frame_header.flags);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(3, res.messages);
    assert_int_equal(len, f->sink.lengths[0]);
    assert_memory_equal(msg, f->sink.data[0], len);
    assert_int_equal(TEST_MTU, f->sink.headers[0].frame_length);
    assert_int_equal(0, f->sink.headers[0].term_offset);
    assert_int_equal(77, f->sink.headers[0].reserved_value);
    assert_int_equal(r, f->sink.headers[0].position);
    assert_int_equal(SHOAL_FLAG_BEGIN | SHOAL_FLAG_END, f->sink.headers[0].flags);
    free(msg);
}

static void test_trip_at_end_of_term(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[1000];
    test_fill(msg, sizeof(msg), 3);
    int32_t r = 0, last = 0;
    int n = 0;
    while ((r = test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, sizeof(msg), TEST_INITIAL_TERM_ID)) > 0)
    {
        last = r;
        n++;
    }
    assert_int_equal(SHOAL_TERM_APPENDER_TRIPPED, r);
    assert_int_equal(TEST_TERM_LENGTH / 1056, n); /* 62 frames of 1056 fit in 64 KiB */
    assert_int_equal(62 * 1056, last);

    /* padding frame from the last offset to the end */
    const shoal_data_header_t *pad = test_frame(f->term, last);
    assert_int_equal(SHOAL_HDR_TYPE_PAD, pad->frame_header.type);
    assert_int_equal(TEST_TERM_LENGTH - last, pad->frame_header.frame_length);
    assert_int_equal(last, pad->term_offset);
    /* tail tripped past the end */
    assert_true((*f->tail & 0xFFFFFFFFLL) > TEST_TERM_LENGTH);
    assert_int_equal(TEST_TERM_LENGTH, shoal_logbuffer_term_offset(*f->tail, TEST_TERM_LENGTH));

    /* another writer after the trip: no write, still TRIPPED */
    uint8_t before[64];
    memcpy(before, f->term + last, sizeof(before));
    assert_int_equal(SHOAL_TERM_APPENDER_TRIPPED,
        test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, 10, TEST_INITIAL_TERM_ID));
    assert_memory_equal(before, f->term + last, sizeof(before));

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(n, res.messages);
    assert_true(res.padding_or_gap_skipped);
    assert_int_equal(TEST_TERM_LENGTH, res.offset);

    /* rotate and append into the next term */
    assert_true(shoal_logbuffer_rotate_log(f->log.meta, 0, TEST_INITIAL_TERM_ID));
    int64_t raw = shoal_logbuffer_active_raw_tail(f->log.meta);
    assert_int_equal(TEST_INITIAL_TERM_ID + 1, shoal_logbuffer_term_id(raw));
    r = test_append(test_log_term(&f->log, 1), &f->log.meta->term_tail_counters[1], TEST_TERM_LENGTH, f->dh, msg, 10,
        TEST_INITIAL_TERM_ID + 1);
    assert_int_equal(64, r);
    assert_int_equal(TEST_INITIAL_TERM_ID + 1, test_frame(test_log_term(&f->log, 1), 0)->term_id);
}

static void test_exact_fill_then_trip_without_padding(void **state)
{
    fixture_t *f = *state;
    /* 64 frames of 1024 bytes fill the term exactly */
    uint8_t msg[1024 - 32];
    memset(msg, 1, sizeof(msg));
    for (int i = 0; i < 64; i++)
    {
        assert_int_equal((i + 1) * 1024,
            test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, sizeof(msg), TEST_INITIAL_TERM_ID));
    }
    assert_int_equal(SHOAL_TERM_APPENDER_TRIPPED,
        test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, 1, TEST_INITIAL_TERM_ID));
    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(64, res.messages);
    assert_false(res.padding_or_gap_skipped);
    assert_int_equal(TEST_TERM_LENGTH, res.offset);
}

static void test_failed_on_bad_arguments(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[16] = { 0 };
    shoal_iovec_t iov = { msg, sizeof(msg) };
    /* longer than the term */
    assert_int_equal(SHOAL_TERM_APPENDER_FAILED, append_fragmented(f, &iov, 1, TEST_TERM_LENGTH, 0));
    assert_int_equal(SHOAL_EMSGSIZE, shoal_errcode());
    /* iov shorter than length */
    assert_int_equal(SHOAL_TERM_APPENDER_FAILED, append_unfragmented(f, &iov, 1, 17, 0));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(SHOAL_TERM_APPENDER_FAILED, append_unfragmented(f, &iov, 1, SIZE_MAX, 0));
    /* nothing claimed */
    assert_int_equal(shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, 0), *f->tail);
}

static void test_offerv_gather_equivalence(void **state)
{
    fixture_t *f = *state;
    const size_t len = 3 * TEST_MAX_PAYLOAD + 77;
    uint8_t *msg = filled_message(len, 11);

    /* one buffer into term 0 */
    shoal_iovec_t one = { msg, len };
    int32_t r1 = append_fragmented(f, &one, 1, len, 5);
    int32_t s1 = append_unfragmented(f, &one, 1, 300, 5);

    /* the same bytes split in odd pieces (including empty ones) into term 1 */
    shoal_iovec_t many[8];
    size_t cuts[] = { 0, 1, 1, 700, 1376, 2900, 2901, len };
    for (int i = 0; i < 7; i++)
    {
        many[i].base = msg + cuts[i];
        many[i].length = cuts[i + 1] - cuts[i];
    }
    uint8_t *term1 = test_log_term(&f->log, 1);
    int64_t tail1 = shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, 0);
    int32_t r2 = shoal_term_appender_append_fragmented(term1, &tail1, TEST_TERM_LENGTH, f->dh, many, 7, len,
        TEST_MAX_PAYLOAD, 5, TEST_INITIAL_TERM_ID);
    int32_t s2 = shoal_term_appender_append_unfragmented(term1, &tail1, TEST_TERM_LENGTH, f->dh, many, 7, 300, 5,
        TEST_INITIAL_TERM_ID);

    assert_int_equal(r1, r2);
    assert_int_equal(s1, s2);
    assert_memory_equal(f->term, term1, (size_t)s1);
    free(msg);
}

static void test_exclusive_appender(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3000];
    test_fill(msg, sizeof(msg), 21);
    shoal_iovec_t iov = { msg, sizeof(msg) };
    int32_t term_id = TEST_INITIAL_TERM_ID;
    int32_t offset = 0;
    int n = 0;

    /* alternate unfragmented, fragmented and claims until the term trips */
    for (;;)
    {
        int32_t r;
        shoal_claim_t claim;
        switch (n % 3)
        {
            case 0:
                r = shoal_exclusive_term_appender_append_unfragmented(f->term, f->tail, TEST_TERM_LENGTH, f->dh,
                    term_id, offset, &iov, 1, 500, 9);
                break;
            case 1:
                r = shoal_exclusive_term_appender_append_fragmented(f->term, f->tail, TEST_TERM_LENGTH, f->dh, term_id,
                    offset, &iov, 1, sizeof(msg), TEST_MAX_PAYLOAD, 9);
                break;
            default:
                r = shoal_exclusive_term_appender_claim(f->term, f->tail, TEST_TERM_LENGTH, f->dh, term_id, offset, 200,
                    &claim);
                if (r > 0)
                {
                    memcpy(claim.data, msg, 200);
                    assert_int_equal(0, shoal_term_claim_commit(&claim));
                }
                break;
        }
        if (r < 0)
        {
            assert_int_equal(SHOAL_TERM_APPENDER_TRIPPED, r);
            break;
        }
        assert_true(r > offset);
        offset = r;
        assert_int_equal(shoal_logbuffer_pack_tail(term_id, offset), *f->tail);
        n++;
    }
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, offset)->frame_header.type);
    assert_int_equal(TEST_TERM_LENGTH - offset, test_frame(f->term, offset)->frame_header.frame_length);
    assert_int_equal(TEST_TERM_LENGTH, shoal_logbuffer_term_offset(*f->tail, TEST_TERM_LENGTH));

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(n, res.messages);
    assert_int_equal(TEST_TERM_LENGTH, res.offset);
    for (int i = 0; i < n; i++)
    {
        size_t expect = (i % 3 == 0) ? 500 : (i % 3 == 1) ? sizeof(msg) : 200;
        assert_int_equal(expect, f->sink.lengths[i]);
        assert_memory_equal(msg, f->sink.data[i], expect);
        if (i % 3 != 2)
        {
            assert_int_equal(9, f->sink.headers[i].reserved_value);
        }
    }
}

static void test_stale_term_id_pads_and_trips(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[40] = { 0 };
    /* the partition already moved on to term + 3 while a writer held term */
    shoal_logbuffer_initialise_tail_with_term_id(f->log.meta, 0, TEST_INITIAL_TERM_ID + 3);
    assert_int_equal(SHOAL_TERM_APPENDER_TRIPPED,
        test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, sizeof(msg), TEST_INITIAL_TERM_ID));
    const shoal_data_header_t *h = test_frame(f->term, 0);
    assert_int_equal(SHOAL_HDR_TYPE_PAD, h->frame_header.type);
    assert_int_equal(96, h->frame_header.frame_length);
    assert_int_equal(TEST_INITIAL_TERM_ID + 3, h->term_id);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, test_term_setup, test_term_teardown)

SHOAL_TEST_MAIN({
    T(test_unfragmented_frame_layout),
    T(test_unfragmented_append_and_read),
    T(test_zero_length_message),
    T(test_claim_commit),
    T(test_claim_abort_is_skipped),
    T(test_fragmented_frame_layout),
    T(test_trip_at_end_of_term),
    T(test_exact_fill_then_trip_without_padding),
    T(test_failed_on_bad_arguments),
    T(test_offerv_gather_equivalence),
    T(test_exclusive_appender),
    T(test_stale_term_id_pads_and_trips),
    T(test_append_bytes_every_small_length),
    cmocka_unit_test(test_payload_copy_every_small_length),
})
