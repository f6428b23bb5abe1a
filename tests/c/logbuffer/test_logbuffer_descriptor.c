/*
 * Log buffer descriptor: validation, raw tails, position math, rotation.
 */
#include "logbuffer_test_util.h"

static void test_check_term_length(void **state)
{
    (void)state;
    assert_int_equal(0, shoal_logbuffer_check_term_length(64 * 1024));
    assert_int_equal(0, shoal_logbuffer_check_term_length(16 * 1024 * 1024));
    assert_int_equal(0, shoal_logbuffer_check_term_length(1024 * 1024 * 1024));

    assert_int_equal(-1, shoal_logbuffer_check_term_length(32 * 1024));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "32768"));

    assert_int_equal(-1, shoal_logbuffer_check_term_length(3 * 64 * 1024));
    assert_non_null(strstr(shoal_errmsg(), "196608"));
    assert_non_null(strstr(shoal_errmsg(), "power of 2"));

    assert_int_equal(-1, shoal_logbuffer_check_term_length(2LL * 1024 * 1024 * 1024));
    assert_int_equal(-1, shoal_logbuffer_check_term_length(0));
    assert_int_equal(-1, shoal_logbuffer_check_term_length(-65536));
}

static void test_check_mtu_and_page(void **state)
{
    (void)state;
    assert_int_equal(0, shoal_logbuffer_check_mtu(1408, 65536));
    assert_int_equal(-1, shoal_logbuffer_check_mtu(1400, 65536)); /* not 32-aligned */
    assert_int_equal(-1, shoal_logbuffer_check_mtu(32, 65536));
    assert_int_equal(0, shoal_logbuffer_check_page_size(4096));
    assert_int_equal(-1, shoal_logbuffer_check_page_size(4095));
}

static void test_raw_tail_packing(void **state)
{
    (void)state;
    int32_t ids[] = { 0, 1, 7, -1, INT32_MIN, INT32_MAX, -123456 };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
    {
        int64_t raw = shoal_logbuffer_pack_tail(ids[i], 4096);
        assert_int_equal(ids[i], shoal_logbuffer_term_id(raw));
        assert_int_equal(4096, shoal_logbuffer_term_offset(raw, 65536));
    }
    /* offset past the end after a trip is clamped */
    int64_t tripped = shoal_logbuffer_pack_tail(5, 65536) + 4000;
    assert_int_equal(5, shoal_logbuffer_term_id(tripped));
    assert_int_equal(65536, shoal_logbuffer_term_offset(tripped, 65536));
}

static void test_position_math(void **state)
{
    (void)state;
    const int32_t term_length = 65536;
    const size_t bits = shoal_logbuffer_position_bits_to_shift(term_length);
    assert_int_equal(16, bits);
    assert_int_equal(30, shoal_logbuffer_position_bits_to_shift(1024 * 1024 * 1024));

    int32_t initials[] = { 0, 7, -5, INT32_MAX - 1, INT32_MIN };
    for (size_t i = 0; i < sizeof(initials) / sizeof(initials[0]); i++)
    {
        int32_t initial = initials[i];
        for (int32_t count = 0; count < 10; count++)
        {
            int32_t term_id = (int32_t)((uint32_t)initial + (uint32_t)count); /* wraps */
            int64_t pos = shoal_logbuffer_compute_position(term_id, 96, bits, initial);
            assert_int_equal((int64_t)count * term_length + 96, pos);
            assert_int_equal((int64_t)count * term_length,
                shoal_logbuffer_compute_term_begin_position(term_id, bits, initial));
            assert_int_equal(count, shoal_logbuffer_compute_term_count(term_id, initial));
            assert_int_equal(term_id, shoal_logbuffer_compute_term_id_from_position(pos, bits, initial));
            assert_int_equal(96, shoal_logbuffer_compute_term_offset_from_position(pos, bits));
            assert_int_equal((size_t)(count % 3), shoal_logbuffer_index_by_position(pos, bits));
            assert_int_equal((size_t)(count % 3), shoal_logbuffer_index_by_term(initial, term_id));
            assert_int_equal((size_t)(count % 3), shoal_logbuffer_index_by_term_count(count));
        }
    }
    /* A term count or position read from a log (client-writable memory) may
     * be negative: it must still name one of the three terms. */
    const int64_t hostile[] = { -1, -2, -3, -4, INT32_MIN, INT64_MIN, -2 * (int64_t)term_length + 64 };
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
    {
        assert_true(shoal_logbuffer_index_by_term_count(hostile[i]) < 3);
        assert_true(shoal_logbuffer_index_by_position(hostile[i], bits) < 3);
    }
}

static void test_lengths(void **state)
{
    (void)state;
    assert_int_equal(8192, shoal_logbuffer_max_message_length(65536));
    assert_int_equal(16 * 1024 * 1024, shoal_logbuffer_max_message_length(1024 * 1024 * 1024));
    assert_int_equal(1376, shoal_logbuffer_max_payload_length(1408));
    assert_int_equal(3LL * 65536 + 4096, shoal_logbuffer_compute_log_length(65536));
}

/* A log of TEST_TERM_LENGTH terms from TEST_INITIAL_TERM_ID. */
static int log_setup(void **state)
{
    test_log_t *log = calloc(1, sizeof(*log));
    test_log_init(log, TEST_TERM_LENGTH, TEST_INITIAL_TERM_ID);
    *state = log;
    return 0;
}

static int log_teardown(void **state)
{
    test_log_close(*state);
    free(*state);
    return 0;
}

static void test_metadata_init_and_default_header(void **state)
{
    shoal_logbuffer_metadata_t *m = ((test_log_t *)*state)->meta;

    assert_int_equal(TEST_TERM_LENGTH, m->term_length);
    assert_int_equal(TEST_MTU, m->mtu_length);
    assert_int_equal(4096, m->page_size);
    assert_int_equal(TEST_INITIAL_TERM_ID, m->initial_term_id);
    assert_int_equal(42, m->correlation_id);
    assert_int_equal(0, shoal_logbuffer_active_term_count(m));
    assert_int_equal(TEST_INITIAL_TERM_ID, shoal_logbuffer_term_id(m->term_tail_counters[0]));
    assert_int_equal(TEST_INITIAL_TERM_ID - 2, shoal_logbuffer_term_id(m->term_tail_counters[1]));
    assert_int_equal(TEST_INITIAL_TERM_ID - 1, shoal_logbuffer_term_id(m->term_tail_counters[2]));
    assert_int_equal(shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, 0), shoal_logbuffer_active_raw_tail(m));

    const shoal_data_header_t *h = shoal_logbuffer_default_header(m);
    assert_int_equal(SHOAL_DATA_HEADER_LENGTH, m->default_frame_header_length);
    assert_int_equal(0, h->frame_header.frame_length);
    assert_int_equal(SHOAL_FRAME_VERSION, h->frame_header.version);
    assert_int_equal(SHOAL_FRAME_FLAG_BEGIN | SHOAL_FRAME_FLAG_END, h->frame_header.flags);
    assert_int_equal(SHOAL_HDR_TYPE_DATA, h->frame_header.type);
    assert_int_equal(TEST_SESSION_ID, h->session_id);
    assert_int_equal(TEST_STREAM_ID, h->stream_id);
    assert_int_equal(TEST_INITIAL_TERM_ID, h->term_id);

    /* bytes on the wire: little-endian, Aeron offsets */
    const uint8_t *b = m->default_frame_header;
    assert_int_equal(0xC0, b[5]);
    assert_int_equal(0x01, b[6]);
    assert_int_equal(0x00, b[7]);
    assert_int_equal(0x55, b[12]);
    assert_int_equal(0x5e, b[13]);

    assert_int_equal(-1, shoal_logbuffer_metadata_init(m, 1000, TEST_MTU, 4096, 0, 1, 1, 1));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
}

static void test_rotate_log(void **state)
{
    shoal_logbuffer_metadata_t *m = ((test_log_t *)*state)->meta;

    int32_t term_id = TEST_INITIAL_TERM_ID;
    for (int32_t count = 0; count < 7; count++)
    {
        assert_int_equal(count, shoal_logbuffer_active_term_count(m));
        assert_true(shoal_logbuffer_rotate_log(m, count, term_id));
        /* a second thread that saw the same trip changes nothing */
        assert_false(shoal_logbuffer_rotate_log(m, count, term_id));
        term_id++;
        size_t index = shoal_logbuffer_index_by_term_count(count + 1);
        assert_int_equal(shoal_logbuffer_pack_tail(term_id, 0), m->term_tail_counters[index]);
        assert_int_equal(shoal_logbuffer_pack_tail(term_id, 0), shoal_logbuffer_active_raw_tail(m));
    }
    assert_int_equal(7, shoal_logbuffer_active_term_count(m));

    /* a tail already moved on is left alone */
    shoal_logbuffer_initialise_tail_with_term_id(m, 2, 1000);
    assert_true(shoal_logbuffer_rotate_log(m, 7, term_id)); /* next index = 8 % 3 = 2 */
    assert_int_equal(1000, shoal_logbuffer_term_id(m->term_tail_counters[2]));
}

/* A log placed at (term id, offset) looks as if it had rotated there: the
 * position comes out right and the next rotations CAS the next tails. */
static void test_metadata_start_at(void **state)
{
    shoal_logbuffer_metadata_t *m = ((test_log_t *)*state)->meta;
    const int32_t start_term_id = TEST_INITIAL_TERM_ID + 4;
    shoal_logbuffer_metadata_start_at(m, start_term_id, 96);
    assert_int_equal(4, shoal_logbuffer_active_term_count(m));
    assert_int_equal(shoal_logbuffer_pack_tail(start_term_id, 96), shoal_logbuffer_active_raw_tail(m));
    size_t bits = shoal_logbuffer_position_bits_to_shift(TEST_TERM_LENGTH);
    int64_t raw = shoal_logbuffer_active_raw_tail(m);
    assert_int_equal(4LL * TEST_TERM_LENGTH + 96,
        shoal_logbuffer_compute_position(shoal_logbuffer_term_id(raw),
            shoal_logbuffer_term_offset(raw, TEST_TERM_LENGTH), bits, TEST_INITIAL_TERM_ID));
    int32_t term_id = start_term_id;
    for (int32_t count = 4; count < 10; count++)
    {
        assert_true(shoal_logbuffer_rotate_log(m, count, term_id));
        term_id++;
        assert_int_equal(shoal_logbuffer_pack_tail(term_id, 0), shoal_logbuffer_active_raw_tail(m));
    }
}

static void test_frame_layouts(void **state)
{
    (void)state;
    assert_int_equal(32, sizeof(shoal_data_header_t));
    assert_int_equal(28, sizeof(shoal_nak_header_t));
    assert_int_equal(36, sizeof(shoal_status_message_header_t));
    assert_int_equal(40, sizeof(shoal_setup_header_t));
    assert_int_equal(40, sizeof(shoal_rttm_header_t));
    assert_int_equal(40, sizeof(shoal_error_header_t));
    assert_int_equal(SHOAL_FLAG_BEGIN, SHOAL_FRAME_FLAG_BEGIN);
    assert_int_equal(SHOAL_FLAG_END, SHOAL_FRAME_FLAG_END);
    assert_int_equal(SHOAL_FLAG_EOS, SHOAL_FRAME_FLAG_EOS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_term_length),
        cmocka_unit_test(test_check_mtu_and_page),
        cmocka_unit_test(test_raw_tail_packing),
        cmocka_unit_test(test_position_math),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test_setup_teardown(test_metadata_init_and_default_header, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_log, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_metadata_start_at, log_setup, log_teardown),
        cmocka_unit_test(test_frame_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
