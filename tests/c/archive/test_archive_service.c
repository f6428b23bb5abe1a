/* The archive service end to end: an embedded archive server recording IPC
 * and UDP streams, controlled by the C client API; what it wrote is read back
 * with the offline reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "archive/shoal_archive_codec.h"
#include "archive/shoal_archive_server.h"
#include "archive_test_env.h"

static int setup(void **state)
{
    static const char *const settings[] = { "ARCHIVE_SEGMENT_LENGTH", "128k", NULL };
    return archive_test_env_setup(state, "arcsvc", settings);
}

/* A short message timeout: the server's wait for a CONNECT's response stream. */
static int setup_short_timeout(void **state)
{
    static const char *const settings[] = { "ARCHIVE_SEGMENT_LENGTH", "128k", "ARCHIVE_MESSAGE_TIMEOUT_MS", "3000",
        NULL };
    return archive_test_env_setup(state, "arcsvc", settings);
}

/* Publishes count messages of length bytes (a sequence number first). */
static int64_t publish(shoal_publication_t *pub, int count, size_t length, int64_t first)
{
    uint8_t msg[4096] = { 0 };
    int64_t position = 0;
    for (int i = 0; i < count; i++)
    {
        int64_t value = first + i;
        memcpy(msg, &value, sizeof(value));
        position = shoal_test_offer(pub, msg, length);
        if (position < 0)
        {
            return position;
        }
    }
    return position;
}

/* An exclusive IPC publication whose stream the archive records. */
typedef struct
{
    shoal_publication_t *pub;
    int64_t subscription_id;
    int64_t recording_id;
} recorded_ipc_t;

static recorded_ipc_t start_recorded_ipc(archive_test_env_t *a, int32_t stream_id)
{
    recorded_ipc_t rec = { 0 };
    assert_int_equal(0, shoal_add_exclusive_publication(a->env.client, "aeron:ipc", stream_id, &rec.pub));
    rec.subscription_id = shoal_archive_start_recording(a->archive, "aeron:ipc", stream_id);
    archive_test_list_t list;
    assert_int_equal(0, archive_test_wait_recordings(a->archive, 1, &list));
    rec.recording_id = list.last.recording_id;
    return rec;
}

static void record_and_check(archive_test_env_t *a, const char *channel, int32_t stream_id, size_t length)
{
    shoal_publication_t *pub = NULL;
    assert_int_equal(0, shoal_add_exclusive_publication(a->env.client, channel, stream_id, &pub));
    int64_t subscription_id = shoal_archive_start_recording(a->archive, channel, stream_id);
    assert_true(subscription_id >= 0);

    archive_test_list_t list;
    assert_int_equal(0, archive_test_wait_recordings(a->archive, 1, &list));
    assert_int_equal(1, list.count);
    const shoal_recording_descriptor_t *d = &list.last;
    assert_int_equal(-1, d->stop_position);
    assert_int_equal(shoal_publication_session_id(pub), d->session_id);
    assert_int_equal(stream_id, d->stream_id);
    assert_string_equal(channel, d->channel);
    assert_int_equal(0, d->start_position);

    /* Over several terms (64k) and segments (128k). */
    int64_t end = publish(pub, 2000, length, 0);
    assert_true(end > 0);
    assert_int_equal(0, archive_test_wait_position(a->archive, d->recording_id, end));
    assert_int_equal(end, shoal_archive_recording_position(a->archive, d->recording_id));

    assert_int_equal(0, shoal_archive_stop_recording(a->archive, subscription_id));
    assert_int_equal(0, archive_test_wait_recordings(a->archive, 1, &list));
    assert_int_equal(end, list.last.stop_position);
    assert_true(list.last.stop_timestamp_ns >= list.last.start_timestamp_ns);
    assert_int_equal(end, shoal_archive_recording_position(a->archive, d->recording_id));

    shoal_test_collector_t *r = calloc(1, sizeof(*r));
    assert_true(
        archive_test_read_recording(a->archive_dir, list.last.recording_id, shoal_test_collect_stream, r, 5000) >= 0);
    assert_int_equal(2000, r->count);
    assert_int_equal(0, r->errors);
    assert_int_equal(end, r->last_hdr.position);
    free(r);
    assert_int_equal(0, shoal_publication_close(pub));
}

static void test_records_an_ipc_stream(void **state)
{
    record_and_check(*state, "aeron:ipc", 1001, 100);
}

static void test_records_a_local_udp_stream_through_a_spy(void **state)
{
    /* No subscriber receives the UDP stream: the recording reads the
     * publication's log (spies simulate a connection so offers pass). */
    record_and_check(*state, "aeron:udp?endpoint=127.0.0.1:24771|ssc=true", 1002, 300);
}

static void test_errors_are_clear(void **state)
{
    archive_test_env_t *a = *state;
    assert_int_equal(-1, shoal_archive_recording_position(a->archive, 42));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_stop_recording(a->archive, 12345));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_replay(a->archive, 7, 0, -1, "aeron:ipc", 5));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_purge(a->archive, 7));
    assert_int_equal(-1, shoal_archive_truncate(a->archive, 7, 0));
    assert_int_equal(-1, shoal_archive_stop_replay(a->archive, 99));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_start_recording(a->archive, "aeron:bogus", 1));
    assert_int_equal(-1, shoal_archive_start_recording(a->archive, "aeron:ipc?nokey=1", 1));
    assert_int_equal(SHOAL_EURI, shoal_errcode());

    assert_true(shoal_archive_start_recording(a->archive, "aeron:ipc", 3) >= 0);
    assert_int_equal(-1, shoal_archive_start_recording(a->archive, "aeron:ipc", 3));
    assert_int_equal(SHOAL_ECLASH, shoal_errcode());

    assert_int_equal(-1, shoal_archive_start_recording(NULL, "aeron:ipc", 3));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_start_recording(a->archive, NULL, 3));
    assert_int_equal(-1, shoal_archive_list_recordings(a->archive, 0, 1, NULL, NULL));
    assert_int_equal(-1, shoal_archive_connect(NULL, a->env.client));
    assert_int_equal(-1, shoal_archive_server_start(NULL, a->env.ctx, a->archive_dir));
    assert_int_equal(-1, shoal_archive_server_close(NULL));
    assert_int_equal(0, shoal_archive_close(NULL));
}

static void test_active_recordings_refuse_truncate_and_purge(void **state)
{
    archive_test_env_t *a = *state;
    recorded_ipc_t rec = start_recorded_ipc(a, 1003);
    int64_t end = publish(rec.pub, 10, 64, 0);
    assert_int_equal(0, archive_test_wait_position(a->archive, rec.recording_id, end));

    assert_int_equal(-1, shoal_archive_purge(a->archive, rec.recording_id));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_int_equal(-1, shoal_archive_truncate(a->archive, rec.recording_id, 0));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());

    assert_int_equal(0, shoal_archive_stop_recording(a->archive, rec.subscription_id));
    /* Truncated to the start, then purged: gone from the list. */
    assert_int_equal(0, shoal_archive_truncate(a->archive, rec.recording_id, 0));
    archive_test_list_t list;
    assert_int_equal(0, archive_test_wait_recordings(a->archive, 1, &list));
    assert_int_equal(0, list.last.stop_position);
    assert_int_equal(0, shoal_archive_purge(a->archive, rec.recording_id));
    memset(&list, 0, sizeof(list));
    assert_int_equal(0, shoal_archive_list_recordings(a->archive, 0, 10, archive_test_collect, &list));
    assert_int_equal(0, list.count);
    assert_int_equal(0, shoal_publication_close(rec.pub));
}

/* A CONNECT sent by hand on the control stream (10), to be answered on
 * aeron:ipc stream response_stream. */
static shoal_publication_t *send_connect(archive_test_env_t *a, int64_t correlation_id, int32_t response_stream)
{
    shoal_publication_t *requests = NULL;
    assert_int_equal(0, shoal_add_exclusive_publication(a->env.client, "aeron:ipc", 10, &requests));
    assert_int_equal(0, shoal_test_wait_connected(requests));
    uint8_t buf[SHOAL_ARCHIVE_MESSAGE_MAX];
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_CONNECT,
        .correlation_id = correlation_id,
        .stream_id = response_stream,
        .text = "aeron:ipc",
        .text_length = -1 };
    int length = shoal_archive_encode(&msg, buf, sizeof(buf));
    assert_true(shoal_test_offer(requests, buf, (size_t)length) > 0);
    return requests;
}

typedef struct
{
    int64_t correlation_id;
    int64_t session_id; /* the answer's value; -1 until answered */
} connect_answer_t;

static void on_connect_answer(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    connect_answer_t *answer = clientd;
    shoal_archive_msg_t msg;
    if (shoal_archive_decode(buf, len, &msg) >= 0 && SHOAL_ARCHIVE_RESPONSE == msg.type &&
        msg.correlation_id == answer->correlation_id)
    {
        answer->session_id = msg.value;
    }
}

/* Polls responses for the answer to CONNECT correlation_id (5 s): the
 * session id, or -1. */
static int64_t await_connect_answer(shoal_subscription_t *responses, int64_t correlation_id)
{
    connect_answer_t answer = { correlation_id, -1 };
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (answer.session_id < 0 && shoal_test_now_ms() < deadline)
    {
        assert_true(shoal_subscription_poll(responses, on_connect_answer, &answer, 10) >= 0);
    }
    return answer.session_id;
}

static int32_t await_session_count(archive_test_env_t *a, int32_t count, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (shoal_archive_server_session_count(a->server) != count && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    return shoal_archive_server_session_count(a->server);
}

static void test_two_clients_have_their_own_sessions(void **state)
{
    archive_test_env_t *a = *state;
    shoal_archive_t *second = NULL;
    assert_int_equal(0, shoal_archive_connect(&second, a->env.client));
    assert_true(shoal_archive_control_session_id(second) != shoal_archive_control_session_id(a->archive));
    int64_t sub = shoal_archive_start_recording(second, "aeron:ipc", 1004);
    assert_true(sub >= 0);
    assert_int_equal(-1, shoal_archive_recording_position(a->archive, 5));
    assert_int_equal(0, shoal_archive_stop_recording(a->archive, sub));
    assert_int_equal(0, shoal_archive_close(second));
    /* A client that goes away without closing its session (here a CONNECT
     * sent by hand, answered on stream 77, whose subscriber then leaves):
     * the server ends the session once its response stream has no subscriber. */
    shoal_subscription_t *responses = NULL;
    assert_int_equal(0, shoal_add_subscription(a->env.client, "aeron:ipc", 77, &responses));
    shoal_publication_t *requests = send_connect(a, 424242, 77);
    int64_t session_id = await_connect_answer(responses, 424242);
    assert_true(session_id >= 0);
    assert_true(session_id != shoal_archive_control_session_id(a->archive));
    assert_int_equal(2, shoal_archive_server_session_count(a->server));
    assert_int_equal(0, shoal_subscription_close(responses));
    assert_int_equal(1, await_session_count(a, 1, 5000));
    assert_int_equal(0, shoal_publication_close(requests));
    /* The first session still works once the others are gone. */
    archive_test_list_t list;
    assert_int_equal(0, shoal_archive_list_recordings(a->archive, 0, 10, archive_test_collect, &list));
}

/* A session's CONNECT is answered once its response stream connects, which
 * the server does not wait for: other sessions are served meanwhile, a
 * subscriber that comes late gets the answer, and a session whose stream
 * never connects ends with the message timeout (here 3 s). */
static void test_unanswerable_connects_hold_up_no_one(void **state)
{
    archive_test_env_t *a = *state;
    /* Nobody subscribes to stream 78. */
    shoal_publication_t *requests = send_connect(a, 515151, 78);
    assert_int_equal(2, await_session_count(a, 2, 5000));
    archive_test_list_t list;
    assert_int_equal(0, shoal_archive_list_recordings(a->archive, 0, 10, archive_test_collect, &list));
    assert_true(shoal_archive_start_recording(a->archive, "aeron:ipc", 1007) >= 0);
    /* Served while the unanswered session waits for its stream. */
    assert_int_equal(2, shoal_archive_server_session_count(a->server));

    /* Stream 79's subscriber arrives after the CONNECT (and its repeat, which
     * changes nothing): answered once. */
    shoal_publication_t *late_requests = send_connect(a, 616161, 79);
    assert_int_equal(3, await_session_count(a, 3, 5000));
    shoal_publication_t *again = send_connect(a, 616161, 79);
    shoal_subscription_t *responses = NULL;
    assert_int_equal(0, shoal_add_subscription(a->env.client, "aeron:ipc", 79, &responses));
    assert_true(await_connect_answer(responses, 616161) >= 0);
    assert_int_equal(3, shoal_archive_server_session_count(a->server));

    /* Stream 78's session ends when its client's wait is over. */
    assert_int_equal(2, await_session_count(a, 2, 3000 + 5000));
    assert_int_equal(0, shoal_subscription_close(responses));
    assert_int_equal(1, await_session_count(a, 1, 5000));
    assert_int_equal(0, shoal_archive_list_recordings(a->archive, 0, 10, archive_test_collect, &list));
    assert_int_equal(0, shoal_publication_close(again));
    assert_int_equal(0, shoal_publication_close(late_requests));
    assert_int_equal(0, shoal_publication_close(requests));
}

/* A stopped recording replayed whole, then from a later frame boundary: the
 * messages in order, at the recording's positions, on an image whose session
 * id is the replay session id's low 32 bits. */
static void test_replays_keep_the_recordings_positions(void **state)
{
    archive_test_env_t *a = *state;
    recorded_ipc_t rec = start_recorded_ipc(a, 1006);
    shoal_publication_t *pub = rec.pub;
    int64_t recording_id = rec.recording_id;
    /* 160-byte frames over several 64k terms (with padding at their ends) */
    int64_t after_1000 = publish(pub, 1000, 100, 0);
    int64_t end = publish(pub, 2000, 100, 1000);
    assert_int_equal(0, archive_test_wait_position(a->archive, recording_id, end));
    assert_int_equal(0, shoal_archive_stop_recording(a->archive, rec.subscription_id));

    const int64_t starts[2] = { 0, after_1000 };
    const int64_t first_values[2] = { 0, 1000 };
    for (int k = 0; k < 2; k++)
    {
        shoal_subscription_t *sub = NULL;
        assert_int_equal(0, shoal_add_subscription(a->env.client, "aeron:ipc", 5001 + k, &sub));
        int64_t replay = shoal_archive_replay(a->archive, recording_id, starts[k], -1, "aeron:ipc", 5001 + k);
        if (replay < 0)
        {
            fail_msg("replay from %lld: %s", (long long)starts[k], shoal_errmsg());
        }
        shoal_test_collector_t *r = calloc(1, sizeof(*r));
        r->next_seq = (uint64_t)first_values[k];
        int64_t deadline = shoal_test_now_ms() + 10000;
        while (r->last_hdr.position < end && shoal_test_now_ms() < deadline)
        {
            assert_true(shoal_subscription_poll(sub, shoal_test_collect_stream, r, 100) >= 0);
        }
        assert_int_equal(3000 - first_values[k], r->count);
        assert_int_equal(0, r->errors);
        assert_int_equal(end, r->last_hdr.position);
        assert_int_equal((int32_t)(uint32_t)replay, r->last_hdr.session_id);
        free(r);
        assert_int_equal(0, shoal_subscription_close(sub));
    }

    /* Unknown recording, a position inside a frame, and stopping a replay. */
    assert_int_equal(-1, shoal_archive_replay(a->archive, recording_id + 100, 0, -1, "aeron:ipc", 5003));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_archive_replay(a->archive, recording_id, 100, -1, "aeron:ipc", 5003));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    shoal_subscription_t *sub = NULL;
    assert_int_equal(0, shoal_add_subscription(a->env.client, "aeron:ipc", 5004, &sub));
    int64_t replay = shoal_archive_replay(a->archive, recording_id, 0, 160, "aeron:ipc", 5004);
    assert_true(replay >= 0);
    int rc = shoal_archive_stop_replay(a->archive, replay);
    /* It may have ended already (one message): then it is unknown. */
    assert_true(0 == rc || SHOAL_EINVAL == shoal_errcode());
    assert_int_equal(-1, shoal_archive_stop_replay(a->archive, replay));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_publication_close(pub));
}

/* A running replay holds off truncate and purge of its recording. */
static void test_replayed_recordings_refuse_truncate_and_purge(void **state)
{
    archive_test_env_t *a = *state;
    recorded_ipc_t rec = start_recorded_ipc(a, 1007);
    int64_t recording_id = rec.recording_id;
    int64_t end = publish(rec.pub, 10, 64, 0);
    assert_int_equal(0, archive_test_wait_position(a->archive, recording_id, end));
    assert_int_equal(0, shoal_archive_stop_recording(a->archive, rec.subscription_id));

    /* Nobody subscribes to stream 5010: the replay waits for a subscriber. */
    int64_t replay = shoal_archive_replay(a->archive, recording_id, 0, -1, "aeron:ipc", 5010);
    assert_true(replay >= 0);
    assert_int_equal(-1, shoal_archive_purge(a->archive, recording_id));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "replay"));
    assert_int_equal(-1, shoal_archive_truncate(a->archive, recording_id, 0));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());

    assert_int_equal(0, shoal_archive_stop_replay(a->archive, replay));
    assert_int_equal(0, shoal_archive_truncate(a->archive, recording_id, 0));
    assert_int_equal(0, shoal_archive_purge(a->archive, recording_id));
    assert_int_equal(0, shoal_publication_close(rec.pub));
}

/* Garbage on the control stream is dropped and counted; the server goes on. */
static void test_malformed_requests_are_dropped_and_counted(void **state)
{
    archive_test_env_t *a = *state;
    shoal_publication_t *raw = NULL;
    assert_int_equal(0, shoal_add_exclusive_publication(a->env.client, "aeron:ipc", 10, &raw));
    assert_int_equal(0, shoal_test_wait_connected(raw));
    uint8_t buf[SHOAL_ARCHIVE_MESSAGE_MAX];
    int sent = 0;

    const uint8_t junk[] = "not an archive request at all, just bytes";
    assert_true(shoal_test_offer(raw, junk, sizeof(junk)) > 0);
    sent++;
    assert_true(shoal_test_offer(raw, junk, 3) > 0); /* shorter than a header */
    sent++;
    /* Well formed, but of a session that does not exist. */
    shoal_archive_msg_t msg = { .type = SHOAL_ARCHIVE_PURGE,
        .control_session_id = 999999,
        .correlation_id = 1,
        .id = 0 };
    int length = shoal_archive_encode(&msg, buf, sizeof(buf));
    assert_true(shoal_test_offer(raw, buf, (size_t)length) > 0);
    sent++;
    /* A response sent as a request. */
    msg = (shoal_archive_msg_t){ .type = SHOAL_ARCHIVE_RESPONSE, .control_session_id = 0, .correlation_id = 2 };
    length = shoal_archive_encode(&msg, buf, sizeof(buf));
    assert_true(shoal_test_offer(raw, buf, (size_t)length) > 0);
    sent++;
    /* A request whose string length points past the message. */
    msg = (shoal_archive_msg_t){ .type = SHOAL_ARCHIVE_START_RECORDING,
        .control_session_id = shoal_archive_control_session_id(a->archive),
        .correlation_id = 3,
        .text = "aeron:ipc",
        .text_length = -1 };
    length = shoal_archive_encode(&msg, buf, sizeof(buf));
    int32_t too_long = 500;
    memcpy(buf + 32, &too_long, sizeof(too_long));
    assert_true(shoal_test_offer(raw, buf, (size_t)length) > 0);
    sent++;

    int64_t deadline = shoal_test_now_ms() + 5000;
    while (shoal_archive_server_malformed_count(a->server) < sent && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(sent, shoal_archive_server_malformed_count(a->server));
    /* Still serving, and nothing was recorded by the broken request. */
    archive_test_list_t list;
    memset(&list, 0, sizeof(list));
    assert_int_equal(0, shoal_archive_list_recordings(a->archive, 0, 10, archive_test_collect, &list));
    assert_true(shoal_archive_start_recording(a->archive, "aeron:ipc", 1005) >= 0);
    assert_int_equal(0, shoal_publication_close(raw));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, archive_test_env_teardown)

SHOAL_TEST_MAIN({
    T(test_records_an_ipc_stream),
    T(test_records_a_local_udp_stream_through_a_spy),
    T(test_errors_are_clear),
    T(test_active_recordings_refuse_truncate_and_purge),
    T(test_two_clients_have_their_own_sessions),
    cmocka_unit_test_setup_teardown(test_unanswerable_connects_hold_up_no_one, setup_short_timeout,
        archive_test_env_teardown),
    T(test_malformed_requests_are_dropped_and_counted),
    T(test_replays_keep_the_recordings_positions),
    T(test_replayed_recordings_refuse_truncate_and_purge),
})
