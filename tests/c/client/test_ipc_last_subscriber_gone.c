/* An IPC publication whose last subscriber has gone refuses offers at once
 * with NOT_CONNECTED (issue #12): the driver drops the publisher limit to
 * what was consumed, so nothing more is written that nobody will read. A
 * subscriber that joins again makes offers succeed again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"

/* The probe of the issue: 1 MiB terms, so a 512 KiB window stood open. */
#define URI "aeron:ipc?term-length=1m"

static int setup(void **state)
{
    return shoal_test_env_setup(state, "lastsub", NULL);
}

/* Publishes `messages` and reads `read` of them before the subscriber goes;
 * then no offer nor claim is accepted, and a new subscriber revives it. */
static void check_refused_after_last_subscriber(shoal_test_env_t *env, bool exclusive, int32_t stream_id, int messages,
    int read)
{
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", stream_id, &sub));
    assert_int_equal(0,
        exclusive ? shoal_add_exclusive_publication(env->client, URI, stream_id, &pub)
                  : shoal_add_publication(env->client, URI, stream_id, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    const uint8_t msg[64] = { 1 };
    for (int i = 0; i < messages; i++)
    {
        assert_true(shoal_test_offer(pub, msg, sizeof(msg)) > 0);
    }
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(read, shoal_test_poll_until(sub, shoal_test_collect, c, read, 5000));

    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_test_wait_disconnected(pub, 5000));
    char what[64];
    snprintf(what, sizeof(what), "%s, %d of %d read", exclusive ? "exclusive" : "concurrent", read, messages);
    shoal_test_check_refused_without_subscribers(pub, what);
    free(c);
    /* A subscriber that comes back is connected and gets new messages. */
    shoal_test_check_subscriber_revives(pub, env->client, "aeron:ipc", stream_id);
}

static void test_exclusive_refused_after_everything_was_read(void **state)
{
    check_refused_after_last_subscriber(*state, true, 40, 10, 10);
}

static void test_concurrent_refused_after_everything_was_read(void **state)
{
    check_refused_after_last_subscriber(*state, false, 41, 10, 10);
}

/* Unread messages at the time the subscriber went: the limit drops to what
 * was consumed, below the publisher's position. */
static void test_exclusive_refused_with_unread_messages(void **state)
{
    check_refused_after_last_subscriber(*state, true, 42, 10, 0);
}

static void test_concurrent_refused_with_unread_messages(void **state)
{
    check_refused_after_last_subscriber(*state, false, 43, 10, 0);
}

/* The subscription's client goes without closing it: the driver releases
 * the subscription when the client closes, with the same effect. */
static void test_refused_after_subscriber_client_closes(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_client_t *other;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_client_connect(&other, env->ctx));
    assert_int_equal(0, shoal_add_subscription(other, "aeron:ipc", 44, &sub));
    assert_int_equal(0, shoal_add_publication(env->client, URI, 44, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_client_close(other));
    assert_int_equal(0, shoal_test_wait_disconnected(pub, 5000));
    int64_t refusal = 0;
    assert_int_equal(0, shoal_test_offers_accepted(pub, 100000, &refusal));
    assert_int_equal(SHOAL_NOT_CONNECTED, refusal);
    assert_int_equal(0, shoal_publication_close(pub));
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, shoal_test_env_teardown)

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_exclusive_refused_after_everything_was_read, setup, shoal_test_env_teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_refused_after_everything_was_read, setup, shoal_test_env_teardown),
    T(test_exclusive_refused_with_unread_messages),
    T(test_concurrent_refused_with_unread_messages),
    T(test_refused_after_subscriber_client_closes),
})
