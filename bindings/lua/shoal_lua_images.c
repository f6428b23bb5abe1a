/*
 * libshoal_lua: the image handlers of the LuaJIT binding (bindings/lua/shoal.lua).
 *
 * The C client calls image handlers on its own conductor thread (the client
 * always runs one; there is no "invoker" mode), or on the thread closing the
 * subscription or client. A LuaJIT FFI callback must never run on another OS
 * thread than the one owning the Lua state, so Lua functions cannot be the C
 * handlers. Instead the C handlers here copy each event (the image's fields,
 * read while the image handle is valid) into a per-subscription queue under a
 * mutex, and Lua drains the queue on its own thread (sub:poll_images(), also
 * done by every poll and by close) and calls the Lua handlers there.
 *
 * The SWIG module shoal.swig uses the same queue (swig/shoal_lua_images.i).
 * Built by CMake as libshoal_lua.so next to libshoal.so.0 (target shoal_lua);
 * it links against libshoal and exports only shoal_lua_* functions.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal_lua_images.h"

#define SHOAL_LUA_API __attribute__((visibility("default")))

struct shoal_lua_image_queue_stct
{
    pthread_mutex_t lock;
    shoal_lua_image_event_t *events;
    int32_t count;
    int32_t capacity;
    int32_t pending;         /* == count, read without the lock (atomic) */
};

SHOAL_LUA_API shoal_lua_image_queue_t *shoal_lua_image_queue_new(void)
{
    shoal_lua_image_queue_t *q = calloc(1, sizeof(*q));
    if (NULL != q)
    {
        pthread_mutex_init(&q->lock, NULL);
    }
    return q;
}

SHOAL_LUA_API void shoal_lua_image_queue_delete(shoal_lua_image_queue_t *q)
{
    if (NULL != q)
    {
        pthread_mutex_destroy(&q->lock);
        free(q->events);
        free(q);
    }
}

static void push(shoal_lua_image_queue_t *q, int32_t type, const shoal_image_t *image)
{
    shoal_lua_image_event_t e;
    memset(&e, 0, sizeof(e));
    e.type = type;
    e.session_id = shoal_image_session_id(image);
    e.stream_id = shoal_image_stream_id(image);
    e.correlation_id = shoal_image_correlation_id(image);
    e.join_position = shoal_image_join_position(image);
    e.position = shoal_image_position(image);
    e.is_closed = shoal_image_is_closed(image) ? 1 : 0;
    const char *source = shoal_image_source_identity(image);
    snprintf(e.source_identity, sizeof(e.source_identity), "%s", NULL == source ? "" : source);

    pthread_mutex_lock(&q->lock);
    if (q->count == q->capacity)
    {
        int32_t capacity = 0 == q->capacity ? 8 : q->capacity * 2;
        shoal_lua_image_event_t *events = realloc(q->events, (size_t)capacity * sizeof(*events));
        if (NULL == events)
        {
            pthread_mutex_unlock(&q->lock);   /* out of memory: the event is lost */
            return;
        }
        q->events = events;
        q->capacity = capacity;
    }
    q->events[q->count++] = e;
    __atomic_store_n(&q->pending, q->count, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&q->lock);
}

static void on_available(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    push(clientd, SHOAL_LUA_IMAGE_AVAILABLE, image);
}

static void on_unavailable(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    push(clientd, SHOAL_LUA_IMAGE_UNAVAILABLE, image);
}

SHOAL_LUA_API int shoal_lua_add_subscription(shoal_client_t *c, const char *uri, int32_t stream_id,
    shoal_lua_image_queue_t *q, shoal_subscription_t **sub)
{
    return shoal_add_subscription_with_handlers(c, uri, stream_id, on_available, on_unavailable, q, sub);
}

SHOAL_LUA_API int32_t shoal_lua_image_queue_pending(const shoal_lua_image_queue_t *q)
{
    return __atomic_load_n(&q->pending, __ATOMIC_ACQUIRE);
}

SHOAL_LUA_API int32_t shoal_lua_image_queue_drain(shoal_lua_image_queue_t *q, shoal_lua_image_event_t *out,
    int32_t max)
{
    if (max <= 0)
    {
        return 0;
    }
    pthread_mutex_lock(&q->lock);
    int32_t n = q->count < max ? q->count : max;
    if (n > 0)
    {
        memcpy(out, q->events, (size_t)n * sizeof(*out));
        memmove(q->events, q->events + n, (size_t)(q->count - n) * sizeof(*out));
        q->count -= n;
        __atomic_store_n(&q->pending, q->count, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}
