/*
 * A corrupted term: the regressions the libFuzzer target fuzz_term_reader
 * found (inputs in tests/fuzz/corpus/term_reader/regress-*). A log is shared
 * memory any publisher or subscriber can scribble on; every scan of it must
 * stay inside the term and free of undefined behaviour.
 */
#include "../shoal_test_main.h"
#include "logbuffer_test_util.h"

#include "logbuffer/shoal_term_scanner.h"

#define TERM 1024

static void put_frame(uint8_t *term, int32_t offset, int32_t frame_length, uint16_t type, uint8_t flags)
{
    shoal_data_header_t h;
    memset(&h, 0, sizeof(h));
    h.frame_header.frame_length = frame_length;
    h.frame_header.type = type;
    h.frame_header.flags = flags;
    h.term_offset = offset;
    h.session_id = TEST_SESSION_ID;
    h.stream_id = TEST_STREAM_ID;
    h.term_id = TEST_INITIAL_TERM_ID;
    memcpy(term + offset, &h, sizeof(h));
}

/* A PAD whose length runs past the term end must not move the sender past it. */
static void scanner_stops_at_pad_past_term_end(void **state)
{
    (void)state;
    uint8_t *term = calloc(1, TERM);
    put_frame(term, 0, 64, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_UNFRAGMENTED);
    put_frame(term, 64, 65536, SHOAL_HDR_TYPE_PAD, 0);
    int32_t padding = -1;
    int32_t available = shoal_term_scan_for_availability(term, 0, 1408, TERM, &padding);
    assert_int_equal(64, available);
    assert_int_equal(0, padding);
    /* from the PAD itself: nothing is available */
    assert_int_equal(0, shoal_term_scan_for_availability(term, 64, 1408, TERM, &padding));
    /* a well-formed PAD to the term end still works */
    put_frame(term, 64, TERM - 64, SHOAL_HDR_TYPE_PAD, 0);
    available = shoal_term_scan_for_availability(term, 64, 1408, TERM, &padding);
    assert_int_equal(SHOAL_DATA_HEADER_LENGTH, available);
    assert_int_equal(TERM - 64 - SHOAL_DATA_HEADER_LENGTH, padding);
    /* a DATA length near INT32_MAX: not committed as far as the sender is concerned */
    put_frame(term, 64, INT32_MAX, SHOAL_HDR_TYPE_DATA, 0);
    assert_int_equal(64, shoal_term_scan_for_availability(term, 0, 1408, TERM, &padding));
    free(term);
}

/* A claimed length of INT32_MIN (or any reaching past the term) pads to the term end only. */
static void unblocker_clamps_corrupt_claim(void **state)
{
    (void)state;
    test_log_t log;
    test_log_init(&log, TEST_TERM_LENGTH, TEST_INITIAL_TERM_ID);
    uint8_t *term = test_log_term(&log, 0);
    int32_t claimed = INT32_MIN;
    memcpy(term + 4096, &claimed, sizeof(claimed));
    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED,
        shoal_term_unblocker_unblock(log.meta, term, TEST_TERM_LENGTH, 4096, TEST_TERM_LENGTH, TEST_INITIAL_TERM_ID,
            false));
    const shoal_data_header_t *h = (const shoal_data_header_t *)(term + 4096);
    assert_int_equal(SHOAL_HDR_TYPE_PAD, h->frame_header.type);
    assert_int_equal(TEST_TERM_LENGTH - 4096, h->frame_header.frame_length);
    test_log_close(&log);
}

/* A frame length near INT32_MAX must not overflow the gap scan. */
static void gap_scan_survives_huge_length(void **state)
{
    (void)state;
    uint8_t *term = calloc(1, TERM);
    put_frame(term, 0, 64, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_UNFRAGMENTED);
    put_frame(term, 64, INT32_MAX, SHOAL_HDR_TYPE_DATA, 0);
    assert_int_equal(512, shoal_term_scan_for_gap(term, 0, 512));
    put_frame(term, 64, 64, SHOAL_HDR_TYPE_DATA, 0);
    assert_int_equal(128, shoal_term_scan_for_gap(term, 0, 512));
    free(term);
}

static int empty_calls;

static shoal_controlled_action_t on_empty(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)clientd;
    (void)hdr;
    assert_non_null(buf);
    assert_int_equal(0, len);
    empty_calls++;
    return SHOAL_ACTION_CONTINUE;
}

/* BEGIN and END fragments without payload: an empty message with a real buffer. */
static void empty_fragmented_message_has_a_buffer(void **state)
{
    (void)state;
    uint8_t *term = calloc(1, TERM);
    put_frame(term, 0, SHOAL_DATA_HEADER_LENGTH, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_BEGIN);
    put_frame(term, 32, SHOAL_DATA_HEADER_LENGTH, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_END);
    shoal_assembly_buffer_t assembly = { NULL, 0 };
    empty_calls = 0;
    const shoal_frame_expect_t cleaned = shoal_frame_expect(false, 0, 0);
    shoal_term_read_result_t r = shoal_term_read_messages(term, 0, TERM, 0, &cleaned, 10, on_empty, NULL, &assembly);
    assert_int_equal(1, empty_calls);
    assert_int_equal(1, r.messages);
    assert_int_equal(64, r.offset);
    shoal_assembly_buffer_close(&assembly);
    free(term);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(scanner_stops_at_pad_past_term_end),
    cmocka_unit_test(unblocker_clamps_corrupt_claim),
    cmocka_unit_test(gap_scan_survives_huge_length),
    cmocka_unit_test(empty_fragmented_message_has_a_buffer),
})
