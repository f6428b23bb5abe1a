/*
 * Wake-up scenarios of shoal-bench: how long after a publish a subscriber
 * that was idle has the message, and what its idleness costs. A publisher
 * thread sleeps a random 100..1000 us between messages (so the subscriber is
 * idle most of the time) and stamps each message with its send time; the
 * subscriber thread waits for it, in one of three ways:
 *   W_WAIT  shoal_subscription_wait (futex; no CPU while idle), then poll_batch
 *   W_SPIN  poll_batch in a loop (busy polling: the lowest latency, a whole core)
 *   zmq     a blocking zmq_recv (PAIR), ZeroMQ's way of waiting
 * Latency = the subscriber's clock when it holds the message - the stamp, into
 * the run's histogram; the subscriber thread's CPU time over the run's wall
 * time is its idle cost (CLOCK_THREAD_CPUTIME_ID).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "bench.h"
#include "bench_clock.h"

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 100..1000 us, uniform (xorshift: no allocation, no lock). */
static long next_gap_ns(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return 100000 + (long)(x % 900001);
}

static void *wake_publisher(void *arg)
{
    wake_t *w = arg;
    uint8_t *buf = calloc(1, w->size);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    bench_pin_self(w->pin, 0);
    bench_wait_flag(&w->ready);
    for (long i = 0; i < w->n && !__atomic_load_n(&w->abort, __ATOMIC_RELAXED); i++)
    {
        struct timespec gap = { 0, next_gap_ns(&rng) };
        nanosleep(&gap, NULL);
        const uint64_t seq = (uint64_t)i;
        const int64_t stamp = bench_now_ns();
        memcpy(buf, &seq, sizeof(seq));
        memcpy(buf + sizeof(seq), &stamp, sizeof(stamp));
        if (w->zpub)
        {
            if (zmq_send(w->zpub, buf, w->size, 0) < 0)
            {
                snprintf(w->err, sizeof(w->err), "zmq_send %ld: %s", i, zmq_strerror(errno));
                break;
            }
            continue;
        }
        int64_t rc;
        while ((rc = shoal_publication_offer(w->pub, buf, w->size)) < 0)
        {
            if (SHOAL_ERROR == rc || SHOAL_CLOSED == rc || bench_now_ns() - stamp > STALL_NS)
            {
                snprintf(w->err, sizeof(w->err), "offer %ld returned %lld", i, (long long)rc);
                __atomic_store_n(&w->abort, 1, __ATOMIC_RELAXED);
                free(buf);
                return NULL;
            }
        }
    }
    free(buf);
    return NULL;
}

/* One message in hand: its latency into the histogram; 0, or -1 when it is
 * not the one expected. */
static int took(wake_t *w, const uint8_t *data, size_t length, long *received)
{
    uint64_t seq;
    int64_t stamp;
    const int64_t now = bench_now_ns();
    if (length != w->size)
    {
        snprintf(w->err, sizeof(w->err), "message %ld: %zu bytes, expected %zu", *received, length, w->size);
        return -1;
    }
    memcpy(&seq, data, sizeof(seq));
    memcpy(&stamp, data + sizeof(seq), sizeof(stamp));
    if (seq != (uint64_t)*received)
    {
        snprintf(w->err, sizeof(w->err), "message %ld carries sequence %llu", *received, (unsigned long long)seq);
        return -1;
    }
    tool_hist_record(&w->hist, (uint64_t)(now - stamp));
    (*received)++;
    return 0;
}

static void *wake_subscriber(void *arg)
{
    wake_t *w = arg;
    shoal_fragment_t frags[16];
    uint8_t *buf = malloc(w->size + 1);
    long received = 0;
    bench_pin_self(w->pin, 1);
    const int64_t wall = bench_now_ns(), cpu = thread_cpu_ns();
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    while (received < w->n && !__atomic_load_n(&w->abort, __ATOMIC_RELAXED))
    {
        if (w->zsub)
        {
            int n = zmq_recv(w->zsub, buf, w->size + 1, 0); /* blocks (1 s receive timeout) */
            if (n >= 0 && took(w, buf, (size_t)n, &received) < 0)
                break;
            continue;
        }
        if (W_WAIT == w->mode && shoal_subscription_wait(w->sub, 1000000000LL) < 0)
        {
            snprintf(w->err, sizeof(w->err), "shoal_subscription_wait: %s", shoal_errmsg());
            break;
        }
        int n = shoal_subscription_poll_batch(w->sub, frags, 16);
        for (int i = 0; i < n; i++)
        {
            if (took(w, frags[i].data, frags[i].length, &received) < 0)
            {
                n = -1;
                break;
            }
        }
        if (n < 0)
            break;
    }
    w->cpu_ns = thread_cpu_ns() - cpu;
    w->wall_ns = bench_now_ns() - wall;
    if (received < w->n)
    {
        if (!w->err[0])
            snprintf(w->err, sizeof(w->err), "received %ld of %ld messages", received, w->n);
        __atomic_store_n(&w->abort, 1, __ATOMIC_RELAXED);
    }
    free(buf);
    return NULL;
}

int bench_wake_run(wake_t *w, long n, double pct[5], double *cpu_pct)
{
    pthread_t pub, sub;
    tool_hist_reset(&w->hist);
    w->n = n;
    w->ready = w->abort = 0;
    w->err[0] = '\0';
    pthread_create(&sub, NULL, wake_subscriber, w);
    pthread_create(&pub, NULL, wake_publisher, w);
    pthread_join(pub, NULL);
    pthread_join(sub, NULL);
    if (w->err[0])
        return -1;
    bench_run_percentiles(&w->hist, pct);
    *cpu_pct = w->wall_ns > 0 ? 100.0 * (double)w->cpu_ns / (double)w->wall_ns : 0;
    return 0;
}
