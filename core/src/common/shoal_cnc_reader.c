/*
 * The public read-only view of a driver's CnC file (shoal_cnc_* in
 * shoal/shoal.h): counters, distinct errors, loss report and driver
 * liveness, for tools and bindings that must not depend on the file's
 * layout. Everything is read from a read-only mapping; every length found
 * in the file is checked by the readers below it (the file is shared
 * memory that clients can write).
 */
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_mpsc_rb.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "shoal/shoal.h"
#include "util/shoal_clock.h"
#include "util/shoal_counters.h"
#include "util/shoal_error.h"
#include "util/shoal_error_log.h"
#include "util/shoal_loss_report.h"

struct shoal_cnc_stct
{
    shoal_cnc_view_t view;
    shoal_mpsc_rb_t to_driver;
    shoal_counters_reader_t counters;
};

int shoal_cnc_open(shoal_cnc_t **cnc, const char *dir)
{
    if (NULL == cnc)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_open: cnc is NULL");
    }
    *cnc = NULL;
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0 || (NULL != dir && shoal_context_set_dir(ctx, dir) < 0))
    {
        shoal_context_close(ctx);
        return -1;
    }
    shoal_cnc_t *c = calloc(1, sizeof(*c));
    if (NULL == c)
    {
        shoal_context_close(ctx);
        return shoal_set_err(SHOAL_ENOMEM, "shoal_cnc_open: out of memory");
    }
    int rc = shoal_cnc_map(shoal_context_get_dir(ctx), false, 0, &c->view);
    shoal_context_close(ctx);
    if (rc < 0)
    {
        free(c);
        return -1;
    }
    const shoal_cnc_metadata_t *m = c->view.meta;
    if (shoal_mpsc_rb_init(&c->to_driver, c->view.to_driver, (size_t)m->to_driver_buffer_length) < 0 ||
        shoal_counters_reader_init(&c->counters, c->view.counters_metadata, (size_t)m->counters_metadata_buffer_length,
            c->view.counters_values, (size_t)m->counters_values_buffer_length) < 0)
    {
        shoal_cnc_unmap(&c->view);
        free(c);
        return -1;
    }
    *cnc = c;
    return 0;
}

int shoal_cnc_close(shoal_cnc_t *cnc)
{
    if (NULL != cnc)
    {
        shoal_cnc_unmap(&cnc->view);
        free(cnc);
    }
    return 0;
}

typedef struct
{
    shoal_cnc_counter_fn fn;
    void *clientd;
    int count;
} counters_call_t;

static void on_counter(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length, const char *label,
    size_t label_length, int64_t value, void *clientd)
{
    (void)key;
    (void)key_length;
    counters_call_t *call = clientd;
    char text[SHOAL_COUNTER_MAX_LABEL_LENGTH + 1];
    size_t n = label_length < SHOAL_COUNTER_MAX_LABEL_LENGTH ? label_length : SHOAL_COUNTER_MAX_LABEL_LENGTH;
    memcpy(text, label, n);
    text[n] = '\0';
    call->fn(call->clientd, id, type_id, text, n, value);
    call->count++;
}

int shoal_cnc_counters_foreach(shoal_cnc_t *cnc, shoal_cnc_counter_fn fn, void *clientd)
{
    if (NULL == cnc || NULL == fn)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_counters_foreach: %s is NULL", NULL == cnc ? "cnc" : "fn");
    }
    counters_call_t call = { fn, clientd, 0 };
    shoal_counters_reader_foreach(&cnc->counters, on_counter, &call);
    return call.count;
}

typedef struct
{
    shoal_cnc_error_fn fn;
    void *clientd;
    int count;
    int failed;
} errors_call_t;

static void on_error(int32_t observation_count, int64_t first_ms, int64_t last_ms, int32_t error_code, const char *text,
    size_t text_length, void *clientd)
{
    errors_call_t *call = clientd;
    char *copy = call->failed ? NULL : malloc(text_length + 1);
    if (NULL == copy)
    {
        call->failed = 1;
        return;
    }
    memcpy(copy, text, text_length);
    copy[text_length] = '\0';
    call->fn(call->clientd, observation_count, first_ms, last_ms, error_code, copy, text_length);
    free(copy);
    call->count++;
}

int shoal_cnc_errors_foreach(shoal_cnc_t *cnc, shoal_cnc_error_fn fn, void *clientd)
{
    if (NULL == cnc || NULL == fn)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_errors_foreach: %s is NULL", NULL == cnc ? "cnc" : "fn");
    }
    errors_call_t call = { fn, clientd, 0, 0 };
    shoal_error_log_read(cnc->view.error_log, (size_t)cnc->view.meta->error_log_buffer_length, on_error, &call, 0);
    if (call.failed)
    {
        return shoal_set_err(SHOAL_ENOMEM, "shoal_cnc_errors_foreach: out of memory after %d errors", call.count);
    }
    return call.count;
}

typedef struct
{
    shoal_cnc_loss_fn fn;
    void *clientd;
} loss_call_t;

static void on_loss(int64_t observation_count, int64_t total_bytes_lost, int64_t first_ms, int64_t last_ms,
    int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length, const char *source,
    size_t source_length, void *clientd)
{
    loss_call_t *call = clientd;
    char channel_text[SHOAL_LOSS_REPORT_MAX_TEXT + 1], source_text[SHOAL_LOSS_REPORT_MAX_TEXT + 1];
    memcpy(channel_text, channel, channel_length); /* lengths checked <= SHOAL_LOSS_REPORT_MAX_TEXT by the reader */
    channel_text[channel_length] = '\0';
    memcpy(source_text, source, source_length);
    source_text[source_length] = '\0';
    call->fn(call->clientd, observation_count, total_bytes_lost, first_ms, last_ms, session_id, stream_id, channel_text,
        channel_length, source_text, source_length);
}

int shoal_cnc_loss_foreach(shoal_cnc_t *cnc, shoal_cnc_loss_fn fn, void *clientd)
{
    if (NULL == cnc || NULL == fn)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_loss_foreach: %s is NULL", NULL == cnc ? "cnc" : "fn");
    }
    loss_call_t call = { fn, clientd };
    return (int)shoal_loss_report_read(cnc->view.loss_report, cnc->view.loss_report_length, on_loss, &call);
}

int64_t shoal_cnc_driver_heartbeat_age_ns(shoal_cnc_t *cnc)
{
    if (NULL == cnc)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_driver_heartbeat_age_ns: cnc is NULL");
    }
    int64_t age = shoal_epoch_ns() - shoal_mpsc_rb_consumer_heartbeat_time_value(&cnc->to_driver) * 1000000LL;
    return age < 0 ? 0 : age; /* a heartbeat stamped within the current millisecond */
}

int64_t shoal_cnc_driver_pid(shoal_cnc_t *cnc)
{
    if (NULL == cnc)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_driver_pid: cnc is NULL");
    }
    return cnc->view.meta->pid;
}

int64_t shoal_cnc_driver_timeout_ns(shoal_cnc_t *cnc)
{
    if (NULL == cnc)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_cnc_driver_timeout_ns: cnc is NULL");
    }
    return cnc->view.meta->driver_timeout_ms * 1000000LL;
}
