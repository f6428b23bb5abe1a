/* The sender's term scanner (how much of a term one datagram takes) and the
 * receiver's gap scanner (where the frames rebuilt from datagrams stop), on
 * hand-laid terms: whole frames only, padding, uncommitted frames, corrupt
 * lengths, and the end of the term. */
#include "../shoal_test_main.h"
#include "logbuffer_test_util.h"
#include "logbuffer/shoal_term_scanner.h"

#define TERM 65536

static uint8_t *new_term(void)
{
    uint8_t *term = NULL;
    assert_int_equal(0, posix_memalign((void **)&term, 64, TERM));
    memset(term, 0, TERM);
    return term;
}

/* A committed frame of frame_length bytes (type DATA or PAD) at offset. */
static void put_frame(uint8_t *term, int32_t offset, int32_t frame_length, uint16_t type)
{
    shoal_data_header_t *h = (shoal_data_header_t *)(term + offset);
    h->frame_header.type = type;
    h->frame_header.flags = SHOAL_FRAME_FLAG_UNFRAGMENTED;
    h->term_offset = offset;
    h->frame_header.frame_length = frame_length;
}

static void takes_whole_committed_frames_up_to_the_datagram(void **state)
{
    (void)state;
    uint8_t *term = new_term();
    int32_t padding = -1;
    put_frame(term, 0, 100, SHOAL_HDR_TYPE_DATA); /* 128 aligned */
    put_frame(term, 128, 64, SHOAL_HDR_TYPE_DATA);
    put_frame(term, 192, 1000, SHOAL_HDR_TYPE_DATA); /* 1024 aligned */
    assert_int_equal(192, shoal_term_scan_for_availability(term, 0, 1000, TERM, &padding));
    assert_int_equal(0, padding);
    assert_int_equal(1216, shoal_term_scan_for_availability(term, 0, 1216, TERM, &padding));
    /* A frame is never split: less room than the first frame sends nothing. */
    assert_int_equal(0, shoal_term_scan_for_availability(term, 192, 1023, TERM, &padding));
    /* It stops at the first frame not committed yet (length 0 or claimed, < 0). */
    assert_int_equal(1216, shoal_term_scan_for_availability(term, 0, TERM, TERM, &padding));
    *(int32_t *)(term + 1216) = -64;
    assert_int_equal(1216, shoal_term_scan_for_availability(term, 0, TERM, TERM, &padding));
    assert_int_equal(0, shoal_term_scan_for_availability(term, 1216, TERM, TERM, &padding));
    free(term);
}

static void padding_travels_as_a_header(void **state)
{
    (void)state;
    uint8_t *term = new_term();
    int32_t padding = -1;
    put_frame(term, 0, 64, SHOAL_HDR_TYPE_DATA);
    put_frame(term, 64, TERM - 64, SHOAL_HDR_TYPE_PAD); /* pads to the term end */
    assert_int_equal(64 + SHOAL_DATA_HEADER_LENGTH, shoal_term_scan_for_availability(term, 0, 1408, TERM, &padding));
    assert_int_equal(TERM - 64 - SHOAL_DATA_HEADER_LENGTH, padding);
    /* The position advances by available + padding: exactly to the term end. */
    assert_int_equal(TERM, 0 + 64 + SHOAL_DATA_HEADER_LENGTH + padding);
    /* No room for the PAD header after the data: the data goes alone. */
    assert_int_equal(64, shoal_term_scan_for_availability(term, 0, 64 + 16, TERM, &padding));
    assert_int_equal(0, padding);
    free(term);
}

static void never_leaves_the_term(void **state)
{
    (void)state;
    uint8_t *term = new_term();
    int32_t padding = 0;
    /* The last frame of the term, and a datagram allowance that reaches past it. */
    put_frame(term, TERM - 128, 128, SHOAL_HDR_TYPE_DATA);
    assert_int_equal(128, shoal_term_scan_for_availability(term, TERM - 128, 1408, TERM, &padding));
    /* A corrupt length that would run past the term end counts as not committed. */
    put_frame(term, TERM - 256, 4096, SHOAL_HDR_TYPE_DATA);
    assert_int_equal(0, shoal_term_scan_for_availability(term, TERM - 256, 8192, TERM, &padding));
    put_frame(term, 0, INT32_MAX, SHOAL_HDR_TYPE_DATA);
    assert_int_equal(0, shoal_term_scan_for_availability(term, 0, 8192, TERM, &padding));
    free(term);
}

static void gap_scanner_finds_the_first_hole(void **state)
{
    (void)state;
    uint8_t *term = new_term();
    put_frame(term, 0, 96, SHOAL_HDR_TYPE_DATA);
    put_frame(term, 96, 32, SHOAL_HDR_TYPE_DATA);
    /* hole at 128..256 */
    put_frame(term, 256, 64, SHOAL_HDR_TYPE_DATA);
    assert_int_equal(128, shoal_term_scan_for_gap(term, 0, 1024));
    assert_int_equal(256, shoal_term_gap_end(term, 128, 1024));
    /* A hole up to the limit ends there. */
    assert_int_equal(320, shoal_term_scan_for_gap(term, 256, 1024));
    assert_int_equal(1024, shoal_term_gap_end(term, 320, 1024));
    /* Nothing missing up to the limit: the limit. */
    assert_int_equal(128, shoal_term_scan_for_gap(term, 0, 128));
    /* A frame reaching past the limit reaches it (no overflow on corrupt lengths either). */
    assert_int_equal(100, shoal_term_scan_for_gap(term, 0, 100));
    put_frame(term, 512, INT32_MAX, SHOAL_HDR_TYPE_DATA);
    assert_int_equal(1024, shoal_term_scan_for_gap(term, 512, 1024));
    /* A claimed, uncommitted frame is a hole too. */
    *(int32_t *)(term + 128) = -128;
    assert_int_equal(128, shoal_term_scan_for_gap(term, 0, 1024));
    free(term);
}

static void gaps_at_the_term_end(void **state)
{
    (void)state;
    uint8_t *term = new_term();
    put_frame(term, 0, TERM - 64, SHOAL_HDR_TYPE_DATA);
    /* the last 64 bytes are missing */
    assert_int_equal(TERM - 64, shoal_term_scan_for_gap(term, 0, TERM));
    assert_int_equal(TERM, shoal_term_gap_end(term, TERM - 64, TERM));
    put_frame(term, TERM - 64, 64, SHOAL_HDR_TYPE_PAD);
    assert_int_equal(TERM, shoal_term_scan_for_gap(term, 0, TERM));
    free(term);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(takes_whole_committed_frames_up_to_the_datagram),
    cmocka_unit_test(padding_travels_as_a_header),
    cmocka_unit_test(never_leaves_the_term),
    cmocka_unit_test(gap_scanner_finds_the_first_hole),
    cmocka_unit_test(gaps_at_the_term_end),
})
