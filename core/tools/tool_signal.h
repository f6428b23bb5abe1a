/* SIGINT and SIGTERM for the tools that run until stopped (shoald,
 * shoal-stat --serve): the handler only sets a flag. No SA_RESTART, so a
 * blocking call (accept, nanosleep) returns and the loop sees the flag. */
#ifndef SHOAL_TOOL_SIGNAL_H
#define SHOAL_TOOL_SIGNAL_H

#include <signal.h>
#include <string.h>

/* Set by SIGINT/SIGTERM once tool_stop_on_signals ran (a volatile int:
 * shoal_driver_run and shoal_archive_server_run take its address). */
static volatile int tool_stop_flag;

static inline void tool_set_stop_flag(int sig)
{
    (void)sig;
    tool_stop_flag = 1;
}

static inline void tool_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tool_set_stop_flag;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

#endif
