/*
 * The offline reader's insides, shared by its cursors and the
 * `shoal-archive` tool.
 */
#ifndef SHOAL_ARCHIVE_READER_H
#define SHOAL_ARCHIVE_READER_H

#include <limits.h>
#include <stdint.h>

#include "archive/shoal_archive_format.h"
#include "archive/shoal_catalog_file.h"
#include "shoal/shoal_archive.h"

struct shoal_archive_reader_stct
{
    int fd; /* the catalog, read-only */
    int cursors;
    shoal_catalog_records_t described; /* the records describe handed out */
    shoal_catalog_record_t scratch;
    char dir[PATH_MAX];
    char path[PATH_MAX];
};

/* describe without the NULL checks: fills *out (strings valid until close). */
int shoal_archive_reader_find(shoal_archive_reader_t *r, int64_t recording_id, shoal_recording_descriptor_t *out);

#endif
