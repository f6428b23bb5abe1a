/*
 * shoald: the media driver as a daemon. Runs in the foreground until SIGINT
 * or SIGTERM, then shuts down cleanly (files removed, clients see the
 * driver go). Settings come from SHOAL_* environment variables, then flags.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shoal/shoal.h"
#include "tool_settings.h"
#include "tool_signal.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: shoald [options]\n"
        "Runs the shoal media driver in the foreground until SIGINT/SIGTERM.\n\n"
        "  -d, --dir DIR          driver directory (SHOAL_DIR, default /dev/shm/shoal-$USER)\n"
        "  -s, --set KEY=VALUE    any setting by its SHOAL_ name without prefix, e.g.\n"
        "                         --set IPC_TERM_LENGTH=1m --set CLIENT_LIVENESS_TIMEOUT_MS=5000\n"
        "  -i, --idle STRATEGY    busy-spin | yield | sleep | backoff (SHOAL_IDLE_STRATEGY)\n"
        "  -q, --quiet            do not print the start and stop lines\n"
        "  -V, --version          print the version and exit\n"
        "  -h, --help             this help\n\n"
        "Settings (environment SHOAL_<KEY> or --set KEY=VALUE):\n"
        "  DIR DRIVER_TIMEOUT_MS CLIENT_LIVENESS_TIMEOUT_MS PUBLICATION_UNBLOCK_TIMEOUT_MS\n"
        "  PUBLICATION_LINGER_MS IPC_TERM_LENGTH TERM_LENGTH MTU TO_DRIVER_BUFFER_LENGTH\n"
        "  TO_CLIENTS_BUFFER_LENGTH COUNTERS_BUFFER_LENGTH ERROR_BUFFER_LENGTH LOSS_REPORT_BUFFER_LENGTH "
        "IDLE_STRATEGY\n"
        "  DIR_DELETE_ON_START DIR_DELETE_ON_SHUTDOWN THREADING_MODE PRE_TOUCH (clients)\n"
        "Subscribers reading a log in place (IPC, spies):\n"
        "  TETHER_SUBSCRIPTIONS SPIES_SIMULATE_CONNECTION\n"
        "  UNTETHERED_WINDOW_LIMIT_TIMEOUT_MS UNTETHERED_RESTING_TIMEOUT_MS\n"
        "UDP:\n"
        "  RCV_WINDOW IMAGE_LIVENESS_TIMEOUT_MS PUBLICATION_CONNECTION_TIMEOUT_MS\n"
        "  FLOW_CONTROL_RECEIVER_TIMEOUT_MS NAK_RETRY_DELAY_US RETRANSMIT_LINGER_US\n"
        "  SOCKET_RCVBUF SOCKET_SNDBUF\n"
        "  MAX_IMAGES_PER_ENDPOINT MAX_IMAGES MAX_SETUP_TERM_LENGTH   (limits on SETUPs heard)\n"
        "  RETRANSMIT_BUDGET RETRANSMIT_BUDGET_INTERVAL_US   (resend bytes per publication per interval)\n"
        "  RCV_LOSS_RATE SEND_LOSS_RATE LOSS_SEED   (injected loss 0..1, for tests)\n"
        "Archive (shoal-archived and its clients; <shoal/shoal_archive.h>):\n"
        "  ARCHIVE_CONTROL_CHANNEL ARCHIVE_CONTROL_STREAM_ID ARCHIVE_CONTROL_RESPONSE_CHANNEL\n"
        "  ARCHIVE_CONTROL_RESPONSE_STREAM_ID ARCHIVE_SEGMENT_LENGTH ARCHIVE_FSYNC ARCHIVE_MESSAGE_TIMEOUT_MS\n"
        "Units, defaults and meanings: the comment above shoal_context_set in <shoal/shoal.h>.\n");
}

static int set_idle_strategy(void *clientd, shoal_context_t *ctx, char *value)
{
    (void)clientd;
    return tool_setting(ctx, "shoald", "IDLE_STRATEGY", value) < 0 ? 2 : -1;
}

int main(int argc, char **argv)
{
    const tool_own_option_t idle = { { "idle", required_argument, NULL, 'i' }, set_idle_strategy, NULL };
    shoal_context_t *ctx;
    int quiet;
    const int status = tool_daemon_command_line(argc, argv, "shoald", usage, &idle, &ctx, &quiet);
    if (status >= 0)
    {
        return status;
    }

    tool_stop_on_signals();
    signal(SIGPIPE, SIG_IGN);

    shoal_driver_t *driver = NULL;
    if (shoal_driver_start(&driver, ctx) < 0)
    {
        fprintf(stderr, "shoald: %s\n", shoal_errmsg());
        int code = shoal_errcode() == SHOAL_EACTIVE ? 3 : 1;
        shoal_context_close(ctx);
        return code;
    }
    if (!quiet)
    {
        printf("shoald %s: driver running in %s (pid %ld)\n", shoal_version(), shoal_context_get_dir(ctx),
            (long)getpid());
        fflush(stdout);
    }
    /* The driver works on its own thread; this one only waits for a signal. */
    while (!tool_stop_flag)
    {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    shoal_driver_close(driver);
    if (!quiet)
    {
        printf("shoald: stopped cleanly\n");
    }
    shoal_context_close(ctx);
    return 0;
}
