/*
 * The recorder: the archive server's recording subscriptions. Each
 * start_recording adds one subscription (a spy, aeron-spy:, for a UDP stream
 * published by this driver, so recording adds no network traffic; IPC logs
 * are read in place anyway). Each image that subscription gets (one
 * publication session) becomes a recording: a catalog entry and a recording
 * writer fed with raw blocks of frames by the image block poll, so the
 * segment files hold the frames as they were in the log and positions are
 * kept. An image that leaves the subscription ends its recording (stop
 * position and time in the catalog); so does stop_recording.
 *
 * The server thread alone calls these functions.
 */
#ifndef SHOAL_ARCHIVE_RECORDER_H
#define SHOAL_ARCHIVE_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "archive/shoal_archive_catalog.h"
#include "archive/shoal_archive_codec.h"
#include "archive/shoal_recording_writer.h"
#include "shoal/shoal_archive.h"

/* One image being recorded. */
typedef struct shoal_archive_recording_session_stct
{
    int64_t image_correlation_id;
    int64_t recording_id;
    shoal_recording_writer_t *writer; /* NULL once a write failed: the rest of the image is not recorded */
    int64_t position;                 /* recorded up to here (stream position) */
    bool seen;                        /* in the image list of this cycle */
} shoal_archive_recording_session_t;

/* One recording subscription (a start_recording). */
typedef struct shoal_archive_recording_stct
{
    int64_t subscription_id;
    shoal_subscription_t *subscription;
    char *channel; /* as the client gave it: what the catalog records */
    int32_t stream_id;
    shoal_archive_recording_session_t *sessions;
    int32_t session_count, session_capacity;
} shoal_archive_recording_t;

typedef struct shoal_archive_recorder_stct
{
    shoal_client_t *client;
    shoal_archive_catalog_t *catalog;
    int32_t segment_length;
    shoal_archive_fsync_policy_t fsync;
    shoal_archive_recording_t **recordings;
    int32_t recording_count, recording_capacity;
    int64_t error_count; /* writes that failed (each stops its recording) */
} shoal_archive_recorder_t;

/* Opens (creates, or recovers) the catalog of archive_dir. */
int shoal_archive_recorder_init(shoal_archive_recorder_t *r, shoal_client_t *client, const char *archive_dir,
    int32_t segment_length, shoal_archive_fsync_policy_t fsync);
/* Stops every recording and closes the catalog. */
void shoal_archive_recorder_close(shoal_archive_recorder_t *r);

/* Subscribes to (channel, stream_id): the subscription id, or -1 (SHOAL_EURI,
 * SHOAL_ECLASH when that channel and stream are recorded already, ...). */
int64_t shoal_archive_recorder_start(shoal_archive_recorder_t *r, const char *channel, int32_t stream_id,
    shoal_archive_source_location_t source);
/* Stops that subscription's recordings: 0, or -1 with SHOAL_EINVAL (unknown id). */
int shoal_archive_recorder_stop(shoal_archive_recorder_t *r, int64_t subscription_id);
/* Moves what the images have to the writers: the bytes recorded (>= 0). */
int shoal_archive_recorder_do_work(shoal_archive_recorder_t *r);
/* The recorded position of an active recording, or -1 when it is not active. */
int64_t shoal_archive_recorder_position(const shoal_archive_recorder_t *r, int64_t recording_id);

#endif
