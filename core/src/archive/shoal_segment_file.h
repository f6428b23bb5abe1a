/*
 * Segment files: plain I/O on the files holding a recording's frames. Every
 * failure sets SHOAL_EIO with the path and strerror; a full device says so
 * ("no space left on device").
 */
#ifndef SHOAL_SEGMENT_FILE_H
#define SHOAL_SEGMENT_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shoal/shoal_archive.h"

/* Creates (O_EXCL, 0600) a segment of length bytes with its blocks reserved
 * (fallocate; where the filesystem cannot, the file is only sized), so a full
 * device fails here rather than mid-recording. Returns the fd (read-write). */
int shoal_segment_create(const char *path, int64_t length);

/* Opens an existing segment read-only (or read-write); the fd, or -1 with
 * SHOAL_EIO; *missing (if not NULL) tells ENOENT apart and then no error is set. */
int shoal_segment_open(const char *path, bool writable, bool *missing);

/* The segment file of a recording holding a position, kept open while the
 * reads stay inside it: what the readers and the scans read through. */
typedef struct shoal_segment_view_stct
{
    int fd; /* -1: none open */
    int64_t base;
    char path[PATH_MAX];
} shoal_segment_view_t;

void shoal_segment_view_init(shoal_segment_view_t *v);
/* Makes v the segment of recording d (in dir) that holds position: 0, 1 if
 * that file does not exist (no error set), -1. */
int shoal_segment_view_at(shoal_segment_view_t *v, const char *dir, const shoal_recording_descriptor_t *d,
    int64_t position);
/* Reads len bytes at stream position (inside v's segment): bytes read (short
 * at the file's end), or -1. */
ssize_t shoal_segment_view_read(shoal_segment_view_t *v, void *buf, size_t len, int64_t position);
void shoal_segment_view_close(shoal_segment_view_t *v);

/* pread until len bytes or end of file: bytes read (>= 0), or -1. */
ssize_t shoal_file_pread_full(int fd, void *buf, size_t len, int64_t offset, const char *path);

/* pwrite/pwritev until everything is written, or -1 (ENOSPC named). */
int shoal_file_pwrite_full(int fd, const void *buf, size_t len, int64_t offset, const char *path);

/* Makes [offset, offset + len) read as zeros (punches a hole where the
 * filesystem can, else writes zeros); the file keeps its length. */
int shoal_file_zero_range(int fd, int64_t offset, int64_t len, const char *path);

/* fdatasync, or -1 naming path. */
int shoal_file_sync(int fd, const char *path);

/* fsync of a directory so a created or removed entry is durable. */
int shoal_dir_sync(const char *dir);

/* unlink; a missing file is not an error. */
int shoal_file_remove(const char *path);

#endif
