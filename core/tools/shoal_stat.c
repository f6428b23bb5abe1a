/*
 * shoal-stat: live view of a running driver's counters, read from the CnC
 * file mapped read-only (the driver is never disturbed).
 *   shoal-stat [-d dir] [--once] [--json] [--loss] [--prometheus] [--listen HOST:PORT]
 *              [-i interval_ms] [-n iterations]
 *
 * --loss replaces the counter list by a UDP loss report: one row per channel
 * endpoint (datagrams, NAKs, retransmits, status messages), per image
 * (receiver high-water mark vs rebuilt position: a gap outstanding) and per
 * network publication (publisher vs sender position), plus driver totals.
 * It is built from the counters' labels, so it needs nothing from the driver
 * beyond what any reader of the CnC file sees. --json always carries it as
 * the "udp" object.
 *
 * --prometheus prints the counters and the driver's loss report in the
 * Prometheus text format (tool_prometheus.h); --listen HOST:PORT serves the
 * same at /metrics (tool_http.h), re-reading the CnC file for each scrape,
 * so a restarted driver is picked up (shoal_driver_up 0 while there is none).
 *
 * Only the public monitoring API (shoal_cnc_* in shoal/shoal.h) is used.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shoal/shoal.h"
#include "tool_counters.h"
#include "tool_http.h"
#include "tool_json.h"
#include "tool_prometheus.h"
#include "tool_signal.h"
#include "tool_text.h"

#define MAX_TRACKED 65536

typedef struct
{
    int json;
    int first;
    int64_t *previous;
    double seconds;
} view_t;

static void print_counter(view_t *v, int32_t id, int32_t type_id, const char *label, size_t label_length, int64_t value)
{
    double rate = 0.0;
    if (id < MAX_TRACKED && v->seconds > 0)
    {
        rate = (double)(value - v->previous[id]) / v->seconds;
    }
    if (id < MAX_TRACKED)
    {
        v->previous[id] = value;
    }
    if (v->json)
    {
        printf("%s\n    {\"id\": %d, \"type\": %d, \"value\": %lld, \"rate_per_s\": %.1f, \"label\": ",
            v->first ? "" : ",", id, type_id, (long long)value, rate);
        tool_json_string(label, label_length);
        putchar('}');
    }
    else
    {
        if (v->seconds > 0)
        {
            printf("%4d: %20lld %12.0f/s  ", id, (long long)value, rate);
        }
        else /* first sample (always with --once): no rate yet */
        {
            printf("%4d: %20lld %14s  ", id, (long long)value, "-");
        }
        tool_text(label, label_length);
        putchar('\n');
    }
    v->first = 0;
}

/* ---- UDP loss report: counters grouped by endpoint, image and publication ---- */
/* The endpoint counters' names as the driver labels them, in the order of the rows below. */
enum
{
    UDP_BYTES_SENT,
    UDP_BYTES_RECEIVED,
    UDP_FRAMES_SENT,
    UDP_FRAMES_RECEIVED,
    UDP_NAKS_SENT,
    UDP_NAKS_RECEIVED,
    UDP_RETRANSMITS_SENT,
    UDP_SMS_SENT,
    UDP_SMS_RECEIVED,
    UDP_SHORT_SENDS,
    UDP_INVALID_FRAMES,
    UDP_HEARTBEATS_SENT,
    UDP_NAKS_UNSERVED,
    UDP_SETUPS_REFUSED_IMAGE_LIMIT,
    UDP_SETUPS_REFUSED_TERM_LENGTH,
    UDP_FRAMES_FROM_WRONG_SOURCE,
    UDP_NAKS_FROM_UNKNOWN_RECEIVERS,
    UDP_NAKS_OVER_BUDGET,
    UDP_SM_WINDOWS_CLAMPED,
    UDP_COUNTER_COUNT
};
static const char *const UDP_COUNTER_NAMES[UDP_COUNTER_COUNT] = {
    "bytes sent",
    "bytes received",
    "datagrams sent",
    "datagrams received",
    "NAKs sent",
    "NAKs received",
    "retransmits sent",
    "status messages sent",
    "status messages received",
    "short sends",
    "invalid frames",
    "heartbeats sent",
    "NAKs for data no longer held",
    "SETUPs refused: image limit",
    "SETUPs refused: term length",
    "frames from wrong source",
    "NAKs from unknown receivers",
    "NAKs over retransmit budget",
    "status message windows clamped",
};

/* Driver totals in the report, found by their system counter labels. */
enum
{
    T_NAKS_SENT,
    T_NAKS_RECEIVED,
    T_RETRANSMITS_SENT,
    T_LOSS_GAP_FILLS,
    T_NAKS_UNSERVED,
    T_INVALID_FRAMES,
    T_SHORT_SENDS,
    T_STATUS_MESSAGES_SENT,
    T_STATUS_MESSAGES_RECEIVED,
    T_HEARTBEATS_SENT,
    T_BACK_PRESSURE_EVENTS,
    N_TOTALS
};
static const struct
{
    const char *label, *key;
} TOTALS[N_TOTALS] = {
    [T_NAKS_SENT] = { "NAKs sent", "naks_sent" },
    [T_NAKS_RECEIVED] = { "NAKs received", "naks_received" },
    [T_RETRANSMITS_SENT] = { "Retransmits sent", "retransmits_sent" },
    [T_LOSS_GAP_FILLS] = { "Loss gap fills", "loss_gap_fills" },
    [T_NAKS_UNSERVED] = { "NAKs for data no longer held", "naks_unserved" },
    [T_INVALID_FRAMES] = { "Invalid frames", "invalid_frames" },
    [T_SHORT_SENDS] = { "Short sends", "short_sends" },
    [T_STATUS_MESSAGES_SENT] = { "Status messages sent", "status_messages_sent" },
    [T_STATUS_MESSAGES_RECEIVED] = { "Status messages received", "status_messages_received" },
    [T_HEARTBEATS_SENT] = { "Heartbeats sent", "heartbeats_sent" },
    [T_BACK_PRESSURE_EVENTS] = { "Back pressure events", "back_pressure_events" },
};

#define MAX_GROUPS 256

typedef struct
{
    char dir[4]; /* "snd" or "rcv" */
    const char *uri;
    int64_t v[UDP_COUNTER_COUNT];
} endpoint_row_t;

/* One image (receiver side) or network publication (sender side): the counters sharing a label tail. */
typedef struct
{
    long long id; /* image correlation id or publication registration id */
    int session, stream;
    char channel[TOOL_LABEL_MAX], source[TOOL_LABEL_MAX];
    int64_t hwm, pos, slowest_sub; /* image: rcv-hwm, rcv-pos, min sub-pos (-1: none) */
    int64_t pub_pos, snd_pos, snd_lmt, bpe;
    int is_image;
} stream_row_t;

/* hwm - pos or pub - snd: the counters are read one after the other, so the later one may have passed the
 * earlier; a negative difference means "caught up". */
static long long ahead(int64_t a, int64_t b)
{
    /* In unsigned arithmetic: counters from a hostile CnC file may be INT64_MIN and INT64_MAX. */
    uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : 0;
    return d > (uint64_t)INT64_MAX ? INT64_MAX : (long long)d;
}

typedef struct
{
    endpoint_row_t endpoints[MAX_GROUPS];
    stream_row_t streams[MAX_GROUPS];
    int nendpoints, nstreams;
    int64_t totals[N_TOTALS];
} loss_report_t;

static stream_row_t *stream_row(loss_report_t *r, int is_image, long long id, int session, int stream,
    const char *channel, const char *source)
{
    for (int i = 0; i < r->nstreams; i++)
    {
        stream_row_t *s = &r->streams[i];
        if (s->is_image == is_image && s->session == session && s->stream == stream &&
            (is_image ? 0 == strcmp(s->source, source) : s->id == id) && 0 == strcmp(s->channel, channel))
        {
            return s;
        }
    }
    if (MAX_GROUPS == r->nstreams)
    {
        return NULL;
    }
    stream_row_t *s = &r->streams[r->nstreams++];
    memset(s, 0, sizeof(*s));
    s->is_image = is_image, s->id = id, s->session = session, s->stream = stream;
    s->slowest_sub = -1;
    snprintf(s->channel, sizeof(s->channel), "%s", channel);
    snprintf(s->source, sizeof(s->source), "%s", source);
    return s;
}

static void build_loss_report(const tool_snapshot_t *snap, loss_report_t *r)
{
    static char channel[TOOL_LABEL_MAX], source[TOOL_LABEL_MAX];
    memset(r->totals, 0, sizeof(r->totals));
    r->nendpoints = r->nstreams = 0;
    for (size_t i = 0; i < snap->count; i++)
    {
        const tool_counter_t *c = &snap->items[i];
        if (SHOAL_COUNTER_TYPE_SYSTEM == c->type_id)
        {
            for (int t = 0; t < N_TOTALS; t++)
            {
                if (0 == strcmp(c->label, TOTALS[t].label))
                {
                    r->totals[t] = c->value;
                }
            }
            continue;
        }
        /* Endpoint counters: "snd-channel NAME: URI" / "rcv-channel NAME: URI". */
        char dir[4];
        const char *name, *uri;
        size_t name_length;
        if (tool_parse_endpoint_label(c->label, dir, &name, &name_length, &uri))
        {
            for (int which = 0; which < UDP_COUNTER_COUNT; which++)
            {
                if (strlen(UDP_COUNTER_NAMES[which]) != name_length ||
                    strncmp(name, UDP_COUNTER_NAMES[which], name_length))
                {
                    continue;
                }
                endpoint_row_t *e = NULL;
                for (int k = 0; k < r->nendpoints && !e; k++)
                {
                    if (0 == strcmp(r->endpoints[k].dir, dir) && 0 == strcmp(r->endpoints[k].uri, uri))
                    {
                        e = &r->endpoints[k];
                    }
                }
                if (!e && r->nendpoints < MAX_GROUPS)
                {
                    e = &r->endpoints[r->nendpoints++];
                    memset(e, 0, sizeof(*e));
                    memcpy(e->dir, dir, 4);
                    e->uri = uri;
                }
                if (e)
                {
                    e->v[which] = c->value;
                }
                break;
            }
            continue;
        }
        long long id;
        int session, stream;
        stream_row_t *s;
        static const char *const PUB_NAMES[] = { "pub-pos", "snd-pos", "snd-lmt", "snd-bpe" };
        if (tool_parse_stream_label(c->label, "rcv-hwm", &id, &session, &stream, channel, source) ||
            tool_parse_stream_label(c->label, "rcv-pos", &id, &session, &stream, channel, source))
        {
            if ((s = stream_row(r, 1, id, session, stream, channel, source)))
            {
                *('h' == c->label[4] ? &s->hwm : &s->pos) = c->value;
            }
            continue;
        }
        for (int k = 0; k < 4; k++)
        {
            if (tool_parse_stream_label(c->label, PUB_NAMES[k], &id, &session, &stream, channel, source) &&
                0 == strncmp(channel, "aeron:udp", 9) && (s = stream_row(r, 0, id, session, stream, channel, source)))
            {
                int64_t *field[4] = { &s->pub_pos, &s->snd_pos, &s->snd_lmt, &s->bpe };
                *field[k] = c->value;
            }
        }
    }
    /* Subscriber positions of UDP images: matched by session, stream, channel and source. */
    for (size_t i = 0; i < snap->count; i++)
    {
        long long id;
        int session, stream;
        if (!tool_parse_stream_label(snap->items[i].label, "sub-pos", &id, &session, &stream, channel, source) ||
            '\0' == source[0])
        {
            continue;
        }
        for (int k = 0; k < r->nstreams; k++)
        {
            stream_row_t *s = &r->streams[k];
            if (s->is_image && s->session == session && s->stream == stream && 0 == strcmp(s->source, source) &&
                0 == strcmp(s->channel, channel) && (s->slowest_sub < 0 || snap->items[i].value < s->slowest_sub))
            {
                s->slowest_sub = snap->items[i].value;
            }
        }
    }
}

/* JSON key of a UDP endpoint counter: its name with '_' for ' ' ("naks_sent", "datagrams_received"). */
static void json_counter_key(int which)
{
    putchar('"');
    for (const char *c = UDP_COUNTER_NAMES[which]; *c; c++)
    {
        putchar(' ' == *c ? '_' : ('A' <= *c && *c <= 'Z') ? *c - 'A' + 'a' : *c);
    }
    putchar('"');
}

static void print_loss_json(const loss_report_t *r)
{
    printf(",\n  \"udp\": {\"totals\": {");
    for (int i = 0; i < N_TOTALS; i++)
    {
        printf("%s\"%s\": %lld", i ? ", " : "", TOTALS[i].key, (long long)r->totals[i]);
    }
    printf("},\n   \"endpoints\": [");
    for (int i = 0; i < r->nendpoints; i++)
    {
        const endpoint_row_t *e = &r->endpoints[i];
        printf("%s\n    {\"direction\": \"%s\", \"channel\": ", i ? "," : "", e->dir);
        tool_json_string(e->uri, strlen(e->uri));
        for (int w = 0; w < UDP_COUNTER_COUNT; w++)
        {
            printf(", ");
            json_counter_key(w);
            printf(": %lld", (long long)e->v[w]);
        }
        putchar('}');
    }
    printf("],\n   \"images\": [");
    for (int i = 0, n = 0; i < r->nstreams; i++)
    {
        const stream_row_t *s = &r->streams[i];
        if (!s->is_image)
        {
            continue;
        }
        printf("%s\n    {\"correlation_id\": %lld, \"session_id\": %d, \"stream_id\": %d, \"channel\": ",
            n++ ? "," : "", s->id, s->session, s->stream);
        tool_json_string(s->channel, strlen(s->channel));
        printf(", \"source\": ");
        tool_json_string(s->source, strlen(s->source));
        printf(", \"rcv_hwm\": %lld, \"rcv_pos\": %lld, \"gap_bytes\": %lld, \"slowest_sub_pos\": %lld}",
            (long long)s->hwm, (long long)s->pos, ahead(s->hwm, s->pos), (long long)s->slowest_sub);
    }
    printf("],\n   \"publications\": [");
    for (int i = 0, n = 0; i < r->nstreams; i++)
    {
        const stream_row_t *s = &r->streams[i];
        if (s->is_image)
        {
            continue;
        }
        printf("%s\n    {\"registration_id\": %lld, \"session_id\": %d, \"stream_id\": %d, \"channel\": ",
            n++ ? "," : "", s->id, s->session, s->stream);
        tool_json_string(s->channel, strlen(s->channel));
        printf(", \"pub_pos\": %lld, \"snd_pos\": %lld, \"unsent_bytes\": %lld, \"snd_lmt\": %lld, "
               "\"back_pressure_events\": %lld}",
            (long long)s->pub_pos, (long long)s->snd_pos, ahead(s->pub_pos, s->snd_pos), (long long)s->snd_lmt,
            (long long)s->bpe);
    }
    printf("]}");
}

static void print_loss_text(const loss_report_t *r)
{
    printf("UDP totals: NAKs sent %lld, NAKs received %lld, retransmits %lld, NAKs for data no longer held %lld, "
           "loss gap fills %lld, invalid frames %lld, short sends %lld\n",
        (long long)r->totals[T_NAKS_SENT], (long long)r->totals[T_NAKS_RECEIVED],
        (long long)r->totals[T_RETRANSMITS_SENT], (long long)r->totals[T_NAKS_UNSERVED],
        (long long)r->totals[T_LOSS_GAP_FILLS], (long long)r->totals[T_INVALID_FRAMES],
        (long long)r->totals[T_SHORT_SENDS]);
    if (0 == r->nendpoints && 0 == r->nstreams)
    {
        printf("no UDP endpoints\n");
        return;
    }
    printf("\nendpoints (since opened; NAKs-out: receiver asked for lost data, retrans: sender resent it)\n"
           "  dir   dgrams-in  dgrams-out   MB-in  MB-out  NAKs-out  NAKs-in  retrans  SMs-out  SMs-in  short  "
           "invalid  channel\n");
    for (int i = 0; i < r->nendpoints; i++)
    {
        const endpoint_row_t *e = &r->endpoints[i];
        printf("  %s %11lld %11lld %7.1f %7.1f %9lld %8lld %8lld %8lld %7lld %6lld %8lld  ", e->dir,
            (long long)e->v[UDP_FRAMES_RECEIVED], (long long)e->v[UDP_FRAMES_SENT],
            (double)e->v[UDP_BYTES_RECEIVED] / 1e6, (double)e->v[UDP_BYTES_SENT] / 1e6, (long long)e->v[UDP_NAKS_SENT],
            (long long)e->v[UDP_NAKS_RECEIVED], (long long)e->v[UDP_RETRANSMITS_SENT], (long long)e->v[UDP_SMS_SENT],
            (long long)e->v[UDP_SMS_RECEIVED], (long long)e->v[UDP_SHORT_SENDS], (long long)e->v[UDP_INVALID_FRAMES]);
        tool_text(e->uri, strlen(e->uri));
        putchar('\n');
    }
    int header = 0;
    for (int i = 0; i < r->nstreams; i++)
    {
        const stream_row_t *s = &r->streams[i];
        if (!s->is_image)
        {
            continue;
        }
        if (!header++)
        {
            printf("\nimages (receiver side; gap = received beyond the rebuilt position, lost data not yet "
                   "repaired)\n  %11s %11s %7s %15s %15s %13s %16s  %s\n",
                "correlation", "session", "stream", "rcv-hwm", "rcv-pos", "gap (hwm-pos)", "slowest sub-pos",
                "source  channel");
        }
        printf("  %11lld %11d %7d %15lld %15lld %13lld %16lld  ", s->id, s->session, s->stream, (long long)s->hwm,
            (long long)s->pos, ahead(s->hwm, s->pos), (long long)s->slowest_sub);
        tool_text(s->source, strlen(s->source));
        printf("  ");
        tool_text(s->channel, strlen(s->channel));
        putchar('\n');
    }
    header = 0;
    for (int i = 0; i < r->nstreams; i++)
    {
        const stream_row_t *s = &r->streams[i];
        if (s->is_image)
        {
            continue;
        }
        if (!header++)
        {
            printf("\npublications (sender side; unsent = published, not yet sent)\n  %11s %11s %7s %15s %15s %16s "
                   "%15s %13s  %s\n",
                "registration", "session", "stream", "pub-pos", "snd-pos", "unsent (pub-snd)", "snd-lmt",
                "back-pressure", "channel");
        }
        printf("  %11lld %11d %7d %15lld %15lld %16lld %15lld %13lld  ", s->id, s->session, s->stream,
            (long long)s->pub_pos, (long long)s->snd_pos, ahead(s->pub_pos, s->snd_pos), (long long)s->snd_lmt,
            (long long)s->bpe);
        tool_text(s->channel, strlen(s->channel));
        putchar('\n');
    }
}

/* ---- Prometheus ---- */
typedef struct
{
    const char *dir;
    tool_snapshot_t *snap;
    tool_loss_t *loss;
} scrape_t;

/* One exposition from a fresh look at the CnC file, into a malloc'ed buffer
 * (NULL: out of memory). */
static char *scrape(void *clientd, size_t *length)
{
    scrape_t *s = clientd;
    char *text = NULL;
    FILE *out = open_memstream(&text, length);
    if (NULL == out)
    {
        return NULL;
    }
    shoal_cnc_t *cnc = NULL;
    s->loss->count = 0;
    if (shoal_cnc_open(&cnc, s->dir) < 0 || tool_snapshot_take(cnc, s->snap) < 0 ||
        shoal_cnc_loss_foreach(cnc, tool_loss_add, s->loss) < 0)
    {
        shoal_cnc_close(cnc);
        cnc = NULL;
    }
    tool_prometheus_write(out, cnc, s->snap, s->loss);
    shoal_cnc_close(cnc);
    if (fclose(out) != 0)
    {
        free(text);
        return NULL;
    }
    return text;
}

static int serve(const char *spec, scrape_t *s, long requests)
{
    char err[256];
    int fd = tool_http_listen(spec, err, sizeof(err));
    if (fd < 0)
    {
        fprintf(stderr, "shoal-stat: %s\n", err);
        return 2;
    }
    tool_stop_on_signals(); /* a signal interrupts accept so the loop ends */
    fprintf(stderr, "shoal-stat: serving http://%s/metrics for %s\n", spec, s->dir);
    for (long n = 0; !tool_stop_flag && (requests < 0 || n < requests);)
    {
        if (tool_http_serve_one(fd, scrape, s) >= 0)
        {
            n++;
        }
    }
    close(fd);
    return 0;
}

static const char USAGE[] =
    "usage: shoal-stat [-d dir] [--once] [--json] [--loss] [--prometheus] [--listen HOST:PORT]\n"
    "                  [-i interval_ms] [-n iterations]\n";

int main(int argc, char **argv)
{
    static const struct option options[] = { { "dir", required_argument, NULL, 'd' },
        { "once", no_argument, NULL, 'o' }, { "json", no_argument, NULL, 'j' },
        { "interval", required_argument, NULL, 'i' }, { "iterations", required_argument, NULL, 'n' },
        { "loss", no_argument, NULL, 'l' }, { "prometheus", no_argument, NULL, 'p' },
        { "listen", required_argument, NULL, 'L' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
    int once = 0, json = 0, loss = 0, prometheus = 0, opt;
    const char *dir = NULL, *listen_spec = NULL;
    long interval_ms = 1000, iterations = -1;
    while ((opt = getopt_long(argc, argv, "d:oji:n:lh", options, NULL)) != -1)
    {
        switch (opt)
        {
            case 'd': dir = optarg; break;
            case 'o': once = 1; break;
            case 'j': json = 1; break;
            case 'i': interval_ms = atol(optarg); break;
            case 'n': iterations = atol(optarg); break;
            case 'l': loss = 1; break;
            case 'p': prometheus = 1; break;
            case 'L': listen_spec = optarg; break;
            case 'h':
                printf("%s"
                       "Shows a running driver's counters and their rates; refreshes every interval.\n"
                       "--loss: UDP loss report instead (per endpoint: datagrams, NAKs, retransmits, status\n"
                       "messages; per image: receiver gap; per publication: unsent bytes). --json always\n"
                       "includes it as \"udp\".\n"
                       "--prometheus: the counters and the loss report once, in the Prometheus text format.\n"
                       "--listen HOST:PORT: serve that at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464);\n"
                       "-n N then stops after N requests.\n",
                    USAGE);
                return 0;
            default: fprintf(stderr, "%s", USAGE); return 2;
        }
    }
    if (optind < argc)
    {
        fprintf(stderr, "shoal-stat: unexpected argument '%s'\n%s", argv[optind], USAGE);
        return 2;
    }
    if (interval_ms < 10)
    {
        fprintf(stderr, "shoal-stat: interval must be at least 10 ms\n");
        return 2;
    }
    tool_snapshot_t snap = { NULL, 0, 0, 0 };
    tool_loss_t loss_entries = { NULL, 0, 0 };
    if (NULL != listen_spec || prometheus)
    {
        shoal_context_t *ctx = NULL;
        if (NULL == dir && shoal_context_init(&ctx) == 0)
        {
            dir = shoal_context_get_dir(ctx);
        }
        scrape_t s = { dir, &snap, &loss_entries };
        int rc = 0;
        if (NULL != listen_spec)
        {
            rc = serve(listen_spec, &s, iterations);
        }
        else
        {
            size_t length = 0;
            char *text = scrape(&s, &length);
            rc = NULL == text ? 1 : (fwrite(text, 1, length, stdout) == length ? 0 : 1);
            free(text);
        }
        free(snap.items);
        free(loss_entries.items);
        shoal_context_close(ctx);
        return rc;
    }
    shoal_cnc_t *cnc;
    if (shoal_cnc_open(&cnc, dir) < 0)
    {
        fprintf(stderr, "shoal-stat: %s\n", shoal_errmsg());
        return 1;
    }
    shoal_context_t *ctx = NULL;
    if (NULL == dir && shoal_context_init(&ctx) == 0)
    {
        dir = shoal_context_get_dir(ctx);
    }
    view_t v = { json, 1, calloc(MAX_TRACKED, sizeof(int64_t)), 0.0 };
    loss_report_t *report = calloc(1, sizeof(*report));
    if (NULL == v.previous || NULL == report)
    {
        fprintf(stderr, "shoal-stat: out of memory\n");
        return 1;
    }
    int64_t pid = shoal_cnc_driver_pid(cnc), timeout_ns = shoal_cnc_driver_timeout_ns(cnc);
    struct timespec last = { 0, 0 };
    int status = 0;
    for (long n = 0; iterations < 0 || n < iterations; n++)
    {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        v.seconds = last.tv_sec ? (double)(now.tv_sec - last.tv_sec) + (double)(now.tv_nsec - last.tv_nsec) / 1e9 : 0.0;
        last = now;
        if (tool_snapshot_take(cnc, &snap) < 0)
        {
            fprintf(stderr, "shoal-stat: %s\n", snap.failed ? "out of memory" : shoal_errmsg());
            status = 1;
            break;
        }
        int64_t age_ns = shoal_cnc_driver_heartbeat_age_ns(cnc);
        long long heartbeat_age = (long long)(age_ns / 1000000);
        if (json)
        {
            printf("{\"dir\": ");
            tool_json_string(dir, strlen(dir));
            printf(", \"pid\": %lld, \"heartbeat_age_ms\": %lld, \"alive\": %s, \"counters\": [", (long long)pid,
                heartbeat_age, age_ns <= timeout_ns ? "true" : "false");
        }
        else
        {
            if (!once)
            {
                printf("\033[H\033[2J");
            }
            time_t t = time(NULL);
            char when[32];
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
            printf("shoal-stat %s  %s  driver pid %lld  heartbeat %lld ms ago%s\n", when, dir, (long long)pid,
                heartbeat_age, age_ns > timeout_ns ? "  (DRIVER NOT RESPONDING)" : "");
            if (!loss)
            {
                printf("%4s  %20s %14s  %s\n", "id", "value", "rate", "label");
            }
        }
        v.first = 1;
        if (json || !loss)
        {
            for (size_t i = 0; i < snap.count; i++)
            {
                const tool_counter_t *c = &snap.items[i];
                print_counter(&v, c->id, c->type_id, c->label, c->label_length, c->value);
            }
        }
        if (json || loss)
        {
            build_loss_report(&snap, report);
        }
        if (json)
        {
            printf("\n  ]");
            print_loss_json(report);
            printf("}\n");
        }
        else if (loss)
        {
            print_loss_text(report);
        }
        fflush(stdout);
        if (once)
        {
            break;
        }
        struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    free(v.previous);
    free(snap.items);
    free(loss_entries.items);
    free(report);
    shoal_cnc_close(cnc);
    shoal_context_close(ctx);
    return status;
}
