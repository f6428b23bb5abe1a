/*
 * The archive server's replay sessions: each REPLAY makes a replayer
 * (shoal_archive_replayer.h) that the server's duty cycle drives until it is
 * done, or until STOP_REPLAY. A replay session id carries the replay
 * publication's session id in its low 32 bits (what the subscriber's image
 * shows) and a count in the high bits, so ids are not reused while the
 * server runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/shoal_archive_replayer.h"
#include "archive/shoal_archive_server.h"
#include "util/shoal_error.h"

/* Replay publications take session ids from here on (well away from the
 * driver's own choices, which start from a random value). */
#define REPLAY_SESSION_ID_BASE 0x52500000

struct shoal_archive_replay_stct
{
    int64_t id;
    int64_t recording_id;
    shoal_archive_replayer_t *replayer;
};

int64_t shoal_archive_server_replay(shoal_archive_server_t *srv, const shoal_archive_msg_t *request)
{
    shoal_recording_descriptor_t d;
    if (shoal_archive_catalog_find(srv->recorder.catalog, request->id, &d) < 0)
    {
        return -1;
    }
    char channel[SHOAL_ARCHIVE_STRING_MAX];
    snprintf(channel, sizeof(channel), "%.*s", (int)request->text_length, request->text);
    int64_t count = ++srv->replay_count;
    int32_t session_id = (int32_t)(REPLAY_SESSION_ID_BASE + (uint32_t)(count & 0xFFFFF));
    shoal_archive_replay_params_t params = { .archive_dir = srv->archive_dir,
        .recording = &d,
        .position = request->position,
        .length = request->length,
        .channel = channel,
        .stream_id = request->stream_id,
        .session_id = session_id };
    if (srv->replay_count_live == srv->replay_capacity)
    {
        int32_t capacity = 0 == srv->replay_capacity ? 4 : 2 * srv->replay_capacity;
        void *grown = realloc(srv->replays, (size_t)capacity * sizeof(*srv->replays));
        if (NULL == grown)
        {
            return shoal_set_err(SHOAL_ENOMEM, "replay: out of memory");
        }
        srv->replays = grown;
        srv->replay_capacity = capacity;
    }
    shoal_archive_replay_t *replay = &srv->replays[srv->replay_count_live];
    if (shoal_archive_replayer_create(&replay->replayer, srv->client, &params) < 0)
    {
        return -1;
    }
    replay->id = (int64_t)(((uint64_t)count << 32) | (uint32_t)session_id);
    replay->recording_id = request->id;
    srv->replay_count_live++;
    return replay->id;
}

static void remove_replay(shoal_archive_server_t *srv, int32_t i)
{
    shoal_archive_replayer_close(srv->replays[i].replayer);
    srv->replays[i] = srv->replays[--srv->replay_count_live];
}

int shoal_archive_server_stop_replay(shoal_archive_server_t *srv, int64_t replay_session_id)
{
    for (int32_t i = 0; i < srv->replay_count_live; i++)
    {
        if (srv->replays[i].id == replay_session_id)
        {
            remove_replay(srv, i);
            return 0;
        }
    }
    return shoal_set_err(SHOAL_EINVAL, "no replay session %lld (ended, stopped or never started)",
        (long long)replay_session_id);
}

int32_t shoal_archive_server_replays_of(const shoal_archive_server_t *srv, int64_t recording_id)
{
    int32_t n = 0;
    for (int32_t i = 0; i < srv->replay_count_live; i++)
    {
        n += srv->replays[i].recording_id == recording_id;
    }
    return n;
}

int shoal_archive_server_do_replays(shoal_archive_server_t *srv)
{
    int work = 0;
    for (int32_t i = 0; i < srv->replay_count_live;)
    {
        int n = shoal_archive_replayer_do_work(srv->replays[i].replayer);
        if (n < 0)
        {
            fprintf(stderr, "shoal archive: replay %lld: %s\n", (long long)srv->replays[i].id, shoal_errmsg());
            srv->error_count++;
        }
        work += n > 0 ? n : 0;
        if (shoal_archive_replayer_is_done(srv->replays[i].replayer))
        {
            remove_replay(srv, i);
            work++;
        }
        else
        {
            i++;
        }
    }
    return work;
}

void shoal_archive_server_close_replays(shoal_archive_server_t *srv)
{
    while (srv->replay_count_live > 0)
    {
        remove_replay(srv, 0);
    }
    free(srv->replays);
    srv->replays = NULL;
    srv->replay_capacity = 0;
}
