/* PRE_TOUCH on the client side: a new image's log is read through by the
 * client conductor, a 1 MiB slice per duty cycle, with a reference of its
 * own that it drops when done, or at once when the image is gone; nothing
 * is queued with PRE_TOUCH=0; the stream's bytes are untouched either way.
 * An invoker client makes the duty cycles countable: they run in
 * shoal_client_do_work only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"
#include "client/shoal_client.h"

/* 3 x 1 MiB terms and the metadata page: 4 slices. */
#define URI       "aeron:ipc?term-length=1m"
#define STREAM_ID 61

typedef struct
{
    shoal_test_env_t env;
    shoal_context_t *ictx;
    shoal_client_t *invoker;
} fixture_t;

static int setup_with(void **state, const char *pre_touch)
{
    static int n = 0;
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    char name[32];
    snprintf(name, sizeof(name), "ptch%d", n++);
    if (shoal_test_env_start(&f->env, name) < 0 || shoal_context_init(&f->ictx) < 0 ||
        shoal_context_set_dir(f->ictx, f->env.dir) < 0 || shoal_context_set(f->ictx, "PRE_TOUCH", pre_touch) < 0 ||
        shoal_context_set_use_conductor_invoker(f->ictx, true) < 0 || shoal_client_connect(&f->invoker, f->ictx) < 0)
    {
        fprintf(stderr, "setup: %s\n", shoal_errmsg());
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, "1");
}

static int setup_off(void **state)
{
    return setup_with(state, "0");
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
        shoal_context_close(f->ictx);
    }
    shoal_test_env_stop(&f->env);
    free(f);
    return 0;
}

/* The invoker's subscription, and the threaded client's publication,
 * connected; do_work until the image is there. */
static shoal_subscription_t *connect_stream(fixture_t *f, shoal_publication_t **pub)
{
    shoal_subscription_t *sub = NULL;
    assert_int_equal(0, shoal_add_subscription(f->invoker, "aeron:ipc", STREAM_ID, &sub));
    assert_int_equal(0, shoal_add_exclusive_publication(f->env.client, URI, STREAM_ID, pub));
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (shoal_subscription_image_count(sub) < 1 && shoal_test_now_ms() < deadline)
    {
        assert_true(shoal_client_do_work(f->invoker) >= 0);
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(1, shoal_subscription_image_count(sub));
    return sub;
}

static void test_a_new_image_is_read_through_a_slice_per_duty_cycle(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *pub = NULL;
    shoal_subscription_t *sub = connect_stream(f, &pub);
    /* The cycle that made the image read its first slice, at most. */
    assert_int_equal(1, f->invoker->touching_count);
    const size_t length = shoal_mapping_log(f->invoker->touching[0].mapping)->mapped_length;
    assert_true(f->invoker->touching[0].offset <= (size_t)1 << 20);
    int cycles = 0;
    while (f->invoker->touching_count > 0 && cycles < 100)
    {
        size_t before = f->invoker->touching[0].offset;
        assert_true(shoal_client_do_work(f->invoker) >= 1); /* touching is work: no idling */
        cycles++;
        if (f->invoker->touching_count > 0)
        {
            assert_true(f->invoker->touching[0].offset > before);
            assert_true(f->invoker->touching[0].offset < length);
        }
    }
    assert_int_equal(0, f->invoker->touching_count);
    assert_true(cycles >= 2 && cycles <= 4);

    /* The stream as it was. */
    uint8_t msg[100];
    for (uint64_t i = 0; i < 1000; i++)
    {
        memset(msg, (int)(i & 0xff), sizeof(msg));
        memcpy(msg, &i, sizeof(i));
        assert_true(shoal_test_offer(pub, msg, sizeof(msg)) > 0);
    }
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1000, shoal_test_poll_until(sub, shoal_test_collect_seq, c, 1000, 5000));
    assert_int_equal(0, c->errors);
    free(c);
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
}

static void test_an_image_gone_before_it_is_read_through_is_let_go(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *pub = NULL;
    shoal_subscription_t *sub = connect_stream(f, &pub);
    assert_int_equal(1, f->invoker->touching_count);
    assert_true(f->invoker->touching[0].offset < shoal_mapping_log(f->invoker->touching[0].mapping)->mapped_length);
    /* The image goes with its subscription; the conductor's reference is the
     * last one: the next cycle drops it (ASan: nothing leaks, nothing is
     * read after the unmap). */
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_true(shoal_client_do_work(f->invoker) >= 0);
    assert_int_equal(0, f->invoker->touching_count);
    assert_int_equal(0, shoal_publication_close(pub));
}

static void test_a_client_closed_while_reading_through_lets_go(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *pub = NULL;
    connect_stream(f, &pub);
    assert_int_equal(1, f->invoker->touching_count);
    /* The teardown closes the invoker client with its subscription and the
     * queued mapping (ASan: nothing leaks). */
    assert_int_equal(0, shoal_publication_close(pub));
}

static void test_nothing_is_queued_with_pre_touch_off(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *pub = NULL;
    shoal_subscription_t *sub = connect_stream(f, &pub);
    assert_int_equal(0, f->invoker->touching_count);
    assert_null(f->invoker->touching);
    assert_true(shoal_test_offer(pub, (const uint8_t *)"hello", 5) > 0);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, shoal_test_poll_until(sub, shoal_test_collect, c, 1, 5000));
    free(c);
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
}

static void test_the_setting_is_a_boolean(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(0, shoal_context_set(f->ictx, "PRE_TOUCH", "0"));
    assert_int_equal(-1, shoal_context_set(f->ictx, "PRE_TOUCH", "maybe"));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "PRE_TOUCH"));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_a_new_image_is_read_through_a_slice_per_duty_cycle, setup, teardown),
    cmocka_unit_test_setup_teardown(test_an_image_gone_before_it_is_read_through_is_let_go, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_client_closed_while_reading_through_lets_go, setup, teardown),
    cmocka_unit_test_setup_teardown(test_nothing_is_queued_with_pre_touch_off, setup_off, teardown),
    cmocka_unit_test_setup_teardown(test_the_setting_is_a_boolean, setup, teardown),
})
