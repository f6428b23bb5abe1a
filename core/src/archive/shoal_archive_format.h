/*
 * The archive's files, byte for byte (little-endian, like the frames).
 *
 *   ARCHIVE_DIR/
 *     archive.catalog        catalog: header + one fixed-size record per recording id
 *     <id>-<base>.rec        segment: the recording's frames from stream position
 *                            <base> (a multiple of segment_length past the start's
 *                            term base) for segment_length bytes, exactly as in the log
 *     <id>.time              time index: header + (position, time ns) per written block
 *
 * Catalog: a 2048-byte header, then record i (recording id i) at
 * SHOAL_CATALOG_HEADER_LENGTH + i * record_length. Records are only ever
 * appended; a purged recording keeps its slot (state PURGED) so ids are never
 * reused. Each record carries a CRC-32 of its bytes after the checksum: a
 * corrupt record is refused (SHOAL_EIO naming the id); an all-zero record at
 * the file's end (the file grew, the record did not land) is dropped by the
 * writer's open. A record is 2048-aligned, so it never straddles a page and
 * one pwrite replaces it whole in the page cache.
 *
 * Versioning: the header's major version changes when an older reader cannot
 * read the file (it refuses it); the minor when fields are only appended into
 * reserved space. Each record carries its own record_version so `shoal-archive
 * migrate` can upgrade records one by one.
 *
 * Segments: the writer writes each block with its first frame's length word
 * zeroed, then that word (the commit): a reader, recovery included, never sees
 * a frame whose block was not wholly written. Unwritten bytes are zero.
 */
#ifndef SHOAL_ARCHIVE_FORMAT_H
#define SHOAL_ARCHIVE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/shoal_frames.h"
#include "shoal/shoal_archive.h"

#define SHOAL_CATALOG_FILE           "archive.catalog"
#define SHOAL_CATALOG_MAGIC          "SHOALCAT"
#define SHOAL_CATALOG_VERSION_MAJOR  1
#define SHOAL_CATALOG_VERSION_MINOR  0
#define SHOAL_CATALOG_HEADER_LENGTH  2048 /* records stay 2048-aligned: never across a page */
#define SHOAL_CATALOG_RECORD_LENGTH  2048
#define SHOAL_CATALOG_RECORD_VERSION 1
#define SHOAL_CATALOG_CHANNEL_MAX    1024 /* bytes, NUL included */
#define SHOAL_CATALOG_SOURCE_MAX     256
#define SHOAL_CATALOG_RECORD_EMPTY   0 /* never written */
#define SHOAL_CATALOG_RECORD_VALID   1
#define SHOAL_CATALOG_RECORD_PURGED  2

#define SHOAL_TIME_INDEX_MAGIC         "SHOALTIX"
#define SHOAL_TIME_INDEX_VERSION       1
#define SHOAL_TIME_INDEX_HEADER_LENGTH 32

#define SHOAL_SEGMENT_LENGTH_MIN     (64 * 1024)
#define SHOAL_SEGMENT_LENGTH_MAX     (1024 * 1024 * 1024)
#define SHOAL_SEGMENT_LENGTH_DEFAULT (128 * 1024 * 1024)
#define SHOAL_TERM_LENGTH_MIN        (64 * 1024)
#define SHOAL_TERM_LENGTH_MAX        (1024 * 1024 * 1024)

#pragma pack(push, 4)
typedef struct shoal_catalog_header_stct
{
    char magic[8];         /* SHOAL_CATALOG_MAGIC, no NUL */
    int32_t version_major; /* SHOAL_CATALOG_VERSION_MAJOR */
    int32_t version_minor; /* SHOAL_CATALOG_VERSION_MINOR */
    int32_t header_length; /* SHOAL_CATALOG_HEADER_LENGTH */
    int32_t record_length; /* SHOAL_CATALOG_RECORD_LENGTH */
    int64_t created_ns;    /* CLOCK_REALTIME when the catalog was made */
    uint8_t reserved[SHOAL_CATALOG_HEADER_LENGTH - 32];
} shoal_catalog_header_t;

typedef struct shoal_catalog_record_stct
{
    uint32_t checksum;      /* CRC-32 (IEEE) of the record's bytes [4, record_length) */
    int32_t state;          /* SHOAL_CATALOG_RECORD_* */
    int32_t record_version; /* SHOAL_CATALOG_RECORD_VERSION */
    int32_t reserved0;
    int64_t recording_id; /* == its slot */
    int64_t start_position;
    int64_t stop_position; /* -1 while recording */
    int64_t start_timestamp_ns;
    int64_t stop_timestamp_ns;
    int32_t initial_term_id;
    int32_t term_length;
    int32_t mtu;
    int32_t segment_length;
    int32_t session_id;
    int32_t stream_id;
    int32_t channel_length; /* bytes in channel, without NUL */
    int32_t source_identity_length;
    char channel[SHOAL_CATALOG_CHANNEL_MAX];
    char source_identity[SHOAL_CATALOG_SOURCE_MAX];
    uint8_t reserved[SHOAL_CATALOG_RECORD_LENGTH - 88 - SHOAL_CATALOG_CHANNEL_MAX - SHOAL_CATALOG_SOURCE_MAX];
} shoal_catalog_record_t;

typedef struct shoal_time_index_header_stct
{
    char magic[8];        /* SHOAL_TIME_INDEX_MAGIC */
    int32_t version;      /* SHOAL_TIME_INDEX_VERSION */
    int32_t entry_length; /* sizeof(shoal_time_index_entry_t) */
    int64_t recording_id;
    int64_t reserved;
} shoal_time_index_header_t;

/* After the block that ends at position was written, the writer's clock said time_ns. */
typedef struct shoal_time_index_entry_stct
{
    int64_t position;
    int64_t time_ns;
} shoal_time_index_entry_t;
#pragma pack(pop)

SHOAL_LAYOUT_SIZE(shoal_catalog_header_t, SHOAL_CATALOG_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_catalog_record_t, SHOAL_CATALOG_RECORD_LENGTH);
SHOAL_LAYOUT_OFFSET(shoal_catalog_record_t, channel, 88);
SHOAL_LAYOUT_SIZE(shoal_time_index_header_t, SHOAL_TIME_INDEX_HEADER_LENGTH);
SHOAL_LAYOUT_SIZE(shoal_time_index_entry_t, 16);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of len bytes. */
uint32_t shoal_archive_crc32(const uint8_t *data, size_t len);

void shoal_catalog_header_init(shoal_catalog_header_t *h, int64_t now_ns);
/* 0, or -1 with SHOAL_EIO naming path: bad magic, unknown major version, bad lengths. */
int shoal_catalog_header_check(const shoal_catalog_header_t *h, const char *path);

/* Builds a VALID record of id from d (d->recording_id ignored); -1 with
 * SHOAL_EINVAL if a string is too long or a field is out of range. */
int shoal_catalog_record_encode(shoal_catalog_record_t *rec, int64_t id, const shoal_recording_descriptor_t *d);
/* Recomputes rec->checksum (after a field changed). */
void shoal_catalog_record_seal(shoal_catalog_record_t *rec);
/* Checks a record read from slot id: checksum, state, version, field ranges.
 * 0 valid, 1 empty or purged (*state says which), -1 corrupt (SHOAL_EIO
 * naming path and id). */
int shoal_catalog_record_check(const shoal_catalog_record_t *rec, int64_t id, const char *path, int32_t *state);
/* The descriptor view of a checked record; its strings point into rec. */
void shoal_catalog_record_view(const shoal_catalog_record_t *rec, shoal_recording_descriptor_t *d);

/* Checks the descriptor fields a recording's files depend on (term length,
 * segment length, positions). 0, or -1 with SHOAL_EINVAL naming the field. */
int shoal_recording_geometry_check(int64_t start_position, int32_t term_length, int32_t segment_length);

/* Stream position where the segment holding position begins. */
static inline int64_t shoal_segment_base(int64_t start_position, int64_t position, int32_t term_length,
    int32_t segment_length)
{
    const int64_t start_term_base = start_position - (start_position & (term_length - 1));
    const int64_t from_base = position - start_term_base;
    return start_term_base + (from_base - (from_base & (segment_length - 1)));
}

/* "<dir>/<id>-<base>.rec" and "<dir>/<id>.time"; -1 with SHOAL_EINVAL if it does not fit. */
int shoal_segment_file_name(char *out, size_t out_len, const char *dir, int64_t id, int64_t base);
int shoal_time_index_file_name(char *out, size_t out_len, const char *dir, int64_t id);
int shoal_catalog_file_name(char *out, size_t out_len, const char *dir);

#endif
