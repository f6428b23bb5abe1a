/*
 * One receiver of the broadcast buffer (each client conductor has its own).
 * Layout and invariants: shoal_broadcast_descriptor.h.
 *
 * Threads: a receiver is used by one thread; any number of receivers in any
 * processes read the same buffer without writing to it (read-only mappings
 * are fine). Messages are copied to a private scratch buffer and checked
 * against the tail intent after the copy, so a handler never sees a message
 * the transmitter overwrote meanwhile; such a message is dropped and counted
 * as a lap, and the receiver resumes at the latest record.
 */
#ifndef SHOAL_BROADCAST_RECEIVER_H
#define SHOAL_BROADCAST_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_broadcast_descriptor.h"

/* buffer is the receiver's scratch copy, valid only during the call; length is the payload length. */
typedef void (*shoal_broadcast_handler_t)(int32_t msg_type_id, const uint8_t *buffer, size_t length, void *clientd);

typedef struct shoal_broadcast_receiver_stct
{
    uint8_t *buffer;
    struct shoal_broadcast_descriptor_stct *descriptor;
    size_t capacity;
    size_t mask;
    int64_t cursor, next_record, record_offset; /* last delivered record; where the next starts */
    int64_t lapped_count;                       /* times the transmitter overtook this receiver */
    int64_t corrupt_count;                      /* impossible records skipped */
    uint8_t *scratch;
    size_t scratch_length;
} shoal_broadcast_receiver_t;

/* Joins at the current tail: only messages transmitted after init are
 * delivered. Allocates the scratch buffer (-1 with SHOAL_ENOMEM on failure);
 * -1 with SHOAL_EINVAL on a bad capacity or alignment, as for the transmitter. */
int shoal_broadcast_receiver_init(shoal_broadcast_receiver_t *rx, void *buffer, size_t length);

/* Frees the scratch buffer; safe to call twice. */
void shoal_broadcast_receiver_close(shoal_broadcast_receiver_t *rx);

/* Delivers every message available when called, in order; returns how many,
 * or -1 with SHOAL_EIO if the buffer holds an impossible record (corruption):
 * then everything up to the tail is skipped (corrupt_count counts it) and the
 * next call goes on with what is transmitted later.
 * The handler must not call receive on the same receiver. */
int shoal_broadcast_receiver_receive(shoal_broadcast_receiver_t *rx, shoal_broadcast_handler_t handler, void *clientd);

#endif
