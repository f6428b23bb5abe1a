/*
 * The archive segment and time index readers (archive/shoal_recording_scan.c,
 * shoal_recording_reader.c, shoal_recording_cursor.c, shoal_time_index.c,
 * the recovery in shoal_archive_recovery.c): segment files are read back
 * after crashes, disk faults and tampering, so any bytes must give clean
 * errors, never reads outside what was read, never a torn message.
 * The harness makes a recording in the catalog (geometry from the input),
 * writes the input's segment and time index bytes as its files, then:
 *   raw blocks - the recording reader with several max lengths: every block
 *                must be whole frames that pass the frame check, contiguous;
 *   cursor     - every message, every byte read;
 *   recovery   - (left active) the writer's open recovers it: after that the
 *                recording must scan whole and valid from start to stop, and
 *                every byte after the stop must be zero.
 * Input: mode byte (bit 0: leave active; bit 1: mtu 4096 instead of 1408;
 * bits 2-3: start position 0, 64, 4096 or 65504), stop position (int32 LE,
 * used when not active, 32-aligned), time index length (uint16 LE, bytes),
 * then the time index entries, then the segment bytes (<= 128 KiB).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/shoal_archive_catalog.h"
#include "archive/shoal_archive_format.h"
#include "archive/shoal_recording_reader.h"
#include "archive/shoal_recording_scan.h"
#include "archive/shoal_segment_file.h"
#include "protocol/shoal_frames.h"
#include "shoal/shoal_archive.h"
#include "util/shoal_fs.h"

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERM    (64 * 1024)
#define SEGMENT (128 * 1024)
#define HEADER  7

static char dir[256];

static void cleanup(void)
{
    shoal_fs_delete_dir(dir);
}

static void write_file(const char *path, const uint8_t *bytes, size_t length, size_t file_length)
{
    const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (length > 0 && write(fd, bytes, length) != (ssize_t)length) ||
        (file_length > length && ftruncate(fd, (off_t)file_length) != 0))
    {
        abort();
    }
    close(fd);
}

static void read_blocks(const shoal_recording_descriptor_t *d, size_t max_length)
{
    shoal_recording_reader_t *rd;
    if (shoal_recording_reader_open(&rd, dir, d, -1, -1) < 0)
    {
        return;
    }
    int64_t expected = d->start_position;
    const uint8_t *block;
    size_t length;
    int64_t position;
    for (int i = 0; i < 4096 && shoal_recording_reader_next_block(rd, &block, &length, &position, max_length) == 1; i++)
    {
        if (position != expected || length == 0 || (position & (TERM - 1)) + (int64_t)length > TERM)
        {
            abort();
        }
        for (size_t off = 0; off < length;)
        {
            const char *why;
            if (shoal_recording_frame_check(d, block + off, length - off, position + (int64_t)off, &why) !=
                SHOAL_FRAME_VALID)
            {
                abort(); /* a block holds only whole, valid frames */
            }
            off += (size_t)shoal_recording_frame_aligned_length(block + off);
        }
        expected += (int64_t)length;
    }
    shoal_recording_reader_close(rd);
}

static void read_messages(const char *archive_dir, size_t *total)
{
    shoal_archive_reader_t *r;
    if (shoal_archive_reader_open(&r, archive_dir) < 0)
    {
        abort();
    }
    shoal_recording_cursor_t *c;
    if (shoal_recording_cursor_open(&c, r, 0, -1, -1) == 0)
    {
        for (int i = 0; i < 1000 && shoal_recording_cursor_poll(c, fuzz_on_message, total, 16) > 0; i++)
        {
        }
        shoal_recording_cursor_close(c);
    }
    shoal_archive_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0')
    {
        fuzz_scratch_dir(dir, sizeof(dir), "archive-segment");
        atexit(cleanup);
    }
    if (size < HEADER)
    {
        return 0;
    }
    const uint8_t mode = data[0];
    int32_t stop32;
    memcpy(&stop32, data + 1, sizeof(stop32));
    uint16_t index_length;
    memcpy(&index_length, data + 5, sizeof(index_length));
    if ((size_t)index_length > size - HEADER)
    {
        index_length = (uint16_t)(size - HEADER);
    }
    const uint8_t *index = data + HEADER;
    const uint8_t *segment = index + index_length;
    size_t segment_length = size - HEADER - index_length;
    if (segment_length > SEGMENT)
    {
        segment_length = SEGMENT;
    }
    static const int64_t starts[4] = { 0, 64, 4096, TERM - 32 };
    shoal_recording_descriptor_t d;
    memset(&d, 0, sizeof(d));
    d.start_position = starts[(mode >> 2) & 3];
    d.start_timestamp_ns = 1;
    d.initial_term_id = 7;
    d.term_length = TERM;
    d.mtu = (mode & 2) ? 4096 : 1408;
    d.segment_length = SEGMENT;
    d.session_id = 5;
    d.stream_id = 1001;
    d.channel = "aeron:ipc";
    d.source_identity = "";

    shoal_fs_delete_dir(dir);
    shoal_archive_catalog_t *cat;
    if (shoal_archive_catalog_open(&cat, dir, SHOAL_ARCHIVE_FSYNC_NONE) < 0 ||
        shoal_archive_catalog_add_recording(cat, &d) != 0)
    {
        abort();
    }
    const bool active = (mode & 1) != 0;
    const int64_t stop = d.start_position + (((int64_t)(uint32_t)stop32 % SEGMENT) & ~31LL);
    if (!active && shoal_archive_catalog_update_stop(cat, 0, stop < SEGMENT ? stop : SEGMENT, 2) < 0)
    {
        abort();
    }
    shoal_archive_catalog_find(cat, 0, &d);
    shoal_recording_descriptor_t described = d;
    described.channel = "aeron:ipc"; /* d's strings live in the catalog closed below */
    described.source_identity = "";
    char path[512];
    shoal_segment_file_name(path, sizeof(path), dir, 0, 0);
    write_file(path, segment, segment_length, SEGMENT);
    shoal_time_index_file_name(path, sizeof(path), dir, 0);
    shoal_time_index_header_t h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, SHOAL_TIME_INDEX_MAGIC, sizeof(h.magic));
    h.version = SHOAL_TIME_INDEX_VERSION;
    h.entry_length = sizeof(shoal_time_index_entry_t);
    uint8_t *time_file = malloc(sizeof(h) + index_length);
    memcpy(time_file, &h, sizeof(h));
    memcpy(time_file + sizeof(h), index, index_length);
    write_file(path, time_file, sizeof(h) + index_length, 0);
    free(time_file);
    shoal_archive_catalog_close(cat);

    size_t total = 0;
    read_blocks(&described, 64);
    read_blocks(&described, 5000);
    read_messages(dir, &total);

    if (shoal_archive_catalog_open(&cat, dir, SHOAL_ARCHIVE_FSYNC_NONE) < 0)
    {
        return 0; /* a clean error (I/O on the damaged files) is fine */
    }
    shoal_archive_catalog_find(cat, 0, &d);
    if (active)
    {
        /* Recovered: whole from start to stop (recovery trusts the data
         * before the last indexed term, so a frame forged or zeroed there is
         * left for readers to report), zeros after. */
        shoal_recording_scan_t scan;
        if (shoal_archive_catalog_recovered_count(cat) != 1 || d.stop_position < d.start_position ||
            shoal_recording_scan(dir, &d, d.start_position, d.stop_position, &scan) < 0 ||
            (!scan.invalid && !scan.unwritten && scan.complete_end != d.stop_position))
        {
            abort();
        }
        uint8_t *bytes = malloc(SEGMENT);
        shoal_segment_file_name(path, sizeof(path), dir, 0, 0);
        const int fd = open(path, O_RDONLY);
        const ssize_t n = fd >= 0 ? pread(fd, bytes, SEGMENT, 0) : 0;
        for (ssize_t i = d.stop_position; i < n; i++)
        {
            if (bytes[i] != 0)
            {
                abort(); /* a torn tail left behind */
            }
        }
        if (fd >= 0)
        {
            close(fd);
        }
        free(bytes);
    }
    shoal_archive_catalog_close(cat);
    read_messages(dir, &total);
    return 0;
}
