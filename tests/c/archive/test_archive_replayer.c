/* The replayer (core/src/archive/shoal_archive_replayer.c) on recordings the
 * log builder writes: a whole recording, a slice from a message boundary,
 * a live recording followed to its stop, over IPC and UDP, the subscriber's
 * image placed at the recorded positions and closed at the end; bad
 * parameters and a replay nobody subscribes to fail with clear errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../client/image_recorder.h"
#include "../transport/udp_test_util.h"
#include "archive/shoal_archive_replayer.h"
#include "archive_test_env.h"
#include "archive_test_util.h"
#include "util/shoal_error.h"

#define MESSAGES 600

typedef struct
{
    shoal_test_env_t env;
    char archive_dir[160];
    shoal_archive_catalog_t *catalog;
    shoal_recording_writer_t *writer;
    log_builder_t lb;
    shoal_recording_descriptor_t d;
    int64_t id;
    int64_t ends[MESSAGES + 1]; /* ends[k]: the position after message k - 1 (ends[0]: the start) */
    int64_t appended;
} fixture_t;

static int setup(void **state)
{
    static int n = 0;
    char name[32];
    snprintf(name, sizeof(name), "replayer%d", n++);
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    if (shoal_test_env_start(&f->env, name) < 0)
    {
        return -1;
    }
    snprintf(f->archive_dir, sizeof(f->archive_dir), "%s-archive", f->env.dir);
    archive_test_remove_dir(f->archive_dir);
    f->d = archive_test_descriptor(3 * LB_TERM_LENGTH + 4096, LB_TERM_LENGTH, LB_SEGMENT_LENGTH, LB_MTU);
    if (shoal_archive_catalog_open(&f->catalog, f->archive_dir, SHOAL_ARCHIVE_FSYNC_NONE) < 0)
    {
        return -1;
    }
    f->id = lb_start_recording(f->catalog, &f->d, SHOAL_ARCHIVE_FSYNC_NONE, &f->writer, &f->lb);
    f->ends[0] = f->d.start_position;
    return f->id < 0 || shoal_archive_catalog_find(f->catalog, f->id, &f->d) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (NULL != f->writer)
    {
        shoal_recording_writer_close(f->writer);
    }
    lb_free(&f->lb);
    shoal_archive_catalog_close(f->catalog);
    shoal_test_env_stop(&f->env);
    archive_test_remove_dir(f->archive_dir);
    free(f);
    return 0;
}

/* Records messages [appended, appended + n) and flushes them. */
static void record(fixture_t *f, int n)
{
    for (int i = 0; i < n; i++, f->appended++)
    {
        assert_int_equal(0, lb_append(&f->lb, f->appended, lb_length_of(f->appended, LB_MTU)));
        f->ends[f->appended + 1] = f->lb.position;
    }
    assert_int_equal(0, lb_flush(&f->lb));
}

static void stop_recording(fixture_t *f)
{
    assert_int_equal(0, shoal_recording_writer_close(f->writer));
    f->writer = NULL;
    assert_int_equal(0, shoal_archive_catalog_find(f->catalog, f->id, &f->d));
    assert_int_equal(f->ends[f->appended], f->d.stop_position);
}

static shoal_archive_replay_params_t params(fixture_t *f, const char *channel, int64_t position, int64_t length)
{
    shoal_archive_replay_params_t p = {
        .archive_dir = f->archive_dir,
        .recording = &f->d,
        .position = position,
        .length = length,
        .channel = channel,
        .stream_id = LB_STREAM_ID,
        .session_id = LB_SESSION_ID, /* what lb_check_on_message expects */
        .max_block_length = 8192,
    };
    return p;
}

/* Runs the replayer and polls sub until the replay is done and the image
 * gone; every message checked from first_seq on, to end_seq. */
static void run_replay(fixture_t *f, shoal_archive_replayer_t *r, shoal_subscription_t *sub, image_recorder_t *rec,
    int64_t first_seq, int64_t end_seq, void (*during)(fixture_t *f, int64_t received))
{
    lb_check_t check = { .next_seq = first_seq, .last_position = f->ends[first_seq] };
    int64_t deadline = shoal_test_now_ms() + 30000;
    while ((!shoal_archive_replayer_is_done(r) || image_recorder_count(rec) < 2) && shoal_test_now_ms() < deadline)
    {
        assert_true(shoal_archive_replayer_do_work(r) >= 0);
        assert_true(shoal_subscription_poll(sub, lb_check_on_message, &check, 10) >= 0);
        if (NULL != during)
        {
            during(f, check.next_seq);
        }
    }
    assert_false(shoal_archive_replayer_failed(r));
    assert_int_equal(0, check.bad);
    assert_int_equal(end_seq, check.next_seq);
    assert_int_equal(f->ends[end_seq], check.last_position);
    assert_int_equal(f->ends[end_seq], shoal_archive_replayer_position(r));
    /* The image joined where the replay started and went at its end. */
    assert_int_equal(2, image_recorder_count(rec));
    image_event_t joined = image_recorder_at(rec, 0);
    image_event_t gone = image_recorder_at(rec, 1);
    assert_true(joined.available && !gone.available);
    assert_int_equal(f->ends[first_seq], joined.join_position);
    assert_int_equal(LB_SESSION_ID, joined.session_id);
}

static void replay_on(fixture_t *f, const char *channel, int64_t first_seq, int64_t end_seq,
    void (*during)(fixture_t *f, int64_t received))
{
    image_recorder_t *rec = image_recorder_new();
    shoal_subscription_t *sub = image_recorder_subscribe(rec, f->env.client, channel, LB_STREAM_ID);
    const int64_t length = NULL != during ? -1 : f->ends[end_seq] - f->ends[first_seq];
    shoal_archive_replay_params_t p = params(f, channel, f->ends[first_seq], length);
    shoal_archive_replayer_t *r;
    if (shoal_archive_replayer_create(&r, f->env.client, &p) < 0)
    {
        fail_msg("replayer: %s", shoal_errmsg());
    }
    assert_int_equal(LB_SESSION_ID, shoal_archive_replayer_session_id(r));
    run_replay(f, r, sub, rec, first_seq, end_seq, during);
    assert_int_equal(0, shoal_archive_replayer_close(r));
    assert_int_equal(0, shoal_subscription_close(sub));
    image_recorder_free(rec);
}

static void test_whole_recording_ipc(void **state)
{
    fixture_t *f = *state;
    record(f, MESSAGES);
    stop_recording(f);
    replay_on(f, "aeron:ipc", 0, MESSAGES, NULL);
}

static void test_slice_ipc(void **state)
{
    fixture_t *f = *state;
    record(f, MESSAGES);
    stop_recording(f);
    replay_on(f, "aeron:ipc", 101, 377, NULL);
}

static void test_slice_udp(void **state)
{
    fixture_t *f = *state;
    record(f, MESSAGES);
    stop_recording(f);
    char channel[64];
    snprintf(channel, sizeof(channel), "aeron:udp?endpoint=127.0.0.1:%d", udp_test_free_port());
    replay_on(f, channel, 3, MESSAGES - 5, NULL);
}

/* Records more as the subscriber catches up, then stops the recording. */
static void keep_recording(fixture_t *f, int64_t received)
{
    if (NULL != f->writer && received >= f->appended - 5)
    {
        if (f->appended < MESSAGES)
        {
            record(f, 50);
        }
        else
        {
            stop_recording(f);
        }
    }
}

static void test_follow_live_recording(void **state)
{
    fixture_t *f = *state;
    record(f, 100);
    replay_on(f, "aeron:ipc", 0, MESSAGES, keep_recording);
}

static void test_bad_parameters(void **state)
{
    fixture_t *f = *state;
    record(f, 20);
    stop_recording(f);
    shoal_archive_replayer_t *r = NULL;
    shoal_archive_replay_params_t p = params(f, "aeron:ipc", f->ends[3] + 32, -1);
    shoal_err_clear();
    assert_int_equal(-1, shoal_archive_replayer_create(&r, f->env.client, &p));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    p = params(f, "aeron:ipc?term-length=128k", -1, -1);
    assert_int_equal(-1, shoal_archive_replayer_create(&r, f->env.client, &p));
    assert_non_null(strstr(shoal_errmsg(), "come from the recording"));
    p = params(f, "aeron:ipc", -1, f->d.stop_position - f->d.start_position + 32);
    assert_int_equal(-1, shoal_archive_replayer_create(&r, f->env.client, &p));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_replayer_create(&r, NULL, &p));
    assert_int_equal(-1, shoal_archive_replayer_do_work(NULL));
    assert_int_equal(0, shoal_archive_replayer_close(NULL));

    /* Nobody subscribes: the replay gives up after its connect timeout. */
    p = params(f, "aeron:ipc", -1, -1);
    p.connect_timeout_ns = 100 * 1000 * 1000;
    assert_int_equal(0, shoal_archive_replayer_create(&r, f->env.client, &p));
    int rc = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (0 == rc && shoal_test_now_ms() < deadline)
    {
        rc = shoal_archive_replayer_do_work(r);
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(-1, rc);
    assert_non_null(strstr(shoal_errmsg(), "no subscriber connected in time"));
    assert_true(shoal_archive_replayer_is_done(r));
    assert_true(shoal_archive_replayer_failed(r));
    assert_int_equal(0, shoal_archive_replayer_do_work(r));
    assert_int_equal(0, shoal_archive_replayer_close(r));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_whole_recording_ipc),
    T(test_slice_ipc),
    T(test_slice_udp),
    T(test_follow_live_recording),
    T(test_bad_parameters),
})
