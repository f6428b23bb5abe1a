#include "common/shoal_context.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <pwd.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"
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

static int check_buffer_length(const char *key, uint64_t v, uint32_t *out)
{
    if (!SHOAL_IS_POWER_OF_TWO(v) || v < 4096 || v > (1U << 30))
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu must be a power of two between 4096 and 1073741824", key,
            (unsigned long long)v);
    }
    *out = (uint32_t)v;
    return 0;
}

static int check_timeout(const char *key, uint64_t v, uint64_t *out)
{
    if (v < 1 || v > 24ULL * 3600 * 1000)
    {
        return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu ms must be between 1 ms and 24 h", key,
            (unsigned long long)v);
    }
    *out = v;
    return 0;
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
    if (0 == strcmp(key, "DIR"))
    {
        return shoal_context_set_dir(ctx, value);
    }
    if (0 == strcmp(key, "IDLE_STRATEGY"))
    {
        shoal_idle_strategy_t idle;
        if (shoal_idle_parse(value, &idle) < 0)
        {
            return -1;
        }
        ctx->idle_strategy = idle;
        return 0;
    }
    if (0 == strcmp(key, "DIR_DELETE_ON_START"))
    {
        return parse_bool(key, value, &ctx->dir_delete_on_start);
    }
    if (0 == strcmp(key, "DIR_DELETE_ON_SHUTDOWN"))
    {
        return parse_bool(key, value, &ctx->dir_delete_on_shutdown);
    }
    if (0 == strcmp(key, "RCV_LOSS_RATE"))
    {
        return parse_rate(key, value, &ctx->rcv_loss_rate);
    }
    if (0 == strcmp(key, "SEND_LOSS_RATE"))
    {
        return parse_rate(key, value, &ctx->send_loss_rate);
    }
    if (0 == strcmp(key, "THREADING_MODE"))
    {
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
    }

    uint64_t v = 0;
    if (parse_u64(key, value, &v) < 0)
    {
        return -1;
    }
    if (0 == strcmp(key, "DRIVER_TIMEOUT_MS"))
    {
        return check_timeout(key, v, &ctx->driver_timeout_ms);
    }
    if (0 == strcmp(key, "CLIENT_LIVENESS_TIMEOUT_MS"))
    {
        return check_timeout(key, v, &ctx->client_liveness_timeout_ms);
    }
    if (0 == strcmp(key, "PUBLICATION_UNBLOCK_TIMEOUT_MS"))
    {
        return check_timeout(key, v, &ctx->publication_unblock_timeout_ms);
    }
    if (0 == strcmp(key, "PUBLICATION_LINGER_MS"))
    {
        return check_timeout(key, v, &ctx->publication_linger_ms);
    }
    if (0 == strcmp(key, "IPC_TERM_LENGTH") || 0 == strcmp(key, "TERM_LENGTH"))
    {
        if (v > INT32_MAX || shoal_logbuffer_check_term_length((int32_t)v) < 0)
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu must be a power of two between 65536 and 1073741824",
                key, (unsigned long long)v);
        }
        if ('I' == key[0])
        {
            ctx->ipc_term_length = (uint32_t)v;
        }
        else
        {
            ctx->term_length = (uint32_t)v;
        }
        return 0;
    }
    if (0 == strcmp(key, "MTU"))
    {
        if (v < 64 || v > 65504 || (v % 32) != 0)
        {
            return shoal_set_err(SHOAL_EINVAL, "setting MTU: %llu must be a multiple of 32 between 64 and 65504",
                (unsigned long long)v);
        }
        ctx->mtu = (uint32_t)v;
        return 0;
    }
    if (0 == strcmp(key, "LOSS_SEED"))
    {
        ctx->loss_seed = v;
        return 0;
    }
    if (0 == strcmp(key, "IMAGE_LIVENESS_TIMEOUT_MS"))
    {
        return check_timeout(key, v, &ctx->image_liveness_timeout_ms);
    }
    if (0 == strcmp(key, "PUBLICATION_CONNECTION_TIMEOUT_MS"))
    {
        return check_timeout(key, v, &ctx->publication_connection_timeout_ms);
    }
    if (0 == strcmp(key, "FLOW_CONTROL_RECEIVER_TIMEOUT_MS"))
    {
        return check_timeout(key, v, &ctx->flow_control_receiver_timeout_ms);
    }
    if (0 == strcmp(key, "NAK_RETRY_DELAY_US") || 0 == strcmp(key, "RETRANSMIT_LINGER_US"))
    {
        if (v < 1 || v > 10ULL * 1000 * 1000)
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu us must be between 1 us and 10 s", key,
                (unsigned long long)v);
        }
        *('N' == key[0] ? &ctx->nak_retry_delay_us : &ctx->retransmit_linger_us) = v;
        return 0;
    }
    if (0 == strcmp(key, "RCV_WINDOW"))
    {
        if (v < 4096 || v > (1U << 30))
        {
            return shoal_set_err(SHOAL_EINVAL, "setting RCV_WINDOW: %llu must be between 4096 and 1073741824",
                (unsigned long long)v);
        }
        ctx->rcv_window = (uint32_t)v;
        return 0;
    }
    if (0 == strcmp(key, "SOCKET_RCVBUF") || 0 == strcmp(key, "SOCKET_SNDBUF"))
    {
        if (v > (1U << 30))
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu must be at most 1073741824", key,
                (unsigned long long)v);
        }
        *('R' == key[7] ? &ctx->socket_rcvbuf : &ctx->socket_sndbuf) = (uint32_t)v;
        return 0;
    }
    if (0 == strcmp(key, "MAX_IMAGES_PER_ENDPOINT") || 0 == strcmp(key, "MAX_IMAGES"))
    {
        if (v < 1 || v > 65536)
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu must be between 1 and 65536", key,
                (unsigned long long)v);
        }
        *(0 == strcmp(key, "MAX_IMAGES") ? &ctx->max_images : &ctx->max_images_per_endpoint) = (uint32_t)v;
        return 0;
    }
    if (0 == strcmp(key, "MAX_SETUP_TERM_LENGTH"))
    {
        if (v > INT32_MAX || shoal_logbuffer_check_term_length((int32_t)v) < 0)
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu must be a power of two between 65536 and 1073741824",
                key, (unsigned long long)v);
        }
        ctx->max_setup_term_length = (uint32_t)v;
        return 0;
    }
    if (0 == strcmp(key, "RETRANSMIT_BUDGET"))
    {
        if (v < 65536 || v > (1ULL << 40))
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu bytes must be between 65536 and 1099511627776", key,
                (unsigned long long)v);
        }
        ctx->retransmit_budget = v;
        return 0;
    }
    if (0 == strcmp(key, "RETRANSMIT_BUDGET_INTERVAL_US"))
    {
        if (v < 100 || v > 10ULL * 1000 * 1000)
        {
            return shoal_set_err(SHOAL_EINVAL, "setting %s: %llu us must be between 100 us and 10 s", key,
                (unsigned long long)v);
        }
        ctx->retransmit_budget_interval_us = v;
        return 0;
    }
    if (0 == strcmp(key, "TO_DRIVER_BUFFER_LENGTH"))
    {
        return check_buffer_length(key, v, &ctx->to_driver_buffer_length);
    }
    if (0 == strcmp(key, "TO_CLIENTS_BUFFER_LENGTH"))
    {
        return check_buffer_length(key, v, &ctx->to_clients_buffer_length);
    }
    if (0 == strcmp(key, "COUNTERS_BUFFER_LENGTH"))
    {
        return check_buffer_length(key, v, &ctx->counters_buffer_length);
    }
    if (0 == strcmp(key, "ERROR_BUFFER_LENGTH"))
    {
        return check_buffer_length(key, v, &ctx->error_buffer_length);
    }
    if (0 == strcmp(key, "LOSS_REPORT_BUFFER_LENGTH"))
    {
        return check_buffer_length(key, v, &ctx->loss_report_buffer_length);
    }
    return shoal_set_err(SHOAL_EINVAL, "unknown setting '%s'", key);
}

/* Every setting a user may give as SHOAL_<NAME> in the environment. */
static const char *const ENV_SETTINGS[] = { "DIR", "DRIVER_TIMEOUT_MS", "CLIENT_LIVENESS_TIMEOUT_MS",
    "PUBLICATION_UNBLOCK_TIMEOUT_MS", "PUBLICATION_LINGER_MS", "IPC_TERM_LENGTH", "TERM_LENGTH", "MTU",
    "TO_DRIVER_BUFFER_LENGTH", "TO_CLIENTS_BUFFER_LENGTH", "COUNTERS_BUFFER_LENGTH", "ERROR_BUFFER_LENGTH",
    "LOSS_REPORT_BUFFER_LENGTH", "IDLE_STRATEGY", "DIR_DELETE_ON_START", "DIR_DELETE_ON_SHUTDOWN", "THREADING_MODE",
    "RCV_LOSS_RATE", "SEND_LOSS_RATE", "LOSS_SEED", "IMAGE_LIVENESS_TIMEOUT_MS", "PUBLICATION_CONNECTION_TIMEOUT_MS",
    "FLOW_CONTROL_RECEIVER_TIMEOUT_MS", "NAK_RETRY_DELAY_US", "RETRANSMIT_LINGER_US", "RCV_WINDOW", "SOCKET_RCVBUF",
    "SOCKET_SNDBUF", "MAX_IMAGES_PER_ENDPOINT", "MAX_IMAGES", "MAX_SETUP_TERM_LENGTH", "RETRANSMIT_BUDGET",
    "RETRANSMIT_BUDGET_INTERVAL_US", NULL };

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
    ctx->driver_timeout_ms = 10000;
    ctx->client_liveness_timeout_ms = 10000;
    ctx->publication_unblock_timeout_ms = 15000;
    ctx->publication_linger_ms = 5000;
    ctx->keepalive_interval_ms = 500;
    ctx->ipc_term_length = 64U * 1024 * 1024;
    ctx->term_length = 16U * 1024 * 1024;
    ctx->mtu = 1408;
    ctx->to_driver_buffer_length = 1024 * 1024;
    ctx->to_clients_buffer_length = 1024 * 1024;
    ctx->counters_buffer_length = 1024 * 1024;
    ctx->error_buffer_length = 1024 * 1024;
    ctx->loss_report_buffer_length = 1024 * 1024;
    ctx->idle_strategy = SHOAL_IDLE_BACKOFF;
    ctx->dir_delete_on_start = true;
    ctx->dir_delete_on_shutdown = false;
    ctx->threading_mode = SHOAL_THREADING_SHARED;
    ctx->rcv_loss_rate = 0.0;
    ctx->send_loss_rate = 0.0;
    ctx->loss_seed = 0;
    ctx->image_liveness_timeout_ms = 10000;
    ctx->publication_connection_timeout_ms = 5000;
    ctx->flow_control_receiver_timeout_ms = 5000;
    ctx->nak_retry_delay_us = 1000;
    ctx->retransmit_linger_us = 500;
    ctx->rcv_window = 128 * 1024;
    ctx->socket_rcvbuf = 2 * 1024 * 1024;
    ctx->socket_sndbuf = 2 * 1024 * 1024;
    ctx->max_images_per_endpoint = 256;
    ctx->max_images = 1024;
    ctx->max_setup_term_length = 128U * 1024 * 1024;
    ctx->retransmit_budget = 2ULL * 1024 * 1024;
    ctx->retransmit_budget_interval_us = 10000;

    for (int i = 0; NULL != ENV_SETTINGS[i]; i++)
    {
        char name[64];
        snprintf(name, sizeof(name), "SHOAL_%s", ENV_SETTINGS[i]);
        const char *value = getenv(name);
        if (NULL != value && shoal_context_set(ctx, ENV_SETTINGS[i], value) < 0)
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
        return check_timeout(key, ms, &ctx->field);                                                                    \
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
