#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_idle.h"

static void test_parse(void **state)
{
    (void)state;
    shoal_idle_strategy_t kind = SHOAL_IDLE_BACKOFF;
    assert_int_equal(shoal_idle_parse("busy-spin", &kind), 0);
    assert_int_equal(kind, SHOAL_IDLE_BUSY_SPIN);
    assert_int_equal(shoal_idle_parse("yield", &kind), 0);
    assert_int_equal(kind, SHOAL_IDLE_YIELD);
    assert_int_equal(shoal_idle_parse("sleep", &kind), 0);
    assert_int_equal(kind, SHOAL_IDLE_SLEEP);
    assert_int_equal(shoal_idle_parse("backoff", &kind), 0);
    assert_int_equal(kind, SHOAL_IDLE_BACKOFF);

    shoal_err_clear();
    assert_int_equal(shoal_idle_parse("spin", &kind), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_non_null(strstr(shoal_errmsg(), "'spin'"));
    assert_int_equal(shoal_idle_parse("", &kind), -1);
    assert_int_equal(shoal_idle_parse("Backoff", &kind), -1);
    assert_int_equal(shoal_idle_parse(NULL, &kind), -1);
    assert_int_equal(shoal_idle_parse("yield", NULL), -1);
    assert_int_equal(kind, SHOAL_IDLE_BACKOFF); /* untouched on failure */
}

static void test_names_round_trip(void **state)
{
    (void)state;
    shoal_idle_strategy_t kinds[] = { SHOAL_IDLE_BUSY_SPIN, SHOAL_IDLE_YIELD, SHOAL_IDLE_SLEEP, SHOAL_IDLE_BACKOFF };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    {
        shoal_idle_strategy_t parsed;
        assert_int_equal(shoal_idle_parse(shoal_idle_name(kinds[i]), &parsed), 0);
        assert_int_equal(parsed, kinds[i]);
    }
    assert_string_equal(shoal_idle_name((shoal_idle_strategy_t)99), "unknown");
}

/* One idle cycle of the phase tests. Their yields are real, and on a loaded
 * machine one can be slow, which turns the yield phase off
 * (test_slow_yield_turns_yields_off covers that): forget it here. */
static void idle_cycle(shoal_idle_t *idle)
{
    shoal_idle(idle, 0);
    idle->yield_again_ns = 0;
}

static shoal_idle_t new_idle(shoal_idle_strategy_t kind)
{
    shoal_idle_t idle;
    shoal_idle_init(&idle, kind);
    return idle;
}

/* n idle cycles in a row. */
static void idle_cycles(shoal_idle_t *idle, int n)
{
    for (int i = 0; i < n; i++)
    {
        idle_cycle(idle);
    }
}

/* Work was done: the backoff starts over from spinning. */
static void assert_backoff_starts_over(const shoal_idle_t *idle)
{
    assert_int_equal(idle->spins, 0);
    assert_int_equal(idle->yields, 0);
    assert_int_equal(idle->park_ns, 0);
}

static void test_backoff_phases(void **state)
{
    (void)state;
    shoal_idle_t idle = new_idle(SHOAL_IDLE_BACKOFF);
    assert_int_equal(idle.spins, 0);
    idle_cycles(&idle, SHOAL_IDLE_BACKOFF_MAX_SPINS);
    assert_int_equal(idle.spins, SHOAL_IDLE_BACKOFF_MAX_SPINS);
    assert_int_equal(idle.yields, 0);
    idle_cycles(&idle, SHOAL_IDLE_BACKOFF_MAX_YIELDS);
    assert_int_equal(idle.yields, SHOAL_IDLE_BACKOFF_MAX_YIELDS);
    assert_int_equal(idle.park_ns, 0);
    idle_cycle(&idle);
    assert_int_equal(idle.park_ns, 2 * SHOAL_IDLE_BACKOFF_MIN_PARK_NS);
    /* sleeps double up to the cap (sum of sleeps here ~ a few ms) */
    idle_cycles(&idle, 14);
    assert_int_equal(idle.park_ns, SHOAL_IDLE_BACKOFF_MAX_PARK_NS);

    shoal_idle(&idle, 3);
    assert_backoff_starts_over(&idle);
}

/* A driver duty cycle makes syscalls: a spin phase of many cycles keeps the
 * core for milliseconds. Backoff must start yielding within a few idle cycles
 * and give every yield before the first sleep. */
static void test_backoff_yields_within_a_few_idle_cycles(void **state)
{
    (void)state;
    shoal_idle_t idle = new_idle(SHOAL_IDLE_BACKOFF);
    int cycles = 0;
    while (0 == idle.yields)
    {
        idle_cycle(&idle);
        cycles++;
        assert_true(cycles <= 16);
    }
    assert_int_equal(cycles, SHOAL_IDLE_BACKOFF_MAX_SPINS + 1);
    while (0 == idle.park_ns)
    {
        idle_cycle(&idle);
        cycles++;
    }
    assert_int_equal(idle.yields, SHOAL_IDLE_BACKOFF_MAX_YIELDS);
    assert_true(SHOAL_IDLE_BACKOFF_MAX_YIELDS >= SHOAL_IDLE_BACKOFF_MAX_SPINS);
    /* work in the middle of the yields starts over with spinning */
    shoal_idle_reset(&idle);
    idle_cycles(&idle, SHOAL_IDLE_BACKOFF_MAX_SPINS + 2);
    assert_int_equal(idle.yields, 2);
    shoal_idle(&idle, 1);
    assert_backoff_starts_over(&idle);
}

/* After a slow yield (the core went to a thread that does not yield back)
 * backoff spins, then parks from 100 us, without yielding, until
 * yield_again_ns; then it yields again. */
static void test_slow_yield_turns_yields_off(void **state)
{
    (void)state;
    shoal_idle_t idle = new_idle(SHOAL_IDLE_BACKOFF);
    assert_int_equal(idle.yield_again_ns, 0);
    idle.yield_again_ns = shoal_nano_time() + 1000000000LL; /* as a slow yield leaves it */
    for (int i = 0; i < SHOAL_IDLE_BACKOFF_MAX_SPINS; i++)
    {
        shoal_idle(&idle, 0);
    }
    assert_int_equal(idle.spins, SHOAL_IDLE_BACKOFF_MAX_SPINS);
    shoal_idle(&idle, 0); /* no yield: the first park, 100 us */
    assert_int_equal(idle.yields, 0);
    assert_int_equal(idle.park_ns, 2 * SHOAL_IDLE_BACKOFF_NO_YIELD_MIN_PARK_NS);
    /* work resets the episode but not what was learnt about the core */
    shoal_idle(&idle, 1);
    assert_int_equal(idle.park_ns, 0);
    assert_true(idle.yield_again_ns > 0);

    idle.yield_again_ns = shoal_nano_time() - 1; /* the pause is over */
    for (int i = 0; i <= SHOAL_IDLE_BACKOFF_MAX_SPINS; i++)
    {
        shoal_idle(&idle, 0);
    }
    assert_int_equal(idle.yields, 1);
    assert_int_equal(idle.park_ns, 0);
    /* that yield either was quick (the pause is forgotten) or slow (a new one) */
    assert_true(0 == idle.yield_again_ns || idle.yield_again_ns > shoal_nano_time() - 1000000000LL);
}

static void test_other_strategies_do_not_crash(void **state)
{
    (void)state;
    shoal_idle_strategy_t kinds[] = { SHOAL_IDLE_BUSY_SPIN, SHOAL_IDLE_YIELD, SHOAL_IDLE_SLEEP };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
    {
        shoal_idle_t idle = new_idle(kinds[k]);
        for (int i = 0; i < 3; i++)
        {
            shoal_idle(&idle, 0);
            shoal_idle(&idle, 1);
        }
        assert_int_equal(idle.kind, kinds[k]);
    }
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t a = shoal_nano_time();
    int64_t b = shoal_nano_time();
    assert_true(b >= a);
    int64_t ms = shoal_epoch_ms();
    int64_t ns = shoal_epoch_ns();
    assert_true(ms > 1600000000000LL); /* after 2020 */
    assert_true(ns / 1000000LL >= ms);
    assert_true(ns / 1000000LL - ms < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_backoff_phases),
        cmocka_unit_test(test_backoff_yields_within_a_few_idle_cycles),
        cmocka_unit_test(test_slow_yield_turns_yields_off),
        cmocka_unit_test(test_other_strategies_do_not_crash),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
