/*
 * Log buffer layout, shared by publishers, subscribers and the driver
 * (possibly in different processes, so every shared word is accessed with
 * the shoal_atomic.h macros).
 *
 *   +----------------------------+  0
 *   | term 0                     |  term_length (power of 2, 64 KiB .. 1 GiB)
 *   +----------------------------+
 *   | term 1                     |
 *   +----------------------------+
 *   | term 2                     |
 *   +----------------------------+  3 * term_length
 *   | shoal_logbuffer_metadata_t |  SHOAL_LOG_META_DATA_LENGTH (4096)
 *   +----------------------------+
 *
 * Term tail counters ("raw tails") pack a term id and an offset:
 *     raw_tail = (int64)term_id << 32 | term_offset
 * The offset may exceed term_length once a writer has tripped past the end
 * (concurrent writers keep adding); readers clamp it with
 * shoal_logbuffer_term_offset().
 *
 * Positions: position = term_count * term_length + term_offset, where
 * term_count = term_id - initial_term_id (term ids wrap as int32). The term
 * at partition index term_count % 3 is active; rotation moves
 * active_term_count forward after the next partition's tail has been set to
 * the next term id (shoal_logbuffer_rotate_log).
 */
#ifndef SHOAL_LOGBUFFER_DESCRIPTOR_H
#define SHOAL_LOGBUFFER_DESCRIPTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

#define SHOAL_LOGBUFFER_PARTITION_COUNT                 3
#define SHOAL_LOGBUFFER_TERM_MIN_LENGTH                 (64 * 1024)
#define SHOAL_LOGBUFFER_TERM_MAX_LENGTH                 (1024 * 1024 * 1024)
#define SHOAL_LOGBUFFER_PAGE_MIN_SIZE                   (4 * 1024)
#define SHOAL_LOGBUFFER_PAGE_MAX_SIZE                   (1024 * 1024 * 1024)
#define SHOAL_LOG_META_DATA_LENGTH                      4096
#define SHOAL_LOGBUFFER_MAX_MESSAGE_LENGTH              (16 * 1024 * 1024)
#define SHOAL_LOGBUFFER_DEFAULT_FRAME_HEADER_MAX_LENGTH 32
#define SHOAL_LOGBUFFER_WRITER_BIAS_OWNERSHIPS          16

typedef struct shoal_logbuffer_metadata_stct
{
    /* written by publishers (tails) and rotation */
    int64_t term_tail_counters[SHOAL_LOGBUFFER_PARTITION_COUNT];
    int32_t active_term_count;
    uint8_t pad1[(2 * SHOAL_CACHE_LINE_LENGTH) - (SHOAL_LOGBUFFER_PARTITION_COUNT * sizeof(int64_t)) - sizeof(int32_t)];

    /* written by the driver */
    int64_t end_of_stream_position;
    int32_t is_connected;
    int32_t active_transport_count;
    uint8_t pad2[(2 * SHOAL_CACHE_LINE_LENGTH) - sizeof(int64_t) - 2 * sizeof(int32_t)];

    /* written once at creation, then read-only */
    int64_t correlation_id;
    int32_t initial_term_id;
    int32_t default_frame_header_length;
    int32_t mtu_length;
    int32_t term_length;
    int32_t page_size;
    /* 1: the log is not zeroed between laps (an IPC publication's,
     * shoal_log_buffer_mark_uncleaned), so a positive length word may be last
     * lap's: a reader takes a frame for this lap's only if its header names
     * this term and offset (shoal_term_frame_length_checked). 0 (and every
     * log made before the word existed): zeroed a term behind its readers. */
    int32_t laps_uncleaned;
    uint8_t pad3[SHOAL_CACHE_LINE_LENGTH - sizeof(int64_t) - 6 * sizeof(int32_t)];
    uint8_t default_frame_header[SHOAL_LOGBUFFER_DEFAULT_FRAME_HEADER_MAX_LENGTH];
    uint8_t pad4[SHOAL_CACHE_LINE_LENGTH - SHOAL_LOGBUFFER_DEFAULT_FRAME_HEADER_MAX_LENGTH];

    /* Waiting without spinning (shoal_log_waiters.h). A log made before
     * these words existed has zeros here, which reads as "nobody waits". */
    /* set by a sleeping subscriber; read by every commit (one plain load) */
    int32_t subscriber_waiting;
    int32_t subscriber_wake_seq; /* the futex subscribers sleep on */
    int32_t unfenced_writers;    /* 1: a writer cannot be fenced by waiters */
    uint8_t pad5[SHOAL_CACHE_PAD_LENGTH - 3 * sizeof(int32_t)];
    /* set by a back-pressured publisher; read where the driver moves the limit */
    int32_t publisher_waiting;
    int32_t publisher_wake_seq; /* the futex back-pressured publishers sleep on */
    uint8_t pad6[SHOAL_CACHE_PAD_LENGTH - 2 * sizeof(int32_t)];

    /* A concurrent log's single-writer bias (shoal_writer_bias.h): which
     * thread owns the tail, and whether it is inside an append. */
    int64_t writer_bias;
    uint8_t pad7[SHOAL_CACHE_PAD_LENGTH - sizeof(int64_t)];
    /* One word per ownership (indexed by the hand-over count), written by
     * its owner only: a former owner's late store lands in its own word. */
    int32_t writer_bias_busy[SHOAL_LOGBUFFER_WRITER_BIAS_OWNERSHIPS];
    uint8_t pad8[SHOAL_CACHE_PAD_LENGTH - SHOAL_LOGBUFFER_WRITER_BIAS_OWNERSHIPS * sizeof(int32_t)];
} shoal_logbuffer_metadata_t;

SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, active_term_count) == 24, "active_term_count at 24");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, end_of_stream_position) == 128, "eos at 128");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, correlation_id) == 256, "correlation_id at 256");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, page_size) == 280, "page_size at 280");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, laps_uncleaned) == 284, "laps_uncleaned at 284");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, default_frame_header) == 320, "default header at 320");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, subscriber_waiting) == 384, "subscriber waiting at 384");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, publisher_waiting) == 512, "publisher waiting at 512");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, writer_bias) == 640, "writer bias at 640");
SHOAL_LAYOUT_ASSERT(offsetof(shoal_logbuffer_metadata_t, writer_bias_busy) == 768, "writer bias busy at 768");
SHOAL_LAYOUT_ASSERT(sizeof(shoal_logbuffer_metadata_t) <= SHOAL_LOG_META_DATA_LENGTH, "metadata fits its page");

/* ---- validation (0, or -1 with SHOAL_EINVAL naming the value) ---- */

static inline int shoal_logbuffer_check_term_length(int64_t term_length)
{
    if (term_length < SHOAL_LOGBUFFER_TERM_MIN_LENGTH || term_length > SHOAL_LOGBUFFER_TERM_MAX_LENGTH)
    {
        return shoal_set_err(SHOAL_EINVAL, "term length %lld out of range [%d, %d]", (long long)term_length,
            SHOAL_LOGBUFFER_TERM_MIN_LENGTH, SHOAL_LOGBUFFER_TERM_MAX_LENGTH);
    }
    if (!SHOAL_IS_POWER_OF_TWO(term_length))
    {
        return shoal_set_err(SHOAL_EINVAL, "term length %lld is not a power of 2", (long long)term_length);
    }
    return 0;
}

static inline int shoal_logbuffer_check_page_size(int64_t page_size)
{
    if (page_size < SHOAL_LOGBUFFER_PAGE_MIN_SIZE || page_size > SHOAL_LOGBUFFER_PAGE_MAX_SIZE ||
        !SHOAL_IS_POWER_OF_TWO(page_size))
    {
        return shoal_set_err(SHOAL_EINVAL, "page size %lld is not a power of 2 in [%d, %d]", (long long)page_size,
            SHOAL_LOGBUFFER_PAGE_MIN_SIZE, SHOAL_LOGBUFFER_PAGE_MAX_SIZE);
    }
    return 0;
}

/* mtu must hold a header plus at least one aligned payload unit and be 32-aligned. */
static inline int shoal_logbuffer_check_mtu(int64_t mtu, int64_t term_length)
{
    if (mtu <= SHOAL_DATA_HEADER_LENGTH || (mtu % SHOAL_FRAME_ALIGNMENT) != 0 || mtu > 65504 ||
        (term_length > 0 && mtu > term_length))
    {
        return shoal_set_err(SHOAL_EINVAL, "mtu %lld must be a multiple of %d in (%d, 65504] and <= term length",
            (long long)mtu, SHOAL_FRAME_ALIGNMENT, SHOAL_DATA_HEADER_LENGTH);
    }
    return 0;
}

/* ---- layout ---- */

/* Bytes of a whole log: 3 terms + metadata page. */
static inline int64_t shoal_logbuffer_compute_log_length(int32_t term_length)
{
    return (int64_t)term_length * SHOAL_LOGBUFFER_PARTITION_COUNT + SHOAL_LOG_META_DATA_LENGTH;
}

static inline uint8_t *shoal_logbuffer_term(uint8_t *log, int32_t term_length, size_t partition_index)
{
    return log + (size_t)term_length * partition_index;
}

static inline shoal_logbuffer_metadata_t *shoal_logbuffer_metadata(uint8_t *log, int32_t term_length)
{
    return (shoal_logbuffer_metadata_t *)(log + (size_t)term_length * SHOAL_LOGBUFFER_PARTITION_COUNT);
}

/* ---- raw tail packing ---- */

static inline int64_t shoal_logbuffer_pack_tail(int32_t term_id, int32_t term_offset)
{
    return (int64_t)(((uint64_t)(uint32_t)term_id << 32) | (uint64_t)(uint32_t)term_offset);
}

static inline int32_t shoal_logbuffer_term_id(int64_t raw_tail)
{
    return (int32_t)(uint32_t)((uint64_t)raw_tail >> 32);
}

/* Offset in the term, clamped to term_length (the tail may have tripped past it). */
static inline int32_t shoal_logbuffer_term_offset(int64_t raw_tail, int32_t term_length)
{
    int64_t tail = raw_tail & 0xFFFFFFFFLL;
    return tail < (int64_t)term_length ? (int32_t)tail : term_length;
}

/* ---- position math ---- */

static inline size_t shoal_logbuffer_position_bits_to_shift(int32_t term_length)
{
    return (size_t)__builtin_ctz((unsigned)term_length);
}

/* term_id - initial_term_id with int32 wrap (term ids wrap around). */
static inline int32_t shoal_logbuffer_compute_term_count(int32_t term_id, int32_t initial_term_id)
{
    return (int32_t)((uint32_t)term_id - (uint32_t)initial_term_id);
}

static inline int64_t shoal_logbuffer_compute_term_begin_position(int32_t active_term_id, size_t position_bits_to_shift,
    int32_t initial_term_id)
{
    int64_t term_count = shoal_logbuffer_compute_term_count(active_term_id, initial_term_id);
    return (int64_t)((uint64_t)term_count << position_bits_to_shift);
}

static inline int64_t shoal_logbuffer_compute_position(int32_t active_term_id, int32_t term_offset,
    size_t position_bits_to_shift, int32_t initial_term_id)
{
    return shoal_logbuffer_compute_term_begin_position(active_term_id, position_bits_to_shift, initial_term_id) +
        term_offset;
}

static inline int32_t shoal_logbuffer_compute_term_id_from_position(int64_t position, size_t position_bits_to_shift,
    int32_t initial_term_id)
{
    return (int32_t)((uint32_t)(position >> position_bits_to_shift) + (uint32_t)initial_term_id);
}

static inline int32_t shoal_logbuffer_compute_term_offset_from_position(int64_t position, size_t position_bits_to_shift)
{
    return (int32_t)(position & (((int64_t)1 << position_bits_to_shift) - 1));
}

/* Unsigned modulo: a term count read from a log (memory any client can
 * write) may be negative, and must still name one of the three terms. */
static inline size_t shoal_logbuffer_index_by_term_count(int64_t term_count)
{
    return (size_t)((uint64_t)term_count % SHOAL_LOGBUFFER_PARTITION_COUNT);
}

static inline size_t shoal_logbuffer_index_by_term(int32_t initial_term_id, int32_t active_term_id)
{
    return shoal_logbuffer_index_by_term_count(shoal_logbuffer_compute_term_count(active_term_id, initial_term_id));
}

static inline size_t shoal_logbuffer_index_by_position(int64_t position, size_t position_bits_to_shift)
{
    return (size_t)((uint64_t)(position >> position_bits_to_shift) % SHOAL_LOGBUFFER_PARTITION_COUNT);
}

/* Largest message (fragmented) a publication accepts: min(term_length / 8, 16 MiB). */
static inline size_t shoal_logbuffer_max_message_length(int32_t term_length)
{
    size_t l = (size_t)term_length / 8;
    return l < SHOAL_LOGBUFFER_MAX_MESSAGE_LENGTH ? l : SHOAL_LOGBUFFER_MAX_MESSAGE_LENGTH;
}

/* Largest payload carried unfragmented in one frame. */
static inline size_t shoal_logbuffer_max_payload_length(int32_t mtu)
{
    return (size_t)mtu - SHOAL_DATA_HEADER_LENGTH;
}

/* ---- metadata access ---- */

static inline int32_t shoal_logbuffer_active_term_count(shoal_logbuffer_metadata_t *metadata)
{
    return shoal_load_acquire(&metadata->active_term_count);
}

/* Raw tail of the active partition. */
static inline int64_t shoal_logbuffer_active_raw_tail(shoal_logbuffer_metadata_t *metadata)
{
    int32_t term_count = shoal_load_acquire(&metadata->active_term_count);
    return shoal_load_acquire(&metadata->term_tail_counters[shoal_logbuffer_index_by_term_count(term_count)]);
}

static inline int64_t shoal_logbuffer_raw_tail(shoal_logbuffer_metadata_t *metadata, size_t partition_index)
{
    return shoal_load_acquire(&metadata->term_tail_counters[partition_index]);
}

static inline void shoal_logbuffer_initialise_tail_with_term_id(shoal_logbuffer_metadata_t *metadata,
    size_t partition_index, int32_t term_id)
{
    shoal_store_release(&metadata->term_tail_counters[partition_index], shoal_logbuffer_pack_tail(term_id, 0));
}

/*
 * Moves the log from term current_term_id (term count current_term_count) to
 * the next: sets the next partition's tail to (term_id + 1, 0) unless another
 * thread already did, then CASes active_term_count forward. Safe to call from
 * any number of threads that saw the same trip; returns true for the one
 * whose CAS of active_term_count succeeded.
 */
static inline bool shoal_logbuffer_rotate_log(shoal_logbuffer_metadata_t *metadata, int32_t current_term_count,
    int32_t current_term_id)
{
    const int32_t next_term_id = (int32_t)((uint32_t)current_term_id + 1);
    const int32_t next_term_count = (int32_t)((uint32_t)current_term_count + 1);
    const size_t next_index = shoal_logbuffer_index_by_term_count(next_term_count);
    const int32_t expected_term_id = (int32_t)((uint32_t)next_term_id - SHOAL_LOGBUFFER_PARTITION_COUNT);
    const int64_t new_raw_tail = shoal_logbuffer_pack_tail(next_term_id, 0);
    int64_t raw_tail;

    do
    {
        raw_tail = shoal_load_acquire(&metadata->term_tail_counters[next_index]);
        if (expected_term_id != shoal_logbuffer_term_id(raw_tail))
        {
            break;
        }
    }
    while (!shoal_cas(&metadata->term_tail_counters[next_index], &raw_tail, new_raw_tail));

    int32_t expected_count = current_term_count;
    return shoal_cas(&metadata->active_term_count, &expected_count, next_term_count);
}

/*
 * Fills the default DATA header template (frame_length 0, BEGIN|END, type
 * DATA, session/stream ids, term_id = initial_term_id, reserved 0) and
 * default_frame_header_length.
 */
static inline void shoal_logbuffer_fill_default_header(shoal_logbuffer_metadata_t *metadata, int32_t session_id,
    int32_t stream_id, int32_t initial_term_id)
{
    shoal_data_header_t hdr;
    memset(&hdr, 0, sizeof(hdr));
    hdr.frame_header.frame_length = 0;
    hdr.frame_header.version = SHOAL_FRAME_VERSION;
    hdr.frame_header.flags = SHOAL_FRAME_FLAG_UNFRAGMENTED;
    hdr.frame_header.type = SHOAL_HDR_TYPE_DATA;
    hdr.term_offset = 0;
    hdr.session_id = session_id;
    hdr.stream_id = stream_id;
    hdr.term_id = initial_term_id;
    hdr.reserved_value = 0;
    metadata->default_frame_header_length = SHOAL_DATA_HEADER_LENGTH;
    memcpy(metadata->default_frame_header, &hdr, sizeof(hdr));
}

static inline const shoal_data_header_t *shoal_logbuffer_default_header(const shoal_logbuffer_metadata_t *metadata)
{
    return (const shoal_data_header_t *)metadata->default_frame_header;
}

/*
 * Initialises a zeroed metadata page for a new log: tails (partition 0 at
 * initial_term_id, the others at the term ids 3 back so the first rotations
 * CAS them forward), active_term_count 0, lengths and the default header.
 * Validates term_length, mtu and page_size (-1 with SHOAL_EINVAL).
 */
int shoal_logbuffer_metadata_init(shoal_logbuffer_metadata_t *metadata, int32_t term_length, int32_t mtu,
    int32_t page_size, int32_t initial_term_id, int32_t session_id, int32_t stream_id, int64_t correlation_id);

/*
 * Moves a freshly initialised log to start at (term_id, term_offset) instead
 * of (initial_term_id, 0): the active term count becomes term_id's, its
 * partition's tail that position, the other two the term ids 3 back from
 * their place after it, as if the log had rotated there. For publications
 * that continue a stream elsewhere (replays: init-term-id, term-id,
 * term-offset). term_offset 0..term_length; term_id not before initial.
 */
void shoal_logbuffer_metadata_start_at(shoal_logbuffer_metadata_t *metadata, int32_t term_id, int32_t term_offset);

#endif /* SHOAL_LOGBUFFER_DESCRIPTOR_H */
