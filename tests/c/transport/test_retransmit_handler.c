/* The retransmit handler on its own: one resend per range per linger,
 * whoever asks and how often; a full table drops NAKs until ranges expire. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "transport/udp/shoal_retransmit_handler.h"

#define LINGER_NS 1000

/* An empty handler whose ranges linger linger_ns. */
static shoal_retransmit_handler_t new_handler(int64_t linger_ns)
{
    shoal_retransmit_handler_t h;
    shoal_retransmit_handler_init(&h, linger_ns);
    return h;
}

/* A NAK for the range at (term_id, term_offset) at now_ns: whether it is
 * answered with a resend. */
static bool resends(shoal_retransmit_handler_t *h, int32_t term_id, int32_t term_offset, int64_t now_ns)
{
    return shoal_retransmit_handler_on_nak(h, term_id, term_offset, now_ns);
}

static void one_resend_per_range_per_linger(void **state)
{
    (void)state;
    shoal_retransmit_handler_t h = new_handler(LINGER_NS);
    assert_true(resends(&h, 5, 1024, 100));
    assert_false(resends(&h, 5, 1024, 101));
    assert_false(resends(&h, 5, 1024, 100 + LINGER_NS - 1));
    /* Other ranges (another offset, the same offset of another term) are independent. */
    assert_true(resends(&h, 5, 2048, 150));
    assert_true(resends(&h, 6, 1024, 150));
    assert_int_equal(3, h.count);
    /* The linger over, the same range is resent and lingers again. */
    assert_true(resends(&h, 5, 1024, 100 + LINGER_NS));
    assert_false(resends(&h, 5, 1024, 100 + LINGER_NS + 1));
}

static void timeouts_end_lingering_ranges(void **state)
{
    (void)state;
    shoal_retransmit_handler_t h = new_handler(LINGER_NS);
    assert_true(resends(&h, 1, 0, 0));
    assert_true(resends(&h, 1, 32, 500));
    assert_int_equal(0, shoal_retransmit_handler_process_timeouts(&h, LINGER_NS - 1));
    assert_int_equal(1, shoal_retransmit_handler_process_timeouts(&h, LINGER_NS));
    assert_int_equal(1, h.count);
    assert_int_equal(1, shoal_retransmit_handler_process_timeouts(&h, 500 + LINGER_NS));
    assert_int_equal(0, h.count);
}

static void wrapped_term_ids_are_ranges_like_any(void **state)
{
    (void)state;
    shoal_retransmit_handler_t h = new_handler(LINGER_NS);
    assert_true(resends(&h, INT32_MAX, 0, 0));
    assert_true(resends(&h, INT32_MIN, 0, 0));
    assert_false(resends(&h, INT32_MIN, 0, 1));
}

static void a_full_table_drops_until_ranges_expire(void **state)
{
    (void)state;
    shoal_retransmit_handler_t h = new_handler(LINGER_NS);
    for (int32_t i = 0; i < SHOAL_RETRANSMIT_MAX; i++)
    {
        assert_true(resends(&h, 1, i * 32, i));
    }
    assert_false(resends(&h, 2, 0, SHOAL_RETRANSMIT_MAX));
    assert_int_equal(SHOAL_RETRANSMIT_MAX, h.count);
    /* The first range's linger is over: a new NAK makes room for itself. */
    assert_true(resends(&h, 2, 0, LINGER_NS));
    assert_int_equal(SHOAL_RETRANSMIT_MAX, h.count);
}

static void zero_linger_resends_every_nak(void **state)
{
    (void)state;
    shoal_retransmit_handler_t h = new_handler(0);
    assert_true(resends(&h, 1, 64, 10));
    assert_true(resends(&h, 1, 64, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_resend_per_range_per_linger),
        cmocka_unit_test(timeouts_end_lingering_ranges),
        cmocka_unit_test(wrapped_term_ids_are_ranges_like_any),
        cmocka_unit_test(a_full_table_drops_until_ranges_expire),
        cmocka_unit_test(zero_linger_resends_every_nak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
