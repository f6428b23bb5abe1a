/*
 * Read-only catalog file access (see shoal_catalog_file.h).
 */
#include "archive/shoal_catalog_file.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "archive/shoal_segment_file.h"
#include "util/shoal_error.h"

#define READ_YIELDS 3

static int read_sleeps = 3;

void shoal_catalog_file_set_retry_sleeps(int sleeps)
{
    read_sleeps = sleeps < 0 ? 0 : sleeps;
}

int shoal_catalog_file_open_read(const char *dir, char *path, size_t path_len)
{
    if (shoal_catalog_file_name(path, path_len, dir) < 0)
    {
        return -1;
    }
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot open the archive catalog %s", path);
    }
    shoal_catalog_header_t h;
    const ssize_t n = shoal_file_pread_full(fd, &h, sizeof(h), 0, path);
    if (n < 0 || (n < (ssize_t)sizeof(h) && shoal_set_err(SHOAL_EIO, "%s: catalog shorter than its header", path)) ||
        shoal_catalog_header_check(&h, path) < 0)
    {
        close(fd);
        return -1;
    }
    return fd;
}

int64_t shoal_catalog_file_slots(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat %s", path);
    }
    if (st.st_size < SHOAL_CATALOG_HEADER_LENGTH)
    {
        return shoal_set_err(SHOAL_EIO, "%s: catalog shorter than its header", path);
    }
    return (st.st_size - SHOAL_CATALOG_HEADER_LENGTH) / SHOAL_CATALOG_RECORD_LENGTH;
}

int shoal_catalog_file_read_record(int fd, const char *path, int64_t id, shoal_catalog_record_t *rec, int32_t *state)
{
    const int64_t offset = SHOAL_CATALOG_HEADER_LENGTH + id * SHOAL_CATALOG_RECORD_LENGTH;
    int rc = -1;
    for (int attempt = 0; attempt <= READ_YIELDS + read_sleeps; attempt++)
    {
        const ssize_t n = shoal_file_pread_full(fd, rec, sizeof(*rec), offset, path);
        if (n < 0)
        {
            return -1;
        }
        if (n < (ssize_t)sizeof(*rec))
        {
            return shoal_set_err(SHOAL_EIO, "%s: recording %lld: record cut short", path, (long long)id);
        }
        rc = shoal_catalog_record_check(rec, id, path, state);
        if (rc >= 0 || attempt == READ_YIELDS + read_sleeps)
        {
            return rc;
        }
        /* A writer's pwrite of one record is a page-cache copy, over in
         * microseconds unless the writer was preempted mid-copy. */
        if (attempt < READ_YIELDS)
        {
            sched_yield();
        }
        else
        {
            const struct timespec pause = { 0, 1000000 };
            nanosleep(&pause, NULL);
        }
    }
    return rc;
}

int shoal_catalog_records_reserve(shoal_catalog_records_t *records, int64_t count)
{
    if (count <= records->capacity)
    {
        return 0;
    }
    int64_t capacity = records->capacity > 0 ? records->capacity * 2 : 16;
    while (capacity < count)
    {
        capacity *= 2;
    }
    shoal_catalog_record_t **by_id = realloc(records->by_id, (size_t)capacity * sizeof(*by_id));
    if (by_id != NULL)
    {
        records->by_id = by_id;
    }
    bool *writing = realloc(records->writing, (size_t)capacity * sizeof(*writing));
    if (writing != NULL)
    {
        records->writing = writing;
    }
    if (by_id == NULL || writing == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "catalog of %" PRId64 " recordings", capacity);
    }
    for (int64_t id = records->capacity; id < capacity; id++)
    {
        by_id[id] = NULL;
        writing[id] = false;
    }
    records->capacity = capacity;
    return 0;
}

void shoal_catalog_records_free(shoal_catalog_records_t *records)
{
    for (int64_t id = 0; id < records->capacity; id++)
    {
        free(records->by_id[id]);
    }
    free(records->by_id);
    free(records->writing);
    records->by_id = NULL;
    records->writing = NULL;
    records->capacity = 0;
}
