/*
 * Replay merge: a late subscriber reads a recording from a position and then
 * the live stream, with no gap and no duplicate (Aeron's ReplayMerge, done in
 * the client with two subscriptions instead of one multi-destination one).
 *
 *   REPLAY   the replay (following the recording) is polled and delivered;
 *            the recording's live position is asked now and then, and once
 *            the replay is within a quarter term of it the live subscription
 *            is added (CATCHUP). Adding it earlier would hold the live
 *            publisher (a subscriber not polled back-pressures it).
 *   CATCHUP  the replay goes on until it has delivered up to the live image's
 *            join position J (known from its on_available). Positions are the
 *            stream's in both (a replay keeps the recorded positions), so
 *            whatever the replay delivered is exactly what precedes J.
 *   LIVE     the replay is stopped and its subscription closed; the live
 *            subscription is polled, and messages that end at or before the
 *            position already delivered (the replay may have gone past J) are
 *            skipped. Messages of other sessions on either stream are skipped.
 *
 * While catching up, the live image is not polled: the live publisher can get
 * at most its window (IPC: half a term; UDP: the receiver window) past J.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/shoal_archive_client.h"
#include "concurrent/shoal_atomic.h"
#include "shoal/shoal_archive.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

typedef enum merge_state_en
{
    MERGE_REPLAY,
    MERGE_CATCHUP,
    MERGE_LIVE,
    MERGE_FAILED
} merge_state_t;

/* How often, at most, the live position is asked while replaying. */
#define MERGE_POSITION_CHECK_INTERVAL_NS (1000 * 1000)

struct shoal_replay_merge_stct
{
    shoal_archive_t *archive;
    shoal_client_t *client;
    int64_t recording_id;
    int32_t session_id; /* the recording's: the live image to merge with */
    int32_t term_length;
    merge_state_t state;
    int64_t position; /* delivered up to here */
    shoal_subscription_t *replay;
    int64_t replay_session_id;
    shoal_subscription_t *live;
    int64_t live_join_position; /* -1 until the live image of session_id is available (written by on_available) */
    const char *live_channel;
    int32_t live_stream_id;
    int64_t next_position_check_ns;
    /* the user's handler during a poll */
    shoal_fragment_handler_t handler;
    void *clientd;
    char live_channel_copy[1024];
};

/* Keeps the one descriptor listed (its strings are not kept). */
static void keep_descriptor(void *clientd, const shoal_recording_descriptor_t *d)
{
    *(shoal_recording_descriptor_t *)clientd = *d;
}

static void on_live_image(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    shoal_replay_merge_t *m = clientd;
    if (shoal_image_session_id(image) == m->session_id)
    {
        shoal_store_release(&m->live_join_position, shoal_image_join_position(image));
    }
}

static void on_replayed(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    shoal_replay_merge_t *m = clientd;
    if (hdr->session_id != (int32_t)m->replay_session_id || hdr->position <= m->position)
    {
        return;
    }
    m->position = hdr->position;
    m->handler(m->clientd, buf, len, hdr);
}

static void on_live(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    shoal_replay_merge_t *m = clientd;
    if (hdr->session_id != m->session_id || hdr->position <= m->position)
    {
        return; /* another session, or delivered by the replay already */
    }
    m->position = hdr->position;
    m->handler(m->clientd, buf, len, hdr);
}

int shoal_replay_merge_start(shoal_replay_merge_t **mp, shoal_archive_t *a, int64_t recording_id, int64_t position,
    const char *replay_channel, int32_t replay_stream_id, const char *live_channel, int32_t live_stream_id)
{
    if (NULL == mp || NULL == a || NULL == replay_channel || NULL == live_channel)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "shoal_replay_merge_start: m, a, replay_channel and live_channel must not be NULL");
    }
    /* Listing one from recording_id yields the first recording at or after
     * it: a purged or unknown id shows as another id (or none). */
    shoal_recording_descriptor_t found = { .recording_id = -1 };
    if (shoal_archive_list_recordings(a, recording_id, 1, keep_descriptor, &found) < 0)
    {
        return -1;
    }
    if (found.recording_id != recording_id)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_replay_merge_start: no recording %lld", (long long)recording_id);
    }
    shoal_replay_merge_t *m = calloc(1, sizeof(*m));
    if (NULL == m)
    {
        return shoal_set_err(SHOAL_ENOMEM, "replay merge: out of memory");
    }
    m->archive = a;
    m->client = shoal_archive_client_of(a);
    m->recording_id = recording_id;
    m->session_id = found.session_id;
    m->term_length = found.term_length;
    m->position = position >= 0 ? position : found.start_position;
    m->live_join_position = -1;
    m->live_stream_id = live_stream_id;
    snprintf(m->live_channel_copy, sizeof(m->live_channel_copy), "%s", live_channel);
    m->live_channel = m->live_channel_copy;
    /* The replay's subscription first, so its image is there from the start. */
    if (shoal_add_subscription(m->client, replay_channel, replay_stream_id, &m->replay) < 0)
    {
        free(m);
        return -1;
    }
    m->replay_session_id = shoal_archive_replay(a, recording_id, m->position, -1, replay_channel, replay_stream_id);
    if (m->replay_session_id < 0)
    {
        shoal_subscription_close(m->replay);
        free(m);
        return -1;
    }
    *mp = m;
    return 0;
}

/* Ends the replay side: the server's replay, then our subscription. */
static void stop_replay(shoal_replay_merge_t *m)
{
    if (NULL != m->replay)
    {
        shoal_archive_stop_replay(m->archive, m->replay_session_id); /* it may have ended already */
        shoal_err_clear();
        shoal_subscription_close(m->replay);
        m->replay = NULL;
    }
}

static int fail(shoal_replay_merge_t *m)
{
    m->state = MERGE_FAILED;
    return -1;
}

/* REPLAY: once the replay is close to the recording's live position, the
 * live subscription is added. */
static int check_live_distance(shoal_replay_merge_t *m)
{
    const int64_t now = shoal_nano_time();
    if (now < m->next_position_check_ns)
    {
        return 0;
    }
    m->next_position_check_ns = now + MERGE_POSITION_CHECK_INTERVAL_NS;
    int64_t live = shoal_archive_recording_position(m->archive, m->recording_id);
    if (live < 0)
    {
        return fail(m);
    }
    if (live - m->position > m->term_length / 4)
    {
        return 0;
    }
    if (shoal_add_subscription_with_handlers(m->client, m->live_channel, m->live_stream_id, on_live_image, NULL, m,
            &m->live) < 0)
    {
        return fail(m);
    }
    m->state = MERGE_CATCHUP;
    return 1;
}

int shoal_replay_merge_poll(shoal_replay_merge_t *m, shoal_fragment_handler_t h, void *clientd, int fragment_limit)
{
    if (NULL == m || NULL == h || fragment_limit <= 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_replay_merge_poll: m and h must not be NULL, fragment_limit > 0");
    }
    m->handler = h;
    m->clientd = clientd;
    switch (m->state)
    {
        case MERGE_LIVE: return shoal_subscription_poll(m->live, on_live, m, fragment_limit);
        case MERGE_FAILED:
            return shoal_set_err(SHOAL_ESTATE, "replay merge of recording %lld failed at position %lld",
                (long long)m->recording_id, (long long)m->position);
        default: break;
    }
    int n = shoal_subscription_poll(m->replay, on_replayed, m, fragment_limit);
    if (n < 0)
    {
        return fail(m);
    }
    if (MERGE_REPLAY == m->state && n < fragment_limit && check_live_distance(m) < 0)
    {
        return -1;
    }
    if (MERGE_CATCHUP == m->state)
    {
        int64_t join = shoal_load_acquire(&m->live_join_position);
        if (join >= 0 && m->position >= join)
        {
            stop_replay(m);
            m->state = MERGE_LIVE;
        }
    }
    return n;
}

bool shoal_replay_merge_is_live(const shoal_replay_merge_t *m)
{
    return NULL != m && MERGE_LIVE == m->state;
}

int64_t shoal_replay_merge_position(const shoal_replay_merge_t *m)
{
    return NULL == m ? shoal_set_err(SHOAL_EINVAL, "shoal_replay_merge_position: m must not be NULL") : m->position;
}

int shoal_replay_merge_close(shoal_replay_merge_t *m)
{
    if (NULL == m)
    {
        return 0;
    }
    stop_replay(m);
    int rc = 0;
    if (NULL != m->live && shoal_subscription_close(m->live) < 0)
    {
        rc = -1;
    }
    free(m);
    return rc;
}
