/* --set KEY=VALUE, as shoald and shoal-archived take it: one context
 * setting, the same names as the SHOAL_* environment variables. */
#ifndef SHOAL_TOOL_SETTINGS_H
#define SHOAL_TOOL_SETTINGS_H

#include <stdio.h>
#include <string.h>

#include "shoal/shoal.h"

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
    if (shoal_context_set(ctx, key_value, eq + 1) < 0)
    {
        fprintf(stderr, "%s: %s\n", prog, shoal_errmsg());
        return -1;
    }
    return 0;
}

#endif
