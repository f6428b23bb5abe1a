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

static void run_throughput(bench_t *b, result_t *res, tput_t *t)
{
    const bench_options_t *opt = b->opt;
    const scenario_t *sc = res->sc;
    t->npub = res->npub = M_CONC2 == sc->mode ? 2 : M_CONC == sc->mode ? (int)opt->publishers : 1;
    /* Large messages: at most --max-mib per run, so a size sweep takes seconds, not hours. */
    long cap = (long)(((uint64_t)opt->max_mib << 20) / res->size);
    cap = cap < 16 ? 16 : cap;
    res->messages = opt->messages < cap ? opt->messages : cap;
    for (int run = -1; run < opt->runs; run++)
    {
        double v =
            sc->mirror ? bench_aeron_tput_run(res->messages, t->err, sizeof(t->err)) : bench_tput_run(t, res->messages);
        if (v < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", run < 0 ? "warm-up" : "timed run", t->err);
            break;
        }
        if (run >= 0)
            res->tput[res->nruns++] = v;
    }
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
        if (sc->mirror)
        {
            const bench_aeron_config_t cfg = { opt->yield, BATCH, 0, STALL_NS, pin_role, &b->pin };
            if (0 == bench_aeron_open(&cfg, channel, 0, res->size, res->error, sizeof(res->error)))
                v = bench_aeron_tput_run(res->messages, t.err, sizeof(t.err));
            bench_aeron_close();
        }
        else
        {
            int32_t stream = b->next_stream++;
            if (0 == add_sub(b, res, channel, stream, &t.sub) && 0 == add_pub(b, res, channel, 1, stream, &t.pub))
                v = bench_tput_run(&t, res->messages);
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
            res->tput[res->nruns++] = v;
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

static void run_round_trips(bench_t *b, result_t *res, rtt_t *r)
{
    const bench_options_t *opt = b->opt;
    const scenario_t *sc = res->sc;
    long warm = opt->samples / 5 < 1000 ? 1000 : opt->samples / 5;
    r->interval_ns = opt->rate > 0 ? 1e9 / (double)opt->rate : 0;
    tool_hist_t all = { NULL, 0, 0, 0 };
    if (tool_hist_init(&r->hist) < 0 || tool_hist_init(&all) < 0)
        snprintf(res->error, sizeof(res->error), "out of memory for the histograms");
    for (int run = -1; run < opt->runs && !res->error[0]; run++)
    {
        long n = run < 0 ? warm : opt->samples;
        if ((sc->mirror ? bench_aeron_rtt_percentiles(r, n, res->pct[run < 0 ? 0 : run])
                        : bench_rtt_run(r, n, res->pct[run < 0 ? 0 : run])) < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", run < 0 ? "warm-up" : "timed run", r->err);
            break;
        }
        if (run >= 0)
        {
            res->nruns++;
            tool_hist_merge(&all, &r->hist);
        }
    }
    finish_distribution(res, &r->hist, &all);
}

/* Wake-up runs: min(--samples, WAKE_MAX_SAMPLES) messages each; the subscriber's CPU % per run in tput[]. */
static void run_wakes(bench_t *b, result_t *res, wake_t *w)
{
    const bench_options_t *opt = b->opt;
    long n = opt->samples < WAKE_MAX_SAMPLES ? opt->samples : WAKE_MAX_SAMPLES;
    tool_hist_t all = { NULL, 0, 0, 0 };
    if (tool_hist_init(&w->hist) < 0 || tool_hist_init(&all) < 0)
        snprintf(res->error, sizeof(res->error), "out of memory for the histograms");
    for (int run = -1; run < opt->runs && !res->error[0]; run++)
    {
        double cpu = 0;
        if (bench_wake_run(w, run < 0 ? n / 4 + 1 : n, res->pct[run < 0 ? 0 : run], &cpu) < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", run < 0 ? "warm-up" : "timed run", w->err);
            break;
        }
        if (run >= 0)
        {
            res->tput[res->nruns++] = cpu;
            tool_hist_merge(&all, &w->hist);
        }
    }
    finish_distribution(res, &w->hist, &all);
}

void bench_run_scenario(bench_t *b, result_t *res)
{
    const bench_options_t *opt = b->opt;
    const scenario_t *sc = res->sc;
    shoal_publication_t *pubs[2] = { NULL, NULL };
    shoal_subscription_t *subs[2] = { NULL, NULL };
    bench_zmq_t z;
    char channel[128];
    memset(&z, 0, sizeof(z));
    /* --term-length, else the driver's defaults (what users get); grown so
     * that a message fits in term / 8 */
    uint32_t term = (uint32_t)(opt->term_mib > 0 ? opt->term_mib : sc->udp ? UDP_TERM_MIB : IPC_TERM_MIB) << 20;
    while (term / 8 < res->size && term < (1u << 30))
        term <<= 1;
    if (sc->udp)
    {
        int port = free_udp_port();
        if (port < 0)
        {
            snprintf(res->error, sizeof(res->error), "no free UDP port on 127.0.0.1: %s", strerror(errno));
            return;
        }
        snprintf(channel, sizeof(channel), "aeron:udp?endpoint=127.0.0.1:%d|term-length=%um", port, term >> 20);
    }
    else
    {
        snprintf(channel, sizeof(channel), "aeron:ipc?term-length=%um", term >> 20);
    }
    snprintf(res->uri, sizeof(res->uri), "%s", sc->zmq ? "" : channel);
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
    if (K_WAKE == sc->kind && res->size < 16)
    {
        snprintf(res->error, sizeof(res->error), "skipped: wake-up messages carry a sequence and a timestamp (16 B)");
        res->skipped = 1;
        return;
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
            goto cleanup;
        }
        const bench_aeron_config_t cfg = { opt->yield, BATCH, M_CONC == sc->mode, STALL_NS, pin_role, &b->pin };
        if (bench_aeron_open(&cfg, channel, K_RTT == sc->kind, res->size, res->error, sizeof(res->error)) < 0)
            goto cleanup;
    }
    else if (sc->zmq)
    {
        if (bench_zmq_open(&z, sc, res->size, ++b->zmq_endpoints, res->error, sizeof(res->error)) < 0)
            goto cleanup;
        snprintf(res->uri, sizeof(res->uri), "%s", z.bound);
    }
    else if (K_WAKE == sc->kind)
    {
        if (add_sub(b, res, channel, s0, &subs[0]) < 0 || add_pub(b, res, channel, 1, s0, &pubs[0]) < 0)
            goto cleanup;
    }
    else if (K_TPUT == sc->kind)
    {
        int exclusive = M_EXCL_BATCH == sc->mode || M_EXCL_POLL == sc->mode || M_CLAIM == sc->mode;
        if (add_sub(b, res, channel, s0, &subs[0]) < 0 || add_pub(b, res, channel, exclusive, s0, &pubs[0]) < 0)
            goto cleanup;
    }
    else if (add_sub(b, res, channel, s0, &subs[0]) < 0 || add_sub(b, res, channel, s1, &subs[1]) < 0 ||
        add_pub(b, res, channel, 1, s0, &pubs[0]) < 0 || add_pub(b, res, channel, 1, s1, &pubs[1]) < 0)
    {
        goto cleanup;
    }

    if (K_TPUT == sc->kind)
    {
        tput_t t = { .size = res->size, .mode = sc->mode, .yield = opt->yield, .pin = &b->pin };
        t.pub = pubs[0], t.sub = subs[0], t.zpush = z.socket[0], t.zpull = z.socket[1];
        run_throughput(b, res, &t);
    }
    else if (K_WAKE == sc->kind)
    {
        wake_t w = { .size = res->size, .mode = sc->mode, .pin = &b->pin, .zpub = z.socket[0], .zsub = z.socket[1] };
        w.pub = pubs[0], w.sub = subs[0];
        run_wakes(b, res, &w);
    }
    else
    {
        rtt_t r = { .size = res->size,
            .yield = opt->yield,
            .pin = &b->pin,
            .zping = z.socket[0],
            .zpong = z.socket[1] };
        r.ping_pub = pubs[0], r.ping_sub = subs[0], r.pong_pub = pubs[1], r.pong_sub = subs[1];
        run_round_trips(b, res, &r);
    }

cleanup:
    if (sc->mirror)
        bench_aeron_close();
    for (int i = 0; i < 2; i++)
    {
        if (pubs[i])
            shoal_publication_close(pubs[i]);
        if (subs[i])
            shoal_subscription_close(subs[i]);
    }
    if (sc->zmq)
        bench_zmq_close(&z, sc);
}
