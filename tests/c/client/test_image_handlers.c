/* Image handlers (shoal_add_subscription_with_handlers) and the image
 * accessors, over IPC and over UDP (two embedded drivers on loopback, and a
 * publisher process killed outright to exercise the image liveness timeout). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "../transport/udp_test_util.h"
#include "image_recorder.h"

static void ignore_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf;
    (void)len;
    (void)hdr;
    (*(int *)clientd)++;
}

/* Polls sub (when not NULL) until the recorder holds n events. */
static int wait_events(image_recorder_t *r, shoal_subscription_t *sub, int n, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    int messages = 0;
    while (image_recorder_count(r) < n)
    {
        if (shoal_test_now_ms() > deadline)
        {
            return -1;
        }
        if (NULL != sub)
        {
            shoal_subscription_poll(sub, ignore_message, &messages, 100);
        }
        shoal_test_sleep_ms(1);
    }
    return 0;
}

/* ------------------------------------------------------------------- IPC */

/* A test's env and the recorder its handlers write to. The teardown closes
 * the client first, so a handler it runs for what the test left open still
 * finds the recorder; a test closes by hand only what it checks closing. */
typedef struct
{
    shoal_test_env_t env;
    image_recorder_t *r;
} ipc_fixture_t;

static int ipc_setup(void **state)
{
    if (shoal_test_env_setup_sized(state, sizeof(ipc_fixture_t), "imgh", SHOAL_TEST_ENV_DEFAULTS, NULL) < 0)
    {
        return -1;
    }
    ipc_fixture_t *f = *state;
    f->r = image_recorder_new();
    return 0;
}

static int ipc_teardown(void **state)
{
    ipc_fixture_t *f = *state;
    shoal_test_env_stop(&f->env);
    image_recorder_free(f->r);
    free(f);
    return 0;
}

static void test_ipc_available_then_unavailable(void **state)
{
    ipc_fixture_t *f = *state;
    shoal_test_env_t *env = &f->env;
    image_recorder_t *r = f->r;
    shoal_publication_t *pub;
    shoal_subscription_t *sub = image_recorder_subscribe(r, env->client, "aeron:ipc", 31);
    assert_int_equal(0, image_recorder_count(r));
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", 31, &pub));
    assert_int_equal(0, wait_events(r, NULL, 1, 5000));
    image_event_t a = image_recorder_at(r, 0);
    assert_true(a.available);
    assert_ptr_equal(sub, a.sub);
    assert_int_equal(shoal_publication_session_id(pub), a.session_id);
    assert_int_equal(31, a.stream_id);
    assert_string_equal("aeron:ipc", a.source);
    assert_int_equal(0, a.join_position);
    assert_false(a.closed);
    assert_true(a.correlation_id > 0);
    assert_false(pthread_equal(pthread_self(), a.thread)); /* the conductor thread */
    assert_int_equal(1, shoal_subscription_image_count(sub));

    uint8_t msg[64] = { 1 };
    for (int i = 0; i < 10; i++)
    {
        assert_true(shoal_test_offer(pub, msg, sizeof(msg)) > 0);
    }
    int got = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (got < 10 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, ignore_message, &got, 100);
    }
    assert_int_equal(10, got);
    assert_int_equal(shoal_publication_position(pub), shoal_image_position(a.image));

    shoal_publication_close(pub);
    assert_int_equal(0, wait_events(r, sub, 2, 5000));
    image_event_t u = image_recorder_at(r, 1);
    assert_false(u.available);
    assert_ptr_equal(a.image, u.image);
    assert_int_equal(a.correlation_id, u.correlation_id);
    assert_int_equal(a.session_id, u.session_id);
    assert_true(u.closed);
    assert_int_equal(0, shoal_subscription_image_count(sub));
    shoal_subscription_close(sub);
    assert_int_equal(2, image_recorder_count(r)); /* nothing more at close: the image had gone */
}

static void test_ipc_late_join_position_and_two_sessions(void **state)
{
    ipc_fixture_t *f = *state;
    shoal_test_env_t *env = &f->env;
    image_recorder_t *r = f->r;
    shoal_publication_t *pub1, *pub2;
    shoal_subscription_t *early, *sub;
    /* A subscription without handlers keeps pub1 connected while it fills. */
    assert_int_equal(0, shoal_test_connect(env->client, env->client, "aeron:ipc", 32, true, false, &early, &pub1));
    uint8_t msg[100] = { 0 };
    for (int i = 0; i < 20; i++)
    {
        assert_true(shoal_test_offer(pub1, msg, sizeof(msg)) > 0);
    }
    int64_t pub1_position = shoal_publication_position(pub1);
    assert_int_equal(0,
        shoal_add_subscription_with_handlers(env->client, "aeron:ipc", 32, image_recorder_on_available, NULL, r, &sub));
    assert_int_equal(0, wait_events(r, NULL, 1, 5000));
    image_event_t a1 = image_recorder_at(r, 0);
    assert_int_equal(shoal_publication_session_id(pub1), a1.session_id);
    /* A late subscriber joins at the publisher's position, not at 0. */
    assert_int_equal(pub1_position, a1.join_position);

    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc", 32, &pub2));
    assert_int_equal(0, wait_events(r, NULL, 2, 5000));
    image_event_t a2 = image_recorder_at(r, 1);
    assert_true(a2.available);
    assert_int_equal(shoal_publication_session_id(pub2), a2.session_id);
    assert_int_not_equal(a1.session_id, a2.session_id);
    assert_int_not_equal(a1.correlation_id, a2.correlation_id);
    assert_int_equal(0, a2.join_position);
    assert_int_equal(2, shoal_subscription_image_count(sub));

    /* image_recorder_on_unavailable is NULL: the image still goes, silently. */
    shoal_publication_close(pub2);
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 5000));
    assert_int_equal(2, image_recorder_count(r));
}

static void test_ipc_closing_the_subscription_pairs_every_available(void **state)
{
    ipc_fixture_t *f = *state;
    shoal_test_env_t *env = &f->env;
    image_recorder_t *r = f->r;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", 33, &pub));
    sub = image_recorder_subscribe(r, env->client, "aeron:ipc", 33);
    assert_int_equal(0, wait_events(r, NULL, 1, 5000));
    assert_int_equal(0, shoal_subscription_close(sub));
    /* Called by the closing thread, before close returned. */
    assert_int_equal(2, image_recorder_count(r));
    image_event_t a = image_recorder_at(r, 0), u = image_recorder_at(r, 1);
    assert_true(a.available);
    assert_false(u.available);
    assert_int_equal(a.correlation_id, u.correlation_id);
    assert_true(u.closed);
    assert_true(pthread_equal(pthread_self(), u.thread));
    shoal_publication_close(pub);

    /* Same through shoal_client_close for a subscription left open. */
    image_recorder_t *r2 = image_recorder_new();
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", 34, &pub));
    sub = image_recorder_subscribe(r2, env->client, "aeron:ipc", 34);
    assert_int_equal(0, wait_events(r2, NULL, 1, 5000));
    assert_int_equal(0, shoal_client_close(env->client));
    env->client = NULL;
    assert_int_equal(2, image_recorder_count(r2));
    assert_false(image_recorder_at(r2, 1).available);
    image_recorder_free(r2);
}

static void test_image_accessors_reject_null(void **state)
{
    (void)state;
    assert_int_equal(-1, shoal_image_session_id(NULL));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_image_stream_id(NULL));
    assert_int_equal(-1, shoal_image_correlation_id(NULL));
    assert_int_equal(-1, shoal_image_join_position(NULL));
    assert_int_equal(-1, shoal_image_position(NULL));
    assert_null(shoal_image_source_identity(NULL));
    assert_true(shoal_image_is_closed(NULL));
    shoal_subscription_t *sub = NULL;
    assert_int_equal(-1,
        shoal_add_subscription_with_handlers(NULL, "aeron:ipc", 1, image_recorder_on_available,
            image_recorder_on_unavailable, NULL, &sub));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
}

/* ------------------------------------------------------------------- UDP */

/* "127.0.0.1:<port>" with a real port number. */
static void assert_loopback_source(const char *source)
{
    const char *prefix = "127.0.0.1:";
    assert_int_equal(0, strncmp(source, prefix, strlen(prefix)));
    long port = strtol(source + strlen(prefix), NULL, 10);
    assert_true(port > 0 && port < 65536);
}

static void test_udp_available_and_end_of_stream(void **state)
{
    (void)state;
    /* A long liveness timeout: the quick unavailable must come from EOS. */
    const char *sub_settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "10000", NULL };
    udp_test_pair_t p;
    assert_int_equal(0, udp_test_pair_start(&p, "imgh-udp", NULL, sub_settings));
    image_recorder_t *r = image_recorder_new();
    shoal_publication_t *pub;
    shoal_subscription_t *sub = image_recorder_subscribe(r, p.sub_env.client, p.uri, 41);
    assert_int_equal(0, shoal_add_exclusive_publication(p.pub_env.client, p.uri, 41, &pub));
    assert_int_equal(0, wait_events(r, NULL, 1, 5000));
    image_event_t a = image_recorder_at(r, 0);
    assert_true(a.available);
    assert_int_equal(shoal_publication_session_id(pub), a.session_id);
    assert_int_equal(41, a.stream_id);
    assert_loopback_source(a.source);
    assert_int_equal(0, a.join_position);
    assert_false(a.closed);

    assert_int_equal(0, shoal_test_wait_connected(pub));
    uint8_t msg[200] = { 7 };
    for (int i = 0; i < 50; i++)
    {
        assert_true(shoal_test_offer(pub, msg, sizeof(msg)) > 0);
    }
    int64_t end = shoal_publication_position(pub);
    int64_t closed_at = shoal_test_now_ms();
    shoal_publication_close(pub);
    assert_int_equal(0, wait_events(r, sub, 2, 5000));
    image_event_t u = image_recorder_at(r, 1);
    assert_false(u.available);
    assert_int_equal(a.correlation_id, u.correlation_id);
    assert_true(u.closed);
    assert_int_equal(end, u.position); /* everything consumed before it went */
    printf("udp: unavailable %lld ms after close (end of stream)\n", (long long)(u.at_ms - closed_at));
    assert_true(u.at_ms - closed_at < 3000);
    assert_int_equal(0, shoal_subscription_image_count(sub));
    shoal_subscription_close(sub);
    assert_int_equal(2, image_recorder_count(r));
    udp_test_pair_stop(&p);
    image_recorder_free(r);
}

/* The publisher's process dies (SIGKILL): no EOS, no goodbye. The image
 * must go after the image liveness timeout, not before and not much after. */
static void test_udp_unavailable_after_liveness_timeout(void **state)
{
    (void)state;
    int port = udp_test_free_port();
    char uri[128];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", port);
    int ready[2];
    assert_int_equal(0, pipe(ready));
    /* Forked before this process starts any thread of its own. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (0 == child)
    {
        /* Never outlive a parent whose assertion failed before the kill. */
        alarm(60);
        close(ready[0]);
        shoal_test_env_t env;
        shoal_publication_t *pub;
        if (udp_test_env_start(&env, "imgh-udp-victim", NULL) < 0 ||
            shoal_add_exclusive_publication(env.client, uri, 42, &pub) < 0 || shoal_test_wait_connected(pub) < 0)
        {
            _exit(1);
        }
        uint8_t msg[32] = { 0 };
        shoal_test_offer(pub, msg, sizeof(msg));
        int32_t session = shoal_publication_session_id(pub);
        if (write(ready[1], &session, sizeof(session)) != (ssize_t)sizeof(session))
        {
            _exit(1);
        }
        for (;;)
        {
            pause();
        }
    }
    close(ready[1]);
    const char *sub_settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "500", NULL };
    shoal_test_env_t sub_env;
    assert_int_equal(0, udp_test_env_start(&sub_env, "imgh-udp-live", sub_settings));
    image_recorder_t *r = image_recorder_new();
    shoal_subscription_t *sub = image_recorder_subscribe(r, sub_env.client, uri, 42);
    int32_t session = 0;
    assert_int_equal((ssize_t)sizeof(session), read(ready[0], &session, sizeof(session)));
    close(ready[0]);
    assert_int_equal(0, wait_events(r, sub, 1, 5000));
    assert_int_equal(session, image_recorder_at(r, 0).session_id);
    assert_loopback_source(image_recorder_at(r, 0).source);

    int64_t killed_at = shoal_test_now_ms();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(0, wait_events(r, sub, 2, 5000));
    image_event_t u = image_recorder_at(r, 1);
    assert_false(u.available);
    assert_true(u.closed);
    int64_t after = u.at_ms - killed_at;
    printf("udp: unavailable %lld ms after the publisher was killed (liveness timeout 500 ms)\n", (long long)after);
    assert_true(after >= 400 && after < 2500);
    shoal_subscription_close(sub);
    shoal_test_env_stop(&sub_env);
    image_recorder_free(r);
    /* The killed driver could not clean its directory. */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf /dev/shm/shoal-test-%ld-imgh-udp-victim", (long)child);
    assert_int_equal(0, system(cmd));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_unavailable_after_liveness_timeout),
        cmocka_unit_test(test_image_accessors_reject_null),
        cmocka_unit_test_setup_teardown(test_ipc_available_then_unavailable, ipc_setup, ipc_teardown),
        cmocka_unit_test_setup_teardown(test_ipc_late_join_position_and_two_sessions, ipc_setup, ipc_teardown),
        cmocka_unit_test_setup_teardown(test_ipc_closing_the_subscription_pairs_every_available, ipc_setup,
            ipc_teardown),
        cmocka_unit_test(test_udp_available_and_end_of_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
