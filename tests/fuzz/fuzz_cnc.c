/*
 * CnC file validation (common/shoal_cnc.c) and everything that trusts it
 * next: any local process that can write <dir>/cnc.dat (a dead driver, a
 * stale file, a hostile user of the same directory) decides its content.
 * The harness writes the file, then does what each reader does:
 *   client connect  - map, to-driver ring + broadcast receiver init, heartbeat,
 *                     one keepalive into the ring, receive broadcasts;
 *   shoal-stat      - counters reader over the two counters regions;
 *   shoal-errors    - error log read;
 *   is_active       - heartbeat of the to-driver ring.
 * Input: the metadata (first 64 bytes of the header page, zero padded to a
 * page), then the bytes after the header page.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "concurrent/shoal_broadcast_receiver.h"
#include "concurrent/shoal_mpsc_rb.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_counters.h"
#include "util/shoal_error_log.h"

#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define META 64

static char dir[256];
static char path[300];
static uint8_t page[SHOAL_CNC_HEADER_LENGTH];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void on_broadcast(int32_t type, const uint8_t *buffer, size_t length, void *clientd)
{
    size_t *total = clientd;
    volatile uint8_t sum = (uint8_t)type;
    for (size_t i = 0; i < length; i++)
    {
        sum = (uint8_t)(sum + buffer[i]);
    }
    (void)sum;
    *total += length;
}

static void on_command(int32_t type, const uint8_t *buffer, size_t length, void *clientd)
{
    size_t *total = clientd;
    *total += (size_t)type + length;
    if (length > 0)
    {
        *total += buffer[0] + buffer[length - 1];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if ('\0' == dir[0])
    {
        fuzz_scratch_file(dir, sizeof(dir), path, sizeof(path), "cnc", SHOAL_CNC_FILE);
        atexit(cleanup);
    }
    if (size > META + 256 * 1024)
    {
        return -1;
    }
    memset(page, 0, sizeof(page));
    memcpy(page, data, size < META ? size : META);
    const uint8_t *body = data + (size < META ? size : META);
    size_t body_length = size < META ? 0 : size - META;

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
    {
        return 0;
    }
    if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page) ||
        (body_length > 0 && write(fd, body, body_length) != (ssize_t)body_length))
    {
        close(fd);
        return 0;
    }
    close(fd);

    shoal_cnc_view_t view;
    memset(&view, 0, sizeof(view));
    if (shoal_cnc_map(dir, true, 0, &view) < 0)
    {
        return 0;
    }
    size_t total = 0;
    /* Every region holds 4- and 8-byte atomics: a CnC that validates must
     * give 8-aligned regions (and the lengths must not run past the file). */
    const uint8_t *regions[] = { view.to_driver, view.to_clients, view.counters_metadata, view.counters_values,
        view.error_log };
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
    {
        if (0 != ((uintptr_t)regions[i] & 7))
        {
            abort();
        }
    }
    if (view.error_log + view.meta->error_log_buffer_length > view.base + view.length)
    {
        abort();
    }

    /* client connect */
    shoal_mpsc_rb_t to_driver;
    if (0 == shoal_mpsc_rb_init(&to_driver, view.to_driver, (size_t)view.meta->to_driver_buffer_length))
    {
        total += (size_t)shoal_mpsc_rb_consumer_heartbeat_time_value(&to_driver);
        total += (size_t)shoal_mpsc_rb_next_correlation_id(&to_driver);
        shoal_correlated_command_t keepalive = { 1, 0 };
        (void)shoal_mpsc_rb_write(&to_driver, SHOAL_CMD_CLIENT_KEEPALIVE, &keepalive, sizeof(keepalive));

        /* the driver's side of the same ring: a client may have scribbled on it */
        (void)shoal_mpsc_rb_unblock(&to_driver);
        total += shoal_mpsc_rb_read(&to_driver, on_command, &total, 16);
        total += shoal_mpsc_rb_read(&to_driver, on_command, &total, 16);
        total += (size_t)to_driver.corrupt_skips;
    }
    shoal_broadcast_receiver_t to_clients;
    if (0 == shoal_broadcast_receiver_init(&to_clients, view.to_clients, (size_t)view.meta->to_clients_buffer_length))
    {
        for (int i = 0; i < 4; i++)
        {
            (void)shoal_broadcast_receiver_receive(&to_clients, on_broadcast, &total);
        }
        shoal_broadcast_receiver_close(&to_clients);
    }

    /* shoal-stat */
    shoal_counters_reader_t counters;
    if (0 ==
        shoal_counters_reader_init(&counters, view.counters_metadata,
            (size_t)view.meta->counters_metadata_buffer_length, view.counters_values,
            (size_t)view.meta->counters_values_buffer_length))
    {
        shoal_counters_reader_foreach(&counters, fuzz_on_counter, &total);
        for (int32_t id = -1; id < 4; id++)
        {
            total += (size_t)shoal_counters_reader_value(&counters, id);
            total += (size_t)shoal_counters_reader_state(&counters, id);
            total += (size_t)shoal_counters_reader_registration_id(&counters, id);
            total += (size_t)shoal_counters_reader_owner_id(&counters, id);
        }
        total += (size_t)shoal_counters_reader_find(&counters, 1, 0);
    }

    /* shoal-errors */
    total += shoal_error_log_read(view.error_log, (size_t)view.meta->error_log_buffer_length, fuzz_on_error, &total, 0);

    shoal_cnc_unmap(&view);
    return total == 42 ? 0 : 0;
}
