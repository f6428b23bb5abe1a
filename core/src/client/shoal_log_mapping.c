/* The reference-counted log mapping images read through (the log itself: logbuffer/shoal_log_buffer.h). */
#include <stdlib.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

/*
 * A reference-counted mapping of an image's log. The image holds one
 * reference; shoal_subscription_retain_mapping hands out more, so memory a
 * binding exported (a Python memoryview, a numpy array made from it) stays
 * mapped after the image is gone. The last release unmaps, on whichever
 * thread drops it.
 */
struct shoal_mapping_stct
{
    shoal_log_buffer_t log;
    int32_t references;
};

int shoal_mapping_open(const char *path, shoal_mapping_t **mappingp)
{
    shoal_mapping_t *m = malloc(sizeof(*m));
    if (NULL == m)
    {
        return shoal_set_err(SHOAL_ENOMEM, "log mapping: out of memory");
    }
    if (shoal_log_buffer_map(&m->log, path) < 0)
    {
        free(m);
        return -1;
    }
    m->references = 1;
    *mappingp = m;
    return 0;
}

const shoal_log_buffer_t *shoal_mapping_log(const shoal_mapping_t *m)
{
    return &m->log;
}

void shoal_mapping_acquire(shoal_mapping_t *m)
{
    shoal_get_and_add(&m->references, 1);
}

bool shoal_mapping_contains(const shoal_mapping_t *m, const uint8_t *data, size_t length)
{
    /* Compared as integers: relational operators between pointers into
     * different objects are undefined. */
    if (NULL == m || NULL == data)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_mapping_contains: mapping and data must not be NULL");
        return false;
    }
    uintptr_t begin = (uintptr_t)m->log.mapped, at = (uintptr_t)data;
    return at >= begin && at - begin <= m->log.mapped_length && length <= m->log.mapped_length - (at - begin);
}

size_t shoal_mapping_pre_touch(shoal_mapping_t *m, size_t offset, size_t max_bytes)
{
    /* Ours is the last reference: the image is gone, nobody reads it. */
    if (1 == shoal_load_acquire(&m->references))
    {
        return m->log.mapped_length;
    }
    return shoal_log_buffer_pre_touch(&m->log, SHOAL_LOG_TOUCH_READ, offset, max_bytes);
}

int shoal_mapping_release(shoal_mapping_t *m)
{
    if (NULL == m)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_mapping_release: mapping must not be NULL");
    }
    if (1 == shoal_get_and_add(&m->references, -1))
    {
        shoal_log_buffer_unmap(&m->log);
        free(m);
    }
    return 0;
}
