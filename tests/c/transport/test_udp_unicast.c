/* UDP unicast end to end: a publisher driver and a subscriber driver (two
 * embedded drivers, two directories) over loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "udp_test_util.h"

typedef udp_test_pair_t fixture_t;

static int setup_with(void **state, const char *const *pub_settings, const char *const *sub_settings)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    return udp_test_pair_start(f, "udp", pub_settings, sub_settings);
}

static int setup(void **state)
{
    static const char *const sub_settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "1000", NULL };
    return setup_with(state, NULL, sub_settings);
}

static void test_round_trip(void **state)
{
    fixture_t *f = *state;
    shoal_test_stream_t s = shoal_test_stream(f->sub_env.client, f->pub_env.client, f->uri, 10, false, true);

    const uint8_t msg[] = "hello over udp";
    int64_t pos = shoal_test_offer(s.pub, msg, sizeof(msg));
    assert_true(pos > 0);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, shoal_test_poll_until(s.sub, shoal_test_collect, c, 1, 5000));
    shoal_test_check_last_message(c, msg, sizeof(msg), 10, s.pub, pos);

    /* many small messages in order, polled as they come */
    uint8_t buf[64];
    shoal_test_collector_t *ordered = calloc(1, sizeof(*ordered));
    int64_t deadline = shoal_test_now_ms() + 10000;
    for (int i = 0; i < 10000 && shoal_test_now_ms() < deadline;)
    {
        uint64_t seq = (uint64_t)i;
        memcpy(buf, &seq, 8);
        int64_t r = shoal_publication_offer(s.pub, buf, 8 + (size_t)(i % 50));
        assert_true(r > 0 || SHOAL_BACK_PRESSURED == r || SHOAL_ADMIN_ACTION == r);
        i += r > 0;
        shoal_subscription_poll(s.sub, shoal_test_collect_seq, ordered, 100);
    }
    assert_int_equal(10000, shoal_test_poll_until(s.sub, shoal_test_collect_seq, ordered, 10000, 10000));
    assert_int_equal(0, ordered->errors);
    free(ordered);
    free(c);
    assert_int_equal(0, shoal_test_stream_close(&s));
}

static void test_fragmented_messages_arrive_whole(void **state)
{
    fixture_t *f = *state;
    shoal_test_stream_t s = shoal_test_stream(f->sub_env.client, f->pub_env.client, f->uri, 11, true, false);
    size_t max = shoal_publication_max_message_length(s.pub);
    assert_int_equal(128 * 1024, max);
    uint8_t *buf = malloc(max);
    size_t sizes[] = { 1, 1375, 1376, 1377, 5000, 65536, max, 3, max - 1 };
    shoal_test_check_sizes_arrive_whole(s.pub, s.sub, buf, sizes, sizeof(sizes) / sizeof(sizes[0]));
    free(buf);
    shoal_test_stream_close(&s);
}

static void test_not_connected_without_subscriber(void **state)
{
    fixture_t *f = *state;
    shoal_test_check_not_connected_without_subscriber(f->pub_env.client, f->uri, 12, 150);
}

static void test_back_pressure_then_everything_arrives(void **state)
{
    fixture_t *f = *state;
    shoal_test_stream_t s = shoal_test_stream(f->sub_env.client, f->pub_env.client, f->uri, 13, false, false);
    /* Nobody polls: the receiver window plus the publication window fill up. */
    uint8_t buf[256];
    int64_t offered = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    int64_t r = 0;
    while (shoal_test_now_ms() < deadline)
    {
        memcpy(buf, &offered, 8);
        r = shoal_publication_offer(s.pub, buf, sizeof(buf));
        if (r > 0)
        {
            offered++;
            deadline = shoal_test_now_ms() + 500; /* until it stays blocked for 500 ms */
        }
        else
        {
            assert_true(SHOAL_BACK_PRESSURED == r || SHOAL_ADMIN_ACTION == r);
        }
    }
    assert_int_equal(SHOAL_BACK_PRESSURED, shoal_publication_offer(s.pub, buf, sizeof(buf)));
    /* Bounded by the windows: far less than the log. */
    assert_true(offered * 288 < 1024 * 1024);
    assert_true(offered * 288 >= 128 * 1024);
    assert_true(udp_test_counter_by_label(f->pub_env.dir, "snd-bpe") >= 1);

    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(offered, shoal_test_poll_until(s.sub, shoal_test_collect_seq, c, (int)offered, 10000));
    assert_int_equal(0, c->errors);
    /* and the stream moves again */
    memcpy(buf, &offered, 8);
    assert_true(shoal_test_offer(s.pub, buf, sizeof(buf)) > 0);
    assert_int_equal(offered + 1, shoal_test_poll_until(s.sub, shoal_test_collect_seq, c, (int)offered + 1, 5000));
    free(c);
    shoal_test_stream_close(&s);
}

static void test_image_goes_when_publication_closes(void **state)
{
    fixture_t *f = *state;
    shoal_test_stream_t s = shoal_test_stream(f->sub_env.client, f->pub_env.client, f->uri, 14, false, true);
    uint8_t msg[100] = { 0 };
    shoal_test_offer_times(s.pub, msg, sizeof(msg), 100);
    shoal_publication_close(s.pub);
    /* The data sent before the close is delivered, then the image ends (EOS). */
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(100, shoal_test_poll_until(s.sub, shoal_test_collect, c, 100, 5000));
    shoal_test_check_images_drain(s.sub, c, 3000);
    free(c);
    shoal_subscription_close(s.sub);
}

static void test_image_times_out_when_publisher_driver_dies(void **state)
{
    fixture_t *f = *state;
    shoal_test_stream_t s = shoal_test_stream(f->sub_env.client, f->pub_env.client, f->uri, 15, false, true);
    /* The publishing driver vanishes without a goodbye. */
    shoal_publication_close(s.pub);
    shoal_client_close(f->pub_env.client);
    f->pub_env.client = NULL;
    shoal_driver_close(f->pub_env.driver);
    f->pub_env.driver = NULL;
    int64_t start = shoal_test_now_ms();
    assert_int_equal(0, shoal_test_wait_images(s.sub, 0, 5000));
    /* EOS may have made it; otherwise the liveness timeout (1 s) did it. */
    assert_true(shoal_test_now_ms() - start < 3000);
    shoal_subscription_close(s.sub);
}

static void test_late_subscriber_and_two_subscriptions(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *sub1, *sub2;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(f->pub_env.client, f->uri, 16, &pub));
    assert_int_equal(0, shoal_add_subscription(f->sub_env.client, f->uri, 16, &sub1));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    uint8_t buf[32] = { 0 };
    shoal_test_offer_seq(pub, buf, sizeof(buf), 0, 50);
    shoal_test_collector_t *c1 = calloc(1, sizeof(*c1));
    assert_int_equal(50, shoal_test_poll_until(sub1, shoal_test_collect_seq, c1, 50, 5000));
    /* A second subscription on the same channel joins the same image. */
    assert_int_equal(0, shoal_add_subscription(f->sub_env.client, f->uri, 16, &sub2));
    assert_int_equal(0, shoal_test_wait_images(sub2, 1, 5000));
    shoal_test_offer_seq(pub, buf, sizeof(buf), 50, 100);
    shoal_test_collector_t *c2 = calloc(1, sizeof(*c2));
    c2->next_seq = 50;
    assert_int_equal(150, shoal_test_poll_until(sub1, shoal_test_collect_seq, c1, 150, 5000));
    assert_int_equal(100, shoal_test_poll_until(sub2, shoal_test_collect_seq, c2, 100, 5000));
    assert_int_equal(0, c1->errors);
    assert_int_equal(0, c2->errors);
    free(c1);
    free(c2);
}

static void test_channel_errors_name_the_problem(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(-1,
        shoal_add_subscription(f->sub_env.client, "aeron:udp?control=127.0.0.1:1|control-mode=dynamic", 17, &sub));
    assert_non_null(strstr(shoal_errmsg(), "endpoint"));
    assert_int_equal(-1,
        shoal_add_publication(f->pub_env.client, "aeron:udp?endpoint=no.such.host.invalid:4000", 17, &pub));
    assert_non_null(strstr(shoal_errmsg(), "no.such.host.invalid"));
    /* Binding a port another subscription channel holds differently fails clearly. */
    char uri[256];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", f->port);
    assert_int_equal(0, shoal_add_subscription(f->sub_env.client, uri, 17, &sub));
    shoal_subscription_t *other;
    assert_int_equal(-1, shoal_add_subscription(f->pub_env.client, uri, 17, &other));
    assert_non_null(strstr(shoal_errmsg(), "bind"));
    shoal_subscription_close(sub);
}

static void test_counters_per_endpoint(void **state)
{
    fixture_t *f = *state;
    shoal_test_stream_t s = shoal_test_stream(f->sub_env.client, f->pub_env.client, f->uri, 18, false, false);
    uint8_t buf[1000] = { 0 };
    shoal_test_offer_times(s.pub, buf, sizeof(buf), 100);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(100, shoal_test_poll_until(s.sub, shoal_test_collect, c, 100, 5000));
    free(c);
    assert_true(udp_test_wait_label(f->pub_env.dir, "snd-channel bytes sent", 100 * 1032, 2000) >= 100 * 1032);
    assert_true(udp_test_wait_label(f->sub_env.dir, "rcv-channel bytes received", 100 * 1032, 2000) >= 100 * 1032);
    assert_true(udp_test_wait_label(f->sub_env.dir, "rcv-channel status messages sent", 1, 2000) >= 1);
    assert_true(udp_test_wait_label(f->pub_env.dir, "snd-channel status messages received", 1, 2000) >= 1);
    assert_true(udp_test_wait_counter(f->pub_env.dir, SHOAL_SYSTEM_COUNTER_BYTES_SENT, 100 * 1032, 2000) >= 100 * 1032);
    assert_true(udp_test_wait_counter(f->sub_env.dir, SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT, 1, 2000) >= 1);
    assert_int_equal(0, udp_test_counter(f->sub_env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES));
    assert_int_equal(0, udp_test_counter(f->pub_env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES));
    /* stream positions are published: everything sent was received */
    int64_t snd_pos = udp_test_wait_label(f->pub_env.dir, "snd-pos", 100 * 1056, 2000);
    assert_true(snd_pos >= 100 * 1056);
    assert_int_equal(snd_pos, udp_test_wait_label(f->sub_env.dir, "rcv-pos", snd_pos, 2000));
    assert_int_equal(snd_pos, udp_test_counter_by_label(f->sub_env.dir, "rcv-hwm"));
    /* each duty's longest cycle is measured, in either threading mode */
    const int32_t cycles[] = { SHOAL_SYSTEM_COUNTER_CONDUCTOR_MAX_CYCLE_TIME_NS,
        SHOAL_SYSTEM_COUNTER_SENDER_MAX_CYCLE_TIME_NS, SHOAL_SYSTEM_COUNTER_RECEIVER_MAX_CYCLE_TIME_NS };
    for (size_t i = 0; i < sizeof(cycles) / sizeof(cycles[0]); i++)
    {
        assert_true(udp_test_wait_counter(f->pub_env.dir, cycles[i], 1, 2000) > 0);
        assert_true(udp_test_wait_counter(f->sub_env.dir, cycles[i], 1, 2000) > 0);
    }
    shoal_test_stream_close(&s);
}

/* A test with this file's usual setup and teardown (whose client closes
 * release whatever the test leaves open). */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, udp_test_pair_teardown)

SHOAL_TEST_MAIN({
    T(test_round_trip),
    T(test_fragmented_messages_arrive_whole),
    T(test_not_connected_without_subscriber),
    T(test_back_pressure_then_everything_arrives),
    T(test_image_goes_when_publication_closes),
    T(test_image_times_out_when_publisher_driver_dies),
    T(test_late_subscriber_and_two_subscriptions),
    T(test_channel_errors_name_the_problem),
    T(test_counters_per_endpoint),
})
