#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/shoal_client.h"
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
    void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
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
