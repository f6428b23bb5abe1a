/*
 * A log-linear latency histogram for the command-line tools, in the manner of
 * HdrHistogram (Debian 12 packages no C HdrHistogram): recording is O(1), no
 * allocation and no sorting, so a timed loop can record every sample.
 *
 * Layout: values below 2^TOOL_HIST_SUB_BITS each have their own bucket (exact);
 * above, every power-of-two range [2^m, 2^(m+1)) is split into
 * 2^(TOOL_HIST_SUB_BITS - 1) equal buckets, so a bucket is never wider than
 * 2^(1 - TOOL_HIST_SUB_BITS) of the values it holds: with 10 bits, 0.2 %
 * (about three significant digits, as HdrHistogram's usual setting). Every
 * uint64_t value is representable; the array is ~230 KB, allocated once.
 *
 * Percentiles use the nearest rank (the smallest value v with at least
 * q * count samples <= v) and report the highest value of the bucket that
 * holds it, never more than the largest value recorded: a percentile is at
 * most 0.2 % above the exact figure and never below it.
 *
 * Threads: a histogram belongs to one thread; merge after joining.
 */
#ifndef SHOAL_TOOL_HISTOGRAM_H
#define SHOAL_TOOL_HISTOGRAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_HIST_SUB_BITS 10
#define TOOL_HIST_LINEAR   (1u << TOOL_HIST_SUB_BITS)       /* exact buckets: values 0..LINEAR-1 */
#define TOOL_HIST_HALF     (1u << (TOOL_HIST_SUB_BITS - 1)) /* buckets per power of two above */
#define TOOL_HIST_BUCKETS  (TOOL_HIST_LINEAR + (64u - TOOL_HIST_SUB_BITS) * TOOL_HIST_HALF)

typedef struct
{
    uint64_t *counts; /* TOOL_HIST_BUCKETS entries */
    uint64_t total, min, max;
} tool_hist_t;

static inline unsigned tool_hist_index(uint64_t v)
{
    if (v < TOOL_HIST_LINEAR)
    {
        return (unsigned)v;
    }
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned shift = msb - TOOL_HIST_SUB_BITS + 1u;
    unsigned top = (unsigned)(v >> shift); /* in [HALF, LINEAR) */
    return TOOL_HIST_LINEAR + (msb - TOOL_HIST_SUB_BITS) * TOOL_HIST_HALF + (top - TOOL_HIST_HALF);
}

/* Smallest value that lands in bucket i. */
static inline uint64_t tool_hist_lowest(unsigned i)
{
    if (i < TOOL_HIST_LINEAR)
    {
        return i;
    }
    unsigned j = i - TOOL_HIST_LINEAR, msb = TOOL_HIST_SUB_BITS + j / TOOL_HIST_HALF;
    return (uint64_t)(TOOL_HIST_HALF + j % TOOL_HIST_HALF) << (msb - TOOL_HIST_SUB_BITS + 1u);
}

/* Largest value that lands in bucket i. */
static inline uint64_t tool_hist_highest(unsigned i)
{
    if (i < TOOL_HIST_LINEAR)
    {
        return i;
    }
    unsigned msb = TOOL_HIST_SUB_BITS + (i - TOOL_HIST_LINEAR) / TOOL_HIST_HALF;
    return tool_hist_lowest(i) + ((uint64_t)1 << (msb - TOOL_HIST_SUB_BITS + 1u)) - 1u;
}

static inline void tool_hist_reset(tool_hist_t *h)
{
    memset(h->counts, 0, sizeof(uint64_t) * TOOL_HIST_BUCKETS);
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
}

/* 0, or -1 when out of memory. */
static inline int tool_hist_init(tool_hist_t *h)
{
    h->counts = (uint64_t *)malloc(sizeof(uint64_t) * TOOL_HIST_BUCKETS);
    if (NULL == h->counts)
    {
        return -1;
    }
    tool_hist_reset(h);
    return 0;
}

static inline void tool_hist_free(tool_hist_t *h)
{
    free(h->counts);
    h->counts = NULL;
}

static inline void tool_hist_record(tool_hist_t *h, uint64_t v)
{
    h->counts[tool_hist_index(v)]++;
    h->total++;
    h->min = v < h->min ? v : h->min;
    h->max = v > h->max ? v : h->max;
}

/* dst += src. */
static inline void tool_hist_merge(tool_hist_t *dst, const tool_hist_t *src)
{
    for (unsigned i = 0; i < TOOL_HIST_BUCKETS; i++)
    {
        dst->counts[i] += src->counts[i];
    }
    dst->total += src->total;
    dst->min = src->min < dst->min ? src->min : dst->min;
    dst->max = src->max > dst->max ? src->max : dst->max;
}

/* Value at percentile q (0..100); 0 for an empty histogram; q >= 100 is the maximum. */
static inline uint64_t tool_hist_percentile(const tool_hist_t *h, double q)
{
    if (0 == h->total)
    {
        return 0;
    }
    if (q >= 100.0)
    {
        return h->max;
    }
    double want = q / 100.0 * (double)h->total;
    want -= want * 1e-12; /* 99.9 % of 1000 is rank 999, not 999.0000000001 rounded up */
    uint64_t rank = (uint64_t)want;
    rank += (double)rank < want; /* ceil */
    rank = rank < 1 ? 1 : rank;
    uint64_t seen = 0;
    for (unsigned i = 0; i < TOOL_HIST_BUCKETS; i++)
    {
        seen += h->counts[i];
        if (seen >= rank)
        {
            uint64_t v = tool_hist_highest(i);
            v = v > h->max ? h->max : v;
            return v < h->min ? h->min : v;
        }
    }
    return h->max;
}

/* Mean of the values ranked between percentiles lo and hi (0 <= lo < hi <=
 * 100), each bucket counted at its middle (exact below TOOL_HIST_LINEAR);
 * 0 for an empty histogram. Unlike a percentile it is not stuck to the
 * clock's steps: values spread over neighbouring steps average between
 * them. Unlike the plain mean, the tail beyond hi does not move it. */
static inline double tool_hist_central_mean(const tool_hist_t *h, double lo, double hi)
{
    if (0 == h->total || hi <= lo)
    {
        return 0;
    }
    const double first = lo / 100.0 * (double)h->total, last = hi / 100.0 * (double)h->total;
    double seen = 0, sum = 0, taken = 0;
    for (unsigned i = 0; i < TOOL_HIST_BUCKETS && seen < last; i++)
    {
        if (0 == h->counts[i])
        {
            continue;
        }
        const double from = seen, to = seen + (double)h->counts[i];
        seen = to;
        const double a = from > first ? from : first, b = to < last ? to : last;
        if (b > a)
        {
            const double middle = ((double)tool_hist_lowest(i) + (double)tool_hist_highest(i)) / 2.0;
            sum += middle * (b - a);
            taken += b - a;
        }
    }
    return taken > 0 ? sum / taken : 0;
}

#endif
