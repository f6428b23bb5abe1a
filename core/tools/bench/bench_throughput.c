/*
 * Throughput scenarios of shoal-bench: 1..MAX_PUB publisher threads and one
 * subscriber thread over one shoal publication (or a ZeroMQ PUSH/PULL pair).
 * Every message carries a sequence number (publisher index in the top bits)
 * that the subscriber checks; a run is timed from the first offer to the last
 * message received. The loops read only locals and the tput_t they are given.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"
#include "bench_clock.h"

typedef struct
{
    tput_t *t;
    int index;
    long count;
    uint8_t *buf;
} pub_arg_t;

static void tput_fail(tput_t *t, const char *what, long long code, const char *detail)
{
    if (!__atomic_exchange_n(&t->abort, 1, __ATOMIC_ACQ_REL))
        snprintf(t->err, sizeof(t->err), "%s (%lld): %s", what, code, detail);
}

static void *tput_publisher(void *arg)
{
    pub_arg_t *a = arg;
    tput_t *t = a->t;
    uint8_t *buf = a->buf;
    const size_t size = t->size;
    const uint64_t tag = (uint64_t)a->index << SEQ_SHIFT;
    const int mode = t->mode, yield = t->yield;
    shoal_publication_t *const pub = t->pub;
    bench_pin_self(t->pin, 0);
    __atomic_add_fetch(&t->ready, 1, __ATOMIC_RELEASE);
    bench_wait_flag(&t->go);
    t->t_start[a->index] = bench_now_ns();
    for (long i = 0; i < a->count; i++)
    {
        uint64_t seq = tag | (uint64_t)i;
        memcpy(buf, &seq, sizeof(seq));
        if (t->zpush)
        {
            while (zmq_send(t->zpush, buf, size, 0) < 0)
            {
                if ((errno != EAGAIN && errno != EINTR) || __atomic_load_n(&t->abort, __ATOMIC_RELAXED))
                {
                    tput_fail(t, "zmq_send", errno, zmq_strerror(errno));
                    return NULL;
                }
            }
            continue;
        }
        int64_t r;
        for (;;)
        {
            if (M_CLAIM == mode)
            {
                shoal_claim_t claim;
                r = shoal_publication_try_claim(pub, size, &claim);
                if (r > 0)
                {
                    memcpy(claim.data, buf, size);
                    if (shoal_claim_commit(&claim) < 0)
                        r = SHOAL_ERROR;
                }
            }
            else
            {
                r = shoal_publication_offer(pub, buf, size);
            }
            if (r > 0)
                break;
            if (SHOAL_ERROR == r || SHOAL_CLOSED == r || SHOAL_MAX_POSITION_EXCEEDED == r ||
                __atomic_load_n(&t->abort, __ATOMIC_RELAXED))
            {
                tput_fail(t, M_CLAIM == mode ? "try_claim/commit" : "offer", (long long)r, shoal_errmsg());
                return NULL;
            }
            if (yield && SHOAL_BACK_PRESSURED == r)
                sched_yield(); /* the driver moves the limit: let it run */
        }
    }
    return NULL;
}

/* Checks length and per-publisher order of one message; counts it. */
static inline void tput_check(tput_t *t, const uint8_t *data, size_t length)
{
    uint64_t seq;
    memcpy(&seq, data, sizeof(seq));
    unsigned idx = (unsigned)(seq >> SEQ_SHIFT);
    if (length != t->size || idx >= (unsigned)t->npub || (seq & ((1ULL << SEQ_SHIFT) - 1)) != t->expected[idx])
    {
        t->bad++;
        if (idx < (unsigned)t->npub)
            t->expected[idx] = (seq & ((1ULL << SEQ_SHIFT) - 1)) + 1;
    }
    else
    {
        t->expected[idx]++;
    }
    t->received++;
}

static void on_fragment(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    tput_check(clientd, buf, len);
}

static void *tput_subscriber(void *arg)
{
    tput_t *t = arg;
    shoal_fragment_t frags[BATCH];
    uint8_t *zbuf = t->zbuf;
    const int yield = t->yield;
    long idle = 0, mark = -1, timeouts = 0;
    int64_t mark_ns = 0;
    bench_pin_self(t->pin, 1);
    __atomic_add_fetch(&t->ready, 1, __ATOMIC_RELEASE);
    while (t->received < t->count && !__atomic_load_n(&t->abort, __ATOMIC_RELAXED))
    {
        int n;
        if (t->zpull)
        {
            n = zmq_recv(t->zpull, zbuf, t->size + 1, 0);
            if (n >= 0)
            {
                tput_check(t, zbuf, (size_t)n);
                timeouts = 0;
            }
            else if (errno != EINTR && (errno != EAGAIN || ++timeouts * 1000000000LL >= STALL_NS))
            {
                tput_fail(t, "zmq_recv", errno,
                    EAGAIN == errno ? "no message for 10 s (stalled)" : zmq_strerror(errno));
            }
            continue;
        }
        if (M_EXCL_POLL == t->mode)
        {
            n = shoal_subscription_poll(t->sub, on_fragment, t, BATCH);
        }
        else
        {
            n = shoal_subscription_poll_batch(t->sub, frags, BATCH);
            for (int i = 0; i < n; i++)
                tput_check(t, frags[i].data, frags[i].length);
        }
        if (n < 0)
        {
            tput_fail(t, "poll", n, shoal_errmsg());
        }
        else if (0 == n && yield)
        {
            sched_yield();
        }
        if (0 == n && 0 == (++idle & 0xffff))
        {
            int64_t now = bench_now_ns();
            if (t->received != mark)
            {
                mark = t->received;
                mark_ns = now;
            }
            else if (now - mark_ns > STALL_NS)
            {
                tput_fail(t, "subscriber stalled", t->received, "no message for 10 s");
            }
        }
    }
    t->t_end = bench_now_ns();
    return NULL;
}

double bench_tput_run(tput_t *t, long count)
{
    pthread_t pubs[MAX_PUB], sub;
    pub_arg_t args[MAX_PUB];
    t->ready = t->go = t->abort = 0;
    t->count = count, t->received = t->bad = 0;
    memset(t->expected, 0, sizeof(t->expected));
    t->zbuf = malloc(t->size + 1);
    for (int i = 0; i < t->npub; i++)
    {
        args[i] = (pub_arg_t){ t, i, count / t->npub + (0 == i ? count % t->npub : 0), calloc(1, t->size) };
        t->t_start[i] = INT64_MAX;
    }
    pthread_create(&sub, NULL, tput_subscriber, t);
    for (int i = 0; i < t->npub; i++)
        pthread_create(&pubs[i], NULL, tput_publisher, &args[i]);
    while (__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE) < t->npub + 1)
        sched_yield();
    __atomic_store_n(&t->go, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < t->npub; i++)
    {
        pthread_join(pubs[i], NULL);
        free(args[i].buf);
    }
    pthread_join(sub, NULL);
    free(t->zbuf);
    if (t->abort)
        return -1;
    if (t->bad || t->received != count)
    {
        snprintf(t->err, sizeof(t->err),
            "verification failed: %ld of %ld messages received, %ld out of order or wrong length", t->received, count,
            t->bad);
        return -1;
    }
    int64_t start = t->t_start[0];
    for (int i = 1; i < t->npub; i++)
        start = t->t_start[i] < start ? t->t_start[i] : start;
    return (double)count * 1e9 / (double)(t->t_end - start);
}
