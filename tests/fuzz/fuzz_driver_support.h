/* Shared by the fuzz targets that run a driver conductor in process
 * (fuzz_driver_commands, fuzz_udp_frames): its context and the CnC image it
 * works on, in memory instead of a file. Both abort() on failure. */
#ifndef SHOAL_FUZZ_DRIVER_SUPPORT_H
#define SHOAL_FUZZ_DRIVER_SUPPORT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/shoal_context.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "util/shoal_counters.h"

#include "fuzz_support.h"

#define FUZZ_DRIVER_BUFFER_LENGTH (64 * 1024)

/* Small buffers and terms, no linger, one thread, a fixed loss seed; the
 * scratch directory (fuzz_scratch_dir) is created. */
static inline shoal_context_t *fuzz_driver_context(const char *name)
{
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0)
    {
        abort();
    }
    fuzz_scratch_dir(ctx->dir, sizeof(ctx->dir), name);
    mkdir(ctx->dir, 0700);
    ctx->to_driver_buffer_length = FUZZ_DRIVER_BUFFER_LENGTH;
    ctx->to_clients_buffer_length = FUZZ_DRIVER_BUFFER_LENGTH;
    ctx->counters_buffer_length = FUZZ_DRIVER_BUFFER_LENGTH;
    ctx->error_buffer_length = FUZZ_DRIVER_BUFFER_LENGTH;
    ctx->ipc_term_length = 64 * 1024;
    ctx->term_length = 64 * 1024;
    ctx->publication_linger_ms = 0;
    ctx->threading_mode = SHOAL_THREADING_SHARED;
    ctx->loss_seed = 1;
    return ctx;
}

/* The CnC layout the driver writes into cnc.dat for ctx: metadata filled,
 * the rest zero. */
static inline uint8_t *fuzz_cnc_memory(const shoal_context_t *ctx, size_t *length)
{
    shoal_cnc_metadata_t m;
    shoal_context_cnc_metadata(ctx, &m);
    m.cnc_version = SHOAL_CNC_VERSION;
    *length = shoal_cnc_computed_length(&m);
    uint8_t *memory = aligned_alloc(4096, SHOAL_ALIGN(*length, 4096));
    if (NULL == memory)
    {
        abort();
    }
    memset(memory, 0, *length);
    memcpy(memory, &m, sizeof(m));
    return memory;
}

#endif
