/*
 * The public offline reader of an archive directory (shoal_archive.h): the
 * catalog read-only, read afresh on every list and describe so a reader sees
 * what a running archive adds.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/shoal_archive_reader.h"
#include "archive/shoal_catalog_file.h"
#include "util/shoal_error.h"

int shoal_archive_reader_open(shoal_archive_reader_t **r_out, const char *archive_dir)
{
    if (r_out == NULL || archive_dir == NULL || archive_dir[0] == '\0')
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_reader_open: NULL argument or empty directory");
    }
    *r_out = NULL;
    /* The directory is checked and its catalog opened before the reader is
     * allocated: a failure leaves nothing to undo. */
    if (strlen(archive_dir) >= PATH_MAX - 64)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive directory path too long");
    }
    char path[PATH_MAX];
    const int fd = shoal_catalog_file_open_read(archive_dir, path, sizeof(path));
    if (fd < 0)
    {
        return -1;
    }
    shoal_archive_reader_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
    {
        close(fd);
        return shoal_set_err(SHOAL_ENOMEM, "archive reader");
    }
    r->fd = fd;
    strcpy(r->dir, archive_dir);
    strcpy(r->path, path);
    *r_out = r;
    return 0;
}

int shoal_archive_reader_close(shoal_archive_reader_t *r)
{
    if (r == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_reader_close: NULL reader");
    }
    if (r->cursors > 0)
    {
        return shoal_set_err(SHOAL_ESTATE, "shoal_archive_reader_close: %d cursors are still open", r->cursors);
    }
    shoal_catalog_records_free(&r->described);
    close(r->fd);
    free(r);
    return 0;
}

int shoal_archive_reader_list(shoal_archive_reader_t *r, int64_t from_recording_id, int32_t count,
    shoal_recording_descriptor_handler_t handler, void *clientd)
{
    if (r == NULL || handler == NULL || count < 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_reader_list: NULL argument or negative count");
    }
    const int64_t slots = shoal_catalog_file_slots(r->fd, r->path);
    if (slots < 0)
    {
        return -1;
    }
    int listed = 0;
    for (int64_t id = from_recording_id < 0 ? 0 : from_recording_id; id < slots && listed < count; id++)
    {
        int32_t state;
        const int rc = shoal_catalog_file_read_record(r->fd, r->path, id, &r->scratch, &state);
        if (rc < 0)
        {
            return -1;
        }
        if (rc == 0)
        {
            shoal_recording_descriptor_t d;
            shoal_catalog_record_view(&r->scratch, &d);
            handler(clientd, &d);
            listed++;
        }
    }
    return listed;
}

int shoal_archive_reader_find(shoal_archive_reader_t *r, int64_t recording_id, shoal_recording_descriptor_t *out)
{
    const int64_t slots = shoal_catalog_file_slots(r->fd, r->path);
    if (slots < 0)
    {
        return -1;
    }
    if (recording_id < 0 || recording_id >= slots)
    {
        return shoal_set_err(SHOAL_EINVAL, "unknown recording id %" PRId64 " (the catalog has %" PRId64 ")",
            recording_id, slots);
    }
    if (shoal_catalog_records_reserve(&r->described, recording_id + 1) < 0)
    {
        return -1;
    }
    int32_t state;
    const int rc = shoal_catalog_file_read_record(r->fd, r->path, recording_id, &r->scratch, &state);
    if (rc != 0)
    {
        return rc < 0 ? -1 : shoal_set_err(SHOAL_EINVAL, "recording %" PRId64 " was purged", recording_id);
    }
    /* Kept per id so the strings handed out stay valid until close; a later
     * describe rewrites the same strings (they never change for an id). */
    shoal_catalog_record_t **kept = &r->described.by_id[recording_id];
    if (*kept == NULL)
    {
        *kept = malloc(sizeof(**kept));
        if (*kept == NULL)
        {
            return shoal_set_err(SHOAL_ENOMEM, "archive reader");
        }
    }
    memcpy(*kept, &r->scratch, sizeof(r->scratch));
    shoal_catalog_record_view(*kept, out);
    return 0;
}

int shoal_archive_reader_describe(shoal_archive_reader_t *r, int64_t recording_id, shoal_recording_descriptor_t *out)
{
    if (r == NULL || out == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_archive_reader_describe: NULL argument");
    }
    return shoal_archive_reader_find(r, recording_id, out);
}
