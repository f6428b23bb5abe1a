/*
 * What the driver keeps of every publication, IPC or UDP alike: identity,
 * the clients' references (one per publication link: concurrent
 * add_publication calls of one stream share it), the publisher limit and
 * position counters, and the log file. shoal_ipc_publication_t and
 * shoal_network_publication_t embed it first, so a publication link holds
 * one pointer whatever the medium, and the conductor answers, counts
 * references and checks session ids in one place.
 *
 * Conductor only: nothing here is read by the sender or a client except
 * through the counters and the log.
 */
#ifndef SHOAL_PUBLICATION_RESOURCE_H
#define SHOAL_PUBLICATION_RESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "logbuffer/shoal_log_buffer.h"
#include "util/shoal_counters.h"
#include "util/shoal_uri.h"

typedef struct shoal_publication_resource_stct
{
    shoal_media_t media; /* IPC: a shoal_ipc_publication_t; UDP: a shoal_network_publication_t */
    int64_t registration_id;
    int32_t session_id;
    int32_t stream_id;
    int32_t mtu;
    bool exclusive;
    int32_t ref_count; /* publication links holding it */
    /* response-correlation-id of its URI (response channels), -1: none.
     * Set before any duty sees the publication; read-only afterwards. */
    int64_t response_correlation_id;
    int32_t pub_limit_counter_id;
    int32_t pub_pos_counter_id;
    int64_t *pub_limit;
    int64_t *pub_pos;
    /* What its untethered subscribers (IPC) or spies (UDP) get unless their
     * own URI says otherwise (ns; the publication URI's, else the driver's). */
    int64_t untethered_window_limit_timeout_ns;
    int64_t untethered_resting_timeout_ns;
    char log_file[512];
} shoal_publication_resource_t;

typedef struct shoal_publication_resource_params_stct
{
    shoal_media_t media;
    shoal_log_buffer_params_t log; /* registration, session, stream, term length, mtu, ... */
    bool exclusive;
    int64_t response_correlation_id; /* -1: none */
    const char *channel;             /* for counter labels */
    int64_t untethered_window_limit_timeout_ns;
    int64_t untethered_resting_timeout_ns;
} shoal_publication_resource_params_t;

/* Creates the log under dir into *log and the publisher limit and position
 * counters, both at the log's start position; one reference. On failure
 * whatever was made is released again. */
int shoal_publication_resource_open(shoal_publication_resource_t *r, shoal_log_buffer_t *log, const char *dir,
    const shoal_publication_resource_params_t *params, shoal_counters_manager_t *counters, int64_t now_ms);

/* Whether an add_publication of stream_id with uri may share r (not
 * exclusive, same stream, the session uri names if any, the same
 * response-correlation-id or none on both); the medium adds its own
 * conditions (active, same endpoint). */
static inline bool shoal_publication_resource_shareable(const shoal_publication_resource_t *r, int32_t stream_id,
    const shoal_uri_t *uri)
{
    int64_t response_correlation_id = uri->has_response_correlation_id ? uri->response_correlation_id : -1;
    return !r->exclusive && r->stream_id == stream_id && (!uri->has_session_id || uri->session_id == r->session_id) &&
        r->response_correlation_id == response_correlation_id;
}

/* Frees the counters and removes the log (clients keep their mappings). */
void shoal_publication_resource_close(shoal_publication_resource_t *r, shoal_log_buffer_t *log,
    shoal_counters_manager_t *counters, int64_t now_ms);

/* A counter of one stream, keyed (registration, session, stream) as Aeron's
 * stream counters, labelled "name: registration session stream channel"
 * (and " @source" when source is not NULL), owned by client_id (0: the
 * driver). Returns its id or -1. */
int32_t shoal_stream_counter_allocate(shoal_counters_manager_t *counters, int64_t now_ms, int32_t type_id,
    const char *name, int64_t registration_id, int32_t session_id, int32_t stream_id, const char *channel,
    const char *source, int64_t client_id);

/* Frees a counter id allocated above and marks it freed (-1); -1 is left alone. */
void shoal_stream_counter_free(shoal_counters_manager_t *counters, int64_t now_ms, int32_t *counter_id);

#endif
