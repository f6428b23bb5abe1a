/* The archive control protocol's codec: every message type round-trips, and
 * malformed input (truncated, padded, wrong version, unknown type, bad string
 * lengths) is refused without reading outside the buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "archive/shoal_archive_codec.h"
#include "shoal/shoal.h"

static const shoal_archive_msg_t SAMPLES[] = {
    { .type = SHOAL_ARCHIVE_CONNECT, .correlation_id = 7, .stream_id = 20, .text = "aeron:ipc", .text_length = -1 },
    { .type = SHOAL_ARCHIVE_CLOSE_SESSION, .control_session_id = 3, .correlation_id = 8 },
    { .type = SHOAL_ARCHIVE_START_RECORDING,
        .control_session_id = 3,
        .correlation_id = 9,
        .stream_id = 1001,
        .count = 1,
        .text = "aeron:udp?endpoint=127.0.0.1:4000",
        .text_length = -1 },
    { .type = SHOAL_ARCHIVE_STOP_RECORDING, .control_session_id = 3, .correlation_id = 10, .id = 55 },
    { .type = SHOAL_ARCHIVE_LIST_RECORDINGS, .control_session_id = 3, .correlation_id = 11, .id = 2, .count = 10 },
    { .type = SHOAL_ARCHIVE_RECORDING_POSITION, .control_session_id = 3, .correlation_id = 12, .id = 4 },
    { .type = SHOAL_ARCHIVE_REPLAY,
        .control_session_id = 3,
        .correlation_id = 13,
        .id = 4,
        .position = 4096,
        .length = -1,
        .stream_id = 77,
        .text = "aeron:ipc",
        .text_length = -1 },
    { .type = SHOAL_ARCHIVE_STOP_REPLAY, .control_session_id = 3, .correlation_id = 14, .id = 1LL << 40 },
    { .type = SHOAL_ARCHIVE_TRUNCATE, .control_session_id = 3, .correlation_id = 15, .id = 4, .position = 1024 },
    { .type = SHOAL_ARCHIVE_PURGE, .control_session_id = 3, .correlation_id = 16, .id = 4 },
    { .type = SHOAL_ARCHIVE_RESPONSE,
        .control_session_id = 3,
        .correlation_id = 17,
        .code = SHOAL_EINVAL,
        .value = -1,
        .text = "no recording 4",
        .text_length = -1 },
    { .type = SHOAL_ARCHIVE_DESCRIPTOR,
        .control_session_id = 3,
        .correlation_id = 18,
        .id = 4,
        .start_position = 0,
        .stop_position = -1,
        .start_timestamp_ns = 123,
        .stop_timestamp_ns = -1,
        .initial_term_id = -5,
        .term_length = 65536,
        .mtu = 1408,
        .segment_length = 1 << 27,
        .session_id = -99,
        .stream_id = 1001,
        .text = "aeron:ipc",
        .text_length = -1,
        .source = "aeron:ipc",
        .source_length = -1 },
};
#define SAMPLE_COUNT (sizeof(SAMPLES) / sizeof(SAMPLES[0]))

static void assert_same_string(const char *expected, const char *got, int32_t got_length)
{
    if (NULL == expected)
    {
        assert_int_equal(0, got_length);
        return;
    }
    assert_int_equal((int32_t)strlen(expected), got_length);
    assert_memory_equal(expected, got, (size_t)got_length);
}

static void test_every_type_round_trips(void **state)
{
    (void)state;
    uint8_t buf[SHOAL_ARCHIVE_MESSAGE_MAX];
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
    {
        const shoal_archive_msg_t *in = &SAMPLES[i];
        int length = shoal_archive_encode(in, buf, sizeof(buf));
        assert_true(length >= SHOAL_ARCHIVE_HEADER_LENGTH);
        shoal_archive_msg_t out;
        assert_int_equal(0, shoal_archive_decode(buf, (size_t)length, &out));
        assert_int_equal(in->type, out.type);
        assert_int_equal(in->control_session_id, out.control_session_id);
        assert_int_equal(in->correlation_id, out.correlation_id);
        assert_int_equal(in->id, out.id);
        assert_int_equal(in->position, out.position);
        assert_int_equal(in->length, out.length);
        assert_int_equal(in->value, out.value);
        assert_int_equal(in->stream_id, out.stream_id);
        assert_int_equal(in->count, out.count);
        assert_int_equal(in->code, out.code);
        assert_int_equal(in->start_position, out.start_position);
        assert_int_equal(in->stop_position, out.stop_position);
        assert_int_equal(in->start_timestamp_ns, out.start_timestamp_ns);
        assert_int_equal(in->stop_timestamp_ns, out.stop_timestamp_ns);
        assert_int_equal(in->initial_term_id, out.initial_term_id);
        assert_int_equal(in->term_length, out.term_length);
        assert_int_equal(in->mtu, out.mtu);
        assert_int_equal(in->segment_length, out.segment_length);
        assert_int_equal(in->session_id, out.session_id);
        assert_same_string(in->text, out.text, out.text_length);
        assert_same_string(in->source, out.source, out.source_length);
        assert_string_not_equal("UNKNOWN", shoal_archive_msg_type_name(in->type));
    }
}

/* Every proper prefix of every message, and every message with a byte more,
 * is refused; copies on the heap so ASan catches any read past the end. */
static void test_truncated_and_padded_messages_are_refused(void **state)
{
    (void)state;
    uint8_t buf[SHOAL_ARCHIVE_MESSAGE_MAX];
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
    {
        int length = shoal_archive_encode(&SAMPLES[i], buf, sizeof(buf));
        for (int n = 0; n < length; n++)
        {
            uint8_t *copy = malloc((size_t)n + 1);
            memcpy(copy, buf, (size_t)n);
            shoal_archive_msg_t out;
            assert_int_equal(-1, shoal_archive_decode(copy, (size_t)n, &out));
            assert_int_equal(SHOAL_EINVAL, shoal_errcode());
            free(copy);
        }
        buf[length] = 0;
        shoal_archive_msg_t out;
        assert_int_equal(-1, shoal_archive_decode(buf, (size_t)length + 1, &out));
    }
}

static void test_bad_headers_and_strings_are_refused(void **state)
{
    (void)state;
    uint8_t buf[SHOAL_ARCHIVE_MESSAGE_MAX];
    shoal_archive_msg_t out;
    int length = shoal_archive_encode(&SAMPLES[2], buf, sizeof(buf));

    buf[0] = 2; /* version */
    assert_int_equal(-1, shoal_archive_decode(buf, (size_t)length, &out));
    assert_non_null(strstr(shoal_errmsg(), "version"));
    buf[0] = SHOAL_ARCHIVE_PROTOCOL_VERSION;

    uint16_t type = 77;
    memcpy(buf + 2, &type, sizeof(type));
    assert_int_equal(-1, shoal_archive_decode(buf, (size_t)length, &out));
    assert_non_null(strstr(shoal_errmsg(), "unknown type"));
    type = SHOAL_ARCHIVE_START_RECORDING;
    memcpy(buf + 2, &type, sizeof(type));

    /* String length negative, then past the end. The string of
     * START_RECORDING follows the 24-byte header and two i32. */
    int32_t bad = -1;
    memcpy(buf + 32, &bad, sizeof(bad));
    assert_int_equal(-1, shoal_archive_decode(buf, (size_t)length, &out));
    bad = 1 << 30;
    memcpy(buf + 32, &bad, sizeof(bad));
    assert_int_equal(-1, shoal_archive_decode(buf, (size_t)length, &out));

    /* A length field that disagrees with the bytes received. */
    length = shoal_archive_encode(&SAMPLES[3], buf, sizeof(buf));
    int32_t declared = length + 8;
    memcpy(buf + 4, &declared, sizeof(declared));
    assert_int_equal(-1, shoal_archive_decode(buf, (size_t)length, &out));

    assert_int_equal(-1, shoal_archive_decode(NULL, 10, &out));
    assert_int_equal(-1, shoal_archive_decode(buf, 10, NULL));
}

static void test_encoder_refuses_what_does_not_fit(void **state)
{
    (void)state;
    uint8_t buf[SHOAL_ARCHIVE_MESSAGE_MAX];
    assert_int_equal(-1, shoal_archive_encode(&SAMPLES[2], buf, 30));
    char *long_channel = malloc(SHOAL_ARCHIVE_STRING_MAX + 1);
    memset(long_channel, 'a', SHOAL_ARCHIVE_STRING_MAX);
    long_channel[SHOAL_ARCHIVE_STRING_MAX] = '\0';
    shoal_archive_msg_t msg = SAMPLES[2];
    msg.text = long_channel;
    assert_int_equal(-1, shoal_archive_encode(&msg, buf, sizeof(buf)));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    free(long_channel);
    msg = SAMPLES[0];
    msg.type = 0;
    assert_int_equal(-1, shoal_archive_encode(&msg, buf, sizeof(buf)));
    assert_string_equal("UNKNOWN", shoal_archive_msg_type_name(0));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_every_type_round_trips),
    cmocka_unit_test(test_truncated_and_padded_messages_are_refused),
    cmocka_unit_test(test_bad_headers_and_strings_are_refused),
    cmocka_unit_test(test_encoder_refuses_what_does_not_fit),
})
