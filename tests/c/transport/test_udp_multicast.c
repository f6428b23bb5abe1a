/* UDP multicast end to end over loopback: one publisher driver, three
 * subscriber drivers (separate directories, as if separate hosts) on one
 * group, with interface=127.0.0.1. Data goes to the group G:port, status
 * messages and NAKs to G+1:port. Flow control: max (the default: the
 * fastest receiver sets the pace) against min (the slowest does). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "udp_multi_test.h"

#define SUBS 3

typedef struct
{
    multi_envs_t envs;
    char uri[256];
} fixture_t;

static int group_counter = 0;

/* A group of our own (pid-derived), last octet odd so G+1 stays in the /24. */
static void multicast_uri(char *buf, size_t len, const char *extra)
{
    int port = udp_test_free_port();
    udp_test_uri(buf, len, "aeron:udp?endpoint=239.255.%d.%d:%d|interface=127.0.0.1%s", (int)(getpid() % 250),
        1 + 2 * (group_counter++ % 100), port, extra);
}

static int setup(void **state)
{
    char why[256];
    if (udp_test_ensure_loopback_multicast(why, sizeof(why)) < 0)
    {
        fprintf(stderr, "multicast test cannot run: %s\n", why);
        return -1;
    }
    static int n = 0;
    char name[32];
    snprintf(name, sizeof(name), "mcast%d", n++);
    fixture_t *f = calloc(1, sizeof(*f));
    static const char *const sub_settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "2000", NULL };
    /* The default flow-control receiver timeout (5 s): a receiver driver
     * starved on a loaded machine must not be dropped by fc=min. */
    if (multi_envs_start(&f->envs, name, SUBS, NULL, sub_settings) < 0)
    {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    multi_envs_stop(&f->envs);
    free(f);
    return 0;
}

/* Multicast channel extra, n subscriptions (one per receiving driver) and an
 * exclusive publication of stream_id, connected, each subscription with its
 * image. */
static shoal_publication_t *connect_all(fixture_t *f, const char *extra, int32_t stream_id, shoal_subscription_t **subs,
    int n)
{
    multicast_uri(f->uri, sizeof(f->uri), extra);
    for (int i = 0; i < n; i++)
    {
        if (shoal_add_subscription(f->envs.sub_env[i].client, f->uri, stream_id, &subs[i]) < 0)
        {
            fail_msg("subscription %d on %s: %s", i, f->uri, shoal_errmsg());
        }
    }
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_exclusive_publication(f->envs.pub_env.client, f->uri, stream_id, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    for (int i = 0; i < n; i++)
    {
        assert_int_equal(0, shoal_test_wait_images(subs[i], 1, 5000));
    }
    return pub;
}

static void close_all(shoal_publication_t *pub, shoal_subscription_t **subs, int n)
{
    shoal_publication_close(pub);
    for (int i = 0; i < n; i++)
    {
        shoal_subscription_close(subs[i]);
    }
}

static void three_subscribers_receive_everything(void **state, const char *extra)
{
    fixture_t *f = *state;
    shoal_subscription_t *subs[SUBS];
    shoal_publication_t *pub = connect_all(f, extra, 20, subs, SUBS);

    const uint64_t messages = 20000;
    seq_checker_t *checkers = calloc(SUBS, sizeof(*checkers));
    uint8_t buf[8192];
    uint64_t sent = 0;
    int64_t start = shoal_test_now_ms();
    int64_t deadline = start + 30000;
    bool done = false;
    while (!done && shoal_test_now_ms() < deadline)
    {
        for (int k = 0; k < 32 && sent < messages && seq_offer(pub, sent, buf); k++)
        {
            sent++;
        }
        done = sent == messages;
        for (int i = 0; i < SUBS; i++)
        {
            shoal_subscription_poll(subs[i], seq_check, &checkers[i], 256);
            done = done && checkers[i].received == messages;
        }
    }
    printf("multicast %s: %llu messages to %d subscribers in %lld ms (naks sent %lld, retransmits %lld)\n", f->uri,
        (unsigned long long)messages, SUBS, (long long)(shoal_test_now_ms() - start),
        (long long)(udp_test_counter(f->envs.sub_env[0].dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT) +
            udp_test_counter(f->envs.sub_env[1].dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT) +
            udp_test_counter(f->envs.sub_env[2].dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT)),
        (long long)udp_test_counter(f->envs.pub_env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT));
    for (int i = 0; i < SUBS; i++)
    {
        multi_envs_print_subscriber(&f->envs, i, checkers[i].received);
    }
    for (int i = 0; i < SUBS; i++)
    {
        assert_int_equal(0, checkers[i].errors);
        assert_int_equal(0, checkers[i].first_seq);
        assert_int_equal(messages, checkers[i].received);
    }
    /* Status messages went to the control group and reached the publisher. */
    assert_true(udp_test_counter(f->envs.pub_env.dir, SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED) > 0);
    free(checkers);
    close_all(pub, subs, SUBS);
}

/* fc=min: the publisher never outruns any receiver. */
static void test_three_subscribers_fc_min(void **state)
{
    three_subscribers_receive_everything(state, "|fc=min");
}

/* The default (max): the fastest receiver sets the pace, the others catch
 * up by NAK (beyond their window they drop frames but NAK up to it) while
 * the data is still in the sender's term: 16 MiB here, plenty. */
static void test_three_subscribers_fc_max(void **state)
{
    three_subscribers_receive_everything(state, "|term-length=16m");
}

/* Subscriber 0 polls, subscriber 1 does not. Offers for `ms` while 0 polls;
 * returns how many messages went out. */
static uint64_t offer_while_one_sleeps(shoal_publication_t *pub, shoal_subscription_t *awake, seq_checker_t *c,
    uint64_t limit, int64_t ms)
{
    uint8_t buf[8192];
    uint64_t sent = 0;
    int64_t deadline = shoal_test_now_ms() + ms;
    while (shoal_test_now_ms() < deadline && sent < limit)
    {
        for (int k = 0; k < 16 && sent < limit && seq_offer(pub, sent, buf); k++)
        {
            sent++;
        }
        shoal_subscription_poll(awake, seq_check, c, 256);
    }
    return sent;
}

/* Two receivers of a publication on channel extra: the first reads while the
 * second sleeps and the publisher offers up to total messages for ms. */
typedef struct
{
    shoal_subscription_t *subs[2];
    shoal_publication_t *pub;
    seq_checker_t *c; /* one per receiver */
    uint64_t sent;
} race_t;

static race_t race_with_a_sleeper(fixture_t *f, const char *extra, int32_t stream_id, uint64_t total, int64_t ms)
{
    race_t r;
    r.pub = connect_all(f, extra, stream_id, r.subs, 2);
    /* Both receivers must be known to flow control before the race starts. */
    shoal_test_sleep_ms(300);
    r.c = calloc(2, sizeof(*r.c));
    assert_non_null(r.c);
    r.sent = offer_while_one_sleeps(r.pub, r.subs[0], &r.c[0], total, ms);
    return r;
}

static void race_close(race_t *r)
{
    free(r->c);
    close_all(r->pub, r->subs, 2);
}

/* fc=min: the receiver that does not read holds the publisher back to its
 * window (plus the publication's term window); once it reads, all flows and
 * both get everything. */
static void test_fc_min_waits_for_the_slowest(void **state)
{
    const uint64_t total = 5000; /* ~1.5 MB: many times window + term */
    race_t r = race_with_a_sleeper(*state, "|term-length=64k|fc=min", 21, total, 1500);
    uint64_t sent = r.sent;
    int64_t position = shoal_publication_position(r.pub);
    printf("fc=min: %llu of %llu messages offered while one receiver slept (position %lld)\n", (unsigned long long)sent,
        (unsigned long long)total, (long long)position);
    /* Receiver window (32 KiB for 64 KiB terms) + term window (32 KiB) +
     * a little for SMs in flight. */
    assert_true(position <= 96 * 1024);
    assert_true(sent < total);
    assert_true(r.c[0].received <= sent);

    /* The sleeper wakes: everything flows to both. */
    uint8_t buf[8192];
    int64_t deadline = shoal_test_now_ms() + 20000;
    while ((r.c[0].received < total || r.c[1].received < total) && shoal_test_now_ms() < deadline)
    {
        for (int k = 0; k < 16 && sent < total && seq_offer(r.pub, sent, buf); k++)
        {
            sent++;
        }
        shoal_subscription_poll(r.subs[0], seq_check, &r.c[0], 256);
        shoal_subscription_poll(r.subs[1], seq_check, &r.c[1], 256);
    }
    for (int i = 0; i < 2; i++)
    {
        assert_int_equal(0, r.c[i].errors);
        assert_int_equal(total, r.c[i].received);
    }
    race_close(&r);
}

/* fc=max (the multicast default, named here): the receiver that reads sets
 * the pace; the one that does not holds nobody back. */
static void test_fc_max_follows_the_fastest(void **state)
{
    const uint64_t total = 5000;
    race_t r = race_with_a_sleeper(*state, "|term-length=64k|fc=max", 22, total, 15000);
    const uint64_t sent = r.sent;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (r.c[0].received < total && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(r.subs[0], seq_check, &r.c[0], 256);
    }
    printf("fc=max: %llu of %llu messages offered while one receiver slept (position %lld), fast receiver got %llu\n",
        (unsigned long long)sent, (unsigned long long)total, (long long)shoal_publication_position(r.pub),
        (unsigned long long)r.c[0].received);
    assert_int_equal(total, sent);
    assert_int_equal(0, r.c[0].errors);
    assert_int_equal(total, r.c[0].received);
    /* What the sleeper holds is intact (it may have lost the rest: max does not wait). */
    shoal_subscription_poll(r.subs[1], seq_check, &r.c[1], 256);
    assert_int_equal(0, r.c[1].errors);
    race_close(&r);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_three_subscribers_fc_min),
    T(test_three_subscribers_fc_max),
    T(test_fc_min_waits_for_the_slowest),
    T(test_fc_max_follows_the_fastest),
})
