/*
 * Copies into and out of shared memory that another thread or process may
 * write at the same time (the broadcast buffer, where a lapped receiver reads
 * while the transmitter overwrites). A plain memcpy there is a data race:
 * undefined in C and reported by TSan. Going word by word through atomics
 * makes each 8-byte word either the old or the new value; the caller then
 * decides whether the copy is usable (seqlock style).
 *
 * Ordering: stores are release and loads acquire, not relaxed + fences,
 * because gcc rejects standalone fences under -fsanitize=thread. On x86 both
 * are plain moves; elsewhere the cost is bounded by small control messages.
 * A reader whose acquire load sees any word of a newer write is therefore
 * guaranteed to see every store the writer made before it (its tail intent).
 *
 * Invariants: the shared side is 8-byte aligned and owns ALIGN(length, 8)
 * bytes; for loads the private destination is 8-aligned with the same room.
 */
#ifndef SHOAL_SHARED_COPY_H
#define SHOAL_SHARED_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"

/* The last partial word is zero-filled so the shared bytes past length are deterministic. */
static inline void shoal_shared_copy_to(uint8_t *shared_dst, const void *src, size_t length)
{
    uint64_t *dst = (uint64_t *)shared_dst;
    const uint8_t *from = (const uint8_t *)src;
    const size_t whole_words = length / sizeof(uint64_t);
    const size_t tail_bytes = length % sizeof(uint64_t);
    size_t i;

    for (i = 0; i < whole_words; i++)
    {
        uint64_t word;
        memcpy(&word, from + i * sizeof(uint64_t), sizeof(word));
        shoal_store_release(&dst[i], word);
    }
    if (tail_bytes > 0)
    {
        uint64_t word = 0;
        memcpy(&word, from + i * sizeof(uint64_t), tail_bytes);
        shoal_store_release(&dst[i], word);
    }
}

static inline void shoal_shared_copy_from(void *private_dst, const uint8_t *shared_src, size_t length)
{
    uint64_t *dst = (uint64_t *)private_dst;
    const uint64_t *src = (const uint64_t *)shared_src;
    const size_t words = (length + sizeof(uint64_t) - 1) / sizeof(uint64_t);

    for (size_t i = 0; i < words; i++)
    {
        dst[i] = shoal_load_acquire(&src[i]);
    }
}

#endif
