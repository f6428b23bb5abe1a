/*
 * Allocation of objects that threads share: each starts on its own cache
 * line, so a neighbour's writes never invalidate the line that holds its
 * hot fields. Not for the data path (it calls the allocator).
 */
#ifndef SHOAL_ALLOC_H
#define SHOAL_ALLOC_H

#include <stddef.h>

/* Zeroed memory of length bytes on a cache-line boundary (free with free());
 * NULL with SHOAL_ENOMEM "WHAT: out of memory" set. */
void *shoal_alloc_cache_aligned(size_t length, const char *what);

#endif
