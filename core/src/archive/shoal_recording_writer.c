/*
 * The recording writer (see shoal_recording_writer.h).
 */
#include "archive/shoal_recording_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "archive/shoal_segment_file.h"
#include "archive/shoal_time_index.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

struct shoal_recording_writer_stct
{
    int64_t position; /* published: after the last committed block */
    shoal_archive_catalog_t *cat;
    int64_t id;
    int64_t start_position;
    int64_t segment_base; /* of the open segment; -1 before the first */
    int64_t last_time_ns;
    int32_t initial_term_id;
    int32_t term_length;
    int32_t segment_length;
    shoal_archive_fsync_policy_t fsync_policy;
    int segment_fd;
    bool failed;
    shoal_time_index_writer_t index;
    char segment_path[PATH_MAX];
};

int shoal_recording_writer_open(shoal_recording_writer_t **w_out, shoal_archive_catalog_t *cat, int64_t id,
    int64_t start_position, int32_t initial_term_id, int32_t term_length, int32_t segment_length,
    shoal_archive_fsync_policy_t fsync_policy)
{
    if (w_out == NULL || cat == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_writer_open: NULL argument");
    }
    *w_out = NULL;
    shoal_recording_descriptor_t d;
    if (shoal_archive_catalog_find(cat, id, &d) < 0)
    {
        return -1;
    }
    if (d.stop_position != -1)
    {
        return shoal_set_err(SHOAL_ESTATE, "recording %" PRId64 " is stopped: it cannot be written", id);
    }
    if (d.start_position != start_position || d.initial_term_id != initial_term_id || d.term_length != term_length ||
        d.segment_length != segment_length)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "recording %" PRId64 ": start position, initial term id, term length or segment length differ from "
            "the catalog's",
            id);
    }
    if (fsync_policy < SHOAL_ARCHIVE_FSYNC_NONE || fsync_policy > SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG)
    {
        return shoal_set_err(SHOAL_EINVAL, "fsync policy %d: must be 0, 1 or 2", (int)fsync_policy);
    }
    shoal_recording_writer_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "recording writer");
    }
    w->position = start_position;
    w->cat = cat;
    w->id = id;
    w->start_position = start_position;
    w->segment_base = -1;
    w->last_time_ns = d.start_timestamp_ns;
    w->initial_term_id = initial_term_id;
    w->term_length = term_length;
    w->segment_length = segment_length;
    w->fsync_policy = fsync_policy;
    w->segment_fd = -1;
    if (shoal_time_index_writer_open(&w->index, shoal_archive_catalog_dir(cat), id) < 0)
    {
        free(w);
        return -1;
    }
    shoal_archive_catalog_set_writing(cat, id, true);
    *w_out = w;
    return 0;
}

static int open_segment(shoal_recording_writer_t *w, int64_t position)
{
    const int64_t base = shoal_segment_base(w->start_position, position, w->term_length, w->segment_length);
    if (w->segment_fd >= 0)
    {
        if (w->fsync_policy != SHOAL_ARCHIVE_FSYNC_NONE && shoal_file_sync(w->segment_fd, w->segment_path) < 0)
        {
            return -1; /* the last commit word of the segment we leave */
        }
        close(w->segment_fd);
        w->segment_fd = -1;
    }
    const char *dir = shoal_archive_catalog_dir(w->cat);
    if (shoal_segment_file_name(w->segment_path, sizeof(w->segment_path), dir, w->id, base) < 0)
    {
        return -1;
    }
    w->segment_fd = shoal_segment_create(w->segment_path, w->segment_length);
    if (w->segment_fd < 0)
    {
        return -1;
    }
    w->segment_base = base;
    if (w->fsync_policy == SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG && shoal_dir_sync(dir) < 0)
    {
        return -1;
    }
    return 0;
}

/* Writes the block with its first length word zeroed. */
static int write_uncommitted(shoal_recording_writer_t *w, const uint8_t *frames, size_t length, int64_t offset)
{
    static const uint8_t zero_word[4];
    struct iovec iov[2] = { { (void *)zero_word, sizeof(zero_word) },
        { (void *)(frames + sizeof(zero_word)), length - sizeof(zero_word) } };
    const size_t total = length;
    ssize_t n;
    do
    {
        n = pwritev(w->segment_fd, iov, 2, (off_t)offset);
    }
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)total)
    {
        return 0;
    }
    if (n < 0)
    {
        const int errnum = errno;
        if (errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG)
        {
            return shoal_set_err_errno(SHOAL_EIO, errnum, "no space left to write %s", w->segment_path);
        }
        return shoal_set_err_errno(SHOAL_EIO, errnum, "cannot write %s", w->segment_path);
    }
    /* Short write: the rest, still uncommitted. */
    if ((size_t)n < sizeof(zero_word))
    {
        if (shoal_file_pwrite_full(w->segment_fd, zero_word + n, sizeof(zero_word) - (size_t)n, offset + n,
                w->segment_path) < 0)
        {
            return -1;
        }
        n = sizeof(zero_word);
    }
    return shoal_file_pwrite_full(w->segment_fd, frames + n, total - (size_t)n, offset + n, w->segment_path);
}

int shoal_recording_writer_write(shoal_recording_writer_t *w, const uint8_t *frames, size_t length,
    int64_t position_of_first_byte, int64_t time_ns)
{
    if (w == NULL || frames == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_writer_write: NULL argument");
    }
    if (w->failed)
    {
        return shoal_set_err(SHOAL_ESTATE, "recording %" PRId64 ": an earlier write failed; stop the recording", w->id);
    }
    const int64_t position = w->position;
    if (position_of_first_byte != position)
    {
        return shoal_set_err(SHOAL_EINVAL, "recording %" PRId64 ": block at %" PRId64 ", expected %" PRId64, w->id,
            position_of_first_byte, position);
    }
    const int64_t term_offset = position & (w->term_length - 1);
    if (length < SHOAL_DATA_HEADER_LENGTH || (length & (SHOAL_FRAME_ALIGNMENT - 1)) != 0 ||
        term_offset + (int64_t)length > w->term_length)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "recording %" PRId64 ": block of %zu bytes at %" PRId64 " is not 32-aligned inside one term", w->id, length,
            position);
    }
    shoal_data_header_t first;
    memcpy(&first, frames, sizeof(first));
    const int32_t term_id = (int32_t)((uint32_t)w->initial_term_id + (uint32_t)(position / w->term_length));
    if (first.frame_header.frame_length < SHOAL_DATA_HEADER_LENGTH ||
        (size_t)SHOAL_ALIGN(first.frame_header.frame_length, SHOAL_FRAME_ALIGNMENT) > length ||
        first.term_offset != (int32_t)term_offset || first.term_id != term_id)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "recording %" PRId64 ": the block at %" PRId64 " (term %d offset %" PRId64
            ") does not start with a whole frame of that place (length %d, term %d offset %d)",
            w->id, position, term_id, term_offset, first.frame_header.frame_length, first.term_id, first.term_offset);
    }
    if (position >= w->segment_base + w->segment_length || w->segment_fd < 0)
    {
        if (open_segment(w, position) < 0)
        {
            w->failed = true;
            return -1;
        }
    }
    const int64_t offset = position - w->segment_base;
    if (write_uncommitted(w, frames, length, offset) < 0 ||
        (w->fsync_policy != SHOAL_ARCHIVE_FSYNC_NONE && shoal_file_sync(w->segment_fd, w->segment_path) < 0) ||
        shoal_file_pwrite_full(w->segment_fd, frames, sizeof(first.frame_header.frame_length), offset,
            w->segment_path) < 0)
    {
        w->failed = true;
        return -1;
    }
    const int64_t end = position + (int64_t)length;
    shoal_store_release(&w->position, end);
    w->last_time_ns = time_ns;
    if (shoal_time_index_writer_append(&w->index, end, time_ns) < 0 ||
        (w->fsync_policy != SHOAL_ARCHIVE_FSYNC_NONE && shoal_time_index_writer_flush(&w->index, true) < 0))
    {
        w->failed = true; /* the data is committed; the index lost an entry */
        return -1;
    }
    return 0;
}

int64_t shoal_recording_writer_position(const shoal_recording_writer_t *w)
{
    if (w == NULL)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_recording_writer_position: NULL writer");
        return -1;
    }
    return shoal_load_acquire(&w->position);
}

int64_t shoal_recording_writer_recording_id(const shoal_recording_writer_t *w)
{
    return w != NULL ? w->id : -1;
}

int shoal_recording_writer_close(shoal_recording_writer_t *w)
{
    if (w == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_recording_writer_close: NULL writer");
    }
    const bool sync = w->fsync_policy != SHOAL_ARCHIVE_FSYNC_NONE;
    int rc = 0;
    if (w->segment_fd >= 0)
    {
        if (sync && shoal_file_sync(w->segment_fd, w->segment_path) < 0)
        {
            rc = -1;
        }
        close(w->segment_fd);
    }
    if (shoal_time_index_writer_close(&w->index, sync) < 0)
    {
        rc = -1;
    }
    shoal_archive_catalog_set_writing(w->cat, w->id, false);
    if (shoal_archive_catalog_update_stop(w->cat, w->id, w->position, w->last_time_ns) < 0)
    {
        rc = -1;
    }
    free(w);
    return rc;
}
