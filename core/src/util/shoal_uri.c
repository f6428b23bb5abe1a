/*
 * Strict channel URI parser. One pass over "aeron:<media>[?k=v|k=v...]": each
 * parameter is looked up in a table that knows which media it applies to and
 * how to parse its value. Values are checked completely (no trailing garbage,
 * no overflow, range) so the driver never sees a half-understood URI. The
 * canonical print is in shoal_uri_print.c.
 */
#include "util/shoal_uri.h"

#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

#define URI_PREFIX            "aeron:"
#define URI_PREFIX_LENGTH     (sizeof(URI_PREFIX) - 1)
#define URI_SPY_PREFIX_LENGTH (sizeof(SHOAL_URI_SPY_PREFIX) - 1)

typedef struct uri_param_stct
{
    const char *key;
    size_t key_length;
    const char *value; /* not NUL-terminated */
    size_t value_length;
    const char *uri; /* whole URI, for messages */
} uri_param_t;

typedef int (*uri_value_parser_fn)(const uri_param_t *p, shoal_uri_t *out);

typedef struct uri_key_def_stct
{
    const char *name;
    bool udp_only;
    uri_value_parser_fn parse;
} uri_key_def_t;

static int uri_bad_value(const uri_param_t *p, const char *expected)
{
    return shoal_set_err(SHOAL_EURI, "invalid value '%.*s' for key '%.*s' (expected %s) in channel URI '%s'",
        (int)p->value_length, p->value, (int)p->key_length, p->key, expected, p->uri);
}

/* Decimal integer, optional leading '-', no whitespace, overflow-checked.
 * Returns the number of characters consumed (> 0), or 0 on no digits/overflow. */
static size_t uri_scan_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool negative = false;
    if (i < len && s[i] == '-')
    {
        negative = true;
        i++;
    }
    size_t digits_start = i;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
    {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10u)
        {
            return 0;
        }
        v = v * 10u + d;
        i++;
    }
    if (i == digits_start)
    {
        return 0;
    }
    if (negative)
    {
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    }
    else
    {
        *out = (int64_t)v;
    }
    return i;
}

/* Whole value as a plain integer. */
static int uri_parse_plain_int(const uri_param_t *p, int64_t *out)
{
    int64_t v;
    size_t n = uri_scan_int64(p->value, p->value_length, &v);
    if (n == 0 || n != p->value_length)
    {
        return -1;
    }
    *out = v;
    return 0;
}

/* Non-negative integer with an optional k/m/g (binary, case-insensitive) suffix. */
static int uri_parse_size(const uri_param_t *p, int64_t *out)
{
    int64_t v;
    size_t n = uri_scan_int64(p->value, p->value_length, &v);
    if (n == 0 || v < 0 || p->value[0] == '-')
    {
        return -1;
    }
    int shift = 0;
    if (n + 1 == p->value_length)
    {
        switch (p->value[n])
        {
            case 'k':
            case 'K': shift = 10; break;
            case 'm':
            case 'M': shift = 20; break;
            case 'g':
            case 'G': shift = 30; break;
            default: return -1;
        }
    }
    else if (n != p->value_length)
    {
        return -1;
    }
    if (shift > 0 && v > (INT64_MAX >> shift))
    {
        return -1;
    }
    *out = v << shift;
    return 0;
}

static int uri_copy_text(const uri_param_t *p, char *dst, size_t dst_size)
{
    if (p->value_length >= dst_size)
    {
        return shoal_set_err(SHOAL_EURI,
            "value for key '%.*s' is too long (%zu characters, max %zu) in channel URI '%s'", (int)p->key_length,
            p->key, p->value_length, dst_size - 1, p->uri);
    }
    memcpy(dst, p->value, p->value_length);
    dst[p->value_length] = '\0';
    return 0;
}

/* host:port, host a name, IPv4 or [IPv6]; port 0..65535. */
static int uri_check_address(const uri_param_t *p)
{
    const char *v = p->value;
    size_t len = p->value_length;
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
    {
        if (v[i - 1] == ':')
        {
            colon = v + i - 1;
            break;
        }
    }
    if (colon == NULL || colon == v)
    {
        return uri_bad_value(p, "host:port");
    }
    size_t host_length = (size_t)(colon - v);
    if (v[0] == '[')
    {
        if (host_length < 3 || v[host_length - 1] != ']')
        {
            return uri_bad_value(p, "host:port, IPv6 as [addr]:port");
        }
    }
    else if (memchr(v, ':', host_length) != NULL || memchr(v, ']', host_length) != NULL)
    {
        return uri_bad_value(p, "host:port, IPv6 as [addr]:port");
    }
    const char *port = colon + 1;
    size_t port_length = len - host_length - 1;
    int64_t port_value;
    if (port_length == 0 || port[0] == '-' || uri_scan_int64(port, port_length, &port_value) != port_length ||
        port_value > 65535)
    {
        return uri_bad_value(p, "host:port with port 0..65535");
    }
    return 0;
}

static int uri_parse_bool(const uri_param_t *p, bool *has, bool *out)
{
    if (p->value_length == 4 && memcmp(p->value, "true", 4) == 0)
    {
        *out = true;
    }
    else if (p->value_length == 5 && memcmp(p->value, "false", 5) == 0)
    {
        *out = false;
    }
    else
    {
        return uri_bad_value(p, "true or false");
    }
    *has = true;
    return 0;
}

static int uri_parse_endpoint(const uri_param_t *p, shoal_uri_t *out)
{
    if (uri_copy_text(p, out->endpoint, sizeof(out->endpoint)) < 0)
    {
        return -1;
    }
    return uri_check_address(p);
}

static int uri_parse_interface(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_copy_text(p, out->interface_name, sizeof(out->interface_name));
}

static int uri_parse_control(const uri_param_t *p, shoal_uri_t *out)
{
    if (uri_copy_text(p, out->control, sizeof(out->control)) < 0)
    {
        return -1;
    }
    return uri_check_address(p);
}

static int uri_parse_control_mode(const uri_param_t *p, shoal_uri_t *out)
{
    if (p->value_length == 7 && memcmp(p->value, "dynamic", 7) == 0)
    {
        out->control_mode = SHOAL_CONTROL_MODE_DYNAMIC;
    }
    else if (p->value_length == 6 && memcmp(p->value, "manual", 6) == 0)
    {
        out->control_mode = SHOAL_CONTROL_MODE_MANUAL;
    }
    else if (p->value_length == 8 && memcmp(p->value, "response", 8) == 0)
    {
        out->control_mode = SHOAL_CONTROL_MODE_RESPONSE;
    }
    else
    {
        return uri_bad_value(p, "dynamic, manual or response");
    }
    return 0;
}

static bool uri_has_word_prefix(const uri_param_t *p, const char *word)
{
    size_t n = strlen(word);
    return p->value_length >= n && memcmp(p->value, word, n) == 0 &&
        (p->value_length == n || (p->value[n] == ',' && p->value_length > n + 1));
}

static int uri_parse_fc(const uri_param_t *p, shoal_uri_t *out)
{
    if (!uri_has_word_prefix(p, "min") && !uri_has_word_prefix(p, "max") && !uri_has_word_prefix(p, "tagged"))
    {
        return uri_bad_value(p, "min, max or tagged, optionally followed by ,params");
    }
    return uri_copy_text(p, out->fc, sizeof(out->fc));
}

static int uri_parse_alias(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_copy_text(p, out->alias, sizeof(out->alias));
}

static int uri_parse_term_length(const uri_param_t *p, shoal_uri_t *out)
{
    int64_t v;
    if (uri_parse_size(p, &v) < 0 || v < SHOAL_URI_MIN_TERM_LENGTH || v > SHOAL_URI_MAX_TERM_LENGTH ||
        !SHOAL_IS_POWER_OF_TWO(v))
    {
        return shoal_set_err(SHOAL_EURI,
            "term-length %.*s must be a power of two between %d and %d in channel URI '%s'", (int)p->value_length,
            p->value, SHOAL_URI_MIN_TERM_LENGTH, SHOAL_URI_MAX_TERM_LENGTH, p->uri);
    }
    out->has_term_length = true;
    out->term_length = (int32_t)v;
    return 0;
}

static int uri_parse_mtu(const uri_param_t *p, shoal_uri_t *out)
{
    int64_t v;
    if (uri_parse_size(p, &v) < 0 || v < SHOAL_URI_MIN_MTU || v > SHOAL_URI_MAX_MTU ||
        (v % SHOAL_URI_MTU_ALIGNMENT) != 0)
    {
        return shoal_set_err(SHOAL_EURI, "mtu %.*s must be a multiple of %d between %d and %d in channel URI '%s'",
            (int)p->value_length, p->value, SHOAL_URI_MTU_ALIGNMENT, SHOAL_URI_MIN_MTU, SHOAL_URI_MAX_MTU, p->uri);
    }
    out->has_mtu = true;
    out->mtu = (int32_t)v;
    return 0;
}

static int uri_parse_session_id(const uri_param_t *p, shoal_uri_t *out)
{
    int64_t v;
    if (uri_parse_plain_int(p, &v) < 0 || v < INT32_MIN || v > INT32_MAX)
    {
        return uri_bad_value(p, "a 32-bit integer");
    }
    out->has_session_id = true;
    out->session_id = (int32_t)v;
    return 0;
}

/* A duration as Aeron writes them: "5s", "100ms", "250us", "10ns" or plain ns. */
static int uri_parse_duration(const uri_param_t *p, bool *has, int64_t *out_ns)
{
    int64_t v;
    size_t n = uri_scan_int64(p->value, p->value_length, &v);
    if (n == 0 || p->value[0] == '-')
    {
        return uri_bad_value(p, "a non-negative duration such as 5s, 100ms, 250us, 10ns or plain ns");
    }
    const char *unit = p->value + n;
    size_t unit_length = p->value_length - n;
    int64_t scale;
    if (unit_length == 0 || (unit_length == 2 && memcmp(unit, "ns", 2) == 0))
    {
        scale = 1;
    }
    else if (unit_length == 2 && memcmp(unit, "us", 2) == 0)
    {
        scale = 1000LL;
    }
    else if (unit_length == 2 && memcmp(unit, "ms", 2) == 0)
    {
        scale = 1000000LL;
    }
    else if (unit_length == 1 && unit[0] == 's')
    {
        scale = 1000000000LL;
    }
    else
    {
        return uri_bad_value(p, "a non-negative duration such as 5s, 100ms, 250us, 10ns or plain ns");
    }
    if (v > INT64_MAX / scale)
    {
        return uri_bad_value(p, "a duration that fits in 64-bit nanoseconds");
    }
    *has = true;
    *out_ns = v * scale;
    return 0;
}

static int uri_parse_linger(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_duration(p, &out->has_linger, &out->linger_ns);
}

/* Untethered timeouts: a zero would drop a reader the moment it falls behind. */
static int uri_parse_positive_duration(const uri_param_t *p, bool *has, int64_t *out_ns)
{
    if (uri_parse_duration(p, has, out_ns) < 0)
    {
        return -1;
    }
    if (*out_ns <= 0)
    {
        *has = false;
        return uri_bad_value(p, "a duration above zero such as 5s or 200ms");
    }
    return 0;
}

static int uri_parse_untethered_window_limit_timeout(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_positive_duration(p, &out->has_untethered_window_limit_timeout,
        &out->untethered_window_limit_timeout_ns);
}

static int uri_parse_untethered_resting_timeout(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_positive_duration(p, &out->has_untethered_resting_timeout, &out->untethered_resting_timeout_ns);
}

static int uri_parse_ttl(const uri_param_t *p, shoal_uri_t *out)
{
    int64_t v;
    if (uri_parse_plain_int(p, &v) < 0 || v < 0 || v > 255 || p->value[0] == '-')
    {
        return uri_bad_value(p, "an integer 0..255");
    }
    out->has_ttl = true;
    out->ttl = (int32_t)v;
    return 0;
}

static int uri_parse_reliable(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_bool(p, &out->has_reliable, &out->reliable);
}

static int uri_parse_sparse(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_bool(p, &out->has_sparse, &out->sparse);
}

static int uri_parse_group(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_bool(p, &out->has_group, &out->group);
}

static int uri_parse_tether(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_bool(p, &out->has_tether, &out->tether);
}

static int uri_parse_ssc(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_bool(p, &out->has_ssc, &out->ssc);
}

static int uri_parse_rcv_window(const uri_param_t *p, shoal_uri_t *out)
{
    int64_t v;
    if (uri_parse_size(p, &v) < 0 || v <= 0 || v > INT32_MAX)
    {
        return uri_bad_value(p, "a size 1..2147483647 with optional k/m/g suffix");
    }
    out->has_rcv_window = true;
    out->rcv_window = (int32_t)v;
    return 0;
}

static int uri_parse_response_correlation_id(const uri_param_t *p, shoal_uri_t *out)
{
    int64_t v;
    if (uri_parse_plain_int(p, &v) < 0 || v < 0)
    {
        return uri_bad_value(p, "a registration or correlation id (integer >= 0)");
    }
    out->has_response_correlation_id = true;
    out->response_correlation_id = v;
    return 0;
}

/* init-term-id, term-id, term-offset: parsed one by one into the struct,
 * checked as a set once all keys are read (uri_check_position). */
static int uri_parse_int32(const uri_param_t *p, int32_t *out, int64_t min)
{
    int64_t v;
    if (uri_parse_plain_int(p, &v) < 0 || v < min || v > INT32_MAX)
    {
        return uri_bad_value(p, min < 0 ? "a 32-bit integer" : "an integer 0..2147483647");
    }
    *out = (int32_t)v;
    return 0;
}

static int uri_parse_init_term_id(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_int32(p, &out->initial_term_id, INT32_MIN);
}

static int uri_parse_term_id(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_int32(p, &out->term_id, INT32_MIN);
}

static int uri_parse_term_offset(const uri_param_t *p, shoal_uri_t *out)
{
    return uri_parse_int32(p, &out->term_offset, 0);
}

/* Order here is the canonical print order; the index is the duplicate-key bit. */
static const uri_key_def_t URI_KEYS[] = {
    { SHOAL_URI_ENDPOINT_KEY, true, uri_parse_endpoint },
    { SHOAL_URI_INTERFACE_KEY, true, uri_parse_interface },
    { SHOAL_URI_CONTROL_KEY, true, uri_parse_control },
    { SHOAL_URI_CONTROL_MODE_KEY, false, uri_parse_control_mode },
    { SHOAL_URI_FC_KEY, true, uri_parse_fc },
    { SHOAL_URI_ALIAS_KEY, false, uri_parse_alias },
    { SHOAL_URI_TERM_LENGTH_KEY, false, uri_parse_term_length },
    { SHOAL_URI_MTU_KEY, false, uri_parse_mtu },
    { SHOAL_URI_SESSION_ID_KEY, false, uri_parse_session_id },
    { SHOAL_URI_LINGER_KEY, false, uri_parse_linger },
    { SHOAL_URI_TTL_KEY, true, uri_parse_ttl },
    { SHOAL_URI_RELIABLE_KEY, false, uri_parse_reliable },
    { SHOAL_URI_SPARSE_KEY, false, uri_parse_sparse },
    { SHOAL_URI_GROUP_KEY, true, uri_parse_group },
    { SHOAL_URI_TETHER_KEY, false, uri_parse_tether },
    { SHOAL_URI_RCV_WINDOW_KEY, true, uri_parse_rcv_window },
    { SHOAL_URI_RESPONSE_CORRELATION_ID_KEY, false, uri_parse_response_correlation_id },
    { SHOAL_URI_SSC_KEY, true, uri_parse_ssc },
    { SHOAL_URI_UNTETHERED_WINDOW_LIMIT_TIMEOUT_KEY, false, uri_parse_untethered_window_limit_timeout },
    { SHOAL_URI_UNTETHERED_RESTING_TIMEOUT_KEY, false, uri_parse_untethered_resting_timeout },
    { SHOAL_URI_INIT_TERM_ID_KEY, false, uri_parse_init_term_id },
    { SHOAL_URI_TERM_ID_KEY, false, uri_parse_term_id },
    { SHOAL_URI_TERM_OFFSET_KEY, false, uri_parse_term_offset },
};

#define URI_POSITION_KEYS_MASK (7u << 20) /* the bits of the three keys above */

_Static_assert(sizeof(URI_KEYS) / sizeof(URI_KEYS[0]) <= 32, "the duplicate-key mask has 32 bits");

#define URI_KEY_COUNT (sizeof(URI_KEYS) / sizeof(URI_KEYS[0]))

const char *shoal_media_name(shoal_media_t media)
{
    switch (media)
    {
        case SHOAL_MEDIA_IPC: return "ipc";
        case SHOAL_MEDIA_UDP: return "udp";
        default: return "unknown";
    }
}

static int uri_parse_param(const char *param, size_t length, const char *uri, uint32_t *seen, shoal_uri_t *out)
{
    if (length == 0)
    {
        return shoal_set_err(SHOAL_EURI, "empty parameter (expected key=value) in channel URI '%s'", uri);
    }
    const char *eq = memchr(param, '=', length);
    if (eq == NULL)
    {
        return shoal_set_err(SHOAL_EURI, "missing '=' after key '%.*s' in channel URI '%s'", (int)length, param, uri);
    }
    uri_param_t p = {
        .key = param,
        .key_length = (size_t)(eq - param),
        .value = eq + 1,
        .value_length = length - (size_t)(eq - param) - 1,
        .uri = uri,
    };
    if (p.key_length == 0)
    {
        return shoal_set_err(SHOAL_EURI, "empty key before '=%.*s' in channel URI '%s'", (int)p.value_length, p.value,
            uri);
    }

    for (size_t i = 0; i < URI_KEY_COUNT; i++)
    {
        const uri_key_def_t *def = &URI_KEYS[i];
        if (strlen(def->name) != p.key_length || memcmp(def->name, p.key, p.key_length) != 0)
        {
            continue;
        }
        if (def->udp_only && out->media != SHOAL_MEDIA_UDP)
        {
            return shoal_set_err(SHOAL_EURI, "key '%s' is not valid for aeron:%s in channel URI '%s'", def->name,
                shoal_media_name(out->media), uri);
        }
        if (*seen & (1u << i))
        {
            return shoal_set_err(SHOAL_EURI, "duplicate key '%s' in channel URI '%s'", def->name, uri);
        }
        *seen |= 1u << i;
        if (p.value_length == 0)
        {
            return shoal_set_err(SHOAL_EURI, "empty value for key '%s' in channel URI '%s'", def->name, uri);
        }
        return def->parse(&p, out);
    }
    return shoal_set_err(SHOAL_EURI, "unknown key '%.*s' in channel URI '%s'", (int)p.key_length, p.key, uri);
}

/* The three position keys as a set: a start position needs all of them, a
 * known term length, an offset inside the term on a frame boundary and a
 * term id not before the initial one (term ids wrap as int32). */
static int uri_check_position(uint32_t seen, const char *uri, shoal_uri_t *out)
{
    uint32_t given = seen & URI_POSITION_KEYS_MASK;
    if (0 == given)
    {
        return 0;
    }
    if (given != URI_POSITION_KEYS_MASK)
    {
        return shoal_set_err(SHOAL_EURI,
            "keys 'init-term-id', 'term-id' and 'term-offset' must be given together in channel URI '%s'", uri);
    }
    if (!out->has_term_length)
    {
        return shoal_set_err(SHOAL_EURI,
            "a start position (init-term-id, term-id, term-offset) needs key 'term-length' in channel URI '%s'", uri);
    }
    if (out->term_offset > out->term_length || 0 != (out->term_offset & (SHOAL_URI_MTU_ALIGNMENT - 1)))
    {
        return shoal_set_err(SHOAL_EURI,
            "term-offset %d must be a multiple of 32 between 0 and term-length %d in channel URI '%s'",
            out->term_offset, out->term_length, uri);
    }
    if ((int32_t)((uint32_t)out->term_id - (uint32_t)out->initial_term_id) < 0)
    {
        return shoal_set_err(SHOAL_EURI,
            "term-id %d is before init-term-id %d (or more than 2^31-1 terms after it) in channel URI '%s'",
            out->term_id, out->initial_term_id, uri);
    }
    out->has_position = true;
    return 0;
}

int shoal_uri_parse(const char *uri, shoal_uri_t *out)
{
    if (out == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_uri_parse: out is NULL");
    }
    memset(out, 0, sizeof(*out));
    if (uri == NULL)
    {
        return shoal_set_err(SHOAL_EURI, "channel URI is NULL");
    }
    size_t length = strnlen(uri, SHOAL_URI_MAX_LENGTH + 1);
    if (length == 0)
    {
        return shoal_set_err(SHOAL_EURI, "channel URI is empty");
    }
    if (length > SHOAL_URI_MAX_LENGTH)
    {
        return shoal_set_err(SHOAL_EURI, "channel URI longer than %d characters: '%.64s...'", SHOAL_URI_MAX_LENGTH,
            uri);
    }
    for (size_t i = 0; i < length; i++)
    {
        unsigned char c = (unsigned char)uri[i];
        if (c < 0x20 || c == 0x7f)
        {
            return shoal_set_err(SHOAL_EURI, "control character 0x%02x at offset %zu in channel URI '%s'", c, i, uri);
        }
    }
    /* "aeron-spy:" wraps a whole channel URI: the rest parses as any other. */
    size_t skip = 0;
    if (length >= URI_SPY_PREFIX_LENGTH && memcmp(uri, SHOAL_URI_SPY_PREFIX, URI_SPY_PREFIX_LENGTH) == 0)
    {
        out->spy = true;
        skip = URI_SPY_PREFIX_LENGTH;
    }
    if (length < skip + URI_PREFIX_LENGTH || memcmp(uri + skip, URI_PREFIX, URI_PREFIX_LENGTH) != 0)
    {
        return shoal_set_err(SHOAL_EURI, "channel URI '%s' must start with '" URI_PREFIX "'%s", uri,
            out->spy ? " after '" SHOAL_URI_SPY_PREFIX "'" : "");
    }

    const char *media = uri + skip + URI_PREFIX_LENGTH;
    const char *query = strchr(media, '?');
    size_t media_length = query != NULL ? (size_t)(query - media) : strlen(media);
    if (media_length == 3 && memcmp(media, "ipc", 3) == 0)
    {
        out->media = SHOAL_MEDIA_IPC;
    }
    else if (media_length == 3 && memcmp(media, "udp", 3) == 0)
    {
        out->media = SHOAL_MEDIA_UDP;
    }
    else if (media_length == 0)
    {
        return shoal_set_err(SHOAL_EURI, "missing media (ipc or udp) in channel URI '%s'", uri);
    }
    else
    {
        return shoal_set_err(SHOAL_EURI, "unknown media '%.*s' (expected ipc or udp) in channel URI '%s'",
            (int)media_length, media, uri);
    }

    if (query != NULL)
    {
        uint32_t seen = 0;
        const char *param = query + 1;
        const char *end = uri + length;
        for (;;)
        {
            const char *bar = memchr(param, '|', (size_t)(end - param));
            const char *param_end = bar != NULL ? bar : end;
            if (uri_parse_param(param, (size_t)(param_end - param), uri, &seen, out) < 0)
            {
                return -1;
            }
            if (bar == NULL)
            {
                break;
            }
            param = bar + 1;
        }
        if (uri_check_position(seen, uri, out) < 0)
        {
            return -1;
        }
    }

    if (out->spy && out->media != SHOAL_MEDIA_UDP)
    {
        return shoal_set_err(SHOAL_EURI,
            "a spy needs an aeron:udp channel ('" SHOAL_URI_SPY_PREFIX "aeron:udp?endpoint=...'); aeron:ipc "
            "subscriptions already read the log itself, in channel URI '%s'",
            uri);
    }
    if (out->control_mode == SHOAL_CONTROL_MODE_DYNAMIC && out->control[0] == '\0')
    {
        return shoal_set_err(SHOAL_EURI, "control-mode=dynamic requires key 'control' in channel URI '%s'", uri);
    }
    if (out->media == SHOAL_MEDIA_UDP && out->control_mode == SHOAL_CONTROL_MODE_RESPONSE && out->control[0] == '\0')
    {
        return shoal_set_err(SHOAL_EURI, "control-mode=response requires key 'control' in channel URI '%s'", uri);
    }
    if (out->media == SHOAL_MEDIA_IPC && out->control_mode != SHOAL_CONTROL_MODE_NONE &&
        out->control_mode != SHOAL_CONTROL_MODE_RESPONSE)
    {
        return shoal_set_err(SHOAL_EURI,
            "key 'control-mode' is not valid for aeron:ipc (but for =response) in channel URI '%s'", uri);
    }
    if (out->media == SHOAL_MEDIA_UDP && out->endpoint[0] == '\0' && out->control[0] == '\0' &&
        out->control_mode != SHOAL_CONTROL_MODE_MANUAL)
    {
        return shoal_set_err(SHOAL_EURI,
            "aeron:udp requires key 'endpoint' or 'control' (or control-mode=manual) in channel URI '%s'", uri);
    }
    return 0;
}
