/*
 * Encoding and checking of the archive's catalog records and file names
 * (layouts in shoal_archive_format.h).
 */
#include "archive/shoal_archive_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

uint32_t shoal_archive_crc32(const uint8_t *data, size_t len)
{
    /* Bitwise: catalog records are checked a few at a time, never on a hot path. */
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
    {
        crc ^= data[i];
        for (int k = 0; k < 8; k++)
        {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

void shoal_catalog_header_init(shoal_catalog_header_t *h, int64_t now_ns)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, SHOAL_CATALOG_MAGIC, sizeof(h->magic));
    h->version_major = SHOAL_CATALOG_VERSION_MAJOR;
    h->version_minor = SHOAL_CATALOG_VERSION_MINOR;
    h->header_length = SHOAL_CATALOG_HEADER_LENGTH;
    h->record_length = SHOAL_CATALOG_RECORD_LENGTH;
    h->created_ns = now_ns;
}

int shoal_catalog_header_check(const shoal_catalog_header_t *h, const char *path)
{
    if (memcmp(h->magic, SHOAL_CATALOG_MAGIC, sizeof(h->magic)) != 0)
    {
        return shoal_set_err(SHOAL_EIO, "%s is not a shoal archive catalog (bad magic)", path);
    }
    if (h->version_major != SHOAL_CATALOG_VERSION_MAJOR)
    {
        return shoal_set_err(SHOAL_EIO, "%s has catalog format %d.%d; this library reads %d.x", path, h->version_major,
            h->version_minor, SHOAL_CATALOG_VERSION_MAJOR);
    }
    if (h->header_length != SHOAL_CATALOG_HEADER_LENGTH || h->record_length != SHOAL_CATALOG_RECORD_LENGTH)
    {
        return shoal_set_err(SHOAL_EIO, "%s: corrupt catalog header (header length %d, record length %d)", path,
            h->header_length, h->record_length);
    }
    return 0;
}

int shoal_recording_geometry_check(int64_t start_position, int32_t term_length, int32_t segment_length)
{
    if (term_length < SHOAL_TERM_LENGTH_MIN || term_length > SHOAL_TERM_LENGTH_MAX ||
        !SHOAL_IS_POWER_OF_TWO(term_length))
    {
        return shoal_set_err(SHOAL_EINVAL, "term_length %d: must be a power of two in [%d, %d]", term_length,
            SHOAL_TERM_LENGTH_MIN, SHOAL_TERM_LENGTH_MAX);
    }
    if (segment_length < term_length || segment_length > SHOAL_SEGMENT_LENGTH_MAX ||
        !SHOAL_IS_POWER_OF_TWO(segment_length))
    {
        return shoal_set_err(SHOAL_EINVAL,
            "segment_length %d: must be a power of two, at least the term length (%d) and at most %d", segment_length,
            term_length, SHOAL_SEGMENT_LENGTH_MAX);
    }
    if (start_position < 0 || (start_position & (SHOAL_FRAME_ALIGNMENT - 1)) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "start_position %" PRId64 ": must be >= 0 and a multiple of %d",
            start_position, SHOAL_FRAME_ALIGNMENT);
    }
    return 0;
}

static int copy_text(char *dst, size_t cap, int32_t *len_out, const char *src, const char *what)
{
    const size_t n = src != NULL ? strlen(src) : 0;
    if (n >= cap)
    {
        return shoal_set_err(SHOAL_EINVAL, "%s is %zu bytes; the catalog holds at most %zu", what, n, cap - 1);
    }
    if (n > 0)
    {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
    *len_out = (int32_t)n;
    return 0;
}

int shoal_catalog_record_encode(shoal_catalog_record_t *rec, int64_t id, const shoal_recording_descriptor_t *d)
{
    if (shoal_recording_geometry_check(d->start_position, d->term_length, d->segment_length) < 0)
    {
        return -1;
    }
    if (d->mtu < SHOAL_DATA_HEADER_LENGTH || d->mtu > 65504 || (d->mtu & (SHOAL_FRAME_ALIGNMENT - 1)) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "mtu %d: must be a multiple of 32 in [32, 65504]", d->mtu);
    }
    memset(rec, 0, sizeof(*rec));
    if (copy_text(rec->channel, sizeof(rec->channel), &rec->channel_length, d->channel, "channel") < 0 ||
        copy_text(rec->source_identity, sizeof(rec->source_identity), &rec->source_identity_length, d->source_identity,
            "source identity") < 0)
    {
        return -1;
    }
    rec->state = SHOAL_CATALOG_RECORD_VALID;
    rec->record_version = SHOAL_CATALOG_RECORD_VERSION;
    rec->recording_id = id;
    rec->start_position = d->start_position;
    rec->stop_position = -1;
    rec->start_timestamp_ns = d->start_timestamp_ns;
    rec->stop_timestamp_ns = -1;
    rec->initial_term_id = d->initial_term_id;
    rec->term_length = d->term_length;
    rec->mtu = d->mtu;
    rec->segment_length = d->segment_length;
    rec->session_id = d->session_id;
    rec->stream_id = d->stream_id;
    shoal_catalog_record_seal(rec);
    return 0;
}

void shoal_catalog_record_seal(shoal_catalog_record_t *rec)
{
    rec->checksum = shoal_archive_crc32((const uint8_t *)rec + 4, sizeof(*rec) - 4);
}

static bool text_ok(const char *text, int32_t len, size_t cap)
{
    return len >= 0 && (size_t)len < cap && text[len] == '\0' && memchr(text, '\0', (size_t)len) == NULL;
}

int shoal_catalog_record_check(const shoal_catalog_record_t *rec, int64_t id, const char *path, int32_t *state)
{
    static const uint8_t zeros[64];
    *state = SHOAL_CATALOG_RECORD_EMPTY;
    if (rec->checksum == 0 && rec->state == 0 && memcmp(rec, zeros, sizeof(zeros)) == 0)
    {
        return 1; /* never written */
    }
    if (rec->checksum != shoal_archive_crc32((const uint8_t *)rec + 4, sizeof(*rec) - 4))
    {
        return shoal_set_err(SHOAL_EIO, "%s: recording %" PRId64 ": catalog record checksum mismatch", path, id);
    }
    if (rec->record_version != SHOAL_CATALOG_RECORD_VERSION)
    {
        return shoal_set_err(SHOAL_EIO, "%s: recording %" PRId64 ": record version %d, this library reads %d", path, id,
            rec->record_version, SHOAL_CATALOG_RECORD_VERSION);
    }
    if (rec->state != SHOAL_CATALOG_RECORD_VALID && rec->state != SHOAL_CATALOG_RECORD_PURGED)
    {
        return shoal_set_err(SHOAL_EIO, "%s: recording %" PRId64 ": bad record state %d", path, id, rec->state);
    }
    if (rec->recording_id != id)
    {
        return shoal_set_err(SHOAL_EIO, "%s: slot %" PRId64 " holds recording id %" PRId64, path, id,
            rec->recording_id);
    }
    *state = rec->state;
    if (rec->state == SHOAL_CATALOG_RECORD_PURGED)
    {
        return 1;
    }
    if (shoal_recording_geometry_check(rec->start_position, rec->term_length, rec->segment_length) < 0 ||
        (rec->stop_position != -1 &&
            (rec->stop_position < rec->start_position || (rec->stop_position & (SHOAL_FRAME_ALIGNMENT - 1)) != 0)) ||
        !text_ok(rec->channel, rec->channel_length, sizeof(rec->channel)) ||
        !text_ok(rec->source_identity, rec->source_identity_length, sizeof(rec->source_identity)))
    {
        return shoal_set_err(SHOAL_EIO, "%s: recording %" PRId64 ": catalog record fields out of range", path, id);
    }
    return 0;
}

void shoal_catalog_record_view(const shoal_catalog_record_t *rec, shoal_recording_descriptor_t *d)
{
    d->recording_id = rec->recording_id;
    d->start_position = rec->start_position;
    d->stop_position = rec->stop_position;
    d->start_timestamp_ns = rec->start_timestamp_ns;
    d->stop_timestamp_ns = rec->stop_timestamp_ns;
    d->initial_term_id = rec->initial_term_id;
    d->term_length = rec->term_length;
    d->mtu = rec->mtu;
    d->segment_length = rec->segment_length;
    d->session_id = rec->session_id;
    d->stream_id = rec->stream_id;
    d->channel = rec->channel;
    d->source_identity = rec->source_identity;
}

static int name_fits(int n, size_t out_len)
{
    if (n < 0 || (size_t)n >= out_len)
    {
        return shoal_set_err(SHOAL_EINVAL, "archive path too long (%d bytes)", n);
    }
    return 0;
}

int shoal_segment_file_name(char *out, size_t out_len, const char *dir, int64_t id, int64_t base)
{
    return name_fits(snprintf(out, out_len, "%s/%" PRId64 "-%" PRId64 ".rec", dir, id, base), out_len);
}

int shoal_time_index_file_name(char *out, size_t out_len, const char *dir, int64_t id)
{
    return name_fits(snprintf(out, out_len, "%s/%" PRId64 ".time", dir, id), out_len);
}

int shoal_catalog_file_name(char *out, size_t out_len, const char *dir)
{
    return name_fits(snprintf(out, out_len, "%s/%s", dir, SHOAL_CATALOG_FILE), out_len);
}
