/* SIGINT and SIGTERM for the tools that run until stopped (shoald,
 * shoal-stat --serve): the handler only sets a flag. No SA_RESTART, so a
 * blocking call (accept, nanosleep) returns and the loop sees the flag. */
#ifndef SHOAL_TOOL_SIGNAL_H
#define SHOAL_TOOL_SIGNAL_H

#include <signal.h>
#include <string.h>

static inline void tool_on_stop_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

#endif
