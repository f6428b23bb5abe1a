/*
 * The canonical text of a parsed channel URI (shoal_uri_print): keys in the
 * order of shoal_uri_t's fields, numbers in plain decimal, so two URIs that
 * mean the same print the same and the driver can match publications by it.
 */
#include "util/shoal_uri.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/shoal_error.h"

typedef struct uri_writer_stct
{
    char *buf;
    size_t len;
    size_t pos;
    bool overflow;
    bool first_param;
} uri_writer_t;

static void uri_write(uri_writer_t *w, const char *fmt, ...) SHOAL_PRINTF(2, 3);

static void uri_write(uri_writer_t *w, const char *fmt, ...)
{
    if (w->overflow)
    {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->pos, w->len - w->pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->len - w->pos)
    {
        w->overflow = true;
        return;
    }
    w->pos += (size_t)n;
}

static void uri_write_key(uri_writer_t *w, const char *key)
{
    uri_write(w, "%s%s=", w->first_param ? "?" : "|", key);
    w->first_param = false;
}

static void uri_write_text(uri_writer_t *w, const char *key, const char *value)
{
    if (value[0] != '\0')
    {
        uri_write_key(w, key);
        uri_write(w, "%s", value);
    }
}

static void uri_write_int(uri_writer_t *w, bool has, const char *key, int64_t value)
{
    if (has)
    {
        uri_write_key(w, key);
        uri_write(w, "%" PRId64, value);
    }
}

static void uri_write_bool(uri_writer_t *w, bool has, const char *key, bool value)
{
    if (has)
    {
        uri_write_key(w, key);
        uri_write(w, "%s", value ? "true" : "false");
    }
}

int shoal_uri_print(const shoal_uri_t *uri, char *buf, size_t len)
{
    if (uri == NULL || buf == NULL || len == 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_uri_print: NULL argument or zero length");
    }
    if (uri->media != SHOAL_MEDIA_IPC && uri->media != SHOAL_MEDIA_UDP)
    {
        buf[0] = '\0';
        return shoal_set_err(SHOAL_EINVAL, "shoal_uri_print: unknown media %d", (int)uri->media);
    }
    uri_writer_t w = { .buf = buf, .len = len, .pos = 0, .overflow = false, .first_param = true };
    uri_write(&w, "%saeron:%s", uri->spy ? SHOAL_URI_SPY_PREFIX : "", shoal_media_name(uri->media));
    uri_write_text(&w, SHOAL_URI_ENDPOINT_KEY, uri->endpoint);
    uri_write_text(&w, SHOAL_URI_INTERFACE_KEY, uri->interface_name);
    uri_write_text(&w, SHOAL_URI_CONTROL_KEY, uri->control);
    if (uri->control_mode != SHOAL_CONTROL_MODE_NONE)
    {
        uri_write_key(&w, SHOAL_URI_CONTROL_MODE_KEY);
        uri_write(&w, "%s",
            uri->control_mode == SHOAL_CONTROL_MODE_DYNAMIC      ? "dynamic"
                : uri->control_mode == SHOAL_CONTROL_MODE_MANUAL ? "manual"
                                                                 : "response");
    }
    uri_write_text(&w, SHOAL_URI_FC_KEY, uri->fc);
    uri_write_text(&w, SHOAL_URI_ALIAS_KEY, uri->alias);
    uri_write_int(&w, uri->has_term_length, SHOAL_URI_TERM_LENGTH_KEY, uri->term_length);
    uri_write_int(&w, uri->has_mtu, SHOAL_URI_MTU_KEY, uri->mtu);
    uri_write_int(&w, uri->has_session_id, SHOAL_URI_SESSION_ID_KEY, uri->session_id);
    uri_write_int(&w, uri->has_linger, SHOAL_URI_LINGER_KEY, uri->linger_ns);
    uri_write_int(&w, uri->has_ttl, SHOAL_URI_TTL_KEY, uri->ttl);
    uri_write_bool(&w, uri->has_reliable, SHOAL_URI_RELIABLE_KEY, uri->reliable);
    uri_write_bool(&w, uri->has_sparse, SHOAL_URI_SPARSE_KEY, uri->sparse);
    uri_write_bool(&w, uri->has_group, SHOAL_URI_GROUP_KEY, uri->group);
    uri_write_bool(&w, uri->has_tether, SHOAL_URI_TETHER_KEY, uri->tether);
    uri_write_int(&w, uri->has_rcv_window, SHOAL_URI_RCV_WINDOW_KEY, uri->rcv_window);
    uri_write_int(&w, uri->has_response_correlation_id, SHOAL_URI_RESPONSE_CORRELATION_ID_KEY,
        uri->response_correlation_id);
    uri_write_bool(&w, uri->has_ssc, SHOAL_URI_SSC_KEY, uri->ssc);
    uri_write_int(&w, uri->has_untethered_window_limit_timeout, SHOAL_URI_UNTETHERED_WINDOW_LIMIT_TIMEOUT_KEY,
        uri->untethered_window_limit_timeout_ns);
    uri_write_int(&w, uri->has_untethered_resting_timeout, SHOAL_URI_UNTETHERED_RESTING_TIMEOUT_KEY,
        uri->untethered_resting_timeout_ns);
    uri_write_int(&w, uri->has_position, SHOAL_URI_INIT_TERM_ID_KEY, uri->initial_term_id);
    uri_write_int(&w, uri->has_position, SHOAL_URI_TERM_ID_KEY, uri->term_id);
    uri_write_int(&w, uri->has_position, SHOAL_URI_TERM_OFFSET_KEY, uri->term_offset);
    if (w.overflow)
    {
        buf[len - 1] = '\0';
        return shoal_set_err(SHOAL_EINVAL, "shoal_uri_print: buffer of %zu bytes too small", len);
    }
    return (int)w.pos;
}
