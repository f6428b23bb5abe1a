/*
 * The Aeron C peer of shoal-bench (see bench_aeron.h). The loops copy the shape
 * of shoal's in bench_throughput.c and bench_rtt.c line for line, so that a ratio compares the
 * transports and not the loops: a publisher thread busy-retrying offer on an
 * exclusive publication (sched_yield() only when back pressured and --yield),
 * a subscriber thread polling up to the same fragment limit (yielding on an
 * empty poll only with --yield), the same verification, the same stall
 * deadline; round trips between a pinger (poll limit 1) and a ponger (poll
 * limit 16) over two streams, recorded into the same histogram. Messages larger
 * than one frame are reassembled by Aeron's fragment assembler, as an Aeron
 * user would; below the MTU the assembler hands fragments straight through.
 */
#include "bench_aeron.h"
#include "bench_clock.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <aeronc.h>
#include <aeronmd.h>

#define STOP_SEQ    UINT64_MAX /* ping carrying this sequence number stops the ponger */
#define CONNECT_NS  5000000000LL
#define PING_STREAM 1001
#define PONG_STREAM 1002

static struct
{
    bench_aeron_config_t cfg;
    size_t size;
    char dir[160];
    aeron_driver_context_t *dctx;
    aeron_driver_t *driver;
    aeron_context_t *ctx;
    aeron_t *client;
    aeron_exclusive_publication_t *pub[2];
    aeron_publication_t *cpub; /* the throughput publication when cfg.concurrent */
    aeron_subscription_t *sub[2];
    aeron_fragment_assembler_t *assembler[2];
} peer;

/* What the subscriber (pinger) writes per message sits on cache lines of its
 * own, as in bench.h (tput_t): sharing one with what the other thread reads would
 * charge every message a cache-line transfer that belongs to the benchmark. */
struct tput_s
{
    int ready, go, abort;
    long count;
    int64_t t_start;
    char err[256];
    _Alignas(128) long received, bad; /* bad: out of order or wrong length */
    uint64_t expected;
    int64_t t_end;
    _Alignas(128) char pad_;
};

struct rtt_s
{
    long n;
    double interval_ns;
    tool_hist_t *hist;
    int ready, stop, stopped;
    char err[256];
    _Alignas(128) int got; /* pinger's */
    uint64_t got_seq;
    size_t got_length;
    _Alignas(128) char pad_;
};

static struct tput_s tput;
static struct rtt_s rtt;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

const char *bench_aeron_version(void)
{
    return aeron_version_full();
}

/* ---- set-up ---- */
/* Polls an Aeron async add until it is done or CONNECT_NS passed: 1 added,
 * 0 still pending, -1 refused. out is the publication's or subscription's. */
typedef enum
{
    ADD_SUBSCRIPTION,
    ADD_EXCLUSIVE,
    ADD_CONCURRENT
} add_kind_t;

static int await_added(add_kind_t kind, void *async, void **out)
{
    int rc = 0;
    for (int64_t deadline = bench_now_ns() + CONNECT_NS; 0 == rc && bench_now_ns() < deadline;)
    {
        rc = ADD_SUBSCRIPTION == kind ? aeron_async_add_subscription_poll((aeron_subscription_t **)out, async)
            : ADD_EXCLUSIVE == kind
            ? aeron_async_add_exclusive_publication_poll((aeron_exclusive_publication_t **)out, async)
            : aeron_async_add_publication_poll((aeron_publication_t **)out, async);
        if (0 == rc)
            usleep(1000);
    }
    return rc;
}

static int not_added(const char *what, const char *uri, int32_t stream, int rc, char *err, size_t err_len)
{
    snprintf(err, err_len, "aeron add %s %s stream %d: %s", what, uri, stream,
        rc < 0 && aeron_errmsg()[0] ? aeron_errmsg() : "not added after 5 s");
    return -1;
}

/* A publication of stream, connected: exclusive into *pub, or (concurrent) the
 * concurrent throughput publication peer.cpub. 0, or -1 with err set. */
static int add_publication(const char *uri, int32_t stream, bool concurrent, aeron_exclusive_publication_t **pub,
    char *err, size_t err_len)
{
    aeron_async_add_exclusive_publication_t *exclusive_async = NULL;
    aeron_async_add_publication_t *concurrent_async = NULL;
    void **out = concurrent ? (void **)&peer.cpub : (void **)pub;
    int rc = concurrent ? aeron_async_add_publication(&concurrent_async, peer.client, uri, stream)
                        : aeron_async_add_exclusive_publication(&exclusive_async, peer.client, uri, stream);
    if (rc < 0 ||
        (rc = await_added(concurrent ? ADD_CONCURRENT : ADD_EXCLUSIVE,
             concurrent ? (void *)concurrent_async : (void *)exclusive_async, out)) <= 0 ||
        !*out)
        return not_added(concurrent ? "publication" : "exclusive publication", uri, stream, rc, err, err_len);
    aeron_publication_constants_t constants;
    rc = concurrent ? aeron_publication_constants(peer.cpub, &constants)
                    : aeron_exclusive_publication_constants(*pub, &constants);
    if (0 == rc && peer.size > constants.max_message_length)
    {
        snprintf(err, err_len, "size %zu exceeds the Aeron publication's max message length %zu", peer.size,
            constants.max_message_length);
        return -1;
    }
    for (int64_t deadline = bench_now_ns() + CONNECT_NS;
         !(concurrent ? aeron_publication_is_connected(peer.cpub) : aeron_exclusive_publication_is_connected(*pub));
         usleep(1000))
    {
        if (bench_now_ns() > deadline)
        {
            snprintf(err, err_len, "aeron publication on stream %d not connected after 5 s", stream);
            return -1;
        }
    }
    return 0;
}

static int add_subscription(const char *uri, int32_t stream, aeron_subscription_t **sub, char *err, size_t err_len)
{
    aeron_async_add_subscription_t *async;
    int rc = aeron_async_add_subscription(&async, peer.client, uri, stream, NULL, NULL, NULL, NULL);
    if (rc < 0 || (rc = await_added(ADD_SUBSCRIPTION, async, (void **)sub)) <= 0 || !*sub)
        return not_added("subscription", uri, stream, rc, err, err_len);
    return 0;
}

static void on_tput_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header);
static void on_ping(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header);
static void on_pong(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header);

/* The embedded media driver (SHARED threading, its own aeron.dir under
 * /dev/shm) and a client on it. */
static int start_driver_and_client(char *err, size_t err_len)
{
    if (aeron_driver_context_init(&peer.dctx) < 0 || aeron_driver_context_set_dir(peer.dctx, peer.dir) < 0 ||
        aeron_driver_context_set_threading_mode(peer.dctx, AERON_THREADING_MODE_SHARED) < 0 ||
        aeron_driver_context_set_dir_delete_on_start(peer.dctx, true) < 0 ||
        aeron_driver_context_set_dir_delete_on_shutdown(peer.dctx, true) < 0 ||
        aeron_driver_init(&peer.driver, peer.dctx) < 0 || aeron_driver_start(peer.driver, false) < 0)
    {
        snprintf(err, err_len, "aeron embedded media driver in %s: %s", peer.dir, aeron_errmsg());
        return -1;
    }
    if (aeron_context_init(&peer.ctx) < 0 || aeron_context_set_dir(peer.ctx, peer.dir) < 0 ||
        aeron_init(&peer.client, peer.ctx) < 0 || aeron_start(peer.client) < 0)
    {
        snprintf(err, err_len, "aeron client on %s: %s", peer.dir, aeron_errmsg());
        return -1;
    }
    return 0;
}

int bench_aeron_open(const bench_aeron_config_t *config, const char *uri, int is_rtt, size_t size, char *err,
    size_t err_len)
{
    static int n_opened = 0;
    memset(&peer, 0, sizeof(peer));
    peer.cfg = *config;
    peer.size = size;
    snprintf(peer.dir, sizeof(peer.dir), "/dev/shm/shoal-bench-aeron-%ld-%d", (long)getpid(), ++n_opened);
    peer.cfg.pin(peer.cfg.pin_arg, BENCH_PIN_DRIVER_BEGIN);
    int rc = start_driver_and_client(err, err_len);
    peer.cfg.pin(peer.cfg.pin_arg, BENCH_PIN_DRIVER_END);
    if (rc < 0)
        return -1;
    if (aeron_fragment_assembler_create(&peer.assembler[0], is_rtt ? on_ping : on_tput_message,
            is_rtt ? (void *)&rtt : (void *)&tput) < 0 ||
        (is_rtt && aeron_fragment_assembler_create(&peer.assembler[1], on_pong, &rtt) < 0))
    {
        snprintf(err, err_len, "aeron fragment assembler: %s", aeron_errmsg());
        return -1;
    }
    /* As shoal-bench does: subscriptions first, then publications, then wait until connected. */
    if (add_subscription(uri, PING_STREAM, &peer.sub[0], err, err_len) < 0 ||
        (is_rtt && add_subscription(uri, PONG_STREAM, &peer.sub[1], err, err_len) < 0))
        return -1;
    if (add_publication(uri, PING_STREAM, peer.cfg.concurrent && !is_rtt, &peer.pub[0], err, err_len) < 0 ||
        (is_rtt && add_publication(uri, PONG_STREAM, false, &peer.pub[1], err, err_len) < 0))
        return -1;
    return 0;
}

void bench_aeron_close(void)
{
    if (peer.cpub)
        aeron_publication_close(peer.cpub, NULL, NULL);
    for (int i = 0; i < 2; i++)
    {
        if (peer.pub[i])
            aeron_exclusive_publication_close(peer.pub[i], NULL, NULL);
        if (peer.sub[i])
            aeron_subscription_close(peer.sub[i], NULL, NULL);
        if (peer.assembler[i])
            aeron_fragment_assembler_delete(peer.assembler[i]);
    }
    if (peer.client)
        aeron_close(peer.client);
    if (peer.ctx)
        aeron_context_close(peer.ctx);
    if (peer.driver)
        aeron_driver_close(peer.driver);
    if (peer.dctx)
        aeron_driver_context_close(peer.dctx);
    if (peer.dir[0] && 0 == access(peer.dir, F_OK)) /* the driver deletes it on shutdown; a failed start may not */
        nftw(peer.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    memset(&peer, 0, sizeof(peer));
}

/* ---- throughput: one publisher thread, one subscriber thread ---- */

static void tput_fail(const char *what, long long code, const char *detail)
{
    if (!__atomic_exchange_n(&tput.abort, 1, __ATOMIC_ACQ_REL))
        snprintf(tput.err, sizeof(tput.err), "%s (%lld): %s", what, code, detail);
}

static void *tput_publisher(void *arg)
{
    uint8_t *buf = arg;
    const size_t size = peer.size;
    aeron_exclusive_publication_t *pub = peer.pub[0];
    aeron_publication_t *cpub = peer.cpub;
    const long count = tput.count;
    peer.cfg.pin(peer.cfg.pin_arg, 0);
    __atomic_add_fetch(&tput.ready, 1, __ATOMIC_RELEASE);
    bench_wait_flag(&tput.go);
    tput.t_start = bench_now_ns();
    for (long i = 0; i < count; i++)
    {
        uint64_t seq = (uint64_t)i;
        memcpy(buf, &seq, sizeof(seq));
        int64_t r;
        for (;;)
        {
            r = cpub ? aeron_publication_offer(cpub, buf, size, NULL, NULL)
                     : aeron_exclusive_publication_offer(pub, buf, size, NULL, NULL);
            if (r > 0)
                break;
            if (AERON_PUBLICATION_ERROR == r || AERON_PUBLICATION_CLOSED == r ||
                AERON_PUBLICATION_MAX_POSITION_EXCEEDED == r || __atomic_load_n(&tput.abort, __ATOMIC_RELAXED))
            {
                tput_fail("aeron offer", (long long)r, aeron_errmsg());
                return NULL;
            }
            if (peer.cfg.yield && AERON_PUBLICATION_BACK_PRESSURED == r)
                sched_yield(); /* the driver moves the limit: let it run */
        }
    }
    return NULL;
}

static void on_tput_message(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    struct tput_s *t = clientd;
    uint64_t seq;
    (void)header;
    memcpy(&seq, buffer, sizeof(seq));
    if (length != peer.size || seq != t->expected)
        t->bad++;
    t->expected = seq + 1;
    t->received++;
}

static void *tput_subscriber(void *arg)
{
    (void)arg;
    aeron_subscription_t *sub = peer.sub[0];
    aeron_fragment_assembler_t *assembler = peer.assembler[0];
    const size_t limit = (size_t)peer.cfg.poll_limit;
    long idle = 0, mark = -1;
    int64_t mark_ns = 0;
    peer.cfg.pin(peer.cfg.pin_arg, 1);
    __atomic_add_fetch(&tput.ready, 1, __ATOMIC_RELEASE);
    while (tput.received < tput.count && !__atomic_load_n(&tput.abort, __ATOMIC_RELAXED))
    {
        int n = aeron_subscription_poll(sub, aeron_fragment_assembler_handler, assembler, limit);
        if (n < 0)
        {
            tput_fail("aeron poll", n, aeron_errmsg());
        }
        else if (0 == n && peer.cfg.yield)
        {
            sched_yield();
        }
        if (0 == n && 0 == (++idle & 0xffff))
        {
            int64_t now = bench_now_ns();
            if (tput.received != mark)
            {
                mark = tput.received;
                mark_ns = now;
            }
            else if (now - mark_ns > peer.cfg.stall_ns)
            {
                tput_fail("aeron subscriber stalled", tput.received, "no message for 10 s");
            }
        }
    }
    tput.t_end = bench_now_ns();
    return NULL;
}

double bench_aeron_tput_run(long count, char *err, size_t err_len)
{
    pthread_t pub, sub;
    uint8_t *buf = calloc(1, peer.size);
    memset(&tput, 0, sizeof(tput));
    tput.count = count;
    if (!buf)
    {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pthread_create(&sub, NULL, tput_subscriber, NULL);
    pthread_create(&pub, NULL, tput_publisher, buf);
    while (__atomic_load_n(&tput.ready, __ATOMIC_ACQUIRE) < 2)
        sched_yield();
    __atomic_store_n(&tput.go, 1, __ATOMIC_RELEASE);
    pthread_join(pub, NULL);
    pthread_join(sub, NULL);
    free(buf);
    if (tput.abort)
    {
        snprintf(err, err_len, "%s", tput.err);
        return -1;
    }
    if (tput.bad || tput.received != count)
    {
        snprintf(err, err_len, "verification failed: %ld of %ld messages received, %ld out of order or wrong length",
            tput.received, count, tput.bad);
        return -1;
    }
    return (double)count * 1e9 / (double)(tput.t_end - tput.t_start);
}

/* ---- round trip: pinger and ponger threads ---- */

static const uint64_t STOP = STOP_SEQ;

static void on_ping(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    struct rtt_s *r = clientd;
    (void)header;
    if (r->stopped)
        return;
    if (0 == memcmp(buffer, &STOP, sizeof(STOP)))
    {
        r->stopped = 1;
        return;
    }
    while (aeron_exclusive_publication_offer(peer.pub[1], buffer, length, NULL, NULL) < 0 &&
        !__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
    {
    }
}

static void on_pong(void *clientd, const uint8_t *buffer, size_t length, aeron_header_t *header)
{
    struct rtt_s *r = clientd;
    (void)header;
    memcpy(&r->got_seq, buffer, sizeof(r->got_seq));
    r->got_length = length;
    r->got = 1;
}

/* Echoes pings until a STOP ping arrives (or, after a pinger failure, the stop flag). */
static void *rtt_ponger(void *arg)
{
    (void)arg;
    aeron_subscription_t *sub = peer.sub[0];
    aeron_fragment_assembler_t *assembler = peer.assembler[0];
    peer.cfg.pin(peer.cfg.pin_arg, 1);
    __atomic_store_n(&rtt.ready, 1, __ATOMIC_RELEASE);
    while (!rtt.stopped && !__atomic_load_n(&rtt.stop, __ATOMIC_RELAXED))
    {
        int n = aeron_subscription_poll(sub, aeron_fragment_assembler_handler, assembler, 16);
        if (0 == n && peer.cfg.yield)
            sched_yield();
    }
    return NULL;
}

static void *rtt_pinger(void *arg)
{
    struct rtt_s *r = &rtt;
    uint8_t *buf = arg;
    const size_t size = peer.size;
    aeron_exclusive_publication_t *ping_pub = peer.pub[0];
    aeron_subscription_t *pong_sub = peer.sub[1];
    aeron_fragment_assembler_t *assembler = peer.assembler[1];
    peer.cfg.pin(peer.cfg.pin_arg, 0);
    bench_wait_flag(&r->ready);
    const int64_t start = bench_now_ns();
    for (long i = 0; i < r->n; i++)
    {
        uint64_t seq = (uint64_t)i;
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
        int64_t rc;
        while ((rc = aeron_exclusive_publication_offer(ping_pub, buf, size, NULL, NULL)) < 0)
        {
            if (AERON_PUBLICATION_ERROR == rc || AERON_PUBLICATION_CLOSED == rc ||
                (0 == (++spins & 0xffff) && bench_now_ns() - sent > peer.cfg.stall_ns))
            {
                snprintf(r->err, sizeof(r->err), "ping %ld: aeron offer returned %lld: %s", i, (long long)rc,
                    AERON_PUBLICATION_ERROR == rc || AERON_PUBLICATION_CLOSED == rc ? aeron_errmsg()
                                                                                    : "still failing after 10 s");
                goto done;
            }
        }
        int n = 0;
        r->got = 0;
        while (!r->got)
        {
            n = aeron_subscription_poll(pong_sub, aeron_fragment_assembler_handler, assembler, 1);
            if (n < 0)
                break;
            if (0 == n)
            {
                if (peer.cfg.yield)
                    sched_yield();
                if (0 == (++spins & 0xffff) && bench_now_ns() - sent > peer.cfg.stall_ns)
                {
                    snprintf(r->err, sizeof(r->err), "no pong for round trip %ld within 10 s (stalled)", i);
                    goto done;
                }
            }
        }
        if (n < 0 || r->got_length != size)
        {
            snprintf(r->err, sizeof(r->err), "pong %ld: %s", i, n < 0 ? aeron_errmsg() : "wrong length");
            break;
        }
        tool_hist_record(r->hist, (uint64_t)(bench_now_ns() - t0));
        if (r->got_seq != seq)
        {
            snprintf(r->err, sizeof(r->err), "round trip %ld answered with sequence %llu", i,
                (unsigned long long)r->got_seq);
            break;
        }
    }
done:
    memcpy(buf, &STOP, sizeof(STOP));
    int sent = 0;
    for (int k = 0; k < 1000000 && !sent; k++)
        sent = aeron_exclusive_publication_offer(ping_pub, buf, size, NULL, NULL) > 0;
    if (!sent && !r->err[0])
        snprintf(r->err, sizeof(r->err), "could not send the stop message to the ponger");
    return NULL;
}

int bench_aeron_rtt_run(long n, double interval_ns, tool_hist_t *hist, char *err, size_t err_len)
{
    pthread_t ping, pong;
    uint8_t *buf = calloc(1, peer.size);
    memset(&rtt, 0, sizeof(rtt));
    rtt.n = n, rtt.interval_ns = interval_ns, rtt.hist = hist;
    if (!buf)
    {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pthread_create(&pong, NULL, rtt_ponger, NULL);
    pthread_create(&ping, NULL, rtt_pinger, buf);
    pthread_join(ping, NULL);
    if (rtt.err[0])
        __atomic_store_n(&rtt.stop, 1, __ATOMIC_RELEASE); /* else the ponger leaves on the STOP ping */
    pthread_join(pong, NULL);
    free(buf);
    if (rtt.err[0])
    {
        snprintf(err, err_len, "%s", rtt.err);
        return -1;
    }
    return 0;
}
