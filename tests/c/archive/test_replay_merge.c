/* Replay merge: a publisher keeps publishing numbered messages while the
 * archive records them; a late subscriber replays the recording from its
 * start and merges into the live stream. Every sequence number must arrive
 * exactly once, in order, the stream positions growing, and the merge must
 * end live. IPC (replay and live on aeron:ipc) and UDP (both on loopback). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "../shoal_test_main.h"
#include "../transport/udp_test_util.h"
#include "archive_test_env.h"
#include "concurrent/shoal_atomic.h"

#define TOTAL         100000
#define MERGE_AFTER   20000
#define LIVE_STREAM   3001
#define REPLAY_STREAM 4001

typedef struct
{
    shoal_publication_t *pub;
    int64_t published; /* messages accepted so far (release) */
    int failed;
} publisher_t;

/* Publishes TOTAL numbered 64-byte messages, pausing every 8 so a merge can
 * catch up (a replay is faster than this, a merge of a faster stream never
 * ends: Aeron's as well). */
static void *publish(void *arg)
{
    publisher_t *p = arg;
    uint8_t msg[64] = { 0 };
    for (int64_t seq = 0; seq < TOTAL;)
    {
        memcpy(msg, &seq, sizeof(seq));
        int64_t r = shoal_publication_offer(p->pub, msg, sizeof(msg));
        if (r > 0)
        {
            seq++;
            shoal_store_release(&p->published, seq);
            if (0 == seq % 8)
            {
                struct timespec ts = { 0, 50000 };
                nanosleep(&ts, NULL);
            }
        }
        else if (SHOAL_ERROR == r || SHOAL_CLOSED == r || SHOAL_MAX_POSITION_EXCEEDED == r)
        {
            p->failed = 1;
            break;
        }
    }
    return NULL;
}

typedef struct
{
    int64_t next_seq;
    int64_t last_position;
    int64_t errors;
    int64_t replayed; /* delivered before the merge went live */
    int64_t live_from_seq;
    shoal_replay_merge_t *merge;
} merge_check_t;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    merge_check_t *c = clientd;
    int64_t seq = -1;
    if (len == 64)
    {
        memcpy(&seq, buf, sizeof(seq));
    }
    c->errors += seq != c->next_seq || hdr->position <= c->last_position;
    if (shoal_replay_merge_is_live(c->merge))
    {
        c->live_from_seq = c->live_from_seq < 0 ? seq : c->live_from_seq;
    }
    else
    {
        c->replayed++;
    }
    c->next_seq = seq + 1;
    c->last_position = hdr->position;
}

static int setup(void **state)
{
    return archive_test_env_setup(state, "merge", NULL);
}

static void merge_while_publishing(archive_test_env_t *a, const char *pub_channel, const char *live_channel,
    const char *replay_channel, const char *label)
{
    publisher_t p = { 0 };
    assert_int_equal(0, shoal_add_exclusive_publication(a->env.client, pub_channel, LIVE_STREAM, &p.pub));
    assert_true(shoal_archive_start_recording(a->archive, pub_channel, LIVE_STREAM) >= 0);
    archive_test_list_t list;
    assert_int_equal(0, archive_test_wait_recordings(a->archive, 1, &list));
    const int64_t recording_id = list.last.recording_id;

    pthread_t thread;
    assert_int_equal(0, pthread_create(&thread, NULL, publish, &p));
    int64_t deadline = shoal_test_now_ms() + 30000;
    while (shoal_load_acquire(&p.published) < MERGE_AFTER && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }

    merge_check_t c = { .last_position = -1, .live_from_seq = -1 };
    if (shoal_replay_merge_start(&c.merge, a->archive, recording_id, 0, replay_channel, REPLAY_STREAM, live_channel,
            LIVE_STREAM) < 0)
    {
        fail_msg("merge start: %s", shoal_errmsg());
    }
    const int64_t started_at = shoal_load_acquire(&p.published);
    deadline = shoal_test_now_ms() + 60000;
    while (c.next_seq < TOTAL && shoal_test_now_ms() < deadline)
    {
        if (shoal_replay_merge_poll(c.merge, on_message, &c, 64) < 0)
        {
            fail_msg("merge poll: %s", shoal_errmsg());
        }
    }
    assert_int_equal(0, pthread_join(thread, NULL));
    assert_int_equal(0, p.failed);
    printf("replay merge %s: %lld messages, each once and in order (errors %lld); started when %lld were "
           "published; %lld from the replay, live from seq %lld at position %lld\n",
        label, (long long)c.next_seq, (long long)c.errors, (long long)started_at, (long long)c.replayed,
        (long long)c.live_from_seq, (long long)shoal_replay_merge_position(c.merge));
    assert_int_equal(TOTAL, c.next_seq);
    assert_int_equal(0, c.errors);
    assert_true(shoal_replay_merge_is_live(c.merge));
    assert_true(c.replayed >= MERGE_AFTER);
    assert_true(c.live_from_seq > 0 && c.live_from_seq < TOTAL);
    assert_int_equal(shoal_publication_position(p.pub), shoal_replay_merge_position(c.merge));
    assert_int_equal(0, shoal_replay_merge_close(c.merge));
    assert_int_equal(0, shoal_publication_close(p.pub));
}

static void test_merge_ipc(void **state)
{
    merge_while_publishing(*state, "aeron:ipc", "aeron:ipc", "aeron:ipc", "IPC");
}

static void test_merge_udp(void **state)
{
    char pub_channel[128], live_channel[128], replay_channel[128];
    int port = udp_test_free_port();
    /* ssc: the recording's spy lets the publisher run before any receiver. */
    snprintf(pub_channel, sizeof(pub_channel), "aeron:udp?endpoint=127.0.0.1:%d|ssc=true", port);
    snprintf(live_channel, sizeof(live_channel), "aeron:udp?endpoint=127.0.0.1:%d", port);
    snprintf(replay_channel, sizeof(replay_channel), "aeron:udp?endpoint=127.0.0.1:%d", udp_test_free_port());
    merge_while_publishing(*state, pub_channel, live_channel, replay_channel, "UDP");
}

static void test_bad_arguments(void **state)
{
    archive_test_env_t *a = *state;
    shoal_replay_merge_t *m = NULL;
    assert_int_equal(-1, shoal_replay_merge_start(&m, a->archive, 12345, 0, "aeron:ipc", 1, "aeron:ipc", 2));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_replay_merge_start(&m, NULL, 0, 0, "aeron:ipc", 1, "aeron:ipc", 2));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_replay_merge_poll(NULL, on_message, NULL, 1));
    assert_false(shoal_replay_merge_is_live(NULL));
    assert_int_equal(-1, shoal_replay_merge_position(NULL));
    assert_int_equal(0, shoal_replay_merge_close(NULL));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, archive_test_env_teardown)

SHOAL_TEST_MAIN({
    T(test_merge_ipc),
    T(test_merge_udp),
    T(test_bad_arguments),
})
