/* The context's settings: the defaults every user starts from, the
 * environment overriding them, and each rule refusing what it must with a
 * message that names the setting and the rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "common/shoal_context.h"
#include "shoal/shoal.h"

static void test_defaults(void **state)
{
    (void)state;
    shoal_context_t *ctx = NULL;
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_true(0 == strncmp(ctx->dir, "/dev/shm/shoal-", 15));
    assert_int_equal(10000, ctx->driver_timeout_ms);
    assert_int_equal(10000, ctx->client_liveness_timeout_ms);
    assert_int_equal(15000, ctx->publication_unblock_timeout_ms);
    assert_int_equal(5000, ctx->publication_linger_ms);
    assert_int_equal(500, ctx->keepalive_interval_ms);
    assert_int_equal(64u << 20, ctx->ipc_term_length);
    assert_int_equal(16u << 20, ctx->term_length);
    assert_int_equal(1408, ctx->mtu);
    assert_int_equal(1u << 20, ctx->to_driver_buffer_length);
    assert_int_equal(1u << 20, ctx->to_clients_buffer_length);
    assert_int_equal(1u << 20, ctx->counters_buffer_length);
    assert_int_equal(1u << 20, ctx->error_buffer_length);
    assert_int_equal(1u << 20, ctx->loss_report_buffer_length);
    assert_int_equal(SHOAL_IDLE_BACKOFF, ctx->idle_strategy);
    assert_true(ctx->dir_delete_on_start);
    assert_false(ctx->dir_delete_on_shutdown);
    assert_int_equal(SHOAL_THREADING_SHARED, ctx->threading_mode);
    assert_true(0.0 == ctx->rcv_loss_rate && 0.0 == ctx->send_loss_rate);
    assert_int_equal(0, ctx->loss_seed);
    assert_int_equal(10000, ctx->image_liveness_timeout_ms);
    assert_int_equal(5000, ctx->publication_connection_timeout_ms);
    assert_int_equal(5000, ctx->flow_control_receiver_timeout_ms);
    assert_int_equal(1000, ctx->nak_retry_delay_us);
    assert_int_equal(500, ctx->retransmit_linger_us);
    assert_int_equal(128u << 10, ctx->rcv_window);
    assert_int_equal(2u << 20, ctx->socket_rcvbuf);
    assert_int_equal(2u << 20, ctx->socket_sndbuf);
    assert_int_equal(256, ctx->max_images_per_endpoint);
    assert_int_equal(1024, ctx->max_images);
    assert_int_equal(128u << 20, ctx->max_setup_term_length);
    assert_int_equal(2u << 20, ctx->retransmit_budget);
    assert_int_equal(10000, ctx->retransmit_budget_interval_us);
    assert_string_equal("aeron:ipc", ctx->archive_control_channel);
    assert_int_equal(10, ctx->archive_control_stream_id);
    assert_string_equal("aeron:ipc", ctx->archive_control_response_channel);
    assert_int_equal(20, ctx->archive_control_response_stream_id);
    assert_int_equal(128u << 20, ctx->archive_segment_length);
    assert_int_equal(0, ctx->archive_fsync); /* SHOAL_ARCHIVE_FSYNC_NONE */
    assert_int_equal(10000, ctx->archive_message_timeout_ms);
    assert_int_equal(0, shoal_context_close(ctx));
}

static void test_environment_overrides_defaults(void **state)
{
    (void)state;
    setenv("SHOAL_TERM_LENGTH", "128k", 1);
    setenv("SHOAL_THREADING_MODE", "dedicated", 1);
    setenv("SHOAL_ARCHIVE_CONTROL_CHANNEL", "aeron:udp?endpoint=localhost:8010", 1);
    setenv("SHOAL_ARCHIVE_FSYNC", "data-and-catalog", 1);
    shoal_context_t *ctx = NULL;
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_string_equal("aeron:udp?endpoint=localhost:8010", ctx->archive_control_channel);
    assert_int_equal(2, ctx->archive_fsync); /* SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG */
    unsetenv("SHOAL_ARCHIVE_CONTROL_CHANNEL");
    unsetenv("SHOAL_ARCHIVE_FSYNC");
    assert_int_equal(128u << 10, ctx->term_length);
    assert_int_equal(SHOAL_THREADING_DEDICATED, ctx->threading_mode);
    assert_int_equal(0, shoal_context_close(ctx));
    setenv("SHOAL_MTU", "100", 1);
    assert_int_equal(-1, shoal_context_init(&ctx));
    assert_non_null(strstr(shoal_errmsg(), "environment SHOAL_MTU: setting MTU: 100 must be a multiple of 32"));
    unsetenv("SHOAL_TERM_LENGTH");
    unsetenv("SHOAL_THREADING_MODE");
    unsetenv("SHOAL_MTU");
}

/* key=value refused with a message containing expected */
static void expect_refused(shoal_context_t *ctx, const char *key, const char *value, const char *expected)
{
    assert_int_equal(-1, shoal_context_set(ctx, key, value));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    if (NULL == strstr(shoal_errmsg(), expected))
    {
        fail_msg("%s=%s: '%s' does not say '%s'", key, value, shoal_errmsg(), expected);
    }
}

static void test_rules(void **state)
{
    (void)state;
    shoal_context_t *ctx = NULL;
    assert_int_equal(0, shoal_context_init(&ctx));
    expect_refused(ctx, "NOPE", "1", "unknown setting 'NOPE'");
    expect_refused(ctx, "DRIVER_TIMEOUT_MS", "0", "setting DRIVER_TIMEOUT_MS: 0 ms must be between 1 ms and 24 h");
    expect_refused(ctx, "DRIVER_TIMEOUT_MS", "5x", "'5x' has trailing characters");
    expect_refused(ctx, "TERM_LENGTH", "96k", "setting TERM_LENGTH: 98304 must be a power of two");
    expect_refused(ctx, "IPC_TERM_LENGTH", "32k", "65536 and 1073741824");
    expect_refused(ctx, "MAX_SETUP_TERM_LENGTH", "2g", "65536 and 1073741824");
    expect_refused(ctx, "MTU", "1000", "setting MTU: 1000 must be a multiple of 32 between 64 and 65504");
    expect_refused(ctx, "MTU", "65536", "between 64 and 65504");
    expect_refused(ctx, "COUNTERS_BUFFER_LENGTH", "5000", "power of two between 4096 and 1073741824");
    expect_refused(ctx, "NAK_RETRY_DELAY_US", "0", "us must be between 1 us and 10 s");
    expect_refused(ctx, "RETRANSMIT_BUDGET_INTERVAL_US", "99", "us must be between 100 us and 10 s");
    expect_refused(ctx, "RETRANSMIT_BUDGET", "1k", "bytes must be between 65536 and 1099511627776");
    expect_refused(ctx, "RCV_WINDOW", "1k", "must be between 4096 and 1073741824");
    expect_refused(ctx, "SOCKET_SNDBUF", "2g", "must be at most 1073741824");
    expect_refused(ctx, "MAX_IMAGES", "0", "must be between 1 and 65536");
    expect_refused(ctx, "RCV_LOSS_RATE", "1.5", "not a rate between 0 and 1");
    expect_refused(ctx, "DIR_DELETE_ON_START", "maybe", "not a boolean");
    expect_refused(ctx, "THREADING_MODE", "both", "not shared or dedicated");
    expect_refused(ctx, "IDLE_STRATEGY", "nap", "unknown idle strategy 'nap'");
    expect_refused(ctx, "ARCHIVE_CONTROL_CHANNEL", "ipc",
        "setting ARCHIVE_CONTROL_CHANNEL: 'ipc' is not a channel URI");
    expect_refused(ctx, "ARCHIVE_CONTROL_STREAM_ID", "0", "must be between 1 and 2147483647");
    expect_refused(ctx, "ARCHIVE_SEGMENT_LENGTH", "100k", "must be a power of two");
    expect_refused(ctx, "ARCHIVE_FSYNC", "always", "not none, data or data-and-catalog");
    expect_refused(ctx, "ARCHIVE_MESSAGE_TIMEOUT_MS", "0", "ms must be between 1 ms and 24 h");
    assert_int_equal(0, shoal_context_set(ctx, "ARCHIVE_FSYNC", "data"));
    assert_int_equal(1, ctx->archive_fsync);
    assert_string_equal("aeron:ipc", ctx->archive_control_channel);
    /* a refused value leaves the setting as it was */
    assert_int_equal(1408, ctx->mtu);
    assert_int_equal(0, shoal_context_set(ctx, "SHOAL_SOCKET_RCVBUF", "0"));
    assert_int_equal(0, ctx->socket_rcvbuf);
    assert_int_equal(0, shoal_context_set(ctx, "SOCKET_SNDBUF", "1m"));
    assert_int_equal(1u << 20, ctx->socket_sndbuf);
    assert_int_equal(0, shoal_context_set(ctx, "RETRANSMIT_BUDGET", "1099511627776"));
    assert_int_equal(1ULL << 40, ctx->retransmit_budget);
    assert_int_equal(0, shoal_context_set(ctx, "LOSS_SEED", "18446744073709551615"));
    assert_int_equal(UINT64_MAX, ctx->loss_seed);
    assert_int_equal(0, shoal_context_set(ctx, "MAX_IMAGES_PER_ENDPOINT", "1"));
    assert_int_equal(1, ctx->max_images_per_endpoint);
    assert_int_equal(1024, ctx->max_images);
    assert_int_equal(0, shoal_context_set_driver_timeout_ms(ctx, 24ULL * 3600 * 1000));
    assert_int_equal(-1, shoal_context_set_driver_timeout_ms(ctx, 0));
    assert_int_equal(24ULL * 3600 * 1000, ctx->driver_timeout_ms);
    assert_int_equal(0, shoal_context_close(ctx));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_environment_overrides_defaults),
    cmocka_unit_test(test_rules),
})
