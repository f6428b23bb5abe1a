/*
 * Distinct error log in shared memory (part of the CnC file), in the manner of
 * Aeron's DistinctErrorLog: each distinct (error code, text) is one record;
 * observing it again bumps its count and last-observation time instead of
 * appending, so an error storm cannot fill the buffer.
 *
 * Records start 8-aligned, back to back from offset 0:
 *    0  int32  length              header + text bytes (unaligned); 0 = end of log
 *    4  int32  observation_count   atomic add on repeat
 *    8  int64  last_observation_ms  release store on repeat
 *   16  int64  first_observation_ms
 *   24  int32  error_code
 *   28  char   text[length - 28]   UTF-8, not NUL-terminated
 *
 * Memory model: a new record's fields are written first and its length is
 * store-released last; readers load-acquire the length and stop at 0.
 *
 * Threads: writers are one process (the driver), any of its threads; appends
 * take the mutex. Readers (shoal-errors, clients) need no lock.
 *
 * Trust: the buffer sits in cnc.dat, which every client maps read-write. The
 * writer keeps its own copy of every record length and walks the log by it:
 * a length a client overwrote (0 would make a walk stand still, a negative or
 * huge one leave the buffer) is put back and counted in repaired_count.
 * Readers check every length and stop at the first one that is not sane.
 */
#ifndef SHOAL_ERROR_LOG_H
#define SHOAL_ERROR_LOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/shoal.h"

#define SHOAL_ERROR_LOG_LENGTH_OFFSET            0
#define SHOAL_ERROR_LOG_OBSERVATION_COUNT_OFFSET 4
#define SHOAL_ERROR_LOG_LAST_OBSERVATION_OFFSET  8
#define SHOAL_ERROR_LOG_FIRST_OBSERVATION_OFFSET 16
#define SHOAL_ERROR_LOG_ERROR_CODE_OFFSET        24
#define SHOAL_ERROR_LOG_TEXT_OFFSET              28
#define SHOAL_ERROR_LOG_HEADER_LENGTH            28
#define SHOAL_ERROR_LOG_RECORD_ALIGNMENT         8

typedef struct shoal_error_log_stct
{
    uint8_t *buffer;
    size_t capacity;
    size_t next_offset; /* where the next new record goes */
    int32_t *lengths;   /* private: the length of each record, in order */
    size_t record_count;
    size_t record_capacity;
    uint64_t repaired_count; /* shared record lengths found changed and restored */
    pthread_mutex_t lock;
} shoal_error_log_t;

/* buffer must be 8-aligned; existing records (e.g. a reopened log) are kept. */
int shoal_error_log_init(shoal_error_log_t *log, uint8_t *buffer, size_t capacity);
void shoal_error_log_close(shoal_error_log_t *log);

/* Records an observation of (error_code, text). 0, or -1 with SHOAL_ENOMEM
 * "error log full" if a new record does not fit (a repeat of an existing
 * record still counts and returns 0). Restores any record length changed in
 * the shared buffer on the way (repaired_count). */
int shoal_error_log_record(shoal_error_log_t *log, int64_t now_ms, int32_t error_code, const char *text);

/* text points into the buffer, text_length bytes, not NUL-terminated. */
typedef void (*shoal_error_log_reader_fn)(int32_t observation_count, int64_t first_ms, int64_t last_ms,
    int32_t error_code, const char *text, size_t text_length, void *clientd);

/* Calls fn for each record whose last observation is >= since_ms; returns how
 * many it passed to fn. fn may be NULL (count only). */
size_t shoal_error_log_read(const uint8_t *buffer, size_t capacity, shoal_error_log_reader_fn fn, void *clientd,
    int64_t since_ms);

#endif
