/* Shared pieces of the ring buffer and broadcast buffer tests: the buffers
 * live in a 128-aligned zeroed region, as they would in the mapped CnC file. */
#ifndef RING_TEST_UTIL_H
#define RING_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static inline uint8_t *ring_test_region(size_t length)
{
    uint8_t *region = NULL;
    assert_int_equal(0, posix_memalign((void **)&region, 128, length));
    memset(region, 0, length);
    return region;
}

/* The tests' fixtures start with their region: one teardown frees both. */
typedef struct
{
    uint8_t *region;
} ring_test_fixture_head_t;

static inline int ring_test_teardown(void **state)
{
    ring_test_fixture_head_t *f = *state;
    free(f->region);
    free(f);
    return 0;
}

#endif
