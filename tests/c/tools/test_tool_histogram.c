/* The log-linear latency histogram of the tools (core/tools/tool_histogram.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "../shoal_test_main.h"
#include "../../../core/tools/tool_histogram.h"

static int setup(void **state)
{
    tool_hist_t *h = malloc(sizeof(*h));
    if (NULL == h || tool_hist_init(h) < 0)
    {
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    tool_hist_t *h = *state;
    tool_hist_free(h);
    free(h);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Exact nearest-rank percentile of sorted values. */
static uint64_t exact(const uint64_t *sorted, size_t n, double q)
{
    double want = q / 100.0 * (double)n;
    want -= want * 1e-12;
    size_t rank = (size_t)want;
    rank += (double)rank < want;
    rank = rank < 1 ? 1 : rank;
    return sorted[rank - 1];
}

static void test_empty(void **state)
{
    tool_hist_t *h = *state;
    assert_int_equal(h->total, 0);
    assert_int_equal(tool_hist_percentile(h, 50), 0);
    assert_int_equal(tool_hist_percentile(h, 100), 0);
}

static void test_buckets_tile_the_range(void **state)
{
    (void)state;
    assert_int_equal(tool_hist_lowest(0), 0);
    for (unsigned i = 0; i + 1 < TOOL_HIST_BUCKETS; i++)
    {
        assert_true(tool_hist_lowest(i) <= tool_hist_highest(i));
        assert_int_equal(tool_hist_highest(i) + 1, tool_hist_lowest(i + 1)); /* no gap, no overlap */
        assert_int_equal(tool_hist_index(tool_hist_lowest(i)), i);
        assert_int_equal(tool_hist_index(tool_hist_highest(i)), i);
    }
    assert_int_equal(tool_hist_highest(TOOL_HIST_BUCKETS - 1), UINT64_MAX);
    assert_int_equal(tool_hist_index(UINT64_MAX), TOOL_HIST_BUCKETS - 1);
}

static void test_small_values_are_exact(void **state)
{
    tool_hist_t *h = *state;
    for (uint64_t v = 1; v <= 1000; v++)
    {
        tool_hist_record(h, v);
    }
    assert_int_equal(h->total, 1000);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 1000);
    assert_int_equal(tool_hist_percentile(h, 50), 500);
    assert_int_equal(tool_hist_percentile(h, 90), 900);
    assert_int_equal(tool_hist_percentile(h, 99), 990);
    assert_int_equal(tool_hist_percentile(h, 99.9), 999);
    assert_int_equal(tool_hist_percentile(h, 100), 1000);
    assert_int_equal(tool_hist_percentile(h, 0), 1);
}

static void test_relative_error_bound(void **state)
{
    tool_hist_t *h = *state;
    const size_t n = 200000;
    uint64_t *v = malloc(n * sizeof(uint64_t));
    assert_non_null(v);
    srand(7);
    for (size_t i = 0; i < n; i++)
    {
        /* log-uniform from ~1 us to ~1 s, in ns: the range of latencies */
        v[i] = (uint64_t)exp(log(1e3) + (log(1e9) - log(1e3)) * ((double)rand() / RAND_MAX));
        tool_hist_record(h, v[i]);
    }
    qsort(v, n, sizeof(uint64_t), cmp_u64);
    static const double qs[] = { 1, 10, 50, 90, 99, 99.9, 99.99 };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
    {
        uint64_t want = exact(v, n, qs[i]), got = tool_hist_percentile(h, qs[i]);
        assert_true(got >= want);                          /* never optimistic */
        assert_true((double)(got - want) <= want / 512.0); /* at most 2^(1-10) above */
    }
    assert_int_equal(tool_hist_percentile(h, 100), v[n - 1]);
    assert_int_equal(h->min, v[0]);
    free(v);
}

static void test_extremes(void **state)
{
    tool_hist_t *h = *state;
    tool_hist_record(h, 0);
    tool_hist_record(h, UINT64_MAX);
    assert_int_equal(tool_hist_percentile(h, 50), 0);
    assert_int_equal(tool_hist_percentile(h, 51), UINT64_MAX);
    assert_int_equal(h->min, 0);
    assert_int_equal(h->max, UINT64_MAX);
}

static void test_percentile_capped_at_max(void **state)
{
    tool_hist_t *h = *state;
    tool_hist_record(h, 123457); /* bucket wider than 1: its top would exceed the sample */
    assert_int_equal(tool_hist_percentile(h, 50), 123457);
    assert_int_equal(tool_hist_percentile(h, 99.999), 123457);
}

static void test_merge_and_reset(void **state)
{
    tool_hist_t *h = *state, other;
    assert_int_equal(tool_hist_init(&other), 0);
    for (uint64_t v = 1; v <= 500; v++)
    {
        tool_hist_record(h, v);
        tool_hist_record(&other, v + 500);
    }
    tool_hist_merge(h, &other);
    assert_int_equal(h->total, 1000);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 1000);
    assert_int_equal(tool_hist_percentile(h, 50), 500);
    assert_int_equal(tool_hist_percentile(h, 75), 750);

    tool_hist_reset(h);
    assert_int_equal(h->total, 0);
    assert_int_equal(h->max, 0);
    assert_int_equal(tool_hist_percentile(h, 50), 0);
    tool_hist_record(h, 42);
    assert_int_equal(h->min, 42);
    tool_hist_free(&other);
    assert_null(other.counts);
}

/* A test with this file's usual setup and teardown. */
/* The central mean: exact for small values; the tail beyond hi and the
 * head below lo leave it alone; a bucket cut by lo or hi counts its part. */
static void test_central_mean(void **state)
{
    tool_hist_t *h = *state;
    assert_true(0.0 == tool_hist_central_mean(h, 10, 90));
    /* 100 values: 10 at 1 ns (head), 45 at 120, 35 at 130, 10 at 1 ms (tail) */
    for (int i = 0; i < 10; i++)
        tool_hist_record(h, 1);
    for (int i = 0; i < 45; i++)
        tool_hist_record(h, 120);
    for (int i = 0; i < 35; i++)
        tool_hist_record(h, 130);
    for (int i = 0; i < 10; i++)
        tool_hist_record(h, 1000000);
    /* ranks 10..90 are the 45 at 120 and the 35 at 130 */
    assert_true(fabs(tool_hist_central_mean(h, 10, 90) - (45.0 * 120 + 35.0 * 130) / 80.0) < 1e-9);
    /* p50 is stuck at 120; the central mean moves with the share at 130 */
    assert_int_equal(120, tool_hist_percentile(h, 50));
    /* a cut bucket: ranks 5..55 take 5 of the ones and all 45 at 120 */
    assert_true(fabs(tool_hist_central_mean(h, 5, 55) - (5.0 * 1 + 45.0 * 120) / 50.0) < 1e-9);
    /* lo >= hi: nothing to average */
    assert_true(0.0 == tool_hist_central_mean(h, 50, 50));
    /* large values count at their bucket's middle, within the bucket's width */
    tool_hist_reset(h);
    tool_hist_record(h, 1234567);
    const double m = tool_hist_central_mean(h, 0, 100);
    assert_true(fabs(m - 1234567.0) <= 1234567.0 * 0.002);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_empty),
    cmocka_unit_test(test_buckets_tile_the_range),
    T(test_small_values_are_exact),
    T(test_relative_error_bound),
    T(test_extremes),
    T(test_percentile_capped_at_max),
    T(test_merge_and_reset),
    T(test_central_mean),
})
