/*
 * example_util.h: the boilerplate every C example shares (the common
 * options, connecting to the driver, reporting a failure), kept here so that
 * each example shows only what it is about; as Aeron's C samples share
 * sample_util.h.
 *
 * Header-only (static inline) so an example still builds from its one .c
 * file against an installed shoal:
 *   cc -std=c99 -D_GNU_SOURCE basic_publisher.c $(pkg-config --cflags --libs shoal)
 * finds it next to the .c file. Copying an example out? Copy this too.
 */
#ifndef SHOAL_EXAMPLE_UTIL_H
#define SHOAL_EXAMPLE_UTIL_H

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "shoal/shoal.h"

/* The options the examples have in common. An example sets its own defaults
 * and takes only the letters it names in its getopt optstring. */
typedef struct example_options_stct
{
    const char *dir;     /* -d: the driver's directory (NULL: the context's default) */
    const char *channel; /* -c */
    int32_t stream;      /* -s */
    long count;          /* -n: messages, requests */
    long timeout_s;      /* -t */
} example_options_t;

/*
 * getopt(3) for the examples: stores the common options in opts and returns
 * each of the example's own options (-1 at the end, like getopt). On -h or an
 * option getopt refuses it prints "usage: <synopsis>" and exits with 2.
 */
static inline int example_getopt(int argc, char **argv, const char *optstring, const char *synopsis,
    example_options_t *opts)
{
    int opt;
    while ((opt = getopt(argc, argv, optstring)) != -1)
    {
        switch (opt)
        {
            case 'd': opts->dir = optarg; break;
            case 'c': opts->channel = optarg; break;
            case 's': opts->stream = atoi(optarg); break;
            case 'n': opts->count = atol(optarg); break;
            case 't': opts->timeout_s = atol(optarg); break;
            case 'h':
            case '?': fprintf(stderr, "usage: %s\n", synopsis); exit(2);
            default: return opt;
        }
    }
    return -1;
}

/* A context on the driver directory dir (NULL: the default one). Returns -1
 * with shoal_errmsg() set when it fails. */
static inline int example_context(const char *dir, shoal_context_t **ctx)
{
    if (shoal_context_init(ctx) < 0 || (dir && shoal_context_set_dir(*ctx, dir) < 0))
    {
        return -1;
    }
    return 0;
}

/* The context and a client connected to the driver on dir; the client starts
 * its own conductor thread (an example that runs the conductor itself sets
 * that on the context between example_context and shoal_client_connect). */
static inline int example_connect(const char *dir, shoal_context_t **ctx, shoal_client_t **client)
{
    if (example_context(dir, ctx) < 0 || shoal_client_connect(client, *ctx) < 0)
    {
        return -1;
    }
    return 0;
}

/* Prints "<what>: <shoal's last error>"; returns main's exit code for it. */
static inline int example_failed(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, shoal_errmsg());
    return 1;
}

#endif
