/*
 * shoal-archived: the archive server as a daemon beside shoald. Records what
 * clients ask for (shoal_archive_start_recording) into --archive-dir and
 * answers their control requests, on the driver of --dir, until SIGINT or
 * SIGTERM; then every active recording gets its stop position and the
 * process exits 0. Killed harder (SIGKILL, a crash), the next start recovers
 * the recordings up to their last complete message.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal/shoal_archive.h"
#include "tool_settings.h"
#include "tool_signal.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: shoal-archived --archive-dir DIR [options]\n"
        "Runs the shoal archive server in the foreground until SIGINT/SIGTERM, on the\n"
        "driver of --dir (a shoald must be running there).\n\n"
        "  -a, --archive-dir DIR  where recordings are kept (created if missing)\n"
        "  -d, --dir DIR          driver directory (SHOAL_DIR, default /dev/shm/shoal-$USER)\n"
        "  -s, --set KEY=VALUE    any setting by its SHOAL_ name without prefix, e.g.\n"
        "                         --set ARCHIVE_SEGMENT_LENGTH=256m --set ARCHIVE_FSYNC=data\n"
        "  -q, --quiet            do not print the start and stop lines\n"
        "  -V, --version          print the version and exit\n"
        "  -h, --help             this help\n\n"
        "Archive settings (environment SHOAL_<KEY> or --set KEY=VALUE):\n"
        "  ARCHIVE_CONTROL_CHANNEL ARCHIVE_CONTROL_STREAM_ID       requests (aeron:ipc, 10)\n"
        "  ARCHIVE_CONTROL_RESPONSE_CHANNEL ARCHIVE_CONTROL_RESPONSE_STREAM_ID  (aeron:ipc, 20)\n"
        "  ARCHIVE_SEGMENT_LENGTH   segment file bytes, a power of two (128m)\n"
        "  ARCHIVE_FSYNC            none | data | data-and-catalog (none)\n"
        "  ARCHIVE_MESSAGE_TIMEOUT_MS  (10000)\n"
        "Exit status: 0 after a clean stop, 1 when the server cannot start or loses its\n"
        "driver, 2 for bad usage, 3 when another server has the archive directory.\n");
}

static int set_archive_dir(void *clientd, shoal_context_t *ctx, char *value)
{
    (void)ctx;
    *(const char **)clientd = value;
    return -1;
}

int main(int argc, char **argv)
{
    const char *archive_dir = NULL;
    const tool_own_option_t dir = { { "archive-dir", required_argument, NULL, 'a' }, set_archive_dir, &archive_dir };
    shoal_context_t *ctx;
    int quiet;
    int status = tool_daemon_command_line(argc, argv, "shoal-archived", usage, &dir, &ctx, &quiet);
    if (status < 0 && NULL == archive_dir)
    {
        fprintf(stderr, "shoal-archived: --archive-dir DIR is required\n");
        usage(stderr);
        shoal_context_close(ctx);
        status = 2;
    }
    if (status >= 0)
    {
        return status;
    }

    tool_stop_on_signals();
    signal(SIGPIPE, SIG_IGN);
    if (!quiet)
    {
        printf("shoal-archived %s: starting, archive %s on the driver in %s (pid %ld)\n", shoal_version(), archive_dir,
            shoal_context_get_dir(ctx), (long)getpid());
        fflush(stdout);
    }
    /* Runs on this thread until a signal sets tool_stop_flag. */
    int rc = shoal_archive_server_run(ctx, archive_dir, &tool_stop_flag);
    if (rc < 0)
    {
        fprintf(stderr, "shoal-archived: %s\n", shoal_errmsg());
        status = SHOAL_EACTIVE == shoal_errcode() ? 3 : 1;
    }
    else
    {
        status = 0;
        if (!quiet)
        {
            printf("shoal-archived: stopped cleanly\n");
        }
    }
    shoal_context_close(ctx);
    return status;
}
