/*
 * The driver's side of an IPC stream moves the publisher limit in steps of
 * a quarter of the window (and cleans the log then), reported as work, which
 * keeps the conductor from idling; a publisher past half its window gets
 * every step the subscriber takes, but that is not reported as work. A
 * conductor that reported work at every step a subscriber took never idled,
 * and on a 2-core machine took a core from the publisher or the subscriber.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shoal_test_main.h"
#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "transport/ipc/shoal_ipc_publication.h"
#include "util/shoal_counters.h"
#include "util/shoal_fs.h"

#define TERM_LENGTH  (64 * 1024)
#define WINDOW       (TERM_LENGTH / 2)
#define TRIP_GAIN    (WINDOW / SHOAL_IPC_PUB_TRIP_GAIN_DIVISOR)
#define NUM_COUNTERS 8

typedef struct fixture_stct
{
    char dir[64];
    uint8_t *metadata;
    uint8_t *values;
    shoal_counters_manager_t counters;
    shoal_ipc_publication_t *pub;
    int32_t sub_counter_id;
    int64_t *sub_position;
    int64_t unblocked;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/dev/shm/shoal-test-limit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    size_t values_length = NUM_COUNTERS * SHOAL_COUNTER_VALUE_LENGTH;
    size_t metadata_length = SHOAL_COUNTERS_METADATA_LENGTH_FOR(values_length);
    void *md = NULL;
    void *values = NULL;
    assert_int_equal(posix_memalign(&md, 128, metadata_length), 0);
    assert_int_equal(posix_memalign(&values, 128, values_length), 0);
    memset(md, 0, metadata_length);
    memset(values, 0, values_length);
    f->metadata = md;
    f->values = values;
    assert_int_equal(shoal_counters_manager_init(&f->counters, f->metadata, metadata_length, f->values, values_length,
                         0),
        0);
    shoal_ipc_publication_params_t params = {
        .resource = {
            .media = SHOAL_MEDIA_IPC,
            .log = { .registration_id = 7, .session_id = 11, .stream_id = 1001, .initial_term_id = 0,
                .term_length = TERM_LENGTH, .mtu = 1408 },
            .exclusive = true,
            .channel = "aeron:ipc",
        },
    };
    assert_int_equal(shoal_ipc_publication_create(&f->pub, f->dir, &params, &f->counters, 0), 0);
    f->sub_counter_id = shoal_counters_manager_allocate(&f->counters, 0, 4, NULL, 0, "sub-pos", 8, 0);
    assert_true(f->sub_counter_id >= 0);
    f->sub_position = shoal_counter_addr(f->values, f->sub_counter_id);
    assert_int_equal(shoal_ipc_publication_add_subscriber(f->pub, 8, 9, f->sub_counter_id, f->sub_position, NULL, 0),
        0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    shoal_ipc_publication_delete(f->pub, &f->counters, 0);
    shoal_counters_manager_close(&f->counters);
    shoal_fs_delete_dir(f->dir);
    free(f->metadata);
    free(f->values);
    free(f);
    return 0;
}

static int tick(fixture_t *f)
{
    return shoal_ipc_publication_on_tick(f->pub, 0, 15000, 5000, &f->unblocked);
}

static int64_t limit(const fixture_t *f)
{
    return shoal_load_acquire(f->pub->resource.pub_limit);
}

/* Publishes up to position by moving the tail (rotating terms), as an
 * exclusive publisher's offers would. */
static void produce_to(fixture_t *f, int64_t position)
{
    shoal_logbuffer_metadata_t *m = f->pub->log.meta;
    int32_t term_count = (int32_t)(position / TERM_LENGTH);
    int32_t active;
    while ((active = shoal_load_acquire(&m->active_term_count)) < term_count)
    {
        assert_true(shoal_logbuffer_rotate_log(m, active, active));
    }
    shoal_store_release(&m->term_tail_counters[shoal_logbuffer_index_by_term_count(term_count)],
        shoal_logbuffer_pack_tail(term_count, (int32_t)(position % TERM_LENGTH)));
}

/* The subscriber moves to position and the conductor ticks; the limit is
 * then a window ahead of the subscriber. Returns the tick's work count. */
static int subscriber_moves_to(fixture_t *f, int64_t position)
{
    shoal_store_release(f->sub_position, position);
    const int work = tick(f);
    assert_int_equal(limit(f), position + WINDOW);
    return work;
}

static void test_first_tick_opens_the_window(void **state)
{
    fixture_t *f = *state;
    assert_true(tick(f) > 0);
    assert_int_equal(limit(f), WINDOW);
    assert_int_equal(shoal_load_acquire(&f->pub->log.meta->is_connected), 1);
}

static void test_small_steps_of_a_keeping_up_subscriber_are_not_work(void **state)
{
    fixture_t *f = *state;
    assert_true(tick(f) > 0);
    /* The subscriber keeps up with the publisher, 64 bytes at a time: the
     * publisher is never near its limit, so nothing needs the conductor
     * until the limit can move by a whole trip gain. */
    for (int32_t position = 64; position < TRIP_GAIN; position += 64)
    {
        produce_to(f, position);
        shoal_store_release(f->sub_position, (int64_t)position);
        assert_int_equal(tick(f), 0);
        assert_int_equal(limit(f), WINDOW);
    }
    produce_to(f, TRIP_GAIN + 64);
    assert_true(subscriber_moves_to(f, (int64_t)TRIP_GAIN + 64) > 0);
}

static void test_a_publisher_past_half_its_window_gets_every_step_without_work(void **state)
{
    fixture_t *f = *state;
    assert_true(tick(f) > 0);
    /* The subscriber fell behind: the publisher is past half its window. */
    produce_to(f, WINDOW - 64);
    assert_int_equal(tick(f), 0); /* the subscriber did not move: nothing to do */
    assert_int_equal(subscriber_moves_to(f, 64), 0);
    assert_int_equal(subscriber_moves_to(f, 128), 0);
    /* A whole trip gain on: a trip, which is work (the limit moves). */
    assert_true(subscriber_moves_to(f, (int64_t)TRIP_GAIN + 64) > 0);
}

static void test_the_limit_never_lets_the_publisher_lap_the_subscriber(void **state)
{
    fixture_t *f = *state;
    assert_true(tick(f) > 0);
    int64_t sub = 0;
    /* Walk a whole log length and more, in odd steps: at every tick the
     * limit stays within the window of the subscriber, so no position below
     * it reuses a slot the subscriber has not read (the log is not cleaned:
     * a lap would overwrite unread frames). */
    for (int i = 0; i < 2000; i++)
    {
        int64_t lim = limit(f);
        int64_t producer = lim; /* the publisher runs to its limit */
        produce_to(f, producer);
        sub += 64 * (1 + i % 37);
        if (sub > producer)
        {
            sub = producer;
        }
        shoal_store_release(f->sub_position, sub);
        tick(f);
        assert_true(limit(f) <= sub + WINDOW);
        assert_true(limit(f) >= lim);
        /* the slot of every position below the limit was last used three
         * terms before it: the subscriber must be past that */
        assert_true(limit(f) - 3 * TERM_LENGTH <= sub);
    }
    assert_true(sub > 3 * TERM_LENGTH);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_first_tick_opens_the_window, setup, teardown),
    cmocka_unit_test_setup_teardown(test_small_steps_of_a_keeping_up_subscriber_are_not_work, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_publisher_past_half_its_window_gets_every_step_without_work, setup,
        teardown),
    cmocka_unit_test_setup_teardown(test_the_limit_never_lets_the_publisher_lap_the_subscriber, setup, teardown),
})
