/*
 * One shoal-bench scenario at one message size: the channel (aeron:ipc or
 * aeron:udp on a free 127.0.0.1 port, term length from --term-length or the
 * driver's default, grown so that a message fits in term / 8), the shoal
 * publications and subscriptions or the peer's set-up, one warm-up run and
 * --runs timed runs, then everything closed again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_aeron.h"
#include "bench_clock.h"

const double DIST_Q[N_DIST] = { 0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100 };

static int add_pub(bench_t *b, result_t *res, const char *channel, int exclusive, int32_t stream,
    shoal_publication_t **pub)
{
    int rc = exclusive ? shoal_add_exclusive_publication(b->client, channel, stream, pub)
                       : shoal_add_publication(b->client, channel, stream, pub);
    if (rc < 0)
    {
        snprintf(res->error, sizeof(res->error), "add publication %s stream %d: %s", channel, stream, shoal_errmsg());
        return -1;
    }
    size_t max = M_CLAIM == res->sc->mode ? shoal_publication_max_payload_length(*pub)
                                          : shoal_publication_max_message_length(*pub);
    if (res->size > max)
    {
        snprintf(res->error, sizeof(res->error), "skipped: size %zu exceeds the publication's max %s length %zu",
            res->size, M_CLAIM == res->sc->mode ? "payload (try_claim does not fragment)" : "message", max);
        res->skipped = 1;
        return -1;
    }
    for (int64_t deadline = bench_now_ns() + 5000000000LL; !shoal_publication_is_connected(*pub); usleep(1000))
    {
        if (bench_now_ns() > deadline)
        {
            snprintf(res->error, sizeof(res->error), "publication on stream %d not connected after 5 s", stream);
            return -1;
        }
    }
    return 0;
}

static int add_sub(bench_t *b, result_t *res, const char *channel, int32_t stream, shoal_subscription_t **sub)
{
    if (shoal_add_subscription(b->client, channel, stream, sub) < 0)
    {
        snprintf(res->error, sizeof(res->error), "add subscription %s stream %d: %s", channel, stream, shoal_errmsg());
        return -1;
    }
    return 0;
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

/* bench_aeron_config_t.pin: role 0 publisher/pinger, 1 subscriber/ponger. */
static void pin_role(void *pin, int role)
{
    bench_pin_self(pin, role);
}

/* Cold start: every run, the warm-up too, writes into a log nobody has
 * touched yet (a new publication on a new stream; for the Aeron peer a new
 * embedded driver, hence a new log too), so what fresh term pages cost the
 * publisher and the subscriber (page faults, first touches) is in the figure.
 * Only the first COLD_MESSAGES messages are timed: what a user sees when a
 * stream starts. */
static void run_cold_start(bench_t *b, result_t *res, const char *channel)
{
    const bench_options_t *opt = b->opt;
    const scenario_t *sc = res->sc;
    long cap = (long)(((uint64_t)opt->max_mib << 20) / res->size);
    res->npub = 1;
    res->messages = opt->messages < COLD_MESSAGES ? opt->messages : COLD_MESSAGES;
    res->messages = res->messages < cap ? res->messages : cap < 16 ? 16 : cap;
    for (int run = -1; run < opt->runs && !res->error[0]; run++)
    {
        tput_t t = { .size = res->size, .mode = sc->mode, .npub = 1, .yield = opt->yield, .pin = &b->pin };
        double v = -1;
        const int64_t setup_start = bench_now_ns();
        double setup_ms = -1;
        if (sc->mirror)
        {
            const bench_aeron_config_t cfg = { opt->yield, BATCH, 0, STALL_NS, pin_role, &b->pin };
            if (0 == bench_aeron_open(&cfg, channel, 0, res->size, res->error, sizeof(res->error)))
            {
                setup_ms = (double)(bench_now_ns() - setup_start) / 1e6;
                v = bench_aeron_tput_run(res->messages, t.err, sizeof(t.err));
            }
            bench_aeron_close();
        }
        else
        {
            int32_t stream = b->next_stream++;
            if (0 == add_sub(b, res, channel, stream, &t.sub) && 0 == add_pub(b, res, channel, 1, stream, &t.pub))
            {
                setup_ms = (double)(bench_now_ns() - setup_start) / 1e6;
                v = bench_tput_run(&t, res->messages);
            }
            if (t.pub)
                shoal_publication_close(t.pub);
            if (t.sub)
                shoal_subscription_close(t.sub);
        }
        if (res->error[0])
            break;
        if (v < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", run < 0 ? "warm-up" : "timed run", t.err);
            break;
        }
        if (run >= 0)
        {
            res->setup_ms[res->nruns] = setup_ms;
            res->tput[res->nruns++] = v;
        }
    }
}

/* The percentiles of all timed runs together into res, then the histograms go. */
static void finish_distribution(result_t *res, tool_hist_t *run_hist, tool_hist_t *all)
{
    for (size_t k = 0; k < N_DIST && all->counts; k++)
        res->dist[k] = (double)tool_hist_percentile(all, DIST_Q[k]) / 1e3;
    res->recorded = all->counts ? all->total : 0;
    tool_hist_free(run_hist);
    tool_hist_free(all);
}

/* What one scenario holds open between its runs: its channel, its shoal
 * publications and subscriptions or its peer's sockets (the Aeron peer's
 * set-up lives in bench_aeron.c, one at a time), the state of its loops, and
 * the histogram of all its timed round trips. */
typedef struct
{
    char channel[128];
    shoal_publication_t *pubs[2];
    shoal_subscription_t *subs[2];
    bench_zmq_t z;
    int aeron_open;
    tool_hist_t all;
    tput_t t;
    rtt_t r;
    wake_t w;
} setup_t;

/* The channel of res: --term-length, else the driver's defaults (what users
 * get), grown so that a message fits in term / 8. 0, or -1 with res->error set. */
static int make_channel(bench_t *b, result_t *res, char *channel, size_t len)
{
    const scenario_t *sc = res->sc;
    uint32_t term = (uint32_t)(b->opt->term_mib > 0 ? b->opt->term_mib : sc->udp ? UDP_TERM_MIB : IPC_TERM_MIB) << 20;
    while (term / 8 < res->size && term < (1u << 30))
        term <<= 1;
    if (sc->udp)
    {
        int port = free_udp_port();
        if (port < 0)
        {
            snprintf(res->error, sizeof(res->error), "no free UDP port on 127.0.0.1: %s", strerror(errno));
            return -1;
        }
        snprintf(channel, len, "aeron:udp?endpoint=127.0.0.1:%d|term-length=%um", port, term >> 20);
    }
    else
    {
        snprintf(channel, len, "aeron:ipc?term-length=%um", term >> 20);
    }
    snprintf(res->uri, sizeof(res->uri), "%s", sc->zmq ? "" : channel);
    return 0;
}

/* Opens what res's throughput, round-trip or wake-up runs need into s (zeroed
 * by the caller). 0, or -1 with res->error set (s is then ready for close). */
static int setup_open(bench_t *b, result_t *res, setup_t *s)
{
    const bench_options_t *opt = b->opt;
    const scenario_t *sc = res->sc;
    if (K_WAKE == sc->kind && res->size < 16)
    {
        snprintf(res->error, sizeof(res->error), "skipped: wake-up messages carry a sequence and a timestamp (16 B)");
        res->skipped = 1;
        return -1;
    }
    int32_t s0 = b->next_stream++, s1 = b->next_stream++;
    if (sc->mirror)
    {
        if (M_CONC == sc->mode && opt->publishers > 1)
        {
            snprintf(res->error, sizeof(res->error),
                "skipped: the Aeron peer's concurrent loop has one publisher thread (--publishers %ld is shoal's only)",
                opt->publishers);
            res->skipped = 1;
            return -1;
        }
        const bench_aeron_config_t cfg = { opt->yield, BATCH, M_CONC == sc->mode, STALL_NS, pin_role, &b->pin };
        s->aeron_open = 1;
        if (bench_aeron_open(&cfg, s->channel, K_RTT == sc->kind, res->size, res->error, sizeof(res->error)) < 0)
            return -1;
    }
    else if (sc->zmq)
    {
        if (bench_zmq_open(&s->z, sc, res->size, ++b->zmq_endpoints, res->error, sizeof(res->error)) < 0)
            return -1;
        snprintf(res->uri, sizeof(res->uri), "%s", s->z.bound);
    }
    else if (K_WAKE == sc->kind)
    {
        if (add_sub(b, res, s->channel, s0, &s->subs[0]) < 0 || add_pub(b, res, s->channel, 1, s0, &s->pubs[0]) < 0)
            return -1;
    }
    else if (K_TPUT == sc->kind)
    {
        int exclusive = M_EXCL_BATCH == sc->mode || M_EXCL_POLL == sc->mode || M_CLAIM == sc->mode;
        if (add_sub(b, res, s->channel, s0, &s->subs[0]) < 0 ||
            add_pub(b, res, s->channel, exclusive, s0, &s->pubs[0]) < 0)
            return -1;
    }
    else if (add_sub(b, res, s->channel, s0, &s->subs[0]) < 0 || add_sub(b, res, s->channel, s1, &s->subs[1]) < 0 ||
        add_pub(b, res, s->channel, 1, s0, &s->pubs[0]) < 0 || add_pub(b, res, s->channel, 1, s1, &s->pubs[1]) < 0)
    {
        return -1;
    }

    if (K_TPUT == sc->kind)
    {
        tput_t *t = &s->t;
        *t = (tput_t){ .size = res->size, .mode = sc->mode, .yield = opt->yield, .pin = &b->pin };
        t->pub = s->pubs[0], t->sub = s->subs[0], t->zpush = s->z.socket[0], t->zpull = s->z.socket[1];
        t->npub = res->npub = M_CONC2 == sc->mode ? 2 : M_CONC == sc->mode ? (int)opt->publishers : 1;
        /* Large messages: at most --max-mib per run, so a size sweep takes seconds, not hours. */
        long cap = (long)(((uint64_t)opt->max_mib << 20) / res->size);
        cap = cap < 16 ? 16 : cap;
        res->messages = opt->messages < cap ? opt->messages : cap;
        return 0;
    }
    tool_hist_t *hist;
    if (K_WAKE == sc->kind)
    {
        s->w = (wake_t){ .size = res->size,
            .mode = sc->mode,
            .pin = &b->pin,
            .zpub = s->z.socket[0],
            .zsub = s->z.socket[1] };
        s->w.pub = s->pubs[0], s->w.sub = s->subs[0];
        hist = &s->w.hist;
    }
    else
    {
        rtt_t *r = &s->r;
        *r = (rtt_t){ .size = res->size,
            .yield = opt->yield,
            .pin = &b->pin,
            .zping = s->z.socket[0],
            .zpong = s->z.socket[1] };
        r->ping_pub = s->pubs[0], r->ping_sub = s->subs[0], r->pong_pub = s->pubs[1], r->pong_sub = s->subs[1];
        r->interval_ns = opt->rate > 0 ? 1e9 / (double)opt->rate : 0;
        hist = &r->hist;
    }
    if (tool_hist_init(hist) < 0 || tool_hist_init(&s->all) < 0)
    {
        snprintf(res->error, sizeof(res->error), "out of memory for the histograms");
        return -1;
    }
    return 0;
}

/* One run of an open set-up: the warm-up (run < 0, not recorded) or timed
 * run number run. 0, or -1 with res->error set. Throughput runs record
 * msgs/s, round-trip runs their percentiles, wake-up runs their percentiles
 * and the subscriber's CPU %. */
static int setup_run(bench_t *b, result_t *res, setup_t *s, int run)
{
    const bench_options_t *opt = b->opt;
    const scenario_t *sc = res->sc;
    const char *what = run < 0 ? "warm-up" : "timed run";
    if (K_TPUT == sc->kind)
    {
        double v = sc->mirror ? bench_aeron_tput_run(res->messages, s->t.err, sizeof(s->t.err))
                              : bench_tput_run(&s->t, res->messages);
        if (v < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", what, s->t.err);
            return -1;
        }
        if (run >= 0)
            res->tput[res->nruns++] = v;
        return 0;
    }
    double *pct = res->pct[run < 0 ? 0 : run];
    tool_hist_t *hist;
    double cpu = 0;
    if (K_WAKE == sc->kind)
    {
        long n = opt->samples < WAKE_MAX_SAMPLES ? opt->samples : WAKE_MAX_SAMPLES;
        if (bench_wake_run(&s->w, run < 0 ? n / 4 + 1 : n, pct, &cpu) < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", what, s->w.err);
            return -1;
        }
        hist = &s->w.hist;
    }
    else
    {
        long warm = opt->samples / 5 < 1000 ? 1000 : opt->samples / 5;
        long n = run < 0 ? warm : opt->samples;
        if ((sc->mirror ? bench_aeron_rtt_percentiles(&s->r, n, pct) : bench_rtt_run(&s->r, n, pct)) < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", what, s->r.err);
            return -1;
        }
        hist = &s->r.hist;
    }
    if (run >= 0)
    {
        res->cmean[res->nruns] = tool_hist_central_mean(hist, 10, 90) / 1e3;
        res->tput[res->nruns] = cpu; /* wake-up: the subscriber's CPU %; unused by round trips */
        res->nruns++;
        tool_hist_merge(&s->all, hist);
    }
    return 0;
}

/* Closes what setup_open opened; the round-trip and wake-up percentiles of
 * all timed runs go into res. */
static void setup_close(result_t *res, setup_t *s)
{
    const scenario_t *sc = res->sc;
    if (K_TPUT != sc->kind)
        finish_distribution(res, K_WAKE == sc->kind ? &s->w.hist : &s->r.hist, &s->all);
    if (s->aeron_open)
        bench_aeron_close();
    for (int i = 0; i < 2; i++)
    {
        if (s->pubs[i])
            shoal_publication_close(s->pubs[i]);
        if (s->subs[i])
            shoal_subscription_close(s->subs[i]);
    }
    if (sc->zmq)
        bench_zmq_close(&s->z, sc);
}

void bench_run_scenario(bench_t *b, result_t *res)
{
    const scenario_t *sc = res->sc;
    char channel[128];
    if (make_channel(b, res, channel, sizeof(channel)) < 0)
        return;
    if (sc->cold)
    {
        run_cold_start(b, res, channel);
        return;
    }
    if (M_ARCHIVE_RECORD == sc->mode || M_WRITE_CEILING == sc->mode)
    {
        bench_run_archive(b, res, channel);
        return;
    }
    if (M_ARCHIVE_REPLAY == sc->mode || M_READ_CEILING == sc->mode)
    {
        bench_run_archive_replay(b, res, channel);
        return;
    }
    setup_t *s = calloc(1, sizeof(*s));
    if (NULL == s)
    {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return;
    }
    memcpy(s->channel, channel, sizeof(channel));
    if (0 == setup_open(b, res, s))
    {
        for (int run = -1; run < b->opt->runs && 0 == setup_run(b, res, s, run); run++)
        {
        }
    }
    setup_close(res, s);
    free(s);
}

int bench_pairable(const scenario_t *sc)
{
    return (K_TPUT == sc->kind || K_RTT == sc->kind) && !sc->cold && !sc->zmq && sc->mode <= M_CLAIM;
}

void bench_run_pair(bench_t *b, result_t *shoal, result_t *aeron)
{
    setup_t *s[2] = { calloc(1, sizeof(setup_t)), calloc(1, sizeof(setup_t)) };
    result_t *res[2] = { shoal, aeron };
    if (NULL == s[0] || NULL == s[1])
    {
        snprintf(shoal->error, sizeof(shoal->error), "out of memory");
        snprintf(aeron->error, sizeof(aeron->error), "out of memory");
        free(s[0]);
        free(s[1]);
        return;
    }
    /* The same URI for both (UDP: each its own free port). */
    int live[2];
    for (int i = 0; i < 2; i++)
        live[i] =
            0 == make_channel(b, res[i], s[i]->channel, sizeof(s[i]->channel)) && 0 == setup_open(b, res[i], s[i]);
    /* Warm-ups, then the timed runs alternate, the first of each pair
     * changing from one run to the next (shoal first in even runs), so a
     * change in the machine's speed during the scenario reaches both. A side
     * that fails stops (its error says why); the other goes on alone. */
    for (int run = -1; (live[0] || live[1]) && run < b->opt->runs; run++)
    {
        const int first = run < 0 ? 0 : run & 1;
        for (int k = 0; k < 2; k++)
        {
            const int i = k ? !first : first;
            live[i] = live[i] && 0 == setup_run(b, res[i], s[i], run);
        }
    }
    /* Run-by-run ratios only when both sides ran every run. */
    shoal->paired = aeron->paired = live[0] && live[1];
    setup_close(aeron, s[1]);
    setup_close(shoal, s[0]);
    free(s[0]);
    free(s[1]);
}
