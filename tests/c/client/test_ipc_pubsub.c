/* End-to-end IPC publication/subscription through an embedded driver. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"

static int poll_until(shoal_subscription_t *sub, shoal_test_collector_t *c, int expected)
{
    return shoal_test_poll_until(sub, shoal_test_collect, c, expected, 5000);
}

/* A fresh env per test; the teardown's client close releases whatever a test
 * leaves open, so a test closes by hand only what it checks closing. */
static int setup(void **state)
{
    return shoal_test_env_setup(state, "pubsub", NULL);
}

static void test_round_trip_with_header(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 10, false, false);
    /* The publication can be connected before this client has handled the
     * image broadcast that connects the subscription. */
    assert_int_equal(0, shoal_test_wait_images(s.sub, 1, 5000));
    assert_true(shoal_subscription_is_connected(s.sub));

    const uint8_t msg[] = "hello shoal";
    int64_t pos = shoal_test_offer(s.pub, msg, sizeof(msg));
    assert_true(pos > 0);
    assert_int_equal(pos, shoal_publication_position(s.pub));

    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, poll_until(s.sub, c, 1));
    shoal_test_check_last_message(c, msg, sizeof(msg), 10, s.pub, pos);
    assert_int_equal(SHOAL_FLAG_BEGIN | SHOAL_FLAG_END, c->last_hdr.flags & (SHOAL_FLAG_BEGIN | SHOAL_FLAG_END));
    free(c);
    assert_int_equal(0, shoal_test_stream_close(&s));
}

static void test_fragmented_messages_arrive_whole(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 11, &sub));
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc?term-length=1m", 11, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    size_t max = shoal_publication_max_message_length(pub);
    assert_int_equal(128 * 1024, max);
    uint8_t *buf = malloc(max);
    size_t sizes[] = { 1, 1375, 1376, 1377, 5000, 65536, max };
    shoal_test_check_sizes_arrive_whole(pub, sub, buf, sizes, sizeof(sizes) / sizeof(sizes[0]));
    /* Too big: a clear error, nothing written. */
    int64_t before = shoal_publication_position(pub);
    assert_int_equal(SHOAL_ERROR, shoal_publication_offer(pub, buf, max + 1));
    assert_int_equal(SHOAL_EMSGSIZE, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "maximum message length"));
    assert_int_equal(before, shoal_publication_position(pub));
    free(buf);
}

static void test_offerv_gathers(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 12, false, false);
    shoal_iovec_t iov[3] = { { (const uint8_t *)"abc", 3 }, { (const uint8_t *)"", 0 },
        { (const uint8_t *)"defg", 4 } };
    int64_t r;
    while ((r = shoal_publication_offerv(s.pub, iov, 3)) < 0)
    {
        assert_int_not_equal(SHOAL_ERROR, r);
    }
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, poll_until(s.sub, c, 1));
    assert_int_equal(7, c->last_len);
    assert_memory_equal("abcdefg", c->last, 7);
    free(c);
    shoal_test_stream_close(&s);
}

static void test_try_claim_commit_and_abort(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 13, true, false);

    shoal_claim_t claim;
    assert_true(shoal_publication_try_claim(s.pub, 5, &claim) > 0);
    assert_int_equal(5, claim.length);
    memcpy(claim.data, "aborted", 5);
    assert_int_equal(0, shoal_claim_abort(&claim));

    assert_true(shoal_publication_try_claim(s.pub, 8, &claim) > 0);
    memcpy(claim.data, "claimed!", 8);
    assert_int_equal(0, shoal_claim_commit(&claim));
    /* A claim is used once. */
    assert_int_equal(-1, shoal_claim_commit(&claim));

    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, poll_until(s.sub, c, 1));
    shoal_test_sleep_ms(20);
    shoal_subscription_poll(s.sub, shoal_test_collect, c, 10);
    assert_int_equal(1, c->count);
    assert_memory_equal("claimed!", c->last, 8);

    /* Claims are unfragmented: larger than the max payload is an error. */
    assert_int_equal(SHOAL_ERROR,
        shoal_publication_try_claim(s.pub, shoal_publication_max_payload_length(s.pub) + 1, &claim));
    assert_int_equal(SHOAL_EMSGSIZE, shoal_errcode());
    free(c);
    shoal_test_stream_close(&s);
}

static void test_not_connected_without_subscriber(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_check_not_connected_without_subscriber(env->client, "aeron:ipc", 14, 20);
}

static void test_back_pressure_never_loses(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 15, true, false);
    /* Without polling, the publisher may only run a term window ahead. */
    uint8_t msg[100] = { 0 };
    long sent = 0;
    int64_t r;
    int64_t deadline = shoal_test_now_ms() + 2000;
    while ((r = shoal_publication_offer(s.pub, msg, sizeof(msg))) != SHOAL_BACK_PRESSURED &&
        shoal_test_now_ms() < deadline)
    {
        if (r > 0)
        {
            memcpy(msg, &sent, sizeof(sent));
            sent++;
        }
    }
    assert_int_equal(SHOAL_BACK_PRESSURED, r);
    assert_true(sent > 100);
    /* The limit is checked before appending: at most one frame past it. */
    assert_true(shoal_publication_position(s.pub) < shoal_publication_position_limit(s.pub) + 160);
    assert_true(shoal_publication_position(s.pub) <= 32 * 1024 + 160);
    /* Drain: every message arrives, then the publisher may go on. */
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(sent, poll_until(s.sub, c, (int)sent));
    shoal_test_sleep_ms(20);
    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);
    free(c);
    shoal_test_stream_close(&s);
}

static void test_every_subscriber_sees_every_message(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_subscription_t *sub1, *sub2;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 16, &sub1));
    assert_int_equal(0, shoal_test_connect(env->client, env->client, "aeron:ipc", 16, false, false, &sub2, &pub));
    while (shoal_subscription_image_count(sub2) < 1)
    {
        shoal_test_sleep_ms(1);
    }
    shoal_test_collector_t *c1 = calloc(1, sizeof(*c1)), *c2 = calloc(1, sizeof(*c2));
    /* Several terms' worth (64 KiB terms): rotation and cleaning happen. */
    for (int i = 0; i < 20000; i++)
    {
        assert_true(shoal_test_offer(pub, (const uint8_t *)&i, sizeof(i)) > 0 || (poll_until(sub1, c1, 0), 0));
        shoal_subscription_poll(sub1, shoal_test_collect, c1, 100);
        shoal_subscription_poll(sub2, shoal_test_collect, c2, 100);
    }
    assert_int_equal(20000, poll_until(sub1, c1, 20000));
    assert_int_equal(20000, poll_until(sub2, c2, 20000));
    int last = 0;
    memcpy(&last, c1->last, sizeof(last));
    assert_int_equal(19999, last);
    free(c1);
    free(c2);
    shoal_publication_close(pub);
    shoal_subscription_close(sub1);
    shoal_subscription_close(sub2);
}

static int batch_count;
static void test_poll_batch_views(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 17, false, false);
    for (int i = 0; i < 10; i++)
    {
        assert_true(shoal_test_offer(s.pub, (const uint8_t *)&i, sizeof(i)) > 0);
    }
    uint8_t big[5000];
    memset(big, 0xAB, sizeof(big));
    assert_true(shoal_test_offer(s.pub, big, sizeof(big)) > 0);
    assert_true(shoal_test_offer(s.pub, (const uint8_t *)"tail", 4) > 0);

    shoal_fragment_t frags[64];
    int got = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    int seen_big = 0, seen_tail = 0;
    while (got < 12 && shoal_test_now_ms() < deadline)
    {
        int n = shoal_subscription_poll_batch(s.sub, frags, 4);
        assert_true(n >= 0 && n <= 4);
        for (int i = 0; i < n; i++, got++)
        {
            if (got < 10)
            {
                int v;
                assert_int_equal(4, frags[i].length);
                memcpy(&v, frags[i].data, 4);
                assert_int_equal(got, v);
            }
            else if (frags[i].length == sizeof(big))
            {
                assert_memory_equal(big, frags[i].data, sizeof(big));
                seen_big = 1;
            }
            else
            {
                assert_memory_equal("tail", frags[i].data, 4);
                seen_tail = 1;
            }
            assert_int_equal(17, frags[i].header.stream_id);
        }
    }
    batch_count = got;
    assert_int_equal(12, got);
    assert_true(seen_big && seen_tail);
    shoal_test_stream_close(&s);
}

typedef struct
{
    int calls;
    int abort_first;
    int break_at;
    int delivered;
} controlled_t;

static shoal_controlled_action_t controlled(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf;
    (void)len;
    (void)hdr;
    controlled_t *c = clientd;
    c->calls++;
    if (c->abort_first)
    {
        c->abort_first = 0;
        return SHOAL_ACTION_ABORT;
    }
    c->delivered++;
    if (c->delivered == c->break_at)
    {
        return SHOAL_ACTION_BREAK;
    }
    return (c->delivered % 2) ? SHOAL_ACTION_COMMIT : SHOAL_ACTION_CONTINUE;
}

static void test_controlled_poll_actions(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 18, false, false);
    /* The publication is connected once the driver has the subscriber; the
     * subscription gets its image a moment later, and the exact counts below
     * need it there from the first poll. */
    assert_int_equal(0, shoal_test_wait_images(s.sub, 1, 5000));
    for (int i = 0; i < 6; i++)
    {
        assert_true(shoal_test_offer(s.pub, (const uint8_t *)&i, sizeof(i)) > 0);
    }
    controlled_t c = { 0, 1, 3, 0 };
    /* ABORT: nothing consumed, the same message comes again. */
    assert_int_equal(0, shoal_subscription_controlled_poll(s.sub, controlled, &c, 10));
    assert_int_equal(1, c.calls);
    /* BREAK on the third stops after consuming it. */
    assert_int_equal(3, shoal_subscription_controlled_poll(s.sub, controlled, &c, 10));
    assert_int_equal(3, shoal_subscription_controlled_poll(s.sub, controlled, &c, 10));
    assert_int_equal(6, c.delivered);
    assert_int_equal(0, shoal_subscription_controlled_poll(s.sub, controlled, &c, 10));
    shoal_test_stream_close(&s);
}

static void test_concurrent_publications_share_a_session(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_publication_t *a, *b, *x;
    shoal_subscription_t *sub;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 19, &sub));
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", 19, &a));
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", 19, &b));
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc", 19, &x));
    assert_int_equal(shoal_publication_session_id(a), shoal_publication_session_id(b));
    assert_int_not_equal(shoal_publication_session_id(a), shoal_publication_session_id(x));
    assert_int_equal(0, shoal_test_wait_connected(x));
    assert_int_equal(0, shoal_test_wait_images(sub, 2, 5000));
    /* Closing one of two sharing handles keeps the stream alive. */
    shoal_publication_close(a);
    assert_true(shoal_test_offer(b, (const uint8_t *)"b", 1) > 0);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, poll_until(sub, c, 1));
    free(c);
}

static void test_image_goes_away_after_publication_closes(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 20, false, false);
    assert_true(shoal_test_offer(s.pub, (const uint8_t *)"last words", 10) > 0);
    shoal_publication_close(s.pub);
    /* What was published before close still arrives (drain), then the image goes. */
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, poll_until(s.sub, c, 1));
    shoal_test_check_images_drain(s.sub, c, 5000);
    free(c);
    shoal_subscription_close(s.sub);
}

static void test_session_id_clash_is_an_error(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_publication_t *a, *b;
    assert_int_equal(0, shoal_add_exclusive_publication(env->client, "aeron:ipc?session-id=77", 21, &a));
    assert_int_equal(77, shoal_publication_session_id(a));
    assert_int_equal(-1, shoal_add_exclusive_publication(env->client, "aeron:ipc?session-id=77", 21, &b));
    assert_int_equal(SHOAL_ECLASH, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "session-id 77"));
    /* A concurrent publication with a different term length on a live stream clashes too. */
    shoal_publication_t *c, *d;
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc?term-length=64k", 22, &c));
    assert_int_equal(-1, shoal_add_publication(env->client, "aeron:ipc?term-length=128k", 22, &d));
    assert_int_equal(SHOAL_ECLASH, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "term-length"));
    shoal_publication_close(a);
    shoal_publication_close(c);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, shoal_test_env_teardown)

SHOAL_TEST_MAIN({
    T(test_round_trip_with_header),
    T(test_fragmented_messages_arrive_whole),
    T(test_offerv_gathers),
    T(test_try_claim_commit_and_abort),
    T(test_not_connected_without_subscriber),
    T(test_back_pressure_never_loses),
    T(test_every_subscriber_sees_every_message),
    T(test_poll_batch_views),
    T(test_controlled_poll_actions),
    T(test_concurrent_publications_share_a_session),
    T(test_image_goes_away_after_publication_closes),
    T(test_session_id_clash_is_an_error),
})
