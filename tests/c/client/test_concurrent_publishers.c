/* Threads: several publishers on one concurrent publication, one exclusive
 * publisher thread, subscribers on other threads. Every message arrives
 * once, intact, in per-publisher order. Runs under TSan too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"

#define THREADS    4
#define PER_THREAD 50000

typedef struct
{
    shoal_publication_t *pub;
    int id;
    int failed;
} pub_thread_t;

static void *publish(void *arg)
{
    pub_thread_t *t = arg;
    uint8_t msg[64];
    for (uint32_t seq = 0; seq < PER_THREAD; seq++)
    {
        size_t len = 8 + seq % 56;
        memcpy(msg, &t->id, 4);
        memcpy(msg + 4, &seq, 4);
        for (size_t i = 8; i < len; i++)
        {
            msg[i] = (uint8_t)(seq ^ i);
        }
        int64_t r;
        while ((r = shoal_publication_offer(t->pub, msg, len)) < 0)
        {
            if (SHOAL_ERROR == r || SHOAL_CLOSED == r)
            {
                t->failed = 1;
                return NULL;
            }
        }
    }
    return NULL;
}

typedef struct
{
    uint32_t next[THREADS];
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
    if (id < 0 || id >= THREADS || seq != c->next[id] || len != 8 + seq % 56)
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

typedef struct
{
    shoal_subscription_t *sub;
    checker_t checker;
    long expected;
    int batch;
} sub_thread_t;

static void *subscribe(void *arg)
{
    sub_thread_t *s = arg;
    shoal_fragment_t frags[32];
    int64_t deadline = shoal_test_now_ms() + 60000;
    while (s->checker.received + s->checker.errors < s->expected && shoal_test_now_ms() < deadline)
    {
        if (s->batch)
        {
            int n = shoal_subscription_poll_batch(s->sub, frags, 32);
            for (int i = 0; i < n; i++)
            {
                check(&s->checker, frags[i].data, frags[i].length, &frags[i].header);
            }
        }
        else
        {
            shoal_subscription_poll(s->sub, check, &s->checker, 32);
        }
    }
    return NULL;
}

static void test_many_threads_one_concurrent_publication(void **state)
{
    (void)state;
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, "concpub"));
    shoal_publication_t *pub;
    sub_thread_t subs[2];
    memset(subs, 0, sizeof(subs));
    for (int i = 0; i < 2; i++)
    {
        assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", 30, &subs[i].sub));
        subs[i].expected = (long)THREADS * PER_THREAD;
        subs[i].batch = i;
    }
    assert_int_equal(0, shoal_add_publication(env.client, "aeron:ipc", 30, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    while (shoal_subscription_image_count(subs[1].sub) < 1)
    {
        shoal_test_sleep_ms(1);
    }
    pthread_t sub_threads[2], pub_threads[THREADS];
    pub_thread_t pubs[THREADS];
    for (int i = 0; i < 2; i++)
    {
        pthread_create(&sub_threads[i], NULL, subscribe, &subs[i]);
    }
    for (int i = 0; i < THREADS; i++)
    {
        pubs[i] = (pub_thread_t){ pub, i, 0 };
        pthread_create(&pub_threads[i], NULL, publish, &pubs[i]);
    }
    for (int i = 0; i < THREADS; i++)
    {
        pthread_join(pub_threads[i], NULL);
        assert_int_equal(0, pubs[i].failed);
    }
    for (int i = 0; i < 2; i++)
    {
        pthread_join(sub_threads[i], NULL);
        assert_int_equal(0, subs[i].checker.errors);
        assert_int_equal((long)THREADS * PER_THREAD, subs[i].checker.received);
    }
    shoal_publication_close(pub);
    shoal_subscription_close(subs[0].sub);
    shoal_subscription_close(subs[1].sub);
    shoal_test_env_stop(&env);
}

static void test_exclusive_publisher_thread(void **state)
{
    (void)state;
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, "exclpub"));
    shoal_publication_t *pub;
    sub_thread_t sub;
    memset(&sub, 0, sizeof(sub));
    sub.expected = PER_THREAD;
    assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", 31, &sub.sub));
    assert_int_equal(0, shoal_add_exclusive_publication(env.client, "aeron:ipc", 31, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    pthread_t st, pt;
    pub_thread_t p = { pub, 0, 0 };
    pthread_create(&st, NULL, subscribe, &sub);
    pthread_create(&pt, NULL, publish, &p);
    pthread_join(pt, NULL);
    pthread_join(st, NULL);
    assert_int_equal(0, p.failed);
    assert_int_equal(0, sub.checker.errors);
    assert_int_equal(PER_THREAD, sub.checker.received);
    shoal_publication_close(pub);
    shoal_subscription_close(sub.sub);
    shoal_test_env_stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_many_threads_one_concurrent_publication),
    cmocka_unit_test(test_exclusive_publisher_thread),
})
