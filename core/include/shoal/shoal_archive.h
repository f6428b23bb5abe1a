/*
 * shoal archive — recordings of streams kept on disk, listed, read and replayed.
 *
 * This header adds the archive to the public ABI; it follows shoal.h's
 * conventions (0 / -1 with shoal_errcode() + shoal_errmsg(); SHOAL_EINVAL for
 * NULL or bad arguments, SHOAL_EIO for files, SHOAL_ESTATE for a call the
 * state does not allow). The on-disk format is described in docs/archive.md
 * ("Files").
 *
 * Offline reading (this section) needs no driver: an archive directory is
 * opened read-only, its catalog listed, and a recording read message by
 * message with a cursor, as a subscription would have delivered it. A
 * recording still being written (stop_position -1) can be read too: a cursor
 * delivers the complete messages written so far and picks up new ones on
 * later polls.
 *
 * Threading: a reader and the cursors opened on it are used by one thread at
 * a time. Several readers (any processes) may read an archive a server is
 * writing.
 */
#ifndef SHOAL_ARCHIVE_H
#define SHOAL_ARCHIVE_H

#include "shoal/shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Settings ---- */

/* When the archive forces its writes to the storage device (fsync): */
typedef enum shoal_archive_fsync_policy_en
{
    SHOAL_ARCHIVE_FSYNC_NONE = 0,            /* never: the page cache decides (survives a process crash) */
    SHOAL_ARCHIVE_FSYNC_DATA = 1,            /* recorded data and time index, at every written block */
    SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG = 2 /* ...and the catalog and directory at every change */
} shoal_archive_fsync_policy_t;

/* ---- POD views ---- */

/* One recording as the catalog describes it. Positions are stream positions
 * (as shoal_header_t.position); timestamps are CLOCK_REALTIME nanoseconds.
 * The strings are valid during the handler call (list) or until the reader is
 * closed (describe). The struct only grows at the end, guarded by the SONAME. */
typedef struct shoal_recording_descriptor_stct
{
    int64_t recording_id;
    int64_t start_position;
    int64_t stop_position; /* -1: still recording (or left so by a crash not yet recovered) */
    int64_t start_timestamp_ns;
    int64_t stop_timestamp_ns; /* -1 while recording */
    int32_t initial_term_id;
    int32_t term_length;
    int32_t mtu;
    int32_t segment_length; /* bytes a segment file holds: a power-of-two multiple of term_length */
    int32_t session_id;
    int32_t stream_id;
    const char *channel;
    const char *source_identity;
} shoal_recording_descriptor_t;

typedef void (*shoal_recording_descriptor_handler_t)(void *clientd, const shoal_recording_descriptor_t *d);

/* ---- Offline reader: an archive directory opened read-only ---- */
typedef struct shoal_archive_reader_stct shoal_archive_reader_t;
typedef struct shoal_recording_cursor_stct shoal_recording_cursor_t;

/* Opens archive_dir's catalog read-only (no driver, no lock, no recovery: a
 * recording a crash left active shows stop_position -1 until a server or
 * `shoal-archive` recovers it). SHOAL_EIO if there is no catalog, or it is
 * corrupt or of an unknown format version (the message says which). */
SHOAL_API int shoal_archive_reader_open(shoal_archive_reader_t **r, const char *archive_dir);
/* Frees the reader. Its cursors must be closed first (SHOAL_ESTATE otherwise). */
SHOAL_API int shoal_archive_reader_close(shoal_archive_reader_t *r);
/* Calls handler for up to count recordings with ids >= from_recording_id, in
 * id order (purged ones skipped); returns how many (>= 0), -1 on error
 * (SHOAL_EIO: corrupt catalog). Reads the catalog afresh on each call. */
SHOAL_API int shoal_archive_reader_list(shoal_archive_reader_t *r, int64_t from_recording_id, int32_t count,
    shoal_recording_descriptor_handler_t handler, void *clientd);
/* Fills *out with recording_id's descriptor as the catalog holds it now.
 * SHOAL_EINVAL for an unknown (or purged) recording id. */
SHOAL_API int shoal_archive_reader_describe(shoal_archive_reader_t *r, int64_t recording_id,
    shoal_recording_descriptor_t *out);

/* Opens a cursor over recording_id from position (-1: its start) for length
 * bytes (-1: to its stop position, or, for a recording still active, as far
 * as it has been written, following it). position must be on a frame
 * boundary inside [start, stop] (SHOAL_EINVAL otherwise, naming it). */
SHOAL_API int shoal_recording_cursor_open(shoal_recording_cursor_t **c, shoal_archive_reader_t *r, int64_t recording_id,
    int64_t position, int64_t length);
/* Delivers up to fragment_limit messages to h as a subscription poll would:
 * fragments reassembled, padding skipped, header filled from the recorded
 * frames (header.position: the recording's stream position after the
 * message). Returns how many (>= 0); 0 at the end (see is_end) or, following
 * a live recording, when nothing new is written yet. -1 with SHOAL_EIO on a
 * corrupt segment (the message names the file and position). */
SHOAL_API int shoal_recording_cursor_poll(shoal_recording_cursor_t *c, shoal_fragment_handler_t h, void *clientd,
    int fragment_limit);
/* True once the cursor delivered everything up to its end (the asked length
 * or the recording's stop position). A cursor following an active recording
 * ends when the recording is stopped and read to its stop. */
SHOAL_API bool shoal_recording_cursor_is_end(const shoal_recording_cursor_t *c);
/* The stream position after the last message delivered (the start before
 * any); -1 for NULL. */
SHOAL_API int64_t shoal_recording_cursor_position(const shoal_recording_cursor_t *c);
/* Recorded time (CLOCK_REALTIME ns at which the archive wrote it) of the
 * message being delivered, or of the last one delivered outside a handler;
 * the start timestamp before any. -1 for NULL. */
SHOAL_API int64_t shoal_recording_cursor_timestamp_ns(const shoal_recording_cursor_t *c);
SHOAL_API int shoal_recording_cursor_close(shoal_recording_cursor_t *c);

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_ARCHIVE_H */
