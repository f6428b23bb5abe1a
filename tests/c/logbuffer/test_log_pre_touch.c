/* shoal_log_buffer_pre_touch: it goes through a client's mapping of a log
 * page by page, reading or writing, and leaves every byte as it was; a sparse
 * log stays sparse; slices end where they say. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "logbuffer/shoal_log_buffer.h"
#include "shoal/shoal.h"

#define TERM_LENGTH (64 * 1024)

typedef struct
{
    char dir[128];
    char path[256];
    shoal_log_buffer_t created; /* the driver's side */
    shoal_log_buffer_t mapped;  /* a client's */
} fixture_t;

static int make_log(void **state, bool sparse)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/dev/shm/shoal-pretouch-%d", (int)getpid());
    shoal_log_buffer_params_t params = { .registration_id = 7,
        .term_length = TERM_LENGTH,
        .mtu = 1408,
        .initial_term_id = 3,
        .sparse = sparse };
    if (shoal_log_buffer_create(&f->created, f->path, sizeof(f->path), f->dir, &params) < 0 ||
        shoal_log_buffer_map(&f->mapped, f->path) < 0)
    {
        fprintf(stderr, "log: %s\n", shoal_errmsg());
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return make_log(state, false);
}

static int setup_sparse(void **state)
{
    return make_log(state, true);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    shoal_log_buffer_unmap(&f->mapped);
    shoal_log_buffer_delete(&f->created, f->path);
    char publications[160];
    snprintf(publications, sizeof(publications), "%s/publications", f->dir);
    rmdir(publications);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Every page's first bytes (what a touch goes through) and a few others,
 * made non-zero through the driver's mapping. */
static void fill(uint8_t *base, size_t length, uint8_t seed)
{
    for (size_t i = 0; i < length; i += 61)
    {
        base[i] = (uint8_t)(seed + i);
    }
    for (size_t page = 0; page < length; page += 4096)
    {
        memset(base + page, (int)(seed ^ (page >> 12)), 8);
    }
}

static void test_touching_keeps_every_byte(void **state)
{
    fixture_t *f = *state;
    const size_t length = f->mapped.mapped_length;
    assert_false(f->mapped.sparse);
    fill(f->created.mapped, length, 0x5a);
    uint8_t *copy = malloc(length);
    memcpy(copy, f->created.mapped, length);

    assert_int_equal(length, shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_WRITE, 0, SIZE_MAX));
    assert_memory_equal(copy, f->created.mapped, length);
    assert_int_equal(length, shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_READ, 0, SIZE_MAX));
    assert_memory_equal(copy, f->created.mapped, length);
    /* The metadata page too: the tail counters a publisher moves. */
    assert_memory_equal(copy + length - 4096, (uint8_t *)f->mapped.mapped + length - 4096, 4096);
    free(copy);
}

static void test_slices_end_where_they_say(void **state)
{
    fixture_t *f = *state;
    const size_t length = f->mapped.mapped_length;
    /* 3 x 64 KiB terms + the metadata page: whole pages. */
    assert_int_equal(0, length % 4096);
    size_t offset = 0;
    int slices = 0;
    while (offset < length)
    {
        size_t next = shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_READ, offset, 16384);
        assert_true(next > offset);
        assert_true(next <= length);
        assert_true(next - offset <= 16384);
        offset = next;
        slices++;
    }
    assert_int_equal((int)((length + 16383) / 16384), slices);
    /* Past the end, or nothing mapped: done at once. */
    assert_int_equal(length, shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_WRITE, length, 4096));
    assert_int_equal(length, shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_WRITE, length + 4096, 4096));
    shoal_log_buffer_t unmapped;
    memset(&unmapped, 0, sizeof(unmapped));
    assert_int_equal(0, shoal_log_buffer_pre_touch(&unmapped, SHOAL_LOG_TOUCH_READ, 0, SIZE_MAX));
}

/* A sparse log (sparse=true) takes its pages as terms are written: a touch
 * would allocate them all, so it leaves them be. */
static void test_a_sparse_log_stays_sparse(void **state)
{
    fixture_t *f = *state;
    assert_true(f->mapped.sparse);
    struct stat before, after;
    assert_int_equal(0, stat(f->path, &before));
    assert_true((uint64_t)before.st_blocks * 512U < (uint64_t)before.st_size);
    assert_int_equal(f->mapped.mapped_length,
        shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_WRITE, 0, SIZE_MAX));
    assert_int_equal(f->mapped.mapped_length,
        shoal_log_buffer_pre_touch(&f->mapped, SHOAL_LOG_TOUCH_READ, 0, SIZE_MAX));
    assert_int_equal(0, stat(f->path, &after));
    assert_int_equal(before.st_blocks, after.st_blocks);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_touching_keeps_every_byte, setup, teardown),
    cmocka_unit_test_setup_teardown(test_slices_end_where_they_say, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_sparse_log_stays_sparse, setup_sparse, teardown),
})
