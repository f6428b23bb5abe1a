#include "util/shoal_alloc.h"

#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

void *shoal_alloc_cache_aligned(size_t length, const char *what)
{
    size_t rounded = SHOAL_ALIGN(length, SHOAL_CACHE_PAD_LENGTH);
    void *memory = aligned_alloc(SHOAL_CACHE_PAD_LENGTH, rounded);
    if (NULL == memory)
    {
        shoal_set_err(SHOAL_ENOMEM, "%s: out of memory", what);
        return NULL;
    }
    memset(memory, 0, rounded);
    return memory;
}
