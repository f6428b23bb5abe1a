/*
 * Counters manager (driver side) and reader (any process). Layout and memory
 * model are described in shoal_counters.h.
 */
#include "util/shoal_counters.h"

#include <stdlib.h>
#include <string.h>

#include "util/shoal_error.h"

_Static_assert(sizeof(shoal_counter_metadata_t) == SHOAL_COUNTER_METADATA_LENGTH, "metadata record size");
_Static_assert(offsetof(shoal_counter_metadata_t, key) == SHOAL_COUNTER_KEY_OFFSET, "key offset");
_Static_assert(offsetof(shoal_counter_metadata_t, label_length) == SHOAL_COUNTER_LABEL_LENGTH_OFFSET, "label length");
_Static_assert(offsetof(shoal_counter_metadata_t, label) == SHOAL_COUNTER_LABEL_OFFSET, "label offset");
_Static_assert(offsetof(shoal_counter_metadata_t, free_for_reuse_deadline_ms) ==
        SHOAL_COUNTER_FREE_FOR_REUSE_DEADLINE_OFFSET,
    "deadline offset");
_Static_assert(sizeof(shoal_counter_value_t) == SHOAL_COUNTER_VALUE_LENGTH, "value record size");
_Static_assert(offsetof(shoal_counter_value_t, registration_id) == SHOAL_COUNTER_REGISTRATION_ID_OFFSET, "reg id");
_Static_assert(offsetof(shoal_counter_value_t, owner_id) == SHOAL_COUNTER_OWNER_ID_OFFSET, "owner id");

static const char *const SYSTEM_COUNTER_LABELS[SHOAL_SYSTEM_COUNTER_COUNT] = {
    [SHOAL_SYSTEM_COUNTER_BYTES_SENT] = "Bytes sent",
    [SHOAL_SYSTEM_COUNTER_BYTES_RECEIVED] = "Bytes received",
    [SHOAL_SYSTEM_COUNTER_ERRORS] = "Errors",
    [SHOAL_SYSTEM_COUNTER_CLIENT_TIMEOUTS] = "Client liveness timeouts",
    [SHOAL_SYSTEM_COUNTER_INVALID_COMMANDS] = "Invalid client commands",
    [SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS] = "Unblocked publications",
    [SHOAL_SYSTEM_COUNTER_UNBLOCKED_COMMANDS] = "Unblocked control commands",
    [SHOAL_SYSTEM_COUNTER_CONDUCTOR_MAX_CYCLE_TIME_NS] = "Conductor max cycle time (ns)",
    [SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT] = "Driver heartbeat (epoch ms)",
    [SHOAL_SYSTEM_COUNTER_PUBLICATIONS_ACTIVE] = "Publications active",
    [SHOAL_SYSTEM_COUNTER_SUBSCRIPTIONS_ACTIVE] = "Subscriptions active",
    [SHOAL_SYSTEM_COUNTER_CLIENTS_ACTIVE] = "Clients active",
    [SHOAL_SYSTEM_COUNTER_BACK_PRESSURE_EVENTS] = "Back pressure events",
    [SHOAL_SYSTEM_COUNTER_NAKS_SENT] = "NAKs sent",
    [SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED] = "NAKs received",
    [SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT] = "Retransmits sent",
    [SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT] = "Status messages sent",
    [SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED] = "Status messages received",
    [SHOAL_SYSTEM_COUNTER_HEARTBEATS_SENT] = "Heartbeats sent",
    [SHOAL_SYSTEM_COUNTER_SHORT_SENDS] = "Short sends",
    [SHOAL_SYSTEM_COUNTER_INVALID_FRAMES] = "Invalid frames",
    [SHOAL_SYSTEM_COUNTER_LOSS_GAP_FILLS] = "Loss gap fills",
    [SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED] = "NAKs for data no longer held",
    [SHOAL_SYSTEM_COUNTER_SENDER_MAX_CYCLE_TIME_NS] = "Sender max cycle time (ns)",
    [SHOAL_SYSTEM_COUNTER_RECEIVER_MAX_CYCLE_TIME_NS] = "Receiver max cycle time (ns)",
    [SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES] = "Invalid values in client-writable memory",
    [SHOAL_SYSTEM_COUNTER_FOREIGN_COMMANDS] = "Commands naming another client's handle",
    [SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT] = "SETUPs refused: image limit",
    [SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_TERM_LENGTH] = "SETUPs refused: term length",
    [SHOAL_SYSTEM_COUNTER_FRAMES_FROM_WRONG_SOURCE] = "Frames from wrong source",
    [SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS] = "NAKs from unknown receivers",
    [SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET] = "NAKs over retransmit budget",
    [SHOAL_SYSTEM_COUNTER_SM_WINDOWS_CLAMPED] = "Status message windows clamped",
    [SHOAL_SYSTEM_COUNTER_UNTETHERED_DROPS] = "Untethered subscribers dropped",
    [SHOAL_SYSTEM_COUNTER_UNTETHERED_REJOINS] = "Untethered subscribers rejoined",
};

const char *shoal_system_counter_label(int32_t id)
{
    if (id < 0 || id >= SHOAL_SYSTEM_COUNTER_COUNT || SYSTEM_COUNTER_LABELS[id] == NULL)
    {
        return "Unknown";
    }
    return SYSTEM_COUNTER_LABELS[id];
}

static int32_t counters_capacity(size_t metadata_length, size_t values_length)
{
    size_t by_metadata = metadata_length / SHOAL_COUNTER_METADATA_LENGTH;
    size_t by_values = values_length / SHOAL_COUNTER_VALUE_LENGTH;
    size_t n = by_metadata < by_values ? by_metadata : by_values;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int32_t)n;
}

static shoal_counter_value_t *counter_value_record(uint8_t *values, int32_t id)
{
    return (shoal_counter_value_t *)(values + (size_t)id * SHOAL_COUNTER_VALUE_LENGTH);
}

int shoal_counters_manager_init(shoal_counters_manager_t *m, uint8_t *metadata, size_t metadata_length, uint8_t *values,
    size_t values_length, int64_t reuse_timeout_ms)
{
    if (m == NULL || metadata == NULL || values == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_counters_manager_init: NULL argument");
    }
    if (((uintptr_t)metadata % 8) != 0 || ((uintptr_t)values % 8) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "counters buffers must be 8-byte aligned");
    }
    if (reuse_timeout_ms < 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "counter reuse timeout %lld ms is negative", (long long)reuse_timeout_ms);
    }
    int32_t capacity = counters_capacity(metadata_length, values_length);
    if (capacity <= 0)
    {
        return shoal_set_err(SHOAL_EINVAL,
            "counters buffers too small for one counter (metadata %zu, values %zu bytes)", metadata_length,
            values_length);
    }
    *m = (shoal_counters_manager_t){
        .metadata = metadata,
        .metadata_length = metadata_length,
        .values = values,
        .values_length = values_length,
        .max_counter_id = capacity,
        .reuse_timeout_ms = reuse_timeout_ms,
        .free_list = calloc((size_t)capacity, sizeof(int32_t)),
    };
    if (m->free_list == NULL)
    {
        return shoal_set_err(SHOAL_ENOMEM, "counters free list of %d entries", capacity);
    }

    /* Adopt whatever is already there (a fresh CnC is all UNUSED): reclaimed
     * ids go back on the free list, oldest deadline order does not matter. */
    for (int32_t id = 0; id < capacity; id++)
    {
        int32_t state = shoal_load_acquire(&shoal_counter_metadata(metadata, id)->state);
        if (state == SHOAL_COUNTER_STATE_UNUSED)
        {
            break;
        }
        m->high_water_id = id + 1;
        if (state == SHOAL_COUNTER_STATE_RECLAIMED)
        {
            m->free_list[m->free_list_count++] = id;
        }
    }
    return 0;
}

void shoal_counters_manager_close(shoal_counters_manager_t *m)
{
    if (NULL == m)
    {
        return;
    }
    free(m->free_list);
    m->free_list = NULL;
    m->free_list_count = 0;
}

static int32_t counters_next_id(shoal_counters_manager_t *m, int64_t now_ms)
{
    for (int32_t i = 0; i < m->free_list_count; i++)
    {
        int32_t id = m->free_list[i];
        const shoal_counter_metadata_t *md = shoal_counter_metadata(m->metadata, id);
        if (now_ms >= md->free_for_reuse_deadline_ms)
        {
            memmove(&m->free_list[i], &m->free_list[i + 1], (size_t)(m->free_list_count - i - 1) * sizeof(int32_t));
            m->free_list_count--;
            return id;
        }
    }
    if (m->high_water_id < m->max_counter_id)
    {
        return m->high_water_id++;
    }
    return -1;
}

int32_t shoal_counters_manager_allocate(shoal_counters_manager_t *m, int64_t now_ms, int32_t type_id,
    const uint8_t *key, size_t key_length, const char *label, int64_t registration_id, int64_t owner_id)
{
    if (m == NULL || (key == NULL && key_length > 0))
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_counters_manager_allocate: NULL argument");
    }
    if (key_length > SHOAL_COUNTER_MAX_KEY_LENGTH)
    {
        return shoal_set_err(SHOAL_EINVAL, "counter key of %zu bytes longer than %d", key_length,
            SHOAL_COUNTER_MAX_KEY_LENGTH);
    }
    int32_t id = counters_next_id(m, now_ms);
    if (id < 0)
    {
        return shoal_set_err(SHOAL_ENOMEM, "counters buffer full (%d counters)", m->max_counter_id);
    }

    shoal_counter_metadata_t *md = shoal_counter_metadata(m->metadata, id);
    md->type_id = type_id;
    md->free_for_reuse_deadline_ms = INT64_MAX;
    memset(md->key, 0, sizeof(md->key));
    if (key_length > 0)
    {
        memcpy(md->key, key, key_length);
    }
    size_t label_length = label != NULL ? strnlen(label, SHOAL_COUNTER_MAX_LABEL_LENGTH) : 0;
    memset(md->label, 0, sizeof(md->label));
    memcpy(md->label, label != NULL ? label : "", label_length);
    md->label_length = (int32_t)label_length;

    shoal_counter_value_t *v = counter_value_record(m->values, id);
    shoal_store_relaxed(&v->registration_id, registration_id);
    shoal_store_relaxed(&v->owner_id, owner_id);
    shoal_store_relaxed(&v->value, 0);

    shoal_store_release(&md->state, SHOAL_COUNTER_STATE_ALLOCATED);
    return id;
}

int shoal_counters_manager_free(shoal_counters_manager_t *m, int64_t now_ms, int32_t counter_id)
{
    if (m == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_counters_manager_free: NULL manager");
    }
    if (counter_id < 0 || counter_id >= m->high_water_id)
    {
        return shoal_set_err(SHOAL_EINVAL, "counter id %d was never allocated", counter_id);
    }
    shoal_counter_metadata_t *md = shoal_counter_metadata(m->metadata, counter_id);
    if (md->state != SHOAL_COUNTER_STATE_ALLOCATED)
    {
        return shoal_set_err(SHOAL_EINVAL, "counter id %d is not allocated", counter_id);
    }
    md->free_for_reuse_deadline_ms =
        now_ms > INT64_MAX - m->reuse_timeout_ms ? INT64_MAX : now_ms + m->reuse_timeout_ms;
    shoal_store_release(&md->state, SHOAL_COUNTER_STATE_RECLAIMED);
    m->free_list[m->free_list_count++] = counter_id;
    return 0;
}

/* ---- reader ---- */

int shoal_counters_reader_init(shoal_counters_reader_t *r, const uint8_t *metadata, size_t metadata_length,
    const uint8_t *values, size_t values_length)
{
    if (r == NULL || metadata == NULL || values == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_counters_reader_init: NULL argument");
    }
    if (((uintptr_t)metadata % 8) != 0 || ((uintptr_t)values % 8) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "counters buffers must be 8-byte aligned");
    }
    r->metadata = metadata;
    r->metadata_length = metadata_length;
    r->values = values;
    r->values_length = values_length;
    r->max_counter_id = counters_capacity(metadata_length, values_length);
    return 0;
}

static const shoal_counter_metadata_t *reader_metadata(const shoal_counters_reader_t *r, int32_t id)
{
    return (const shoal_counter_metadata_t *)(r->metadata + (size_t)id * SHOAL_COUNTER_METADATA_LENGTH);
}

static const shoal_counter_value_t *reader_value(const shoal_counters_reader_t *r, int32_t id)
{
    return (const shoal_counter_value_t *)(r->values + (size_t)id * SHOAL_COUNTER_VALUE_LENGTH);
}

void shoal_counters_reader_foreach(const shoal_counters_reader_t *r, shoal_counters_reader_fn fn, void *clientd)
{
    if (r == NULL || fn == NULL)
    {
        return;
    }
    for (int32_t id = 0; id < r->max_counter_id; id++)
    {
        const shoal_counter_metadata_t *md = reader_metadata(r, id);
        int32_t state = shoal_load_acquire(&md->state);
        if (state == SHOAL_COUNTER_STATE_UNUSED)
        {
            break;
        }
        if (state != SHOAL_COUNTER_STATE_ALLOCATED)
        {
            continue;
        }
        /* The file may come from another process: never trust the length. */
        int32_t label_length = md->label_length;
        if (label_length < 0)
        {
            label_length = 0;
        }
        else if (label_length > SHOAL_COUNTER_MAX_LABEL_LENGTH)
        {
            label_length = SHOAL_COUNTER_MAX_LABEL_LENGTH;
        }
        fn(id, md->type_id, md->key, SHOAL_COUNTER_MAX_KEY_LENGTH, md->label, (size_t)label_length,
            shoal_load_acquire(&reader_value(r, id)->value), clientd);
    }
}

/* Whether id names a counter r can read (the getters answer 0, or UNUSED, otherwise). */
static bool reader_holds(const shoal_counters_reader_t *r, int32_t id)
{
    return r != NULL && id >= 0 && id < r->max_counter_id;
}

int64_t shoal_counters_reader_value(const shoal_counters_reader_t *r, int32_t id)
{
    return reader_holds(r, id) ? shoal_load_acquire(&reader_value(r, id)->value) : 0;
}

int32_t shoal_counters_reader_state(const shoal_counters_reader_t *r, int32_t id)
{
    return reader_holds(r, id) ? shoal_load_acquire(&reader_metadata(r, id)->state) : SHOAL_COUNTER_STATE_UNUSED;
}

int64_t shoal_counters_reader_registration_id(const shoal_counters_reader_t *r, int32_t id)
{
    return reader_holds(r, id) ? shoal_load_acquire(&reader_value(r, id)->registration_id) : 0;
}

int64_t shoal_counters_reader_owner_id(const shoal_counters_reader_t *r, int32_t id)
{
    return reader_holds(r, id) ? shoal_load_acquire(&reader_value(r, id)->owner_id) : 0;
}

int shoal_counters_reader_find(const shoal_counters_reader_t *r, int32_t type_id, int64_t registration_id)
{
    if (r == NULL)
    {
        return -1;
    }
    for (int32_t id = 0; id < r->max_counter_id; id++)
    {
        const shoal_counter_metadata_t *md = reader_metadata(r, id);
        int32_t state = shoal_load_acquire(&md->state);
        if (state == SHOAL_COUNTER_STATE_UNUSED)
        {
            break;
        }
        if (state == SHOAL_COUNTER_STATE_ALLOCATED && md->type_id == type_id &&
            shoal_load_acquire(&reader_value(r, id)->registration_id) == registration_id)
        {
            return id;
        }
    }
    return -1;
}
