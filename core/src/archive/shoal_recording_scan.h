/*
 * Frame checks and whole-recording scans over segment files: what recovery,
 * truncate, `shoal-archive verify` and the readers agree a recorded frame is.
 *
 * A frame at stream position p of a recording is valid when its frame_length
 * is >= 32 (data header) and its 32-aligned length stays inside its term,
 * version 0, type DATA or PAD, term_offset == p's offset in its term, term_id
 * == initial_term_id + p's term count, and session and stream ids are the
 * recording's. A frame_length of 0 is a frame not written (or not committed)
 * yet. Messages never cross a term end (the log pads instead), so a message's
 * fragments all lie inside one term.
 */
#ifndef SHOAL_RECORDING_SCAN_H
#define SHOAL_RECORDING_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/shoal_archive.h"

typedef enum shoal_frame_check_en
{
    SHOAL_FRAME_VALID = 0,
    SHOAL_FRAME_UNWRITTEN = 1, /* frame_length 0 */
    SHOAL_FRAME_SHORT = 2,     /* fewer than 32 bytes (or than its length) available: read more */
    SHOAL_FRAME_INVALID = 3    /* *why says what is wrong */
} shoal_frame_check_t;

/* Checks the frame at buf (available bytes there) found at stream position. */
shoal_frame_check_t shoal_recording_frame_check(const shoal_recording_descriptor_t *d, const uint8_t *buf,
    size_t available, int64_t position, const char **why);

/* The aligned length of a frame that checked valid. */
int32_t shoal_recording_frame_aligned_length(const uint8_t *frame);

/* True if the frame (valid) ends a message: a PAD, or DATA with END. */
bool shoal_recording_frame_ends_message(const uint8_t *frame);

typedef struct shoal_recording_scan_stct
{
    int64_t frames_end;   /* after the last valid frame found */
    int64_t complete_end; /* after the last frame ending a message (or the scan's from) */
    int64_t messages;     /* messages completed in [from, complete_end) */
    int64_t frames;       /* valid frames in [from, frames_end) */
    bool unwritten;       /* the scan stopped at a frame not written */
    bool invalid;         /* the scan stopped at an invalid frame (why, at frames_end) */
    bool segment_missing; /* the scan stopped because a segment file does not exist */
    char why[256];
} shoal_recording_scan_t;

/* Scans d's frames from `from` (a frame boundary at which no message is in
 * progress: the start, or a term base) up to limit (-1: as far as valid
 * frames go). Stops, without error, at the first unwritten or invalid frame
 * or missing segment (flags say which); -1 only for I/O errors. */
int shoal_recording_scan(const char *dir, const shoal_recording_descriptor_t *d, int64_t from, int64_t limit,
    shoal_recording_scan_t *out);

#endif
