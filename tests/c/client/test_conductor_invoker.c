/* Conductor-invoker mode (shoal_context_set_use_conductor_invoker and
 * shoal_client_do_work): no conductor thread, the duty runs on the caller's
 * thread; image handlers fire only there; keepalives only while do_work is
 * called. Also the context's count of its clients (closing it in use fails)
 * and the guard against re-entering a client from its own image handler. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "../shoal_test_main.h"
#include "image_recorder.h"

/* Tries to add a publication on its own client (and do_work, which must
 * refuse the same way): would wait for itself without the guard. */
static void on_available_reentering(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    image_recorder_t *r = clientd;
    shoal_publication_t *pub = NULL;
    r->reenter_rc = shoal_add_publication(r->reenter, "aeron:ipc", 77, &pub);
    r->reenter_code = shoal_errcode();
    r->reenter_do_work_rc = shoal_client_do_work(r->reenter);
    image_recorder_on_available(clientd, sub, image);
}

/* A driver with a threaded client (env->client), plus an invoker client on a
 * context of its own (same directory). */
typedef struct
{
    shoal_test_env_t env;
    shoal_context_t *ictx;
    shoal_client_t *invoker;
} fixture_t;

static int setup_with(void **state, const char *const *settings)
{
    static int n = 0;
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    char name[32];
    snprintf(name, sizeof(name), "invk%d", n++);
    if (shoal_test_env_start_settings(&f->env, name, SHOAL_TEST_ENV_DEFAULTS, settings) < 0 ||
        shoal_context_init(&f->ictx) < 0 || shoal_context_set_dir(f->ictx, f->env.dir) < 0 ||
        shoal_context_set_use_conductor_invoker(f->ictx, true) < 0 || shoal_client_connect(&f->invoker, f->ictx) < 0)
    {
        fprintf(stderr, "setup: %s\n", shoal_errmsg());
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

/* The driver times a silent client out after 300 ms. */
static int setup_short_liveness(void **state)
{
    static const char *const settings[] = { "CLIENT_LIVENESS_TIMEOUT_MS", "300", NULL };
    return setup_with(state, settings);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (NULL != f->invoker)
    {
        shoal_client_close(f->invoker);
    }
    if (NULL != f->ictx)
    {
        assert_int_equal(0, shoal_context_close(f->ictx));
    }
    shoal_test_env_stop(&f->env);
    free(f);
    return 0;
}

/* Calls do_work until the recorder holds n events (or 5 s passed). */
static int do_work_until(shoal_client_t *c, image_recorder_t *r, int n)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (image_recorder_count(r) < n)
    {
        if (shoal_test_now_ms() > deadline || shoal_client_do_work(c) < 0)
        {
            return -1;
        }
        shoal_test_sleep_ms(1);
    }
    return 0;
}

static void test_mode_and_argument_errors(void **state)
{
    fixture_t *f = *state;
    assert_true(shoal_context_get_use_conductor_invoker(f->ictx));
    assert_false(shoal_context_get_use_conductor_invoker(f->env.ctx));
    assert_false(shoal_context_get_use_conductor_invoker(NULL));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_context_set_use_conductor_invoker(NULL, true));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());

    assert_true(shoal_client_is_conductor_invoker(f->invoker));
    assert_false(shoal_client_is_conductor_invoker(f->env.client));
    assert_false(shoal_client_is_conductor_invoker(NULL));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());

    assert_int_equal(-1, shoal_client_do_work(NULL));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    /* a client with its own conductor thread: a clear error, nothing done */
    assert_int_equal(-1, shoal_client_do_work(f->env.client));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "runs its own conductor thread"));
    assert_true(shoal_client_do_work(f->invoker) >= 0);
}

static void test_handlers_fire_only_in_do_work_on_the_calling_thread(void **state)
{
    fixture_t *f = *state;
    image_recorder_t *r = image_recorder_new();
    shoal_subscription_t *sub = image_recorder_subscribe(r, f->invoker, "aeron:ipc", 41);
    /* published by the threaded client: the invoker client does no duty but ours */
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(f->env.client, "aeron:ipc", 41, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    shoal_test_sleep_ms(200);
    assert_int_equal(0, image_recorder_count(r));
    assert_int_equal(0, shoal_subscription_image_count(sub));

    int work = shoal_client_do_work(f->invoker);
    assert_true(work >= 1);
    assert_int_equal(1, image_recorder_count(r));
    assert_true(r->events[0].available);
    assert_int_equal(shoal_publication_session_id(pub), r->events[0].session_id);
    assert_true(pthread_equal(pthread_self(), r->events[0].thread));
    assert_int_equal(1, shoal_subscription_image_count(sub));

    shoal_publication_close(pub);
    shoal_test_sleep_ms(300);
    assert_int_equal(1, image_recorder_count(r));
    assert_int_equal(0, do_work_until(f->invoker, r, 2));
    assert_false(r->events[1].available);
    assert_true(r->events[1].closed);
    assert_ptr_equal(r->events[0].image, r->events[1].image);
    assert_true(pthread_equal(pthread_self(), r->events[1].thread));
    assert_int_equal(0, shoal_subscription_image_count(sub));
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(2, image_recorder_count(r));
    image_recorder_free(r);
}

static void count_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf;
    (void)hdr;
    assert_int_equal(8, len);
    (*(int *)clientd)++;
}

static void test_invoker_client_publishes_and_polls(void **state)
{
    fixture_t *f = *state;
    image_recorder_t *r = image_recorder_new();
    shoal_publication_t *pub;
    shoal_subscription_t *sub = image_recorder_subscribe(r, f->invoker, "aeron:ipc", 42);
    assert_int_equal(0, shoal_add_exclusive_publication(f->invoker, "aeron:ipc", 42, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    uint8_t msg[8] = { 7 };
    int got = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    for (int sent = 0; sent < 100 && shoal_test_now_ms() < deadline;)
    {
        if (shoal_publication_offer(pub, msg, sizeof(msg)) > 0)
        {
            sent++;
        }
        assert_true(shoal_subscription_poll(sub, count_message, &got, 10) >= 0);
        assert_true(shoal_client_do_work(f->invoker) >= 0);
    }
    while (got < 100 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, count_message, &got, 100);
    }
    assert_int_equal(100, got);
    assert_int_equal(0, do_work_until(f->invoker, r, 1));
    /* closing the subscription pairs the image on the closing thread */
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(2, image_recorder_count(r));
    assert_false(r->events[1].available);
    assert_true(pthread_equal(pthread_self(), r->events[1].thread));
    assert_int_equal(0, shoal_publication_close(pub));
    image_recorder_free(r);
}

static void test_keepalives_only_while_do_work_is_called(void **state)
{
    fixture_t *f = *state;
    /* A second invoker client that nobody drives. */
    shoal_client_t *idle;
    assert_int_equal(0, shoal_client_connect(&idle, f->ictx));
    int64_t until = shoal_test_now_ms() + 1500; /* five liveness timeouts */
    while (shoal_test_now_ms() < until)
    {
        assert_true(shoal_client_do_work(f->invoker) >= 0);
        shoal_test_sleep_ms(10);
    }
    assert_false(shoal_client_is_closed(f->invoker));
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(f->invoker, "aeron:ipc", 43, &pub));
    assert_int_equal(0, shoal_publication_close(pub));

    /* The idle one was timed out; it learns so at its next do_work. */
    assert_false(shoal_client_is_closed(idle));
    assert_int_equal(-1, shoal_client_do_work(idle));
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "timed this client out"));
    assert_true(shoal_client_is_closed(idle));
    assert_int_equal(-1, shoal_add_publication(idle, "aeron:ipc", 43, &pub));
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    assert_int_equal(0, shoal_client_close(idle));
}

static void test_driver_loss_seen_by_do_work(void **state)
{
    fixture_t *f = *state;
    shoal_context_t *ctx;
    shoal_client_t *c;
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_int_equal(0, shoal_context_set_dir(ctx, f->env.dir));
    assert_int_equal(0, shoal_context_set_driver_timeout_ms(ctx, 300));
    assert_int_equal(0, shoal_context_set_use_conductor_invoker(ctx, true));
    assert_int_equal(0, shoal_client_connect(&c, ctx));
    assert_true(shoal_client_do_work(c) >= 0);
    shoal_client_close(f->env.client);
    f->env.client = NULL;
    shoal_driver_close(f->env.driver);
    f->env.driver = NULL;
    int64_t deadline = shoal_test_now_ms() + 5000;
    int rc = 0;
    while (rc >= 0 && shoal_test_now_ms() < deadline)
    {
        rc = shoal_client_do_work(c);
        shoal_test_sleep_ms(10);
    }
    assert_int_equal(-1, rc);
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "not responding"));
    assert_int_equal(0, shoal_client_close(c));
    assert_int_equal(0, shoal_context_close(ctx));
}

static void test_context_close_while_in_use(void **state)
{
    fixture_t *f = *state;
    shoal_client_t *second;
    assert_int_equal(0, shoal_client_connect(&second, f->ictx));
    assert_int_equal(-1, shoal_context_close(f->ictx));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "still used by 2 clients"));
    assert_int_equal(0, shoal_client_close(second));
    assert_int_equal(-1, shoal_context_close(f->ictx));
    assert_non_null(strstr(shoal_errmsg(), "still used by 1 client:"));
    /* A timed-out client still holds its context until closed. */
    assert_int_equal(0, shoal_client_close(f->invoker));
    f->invoker = NULL;
    assert_int_equal(0, shoal_context_close(f->ictx));
    f->ictx = NULL;
    /* A driver copies its context: closing it under a running driver is fine. */
    shoal_context_t *ctx;
    shoal_driver_t *driver;
    char dir[160];
    snprintf(dir, sizeof(dir), "%s-own", f->env.dir);
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_int_equal(0, shoal_context_set_dir(ctx, dir));
    assert_int_equal(0, shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1"));
    assert_int_equal(0, shoal_driver_start(&driver, ctx));
    assert_int_equal(0, shoal_context_close(ctx));
    assert_true(shoal_driver_is_active(dir, 1000));
    assert_int_equal(0, shoal_driver_close(driver));
}

static void test_handler_cannot_reenter_its_client(void **state)
{
    fixture_t *f = *state;
    /* invoker mode: the handler runs inside do_work */
    image_recorder_t *r = image_recorder_new();
    r->reenter = f->invoker;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0,
        shoal_add_subscription_with_handlers(f->invoker, "aeron:ipc", 44, on_available_reentering, NULL, r, &sub));
    assert_int_equal(0, shoal_add_publication(f->env.client, "aeron:ipc", 44, &pub));
    assert_int_equal(0, do_work_until(f->invoker, r, 1));
    assert_int_equal(-1, r->reenter_rc);
    assert_int_equal(SHOAL_ESTATE, r->reenter_code);
    assert_int_equal(-1, r->reenter_do_work_rc);
    /* the client is fine afterwards */
    assert_true(shoal_client_do_work(f->invoker) >= 0);
    assert_int_equal(0, shoal_subscription_close(sub));

    /* threaded mode: the handler runs on the conductor thread, which used to
     * wait for itself here; now the call fails at once */
    image_recorder_t *t = image_recorder_new();
    t->reenter = f->env.client;
    assert_int_equal(0,
        shoal_add_subscription_with_handlers(f->env.client, "aeron:ipc", 44, on_available_reentering, NULL, t, &sub));
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (image_recorder_count(t) < 1 && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(1, image_recorder_count(t));
    pthread_mutex_lock(&t->lock);
    assert_int_equal(-1, t->reenter_rc);
    assert_int_equal(SHOAL_ESTATE, t->reenter_code);
    assert_int_equal(-1, t->reenter_do_work_rc);
    pthread_mutex_unlock(&t->lock);
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_publication_close(pub));
    image_recorder_free(r);
    image_recorder_free(t);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_mode_and_argument_errors),
    T(test_handlers_fire_only_in_do_work_on_the_calling_thread),
    T(test_invoker_client_publishes_and_polls),
    cmocka_unit_test_setup_teardown(test_keepalives_only_while_do_work_is_called, setup_short_liveness, teardown),
    T(test_driver_loss_seen_by_do_work),
    T(test_context_close_while_in_use),
    T(test_handler_cannot_reenter_its_client),
})
