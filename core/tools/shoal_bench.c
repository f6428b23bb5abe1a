/*
 * shoal-bench: the source of every performance figure quoted for shoal.
 *
 * One process, an embedded driver on a private directory (it serves both
 * ends of the IPC and of the UDP loopback scenarios), publisher and
 * subscriber threads; each scenario runs one warm-up (not recorded) and then
 * --runs timed runs, and reports median, min and max across the runs side by
 * side with ZeroMQ peers run in the same invocation on the same machine.
 * Timed loops neither allocate nor format: buffers and histograms are made
 * before, errors are recorded as codes and formatted after the loop ends.
 * Round trips go into a log-linear histogram (tool_histogram.h); with --rate
 * each ping has an intended send time and its latency is measured from that
 * time, so a stall delays every ping behind it and shows in the percentiles
 * (no coordinated omission).
 *
 *   shoal-bench [--scenario NAME]... [NAME...] [--runs N] [--messages N] [--samples N]
 *               [--size BYTES[,BYTES...]]... [--publishers N] [--rate MSGS_PER_S]
 *               [--json | --csv] [--no-zmq] [--no-aeron] [--pin] [--yield] [--note TEXT]
 *
 * With -DSHOAL_AERON_DIR (scripts/aeron_peer.sh, DEVELOPERS.md) the aeron-*
 * scenarios run the loops of shoal's against Aeron C (bench/bench_aeron.c).
 */
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "shoal/shoal.h"
#include "tool_histogram.h"
#include "tool_json.h"

#ifdef SHOAL_BENCH_AERON
#include "bench/bench_aeron.h"
#else
/* Not built in: no aeron-* scenario exists, so these are never called. */
typedef struct {
    int yield, poll_limit;
    int64_t stall_ns;
    void (*pin)(int role);
} bench_aeron_config_t;
static int bench_aeron_open(const bench_aeron_config_t *c, const char *uri, int rtt, size_t size, char *err, size_t n)
{
    (void)c, (void)uri, (void)rtt, (void)size;
    snprintf(err, n, "the Aeron peer is not built in");
    return -1;
}
static double bench_aeron_tput_run(long count, char *err, size_t n)
{
    (void)count;
    snprintf(err, n, "the Aeron peer is not built in");
    return -1;
}
static int bench_aeron_rtt_run(long count, double interval_ns, tool_hist_t *hist, char *err, size_t n)
{
    (void)count, (void)interval_ns, (void)hist;
    snprintf(err, n, "the Aeron peer is not built in");
    return -1;
}
static void bench_aeron_close(void) {}
static const char *bench_aeron_version(void)
{
    return "not built in";
}
#endif
#define AERON_HOWTO                                                                                                   \
    "scripts/aeron_peer.sh AERON_SOURCE_DIR, then configure with -DSHOAL_AERON_DIR=$PWD/build/aeron/install "   \
    "(DEVELOPERS.md)"

#define MAX_RUNS 100
#define MAX_SIZES 16
#define MIN_SIZE 8 /* the sequence number lives in the first 8 bytes */
#define MAX_SIZE (16 * 1024 * 1024)
#define MAX_PUB 16 /* --publishers */
#define IPC_TERM_MIB 64        /* the driver's defaults (shoal_context.c) */
#define UDP_TERM_MIB 16
#define BATCH 256              /* poll_batch / poll limit of throughput subscribers */
#define STALL_NS 10000000000LL /* no progress for 10 s: the run is declared stalled */
#define ZMQ_HWM 1000000          /* messages; lowered for large sizes so a queue stays under ZMQ_HWM_BYTES */
#define ZMQ_HWM_BYTES (256 << 20)
#define STOP_SEQ UINT64_MAX /* ping carrying this sequence number stops the ponger */
#define SEQ_SHIFT 48        /* several publishers: publisher index in the top bits of the sequence */

enum { K_TPUT, K_RTT };
enum { M_EXCL_BATCH, M_EXCL_POLL, M_CONC, M_CONC2, M_CLAIM, Z_INPROC, Z_IPC, Z_TCP };

typedef struct {
    const char *name;
    int kind, zmq, mode, udp;
    const char *peer; /* the ZeroMQ scenario a shoal scenario is compared with */
    const char *what;
    const char *mirror; /* aeron-* scenarios: the shoal scenario whose loops they run against Aeron C */
} scenario_t;

#define ZIT "zmq-inproc-throughput"
#define ZTT "zmq-tcp-throughput"
#define ZIR "zmq-inproc-rtt"
#define ZTR "zmq-tcp-rtt"
static const scenario_t SCENARIOS[] = {
    { "ipc-throughput-exclusive", K_TPUT, 0, M_EXCL_BATCH, 0, ZIT, "exclusive publication, offer; poll_batch" },
    { "ipc-throughput-exclusive-poll", K_TPUT, 0, M_EXCL_POLL, 0, ZIT, "exclusive publication, offer; poll + callback" },
    { "ipc-throughput-concurrent", K_TPUT, 0, M_CONC, 0, ZIT,
        "concurrent publication, --publishers threads offer (default 1); poll_batch" },
    { "ipc-throughput-concurrent-2pub", K_TPUT, 0, M_CONC2, 0, ZIT, "2 threads offer on one concurrent publication" },
    { "ipc-throughput-claim", K_TPUT, 0, M_CLAIM, 0, ZIT, "exclusive publication, try_claim + commit; poll_batch" },
    { "ipc-rtt", K_RTT, 0, M_EXCL_BATCH, 0, ZIR, "ping-pong over 2 streams, exclusive publications" },
    { "udp-throughput", K_TPUT, 0, M_EXCL_BATCH, 1, ZTT,
        "aeron:udp 127.0.0.1 unicast, exclusive publication, offer; poll_batch (driver sends and receives)" },
    { "udp-rtt", K_RTT, 0, M_EXCL_BATCH, 1, ZTR, "ping-pong over 2 streams on aeron:udp 127.0.0.1 unicast" },
#ifdef SHOAL_BENCH_AERON
    { "aeron-ipc-throughput", K_TPUT, 0, M_EXCL_BATCH, 0, ZIT,
        "Aeron C, loops of ipc-throughput-exclusive: exclusive publication, offer; poll", "ipc-throughput-exclusive" },
    { "aeron-ipc-rtt", K_RTT, 0, M_EXCL_BATCH, 0, ZIR, "Aeron C, loops of ipc-rtt: ping-pong over 2 streams", "ipc-rtt" },
    { "aeron-udp-throughput", K_TPUT, 0, M_EXCL_BATCH, 1, ZTT,
        "Aeron C, loops of udp-throughput: aeron:udp 127.0.0.1 unicast (Aeron's driver sends and receives)",
        "udp-throughput" },
    { "aeron-udp-rtt", K_RTT, 0, M_EXCL_BATCH, 1, ZTR, "Aeron C, loops of udp-rtt: ping-pong on aeron:udp 127.0.0.1",
        "udp-rtt" },
#endif
    { "zmq-inproc-throughput", K_TPUT, 1, Z_INPROC, 0, NULL, "PUSH/PULL inproc://" },
    { "zmq-ipc-throughput", K_TPUT, 1, Z_IPC, 0, NULL, "PUSH/PULL ipc:// under /tmp (+1 zmq I/O thread)" },
    { "zmq-tcp-throughput", K_TPUT, 1, Z_TCP, 0, NULL, "PUSH/PULL tcp://127.0.0.1 (+1 zmq I/O thread)" },
    { "zmq-inproc-rtt", K_RTT, 1, Z_INPROC, 0, NULL, "PAIR ping-pong inproc://" },
    { "zmq-tcp-rtt", K_RTT, 1, Z_TCP, 0, NULL, "PAIR ping-pong tcp://127.0.0.1 (+1 zmq I/O thread)" },
};
#define N_SCENARIOS (sizeof(SCENARIOS) / sizeof(SCENARIOS[0]))

/* ---- options and global state ---- */
static struct {
    int selected[N_SCENARIOS], any_selected;
    long runs, messages, samples, term_mib, max_mib, publishers, rate;
    size_t sizes[MAX_SIZES];
    int nsizes, json, csv, no_zmq, no_aeron, pin, yield;
    const char *note;
    const char *settings[32]; /* --set KEY=VALUE for the embedded driver */
    int nsettings;
} opt = { .runs = 5, .messages = 5000000, .samples = 100000, .term_mib = 0, .max_mib = 256, .publishers = 1 };

static int cpu_a = 0, cpu_b = 1;       /* pin targets: publisher/pinger, subscriber/ponger */
static int pin_attempts, pin_failures; /* updated atomically by the benchmark threads */
static shoal_client_t *client;
static int32_t next_stream = 7001;
static char channel[128];

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pin_self(int cpu)
{
    if (!opt.pin)
        return;
    __atomic_add_fetch(&pin_attempts, 1, __ATOMIC_RELAXED);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        __atomic_add_fetch(&pin_failures, 1, __ATOMIC_RELAXED);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void wait_flag(const int *flag)
{
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
        sched_yield();
}

/* ---- throughput: 1..MAX_PUB publisher threads, one subscriber thread ---- */
/* What the subscriber writes per message sits on cache lines of its own:
 * sharing one with what a publisher reads per offer would make every message
 * pay a cache-line transfer between the two cores (a benchmark artefact). */
typedef struct {
    size_t size;
    int mode, npub, ready, go, abort;
    long count;
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    void *zpush, *zpull;
    uint8_t *zbuf;
    int64_t t_start[MAX_PUB]; /* first offer per publisher */
    char err[256];
    _Alignas(64) long received, bad; /* bad: out of order or wrong length */
    uint64_t expected[MAX_PUB];      /* next sequence number per publisher */
    int64_t t_end;                   /* last message received */
    _Alignas(64) char pad_;
} tput_t;

typedef struct {
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

/* bench_aeron_config_t.pin: role 0 publisher/pinger, 1 subscriber/ponger. */
static void pin_role(int role)
{
    pin_self(role ? cpu_b : cpu_a);
}

static void *tput_publisher(void *arg)
{
    pub_arg_t *a = arg;
    tput_t *t = a->t;
    uint8_t *buf = a->buf;
    const size_t size = t->size;
    const uint64_t tag = (uint64_t)a->index << SEQ_SHIFT;
    const int mode = t->mode;
    shoal_publication_t *const pub = t->pub;
    pin_self(cpu_a);
    __atomic_add_fetch(&t->ready, 1, __ATOMIC_RELEASE);
    wait_flag(&t->go);
    t->t_start[a->index] = now_ns();
    for (long i = 0; i < a->count; i++) {
        uint64_t seq = tag | (uint64_t)i;
        memcpy(buf, &seq, sizeof(seq));
        if (t->zpush) {
            while (zmq_send(t->zpush, buf, size, 0) < 0) {
                if ((errno != EAGAIN && errno != EINTR) || __atomic_load_n(&t->abort, __ATOMIC_RELAXED)) {
                    tput_fail(t, "zmq_send", errno, zmq_strerror(errno));
                    return NULL;
                }
            }
            continue;
        }
        int64_t r;
        for (;;) {
            if (M_CLAIM == mode) {
                shoal_claim_t claim;
                r = shoal_publication_try_claim(pub, size, &claim);
                if (r > 0) {
                    memcpy(claim.data, buf, size);
                    if (shoal_claim_commit(&claim) < 0)
                        r = SHOAL_ERROR;
                }
            } else {
                r = shoal_publication_offer(pub, buf, size);
            }
            if (r > 0)
                break;
            if (SHOAL_ERROR == r || SHOAL_CLOSED == r || SHOAL_MAX_POSITION_EXCEEDED == r ||
                __atomic_load_n(&t->abort, __ATOMIC_RELAXED)) {
                tput_fail(t, M_CLAIM == mode ? "try_claim/commit" : "offer", (long long)r, shoal_errmsg());
                return NULL;
            }
            if (opt.yield && SHOAL_BACK_PRESSURED == r)
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
    if (length != t->size || idx >= (unsigned)t->npub || (seq & ((1ULL << SEQ_SHIFT) - 1)) != t->expected[idx]) {
        t->bad++;
        if (idx < (unsigned)t->npub)
            t->expected[idx] = (seq & ((1ULL << SEQ_SHIFT) - 1)) + 1;
    } else {
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
    long idle = 0, mark = -1, timeouts = 0;
    int64_t mark_ns = 0;
    pin_self(cpu_b);
    __atomic_add_fetch(&t->ready, 1, __ATOMIC_RELEASE);
    while (t->received < t->count && !__atomic_load_n(&t->abort, __ATOMIC_RELAXED)) {
        int n;
        if (t->zpull) {
            n = zmq_recv(t->zpull, zbuf, t->size + 1, 0);
            if (n >= 0) {
                tput_check(t, zbuf, (size_t)n);
                timeouts = 0;
            } else if (errno != EINTR && (errno != EAGAIN || ++timeouts * 1000000000LL >= STALL_NS)) {
                tput_fail(
                    t, "zmq_recv", errno, EAGAIN == errno ? "no message for 10 s (stalled)" : zmq_strerror(errno));
            }
            continue;
        }
        if (M_EXCL_POLL == t->mode) {
            n = shoal_subscription_poll(t->sub, on_fragment, t, BATCH);
        } else {
            n = shoal_subscription_poll_batch(t->sub, frags, BATCH);
            for (int i = 0; i < n; i++)
                tput_check(t, frags[i].data, frags[i].length);
        }
        if (n < 0) {
            tput_fail(t, "poll", n, shoal_errmsg());
        } else if (0 == n && opt.yield) {
            sched_yield();
        }
        if (0 == n && 0 == (++idle & 0xffff)) {
            int64_t now = now_ns();
            if (t->received != mark) {
                mark = t->received;
                mark_ns = now;
            } else if (now - mark_ns > STALL_NS) {
                tput_fail(t, "subscriber stalled", t->received, "no message for 10 s");
            }
        }
    }
    t->t_end = now_ns();
    return NULL;
}

/* One throughput run; returns msgs/s or -1 with t->err set. */
static double tput_run(tput_t *t, long count)
{
    pthread_t pubs[MAX_PUB], sub;
    pub_arg_t args[MAX_PUB];
    t->ready = t->go = t->abort = 0;
    t->count = count, t->received = t->bad = 0;
    memset(t->expected, 0, sizeof(t->expected));
    t->zbuf = malloc(t->size + 1);
    for (int i = 0; i < t->npub; i++) {
        args[i] = (pub_arg_t){ t, i, count / t->npub + (0 == i ? count % t->npub : 0), calloc(1, t->size) };
        t->t_start[i] = INT64_MAX;
    }
    pthread_create(&sub, NULL, tput_subscriber, t);
    for (int i = 0; i < t->npub; i++)
        pthread_create(&pubs[i], NULL, tput_publisher, &args[i]);
    while (__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE) < t->npub + 1)
        sched_yield();
    __atomic_store_n(&t->go, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < t->npub; i++) {
        pthread_join(pubs[i], NULL);
        free(args[i].buf);
    }
    pthread_join(sub, NULL);
    free(t->zbuf);
    if (t->abort)
        return -1;
    if (t->bad || t->received != count) {
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

/* ---- round trip: pinger and ponger threads ---- */
typedef struct {
    size_t size;
    long n;
    double interval_ns; /* --rate: intended gap between pings; 0 = each ping right after the last pong */
    tool_hist_t hist;   /* round trips of the current run, ns */
    shoal_publication_t *ping_pub, *pong_pub;
    shoal_subscription_t *ping_sub, *pong_sub;
    void *zping, *zpong;
    int ready, stop;
    char err[256];
} rtt_t;

static const uint64_t STOP = STOP_SEQ;

/* Echoes pings until a STOP ping arrives (or, after a pinger failure, the stop flag). */
static void *rtt_ponger(void *arg)
{
    rtt_t *r = arg;
    shoal_fragment_t frags[16];
    uint8_t *buf = malloc(r->size + 1);
    pin_self(cpu_b);
    __atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        if (r->zpong) {
            int n = zmq_recv(r->zpong, buf, r->size + 1, 0);
            if (n < 0)
                continue; /* 1 s receive timeout: look at the stop flag */
            if (n >= (int)sizeof(STOP) && 0 == memcmp(buf, &STOP, sizeof(STOP)))
                break;
            while (zmq_send(r->zpong, buf, (size_t)n, 0) < 0 && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {}
            continue;
        }
        int n = shoal_subscription_poll_batch(r->ping_sub, frags, 16);
        if (0 == n && opt.yield)
            sched_yield();
        for (int i = 0; i < n; i++) {
            if (0 == memcmp(frags[i].data, &STOP, sizeof(STOP))) {
                free(buf);
                return NULL;
            }
            while (shoal_publication_offer(r->pong_pub, frags[i].data, frags[i].length) < 0 &&
                   !__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {}
        }
    }
    free(buf);
    return NULL;
}

static void *rtt_pinger(void *arg)
{
    rtt_t *r = arg;
    shoal_fragment_t frag;
    uint8_t *buf = calloc(1, r->size), *rbuf = malloc(r->size + 1);
    pin_self(cpu_a);
    wait_flag(&r->ready);
    const int64_t start = now_ns();
    for (long i = 0; i < r->n; i++) {
        uint64_t seq = (uint64_t)i, got = STOP_SEQ;
        memcpy(buf, &seq, sizeof(seq));
        int64_t t0 = now_ns(), spins = 0;
        if (r->interval_ns > 0) {
            /* Wait for the intended send time (sleep while far, then spin); if late, send at once. The
             * latency counts from the intended time: time lost to a stall is not left out. */
            const int64_t intended = start + (int64_t)((double)i * r->interval_ns);
            for (int64_t ahead; (ahead = intended - t0) > 0; t0 = now_ns()) {
                if (ahead > 200000) {
                    struct timespec ts = { 0, ahead - 100000 };
                    nanosleep(&ts, NULL);
                }
            }
            t0 = intended;
        }
        const int64_t sent = now_ns(); /* stall deadlines count from here */
        if (r->zping) {
            int n = -1;
            if (zmq_send(r->zping, buf, r->size, 0) >= 0) {
                while ((n = zmq_recv(r->zping, rbuf, r->size + 1, 0)) < 0 && EINTR == errno) {}
            }
            if (n != (int)r->size) {
                const char *why = EAGAIN == errno ? "no answer within 1 s" : zmq_strerror(errno);
                snprintf(r->err, sizeof(r->err), "zmq round trip %ld: %s", i, n >= 0 ? "wrong length" : why);
                break;
            }
            memcpy(&got, rbuf, sizeof(got));
        } else {
            int64_t rc;
            while ((rc = shoal_publication_offer(r->ping_pub, buf, r->size)) < 0) {
                if (SHOAL_ERROR == rc || SHOAL_CLOSED == rc || (0 == (++spins & 0xffff) && now_ns() - sent > STALL_NS)) {
                    snprintf(r->err, sizeof(r->err), "ping %ld: offer returned %lld: %s", i, (long long)rc,
                        SHOAL_ERROR == rc || SHOAL_CLOSED == rc ? shoal_errmsg() : "still failing after 10 s");
                    goto done;
                }
            }
            int n;
            while ((n = shoal_subscription_poll_batch(r->pong_sub, &frag, 1)) == 0) {
                if (opt.yield)
                    sched_yield();
                if (0 == (++spins & 0xffff) && now_ns() - sent > STALL_NS) {
                    snprintf(r->err, sizeof(r->err), "no pong for round trip %ld within 10 s (stalled)", i);
                    goto done;
                }
            }
            if (n < 0 || frag.length != r->size) {
                snprintf(r->err, sizeof(r->err), "pong %ld: %s", i, n < 0 ? shoal_errmsg() : "wrong length");
                break;
            }
            memcpy(&got, frag.data, sizeof(got));
        }
        tool_hist_record(&r->hist, (uint64_t)(now_ns() - t0));
        if (got != seq) {
            snprintf(r->err, sizeof(r->err), "round trip %ld answered with sequence %" PRIu64, i, got);
            break;
        }
    }
done:
    memcpy(buf, &STOP, sizeof(STOP));
    int sent = 0;
    for (int k = 0; k < 1000000 && !sent; k++) {
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
static void run_percentiles(const tool_hist_t *hist, double pct[5])
{
    static const double q[5] = { 50, 90, 99, 99.9, 100 };
    for (int i = 0; i < 5; i++)
        pct[i] = (double)tool_hist_percentile(hist, q[i]) / 1e3;
}

/* One round-trip run of n samples; fills pct[5] in us (p50 p90 p99 p99.9 max); -1 with r->err set.
 * r->hist holds the run's round trips afterwards. */
static int rtt_run(rtt_t *r, long n, double pct[5])
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
    run_percentiles(&r->hist, pct);
    return 0;
}

/* rtt_run for the Aeron peer: its own threads, the same histogram and percentiles. */
static int aeron_rtt_run(rtt_t *r, long n, double pct[5])
{
    r->err[0] = '\0';
    tool_hist_reset(&r->hist);
    if (bench_aeron_rtt_run(n, r->interval_ns, &r->hist, r->err, sizeof(r->err)) < 0)
        return -1;
    run_percentiles(&r->hist, pct);
    return 0;
}

/* ---- scenario set-up ---- */
/* Percentiles of the latency distribution (all timed runs merged) in --json. */
static const double DIST_Q[] = { 0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100 };
#define N_DIST (sizeof(DIST_Q) / sizeof(DIST_Q[0]))

typedef struct {
    const scenario_t *sc;
    size_t size;
    int nruns, npub;
    long messages;           /* per throughput run */
    double tput[MAX_RUNS];   /* msgs/s per run */
    double pct[MAX_RUNS][5]; /* us per run */
    double dist[N_DIST];     /* us, every timed round trip of every run */
    uint64_t recorded;       /* round trips in dist */
    char uri[256];
    char error[320];
    int skipped; /* not a failure: the scenario cannot run at this size */
} result_t;

static int add_pub(result_t *res, int exclusive, int32_t stream, shoal_publication_t **pub)
{
    int rc = exclusive ? shoal_add_exclusive_publication(client, channel, stream, pub)
                       : shoal_add_publication(client, channel, stream, pub);
    if (rc < 0) {
        snprintf(res->error, sizeof(res->error), "add publication %s stream %d: %s", channel, stream, shoal_errmsg());
        return -1;
    }
    size_t max = M_CLAIM == res->sc->mode ? shoal_publication_max_payload_length(*pub)
                                          : shoal_publication_max_message_length(*pub);
    if (res->size > max) {
        snprintf(res->error, sizeof(res->error), "skipped: size %zu exceeds the publication's max %s length %zu",
            res->size, M_CLAIM == res->sc->mode ? "payload (try_claim does not fragment)" : "message", max);
        res->skipped = 1;
        return -1;
    }
    for (int64_t deadline = now_ns() + 5000000000LL; !shoal_publication_is_connected(*pub); usleep(1000)) {
        if (now_ns() > deadline) {
            snprintf(res->error, sizeof(res->error), "publication on stream %d not connected after 5 s", stream);
            return -1;
        }
    }
    return 0;
}

static int add_sub(result_t *res, int32_t stream, shoal_subscription_t **sub)
{
    if (shoal_add_subscription(client, channel, stream, sub) < 0) {
        snprintf(res->error, sizeof(res->error), "add subscription %s stream %d: %s", channel, stream, shoal_errmsg());
        return -1;
    }
    return 0;
}

static void *zsock(void *zctx, int type, int bind, const char *endpoint, char *bound, size_t bound_len, size_t size)
{
    void *s = zmq_socket(zctx, type);
    int hwm = (int)(ZMQ_HWM_BYTES / size < ZMQ_HWM ? ZMQ_HWM_BYTES / size : ZMQ_HWM), linger = 0, timeo = 1000;
    if (!s || zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) || zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeo, sizeof(timeo)) ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeo, sizeof(timeo)) ||
        (bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint))) {
        if (s)
            zmq_close(s);
        return NULL;
    }
    if (bound)
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &bound_len);
    return s;
}

/* A UDP port on 127.0.0.1 that was free a moment ago (the kernel's choice), or -1. */
static int free_udp_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;
    if (fd >= 0 && 0 == bind(fd, (struct sockaddr *)&a, sizeof(a)) && 0 == getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void run_scenario(result_t *res)
{
    const scenario_t *sc = res->sc;
    shoal_publication_t *pubs[2] = { NULL, NULL };
    shoal_subscription_t *subs[2] = { NULL, NULL };
    void *zctx = NULL, *zs[2] = { NULL, NULL };
    char endpoint[256] = "", bound[256] = "";
    /* --term-length, else the driver's defaults (what users get); grown so
     * that a message fits in term / 8 */
    uint32_t term = (uint32_t)(opt.term_mib > 0 ? opt.term_mib : sc->udp ? UDP_TERM_MIB : IPC_TERM_MIB) << 20;
    while (term / 8 < res->size && term < (1u << 30))
        term <<= 1;
    if (sc->udp) {
        int port = free_udp_port();
        if (port < 0) {
            snprintf(res->error, sizeof(res->error), "no free UDP port on 127.0.0.1: %s", strerror(errno));
            return;
        }
        snprintf(channel, sizeof(channel), "aeron:udp?endpoint=127.0.0.1:%d|term-length=%um", port, term >> 20);
    } else {
        snprintf(channel, sizeof(channel), "aeron:ipc?term-length=%um", term >> 20);
    }
    snprintf(res->uri, sizeof(res->uri), "%s", sc->zmq ? "" : channel);
    int32_t s0 = next_stream++, s1 = next_stream++;
    if (sc->mirror) {
        const bench_aeron_config_t cfg = { opt.yield, BATCH, STALL_NS, pin_role };
        if (bench_aeron_open(&cfg, channel, K_RTT == sc->kind, res->size, res->error, sizeof(res->error)) < 0)
            goto cleanup;
    } else if (sc->zmq) {
        static int zn = 0;
        zn++;
        if (Z_INPROC == sc->mode)
            snprintf(endpoint, sizeof(endpoint), "inproc://shoal-bench-%d", zn);
        else if (Z_IPC == sc->mode)
            snprintf(endpoint, sizeof(endpoint), "ipc:///tmp/shoal-bench-%ld-%d.ipc", (long)getpid(), zn);
        else
            snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:*");
        int kt = K_TPUT == sc->kind;
        zctx = zmq_ctx_new();
        if (!zctx || !(zs[1] = zsock(zctx, kt ? ZMQ_PULL : ZMQ_PAIR, 1, endpoint, bound, sizeof(bound), res->size)) ||
            !(zs[0] = zsock(zctx, kt ? ZMQ_PUSH : ZMQ_PAIR, 0, bound, NULL, 0, res->size))) {
            snprintf(res->error, sizeof(res->error), "zmq set-up on %s: %s", endpoint, zmq_strerror(errno));
            goto cleanup;
        }
        snprintf(res->uri, sizeof(res->uri), "%s", bound);
    } else if (K_TPUT == sc->kind) {
        if (add_sub(res, s0, &subs[0]) < 0 ||
            add_pub(res, M_EXCL_BATCH == sc->mode || M_EXCL_POLL == sc->mode || M_CLAIM == sc->mode, s0, &pubs[0]) < 0)
            goto cleanup;
    } else if (add_sub(res, s0, &subs[0]) < 0 || add_sub(res, s1, &subs[1]) < 0 || add_pub(res, 1, s0, &pubs[0]) < 0 ||
               add_pub(res, 1, s1, &pubs[1]) < 0) {
        goto cleanup;
    }

    if (K_TPUT == sc->kind) {
        tput_t t = { .size = res->size, .mode = sc->mode };
        t.npub = res->npub = M_CONC2 == sc->mode ? 2 : M_CONC == sc->mode ? (int)opt.publishers : 1;
        t.pub = pubs[0], t.sub = subs[0], t.zpush = zs[0], t.zpull = zs[1];
        /* Large messages: at most --max-mib per run, so a size sweep takes seconds, not hours. */
        long cap = (long)(((uint64_t)opt.max_mib << 20) / res->size);
        cap = cap < 16 ? 16 : cap;
        res->messages = opt.messages < cap ? opt.messages : cap;
        for (int run = -1; run < opt.runs; run++) {
            double v = sc->mirror ? bench_aeron_tput_run(res->messages, t.err, sizeof(t.err))
                                  : tput_run(&t, res->messages);
            if (v < 0) {
                snprintf(res->error, sizeof(res->error), "%s: %s", run < 0 ? "warm-up" : "timed run", t.err);
                break;
            }
            if (run >= 0)
                res->tput[res->nruns++] = v;
        }
    } else {
        long warm = opt.samples / 5 < 1000 ? 1000 : opt.samples / 5;
        rtt_t r = { .size = res->size, .zping = zs[0], .zpong = zs[1] };
        r.ping_pub = pubs[0], r.ping_sub = subs[0], r.pong_pub = pubs[1], r.pong_sub = subs[1];
        r.interval_ns = opt.rate > 0 ? 1e9 / (double)opt.rate : 0;
        tool_hist_t all = { NULL, 0, 0, 0 };
        if (tool_hist_init(&r.hist) < 0 || tool_hist_init(&all) < 0)
            snprintf(res->error, sizeof(res->error), "out of memory for the histograms");
        for (int run = -1; run < opt.runs && !res->error[0]; run++) {
            long n = run < 0 ? warm : opt.samples;
            if ((sc->mirror ? aeron_rtt_run(&r, n, res->pct[run < 0 ? 0 : run])
                            : rtt_run(&r, n, res->pct[run < 0 ? 0 : run])) < 0) {
                snprintf(res->error, sizeof(res->error), "%s: %s", run < 0 ? "warm-up" : "timed run", r.err);
                break;
            }
            if (run >= 0) {
                res->nruns++;
                tool_hist_merge(&all, &r.hist);
            }
        }
        for (size_t k = 0; k < N_DIST && all.counts; k++)
            res->dist[k] = (double)tool_hist_percentile(&all, DIST_Q[k]) / 1e3;
        res->recorded = all.counts ? all.total : 0;
        tool_hist_free(&r.hist);
        tool_hist_free(&all);
    }

cleanup:
    if (sc->mirror)
        bench_aeron_close();
    for (int i = 0; i < 2; i++) {
        if (pubs[i])
            shoal_publication_close(pubs[i]);
        if (subs[i])
            shoal_subscription_close(subs[i]);
        if (zs[i])
            zmq_close(zs[i]);
    }
    if (zctx)
        zmq_ctx_term(zctx);
    if (Z_IPC == sc->mode && strlen(endpoint) > 6)
        unlink(endpoint + 6);
}

/* ---- statistics ---- */
typedef struct {
    double med, min, max;
} stat_t;

/* Median, min and max of n values taken every stride doubles from v. */
static stat_t stats(const double *v, int n, int stride)
{
    double tmp[MAX_RUNS];
    stat_t s = { 0, 0, 0 };
    if (n <= 0)
        return s;
    for (int i = 0; i < n; i++)
        tmp[i] = v[i * stride];
    qsort(tmp, (size_t)n, sizeof(double), cmp_dbl);
    s.med = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
    s.min = tmp[0];
    s.max = tmp[n - 1];
    return s;
}

static result_t *results;
static int nresults;

static int ok(const result_t *r)
{
    return r && !r->error[0] && r->nruns > 0;
}

static const char *transport(const scenario_t *sc)
{
    return sc->zmq ? "zmq" : sc->mirror ? "aeron" : "shoal";
}

static int any_aeron(void)
{
    for (int i = 0; i < nresults; i++)
        if (results[i].sc->mirror)
            return 1;
    return 0;
}

/* Median msgs/s (throughput) or the median across runs of percentile column p (0 = p50, 2 = p99) in us (rtt)
 * of the result for name at size; 0 if none. */
static double headline(const char *name, size_t size, int p)
{
    for (int i = 0; name && i < nresults; i++) {
        const result_t *r = &results[i];
        if (ok(r) && r->size == size && 0 == strcmp(r->sc->name, name))
            return K_TPUT == r->sc->kind ? stats(r->tput, r->nruns, 1).med : stats(&r->pct[0][p], r->nruns, 5).med;
    }
    return 0;
}

/* An aeron-* result against the shoal scenario whose loops it runs, same size: throughput shoal / aeron
 * (v[0]); round trip aeron / shoal at p50, p99, p99.9 (v[0..2]). > 1: shoal is better. Returns how many
 * were filled: 0 when either side has no result at this size. */
static int aeron_ratios(const result_t *r, double v[3])
{
    v[0] = v[1] = v[2] = 0;
    if (!r->sc->mirror || !ok(r))
        return 0;
    if (K_TPUT == r->sc->kind) {
        double aeron = headline(r->sc->name, r->size, 0);
        v[0] = aeron > 0 ? headline(r->sc->mirror, r->size, 0) / aeron : 0;
        return v[0] > 0 ? 1 : 0;
    }
    static const int col[3] = { 0, 2, 3 };
    for (int k = 0; k < 3; k++) {
        double shoal = headline(r->sc->mirror, r->size, col[k]);
        v[k] = shoal > 0 ? headline(r->sc->name, r->size, col[k]) / shoal : 0;
    }
    return v[0] > 0 ? 3 : 0; /* 0: the shoal scenario did not run at this size */
}

/* Derived figures of a result, in the order of the keys of its kind; 0 = not available. */
static const char *TPUT_KEYS[] = { "median_mmsgs_per_s", "min_mmsgs_per_s", "max_mmsgs_per_s", "median_mb_per_s",
    "ratio_vs_zmq" };
static const char *RTT_KEYS[] = { "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "p50_min_us", "p50_max_us",
    "p99_min_us", "p99_max_us", "ratio_zmq_p50_over_shoal", "ratio_zmq_p99_over_shoal" };
#define N_TPUT_KEYS 5
#define N_RTT_KEYS 11

static int metrics(const result_t *r, double *v)
{
    int tput = K_TPUT == r->sc->kind, n = tput ? N_TPUT_KEYS : N_RTT_KEYS;
    memset(v, 0, sizeof(double) * (size_t)n);
    if (!ok(r))
        return n;
    double self = headline(r->sc->name, r->size, 0);
    if (tput) {
        stat_t s = stats(r->tput, r->nruns, 1);
        double zmq = headline(r->sc->peer, r->size, 0);
        v[0] = s.med / 1e6, v[1] = s.min / 1e6, v[2] = s.max / 1e6, v[3] = s.med * (double)r->size / 1e6;
        v[4] = zmq > 0 ? self / zmq : 0;
        return n;
    }
    for (int p = 0; p < 5; p++)
        v[p] = stats(&r->pct[0][p], r->nruns, 5).med;
    stat_t p50 = stats(&r->pct[0][0], r->nruns, 5), p99 = stats(&r->pct[0][2], r->nruns, 5);
    v[5] = p50.min, v[6] = p50.max, v[7] = p99.min, v[8] = p99.max;
    if (r->sc->peer) {
        v[9] = headline(r->sc->peer, r->size, 0) / self;
        v[10] = v[2] > 0 ? headline(r->sc->peer, r->size, 2) / v[2] : 0;
    }
    return n;
}

/* ---- machine description ---- */
static struct {
    char cpu[128], kernel[256], date[32], pinned[192], note[256], loadavg[64];
    long nproc;
    int zmaj, zmin, zpat;
} machine;

static void read_machine(void)
{
    char line[512];
    machine.nproc = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(machine.cpu, sizeof(machine.cpu), "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (0 == strncmp(line, "model name", 10) && colon) {
            colon += 1 + strspn(colon + 1, " \t");
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(machine.cpu, sizeof(machine.cpu), "%s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
    snprintf(machine.loadavg, sizeof(machine.loadavg), "unknown");
    if ((f = fopen("/proc/loadavg", "r")) && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(machine.loadavg, sizeof(machine.loadavg), "%.63s", line);
    }
    if (f)
        fclose(f);
    struct utsname u;
    if (0 == uname(&u))
        snprintf(machine.kernel, sizeof(machine.kernel), "%s %s %s", u.sysname, u.release, u.machine);
    time_t now = time(NULL);
    strftime(machine.date, sizeof(machine.date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    zmq_version(&machine.zmaj, &machine.zmin, &machine.zpat);
    snprintf(machine.note, sizeof(machine.note),
        "%ld cores: the publisher(s), subscriber, embedded driver and client conductor threads share them "
        "(zmq ipc/tcp add a zmq I/O thread)",
        machine.nproc);
    /* Pin targets: the first two CPUs this process may run on. */
    cpu_set_t set;
    int found = 0;
    if (0 == sched_getaffinity(0, sizeof(set), &set)) {
        for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
            if (CPU_ISSET(c, &set))
                *(0 == found++ ? &cpu_a : &cpu_b) = c;
    }
    if (found < 2)
        cpu_b = cpu_a;
}

static void describe_pinning(void)
{
    if (!opt.pin)
        snprintf(machine.pinned, sizeof(machine.pinned), "no (--pin not given)");
    else if (0 == pin_attempts || pin_failures == pin_attempts)
        snprintf(machine.pinned, sizeof(machine.pinned), "no: pthread_setaffinity_np failed (%d of %d calls)",
            pin_failures, pin_attempts);
    else
        snprintf(machine.pinned, sizeof(machine.pinned),
            "%s: publisher(s)/pinger on cpu %d, subscriber/ponger on cpu %d (%d of %d calls failed); driver not pinned",
            pin_failures ? "partly" : "yes", cpu_a, cpu_b, pin_failures, pin_attempts);
}

static const char *ZMQ_NOTE = "zmq: SNDHWM/RCVHWM 1000000 messages (fewer above 256 B: at most 256 MiB queued); zmq "
                              "batches messages internally (its pipes and I/O thread coalesce many messages per "
                              "wake-up), so its throughput is a batched figure";
static const char *AERON_NOTE =
    "aeron-* scenarios: Aeron C with its media driver embedded in this process (SHARED threading, one driver "
    "thread, otherwise Aeron's default settings; a fresh aeron.dir under /dev/shm per scenario; --set applies to "
    "shoal's driver only), the same URIs and term length as shoal's scenario (Aeron's publisher window is also "
    "term / 2), exclusive publications, the same threads, poll limits, idle behaviour and verification; messages "
    "above the MTU reassembled by Aeron's fragment assembler";
static const char *HIST_NOTE = "latency: every round trip recorded in a log-linear histogram (buckets <= 0.2% wide, "
                               "percentiles rounded up to the bucket top, max exact)";

/* "default settings" or the --set list. */
static const char *driver_settings(void)
{
    static char text[512];
    if (0 == opt.nsettings)
        return "default settings";
    size_t n = (size_t)snprintf(text, sizeof(text), "settings");
    for (int i = 0; i < opt.nsettings && n < sizeof(text); i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, " %s", opt.settings[i]);
    return text;
}

/* ---- output ---- */
static void print_table(void)
{
    double v[N_RTT_KEYS];
    printf("shoal-bench: shoal %s, libzmq %d.%d.%d, %s\n", shoal_version(), machine.zmaj, machine.zmin, machine.zpat,
        machine.date);
    printf("machine : %ld cores (nproc), %s, kernel %s, load average at start %s\n", machine.nproc, machine.cpu,
        machine.kernel, machine.loadavg);
    printf("pinned  : %s\nnote    : %s\n", machine.pinned, machine.note);
    printf("polling : %s\n", opt.yield ? "sched_yield() when a poll is empty or an offer back-pressured (--yield)"
                                        : "busy (threads never yield; on fewer cores than busy threads the driver "
                                          "thread waits for a time slice: see --yield)");
    if (opt.note)
        printf("          %s\n", opt.note);
    printf("params  : %ld timed runs (+1 warm-up each), %ld messages per throughput run (at most %ld MiB), %ld round "
           "trips per rtt run, %s\n",
        opt.runs, opt.messages, opt.max_mib, opt.samples, opt.rate > 0 ? "paced (--rate)" : "back to back");
    if (opt.rate > 0)
        printf("          --rate %ld: one ping every %.2f us, latency from the intended send time\n", opt.rate,
            1e6 / (double)opt.rate);
    printf("          shoal: embedded driver (%s), aeron:ipc?term-length=%ldm and "
           "aeron:udp?endpoint=127.0.0.1:PORT|term-length=%ldm\n          (%s; publisher window = term / 2; term "
           "grown for messages > term / 8), busy-polling threads\n          %s\n          %s\n",
        driver_settings(), opt.term_mib > 0 ? opt.term_mib : IPC_TERM_MIB, opt.term_mib > 0 ? opt.term_mib : UDP_TERM_MIB,
        opt.term_mib > 0 ? "--term-length" : "the driver's default term lengths", ZMQ_NOTE, HIST_NOTE);
    if (any_aeron())
        printf("          aeron: %s\n          %s\n", bench_aeron_version(), AERON_NOTE);
    for (int kind = K_TPUT, header = 0; kind <= K_RTT; kind++, header = 0) {
        for (int i = 0; i < nresults; i++) {
            const result_t *r = &results[i];
            if (kind != r->sc->kind)
                continue;
            if (!header++ && K_TPUT == kind)
                printf("\nThroughput, M msgs/s across runs (MB/s = 10^6 payload bytes/s at the median)\n"
                       "%-32s %7s %4s %8s %8s %8s %9s\n",
                    "scenario", "size", "pubs", "median", "min", "max", "MB/s");
            else if (1 == header)
                printf("\nRound trip, us (each percentile: median across runs; ranges: min..max across runs)\n"
                       "%-16s %7s %8s %8s %8s %8s %9s %17s %17s\n",
                    "scenario", "size", "p50", "p90", "p99", "p99.9", "max", "p50 range", "p99 range");
            metrics(r, v);
            if (!ok(r))
                printf("%-*s %7zu   %s (see below)\n", K_TPUT == kind ? 32 : 16, r->sc->name, r->size,
                    r->skipped ? "skipped" : "ERROR");
            else if (K_TPUT == kind)
                printf("%-32s %7zu %4d %8.3f %8.3f %8.3f %9.1f\n", r->sc->name, r->size, r->npub, v[0], v[1], v[2],
                    v[3]);
            else
                printf("%-16s %7zu %8.2f %8.2f %8.2f %8.2f %9.2f %8.2f..%-7.2f %8.2f..%-7.2f\n", r->sc->name, r->size,
                    v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
        }
    }
    int header = 0;
    for (int i = 0; i < nresults; i++) {
        const result_t *r = &results[i];
        int tput = K_TPUT == r->sc->kind;
        metrics(r, v);
        for (int k = 0; k < (tput ? 1 : 2); k++) {
            double q = tput ? v[4] : v[9 + k];
            if (q <= 0)
                continue;
            if (!header++)
                printf("\nshoal vs zmq, same size (throughput: shoal / zmq; latency: zmq / shoal at p50 and p99; "
                       "> 1 means shoal is better)\n");
            printf("  %-32s vs %-22s %7zu B: %8.2fx%s\n", r->sc->name, r->sc->peer, r->size, q,
                tput ? "" : k ? " (p99)" : " (p50)");
        }
    }
    header = 0;
    for (int i = 0; i < nresults; i++) {
        const result_t *r = &results[i];
        int n = aeron_ratios(r, v);
        if (n > 0 && !header++)
            printf("\nshoal vs aeron, same loops and size (throughput: shoal / aeron; latency: aeron / shoal at p50, "
                   "p99, p99.9; > 1 means shoal is better)\n");
        if (1 == n)
            printf("  %-32s vs %-22s %7zu B: %8.2fx\n", r->sc->mirror, r->sc->name, r->size, v[0]);
        else if (3 == n)
            printf("  %-32s vs %-22s %7zu B: %8.2fx (p50) %6.2fx (p99) %6.2fx (p99.9)\n", r->sc->mirror, r->sc->name,
                r->size, v[0], v[1], v[2]);
    }
    header = 0;
    for (int i = 0; i < nresults; i++) {
        if (results[i].error[0])
            printf("%s  %s (%zu B): %s\n", header++ ? "" : "\nErrors and skipped scenarios\n", results[i].sc->name,
                results[i].size, results[i].error);
    }
}

static void jstr(const char *s)
{
    tool_json_string(s, strlen(s));
}

/* Prints `, "key": "value"` (lead replaces the comma). */
static void jkv(const char *lead, const char *key, const char *value)
{
    printf("%s\"%s\": ", lead ? lead : ", ", key);
    jstr(value);
}

static void print_json(void)
{
    double v[N_RTT_KEYS];
    printf("{\"tool\": \"shoal-bench\", \"shoal_version\": \"%s\", \"zmq_version\": \"%d.%d.%d\", \"date\": \"%s\",\n",
        shoal_version(), machine.zmaj, machine.zmin, machine.zpat, machine.date);
    printf(" \"machine\": {\"nproc\": %ld", machine.nproc);
    jkv(NULL, "cpu", machine.cpu);
    jkv(NULL, "kernel", machine.kernel);
    jkv(NULL, "loadavg", machine.loadavg);
    jkv(NULL, "note", machine.note);
    printf(", \"user_note\": ");
    opt.note ? jstr(opt.note) : (void)printf("null");
    printf("},\n \"client_yield\": %s", opt.yield ? "true" : "false");
    printf(",\n \"pin_requested\": %s, \"pinned\": %s", opt.pin ? "true" : "false",
        opt.pin && pin_attempts > 0 && 0 == pin_failures ? "true" : "false");
    jkv(NULL, "pinning", machine.pinned);
    printf(",\n \"params\": {\"runs\": %ld, \"warmup_runs\": 1, \"messages\": %ld, \"max_mib_per_run\": %ld, "
           "\"samples\": %ld, \"term_mib\": %ld, \"zmq_hwm\": %d, \"publishers\": %ld, \"rate_per_s\": ",
        opt.runs, opt.messages, opt.max_mib, opt.samples, opt.term_mib, ZMQ_HWM, opt.publishers);
    opt.rate > 0 ? printf("%ld", opt.rate) : printf("null");
    printf("},\n");
    jkv(" ", "zmq_note", ZMQ_NOTE);
    jkv(NULL, "latency_note", HIST_NOTE);
    jkv(NULL, "driver", driver_settings());
    if (any_aeron()) {
        printf(",\n \"aeron\": {");
        jkv("", "version", bench_aeron_version());
        jkv(NULL, "note", AERON_NOTE);
        printf("}");
    }
    printf(",\n \"results\": [");
    for (int i = 0; i < nresults; i++) {
        const result_t *r = &results[i];
        int tput = K_TPUT == r->sc->kind;
        printf("%s\n  {\"scenario\": \"%s\", \"kind\": \"%s\", \"transport\": \"%s\", \"size\": %zu", i ? "," : "",
            r->sc->name, tput ? "throughput" : "rtt", transport(r->sc), r->size);
        jkv(NULL, "endpoint", r->uri);
        jkv(NULL, "description", r->sc->what);
        printf(", \"zmq_peer\": ");
        r->sc->peer ? jstr(r->sc->peer) : (void)printf("null");
        if (tput)
            printf(", \"publishers\": %d, \"messages\": %ld", r->npub, r->messages);
        else
            opt.rate > 0 ? printf(", \"rate_per_s\": %ld", opt.rate) : printf(", \"rate_per_s\": null");
        printf(", \"skipped\": %s, \"error\": ", r->skipped ? "true" : "false");
        r->error[0] ? jstr(r->error) : (void)printf("null");
        printf(",\n   \"runs\": [");
        for (int k = 0; k < r->nruns; k++) {
            if (tput)
                printf("%s%.1f", k ? ", " : "", r->tput[k]);
            else
                printf("%s{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f}", k ? ", " : "",
                    r->pct[k][0], r->pct[k][1], r->pct[k][2], r->pct[k][3], r->pct[k][4]);
        }
        printf("]");
        int n = metrics(r, v);
        for (int k = 0; k < n; k++) {
            printf(",%s\"%s\": ", k % 4 ? " " : "\n   ", tput ? TPUT_KEYS[k] : RTT_KEYS[k]);
            v[k] > 0 ? printf("%.4f", v[k]) : printf("null");
        }
        if (r->sc->mirror) {
            double a[3];
            aeron_ratios(r, a);
            printf(",\n   \"shoal_peer\": \"%s\"", r->sc->mirror);
            for (int k = 0; k < (tput ? 1 : 3); k++) {
                static const char *keys[] = { "ratio_aeron_p50_over_shoal", "ratio_aeron_p99_over_shoal",
                    "ratio_aeron_p99_9_over_shoal" };
                printf(", \"%s\": ", tput ? "ratio_shoal_over_aeron" : keys[k]);
                a[k] > 0 ? printf("%.4f", a[k]) : printf("null");
            }
        }
        if (!tput && ok(r)) {
            printf(",\n   \"round_trips\": %" PRIu64 ", \"distribution_us\": [", r->recorded);
            for (size_t k = 0; k < N_DIST; k++)
                printf("%s[%g, %.3f]", k ? ", " : "", DIST_Q[k], r->dist[k]);
            printf("]");
        }
        printf("}");
    }
    printf("\n ]\n}\n");
}

static void print_csv(void)
{
    double v[N_RTT_KEYS];
    printf("# shoal-bench shoal %s libzmq %d.%d.%d %s\n# machine: %ld cores, %s, %s, load average at start %s\n"
           "# pinned: %s\n# note: %s\n# driver: %s\n",
        shoal_version(), machine.zmaj, machine.zmin, machine.zpat, machine.date, machine.nproc, machine.cpu,
        machine.kernel, machine.loadavg, machine.pinned, machine.note, driver_settings());
    if (opt.note)
        printf("# %s\n", opt.note);
    if (any_aeron())
        printf("# aeron: %s\n# %s\n", bench_aeron_version(), AERON_NOTE);
    printf("# runs %ld (+1 warm-up), messages %ld (at most %ld MiB), samples %ld, term %ld MiB, rate %ld/s (0: back "
           "to back)\nscenario,kind,transport,size,runs,publishers",
        opt.runs, opt.messages, opt.max_mib, opt.samples, opt.term_mib, opt.rate);
    for (int k = 0; k < N_TPUT_KEYS + N_RTT_KEYS; k++)
        printf(",%s", k < N_TPUT_KEYS ? TPUT_KEYS[k] : RTT_KEYS[k - N_TPUT_KEYS]);
    printf(",error\n");
    for (int i = 0; i < nresults; i++) {
        const result_t *r = &results[i];
        int tput = K_TPUT == r->sc->kind, n = metrics(r, v);
        printf("%s,%s,%s,%zu,%d,%d", r->sc->name, tput ? "throughput" : "rtt", transport(r->sc), r->size,
            r->nruns, tput ? r->npub : 1);
        for (int k = 0; k < (tput ? 0 : N_TPUT_KEYS); k++)
            printf(",");
        for (int k = 0; k < n; k++)
            v[k] > 0 ? printf(",%.4f", v[k]) : printf(",");
        for (int k = 0; k < (tput ? N_RTT_KEYS : 0); k++)
            printf(",");
        printf(",\"");
        for (const char *c = r->error; *c; c++)
            fputs('"' == *c ? "\"\"" : (char[2]){ *c, 0 }, stdout);
        printf("\"\n");
    }
}

/* ---- command line ---- */
static void usage(FILE *out)
{
    fprintf(out,
        "usage: shoal-bench [options]\n"
        "  --scenario NAME   run NAME (repeatable or comma list; default: all below)\n"
        "  --runs N          timed runs per scenario after one warm-up (default 5, max %d)\n"
        "  --messages N      messages per throughput run (default 5000000)\n"
        "  --samples N       round trips per latency run (default 100000)\n"
        "  --term-length MIB shoal IPC and UDP term length in MiB, a power of two (default: the driver's, IPC 64,\n"
        "                    UDP 16; window = term / 2)\n"
        "  --size BYTES      message size, %d..%d (default 32; repeatable or comma list, at most %d sizes)\n"
        "  --max-mib N       cap a throughput run at N MiB of payload (and >= 16 messages): fewer messages\n"
        "                    for large sizes (default 256)\n"
        "  --publishers N    publisher threads of ipc-throughput-concurrent, 1..%d (default 1)\n"
        "  --rate N          rtt scenarios: N pings per second on a fixed schedule, latency from the intended\n"
        "                    send time (coordinated omission counted); default: back to back\n"
        "  --set KEY=VALUE   embedded driver setting, as shoald --set (e.g. IDLE_STRATEGY=busy-spin); repeatable\n"
        "  --note TEXT       a line about the conditions (e.g. a shared machine), printed in the header\n"
        "  --json | --csv    machine-readable output instead of the table\n"
        "  --no-zmq          skip the ZeroMQ peer scenarios\n"
        "  --no-aeron        skip the Aeron peer scenarios\n"
        "  --pin             pin publisher/pinger and subscriber/ponger threads to the first two CPUs\n"
        "  --yield           shoal threads sched_yield() when a poll finds nothing or an offer is back\n"
        "                    pressured, so a driver thread is not starved when there are fewer cores than\n"
        "                    busy threads (UDP on 2 cores; IPC whose window the conductor must move)\n"
        "  --help            this text\n",
        MAX_RUNS, MIN_SIZE, MAX_SIZE, MAX_SIZES, MAX_PUB);
#ifdef SHOAL_BENCH_AERON
    fprintf(out, "aeron peer: %s\n", bench_aeron_version());
#else
    fprintf(out,
        "aeron peer: not built in (aeron-ipc-throughput, aeron-ipc-rtt, aeron-udp-throughput, aeron-udp-rtt);\n"
        "  to get it: %s\n",
        AERON_HOWTO);
#endif
    fprintf(out, "scenarios (also accepted as plain arguments):\n");
    for (size_t i = 0; i < N_SCENARIOS; i++)
        fprintf(out, "  %-32s %s\n", SCENARIOS[i].name, SCENARIOS[i].what);
}

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shoal-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see shoal-bench --help)\n");
    va_end(ap);
    exit(2);
}

static long parse_long(const char *name, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        bad("%s: '%s' is not an integer in %ld..%ld", name, s, min, max);
    return v;
}

static void parse_list(const char *arg, int is_size)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", arg);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (is_size) {
            if (opt.nsizes == MAX_SIZES)
                bad("--size: at most %d sizes", MAX_SIZES);
            opt.sizes[opt.nsizes++] = (size_t)parse_long("--size", tok, MIN_SIZE, MAX_SIZE);
            continue;
        }
        size_t i = 0;
        while (i < N_SCENARIOS && strcmp(SCENARIOS[i].name, tok))
            i++;
        if (i == N_SCENARIOS && 0 == strncmp(tok, "aeron-", 6))
            bad("--scenario %s: the Aeron peer is not built into this shoal-bench; to get it: %s", tok, AERON_HOWTO);
        if (i == N_SCENARIOS)
            bad("--scenario: unknown scenario '%s'; --help lists them", tok);
        opt.selected[i] = opt.any_selected = 1;
    }
}

int main(int argc, char **argv)
{
    static const struct option options[] = { { "scenario", required_argument, NULL, 's' },
        { "runs", required_argument, NULL, 'r' }, { "messages", required_argument, NULL, 'm' },
        { "samples", required_argument, NULL, 'n' }, { "term-length", required_argument, NULL, 't' },
        { "size", required_argument, NULL, 'z' }, { "json", no_argument, NULL, 'j' }, { "csv", no_argument, NULL, 'c' },
        { "no-zmq", no_argument, NULL, 'Z' }, { "pin", no_argument, NULL, 'p' }, { "help", no_argument, NULL, 'h' },
        { "max-mib", required_argument, NULL, 'M' }, { "publishers", required_argument, NULL, 'P' },
        { "rate", required_argument, NULL, 'R' }, { "note", required_argument, NULL, 'N' },
        { "set", required_argument, NULL, 'S' }, { "yield", no_argument, NULL, 'Y' },
        { "no-aeron", no_argument, NULL, 'A' }, { NULL, 0, NULL, 0 } };
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (o) {
            case 's': parse_list(optarg, 0); break;
            case 'r': opt.runs = parse_long("--runs", optarg, 1, MAX_RUNS); break;
            case 'm': opt.messages = parse_long("--messages", optarg, 1, 1L << 40); break;
            case 'n': opt.samples = parse_long("--samples", optarg, 1, 100000000); break;
            case 't':
                opt.term_mib = parse_long("--term-length", optarg, 1, 1024);
                if (opt.term_mib & (opt.term_mib - 1))
                    bad("--term-length: %ld is not a power of two", opt.term_mib);
                break;
            case 'z': parse_list(optarg, 1); break;
            case 'j': opt.json = 1; break;
            case 'c': opt.csv = 1; break;
            case 'Z': opt.no_zmq = 1; break;
            case 'A': opt.no_aeron = 1; break;
            case 'p': opt.pin = 1; break;
            case 'Y': opt.yield = 1; break;
            case 'M': opt.max_mib = parse_long("--max-mib", optarg, 1, 1L << 20); break;
            case 'P': opt.publishers = parse_long("--publishers", optarg, 1, MAX_PUB); break;
            case 'R': opt.rate = parse_long("--rate", optarg, 1, 1000000000L); break;
            case 'N': opt.note = optarg; break;
            case 'S':
                if (opt.nsettings == (int)(sizeof(opt.settings) / sizeof(opt.settings[0])))
                    bad("--set: at most %d settings", opt.nsettings);
                if (!strchr(optarg, '='))
                    bad("--set: '%s' is not KEY=VALUE", optarg);
                opt.settings[opt.nsettings++] = optarg;
                break;
            case 'h': usage(stdout); return 0;
            default:
                if (optopt)
                    bad("option '%s' %s", argv[optind - 1],
                        strchr(argv[optind - 1], '=') ? "takes no value" : "needs a value");
                bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++)
        parse_list(argv[optind], 0);
    if (opt.json && opt.csv)
        bad("--json and --csv exclude each other");
    if (0 == opt.nsizes)
        opt.sizes[opt.nsizes++] = 32;
    for (size_t i = 0; i < N_SCENARIOS; i++) {
        if (opt.no_zmq && SCENARIOS[i].zmq && opt.selected[i])
            bad("--no-zmq contradicts --scenario %s", SCENARIOS[i].name);
        if (opt.no_aeron && SCENARIOS[i].mirror && opt.selected[i])
            bad("--no-aeron contradicts --scenario %s", SCENARIOS[i].name);
        opt.selected[i] = opt.any_selected
                              ? opt.selected[i]
                              : !(opt.no_zmq && SCENARIOS[i].zmq) && !(opt.no_aeron && SCENARIOS[i].mirror);
    }
    read_machine();

    char dir[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-bench-%ld", (long)getpid());
    shoal_context_t *ctx;
    shoal_driver_t *driver;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0) {
        fprintf(stderr, "shoal-bench: %s\n", shoal_errmsg());
        return 1;
    }
    for (int i = 0; i < opt.nsettings; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(strchr(opt.settings[i], '=') - opt.settings[i]), opt.settings[i]);
        if (shoal_context_set(ctx, key, strchr(opt.settings[i], '=') + 1) < 0)
            bad("--set %s: %s", opt.settings[i], shoal_errmsg());
    }
    if (shoal_driver_start(&driver, ctx) < 0 || shoal_client_connect(&client, ctx) < 0) {
        fprintf(stderr, "shoal-bench: cannot start the embedded driver in %s: %s\n", dir, shoal_errmsg());
        return 1;
    }

    results = calloc(N_SCENARIOS * MAX_SIZES, sizeof(result_t));
    int failed = 0, progress = isatty(2);
    for (int z = 0; z < opt.nsizes; z++) {
        for (size_t i = 0; i < N_SCENARIOS; i++) {
            if (!opt.selected[i])
                continue;
            result_t *r = &results[nresults++];
            r->sc = &SCENARIOS[i];
            r->size = opt.sizes[z];
            if (progress)
                fprintf(stderr, "shoal-bench: %s, %zu B ...\n", r->sc->name, r->size);
            run_scenario(r);
            failed |= !ok(r) && !r->skipped;
        }
    }
    describe_pinning();
    opt.json ? print_json() : opt.csv ? print_csv() : print_table();
    fflush(stdout);

    shoal_client_close(client);
    shoal_driver_close(driver);
    shoal_context_close(ctx);
    free(results);
    return failed ? 1 : 0;
}
