#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shoal_test_main.h"
#include "util/shoal_error.h"
#include "util/shoal_error_log.h"

#define CAPACITY 1024

typedef struct fixture_stct
{
    uint64_t storage[CAPACITY / 8];
    uint8_t *buffer;
    shoal_error_log_t log;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->buffer = (uint8_t *)f->storage;
    assert_int_equal(shoal_error_log_init(&f->log, f->buffer, CAPACITY), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    shoal_error_log_close(&f->log);
    free(f);
    return 0;
}

typedef struct entry_stct
{
    int32_t count;
    int64_t first_ms;
    int64_t last_ms;
    int32_t code;
    char text[256];
} entry_t;

typedef struct entries_stct
{
    size_t n;
    entry_t e[32];
} entries_t;

static void on_error(int32_t observation_count, int64_t first_ms, int64_t last_ms, int32_t error_code, const char *text,
    size_t text_length, void *clientd)
{
    entries_t *es = clientd;
    entry_t *e = &es->e[es->n++];
    e->count = observation_count;
    e->first_ms = first_ms;
    e->last_ms = last_ms;
    e->code = error_code;
    assert_true(text_length < sizeof(e->text));
    memcpy(e->text, text, text_length);
    e->text[text_length] = '\0';
}

/* Records (code, text) at now_ms; it must go in. */
static void record(fixture_t *f, int64_t now_ms, int32_t code, const char *text)
{
    assert_int_equal(shoal_error_log_record(&f->log, now_ms, code, text), 0);
}

/* A record to make: its time, code and text. */
typedef struct
{
    int64_t ms;
    int32_t code;
    const char *text;
} record_t;

/* Records each of n in turn; each must go in. */
static void record_all(fixture_t *f, const record_t *records, size_t n)
{
    for (size_t i = 0; i < n; i++)
    {
        record(f, records[i].ms, records[i].code, records[i].text);
    }
}

/* An entry read back: its text, code, how many times it was seen, and when
 * first and last. */
static void assert_entry(const entry_t *e, const char *text, int32_t code, int32_t count, int64_t first_ms,
    int64_t last_ms)
{
    assert_string_equal(text, e->text);
    assert_int_equal(code, e->code);
    assert_int_equal(count, e->count);
    assert_int_equal(first_ms, e->first_ms);
    assert_int_equal(last_ms, e->last_ms);
}

/* Reads the records seen at or after since_ms into es; how many there were. */
static size_t read_entries(fixture_t *f, int64_t since_ms, entries_t *es)
{
    memset(es, 0, sizeof(*es));
    return shoal_error_log_read(f->buffer, CAPACITY, on_error, es, since_ms);
}

static void test_layout(void **state)
{
    fixture_t *f = *state;
    record(f, 100, 7, "abc");
    int32_t length, count, code;
    int64_t last, first;
    memcpy(&length, f->buffer + 0, 4);
    memcpy(&count, f->buffer + 4, 4);
    memcpy(&last, f->buffer + 8, 8);
    memcpy(&first, f->buffer + 16, 8);
    memcpy(&code, f->buffer + 24, 4);
    assert_int_equal(length, 28 + 3);
    assert_int_equal(count, 1);
    assert_int_equal(last, 100);
    assert_int_equal(first, 100);
    assert_int_equal(code, 7);
    assert_memory_equal(f->buffer + 28, "abc", 3);
    assert_int_equal(f->log.next_offset, 32); /* 31 aligned to 8 */
}

static void test_distinct_records_and_counts(void **state)
{
    fixture_t *f = *state;
    static const record_t records[] = {
        { 10, 1, "client timed out" },
        { 20, 2, "bad command" },
        { 30, 1, "client timed out" },
        { 40, 1, "client timed out" },
        { 50, 3, "bad command" },  /* same text, other code: distinct */
        { 60, 1, "client timed" }, /* prefix of an existing text: distinct */
        { 70, 4, NULL },
        { 80, 4, "" },
    };
    record_all(f, records, sizeof(records) / sizeof(records[0]));

    entries_t es;
    assert_int_equal(read_entries(f, 0, &es), 5);
    assert_int_equal(es.n, 5);
    assert_entry(&es.e[0], "client timed out", 1, 3, 10, 40);
    assert_entry(&es.e[1], "bad command", 2, 1, 20, 20);
    assert_entry(&es.e[2], "bad command", 3, 1, 50, 50);
    assert_entry(&es.e[3], "client timed", 1, 1, 60, 60);
    assert_entry(&es.e[4], "", 4, 2, 70, 80);
}

static void test_read_since(void **state)
{
    fixture_t *f = *state;
    static const record_t records[] = { { 10, 1, "old" }, { 20, 1, "middle" }, { 30, 1, "new" }, { 35, 1, "old" } };
    record_all(f, records, sizeof(records) / sizeof(records[0]));

    entries_t es;
    assert_int_equal(read_entries(f, 25, &es), 2);
    assert_entry(&es.e[0], "old", 1, 2, 10, 35);
    assert_entry(&es.e[1], "new", 1, 1, 30, 30);
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 36), 0);
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 3);
}

static void test_full_buffer(void **state)
{
    fixture_t *f = *state;
    char text[100];
    int recorded = 0;
    int rc = 0;
    for (int i = 0; i < 100; i++)
    {
        snprintf(text, sizeof(text), "error number %03d with some padding to make it longer...", i);
        shoal_err_clear();
        rc = shoal_error_log_record(&f->log, i, 1, text);
        if (rc < 0)
        {
            break;
        }
        recorded++;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(shoal_errcode(), SHOAL_ENOMEM);
    assert_non_null(strstr(shoal_errmsg(), "error log full"));
    assert_true(recorded > 5);
    assert_true(f->log.next_offset <= CAPACITY);

    /* an existing text still counts when full */
    snprintf(text, sizeof(text), "error number %03d with some padding to make it longer...", 0);
    record(f, 1000, 1, text);

    entries_t es;
    assert_int_equal(read_entries(f, 0, &es), (size_t)recorded);
    assert_int_equal(es.e[0].count, 2);
    assert_int_equal(es.e[0].last_ms, 1000);

    /* a text larger than the whole buffer is refused cleanly */
    char *huge = malloc(4096);
    memset(huge, 'x', 4095);
    huge[4095] = '\0';
    assert_int_equal(shoal_error_log_record(&f->log, 1, 1, huge), -1);
    free(huge);
}

static void test_exact_fit_to_end(void **state)
{
    (void)state;
    uint64_t storage[8]; /* 64 bytes */
    shoal_error_log_t log;
    memset(storage, 0, sizeof(storage));
    assert_int_equal(shoal_error_log_init(&log, (uint8_t *)storage, sizeof(storage)), 0);
    assert_int_equal(shoal_error_log_record(&log, 1, 1, "0123"), 0); /* 32 bytes */
    assert_int_equal(shoal_error_log_record(&log, 1, 2, "4567"), 0); /* 32 bytes, exactly full */
    assert_int_equal(shoal_error_log_record(&log, 1, 3, "x"), -1);
    assert_int_equal(shoal_error_log_read((uint8_t *)storage, sizeof(storage), NULL, NULL, 0), 2);
    shoal_error_log_close(&log);
}

static void test_reinit_keeps_records(void **state)
{
    fixture_t *f = *state;
    record(f, 1, 1, "first");
    record(f, 2, 1, "second");
    size_t offset = f->log.next_offset;
    shoal_error_log_close(&f->log);
    assert_int_equal(shoal_error_log_init(&f->log, f->buffer, CAPACITY), 0);
    assert_int_equal(f->log.next_offset, offset);
    record(f, 3, 1, "first");
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 2);
}

static void test_reader_tolerates_corruption(void **state)
{
    fixture_t *f = *state;
    record(f, 1, 1, "ok");
    /* a length that runs past the end must stop the reader, not overrun */
    int32_t bad = 1 << 30;
    memcpy(f->buffer + f->log.next_offset, &bad, 4);
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 1);
    /* a capacity smaller than a header reads nothing */
    assert_int_equal(shoal_error_log_read(f->buffer, 10, NULL, NULL, 0), 0);
    assert_int_equal(shoal_error_log_read(NULL, 10, NULL, NULL, 0), 0);
}

/* Clients can write the log (it is in cnc.dat): a reader stops at the first
 * length that is not sane instead of standing still or leaving the buffer. */
static void test_reader_stops_at_impossible_lengths(void **state)
{
    fixture_t *f = *state;
    record(f, 1, 1, "first");
    record(f, 2, 1, "second");
    int32_t *second = (int32_t *)(void *)(f->buffer + 40); /* "first": 28 + 5 bytes, 8-aligned */
    const int32_t bad[] = { 0, -1, -28, 4, 27, INT32_MAX, CAPACITY + 1 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        int32_t *first = (int32_t *)(void *)f->buffer;
        int32_t good = *first;
        *first = bad[i];
        assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 0);
        *first = good;
        good = *second;
        *second = bad[i];
        assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 1);
        *second = good;
    }
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 2);
}

/* The writer walks by its own copy of the lengths: an overwritten length
 * (0 used to make the search for a repeat loop forever) is put back and
 * counted, and repeats are still found. */
static void test_writer_repairs_overwritten_lengths(void **state)
{
    fixture_t *f = *state;
    record(f, 1, 1, "first");
    record(f, 2, 2, "second");
    record(f, 3, 3, "third");
    const size_t used = f->log.next_offset;
    int32_t *second = (int32_t *)(void *)(f->buffer + 40);
    const int32_t good = *second;
    const int32_t bad[] = { 0, -1, INT32_MAX, 4, good + 8, good - 8 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        *second = bad[i];
        record(f, 10 + (int64_t)i, 3, "third");
        assert_int_equal(good, *second);
        assert_int_equal(i + 1, f->log.repaired_count);
        assert_int_equal(used, f->log.next_offset);
    }
    entries_t es;
    assert_int_equal(read_entries(f, 0, &es), 3);
    assert_string_equal(es.e[2].text, "third");
    assert_int_equal(es.e[2].count, 1 + (int32_t)(sizeof(bad) / sizeof(bad[0])));
    /* A new record still goes after the last one. */
    record(f, 20, 4, "fourth");
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, NULL, NULL, 0), 4);
}

typedef struct thread_arg_stct
{
    shoal_error_log_t *log;
    int id;
} thread_arg_t;

static void *record_many(void *arg)
{
    thread_arg_t *a = arg;
    char text[32];
    for (int i = 0; i < 2000; i++)
    {
        snprintf(text, sizeof(text), "err %d", i % 4 + (a->id % 2) * 10);
        shoal_error_log_record(a->log, i, 1, text);
    }
    return NULL;
}

static void count_total(int32_t observation_count, int64_t first_ms, int64_t last_ms, int32_t error_code,
    const char *text, size_t text_length, void *clientd)
{
    (void)first_ms;
    (void)last_ms;
    (void)error_code;
    (void)text;
    (void)text_length;
    *(int64_t *)clientd += observation_count;
}

static void test_concurrent_writers(void **state)
{
    fixture_t *f = *state;
    pthread_t threads[4];
    thread_arg_t args[4];
    for (int t = 0; t < 4; t++)
    {
        args[t].log = &f->log;
        args[t].id = t;
        assert_int_equal(pthread_create(&threads[t], NULL, record_many, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++)
    {
        pthread_join(threads[t], NULL);
    }
    int64_t total = 0;
    assert_int_equal(shoal_error_log_read(f->buffer, CAPACITY, count_total, &total, 0), 8);
    assert_int_equal(total, 4 * 2000);
}

static void test_init_errors(void **state)
{
    (void)state;
    shoal_error_log_t log;
    uint64_t storage[8];
    shoal_err_clear();
    assert_int_equal(shoal_error_log_init(&log, NULL, 64), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_error_log_init(&log, (uint8_t *)storage + 4, 32), -1);
    assert_int_equal(shoal_error_log_init(&log, (uint8_t *)storage, 8), -1);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_layout),
    T(test_distinct_records_and_counts),
    T(test_read_since),
    T(test_full_buffer),
    cmocka_unit_test(test_exact_fit_to_end),
    T(test_reinit_keeps_records),
    T(test_reader_tolerates_corruption),
    T(test_reader_stops_at_impossible_lengths),
    T(test_writer_repairs_overwritten_lengths),
    T(test_concurrent_writers),
    cmocka_unit_test(test_init_errors),
})
