/*
 * Reads a recording's frames back as raw blocks: whole, checked frames of one
 * term, headers included, as the replayer offers them (offer_block) and the
 * cursor reassembles them.
 *
 * Bounds: from position (-1: the start) for length bytes (-1: to the stop
 * position). A recording still active (stop -1) is followed: blocks come as
 * the writer commits them, and the reader ends once the catalog shows the
 * recording stopped and the stop is reached (the catalog is read again at
 * most once a millisecond while no new data is there), or once the owner of
 * the writer calls shoal_recording_reader_set_stop.
 *
 * One thread at a time. A block stays valid until the next call on the reader.
 */
#ifndef SHOAL_RECORDING_READER_H
#define SHOAL_RECORDING_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/shoal_archive.h"

typedef struct shoal_recording_reader_stct shoal_recording_reader_t;

/* d: the recording's descriptor (copied). SHOAL_EINVAL (message naming the
 * value) for a position outside [start, stop], not 32-aligned or not at a
 * frame; for a length reaching past the stop of a stopped recording. */
int shoal_recording_reader_open(shoal_recording_reader_t **rd, const char *dir, const shoal_recording_descriptor_t *d,
    int64_t position, int64_t length);

/* 1: *block holds *length bytes of whole frames (at most max_length, or one
 * longer frame) starting at stream position *position; 0: nothing now
 * (following a live recording) or the end (shoal_recording_reader_is_done);
 * -1: SHOAL_EIO on a corrupt or missing segment (naming file and position). */
int shoal_recording_reader_next_block(shoal_recording_reader_t *rd, const uint8_t **block, size_t *length,
    int64_t *position, size_t max_length);

bool shoal_recording_reader_is_done(const shoal_recording_reader_t *rd);
/* The next position to read. */
int64_t shoal_recording_reader_position(const shoal_recording_reader_t *rd);
/* Where the reader ends, or -1 while following without a known end. */
int64_t shoal_recording_reader_limit(const shoal_recording_reader_t *rd);
/* The followed recording stopped at stop_position (its writer closed). */
int shoal_recording_reader_set_stop(shoal_recording_reader_t *rd, int64_t stop_position);
/* The recording's descriptor as the reader knows it (stop updated when seen). */
const shoal_recording_descriptor_t *shoal_recording_reader_descriptor(const shoal_recording_reader_t *rd);
int shoal_recording_reader_close(shoal_recording_reader_t *rd);

#endif
