#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../shoal_test_main.h"
#include "util/shoal_counters.h"
#include "util/shoal_error.h"

#define NUM_COUNTERS 8

typedef struct fixture_stct
{
    uint8_t *metadata;
    uint8_t *values;
    size_t metadata_length;
    size_t values_length;
    shoal_counters_manager_t manager;
    shoal_counters_reader_t reader;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->values_length = NUM_COUNTERS * SHOAL_COUNTER_VALUE_LENGTH;
    f->metadata_length = SHOAL_COUNTERS_METADATA_LENGTH_FOR(f->values_length);
    assert_int_equal(f->metadata_length, NUM_COUNTERS * SHOAL_COUNTER_METADATA_LENGTH);
    void *md = NULL;
    void *values = NULL;
    assert_int_equal(posix_memalign(&md, 128, f->metadata_length), 0);
    assert_int_equal(posix_memalign(&values, 128, f->values_length), 0);
    f->metadata = md;
    f->values = values;
    memset(f->metadata, 0, f->metadata_length);
    memset(f->values, 0, f->values_length);
    assert_int_equal(shoal_counters_manager_init(&f->manager, f->metadata, f->metadata_length, f->values,
                         f->values_length, 1000),
        0);
    assert_int_equal(shoal_counters_reader_init(&f->reader, f->metadata, f->metadata_length, f->values,
                         f->values_length),
        0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    shoal_counters_manager_close(&f->manager);
    free(f->metadata);
    free(f->values);
    free(f);
    return 0;
}

static void test_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(shoal_counter_metadata_t), 512);
    assert_int_equal(sizeof(shoal_counter_value_t), 128);
    assert_int_equal(offsetof(shoal_counter_metadata_t, state), 0);
    assert_int_equal(offsetof(shoal_counter_metadata_t, type_id), 4);
    assert_int_equal(offsetof(shoal_counter_metadata_t, free_for_reuse_deadline_ms), 8);
    assert_int_equal(offsetof(shoal_counter_metadata_t, key), 16);
    assert_int_equal(offsetof(shoal_counter_metadata_t, label_length), 128);
    assert_int_equal(offsetof(shoal_counter_metadata_t, label), 132);
    assert_int_equal(SHOAL_SYSTEM_COUNTER_BYTES_SENT, 0);
    assert_int_equal(SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT, 8);
    assert_int_equal(SHOAL_SYSTEM_COUNTER_BACK_PRESSURE_EVENTS, 12);
}

static void test_system_labels(void **state)
{
    (void)state;
    for (int32_t id = 0; id < SHOAL_SYSTEM_COUNTER_COUNT; id++)
    {
        const char *label = shoal_system_counter_label(id);
        assert_non_null(label);
        assert_string_not_equal(label, "Unknown");
    }
    assert_string_equal(shoal_system_counter_label(SHOAL_SYSTEM_COUNTER_BYTES_SENT), "Bytes sent");
    assert_string_equal(shoal_system_counter_label(-1), "Unknown");
    assert_string_equal(shoal_system_counter_label(SHOAL_SYSTEM_COUNTER_COUNT), "Unknown");
}

static void test_allocate_sets_fields(void **state)
{
    fixture_t *f = *state;
    uint8_t key[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    int32_t id0 =
        shoal_counters_manager_allocate(&f->manager, 0, SHOAL_COUNTER_TYPE_SYSTEM, NULL, 0, "Bytes sent", 0, 0);
    int32_t id1 = shoal_counters_manager_allocate(&f->manager, 0, SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT, key, sizeof(key),
        "pub-lmt: 7 1001 aeron:ipc", 42, 99);
    assert_int_equal(id0, 0);
    assert_int_equal(id1, 1);

    shoal_counter_metadata_t *md = shoal_counter_metadata(f->metadata, id1);
    assert_int_equal(md->state, SHOAL_COUNTER_STATE_ALLOCATED);
    assert_int_equal(md->type_id, SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT);
    assert_memory_equal(md->key, key, sizeof(key));
    assert_int_equal(md->key[sizeof(key)], 0);
    assert_int_equal(md->label_length, (int32_t)strlen("pub-lmt: 7 1001 aeron:ipc"));
    assert_memory_equal(md->label, "pub-lmt: 7 1001 aeron:ipc", md->label_length);

    int64_t *addr = shoal_counter_addr(f->values, id1);
    assert_int_equal(*addr, 0);
    shoal_counter_set_release(addr, 1234);
    assert_int_equal(shoal_counters_reader_value(&f->reader, id1), 1234);
    shoal_counter_add_ordered(addr, 6);
    assert_int_equal(shoal_counter_get_acquire(addr), 1240);
    assert_int_equal(shoal_counter_get_and_add(addr, 10), 1240);
    shoal_counter_propose_max_ordered(addr, 5);
    assert_int_equal(*addr, 1250);
    shoal_counter_propose_max_ordered(addr, 2000);
    assert_int_equal(*addr, 2000);
    assert_int_equal(shoal_counters_reader_registration_id(&f->reader, id1), 42);
    assert_int_equal(shoal_counters_reader_owner_id(&f->reader, id1), 99);
    assert_int_equal(shoal_counters_reader_state(&f->reader, id1), SHOAL_COUNTER_STATE_ALLOCATED);
    assert_int_equal(shoal_counters_reader_state(&f->reader, 5), SHOAL_COUNTER_STATE_UNUSED);
    assert_int_equal(shoal_counters_reader_value(&f->reader, 100), 0);
    assert_int_equal(shoal_counters_reader_value(&f->reader, -1), 0);

    /* values of different counters never share a cache line pair */
    assert_int_equal((uint8_t *)shoal_counter_addr(f->values, 1) - (uint8_t *)shoal_counter_addr(f->values, 0), 128);
}

static void test_key_and_label_limits(void **state)
{
    fixture_t *f = *state;
    uint8_t key[SHOAL_COUNTER_MAX_KEY_LENGTH + 1];
    memset(key, 0xab, sizeof(key));
    shoal_err_clear();
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, key, sizeof(key), "x", 1, 1), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    int32_t id = shoal_counters_manager_allocate(&f->manager, 0, 1, key, SHOAL_COUNTER_MAX_KEY_LENGTH, NULL, 1, 1);
    assert_int_equal(id, 0);
    assert_int_equal(shoal_counter_metadata(f->metadata, id)->label_length, 0);

    char label[600];
    memset(label, 'L', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    id = shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, label, 2, 1);
    assert_int_equal(id, 1);
    assert_int_equal(shoal_counter_metadata(f->metadata, id)->label_length, SHOAL_COUNTER_MAX_LABEL_LENGTH);
}

static void test_full(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NUM_COUNTERS; i++)
    {
        assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "c", i, 0), i);
    }
    shoal_err_clear();
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "c", 9, 0), -1);
    assert_int_equal(shoal_errcode(), SHOAL_ENOMEM);
    assert_non_null(strstr(shoal_errmsg(), "counters buffer full (8 counters)"));
}

static void test_free_and_reuse_after_deadline(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NUM_COUNTERS; i++)
    {
        assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "c", 100 + i, 0), i);
    }
    *shoal_counter_addr(f->values, 3) = 77;
    assert_int_equal(shoal_counters_manager_free(&f->manager, 5000, 3), 0);
    assert_int_equal(shoal_counters_reader_state(&f->reader, 3), SHOAL_COUNTER_STATE_RECLAIMED);
    assert_int_equal(shoal_counter_metadata(f->metadata, 3)->free_for_reuse_deadline_ms, 6000);
    assert_int_equal(shoal_counters_reader_find(&f->reader, 1, 103), -1);

    /* freeing twice or freeing junk is an error */
    shoal_err_clear();
    assert_int_equal(shoal_counters_manager_free(&f->manager, 5000, 3), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_counters_manager_free(&f->manager, 5000, NUM_COUNTERS), -1);
    assert_int_equal(shoal_counters_manager_free(&f->manager, 5000, -1), -1);

    /* before the deadline: still full */
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 5999, 1, NULL, 0, "n", 200, 0), -1);
    assert_non_null(strstr(shoal_errmsg(), "counters buffer full"));

    /* at the deadline: id 3 comes back with a zero value */
    int32_t id = shoal_counters_manager_allocate(&f->manager, 6000, 4, NULL, 0, "new", 200, 0);
    assert_int_equal(id, 3);
    assert_int_equal(*shoal_counter_addr(f->values, 3), 0);
    assert_int_equal(shoal_counters_reader_find(&f->reader, 4, 200), 3);
}

static void test_reuse_prefers_expired_then_high_water(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "a", 1, 0), 0);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "b", 2, 0), 1);
    assert_int_equal(shoal_counters_manager_free(&f->manager, 0, 0), 0);
    /* not yet reusable: take a fresh id */
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 10, 1, NULL, 0, "c", 3, 0), 2);
    assert_int_equal(shoal_counters_manager_free(&f->manager, 500, 1), 0);
    /* id 0 expires first */
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 1000, 1, NULL, 0, "d", 4, 0), 0);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 1000, 1, NULL, 0, "e", 5, 0), 3);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 1500, 1, NULL, 0, "f", 6, 0), 1);
    assert_int_equal(f->manager.free_list_count, 0);
}

typedef struct seen_stct
{
    int count;
    int32_t ids[NUM_COUNTERS];
    int64_t values[NUM_COUNTERS];
    char labels[NUM_COUNTERS][32];
} seen_t;

static void on_counter(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length, const char *label,
    size_t label_length, int64_t value, void *clientd)
{
    seen_t *s = clientd;
    (void)type_id;
    assert_non_null(key);
    assert_int_equal(key_length, SHOAL_COUNTER_MAX_KEY_LENGTH);
    s->ids[s->count] = id;
    s->values[s->count] = value;
    memcpy(s->labels[s->count], label, label_length < 31 ? label_length : 31);
    s->count++;
}

static void test_reader_foreach_and_find(void **state)
{
    fixture_t *f = *state;
    seen_t seen;
    memset(&seen, 0, sizeof(seen));
    shoal_counters_reader_foreach(&f->reader, on_counter, &seen);
    assert_int_equal(seen.count, 0);

    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, SHOAL_COUNTER_TYPE_SYSTEM, NULL, 0, "zero", 0, 0),
        0);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT, NULL, 0, "one",
                         11, 0),
        1);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION, NULL, 0,
                         "two", 11, 0),
        2);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, SHOAL_COUNTER_TYPE_CLIENT_HEARTBEAT, NULL, 0,
                         "three", 12, 0),
        3);
    *shoal_counter_addr(f->values, 2) = 222;
    assert_int_equal(shoal_counters_manager_free(&f->manager, 0, 1), 0);

    shoal_counters_reader_foreach(&f->reader, on_counter, &seen);
    assert_int_equal(seen.count, 3);
    assert_int_equal(seen.ids[0], 0);
    assert_int_equal(seen.ids[1], 2);
    assert_int_equal(seen.ids[2], 3);
    assert_int_equal(seen.values[1], 222);
    assert_string_equal(seen.labels[0], "zero");
    assert_string_equal(seen.labels[1], "two");
    assert_string_equal(seen.labels[2], "three");

    assert_int_equal(shoal_counters_reader_find(&f->reader, SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION, 11), 2);
    assert_int_equal(shoal_counters_reader_find(&f->reader, SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT, 11), -1);
    assert_int_equal(shoal_counters_reader_find(&f->reader, SHOAL_COUNTER_TYPE_CLIENT_HEARTBEAT, 12), 3);
    assert_int_equal(shoal_counters_reader_find(&f->reader, SHOAL_COUNTER_TYPE_CLIENT_HEARTBEAT, 13), -1);
}

static void test_reader_rejects_corrupt_label_length(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "x", 1, 0), 0);
    shoal_counter_metadata(f->metadata, 0)->label_length = 100000;
    seen_t seen;
    memset(&seen, 0, sizeof(seen));
    shoal_counters_reader_foreach(&f->reader, on_counter, &seen); /* must stay in bounds (ASan) */
    assert_int_equal(seen.count, 1);
}

static void test_reinit_adopts_existing(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "a", 1, 0), 0);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 0, 1, NULL, 0, "b", 2, 0), 1);
    assert_int_equal(shoal_counters_manager_free(&f->manager, 0, 0), 0);
    shoal_counters_manager_close(&f->manager);
    assert_int_equal(shoal_counters_manager_init(&f->manager, f->metadata, f->metadata_length, f->values,
                         f->values_length, 1000),
        0);
    assert_int_equal(f->manager.high_water_id, 2);
    assert_int_equal(f->manager.free_list_count, 1);
    assert_int_equal(shoal_counters_manager_allocate(&f->manager, 1000, 1, NULL, 0, "c", 3, 0), 0);
}

static void test_init_errors(void **state)
{
    (void)state;
    shoal_counters_manager_t m;
    uint64_t buf[64];
    shoal_err_clear();
    assert_int_equal(shoal_counters_manager_init(&m, (uint8_t *)buf, 100, (uint8_t *)buf, 100, 0), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_counters_manager_init(&m, NULL, 512, (uint8_t *)buf, 128, 0), -1);
    assert_int_equal(shoal_counters_manager_init(&m, (uint8_t *)buf + 1, 512, (uint8_t *)buf, 128, 0), -1);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_layout),
    cmocka_unit_test(test_system_labels),
    T(test_allocate_sets_fields),
    T(test_key_and_label_limits),
    T(test_full),
    T(test_free_and_reuse_after_deadline),
    T(test_reuse_prefers_expired_then_high_water),
    T(test_reader_foreach_and_find),
    T(test_reader_rejects_corrupt_label_length),
    T(test_reinit_adopts_existing),
    cmocka_unit_test(test_init_errors),
})
