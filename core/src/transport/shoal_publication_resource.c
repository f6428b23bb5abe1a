#include "transport/shoal_publication_resource.h"

#include <stdio.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"

int32_t shoal_stream_counter_allocate(shoal_counters_manager_t *counters, int64_t now_ms, int32_t type_id,
    const char *name, int64_t registration_id, int32_t session_id, int32_t stream_id, const char *channel,
    const char *source, int64_t client_id)
{
    char label[SHOAL_COUNTER_MAX_LABEL_LENGTH];
    uint8_t key[16];
    memcpy(key, &registration_id, 8);
    memcpy(key + 8, &session_id, 4);
    memcpy(key + 12, &stream_id, 4);
    snprintf(label, sizeof(label), "%s: %lld %d %d %s%s%s", name, (long long)registration_id, session_id, stream_id,
        channel, NULL != source ? " @" : "", NULL != source ? source : "");
    return shoal_counters_manager_allocate(counters, now_ms, type_id, key, sizeof(key), label, registration_id,
        client_id);
}

void shoal_stream_counter_free(shoal_counters_manager_t *counters, int64_t now_ms, int32_t *counter_id)
{
    if (*counter_id >= 0)
    {
        shoal_counters_manager_free(counters, now_ms, *counter_id);
        *counter_id = -1;
    }
}

int shoal_publication_resource_open(shoal_publication_resource_t *r, shoal_log_buffer_t *log, const char *dir,
    const shoal_publication_resource_params_t *p, shoal_counters_manager_t *counters, int64_t now_ms)
{
    memset(r, 0, sizeof(*r));
    r->media = p->media;
    r->registration_id = p->log.registration_id;
    r->session_id = p->log.session_id;
    r->stream_id = p->log.stream_id;
    r->mtu = p->log.mtu;
    r->exclusive = p->exclusive;
    r->response_correlation_id = p->response_correlation_id;
    r->untethered_window_limit_timeout_ns = p->untethered_window_limit_timeout_ns;
    r->untethered_resting_timeout_ns = p->untethered_resting_timeout_ns;
    r->ref_count = 1;
    r->pub_limit_counter_id = r->pub_pos_counter_id = -1;
    if (shoal_log_buffer_create(log, r->log_file, sizeof(r->log_file), dir, &p->log) < 0)
    {
        return -1;
    }
    r->pub_limit_counter_id = shoal_stream_counter_allocate(counters, now_ms, SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT,
        "pub-lmt", r->registration_id, r->session_id, r->stream_id, p->channel, NULL, 0);
    r->pub_pos_counter_id = shoal_stream_counter_allocate(counters, now_ms, SHOAL_COUNTER_TYPE_PUBLISHER_POSITION,
        "pub-pos", r->registration_id, r->session_id, r->stream_id, p->channel, NULL, 0);
    if (r->pub_limit_counter_id < 0 || r->pub_pos_counter_id < 0)
    {
        shoal_publication_resource_close(r, log, counters, now_ms);
        return -1;
    }
    r->pub_limit = shoal_counter_addr(counters->values, r->pub_limit_counter_id);
    r->pub_pos = shoal_counter_addr(counters->values, r->pub_pos_counter_id);
    int64_t start = shoal_log_buffer_producer_position(log);
    shoal_store_release(r->pub_pos, start);
    shoal_store_release(r->pub_limit, start);
    return 0;
}

void shoal_publication_resource_close(shoal_publication_resource_t *r, shoal_log_buffer_t *log,
    shoal_counters_manager_t *counters, int64_t now_ms)
{
    shoal_stream_counter_free(counters, now_ms, &r->pub_limit_counter_id);
    shoal_stream_counter_free(counters, now_ms, &r->pub_pos_counter_id);
    shoal_log_buffer_delete(log, r->log_file);
}
