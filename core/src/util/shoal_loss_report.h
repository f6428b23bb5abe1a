/*
 * Loss report in shared memory (part of the CnC file), in the manner of
 * Aeron's LossReport: one entry per image (session of a stream from one
 * source on one channel) that ever saw a gap, with how often gaps were
 * observed and how many bytes they spanned. The receiver writes it when it
 * detects a new gap, never on the path of data that arrives in order.
 *
 * Entries start 64-aligned (a cache line each), back to back from offset 0:
 *    0  int64  observation_count    release store; 0 = end of report
 *    8  int64  total_bytes_lost
 *   16  int64  first_observation_ms  epoch ms
 *   24  int64  last_observation_ms   release store on every observation
 *   32  int32  session_id
 *   36  int32  stream_id
 *   40  int32  channel_length       0..SHOAL_LOSS_REPORT_MAX_TEXT
 *   44  char   channel[channel_length]
 *   ..  int32  source_length        at 44 + align(channel_length, 4)
 *   ..  char   source[source_length]
 *
 * Memory model: a new entry's fields are written first, its
 * observation_count (1) store-released last; readers load-acquire the count
 * and stop at 0.
 *
 * Trust: cnc.dat is mapped read-write by every client. The writer keeps the
 * offset of each of its entries in the image that owns it and never reads
 * an offset or a length back from the shared buffer, so a client writing
 * into the report can change figures but not make the driver write outside
 * it. Readers check every length against the buffer end.
 *
 * Threads: entries are created under a mutex (once per image, on its first
 * loss); observations of one entry come from the receiver thread owning
 * the image (atomic adds). Readers need no lock.
 */
#ifndef SHOAL_LOSS_REPORT_H
#define SHOAL_LOSS_REPORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SHOAL_LOSS_REPORT_OBSERVATION_COUNT_OFFSET 0
#define SHOAL_LOSS_REPORT_TOTAL_BYTES_LOST_OFFSET  8
#define SHOAL_LOSS_REPORT_FIRST_OBSERVATION_OFFSET 16
#define SHOAL_LOSS_REPORT_LAST_OBSERVATION_OFFSET  24
#define SHOAL_LOSS_REPORT_SESSION_ID_OFFSET        32
#define SHOAL_LOSS_REPORT_STREAM_ID_OFFSET         36
#define SHOAL_LOSS_REPORT_CHANNEL_OFFSET           40
#define SHOAL_LOSS_REPORT_ENTRY_ALIGNMENT          64
#define SHOAL_LOSS_REPORT_MAX_TEXT                 512

typedef struct shoal_loss_report_stct
{
    uint8_t *buffer;
    size_t capacity;
    size_t next_offset;
    pthread_mutex_t lock;
} shoal_loss_report_t;

/* buffer must be 8-aligned and zero (a fresh CnC region); capacity 0 makes a
 * report that records nothing. */
int shoal_loss_report_init(shoal_loss_report_t *report, uint8_t *buffer, size_t capacity);
void shoal_loss_report_close(shoal_loss_report_t *report);

/* Creates the entry of an image with its first observation; returns its
 * offset, or -1 with SHOAL_ENOMEM "loss report full" (the caller then stops
 * trying for that image). channel and source are cut to
 * SHOAL_LOSS_REPORT_MAX_TEXT bytes. */
int64_t shoal_loss_report_create_entry(shoal_loss_report_t *report, int64_t bytes_lost, int64_t now_ms,
    int32_t session_id, int32_t stream_id, const char *channel, const char *source);

/* Another observation for the entry at offset (as returned above). */
void shoal_loss_report_record_observation(shoal_loss_report_t *report, int64_t offset, int64_t bytes_lost,
    int64_t now_ms);

/* channel and source point into the buffer, not NUL-terminated. */
typedef void (*shoal_loss_report_reader_fn)(int64_t observation_count, int64_t total_bytes_lost,
    int64_t first_observation_ms, int64_t last_observation_ms, int32_t session_id, int32_t stream_id,
    const char *channel, size_t channel_length, const char *source, size_t source_length, void *clientd);

/* Calls fn (may be NULL) for each complete entry; returns how many. */
size_t shoal_loss_report_read(const uint8_t *buffer, size_t capacity, shoal_loss_report_reader_fn fn, void *clientd);

#endif
