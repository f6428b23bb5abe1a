/* The client conductor duty: driver broadcasts, keepalives, driver
 * liveness, image list swaps and freeing what pollers left behind; and the
 * conductor thread that runs it (unless the client is in conductor-invoker
 * mode, where shoal_client_do_work runs it on the caller's thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_alloc.h"
#include "util/shoal_array.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

/* An idle conductor sleeps SHOAL_CLIENT_IDLE_NS (Aeron's sleeps 16 ms): every
 * wake-up takes a core from a busy-polling thread for a few microseconds, which
 * at 1 ms showed in the latency tail. A request wakes it at once and keeps it
 * looking every SHOAL_CLIENT_REQUEST_IDLE_NS until answered; image events wait
 * at most SHOAL_CLIENT_IDLE_NS, keepalives are never late. */
#define SHOAL_CLIENT_IDLE_NS         10000000LL
#define SHOAL_CLIENT_REQUEST_IDLE_NS 50000LL

/* Bytes of a new image's log read through per duty cycle (PRE_TOUCH): 256
 * pages, ~1.5 ms where each page traps to the hypervisor, microseconds
 * elsewhere; the conductor holds its lock that long at most, and loops
 * without idling until the log is done. */
#define SHOAL_CLIENT_TOUCH_SLICE (1U << 20)

/* Queues image's mapping to be read through ahead of its poller. Not done
 * (no memory) only costs the first pass its traps. */
static void queue_pre_touch(shoal_client_t *c, shoal_image_t *image)
{
    if (SHOAL_ARRAY_ENSURE(c, touching, "pre-touch queue") < 0)
    {
        return;
    }
    shoal_mapping_acquire(image->mapping);
    c->touching[c->touching_count++] = (shoal_touching_t){ image->mapping, 0 };
}

/* One slice of the oldest queued mapping: 1 while any is left. */
static int pre_touch_images(shoal_client_t *c)
{
    if (0 == c->touching_count)
    {
        return 0;
    }
    shoal_touching_t *t = &c->touching[0];
    t->offset = shoal_mapping_pre_touch(t->mapping, t->offset, SHOAL_CLIENT_TOUCH_SLICE);
    if (t->offset >= shoal_mapping_log(t->mapping)->mapped_length)
    {
        shoal_mapping_release(t->mapping);
        memmove(&c->touching[0], &c->touching[1], (size_t)(c->touching_count - 1) * sizeof(*c->touching));
        c->touching_count--;
    }
    return 1;
}

void shoal_client_release_pre_touch(shoal_client_t *c)
{
    for (int32_t i = 0; i < c->touching_count; i++)
    {
        shoal_mapping_release(c->touching[i].mapping);
    }
    free(c->touching);
    c->touching = NULL;
    c->touching_count = c->touching_capacity = 0;
}

static shoal_subscription_t *find_subscription(shoal_client_t *c, int64_t registration_id)
{
    for (int32_t i = 0; i < c->subscriptions_count; i++)
    {
        if (c->subscriptions[i]->registration_id == registration_id)
        {
            return c->subscriptions[i];
        }
    }
    return NULL;
}

static void answer(shoal_client_t *c, int state, int32_t type, int32_t code, const uint8_t *data, size_t length)
{
    if (length > sizeof(c->pending_response))
    {
        length = sizeof(c->pending_response);
    }
    memcpy(c->pending_response, data, length);
    c->pending_length = length;
    c->pending_type = type;
    c->pending_error_code = code;
    c->pending_state = state;
    pthread_cond_broadcast(&c->cond);
}

/* An image list for count images: read by the poller on every poll, so on
 * lines of its own (a neighbour written by another thread would cost the
 * poll a cache miss). NULL when out of memory. */
static shoal_image_list_t *new_image_list(int32_t count)
{
    return shoal_alloc_cache_aligned(sizeof(shoal_image_list_t) + (size_t)count * sizeof(shoal_image_t *),
        "image list");
}

/* Publishes list as s's image list and retires the one it replaces. seq_cst:
 * pairs with a first poll's announcement (see shoal_client.h). */
static void swap_images(shoal_client_t *c, shoal_subscription_t *s, shoal_image_list_t *list)
{
    shoal_image_list_t *old = s->images;
    list->generation = ++s->list_generation;
    __atomic_store_n(&s->images, list, __ATOMIC_SEQ_CST);
    shoal_store_release(&s->image_count, list->count);
    if (NULL != old)
    {
        shoal_client_linger(c, s, old->generation, old, NULL);
    }
    /* A wait on s sleeps on the images it had: it must look at the new list. */
    shoal_subscription_wake_waiters(s);
}

/* Copies a broadcast event of size bytes out of the buffer (shared memory:
 * read once, then only the copy); false when the event is too short. */
static bool read_event(void *event, size_t size, const uint8_t *buffer, size_t length)
{
    if (length < size)
    {
        return false;
    }
    memcpy(event, buffer, size);
    return true;
}

static void on_image_available(shoal_client_t *c, const uint8_t *buffer, size_t length)
{
    shoal_image_ready_t r;
    if (!read_event(&r, sizeof(r), buffer, length))
    {
        return;
    }
    shoal_subscription_t *s = find_subscription(c, r.subscription_registration_id);
    /* The broadcast buffer is shared memory: the counter id must name a
     * counter of this CnC before we read the join position through it. */
    if (NULL == s || r.log_file_length <= 0 || r.log_file_length >= SHOAL_MAX_PATH_LENGTH ||
        sizeof(r) + (size_t)r.log_file_length > length || r.subscriber_position_id < 0 ||
        (size_t)r.subscriber_position_id >=
            (size_t)c->cnc.meta->counters_values_buffer_length / SHOAL_COUNTER_VALUE_LENGTH)
    {
        return;
    }
    char log_file[SHOAL_MAX_PATH_LENGTH];
    memcpy(log_file, buffer + sizeof(r), (size_t)r.log_file_length);
    log_file[r.log_file_length] = '\0';
    /* The source identity follows as <int32 length><bytes>; tolerate its
     * absence (an older driver) with an empty string. */
    char source[SHOAL_IMAGE_SOURCE_MAX] = "";
    size_t at = sizeof(r) + (size_t)r.log_file_length;
    int32_t source_length = 0;
    if (at + sizeof(source_length) <= length)
    {
        memcpy(&source_length, buffer + at, sizeof(source_length));
        if (source_length > 0 && (size_t)source_length < sizeof(source) &&
            at + sizeof(source_length) + (size_t)source_length <= length)
        {
            memcpy(source, buffer + at + sizeof(source_length), (size_t)source_length);
            source[source_length] = '\0';
        }
    }

    int64_t *position = shoal_counter_addr(c->cnc.counters_values, r.subscriber_position_id);
    shoal_image_t *image = NULL;
    if (shoal_image_create(&image, log_file, r.correlation_id, r.subscription_registration_id, r.session_id,
            r.stream_id, position, source) < 0)
    {
        if (NULL != c->ctx->error_handler)
        {
            c->ctx->error_handler(c->ctx->error_handler_clientd, shoal_errcode(), shoal_errmsg());
        }
        return;
    }
    shoal_image_list_t *old = s->images;
    int32_t count = NULL == old ? 0 : old->count;
    shoal_image_list_t *list = new_image_list(count + 1);
    if (NULL == list)
    {
        shoal_image_delete(image);
        return;
    }
    list->count = count + 1;
    for (int32_t i = 0; i < count; i++)
    {
        list->images[i] = old->images[i];
    }
    list->images[count] = image;
    swap_images(c, s, list);
    if (NULL != s->on_available)
    {
        const shoal_client_t *outer = shoal_client_set_in_handler(c);
        s->on_available(s->handlers_clientd, s, image);
        shoal_client_set_in_handler(outer);
    }
    if (c->ctx->pre_touch)
    {
        queue_pre_touch(c, image);
    }
}

static void on_image_unavailable(shoal_client_t *c, const uint8_t *buffer, size_t length)
{
    shoal_image_unavailable_t r;
    if (!read_event(&r, sizeof(r), buffer, length))
    {
        return;
    }
    shoal_subscription_t *s = find_subscription(c, r.subscription_registration_id);
    if (NULL == s || NULL == s->images)
    {
        return;
    }
    shoal_image_list_t *old = s->images;
    shoal_image_t *gone = NULL;
    shoal_image_list_t *list = new_image_list(old->count);
    if (NULL == list)
    {
        return;
    }
    list->count = 0;
    for (int32_t i = 0; i < old->count; i++)
    {
        /* One image per event: a duplicate id (the broadcast buffer is shared
         * memory) must not drop a second image from the list unlingered. */
        if (NULL == gone && old->images[i]->correlation_id == r.correlation_id)
        {
            gone = old->images[i];
        }
        else
        {
            list->images[list->count++] = old->images[i];
        }
    }
    if (NULL == gone)
    {
        free(list);
        return;
    }
    int64_t last_generation = old->generation;
    swap_images(c, s, list);
    /* Told after the swap: a handler that polls no longer sees the image,
     * which stays (mapped) until no poll can reach it. */
    shoal_store_release(&gone->closed, 1);
    if (NULL != s->on_unavailable)
    {
        const shoal_client_t *outer = shoal_client_set_in_handler(c);
        s->on_unavailable(s->handlers_clientd, s, gone);
        shoal_client_set_in_handler(outer);
    }
    shoal_client_linger(c, s, last_generation, NULL, gone);
}

static void close_client(shoal_client_t *c, int code, const char *reason)
{
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    shoal_store_release(&c->closed, 1);
    for (int32_t i = 0; i < c->publications_count; i++)
    {
        shoal_store_release(&c->publications[i]->closed, 1);
        shoal_publication_wake_waiters(c->publications[i]);
    }
    for (int32_t i = 0; i < c->subscriptions_count; i++)
    {
        shoal_subscription_wake_waiters(c->subscriptions[i]);
    }
    pthread_cond_broadcast(&c->cond);
    if (NULL != c->ctx->error_handler)
    {
        c->ctx->error_handler(c->ctx->error_handler_clientd, code, reason);
    }
}

static void lose_driver(shoal_client_t *c, const char *reason)
{
    close_client(c, SHOAL_ETIMEDOUT, reason);
}

/* The broadcast receiver was lapped (this thread fell a whole buffer behind
 * the driver) or skipped a corrupt record: image events and responses in
 * between are gone, and no message says which. Carrying on would keep
 * images the driver has dropped and miss new ones, silently; re-syncing
 * would need the driver to repeat its state, which it cannot. So the client
 * closes with a reason naming what happened, and tells the driver to release
 * its resources now rather than at the liveness timeout. */
static void close_on_missed_events(shoal_client_t *c, const char *what)
{
    if (shoal_load_acquire(&c->closed))
    {
        return;
    }
    char reason[512];
    snprintf(reason, sizeof(reason),
        "missed driver events (%s): images and responses may be stale, so the client "
        "is closed; connect a new client (a larger SHOAL_TO_CLIENTS_BUFFER_LENGTH on the driver makes it rarer)",
        what);
    shoal_correlated_command_t cmd = { c->client_id, shoal_mpsc_rb_next_correlation_id(&c->to_driver) };
    shoal_mpsc_rb_write(&c->to_driver, SHOAL_CMD_CLIENT_CLOSE, &cmd, sizeof(cmd));
    close_client(c, SHOAL_ECLOSED, reason);
}

static void on_broadcast(int32_t type, const uint8_t *buffer, size_t length, void *clientd)
{
    shoal_client_t *c = clientd;
    int64_t correlation_id;
    if (!read_event(&correlation_id, sizeof(correlation_id), buffer, length))
    {
        return;
    }
    switch (type)
    {
        case SHOAL_RSP_ON_ERROR:
            if (0 != c->pending_correlation_id && correlation_id == c->pending_correlation_id &&
                length >= sizeof(shoal_error_response_t))
            {
                shoal_error_response_t r;
                memcpy(&r, buffer, sizeof(r));
                size_t text = (size_t)(r.error_message_length < 0 ? 0 : r.error_message_length);
                if (sizeof(r) + text > length)
                {
                    text = length - sizeof(r);
                }
                answer(c, -1, type, r.error_code, buffer + sizeof(r), text);
            }
            break;
        case SHOAL_RSP_ON_PUBLICATION_READY:
        case SHOAL_RSP_ON_EXCLUSIVE_PUBLICATION_READY:
        case SHOAL_RSP_ON_SUBSCRIPTION_READY:
        case SHOAL_RSP_ON_OPERATION_SUCCESS:
            if (0 != c->pending_correlation_id && correlation_id == c->pending_correlation_id)
            {
                answer(c, 1, type, 0, buffer, length);
            }
            break;
        case SHOAL_RSP_ON_AVAILABLE_IMAGE: on_image_available(c, buffer, length); break;
        case SHOAL_RSP_ON_UNAVAILABLE_IMAGE: on_image_unavailable(c, buffer, length); break;
        case SHOAL_RSP_ON_CLIENT_TIMEOUT:
            if (correlation_id == c->client_id)
            {
                lose_driver(c, "the driver timed this client out (no keepalive within the client liveness timeout)");
            }
            break;
        default: break;
    }
}

void shoal_client_free_lingering(shoal_client_t *c, bool all, const shoal_subscription_t *s)
{
    for (int32_t i = c->lingering_count - 1; i >= 0; i--)
    {
        shoal_lingering_t *l = &c->lingering[i];
        bool unreachable;
        if (all || NULL != s)
        {
            unreachable = all || l->subscription == s;
        }
        else
        {
            unreachable = __atomic_load_n(&l->subscription->poller_generation, __ATOMIC_SEQ_CST) > l->generation;
        }
        if (unreachable)
        {
            free(l->memory);
            if (NULL != l->image)
            {
                shoal_image_delete(l->image);
            }
            c->lingering[i] = c->lingering[--c->lingering_count];
        }
    }
}

static void check_driver(shoal_client_t *c, int64_t now_ms)
{
    int64_t heartbeat = shoal_mpsc_rb_consumer_heartbeat_time_value(&c->to_driver);
    if (now_ms - heartbeat > (int64_t)c->ctx->driver_timeout_ms)
    {
        char reason[512];
        snprintf(reason, sizeof(reason), "driver in %s is not responding (no heartbeat for %lld ms, timeout %llu ms)",
            c->ctx->dir, (long long)(now_ms - heartbeat), (unsigned long long)c->ctx->driver_timeout_ms);
        lose_driver(c, reason);
        return;
    }
    if (now_ms >= c->last_keepalive_ms + c->keepalive_interval_ms)
    {
        shoal_correlated_command_t keepalive = { c->client_id, 0 };
        shoal_mpsc_rb_write(&c->to_driver, SHOAL_CMD_CLIENT_KEEPALIVE, &keepalive, sizeof(keepalive));
        c->last_keepalive_ms = now_ms;
    }
}

/* With c->lock held: sleeps until woken, or the idle time (shorter while a
 * request waits for its answer, never past the next keepalive). */
static void idle_wait(shoal_client_t *c, int64_t now_ms)
{
    int64_t idle_ns =
        0 != c->pending_correlation_id && 0 == c->pending_state ? SHOAL_CLIENT_REQUEST_IDLE_NS : SHOAL_CLIENT_IDLE_NS;
    const int64_t to_keepalive_ns = (c->last_keepalive_ms + c->keepalive_interval_ms - now_ms) * 1000000LL;
    if (to_keepalive_ns < idle_ns)
    {
        idle_ns = to_keepalive_ns > 0 ? to_keepalive_ns : 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(idle_ns / 1000000000LL);
    until.tv_nsec += (long)(idle_ns % 1000000000LL);
    if (until.tv_nsec >= 1000000000L)
    {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (!shoal_load_acquire(&c->stop))
    {
        pthread_cond_timedwait(&c->wake, &c->lock, &until);
    }
}

int shoal_client_conductor_duty(shoal_client_t *c)
{
    const int64_t lapped = c->to_clients.lapped_count;
    int work = shoal_broadcast_receiver_receive(&c->to_clients, on_broadcast, c);
    if (work < 0)
    {
        /* A record the driver could not have written: corruption. */
        char what[256];
        snprintf(what, sizeof(what), "%s", shoal_errmsg());
        close_on_missed_events(c, what);
        work = 0;
    }
    else if (c->to_clients.lapped_count != lapped)
    {
        char what[160];
        snprintf(what, sizeof(what),
            "this client's conductor fell more than the %zu-byte broadcast buffer behind "
            "the driver",
            c->to_clients.capacity);
        close_on_missed_events(c, what);
    }
    if (!shoal_load_acquire(&c->closed))
    {
        check_driver(c, shoal_epoch_ms());
    }
    shoal_client_free_lingering(c, false, NULL);
    return work + pre_touch_images(c);
}

void *shoal_client_conductor_run(void *arg)
{
    shoal_client_t *c = arg;
    while (!shoal_load_acquire(&c->stop))
    {
        pthread_mutex_lock(&c->lock);
        if (shoal_client_conductor_duty(c) <= 0)
        {
            idle_wait(c, shoal_epoch_ms());
        }
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}
