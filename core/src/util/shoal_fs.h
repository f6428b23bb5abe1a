/*
 * File helpers for the driver directory (cnc.dat, log buffers). Every error
 * sets SHOAL_EIO (SHOAL_EINVAL for bad arguments) with a message naming the
 * path and strerror. Files and directories are private to the user: 0600 and
 * 0700 regardless of umask.
 */
#ifndef SHOAL_FS_H
#define SHOAL_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "shoal/shoal.h"

/* mkdir -p with mode 0700. An existing final directory must be a real
 * directory (not a symlink) owned by the effective user and not writable by
 * group or others, else an error naming the path and the fix. */
int shoal_fs_mkdir_private(const char *path);

/* The same ownership and write-bit checks on an open directory (is_dir) or
 * regular file; path is for the message. */
int shoal_fs_check_private_fd(int fd, const char *path, bool is_dir);

/* Creates path (O_EXCL, 0600 via fchmod so umask does not matter), sizes it to
 * length and maps it shared read-write at *addr. reserve allocates every block
 * now (posix_fallocate), so a full filesystem is an error here ("no space left
 * in DIR for FILE: N bytes needed, M available") rather than SIGBUS when a page
 * is first written; without it the file is sparse. On failure no file is left
 * behind. */
int shoal_fs_map_new(const char *path, size_t length, bool reserve, void **addr);

/* Maps an existing file whole, shared, read-only or read-write; *length gets
 * its size. An empty file or a symlink (not followed) is an error. */
int shoal_fs_map_existing(const char *path, bool writable, void **addr, size_t *length);

int shoal_fs_unmap(void *addr, size_t length);

/* Removes everything inside directory path (recursively), keeping path itself.
 * Does not follow symlinks: inside, they are unlinked; path itself being one
 * is an error. */
int shoal_fs_delete_dir_contents(const char *path);

/* Removes path and everything inside it. */
int shoal_fs_delete_dir(const char *path);

bool shoal_fs_exists(const char *path);

/* Size of a regular file, or -1 with SHOAL_EIO. */
long long shoal_fs_file_length(const char *path);

#endif
