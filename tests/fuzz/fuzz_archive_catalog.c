/*
 * The archive catalog readers (archive/shoal_archive_format.c,
 * shoal_catalog_file.c, shoal_archive_reader.c, shoal_archive_catalog.c):
 * an archive directory is a set of files anyone with access to it can damage
 * or forge. The harness writes the input as archive.catalog, then does what
 * each reader does:
 *   offline reader - open, list, describe every slot, open a cursor on each
 *                    recording described and poll it (no segment files: the
 *                    errors must be clean);
 *   writer         - open for writing (header checks, record checks, crash
 *                    recovery of records left active, which writes records and
 *                    time index files), list, close.
 * Input: one mode byte (bit 0: reseal every record's checksum first, so the
 * fuzzer gets past the CRC into the field checks), then the catalog file.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/shoal_archive_catalog.h"
#include "archive/shoal_archive_format.h"
#include "archive/shoal_catalog_file.h"
#include "shoal/shoal_archive.h"
#include "util/shoal_fs.h"

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CATALOG_INPUT (SHOAL_CATALOG_HEADER_LENGTH + 8 * SHOAL_CATALOG_RECORD_LENGTH)

static char dir[256];

static void cleanup(void)
{
    shoal_fs_delete_dir(dir);
}

static void on_descriptor(void *clientd, const shoal_recording_descriptor_t *d)
{
    size_t *total = clientd;
    *total += strlen(d->channel) + strlen(d->source_identity) + (size_t)d->mtu;
}

static void read_offline(size_t *total)
{
    shoal_archive_reader_t *r;
    if (shoal_archive_reader_open(&r, dir) < 0)
    {
        return;
    }
    shoal_archive_reader_list(r, 0, 100, on_descriptor, total);
    for (int64_t id = -1; id < 10; id++)
    {
        shoal_recording_descriptor_t d;
        if (shoal_archive_reader_describe(r, id, &d) < 0)
        {
            continue;
        }
        on_descriptor(total, &d);
        shoal_recording_cursor_t *c;
        if (shoal_recording_cursor_open(&c, r, id, -1, -1) == 0)
        {
            for (int i = 0; i < 4 && shoal_recording_cursor_poll(c, fuzz_on_message, total, 10) > 0; i++)
            {
            }
            shoal_recording_cursor_close(c);
        }
    }
    if (shoal_archive_reader_close(r) < 0)
    {
        abort(); /* every cursor was closed */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0')
    {
        fuzz_scratch_dir(dir, sizeof(dir), "archive-catalog");
        atexit(cleanup);
        shoal_catalog_file_set_retry_sleeps(0);
    }
    if (size < 1 || size > MAX_CATALOG_INPUT + 1)
    {
        return 0;
    }
    const uint8_t mode = data[0];
    uint8_t *file = malloc(size - 1 + 1);
    memcpy(file, data + 1, size - 1);
    const size_t length = size - 1;
    if (mode & 1)
    {
        for (size_t off = SHOAL_CATALOG_HEADER_LENGTH; off + SHOAL_CATALOG_RECORD_LENGTH <= length;
             off += SHOAL_CATALOG_RECORD_LENGTH)
        {
            shoal_catalog_record_t rec;
            memcpy(&rec, file + off, sizeof(rec));
            shoal_catalog_record_seal(&rec);
            memcpy(file + off, &rec, sizeof(rec));
        }
    }
    shoal_fs_delete_dir(dir);
    if (shoal_fs_mkdir_private(dir) < 0)
    {
        abort();
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, SHOAL_CATALOG_FILE);
    const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (length > 0 && write(fd, file, length) != (ssize_t)length))
    {
        abort();
    }
    close(fd);
    free(file);

    size_t total = 0;
    read_offline(&total);
    shoal_archive_catalog_t *cat;
    if (shoal_archive_catalog_open(&cat, dir, (shoal_archive_fsync_policy_t)((mode >> 1) % 3)) == 0)
    {
        shoal_archive_catalog_list(cat, 0, 100, on_descriptor, &total);
        /* Whatever it accepted, it left every record stopped and readable. */
        shoal_recording_descriptor_t d;
        for (int64_t id = 0; id < shoal_archive_catalog_next_id(cat); id++)
        {
            if (shoal_archive_catalog_find(cat, id, &d) == 0 && d.stop_position < d.start_position)
            {
                abort();
            }
        }
        shoal_archive_catalog_close(cat);
        read_offline(&total);
    }
    return 0;
}
