/*
 * The copy of an offered message into its frame. Most messages are small
 * and their length is known only at run time, so memcpy is a call into the C
 * library and its size dispatch, for 32 bytes. Lengths up to 64 are copied
 * inline instead: two moves of the widest size that fits, one from each end,
 * overlapping in the middle (bytes written twice with the same value: source
 * and destination never overlap, the destination is a claimed frame).
 * Longer messages go to memcpy, whose wide loops win there.
 */
#ifndef SHOAL_PAYLOAD_COPY_H
#define SHOAL_PAYLOAD_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"

#define SHOAL_PAYLOAD_COPY_INLINE_MAX 64

/* memcpy of a constant width: one or two moves, no call. */
#define SHOAL_PAYLOAD_COPY_ENDS(dst, src, n, width)                                                                    \
    do                                                                                                                 \
    {                                                                                                                  \
        memcpy((dst), (src), (width));                                                                                 \
        memcpy((dst) + (n) - (width), (src) + (n) - (width), (width));                                                 \
    }                                                                                                                  \
    while (0)

static SHOAL_ALWAYS_INLINE void shoal_payload_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (SHOAL_UNLIKELY(n > SHOAL_PAYLOAD_COPY_INLINE_MAX))
    {
        memcpy(dst, src, n);
    }
    else if (n > 32)
    {
        SHOAL_PAYLOAD_COPY_ENDS(dst, src, n, 32);
    }
    else if (n >= 16)
    {
        SHOAL_PAYLOAD_COPY_ENDS(dst, src, n, 16);
    }
    else if (n >= 8)
    {
        SHOAL_PAYLOAD_COPY_ENDS(dst, src, n, 8);
    }
    else if (n >= 4)
    {
        SHOAL_PAYLOAD_COPY_ENDS(dst, src, n, 4);
    }
    else if (n > 0)
    {
        dst[0] = src[0];
        dst[n >> 1] = src[n >> 1];
        dst[n - 1] = src[n - 1];
    }
}

#endif /* SHOAL_PAYLOAD_COPY_H */
