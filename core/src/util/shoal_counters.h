/*
 * Counters in shared memory (part of the CnC file). The driver allocates and
 * frees; any process maps the CnC and reads lock-free.
 *
 * Two regions, one record per counter id (id = record index):
 *
 * metadata, SHOAL_COUNTER_METADATA_LENGTH (512) bytes per record:
 *    0  int32  state          UNUSED 0, ALLOCATED 1, RECLAIMED -1 (release/acquire)
 *    4  int32  type_id        SHOAL_COUNTER_TYPE_*
 *    8  int64  free_for_reuse_deadline_ms   valid when RECLAIMED
 *   16  uint8  key[112]       type-specific binary key, unused bytes zero
 *  128  int32  label_length   0..380
 *  132  char   label[380]     not NUL-terminated
 *
 * values, SHOAL_COUNTER_VALUE_LENGTH (128) bytes per record, two cache lines so
 * hot counters updated by different threads never share a line (or a prefetch pair):
 *    0  int64  value
 *    8  int64  registration_id  of the resource the counter belongs to
 *   16  int64  owner_id         client id that owns it (0 for the driver)
 *   24  padding
 *
 * Memory model: the allocator writes the metadata fields and zeroes the value,
 * then store-releases state = ALLOCATED; a reader load-acquires state and only
 * trusts the other fields of ALLOCATED records. Ids are handed out from 0
 * upwards, so the first UNUSED record ends a scan. A freed id becomes RECLAIMED
 * and is reused only after reuse_timeout_ms, long enough for any client still
 * holding the id to notice its resource is gone.
 *
 * Threads: the manager is single-writer (the driver conductor); the reader is
 * safe from any thread or process.
 */
#ifndef SHOAL_COUNTERS_H
#define SHOAL_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "shoal/shoal.h"

#define SHOAL_COUNTER_METADATA_LENGTH 512
#define SHOAL_COUNTER_VALUE_LENGTH    SHOAL_CACHE_PAD_LENGTH

#define SHOAL_COUNTER_STATE_OFFSET                   0
#define SHOAL_COUNTER_TYPE_ID_OFFSET                 4
#define SHOAL_COUNTER_FREE_FOR_REUSE_DEADLINE_OFFSET 8
#define SHOAL_COUNTER_KEY_OFFSET                     16
#define SHOAL_COUNTER_MAX_KEY_LENGTH                 112
#define SHOAL_COUNTER_LABEL_LENGTH_OFFSET            128
#define SHOAL_COUNTER_LABEL_OFFSET                   132
#define SHOAL_COUNTER_MAX_LABEL_LENGTH               380

#define SHOAL_COUNTER_VALUE_OFFSET           0
#define SHOAL_COUNTER_REGISTRATION_ID_OFFSET 8
#define SHOAL_COUNTER_OWNER_ID_OFFSET        16

#define SHOAL_COUNTER_STATE_UNUSED    0
#define SHOAL_COUNTER_STATE_ALLOCATED 1
#define SHOAL_COUNTER_STATE_RECLAIMED (-1)

#define SHOAL_COUNTER_DEFAULT_REUSE_TIMEOUT_MS 1000

/* Metadata bytes needed for a values region of the given length. */
#define SHOAL_COUNTERS_METADATA_LENGTH_FOR(values_length)                                                              \
    (((values_length) / SHOAL_COUNTER_VALUE_LENGTH) * SHOAL_COUNTER_METADATA_LENGTH)

typedef struct shoal_counter_metadata_stct
{
    int32_t state;
    int32_t type_id;
    int64_t free_for_reuse_deadline_ms;
    uint8_t key[SHOAL_COUNTER_MAX_KEY_LENGTH];
    int32_t label_length;
    char label[SHOAL_COUNTER_MAX_LABEL_LENGTH];
} shoal_counter_metadata_t;

typedef struct shoal_counter_value_stct
{
    int64_t value;
    int64_t registration_id;
    int64_t owner_id;
    uint8_t pad[SHOAL_COUNTER_VALUE_LENGTH - 3 * sizeof(int64_t)];
} shoal_counter_value_t;

/* Counter type ids (shoal_counter_metadata_t.type_id): SHOAL_COUNTER_TYPE_* in shoal/shoal.h. */

/* System counters: allocated first by the driver, in this order, so their id
 * equals the enum value. Labels via shoal_system_counter_label. */
typedef enum shoal_system_counter_id_en
{
    SHOAL_SYSTEM_COUNTER_BYTES_SENT = 0,
    SHOAL_SYSTEM_COUNTER_BYTES_RECEIVED,
    SHOAL_SYSTEM_COUNTER_ERRORS,
    SHOAL_SYSTEM_COUNTER_CLIENT_TIMEOUTS,
    SHOAL_SYSTEM_COUNTER_INVALID_COMMANDS,
    SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS,
    SHOAL_SYSTEM_COUNTER_UNBLOCKED_COMMANDS,
    SHOAL_SYSTEM_COUNTER_CONDUCTOR_MAX_CYCLE_TIME_NS,
    SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT, /* epoch ms, written every conductor cycle */
    SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE,
    SHOAL_SYSTEM_COUNTER_SUBSCRIPTIONS_ACTIVE,
    SHOAL_SYSTEM_COUNTER_CLIENTS_ACTIVE,
    SHOAL_SYSTEM_COUNTER_BACK_PRESSURE_EVENTS,
    SHOAL_SYSTEM_COUNTER_NAKS_SENT,
    SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED,
    SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT,
    SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT,
    SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED,
    SHOAL_SYSTEM_COUNTER_HEARTBEATS_SENT,
    SHOAL_SYSTEM_COUNTER_SHORT_SENDS,
    SHOAL_SYSTEM_COUNTER_INVALID_FRAMES,
    SHOAL_SYSTEM_COUNTER_LOSS_GAP_FILLS,
    SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED, /* asked for data the sender no longer holds */
    SHOAL_SYSTEM_COUNTER_SENDER_MAX_CYCLE_TIME_NS,
    SHOAL_SYSTEM_COUNTER_RECEIVER_MAX_CYCLE_TIME_NS,
    /* A subscriber position or error log record length (memory every client
     * can write) that no correct client could have written: clamped or
     * repaired. Several threads add to it: atomic adds only. */
    SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES,
    /* A remove or destination command naming a registration of another
     * client: refused. */
    SHOAL_SYSTEM_COUNTER_FOREIGN_COMMANDS,
    SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT,  /* SETUP flood: images at MAX_IMAGES(_PER_ENDPOINT) */
    SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_TERM_LENGTH,  /* SETUP term length above MAX_SETUP_TERM_LENGTH */
    SHOAL_SYSTEM_COUNTER_FRAMES_FROM_WRONG_SOURCE,    /* DATA/PAD/EOS/SETUP of an image from another address */
    SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS, /* NAK from an address that sent no status message */
    SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET,            /* NAK dropped: retransmit budget spent */
    SHOAL_SYSTEM_COUNTER_SM_WINDOWS_CLAMPED,          /* SM window cut to half a term */
    SHOAL_SYSTEM_COUNTER_UNTETHERED_DROPS,            /* untethered subscriber left behind: image dropped */
    SHOAL_SYSTEM_COUNTER_UNTETHERED_REJOINS,          /* ... and back at the live position after resting */
    SHOAL_SYSTEM_COUNTER_COUNT
} shoal_system_counter_id_t;

/* Human label, e.g. "Bytes sent"; "Unknown" for an id out of range. */
const char *shoal_system_counter_label(int32_t id);

/* ---- write side (driver conductor only) ---- */

typedef struct shoal_counters_manager_stct
{
    uint8_t *metadata;
    size_t metadata_length;
    uint8_t *values;
    size_t values_length;
    int32_t max_counter_id; /* number of records: min of both regions */
    int32_t high_water_id;  /* ids below this have been allocated at least once */
    int32_t *free_list;     /* RECLAIMED ids, oldest first */
    int32_t free_list_count;
    int64_t reuse_timeout_ms;
} shoal_counters_manager_t;

/* Both regions must be 8-byte aligned (values ideally 128); they are used as
 * found (a fresh CnC is zero). -1 with SHOAL_EINVAL / SHOAL_ENOMEM. */
int shoal_counters_manager_init(shoal_counters_manager_t *m, uint8_t *metadata, size_t metadata_length, uint8_t *values,
    size_t values_length, int64_t reuse_timeout_ms);
void shoal_counters_manager_close(shoal_counters_manager_t *m);

/* Returns the new counter id (value 0), or -1: SHOAL_EINVAL for a key longer
 * than SHOAL_COUNTER_MAX_KEY_LENGTH, SHOAL_ENOMEM "counters buffer full (N counters)".
 * key may be NULL when key_length is 0; label may be NULL (empty) and is
 * truncated to SHOAL_COUNTER_MAX_LABEL_LENGTH bytes. */
int32_t shoal_counters_manager_allocate(shoal_counters_manager_t *m, int64_t now_ms, int32_t type_id,
    const uint8_t *key, size_t key_length, const char *label, int64_t registration_id, int64_t owner_id);

/* Marks the id RECLAIMED; it is reused after now_ms + reuse_timeout_ms.
 * -1 with SHOAL_EINVAL if the id is out of range or not allocated. */
int shoal_counters_manager_free(shoal_counters_manager_t *m, int64_t now_ms, int32_t counter_id);

static inline int64_t *shoal_counter_addr(uint8_t *values, int32_t id)
{
    return (int64_t *)(values + (size_t)id * SHOAL_COUNTER_VALUE_LENGTH + SHOAL_COUNTER_VALUE_OFFSET);
}

static inline shoal_counter_metadata_t *shoal_counter_metadata(uint8_t *metadata, int32_t id)
{
    return (shoal_counter_metadata_t *)(metadata + (size_t)id * SHOAL_COUNTER_METADATA_LENGTH);
}

/* Hot-path helpers on a counter's value word. */
static inline void shoal_counter_set_release(int64_t *addr, int64_t v)
{
    shoal_store_release(addr, v);
}

static inline int64_t shoal_counter_get_acquire(const int64_t *addr)
{
    return shoal_load_acquire(addr);
}

/* Single-writer increment: plain read, release store (no lock prefix). */
static inline void shoal_counter_add_ordered(int64_t *addr, int64_t delta)
{
    shoal_store_release(addr, shoal_load_relaxed(addr) + delta);
}

/* Multi-writer increment. */
static inline int64_t shoal_counter_get_and_add(int64_t *addr, int64_t delta)
{
    return shoal_get_and_add(addr, delta);
}

/* Raises the value to v if greater (single writer). */
static inline void shoal_counter_propose_max_ordered(int64_t *addr, int64_t v)
{
    if (v > shoal_load_relaxed(addr))
    {
        shoal_store_release(addr, v);
    }
}

/* ---- read side (tools, clients mapping the CnC read-only) ---- */

/* key is SHOAL_COUNTER_MAX_KEY_LENGTH bytes (unused bytes zero); label is not
 * NUL-terminated. Pointers are into shared memory, valid during the call. */
typedef void (*shoal_counters_reader_fn)(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length,
    const char *label, size_t label_length, int64_t value, void *clientd);

typedef struct shoal_counters_reader_stct
{
    const uint8_t *metadata;
    size_t metadata_length;
    const uint8_t *values;
    size_t values_length;
    int32_t max_counter_id;
} shoal_counters_reader_t;

int shoal_counters_reader_init(shoal_counters_reader_t *r, const uint8_t *metadata, size_t metadata_length,
    const uint8_t *values, size_t values_length);
/* Calls fn for each ALLOCATED record, in id order. */
void shoal_counters_reader_foreach(const shoal_counters_reader_t *r, shoal_counters_reader_fn fn, void *clientd);
/* Acquire load of the value; 0 for an id out of range. */
int64_t shoal_counters_reader_value(const shoal_counters_reader_t *r, int32_t id);
/* SHOAL_COUNTER_STATE_* of the id, or SHOAL_COUNTER_STATE_UNUSED out of range. */
int32_t shoal_counters_reader_state(const shoal_counters_reader_t *r, int32_t id);
int64_t shoal_counters_reader_registration_id(const shoal_counters_reader_t *r, int32_t id);
int64_t shoal_counters_reader_owner_id(const shoal_counters_reader_t *r, int32_t id);
/* First ALLOCATED counter with this type and registration id, or -1 (no error set). */
int shoal_counters_reader_find(const shoal_counters_reader_t *r, int32_t type_id, int64_t registration_id);

#endif
