/*
 * Read-only access to a catalog file another process may be writing: what
 * the offline reader and a reader following a live recording use. A record
 * whose checksum does not match is read again (it may be caught mid-write:
 * three times after a yield, then three times after 1 ms) before it is called
 * corrupt. Also the table of records by id that the writable catalog and the
 * offline reader both keep in memory.
 */
#ifndef SHOAL_CATALOG_FILE_H
#define SHOAL_CATALOG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive/shoal_archive_format.h"

/* Opens dir's catalog read-only and checks its header: the fd, or -1 (SHOAL_EIO). */
int shoal_catalog_file_open_read(const char *dir, char *path, size_t path_len);

/* Whole record slots in the file now, or -1. */
int64_t shoal_catalog_file_slots(int fd, const char *path);

/* Reads slot id into rec: 0 valid, 1 empty or purged (*state), -1 corrupt or I/O. */
int shoal_catalog_file_read_record(int fd, const char *path, int64_t id, shoal_catalog_record_t *rec, int32_t *state);

/* How many 1 ms retries a corrupt-looking record gets (3; the fuzz target sets 0). */
void shoal_catalog_file_set_retry_sleeps(int sleeps);

/* Records by id, each its own allocation so a descriptor viewed from one
 * stays put while the table grows; NULL where none is held. writing marks
 * the ids a recording writer of this process holds (the writable catalog
 * sets it; the offline reader never does). */
typedef struct shoal_catalog_records_stct
{
    shoal_catalog_record_t **by_id;
    bool *writing;
    int64_t capacity;
} shoal_catalog_records_t;

/* Room for ids [0, count), new slots NULL and not writing (the capacity
 * doubles, from 16): 0, or -1 with SHOAL_ENOMEM. */
int shoal_catalog_records_reserve(shoal_catalog_records_t *records, int64_t count);

/* Frees the records held and the table. */
void shoal_catalog_records_free(shoal_catalog_records_t *records);

#endif
