/* The receiver's loss detector on its own, over a hand-built log: which
 * gaps it NAKs and when (at once, after the retry delay, doubled, capped),
 * what it pads over with reliable=false, gaps at term ends and across term
 * id wrap, repaired gaps leaving the table, and a table that is full. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "transport/udp/shoal_loss_detector.h"

#define TERM     65536
#define DELAY_NS 1000000LL /* NAK_RETRY_DELAY */

typedef struct
{
    int32_t term_id, term_offset, length;
} call_t;

typedef struct
{
    shoal_log_buffer_t log;
    uint8_t *memory;
    shoal_loss_detector_t loss;
    call_t naks[256];
    int nak_count;
    call_t fills[64];
    int fill_count;
    int32_t new_gap_lengths[256];
    int new_gap_count;
} fixture_t;

static void on_new_gap(void *clientd, int32_t length)
{
    fixture_t *f = clientd;
    f->new_gap_lengths[f->new_gap_count++] = length;
}

static void send_nak(void *clientd, int32_t term_id, int32_t term_offset, int32_t length)
{
    fixture_t *f = clientd;
    f->naks[f->nak_count++] = (call_t){ term_id, term_offset, length };
}

static void fill_gap(void *clientd, uint8_t *term, int32_t term_id, int32_t term_offset, int32_t length)
{
    fixture_t *f = clientd;
    f->fills[f->fill_count++] = (call_t){ term_id, term_offset, length };
    *(int32_t *)(term + term_offset) = length; /* as the image's PAD would */
}

/* The fixture is cmocka's, so a failed check still frees it. */
static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (NULL == f || NULL == (f->memory = calloc(SHOAL_LOGBUFFER_PARTITION_COUNT, TERM)))
    {
        free(f);
        return -1;
    }
    for (size_t i = 0; i < SHOAL_LOGBUFFER_PARTITION_COUNT; i++)
    {
        f->log.terms[i] = f->memory + i * TERM;
    }
    f->log.term_length = TERM;
    f->log.position_bits_to_shift = shoal_logbuffer_position_bits_to_shift(TERM);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    free(f->memory);
    free(f);
    return 0;
}

/* The test's fixture: an empty log whose first term is initial_term_id, and
 * a detector on it, reliable (NAKs) or not (pads over gaps). */
static fixture_t *fixture(void **state, int32_t initial_term_id, bool reliable)
{
    fixture_t *f = *state;
    f->log.initial_term_id = initial_term_id;
    const shoal_loss_handlers_t handlers = { on_new_gap, send_nak, fill_gap, f };
    shoal_loss_detector_init(&f->loss, reliable, DELAY_NS, &handlers);
    return f;
}

/* Commits frames covering [from, to) of the stream, 64 bytes each. */
static void receive(fixture_t *f, int64_t from, int64_t to)
{
    for (int64_t p = from; p < to; p += 64)
    {
        uint8_t *term = f->log.terms[shoal_logbuffer_index_by_position(p, f->log.position_bits_to_shift)];
        *(int32_t *)(term + (p & (TERM - 1))) = 64;
    }
}

/* Commits frames over [0, hwm) but for the lost ones in [lost_from, lost_to). */
static void receive_with_loss(fixture_t *f, int64_t lost_from, int64_t lost_to, int64_t hwm)
{
    receive(f, 0, lost_from);
    receive(f, lost_to, hwm);
}

/* The detector's scan and duty cycle over the fixture's log: the rebuild
 * position, the high-water mark and the time now. */
static int scan(fixture_t *f, int64_t rebuild_position, int64_t hwm_position, int64_t now_ns)
{
    return shoal_loss_detector_scan(&f->loss, &f->log, rebuild_position, hwm_position, now_ns);
}

static int do_work(fixture_t *f, int64_t rebuild_position, int64_t hwm_position, int64_t now_ns)
{
    return shoal_loss_detector_do_work(&f->loss, &f->log, rebuild_position, hwm_position, now_ns);
}

/* A NAK or fill the detector asked for. */
static void assert_call(const call_t *c, int32_t term_id, int32_t term_offset, int32_t length)
{
    assert_int_equal(term_id, c->term_id);
    assert_int_equal(term_offset, c->term_offset);
    assert_int_equal(length, c->length);
}

static void nothing_missing_nothing_asked(void **state)
{
    fixture_t *f = fixture(state, 100, true);
    receive(f, 0, 4096);
    assert_int_equal(0, scan(f, 0, 4096, 0));
    assert_int_equal(0, f->nak_count);
    assert_int_equal(0, f->loss.gap_count);
    assert_int_equal(INT64_MAX, f->loss.next_retry_ns);
}

static void a_gap_is_naked_at_once_then_after_the_delay_then_doubled(void **state)
{
    fixture_t *f = fixture(state, 100, true);
    receive_with_loss(f, 1024, 1536, 4096);
    assert_int_equal(1, scan(f, 1024, 4096, 0));
    assert_int_equal(1, f->nak_count);
    assert_call(&f->naks[0], 100, 1024, 512);
    assert_int_equal(1, f->new_gap_count);
    assert_int_equal(512, f->new_gap_lengths[0]);
    assert_int_equal(DELAY_NS, f->loss.next_retry_ns);
    /* Before the retry delay: known, not asked again, not reported again. */
    assert_int_equal(0, scan(f, 1024, 4096, DELAY_NS - 1));
    assert_int_equal(1, f->nak_count);
    assert_int_equal(1, f->new_gap_count);
    /* At the delay: the second NAK; the third waits twice the delay. */
    assert_int_equal(1, scan(f, 1024, 4096, DELAY_NS));
    assert_int_equal(2, f->nak_count);
    assert_int_equal(DELAY_NS + 2 * DELAY_NS, f->loss.next_retry_ns);
    assert_int_equal(0, scan(f, 1024, 4096, 3 * DELAY_NS - 1));
    assert_int_equal(1, scan(f, 1024, 4096, 3 * DELAY_NS));
    assert_int_equal(3, f->nak_count);
    /* Repaired (after three NAKs: no repair-time sample, Karn's rule). */
    receive(f, 1024, 1536);
    assert_int_equal(0, scan(f, 1024, 4096, 4 * DELAY_NS));
    assert_int_equal(0, f->loss.gap_count);
    assert_int_equal(0, f->loss.repair_srtt_ns);
}

static void a_gap_repaired_after_one_nak_times_the_repair(void **state)
{
    fixture_t *f = fixture(state, 7, true);
    receive_with_loss(f, 64, 128, 256);
    scan(f, 64, 256, 1000);
    receive(f, 64, 128);
    /* The rebuild position moved past the gap and the hwm: do_work forgets it. */
    assert_int_equal(0, do_work(f, 256, 256, 1000 + 300000));
    assert_int_equal(0, f->loss.gap_count);
    assert_int_equal(300000, f->loss.repair_srtt_ns);
    assert_int_equal(150000, f->loss.repair_rttvar_ns);
    /* A repair estimate above the floor lengthens the delay: srtt + rttvar,
     * here still under NAK_RETRY_DELAY, so the floor stands. */
    assert_int_equal(DELAY_NS, shoal_loss_detector_retry_delay(&f->loss));
    f->loss.repair_srtt_ns = 3 * DELAY_NS;
    f->loss.repair_rttvar_ns = DELAY_NS / 2;
    assert_int_equal(3 * DELAY_NS + DELAY_NS / 2, shoal_loss_detector_retry_delay(&f->loss));
    /* ... but never beyond the cap of SHOAL_LOSS_MAX_RETRY_FLOORS delays. */
    f->loss.repair_srtt_ns = 100 * DELAY_NS;
    assert_int_equal(SHOAL_LOSS_MAX_RETRY_FLOORS * DELAY_NS, shoal_loss_detector_retry_delay(&f->loss));
}

static void rtt_is_the_minimum_of_recent_samples(void **state)
{
    fixture_t *f = fixture(state, 0, true);
    shoal_loss_detector_on_rtt_sample(&f->loss, 3 * DELAY_NS);
    assert_int_equal(3 * DELAY_NS, f->loss.rtt_ns);
    assert_int_equal(6 * DELAY_NS, shoal_loss_detector_retry_delay(&f->loss)); /* 2 RTT over the floor */
    shoal_loss_detector_on_rtt_sample(&f->loss, 2 * DELAY_NS);
    shoal_loss_detector_on_rtt_sample(&f->loss, 9 * DELAY_NS);
    assert_int_equal(2 * DELAY_NS, f->loss.rtt_ns);
    /* The low sample ages out after SHOAL_LOSS_RTT_SAMPLES newer ones. */
    for (int i = 0; i < SHOAL_LOSS_RTT_SAMPLES; i++)
    {
        shoal_loss_detector_on_rtt_sample(&f->loss, 5 * DELAY_NS);
    }
    assert_int_equal(5 * DELAY_NS, f->loss.rtt_ns);
    /* A short RTT never takes the delay under NAK_RETRY_DELAY. */
    shoal_loss_detector_on_rtt_sample(&f->loss, 100);
    assert_int_equal(100, f->loss.rtt_ns);
    assert_int_equal(DELAY_NS, shoal_loss_detector_retry_delay(&f->loss));
}

static void gaps_at_a_term_end_and_in_the_next_term(void **state)
{
    fixture_t *f = fixture(state, 100, true);
    /* The last 128 bytes of term 100 and the first 64 of term 101 are lost. */
    receive_with_loss(f, TERM - 128, TERM + 64, TERM + 1024);
    assert_int_equal(2, scan(f, TERM - 128, TERM + 1024, 0));
    assert_int_equal(2, f->nak_count);
    assert_call(&f->naks[0], 100, TERM - 128, 128); /* a NAK never crosses the term end */
    assert_call(&f->naks[1], 101, 0, 64);
}

/* The hwm in the middle of a hole: the gap ends at the hwm. */
static void a_gap_ends_at_the_hwm(void **state)
{
    fixture_t *f = fixture(state, 100, true);
    receive(f, 0, 256);
    assert_int_equal(1, scan(f, 256, 512, 0));
    assert_int_equal(256, f->naks[0].length);
}

static void term_ids_wrap(void **state)
{
    /* Term count 1 of a stream starting at INT32_MAX is term id INT32_MIN. */
    fixture_t *f = fixture(state, INT32_MAX, true);
    receive(f, TERM, TERM + 256);
    receive(f, TERM + 512, TERM + 1024);
    assert_int_equal(1, scan(f, TERM + 256, TERM + 1024, 0));
    assert_call(&f->naks[0], INT32_MIN, 256, 256);
    /* The same gap seen again is the same gap (found by term id and offset). */
    assert_int_equal(1, scan(f, TERM + 256, TERM + 1024, DELAY_NS));
    assert_int_equal(1, f->loss.gap_count);
    assert_int_equal(2, f->loss.gaps[0].naks);
    assert_int_equal(1, f->new_gap_count);
}

static void a_partly_repaired_gap_keeps_its_timer(void **state)
{
    fixture_t *f = fixture(state, 0, true);
    receive_with_loss(f, 64, 512, 1024);
    scan(f, 64, 1024, 0);
    assert_int_equal(1, f->nak_count);
    /* The first half of the repair arrived: what is left is the same gap. */
    receive(f, 64, 256);
    assert_int_equal(0, scan(f, 64, 1024, 10));
    assert_int_equal(1, f->nak_count);
    assert_int_equal(1, f->loss.gap_count);
    assert_int_equal(256, f->loss.gaps[0].term_offset);
    assert_int_equal(256, f->loss.gaps[0].length);
    assert_int_equal(1, f->new_gap_count);
    assert_int_equal(1, scan(f, 64, 1024, DELAY_NS));
    assert_call(&f->naks[1], 0, 256, 256);
}

static void unreliable_pads_over_a_gap_after_the_delay(void **state)
{
    fixture_t *f = fixture(state, 5, false);
    receive_with_loss(f, 64, 192, 256);
    assert_int_equal(0, scan(f, 64, 256, 0));
    assert_int_equal(0, f->nak_count);
    assert_int_equal(0, f->fill_count);
    assert_int_equal(0, scan(f, 64, 256, DELAY_NS - 1));
    assert_int_equal(1, scan(f, 64, 256, DELAY_NS));
    assert_int_equal(0, f->nak_count);
    assert_int_equal(1, f->fill_count);
    assert_call(&f->fills[0], 5, 64, 128);
    assert_int_equal(0, f->loss.gap_count);
}

static void do_work_scans_only_when_due(void **state)
{
    fixture_t *f = fixture(state, 0, true);
    receive_with_loss(f, 64, 128, 192);
    /* No gap known: scans at once. */
    assert_int_equal(1, do_work(f, 64, 192, 0));
    /* Known gap, nothing inserted, retry not due: no scan. */
    assert_int_equal(0, do_work(f, 64, 192, 10));
    assert_int_equal(0, f->loss.time_of_last_scan_ns);
    /* Frames went in: scans once the scan interval passed. */
    f->loss.inserted_since_scan = true;
    do_work(f, 64, 192, SHOAL_LOSS_SCAN_INTERVAL_NS - 1);
    assert_int_equal(0, f->loss.time_of_last_scan_ns);
    do_work(f, 64, 192, SHOAL_LOSS_SCAN_INTERVAL_NS);
    assert_int_equal(SHOAL_LOSS_SCAN_INTERVAL_NS, f->loss.time_of_last_scan_ns);
    assert_false(f->loss.inserted_since_scan);
    assert_int_equal(1, f->nak_count);
    /* Retry due: scans and NAKs. */
    assert_int_equal(1, do_work(f, 64, 192, DELAY_NS));
    assert_int_equal(2, f->nak_count);
}

static void the_gap_table_is_bounded(void **state)
{
    fixture_t *f = fixture(state, 0, true);
    /* 70 gaps of 64 bytes, every other frame lost. */
    const int gaps = SHOAL_LOSS_MAX_GAPS + 6;
    for (int i = 0; i < gaps; i++)
    {
        receive(f, (int64_t)i * 128, (int64_t)i * 128 + 64);
    }
    receive(f, (int64_t)gaps * 128, (int64_t)gaps * 128 + 64);
    int64_t hwm = (int64_t)gaps * 128 + 64;
    assert_int_equal(SHOAL_LOSS_MAX_GAPS, scan(f, 64, hwm, 0));
    assert_int_equal(SHOAL_LOSS_MAX_GAPS, f->loss.gap_count);
    assert_int_equal(SHOAL_LOSS_MAX_GAPS, f->nak_count);
    /* The first ones repaired leave the table at the end of the scan that
     * misses them; the next scan takes in (and NAKs) the ones left out. */
    for (int i = 0; i < 10; i++)
    {
        receive(f, (int64_t)i * 128 + 64, (int64_t)i * 128 + 128);
    }
    assert_int_equal(0, scan(f, 10 * 128 + 64, hwm, 1));
    assert_int_equal(SHOAL_LOSS_MAX_GAPS - 10, f->loss.gap_count);
    assert_int_equal(6, scan(f, 10 * 128 + 64, hwm, 2));
    assert_int_equal(gaps - 10, f->loss.gap_count);
    assert_int_equal(SHOAL_LOSS_MAX_GAPS + 6, f->nak_count);
}

/* A test with this file's setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(nothing_missing_nothing_asked),
    T(a_gap_is_naked_at_once_then_after_the_delay_then_doubled),
    T(a_gap_repaired_after_one_nak_times_the_repair),
    T(rtt_is_the_minimum_of_recent_samples),
    T(gaps_at_a_term_end_and_in_the_next_term),
    T(a_gap_ends_at_the_hwm),
    T(term_ids_wrap),
    T(a_partly_repaired_gap_keeps_its_timer),
    T(unreliable_pads_over_a_gap_after_the_delay),
    T(do_work_scans_only_when_due),
    T(the_gap_table_is_bounded),
})
