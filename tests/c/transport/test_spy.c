/*
 * Spy subscriptions (issue 15, part 2): "aeron-spy:aeron:udp?..." reads the
 * local network publication of that channel in place. The spy gets what the
 * network subscriber gets, in order; it holds the publisher back (tethered);
 * with ssc=true it alone makes the publication connected; it goes when the
 * publication has drained; a spy on aeron:ipc or a publication on an
 * aeron-spy: channel is a clear error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "udp_test_util.h"

#define STREAM_ID 4501

typedef struct fixture_stct
{
    shoal_test_env_t env;
    int port;
    char channel[128];
    char spy[160];
} fixture_t;

static int setup(void **state)
{
    const char *const settings[] = { "TERM_LENGTH", "64k", NULL };
    if (shoal_test_env_setup_sized(state, sizeof(fixture_t), "spy-", UDP_TEST_ENV_DEFAULTS, settings) < 0)
    {
        return -1;
    }
    fixture_t *f = *state;
    f->port = udp_test_free_port();
    udp_test_uri(f->channel, sizeof(f->channel), "aeron:udp?endpoint=127.0.0.1:%d", f->port);
    udp_test_uri(f->spy, sizeof(f->spy), "aeron-spy:aeron:udp?endpoint=127.0.0.1:%d", f->port);
    return 0;
}

typedef struct image_log_stct
{
    int available;
    int unavailable;
    char source[80];
} image_log_t;

static void on_available(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    image_log_t *log = clientd;
    snprintf(log->source, sizeof(log->source), "%s", shoal_image_source_identity(image));
    shoal_store_release(&log->available, log->available + 1);
}

static void on_unavailable(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    (void)image;
    image_log_t *log = clientd;
    shoal_store_release(&log->unavailable, log->unavailable + 1);
}

/* A network subscriber and a spy on one driver: both see every message of a
 * stream longer than the log (terms rotate), in order. */
/* Offers count messages of length bytes on pub, numbered in their first 8
 * bytes, polling each of the n subscriptions into its collector meanwhile,
 * then drains them until each has count messages or 20 s have passed. */
static void publish_numbered(shoal_publication_t *pub, size_t length, int count, shoal_subscription_t **subs,
    shoal_test_collector_t **collectors, int n)
{
    uint8_t buf[256] = { 0 };
    int64_t deadline = shoal_test_now_ms() + 20000;
    for (uint64_t i = 0; shoal_test_now_ms() < deadline;)
    {
        memcpy(buf, &i, sizeof(i));
        if (i < (uint64_t)count && shoal_publication_offer(pub, buf, length) > 0)
        {
            i++;
        }
        bool all = i == (uint64_t)count;
        for (int k = 0; k < n; k++)
        {
            shoal_subscription_poll(subs[k], shoal_test_collect_seq, collectors[k], 64);
            all = all && collectors[k]->count >= count;
        }
        if (all)
        {
            return;
        }
    }
}

static void test_spy_sees_what_the_network_subscriber_sees(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *net, *spy;
    shoal_publication_t *pub;
    image_log_t log = { 0 };
    assert_int_equal(0, shoal_add_subscription(f->env.client, f->channel, STREAM_ID, &net));
    assert_int_equal(0,
        shoal_add_subscription_with_handlers(f->env.client, f->spy, STREAM_ID, on_available, on_unavailable, &log,
            &spy));
    assert_int_equal(0, shoal_add_publication(f->env.client, f->channel, STREAM_ID, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_test_wait_images(net, 1, 5000));
    assert_int_equal(0, shoal_test_wait_images(spy, 1, 5000));
    assert_string_equal("aeron:ipc", log.source);

    shoal_test_collector_t *from_net = calloc(1, sizeof(*from_net));
    shoal_test_collector_t *from_spy = calloc(1, sizeof(*from_spy));
    const int count = 2000; /* 2000 x 232 framed bytes: seven 64 KiB terms */
    publish_numbered(pub, 200, count, (shoal_subscription_t *[]){ net, spy },
        (shoal_test_collector_t *[]){ from_net, from_spy }, 2);
    printf("network subscriber: %d messages, %d out of order; spy: %d messages, %d out of order\n", from_net->count,
        from_net->errors, from_spy->count, from_spy->errors);
    assert_int_equal(count, from_net->count);
    assert_int_equal(count, from_spy->count);
    assert_int_equal(0, from_net->errors);
    assert_int_equal(0, from_spy->errors);

    /* The publication goes: the spy reads to the end, then its image goes. */
    assert_int_equal(0, shoal_publication_close(pub));
    shoal_test_check_images_drain(spy, from_spy, 5000);
    /* The handler runs just after the image leaves the list. */
    int64_t handler_deadline = shoal_test_now_ms() + 5000;
    while (0 == shoal_load_acquire(&log.unavailable) && shoal_test_now_ms() < handler_deadline)
    {
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(1, shoal_load_acquire(&log.unavailable));
    free(from_net);
    free(from_spy);
    assert_int_equal(0, shoal_subscription_close(net));
    assert_int_equal(0, shoal_subscription_close(spy));
}

/* A spy subscription on the fixture's channel and stream. */
static shoal_subscription_t *add_spy(fixture_t *f)
{
    shoal_subscription_t *spy;
    assert_int_equal(0, shoal_add_subscription(f->env.client, f->spy, STREAM_ID, &spy));
    return spy;
}

/* An exclusive publication on the fixture's channel with ssc=true,
 * connected (by a spy: nothing receives it on the network). */
static shoal_publication_t *add_ssc_publication(fixture_t *f)
{
    char ssc_channel[160];
    udp_test_uri(ssc_channel, sizeof(ssc_channel), "%s|ssc=true", f->channel);
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_exclusive_publication(f->env.client, ssc_channel, STREAM_ID, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    return pub;
}

/* Without ssc a spy alone is no connection; with ssc=true it is, and it
 * gets everything without anything on the network. */
static void test_ssc_makes_a_spy_a_connection(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *spy = add_spy(f);
    shoal_publication_t *plain;
    assert_int_equal(0, shoal_add_exclusive_publication(f->env.client, f->channel, STREAM_ID, &plain));
    assert_int_equal(0, shoal_test_wait_images(spy, 1, 5000));
    shoal_test_sleep_ms(50);
    assert_false(shoal_publication_is_connected(plain));
    assert_int_equal(SHOAL_NOT_CONNECTED, shoal_publication_offer(plain, (const uint8_t *)"x", 1));
    assert_int_equal(0, shoal_publication_close(plain));

    /* A socket on the endpoint sees what goes on the wire (it never answers,
     * so it is no receiver). */
    int wire = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(wire >= 0);
    assert_int_equal(0, bind(wire, (struct sockaddr *)&at, sizeof(at)));
    shoal_publication_t *ssc = add_ssc_publication(f);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    const int count = 5000; /* 5000 x 160 framed bytes: twelve 64 KiB terms */
    publish_numbered(ssc, 100, count, &spy, &c, 1);
    int datagrams = 0, data_frames = 0;
    uint8_t datagram[65536];
    ssize_t n;
    while ((n = recv(wire, datagram, sizeof(datagram), 0)) > 0)
    {
        datagrams++;
        int32_t frame_length;
        uint16_t type;
        memcpy(&frame_length, datagram, sizeof(frame_length));
        memcpy(&type, datagram + 6, sizeof(type));
        data_frames += 0x01 == type && frame_length > 0;
    }
    close(wire);
    printf("ssc spy: %d messages, %d out of order; on the wire meanwhile: %d datagrams (SETUPs, heartbeats), %d "
           "with data\n",
        c->count, c->errors, datagrams, data_frames);
    assert_int_equal(count, c->count);
    assert_int_equal(0, c->errors);
    /* No receiver: the data itself never went on the wire. */
    assert_int_equal(0, data_frames);
    free(c);
    assert_int_equal(0, shoal_publication_close(ssc));
    assert_int_equal(0, shoal_subscription_close(spy));
}

/* A tethered spy that does not read holds the publisher to a window. */
static void test_spy_is_tethered(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *spy = add_spy(f);
    shoal_publication_t *pub = add_ssc_publication(f);
    int64_t refusal = 0;
    long accepted = shoal_test_offers_accepted(pub, 1000, &refusal);
    /* 1 KiB messages, 1056 bytes framed: a 32 KiB window holds 31 of them. */
    assert_int_equal(SHOAL_BACK_PRESSURED, refusal);
    assert_true(accepted >= 31 && accepted <= 32);
    shoal_test_sleep_ms(100);
    assert_int_equal(SHOAL_BACK_PRESSURED, shoal_publication_offer(pub, (const uint8_t *)"x", 1));
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal((int)accepted, shoal_test_poll_until(spy, shoal_test_collect, c, (int)accepted, 5000));
    assert_true(shoal_test_offer(pub, (const uint8_t *)"x", 1) > 0);
    free(c);
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(spy));
}

static void test_spy_errors(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *sub = NULL;
    shoal_publication_t *pub = NULL;
    assert_int_equal(-1, shoal_add_subscription(f->env.client, "aeron-spy:aeron:ipc", STREAM_ID, &sub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "a spy needs an aeron:udp channel"));
    assert_int_equal(-1, shoal_add_subscription(f->env.client, "aeron-spy:udp?endpoint=1.2.3.4:5", STREAM_ID, &sub));
    assert_non_null(strstr(shoal_errmsg(), "must start with 'aeron:' after 'aeron-spy:'"));
    assert_int_equal(-1, shoal_add_publication(f->env.client, f->spy, STREAM_ID, &pub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "aeron-spy: is for subscriptions"));
    assert_int_equal(-1, shoal_add_publication(f->env.client, "aeron:ipc?ssc=true", STREAM_ID, &pub));
    assert_non_null(strstr(shoal_errmsg(), "key 'ssc' is not valid for aeron:ipc"));
    assert_int_equal(-1,
        shoal_add_subscription(f->env.client, "aeron:ipc?tether=false|untethered-resting-timeout=0", STREAM_ID, &sub));
    assert_non_null(strstr(shoal_errmsg(), "untethered-resting-timeout"));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_spy_sees_what_the_network_subscriber_sees, setup, shoal_test_env_teardown),
    cmocka_unit_test_setup_teardown(test_ssc_makes_a_spy_a_connection, setup, shoal_test_env_teardown),
    cmocka_unit_test_setup_teardown(test_spy_is_tethered, setup, shoal_test_env_teardown),
    cmocka_unit_test_setup_teardown(test_spy_errors, setup, shoal_test_env_teardown),
})
