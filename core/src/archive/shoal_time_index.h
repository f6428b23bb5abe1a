/*
 * A recording's time index, <dir>/<id>.time: after each block it writes, the
 * recording writer notes (position after the block, CLOCK_REALTIME ns). A
 * reader takes as a message's recorded time that of the first entry at or
 * past the message's end, so a backtest can drive its timers by recorded time.
 *
 * The writer buffers entries and writes them SHOAL_TIME_INDEX_BUFFERED at a
 * time (and at every block under an fsync policy, and at close): after a crash
 * the last blocks may have no entry, and recovery gives them the last time
 * known. A partial entry at the end of the file (a crash mid-write) is ignored.
 */
#ifndef SHOAL_TIME_INDEX_H
#define SHOAL_TIME_INDEX_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "archive/shoal_archive_format.h"

#define SHOAL_TIME_INDEX_BUFFERED 256

typedef struct shoal_time_index_writer_stct
{
    int fd;
    int64_t file_entries; /* entries in the file */
    int32_t buffered;
    shoal_time_index_entry_t buffer[SHOAL_TIME_INDEX_BUFFERED];
    char path[PATH_MAX];
} shoal_time_index_writer_t;

/* Creates <dir>/<id>.time (empty: header only). */
int shoal_time_index_writer_open(shoal_time_index_writer_t *w, const char *dir, int64_t id);
/* Notes an entry; writes the buffer when it is full. */
int shoal_time_index_writer_append(shoal_time_index_writer_t *w, int64_t position, int64_t time_ns);
/* Writes the buffered entries; sync: then fdatasync. */
int shoal_time_index_writer_flush(shoal_time_index_writer_t *w, bool sync);
/* Flushes and closes (fd -1 after). */
int shoal_time_index_writer_close(shoal_time_index_writer_t *w, bool sync);

/* Reading side: the entries, loaded and refreshed as a live recording grows. */
typedef struct shoal_time_index_reader_stct
{
    int fd; /* -1: no index file (yet) */
    shoal_time_index_entry_t *entries;
    int64_t count;
    int64_t capacity;
    int64_t next; /* lookups move forward: the first entry not yet passed */
    int64_t recording_id;
    char path[PATH_MAX];
} shoal_time_index_reader_t;

/* Opens <dir>/<id>.time if it exists (a missing one reads as empty) and loads it. */
int shoal_time_index_reader_open(shoal_time_index_reader_t *r, const char *dir, int64_t id);
/* Loads the entries appended since (the file only grows while recording). */
int shoal_time_index_reader_refresh(shoal_time_index_reader_t *r);
/* Time of the first entry at or past position (lookups with non-decreasing
 * positions are O(1) amortised); fallback when no entry is there yet. */
int64_t shoal_time_index_reader_time_at(shoal_time_index_reader_t *r, int64_t position, int64_t fallback);
void shoal_time_index_reader_close(shoal_time_index_reader_t *r);

/* Cuts the index of a recording whose data now stops at stop_position: drops
 * entries past it and makes the last entry (stop_position, t) where t is the
 * time of the first entry at or past it (else the last entry's, else
 * fallback_ns). Returns t through *stop_time_ns. Creates the file if missing. */
int shoal_time_index_cut(const char *dir, int64_t id, int64_t stop_position, int64_t fallback_ns, bool sync,
    int64_t *stop_time_ns);

#endif
