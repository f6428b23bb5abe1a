/*
 * The archive's catalog, opened for writing by the one process that records
 * into an archive directory (the archive server, or `shoal-archive` for its
 * maintenance commands). An exclusive lock on the catalog file keeps a second
 * writer out (SHOAL_EACTIVE); readers (shoal_archive_reader_*) need no lock.
 *
 * Opening recovers: every recording a crash left active (stop position -1:
 * no process holds the lock, so none is writing it) gets its stop position
 * rebuilt from its segments, at the end of the last complete message; the
 * torn tail after it is cut (zeroed, later segment files removed) so nothing
 * torn is ever replayed, and its time index is cut to match.
 *
 * Descriptors handed out (find, list) point into the catalog's own copy of
 * the record: valid until that recording is purged or the catalog closed.
 * One thread at a time (the server's conductor).
 */
#ifndef SHOAL_ARCHIVE_CATALOG_H
#define SHOAL_ARCHIVE_CATALOG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "archive/shoal_archive_format.h"
#include "shoal/shoal_archive.h"

typedef struct shoal_archive_catalog_stct shoal_archive_catalog_t;

/* Opens (creating the directory, mode 0700, and the catalog if needed) and
 * recovers. SHOAL_EACTIVE if another process has it open for writing,
 * SHOAL_EIO for a corrupt catalog (naming the record) or I/O failures. */
int shoal_archive_catalog_open(shoal_archive_catalog_t **cat, const char *dir,
    shoal_archive_fsync_policy_t fsync_policy);
int shoal_archive_catalog_close(shoal_archive_catalog_t *cat);

/* How many recordings the open recovered (stop rebuilt from the segments). */
int64_t shoal_archive_catalog_recovered_count(const shoal_archive_catalog_t *cat);
const char *shoal_archive_catalog_dir(const shoal_archive_catalog_t *cat);
shoal_archive_fsync_policy_t shoal_archive_catalog_fsync_policy(const shoal_archive_catalog_t *cat);

/* Adds an active recording described by d (recording_id, stop position and
 * stop timestamp are ignored: stop starts at -1). Returns the new id (>= 0),
 * or -1 with SHOAL_EINVAL (bad field, too long a string) or SHOAL_EIO. */
int64_t shoal_archive_catalog_add_recording(shoal_archive_catalog_t *cat, const shoal_recording_descriptor_t *d);

/* Sets the stop position and time of a recording (its writer's close does). */
int shoal_archive_catalog_update_stop(shoal_archive_catalog_t *cat, int64_t id, int64_t stop_position,
    int64_t stop_timestamp_ns);

/* Fills *out; SHOAL_EINVAL for an unknown or purged id. */
int shoal_archive_catalog_find(shoal_archive_catalog_t *cat, int64_t id, shoal_recording_descriptor_t *out);

/* Up to count recordings with ids >= from_id, in order (purged skipped): how many. */
int shoal_archive_catalog_list(shoal_archive_catalog_t *cat, int64_t from_id, int32_t count,
    shoal_recording_descriptor_handler_t handler, void *clientd);

/* The id the next add will get (one past the highest id ever given). */
int64_t shoal_archive_catalog_next_id(const shoal_archive_catalog_t *cat);

/* Cuts a stopped recording at position (a frame boundary in [start, stop]
 * at which no message is in progress): the data after it is removed and its
 * stop position and time set. SHOAL_ESTATE for an active recording,
 * SHOAL_EINVAL for a position not on such a boundary. */
int shoal_archive_catalog_truncate(shoal_archive_catalog_t *cat, int64_t id, int64_t position);

/* Removes a stopped recording's files and marks its record purged (its id is
 * never reused). SHOAL_ESTATE for an active recording. */
int shoal_archive_catalog_purge(shoal_archive_catalog_t *cat, int64_t id);

/* Marks a recording as being written by a writer of this process (writer
 * open/close do it), so truncate and purge refuse it. */
int shoal_archive_catalog_set_writing(shoal_archive_catalog_t *cat, int64_t id, bool writing);

/* Recovery of one recording record left active (used by open): rebuilds
 * rec's stop position and time from dir's files and cuts the torn tail. The
 * caller writes the record back. */
int shoal_archive_recover_recording(const char *dir, shoal_catalog_record_t *rec, bool sync);

/* Cuts the data of recording d at position (zeroes the rest of its segment,
 * removes later segment files) and its time index; *stop_time_ns gets the
 * recorded time at position. Used by recovery and truncate. */
int shoal_archive_cut_recording(const char *dir, const shoal_recording_descriptor_t *d, int64_t position, bool sync,
    int64_t *stop_time_ns);

#endif
