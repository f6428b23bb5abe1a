/*
 * Many-producer, single-consumer ring buffer over a caller-provided region
 * (normally the to-driver section of the mmap'ed CnC file, shared by all
 * client processes). Layout: shoal_ring_buffer_descriptor.h.
 *
 * Threads and processes:
 *   - shoal_mpsc_rb_write, _next_correlation_id, _consumer_heartbeat_time_value,
 *     _producer_position, _consumer_position: any thread of any process.
 *   - shoal_mpsc_rb_read, _consumer_heartbeat_time, _unblock: the one consumer.
 *   - shoal_mpsc_rb_init does not write the region: the creator zeroes it
 *     (a fresh mmap'ed file is zero) before any process inits over it.
 * Nothing allocates or blocks; a full ring fails the write at once.
 */
#ifndef SHOAL_MPSC_RB_H
#define SHOAL_MPSC_RB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_ring_buffer_descriptor.h"

/* buffer points into the ring and is valid only during the call; length is the payload length. */
typedef void (*shoal_rb_handler_t)(int32_t msg_type_id, const uint8_t *buffer, size_t length, void *clientd);

typedef struct shoal_mpsc_rb_stct
{
    uint8_t *buffer;
    struct shoal_rb_descriptor_stct *descriptor;
    size_t capacity;
    size_t max_message_length;
    /* Consumer side: times a corrupt record header made the reader skip to the
     * producer's tail (the ring is shared memory any local process can write). */
    uint64_t corrupt_skips;
} shoal_mpsc_rb_t;

/* length = capacity + SHOAL_RB_TRAILER_LENGTH; -1 (SHOAL_EINVAL) unless capacity is
 * a power of two in [SHOAL_RB_MIN_CAPACITY, SHOAL_RB_MAX_CAPACITY] and buffer is 8-aligned. */
int shoal_mpsc_rb_init(shoal_mpsc_rb_t *rb, void *buffer, size_t length);

/* 0 on success. -1 with SHOAL_EDRIVER "to-driver ring full" when there is no room
 * (retry later), SHOAL_EMSGSIZE if length > max_message_length, SHOAL_EINVAL if
 * msg_type_id < 1 or msg is NULL with length > 0. */
int shoal_mpsc_rb_write(shoal_mpsc_rb_t *rb, int32_t msg_type_id, const void *msg, size_t length);

/* Calls handler for up to message_count_limit committed messages in order, then
 * zeroes the consumed bytes and advances head. Returns the number delivered.
 * The handler must not call read on the same ring. */
size_t shoal_mpsc_rb_read(shoal_mpsc_rb_t *rb, shoal_rb_handler_t handler, void *clientd, size_t message_count_limit);

/* Unique across all processes sharing the ring; strictly increasing, first is 1. */
int64_t shoal_mpsc_rb_next_correlation_id(shoal_mpsc_rb_t *rb);

void shoal_mpsc_rb_consumer_heartbeat_time(shoal_mpsc_rb_t *rb, int64_t now_ms);
int64_t shoal_mpsc_rb_consumer_heartbeat_time_value(const shoal_mpsc_rb_t *rb);

int64_t shoal_mpsc_rb_producer_position(const shoal_mpsc_rb_t *rb);
int64_t shoal_mpsc_rb_consumer_position(const shoal_mpsc_rb_t *rb);

/* Consumer only, and only after the consumer position has not moved for a
 * timeout while the producer position is ahead: a producer died between its
 * claim and its commit. Turns the stuck record into padding so reading can
 * continue; returns true if it did. A dead claim whose header was never
 * written can only be skipped once a later record (or the wrap) bounds it. */
bool shoal_mpsc_rb_unblock(shoal_mpsc_rb_t *rb);

#endif
