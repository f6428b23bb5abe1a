/*
 * Writes a recording's frames into its segment files, exactly as they are in
 * the log (32-byte data headers, 32-byte alignment, padding frames at term
 * ends), so a replay is a block copy and positions are kept.
 *
 * Each block is written with its first frame's length word zeroed, then that
 * word alone (the commit): a reader or a recovery never sees a frame of a
 * block not wholly written. fsync policy DATA adds an fdatasync of the segment
 * between the two writes (so the commit never reaches the device before its
 * block) and of the time index; the commit word itself becomes durable with
 * the next block's sync or at close.
 *
 * One thread writes. shoal_recording_writer_position may be read from any
 * thread (release/acquire): it is the position up to which the segments hold
 * committed frames, which replays of the live recording follow.
 */
#ifndef SHOAL_RECORDING_WRITER_H
#define SHOAL_RECORDING_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "archive/shoal_archive_catalog.h"

typedef struct shoal_recording_writer_stct shoal_recording_writer_t;

/* Opens the writer of recording id (active, added to cat). The geometry must
 * be the catalog's for it (SHOAL_EINVAL naming the field otherwise). */
int shoal_recording_writer_open(shoal_recording_writer_t **w, shoal_archive_catalog_t *cat, int64_t id,
    int64_t start_position, int32_t initial_term_id, int32_t term_length, int32_t segment_length,
    shoal_archive_fsync_policy_t fsync_policy);

/* Writes length bytes of whole frames that start at stream position
 * position_of_first_byte (== the writer's position: the recording has no
 * gaps), never crossing a term end, recorded at time_ns (CLOCK_REALTIME).
 * SHOAL_EINVAL for a misplaced or misaligned block; SHOAL_EIO for a write
 * failure (full device: "no space left ..."), after which the writer refuses
 * more (SHOAL_ESTATE) and close keeps what was committed. */
int shoal_recording_writer_write(shoal_recording_writer_t *w, const uint8_t *frames, size_t length,
    int64_t position_of_first_byte, int64_t time_ns);

/* Position after the last committed block. Any thread. */
int64_t shoal_recording_writer_position(const shoal_recording_writer_t *w);

int64_t shoal_recording_writer_recording_id(const shoal_recording_writer_t *w);

/* Flushes (and syncs, per policy), sets the recording's stop position and
 * time in the catalog, frees the writer. -1 if any of that failed (the writer
 * is freed anyway; a later catalog open recovers the recording). */
int shoal_recording_writer_close(shoal_recording_writer_t *w);

#endif
