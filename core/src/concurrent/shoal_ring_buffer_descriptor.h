/*
 * Shared-memory layout of the many-to-one ring buffer (client -> driver
 * commands). The layout is the contract between processes, so it lives here
 * alone; shoal_mpsc_rb.c holds the algorithm.
 *
 *   0                                  capacity            capacity + TRAILER
 *   +-------------------------------------+--------------------------------+
 *   | records (capacity bytes, 2^n)       | trailer: 5 slots of 128 bytes  |
 *   +-------------------------------------+--------------------------------+
 *
 * Trailer slots, each alone on a 128-byte slot so producers CASing the tail
 * do not evict the consumer's head line (adjacent-line prefetch pairs lines):
 *   tail position        bytes ever claimed by producers (CAS)
 *   head cache position  producers' stale copy of head, spares reading head
 *   head position        bytes ever consumed (written by the consumer only)
 *   correlation counter  source of unique correlation ids across processes
 *   consumer heartbeat   epoch ms of the consumer's last duty cycle
 *
 * Record (8-byte aligned, never split across the end of the data region):
 *   int32 length       header + payload bytes; negative while being written,
 *                      0 where nothing has been claimed or it was consumed
 *   int32 msg type id  >= 1 for messages; SHOAL_RB_PADDING_MSG_TYPE_ID fills
 *                      the space up to the end before a record that wraps
 *   payload
 *
 * Invariants:
 *   - positions only grow; index = position & (capacity - 1);
 *   - head <= tail <= head + capacity;
 *   - every byte in [tail, head + capacity) is zero (the consumer zeroes what
 *     it consumed), which is how the consumer tells "not yet written" apart;
 *   - capacity is a power of two in [SHOAL_RB_MIN_CAPACITY, SHOAL_RB_MAX_CAPACITY]
 *     and the buffer is at least 8-byte aligned (128 to avoid false sharing).
 */
#ifndef SHOAL_RING_BUFFER_DESCRIPTOR_H
#define SHOAL_RING_BUFFER_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_atomic.h"

typedef struct shoal_rb_descriptor_stct
{
    SHOAL_CACHE_PADDED_INT64(tail_position);
    SHOAL_CACHE_PADDED_INT64(head_cache_position);
    SHOAL_CACHE_PADDED_INT64(head_position);
    SHOAL_CACHE_PADDED_INT64(correlation_counter);
    SHOAL_CACHE_PADDED_INT64(consumer_heartbeat);
} shoal_rb_descriptor_t;

typedef struct shoal_rb_record_descriptor_stct
{
    int32_t length;
    int32_t msg_type_id;
} shoal_rb_record_descriptor_t;

#define SHOAL_RB_TRAILER_LENGTH             (5 * SHOAL_CACHE_PAD_LENGTH)
#define SHOAL_RB_TAIL_POSITION_OFFSET       offsetof(shoal_rb_descriptor_t, tail_position)
#define SHOAL_RB_HEAD_CACHE_POSITION_OFFSET offsetof(shoal_rb_descriptor_t, head_cache_position)
#define SHOAL_RB_HEAD_POSITION_OFFSET       offsetof(shoal_rb_descriptor_t, head_position)
#define SHOAL_RB_CORRELATION_COUNTER_OFFSET offsetof(shoal_rb_descriptor_t, correlation_counter)
#define SHOAL_RB_CONSUMER_HEARTBEAT_OFFSET  offsetof(shoal_rb_descriptor_t, consumer_heartbeat)

#define SHOAL_RB_RECORD_HEADER_LENGTH         8
#define SHOAL_RB_RECORD_ALIGNMENT             8
#define SHOAL_RB_PADDING_MSG_TYPE_ID          (-1)
#define SHOAL_RB_MESSAGE_OFFSET(record_index) ((record_index) + SHOAL_RB_RECORD_HEADER_LENGTH)

/* Bounds: the minimum still fits a record of the maximum message length; the
 * maximum keeps every record length (padding included) inside an int32. */
#define SHOAL_RB_MIN_CAPACITY 64
#define SHOAL_RB_MAX_CAPACITY (1u << 30)
/* A message may take at most 1/8 of the ring so one sender cannot starve the others. */
#define SHOAL_RB_MAX_MESSAGE_LENGTH(capacity) ((capacity) / 8)

#endif
