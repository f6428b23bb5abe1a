#include "transport/udp/shoal_flow_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/shoal_error.h"

/* "5s", "500ms", "100us", "7ns" or plain ns. */
static int parse_duration_ns(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || v < 0)
    {
        return -1;
    }
    int64_t mult = 1;
    if (0 == strcmp(end, "s"))
    {
        mult = 1000000000LL;
    }
    else if (0 == strcmp(end, "ms"))
    {
        mult = 1000000LL;
    }
    else if (0 == strcmp(end, "us"))
    {
        mult = 1000LL;
    }
    else if (0 != strcmp(end, "ns") && '\0' != *end)
    {
        return -1;
    }
    *out = (int64_t)v * mult;
    return 0;
}

int shoal_flow_control_init(shoal_flow_control_t *fc, const char *spec, shoal_flow_control_kind_t default_kind,
    int64_t receiver_timeout_ns)
{
    memset(fc, 0, sizeof(*fc));
    fc->kind = default_kind;
    fc->receiver_timeout_ns = receiver_timeout_ns;
    fc->group_min_size = 0;
    if (NULL == spec || '\0' == spec[0])
    {
        return 0;
    }
    char text[64];
    snprintf(text, sizeof(text), "%s", spec);
    char *save = NULL;
    char *part = strtok_r(text, ",", &save);
    if (NULL == part)
    {
        return shoal_set_err(SHOAL_EURI, "fc '%s': expected min or max", spec);
    }
    if (0 == strcmp(part, "min"))
    {
        fc->kind = SHOAL_FC_MIN;
    }
    else if (0 == strcmp(part, "max"))
    {
        fc->kind = SHOAL_FC_MAX;
    }
    else
    {
        return shoal_set_err(SHOAL_EURI, "fc '%s': strategy must be min or max", spec);
    }
    while (NULL != (part = strtok_r(NULL, ",", &save)))
    {
        if (0 == strncmp(part, "g:", 2))
        {
            /* Aeron: g:tag/size; only the group size is used here. */
            const char *size = strchr(part, '/');
            char *end = NULL;
            long n = NULL == size ? -1 : strtol(size + 1, &end, 10);
            if (NULL == size || end == size + 1 || '\0' != *end || n < 0 || n > SHOAL_FLOW_CONTROL_MAX_RECEIVERS)
            {
                return shoal_set_err(SHOAL_EURI, "fc '%s': group must be g:/N with N in 0..%d", spec,
                    SHOAL_FLOW_CONTROL_MAX_RECEIVERS);
            }
            fc->group_min_size = (int32_t)n;
        }
        else if (0 == strncmp(part, "t:", 2))
        {
            int64_t ns;
            if (parse_duration_ns(part + 2, &ns) < 0 || ns <= 0)
            {
                return shoal_set_err(SHOAL_EURI, "fc '%s': bad receiver timeout '%s'", spec, part + 2);
            }
            fc->receiver_timeout_ns = ns;
        }
        else
        {
            return shoal_set_err(SHOAL_EURI, "fc '%s': unknown option '%s'", spec, part);
        }
    }
    return 0;
}

static shoal_fc_receiver_t *find_or_add(shoal_flow_control_t *fc, int64_t receiver_id)
{
    for (int32_t i = 0; i < fc->receiver_count; i++)
    {
        if (fc->receivers[i].receiver_id == receiver_id)
        {
            return &fc->receivers[i];
        }
    }
    if (fc->receiver_count == SHOAL_FLOW_CONTROL_MAX_RECEIVERS)
    {
        return NULL;
    }
    shoal_fc_receiver_t *r = &fc->receivers[fc->receiver_count++];
    r->receiver_id = receiver_id;
    r->last_position = 0;
    r->last_position_plus_window = 0;
    r->time_of_last_sm_ns = 0;
    return r;
}

/* The lowest position + window (how far the slowest may take the sender),
 * or the lowest consumption position, among known receivers. */
static int64_t lowest(const shoal_flow_control_t *fc, int64_t fallback, bool plus_window)
{
    if (0 == fc->receiver_count)
    {
        return fallback;
    }
    int64_t m = INT64_MAX;
    for (int32_t i = 0; i < fc->receiver_count; i++)
    {
        const shoal_fc_receiver_t *r = &fc->receivers[i];
        const int64_t p = plus_window ? r->last_position_plus_window : r->last_position;
        m = p < m ? p : m;
    }
    return m;
}

int64_t shoal_flow_control_on_status_message(shoal_flow_control_t *fc, int64_t receiver_id, int64_t position,
    int32_t window, int64_t sender_limit, int64_t now_ns)
{
    int64_t proposed = position + (window > 0 ? window : 0);
    if (SHOAL_FC_UNICAST == fc->kind)
    {
        fc->receiver_count = 1;
        fc->receivers[0].receiver_id = receiver_id;
        fc->receivers[0].last_position = position;
        fc->receivers[0].last_position_plus_window = proposed;
        fc->receivers[0].time_of_last_sm_ns = now_ns;
        return proposed > sender_limit ? proposed : sender_limit;
    }
    shoal_fc_receiver_t *r = find_or_add(fc, receiver_id);
    if (NULL != r)
    {
        /* A receiver's own view only moves forward (SMs may be reordered). */
        if (proposed > r->last_position_plus_window)
        {
            r->last_position_plus_window = proposed;
        }
        if (position > r->last_position)
        {
            r->last_position = position;
        }
        r->time_of_last_sm_ns = now_ns;
    }
    if (SHOAL_FC_MAX == fc->kind)
    {
        return proposed > sender_limit ? proposed : sender_limit;
    }
    if (fc->receiver_count < fc->group_min_size)
    {
        return sender_limit;
    }
    /* min: may hold the limit back when a slower receiver joins, never below what was sent. */
    return lowest(fc, sender_limit, true);
}

int64_t shoal_flow_control_on_idle(shoal_flow_control_t *fc, int64_t now_ns, int64_t sender_limit,
    int64_t sender_position)
{
    for (int32_t i = fc->receiver_count - 1; i >= 0; i--)
    {
        if (now_ns - fc->receivers[i].time_of_last_sm_ns > fc->receiver_timeout_ns)
        {
            fc->receivers[i] = fc->receivers[--fc->receiver_count];
        }
    }
    if (SHOAL_FC_MIN != fc->kind || fc->receiver_count < fc->group_min_size)
    {
        return sender_limit;
    }
    int64_t limit = lowest(fc, sender_limit, true);
    return limit < sender_position ? sender_position : limit;
}

bool shoal_flow_control_has_required_receivers(const shoal_flow_control_t *fc)
{
    return fc->receiver_count > 0 && fc->receiver_count >= fc->group_min_size;
}

int64_t shoal_flow_control_min_position(const shoal_flow_control_t *fc, int64_t fallback)
{
    return lowest(fc, fallback, false);
}

void shoal_flow_control_remove_receiver(shoal_flow_control_t *fc, int64_t receiver_id)
{
    for (int32_t i = fc->receiver_count - 1; i >= 0; i--)
    {
        if (fc->receivers[i].receiver_id == receiver_id)
        {
            fc->receivers[i] = fc->receivers[--fc->receiver_count];
        }
    }
}
