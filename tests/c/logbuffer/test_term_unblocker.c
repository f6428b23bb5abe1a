/*
 * Term unblocker: a claimed-but-never-committed frame, a zeroed gap left by
 * a writer that died between its tail add and its header write, and the
 * end-of-term case (the tripping writer died before padding and rotating).
 */
#include "../shoal_test_main.h"
#include "logbuffer_test_util.h"

typedef test_term_t fixture_t;

static shoal_term_read_result_t read_all(fixture_t *f, int32_t from)
{
    return test_term_read(f, from, 0, 1000);
}

static int32_t append(fixture_t *f, size_t len)
{
    uint8_t msg[4096];
    test_fill(msg, len, (uint32_t)len);
    return test_append(f->term, f->tail, TEST_TERM_LENGTH, f->dh, msg, len, TEST_INITIAL_TERM_ID);
}

static int32_t tail_offset(fixture_t *f)
{
    return shoal_logbuffer_term_offset(*f->tail, TEST_TERM_LENGTH);
}

/* Unblocks the fixture's term at blocked_offset, up to the current tail. */
static shoal_unblock_status_t unblock(fixture_t *f, int32_t blocked_offset, bool uncleaned)
{
    return shoal_term_unblocker_unblock(f->log.meta, f->term, TEST_TERM_LENGTH, blocked_offset, tail_offset(f),
        TEST_INITIAL_TERM_ID, uncleaned);
}

/* After an unblock: the reader, from offset, takes the one message of 200
 * bytes that the second writer appended and stops after it, at e2. */
static void assert_reads_the_200_byte_message(fixture_t *f, int32_t offset, int32_t e2)
{
    shoal_term_read_result_t res = read_all(f, offset);
    assert_int_equal(1, res.messages);
    assert_int_equal(200, f->sink.lengths[1]);
    assert_int_equal(e2, res.offset);
}

static void test_negative_length_becomes_padding(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    shoal_claim_t claim; /* never committed: the publisher died */
    int32_t e1 =
        shoal_term_appender_claim(f->term, f->tail, TEST_TERM_LENGTH, f->dh, 500, &claim, TEST_INITIAL_TERM_ID);
    int32_t e2 = append(f, 200);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset);

    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED, unblock(f, e0, false));
    const shoal_data_header_t *h = test_frame(f->term, e0);
    assert_int_equal(SHOAL_HDR_TYPE_PAD, h->frame_header.type);
    assert_int_equal(e1 - e0, SHOAL_ALIGN(h->frame_header.frame_length, SHOAL_FRAME_ALIGNMENT));
    assert_int_equal(e0, h->term_offset);
    assert_int_equal(TEST_INITIAL_TERM_ID, h->term_id);

    res = read_all(f, res.offset);
    assert_int_equal(1, res.messages);
    assert_true(res.padding_or_gap_skipped);
    assert_int_equal(e2, res.offset);
    assert_int_equal(200, f->sink.lengths[1]);

    /* the late commit of the dead claim is refused */
    assert_int_equal(-1, shoal_term_claim_commit(&claim));
}

/* A writer added to the tail and died before writing its header: while
 * nothing of this lap follows the gap it is left alone; once a frame does,
 * the gap is padded up to it. uncleaned: over last lap's bytes, where the
 * scan finds that frame by its header, not by a non-zero word. */
static void gap_padded_up_to_next_frame(fixture_t *f, bool uncleaned)
{
    int32_t e0 = append(f, 100);
    if (uncleaned)
    {
        memset(f->term + e0, 0x5a, 4096); /* last lap: positive "lengths" everywhere */
    }
    shoal_get_and_add(f->tail, (int64_t)256);
    assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, e0, uncleaned));
    assert_int_equal(uncleaned ? 0x5a5a5a5a : 0, test_frame(f->term, e0)->frame_header.frame_length);
    int32_t e2 = append(f, 300);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset);

    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED, unblock(f, e0, uncleaned));
    assert_int_equal(256, test_frame(f->term, e0)->frame_header.frame_length);
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, e0)->frame_header.type);

    res = read_all(f, res.offset);
    assert_int_equal(1, res.messages);
    assert_int_equal(300, f->sink.lengths[1]);
    assert_int_equal(e2, res.offset);
}

static void test_zero_gap_padded_up_to_next_frame(void **state)
{
    gap_padded_up_to_next_frame(*state, false);
}

static void test_zero_gap_up_to_tail_is_left_alone(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    shoal_get_and_add(f->tail, (int64_t)256); /* claimed, nothing after it yet */
    assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, e0, false));
    assert_int_equal(0, test_frame(f->term, e0)->frame_header.frame_length);
}

static void test_uncleaned_gap_padded_up_to_next_frame(void **state)
{
    gap_padded_up_to_next_frame(*state, true);
}

static void test_committed_frame_is_no_action(void **state)
{
    fixture_t *f = *state;
    append(f, 100);
    assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, 0, false));
    assert_int_equal(132, test_frame(f->term, 0)->frame_header.frame_length);
}

/* A message of three fragments: BEGIN at b, then f2, f3; the chain ends at
 * the returned offset. A reader that reassembles in the log (IPC images)
 * waits at b until every fragment is committed. */
static int32_t append_three_fragments(fixture_t *f, int32_t *f2, int32_t *f3)
{
    int32_t b = tail_offset(f);
    int32_t end = append(f, 2 * TEST_MAX_PAYLOAD + 200);
    *f2 = b + SHOAL_ALIGN(TEST_MAX_PAYLOAD + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    *f3 = *f2 + SHOAL_ALIGN(TEST_MAX_PAYLOAD + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    assert_int_equal(SHOAL_FRAME_FLAG_BEGIN, test_frame(f->term, b)->frame_header.flags);
    assert_int_equal(SHOAL_FRAME_FLAG_END, test_frame(f->term, *f3)->frame_header.flags);
    return end;
}

/* The writer of a fragmented message died while copying its second
 * fragment: BEGIN is committed, the second fragment only claimed (negative
 * length), the third never written. The reader waits at BEGIN, a committed
 * frame: the unblocker must look along the chain for what blocks it. */
static void test_fragmented_message_cut_mid_fragment_is_unblocked(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    int32_t f2, f3;
    int32_t end = append_three_fragments(f, &f2, &f3);
    shoal_store_release(&((shoal_data_header_t *)(f->term + f2))->frame_header.frame_length,
        -(int32_t)(TEST_MAX_PAYLOAD + SHOAL_DATA_HEADER_LENGTH));
    memset(f->term + f3, 0, (size_t)(end - f3));
    int32_t e2 = append(f, 200);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(e0, res.offset); /* waits at the committed BEGIN */

    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED, unblock(f, e0, false));
    assert_int_equal(SHOAL_HDR_TYPE_DATA, test_frame(f->term, e0)->frame_header.type);
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, f2)->frame_header.type);
    assert_int_equal(f3 - f2, SHOAL_ALIGN(test_frame(f->term, f2)->frame_header.frame_length, SHOAL_FRAME_ALIGNMENT));

    /* The broken message is skipped; the reader stops at the unwritten third fragment. */
    res = read_all(f, res.offset);
    assert_int_equal(0, res.messages);
    assert_true(res.padding_or_gap_skipped);
    assert_int_equal(f3, res.offset);

    /* The next unblock pads that gap up to the next writer's frame. */
    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED, unblock(f, f3, false));
    assert_reads_the_200_byte_message(f, res.offset, e2);
}

/* The writer died after committing BEGIN, before writing the second
 * fragment's header: the gap after BEGIN is padded in one go. */
static void test_fragmented_message_cut_after_begin_is_unblocked(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    int32_t f2, f3;
    int32_t end = append_three_fragments(f, &f2, &f3);
    memset(f->term + f2, 0, (size_t)(end - f2));
    int32_t e2 = append(f, 200);

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(e0, res.offset);
    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED, unblock(f, e0, false));
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, f2)->frame_header.type);
    assert_int_equal(end - f2, test_frame(f->term, f2)->frame_header.frame_length);

    assert_reads_the_200_byte_message(f, res.offset, e2);
}

/* A whole fragmented message (or one whose next fragment is still being
 * claimed, with nothing after it) is left alone: the consumer is slow, or
 * the writer may still be writing. */
static void test_complete_or_open_fragmented_message_is_no_action(void **state)
{
    fixture_t *f = *state;
    int32_t f2, f3;
    int32_t end = append_three_fragments(f, &f2, &f3);
    assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, 0, false));

    int32_t g2, g3;
    int32_t open_end = append_three_fragments(f, &g2, &g3);
    memset(f->term + g2, 0, (size_t)(open_end - g2));
    assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, end, false));
    assert_int_equal(0, test_frame(f->term, g2)->frame_header.frame_length);
    assert_int_equal(SHOAL_HDR_TYPE_DATA, test_frame(f->term, f2)->frame_header.type);
}

static void test_end_of_term_pads_and_rotates(void **state)
{
    fixture_t *f = *state;
    int32_t e = 0;
    while (tail_offset(f) < TEST_TERM_LENGTH - 4096)
    {
        e = append(f, 1000);
    }
    /* the tripping writer added past the end and died before padding */
    shoal_get_and_add(f->tail, (int64_t)8192);
    assert_int_equal(TEST_TERM_LENGTH, tail_offset(f));

    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(e, res.offset);

    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED_TO_END, unblock(f, e, false));
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, e)->frame_header.type);
    assert_int_equal(TEST_TERM_LENGTH - e, test_frame(f->term, e)->frame_header.frame_length);

    /* the log moved to the next term */
    assert_int_equal(1, shoal_logbuffer_active_term_count(f->log.meta));
    assert_int_equal(shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID + 1, 0),
        shoal_logbuffer_active_raw_tail(f->log.meta));

    res = read_all(f, res.offset);
    assert_int_equal(TEST_TERM_LENGTH, res.offset);
    assert_true(res.padding_or_gap_skipped);
}

static void test_end_of_term_after_rotation_is_harmless(void **state)
{
    fixture_t *f = *state;
    int32_t e = append(f, 100);
    shoal_get_and_add(f->tail, (int64_t)TEST_TERM_LENGTH);                             /* trip */
    assert_true(shoal_logbuffer_rotate_log(f->log.meta, 0, TEST_INITIAL_TERM_ID));     /* rotated, no padding */
    assert_true(shoal_logbuffer_rotate_log(f->log.meta, 1, TEST_INITIAL_TERM_ID + 1)); /* and once more */

    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED_TO_END, unblock(f, e, false));
    assert_int_equal(2, shoal_logbuffer_active_term_count(f->log.meta)); /* not rotated again */
}

/* An exclusive writer over last lap's bytes (a log that is not cleaned):
 * it writes nothing past its frames, and a reader checking headers reads
 * every message and stops at the tail, whether last lap left a positive
 * "length" everywhere or whole frames of the partition's previous term at
 * the same offsets (term id - 3). */
static void test_exclusive_writer_over_last_laps_bytes(void **state)
{
    fixture_t *f = *state;
    uint8_t msg[3000];
    test_fill(msg, sizeof(msg), 7);
    uint8_t *before = malloc(TEST_TERM_LENGTH);
    assert_non_null(before);
    const size_t lengths[] = { 10, 100, 3000, 33, 0, 32 };
    const size_t count = sizeof(lengths) / sizeof(lengths[0]);
    for (int last_lap = 0; last_lap < 2; last_lap++)
    {
        if (0 == last_lap)
        {
            memset(f->term, 0x11, TEST_TERM_LENGTH); /* a positive "length" everywhere */
        }
        else
        {
            for (int32_t at = 0; at + 64 <= TEST_TERM_LENGTH;) /* 32-byte messages of term id - 3 */
            {
                at = shoal_exclusive_term_appender_append_bytes(f->term, f->tail, TEST_TERM_LENGTH, f->dh,
                    TEST_INITIAL_TERM_ID - 3, at, msg, 32);
            }
        }
        shoal_store_release(f->tail, shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, 0));
        memcpy(before, f->term, TEST_TERM_LENGTH);
        int32_t offset = 0;
        for (size_t i = 0; i < count; i++)
        {
            const shoal_iovec_t iov = { msg, lengths[i] };
            const int32_t end = lengths[i] > TEST_MAX_PAYLOAD
                ? shoal_exclusive_term_appender_append_fragmented(f->term, f->tail, TEST_TERM_LENGTH, f->dh,
                      TEST_INITIAL_TERM_ID, offset, &iov, 1, lengths[i], TEST_MAX_PAYLOAD, 0)
                : shoal_exclusive_term_appender_append_bytes(f->term, f->tail, TEST_TERM_LENGTH, f->dh,
                      TEST_INITIAL_TERM_ID, offset, msg, lengths[i]);
            assert_true(end > offset);
            assert_memory_equal(before + end, f->term + end, TEST_TERM_LENGTH - end); /* nothing past its frames */
            assert_int_equal(end, tail_offset(f));
            offset = end;

            /* what is committed so far, and nothing of last lap */
            test_sink_close(&f->sink);
            shoal_term_read_result_t res = read_all(f, 0);
            assert_int_equal(i + 1, res.messages);
            assert_int_equal(offset, res.offset);
        }
        for (size_t i = 0; i < count; i++)
        {
            assert_int_equal(lengths[i], f->sink.lengths[i]);
            assert_memory_equal(msg, f->sink.data[i], lengths[i]);
        }
    }
    free(before);
}

/* In an uncleaned log the bytes between a header never written and the
 * tail are last lap's: the unblocker neither scans them for zeroes nor takes
 * a last-lap word for a frame (committed, to follow, or claimed, to pad).
 * Its one writer is between its tail and its header (NO_ACTION), unless that
 * claim crossed the term end (the rest of the term is padded, the log
 * rotated). */
static void test_uncleaned_log_is_unblocked_only_at_the_term_end(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    const uint8_t last_laps[] = { 0x22, 0xf0 }; /* a positive, then a negative "length" */
    for (size_t i = 0; i < sizeof(last_laps); i++)
    {
        memset(f->term + e0, last_laps[i], 4096); /* last lap: what a scan would take for frames */
        shoal_store_release(f->tail, shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, e0 + 1024));
        assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, e0, true));
        for (int32_t at = e0; at < e0 + 4096; at++)
        {
            assert_int_equal(last_laps[i], f->term[at]);
        }
    }

    /* Last lap's frame of the same offset, committed, BEGINning a chain. */
    shoal_data_header_t *old = (shoal_data_header_t *)(f->term + e0);
    memcpy(old, f->dh, sizeof(*old));
    old->term_offset = e0;
    old->term_id = TEST_INITIAL_TERM_ID - 3;
    old->frame_header.flags = SHOAL_FRAME_FLAG_BEGIN;
    old->frame_header.frame_length = 64;
    assert_int_equal(SHOAL_UNBLOCK_NO_ACTION, unblock(f, e0, true));
    assert_int_equal(TEST_INITIAL_TERM_ID - 3, old->term_id);

    /* The claim crossed the end of the term: padded to it, and rotated. */
    shoal_store_release(f->tail, shoal_logbuffer_pack_tail(TEST_INITIAL_TERM_ID, TEST_TERM_LENGTH + 64));
    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED_TO_END, unblock(f, e0, true));
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, e0)->frame_header.type);
    assert_int_equal(TEST_TERM_LENGTH - e0, test_frame(f->term, e0)->frame_header.frame_length);
    assert_int_equal(1, shoal_logbuffer_active_term_count(f->log.meta));
    test_sink_close(&f->sink);
    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(TEST_TERM_LENGTH, res.offset);
}

/* Over last lap's bytes, an exclusive claim never committed (its writer
 * died) is this lap's, and is padded over like any claim. */
static void test_uncleaned_log_dead_claim_is_padded(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    memset(f->term + e0, 0x33, 4096);
    shoal_claim_t claim;
    const int32_t end = shoal_exclusive_term_appender_claim(f->term, f->tail, TEST_TERM_LENGTH, f->dh,
        TEST_INITIAL_TERM_ID, e0, 200, &claim);
    assert_int_equal(e0 + SHOAL_ALIGN(200 + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT), end);
    test_sink_close(&f->sink);
    assert_int_equal(e0, read_all(f, 0).offset); /* the claim holds the reader */
    assert_int_equal(SHOAL_UNBLOCK_UNBLOCKED, unblock(f, e0, true));
    assert_int_equal(SHOAL_HDR_TYPE_PAD, test_frame(f->term, e0)->frame_header.type);
    assert_int_equal(200 + SHOAL_DATA_HEADER_LENGTH, test_frame(f->term, e0)->frame_header.frame_length);
    test_sink_close(&f->sink);
    shoal_term_read_result_t res = read_all(f, 0);
    assert_int_equal(1, res.messages);
    assert_int_equal(tail_offset(f), res.offset);
}

static void test_clean_and_scan_for_gap(void **state)
{
    fixture_t *f = *state;
    int32_t e0 = append(f, 100);
    int32_t e1 = append(f, 200);
    shoal_get_and_add(f->tail, (int64_t)64);
    append(f, 10);
    assert_int_equal(e1, shoal_term_scan_for_gap(f->term, 0, tail_offset(f)));
    assert_int_equal(e0, shoal_term_scan_for_gap(f->term, 0, e0));

    shoal_term_clean(f->term, 0, TEST_TERM_LENGTH);
    for (int32_t i = 0; i < TEST_TERM_LENGTH; i++)
    {
        if (f->term[i] != 0)
        {
            fail_msg("byte %d not cleaned", i);
        }
    }
    assert_int_equal(0, shoal_term_scan_for_gap(f->term, 0, TEST_TERM_LENGTH));
}

/* Cleaning zeroes exactly [from, to): small ranges, and large ones (cleaned
 * with streaming stores where the platform has them) starting and ending
 * off a cache line, with the bytes around them left alone. */
static void test_clean_zeroes_exactly_the_range(void **state)
{
    (void)state;
    const int32_t length = 1 << 20;
    uint8_t *term = malloc((size_t)length);
    assert_non_null(term);
    const int32_t ranges[][2] = { { 0, 8 }, { 32, 96 }, { 64, 4096 }, { 0, 64 * 1024 }, { 32, 64 * 1024 + 40 },
        { 96, length - 32 }, { 4096, length } };
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
    {
        const int32_t from = ranges[r][0], to = ranges[r][1];
        memset(term, 0xa5, (size_t)length);
        shoal_term_clean(term, from, to);
        for (int32_t i = 0; i < length; i++)
        {
            const uint8_t want = i >= from && i < to ? 0 : 0xa5;
            if (term[i] != want)
            {
                fail_msg("clean [%d, %d): byte %d is 0x%02x, expected 0x%02x", from, to, i, term[i], want);
            }
        }
    }
    free(term);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, test_term_setup, test_term_teardown)

SHOAL_TEST_MAIN({
    T(test_negative_length_becomes_padding),
    T(test_zero_gap_padded_up_to_next_frame),
    T(test_zero_gap_up_to_tail_is_left_alone),
    T(test_committed_frame_is_no_action),
    T(test_fragmented_message_cut_mid_fragment_is_unblocked),
    T(test_fragmented_message_cut_after_begin_is_unblocked),
    T(test_complete_or_open_fragmented_message_is_no_action),
    T(test_end_of_term_pads_and_rotates),
    T(test_end_of_term_after_rotation_is_harmless),
    T(test_exclusive_writer_over_last_laps_bytes),
    T(test_uncleaned_log_is_unblocked_only_at_the_term_end),
    T(test_uncleaned_log_dead_claim_is_padded),
    T(test_uncleaned_gap_padded_up_to_next_frame),
    T(test_clean_and_scan_for_gap),
    cmocka_unit_test(test_clean_zeroes_exactly_the_range),
})
