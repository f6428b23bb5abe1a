/* Client connection, request/response with the driver, registries. */
#include "client/shoal_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_clock.h"
#include "util/shoal_array.h"
#include "util/shoal_error.h"

int shoal_client_check_open(shoal_client_t *c)
{
    if (shoal_load_acquire(&c->closed))
    {
        return shoal_set_err(SHOAL_ECLOSED, "client closed: %s", c->close_reason);
    }
    return 0;
}

size_t shoal_client_encode_channel_command(shoal_client_t *c, const char *uri, int32_t stream_id, uint8_t *buffer,
    int64_t *correlation_id)
{
    size_t uri_length = strlen(uri);
    shoal_channel_command_t cmd;
    cmd.correlated.client_id = c->client_id;
    cmd.correlated.correlation_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver);
    cmd.stream_id = stream_id;
    cmd.channel_length = (int32_t)uri_length;
    memcpy(buffer, &cmd, sizeof(cmd));
    memcpy(buffer + sizeof(cmd), uri, uri_length);
    *correlation_id = cmd.correlated.correlation_id;
    return sizeof(cmd) + uri_length;
}

int shoal_client_close_handle(shoal_client_t *c, void *handle, bool is_publication)
{
    shoal_publication_t *p = is_publication ? handle : NULL;
    shoal_subscription_t *s = is_publication ? NULL : handle;
    const char *fn = is_publication ? "shoal_publication_close" : "shoal_subscription_close";
    if (NULL == handle)
    {
        return shoal_set_err(SHOAL_EINVAL, "%s: %s must not be NULL", fn, is_publication ? "pub" : "sub");
    }
    if (shoal_client_check_not_in_handler(c, fn) < 0)
    {
        return -1;
    }
    int rc;
    if (is_publication)
    {
        shoal_publication_stop_waiters(p);
        pthread_mutex_lock(&c->api_lock);
        rc = shoal_client_request_remove(c, SHOAL_CMD_REMOVE_PUBLICATION, p->registration_id);
        pthread_mutex_lock(&c->lock);
        shoal_pointer_list_remove((void **)c->publications, &c->publications_count, p);
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->api_lock);
        shoal_publication_free(p);
        return rc;
    }
    shoal_subscription_stop_waiters(s);
    pthread_mutex_lock(&c->api_lock);
    rc = shoal_client_request_remove(c, SHOAL_CMD_REMOVE_SUBSCRIPTION, s->registration_id);
    shoal_subscription_detach(c, s);
    pthread_mutex_unlock(&c->api_lock);
    shoal_subscription_free(s);
    return rc;
}

/* The client whose image handler the calling thread is running, if any. */
static __thread const shoal_client_t *in_handler_of;

const shoal_client_t *shoal_client_set_in_handler(const shoal_client_t *c)
{
    const shoal_client_t *previous = in_handler_of;
    in_handler_of = c;
    return previous;
}

int shoal_client_check_not_in_handler(const shoal_client_t *c, const char *fn)
{
    if (NULL != c && in_handler_of == c)
    {
        return shoal_set_err(SHOAL_ESTATE,
            "%s: not allowed from an image handler of the same client (its conductor "
            "would wait for itself): do it after the handler returns",
            fn);
    }
    return 0;
}

void shoal_client_linger(shoal_client_t *c, shoal_subscription_t *s, int64_t generation, void *memory,
    shoal_image_t *image)
{
    if (NULL == memory && NULL == image)
    {
        return;
    }
    if (c->lingering_count == c->lingering_capacity)
    {
        int32_t cap = c->lingering_capacity ? c->lingering_capacity * 2 : 16;
        shoal_lingering_t *grown = realloc(c->lingering, (size_t)cap * sizeof(*grown));
        if (NULL == grown)
        {
            /* Better to leak than to free under a poller's feet. */
            return;
        }
        c->lingering = grown;
        c->lingering_capacity = cap;
    }
    shoal_lingering_t *l = &c->lingering[c->lingering_count++];
    l->memory = memory;
    l->image = image;
    l->subscription = s;
    l->generation = generation;
}

int shoal_client_request(shoal_client_t *c, int32_t type, const void *msg, size_t length, int64_t correlation_id)
{
    pthread_mutex_lock(&c->lock);
    c->pending_correlation_id = correlation_id;
    c->pending_state = 0;
    pthread_mutex_unlock(&c->lock);

    if (shoal_mpsc_rb_write(&c->to_driver, type, msg, length) < 0)
    {
        /* The ring may be full only briefly; retry until the driver timeout. */
        int64_t deadline = shoal_epoch_ms() + (int64_t)c->ctx->driver_timeout_ms;
        struct timespec pause = { 0, 1000000 };
        int rc;
        while ((rc = shoal_mpsc_rb_write(&c->to_driver, type, msg, length)) < 0 && shoal_epoch_ms() < deadline &&
            !shoal_load_acquire(&c->closed))
        {
            nanosleep(&pause, NULL);
        }
        if (rc < 0)
        {
            return shoal_set_err(SHOAL_ETIMEDOUT, "could not send command to the driver in %s: %s", c->ctx->dir,
                shoal_errmsg());
        }
    }

    if (c->invoker)
    {
        /* No conductor thread: run its duty here until the answer comes. */
        const int64_t until_ms = shoal_epoch_ms() + (int64_t)c->ctx->driver_timeout_ms;
        const struct timespec pause = { 0, 50000 };
        pthread_mutex_lock(&c->lock);
        for (;;)
        {
            shoal_client_conductor_duty(c);
            if (0 != c->pending_state || shoal_load_acquire(&c->closed) || shoal_epoch_ms() >= until_ms)
            {
                break;
            }
            pthread_mutex_unlock(&c->lock);
            nanosleep(&pause, NULL);
            pthread_mutex_lock(&c->lock);
        }
    }
    else
    {
        /* The conductor sleeps long when idle: have it look for the answer now. */
        pthread_mutex_lock(&c->lock);
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);

        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t)(c->ctx->driver_timeout_ms / 1000);
        deadline.tv_nsec += (long)(c->ctx->driver_timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L)
        {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&c->lock);
        while (0 == c->pending_state && !shoal_load_acquire(&c->closed))
        {
            if (ETIMEDOUT == pthread_cond_timedwait(&c->cond, &c->lock, &deadline))
            {
                break;
            }
        }
    }
    int state = c->pending_state;
    c->pending_correlation_id = 0;
    pthread_mutex_unlock(&c->lock);

    if (1 == state)
    {
        return 0;
    }
    if (-1 == state)
    {
        return shoal_set_err(c->pending_error_code, "%.*s", (int)c->pending_length, (const char *)c->pending_response);
    }
    if (shoal_load_acquire(&c->closed))
    {
        return shoal_set_err(SHOAL_ECLOSED, "client closed: %s", c->close_reason);
    }
    return shoal_set_err(SHOAL_ETIMEDOUT, "driver in %s did not answer within %llu ms", c->ctx->dir,
        (unsigned long long)c->ctx->driver_timeout_ms);
}

int shoal_client_request_remove(shoal_client_t *c, int32_t type, int64_t registration_id)
{
    if (shoal_load_acquire(&c->closed))
    {
        return 0;
    }
    shoal_remove_command_t cmd = { { c->client_id, shoal_mpsc_rb_next_correlation_id(&c->to_driver) },
        registration_id };
    return shoal_client_request(c, type, &cmd, sizeof(cmd), cmd.correlated.correlation_id);
}

int shoal_client_connect(shoal_client_t **clientp, shoal_context_t *ctx)
{
    if (NULL == clientp || NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_client_connect: client and ctx must not be NULL");
    }
    shoal_client_t *c = calloc(1, sizeof(*c));
    if (NULL == c)
    {
        return shoal_set_err(SHOAL_ENOMEM, "shoal_client_connect: out of memory");
    }
    c->ctx = ctx;
    /* A driver started a moment ago may still be laying out its CnC file. */
    if (shoal_cnc_map(ctx->dir, true, 2000, &c->cnc) < 0)
    {
        free(c);
        return -1;
    }
    if (shoal_mpsc_rb_init(&c->to_driver, c->cnc.to_driver, (size_t)c->cnc.meta->to_driver_buffer_length) < 0)
    {
        shoal_cnc_unmap(&c->cnc);
        free(c);
        return -1;
    }
    int64_t age = shoal_epoch_ms() - shoal_mpsc_rb_consumer_heartbeat_time_value(&c->to_driver);
    if (age > (int64_t)ctx->driver_timeout_ms)
    {
        shoal_cnc_unmap(&c->cnc);
        free(c);
        return shoal_set_err(SHOAL_ENODRIVER, "no live driver in %s (last heartbeat %lld ms ago)", ctx->dir,
            (long long)age);
    }
    if (shoal_broadcast_receiver_init(&c->to_clients, c->cnc.to_clients,
            (size_t)c->cnc.meta->to_clients_buffer_length) < 0)
    {
        shoal_cnc_unmap(&c->cnc);
        free(c);
        return -1;
    }
    c->client_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver);
    /* Keepalives must come well inside the liveness timeout of this driver,
     * whatever our own context says. */
    c->keepalive_interval_ms = (int64_t)ctx->keepalive_interval_ms;
    if (c->cnc.meta->client_liveness_timeout_ms / 4 < c->keepalive_interval_ms)
    {
        c->keepalive_interval_ms = c->cnc.meta->client_liveness_timeout_ms / 4;
    }
    if (c->keepalive_interval_ms < 1)
    {
        c->keepalive_interval_ms = 1;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->api_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_cond_init(&c->cond, &attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);

    /* The first keepalive makes the driver know us. */
    shoal_correlated_command_t keepalive = { c->client_id, 0 };
    if (shoal_mpsc_rb_write(&c->to_driver, SHOAL_CMD_CLIENT_KEEPALIVE, &keepalive, sizeof(keepalive)) < 0)
    {
        shoal_broadcast_receiver_close(&c->to_clients);
        shoal_cnc_unmap(&c->cnc);
        free(c);
        return shoal_set_err(SHOAL_ETIMEDOUT, "driver in %s is not taking commands (ring full)", ctx->dir);
    }
    c->last_keepalive_ms = shoal_epoch_ms();
    c->invoker = ctx->use_conductor_invoker;
    if (!c->invoker)
    {
        int rc = pthread_create(&c->conductor, NULL, shoal_client_conductor_run, c);
        if (0 != rc)
        {
            shoal_broadcast_receiver_close(&c->to_clients);
            shoal_cnc_unmap(&c->cnc);
            free(c);
            return shoal_set_err_errno(SHOAL_ENOMEM, rc, "shoal_client_connect: cannot start conductor thread");
        }
    }
    shoal_context_acquire(ctx);
    *clientp = c;
    return 0;
}

int shoal_client_do_work(shoal_client_t *c)
{
    if (NULL == c)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_client_do_work: client must not be NULL");
    }
    if (!c->invoker)
    {
        return shoal_set_err(SHOAL_ESTATE,
            "shoal_client_do_work: this client runs its own conductor thread; "
            "do_work is for a client connected with shoal_context_set_use_conductor_invoker(ctx, true)");
    }
    if (shoal_client_check_not_in_handler(c, "shoal_client_do_work") < 0)
    {
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    int work = shoal_client_conductor_duty(c);
    pthread_mutex_unlock(&c->lock);
    if (shoal_load_acquire(&c->closed))
    {
        return shoal_set_err(SHOAL_ECLOSED, "shoal_client_do_work: client closed: %s", c->close_reason);
    }
    return work;
}

bool shoal_client_is_conductor_invoker(const shoal_client_t *c)
{
    if (NULL == c)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_client_is_conductor_invoker: client must not be NULL");
        return false;
    }
    return c->invoker;
}

int64_t shoal_client_id(const shoal_client_t *c)
{
    if (NULL == c)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_client_id: client must not be NULL");
    }
    return c->client_id;
}

bool shoal_client_is_closed(const shoal_client_t *c)
{
    if (NULL == c)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_client_is_closed: client must not be NULL");
        return true;
    }
    return 0 != shoal_load_acquire(&c->closed);
}

int shoal_client_close(shoal_client_t *c)
{
    if (NULL == c)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_client_close: client must not be NULL");
    }
    if (shoal_client_check_not_in_handler(c, "shoal_client_close") < 0)
    {
        return -1;
    }
    if (!shoal_load_acquire(&c->closed))
    {
        shoal_correlated_command_t cmd = { c->client_id, shoal_mpsc_rb_next_correlation_id(&c->to_driver) };
        shoal_mpsc_rb_write(&c->to_driver, SHOAL_CMD_CLIENT_CLOSE, &cmd, sizeof(cmd));
        snprintf(c->close_reason, sizeof(c->close_reason), "closed by the application");
        shoal_store_release(&c->closed, 1);
    }
    if (!c->invoker)
    {
        pthread_mutex_lock(&c->lock);
        shoal_store_release(&c->stop, 1);
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->conductor, NULL);
    }

    /* The driver releases everything of a closing client; free our side. */
    while (c->publications_count > 0)
    {
        shoal_publication_t *p = c->publications[--c->publications_count];
        shoal_publication_stop_waiters(p);
        shoal_publication_free(p);
    }
    while (c->subscriptions_count > 0)
    {
        /* The conductor has stopped: no lock needed to pair the image events. */
        shoal_subscription_t *s = c->subscriptions[--c->subscriptions_count];
        shoal_subscription_stop_waiters(s);
        shoal_subscription_release_images(s);
        shoal_subscription_free(s);
    }
    shoal_client_free_lingering(c, true, NULL);
    shoal_client_release_pre_touch(c);
    free(c->publications);
    free(c->subscriptions);
    free(c->lingering);
    shoal_broadcast_receiver_close(&c->to_clients);
    shoal_cnc_unmap(&c->cnc);
    pthread_cond_destroy(&c->cond);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->api_lock);
    shoal_context_release(c->ctx);
    free(c);
    return 0;
}
