/*
 * Shared-memory layout of the one-to-many broadcast buffer (driver -> clients
 * responses and events). The transmitter never waits for receivers: it
 * overwrites the oldest records, and a receiver that falls a whole capacity
 * behind detects it through the tail intent counter.
 *
 *   0                                  capacity            capacity + TRAILER
 *   +-------------------------------------+--------------------------------+
 *   | records (capacity bytes, 2^n)       | trailer: 3 slots of 128 bytes  |
 *   +-------------------------------------+--------------------------------+
 *
 * Trailer slots (each alone on 128 bytes; written only by the transmitter):
 *   tail intent counter  position the transmitter is about to write up to;
 *                        raised BEFORE any record byte is overwritten
 *   tail counter         position of the end of the last complete record
 *   latest counter       position of the start of the last complete record
 *
 * Record (8-byte aligned, never split across the end of the data region):
 *   int32 length       header + payload bytes
 *   int32 msg type id  >= 1; SHOAL_BROADCAST_PADDING_MSG_TYPE_ID fills the
 *                      space up to the end before a record that wraps
 *   payload
 *
 * Invariants:
 *   - latest <= tail <= tail intent; all only grow;
 *   - bytes of the record at position p are intact while
 *     p + capacity > tail intent (checked after copying, seqlock style);
 *   - every record byte is written and read with word-sized atomics because
 *     a lapped receiver reads while the transmitter overwrites by design;
 *   - capacity is a power of two in [SHOAL_BROADCAST_MIN_CAPACITY,
 *     SHOAL_BROADCAST_MAX_CAPACITY] and the buffer is 8-byte aligned.
 */
#ifndef SHOAL_BROADCAST_DESCRIPTOR_H
#define SHOAL_BROADCAST_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

typedef struct shoal_broadcast_descriptor_stct
{
    SHOAL_CACHE_PADDED_INT64(tail_intent_counter);
    SHOAL_CACHE_PADDED_INT64(tail_counter);
    SHOAL_CACHE_PADDED_INT64(latest_counter);
} shoal_broadcast_descriptor_t;

typedef struct shoal_broadcast_record_descriptor_stct
{
    int32_t length;
    int32_t msg_type_id;
} shoal_broadcast_record_descriptor_t;

#define SHOAL_BROADCAST_TRAILER_LENGTH             (3 * SHOAL_CACHE_PAD_LENGTH)
#define SHOAL_BROADCAST_TAIL_INTENT_COUNTER_OFFSET offsetof(shoal_broadcast_descriptor_t, tail_intent_counter)
#define SHOAL_BROADCAST_TAIL_COUNTER_OFFSET        offsetof(shoal_broadcast_descriptor_t, tail_counter)
#define SHOAL_BROADCAST_LATEST_COUNTER_OFFSET      offsetof(shoal_broadcast_descriptor_t, latest_counter)

#define SHOAL_BROADCAST_RECORD_HEADER_LENGTH          8
#define SHOAL_BROADCAST_RECORD_ALIGNMENT              8
#define SHOAL_BROADCAST_PADDING_MSG_TYPE_ID           (-1)
#define SHOAL_BROADCAST_MESSAGE_OFFSET(record_offset) ((record_offset) + SHOAL_BROADCAST_RECORD_HEADER_LENGTH)

#define SHOAL_BROADCAST_MIN_CAPACITY                 64
#define SHOAL_BROADCAST_MAX_CAPACITY                 (1u << 30)
#define SHOAL_BROADCAST_MAX_MESSAGE_LENGTH(capacity) ((capacity) / 8)

/* Shared by transmitter and receiver init so both accept exactly the same
 * regions; who names the caller in the error. Sets *capacity_out on success. */
static inline int shoal_broadcast_buffer_check(const char *who, void *buffer, size_t length, size_t *capacity_out)
{
    if (NULL == buffer)
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast %s: buffer is NULL", who);
    }
    if (((uintptr_t)buffer & (SHOAL_BROADCAST_RECORD_ALIGNMENT - 1)) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast %s: buffer %p is not 8-byte aligned", who, buffer);
    }
    if (length < SHOAL_BROADCAST_TRAILER_LENGTH)
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast %s: length %zu is less than the trailer length %d", who, length,
            SHOAL_BROADCAST_TRAILER_LENGTH);
    }

    const size_t capacity = length - SHOAL_BROADCAST_TRAILER_LENGTH;
    if (!SHOAL_IS_POWER_OF_TWO(capacity))
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast %s: capacity %zu (length %zu - trailer %d) is not a power of 2",
            who, capacity, length, SHOAL_BROADCAST_TRAILER_LENGTH);
    }
    if (capacity < SHOAL_BROADCAST_MIN_CAPACITY || capacity > SHOAL_BROADCAST_MAX_CAPACITY)
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast %s: capacity %zu is outside [%d, %u]", who, capacity,
            SHOAL_BROADCAST_MIN_CAPACITY, SHOAL_BROADCAST_MAX_CAPACITY);
    }
    *capacity_out = capacity;
    return 0;
}

#endif
