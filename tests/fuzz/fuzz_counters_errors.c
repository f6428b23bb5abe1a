/*
 * The readers of the counters and the error log in a CnC file: any local
 * process that can write <dir>/cnc.dat (a dead or hostile driver, a stale
 * file) decides the content of those regions, and shoal-stat, shoal-errors
 * and the driver-liveness check read them. fuzz_cnc covers the header's
 * validation; here the header is always valid and the input fills the three
 * regions, so the fuzzer spends its time on records and labels:
 *   - the library readers (util/shoal_counters.c, util/shoal_error_log.c) on
 *     exact-size heap copies of the regions, so any read past a region is
 *     caught: every counter id around the ends, find, the error log read at
 *     a few since_ms, and a writer reopening the log and recording into it;
 *     the loss report reader on the error log's bytes;
 *   - shoal-stat (--once with the counter list, --loss, --json or --prometheus) and
 *     shoal-errors (text or --json) run end to end on the file: their sources are compiled
 *     into this target with main renamed (tool_shoal_stat.c,
 *     tool_shoal_errors.c), output to /dev/null;
 *   - shoal_driver_is_active, the public API's reader of the CnC.
 * Input: byte 0 picks the number of counters (1..32); byte 1 whether the
 * metadata region holds one record more or less than the values region
 * (bits 0-1), shoal-stat's output (bits 2-3) and shoal-errors' (bit 4);
 * bytes 2-3 the error log length (8..8192, multiple of 8), bytes 4-11 the
 * since_ms of one error-log read; the rest fills the counters metadata, then
 * the values, then the error log (zero padded).
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "concurrent/shoal_broadcast_descriptor.h"
#include "concurrent/shoal_ring_buffer_descriptor.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "shoal/shoal.h"
#include "util/shoal_counters.h"
#include "util/shoal_error_log.h"
#include "util/shoal_loss_report.h"

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int shoal_stat_main(int argc, char **argv);
int shoal_errors_main(int argc, char **argv);

#define RING_LENGTH      (1024 + SHOAL_RB_TRAILER_LENGTH)
#define BROADCAST_LENGTH (1024 + SHOAL_BROADCAST_TRAILER_LENGTH)
#define PARAMS           12

static char dir[256];
static char path[300];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void on_loss(int64_t observation_count, int64_t total_bytes_lost, int64_t first_ms, int64_t last_ms,
    int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length, const char *source,
    size_t source_length, void *clientd)
{
    size_t *total = clientd;
    /* touch every byte handed out: an out-of-bounds text would trip ASan here */
    for (size_t i = 0; i < channel_length; i++)
    {
        *total += (unsigned char)channel[i];
    }
    for (size_t i = 0; i < source_length; i++)
    {
        *total += (unsigned char)source[i];
    }
    *total += (size_t)observation_count + (size_t)total_bytes_lost + (size_t)first_ms + (size_t)last_ms +
        (size_t)session_id + (size_t)stream_id;
}

/* Copies up to length bytes of the input into a fresh zeroed region of
 * exactly length bytes; advances the input. */
static uint8_t *take_region(const uint8_t **data, size_t *size, size_t length)
{
    uint8_t *region = calloc(1, length);
    size_t n = *size < length ? *size : length;
    if (NULL != region && n > 0)
    {
        memcpy(region, *data, n);
    }
    *data += n;
    *size -= n;
    return region;
}

static int write_cnc(const shoal_cnc_metadata_t *m, const uint8_t *metadata, const uint8_t *values,
    const uint8_t *error_log)
{
    static uint8_t page[SHOAL_CNC_HEADER_LENGTH];
    static uint8_t rings[RING_LENGTH + BROADCAST_LENGTH];
    memset(page, 0, sizeof(page));
    memcpy(page, m, sizeof(*m));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
    {
        return -1;
    }
    int ok = write(fd, page, sizeof(page)) == (ssize_t)sizeof(page) &&
        write(fd, rings, sizeof(rings)) == (ssize_t)sizeof(rings) &&
        write(fd, metadata, (size_t)m->counters_metadata_buffer_length) == m->counters_metadata_buffer_length &&
        write(fd, values, (size_t)m->counters_values_buffer_length) == m->counters_values_buffer_length &&
        write(fd, error_log, (size_t)m->error_log_buffer_length) == m->error_log_buffer_length;
    close(fd);
    return ok ? 0 : -1;
}

static int run_tool(int (*tool_main)(int, char **), const char *name, const char *a, const char *b)
{
    char *argv[] = { (char *)name, "-d", dir, (char *)a, (char *)b, NULL };
    int argc = 3 + (NULL != a) + (NULL != b);
    optind = 0; /* glibc: reinitialise getopt for the next "process" */
    return tool_main(argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if ('\0' == dir[0])
    {
        fuzz_scratch_file(dir, sizeof(dir), path, sizeof(path), "counters-errors", SHOAL_CNC_FILE);
        atexit(cleanup);
        if (NULL == freopen("/dev/null", "w", stdout))
        {
            abort();
        }
    }
    if (size < PARAMS || size > PARAMS + 64 * 1024)
    {
        return -1;
    }
    size_t counters = 1 + data[0] % 32;
    size_t metadata_records = counters;
    if (1 == (data[1] & 3))
    {
        metadata_records++;
    }
    else if (2 == (data[1] & 3) && counters > 1)
    {
        metadata_records--;
    }
    size_t error_log_length = 8 * (1 + ((size_t)data[2] | (size_t)data[3] << 8) % 1024);
    int64_t since_ms;
    memcpy(&since_ms, data + 4, sizeof(since_ms));
    const uint8_t *rest = data + PARAMS;
    size_t rest_length = size - PARAMS;

    shoal_cnc_metadata_t m;
    memset(&m, 0, sizeof(m));
    m.cnc_version = SHOAL_CNC_VERSION;
    m.to_driver_buffer_length = RING_LENGTH;
    m.to_clients_buffer_length = BROADCAST_LENGTH;
    m.counters_metadata_buffer_length = (int32_t)(metadata_records * SHOAL_COUNTER_METADATA_LENGTH);
    m.counters_values_buffer_length = (int32_t)(counters * SHOAL_COUNTER_VALUE_LENGTH);
    m.error_log_buffer_length = (int32_t)error_log_length;
    m.client_liveness_timeout_ms = 10000;
    m.driver_timeout_ms = 10000;
    m.pid = 1;

    uint8_t *metadata = take_region(&rest, &rest_length, (size_t)m.counters_metadata_buffer_length);
    uint8_t *values = take_region(&rest, &rest_length, (size_t)m.counters_values_buffer_length);
    uint8_t *error_log = take_region(&rest, &rest_length, error_log_length);
    if (NULL == metadata || NULL == values || NULL == error_log)
    {
        free(metadata);
        free(values);
        free(error_log);
        return 0;
    }
    size_t total = 0;

    /* the library readers, on regions with nothing around them */
    shoal_counters_reader_t counters_reader;
    if (0 ==
        shoal_counters_reader_init(&counters_reader, metadata, (size_t)m.counters_metadata_buffer_length, values,
            (size_t)m.counters_values_buffer_length))
    {
        shoal_counters_reader_foreach(&counters_reader, fuzz_on_counter, &total);
        int32_t ids[] = { INT32_MIN, -1, 0, 1, (int32_t)counters - 1, (int32_t)counters, (int32_t)counters + 1,
            (int32_t)metadata_records, INT32_MAX };
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        {
            total += (size_t)shoal_counters_reader_value(&counters_reader, ids[i]);
            total += (size_t)shoal_counters_reader_state(&counters_reader, ids[i]);
            total += (size_t)shoal_counters_reader_registration_id(&counters_reader, ids[i]);
            total += (size_t)shoal_counters_reader_owner_id(&counters_reader, ids[i]);
        }
        for (int32_t type = 0; type <= SHOAL_COUNTER_TYPE_SENDER_BPE; type++)
        {
            total += (size_t)shoal_counters_reader_find(&counters_reader, type, since_ms);
        }
    }
    total += shoal_error_log_read(error_log, error_log_length, fuzz_on_error, &total, INT64_MIN);
    total += shoal_error_log_read(error_log, error_log_length, fuzz_on_error, &total, since_ms);
    total += shoal_error_log_read(error_log, error_log_length, NULL, NULL, 0);
    /* the same bytes read as a loss report (its reader checks every length the same way) */
    total += shoal_loss_report_read(error_log, error_log_length, on_loss, &total);

    /* a writer reopening the log: it scans the records to find the end and
     * the distinct ones; record a new text and one that may be there */
    shoal_error_log_t log;
    if (0 == shoal_error_log_init(&log, error_log, error_log_length))
    {
        (void)shoal_error_log_record(&log, since_ms, 1, "fuzz: a new error");
        char text[64];
        size_t n = rest_length < sizeof(text) - 1 ? rest_length : sizeof(text) - 1;
        memcpy(text, rest, n);
        text[n] = '\0';
        (void)shoal_error_log_record(&log, since_ms, (int32_t)data[1], text);
        (void)shoal_error_log_record(&log, since_ms, (int32_t)data[1], text);
        total += shoal_error_log_read(error_log, error_log_length, NULL, NULL, INT64_MIN);
        shoal_error_log_close(&log);
    }

    /* the tools and the public API, on the file */
    if (0 == write_cnc(&m, metadata, values, error_log))
    {
        /* one output mode each per input: a run of the tools is most of the
         * time an input takes (shoal-stat zeroes ~1 MiB of tables) */
        static const char *const STAT_MODES[] = { NULL, "--loss", "--json", "--prometheus" };
        total += (size_t)run_tool(shoal_stat_main, "shoal-stat", "--once", STAT_MODES[(data[1] >> 2) & 3]);
        total += (size_t)run_tool(shoal_errors_main, "shoal-errors", (data[1] & 16) ? "--json" : NULL, NULL);
        total += (size_t)shoal_driver_is_active(dir, 1000);
    }
    free(metadata);
    free(values);
    free(error_log);
    return total == 42 ? 0 : 0;
}
