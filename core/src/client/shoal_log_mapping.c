/* Maps log buffer files; the reference-counted mapping images read through. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

int shoal_log_map(const char *path, uint8_t **mapped, size_t *length, shoal_logbuffer_metadata_t **meta,
    int32_t *term_length)
{
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot open log buffer %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
    {
        int e = errno;
        close(fd);
        return shoal_set_err_errno(SHOAL_EIO, e, "cannot stat log buffer %s", path);
    }
    size_t len = (size_t)st.st_size;
    if (len < SHOAL_LOG_META_DATA_LENGTH + 3 * (size_t)SHOAL_LOGBUFFER_TERM_MIN_LENGTH)
    {
        close(fd);
        return shoal_set_err(SHOAL_EIO, "log buffer %s is too short (%zu bytes)", path, len);
    }
    /* A log whose blocks are all allocated (the default: not sparse=true) is
     * mapped in whole now, so the publisher's and subscriber's first pass
     * through each page takes no page fault; a sparse one stays sparse. */
    const bool allocated = (uint64_t)st.st_blocks * 512U >= (uint64_t)st.st_size;
    void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | (allocated ? MAP_POPULATE : 0), fd, 0);
    int e = errno;
    close(fd);
    if (MAP_FAILED == addr)
    {
        return shoal_set_err_errno(SHOAL_EIO, e, "cannot map log buffer %s", path);
    }
    int32_t tl = (int32_t)((len - SHOAL_LOG_META_DATA_LENGTH) / 3);
    shoal_logbuffer_metadata_t *m = shoal_logbuffer_metadata(addr, tl);
    if (m->term_length != tl || shoal_logbuffer_check_term_length(tl) < 0)
    {
        munmap(addr, len);
        return shoal_set_err(SHOAL_EIO, "log buffer %s is corrupt (term length %d, file %zu bytes)", path,
            m->term_length, len);
    }
    *mapped = addr;
    *length = len;
    *meta = m;
    *term_length = tl;
    return 0;
}

/*
 * A reference-counted mapping of an image's log. The image holds one
 * reference; shoal_subscription_retain_mapping hands out more, so memory a
 * binding exported (a Python memoryview, a numpy array made from it) stays
 * mapped after the image is gone. The last release unmaps, on whichever
 * thread drops it.
 */
struct shoal_mapping_stct
{
    uint8_t *addr;
    size_t length;
    int32_t references;
};

int shoal_mapping_open(const char *path, shoal_mapping_t **mappingp, shoal_logbuffer_metadata_t **meta,
    int32_t *term_length)
{
    shoal_mapping_t *m = malloc(sizeof(*m));
    if (NULL == m)
    {
        return shoal_set_err(SHOAL_ENOMEM, "log mapping: out of memory");
    }
    if (shoal_log_map(path, &m->addr, &m->length, meta, term_length) < 0)
    {
        free(m);
        return -1;
    }
    m->references = 1;
    *mappingp = m;
    return 0;
}

uint8_t *shoal_mapping_addr(const shoal_mapping_t *m)
{
    return m->addr;
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
        return false;
    }
    uintptr_t begin = (uintptr_t)m->addr, at = (uintptr_t)data;
    return at >= begin && at - begin <= m->length && length <= m->length - (at - begin);
}

int shoal_mapping_release(shoal_mapping_t *m)
{
    if (NULL == m)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_mapping_release: mapping must not be NULL");
    }
    if (1 == shoal_get_and_add(&m->references, -1))
    {
        munmap(m->addr, m->length);
        free(m);
    }
    return 0;
}
