/*
 * Client -> driver commands, decoded by the driver conductor
 * (driver/shoal_driver_conductor.c and the duty files behind it). The
 * to-driver ring is shared memory any local process of the driver's user can
 * write, so every length in a command is checked against its record, and a
 * malformed command is dropped and counted (INVALID_COMMANDS), never trusted.
 *
 * Each input gets a fresh conductor on a CnC laid out in memory (small
 * buffers, 64 KiB terms, a private directory under /dev/shm); the commands go
 * through the real MPSC ring and the conductor duty cycle runs until the
 * ring is drained, then the conductor closes (which must release everything:
 * LeakSanitizer checks).
 *
 * UDP channels are limited to 127.0.0.1 with port 0 and terms to 1 MiB, so
 * the fuzzer neither touches other processes' ports nor fills /dev/shm;
 * everything else about a channel (parse errors, unknown keys, IPC params,
 * ids, lengths) is fuzzed.
 *
 * Input: records of <u8 type selector><u16 length><payload>; selector 0xEF
 * puts the payload into the ring raw (record header included) at the tail,
 * as a buggy or hostile client could.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/shoal_context.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_fs.h"
#include "util/shoal_uri.h"

#include "fuzz_driver_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int32_t TYPES[] = {
    SHOAL_CMD_ADD_PUBLICATION,
    SHOAL_CMD_REMOVE_PUBLICATION,
    SHOAL_CMD_ADD_EXCLUSIVE_PUBLICATION,
    SHOAL_CMD_ADD_SUBSCRIPTION,
    SHOAL_CMD_REMOVE_SUBSCRIPTION,
    SHOAL_CMD_CLIENT_KEEPALIVE,
    SHOAL_CMD_CLIENT_CLOSE,
    SHOAL_CMD_ADD_DESTINATION,
    SHOAL_CMD_REMOVE_DESTINATION,
};

static shoal_context_t *ctx;
static uint8_t *cnc_memory;
static size_t cnc_length;
static shoal_driver_conductor_t *conductor;

static void cleanup(void)
{
    shoal_fs_delete_dir(ctx->dir);
}

static void set_up(void)
{
    ctx = fuzz_driver_context("driver");
    atexit(cleanup);
    cnc_memory = fuzz_cnc_memory(ctx, &cnc_length);
    conductor = aligned_alloc(64, SHOAL_ALIGN(sizeof(*conductor), 64));
}

/* Channels the harness lets through: see the top of the file. header is the
 * size of the command's fixed part, which ends with the int32 channel length. */
static int channel_allowed(const uint8_t *payload, size_t length, size_t header)
{
    int32_t channel_length;
    if (length < header)
    {
        return 1;
    }
    memcpy(&channel_length, payload + header - sizeof(channel_length), sizeof(channel_length));
    if (channel_length <= 0 || channel_length >= SHOAL_MAX_CHANNEL_LENGTH || header + (size_t)channel_length > length)
    {
        return 1;
    }
    char channel[SHOAL_MAX_CHANNEL_LENGTH];
    memcpy(channel, payload + header, (size_t)channel_length);
    channel[channel_length] = '\0';
    shoal_uri_t uri;
    if (shoal_uri_parse(channel, &uri) < 0)
    {
        return 1;
    }
    if (uri.has_term_length && uri.term_length > 1024 * 1024)
    {
        return 0;
    }
    if (SHOAL_MEDIA_UDP == uri.media)
    {
        return ('\0' == uri.endpoint[0] || 0 == strcmp(uri.endpoint, "127.0.0.1:0")) &&
            ('\0' == uri.control[0] || 0 == strcmp(uri.control, "127.0.0.1:0")) &&
            ('\0' == uri.interface_name[0] || 0 == strcmp(uri.interface_name, "127.0.0.1"));
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (NULL == ctx)
    {
        set_up();
    }
    /* Check the whole input first: nothing runs for a refused one. */
    fuzz_record_t r;
    for (size_t at = 0; fuzz_next_record(data, size, &at, &r);)
    {
        int32_t type = TYPES[r.selector % (sizeof(TYPES) / sizeof(TYPES[0]))];
        if (0xEF == r.selector &&
            (NULL != memmem(r.body, r.length, "udp", 3) || NULL != memmem(r.body, r.length, "term-length", 11)))
        {
            return -1; /* raw records: no channel the harness cannot vet */
        }
        if (r.selector < 0xF0 && r.selector != 0xEF)
        {
            size_t header = SHOAL_CMD_ADD_DESTINATION == type || SHOAL_CMD_REMOVE_DESTINATION == type
                ? sizeof(shoal_destination_command_t)
                : sizeof(shoal_channel_command_t);
            bool has_channel = SHOAL_CMD_ADD_PUBLICATION == type || SHOAL_CMD_ADD_EXCLUSIVE_PUBLICATION == type ||
                SHOAL_CMD_ADD_SUBSCRIPTION == type || SHOAL_CMD_ADD_DESTINATION == type ||
                SHOAL_CMD_REMOVE_DESTINATION == type;
            if (has_channel && !channel_allowed(r.body, r.length, header))
            {
                return -1;
            }
        }
    }

    memset(cnc_memory + SHOAL_CNC_HEADER_LENGTH, 0, cnc_length - SHOAL_CNC_HEADER_LENGTH);
    shoal_cnc_view_t view;
    if (shoal_cnc_view_init(&view, cnc_memory, cnc_length) < 0 ||
        shoal_driver_conductor_init(conductor, ctx, &view) < 0)
    {
        abort();
    }
    shoal_mpsc_rb_t to_driver;
    if (shoal_mpsc_rb_init(&to_driver, view.to_driver, (size_t)view.meta->to_driver_buffer_length) < 0)
    {
        abort();
    }

    for (size_t at = 0; fuzz_next_record(data, size, &at, &r);)
    {
        if (0xEF == r.selector)
        {
            /* A misbehaving producer: raw bytes (record headers included) at
             * the tail, which then moves past them as if they were a record. */
            shoal_rb_descriptor_t *d = to_driver.descriptor;
            int64_t tail = d->tail_position;
            size_t index = (size_t)tail & (to_driver.capacity - 1);
            size_t n = r.length < to_driver.capacity - index ? r.length : to_driver.capacity - index;
            memcpy(to_driver.buffer + index, r.body, n);
            d->tail_position = tail + (int64_t)SHOAL_ALIGN(n, SHOAL_RB_RECORD_ALIGNMENT);
            continue;
        }
        /* >= 0xF0: a raw (mostly unknown) type id, including 0 and negatives. */
        int32_t type =
            r.selector < 0xF0 ? TYPES[r.selector % (sizeof(TYPES) / sizeof(TYPES[0]))] : (int32_t)(r.selector - 0xF8);
        if (shoal_mpsc_rb_write(&to_driver, type, r.body, r.length) < 0)
        {
            (void)shoal_driver_conductor_do_work(conductor);
            (void)shoal_mpsc_rb_write(&to_driver, type, r.body, r.length);
        }
    }
    for (int i = 0;
         i < 64 && shoal_mpsc_rb_consumer_position(&to_driver) != shoal_mpsc_rb_producer_position(&to_driver); i++)
    {
        (void)shoal_driver_conductor_do_work(conductor);
    }
    (void)shoal_driver_conductor_do_work(conductor);
    shoal_driver_conductor_close(conductor);
    return 0;
}
