/*
 * shoal-bench's report: median, min and max across runs, ratios against the
 * ZeroMQ and Aeron peers, and the table (default), --json and --csv output.
 * The keys and columns are read by scripts (scripts/bench.sh,
 * scripts/bench_vs_aeron.sh, bench/results/): change them only together.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_aeron.h"
#include "tool_json.h"

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct
{
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

int bench_result_ok(const result_t *r)
{
    return r && !r->error[0] && r->nruns > 0;
}

static const char *transport(const scenario_t *sc)
{
    return sc->zmq                    ? "zmq"
        : sc->mirror                  ? "aeron"
        : M_WRITE_CEILING == sc->mode ? "write(2)"
        : M_READ_CEILING == sc->mode  ? "read(2)"
                                      : "shoal";
}

static int any_aeron(const bench_t *b)
{
    for (int i = 0; i < b->nresults; i++)
        if (b->results[i].sc->mirror)
            return 1;
    return 0;
}

/* The result with figures for scenario name at size, or NULL. */
static const result_t *find_result(const bench_t *b, const char *name, size_t size)
{
    for (int i = 0; name && i < b->nresults; i++)
    {
        const result_t *r = &b->results[i];
        if (bench_result_ok(r) && r->size == size && 0 == strcmp(r->sc->name, name))
            return r;
    }
    return NULL;
}

/* Median msgs/s (throughput) or the median across runs of percentile column p (0 = p50, 2 = p99) in us (rtt)
 * of the result for name at size; 0 if none. */
static double headline(const bench_t *b, const char *name, size_t size, int p)
{
    const result_t *r = find_result(b, name, size);
    return NULL == r            ? 0
        : K_TPUT == r->sc->kind ? stats(r->tput, r->nruns, 1).med
                                : stats(&r->pct[0][p], r->nruns, 5).med;
}

/* An aeron-* result against the shoal scenario whose loops it runs, same size: throughput shoal / aeron
 * (v[0]); round trip aeron / shoal at p50, p99, p99.9 (v[0..2]). > 1: shoal is better. Returns how many
 * were filled: 0 when either side has no result at this size. */
static int aeron_ratios(const bench_t *b, const result_t *r, double v[3])
{
    v[0] = v[1] = v[2] = 0;
    if (!r->sc->mirror || !bench_result_ok(r))
        return 0;
    if (K_TPUT == r->sc->kind)
    {
        double aeron = headline(b, r->sc->name, r->size, 0);
        v[0] = aeron > 0 ? headline(b, r->sc->mirror, r->size, 0) / aeron : 0;
        return v[0] > 0 ? 1 : 0;
    }
    static const int col[3] = { 0, 2, 3 };
    for (int k = 0; k < 3; k++)
    {
        double shoal = headline(b, r->sc->mirror, r->size, col[k]);
        v[k] = shoal > 0 ? headline(b, r->sc->name, r->size, col[k]) / shoal : 0;
    }
    return v[0] > 0 ? 3 : 0; /* 0: the shoal scenario did not run at this size */
}

/* An aeron-* result whose runs alternated with its shoal scenario's
 * (bench_run_pair): the ratio of each run to its pair, as aeron_ratios
 * orients them (throughput shoal / aeron; round trip aeron / shoal at p50
 * (p = 0) or p99 (p = 2), or the central mean (p = -1): see cmean), and
 * their median, min and max. 0 when not paired. */
static int paired_ratio(const bench_t *b, const result_t *r, int p, stat_t *out)
{
    *out = (stat_t){ 0, 0, 0 };
    const result_t *s = r->paired && bench_result_ok(r) ? find_result(b, r->sc->mirror, r->size) : NULL;
    if (NULL == s || !s->paired || s->nruns != r->nruns)
        return 0;
    double ratio[MAX_RUNS];
    for (int k = 0; k < r->nruns; k++)
    {
        double num = K_TPUT == r->sc->kind ? s->tput[k] : p < 0 ? r->cmean[k] : r->pct[k][p];
        double den = K_TPUT == r->sc->kind ? r->tput[k] : p < 0 ? s->cmean[k] : s->pct[k][p];
        if (den <= 0)
            return 0;
        ratio[k] = num / den;
    }
    *out = stats(ratio, r->nruns, 1);
    return 1;
}

/* Derived figures of a result, in the order of the keys of its kind; 0 = not available. */
static const char *TPUT_KEYS[] = { "median_mmsgs_per_s", "min_mmsgs_per_s", "max_mmsgs_per_s", "median_mb_per_s",
    "ratio_vs_zmq" };
static const char *RTT_KEYS[] = { "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "p50_min_us", "p50_max_us",
    "p99_min_us", "p99_max_us", "ratio_zmq_p50_over_shoal", "ratio_zmq_p99_over_shoal" };
#define N_TPUT_KEYS 5
#define N_RTT_KEYS  11

static int metrics(const bench_t *b, const result_t *r, double *v)
{
    int tput = K_TPUT == r->sc->kind, n = tput ? N_TPUT_KEYS : N_RTT_KEYS;
    memset(v, 0, sizeof(double) * (size_t)n);
    if (!bench_result_ok(r))
        return n;
    double self = headline(b, r->sc->name, r->size, 0);
    if (tput)
    {
        stat_t s = stats(r->tput, r->nruns, 1);
        double zmq = headline(b, r->sc->peer, r->size, 0);
        v[0] = s.med / 1e6, v[1] = s.min / 1e6, v[2] = s.max / 1e6, v[3] = s.med * (double)r->size / 1e6;
        v[4] = zmq > 0 ? self / zmq : 0;
        return n;
    }
    for (int p = 0; p < 5; p++)
        v[p] = stats(&r->pct[0][p], r->nruns, 5).med;
    stat_t p50 = stats(&r->pct[0][0], r->nruns, 5), p99 = stats(&r->pct[0][2], r->nruns, 5);
    v[5] = p50.min, v[6] = p50.max, v[7] = p99.min, v[8] = p99.max;
    if (r->sc->peer)
    {
        v[9] = headline(b, r->sc->peer, r->size, 0) / self;
        v[10] = v[2] > 0 ? headline(b, r->sc->peer, r->size, 2) / v[2] : 0;
    }
    return n;
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
static const char *driver_settings(const bench_options_t *opt)
{
    static char text[512];
    if (0 == opt->nsettings)
        return "default settings";
    size_t n = (size_t)snprintf(text, sizeof(text), "settings");
    for (int i = 0; i < opt->nsettings && n < sizeof(text); i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, " %s", opt->settings[i]);
    return text;
}

void bench_print_table(const bench_t *b)
{
    const bench_options_t *opt = b->opt;
    const bench_machine_t *machine = &b->machine;
    double v[N_RTT_KEYS];
    printf("shoal-bench: shoal %s, libzmq %d.%d.%d, %s\n", shoal_version(), machine->zmaj, machine->zmin, machine->zpat,
        machine->date);
    printf("machine : %ld cores (nproc), %s, kernel %s, load average at start %s\n", machine->nproc, machine->cpu,
        machine->kernel, machine->loadavg);
    printf("pinned  : %s\nnote    : %s\n", machine->pinned, machine->note);
    printf("clock   : %s\n", machine->clock);
    printf("polling : %s\n",
        opt->yield ? "sched_yield() when a poll is empty or an offer back-pressured (--yield)"
                   : "busy (threads never yield; on fewer cores than busy threads the driver "
                     "thread waits for a time slice: see --yield)");
    if (opt->note)
        printf("          %s\n", opt->note);
    printf("params  : %ld timed runs (+1 warm-up each), %ld messages per throughput run (at most %ld MiB), %ld round "
           "trips per rtt run, %s\n",
        opt->runs, opt->messages, opt->max_mib, opt->samples, opt->rate > 0 ? "paced (--rate)" : "back to back");
    if (any_aeron(b))
        printf("          aeron-* runs %s\n",
            opt->sequential ? "after their shoal scenario's (--sequential)"
                            : "alternate with their shoal scenario's, run for run (cold start: after)");
    if (opt->rate > 0)
        printf("          --rate %ld: one ping every %.2f us, latency from the intended send time\n", opt->rate,
            1e6 / (double)opt->rate);
    printf("          shoal: embedded driver (%s), aeron:ipc?term-length=%ldm and "
           "aeron:udp?endpoint=127.0.0.1:PORT|term-length=%ldm\n          (%s; publisher window = term / 2; term "
           "grown for messages > term / 8), busy-polling threads\n          %s\n          %s\n",
        driver_settings(opt), opt->term_mib > 0 ? opt->term_mib : IPC_TERM_MIB,
        opt->term_mib > 0 ? opt->term_mib : UDP_TERM_MIB,
        opt->term_mib > 0 ? "--term-length" : "the driver's default term lengths", ZMQ_NOTE, HIST_NOTE);
    if (any_aeron(b))
        printf("          aeron: %s\n          %s\n", bench_aeron_version(), AERON_NOTE);
    for (int kind = K_TPUT, header = 0; kind <= K_WAKE; kind++, header = 0)
    {
        for (int i = 0; i < b->nresults; i++)
        {
            const result_t *r = &b->results[i];
            if (kind != r->sc->kind)
                continue;
            if (!header++ && K_TPUT == kind)
                printf("\nThroughput, M msgs/s across runs (MB/s = 10^6 payload bytes/s at the median)\n"
                       "%-32s %7s %4s %8s %8s %8s %9s\n",
                    "scenario", "size", "pubs", "median", "min", "max", "MB/s");
            else if (1 == header && K_WAKE == kind)
                printf("\nWake-up, us from publish to the subscriber holding the message (publisher pauses 100..1000 "
                       "us; median across runs), and the subscriber thread's CPU %% of wall time\n"
                       "%-16s %7s %8s %8s %8s %8s %9s %17s %8s\n",
                    "scenario", "size", "p50", "p90", "p99", "p99.9", "max", "p99 range", "cpu %");
            else if (1 == header)
                printf("\nRound trip, us (each percentile: median across runs; ranges: min..max across runs)\n"
                       "%-16s %7s %8s %8s %8s %8s %9s %17s %17s\n",
                    "scenario", "size", "p50", "p90", "p99", "p99.9", "max", "p50 range", "p99 range");
            metrics(b, r, v);
            if (!bench_result_ok(r))
                printf("%-*s %7zu   %s (see below)\n", K_TPUT == kind ? 32 : 16, r->sc->name, r->size,
                    r->skipped ? "skipped" : "ERROR");
            else if (K_TPUT == kind)
                printf("%-32s %7zu %4d %8.3f %8.3f %8.3f %9.1f\n", r->sc->name, r->size, r->npub, v[0], v[1], v[2],
                    v[3]);
            else if (K_WAKE == kind)
                printf("%-16s %7zu %8.2f %8.2f %8.2f %8.2f %9.2f %8.2f..%-7.2f %8.2f\n", r->sc->name, r->size, v[0],
                    v[1], v[2], v[3], v[4], v[7], v[8], stats(r->tput, r->nruns, 1).med);
            else
                printf("%-16s %7zu %8.2f %8.2f %8.2f %8.2f %9.2f %8.2f..%-7.2f %8.2f..%-7.2f\n", r->sc->name, r->size,
                    v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
        }
    }
    int header = 0;
    for (int i = 0; i < b->nresults; i++)
    {
        const result_t *r = &b->results[i];
        if (!r->sc->cold || !bench_result_ok(r))
            continue;
        if (!header++)
            printf("\nCold start set-up, ms per run, median (min..max): shoal add_subscription + add_publication "
                   "until connected (PRE_TOUCH's pass over the publication's log included); Aeron: its embedded "
                   "driver's start + the adds until connected (both outside the timed messages)\n");
        stat_t st = stats(r->setup_ms, r->nruns, 1);
        printf("  %-32s %7zu B: %8.1f (%.1f..%.1f)\n", r->sc->name, r->size, st.med, st.min, st.max);
    }
    header = 0;
    for (int i = 0; i < b->nresults; i++)
    {
        const result_t *r = &b->results[i];
        int tput = K_TPUT == r->sc->kind;
        metrics(b, r, v);
        for (int k = 0; k < (tput ? 1 : 2); k++)
        {
            double q = tput ? v[4] : v[9 + k];
            if (q <= 0)
                continue;
            if (!header++)
                printf("\nshoal vs its peer, same size (zmq; archive-record: the write(2) ceiling; archive-replay: the "
                       "read(2) ceiling; throughput: shoal / "
                       "peer; latency: peer / shoal at p50 and p99; "
                       "> 1 means shoal is better)\n");
            printf("  %-32s vs %-22s %7zu B: %8.2fx%s\n", r->sc->name, r->sc->peer, r->size, q,
                tput    ? ""
                    : k ? " (p99)"
                        : " (p50)");
        }
    }
    header = 0;
    for (int i = 0; i < b->nresults; i++)
    {
        const result_t *r = &b->results[i];
        int n = aeron_ratios(b, r, v);
        if (n > 0 && !header++)
            printf("\nshoal vs aeron, same loops and size (throughput: shoal / aeron; latency: aeron / shoal at p50, "
                   "p99, p99.9; > 1 means shoal is better)\n");
        stat_t pr;
        if (1 == n)
            printf("  %-32s vs %-22s %7zu B: %8.2fx", r->sc->mirror, r->sc->name, r->size, v[0]);
        else if (3 == n)
            printf("  %-32s vs %-22s %7zu B: %8.2fx (p50) %6.2fx (p99) %6.2fx (p99.9)", r->sc->mirror, r->sc->name,
                r->size, v[0], v[1], v[2]);
        if (n > 0 && paired_ratio(b, r, 0, &pr))
            printf("; run by run%s %.2fx (%.2f..%.2f)", 1 == n ? "" : " at p50", pr.med, pr.min, pr.max);
        if (3 == n && paired_ratio(b, r, -1, &pr))
            printf("; central mean (p10..p90) %.2fx (%.2f..%.2f)", pr.med, pr.min, pr.max);
        if (n > 0)
            printf("\n");
    }
    header = 0;
    for (int i = 0; i < b->nresults; i++)
    {
        if (b->results[i].error[0])
            printf("%s  %s (%zu B): %s\n", header++ ? "" : "\nErrors and skipped scenarios\n", b->results[i].sc->name,
                b->results[i].size, b->results[i].error);
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

void bench_print_json(const bench_t *b)
{
    const bench_options_t *opt = b->opt;
    const bench_machine_t *machine = &b->machine;
    double v[N_RTT_KEYS];
    printf("{\"tool\": \"shoal-bench\", \"shoal_version\": \"%s\", \"zmq_version\": \"%d.%d.%d\", \"date\": \"%s\",\n",
        shoal_version(), machine->zmaj, machine->zmin, machine->zpat, machine->date);
    printf(" \"machine\": {\"nproc\": %ld", machine->nproc);
    jkv(NULL, "cpu", machine->cpu);
    jkv(NULL, "kernel", machine->kernel);
    jkv(NULL, "loadavg", machine->loadavg);
    jkv(NULL, "note", machine->note);
    jkv(NULL, "clock", machine->clock);
    printf(", \"user_note\": ");
    opt->note ? jstr(opt->note) : (void)printf("null");
    printf("},\n \"client_yield\": %s", opt->yield ? "true" : "false");
    printf(",\n \"pin_requested\": %s, \"pinned\": %s", opt->pin ? "true" : "false",
        opt->pin && b->pin.attempts > 0 && 0 == b->pin.failures ? "true" : "false");
    jkv(NULL, "pinning", machine->pinned);
    printf(",\n \"params\": {\"runs\": %ld, \"warmup_runs\": 1, \"messages\": %ld, \"max_mib_per_run\": %ld, "
           "\"samples\": %ld, \"term_mib\": %ld, \"zmq_hwm\": %d, \"publishers\": %ld, \"aeron_runs\": \"%s\", "
           "\"rate_per_s\": ",
        opt->runs, opt->messages, opt->max_mib, opt->samples, opt->term_mib, ZMQ_HWM, opt->publishers,
        opt->sequential ? "sequential" : "alternating");
    opt->rate > 0 ? printf("%ld", opt->rate) : printf("null");
    printf("},\n");
    jkv(" ", "zmq_note", ZMQ_NOTE);
    jkv(NULL, "latency_note", HIST_NOTE);
    jkv(NULL, "driver", driver_settings(opt));
    if (any_aeron(b))
    {
        printf(",\n \"aeron\": {");
        jkv("", "version", bench_aeron_version());
        jkv(NULL, "note", AERON_NOTE);
        printf("}");
    }
    printf(",\n \"results\": [");
    for (int i = 0; i < b->nresults; i++)
    {
        const result_t *r = &b->results[i];
        int tput = K_TPUT == r->sc->kind;
        printf("%s\n  {\"scenario\": \"%s\", \"kind\": \"%s\", \"transport\": \"%s\", \"size\": %zu", i ? "," : "",
            r->sc->name,
            tput                        ? "throughput"
                : K_WAKE == r->sc->kind ? "wake"
                                        : "rtt",
            transport(r->sc), r->size);
        jkv(NULL, "endpoint", r->uri);
        jkv(NULL, "description", r->sc->what);
        printf(", \"zmq_peer\": ");
        r->sc->peer ? jstr(r->sc->peer) : (void)printf("null");
        if (tput)
            printf(", \"publishers\": %d, \"messages\": %ld", r->npub, r->messages);
        else
            opt->rate > 0 ? printf(", \"rate_per_s\": %ld", opt->rate) : printf(", \"rate_per_s\": null");
        printf(", \"skipped\": %s, \"error\": ", r->skipped ? "true" : "false");
        r->error[0] ? jstr(r->error) : (void)printf("null");
        printf(",\n   \"runs\": [");
        for (int k = 0; k < r->nruns; k++)
        {
            if (tput)
                printf("%s%.1f", k ? ", " : "", r->tput[k]);
            else
                printf("%s{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f, "
                       "\"central_mean\": %.4f}",
                    k ? ", " : "", r->pct[k][0], r->pct[k][1], r->pct[k][2], r->pct[k][3], r->pct[k][4], r->cmean[k]);
        }
        printf("]");
        if (r->sc->cold && bench_result_ok(r))
        {
            stat_t st = stats(r->setup_ms, r->nruns, 1);
            printf(",\n   \"setup_ms\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}", st.med, st.min, st.max);
        }
        if (!tput && bench_result_ok(r))
        {
            stat_t cm = stats(r->cmean, r->nruns, 1);
            printf(",\n   \"central_mean_us\": {\"median\": %.4f, \"min\": %.4f, \"max\": %.4f}", cm.med, cm.min,
                cm.max);
        }
        int n = metrics(b, r, v);
        for (int k = 0; k < n; k++)
        {
            printf(",%s\"%s\": ", k % 4 ? " " : "\n   ", tput ? TPUT_KEYS[k] : RTT_KEYS[k]);
            v[k] > 0 ? printf("%.4f", v[k]) : printf("null");
        }
        if (r->sc->mirror)
        {
            double a[3];
            aeron_ratios(b, r, a);
            printf(",\n   \"shoal_peer\": \"%s\"", r->sc->mirror);
            for (int k = 0; k < (tput ? 1 : 3); k++)
            {
                static const char *keys[] = { "ratio_aeron_p50_over_shoal", "ratio_aeron_p99_over_shoal",
                    "ratio_aeron_p99_9_over_shoal" };
                printf(", \"%s\": ", tput ? "ratio_shoal_over_aeron" : keys[k]);
                a[k] > 0 ? printf("%.4f", a[k]) : printf("null");
            }
            stat_t cm;
            if (!tput && paired_ratio(b, r, -1, &cm))
                printf(",\n   \"paired_ratio_aeron_central_mean_over_shoal\": {\"median\": %.4f, \"min\": %.4f, "
                       "\"max\": %.4f}",
                    cm.med, cm.min, cm.max);
            for (int k = 0; k < (tput ? 1 : 2); k++)
            {
                stat_t pr;
                if (paired_ratio(b, r, 2 * k, &pr))
                    printf(",\n   \"%s\": {\"median\": %.4f, \"min\": %.4f, \"max\": %.4f}",
                        tput    ? "paired_ratio_shoal_over_aeron"
                            : k ? "paired_ratio_aeron_p99_over_shoal"
                                : "paired_ratio_aeron_p50_over_shoal",
                        pr.med, pr.min, pr.max);
            }
        }
        if (K_WAKE == r->sc->kind && bench_result_ok(r))
        {
            stat_t cpu = stats(r->tput, r->nruns, 1);
            printf(",\n   \"subscriber_cpu_pct\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}", cpu.med, cpu.min,
                cpu.max);
        }
        if (!tput && bench_result_ok(r))
        {
            printf(",\n   \"round_trips\": %" PRIu64 ", \"distribution_us\": [", r->recorded);
            for (size_t k = 0; k < N_DIST; k++)
                printf("%s[%g, %.3f]", k ? ", " : "", DIST_Q[k], r->dist[k]);
            printf("]");
        }
        printf("}");
    }
    printf("\n ]\n}\n");
}

void bench_print_csv(const bench_t *b)
{
    const bench_options_t *opt = b->opt;
    const bench_machine_t *machine = &b->machine;
    double v[N_RTT_KEYS];
    printf("# shoal-bench shoal %s libzmq %d.%d.%d %s\n# machine: %ld cores, %s, %s, load average at start %s\n"
           "# pinned: %s\n# note: %s\n# clock: %s\n# driver: %s\n",
        shoal_version(), machine->zmaj, machine->zmin, machine->zpat, machine->date, machine->nproc, machine->cpu,
        machine->kernel, machine->loadavg, machine->pinned, machine->note, machine->clock, driver_settings(opt));
    if (opt->note)
        printf("# %s\n", opt->note);
    if (any_aeron(b))
        printf("# aeron: %s\n# %s\n", bench_aeron_version(), AERON_NOTE);
    printf("# runs %ld (+1 warm-up), messages %ld (at most %ld MiB), samples %ld, term %ld MiB, rate %ld/s (0: back "
           "to back)\nscenario,kind,transport,size,runs,publishers",
        opt->runs, opt->messages, opt->max_mib, opt->samples, opt->term_mib, opt->rate);
    for (int k = 0; k < N_TPUT_KEYS + N_RTT_KEYS; k++)
        printf(",%s", k < N_TPUT_KEYS ? TPUT_KEYS[k] : RTT_KEYS[k - N_TPUT_KEYS]);
    printf(",error\n");
    for (int i = 0; i < b->nresults; i++)
    {
        const result_t *r = &b->results[i];
        int tput = K_TPUT == r->sc->kind, n = metrics(b, r, v);
        printf("%s,%s,%s,%zu,%d,%d", r->sc->name,
            tput                        ? "throughput"
                : K_WAKE == r->sc->kind ? "wake"
                                        : "rtt",
            transport(r->sc), r->size, r->nruns, tput ? r->npub : 1);
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
