/* A UDP publication whose receivers have gone (no status message for the
 * publication connection timeout) refuses offers at once with NOT_CONNECTED
 * (issue #12): the driver drops the publisher limit to the sender position,
 * so nothing more is written that nobody will receive. A receiver that
 * comes back makes offers succeed again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "udp_test_util.h"

typedef udp_test_pair_t fixture_t;

static int setup(void **state)
{
    /* A short connection timeout so the test does not wait the default 5 s. */
    static const char *const pub_settings[] = { "PUBLICATION_CONNECTION_TIMEOUT_MS", "300", NULL };
    static const char *const sub_settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "1000", NULL };
    /* The env's 1 MiB terms are the probe: a 512 KiB window. */
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    return udp_test_pair_start(f, "rcvgone", pub_settings, sub_settings);
}

static void check_refused_after_receiver_left(fixture_t *f, bool exclusive, int32_t stream_id)
{
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(f->sub_env.client, f->uri, stream_id, &sub));
    assert_int_equal(0,
        exclusive ? shoal_add_exclusive_publication(f->pub_env.client, f->uri, stream_id, &pub)
                  : shoal_add_publication(f->pub_env.client, f->uri, stream_id, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    const uint8_t msg[64] = { 1 };
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    for (int i = 0; i < 10; i++)
    {
        assert_true(shoal_test_offer(pub, msg, sizeof(msg)) > 0);
    }
    assert_int_equal(10, shoal_test_poll_until(sub, shoal_test_collect, c, 10, 5000));

    /* The receiver goes: no more status messages. */
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_test_wait_disconnected(pub, 10000));
    shoal_test_check_refused_without_subscribers(pub, exclusive ? "exclusive" : "concurrent");
    free(c);
    /* A receiver that comes back is connected and gets new messages. */
    shoal_test_check_subscriber_revives(pub, f->sub_env.client, f->uri, stream_id);
}

static void test_exclusive_refused_after_receiver_left(void **state)
{
    check_refused_after_receiver_left(*state, true, 50);
}

static void test_concurrent_refused_after_receiver_left(void **state)
{
    check_refused_after_receiver_left(*state, false, 51);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_exclusive_refused_after_receiver_left, setup, udp_test_pair_teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_refused_after_receiver_left, setup, udp_test_pair_teardown),
})
