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

/* ---- Archive server (embedded: runs on its own thread) ----
 * Records what clients ask for into archive_dir (created if missing) and
 * answers their control requests on the control channel and stream of ctx
 * (settings, environment SHOAL_ARCHIVE_*):
 *  ARCHIVE_CONTROL_CHANNEL            requests channel            (aeron:ipc)
 *  ARCHIVE_CONTROL_STREAM_ID          requests stream             (10)
 *  ARCHIVE_CONTROL_RESPONSE_CHANNEL   clients' responses channel  (aeron:ipc)
 *  ARCHIVE_CONTROL_RESPONSE_STREAM_ID clients' responses stream   (20)
 *  ARCHIVE_SEGMENT_LENGTH             segment file bytes: a power of two, a
 *                                     multiple of the term length (128m)
 *  ARCHIVE_FSYNC                      none | data | data-and-catalog (none)
 *  ARCHIVE_MESSAGE_TIMEOUT_MS         a client's wait for an answer (10000)
 * The server connects its own client with ctx (a driver must run on ctx's
 * directory); ctx must outlive the server. Opening the archive recovers what
 * a crash left (docs/archive.md, Files). -1 with SHOAL_EINVAL, SHOAL_EIO
 * (archive directory), SHOAL_ENODRIVER and the errors of
 * shoal_client_connect. Any thread. */
typedef struct shoal_archive_server_stct shoal_archive_server_t;
SHOAL_API int shoal_archive_server_start(shoal_archive_server_t **srv, shoal_context_t *ctx, const char *archive_dir);
/* Stops recording (each active recording gets its stop position), ends the
 * replays and the control sessions, stops the thread and frees the server.
 * 0, or -1 with SHOAL_EINVAL. Any thread, once. */
SHOAL_API int shoal_archive_server_close(shoal_archive_server_t *srv);
/* Runs the server on the calling thread until *stop_flag becomes non-zero
 * (set it from a signal handler): shoal-archived. 0 after a clean stop, -1
 * as shoal_archive_server_start. */
SHOAL_API int shoal_archive_server_run(shoal_context_t *ctx, const char *archive_dir, volatile int *stop_flag);

/* ---- Archive client: controls a server over shoal streams ----
 * Each call sends one request and waits for its answer (up to the archive
 * message timeout: SHOAL_ETIMEDOUT). Errors the server reports come back
 * with the server's code and message (SHOAL_EINVAL for an unknown recording
 * id, ...). A handle is for one thread at a time. */
typedef struct shoal_archive_stct shoal_archive_t;

/* Where a UDP stream to record comes from. LOCAL: a publication of this
 * driver, read through a spy subscription (aeron-spy:), so the recording
 * adds no network traffic. REMOTE: a subscription that receives the stream
 * over the network. IPC channels are always read in place. */
typedef enum shoal_archive_source_location_en
{
    SHOAL_ARCHIVE_SOURCE_LOCAL = 0,
    SHOAL_ARCHIVE_SOURCE_REMOTE = 1
} shoal_archive_source_location_t;

/* Connects to the archive server on client's driver (the control channel
 * and streams of the client's context). -1 with SHOAL_EINVAL, SHOAL_ETIMEDOUT
 * (no server answered) and the errors of shoal_add_publication. */
SHOAL_API int shoal_archive_connect(shoal_archive_t **a, shoal_client_t *client);
/* Records every session of (channel, stream_id); a UDP channel is recorded
 * from a local publication (as SHOAL_ARCHIVE_SOURCE_LOCAL). Returns the id of
 * the server's recording subscription (>= 0: what stop_recording takes), or
 * -1 (SHOAL_EURI for a bad channel, SHOAL_ECLASH when it is already recorded).
 * Each session (image) becomes a recording of its own, listed once the
 * server saw it. */
SHOAL_API int64_t shoal_archive_start_recording(shoal_archive_t *a, const char *channel, int32_t stream_id);
SHOAL_API int64_t shoal_archive_start_recording_from(shoal_archive_t *a, const char *channel, int32_t stream_id,
    shoal_archive_source_location_t source);
/* Stops the recordings of that subscription (their stop positions are set);
 * -1 with SHOAL_EINVAL for an unknown subscription id. */
SHOAL_API int shoal_archive_stop_recording(shoal_archive_t *a, int64_t subscription_id);
/* Calls handler for up to count recordings with ids from from_id on, in id
 * order (the descriptor is valid during the call); returns how many (>= 0). */
SHOAL_API int shoal_archive_list_recordings(shoal_archive_t *a, int64_t from_id, int32_t count,
    shoal_recording_descriptor_handler_t handler, void *clientd);
/* The position an active recording reached on disk, or the stop position of
 * a stopped one; -1 with SHOAL_EINVAL for an unknown recording id. */
SHOAL_API int64_t shoal_archive_recording_position(shoal_archive_t *a, int64_t recording_id);
/* Replays [position, position + length) of a recording (length -1: to its
 * end, following it while it records) on replay_channel/replay_stream_id,
 * keeping the recording's positions. Returns the replay session id (its low
 * 32 bits are the replay image's session id), or -1. */
SHOAL_API int64_t shoal_archive_replay(shoal_archive_t *a, int64_t recording_id, int64_t position, int64_t length,
    const char *replay_channel, int32_t replay_stream_id);
SHOAL_API int shoal_archive_stop_replay(shoal_archive_t *a, int64_t replay_session_id);
/* Cuts a stopped recording at position (a frame boundary, between its start
 * and stop); -1 with SHOAL_ESTATE for an active one, or one being replayed. */
SHOAL_API int shoal_archive_truncate(shoal_archive_t *a, int64_t recording_id, int64_t position);
/* Deletes a stopped recording and its files; -1 with SHOAL_ESTATE for an
 * active one, or one being replayed (stop its replays first). */
SHOAL_API int shoal_archive_purge(shoal_archive_t *a, int64_t recording_id);
/* The id of the server's control session (>= 0); -1 for NULL. */
SHOAL_API int64_t shoal_archive_control_session_id(const shoal_archive_t *a);
/* Ends the control session and frees the handle (NULL: 0). Recordings go on. */
SHOAL_API int shoal_archive_close(shoal_archive_t *a);

/* ---- Replay merge: a late subscriber joins a live stream ----
 * Replays a recording of the live stream from position (-1: its start) and
 * then switches to the live stream itself, with no gap and no duplicate: the
 * handler gets every message once, in order, header.position growing, as one
 * subscription from that position on would have (Aeron's ReplayMerge). The
 * replay is asked of the archive server on replay_channel/replay_stream_id
 * (following the recording); the live subscription (live_channel,
 * live_stream_id; the recording's session) is added only once the replay is
 * within a quarter term of the recorded position, and taken over once the
 * replay has delivered up to the live image's join position. The live
 * publisher is held back by the not-yet-polled live subscription for at most
 * its window while the replay catches up. One thread at a time; the archive
 * handle must stay open until close. */
typedef struct shoal_replay_merge_stct shoal_replay_merge_t;

/* Starts the replay (SHOAL_EINVAL: an unknown recording, NULL arguments; the
 * archive's and the driver's errors for the replay and its subscription). */
SHOAL_API int shoal_replay_merge_start(shoal_replay_merge_t **m, shoal_archive_t *a, int64_t recording_id,
    int64_t position, const char *replay_channel, int32_t replay_stream_id, const char *live_channel,
    int32_t live_stream_id);
/* Delivers up to fragment_limit messages to h (from the replay, then from
 * the live stream) and moves the merge along: how many (>= 0), or -1 (the
 * merge failed: SHOAL_ESTATE afterwards). Not from inside h. */
SHOAL_API int shoal_replay_merge_poll(shoal_replay_merge_t *m, shoal_fragment_handler_t h, void *clientd,
    int fragment_limit);
/* True once reading the live stream (the replay stopped). */
SHOAL_API bool shoal_replay_merge_is_live(const shoal_replay_merge_t *m);
/* The stream position after the last message delivered. */
SHOAL_API int64_t shoal_replay_merge_position(const shoal_replay_merge_t *m);
/* Stops the replay if still running, closes both subscriptions, frees m (NULL: 0). */
SHOAL_API int shoal_replay_merge_close(shoal_replay_merge_t *m);

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_ARCHIVE_H */
