/*
 * The CnC ("command and control") file, <dir>/cnc.dat: the one file every
 * client and tool maps to talk to a driver.
 *
 *   +---------------------------+  0
 *   | shoal_cnc_metadata_t      |  SHOAL_CNC_HEADER_LENGTH (one page)
 *   +---------------------------+
 *   | to-driver MPSC ring       |  to_driver_buffer_length (data + trailer)
 *   +---------------------------+
 *   | to-clients broadcast      |  to_clients_buffer_length (data + trailer)
 *   +---------------------------+
 *   | counters metadata         |  counters_metadata_buffer_length
 *   +---------------------------+
 *   | counters values           |  counters_values_buffer_length
 *   +---------------------------+
 *   | distinct error log        |  error_log_buffer_length
 *   +---------------------------+
 *   | loss report               |  loss_report_buffer_length (from version 1.1)
 *   +---------------------------+
 *
 * The driver writes every field, then cnc_version last with release: a
 * reader that sees SHOAL_CNC_VERSION may trust the lengths. All lengths are
 * multiples of the page size so each region starts page-aligned.
 * Minor versions only append: 1.1 added the loss report (a 1.0 file has
 * none; readers of 1.0 ignore it, as the file only grew at its end).
 * 2.0 changed what the driver's IPC logs promise: they are no longer zeroed
 * between laps, and a reader must check each frame's header against its
 * term (laps_uncleaned, logbuffer/shoal_frame_check.h). A 1.x library would
 * read last lap's bytes as frames, and a 2.x one would count on headers a
 * 1.x driver's exclusive publications do not give it, so the major differs
 * and each refuses the other's driver.
 */
#ifndef SHOAL_CNC_DESCRIPTOR_H
#define SHOAL_CNC_DESCRIPTOR_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define SHOAL_CNC_FILE          "cnc.dat"
#define SHOAL_CNC_LOCK_FILE     "driver.lock"
#define SHOAL_CNC_VERSION       0x00030000 /* major << 16 | minor << 8 | patch */
#define SHOAL_CNC_HEADER_LENGTH 4096

typedef struct shoal_cnc_metadata_stct
{
    int32_t cnc_version;
    int32_t to_driver_buffer_length;
    int32_t to_clients_buffer_length;
    int32_t counters_metadata_buffer_length;
    int32_t counters_values_buffer_length;
    int32_t error_log_buffer_length;
    int64_t client_liveness_timeout_ms;
    int64_t driver_timeout_ms;
    int64_t start_timestamp_ms;
    int64_t pid;
    int32_t loss_report_buffer_length; /* version 1.1 */
} shoal_cnc_metadata_t;

/* Pointers into a mapped CnC file. */
typedef struct shoal_cnc_view_stct
{
    uint8_t *base;
    size_t length;
    shoal_cnc_metadata_t *meta;
    uint8_t *to_driver;
    uint8_t *to_clients;
    uint8_t *counters_metadata;
    uint8_t *counters_values;
    uint8_t *error_log;
    uint8_t *loss_report; /* NULL in a version 1.0 file */
    size_t loss_report_length;
} shoal_cnc_view_t;

/* The loss report's length as a reader may use it: 0 before version 1.1 (every 2.x has one). */
static inline size_t shoal_cnc_loss_report_length(const shoal_cnc_metadata_t *m, int32_t version)
{
    return version >= 0x00010100 && m->loss_report_buffer_length > 0 ? (size_t)m->loss_report_buffer_length : 0;
}

static inline size_t shoal_cnc_computed_length_of(const shoal_cnc_metadata_t *m, int32_t version)
{
    return SHOAL_CNC_HEADER_LENGTH + (size_t)m->to_driver_buffer_length + (size_t)m->to_clients_buffer_length +
        (size_t)m->counters_metadata_buffer_length + (size_t)m->counters_values_buffer_length +
        (size_t)m->error_log_buffer_length + shoal_cnc_loss_report_length(m, version);
}

/* The length of a file of this library's version. */
static inline size_t shoal_cnc_computed_length(const shoal_cnc_metadata_t *m)
{
    return shoal_cnc_computed_length_of(m, SHOAL_CNC_VERSION);
}

/* Fills the region pointers from the metadata; -1 (with error) if the
 * metadata does not describe a file of `length` bytes. */
int shoal_cnc_view_init(shoal_cnc_view_t *view, uint8_t *base, size_t length);

/* Maps <dir>/cnc.dat (read-only for tools, read-write for clients) and
 * validates its header. Waits up to timeout_ms for a starting driver to
 * publish the version. SHOAL_ENODRIVER if there is no file. SHOAL_EIO if
 * cnc.dat is a symlink or not a regular file and, for a writable mapping,
 * if dir or cnc.dat is not owned by the effective user or is writable by
 * group or others. */
int shoal_cnc_map(const char *dir, bool writable, uint64_t timeout_ms, shoal_cnc_view_t *view);
void shoal_cnc_unmap(shoal_cnc_view_t *view);

#endif
