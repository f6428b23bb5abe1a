/*
 * shoal_lua_images.i: image handlers for the SWIG Lua module shoal.swig,
 * %included after the public header by swig/shoal_lua.i (standalone) or
 * swig/shoal.i (under SWIGLUA). Lua only: the Python module has its own.
 *
 * The C client calls image handlers on its conductor thread, where no Lua
 * code may run, so shoal_add_subscription_with_handlers is not wrapped.
 * Instead libshoal_lua (bindings/lua/shoal_lua_images.c, also used by the FFI
 * module) gives C handlers that queue each event, and Lua drains the queue on
 * its own thread:
 *     local q = swig.shoal_lua_image_queue_new()
 *     local rc, sub = swig.shoal_lua_add_subscription(client, "aeron:ipc", 1001, q)
 *     ...
 *     local n, events = swig.image_events(q [, max])   -- events[i]: a table
 *       -- type ("available" | "unavailable"), session_id, stream_id,
 *       -- correlation_id, source_identity, join_position, position, is_closed
 *     swig.shoal_subscription_close(sub)   -- queues on_unavailable for the images left
 *     swig.image_events(q)                 -- ... drain them
 *     swig.shoal_lua_image_queue_delete(q) -- only after the subscription (or client) is closed
 * The module links libshoal_lua.so (built next to libshoal.so.0).
 */
%{
#include "shoal_lua_images.h"

static shoal_lua_image_queue_t *shoal_lua_check_queue(lua_State *L, int idx)
{
    shoal_lua_image_queue_t *q = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, (void **)&q, SWIGTYPE_p_shoal_lua_image_queue_stct, 0)) || NULL == q) {
        luaL_argerror(L, idx, "expected a shoal_lua_image_queue_t from shoal_lua_image_queue_new()");
    }
    return q;
}

/* image_events(queue [, max]) -> n, { event, ... } (oldest first) */
static int shoal_lua_image_events(lua_State *L)
{
    shoal_lua_image_queue_t *q = shoal_lua_check_queue(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 64);
    if (max < 1 || max > 65536) {
        return luaL_argerror(L, 2, "max must be in [1, 65536]");
    }
    shoal_lua_image_event_t *events = (shoal_lua_image_event_t *)malloc((size_t)max * sizeof(*events));
    if (NULL == events) {
        return luaL_error(L, "image_events: out of memory");
    }
    int32_t n = shoal_lua_image_queue_drain(q, events, (int32_t)max);
    lua_pushnumber(L, n);
    lua_createtable(L, n, 0);
    for (int32_t i = 0; i < n; i++) {
        const shoal_lua_image_event_t *e = &events[i];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, SHOAL_LUA_IMAGE_AVAILABLE == e->type ? "available" : "unavailable");
        lua_setfield(L, -2, "type");
        lua_pushnumber(L, e->session_id); lua_setfield(L, -2, "session_id");
        lua_pushnumber(L, e->stream_id); lua_setfield(L, -2, "stream_id");
        lua_pushnumber(L, (lua_Number)e->correlation_id); lua_setfield(L, -2, "correlation_id");
        lua_pushstring(L, e->source_identity); lua_setfield(L, -2, "source_identity");
        lua_pushnumber(L, (lua_Number)e->join_position); lua_setfield(L, -2, "join_position");
        lua_pushnumber(L, (lua_Number)e->position); lua_setfield(L, -2, "position");
        lua_pushboolean(L, e->is_closed); lua_setfield(L, -2, "is_closed");
        lua_rawseti(L, -2, i + 1);
    }
    free(events);
    return 2;
}
%}

typedef struct shoal_lua_image_queue_stct shoal_lua_image_queue_t;
shoal_lua_image_queue_t *shoal_lua_image_queue_new(void);
void shoal_lua_image_queue_delete(shoal_lua_image_queue_t *q);
int shoal_lua_add_subscription(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_lua_image_queue_t *q,
    shoal_subscription_t **sub);
int32_t shoal_lua_image_queue_pending(const shoal_lua_image_queue_t *q);
%native(image_events) int shoal_lua_image_events(lua_State *L);
