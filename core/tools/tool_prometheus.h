/*
 * The Prometheus text exposition format (version 0.0.4) of a driver's
 * counters and loss report, shared by shoal-stat --prometheus and its
 * /metrics endpoint. Every family is written once, HELP and TYPE first, then
 * all its samples; names are shoal_*, counters end in _total, times are in
 * seconds. Label values come from the CnC file (shared memory): \ " and
 * newline are escaped, other control and non-ASCII bytes replaced by '?'.
 *
 *   shoal_driver_up, shoal_driver_heartbeat_age_seconds
 *   shoal_<system counter>[_total]            e.g. shoal_naks_sent_total
 *   shoal_{publisher,subscriber,receiver,sender}_*_bytes{id,session,stream,channel[,source]}
 *   shoal_udp_<endpoint counter>_total{direction,channel}
 *   shoal_loss_{observations,bytes}_total, shoal_loss_last_observation_timestamp_seconds
 *                                             {session,stream,channel,source}
 */
#ifndef SHOAL_TOOL_PROMETHEUS_H
#define SHOAL_TOOL_PROMETHEUS_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "shoal/shoal.h"
#include "tool_counters.h"

#define TOOL_PROM_NAME_MAX 160

static inline void tool_prom_label_value(FILE *out, const char *s)
{
    for (; *s; s++)
    {
        unsigned char ch = (unsigned char)*s;
        if ('\\' == ch || '"' == ch)
        {
            fprintf(out, "\\%c", ch);
        }
        else if ('\n' == ch)
        {
            fputs("\\n", out);
        }
        else
        {
            fputc(ch < 0x20 || ch >= 0x7f ? '?' : ch, out);
        }
    }
}

/* "shoal_" + prefix + text in snake_case ("NAKs sent" -> "naks_sent"; an
 * apostrophe is dropped so "client's" stays one word) + suffix. */
static inline void tool_prom_name(char *name, const char *prefix, const char *text, size_t text_length,
    const char *suffix)
{
    size_t n = (size_t)snprintf(name, TOOL_PROM_NAME_MAX, "shoal_%s", prefix);
    int gap = 0;
    for (size_t i = 0; i < text_length && n + 1 < TOOL_PROM_NAME_MAX - 16; i++)
    {
        unsigned char ch = (unsigned char)text[i];
        if ('\'' == ch)
        {
            continue;
        }
        if (isalnum(ch) && ch < 0x80)
        {
            if (gap && '_' != name[n - 1])
            {
                name[n++] = '_';
            }
            name[n++] = (char)tolower(ch);
            gap = 0;
        }
        else
        {
            gap = 1;
        }
    }
    while (n > 0 && '_' == name[n - 1])
    {
        n--;
    }
    snprintf(name + n, TOOL_PROM_NAME_MAX - n, "%s", suffix);
}

static inline void tool_prom_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s ", name);
    for (const char *h = help; *h; h++)
    {
        fputs('\\' == *h ? "\\\\" : '\n' == *h ? "\\n" : (char[2]){ *h, 0 }, out);
    }
    fprintf(out, "\n# TYPE %s %s\n", name, type);
}

/* ---- per-stream position families ---- */
static const struct
{
    const char *kind, *name, *type, *help;
} TOOL_PROM_STREAMS[] = {
    { "pub-pos", "shoal_publisher_position_bytes", "gauge", "Publication position: bytes written to the log" },
    { "pub-lmt", "shoal_publisher_limit_bytes", "gauge", "Position a publication may write up to (flow control)" },
    { "sub-pos", "shoal_subscriber_position_bytes", "gauge", "Subscription position in the stream" },
    { "rcv-hwm", "shoal_receiver_hwm_bytes", "gauge", "Highest position a receiver has seen in a frame" },
    { "rcv-pos", "shoal_receiver_position_bytes", "gauge", "End of the contiguous data a receiver has rebuilt" },
    { "snd-pos", "shoal_sender_position_bytes", "gauge", "Position a network publication has sent up to" },
    { "snd-lmt", "shoal_sender_limit_bytes", "gauge", "Position a network publication may send up to" },
    { "snd-bpe", "shoal_sender_back_pressure_events_total", "counter",
        "Back-pressure events of a network publication" },
};

typedef struct
{
    int64_t observations, bytes, first_ms, last_ms;
    int32_t session, stream;
    char channel[TOOL_LABEL_MAX], source[TOOL_LABEL_MAX];
} tool_loss_entry_t;

typedef struct
{
    tool_loss_entry_t *items;
    size_t count, capacity;
} tool_loss_t;

static inline void tool_loss_add(void *clientd, int64_t observation_count, int64_t total_bytes_lost, int64_t first_ms,
    int64_t last_ms, int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length,
    const char *source, size_t source_length)
{
    tool_loss_t *loss = clientd;
    tool_loss_entry_t *items = tool_array_reserve(loss->items, &loss->capacity, loss->count, sizeof(*items), 16);
    if (NULL == items)
    {
        return;
    }
    loss->items = items;
    tool_loss_entry_t *e = &loss->items[loss->count++];
    *e = (tool_loss_entry_t){ .observations = observation_count,
        .bytes = total_bytes_lost,
        .first_ms = first_ms,
        .last_ms = last_ms,
        .session = session_id,
        .stream = stream_id };
    snprintf(e->channel, sizeof(e->channel), "%.*s", (int)channel_length, channel);
    snprintf(e->source, sizeof(e->source), "%.*s", (int)source_length, source);
}

/* Has this family name been written already (a CnC file with repeated
 * labels must not make the output invalid)? Remembers it if not. */
static inline int tool_prom_seen(char (*seen)[TOOL_PROM_NAME_MAX], size_t *nseen, size_t max, const char *name)
{
    for (size_t i = 0; i < *nseen; i++)
    {
        if (0 == strcmp(seen[i], name))
        {
            return 1;
        }
    }
    if (*nseen < max)
    {
        snprintf(seen[(*nseen)++], TOOL_PROM_NAME_MAX, "%s", name);
    }
    return 0;
}

/* Writes the exposition; cnc NULL (no driver) writes shoal_driver_up 0 only. */
static inline void tool_prometheus_write(FILE *out, shoal_cnc_t *cnc, const tool_snapshot_t *snap,
    const tool_loss_t *loss)
{
    int64_t age_ns = NULL != cnc ? shoal_cnc_driver_heartbeat_age_ns(cnc) : -1;
    int up = NULL != cnc && age_ns >= 0 && age_ns <= shoal_cnc_driver_timeout_ns(cnc);
    tool_prom_family(out, "shoal_driver_up", "gauge", "1 if the driver's heartbeat is within its timeout");
    fprintf(out, "shoal_driver_up %d\n", up);
    if (NULL == cnc)
    {
        return;
    }
    tool_prom_family(out, "shoal_driver_heartbeat_age_seconds", "gauge", "Time since the driver's last heartbeat");
    fprintf(out, "shoal_driver_heartbeat_age_seconds %.3f\n", (double)age_ns / 1e9);

    static char seen[512][TOOL_PROM_NAME_MAX];
    size_t nseen = 0;
    char name[TOOL_PROM_NAME_MAX];
    /* System counters: one family each. */
    for (size_t i = 0; i < snap->count; i++)
    {
        const tool_counter_t *c = &snap->items[i];
        if (SHOAL_COUNTER_TYPE_SYSTEM != c->type_id || strstr(c->label, "(epoch ms)"))
        {
            continue; /* the heartbeat is exported as an age above */
        }
        const char *ns = strstr(c->label, " (ns)");
        int gauge = NULL != ns || strstr(c->label, " active") != NULL;
        tool_prom_name(name, "", c->label, ns ? (size_t)(ns - c->label) : strlen(c->label),
            ns          ? "_seconds"
                : gauge ? ""
                        : "_total");
        if (tool_prom_seen(seen, &nseen, 512, name))
        {
            continue;
        }
        tool_prom_family(out, name, gauge ? "gauge" : "counter", c->label);
        if (ns)
        {
            fprintf(out, "%s %.9f\n", name, (double)c->value / 1e9);
        }
        else
        {
            fprintf(out, "%s %lld\n", name, (long long)c->value);
        }
    }
    /* Stream positions, one family per kind. */
    char channel[TOOL_LABEL_MAX], source[TOOL_LABEL_MAX];
    for (size_t k = 0; k < sizeof(TOOL_PROM_STREAMS) / sizeof(TOOL_PROM_STREAMS[0]); k++)
    {
        int header = 0;
        for (size_t i = 0; i < snap->count; i++)
        {
            long long id;
            int session, stream;
            if (!tool_parse_stream_label(snap->items[i].label, TOOL_PROM_STREAMS[k].kind, &id, &session, &stream,
                    channel, source))
            {
                continue;
            }
            if (!header++)
            {
                tool_prom_family(out, TOOL_PROM_STREAMS[k].name, TOOL_PROM_STREAMS[k].type, TOOL_PROM_STREAMS[k].help);
            }
            fprintf(out, "%s{id=\"%lld\",session=\"%d\",stream=\"%d\",channel=\"", TOOL_PROM_STREAMS[k].name, id,
                session, stream);
            tool_prom_label_value(out, channel);
            if (source[0])
            {
                fputs("\",source=\"", out);
                tool_prom_label_value(out, source);
            }
            fprintf(out, "\"} %lld\n", (long long)snap->items[i].value);
        }
    }
    /* UDP endpoint counters: one family per counter name, in order of first appearance. */
    for (size_t i = 0; i < snap->count; i++)
    {
        char dir[4];
        const char *cname, *uri;
        size_t cname_length;
        if (!tool_parse_endpoint_label(snap->items[i].label, dir, &cname, &cname_length, &uri))
        {
            continue;
        }
        tool_prom_name(name, "udp_", cname, cname_length, "_total");
        if (tool_prom_seen(seen, &nseen, 512, name))
        {
            continue;
        }
        char help[TOOL_LABEL_MAX];
        snprintf(help, sizeof(help), "UDP channel endpoint: %.*s", (int)cname_length, cname);
        tool_prom_family(out, name, "counter", help);
        for (size_t j = i; j < snap->count; j++)
        {
            char dir2[4], name2[TOOL_PROM_NAME_MAX];
            const char *cname2, *uri2;
            size_t cname2_length;
            if (!tool_parse_endpoint_label(snap->items[j].label, dir2, &cname2, &cname2_length, &uri2))
            {
                continue;
            }
            tool_prom_name(name2, "udp_", cname2, cname2_length, "_total");
            if (strcmp(name, name2))
            {
                continue;
            }
            fprintf(out, "%s{direction=\"%s\",channel=\"", name, dir2);
            tool_prom_label_value(out, uri2);
            fprintf(out, "\"} %lld\n", (long long)snap->items[j].value);
        }
    }
    /* Loss report. */
    static const struct
    {
        const char *name, *type, *help;
        int field;
    } LOSS[] = {
        { "shoal_loss_observations_total", "counter", "Gaps a receiver detected in an image (loss report)", 0 },
        { "shoal_loss_bytes_total", "counter", "Bytes the detected gaps spanned (loss report)", 1 },
        { "shoal_loss_last_observation_timestamp_seconds", "gauge", "When the last gap was detected (epoch)", 2 },
    };
    for (size_t k = 0; k < sizeof(LOSS) / sizeof(LOSS[0]) && loss->count > 0; k++)
    {
        tool_prom_family(out, LOSS[k].name, LOSS[k].type, LOSS[k].help);
        for (size_t i = 0; i < loss->count; i++)
        {
            const tool_loss_entry_t *e = &loss->items[i];
            fprintf(out, "%s{session=\"%d\",stream=\"%d\",channel=\"", LOSS[k].name, e->session, e->stream);
            tool_prom_label_value(out, e->channel);
            fputs("\",source=\"", out);
            tool_prom_label_value(out, e->source);
            if (2 == LOSS[k].field)
            {
                fprintf(out, "\"} %.3f\n", (double)e->last_ms / 1e3);
            }
            else
            {
                fprintf(out, "\"} %lld\n", (long long)(0 == LOSS[k].field ? e->observations : e->bytes));
            }
        }
    }
}

#endif
