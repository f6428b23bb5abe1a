/*
 * shoal-stat: live view of a running driver's counters, read from the CnC
 * file mapped read-only (the driver is never disturbed).
 *   shoal-stat [-d dir] [--once] [--json] [-i interval_ms] [-n iterations]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "concurrent/shoal_mpsc_rb.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "shoal/shoal.h"
#include "util/shoal_clock.h"
#include "util/shoal_counters.h"
#include "tool_json.h"

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
        printf("%4d: %20lld %12.0f/s  %.*s\n", id, (long long)value, rate, (int)label_length, label);
    }
    v->first = 0;
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
        { "iterations", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int once = 0, json = 0, opt;
    long interval_ms = 1000, iterations = -1;
    while ((opt = getopt_long(argc, argv, "d:oji:n:h", options, NULL)) != -1)
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
            case 'h':
                printf("usage: shoal-stat [-d dir] [--once] [--json] [-i interval_ms] [-n iterations]\n"
                       "Shows a running driver's counters and their rates; refreshes every interval.\n");
                return 0;
            default:
                fprintf(stderr, "usage: shoal-stat [-d dir] [--once] [--json] [-i interval_ms] [-n iterations]\n");
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
            printf("%4s  %20s %14s  %s\n", "id", "value", "rate", "label");
        }
        v.first = 1;
        shoal_counters_reader_foreach(&reader, print_counter, &v);
        if (json)
        {
            printf("\n  ]}\n");
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
    shoal_cnc_unmap(&cnc);
    shoal_context_close(ctx);
    return 0;
}
