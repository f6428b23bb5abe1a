#include "common/shoal_context.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <pwd.h>

#include "concurrent/shoal_atomic.h"
#include "concurrent/shoal_broadcast_descriptor.h"
#include "concurrent/shoal_ring_buffer_descriptor.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
#include "util/shoal_counters.h"
#include "util/shoal_error.h"
#include "util/shoal_idle.h"

/* Parses an unsigned size with an optional k/m/g suffix. */
static int parse_u64(const char *key, const char *value, uint64_t *out)
{
    if (NULL == value || '\0' == value[0])
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: empty value", key);
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno != 0 || end == value || '-' == value[0])
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' is not a non-negative integer", key, value);
    }
    uint64_t mult = 1;
    if ('\0' != *end)
    {
        switch (*end)
        {
            case 'k':
            case 'K': mult = 1024ULL; break;
            case 'm':
            case 'M': mult = 1024ULL * 1024; break;
            case 'g':
            case 'G': mult = 1024ULL * 1024 * 1024; break;
            default: return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' has trailing characters", key, value);
        }
        if ('\0' != end[1])
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' has trailing characters", key, value);
        }
    }
    if (v > UINT64_MAX / mult)
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' is too large", key, value);
    }
    *out = v * mult;
    return 0;
}

static int parse_bool(const char *key, const char *value, bool *out)
{
    if (NULL != value && (0 == strcmp(value, "1") || 0 == strcasecmp(value, "true") || 0 == strcasecmp(value, "yes")))
    {
        *out = true;
        return 0;
    }
    if (NULL != value && (0 == strcmp(value, "0") || 0 == strcasecmp(value, "false") || 0 == strcasecmp(value, "no")))
    {
        *out = false;
        return 0;
    }
    return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' is not a boolean (1/0/true/false)", key,
        value ? value : "(null)");
}

/* A fraction in [0, 1], e.g. "0.1". */
static int parse_rate(const char *key, const char *value, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = (NULL == value) ? -1 : strtod(value, &end);
    if (NULL == value || errno != 0 || end == value || '\0' != *end || !(v >= 0.0 && v <= 1.0))
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' is not a rate between 0 and 1", key,
            value ? value : "(null)");
    }
    *out = v;
    return 0;
}

/* The archive's fsync policy: shoal_archive_fsync_policy_t values 0..2. */
static int parse_fsync(const char *key, const char *value, int32_t *out)
{
    static const char *const names[] = { "none", "data", "data-and-catalog" };
    for (int i = 0; NULL != value && i < 3; i++)
    {
        if (0 == strcasecmp(value, names[i]))
        {
            *out = i;
            return 0;
        }
    }
    return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' is not none, data or data-and-catalog", key,
        value ? value : "(null)");
}

/* Every setting: its name (also SHOAL_<NAME> in the environment), where it
 * goes, what it accepts and its default. One table so that the parser, the
 * environment and the defaults cannot drift apart. Numbers take a k/m/g
 * suffix; a number outside its rule is refused with the rule in the error. */
typedef enum
{
    SETTING_DIR,
    SETTING_IDLE,
    SETTING_THREADING,
    SETTING_BOOL,
    SETTING_RATE,
    SETTING_U32,
    SETTING_U64,
    SETTING_CHANNEL,
    SETTING_FSYNC
} setting_type_t;

typedef struct
{
    const char *name;
    setting_type_t type;
    size_t offset;
    uint64_t min, max;
    uint32_t multiple_of; /* 0: any number in range */
    bool power_of_two;
    const char *rule; /* what a refused number breaks, after the number */
    const char *default_value;
} setting_t;

#define AT(field) offsetof(shoal_context_t, field)
#define MS(name, field, dflt)                                                                                          \
    {                                                                                                                  \
        name, SETTING_U64, AT(field), 1, 24ULL * 3600 * 1000, 0, false, "ms must be between 1 ms and 24 h", dflt       \
    }
#define US(name, field, lo, rule, dflt)                                                                                \
    {                                                                                                                  \
        name, SETTING_U64, AT(field), lo, 10ULL * 1000 * 1000, 0, false, rule, dflt                                    \
    }
#define BUFFER(name, field)                                                                                            \
    {                                                                                                                  \
        name, SETTING_U32, AT(field), 4096, 1U << 30, 0, true, "must be a power of two between 4096 and 1073741824",   \
            "1m"                                                                                                       \
    }
#define TERM(name, field, dflt)                                                                                        \
    {                                                                                                                  \
        name, SETTING_U32, AT(field), SHOAL_LOGBUFFER_TERM_MIN_LENGTH, SHOAL_LOGBUFFER_TERM_MAX_LENGTH, 0, true,       \
            "must be a power of two between 65536 and 1073741824", dflt                                                \
    }
#define U32(name, field, lo, hi, rule, dflt)                                                                           \
    {                                                                                                                  \
        name, SETTING_U32, AT(field), lo, hi, 0, false, rule, dflt                                                     \
    }
#define OTHER(name, type, field, dflt)                                                                                 \
    {                                                                                                                  \
        name, type, AT(field), 0, 0, 0, false, NULL, dflt                                                              \
    }

static const setting_t SETTINGS[] = {
    OTHER("DIR", SETTING_DIR, dir, NULL), /* default: /dev/shm/shoal-$USER */
    MS("DRIVER_TIMEOUT_MS", driver_timeout_ms, "10000"),
    MS("CLIENT_LIVENESS_TIMEOUT_MS", client_liveness_timeout_ms, "10000"),
    MS("PUBLICATION_UNBLOCK_TIMEOUT_MS", publication_unblock_timeout_ms, "15000"),
    MS("PUBLICATION_LINGER_MS", publication_linger_ms, "5000"),
    TERM("IPC_TERM_LENGTH", ipc_term_length, "64m"),
    TERM("TERM_LENGTH", term_length, "16m"),
    { "MTU", SETTING_U32, AT(mtu), 64, 65504, 32, false, "must be a multiple of 32 between 64 and 65504", "1408" },
    BUFFER("TO_DRIVER_BUFFER_LENGTH", to_driver_buffer_length),
    BUFFER("TO_CLIENTS_BUFFER_LENGTH", to_clients_buffer_length),
    BUFFER("COUNTERS_BUFFER_LENGTH", counters_buffer_length),
    BUFFER("ERROR_BUFFER_LENGTH", error_buffer_length),
    BUFFER("LOSS_REPORT_BUFFER_LENGTH", loss_report_buffer_length),
    OTHER("IDLE_STRATEGY", SETTING_IDLE, idle_strategy, "backoff"),
    OTHER("DIR_DELETE_ON_START", SETTING_BOOL, dir_delete_on_start, "1"),
    OTHER("DIR_DELETE_ON_SHUTDOWN", SETTING_BOOL, dir_delete_on_shutdown, "0"),
    OTHER("PRE_TOUCH", SETTING_BOOL, pre_touch, "1"),
    OTHER("THREADING_MODE", SETTING_THREADING, threading_mode, "shared"),
    OTHER("RCV_LOSS_RATE", SETTING_RATE, rcv_loss_rate, "0"),
    OTHER("SEND_LOSS_RATE", SETTING_RATE, send_loss_rate, "0"),
    { "LOSS_SEED", SETTING_U64, AT(loss_seed), 0, UINT64_MAX, 0, false, NULL, "0" }, /* 0: seeded from the clock */
    MS("IMAGE_LIVENESS_TIMEOUT_MS", image_liveness_timeout_ms, "10000"),
    MS("PUBLICATION_CONNECTION_TIMEOUT_MS", publication_connection_timeout_ms, "5000"),
    MS("FLOW_CONTROL_RECEIVER_TIMEOUT_MS", flow_control_receiver_timeout_ms, "5000"),
    US("NAK_RETRY_DELAY_US", nak_retry_delay_us, 1, "us must be between 1 us and 10 s", "1000"),
    US("RETRANSMIT_LINGER_US", retransmit_linger_us, 1, "us must be between 1 us and 10 s", "500"),
    U32("RCV_WINDOW", rcv_window, 4096, 1U << 30, "must be between 4096 and 1073741824", "128k"),
    U32("SOCKET_RCVBUF", socket_rcvbuf, 0, 1U << 30, "must be at most 1073741824", "2m"),
    U32("SOCKET_SNDBUF", socket_sndbuf, 0, 1U << 30, "must be at most 1073741824", "2m"),
    U32("MAX_IMAGES_PER_ENDPOINT", max_images_per_endpoint, 1, 65536, "must be between 1 and 65536", "256"),
    U32("MAX_IMAGES", max_images, 1, 65536, "must be between 1 and 65536", "1024"),
    TERM("MAX_SETUP_TERM_LENGTH", max_setup_term_length, "128m"),
    { "RETRANSMIT_BUDGET", SETTING_U64, AT(retransmit_budget), 65536, 1ULL << 40, 0, false,
        "bytes must be between 65536 and 1099511627776", "2m" },
    US("RETRANSMIT_BUDGET_INTERVAL_US", retransmit_budget_interval_us, 100, "us must be between 100 us and 10 s",
        "10000"),
    OTHER("TETHER_SUBSCRIPTIONS", SETTING_BOOL, tether_subscriptions, "1"),
    OTHER("SPIES_SIMULATE_CONNECTION", SETTING_BOOL, spies_simulate_connection, "0"),
    MS("UNTETHERED_WINDOW_LIMIT_TIMEOUT_MS", untethered_window_limit_timeout_ms, "5000"),
    MS("UNTETHERED_RESTING_TIMEOUT_MS", untethered_resting_timeout_ms, "10000"),
    OTHER("ARCHIVE_CONTROL_CHANNEL", SETTING_CHANNEL, archive_control_channel, "aeron:ipc"),
    U32("ARCHIVE_CONTROL_STREAM_ID", archive_control_stream_id, 1, INT32_MAX, "must be between 1 and 2147483647", "10"),
    OTHER("ARCHIVE_CONTROL_RESPONSE_CHANNEL", SETTING_CHANNEL, archive_control_response_channel, "aeron:ipc"),
    U32("ARCHIVE_CONTROL_RESPONSE_STREAM_ID", archive_control_response_stream_id, 1, INT32_MAX,
        "must be between 1 and 2147483647", "20"),
    TERM("ARCHIVE_SEGMENT_LENGTH", archive_segment_length, "128m"),
    OTHER("ARCHIVE_FSYNC", SETTING_FSYNC, archive_fsync, "none"),
    MS("ARCHIVE_MESSAGE_TIMEOUT_MS", archive_message_timeout_ms, "10000"),
};
#define SETTINGS_COUNT (sizeof(SETTINGS) / sizeof(SETTINGS[0]))

static const setting_t *find_setting(const char *key)
{
    for (size_t i = 0; i < SETTINGS_COUNT; i++)
    {
        if (0 == strcmp(key, SETTINGS[i].name))
        {
            return &SETTINGS[i];
        }
    }
    return NULL;
}

/* Checks a number against its setting's rule and stores it. */
static int store_number(shoal_context_t *ctx, const setting_t *s, uint64_t v)
{
    if (v < s->min || v > s->max || (s->power_of_two && !SHOAL_IS_POWER_OF_TWO(v)) ||
        (0 != s->multiple_of && 0 != v % s->multiple_of))
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu %s", s->name, (unsigned long long)v, s->rule);
    }
    char *field = (char *)ctx + s->offset;
    if (SETTING_U32 == s->type)
    {
        *(uint32_t *)(void *)field = (uint32_t)v;
    }
    else
    {
        *(uint64_t *)(void *)field = v;
    }
    return 0;
}

static int apply_setting(shoal_context_t *ctx, const setting_t *s, const char *value)
{
    void *field = (char *)ctx + s->offset;
    switch (s->type)
    {
        case SETTING_DIR: return shoal_context_set_dir(ctx, value);
        case SETTING_IDLE: return shoal_idle_parse(value, (shoal_idle_strategy_t *)field);
        case SETTING_BOOL: return parse_bool(s->name, value, (bool *)field);
        case SETTING_RATE: return parse_rate(s->name, value, (double *)field);
        case SETTING_THREADING:
            if (NULL != value && 0 == strcasecmp(value, "shared"))
            {
                ctx->threading_mode = SHOAL_THREADING_SHARED;
                return 0;
            }
            if (NULL != value && 0 == strcasecmp(value, "dedicated"))
            {
                ctx->threading_mode = SHOAL_THREADING_DEDICATED;
                return 0;
            }
            return shoal_set_err(SHOAL_EINVAL, "setting THREADING_MODE: '%s' is not shared or dedicated",
                value ? value : "(null)");
        case SETTING_CHANNEL:
            if (NULL == value || 0 != strncmp(value, "aeron:", 6) || strlen(value) >= SHOAL_CONTEXT_CHANNEL_MAX)
            {
                return shoal_set_err(SHOAL_EINVAL, "setting %s: '%s' is not a channel URI (aeron:..., under %d bytes)",
                    s->name, value ? value : "(null)", SHOAL_CONTEXT_CHANNEL_MAX);
            }
            memcpy(field, value, strlen(value) + 1);
            return 0;
        case SETTING_FSYNC: return parse_fsync(s->name, value, (int32_t *)field);
        case SETTING_U32:
        case SETTING_U64:
        {
            uint64_t v = 0;
            return parse_u64(s->name, value, &v) < 0 ? -1 : store_number(ctx, s, v);
        }
    }
    return shoal_set_err(SHOAL_EINVAL, "setting %s: unknown type", s->name);
}

int shoal_context_set(shoal_context_t *ctx, const char *key, const char *value)
{
    if (NULL == ctx || NULL == key)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set: ctx and key must not be NULL");
    }
    if (0 == strncmp(key, "SHOAL_", 6))
    {
        key += 6;
    }
    const setting_t *s = find_setting(key);
    if (NULL == s)
    {
        return shoal_set_err(SHOAL_EINVAL, "unknown setting '%s'", key);
    }
    return apply_setting(ctx, s, value);
}

static void default_dir(char *dir, size_t len)
{
    const char *user = getenv("USER");
    struct passwd *pw = NULL;
    if (NULL == user || '\0' == user[0])
    {
        pw = getpwuid(getuid());
        user = (NULL != pw) ? pw->pw_name : "default";
    }
    snprintf(dir, len, "/dev/shm/shoal-%s", user);
}

int shoal_context_init(shoal_context_t **ctxp)
{
    if (NULL == ctxp)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_init: ctx must not be NULL");
    }
    shoal_context_t *ctx = calloc(1, sizeof(*ctx));
    if (NULL == ctx)
    {
        return shoal_set_err(SHOAL_ENOMEM, "shoal_context_init: out of memory");
    }
    default_dir(ctx->dir, sizeof(ctx->dir));
    ctx->keepalive_interval_ms = 500;
    for (size_t i = 0; i < SETTINGS_COUNT; i++)
    {
        /* the defaults go through the same parser, so a default that breaks
         * its own rule fails every context at once instead of hiding */
        if (NULL != SETTINGS[i].default_value && apply_setting(ctx, &SETTINGS[i], SETTINGS[i].default_value) < 0)
        {
            free(ctx);
            return -1;
        }
    }
    for (size_t i = 0; i < SETTINGS_COUNT; i++)
    {
        char name[64];
        snprintf(name, sizeof(name), "SHOAL_%s", SETTINGS[i].name);
        const char *value = getenv(name);
        if (NULL != value && apply_setting(ctx, &SETTINGS[i], value) < 0)
        {
            char msg[SHOAL_ERRMSG_MAX];
            snprintf(msg, sizeof(msg), "%s", shoal_errmsg());
            int code = shoal_errcode();
            free(ctx);
            return shoal_set_err(code, "environment %s: %s", name, msg);
        }
    }
    *ctxp = ctx;
    return 0;
}

void shoal_context_acquire(shoal_context_t *ctx)
{
    __atomic_add_fetch(&ctx->clients_using, 1, __ATOMIC_ACQ_REL);
}

void shoal_context_release(shoal_context_t *ctx)
{
    __atomic_sub_fetch(&ctx->clients_using, 1, __ATOMIC_ACQ_REL);
}

void shoal_context_cnc_metadata(const shoal_context_t *ctx, shoal_cnc_metadata_t *m)
{
    memset(m, 0, sizeof(*m));
    m->to_driver_buffer_length = (int32_t)(ctx->to_driver_buffer_length + SHOAL_RB_TRAILER_LENGTH);
    m->to_clients_buffer_length = (int32_t)(ctx->to_clients_buffer_length + SHOAL_BROADCAST_TRAILER_LENGTH);
    m->counters_values_buffer_length = (int32_t)ctx->counters_buffer_length;
    m->counters_metadata_buffer_length =
        (int32_t)(ctx->counters_buffer_length / SHOAL_COUNTER_VALUE_LENGTH * SHOAL_COUNTER_METADATA_LENGTH);
    m->error_log_buffer_length = (int32_t)ctx->error_buffer_length;
    m->loss_report_buffer_length = (int32_t)ctx->loss_report_buffer_length;
    m->client_liveness_timeout_ms = (int64_t)ctx->client_liveness_timeout_ms;
    m->driver_timeout_ms = (int64_t)ctx->driver_timeout_ms;
}

int shoal_context_close(shoal_context_t *ctx)
{
    if (NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_close: ctx must not be NULL");
    }
    /* Clients read the context until they are closed (their conductor
     * threads too): freeing it under them would be a use-after-free. A driver
     * works on its own copy, so it does not hold the context. */
    int32_t clients = __atomic_load_n(&ctx->clients_using, __ATOMIC_ACQUIRE);
    if (clients > 0)
    {
        return shoal_set_err(SHOAL_ESTATE,
            "shoal_context_close: the context is still used by %d client%s: close %s "
            "first",
            (int)clients, 1 == clients ? "" : "s", 1 == clients ? "it" : "them");
    }
    free(ctx);
    return 0;
}

int shoal_context_set_dir(shoal_context_t *ctx, const char *dir)
{
    if (NULL == ctx || NULL == dir)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_dir: ctx and dir must not be NULL");
    }
    size_t len = strlen(dir);
    if (0 == len || len >= SHOAL_DIR_MAX - 64)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_dir: directory length %zu must be 1..%d", len,
            SHOAL_DIR_MAX - 65);
    }
    memcpy(ctx->dir, dir, len + 1);
    while (len > 1 && '/' == ctx->dir[len - 1])
    {
        ctx->dir[--len] = '\0';
    }
    return 0;
}

const char *shoal_context_get_dir(const shoal_context_t *ctx)
{
    if (NULL == ctx)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_context_get_dir: ctx must not be NULL");
        return NULL;
    }
    return ctx->dir;
}

#define SETTER_MS(name, field, key)                                                                                    \
    int name(shoal_context_t *ctx, uint64_t ms)                                                                        \
    {                                                                                                                  \
        if (NULL == ctx)                                                                                               \
        {                                                                                                              \
            return shoal_set_err(SHOAL_EINVAL, #name ": ctx must not be NULL");                                        \
        }                                                                                                              \
        return store_number(ctx, find_setting(key), ms);                                                               \
    }

SETTER_MS(shoal_context_set_driver_timeout_ms, driver_timeout_ms, "DRIVER_TIMEOUT_MS")
SETTER_MS(shoal_context_set_client_liveness_timeout_ms, client_liveness_timeout_ms, "CLIENT_LIVENESS_TIMEOUT_MS")
SETTER_MS(shoal_context_set_publication_unblock_timeout_ms, publication_unblock_timeout_ms,
    "PUBLICATION_UNBLOCK_TIMEOUT_MS")

int shoal_context_set_ipc_term_length(shoal_context_t *ctx, uint32_t length)
{
    if (NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_ipc_term_length: ctx must not be NULL");
    }
    char value[32];
    snprintf(value, sizeof(value), "%u", length);
    return shoal_context_set(ctx, "IPC_TERM_LENGTH", value);
}

int shoal_context_set_idle_strategy(shoal_context_t *ctx, shoal_idle_strategy_t idle)
{
    if (NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_idle_strategy: ctx must not be NULL");
    }
    if (idle < SHOAL_IDLE_BACKOFF || idle > SHOAL_IDLE_SLEEP)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_idle_strategy: unknown strategy %d", (int)idle);
    }
    ctx->idle_strategy = idle;
    return 0;
}

int shoal_context_set_error_handler(shoal_context_t *ctx, shoal_error_handler_t h, void *clientd)
{
    if (NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_error_handler: ctx must not be NULL");
    }
    ctx->error_handler = h;
    ctx->error_handler_clientd = clientd;
    return 0;
}

int shoal_context_set_use_conductor_invoker(shoal_context_t *ctx, bool use_invoker)
{
    if (NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_context_set_use_conductor_invoker: ctx must not be NULL");
    }
    ctx->use_conductor_invoker = use_invoker;
    return 0;
}

bool shoal_context_get_use_conductor_invoker(const shoal_context_t *ctx)
{
    if (NULL == ctx)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_context_get_use_conductor_invoker: ctx must not be NULL");
        return false;
    }
    return ctx->use_conductor_invoker;
}
