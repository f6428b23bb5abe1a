/* No lost wake-up: a publisher offers while the subscriber goes to sleep,
 * at every moment of that race, many thousand times; with the periodic
 * recheck off, one lost wake-up would leave a wait hanging to its timeout.
 * Both kinds of publication, and claims. TSan runs it ("concurrency"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "../shoal_test_checks.h"

/* Internal (shoal_client.h). */
void shoal_wait_set_recheck_ns(int64_t ns);

#define MESSAGES 20000

typedef struct
{
    shoal_publication_t *pub;
    bool claim;
    int failures;
} publisher_t;

static void pause_a_little(uint32_t *seed)
{
    *seed = *seed * 1103515245U + 12345U;
    uint32_t r = (*seed >> 16) % 64;
    if (r < 40)
    {
        for (uint32_t i = 0; i < r * 10; i++)
        {
            __asm__ volatile("" ::: "memory");
        }
    }
    else if (r < 62)
    {
        sched_yield();
    }
    else
    {
        shoal_test_sleep_ms(1);
    }
}

static void *publish(void *arg)
{
    publisher_t *p = arg;
    uint32_t seed = 42;
    for (uint64_t seq = 0; seq < MESSAGES; seq++)
    {
        pause_a_little(&seed);
        int64_t r;
        int64_t deadline = shoal_test_now_ms() + 10000;
        do
        {
            if (p->claim)
            {
                shoal_claim_t claim;
                r = shoal_publication_try_claim(p->pub, sizeof(seq), &claim);
                if (r > 0)
                {
                    memcpy(claim.data, &seq, sizeof(seq));
                    shoal_claim_commit(&claim);
                }
            }
            else
            {
                r = shoal_publication_offer(p->pub, (const uint8_t *)&seq, sizeof(seq));
            }
            if (r < 0 && SHOAL_BACK_PRESSURED == r)
            {
                shoal_publication_wait_available(p->pub, 100000000LL);
            }
        }
        while (r < 0 && SHOAL_ERROR != r && SHOAL_CLOSED != r && shoal_test_now_ms() < deadline);
        if (r < 0)
        {
            p->failures++;
            break;
        }
    }
    return NULL;
}

static void run(const char *name, bool exclusive, bool claim)
{
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, name));
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", 50, &sub));
    if (exclusive)
    {
        assert_int_equal(0, shoal_add_exclusive_publication(env.client, "aeron:ipc", 50, &pub));
    }
    else
    {
        assert_int_equal(0, shoal_add_publication(env.client, "aeron:ipc", 50, &pub));
    }
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 5000));

    publisher_t p = { .pub = pub, .claim = claim };
    pthread_t thread;
    assert_int_equal(0, pthread_create(&thread, NULL, publish, &p));
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    int timeouts = 0;
    while (c->count < MESSAGES && 0 == timeouts)
    {
        int w = shoal_subscription_wait(sub, 10000000000LL);
        if (0 == w)
        {
            timeouts++;
        }
        assert_true(w >= 0);
        int n = shoal_subscription_poll(sub, shoal_test_collect_seq, c, 1);
        assert_true(n >= 0);
    }
    pthread_join(thread, NULL);
    assert_int_equal(0, p.failures);
    assert_int_equal(0, timeouts);
    assert_int_equal(MESSAGES, c->count);
    assert_int_equal(0, c->errors);
    free(c);
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
    shoal_test_env_stop(&env);
}

static void test_exclusive_offer(void **state)
{
    (void)state;
    run("waitx", true, false);
}

static void test_concurrent_offer(void **state)
{
    (void)state;
    run("waitc", false, false);
}

static void test_claim(void **state)
{
    (void)state;
    run("waitk", true, true);
}

int main(void)
{
    shoal_wait_set_recheck_ns(60LL * 1000000000LL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exclusive_offer),
        cmocka_unit_test(test_concurrent_offer),
        cmocka_unit_test(test_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
