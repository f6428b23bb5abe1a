/* Multi-destination-cast end to end over loopback: one publisher driver,
 * three subscriber drivers (separate directories, as if separate hosts).
 *  - dynamic: the publication binds control=127.0.0.1:P; subscribers on
 *    endpoint=127.0.0.1:Qi|control=127.0.0.1:P announce themselves there;
 *  - manual: control-mode=manual plus shoal_publication_add/remove_destination;
 *  - a late joiner receives from its join position on, whole messages only;
 *  - a subscriber that leaves (subscription closed, or its driver gone)
 *    holds an fc=min stream back at most the flow-control receiver timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "../shoal_test_main.h"
#include "udp_multi_test.h"

#define SUBS                3
#define RECEIVER_TIMEOUT_MS 500

typedef struct
{
    multi_envs_t envs;
    int control_port;
    int ports[SUBS];
    char pub_uri[256];
    char sub_uri[SUBS][256];
    char dest_uri[SUBS][128];
} fixture_t;

static int setup_with(void **state, const char *receiver_timeout_ms)
{
    static int n = 0;
    char name[32];
    snprintf(name, sizeof(name), "mdc%d", n++);
    fixture_t *f = calloc(1, sizeof(*f));
    const char *const pub_settings[] = { "FLOW_CONTROL_RECEIVER_TIMEOUT_MS", receiver_timeout_ms, NULL };
    static const char *const sub_settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "2000", NULL };
    if (multi_envs_start(&f->envs, name, SUBS, pub_settings, sub_settings) < 0)
    {
        return -1;
    }
    f->control_port = udp_test_free_port();
    for (int i = 0; i < SUBS; i++)
    {
        f->ports[i] = udp_test_free_port();
        udp_test_uri(f->dest_uri[i], sizeof(f->dest_uri[i]), "aeron:udp?endpoint=127.0.0.1:%d", f->ports[i]);
    }
    *state = f;
    return 0;
}

static int setup(void **state)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", RECEIVER_TIMEOUT_MS);
    return setup_with(state, timeout);
}

/* The default receiver timeout (5 s): removal must not wait for it, and a
 * receiver driver starved for half a second on a loaded machine is not
 * dropped from flow control (fc=min would then let the sender outrun it). */
static int setup_long_timeout(void **state)
{
    return setup_with(state, "5000");
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    multi_envs_stop(&f->envs);
    free(f);
    return 0;
}

/* Dynamic MDC URIs; extra is appended to the publication's. */
static void dynamic_uris(fixture_t *f, const char *extra)
{
    udp_test_uri(f->pub_uri, sizeof(f->pub_uri), "aeron:udp?control=127.0.0.1:%d|control-mode=dynamic%s",
        f->control_port, extra);
    for (int i = 0; i < SUBS; i++)
    {
        udp_test_uri(f->sub_uri[i], sizeof(f->sub_uri[i]), "aeron:udp?endpoint=127.0.0.1:%d|control=127.0.0.1:%d",
            f->ports[i], f->control_port);
    }
}

static void manual_uris(fixture_t *f, const char *extra)
{
    udp_test_uri(f->pub_uri, sizeof(f->pub_uri), "aeron:udp?control-mode=manual%s", extra);
    for (int i = 0; i < SUBS; i++)
    {
        snprintf(f->sub_uri[i], sizeof(f->sub_uri[i]), "%s", f->dest_uri[i]);
    }
}

static shoal_subscription_t *subscribe(fixture_t *f, int i, int32_t stream_id)
{
    shoal_subscription_t *sub = NULL;
    if (shoal_add_subscription(f->envs.sub_env[i].client, f->sub_uri[i], stream_id, &sub) < 0)
    {
        fail_msg("subscription %d on %s: %s", i, f->sub_uri[i], shoal_errmsg());
    }
    return sub;
}

/* One round: offer up to `batch` messages, poll every live subscriber. */
typedef struct
{
    shoal_publication_t *pub;
    shoal_subscription_t *subs[SUBS];
    seq_checker_t checkers[SUBS];
    bool polling[SUBS];
    uint64_t sent;
    uint8_t buf[8192];
} stream_t;

static void stream_step(stream_t *s, uint64_t limit)
{
    for (int k = 0; k < 16 && s->sent < limit && seq_offer(s->pub, s->sent, s->buf); k++)
    {
        s->sent++;
    }
    for (int i = 0; i < SUBS; i++)
    {
        if (NULL != s->subs[i] && s->polling[i])
        {
            shoal_subscription_poll(s->subs[i], seq_check, &s->checkers[i], 256);
        }
    }
}

/* Runs until `sent` reaches limit and every polling subscriber has the
 * message before it, or timeout; returns the longest time no polling
 * subscriber received anything (the stall). */
static int64_t stream_run(stream_t *s, uint64_t limit, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    int64_t last_progress = shoal_test_now_ms();
    int64_t stall = 0;
    uint64_t last_total = 0;
    for (;;)
    {
        stream_step(s, limit);
        bool done = s->sent == limit;
        uint64_t total = 0;
        for (int i = 0; i < SUBS; i++)
        {
            if (NULL != s->subs[i] && s->polling[i])
            {
                done = done && s->checkers[i].any && s->checkers[i].next_seq == limit;
                total += s->checkers[i].received;
            }
        }
        int64_t now = shoal_test_now_ms();
        if (total != last_total)
        {
            stall = now - last_progress > stall ? now - last_progress : stall;
            last_progress = now;
            last_total = total;
        }
        if (done || now > deadline)
        {
            return stall;
        }
    }
}

static void stream_close(stream_t *s)
{
    shoal_publication_close(s->pub);
    for (int i = 0; i < SUBS; i++)
    {
        if (NULL != s->subs[i])
        {
            shoal_subscription_close(s->subs[i]);
        }
    }
}

static void expect_everything(const stream_t *s, int i, uint64_t total)
{
    const seq_checker_t *c = &s->checkers[i];
    if (0 != c->errors || 0 != c->first_seq || total != c->received)
    {
        fail_msg("subscriber %d: %llu of %llu messages from seq %llu, %llu errors", i, (unsigned long long)c->received,
            (unsigned long long)total, (unsigned long long)c->first_seq, (unsigned long long)c->errors);
    }
}

static void dynamic_three_subscribers(void **state, const char *extra)
{
    fixture_t *f = *state;
    dynamic_uris(f, extra);
    stream_t *s = calloc(1, sizeof(*s));
    for (int i = 0; i < SUBS; i++)
    {
        s->subs[i] = subscribe(f, i, 30);
        s->polling[i] = true;
    }
    assert_int_equal(0, shoal_add_exclusive_publication(f->envs.pub_env.client, f->pub_uri, 30, &s->pub));
    for (int i = 0; i < SUBS; i++)
    {
        assert_int_equal(0, shoal_test_wait_images(s->subs[i], 1, 5000));
    }
    assert_int_equal(0, shoal_test_wait_connected(s->pub));
    const uint64_t total = 20000;
    int64_t start = shoal_test_now_ms();
    stream_run(s, total, 30000);
    printf("MDC dynamic %s: %llu messages to %d subscribers in %lld ms, retransmits %lld\n", f->pub_uri,
        (unsigned long long)total, SUBS, (long long)(shoal_test_now_ms() - start),
        (long long)udp_test_counter(f->envs.pub_env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT));
    for (int i = 0; i < SUBS; i++)
    {
        multi_envs_print_subscriber(&f->envs, i, s->checkers[i].received);
    }
    for (int i = 0; i < SUBS; i++)
    {
        expect_everything(s, i, total);
    }
    stream_close(s);
    free(s);
}

/* fc=min: nobody is outrun. */
static void test_dynamic_three_subscribers_fc_min(void **state)
{
    dynamic_three_subscribers(state, "|fc=min");
}

/* The MDC default, max: the fastest receiver sets the pace and the others
 * catch up by NAK. A receiver left more than a term behind cannot (its
 * image times out and rejoins at the live position, as in Aeron), so the
 * term here holds the whole run (~9 MB): everything must arrive. */
static void test_dynamic_three_subscribers_fc_max(void **state)
{
    dynamic_three_subscribers(state, "|term-length=16m");
}

/* A subscriber that joins a running stream gets whole messages from its
 * join position on: a contiguous run to the end, the first one complete
 * even if the join fell inside a fragmented message. A thread publishes
 * all along, so the join lands in a stream in flight; it stops only once
 * the late joiner has received a share of its own, because how long the
 * join takes (the late driver hears a setup, maps a log) depends on the
 * machine's load, and a stream that ended before it would leave the late
 * joiner nothing to receive. */
typedef struct
{
    shoal_publication_t *pub;
    volatile int stop;
    uint64_t sent;
} publisher_thread_t;

static void *publish_all(void *arg)
{
    publisher_thread_t *t = arg;
    uint8_t buf[8192];
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE))
    {
        if (seq_offer(t->pub, t->sent, buf))
        {
            t->sent++;
        }
    }
    return NULL;
}

static void poll_all(stream_t *s)
{
    for (int i = 0; i < SUBS; i++)
    {
        if (NULL != s->subs[i])
        {
            shoal_subscription_poll(s->subs[i], seq_check, &s->checkers[i], 256);
        }
    }
}

static void test_dynamic_late_joiner(void **state)
{
    fixture_t *f = *state;
    dynamic_uris(f, "|fc=min");
    stream_t *s = calloc(1, sizeof(*s));
    for (int i = 0; i < 2; i++)
    {
        s->subs[i] = subscribe(f, i, 31);
        s->polling[i] = true;
    }
    assert_int_equal(0, shoal_add_exclusive_publication(f->envs.pub_env.client, f->pub_uri, 31, &s->pub));
    assert_int_equal(0, shoal_test_wait_images(s->subs[0], 1, 5000));
    assert_int_equal(0, shoal_test_wait_images(s->subs[1], 1, 5000));
    assert_int_equal(0, shoal_test_wait_connected(s->pub));

    const uint64_t before_join = 5000;
    const uint64_t after_join = 5000;
    publisher_thread_t t = { s->pub, 0, 0 };
    pthread_t thread;
    assert_int_equal(0, pthread_create(&thread, NULL, publish_all, &t));
    int64_t deadline = shoal_test_now_ms() + 30000;
    while (s->checkers[0].received < before_join && shoal_test_now_ms() < deadline)
    {
        poll_all(s);
    }
    /* Joins while the publisher thread keeps offering. */
    s->subs[2] = subscribe(f, 2, 31);
    s->polling[2] = true;
    int64_t joined_at = shoal_test_now_ms();
    while (s->checkers[2].received < after_join && shoal_test_now_ms() < deadline)
    {
        poll_all(s);
    }
    int64_t join_ms = shoal_test_now_ms() - joined_at;
    __atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    const uint64_t total = t.sent;
    while ((s->checkers[0].received < total || s->checkers[1].received < total || s->checkers[2].next_seq < total) &&
        shoal_test_now_ms() < deadline)
    {
        poll_all(s);
    }
    const seq_checker_t *late = &s->checkers[2];
    printf("MDC late joiner: first message seq %llu at position %lld, got %llu of %llu (%llu received within %lld ms "
           "of the join)\n",
        (unsigned long long)late->first_seq, (long long)late->first_position, (unsigned long long)late->received,
        (unsigned long long)total, (unsigned long long)after_join, (long long)join_ms);
    expect_everything(s, 0, total);
    expect_everything(s, 1, total);
    assert_int_equal(0, late->errors);
    assert_true(late->any);
    assert_true(late->first_seq >= before_join);
    assert_true(late->first_position > 0);
    assert_int_equal(total - late->first_seq, late->received);
    stream_close(s);
    free(s);
}

/* fc=min, three subscribers; one leaves mid-stream. Until the publisher's
 * flow control drops it (receiver timeout, 500 ms here) the others may be
 * held back; never longer. how: 0 closes the subscription, 1 closes its
 * whole driver. */
static void leaver(void **state, int how)
{
    fixture_t *f = *state;
    dynamic_uris(f, "|fc=min");
    stream_t *s = calloc(1, sizeof(*s));
    for (int i = 0; i < SUBS; i++)
    {
        s->subs[i] = subscribe(f, i, 32 + how);
        s->polling[i] = true;
    }
    assert_int_equal(0, shoal_add_exclusive_publication(f->envs.pub_env.client, f->pub_uri, 32 + how, &s->pub));
    for (int i = 0; i < SUBS; i++)
    {
        assert_int_equal(0, shoal_test_wait_images(s->subs[i], 1, 5000));
    }
    assert_int_equal(0, shoal_test_wait_connected(s->pub));
    int64_t normal_stall = stream_run(s, 5000, 20000);

    /* Subscriber 2 stops reading and leaves. */
    s->polling[2] = false;
    if (0 == how)
    {
        assert_int_equal(0, shoal_subscription_close(s->subs[2]));
    }
    else
    {
        shoal_test_env_t *env = &f->envs.sub_env[2];
        shoal_client_close(env->client);
        shoal_driver_close(env->driver);
        env->client = NULL;
        env->driver = NULL;
    }
    s->subs[2] = NULL;
    int64_t left = shoal_test_now_ms();
    const uint64_t total = 25000;
    int64_t stall = stream_run(s, total, 30000);
    printf("MDC leaver (%s): stall %lld ms (before it left: %lld ms), %llu more messages in %lld ms; receiver "
           "timeout %d ms\n",
        0 == how ? "subscription closed" : "driver closed", (long long)stall, (long long)normal_stall,
        (unsigned long long)(total - 5000), (long long)(shoal_test_now_ms() - left), RECEIVER_TIMEOUT_MS);
    expect_everything(s, 0, total);
    expect_everything(s, 1, total);
    /* The timeout, plus the sender's idle check and a loaded machine. */
    assert_true(stall < RECEIVER_TIMEOUT_MS + 1500);
    stream_close(s);
    free(s);
}

static void test_dynamic_leaver_subscription_closed(void **state)
{
    leaver(state, 0);
}

static void test_dynamic_leaver_driver_closed(void **state)
{
    leaver(state, 1);
}

static void expect_error(int rc, int code, const char *what)
{
    if (-1 != rc || code != shoal_errcode())
    {
        fail_msg("%s: rc %d errcode %d (expected %d): %s", what, rc, shoal_errcode(), code, shoal_errmsg());
    }
    printf("  %s -> %s\n", what, shoal_errmsg());
}

/* control-mode=manual: destinations come and go by API call. A removed
 * destination stops receiving and leaves fc=min at once, long before the
 * receiver timeout (5 s here). */
static void test_manual_add_remove_destination(void **state)
{
    fixture_t *f = *state;
    manual_uris(f, "|fc=min");
    stream_t *s = calloc(1, sizeof(*s));
    for (int i = 0; i < SUBS; i++)
    {
        s->subs[i] = subscribe(f, i, 40);
    }
    assert_int_equal(0, shoal_add_exclusive_publication(f->envs.pub_env.client, f->pub_uri, 40, &s->pub));
    shoal_test_sleep_ms(150);
    assert_false(shoal_publication_is_connected(s->pub));
    assert_int_equal(0, shoal_subscription_image_count(s->subs[0]));

    assert_int_equal(0, shoal_publication_add_destination(s->pub, f->dest_uri[0]));
    assert_int_equal(0, shoal_publication_add_destination(s->pub, f->dest_uri[1]));
    s->polling[0] = s->polling[1] = true;
    assert_int_equal(0, shoal_test_wait_connected(s->pub));
    assert_int_equal(0, shoal_test_wait_images(s->subs[0], 1, 5000));
    assert_int_equal(0, shoal_test_wait_images(s->subs[1], 1, 5000));
    stream_run(s, 5000, 20000);
    expect_everything(s, 0, 5000);
    expect_everything(s, 1, 5000);
    assert_int_equal(0, s->checkers[2].received);

    /* Same destination twice, one never added, bad URIs, NULLs. */
    expect_error(shoal_publication_add_destination(s->pub, f->dest_uri[1]), SHOAL_EINVAL, "duplicate destination");
    expect_error(shoal_publication_remove_destination(s->pub, "aeron:udp?endpoint=127.0.0.1:9"), SHOAL_EINVAL,
        "unknown destination");
    expect_error(shoal_publication_add_destination(s->pub, "aeron:udp?endpoint=127.0.0.1"), SHOAL_EURI, "no port");
    expect_error(shoal_publication_add_destination(s->pub, "aeron:udp?endpoint=no-such-host.invalid:40000"), SHOAL_EURI,
        "unresolvable host");
    expect_error(shoal_publication_add_destination(s->pub, "aeron:ipc"), SHOAL_EURI, "ipc destination");
    expect_error(shoal_publication_add_destination(s->pub, "aeron:udp?endpoint=127.0.0.1:1|bogus=1"), SHOAL_EURI,
        "unknown key");
    expect_error(shoal_publication_add_destination(s->pub, "aeron:udp?control=127.0.0.1:1|control-mode=dynamic"),
        SHOAL_EURI, "control destination");
    expect_error(shoal_publication_add_destination(s->pub, "not a uri"), SHOAL_EURI, "not a uri");
    expect_error(shoal_publication_add_destination(s->pub, NULL), SHOAL_EINVAL, "NULL uri");
    expect_error(shoal_publication_add_destination(NULL, f->dest_uri[2]), SHOAL_EINVAL, "NULL publication");
    expect_error(shoal_publication_remove_destination(NULL, f->dest_uri[2]), SHOAL_EINVAL, "NULL publication (remove)");

    /* A late destination joins the running stream. */
    assert_int_equal(0, shoal_publication_add_destination(s->pub, f->dest_uri[2]));
    s->polling[2] = true;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (0 == shoal_subscription_image_count(s->subs[2]) && shoal_test_now_ms() < deadline)
    {
        stream_step(s, s->sent + 16);
    }
    assert_int_equal(1, shoal_subscription_image_count(s->subs[2]));
    stream_run(s, s->sent + 5000, 20000);
    assert_true(s->checkers[2].received > 0);
    assert_int_equal(0, s->checkers[2].errors);

    /* Subscriber 0 stops reading, then is removed: with fc=min it would
     * hold the others back until the receiver timeout; removed, it does not. */
    s->polling[0] = false;
    uint64_t had = s->checkers[0].received;
    assert_int_equal(0, shoal_publication_remove_destination(s->pub, f->dest_uri[0]));
    int64_t removed_at = shoal_test_now_ms();
    uint64_t total = s->sent + 5000;
    int64_t stall = stream_run(s, total, 20000);
    int64_t took = shoal_test_now_ms() - removed_at;
    /* Reading again: only what it had been sent before removal. */
    for (int k = 0; k < 100; k++)
    {
        shoal_subscription_poll(s->subs[0], seq_check, &s->checkers[0], 256);
    }
    printf("MDC manual: removal of a non-reading destination: stall %lld ms, 5000 messages in %lld ms; removed one "
           "had %llu then %llu messages, of %llu\n",
        (long long)stall, (long long)took, (unsigned long long)had, (unsigned long long)s->checkers[0].received,
        (unsigned long long)total);
    assert_true(took < 4000);
    assert_int_equal(total, s->checkers[1].received);
    assert_int_equal(total, s->checkers[2].next_seq);
    assert_int_equal(0, s->checkers[2].errors);
    assert_int_equal(0, s->checkers[0].errors);
    assert_true(s->checkers[0].received < total);
    expect_error(shoal_publication_remove_destination(s->pub, f->dest_uri[0]), SHOAL_EINVAL, "removed twice");

    /* And it may come back. */
    assert_int_equal(0, shoal_publication_add_destination(s->pub, f->dest_uri[0]));
    stream_close(s);
    free(s);
}

/* Destinations only make sense on a manual MDC publication. */
static void test_destination_needs_manual_mdc(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *unicast, *dynamic, *ipc;
    dynamic_uris(f, "");
    assert_int_equal(0, shoal_add_publication(f->envs.pub_env.client, f->dest_uri[0], 50, &unicast));
    assert_int_equal(0, shoal_add_publication(f->envs.pub_env.client, f->pub_uri, 50, &dynamic));
    assert_int_equal(0, shoal_add_publication(f->envs.pub_env.client, "aeron:ipc", 50, &ipc));
    expect_error(shoal_publication_add_destination(unicast, f->dest_uri[1]), SHOAL_EINVAL, "unicast publication");
    expect_error(shoal_publication_add_destination(dynamic, f->dest_uri[1]), SHOAL_EINVAL, "dynamic MDC publication");
    expect_error(shoal_publication_remove_destination(dynamic, f->dest_uri[1]), SHOAL_EINVAL,
        "dynamic MDC publication (remove)");
    expect_error(shoal_publication_add_destination(ipc, f->dest_uri[1]), SHOAL_EINVAL, "IPC publication");
    shoal_publication_close(unicast);
    shoal_publication_close(dynamic);
    shoal_publication_close(ipc);
}

/* A publication whose client lost its driver is closed: ECLOSED, no hang. */
static void test_destination_on_closed_publication(void **state)
{
    (void)state;
    static const char *const settings[] = { "DRIVER_TIMEOUT_MS", "1000", NULL };
    shoal_test_env_t env;
    assert_int_equal(0, udp_test_env_start(&env, "mdc-closed", settings));
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(env.client, "aeron:udp?control-mode=manual", 51, &pub));
    shoal_driver_close(env.driver);
    env.driver = NULL;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (!shoal_publication_is_closed(pub) && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(10);
    }
    assert_true(shoal_publication_is_closed(pub));
    expect_error(shoal_publication_add_destination(pub, "aeron:udp?endpoint=127.0.0.1:40000"), SHOAL_ECLOSED,
        "closed publication");
    expect_error(shoal_publication_remove_destination(pub, "aeron:udp?endpoint=127.0.0.1:40000"), SHOAL_ECLOSED,
        "closed publication (remove)");
    shoal_test_env_stop(&env);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_long_timeout, teardown)

SHOAL_TEST_MAIN({
    T(test_dynamic_three_subscribers_fc_min),
    T(test_dynamic_three_subscribers_fc_max),
    T(test_dynamic_late_joiner),
    cmocka_unit_test_setup_teardown(test_dynamic_leaver_subscription_closed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_dynamic_leaver_driver_closed, setup, teardown),
    T(test_manual_add_remove_destination),
    cmocka_unit_test_setup_teardown(test_destination_needs_manual_mdc, setup, teardown),
    cmocka_unit_test(test_destination_on_closed_publication),
})
