/*
 * Allocation of objects that threads share: each starts on its own pair of
 * cache lines (SHOAL_CACHE_PAD_LENGTH, 128 bytes, as the counters), so a
 * neighbour's writes never invalidate the lines that hold its hot fields.
 * One line is not enough: the adjacent-line prefetcher fetches lines in
 * 128-byte pairs, so an object sharing a pair with another thread's
 * written object pays a transfer as if it shared the line (subscriptions
 * and image lists aligned on 64 bytes halved pinned 32 B IPC throughput,
 * 139-145 -> 60 M msgs/s). Not for the data path (it calls the allocator).
 */
#ifndef SHOAL_ALLOC_H
#define SHOAL_ALLOC_H

#include <stddef.h>

/* Zeroed memory of length bytes (rounded up to 128) on a 128-byte boundary (free with free());
 * NULL with SHOAL_ENOMEM "WHAT: out of memory" set. */
void *shoal_alloc_cache_aligned(size_t length, const char *what);

#endif
