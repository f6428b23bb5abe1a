#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../shoal_test_main.h"
#include "shoal/shoal.h"
#include "util/shoal_loss_report.h"

#define CAPACITY 1024

typedef struct
{
    int count;
    int64_t observations[8], bytes[8], first[8], last[8];
    int32_t session[8], stream[8];
    char channel[8][600], source[8][600];
} seen_t;

static void collect(int64_t observation_count, int64_t total_bytes_lost, int64_t first_ms, int64_t last_ms,
    int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length, const char *source,
    size_t source_length, void *clientd)
{
    seen_t *s = clientd;
    int i = s->count++;
    assert_true(i < 8);
    s->observations[i] = observation_count;
    s->bytes[i] = total_bytes_lost;
    s->first[i] = first_ms;
    s->last[i] = last_ms;
    s->session[i] = session_id;
    s->stream[i] = stream_id;
    memcpy(s->channel[i], channel, channel_length);
    s->channel[i][channel_length] = '\0';
    memcpy(s->source[i], source, source_length);
    s->source[i][source_length] = '\0';
}

static void test_entries_and_observations(void **state)
{
    (void)state;
    uint64_t storage[CAPACITY / 8] = { 0 };
    shoal_loss_report_t r;
    assert_int_equal(shoal_loss_report_init(&r, (uint8_t *)storage, CAPACITY), 0);
    seen_t s = { 0 };
    assert_int_equal(shoal_loss_report_read((uint8_t *)storage, CAPACITY, collect, &s), 0);

    int64_t a = shoal_loss_report_create_entry(&r, 96, 1000, 7, 1001, "aeron:udp?endpoint=h:1", "10.0.0.1:5");
    int64_t b = shoal_loss_report_create_entry(&r, 32, 1500, 8, 1002, "aeron:udp?endpoint=h:2", "10.0.0.2:6");
    assert_int_equal(a, 0);
    assert_int_equal(b % 64, 0); /* entries are cache-line aligned */
    assert_true(b > a);
    shoal_loss_report_record_observation(&r, a, 64, 2000);
    shoal_loss_report_record_observation(&r, a, 32, 2500);

    assert_int_equal(shoal_loss_report_read((uint8_t *)storage, CAPACITY, collect, &s), 2);
    assert_int_equal(s.observations[0], 3);
    assert_int_equal(s.bytes[0], 96 + 64 + 32);
    assert_int_equal(s.first[0], 1000);
    assert_int_equal(s.last[0], 2500);
    assert_int_equal(s.session[0], 7);
    assert_int_equal(s.stream[0], 1001);
    assert_string_equal(s.channel[0], "aeron:udp?endpoint=h:1");
    assert_string_equal(s.source[0], "10.0.0.1:5");
    assert_int_equal(s.observations[1], 1);
    assert_int_equal(s.bytes[1], 32);
    assert_string_equal(s.source[1], "10.0.0.2:6");
    shoal_loss_report_close(&r);
}

static void test_full_report_refuses_and_texts_are_cut(void **state)
{
    (void)state;
    uint64_t storage[CAPACITY / 8] = { 0 };
    shoal_loss_report_t r;
    assert_int_equal(shoal_loss_report_init(&r, (uint8_t *)storage, CAPACITY), 0);
    char long_channel[1000];
    memset(long_channel, 'c', sizeof(long_channel) - 1);
    long_channel[sizeof(long_channel) - 1] = '\0';
    int64_t a = shoal_loss_report_create_entry(&r, 1, 1, 1, 1, long_channel, "s");
    assert_int_equal(a, 0);
    int created = 1;
    while (shoal_loss_report_create_entry(&r, 1, 1, 2, 2, "aeron:udp?endpoint=x:1", "s:1") >= 0)
    {
        created++;
    }
    assert_int_equal(shoal_errcode(), SHOAL_ENOMEM);
    assert_non_null(strstr(shoal_errmsg(), "loss report full"));
    seen_t s = { 0 };
    assert_int_equal(shoal_loss_report_read((uint8_t *)storage, CAPACITY, collect, &s), created);
    assert_int_equal(strlen(s.channel[0]), SHOAL_LOSS_REPORT_MAX_TEXT);
    shoal_loss_report_close(&r);
}

/* A client (every client maps the CnC read-write) scribbles over lengths:
 * the reader stops at the first impossible one and never reads past the end. */
static void test_reader_stops_at_corrupt_lengths(void **state)
{
    (void)state;
    uint64_t storage[CAPACITY / 8] = { 0 };
    uint8_t *buf = (uint8_t *)storage;
    shoal_loss_report_t r;
    assert_int_equal(shoal_loss_report_init(&r, buf, CAPACITY), 0);
    int64_t a = shoal_loss_report_create_entry(&r, 1, 1, 1, 1, "aeron:udp?endpoint=a:1", "s:1");
    int64_t b = shoal_loss_report_create_entry(&r, 1, 1, 1, 1, "aeron:udp?endpoint=b:1", "s:2");
    assert_true(a >= 0 && b > a);
    seen_t s = { 0 };
    int32_t bad_lengths[] = { -1, SHOAL_LOSS_REPORT_MAX_TEXT + 1, INT32_MAX, 2000 };
    for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++)
    {
        memcpy(buf + b + SHOAL_LOSS_REPORT_CHANNEL_OFFSET, &bad_lengths[i], sizeof(int32_t));
        s.count = 0;
        assert_int_equal(shoal_loss_report_read(buf, CAPACITY, collect, &s), 1);
    }
    /* An entry claiming to run past the buffer end. */
    int32_t last_length = 480;
    memcpy(buf + b + SHOAL_LOSS_REPORT_CHANNEL_OFFSET, &last_length, sizeof(int32_t));
    s.count = 0;
    assert_int_equal(shoal_loss_report_read(buf, (size_t)b + 256, collect, &s), 1);
    /* Lengths put back; the writer kept using its own offsets: observations still land in entry a. */
    int32_t original = (int32_t)strlen("aeron:udp?endpoint=b:1");
    memcpy(buf + b + SHOAL_LOSS_REPORT_CHANNEL_OFFSET, &original, sizeof(int32_t));
    shoal_loss_report_record_observation(&r, a, 10, 5);
    s.count = 0;
    assert_int_equal(shoal_loss_report_read(buf, CAPACITY, collect, &s), 2);
    assert_int_equal(s.observations[0], 2);
    assert_int_equal(s.bytes[0], 11);
    shoal_loss_report_close(&r);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    shoal_loss_report_t r;
    assert_int_equal(shoal_loss_report_init(NULL, NULL, 0), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_loss_report_init(&r, NULL, 0), 0);
    assert_int_equal(shoal_loss_report_create_entry(&r, 1, 1, 1, 1, "c", "s"), -1);
    assert_int_equal(shoal_loss_report_read(NULL, 0, collect, NULL), 0);
    shoal_loss_report_close(&r);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_entries_and_observations),
    cmocka_unit_test(test_full_report_refuses_and_texts_are_cut),
    cmocka_unit_test(test_reader_stops_at_corrupt_lengths),
    cmocka_unit_test(test_empty_and_null),
})
