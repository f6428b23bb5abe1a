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

#include "shoal/shoal.h"

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

/* A ring's writer, (ring, msg_type_id, msg, length) -> 0 or -1: the mpsc
 * ring buffer's write and the broadcast transmitter's transmit. */
typedef int (*ring_test_write_t)(void *ring, int32_t msg_type_id, const void *msg, size_t length);

/* The argument checks both writers make: longer than max_length is
 * EMSGSIZE (max_length itself fits), type id 0 and a NULL message are
 * EINVAL. */
static inline void ring_test_check_write_arguments(ring_test_write_t write, void *ring, int32_t msg_type,
    size_t max_length)
{
    uint8_t *msg = calloc(1, max_length + 1);
    assert_non_null(msg);
    assert_int_equal(-1, write(ring, msg_type, msg, max_length + 1));
    assert_int_equal(SHOAL_EMSGSIZE, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "max message length"));
    assert_int_equal(-1, write(ring, 0, msg, 8));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, write(ring, msg_type, NULL, 8));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(0, write(ring, msg_type, msg, max_length));
    free(msg);
}

#endif
