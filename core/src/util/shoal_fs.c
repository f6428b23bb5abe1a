/*
 * File helpers for the driver directory. Everything the driver creates is
 * private to the user (0700 directories, 0600 files, set explicitly so the
 * umask cannot widen or narrow it), and every failure names the path.
 */
#include "util/shoal_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/shoal_error.h"

/* The driver directory and cnc.dat are a trust boundary: whoever can write
 * them can steer the driver and every client. Another user may have
 * pre-created /dev/shm/shoal-$USER, so ownership and write bits are checked,
 * and the message says how to get out of it. */
static int fs_check_private_stat(const struct stat *st, const char *path, bool is_dir)
{
    const char *what = is_dir ? "driver directory" : "file";
    if (is_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
    {
        return shoal_set_err(SHOAL_EIO, "'%s' exists and is not a %s", path, is_dir ? "directory" : "regular file");
    }
    if (st->st_uid != geteuid())
    {
        return shoal_set_err(SHOAL_EIO,
            "%s %s is owned by uid %u, not %u: remove it or set SHOAL_DIR to a directory "
            "of your own",
            what, path, (unsigned)st->st_uid, (unsigned)geteuid());
    }
    if (0 != (st->st_mode & (S_IWGRP | S_IWOTH)))
    {
        return shoal_set_err(SHOAL_EIO,
            "%s %s is writable by group or others (mode %04o): chmod %s it, remove it, "
            "or set SHOAL_DIR",
            what, path, (unsigned)(st->st_mode & 07777), is_dir ? "700" : "600");
    }
    return 0;
}

int shoal_fs_check_private_fd(int fd, const char *path, bool is_dir)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat '%s'", path);
    }
    return fs_check_private_stat(&st, path, is_dir);
}

/* lstat, not stat: a symlink in place of the directory would let whoever
 * made it choose where the driver creates and deletes files. */
static int fs_check_private_dir(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat directory '%s'", path);
    }
    if (S_ISLNK(st.st_mode))
    {
        return shoal_set_err(SHOAL_EIO,
            "directory '%s' is a symbolic link: the driver does not follow it; remove "
            "the link or set SHOAL_DIR to the real directory",
            path);
    }
    return fs_check_private_stat(&st, path, true);
}

static int fs_mkdir_one(const char *path, bool is_final)
{
    if (mkdir(path, 0700) == 0)
    {
        if (chmod(path, 0700) != 0)
        {
            return shoal_set_err_errno(SHOAL_EIO, errno, "cannot chmod 0700 directory '%s'", path);
        }
        return 0;
    }
    int err = errno;
    if (err != EEXIST)
    {
        return shoal_set_err_errno(SHOAL_EIO, err, "cannot create directory '%s'", path);
    }
    if (is_final)
    {
        return fs_check_private_dir(path);
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    {
        return shoal_set_err(SHOAL_EIO, "'%s' exists and is not a directory", path);
    }
    return 0;
}

int shoal_fs_mkdir_private(const char *path)
{
    if (path == NULL || path[0] == '\0')
    {
        return shoal_set_err(SHOAL_EINVAL, "directory path is NULL or empty");
    }
    size_t length = strlen(path);
    if (length >= PATH_MAX)
    {
        return shoal_set_err(SHOAL_EINVAL, "directory path longer than %d: '%.100s...'", PATH_MAX - 1, path);
    }
    char buf[PATH_MAX];
    memcpy(buf, path, length + 1);
    while (length > 1 && buf[length - 1] == '/')
    {
        buf[--length] = '\0';
    }
    for (size_t i = 1; i < length; i++)
    {
        if (buf[i] == '/' && buf[i - 1] != '/')
        {
            buf[i] = '\0';
            int rc = fs_mkdir_one(buf, false);
            buf[i] = '/';
            if (rc < 0)
            {
                return -1;
            }
        }
    }
    return fs_mkdir_one(buf, true);
}

/* The message a user needs when the driver directory's filesystem is full:
 * where, what, how much was needed and how much there is, and the ways out. */
static int fs_no_space(const char *path, int fd, size_t length)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    const char *file = path;
    if (slash != NULL)
    {
        *slash = '\0';
        file = slash + 1;
    }
    else
    {
        snprintf(dir, sizeof(dir), ".");
    }
    struct statvfs vfs;
    unsigned long long available = 0;
    bool known = fstatvfs(fd, &vfs) == 0;
    if (known)
    {
        available = (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize;
    }
    char free_text[64] = "unknown";
    if (known)
    {
        snprintf(free_text, sizeof(free_text), "%llu bytes", available);
    }
    return shoal_set_err(SHOAL_EIO,
        "no space left in '%s' for '%s': %zu bytes needed, %s available; free space there, enlarge that "
        "filesystem (Docker: --shm-size), use a smaller term-length, or put the driver directory elsewhere "
        "(SHOAL_DIR)",
        dir, file, length, free_text);
}

int shoal_fs_map_new(const char *path, size_t length, bool reserve, void **addr)
{
    if (path == NULL || addr == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_fs_map_new: NULL argument");
    }
    if (length == 0 || length > (size_t)INT64_MAX)
    {
        return shoal_set_err(SHOAL_EINVAL, "cannot map '%s' with length %zu", path, length);
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot create '%s'", path);
    }
    int err;
    const char *what;
    if (fchmod(fd, 0600) != 0)
    {
        err = errno;
        what = "chmod 0600";
        goto fail;
    }
    if (ftruncate(fd, (off_t)length) != 0)
    {
        err = errno;
        what = "set length of";
        goto fail;
    }
    if (reserve)
    {
        /* A sparse file on tmpfs is backed page by page as it is first written,
         * and a page that cannot be backed raises SIGBUS in whoever touches it
         * (a publisher's offer, the driver's receiver). Reserving every page
         * now turns a full /dev/shm into this error instead. */
        err = posix_fallocate(fd, 0, (off_t)length);
        if (err == ENOSPC || err == EFBIG)
        {
            fs_no_space(path, fd, length);
            close(fd);
            unlink(path);
            return -1;
        }
        if (err != 0)
        {
            what = "allocate space for";
            goto fail;
        }
    }
    /* Reserved pages are mapped in now, not one page fault at a time in the
     * conductor's cleaning and the first pass of the stream (a page fault
     * costs microseconds in a VM). A sparse file stays sparse. */
    void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | (reserve ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED)
    {
        err = errno;
        what = "map";
        goto fail;
    }
    close(fd);
    *addr = p;
    return 0;

fail:
    close(fd);
    unlink(path);
    return shoal_set_err_errno(SHOAL_EIO, err, "cannot %s '%s' (%zu bytes)", what, path, length);
}

int shoal_fs_map_existing(const char *path, bool writable, void **addr, size_t *length)
{
    if (path == NULL || addr == NULL || length == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_fs_map_existing: NULL argument");
    }
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
    {
        if (ELOOP == errno)
        {
            return shoal_set_err(SHOAL_EIO, "'%s' is a symbolic link: not followed", path);
        }
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot open '%s'", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
    {
        int err = errno;
        close(fd);
        return shoal_set_err_errno(SHOAL_EIO, err, "cannot stat '%s'", path);
    }
    if (!S_ISREG(st.st_mode))
    {
        close(fd);
        return shoal_set_err(SHOAL_EIO, "'%s' is not a regular file", path);
    }
    if (st.st_size <= 0)
    {
        close(fd);
        return shoal_set_err(SHOAL_EIO, "'%s' is empty", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX)
    {
        close(fd);
        return shoal_set_err(SHOAL_EIO, "'%s' is too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED)
    {
        return shoal_set_err_errno(SHOAL_EIO, err, "cannot map '%s' (%zu bytes)", path, size);
    }
    *addr = p;
    *length = size;
    return 0;
}

int shoal_fs_unmap(void *addr, size_t length)
{
    if (addr == NULL || length == 0)
    {
        return 0;
    }
    if (munmap(addr, length) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot unmap %zu bytes at %p", length, addr);
    }
    return 0;
}

/* Deletes everything inside the directory open as dirfd (consumed). path is for messages. */
static int fs_delete_contents_fd(int dirfd, const char *path, int depth)
{
    if (depth > 64)
    {
        close(dirfd);
        return shoal_set_err(SHOAL_EIO, "directory tree under '%s' nested too deep to delete", path);
    }
    DIR *dir = fdopendir(dirfd);
    if (dir == NULL)
    {
        int err = errno;
        close(dirfd);
        return shoal_set_err_errno(SHOAL_EIO, err, "cannot read directory '%s'", path);
    }
    int result = 0;
    struct dirent *entry;
    for (;;)
    {
        errno = 0;
        entry = readdir(dir);
        if (entry == NULL)
        {
            if (errno != 0)
            {
                result = shoal_set_err_errno(SHOAL_EIO, errno, "cannot read directory '%s'", path);
            }
            break;
        }
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
            if (errno == ENOENT)
            {
                continue;
            }
            result = shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat '%s/%s'", path, name);
            break;
        }
        if (S_ISDIR(st.st_mode))
        {
            char child[PATH_MAX];
            int n = snprintf(child, sizeof(child), "%s/%s", path, name);
            if (n < 0 || (size_t)n >= sizeof(child))
            {
                result = shoal_set_err(SHOAL_EIO, "path under '%s' longer than %d to delete", path, PATH_MAX - 1);
                break;
            }
            int child_fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child_fd < 0)
            {
                result = shoal_set_err_errno(SHOAL_EIO, errno, "cannot open directory '%s'", child);
                break;
            }
            if (fs_delete_contents_fd(child_fd, child, depth + 1) < 0)
            {
                result = -1;
                break;
            }
            if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
            {
                result = shoal_set_err_errno(SHOAL_EIO, errno, "cannot remove directory '%s'", child);
                break;
            }
        }
        else if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
        {
            result = shoal_set_err_errno(SHOAL_EIO, errno, "cannot delete '%s/%s'", path, name);
            break;
        }
    }
    closedir(dir);
    return result;
}

int shoal_fs_delete_dir_contents(const char *path)
{
    if (path == NULL || path[0] == '\0')
    {
        return shoal_set_err(SHOAL_EINVAL, "directory path is NULL or empty");
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
    {
        int err = errno;
        struct stat st;
        if (0 == lstat(path, &st) && S_ISLNK(st.st_mode))
        {
            return shoal_set_err(SHOAL_EIO, "'%s' is a symbolic link: not followed", path);
        }
        return shoal_set_err_errno(SHOAL_EIO, err, "cannot open directory '%s'", path);
    }
    return fs_delete_contents_fd(fd, path, 0);
}

int shoal_fs_delete_dir(const char *path)
{
    if (shoal_fs_delete_dir_contents(path) < 0)
    {
        return -1;
    }
    if (rmdir(path) != 0 && errno != ENOENT)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot remove directory '%s'", path);
    }
    return 0;
}

bool shoal_fs_exists(const char *path)
{
    struct stat st;
    return path != NULL && stat(path, &st) == 0;
}

long long shoal_fs_file_length(const char *path)
{
    struct stat st;
    if (path == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "file path is NULL");
    }
    if (stat(path, &st) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat '%s'", path);
    }
    return (long long)st.st_size;
}
