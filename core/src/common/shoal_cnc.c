#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_fs.h"

int shoal_cnc_view_init(shoal_cnc_view_t *view, uint8_t *base, size_t length)
{
    shoal_cnc_metadata_t *m = (shoal_cnc_metadata_t *)base;
    if (length < SHOAL_CNC_HEADER_LENGTH)
    {
        return shoal_set_err(SHOAL_EIO, "cnc file too short (%zu bytes)", length);
    }
    int32_t version = shoal_load_acquire(&m->cnc_version);
    if ((version >> 16) != (SHOAL_CNC_VERSION >> 16))
    {
        return shoal_set_err(SHOAL_EIO, "cnc file version %d.%d.%d does not match this library's %d.%d.%d",
            version >> 16, (version >> 8) & 0xFF, version & 0xFF, SHOAL_CNC_VERSION >> 16,
            (SHOAL_CNC_VERSION >> 8) & 0xFF, SHOAL_CNC_VERSION & 0xFF);
    }
    if (m->to_driver_buffer_length <= 0 || m->to_clients_buffer_length <= 0 ||
        m->counters_metadata_buffer_length <= 0 || m->counters_values_buffer_length <= 0 ||
        m->error_log_buffer_length <= 0 || shoal_cnc_computed_length_of(m, version) > length)
    {
        return shoal_set_err(SHOAL_EIO, "cnc file header is corrupt: regions exceed the file length %zu", length);
    }
    /* Rings, counters and the error log hold 4- and 8-byte atomics. */
    if (0 !=
        ((m->to_driver_buffer_length | m->to_clients_buffer_length | m->counters_metadata_buffer_length |
             m->counters_values_buffer_length | m->error_log_buffer_length |
             (int32_t)shoal_cnc_loss_report_length(m, version)) &
            7))
    {
        return shoal_set_err(SHOAL_EIO, "cnc file header is corrupt: region lengths are not multiples of 8");
    }
    view->base = base;
    view->length = length;
    view->meta = m;
    view->to_driver = base + SHOAL_CNC_HEADER_LENGTH;
    view->to_clients = view->to_driver + m->to_driver_buffer_length;
    view->counters_metadata = view->to_clients + m->to_clients_buffer_length;
    view->counters_values = view->counters_metadata + m->counters_metadata_buffer_length;
    view->error_log = view->counters_values + m->counters_values_buffer_length;
    view->loss_report_length = shoal_cnc_loss_report_length(m, version);
    view->loss_report = view->loss_report_length > 0 ? view->error_log + m->error_log_buffer_length : NULL;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Opens cnc.dat for mapping: 0 with *fd_out, 1 while it does not exist yet,
 * -1 on error. A writer (a client) maps what steers the driver and itself,
 * so the directory and the file must be its user's and writable by nobody
 * else; readers (tools, a liveness probe) may look at another user's driver.
 * Neither follows a symlinked cnc.dat, nor blocks on a FIFO planted there. */
static int cnc_open(const char *dir, const char *path, bool writable, int *fd_out)
{
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
    {
        return ENOENT == errno ? 1 : shoal_set_err_errno(SHOAL_EIO, errno, "cannot open driver directory %s", dir);
    }
    if (writable && shoal_fs_check_private_fd(dir_fd, dir, true) < 0)
    {
        close(dir_fd);
        return -1;
    }
    int fd = openat(dir_fd, SHOAL_CNC_FILE, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    close(dir_fd);
    if (fd < 0)
    {
        if (ENOENT == e)
        {
            return 1;
        }
        if (ELOOP == e)
        {
            return shoal_set_err(SHOAL_EIO, "%s is a symbolic link: not followed; remove it and restart the driver",
                path);
        }
        return shoal_set_err_errno(SHOAL_EIO, e, "open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
    {
        e = errno;
        close(fd);
        return shoal_set_err_errno(SHOAL_EIO, e, "stat %s", path);
    }
    if (!S_ISREG(st.st_mode))
    {
        close(fd);
        return shoal_set_err(SHOAL_EIO, "%s is not a regular file", path);
    }
    if (writable && shoal_fs_check_private_fd(fd, path, false) < 0)
    {
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int shoal_cnc_map(const char *dir, bool writable, uint64_t timeout_ms, shoal_cnc_view_t *view)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, SHOAL_CNC_FILE);
    int64_t deadline = shoal_epoch_ms() + (int64_t)timeout_ms;

    for (;;)
    {
        int fd = -1;
        int rc = cnc_open(dir, path, writable, &fd);
        if (rc < 0)
        {
            return -1;
        }
        if (rc > 0)
        {
            if (shoal_epoch_ms() < deadline)
            {
                sleep_ms(10);
                continue;
            }
            return shoal_set_err(SHOAL_ENODRIVER, "no driver running in %s (no %s)", dir, SHOAL_CNC_FILE);
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
        {
            int e = errno;
            close(fd);
            return shoal_set_err_errno(SHOAL_EIO, e, "stat %s", path);
        }
        if ((size_t)st.st_size < SHOAL_CNC_HEADER_LENGTH)
        {
            close(fd);
            if (shoal_epoch_ms() < deadline)
            {
                sleep_ms(10);
                continue;
            }
            return shoal_set_err(SHOAL_ENODRIVER, "%s is incomplete: driver still starting or dead", path);
        }
        void *addr = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
        int e = errno;
        close(fd);
        if (MAP_FAILED == addr)
        {
            return shoal_set_err_errno(SHOAL_EIO, e, "mmap %s", path);
        }
        shoal_cnc_metadata_t *m = (shoal_cnc_metadata_t *)addr;
        if (0 == shoal_load_acquire(&m->cnc_version))
        {
            munmap(addr, (size_t)st.st_size);
            if (shoal_epoch_ms() < deadline)
            {
                sleep_ms(10);
                continue;
            }
            return shoal_set_err(SHOAL_ENODRIVER, "%s is not initialised: driver still starting or dead", path);
        }
        if (shoal_cnc_view_init(view, addr, (size_t)st.st_size) < 0)
        {
            munmap(addr, (size_t)st.st_size);
            return -1;
        }
        return 0;
    }
}

void shoal_cnc_unmap(shoal_cnc_view_t *view)
{
    if (NULL != view->base)
    {
        munmap(view->base, view->length);
        view->base = NULL;
    }
}
