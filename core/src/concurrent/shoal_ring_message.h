/*
 * What the two rings (the MPSC to-driver ring and the to-clients broadcast
 * buffer) accept as a message, so both refuse the same things the same way.
 */
#ifndef SHOAL_RING_MESSAGE_H
#define SHOAL_RING_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/shoal_error.h"

/* A type id >= 1 (negative ones mark padding), at most max_length bytes, a
 * buffer unless empty; who names the ring in the error. */
static inline int shoal_ring_message_check(const char *who, int32_t msg_type_id, const void *msg, size_t length,
    size_t max_length)
{
    if (msg_type_id < 1)
    {
        return shoal_set_err(SHOAL_EINVAL, "%s: message type id %d must be >= 1", who, msg_type_id);
    }
    if (length > max_length)
    {
        return shoal_set_err(SHOAL_EMSGSIZE, "%s: message length %zu exceeds max message length %zu", who, length,
            max_length);
    }
    if (NULL == msg && length > 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "%s: msg is NULL with length %zu", who, length);
    }
    return 0;
}

#endif
