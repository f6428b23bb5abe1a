/*
 * Segment file I/O (see shoal_segment_file.h).
 */
#include "archive/shoal_segment_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/shoal_archive_format.h"
#include "util/shoal_error.h"

static int io_error(int errnum, const char *what, const char *path)
{
    if (errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG)
    {
        return shoal_set_err_errno(SHOAL_EIO, errnum, "no space left to %s %s", what, path);
    }
    return shoal_set_err_errno(SHOAL_EIO, errnum, "cannot %s %s", what, path);
}

int shoal_segment_create(const char *path, int64_t length)
{
    const int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
    {
        return io_error(errno, "create segment", path);
    }
    int rc = fallocate(fd, 0, 0, (off_t)length);
    if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
    {
        rc = ftruncate(fd, (off_t)length);
    }
    if (rc != 0)
    {
        const int errnum = errno;
        close(fd);
        unlink(path);
        return io_error(errnum, "reserve the blocks of segment", path);
    }
    return fd;
}

int shoal_segment_open(const char *path, bool writable, bool *missing)
{
    if (missing != NULL)
    {
        *missing = false;
    }
    const int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
    {
        if (errno == ENOENT && missing != NULL)
        {
            *missing = true;
            return -1;
        }
        return io_error(errno, "open segment", path);
    }
    return fd;
}

ssize_t shoal_file_pread_full(int fd, void *buf, size_t len, int64_t offset, const char *path)
{
    size_t done = 0;
    while (done < len)
    {
        const ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(offset + (int64_t)done));
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            return io_error(errno, "read", path);
        }
        if (n == 0)
        {
            break;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int shoal_file_pwrite_full(int fd, const void *buf, size_t len, int64_t offset, const char *path)
{
    size_t done = 0;
    while (done < len)
    {
        const ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(offset + (int64_t)done));
        if (n < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            return io_error(errno, "write", path);
        }
        done += (size_t)n;
    }
    return 0;
}

int shoal_file_zero_range(int fd, int64_t offset, int64_t len, const char *path)
{
    if (len <= 0)
    {
        return 0;
    }
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len) == 0)
    {
        return 0;
    }
    static const uint8_t zeros[65536];
    for (int64_t done = 0; done < len;)
    {
        const size_t n = (size_t)(len - done < (int64_t)sizeof(zeros) ? len - done : (int64_t)sizeof(zeros));
        if (shoal_file_pwrite_full(fd, zeros, n, offset + done, path) < 0)
        {
            return -1;
        }
        done += (int64_t)n;
    }
    return 0;
}

int shoal_file_sync(int fd, const char *path)
{
    if (fdatasync(fd) != 0)
    {
        return io_error(errno, "sync", path);
    }
    return 0;
}

int shoal_dir_sync(const char *dir)
{
    const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
    {
        return io_error(errno, "open directory", dir);
    }
    const int rc = fsync(fd);
    const int errnum = errno;
    close(fd);
    return rc == 0 ? 0 : io_error(errnum, "sync directory", dir);
}

int shoal_file_remove(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
    {
        return io_error(errno, "remove", path);
    }
    return 0;
}

void shoal_segment_view_init(shoal_segment_view_t *v)
{
    v->fd = -1;
    v->base = -1;
    v->path[0] = '\0';
}

int shoal_segment_view_at(shoal_segment_view_t *v, const char *dir, const shoal_recording_descriptor_t *d,
    int64_t position)
{
    const int64_t base = shoal_segment_base(d->start_position, position, d->term_length, d->segment_length);
    if (v->fd >= 0 && v->base == base)
    {
        return 0;
    }
    shoal_segment_view_close(v);
    if (shoal_segment_file_name(v->path, sizeof(v->path), dir, d->recording_id, base) < 0)
    {
        return -1;
    }
    bool missing;
    v->fd = shoal_segment_open(v->path, false, &missing);
    if (v->fd < 0)
    {
        return missing ? 1 : -1;
    }
    v->base = base;
    return 0;
}

ssize_t shoal_segment_view_read(shoal_segment_view_t *v, void *buf, size_t len, int64_t position)
{
    return shoal_file_pread_full(v->fd, buf, len, position - v->base, v->path);
}

void shoal_segment_view_close(shoal_segment_view_t *v)
{
    if (v->fd >= 0)
    {
        close(v->fd);
    }
    v->fd = -1;
    v->base = -1;
}
