/*
 * Crash recovery of recordings, and the cut of a recording's tail that
 * recovery and truncate share (see shoal_archive_catalog.h).
 *
 * The writer commits each block by writing its first frame's length last, so
 * the segments hold, from the start, committed frames followed by zeros or by
 * one uncommitted block (first length word still 0). Recovery scans from the
 * term holding the last time index entry (every indexed position was
 * committed; messages never cross a term end, so no message is in progress at
 * a term base) to the first frame not written or not valid, and takes as stop
 * the end of the last complete message found.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archive/shoal_archive_catalog.h"
#include "archive/shoal_recording_scan.h"
#include "archive/shoal_segment_file.h"
#include "archive/shoal_time_index.h"
#include "util/shoal_error.h"

int shoal_archive_cut_recording(const char *dir, const shoal_recording_descriptor_t *d, int64_t position, bool sync,
    int64_t *stop_time_ns)
{
    const int64_t cut_base = shoal_segment_base(d->start_position, position, d->term_length, d->segment_length);
    char path[PATH_MAX];
    /* Segment files past the cut: remove them until the first missing one
     * after the cut (the writer creates them in order, one at a time). */
    for (int64_t base = cut_base;; base += d->segment_length)
    {
        if (shoal_segment_file_name(path, sizeof(path), dir, d->recording_id, base) < 0)
        {
            return -1;
        }
        bool missing;
        const int fd = shoal_segment_open(path, true, &missing);
        if (fd < 0)
        {
            if (missing && base > cut_base)
            {
                break;
            }
            if (missing)
            {
                continue;
            }
            return -1;
        }
        int rc = 0;
        if (base < position)
        {
            rc = shoal_file_zero_range(fd, position - base, d->segment_length - (position - base), path);
            if (rc == 0 && sync)
            {
                rc = shoal_file_sync(fd, path);
            }
            close(fd);
        }
        else
        {
            close(fd);
            rc = shoal_file_remove(path);
        }
        if (rc < 0)
        {
            return -1;
        }
    }
    return shoal_time_index_cut(dir, d->recording_id, position, d->start_timestamp_ns, sync, stop_time_ns);
}

/* Where the scan may start: the term base holding the last indexed position
 * (*indexed gets that position), or the start. */
static int64_t scan_from(const char *dir, const shoal_recording_descriptor_t *d, int64_t *indexed)
{
    shoal_time_index_reader_t index;
    int64_t from = d->start_position;
    *indexed = d->start_position;
    /* An entry at or before the start says nothing (a damaged index can hold
     * any value, INT64_MIN included): the scan then starts at the start. */
    if (shoal_time_index_reader_open(&index, dir, d->recording_id) == 0 && index.count > 0 &&
        index.entries[index.count - 1].position > d->start_position)
    {
        const int64_t last = index.entries[index.count - 1].position;
        const int64_t term_base = (last - 1) - ((last - 1) & (d->term_length - 1));
        if (term_base > from)
        {
            from = term_base;
            *indexed = last;
        }
    }
    shoal_time_index_reader_close(&index);
    return from;
}

int shoal_archive_recover_recording(const char *dir, shoal_catalog_record_t *rec, bool sync)
{
    shoal_recording_descriptor_t d;
    shoal_catalog_record_view(rec, &d);
    shoal_recording_scan_t scan;
    int64_t indexed;
    const int64_t from = scan_from(dir, &d, &indexed);
    if (shoal_recording_scan(dir, &d, from, -1, &scan) < 0)
    {
        return -1;
    }
    if (from > d.start_position && scan.frames_end < indexed)
    {
        /* The index is ahead of the data (after a machine crash without
         * fsync the two files need not agree, or a file was damaged): trust
         * the data only, from the start. */
        if (shoal_recording_scan(dir, &d, d.start_position, -1, &scan) < 0)
        {
            return -1;
        }
    }
    int64_t stop_time_ns;
    if (shoal_archive_cut_recording(dir, &d, scan.complete_end, sync, &stop_time_ns) < 0)
    {
        return -1;
    }
    rec->stop_position = scan.complete_end;
    rec->stop_timestamp_ns = stop_time_ns;
    shoal_catalog_record_seal(rec);
    return 0;
}
