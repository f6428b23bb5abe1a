/* Sender flow control on its own: the fc= value, and how status messages of
 * one or several receivers move the sender limit under unicast, max and min
 * (with a group size and a receiver timeout). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "transport/udp/shoal_flow_control.h"
#include "util/shoal_error.h"

#define TIMEOUT_NS (5LL * 1000 * 1000 * 1000)
#define WINDOW     4096

/* One status message and the sender limit expected after it. */
typedef struct
{
    int64_t receiver_id;
    int64_t position;
    int32_t window;
    int64_t now_ns;
    int64_t expected_limit;
} sm_step_t;

/* Feeds the status messages in order, starting from limit, checking the
 * limit after each; returns the last limit. */
static int64_t feed(shoal_flow_control_t *fc, const sm_step_t *steps, size_t count, int64_t limit)
{
    for (size_t i = 0; i < count; i++)
    {
        const sm_step_t *m = &steps[i];
        limit = shoal_flow_control_on_status_message(fc, m->receiver_id, m->position, m->window, limit, m->now_ns);
        if (limit != m->expected_limit)
        {
            fail_msg("status message %zu (receiver %lld at %lld): limit %lld, expected %lld", i,
                (long long)m->receiver_id, (long long)m->position, (long long)limit, (long long)m->expected_limit);
        }
    }
    return limit;
}

#define FEED(fc, limit, steps) feed((fc), (steps), sizeof(steps) / sizeof((steps)[0]), (limit))

static void parses_strategies_and_options(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "", SHOAL_FC_UNICAST, TIMEOUT_NS));
    assert_int_equal(SHOAL_FC_UNICAST, fc.kind);
    assert_int_equal(0, shoal_flow_control_init(&fc, NULL, SHOAL_FC_MAX, TIMEOUT_NS));
    assert_int_equal(SHOAL_FC_MAX, fc.kind);
    assert_int_equal(0, shoal_flow_control_init(&fc, "min", SHOAL_FC_UNICAST, TIMEOUT_NS));
    assert_int_equal(SHOAL_FC_MIN, fc.kind);
    assert_int_equal(0, fc.group_min_size);
    assert_int_equal(TIMEOUT_NS, fc.receiver_timeout_ns);
    assert_int_equal(0, shoal_flow_control_init(&fc, "max", SHOAL_FC_MIN, TIMEOUT_NS));
    assert_int_equal(SHOAL_FC_MAX, fc.kind);
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,g:/3", SHOAL_FC_MAX, TIMEOUT_NS));
    assert_int_equal(3, fc.group_min_size);
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,g:tag/2,t:2s", SHOAL_FC_MAX, TIMEOUT_NS));
    assert_int_equal(2, fc.group_min_size);
    assert_int_equal(2000000000LL, fc.receiver_timeout_ns);
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,t:500ms", SHOAL_FC_MAX, TIMEOUT_NS));
    assert_int_equal(500000000LL, fc.receiver_timeout_ns);
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,t:250us", SHOAL_FC_MAX, TIMEOUT_NS));
    assert_int_equal(250000LL, fc.receiver_timeout_ns);
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,t:7", SHOAL_FC_MAX, TIMEOUT_NS));
    assert_int_equal(7LL, fc.receiver_timeout_ns);
}

static void refuses_bad_values_naming_them(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    const char *bad[] = { "avg", "min,g:3", "min,g:/65", "min,g:/-1", "min,g:/", "min,t:0", "min,t:5h",
        "min,t:", "min,x:1", "," };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        shoal_err_clear();
        assert_int_equal(-1, shoal_flow_control_init(&fc, bad[i], SHOAL_FC_MAX, TIMEOUT_NS));
        assert_int_equal(SHOAL_EURI, shoal_errcode());
        assert_non_null(strstr(shoal_errmsg(), "fc '"));
    }
}

static void unicast_limit_only_moves_forward(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "", SHOAL_FC_UNICAST, TIMEOUT_NS));
    assert_false(shoal_flow_control_has_required_receivers(&fc));
    static const sm_step_t first[] = { { 7, 1000, WINDOW, 1, 1000 + WINDOW } };
    int64_t limit = FEED(&fc, 0, first);
    assert_true(shoal_flow_control_has_required_receivers(&fc));
    static const sm_step_t then[] = {
        { 7, 500, WINDOW, 2, 1000 + WINDOW }, /* a late (reordered) SM never takes the limit back */
        { 7, 9000, -5, 3, 9000 },             /* a negative window counts as 0 */
    };
    FEED(&fc, limit, then);
    assert_int_equal(9000, shoal_flow_control_min_position(&fc, -1));
}

static void max_follows_the_fastest_receiver(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "max", SHOAL_FC_UNICAST, TIMEOUT_NS));
    static const sm_step_t steps[] = {
        { 1, 1000, WINDOW, 10, 1000 + WINDOW }, { 2, 8000, WINDOW, 11, 8000 + WINDOW },
        { 1, 1100, WINDOW, 12, 8000 + WINDOW }, /* the slow one speaking again does not hold the fast one back */
    };
    int64_t limit = FEED(&fc, 0, steps);
    assert_int_equal(2, fc.receiver_count);
    /* The drain still waits for the slowest consumption. */
    assert_int_equal(1100, shoal_flow_control_min_position(&fc, -1));
    /* max never lowers the limit on idle, even after everybody left. */
    assert_int_equal(limit, shoal_flow_control_on_idle(&fc, 12 + TIMEOUT_NS + 1, limit, 0));
    assert_int_equal(0, fc.receiver_count);
    assert_int_equal(-1, shoal_flow_control_min_position(&fc, -1));
}

static void min_follows_the_slowest_of_several(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "min", SHOAL_FC_MAX, TIMEOUT_NS));
    static const sm_step_t steps[] = {
        { 1, 5000, WINDOW, 10, 5000 + WINDOW },
        { 2, 2000, WINDOW, 11, 2000 + WINDOW }, /* a slower one joined: the limit waits for it */
        { 3, 3000, 2 * WINDOW, 12, 2000 + WINDOW },
        { 2, 6000, WINDOW, 13, 5000 + WINDOW }, /* receiver 1 is the slowest now */
        { 1, 100, WINDOW, 14, 5000 + WINDOW },  /* an older, reordered SM of receiver 1 does not move its view back */
    };
    FEED(&fc, 0, steps);
    assert_int_equal(3000, shoal_flow_control_min_position(&fc, -1));
}

static void min_drops_a_silent_receiver_after_its_timeout(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,t:1ms", SHOAL_FC_MAX, TIMEOUT_NS));
    const int64_t t = 1000000;
    int64_t limit = shoal_flow_control_on_status_message(&fc, 1, 1000, WINDOW, 0, 0);
    limit = shoal_flow_control_on_status_message(&fc, 2, 9000, WINDOW, limit, t / 2);
    assert_int_equal(1000 + WINDOW, limit);
    /* At exactly the timeout receiver 1 still counts ... */
    assert_int_equal(1000 + WINDOW, shoal_flow_control_on_idle(&fc, t, limit, 1000));
    assert_int_equal(2, fc.receiver_count);
    /* ... past it, it is dropped and the limit moves to receiver 2's. */
    limit = shoal_flow_control_on_idle(&fc, t + 1, limit, 1000);
    assert_int_equal(9000 + WINDOW, limit);
    assert_int_equal(1, fc.receiver_count);
    /* Never below what was sent. */
    assert_int_equal(20000, shoal_flow_control_on_idle(&fc, t + 2, limit, 20000));
}

static void min_with_a_group_waits_for_its_size(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "min,g:/2", SHOAL_FC_MAX, TIMEOUT_NS));
    int64_t limit = shoal_flow_control_on_status_message(&fc, 1, 1000, WINDOW, 0, 1);
    assert_int_equal(0, limit); /* one of two: the limit stays */
    assert_false(shoal_flow_control_has_required_receivers(&fc));
    assert_int_equal(0, shoal_flow_control_on_idle(&fc, 2, limit, 0));
    limit = shoal_flow_control_on_status_message(&fc, 2, 3000, WINDOW, limit, 3);
    assert_int_equal(1000 + WINDOW, limit);
    assert_true(shoal_flow_control_has_required_receivers(&fc));
    shoal_flow_control_remove_receiver(&fc, 1);
    assert_false(shoal_flow_control_has_required_receivers(&fc));
    assert_int_equal(3000, shoal_flow_control_min_position(&fc, -1));
}

static void receiver_table_is_bounded(void **state)
{
    (void)state;
    shoal_flow_control_t fc;
    assert_int_equal(0, shoal_flow_control_init(&fc, "min", SHOAL_FC_MAX, TIMEOUT_NS));
    int64_t limit = 0;
    for (int64_t id = 1; id <= SHOAL_FLOW_CONTROL_MAX_RECEIVERS; id++)
    {
        limit = shoal_flow_control_on_status_message(&fc, id, 10000 + id, WINDOW, limit, id);
    }
    assert_int_equal(SHOAL_FLOW_CONTROL_MAX_RECEIVERS, fc.receiver_count);
    assert_int_equal(10001 + WINDOW, limit);
    /* One more does not fit: it is not tracked and cannot hold the stream back. */
    limit = shoal_flow_control_on_status_message(&fc, 1000, 5, WINDOW, limit, 100);
    assert_int_equal(SHOAL_FLOW_CONTROL_MAX_RECEIVERS, fc.receiver_count);
    assert_int_equal(10001 + WINDOW, limit);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(parses_strategies_and_options),
    cmocka_unit_test(refuses_bad_values_naming_them),
    cmocka_unit_test(unicast_limit_only_moves_forward),
    cmocka_unit_test(max_follows_the_fastest_receiver),
    cmocka_unit_test(min_follows_the_slowest_of_several),
    cmocka_unit_test(min_drops_a_silent_receiver_after_its_timeout),
    cmocka_unit_test(min_with_a_group_waits_for_its_size),
    cmocka_unit_test(receiver_table_is_bounded),
})
