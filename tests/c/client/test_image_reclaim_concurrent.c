/* An image that goes away while a poller still uses it is freed only once
 * the poller has moved on, however long that takes: the client's linger
 * (50 ms here) is far shorter than the handler (1 s). Before reclamation by
 * quiescence these read freed memory (ASan: heap-use-after-free on the old
 * image list; SEGV reading an unmapped log). Run under ASan and TSan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "client/shoal_client.h"

#define HANDLER_SLEEP_MS 1000

static int setup(void **state)
{
    static const char *const settings[] = { "PUBLICATION_LINGER_MS", "50", NULL };
    return shoal_test_env_setup(state, "reclaim", settings);
}

static int lingering(shoal_client_t *c)
{
    pthread_mutex_lock(&c->lock);
    int n = c->lingering_count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Polls (nothing to read) until the client has freed everything retired. */
static int wait_reclaimed(shoal_client_t *c, shoal_subscription_t *sub)
{
    int64_t deadline = shoal_test_now_ms() + 10000;
    shoal_fragment_t f[4];
    while (lingering(c) > 0)
    {
        if (shoal_test_now_ms() > deadline)
        {
            return -1;
        }
        shoal_subscription_poll_batch(sub, f, 4);
        shoal_test_sleep_ms(1);
    }
    return 0;
}

typedef struct
{
    shoal_publication_t *closing; /* closed from inside the handler */
    shoal_subscription_t *sub;
    int32_t slow_session_id;
    int messages;
    int saw_image_gone;
    uint8_t first_byte;
} slow_handler_t;

static void slow_handler(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    slow_handler_t *h = clientd;
    h->messages++;
    if (hdr->session_id != h->slow_session_id || NULL == h->closing)
    {
        return;
    }
    /* The other image has nothing left to read: closing its publication makes
     * the driver drop it at once, while this poll still holds the old list. */
    shoal_publication_close(h->closing);
    h->closing = NULL;
    h->saw_image_gone = 0 == shoal_test_wait_images(h->sub, 1, 10000);
    shoal_test_sleep_ms(HANDLER_SLEEP_MS); /* 20 x the linger: the conductor runs its cycles */
    h->first_byte = len > 0 ? buf[0] : 0;
}

/* A poll over two images; the handler of the first sleeps while the second
 * one's publication closes and its image goes; the poll then goes on to the
 * second image through the list it loaded. */
static void test_handler_outlives_closing_image(void **state)
{
    shoal_test_env_t *env = *state;
    /* The stream's publication is the slow one (its messages' handler sleeps);
     * the closing one joins it. */
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 41, true, true);
    shoal_publication_t *closing;
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc", 41, &closing));
    assert_int_equal(0, shoal_test_wait_images(s.sub, 2, 10000));
    assert_int_equal(0, shoal_test_wait_connected(closing));

    uint8_t msg[48];
    memset(msg, 0x5a, sizeof(msg));
    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    slow_handler_t h = { closing, s.sub, shoal_publication_session_id(s.pub), 0, 0, 0 };
    /* Start at the slow image so the poll still has the closing one to visit
     * after the handler (white box: round_robin belongs to this thread). */
    shoal_image_list_t *list = shoal_load_acquire(&s.sub->images);
    uint32_t slow_index = shoal_image_session_id(list->images[0]) == h.slow_session_id ? 0 : 1;
    s.sub->round_robin = slow_index;
    int64_t before_ms = shoal_test_now_ms(), deadline_ms;
    assert_int_equal(1, shoal_subscription_poll(s.sub, slow_handler, &h, 10));
    assert_true(shoal_test_now_ms() - before_ms >= HANDLER_SLEEP_MS);
    assert_int_equal(1, h.messages);
    assert_true(h.saw_image_gone);
    assert_int_equal(0x5a, h.first_byte);
    assert_int_equal(1, shoal_subscription_image_count(s.sub));
    /* Retired, not leaked: the next polls let the conductor free it. */
    assert_true(lingering(env->client) > 0);
    assert_int_equal(0, wait_reclaimed(env->client, s.sub));

    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    h.messages = 0;
    deadline_ms = shoal_test_now_ms() + 5000;
    while (0 == h.messages && shoal_test_now_ms() < deadline_ms)
    {
        assert_true(shoal_subscription_poll(s.sub, slow_handler, &h, 10) >= 0);
    }
    assert_int_equal(1, h.messages);
    shoal_test_stream_close(&s);
}

/* poll_batch views stay readable until the next poll even when their image
 * went away and the linger passed many times over. */
static void test_batch_views_outlive_closing_image(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 42, true, true);
    uint8_t msg[100];
    for (int i = 0; i < 8; i++)
    {
        memset(msg, 0x30 + i, sizeof(msg));
        assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    }
    shoal_fragment_t views[16];
    int got = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (0 == got && shoal_test_now_ms() < deadline)
    {
        got = shoal_subscription_poll_batch(s.sub, views, 16);
    }
    assert_int_equal(8, got);
    /* Everything is consumed: the publication drains at once on close. */
    assert_int_equal(0, shoal_publication_close(s.pub));
    assert_int_equal(0, shoal_test_wait_images(s.sub, 0, 10000));
    shoal_test_sleep_ms(HANDLER_SLEEP_MS);
    for (int i = 0; i < got; i++)
    {
        assert_int_equal(100, views[i].length);
        assert_int_equal(0x30 + i, views[i].data[0]);
        assert_int_equal(0x30 + i, views[i].data[99]);
    }
    assert_true(lingering(env->client) > 0);
    assert_int_equal(0, wait_reclaimed(env->client, s.sub));
    shoal_subscription_close(s.sub);
}

/* A retained mapping outlives the image, its subscription and its client. */
static void test_retained_mapping_outlives_subscription(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 43, false, false);
    uint8_t msg[64];
    memset(msg, 0x77, sizeof(msg));
    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    shoal_fragment_t f;
    int got = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (0 == got && shoal_test_now_ms() < deadline)
    {
        got = shoal_subscription_poll_batch(s.sub, &f, 1);
    }
    assert_int_equal(1, got);
    shoal_mapping_t *m = NULL;
    assert_int_equal(0, shoal_subscription_retain_mapping(s.sub, f.data, f.length, &m));
    assert_non_null(m);
    assert_true(shoal_mapping_contains(m, f.data, f.length));
    assert_false(shoal_mapping_contains(m, msg, sizeof(msg)));
    shoal_mapping_t *none = (shoal_mapping_t *)1;
    assert_int_equal(0, shoal_subscription_retain_mapping(s.sub, msg, sizeof(msg), &none));
    assert_null(none); /* not in a log of sub */
    assert_int_equal(-1, shoal_subscription_retain_mapping(s.sub, NULL, 1, &none));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_mapping_release(NULL));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());

    shoal_test_stream_close(&s);
    shoal_client_close(env->client);
    env->client = NULL;
    assert_int_equal(0x77, f.data[0]);
    assert_int_equal(0x77, f.data[63]);
    assert_int_equal(0, shoal_mapping_release(m));
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, shoal_test_env_teardown)

SHOAL_TEST_MAIN({
    T(test_handler_outlives_closing_image),
    T(test_batch_views_outlive_closing_image),
    T(test_retained_mapping_outlives_subscription),
})
