/* A publisher and a subscriber on threads of their own, for the tests that
 * race them against each other (or against a crash): the thread bodies are
 * written once, a test says only which messages to send and how to check
 * what arrives. */
#ifndef SHOAL_TEST_THREADS_H
#define SHOAL_TEST_THREADS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "shoal_test_support.h"

#define SHOAL_TEST_MAX_MESSAGE 4096

typedef struct shoal_test_publisher_stct shoal_test_publisher_t;

/* Writes message i of publisher p into buf (SHOAL_TEST_MAX_MESSAGE bytes);
 * returns its length. */
typedef size_t (*shoal_test_message_t)(const shoal_test_publisher_t *p, int64_t i, uint8_t *buf);

/* Offers message(0), message(1), ... until count were accepted (count < 0:
 * until stopped), retrying those refused for back pressure or an admin
 * action; ERROR or CLOSED ends it with failed set. */
struct shoal_test_publisher_stct
{
    shoal_publication_t *pub;
    shoal_test_message_t message;
    int id; /* which of several publishers this is, for message() */
    int64_t count;
    int stop;
    int64_t published;
    int64_t position; /* that the last accepted offer returned */
    bool failed;
    pthread_t thread;
};

static inline void *shoal_test_publisher_run(void *arg)
{
    shoal_test_publisher_t *p = arg;
    uint8_t buf[SHOAL_TEST_MAX_MESSAGE];
    while (p->published != p->count && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
    {
        const size_t length = p->message(p, p->published, buf);
        const int64_t rc = shoal_publication_offer(p->pub, buf, length);
        if (rc > 0)
        {
            p->published++;
            __atomic_store_n(&p->position, rc, __ATOMIC_RELEASE);
        }
        else if (SHOAL_ERROR == rc || SHOAL_CLOSED == rc)
        {
            p->failed = true;
            break;
        }
    }
    return NULL;
}

static inline void shoal_test_publisher_start(shoal_test_publisher_t *p)
{
    assert_int_equal(0, pthread_create(&p->thread, NULL, shoal_test_publisher_run, p));
}

/* Stops a publisher started with count < 0, and joins it. */
static inline void shoal_test_publisher_stop(shoal_test_publisher_t *p)
{
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(0, pthread_join(p->thread, NULL));
}

/* Joins a publisher with a count, which must have published them all. */
static inline void shoal_test_publisher_join(shoal_test_publisher_t *p)
{
    assert_int_equal(0, pthread_join(p->thread, NULL));
    assert_false(p->failed);
    assert_int_equal(p->count, p->published);
}

/* Polls sub, with poll or (batch) poll_batch, handing every fragment to
 * handler, until expected fragments arrived or timeout_ms passed. */
typedef struct
{
    shoal_subscription_t *sub;
    shoal_fragment_handler_t handler;
    void *clientd;
    bool batch;
    int64_t expected;
    int64_t timeout_ms;
    int64_t fragments;
    pthread_t thread;
} shoal_test_poller_t;

static inline void *shoal_test_poller_run(void *arg)
{
    shoal_test_poller_t *s = arg;
    shoal_fragment_t frags[32];
    const int64_t deadline = shoal_test_now_ms() + s->timeout_ms;
    while (s->fragments < s->expected && shoal_test_now_ms() < deadline)
    {
        int n;
        if (s->batch)
        {
            n = shoal_subscription_poll_batch(s->sub, frags, 32);
            for (int i = 0; i < n; i++)
            {
                s->handler(s->clientd, frags[i].data, frags[i].length, &frags[i].header);
            }
        }
        else
        {
            n = shoal_subscription_poll(s->sub, s->handler, s->clientd, 32);
        }
        s->fragments += n > 0 ? n : 0;
    }
    return NULL;
}

static inline void shoal_test_poller_start(shoal_test_poller_t *s)
{
    assert_int_equal(0, pthread_create(&s->thread, NULL, shoal_test_poller_run, s));
}

static inline void shoal_test_poller_join(shoal_test_poller_t *s)
{
    assert_int_equal(0, pthread_join(s->thread, NULL));
}

#endif
