/* Threads: several publishers on one concurrent publication, one exclusive
 * publisher thread, subscribers on other threads. Every message arrives
 * once, intact, in per-publisher order. Runs under TSan too. */
#include "../shoal_test_main.h"
#include "../shoal_test_threads.h"

#define PUBLISHERS    4
#define PER_PUBLISHER 50000

/* Message i of a publisher: its id and sequence number, then bytes derived
 * from the sequence; 8 to 63 bytes. */
static size_t make_message(const shoal_test_publisher_t *p, int64_t i, uint8_t *msg)
{
    const uint32_t seq = (uint32_t)i;
    const size_t len = 8 + seq % 56;
    memcpy(msg, &p->id, 4);
    memcpy(msg + 4, &seq, 4);
    for (size_t k = 8; k < len; k++)
    {
        msg[k] = (uint8_t)(seq ^ k);
    }
    return len;
}

typedef struct
{
    uint32_t next[PUBLISHERS];
    long received;
    long errors;
} checker_t;

static void check(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    checker_t *c = clientd;
    int id;
    uint32_t seq;
    memcpy(&id, buf, 4);
    memcpy(&seq, buf + 4, 4);
    if (id < 0 || id >= PUBLISHERS || seq != c->next[id] || len != 8 + seq % 56)
    {
        c->errors++;
        return;
    }
    for (size_t i = 8; i < len; i++)
    {
        if (buf[i] != (uint8_t)(seq ^ i))
        {
            c->errors++;
            return;
        }
    }
    c->next[id]++;
    c->received++;
}

/* publishers threads offer PER_PUBLISHER messages each on one publication
 * (exclusive or concurrent) of stream_id while subscribers threads poll it,
 * every other one by poll_batch: each subscriber gets every message once,
 * intact, in each publisher's order. */
static void race(const char *name, int32_t stream_id, bool exclusive, int publishers, int subscribers)
{
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, name));
    shoal_publication_t *pub;
    shoal_subscription_t *subs[2];
    assert_true(subscribers <= 2 && publishers <= PUBLISHERS);
    for (int i = 0; i < subscribers; i++)
    {
        assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", stream_id, &subs[i]));
    }
    assert_int_equal(0,
        (exclusive ? shoal_add_exclusive_publication : shoal_add_publication)(env.client, "aeron:ipc", stream_id,
            &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    const long expected = (long)publishers * PER_PUBLISHER;
    checker_t checkers[2];
    shoal_test_poller_t pollers[2];
    memset(checkers, 0, sizeof(checkers));
    for (int i = 0; i < subscribers; i++)
    {
        assert_int_equal(0, shoal_test_wait_images(subs[i], 1, 5000));
        pollers[i] = (shoal_test_poller_t){ .sub = subs[i],
            .handler = check,
            .clientd = &checkers[i],
            .batch = 1 == i % 2,
            .expected = expected,
            .timeout_ms = 60000 };
        shoal_test_poller_start(&pollers[i]);
    }
    shoal_test_publisher_t pubs[PUBLISHERS];
    for (int i = 0; i < publishers; i++)
    {
        pubs[i] = (shoal_test_publisher_t){ .pub = pub, .message = make_message, .id = i, .count = PER_PUBLISHER };
        shoal_test_publisher_start(&pubs[i]);
    }
    for (int i = 0; i < publishers; i++)
    {
        shoal_test_publisher_join(&pubs[i]);
    }
    for (int i = 0; i < subscribers; i++)
    {
        shoal_test_poller_join(&pollers[i]);
        assert_int_equal(0, checkers[i].errors);
        assert_int_equal(expected, checkers[i].received);
    }
    /* Closing the client releases the publication and subscriptions. */
    shoal_test_env_stop(&env);
}

static void test_many_threads_one_concurrent_publication(void **state)
{
    (void)state;
    race("concpub", 30, false, PUBLISHERS, 2);
}

static void test_exclusive_publisher_thread(void **state)
{
    (void)state;
    race("exclpub", 31, true, 1, 1);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_many_threads_one_concurrent_publication),
    cmocka_unit_test(test_exclusive_publisher_thread),
})
