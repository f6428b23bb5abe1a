/*
 * A copy of a driver's counters taken through the public monitoring API
 * (shoal_cnc_counters_foreach), and the parts of their labels the tools
 * group by. The label forms are the driver's:
 *   system counters            "Bytes sent"
 *   endpoints                  "snd-channel NAME: URI" / "rcv-channel NAME: URI"
 *   streams                    "KIND: id session stream channel[ @source]"
 *                              KIND pub-pos pub-lmt sub-pos rcv-hwm rcv-pos snd-pos snd-lmt snd-bpe
 */
#ifndef SHOAL_TOOL_COUNTERS_H
#define SHOAL_TOOL_COUNTERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/shoal.h"

#define TOOL_LABEL_MAX 512

typedef struct
{
    int32_t id, type_id;
    int64_t value;
    size_t label_length; /* the label may hold any byte, NUL included */
    char label[TOOL_LABEL_MAX];
} tool_counter_t;

typedef struct
{
    tool_counter_t *items;
    size_t count, capacity;
    int failed;
} tool_snapshot_t;

/* Room for one more element in a growing array (items holding count of *capacity, each size bytes):
 * doubled, from initial, when full. Returns the array (moved or not), or NULL when out of memory (the
 * old one then stays as it was). */
static inline void *tool_array_reserve(void *items, size_t *capacity, size_t count, size_t size, size_t initial)
{
    if (count < *capacity)
    {
        return items;
    }
    size_t grown = *capacity ? 2 * *capacity : initial;
    void *p = realloc(items, grown * size);
    if (NULL != p)
    {
        *capacity = grown;
    }
    return p;
}

static inline void tool_snapshot_add(void *clientd, int32_t id, int32_t type_id, const char *label, size_t label_length,
    int64_t value)
{
    tool_snapshot_t *snap = clientd;
    tool_counter_t *items = tool_array_reserve(snap->items, &snap->capacity, snap->count, sizeof(*items), 256);
    if (NULL == items)
    {
        snap->failed = 1;
        return;
    }
    snap->items = items;
    tool_counter_t *c = &snap->items[snap->count++];
    c->id = id;
    c->type_id = type_id;
    c->value = value;
    c->label_length = label_length < TOOL_LABEL_MAX - 1 ? label_length : TOOL_LABEL_MAX - 1;
    memcpy(c->label, label, c->label_length);
    c->label[c->label_length] = '\0';
}

/* Fills snap from the CnC; -1 (shoal_errmsg, or out of memory) on failure. */
static inline int tool_snapshot_take(shoal_cnc_t *cnc, tool_snapshot_t *snap)
{
    snap->count = 0;
    snap->failed = 0;
    if (shoal_cnc_counters_foreach(cnc, tool_snapshot_add, snap) < 0)
    {
        return -1;
    }
    return snap->failed ? -1 : 0;
}

/* "KIND: id session stream channel[ @source]": 1 with the parts filled
 * (channel and source of TOOL_LABEL_MAX bytes), 0 if the label is not of that form. */
static inline int tool_parse_stream_label(const char *label, const char *kind, long long *id, int *session, int *stream,
    char *channel, char *source)
{
    size_t n = strlen(kind);
    int used = 0;
    if (strncmp(label, kind, n) || ':' != label[n] ||
        sscanf(label + n + 1, " %lld %d %d %n", id, session, stream, &used) != 3 || 0 == used)
    {
        return 0;
    }
    const char *rest = label + n + 1 + used, *at = strstr(rest, " @");
    size_t channel_length = at ? (size_t)(at - rest) : strlen(rest);
    snprintf(channel, TOOL_LABEL_MAX, "%.*s", (int)channel_length, rest);
    snprintf(source, TOOL_LABEL_MAX, "%s", at ? at + 2 : "");
    return 1;
}

/* "snd-channel NAME: URI": 1 with dir ("snd"/"rcv"), *name (NAME, name_length
 * bytes) and *uri set; 0 otherwise. */
static inline int tool_parse_endpoint_label(const char *label, char dir[4], const char **name, size_t *name_length,
    const char **uri)
{
    if (strncmp(label, "snd-channel ", 12) && strncmp(label, "rcv-channel ", 12))
    {
        return 0;
    }
    const char *colon = strstr(label + 12, ": ");
    if (NULL == colon)
    {
        return 0;
    }
    memcpy(dir, label, 3);
    dir[3] = '\0';
    *name = label + 12;
    *name_length = (size_t)(colon - *name);
    *uri = colon + 2;
    return 1;
}

#endif
