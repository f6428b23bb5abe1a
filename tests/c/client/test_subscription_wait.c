/* Waiting without spinning: shoal_subscription_wait and
 * shoal_publication_wait_available through an embedded driver. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "../shoal_test_checks.h"
#include "../transport/udp_test_util.h"

#define MS 1000000LL

/* Internal (shoal_client.h): no periodic recheck, so every wake-up tested
 * here must come from the event itself. */
void shoal_wait_set_recheck_ns(int64_t ns);

static int setup(void **state)
{
    return shoal_test_env_setup(state, "wait", NULL);
}

static int teardown(void **state)
{
    shoal_test_env_stop(*state);
    free(*state);
    return 0;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A wait on another thread: its result, error code, wall and CPU time. */
typedef struct
{
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    int64_t timeout_ns;
    int rc;
    int errcode;
    int64_t wall_ns;
    int64_t cpu_ns;
    int started;
    pthread_t thread;
} waiter_t;

static void *subscription_waiter(void *arg)
{
    waiter_t *w = arg;
    int64_t wall = mono_ns(), cpu = thread_cpu_ns();
    __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
    w->rc = shoal_subscription_wait(w->sub, w->timeout_ns);
    w->errcode = shoal_errcode();
    w->cpu_ns = thread_cpu_ns() - cpu;
    w->wall_ns = mono_ns() - wall;
    return NULL;
}

static void *publication_waiter(void *arg)
{
    waiter_t *w = arg;
    __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
    w->rc = shoal_publication_wait_available(w->pub, w->timeout_ns);
    w->errcode = shoal_errcode();
    return NULL;
}

/* Starts fn on its own thread; returns once it is about to wait. */
static void start_waiter(waiter_t *w, void *(*fn)(void *))
{
    assert_int_equal(0, pthread_create(&w->thread, NULL, fn, w));
    while (!__atomic_load_n(&w->started, __ATOMIC_SEQ_CST))
    {
        shoal_test_sleep_ms(1);
    }
}

/* Joins a waiter whose wait a close ended. */
static void assert_wait_ended_by_close(waiter_t *w)
{
    pthread_join(w->thread, NULL);
    assert_int_equal(-1, w->rc);
    assert_int_equal(SHOAL_ECLOSED, w->errcode);
}

/* Offers until back pressure, so the publisher has something to wait for;
 * returns how many offers went in. */
static int64_t fill_window(shoal_publication_t *pub)
{
    int64_t refusal;
    const int64_t accepted = shoal_test_offers_accepted(pub, 1000000, &refusal);
    assert_int_equal(SHOAL_BACK_PRESSURED, refusal);
    return accepted;
}

static int drain(shoal_subscription_t *sub, shoal_test_collector_t *c)
{
    int total = 0, n;
    while ((n = shoal_subscription_poll(sub, shoal_test_collect, c, 100)) > 0)
    {
        total += n;
    }
    return total;
}

static void test_arguments(void **state)
{
    (void)state;
    assert_int_equal(-1, shoal_subscription_wait(NULL, 0));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_publication_wait_available(NULL, 0));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
}

static void test_timeout_and_check_only(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 30, true, true);
    assert_int_equal(0, shoal_subscription_wait(s.sub, 0));
    int64_t t0 = mono_ns();
    assert_int_equal(0, shoal_subscription_wait(s.sub, 30 * MS));
    assert_true(mono_ns() - t0 >= 30 * MS);

    /* Data already there: both return at once, and the wait consumes nothing. */
    const uint8_t msg[] = "ready";
    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    assert_int_equal(1, shoal_subscription_wait(s.sub, 0));
    assert_int_equal(1, shoal_subscription_wait(s.sub, -1));
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, drain(s.sub, c));
    assert_int_equal(0, shoal_subscription_wait(s.sub, 0));
    free(c);
    assert_int_equal(0, shoal_test_stream_close(&s));
}

/* A waiter idle for 300 ms then woken by an offer: it returns 1, the
 * message is there, and it used far less CPU than wall time. */
static void wakes_on_offer(shoal_test_env_t *env, const char *uri, int32_t stream)
{
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, uri, stream, true, true);
    waiter_t w = { .sub = s.sub, .timeout_ns = 10000 * MS };
    start_waiter(&w, subscription_waiter);
    shoal_test_sleep_ms(300);
    const uint8_t msg[] = "wake up";
    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    pthread_join(w.thread, NULL);
    assert_int_equal(1, w.rc);
    assert_true(w.wall_ns >= 300 * MS);
    assert_true(w.cpu_ns * 10 < w.wall_ns);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, shoal_test_poll_until(s.sub, shoal_test_collect, c, 1, 5000));
    assert_memory_equal(msg, c->last, sizeof(msg));
    free(c);
    assert_int_equal(0, shoal_test_stream_close(&s));
}

static void test_ipc_offer_wakes_it(void **state)
{
    wakes_on_offer(*state, "aeron:ipc", 31);
}

static void test_udp_receiver_wakes_it(void **state)
{
    char uri[96];
    snprintf(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", udp_test_free_port());
    wakes_on_offer(*state, uri, 32);
}

static void test_claim_commit_wakes_it(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 33, true, true);
    waiter_t w = { .sub = s.sub, .timeout_ns = 10000 * MS };
    start_waiter(&w, subscription_waiter);
    shoal_test_sleep_ms(50);
    shoal_claim_t claim;
    int64_t r;
    while ((r = shoal_publication_try_claim(s.pub, 8, &claim)) < 0)
    {
        assert_true(SHOAL_ADMIN_ACTION == r || SHOAL_BACK_PRESSURED == r);
    }
    memcpy(claim.data, "claimed", 8);
    shoal_test_sleep_ms(20); /* the waiter sees a claimed frame meanwhile */
    assert_int_equal(0, shoal_claim_commit(&claim));
    pthread_join(w.thread, NULL);
    assert_int_equal(1, w.rc);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, drain(s.sub, c));
    assert_memory_equal("claimed", c->last, 8);
    free(c);
    assert_int_equal(0, shoal_test_stream_close(&s));
}

/* Two publications (two images): a message on either ends the wait. */
static void test_any_image_wakes_it(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_subscription_t *sub;
    shoal_publication_t *a, *b;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 34, &sub));
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc", 34, &a));
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc", 34, &b));
    assert_int_equal(0, shoal_test_wait_images(sub, 2, 5000));
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    shoal_publication_t *pubs[] = { b, a, b };
    for (int i = 0; i < 3; i++)
    {
        waiter_t w = { .sub = sub, .timeout_ns = 10000 * MS };
        start_waiter(&w, subscription_waiter);
        shoal_test_sleep_ms(50);
        const uint8_t msg[] = "either";
        assert_true(shoal_test_offer(pubs[i], msg, sizeof(msg)) > 0);
        pthread_join(w.thread, NULL);
        assert_int_equal(1, w.rc);
        assert_int_equal(1, drain(sub, c));
        assert_int_equal(shoal_publication_session_id(pubs[i]), c->last_hdr.session_id);
    }
    free(c);
    assert_int_equal(0, shoal_publication_close(a));
    assert_int_equal(0, shoal_publication_close(b));
    assert_int_equal(0, shoal_subscription_close(sub));
}

/* A wait on a subscription without images: the publication that appears
 * later, and its first message, end it. */
static void test_new_image_wakes_it(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 35, &sub));
    waiter_t w = { .sub = sub, .timeout_ns = 10000 * MS };
    start_waiter(&w, subscription_waiter);
    shoal_test_sleep_ms(50);
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc", 35, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 5000));
    const uint8_t msg[] = "first";
    assert_true(shoal_test_offer(pub, msg, sizeof(msg)) > 0);
    pthread_join(w.thread, NULL);
    assert_int_equal(1, w.rc);
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
}

static void test_close_ends_it(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 36, true, true);
    waiter_t w = { .sub = s.sub, .timeout_ns = -1 };
    start_waiter(&w, subscription_waiter);
    shoal_test_sleep_ms(50);
    assert_int_equal(0, shoal_subscription_close(s.sub));
    assert_wait_ended_by_close(&w);
    assert_int_equal(0, shoal_publication_close(s.pub));
}

static void test_client_close_ends_it(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 37, true, true);
    waiter_t w = { .sub = s.sub, .timeout_ns = -1 };
    waiter_t pw = { .pub = s.pub, .timeout_ns = -1 };
    fill_window(s.pub);
    /* s.sub has data now (its waits return at once): wait on an empty one. */
    shoal_subscription_t *empty;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 38, &empty));
    w.sub = empty;
    start_waiter(&w, subscription_waiter);
    start_waiter(&pw, publication_waiter);
    shoal_test_sleep_ms(50);
    assert_int_equal(0, shoal_client_close(env->client));
    env->client = NULL;
    assert_wait_ended_by_close(&w);
    assert_wait_ended_by_close(&pw);
}

static void test_publication_wait_available(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 39, true, true);
    assert_int_equal(1, shoal_publication_wait_available(s.pub, 0));
    assert_true(fill_window(s.pub) > 0);
    assert_int_equal(0, shoal_publication_wait_available(s.pub, 0));
    int64_t t0 = mono_ns();
    assert_int_equal(0, shoal_publication_wait_available(s.pub, 30 * MS));
    assert_true(mono_ns() - t0 >= 30 * MS);

    /* The subscriber consumes: the driver moves the limit and wakes it. */
    waiter_t pw = { .pub = s.pub, .timeout_ns = 10000 * MS };
    start_waiter(&pw, publication_waiter);
    shoal_test_sleep_ms(50);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_true(drain(s.sub, c) > 0);
    pthread_join(pw.thread, NULL);
    assert_int_equal(1, pw.rc);
    assert_true(shoal_publication_offer(s.pub, (const uint8_t *)"more", 4) > 0);

    /* Closing the publication from another thread ends its wait. */
    fill_window(s.pub);
    pw.timeout_ns = -1;
    pw.started = 0;
    start_waiter(&pw, publication_waiter);
    shoal_test_sleep_ms(50);
    assert_int_equal(0, shoal_publication_close(s.pub));
    assert_wait_ended_by_close(&pw);
    free(c);
    assert_int_equal(0, shoal_subscription_close(s.sub));
}

int main(void)
{
    shoal_wait_set_recheck_ns(60000 * MS);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test_setup_teardown(test_timeout_and_check_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipc_offer_wakes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_receiver_wakes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_commit_wakes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_image_wakes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_image_wakes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_close_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publication_wait_available, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
