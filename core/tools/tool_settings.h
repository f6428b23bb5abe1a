/* The command line shoald and shoal-archived share: --set KEY=VALUE (one
 * context setting, the same names as the SHOAL_* environment variables),
 * --dir, --quiet, --version and --help. */
#ifndef SHOAL_TOOL_SETTINGS_H
#define SHOAL_TOOL_SETTINGS_H

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "shoal/shoal.h"

/* Sets key to value in ctx; a value the context refuses is said on stderr
 * after "prog: " and gives -1. */
static inline int tool_setting(shoal_context_t *ctx, const char *prog, const char *key, const char *value)
{
    if (shoal_context_set(ctx, key, value) < 0)
    {
        fprintf(stderr, "%s: %s\n", prog, shoal_errmsg());
        return -1;
    }
    return 0;
}

/* Applies key_value (split in place at its '=') to ctx; on a missing '=' or
 * a setting the context refuses, says why on stderr after "prog: " and
 * returns -1. */
static inline int tool_context_set(shoal_context_t *ctx, const char *prog, char *key_value)
{
    char *eq = strchr(key_value, '=');
    if (NULL == eq)
    {
        fprintf(stderr, "%s: --set expects KEY=VALUE, got '%s'\n", prog, key_value);
        return -1;
    }
    *eq = '\0';
    return tool_setting(ctx, prog, key_value, eq + 1);
}

/* One getopt option of those both daemons take: -d DIR, -s KEY=VALUE, -q,
 * -V, -h; any other is bad usage. -1 to read on, else the exit status: 0
 * after --version or --help, 2 for bad usage or a setting refused (said on
 * stderr). */
static inline int tool_daemon_option(shoal_context_t *ctx, const char *prog, int opt, char *arg, int *quiet,
    void (*usage)(FILE *out))
{
    switch (opt)
    {
        case 'd':
            if (shoal_context_set_dir(ctx, arg) < 0)
            {
                fprintf(stderr, "%s: %s\n", prog, shoal_errmsg());
                return 2;
            }
            return -1;
        case 's': return tool_context_set(ctx, prog, arg) < 0 ? 2 : -1;
        case 'q': *quiet = 1; return -1;
        case 'V': printf("%s %s\n", prog, shoal_version()); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
    }
}

/* The one option a daemon adds to those of tool_daemon_option: its value
 * goes to handle(clientd, ctx, value), which returns as tool_daemon_option. */
typedef struct tool_own_option_stct
{
    struct option option; /* e.g. { "idle", required_argument, NULL, 'i' } */
    int (*handle)(void *clientd, shoal_context_t *ctx, char *value);
    void *clientd;
} tool_own_option_t;

/* Makes *ctx and applies a daemon's command line to it: -1 to run on, else
 * the exit status (0 after --version or --help, 2 for bad usage), *ctx then
 * closed. */
static inline int tool_daemon_command_line(int argc, char **argv, const char *prog, void (*usage)(FILE *out),
    const tool_own_option_t *own, shoal_context_t **ctx, int *quiet)
{
    if (shoal_context_init(ctx) < 0)
    {
        fprintf(stderr, "%s: %s\n", prog, shoal_errmsg());
        return 2;
    }
    const struct option options[] = { own->option, { "dir", required_argument, NULL, 'd' },
        { "set", required_argument, NULL, 's' }, { "quiet", no_argument, NULL, 'q' },
        { "version", no_argument, NULL, 'V' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
    char short_options[16];
    snprintf(short_options, sizeof(short_options), "%c:d:s:qVh", own->option.val);
    *quiet = 0;
    int status = -1;
    int opt;
    while (status < 0 && (opt = getopt_long(argc, argv, short_options, options, NULL)) != -1)
    {
        status = opt == own->option.val ? own->handle(own->clientd, *ctx, optarg)
                                        : tool_daemon_option(*ctx, prog, opt, optarg, quiet, usage);
    }
    if (status < 0 && optind < argc)
    {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(stderr);
        status = 2;
    }
    if (status >= 0)
    {
        shoal_context_close(*ctx);
        *ctx = NULL;
    }
    return status;
}

#endif
