/* MDC (dynamic), and multicast, under 10 % injected loss each way: one publisher, three
 * subscriber drivers, random message sizes 1 B .. ~4 MTUs (see
 * udp_loss_test.h); every subscriber gets every message in order, exactly
 * once, byte-identical. fc=min, so no receiver is outrun (with max a
 * receiver left a term behind would lose data by design).
 *
 * Loss is injected by the drivers' own generators: each subscriber driver
 * drops 10 % of the DATA/SETUP/heartbeat datagrams it receives (each its
 * own seed, so receivers lose different datagrams), the publisher driver
 * 10 % of the SMs/NAKs/RTT requests. SHOAL_TEST_LOSS_MESSAGES overrides
 * the count (default 1,000,000; 100,000 with small terms, 500,000 over
 * multicast): about 35 s on two quiet cores. 30 %: test_udp_mdc_loss_30.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "udp_mdc_loss_test.h"

/* Multicast over loopback, set up if it is not: a failure, not a skip,
 * when it cannot be. */
static void require_loopback_multicast(void)
{
    char why[256];
    if (udp_test_ensure_loopback_multicast(why, sizeof(why)) < 0)
    {
        fail_msg("multicast test cannot run: %s", why);
    }
}

static void test_mdc_three_subscribers_under_10_percent_loss(void **state)
{
    (void)state;
    assert_int_equal(0, run_mdc_loss_test("mdcloss10", "0.1", "16m", loss_test_messages(1000000), 240000, false));
}

/* Small terms: padding at every term end and rotation under loss. */
static void test_mdc_small_terms_under_10_percent_loss(void **state)
{
    (void)state;
    assert_int_equal(0, run_mdc_loss_test("mdcloss10s", "0.1", "64k", loss_test_messages(1000000) / 10, 120000, false));
}

/* The same over multicast: NAKs to the control group, resends to the group. */
static void test_multicast_three_subscribers_under_10_percent_loss(void **state)
{
    (void)state;
    require_loopback_multicast();
    assert_int_equal(0, run_mdc_loss_test("mcastloss10", "0.1", "16m", loss_test_messages(1000000) / 2, 240000, true));
}

/* Loss before the group: every receiver misses the same datagrams. The
 * random delay before a multicast receiver's first NAK lets one NAK, whose
 * resend reaches the whole group, stand for all three. */
static void test_multicast_loss_upstream_of_the_group(void **state)
{
    (void)state;
    require_loopback_multicast();
    assert_int_equal(0,
        run_mdc_loss_test_with("mcastup10", "0.1", "16m", loss_test_messages(1000000) / 5, 240000, true, true));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_mdc_three_subscribers_under_10_percent_loss),
    cmocka_unit_test(test_mdc_small_terms_under_10_percent_loss),
    cmocka_unit_test(test_multicast_three_subscribers_under_10_percent_loss),
    cmocka_unit_test(test_multicast_loss_upstream_of_the_group),
})
