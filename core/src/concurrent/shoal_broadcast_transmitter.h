/*
 * Single transmitter of the broadcast buffer (the driver conductor).
 * Layout and invariants: shoal_broadcast_descriptor.h.
 *
 * Threads: exactly one thread in one process transmits. It never blocks and
 * never waits for receivers; slow receivers are lapped and find out.
 * init does not write the region: its creator zeroes it first.
 */
#ifndef SHOAL_BROADCAST_TRANSMITTER_H
#define SHOAL_BROADCAST_TRANSMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_broadcast_descriptor.h"

typedef struct shoal_broadcast_transmitter_stct
{
    uint8_t *buffer;
    struct shoal_broadcast_descriptor_stct *descriptor;
    size_t capacity;
    size_t max_message_length;
} shoal_broadcast_transmitter_t;

/* length = capacity + SHOAL_BROADCAST_TRAILER_LENGTH; -1 (SHOAL_EINVAL) unless
 * capacity is a power of two within bounds and buffer is 8-aligned. */
int shoal_broadcast_transmitter_init(shoal_broadcast_transmitter_t *tx, void *buffer, size_t length);

/* 0 on success; -1 with SHOAL_EINVAL if msg_type_id < 1 or msg is NULL with
 * length > 0, SHOAL_EMSGSIZE if length > max_message_length. */
int shoal_broadcast_transmitter_transmit(shoal_broadcast_transmitter_t *tx, int32_t msg_type_id, const void *msg,
    size_t length);

#endif
