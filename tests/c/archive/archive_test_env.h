/* An embedded driver, an archive server on a fresh archive directory and a
 * connected archive client, for the archive service tests. */
#ifndef ARCHIVE_TEST_ENV_H
#define ARCHIVE_TEST_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shoal_test_support.h"
#include "shoal/shoal_archive.h"

typedef struct
{
    shoal_test_env_t env;
    char archive_dir[160];
    shoal_archive_server_t *server;
    shoal_archive_t *archive;
} archive_test_env_t;

/* Removes the archive directory's files and the directory (flat: the archive
 * keeps no subdirectories). */
static inline void archive_test_remove_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (0 != system(cmd))
    {
        fprintf(stderr, "could not remove %s\n", dir);
    }
}

/* Starts the archive server on <env dir>-archive (emptied first) and
 * connects an archive client, on a's started env. */
static inline int archive_test_archive_start(archive_test_env_t *a)
{
    snprintf(a->archive_dir, sizeof(a->archive_dir), "%s-archive", a->env.dir);
    archive_test_remove_dir(a->archive_dir);
    if (shoal_archive_server_start(&a->server, a->env.ctx, a->archive_dir) < 0 ||
        shoal_archive_connect(&a->archive, a->env.client) < 0)
    {
        fprintf(stderr, "archive env: %s\n", shoal_errmsg());
        return -1;
    }
    return 0;
}

static inline void archive_test_env_stop(archive_test_env_t *a)
{
    shoal_archive_close(a->archive);
    if (NULL != a->server)
    {
        shoal_archive_server_close(a->server);
    }
    shoal_test_env_stop(&a->env);
    archive_test_remove_dir(a->archive_dir);
}

static inline int archive_test_env_teardown(void **state)
{
    archive_test_env_stop(*state);
    free(*state);
    return 0;
}

/* A cmocka setup: shoal_test_env_setup's env, with settings, and an archive
 * server and client on it. */
static inline int archive_test_env_setup(void **state, const char *prefix, const char *const *settings)
{
    if (shoal_test_env_setup_sized(state, sizeof(archive_test_env_t), prefix, SHOAL_TEST_ENV_DEFAULTS, settings) < 0)
    {
        return -1;
    }
    if (archive_test_archive_start(*state) < 0)
    {
        archive_test_env_teardown(state);
        return -1;
    }
    return 0;
}

typedef struct
{
    int count;
    shoal_recording_descriptor_t last;
    char channel[256];
    char source[256];
} archive_test_list_t;

static inline void archive_test_collect(void *clientd, const shoal_recording_descriptor_t *d)
{
    archive_test_list_t *l = clientd;
    l->count++;
    l->last = *d;
    snprintf(l->channel, sizeof(l->channel), "%s", d->channel);
    snprintf(l->source, sizeof(l->source), "%s", d->source_identity);
    l->last.channel = l->channel;
    l->last.source_identity = l->source;
}

/* Waits until the archive lists at least n recordings (5 s). */
static inline int archive_test_wait_recordings(shoal_archive_t *archive, int n, archive_test_list_t *l)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    for (;;)
    {
        memset(l, 0, sizeof(*l));
        if (shoal_archive_list_recordings(archive, 0, 100, archive_test_collect, l) < 0)
        {
            return -1;
        }
        if (l->count >= n || shoal_test_now_ms() > deadline)
        {
            return l->count >= n ? 0 : -1;
        }
        shoal_test_sleep_ms(2);
    }
}

/* Waits until recording_id's recorded position reaches position (5 s). */
static inline int archive_test_wait_position(shoal_archive_t *archive, int64_t recording_id, int64_t position)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    int64_t p;
    while ((p = shoal_archive_recording_position(archive, recording_id)) < position)
    {
        if (p < 0 || shoal_test_now_ms() > deadline)
        {
            return -1;
        }
        shoal_test_sleep_ms(1);
    }
    return 0;
}

/* Reads recording_id in dir with the offline reader, from its start to its
 * end, each message to handler; stops early after timeout_ms (-1: never).
 * The cursor's position at the end (past any padding after the last
 * message), or -1 when opening, polling or closing failed (said on stderr). */
static inline int64_t archive_test_read_recording(const char *dir, int64_t recording_id,
    shoal_fragment_handler_t handler, void *clientd, int64_t timeout_ms)
{
    shoal_archive_reader_t *reader = NULL;
    shoal_recording_cursor_t *cursor = NULL;
    if (shoal_archive_reader_open(&reader, dir) < 0 ||
        shoal_recording_cursor_open(&cursor, reader, recording_id, -1, -1) < 0)
    {
        fprintf(stderr, "recording %lld in %s: %s\n", (long long)recording_id, dir, shoal_errmsg());
        shoal_archive_reader_close(reader);
        return -1;
    }
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    int64_t end = 0;
    while (!shoal_recording_cursor_is_end(cursor) && (timeout_ms < 0 || shoal_test_now_ms() < deadline))
    {
        if (shoal_recording_cursor_poll(cursor, handler, clientd, 100) < 0)
        {
            fprintf(stderr, "reading recording %lld: %s\n", (long long)recording_id, shoal_errmsg());
            end = -1;
            break;
        }
    }
    if (end == 0)
    {
        end = shoal_recording_cursor_position(cursor);
    }
    if (shoal_recording_cursor_close(cursor) < 0 || shoal_archive_reader_close(reader) < 0)
    {
        fprintf(stderr, "closing recording %lld: %s\n", (long long)recording_id, shoal_errmsg());
        return -1;
    }
    return end;
}

#endif
