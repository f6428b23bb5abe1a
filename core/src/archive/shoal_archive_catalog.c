/*
 * The writable catalog (see shoal_archive_catalog.h). Records live in memory
 * (one allocation each, so descriptors handed out stay put) and every change
 * is written through with one pwrite of the 2048-byte record.
 */
#include "archive/shoal_archive_catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/shoal_catalog_file.h"
#include "archive/shoal_recording_scan.h"
#include "archive/shoal_segment_file.h"
#include "archive/shoal_time_index.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"
#include "util/shoal_fs.h"

struct shoal_archive_catalog_stct
{
    int fd;
    shoal_archive_fsync_policy_t fsync_policy;
    shoal_catalog_records_t records; /* NULL for a purged one */
    int64_t count;
    int64_t recovered;
    char dir[PATH_MAX];
    char path[PATH_MAX];
};

static bool sync_catalog(const shoal_archive_catalog_t *cat)
{
    return cat->fsync_policy == SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG;
}

static int write_record(shoal_archive_catalog_t *cat, const shoal_catalog_record_t *rec)
{
    const int64_t offset = SHOAL_CATALOG_HEADER_LENGTH + rec->recording_id * SHOAL_CATALOG_RECORD_LENGTH;
    if (shoal_file_pwrite_full(cat->fd, rec, sizeof(*rec), offset, cat->path) < 0)
    {
        return -1;
    }
    return sync_catalog(cat) ? shoal_file_sync(cat->fd, cat->path) : 0;
}

static int create_or_check_header(shoal_archive_catalog_t *cat, int64_t *file_length)
{
    struct stat st;
    if (fstat(cat->fd, &st) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot stat %s", cat->path);
    }
    shoal_catalog_header_t h;
    if (st.st_size < SHOAL_CATALOG_HEADER_LENGTH)
    {
        /* New (or a crash before its header was whole): write it. */
        shoal_catalog_header_init(&h, shoal_epoch_ns());
        if (ftruncate(cat->fd, 0) != 0)
        {
            return shoal_set_err_errno(SHOAL_EIO, errno, "cannot create %s", cat->path);
        }
        if (shoal_file_pwrite_full(cat->fd, &h, sizeof(h), 0, cat->path) < 0 ||
            shoal_file_sync(cat->fd, cat->path) < 0 || shoal_dir_sync(cat->dir) < 0)
        {
            return -1;
        }
        *file_length = SHOAL_CATALOG_HEADER_LENGTH;
        return 0;
    }
    const ssize_t n = shoal_file_pread_full(cat->fd, &h, sizeof(h), 0, cat->path);
    if (n < 0)
    {
        return -1;
    }
    *file_length = st.st_size;
    return shoal_catalog_header_check(&h, cat->path);
}

static int load_records(shoal_archive_catalog_t *cat, int64_t file_length)
{
    int64_t slots = (file_length - SHOAL_CATALOG_HEADER_LENGTH) / SHOAL_CATALOG_RECORD_LENGTH;
    if (shoal_catalog_records_reserve(&cat->records, slots) < 0)
    {
        return -1;
    }
    for (int64_t id = 0; id < slots; id++)
    {
        shoal_catalog_record_t *rec = malloc(sizeof(*rec));
        if (rec == NULL)
        {
            return shoal_set_err(SHOAL_ENOMEM, "catalog record");
        }
        const int64_t offset = SHOAL_CATALOG_HEADER_LENGTH + id * SHOAL_CATALOG_RECORD_LENGTH;
        if (shoal_file_pread_full(cat->fd, rec, sizeof(*rec), offset, cat->path) < 0)
        {
            free(rec);
            return -1;
        }
        int32_t state;
        const int checked = shoal_catalog_record_check(rec, id, cat->path, &state);
        if (checked < 0 || (checked > 0 && state == SHOAL_CATALOG_RECORD_EMPTY))
        {
            free(rec);
            if (checked > 0 && id + 1 == slots)
            {
                /* Never written: the file grew but the record did not land (a crash mid-add). */
                slots = id;
                break;
            }
            return checked < 0 ? -1
                               : shoal_set_err(SHOAL_EIO, "%s: recording %" PRId64 ": empty record", cat->path, id);
        }
        if (state == SHOAL_CATALOG_RECORD_PURGED)
        {
            free(rec);
            rec = NULL;
        }
        cat->records.by_id[id] = rec;
    }
    cat->count = slots;
    const off_t whole = (off_t)(SHOAL_CATALOG_HEADER_LENGTH + slots * SHOAL_CATALOG_RECORD_LENGTH);
    if (whole != (off_t)file_length && ftruncate(cat->fd, whole) != 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot truncate %s", cat->path);
    }
    return 0;
}

static int recover(shoal_archive_catalog_t *cat)
{
    for (int64_t id = 0; id < cat->count; id++)
    {
        shoal_catalog_record_t *rec = cat->records.by_id[id];
        if (rec == NULL || rec->stop_position != -1)
        {
            continue;
        }
        if (shoal_archive_recover_recording(cat->dir, rec, cat->fsync_policy != SHOAL_ARCHIVE_FSYNC_NONE) < 0 ||
            write_record(cat, rec) < 0)
        {
            return -1;
        }
        cat->recovered++;
    }
    return 0;
}

int shoal_archive_catalog_open(shoal_archive_catalog_t **cat_out, const char *dir,
    shoal_archive_fsync_policy_t fsync_policy)
{
    if (cat_out == NULL || dir == NULL || dir[0] == '\0')
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_catalog_open: NULL argument or empty directory");
    }
    *cat_out = NULL;
    if (fsync_policy < SHOAL_ARCHIVE_FSYNC_NONE || fsync_policy > SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG)
    {
        return shoal_set_err(SHOAL_EINVAL, "fsync policy %d: must be none (0), data (1) or data+catalog (2)",
            (int)fsync_policy);
    }
    shoal_archive_catalog_t *cat = calloc(1, sizeof(*cat));
    if (cat == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "archive catalog");
    }
    cat->fd = -1;
    cat->fsync_policy = fsync_policy;
    if (strlen(dir) >= sizeof(cat->dir) - 64)
    {
        free(cat);
        return shoal_set_err(SHOAL_EINVAL, "archive directory path too long");
    }
    strcpy(cat->dir, dir);
    if (shoal_fs_mkdir_private(dir) < 0 || shoal_catalog_file_name(cat->path, sizeof(cat->path), dir) < 0)
    {
        free(cat);
        return -1;
    }
    cat->fd = open(cat->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (cat->fd < 0)
    {
        shoal_set_err_errno(SHOAL_EIO, errno, "cannot open %s", cat->path);
        free(cat);
        return -1;
    }
    if (flock(cat->fd, LOCK_EX | LOCK_NB) != 0)
    {
        const int errnum = errno;
        close(cat->fd);
        free(cat);
        if (errnum == EWOULDBLOCK)
        {
            return shoal_set_err(SHOAL_EACTIVE, "archive %s is open for writing by another process", dir);
        }
        return shoal_set_err_errno(SHOAL_EIO, errnum, "cannot lock %s", dir);
    }
    int64_t file_length;
    if (create_or_check_header(cat, &file_length) < 0 || load_records(cat, file_length) < 0 || recover(cat) < 0)
    {
        shoal_archive_catalog_close(cat);
        return -1;
    }
    *cat_out = cat;
    return 0;
}

int shoal_archive_catalog_close(shoal_archive_catalog_t *cat)
{
    if (cat == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_catalog_close: NULL catalog");
    }
    shoal_catalog_records_free(&cat->records);
    if (cat->fd >= 0)
    {
        close(cat->fd); /* drops the lock */
    }
    free(cat);
    return 0;
}

int64_t shoal_archive_catalog_recovered_count(const shoal_archive_catalog_t *cat)
{
    return cat != NULL ? cat->recovered : -1;
}

const char *shoal_archive_catalog_dir(const shoal_archive_catalog_t *cat)
{
    return cat != NULL ? cat->dir : NULL;
}

shoal_archive_fsync_policy_t shoal_archive_catalog_fsync_policy(const shoal_archive_catalog_t *cat)
{
    return cat != NULL ? cat->fsync_policy : SHOAL_ARCHIVE_FSYNC_NONE;
}

int64_t shoal_archive_catalog_next_id(const shoal_archive_catalog_t *cat)
{
    return cat != NULL ? cat->count : -1;
}

int64_t shoal_archive_catalog_add_recording(shoal_archive_catalog_t *cat, const shoal_recording_descriptor_t *d)
{
    if (cat == NULL || d == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_catalog_add_recording: NULL argument");
    }
    if (shoal_catalog_records_reserve(&cat->records, cat->count + 1) < 0)
    {
        return -1;
    }
    shoal_catalog_record_t *rec = malloc(sizeof(*rec));
    if (rec == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "catalog record");
    }
    const int64_t id = cat->count;
    if (shoal_catalog_record_encode(rec, id, d) < 0 || write_record(cat, rec) < 0)
    {
        free(rec);
        return -1;
    }
    cat->records.by_id[id] = rec;
    cat->count++;
    return id;
}

static shoal_catalog_record_t *record_of(shoal_archive_catalog_t *cat, int64_t id, const char *what)
{
    if (cat == NULL)
    {
        shoal_set_err(SHOAL_EINVAL, "%s: NULL catalog", what);
        return NULL;
    }
    if (id < 0 || id >= cat->count || cat->records.by_id[id] == NULL)
    {
        shoal_set_err(SHOAL_EINVAL, "%s: unknown recording id %" PRId64, what, id);
        return NULL;
    }
    return cat->records.by_id[id];
}

int shoal_archive_catalog_update_stop(shoal_archive_catalog_t *cat, int64_t id, int64_t stop_position,
    int64_t stop_timestamp_ns)
{
    shoal_catalog_record_t *rec = record_of(cat, id, "shoal_archive_catalog_update_stop");
    if (rec == NULL)
    {
        return -1;
    }
    if (stop_position < rec->start_position || (stop_position & (SHOAL_FRAME_ALIGNMENT - 1)) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "recording %" PRId64 ": stop position %" PRId64 " is before its start %" PRId64 " or not 32-aligned", id,
            stop_position, rec->start_position);
    }
    const shoal_catalog_record_t saved = *rec;
    rec->stop_position = stop_position;
    rec->stop_timestamp_ns = stop_timestamp_ns;
    shoal_catalog_record_seal(rec);
    if (write_record(cat, rec) < 0)
    {
        *rec = saved;
        return -1;
    }
    return 0;
}

int shoal_archive_catalog_find(shoal_archive_catalog_t *cat, int64_t id, shoal_recording_descriptor_t *out)
{
    if (out == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_catalog_find: NULL out");
    }
    const shoal_catalog_record_t *rec = record_of(cat, id, "shoal_archive_catalog_find");
    if (rec == NULL)
    {
        return -1;
    }
    shoal_catalog_record_view(rec, out);
    return 0;
}

int shoal_archive_catalog_list(shoal_archive_catalog_t *cat, int64_t from_id, int32_t count,
    shoal_recording_descriptor_handler_t handler, void *clientd)
{
    if (cat == NULL || handler == NULL || count < 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_catalog_list: NULL argument or negative count");
    }
    int listed = 0;
    for (int64_t id = from_id < 0 ? 0 : from_id; id < cat->count && listed < count; id++)
    {
        if (cat->records.by_id[id] != NULL)
        {
            shoal_recording_descriptor_t d;
            shoal_catalog_record_view(cat->records.by_id[id], &d);
            handler(clientd, &d);
            listed++;
        }
    }
    return listed;
}

int shoal_archive_catalog_set_writing(shoal_archive_catalog_t *cat, int64_t id, bool writing)
{
    if (record_of(cat, id, "shoal_archive_catalog_set_writing") == NULL)
    {
        return -1;
    }
    cat->records.writing[id] = writing;
    return 0;
}

static shoal_catalog_record_t *stopped_record_of(shoal_archive_catalog_t *cat, int64_t id, const char *what)
{
    shoal_catalog_record_t *rec = record_of(cat, id, what);
    if (rec != NULL && (rec->stop_position == -1 || cat->records.writing[id]))
    {
        shoal_set_err(SHOAL_ESTATE, "%s: recording %" PRId64 " is still being recorded", what, id);
        return NULL;
    }
    return rec;
}

int shoal_archive_catalog_truncate(shoal_archive_catalog_t *cat, int64_t id, int64_t position)
{
    shoal_catalog_record_t *rec = stopped_record_of(cat, id, "shoal_archive_catalog_truncate");
    if (rec == NULL)
    {
        return -1;
    }
    if (position < rec->start_position || position > rec->stop_position)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "truncate: position %" PRId64 " is outside recording %" PRId64 " [%" PRId64 ", %" PRId64 "]", position, id,
            rec->start_position, rec->stop_position);
    }
    if (position == rec->stop_position)
    {
        return 0;
    }
    /* A boundary between whole messages: scan the position's term up to it. */
    shoal_recording_descriptor_t d;
    shoal_catalog_record_view(rec, &d);
    const int64_t term_base = position - (position & (d.term_length - 1));
    shoal_recording_scan_t scan;
    if (shoal_recording_scan(cat->dir, &d, term_base > d.start_position ? term_base : d.start_position, position,
            &scan) < 0)
    {
        return -1;
    }
    if (scan.complete_end != position)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "truncate: position %" PRId64 " of recording %" PRId64
            " is not the end of a whole message (the last one before it ends at %" PRId64 ")",
            position, id, scan.complete_end);
    }
    int64_t stop_time_ns;
    if (shoal_archive_cut_recording(cat->dir, &d, position, cat->fsync_policy != SHOAL_ARCHIVE_FSYNC_NONE,
            &stop_time_ns) < 0)
    {
        return -1;
    }
    return shoal_archive_catalog_update_stop(cat, id, position, stop_time_ns);
}

int shoal_archive_catalog_purge(shoal_archive_catalog_t *cat, int64_t id)
{
    shoal_catalog_record_t *rec = stopped_record_of(cat, id, "shoal_archive_catalog_purge");
    if (rec == NULL)
    {
        return -1;
    }
    shoal_recording_descriptor_t d;
    shoal_catalog_record_view(rec, &d);
    char path[PATH_MAX];
    const int64_t first = shoal_segment_base(d.start_position, d.start_position, d.term_length, d.segment_length);
    for (int64_t base = first; base <= d.stop_position; base += d.segment_length)
    {
        if (shoal_segment_file_name(path, sizeof(path), cat->dir, id, base) < 0 || shoal_file_remove(path) < 0)
        {
            return -1;
        }
    }
    if (shoal_time_index_file_name(path, sizeof(path), cat->dir, id) < 0 || shoal_file_remove(path) < 0)
    {
        return -1;
    }
    rec->state = SHOAL_CATALOG_RECORD_PURGED;
    shoal_catalog_record_seal(rec);
    if (write_record(cat, rec) < 0)
    {
        rec->state = SHOAL_CATALOG_RECORD_VALID;
        shoal_catalog_record_seal(rec);
        return -1;
    }
    free(rec);
    cat->records.by_id[id] = NULL;
    return 0;
}
