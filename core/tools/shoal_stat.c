/*
 * shoal-stat: live view of a running driver's counters, read from the CnC
 * file mapped read-only (the driver is never disturbed).
 *   shoal-stat [-d dir] [--once] [--json] [--loss] [-i interval_ms] [-n iterations]
 *
 * --loss replaces the counter list by a UDP loss report: one row per channel
 * endpoint (datagrams, NAKs, retransmits, status messages), per image
 * (receiver high-water mark vs rebuilt position: a gap outstanding) and per
 * network publication (publisher vs sender position), plus driver totals.
 * It is built from the counters' labels, so it needs nothing from the driver
 * beyond what any reader of the CnC file sees. --json always carries it as
 * the "udp" object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "concurrent/shoal_mpsc_rb.h"
#include "transport/udp/shoal_udp_transport.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "shoal/shoal.h"
#include "util/shoal_clock.h"
#include "util/shoal_counters.h"
#include "tool_json.h"
#include "tool_text.h"

#define MAX_TRACKED 65536

typedef struct
{
    int json;
    int first;
    int64_t *previous;
    double seconds;
} view_t;

static void print_counter(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length, const char *label,
    size_t label_length, int64_t value, void *clientd)
{
    (void)key;
    (void)key_length;
    view_t *v = clientd;
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
        printf("%s\n    {\"id\": %d, \"type\": %d, \"value\": %lld, \"rate_per_s\": %.1f, \"label\": ", v->first ? "" : ",",
            id, type_id, (long long)value, rate);
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
typedef struct
{
    int32_t id, type_id;
    int64_t value;
    char label[SHOAL_COUNTER_MAX_LABEL_LENGTH + 1];
} counter_copy_t;

typedef struct
{
    counter_copy_t *items;
    size_t count, capacity;
} snapshot_t;

static void collect_counter(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length, const char *label,
    size_t label_length, int64_t value, void *clientd)
{
    (void)key;
    (void)key_length;
    snapshot_t *snap = clientd;
    if (snap->count == snap->capacity)
    {
        size_t capacity = snap->capacity ? 2 * snap->capacity : 256;
        counter_copy_t *items = realloc(snap->items, capacity * sizeof(*items));
        if (NULL == items)
        {
            return;
        }
        snap->items = items;
        snap->capacity = capacity;
    }
    counter_copy_t *c = &snap->items[snap->count++];
    c->id = id;
    c->type_id = type_id;
    c->value = value;
    snprintf(c->label, sizeof(c->label), "%.*s", (int)label_length, label);
}

#define MAX_GROUPS 256

typedef struct
{
    char dir[4]; /* "snd" or "rcv" */
    const char *uri;
    int64_t v[SHOAL_UDP_COUNTER_COUNT];
} endpoint_row_t;

/* One image (receiver side) or network publication (sender side): the counters sharing a label tail. */
typedef struct
{
    long long id; /* image correlation id or publication registration id */
    int session, stream;
    char channel[SHOAL_COUNTER_MAX_LABEL_LENGTH + 1], source[SHOAL_COUNTER_MAX_LABEL_LENGTH + 1];
    int64_t hwm, pos, slowest_sub; /* image: rcv-hwm, rcv-pos, min sub-pos (-1: none) */
    int64_t pub_pos, snd_pos, snd_lmt, bpe;
    int is_image;
} stream_row_t;

/* hwm - pos or pub - snd: the counters are read one after the other, so the later one may have passed the
 * earlier; a negative difference means "caught up". */
static long long ahead(int64_t a, int64_t b)
{
    return a > b ? (long long)(a - b) : 0;
}

typedef struct
{
    endpoint_row_t endpoints[MAX_GROUPS];
    stream_row_t streams[MAX_GROUPS];
    int nendpoints, nstreams;
    int64_t totals[SHOAL_SYSTEM_COUNTER_COUNT];
} loss_report_t;

/* "NAME: id session stream channel[ @source]": 1 with the parts filled, 0 if the label is not of that form. */
static int parse_stream_label(const char *label, const char *name, long long *id, int *session, int *stream,
    char *channel, char *source)
{
    size_t n = strlen(name);
    int used = 0;
    if (strncmp(label, name, n) || ':' != label[n] || sscanf(label + n + 1, " %lld %d %d %n", id, session, stream,
        &used) != 3 || 0 == used)
    {
        return 0;
    }
    const char *rest = label + n + 1 + used, *at = strstr(rest, " @");
    size_t channel_length = at ? (size_t)(at - rest) : strlen(rest);
    snprintf(channel, SHOAL_COUNTER_MAX_LABEL_LENGTH + 1, "%.*s", (int)channel_length, rest);
    snprintf(source, SHOAL_COUNTER_MAX_LABEL_LENGTH + 1, "%s", at ? at + 2 : "");
    return 1;
}

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

static void build_loss_report(const snapshot_t *snap, loss_report_t *r)
{
    static char channel[SHOAL_COUNTER_MAX_LABEL_LENGTH + 1], source[SHOAL_COUNTER_MAX_LABEL_LENGTH + 1];
    memset(r->totals, 0, sizeof(r->totals));
    r->nendpoints = r->nstreams = 0;
    for (size_t i = 0; i < snap->count; i++)
    {
        const counter_copy_t *c = &snap->items[i];
        if (SHOAL_COUNTER_TYPE_SYSTEM == c->type_id && c->id >= 0 && c->id < SHOAL_SYSTEM_COUNTER_COUNT)
        {
            r->totals[c->id] = c->value; /* system counters: id = enum value */
            continue;
        }
        /* Endpoint counters: "snd-channel NAME: URI" / "rcv-channel NAME: URI". */
        if (0 == strncmp(c->label, "snd-channel ", 12) || 0 == strncmp(c->label, "rcv-channel ", 12))
        {
            for (int which = 0; which < SHOAL_UDP_COUNTER_COUNT; which++)
            {
                const char *name = shoal_udp_counter_name(which);
                size_t n = strlen(name);
                if (strncmp(c->label + 12, name, n) || strncmp(c->label + 12 + n, ": ", 2))
                {
                    continue;
                }
                const char *uri = c->label + 14 + n;
                endpoint_row_t *e = NULL;
                for (int k = 0; k < r->nendpoints && !e; k++)
                {
                    if (0 == strncmp(r->endpoints[k].dir, c->label, 3) && 0 == strcmp(r->endpoints[k].uri, uri))
                    {
                        e = &r->endpoints[k];
                    }
                }
                if (!e && r->nendpoints < MAX_GROUPS)
                {
                    e = &r->endpoints[r->nendpoints++];
                    memset(e, 0, sizeof(*e));
                    memcpy(e->dir, c->label, 3);
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
        if (parse_stream_label(c->label, "rcv-hwm", &id, &session, &stream, channel, source) ||
            parse_stream_label(c->label, "rcv-pos", &id, &session, &stream, channel, source))
        {
            if ((s = stream_row(r, 1, id, session, stream, channel, source)))
            {
                *('h' == c->label[4] ? &s->hwm : &s->pos) = c->value;
            }
            continue;
        }
        for (int k = 0; k < 4; k++)
        {
            if (parse_stream_label(c->label, PUB_NAMES[k], &id, &session, &stream, channel, source) &&
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
        if (!parse_stream_label(snap->items[i].label, "sub-pos", &id, &session, &stream, channel, source) ||
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

static const struct
{
    int system_id;
    const char *key;
} TOTALS[] = {
    { SHOAL_SYSTEM_COUNTER_NAKS_SENT, "naks_sent" },
    { SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED, "naks_received" },
    { SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT, "retransmits_sent" },
    { SHOAL_SYSTEM_COUNTER_LOSS_GAP_FILLS, "loss_gap_fills" },
    { SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED, "naks_unserved" },
    { SHOAL_SYSTEM_COUNTER_INVALID_FRAMES, "invalid_frames" },
    { SHOAL_SYSTEM_COUNTER_SHORT_SENDS, "short_sends" },
    { SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT, "status_messages_sent" },
    { SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED, "status_messages_received" },
    { SHOAL_SYSTEM_COUNTER_HEARTBEATS_SENT, "heartbeats_sent" },
    { SHOAL_SYSTEM_COUNTER_BACK_PRESSURE_EVENTS, "back_pressure_events" },
};
#define N_TOTALS (sizeof(TOTALS) / sizeof(TOTALS[0]))

/* JSON key of a UDP endpoint counter: its name with '_' for ' ' ("naks_sent", "datagrams_received"). */
static void json_counter_key(int which)
{
    putchar('"');
    for (const char *c = shoal_udp_counter_name(which); *c; c++)
    {
        putchar(' ' == *c ? '_' : ('A' <= *c && *c <= 'Z') ? *c - 'A' + 'a' : *c);
    }
    putchar('"');
}

static void print_loss_json(const loss_report_t *r)
{
    printf(",\n  \"udp\": {\"totals\": {");
    for (size_t i = 0; i < N_TOTALS; i++)
    {
        printf("%s\"%s\": %lld", i ? ", " : "", TOTALS[i].key, (long long)r->totals[TOTALS[i].system_id]);
    }
    printf("},\n   \"endpoints\": [");
    for (int i = 0; i < r->nendpoints; i++)
    {
        const endpoint_row_t *e = &r->endpoints[i];
        printf("%s\n    {\"direction\": \"%s\", \"channel\": ", i ? "," : "", e->dir);
        tool_json_string(e->uri, strlen(e->uri));
        for (int w = 0; w < SHOAL_UDP_COUNTER_COUNT; w++)
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
        printf("%s\n    {\"correlation_id\": %lld, \"session_id\": %d, \"stream_id\": %d, \"channel\": ", n++ ? "," : "",
            s->id, s->session, s->stream);
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
        (long long)r->totals[SHOAL_SYSTEM_COUNTER_NAKS_SENT], (long long)r->totals[SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED],
        (long long)r->totals[SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT],
        (long long)r->totals[SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED],
        (long long)r->totals[SHOAL_SYSTEM_COUNTER_LOSS_GAP_FILLS],
        (long long)r->totals[SHOAL_SYSTEM_COUNTER_INVALID_FRAMES],
        (long long)r->totals[SHOAL_SYSTEM_COUNTER_SHORT_SENDS]);
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
            (long long)e->v[SHOAL_UDP_COUNTER_FRAMES_RECEIVED], (long long)e->v[SHOAL_UDP_COUNTER_FRAMES_SENT],
            (double)e->v[SHOAL_UDP_COUNTER_BYTES_RECEIVED] / 1e6, (double)e->v[SHOAL_UDP_COUNTER_BYTES_SENT] / 1e6,
            (long long)e->v[SHOAL_UDP_COUNTER_NAKS_SENT], (long long)e->v[SHOAL_UDP_COUNTER_NAKS_RECEIVED],
            (long long)e->v[SHOAL_UDP_COUNTER_RETRANSMITS_SENT], (long long)e->v[SHOAL_UDP_COUNTER_SMS_SENT],
            (long long)e->v[SHOAL_UDP_COUNTER_SMS_RECEIVED], (long long)e->v[SHOAL_UDP_COUNTER_SHORT_SENDS],
            (long long)e->v[SHOAL_UDP_COUNTER_INVALID_FRAMES]);
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
        printf("  %11lld %11d %7d %15lld %15lld %13lld %16lld  ", s->id, s->session, s->stream,
            (long long)s->hwm, (long long)s->pos, ahead(s->hwm, s->pos), (long long)s->slowest_sub);
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

int main(int argc, char **argv)
{
    shoal_context_t *ctx;
    if (shoal_context_init(&ctx) < 0)
    {
        fprintf(stderr, "shoal-stat: %s\n", shoal_errmsg());
        return 2;
    }
    static const struct option options[] = {
        { "dir", required_argument, NULL, 'd' }, { "once", no_argument, NULL, 'o' },
        { "json", no_argument, NULL, 'j' }, { "interval", required_argument, NULL, 'i' },
        { "iterations", required_argument, NULL, 'n' }, { "loss", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int once = 0, json = 0, loss = 0, opt;
    long interval_ms = 1000, iterations = -1;
    while ((opt = getopt_long(argc, argv, "d:oji:n:lh", options, NULL)) != -1)
    {
        switch (opt)
        {
            case 'd':
                if (shoal_context_set_dir(ctx, optarg) < 0)
                {
                    fprintf(stderr, "shoal-stat: %s\n", shoal_errmsg());
                    return 2;
                }
                break;
            case 'o': once = 1; break;
            case 'j': json = 1; break;
            case 'i': interval_ms = atol(optarg); break;
            case 'n': iterations = atol(optarg); break;
            case 'l': loss = 1; break;
            case 'h':
                printf("usage: shoal-stat [-d dir] [--once] [--json] [--loss] [-i interval_ms] [-n iterations]\n"
                       "Shows a running driver's counters and their rates; refreshes every interval.\n"
                       "--loss: UDP loss report instead (per endpoint: datagrams, NAKs, retransmits, status\n"
                       "messages; per image: receiver gap; per publication: unsent bytes). --json always\n"
                       "includes it as \"udp\".\n");
                return 0;
            default:
                fprintf(stderr, "usage: shoal-stat [-d dir] [--once] [--json] [--loss] [-i interval_ms] [-n iterations]\n");
                return 2;
        }
    }
    if (interval_ms < 10)
    {
        fprintf(stderr, "shoal-stat: interval must be at least 10 ms\n");
        return 2;
    }
    const char *dir = shoal_context_get_dir(ctx);
    shoal_cnc_view_t cnc;
    if (shoal_cnc_map(dir, false, 0, &cnc) < 0)
    {
        fprintf(stderr, "shoal-stat: %s\n", shoal_errmsg());
        return 1;
    }
    shoal_mpsc_rb_t rb;
    shoal_counters_reader_t reader;
    if (shoal_mpsc_rb_init(&rb, cnc.to_driver, (size_t)cnc.meta->to_driver_buffer_length) < 0 ||
        shoal_counters_reader_init(&reader, cnc.counters_metadata, (size_t)cnc.meta->counters_metadata_buffer_length,
            cnc.counters_values, (size_t)cnc.meta->counters_values_buffer_length) < 0)
    {
        fprintf(stderr, "shoal-stat: %s\n", shoal_errmsg());
        return 1;
    }
    view_t v = { json, 1, calloc(MAX_TRACKED, sizeof(int64_t)), 0.0 };
    snapshot_t snap = { NULL, 0, 0 };
    loss_report_t *report = calloc(1, sizeof(*report));
    if (NULL == v.previous || NULL == report)
    {
        fprintf(stderr, "shoal-stat: out of memory\n");
        return 1;
    }
    int64_t last_ns = 0;
    for (long n = 0; iterations < 0 || n < iterations; n++)
    {
        int64_t now_ns = shoal_nano_time();
        v.seconds = last_ns ? (double)(now_ns - last_ns) / 1e9 : 0.0;
        last_ns = now_ns;
        int64_t heartbeat_age = shoal_epoch_ms() - shoal_mpsc_rb_consumer_heartbeat_time_value(&rb);
        if (json)
        {
            printf("{\"dir\": ");
            tool_json_string(dir, strlen(dir));
            printf(", \"pid\": %lld, \"heartbeat_age_ms\": %lld, \"alive\": %s, \"counters\": [",
                (long long)cnc.meta->pid, (long long)heartbeat_age,
                heartbeat_age <= cnc.meta->driver_timeout_ms ? "true" : "false");
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
            printf("shoal-stat %s  %s  driver pid %lld  heartbeat %lld ms ago%s\n", when, dir,
                (long long)cnc.meta->pid, (long long)heartbeat_age,
                heartbeat_age > cnc.meta->driver_timeout_ms ? "  (DRIVER NOT RESPONDING)" : "");
            if (!loss)
            {
                printf("%4s  %20s %14s  %s\n", "id", "value", "rate", "label");
            }
        }
        v.first = 1;
        if (json || !loss)
        {
            shoal_counters_reader_foreach(&reader, print_counter, &v);
        }
        if (json || loss)
        {
            snap.count = 0;
            shoal_counters_reader_foreach(&reader, collect_counter, &snap);
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
    free(report);
    shoal_cnc_unmap(&cnc);
    shoal_context_close(ctx);
    return 0;
}
