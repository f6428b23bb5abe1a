/*
 * shoal-errors: prints a driver's distinct errors (count, first and last
 * time, code, text) from the CnC error log, through the public monitoring
 * API (shoal_cnc_errors_foreach).
 *   shoal-errors [-d dir] [--json]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shoal/shoal.h"
#include "tool_json.h"
#include "tool_text.h"

typedef struct
{
    int json;
    int count;
} out_t;

static void format_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03d", (int)(ms % 1000));
}

static void on_error(void *clientd, int32_t observation_count, int64_t first_ms, int64_t last_ms, int32_t error_code,
    const char *text, size_t text_length)
{
    out_t *o = clientd;
    char first[40], last[40];
    format_time(first_ms, first, sizeof(first));
    format_time(last_ms, last, sizeof(last));
    if (o->json)
    {
        printf("%s\n  {\"count\": %d, \"first\": \"%s\", \"last\": \"%s\", \"code\": %d, \"message\": ", o->count ? "," : "",
            observation_count, first, last, error_code);
        tool_json_string(text, text_length);
        putchar('}');
    }
    else
    {
        printf("%d observations from %s to %s, code %d:\n    ", observation_count, first, last, error_code);
        tool_text(text, text_length);
        putchar('\n');
    }
    o->count++;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "dir", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    out_t out = { 0, 0 };
    const char *dir = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:jh", options, NULL)) != -1)
    {
        switch (opt)
        {
            case 'd': dir = optarg; break;
            case 'j': out.json = 1; break;
            case 'h':
                printf("usage: shoal-errors [-d dir] [--json]\nPrints the driver's distinct errors with counts.\n");
                return 0;
            default:
                fprintf(stderr, "usage: shoal-errors [-d dir] [--json]\n");
                return 2;
        }
    }
    shoal_cnc_t *cnc;
    if (shoal_cnc_open(&cnc, dir) < 0)
    {
        fprintf(stderr, "shoal-errors: %s\n", shoal_errmsg());
        return 1;
    }
    if (out.json)
    {
        printf("{\"errors\": [");
    }
    int rc = shoal_cnc_errors_foreach(cnc, on_error, &out);
    if (out.json)
    {
        printf("\n]}\n");
    }
    else
    {
        printf("%d distinct errors\n", out.count);
    }
    if (rc < 0)
    {
        fprintf(stderr, "shoal-errors: %s\n", shoal_errmsg());
    }
    shoal_cnc_close(cnc);
    return rc < 0 ? 1 : 0;
}
