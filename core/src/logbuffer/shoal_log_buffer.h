/*
 * A log buffer as a mapped file: three terms and the metadata page (layout
 * in shoal_logbuffer_descriptor.h). The driver creates one per publication
 * (IPC or UDP) and per image (<dir>/publications/<id>.logbuffer, 0600); the
 * client maps the file the driver names. Every owner embeds this one type.
 *
 * The driver side also keeps a log usable: cleaning zeroes terms behind the
 * slowest reader so a writer only ever enters zeroed terms, and unblocking
 * pads over a claim a dead publisher never committed. Both run on the driver
 * conductor (cleaning of an image on the receiver), never on a hot path.
 */
#ifndef SHOAL_LOG_BUFFER_H
#define SHOAL_LOG_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logbuffer/shoal_logbuffer_descriptor.h"

typedef struct shoal_log_buffer_stct
{
    uint8_t *terms[SHOAL_LOGBUFFER_PARTITION_COUNT];
    shoal_logbuffer_metadata_t *meta;
    int32_t term_length;
    int32_t initial_term_id;
    size_t position_bits_to_shift;
    uint8_t *mapped; /* NULL: not mapped */
    size_t mapped_length;
    /* Not zeroed between laps (shoal_log_buffer_mark_uncleaned): its owner
     * never cleans it, and the unblocker tells this lap's frames by their
     * headers (past a frame not yet written is last lap's data:
     * shoal_term_unblocker.h). Driver side; set at creation. */
    bool uncleaned;
    /* Mapped from a file whose blocks are not all allocated (sparse=true):
     * its pages are taken as first written, and never touched ahead. */
    bool sparse;
} shoal_log_buffer_t;

/* How shoal_log_buffer_pre_touch goes through a client's mapping. */
typedef enum shoal_log_touch_en
{
    SHOAL_LOG_TOUCH_READ,  /* a load per page: an image's mapping */
    SHOAL_LOG_TOUCH_WRITE, /* an atomic add of 0 per page: a publication's mapping */
} shoal_log_touch_t;

typedef struct shoal_log_buffer_params_stct
{
    int64_t registration_id; /* names the file; the metadata's correlation id */
    int32_t term_length;
    int32_t mtu;
    int32_t initial_term_id;
    int32_t session_id;
    int32_t stream_id;
    bool sparse; /* true: blocks are not reserved up front */
    /* A publication that starts at (start_term_id, start_term_offset), not
     * at (initial_term_id, 0): shoal_logbuffer_metadata_start_at. */
    bool has_start;
    int32_t start_term_id;
    int32_t start_term_offset;
} shoal_log_buffer_params_t;

/* Creates <dir>/publications/<registration_id>.logbuffer (the directory
 * 0700, the file 0600), maps it and writes its metadata; the file name goes
 * to path. On failure nothing is left mapped (a file already created is
 * removed). */
int shoal_log_buffer_create(shoal_log_buffer_t *log, char *path, size_t path_size, const char *dir,
    const shoal_log_buffer_params_t *params);

/* Maps an existing log file read-write (the client's side), checking that
 * its length and metadata agree. */
int shoal_log_buffer_map(shoal_log_buffer_t *log, const char *path);

/* Goes through the pages of a mapped log once, keeping its bytes, so that
 * the stream's first pass through a page costs no more than later ones.
 * MAP_POPULATE maps the pages in, but under some hypervisors (nested or
 * shadow paging, as on the VM of docs/performance.md) the first user-mode
 * read of each page through a mapping, and then its first write, still trap
 * to the hypervisor, ~6-10 us each: on a fresh log that was a 32-byte round
 * trip's p99 (one page every 64 messages). Each mapping traps on its own
 * (the publication's and the image's are two), so each is touched: reads
 * for a reader, writes for a writer (a read does not clear the write trap).
 * The write is an atomic add of 0 to the page's first 8 bytes, so it keeps
 * whatever a live publisher of a shared log writes there meanwhile.
 *
 * Touches the pages in [offset, offset + max_bytes) and returns where it
 * stopped: the mapped length once all are done. A sparse log is left alone
 * (touching would allocate it): the mapped length at once. On that VM a
 * page costs ~5 us (~0.25 s for a 192 MiB log), on bare metal tens of ns;
 * PRE_TOUCH=0 (shoal.h) turns it off. */
size_t shoal_log_buffer_pre_touch(const shoal_log_buffer_t *log, shoal_log_touch_t how, size_t offset,
    size_t max_bytes);

/* Unmaps (a log never mapped, or already unmapped, is left alone). */
void shoal_log_buffer_unmap(shoal_log_buffer_t *log);

/* Unmaps and removes the file: clients that still map it keep their
 * mapping, the name goes now. */
void shoal_log_buffer_delete(shoal_log_buffer_t *log, const char *path);

/* Where the active term's tail is, as a stream position. */
static inline int64_t shoal_log_buffer_producer_position(const shoal_log_buffer_t *log)
{
    int64_t raw_tail = shoal_logbuffer_active_raw_tail(log->meta);
    return shoal_logbuffer_compute_position(shoal_logbuffer_term_id(raw_tail),
        shoal_logbuffer_term_offset(raw_tail, log->term_length), log->position_bits_to_shift, log->initial_term_id);
}

/* Marks a log that is never zeroed between laps (its meta->laps_uncleaned
 * tells readers to check headers): an IPC publication's, where
 * zeroing each line a term behind the readers cost a third pass over memory
 * per message (docs/performance.md). Before any reader maps it. */
void shoal_log_buffer_mark_uncleaned(shoal_log_buffer_t *log);

/* Zeroes the log from *clean_position up to position, a term-bounded chunk
 * at a time (shoal_term_clean: the first word of a chunk last, with
 * release), and moves *clean_position there (never called on an uncleaned
 * log: UDP logs are the ones cleaned). A target more than the whole
 * log ahead can only come from a counter a client wrote: everything in
 * between would be zeroed several times over, so it starts a log length
 * behind the target. Returns the chunks zeroed. */
int shoal_log_buffer_clean(shoal_log_buffer_t *log, int64_t *clean_position, int64_t position);

/* Pads over a claim never committed at blocked_position (readers stuck
 * there for the unblock timeout), or rotates a log whose tripping writer
 * died before rotating (shoal_term_unblocker.h). True if it acted. */
bool shoal_log_buffer_unblock(shoal_log_buffer_t *log, int64_t blocked_position);

#endif
