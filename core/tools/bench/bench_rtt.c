/*
 * Round-trip scenarios of shoal-bench: a pinger thread sends a ping carrying
 * its sequence number and waits for the ponger's echo, over two shoal streams
 * (or a ZeroMQ PAIR); every round trip goes into the run's histogram. With
 * --rate each ping has an intended send time (bench_pace) and its latency
 * counts from that time. A STOP ping ends the ponger.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"
#include "bench_aeron.h"
#include "bench_clock.h"

static const uint64_t STOP = STOP_SEQ;

typedef struct ponger_stct
{
    rtt_t *r;
    int stopped; /* the STOP ping came */
} ponger_t;

/* Echoes a ping from inside the poll, as the Aeron peer's ponger does. */
static void on_ping(void *clientd, const uint8_t *data, size_t length, const shoal_header_t *hdr)
{
    ponger_t *p = clientd;
    (void)hdr;
    if (p->stopped || (length >= sizeof(STOP) && 0 == memcmp(data, &STOP, sizeof(STOP))))
    {
        p->stopped = 1;
        return;
    }
    while (shoal_publication_offer(p->r->pong_pub, data, length) < 0 && !__atomic_load_n(&p->r->stop, __ATOMIC_RELAXED))
    {
    }
}

/* Echoes pings until a STOP ping arrives (or, after a pinger failure, the stop flag). */
static void *rtt_ponger(void *arg)
{
    rtt_t *r = arg;
    ponger_t ponger = { r, 0 };
    uint8_t *buf = malloc(r->size + 1);
    const int yield = r->yield;
    bench_pin_self(r->pin, 1);
    __atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
    while (!ponger.stopped && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
    {
        if (r->zpong)
        {
            int n = zmq_recv(r->zpong, buf, r->size + 1, 0);
            if (n < 0)
                continue; /* 1 s receive timeout: look at the stop flag */
            if (n >= (int)sizeof(STOP) && 0 == memcmp(buf, &STOP, sizeof(STOP)))
                break;
            while (zmq_send(r->zpong, buf, (size_t)n, 0) < 0 && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
            {
            }
            continue;
        }
        int n = shoal_subscription_poll(r->ping_sub, on_ping, &ponger, 16);
        if (0 == n && yield)
            sched_yield();
    }
    free(buf);
    return NULL;
}

static void *rtt_pinger(void *arg)
{
    rtt_t *r = arg;
    shoal_fragment_t frag;
    uint8_t *buf = calloc(1, r->size), *rbuf = malloc(r->size + 1);
    const int yield = r->yield;
    bench_pin_self(r->pin, 0);
    bench_wait_flag(&r->ready);
    const int64_t start = bench_now_ns();
    for (long i = 0; i < r->n; i++)
    {
        uint64_t seq = (uint64_t)i, got = STOP_SEQ;
        memcpy(buf, &seq, sizeof(seq));
        /* Back to back, one clock reading starts both the sample and the
         * stall deadline: a second one inside the sample would add its cost
         * (~20 ns here) to every round trip. */
        int64_t t0 = bench_now_ns(), sent = t0, spins = 0;
        if (r->interval_ns > 0)
        {
            t0 = bench_pace(start, i, r->interval_ns, t0);
            sent = bench_now_ns(); /* stall deadlines count from the real send */
        }
        if (r->zping)
        {
            int n = -1;
            if (zmq_send(r->zping, buf, r->size, 0) >= 0)
            {
                while ((n = zmq_recv(r->zping, rbuf, r->size + 1, 0)) < 0 && EINTR == errno)
                {
                }
            }
            if (n != (int)r->size)
            {
                const char *why = EAGAIN == errno ? "no answer within 1 s" : zmq_strerror(errno);
                snprintf(r->err, sizeof(r->err), "zmq round trip %ld: %s", i, n >= 0 ? "wrong length" : why);
                break;
            }
            memcpy(&got, rbuf, sizeof(got));
        }
        else
        {
            int64_t rc;
            while ((rc = shoal_publication_offer(r->ping_pub, buf, r->size)) < 0)
            {
                if (SHOAL_ERROR == rc || SHOAL_CLOSED == rc ||
                    (0 == (++spins & 0xffff) && bench_now_ns() - sent > STALL_NS))
                {
                    snprintf(r->err, sizeof(r->err), "ping %ld: offer returned %lld: %s", i, (long long)rc,
                        SHOAL_ERROR == rc || SHOAL_CLOSED == rc ? shoal_errmsg() : "still failing after 10 s");
                    goto done;
                }
            }
            int n;
            while ((n = shoal_subscription_poll_batch(r->pong_sub, &frag, 1)) == 0)
            {
                if (yield)
                    sched_yield();
                if (0 == (++spins & 0xffff) && bench_now_ns() - sent > STALL_NS)
                {
                    snprintf(r->err, sizeof(r->err), "no pong for round trip %ld within 10 s (stalled)", i);
                    goto done;
                }
            }
            if (n < 0 || frag.length != r->size)
            {
                snprintf(r->err, sizeof(r->err), "pong %ld: %s", i, n < 0 ? shoal_errmsg() : "wrong length");
                break;
            }
            memcpy(&got, frag.data, sizeof(got));
        }
        tool_hist_record(&r->hist, (uint64_t)(bench_now_ns() - t0));
        if (got != seq)
        {
            snprintf(r->err, sizeof(r->err), "round trip %ld answered with sequence %" PRIu64, i, got);
            break;
        }
    }
done:
    memcpy(buf, &STOP, sizeof(STOP));
    int sent = 0;
    for (int k = 0; k < 1000000 && !sent; k++)
    {
        sent = r->zping ? zmq_send(r->zping, buf, r->size, 0) >= 0
                        : shoal_publication_offer(r->ping_pub, buf, r->size) > 0;
    }
    if (!sent && !r->err[0])
        snprintf(r->err, sizeof(r->err), "could not send the stop message to the ponger");
    free(buf);
    free(rbuf);
    return NULL;
}

/* p50 p90 p99 p99.9 max of a run, us. */
void bench_run_percentiles(const tool_hist_t *hist, double pct[5])
{
    static const double q[5] = { 50, 90, 99, 99.9, 100 };
    for (int i = 0; i < 5; i++)
        pct[i] = (double)tool_hist_percentile(hist, q[i]) / 1e3;
}

int bench_rtt_run(rtt_t *r, long n, double pct[5])
{
    pthread_t ping, pong;
    r->n = n;
    r->ready = r->stop = 0;
    r->err[0] = '\0';
    tool_hist_reset(&r->hist);
    pthread_create(&pong, NULL, rtt_ponger, r);
    pthread_create(&ping, NULL, rtt_pinger, r);
    pthread_join(ping, NULL);
    if (r->err[0])
        __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE); /* else the ponger leaves on the STOP ping */
    pthread_join(pong, NULL);
    if (r->err[0])
        return -1;
    bench_run_percentiles(&r->hist, pct);
    return 0;
}

int bench_aeron_rtt_percentiles(rtt_t *r, long n, double pct[5])
{
    r->err[0] = '\0';
    tool_hist_reset(&r->hist);
    if (bench_aeron_rtt_run(n, r->interval_ns, &r->hist, r->err, sizeof(r->err)) < 0)
        return -1;
    bench_run_percentiles(&r->hist, pct);
    return 0;
}
