/* The shape shared by the tools that list one table of a driver's CnC file
 * (shoal-errors: the error log, shoal-loss: the loss report): options
 * [-d dir] [--json], the CnC opened through the public monitoring API, one
 * row per entry, then a count (text) or the closing of a JSON array. */
#ifndef SHOAL_TOOL_CNC_LIST_H
#define SHOAL_TOOL_CNC_LIST_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "shoal/shoal.h"

typedef struct
{
    int json;
    int count; /* rows printed so far; the row callbacks increment it */
} tool_list_out_t;

/* Local time of an epoch-millisecond timestamp, "YYYY-MM-DD HH:MM:SS.mmm". */
static inline void tool_format_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03d", (int)(ms % 1000));
}

/* First and last time of a table entry, formatted by tool_format_time. */
typedef struct
{
    char first[40];
    char last[40];
} tool_time_span_t;

static inline tool_time_span_t tool_time_span(int64_t first_ms, int64_t last_ms)
{
    tool_time_span_t span;
    tool_format_time(first_ms, span.first, sizeof(span.first));
    tool_format_time(last_ms, span.last, sizeof(span.last));
    return span;
}

/* The whole of such a tool's main: list(cnc, out) calls the row callback once per entry and returns
 * the foreach's result. json_key names the JSON array; count_what follows the count in text output.
 * Exit status: 0, 1 when the CnC cannot be read, 2 for a bad option. */
static inline int tool_list_main(int argc, char **argv, const char *tool, const char *description, const char *json_key,
    const char *count_what, int (*list)(shoal_cnc_t *cnc, tool_list_out_t *out))
{
    static const struct option options[] = { { "dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
    tool_list_out_t out = { 0, 0 };
    const char *dir = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:jh", options, NULL)) != -1)
    {
        switch (opt)
        {
            case 'd': dir = optarg; break;
            case 'j': out.json = 1; break;
            case 'h': printf("usage: %s [-d dir] [--json]\n%s\n", tool, description); return 0;
            default: fprintf(stderr, "usage: %s [-d dir] [--json]\n", tool); return 2;
        }
    }
    shoal_cnc_t *cnc;
    if (shoal_cnc_open(&cnc, dir) < 0)
    {
        fprintf(stderr, "%s: %s\n", tool, shoal_errmsg());
        return 1;
    }
    if (out.json)
    {
        printf("{\"%s\": [", json_key);
    }
    int rc = list(cnc, &out);
    if (out.json)
    {
        printf("\n]}\n");
    }
    else
    {
        printf("%d %s\n", out.count, count_what);
    }
    if (rc < 0)
    {
        fprintf(stderr, "%s: %s\n", tool, shoal_errmsg());
    }
    shoal_cnc_close(cnc);
    return rc < 0 ? 1 : 0;
}

#endif
