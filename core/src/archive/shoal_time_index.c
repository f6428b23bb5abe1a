/*
 * Time index files (see shoal_time_index.h).
 */
#include "archive/shoal_time_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/shoal_segment_file.h"
#include "util/shoal_error.h"

#define ENTRY_LENGTH ((int64_t)sizeof(shoal_time_index_entry_t))

static void header_init(shoal_time_index_header_t *h, int64_t id)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, SHOAL_TIME_INDEX_MAGIC, sizeof(h->magic));
    h->version = SHOAL_TIME_INDEX_VERSION;
    h->entry_length = (int32_t)ENTRY_LENGTH;
    h->recording_id = id;
}

static int header_check(int fd, int64_t id, const char *path)
{
    shoal_time_index_header_t h;
    const ssize_t n = shoal_file_pread_full(fd, &h, sizeof(h), 0, path);
    if (n < 0)
    {
        return -1;
    }
    if ((size_t)n < sizeof(h) || memcmp(h.magic, SHOAL_TIME_INDEX_MAGIC, sizeof(h.magic)) != 0 ||
        h.version != SHOAL_TIME_INDEX_VERSION || h.entry_length != ENTRY_LENGTH || h.recording_id != id)
    {
        return shoal_set_err(SHOAL_EIO, "%s: not a time index of recording %lld (bad header)", path, (long long)id);
    }
    return 0;
}

static int64_t whole_entries(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat %s", path);
    }
    return st.st_size <= SHOAL_TIME_INDEX_HEADER_LENGTH ? 0
                                                        : (st.st_size - SHOAL_TIME_INDEX_HEADER_LENGTH) / ENTRY_LENGTH;
}

int shoal_time_index_writer_open(shoal_time_index_writer_t *w, const char *dir, int64_t id)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (shoal_time_index_file_name(w->path, sizeof(w->path), dir, id) < 0)
    {
        return -1;
    }
    w->fd = open(w->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot create %s", w->path);
    }
    shoal_time_index_header_t h;
    header_init(&h, id);
    if (shoal_file_pwrite_full(w->fd, &h, sizeof(h), 0, w->path) < 0)
    {
        close(w->fd);
        w->fd = -1;
        return -1;
    }
    return 0;
}

int shoal_time_index_writer_flush(shoal_time_index_writer_t *w, bool sync)
{
    if (w->buffered > 0)
    {
        const int64_t offset = SHOAL_TIME_INDEX_HEADER_LENGTH + w->file_entries * ENTRY_LENGTH;
        if (shoal_file_pwrite_full(w->fd, w->buffer, (size_t)w->buffered * sizeof(w->buffer[0]), offset, w->path) < 0)
        {
            return -1;
        }
        w->file_entries += w->buffered;
        w->buffered = 0;
    }
    return sync ? shoal_file_sync(w->fd, w->path) : 0;
}

int shoal_time_index_writer_append(shoal_time_index_writer_t *w, int64_t position, int64_t time_ns)
{
    w->buffer[w->buffered].position = position;
    w->buffer[w->buffered].time_ns = time_ns;
    if (++w->buffered == SHOAL_TIME_INDEX_BUFFERED)
    {
        return shoal_time_index_writer_flush(w, false);
    }
    return 0;
}

int shoal_time_index_writer_close(shoal_time_index_writer_t *w, bool sync)
{
    if (w->fd < 0)
    {
        return 0;
    }
    const int rc = shoal_time_index_writer_flush(w, sync);
    close(w->fd);
    w->fd = -1;
    return rc;
}

int shoal_time_index_reader_open(shoal_time_index_reader_t *r, const char *dir, int64_t id)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->recording_id = id;
    if (shoal_time_index_file_name(r->path, sizeof(r->path), dir, id) < 0)
    {
        return -1;
    }
    return shoal_time_index_reader_refresh(r);
}

int shoal_time_index_reader_refresh(shoal_time_index_reader_t *r)
{
    if (r->fd < 0)
    {
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (r->fd < 0)
        {
            return errno == ENOENT ? 0 : shoal_set_err_errno(SHOAL_EIO, errno, "cannot open %s", r->path);
        }
        if (header_check(r->fd, r->recording_id, r->path) < 0)
        {
            close(r->fd);
            r->fd = -1;
            return -1;
        }
    }
    const int64_t total = whole_entries(r->fd, r->path);
    if (total < 0)
    {
        return -1;
    }
    if (total <= r->count)
    {
        return 0;
    }
    if (total > r->capacity)
    {
        int64_t capacity = r->capacity > 0 ? r->capacity : 256;
        while (capacity < total)
        {
            capacity *= 2;
        }
        shoal_time_index_entry_t *grown = realloc(r->entries, (size_t)capacity * sizeof(*grown));
        if (grown == NULL)
        {
            return shoal_set_err(SHOAL_ENOMEM, "time index of %s: %lld entries", r->path, (long long)total);
        }
        r->entries = grown;
        r->capacity = capacity;
    }
    const size_t want = (size_t)(total - r->count) * sizeof(r->entries[0]);
    const ssize_t n = shoal_file_pread_full(r->fd, r->entries + r->count, want,
        SHOAL_TIME_INDEX_HEADER_LENGTH + r->count * ENTRY_LENGTH, r->path);
    if (n < 0)
    {
        return -1;
    }
    r->count += (int64_t)n / ENTRY_LENGTH;
    return 0;
}

int64_t shoal_time_index_reader_time_at(shoal_time_index_reader_t *r, int64_t position, int64_t fallback)
{
    if (r->next > 0 && r->entries[r->next - 1].position >= position)
    {
        r->next = 0; /* a lookup behind the last one: search again from the start */
    }
    while (r->next < r->count && r->entries[r->next].position < position)
    {
        r->next++;
    }
    if (r->next < r->count)
    {
        return r->entries[r->next].time_ns;
    }
    return r->count > 0 ? r->entries[r->count - 1].time_ns : fallback;
}

void shoal_time_index_reader_close(shoal_time_index_reader_t *r)
{
    if (r->fd >= 0)
    {
        close(r->fd);
    }
    free(r->entries);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

int shoal_time_index_cut(const char *dir, int64_t id, int64_t stop_position, int64_t fallback_ns, bool sync,
    int64_t *stop_time_ns)
{
    shoal_time_index_reader_t r;
    if (shoal_time_index_reader_open(&r, dir, id) < 0)
    {
        /* A corrupt index is rebuilt with the one entry this cut writes: the
         * data decides the recording's end, the index only its times. */
        shoal_time_index_reader_close(&r);
    }
    int64_t keep = 0;
    while (keep < r.count && r.entries[keep].position < stop_position)
    {
        keep++;
    }
    const int64_t t =
        keep < r.count ? r.entries[keep].time_ns : (r.count > 0 ? r.entries[r.count - 1].time_ns : fallback_ns);
    shoal_time_index_reader_close(&r);

    char path[PATH_MAX];
    if (shoal_time_index_file_name(path, sizeof(path), dir, id) < 0)
    {
        return -1;
    }
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot open %s", path);
    }
    shoal_time_index_header_t h;
    header_init(&h, id);
    const shoal_time_index_entry_t last = { stop_position, t };
    int rc = shoal_file_pwrite_full(fd, &h, sizeof(h), 0, path);
    if (rc == 0)
    {
        rc =
            shoal_file_pwrite_full(fd, &last, sizeof(last), SHOAL_TIME_INDEX_HEADER_LENGTH + keep * ENTRY_LENGTH, path);
    }
    if (rc == 0 && ftruncate(fd, (off_t)(SHOAL_TIME_INDEX_HEADER_LENGTH + (keep + 1) * ENTRY_LENGTH)) != 0)
    {
        rc = shoal_set_err_errno(SHOAL_EIO, errno, "cannot truncate %s", path);
    }
    if (rc == 0 && sync)
    {
        rc = shoal_file_sync(fd, path);
    }
    close(fd);
    *stop_time_ns = t;
    return rc;
}
