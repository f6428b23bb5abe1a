/* Each UDP channel endpoint's block of counters (SHOAL_COUNTER_TYPE_SEND_CHANNEL
 * or _RECEIVE_CHANNEL, as Aeron's channel status ids), each also added to
 * the matching system counter. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "driver/shoal_driver_conductor.h"
#include "util/shoal_error.h"

static const int SYSTEM_COUNTER_OF[SHOAL_UDP_COUNTER_COUNT] = {
    [SHOAL_UDP_COUNTER_BYTES_SENT] = SHOAL_SYSTEM_COUNTER_BYTES_SENT,
    [SHOAL_UDP_COUNTER_BYTES_RECEIVED] = SHOAL_SYSTEM_COUNTER_BYTES_RECEIVED,
    [SHOAL_UDP_COUNTER_FRAMES_SENT] = -1,
    [SHOAL_UDP_COUNTER_FRAMES_RECEIVED] = -1,
    [SHOAL_UDP_COUNTER_NAKS_SENT] = SHOAL_SYSTEM_COUNTER_NAKS_SENT,
    [SHOAL_UDP_COUNTER_NAKS_RECEIVED] = SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED,
    [SHOAL_UDP_COUNTER_RETRANSMITS_SENT] = SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT,
    [SHOAL_UDP_COUNTER_SMS_SENT] = SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT,
    [SHOAL_UDP_COUNTER_SMS_RECEIVED] = SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED,
    [SHOAL_UDP_COUNTER_SHORT_SENDS] = SHOAL_SYSTEM_COUNTER_SHORT_SENDS,
    [SHOAL_UDP_COUNTER_INVALID_FRAMES] = SHOAL_SYSTEM_COUNTER_INVALID_FRAMES,
    [SHOAL_UDP_COUNTER_HEARTBEATS_SENT] = SHOAL_SYSTEM_COUNTER_HEARTBEATS_SENT,
    [SHOAL_UDP_COUNTER_NAKS_UNSERVED] = SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED,
    [SHOAL_UDP_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT] = SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT,
    [SHOAL_UDP_COUNTER_SETUPS_REFUSED_TERM_LENGTH] = SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_TERM_LENGTH,
    [SHOAL_UDP_COUNTER_FRAMES_FROM_WRONG_SOURCE] = SHOAL_SYSTEM_COUNTER_FRAMES_FROM_WRONG_SOURCE,
    [SHOAL_UDP_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS] = SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS,
    [SHOAL_UDP_COUNTER_NAKS_OVER_BUDGET] = SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET,
    [SHOAL_UDP_COUNTER_SM_WINDOWS_CLAMPED] = SHOAL_SYSTEM_COUNTER_SM_WINDOWS_CLAMPED,
};

void shoal_driver_allocate_endpoint_counters(shoal_driver_conductor_t *c, const char *kind, int32_t type_id,
    const shoal_udp_channel_t *ch, shoal_udp_counters_t *counters, int32_t *ids, int64_t now_ms)
{
    char label[SHOAL_COUNTER_MAX_LABEL_LENGTH];
    char uri[SHOAL_URI_PRINT_MAX_LENGTH];
    if (shoal_uri_print(&ch->uri, uri, sizeof(uri)) < 0)
    {
        snprintf(uri, sizeof(uri), "%s", ch->canonical);
    }
    for (int i = 0; i < SHOAL_UDP_COUNTER_COUNT; i++)
    {
        snprintf(label, sizeof(label), "%s %s: %.300s", kind, shoal_udp_counter_name(i), uri);
        uint8_t key[8];
        int32_t which = i;
        memcpy(key, &which, 4);
        memcpy(key + 4, &type_id, 4);
        ids[i] = shoal_counters_manager_allocate(&c->counters, now_ms, type_id, key, sizeof(key), label, 0, 0);
        counters->endpoint[i] = ids[i] >= 0 ? shoal_counter_addr(c->counters.values, ids[i]) : NULL;
        counters->system[i] = SYSTEM_COUNTER_OF[i] >= 0 ? c->system_counters[SYSTEM_COUNTER_OF[i]] : NULL;
    }
    shoal_err_clear();
}

void shoal_driver_free_endpoint_counters(shoal_driver_conductor_t *c, int32_t *ids, int64_t now_ms)
{
    for (int i = 0; i < SHOAL_UDP_COUNTER_COUNT; i++)
    {
        if (ids[i] >= 0)
        {
            shoal_counters_manager_free(&c->counters, now_ms, ids[i]);
            ids[i] = -1;
        }
    }
}

