/* The loss report under traffic: the driver in dedicated threading mode
 * (its receiver thread writes the report on each new gap) with 10% injected
 * receive loss, while this thread reads the report and the counters through
 * the public API (shoal_cnc_*) as fast as it can. Every message arrives; the
 * report ends with one entry for the stream whose figures only grew while it
 * was read. Labelled "concurrency": the TSan build runs it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "udp_test_util.h"

#define MESSAGES 20000

typedef struct
{
    int entries;
    int64_t observations, bytes, first_ms, last_ms;
    int32_t stream;
    char channel[600], source[600];
} loss_view_t;

static void on_loss(void *clientd, int64_t observations, int64_t bytes, int64_t first_ms, int64_t last_ms,
    int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length, const char *source,
    size_t source_length)
{
    (void)session_id;
    loss_view_t *v = clientd;
    v->entries++;
    v->observations = observations;
    v->bytes = bytes;
    v->first_ms = first_ms;
    v->last_ms = last_ms;
    v->stream = stream_id;
    snprintf(v->channel, sizeof(v->channel), "%.*s", (int)channel_length, channel);
    snprintf(v->source, sizeof(v->source), "%.*s", (int)source_length, source);
}

static void on_counter(void *clientd, int32_t id, int32_t type_id, const char *label, size_t label_length,
    int64_t value)
{
    (void)id, (void)type_id, (void)label, (void)label_length, (void)value;
    (*(long *)clientd)++;
}

static void count_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf, (void)len, (void)hdr;
    (*(long *)clientd)++;
}

static void test_report_read_while_the_receiver_writes(void **state)
{
    (void)state;
    static const char *const settings[] = { "THREADING_MODE", "dedicated", "RCV_LOSS_RATE", "0.1", "LOSS_SEED", "5",
        NULL };
    shoal_test_env_t env;
    assert_int_equal(udp_test_env_start(&env, "loss-report", settings), 0);
    char uri[128];
    snprintf(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", udp_test_free_port());
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(shoal_add_subscription(env.client, uri, 41, &sub), 0);
    assert_int_equal(shoal_add_publication(env.client, uri, 41, &pub), 0);
    assert_int_equal(shoal_test_wait_connected(pub), 0);
    shoal_cnc_t *cnc;
    assert_int_equal(shoal_cnc_open(&cnc, env.dir), 0);

    uint8_t payload[200] = { 0 };
    long sent = 0, received = 0, counters = 0, reads = 0, shrank = 0;
    loss_view_t last = { 0 };
    int64_t deadline = shoal_test_now_ms() + 240000;
    while (received < MESSAGES && shoal_test_now_ms() < deadline)
    {
        if (sent < MESSAGES && shoal_publication_offer(pub, payload, sizeof(payload)) > 0)
        {
            sent++;
        }
        shoal_subscription_poll(sub, count_message, &received, 64);
        loss_view_t v = { 0 };
        assert_true(shoal_cnc_loss_foreach(cnc, on_loss, &v) >= 0);
        assert_true(shoal_cnc_counters_foreach(cnc, on_counter, &counters) > 0);
        assert_true(v.entries <= 1);
        shrank += v.entries && (v.observations < last.observations || v.bytes < last.bytes);
        if (v.entries)
        {
            last = v;
        }
        reads++;
    }
    printf("messages %ld of %d; %ld reads of the report while it was written: %lld gaps, %lld bytes\n", received,
        MESSAGES, reads, (long long)last.observations, (long long)last.bytes);
    assert_int_equal(received, MESSAGES);
    assert_int_equal(shrank, 0);
    assert_int_equal(last.entries, 1);
    assert_int_equal(last.stream, 41);
    assert_true(last.observations >= 1 && last.bytes >= 32 * last.observations);
    assert_true(last.first_ms > 0 && last.first_ms <= last.last_ms);
    assert_string_equal(last.channel, uri);
    assert_non_null(strstr(last.source, "127.0.0.1:"));

    shoal_cnc_close(cnc);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    shoal_test_env_stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_report_read_while_the_receiver_writes),
})
