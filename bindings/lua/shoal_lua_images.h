/*
 * libshoal_lua: queue of image events for the Lua bindings (LuaJIT FFI module
 * bindings/lua/shoal.lua and the SWIG module shoal.swig). See
 * shoal_lua_images.c for why the Lua handlers cannot be the C handlers.
 */
#ifndef SHOAL_LUA_IMAGES_H
#define SHOAL_LUA_IMAGES_H

#include <stdint.h>

#include "shoal/shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SHOAL_LUA_IMAGE_AVAILABLE = 1, SHOAL_LUA_IMAGE_UNAVAILABLE = 2 };

/* One image event: the image's fields, copied while its handle was valid. */
typedef struct shoal_lua_image_event_stct
{
    int32_t type;            /* SHOAL_LUA_IMAGE_AVAILABLE or _UNAVAILABLE */
    int32_t session_id;
    int32_t stream_id;
    int32_t is_closed;
    int64_t correlation_id;
    int64_t join_position;
    int64_t position;        /* when the event happened */
    char source_identity[128];
} shoal_lua_image_event_t;

typedef struct shoal_lua_image_queue_stct shoal_lua_image_queue_t;

/* NULL when out of memory. */
shoal_lua_image_queue_t *shoal_lua_image_queue_new(void);
/* Only once the subscription (or its client) is closed: no handler runs then. */
void shoal_lua_image_queue_delete(shoal_lua_image_queue_t *q);
/* shoal_add_subscription_with_handlers with C handlers that queue into q. */
int shoal_lua_add_subscription(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_lua_image_queue_t *q,
    shoal_subscription_t **sub);
/* Events queued now (one atomic load: cheap enough for every poll). */
int32_t shoal_lua_image_queue_pending(const shoal_lua_image_queue_t *q);
/* Moves up to max events, oldest first, into out; returns how many. */
int32_t shoal_lua_image_queue_drain(shoal_lua_image_queue_t *q, shoal_lua_image_event_t *out, int32_t max);

#ifdef __cplusplus
}
#endif

#endif
