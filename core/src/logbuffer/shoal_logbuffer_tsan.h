/*
 * ThreadSanitizer model of the one ordering edge of the log buffer that TSan
 * cannot observe: "every frame committed in term T of a partition happens
 * before any write into term T + 3 (the next use of that partition)".
 *
 * The edge is real and made of acquire/release pairs, but it runs through
 * other mappings of the same files: the writer's release of frame_length
 * (publication's mapping of the log) -> the subscriber's acquire of it (the
 * image's own mapping) -> the subscriber's release of its position (client's
 * mapping of the CnC) -> the driver's acquire (driver's mapping of the CnC)
 * -> the driver's cleaning (driver's mapping of the log) -> the driver's
 * release of the publisher limit -> the publisher's acquire of the limit
 * (client's mapping of the CnC) before it claims. TSan keys happens-before
 * on virtual addresses, so two mappings of one page never synchronise for
 * it, and a publisher reusing bytes another publisher thread wrote three
 * terms earlier (same mapping) looks like a write/write race. Flow control
 * guarantees the edge: a claim in term T + 3 needs a limit (slowest
 * subscriber + term_length / 2) of about (T + 3) * term_length, less at most
 * one in-flight message per concurrent writer, so every subscriber is past
 * the end of T (as long as that overshoot stays under 1.5 terms).
 *
 * Under TSan, commits release into a per-partition, per-generation sync
 * object and writers acquire the previous generation's one before their
 * first store. Writers of the same term never synchronise through it, so
 * overlapping claims in one term are still reported. Compiles to nothing
 * without TSan (no cost on the offer path).
 */
#ifndef SHOAL_LOGBUFFER_TSAN_H
#define SHOAL_LOGBUFFER_TSAN_H

#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"

#if defined(__SANITIZE_THREAD__)
#define SHOAL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHOAL_TSAN 1
#endif
#endif

#if defined(SHOAL_TSAN)
#include <sanitizer/tsan_interface.h>

/* Sync object of one generation of a partition: two keys inside the
 * partition's first frame header (bytes 1 and 2, which no atomic touches:
 * frame lengths are 32-aligned words), alternating with term_id / 3, which
 * grows by one each time the partition is reused (term ids t, t + 3, ...). */
static inline void *shoal_tsan_generation_key(uint8_t *term, int32_t term_id)
{
    return term + 1 + (((uint32_t)term_id / 3u) & 1u);
}
#endif

/* Before the first store into a claimed range of term term_id (term is the
 * partition's base): acquire what the previous generation committed. */
static inline void shoal_logbuffer_tsan_before_write(uint8_t *term, int32_t term_id)
{
#if defined(SHOAL_TSAN)
    __tsan_acquire(shoal_tsan_generation_key(term, (int32_t)((uint32_t)term_id - 3u)));
#else
    (void)term;
    (void)term_id;
#endif
}

/* Frame commit: store-release of the positive frame_length. The header's
 * term_offset and term_id must already hold the frame's values. */
static inline void shoal_logbuffer_frame_commit(shoal_data_header_t *hdr, int32_t frame_length)
{
#if defined(SHOAL_TSAN)
    /* Before the store as well as after it: a writer descheduled between the
     * store and a release made only after it let the log come round, and the
     * next generation's writer acquired the key before this release, so
     * TSan saw its header and payload stores race with the overwrite (1 run
     * in 20 of test_concurrent_publishers). Released first, they are covered
     * whatever the timing; the release after covers the length word too. */
    void *key = shoal_tsan_generation_key((uint8_t *)hdr - hdr->term_offset, hdr->term_id);
    __tsan_release(key);
#endif
    shoal_store_release(&hdr->frame_header.frame_length, frame_length);
#if defined(SHOAL_TSAN)
    __tsan_release(key); /* the next generation overwrites the length word too */
#endif
}

/* The same blind spot inside a driver with dedicated threads: the conductor
 * zeroes a term behind the sender, and the sender reads those bytes again
 * only after a publisher refilled them, an edge that runs through the
 * publisher's mapping (limit -> claim -> commit). The cleaner releases a
 * sync object of the log after cleaning; the reader acquires it before
 * scanning. Nothing without TSan. */
static inline void shoal_logbuffer_tsan_cleaned(void *log_key)
{
#if defined(SHOAL_TSAN)
    __tsan_release(log_key);
#else
    (void)log_key;
#endif
}

static inline void shoal_logbuffer_tsan_before_scan(void *log_key)
{
#if defined(SHOAL_TSAN)
    __tsan_acquire(log_key);
#else
    (void)log_key;
#endif
}

#endif /* SHOAL_LOGBUFFER_TSAN_H */
