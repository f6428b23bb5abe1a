/*
 * Publications. offer/offerv/try_claim are the hot path: a handful of
 * acquire loads (limit, term count, tail), one atomic add (concurrent) or
 * plain store (exclusive), a memcpy and a release store. No lock, no
 * allocation, no system call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_log_waiters.h"
#include "logbuffer/shoal_term_appender.h"
#include "logbuffer/shoal_term_block.h"
#include "logbuffer/shoal_writer_bias.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_error.h"
#include "util/shoal_uri.h"
#include "util/shoal_array.h"
#include "util/shoal_alloc.h"

int shoal_publication_create(shoal_publication_t **pubp, shoal_client_t *c, const shoal_publication_ready_t *ready,
    const char *log_file, bool exclusive)
{
    shoal_publication_t *p = shoal_alloc_cache_aligned(sizeof(shoal_publication_t), "publication");
    if (NULL == p)
    {
        return -1;
    }
    if (shoal_log_buffer_map(&p->log, log_file) < 0)
    {
        free(p);
        return -1;
    }
    if (c->ctx->pre_touch)
    {
        /* On the caller's thread, now: a writer's pages (the reader's are
         * gone through by the conductor, shoal_client_conductor.c). */
        shoal_log_buffer_pre_touch(&p->log, SHOAL_LOG_TOUCH_WRITE, 0, SIZE_MAX);
    }
    memcpy(p->terms, p->log.terms, sizeof(p->terms));
    p->meta = p->log.meta;
    p->term_length = p->log.term_length;
    p->default_header = shoal_logbuffer_default_header(p->meta);
    p->position_limit = shoal_counter_addr(c->cnc.counters_values, ready->position_limit_counter_id);
    p->exclusive = exclusive;
    p->position_bits_to_shift = p->log.position_bits_to_shift;
    p->initial_term_id = p->log.initial_term_id;
    p->max_payload_length = shoal_logbuffer_max_payload_length(p->meta->mtu_length);
    p->max_message_length = shoal_logbuffer_max_message_length(p->term_length);
    /* Positions are int64 but term ids wrap at 2^31 terms. */
    p->max_possible_position = (int64_t)p->term_length * ((int64_t)1 << 31);
    p->session_id = ready->session_id;
    p->stream_id = ready->stream_id;
    p->registration_id = ready->registration_id;
    p->client = c;
    shoal_log_waiters_writer_attach(p->meta);
    if (exclusive)
    {
        p->term_count = shoal_load_acquire(&p->meta->active_term_count);
        p->term_index = (int32_t)shoal_logbuffer_index_by_term_count(p->term_count);
        int64_t raw = shoal_load_acquire(&p->meta->term_tail_counters[p->term_index]);
        p->term_id = shoal_logbuffer_term_id(raw);
        p->term_offset = shoal_logbuffer_term_offset(raw, p->term_length);
        p->term_begin_position =
            shoal_logbuffer_compute_term_begin_position(p->term_id, p->position_bits_to_shift, p->initial_term_id);
    }
    *pubp = p;
    return 0;
}

void shoal_publication_free(shoal_publication_t *p)
{
    shoal_log_buffer_unmap(&p->log);
    free(p);
}

static int add_publication(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_publication_t **pub,
    bool exclusive)
{
    const char *fn = exclusive ? "shoal_add_exclusive_publication" : "shoal_add_publication";
    if (NULL == c || NULL == uri || NULL == pub)
    {
        return shoal_set_err(SHOAL_EINVAL, "%s: client, uri and pub must not be NULL", fn);
    }
    shoal_uri_t parsed;
    if (shoal_uri_parse(uri, &parsed) < 0 || shoal_client_check_open(c) < 0 ||
        shoal_client_check_not_in_handler(c, fn) < 0)
    {
        return -1;
    }
    uint8_t buffer[sizeof(shoal_channel_command_t) + SHOAL_MAX_CHANNEL_LENGTH];
    int64_t correlation_id;
    size_t length = shoal_client_encode_channel_command(c, uri, stream_id, buffer, &correlation_id);

    pthread_mutex_lock(&c->api_lock);
    int rc = shoal_client_request(c, exclusive ? SHOAL_CMD_ADD_EXCLUSIVE_PUBLICATION : SHOAL_CMD_ADD_PUBLICATION,
        buffer, length, correlation_id);
    if (0 == rc)
    {
        shoal_publication_ready_t ready;
        char log_file[SHOAL_MAX_PATH_LENGTH];
        memcpy(&ready, c->pending_response, sizeof(ready));
        /* The response came through shared memory: the counter id must name
         * a counter of this CnC before offers read the limit through it. */
        if (ready.log_file_length <= 0 || ready.log_file_length >= SHOAL_MAX_PATH_LENGTH ||
            sizeof(ready) + (size_t)ready.log_file_length > c->pending_length || ready.position_limit_counter_id < 0 ||
            (size_t)ready.position_limit_counter_id >=
                (size_t)c->cnc.meta->counters_values_buffer_length / SHOAL_COUNTER_VALUE_LENGTH)
        {
            rc = shoal_set_err(SHOAL_EDRIVER, "%s: malformed response from the driver", fn);
        }
        else
        {
            memcpy(log_file, c->pending_response + sizeof(ready), (size_t)ready.log_file_length);
            log_file[ready.log_file_length] = '\0';
            rc = shoal_publication_create(pub, c, &ready, log_file, exclusive);
            if (0 == rc)
            {
                pthread_mutex_lock(&c->lock);
                rc = shoal_pointer_list_add((void **)&c->publications, &c->publications_count,
                    &c->publications_capacity, *pub);
                pthread_mutex_unlock(&c->lock);
                if (rc < 0)
                {
                    shoal_publication_free(*pub);
                    *pub = NULL;
                }
            }
        }
        if (rc < 0)
        {
            /* Tell the driver to drop what it made for us. */
            shoal_remove_command_t remove = { { c->client_id, shoal_mpsc_rb_next_correlation_id(&c->to_driver) },
                ready.registration_id };
            shoal_mpsc_rb_write(&c->to_driver, SHOAL_CMD_REMOVE_PUBLICATION, &remove, sizeof(remove));
        }
    }
    pthread_mutex_unlock(&c->api_lock);
    return rc;
}

int shoal_add_publication(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_publication_t **pub)
{
    return add_publication(c, uri, stream_id, pub, false);
}

int shoal_add_exclusive_publication(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_publication_t **pub)
{
    return add_publication(c, uri, stream_id, pub, true);
}

int shoal_publication_close(shoal_publication_t *p)
{
    return shoal_client_close_handle(NULL != p ? p->client : NULL, p, true);
}

/* Manual MDC destinations: checked here as far as the client can (handle,
 * URI syntax), then by the driver, which owns the publication's channel. */
static int destination_request(shoal_publication_t *p, const char *endpoint_uri, bool add)
{
    const char *fn = add ? "shoal_publication_add_destination" : "shoal_publication_remove_destination";
    if (NULL == p || NULL == endpoint_uri)
    {
        return shoal_set_err(SHOAL_EINVAL, "%s: pub and endpoint_uri must not be NULL", fn);
    }
    if (shoal_load_acquire(&p->closed))
    {
        return shoal_set_err(SHOAL_ECLOSED, "%s: publication is closed", fn);
    }
    shoal_client_t *c = p->client;
    if (shoal_client_check_open(c) < 0 || shoal_client_check_not_in_handler(c, fn) < 0)
    {
        return -1;
    }
    shoal_uri_t parsed;
    if (shoal_uri_parse(endpoint_uri, &parsed) < 0)
    {
        /* The message lives in the buffer shoal_set_err writes: copy it first. */
        char why[SHOAL_ERRMSG_MAX];
        snprintf(why, sizeof(why), "%s", shoal_errmsg());
        return shoal_set_err(SHOAL_EURI, "%s: %s", fn, why);
    }
    if (SHOAL_MEDIA_UDP != parsed.media || '\0' == parsed.endpoint[0] || '\0' != parsed.control[0] ||
        SHOAL_CONTROL_MODE_NONE != parsed.control_mode)
    {
        return shoal_set_err(SHOAL_EURI, "%s: destination '%s' must be aeron:udp?endpoint=host:port (no control)", fn,
            endpoint_uri);
    }
    size_t uri_length = strlen(endpoint_uri);
    uint8_t buffer[sizeof(shoal_destination_command_t) + SHOAL_MAX_CHANNEL_LENGTH];
    if (uri_length >= SHOAL_MAX_CHANNEL_LENGTH)
    {
        return shoal_set_err(SHOAL_EURI, "%s: destination URI longer than %d bytes", fn, SHOAL_MAX_CHANNEL_LENGTH - 1);
    }
    shoal_destination_command_t cmd;
    cmd.correlated.client_id = c->client_id;
    cmd.correlated.correlation_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver);
    cmd.registration_id = p->registration_id;
    cmd.channel_length = (int32_t)uri_length;
    memcpy(buffer, &cmd, sizeof(cmd));
    memcpy(buffer + sizeof(cmd), endpoint_uri, uri_length);

    pthread_mutex_lock(&c->api_lock);
    int rc = shoal_client_request(c, add ? SHOAL_CMD_ADD_DESTINATION : SHOAL_CMD_REMOVE_DESTINATION, buffer,
        sizeof(cmd) + uri_length, cmd.correlated.correlation_id);
    pthread_mutex_unlock(&c->api_lock);
    return rc;
}

int shoal_publication_add_destination(shoal_publication_t *p, const char *endpoint_uri)
{
    return destination_request(p, endpoint_uri, true);
}

int shoal_publication_remove_destination(shoal_publication_t *p, const char *endpoint_uri)
{
    return destination_request(p, endpoint_uri, false);
}

/* ---- hot path ---- */

static inline int64_t back_pressure_status(const shoal_publication_t *p, int64_t position, size_t length)
{
    if (position + (int64_t)length >= p->max_possible_position)
    {
        return SHOAL_MAX_POSITION_EXCEEDED;
    }
    if (shoal_load_acquire(&p->meta->is_connected))
    {
        return SHOAL_BACK_PRESSURED;
    }
    return SHOAL_NOT_CONNECTED;
}

static int64_t oversize(const shoal_publication_t *p, size_t length)
{
    shoal_set_err(SHOAL_EMSGSIZE, "message length %zu exceeds the maximum message length %zu (term length %d / 8)",
        length, p->max_message_length, p->term_length);
    return SHOAL_ERROR;
}

/* The offers of both kinds of publication take the message as iov (a
 * gather), as claim (try_claim), or as bytes: one buffer that fits a frame,
 * the common offer, appended inline. Each caller passes constants for the
 * others, so each inlined copy keeps one branch. */
static SHOAL_ALWAYS_INLINE int64_t append_concurrent(shoal_publication_t *p, const shoal_iovec_t *iov, size_t iovcnt,
    size_t length, shoal_claim_t *claim, const uint8_t *bytes, bool owned)
{
    int64_t limit = shoal_load_acquire(p->position_limit);
    int32_t term_count = shoal_load_acquire(&p->meta->active_term_count);
    size_t index = shoal_logbuffer_index_by_term_count(term_count);
    int64_t *tail_counter = &p->meta->term_tail_counters[index];
    int64_t raw_tail = shoal_load_acquire(tail_counter);
    int32_t term_id = shoal_logbuffer_term_id(raw_tail);
    int64_t term_offset = raw_tail & 0xFFFFFFFFLL;
    if (SHOAL_UNLIKELY(term_count != shoal_logbuffer_compute_term_count(term_id, p->initial_term_id)))
    {
        return SHOAL_ADMIN_ACTION; /* rotation in progress */
    }
    int64_t term_begin =
        shoal_logbuffer_compute_term_begin_position(term_id, p->position_bits_to_shift, p->initial_term_id);
    int64_t position = term_begin + term_offset;
    if (SHOAL_UNLIKELY(position >= limit))
    {
        return back_pressure_status(p, position, length);
    }
    int32_t result;
    if (owned)
    {
        /* The tail is this thread's alone (shoal_writer_bias.h): append as
         * an exclusive publication does, from the tail just read. */
        if (SHOAL_UNLIKELY(term_offset >= p->term_length))
        {
            result = SHOAL_TERM_APPENDER_TRIPPED; /* a shared writer tripped before the bias was taken */
        }
        else if (NULL != bytes)
        {
            result = shoal_exclusive_term_appender_append_bytes(p->terms[index], tail_counter, p->term_length,
                p->default_header, term_id, (int32_t)term_offset, bytes, length);
        }
        else if (NULL != claim)
        {
            result = shoal_exclusive_term_appender_claim(p->terms[index], tail_counter, p->term_length,
                p->default_header, term_id, (int32_t)term_offset, length, claim);
        }
        else if (length <= p->max_payload_length)
        {
            result = shoal_exclusive_term_appender_append_unfragmented(p->terms[index], tail_counter, p->term_length,
                p->default_header, term_id, (int32_t)term_offset, iov, iovcnt, length, 0);
        }
        else
        {
            result = shoal_exclusive_term_appender_append_fragmented(p->terms[index], tail_counter, p->term_length,
                p->default_header, term_id, (int32_t)term_offset, iov, iovcnt, length, p->max_payload_length, 0);
        }
    }
    else if (NULL != bytes)
    {
        result = shoal_term_appender_append_bytes(p->terms[index], tail_counter, p->term_length, p->default_header,
            term_id, bytes, length);
    }
    else if (NULL != claim)
    {
        result = shoal_term_appender_claim(p->terms[index], tail_counter, p->term_length, p->default_header, length,
            claim, term_id);
    }
    else if (length <= p->max_payload_length)
    {
        result = shoal_term_appender_append_unfragmented(p->terms[index], tail_counter, p->term_length,
            p->default_header, iov, iovcnt, length, 0, term_id);
    }
    else
    {
        result = shoal_term_appender_append_fragmented(p->terms[index], tail_counter, p->term_length, p->default_header,
            iov, iovcnt, length, p->max_payload_length, 0, term_id);
    }
    if (SHOAL_LIKELY(result > 0))
    {
        /* A claim notifies before its commit: a waiter that finds the frame
         * still claimed waits for the commit itself (shoal_wait.c). */
        shoal_log_waiters_notify_subscribers(p->meta);
        return term_begin + result;
    }
    if (SHOAL_TERM_APPENDER_TRIPPED == result)
    {
        shoal_logbuffer_rotate_log(p->meta, term_count, term_id);
        return SHOAL_ADMIN_ACTION;
    }
    return SHOAL_ERROR;
}

/* A concurrent publication appends without the atomic add on the tail
 * while one thread is its log's only writer (shoal_writer_bias.h). */
static SHOAL_ALWAYS_INLINE int64_t offer_concurrent(shoal_publication_t *p, const shoal_iovec_t *iov, size_t iovcnt,
    size_t length, shoal_claim_t *claim, const uint8_t *bytes)
{
    shoal_logbuffer_metadata_t *meta = p->meta;
    int64_t bias = shoal_load_relaxed(&meta->writer_bias);
    if (SHOAL_UNLIKELY(!shoal_writer_bias_is_mine(bias)))
    {
        const shoal_writer_bias_path_t path =
            SHOAL_WRITER_BIAS_SHARED == bias ? SHOAL_WRITER_BIAS_PATH_SHARED : shoal_writer_bias_arbitrate(meta, bias);
        if (SHOAL_WRITER_BIAS_PATH_SHARED == path)
        {
            return append_concurrent(p, iov, iovcnt, length, claim, bytes, false);
        }
        if (SHOAL_WRITER_BIAS_PATH_OWNED != path)
        {
            return SHOAL_WRITER_BIAS_PATH_ERROR == path ? SHOAL_ERROR : SHOAL_ADMIN_ACTION; /* WAIT: retry */
        }
        bias = shoal_load_relaxed(&meta->writer_bias);
        if (!shoal_writer_bias_is_mine(bias))
        {
            return SHOAL_ADMIN_ACTION; /* taken over already */
        }
    }
    int32_t *busy = shoal_writer_bias_busy(meta, bias);
    if (SHOAL_UNLIKELY(!shoal_writer_bias_enter(meta, bias, busy)))
    {
        return SHOAL_ADMIN_ACTION; /* being revoked: the next offer arbitrates */
    }
    const int64_t result = append_concurrent(p, iov, iovcnt, length, claim, bytes, true);
    shoal_writer_bias_exit(busy);
    return result;
}

/* Moves an exclusive publication's own tail to the next term (the log's
 * rotation is idempotent: a trip by offer may have done it already). */
static inline void exclusive_next_term(shoal_publication_t *p)
{
    shoal_logbuffer_rotate_log(p->meta, p->term_count, p->term_id);
    p->term_count++;
    p->term_index = (int32_t)shoal_logbuffer_index_by_term_count(p->term_count);
    p->term_id++;
    p->term_offset = 0;
    p->term_begin_position += p->term_length;
}

/* What an exclusive append's result means for the publication: its new
 * position, or the admin action of moving to the next term. */
static SHOAL_ALWAYS_INLINE int64_t exclusive_appended(shoal_publication_t *p, int32_t result)
{
    if (SHOAL_LIKELY(result > 0))
    {
        p->term_offset = result;
        shoal_log_waiters_notify_subscribers(p->meta);
        return p->term_begin_position + result;
    }
    if (SHOAL_TERM_APPENDER_TRIPPED == result)
    {
        exclusive_next_term(p);
        return SHOAL_ADMIN_ACTION;
    }
    return SHOAL_ERROR;
}

static SHOAL_ALWAYS_INLINE int64_t offer_exclusive(shoal_publication_t *p, const shoal_iovec_t *iov, size_t iovcnt,
    size_t length, shoal_claim_t *claim, const uint8_t *bytes)
{
    int64_t limit = shoal_load_acquire(p->position_limit);
    int64_t position = p->term_begin_position + p->term_offset;
    if (SHOAL_UNLIKELY(position >= limit))
    {
        return back_pressure_status(p, position, length);
    }
    size_t index = (size_t)p->term_index;
    int64_t *tail_counter = &p->meta->term_tail_counters[index];
    int32_t result;
    if (NULL != bytes)
    {
        result = shoal_exclusive_term_appender_append_bytes(p->terms[index], tail_counter, p->term_length,
            p->default_header, p->term_id, p->term_offset, bytes, length);
    }
    else if (NULL != claim)
    {
        result = shoal_exclusive_term_appender_claim(p->terms[index], tail_counter, p->term_length, p->default_header,
            p->term_id, p->term_offset, length, claim);
    }
    else if (length <= p->max_payload_length)
    {
        result = shoal_exclusive_term_appender_append_unfragmented(p->terms[index], tail_counter, p->term_length,
            p->default_header, p->term_id, p->term_offset, iov, iovcnt, length, 0);
    }
    else
    {
        result = shoal_exclusive_term_appender_append_fragmented(p->terms[index], tail_counter, p->term_length,
            p->default_header, p->term_id, p->term_offset, iov, iovcnt, length, p->max_payload_length, 0);
    }
    return exclusive_appended(p, result);
}

static inline int64_t offer_iov(shoal_publication_t *p, const shoal_iovec_t *iov, size_t iovcnt, size_t length)
{
    if (SHOAL_UNLIKELY(shoal_load_relaxed(&p->closed)))
    {
        return SHOAL_CLOSED;
    }
    if (SHOAL_UNLIKELY(length > p->max_message_length))
    {
        return oversize(p, length);
    }
    return p->exclusive ? offer_exclusive(p, iov, iovcnt, length, NULL, NULL)
                        : offer_concurrent(p, iov, iovcnt, length, NULL, NULL);
}

int64_t shoal_publication_offer(shoal_publication_t *p, const uint8_t *buf, size_t len)
{
    if (SHOAL_UNLIKELY(NULL == p || (NULL == buf && len > 0)))
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_offer: pub must not be NULL, nor buf when len > 0");
        return SHOAL_ERROR;
    }
    if (SHOAL_LIKELY(NULL != buf && len <= p->max_payload_length && len <= p->max_message_length &&
            !shoal_load_relaxed(&p->closed)))
    {
        return p->exclusive ? offer_exclusive(p, NULL, 0, len, NULL, buf)
                            : offer_concurrent(p, NULL, 0, len, NULL, buf);
    }
    shoal_iovec_t iov = { buf, len };
    return offer_iov(p, &iov, 1, len);
}

#define SHOAL_MAX_IOVCNT 1024

int64_t shoal_publication_offerv(shoal_publication_t *p, const shoal_iovec_t *iov, size_t iovcnt)
{
    if (SHOAL_UNLIKELY(NULL == p || (NULL == iov && iovcnt > 0) || iovcnt > SHOAL_MAX_IOVCNT))
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_offerv: pub and iov must not be NULL, iovcnt <= %d",
            SHOAL_MAX_IOVCNT);
        return SHOAL_ERROR;
    }
    size_t length = 0;
    for (size_t i = 0; i < iovcnt; i++)
    {
        if (SHOAL_UNLIKELY(NULL == iov[i].base && iov[i].length > 0))
        {
            shoal_set_err(SHOAL_EINVAL, "shoal_publication_offerv: iov[%zu].base is NULL with length %zu", i,
                iov[i].length);
            return SHOAL_ERROR;
        }
        length += iov[i].length;
        if (SHOAL_UNLIKELY(length < iov[i].length))
        {
            return oversize(p, SIZE_MAX);
        }
    }
    return offer_iov(p, iov, iovcnt, length);
}

int64_t shoal_publication_try_claim(shoal_publication_t *p, size_t len, shoal_claim_t *claim)
{
    if (SHOAL_UNLIKELY(NULL == p || NULL == claim))
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_try_claim: pub and claim must not be NULL");
        return SHOAL_ERROR;
    }
    if (SHOAL_UNLIKELY(shoal_load_relaxed(&p->closed)))
    {
        return SHOAL_CLOSED;
    }
    if (SHOAL_UNLIKELY(len > p->max_payload_length))
    {
        shoal_set_err(SHOAL_EMSGSIZE,
            "try_claim length %zu exceeds the maximum payload length %zu (mtu - 32); "
            "use offer for larger messages",
            len, p->max_payload_length);
        return SHOAL_ERROR;
    }
    return p->exclusive ? offer_exclusive(p, NULL, 0, len, claim, NULL)
                        : offer_concurrent(p, NULL, 0, len, claim, NULL);
}

int64_t shoal_publication_offer_block(shoal_publication_t *p, const uint8_t *frames, size_t length)
{
    if (NULL == p || NULL == frames)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_offer_block: pub and frames must not be NULL");
        return SHOAL_ERROR;
    }
    if (!p->exclusive)
    {
        shoal_set_err(SHOAL_EINVAL,
            "shoal_publication_offer_block: an exclusive publication is needed (blocks carry their own positions)");
        return SHOAL_ERROR;
    }
    if (shoal_load_relaxed(&p->closed))
    {
        return SHOAL_CLOSED;
    }
    if (p->term_offset >= p->term_length)
    {
        /* The last block (or message) filled the term to its end. */
        exclusive_next_term(p);
    }
    const int64_t position = p->term_begin_position + p->term_offset;
    if (position >= shoal_load_acquire(p->position_limit))
    {
        return back_pressure_status(p, position, length);
    }
    if (shoal_term_block_check(frames, length, p->term_id, p->term_offset, p->term_length) < 0)
    {
        return SHOAL_ERROR;
    }
    size_t index = (size_t)p->term_index;
    p->term_offset = shoal_term_block_append(p->terms[index], &p->meta->term_tail_counters[index], p->term_id,
        p->term_offset, frames, length, p->session_id, p->stream_id);
    shoal_log_waiters_notify_subscribers(p->meta);
    return p->term_begin_position + p->term_offset;
}

int shoal_claim_commit(shoal_claim_t *claim)
{
    return shoal_term_claim_commit(claim);
}

int shoal_claim_abort(shoal_claim_t *claim)
{
    return shoal_term_claim_abort(claim);
}

/* ---- getters ---- */

bool shoal_publication_is_connected(const shoal_publication_t *p)
{
    if (NULL == p)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_is_connected: pub must not be NULL");
        return false;
    }
    return !shoal_load_relaxed(&p->closed) && 0 != shoal_load_acquire(&p->meta->is_connected);
}

bool shoal_publication_is_closed(const shoal_publication_t *p)
{
    if (NULL == p)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_is_closed: pub must not be NULL");
        return true;
    }
    return 0 != shoal_load_acquire(&p->closed);
}

int64_t shoal_publication_position(const shoal_publication_t *p)
{
    if (NULL == p)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_position: pub must not be NULL");
        return SHOAL_ERROR;
    }
    if (shoal_load_relaxed(&p->closed))
    {
        return SHOAL_CLOSED;
    }
    if (p->exclusive)
    {
        return p->term_begin_position + p->term_offset;
    }
    int64_t raw_tail = shoal_logbuffer_active_raw_tail(p->meta);
    int32_t term_id = shoal_logbuffer_term_id(raw_tail);
    return shoal_logbuffer_compute_term_begin_position(term_id, p->position_bits_to_shift, p->initial_term_id) +
        shoal_logbuffer_term_offset(raw_tail, p->term_length);
}

int64_t shoal_publication_position_limit(const shoal_publication_t *p)
{
    if (NULL == p)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_position_limit: pub must not be NULL");
        return SHOAL_ERROR;
    }
    return shoal_load_acquire(p->position_limit);
}

int32_t shoal_publication_session_id(const shoal_publication_t *p)
{
    return NULL == p ? shoal_set_err(SHOAL_EINVAL, "shoal_publication_session_id: pub must not be NULL")
                     : p->session_id;
}

int32_t shoal_publication_stream_id(const shoal_publication_t *p)
{
    return NULL == p ? shoal_set_err(SHOAL_EINVAL, "shoal_publication_stream_id: pub must not be NULL") : p->stream_id;
}

int64_t shoal_publication_registration_id(const shoal_publication_t *p)
{
    return NULL == p ? shoal_set_err(SHOAL_EINVAL, "shoal_publication_registration_id: pub must not be NULL")
                     : p->registration_id;
}

/* 0 is never a valid length: it is the NULL answer. */
size_t shoal_publication_max_message_length(const shoal_publication_t *p)
{
    if (NULL == p)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_max_message_length: pub must not be NULL");
        return 0;
    }
    return p->max_message_length;
}

size_t shoal_publication_max_payload_length(const shoal_publication_t *p)
{
    if (NULL == p)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_publication_max_payload_length: pub must not be NULL");
        return 0;
    }
    return p->max_payload_length;
}
