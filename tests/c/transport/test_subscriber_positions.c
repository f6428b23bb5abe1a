/*
 * The subscriber positions a publication checks its readers against: values
 * are sampled before the producer position is read, so a reader that reads
 * on in between is not taken for a client that wrote an impossible position
 * (CI saw "subscriber position ... beyond what was published" logged after a
 * clean IPC exchange); a value that really is out of range is clamped and
 * counted once per excursion; RESTING readers do not count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "concurrent/shoal_atomic.h"
#include "transport/shoal_subscriber_positions.h"

#define TERM_LENGTH 65536

static const shoal_tether_params_t TETHERED = { true, 0, 0 };

/* The set has bounds with the producer at producer_position, and they are
 * [want_min, want_max]. */
static void assert_bounds(shoal_subscriber_positions_t *set, int64_t producer_position, int64_t want_min,
    int64_t want_max)
{
    int64_t min = 0;
    int64_t max = 0;
    assert_true(shoal_subscriber_positions_bounds(set, producer_position, TERM_LENGTH, &min, &max));
    assert_int_equal(want_min, min);
    assert_int_equal(want_max, max);
}

static void test_a_reader_that_reads_on_after_the_sample_is_not_impossible(void **state)
{
    (void)state;
    shoal_subscriber_positions_t set = { 0 };
    int64_t position = 0;
    assert_int_equal(0, shoal_subscriber_positions_add(&set, 1, 2, 3, &position, &TETHERED, 1000, 0));
    assert_int_equal(1000, shoal_load_acquire(&position));

    /* The conductor samples, then the publisher publishes up to 5000 and the
     * reader reads all of it, then the conductor reads the producer: 5000. */
    shoal_subscriber_positions_sample(&set);
    shoal_store_release(&position, 5000);
    assert_bounds(&set, 5000, 1000, 1000);
    assert_false(shoal_subscriber_positions_any_out_of_range(&set));
    assert_int_equal(0, set.invalid_position_count);

    /* The next tick sees where it got to. */
    shoal_subscriber_positions_sample(&set);
    assert_bounds(&set, 5000, 5000, 5000);
    assert_int_equal(0, set.invalid_position_count);
    shoal_subscriber_positions_close(&set);
}

static void test_out_of_range_values_are_clamped_and_counted_once_per_excursion(void **state)
{
    (void)state;
    shoal_subscriber_positions_t set = { 0 };
    int64_t honest = 0;
    int64_t hostile = 0;
    assert_int_equal(0, shoal_subscriber_positions_add(&set, 10, 11, 1, &honest, &TETHERED, 4096, 0));
    assert_int_equal(1, shoal_subscriber_positions_add(&set, 20, 21, 2, &hostile, &TETHERED, 4096, 0));

    /* Ahead of what was published, sampled before the producer was read. */
    shoal_store_release(&hostile, INT64_MAX);
    shoal_subscriber_positions_sample(&set);
    assert_bounds(&set, 8192, 4096, 8192);
    assert_true(shoal_subscriber_positions_any_out_of_range(&set));
    assert_int_equal(1, set.invalid_position_count);
    assert_int_equal(INT64_MAX, set.last_invalid_position);
    assert_int_equal(20, set.last_invalid_subscription_registration_id);

    /* Still out: the same excursion, not counted again. */
    shoal_subscriber_positions_sample(&set);
    assert_bounds(&set, 8192, 4096, 8192);
    assert_int_equal(1, set.invalid_position_count);

    /* Back in range, then more than a term behind: a second excursion,
     * clamped to a term behind the producer. */
    shoal_store_release(&hostile, 8192);
    shoal_subscriber_positions_sample(&set);
    assert_bounds(&set, 8192, 4096, 8192);
    assert_false(shoal_subscriber_positions_any_out_of_range(&set));
    shoal_store_release(&honest, 200000);
    shoal_store_release(&hostile, -5);
    shoal_subscriber_positions_sample(&set);
    assert_bounds(&set, 200000, 200000 - TERM_LENGTH, 200000);
    assert_int_equal(2, set.invalid_position_count);
    assert_int_equal(-5, set.last_invalid_position);
    shoal_subscriber_positions_close(&set);
}

static void test_resting_readers_do_not_count(void **state)
{
    (void)state;
    shoal_subscriber_positions_t set = { 0 };
    int64_t position = 0;
    assert_int_equal(0, shoal_subscriber_positions_add(&set, 1, 2, 3, &position, &TETHERED, 0, 0));
    set.items[0].state = SHOAL_TETHER_RESTING;
    shoal_store_release(&position, INT64_MAX);
    shoal_subscriber_positions_sample(&set);
    int64_t min = 7;
    int64_t max = 9;
    assert_false(shoal_subscriber_positions_bounds(&set, 4096, TERM_LENGTH, &min, &max));
    assert_int_equal(7, min);
    assert_int_equal(9, max);
    assert_false(shoal_subscriber_positions_any_out_of_range(&set));
    assert_int_equal(0, set.invalid_position_count);
    shoal_subscriber_positions_close(&set);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_a_reader_that_reads_on_after_the_sample_is_not_impossible),
    cmocka_unit_test(test_out_of_range_values_are_clamped_and_counted_once_per_excursion),
    cmocka_unit_test(test_resting_readers_do_not_count),
})
