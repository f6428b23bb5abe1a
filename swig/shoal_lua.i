/*
 * shoal_lua.i: the Lua part of the SWIG module `shoal.swig` (require
 * "shoal.swig"), for plain Lua 5.1 API users (LuaJIT runs it too). Included
 * by swig/shoal.i under SWIGLUA, which wraps the public header as is and maps
 * the out-parameter handles and Lua strings:
 *   swig4.0 -lua -nomoduleglobal -module shoal_swig -Iswig -Icore/include swig/shoal.i
 * This file adds the natives for what SWIG cannot map by itself (callbacks
 * taking Lua functions, byte access):
 *       swig.poll(sub, function(data, header) ... end [, limit])   -> count
 *       swig.controlled_poll(sub, function(data, header) return swig.SHOAL_ACTION_CONTINUE end [, limit])
 *       swig.poll_batch(sub [, max])        -> count, { {data=..., header}, ... }
 *       swig.offerv(pub, { "part1", "part2" })                      -> position
 *       swig.claim_put(claim, offset, "bytes") / swig.claim_get(claim, offset, n)
 *       swig.add_subscription_with_handlers(client, uri, stream, on_available, on_unavailable) -> rc, sub
 *     `header` is a table: session_id, stream_id, term_id, term_offset,
 *     frame_length, flags, reserved_value, position.
 *     Image handlers get a table: session_id, stream_id, correlation_id,
 *     source_identity, join_position, position, is_closed. They need a client
 *     in conductor-invoker mode (swig.shoal_context_set_use_conductor_invoker(ctx,
 *     true) before swig.shoal_client_connect): they then run on the Lua
 *     thread, in swig.shoal_client_do_work(client) and in the client's add and
 *     close calls; a threaded client would call them on its conductor thread,
 *     where no Lua may run, so it is refused. A handler error goes to stderr.
 * Results follow the C API exactly: return codes, swig.shoal_errcode() and
 * swig.shoal_errmsg(); misuse of a native (wrong argument type) raises a Lua
 * error. Handles are NOT garbage collected: close them with the shoal_*_close
 * functions, as in C.
 */
%{
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shoal/shoal.h"
%}

/* C function-pointer parameters cannot take a Lua function: natives below. */
%ignore shoal_context_set_error_handler;   /* would run Lua on the conductor thread */
%ignore shoal_add_subscription_with_handlers; /* -> add_subscription_with_handlers (Lua functions) */
%ignore shoal_subscription_poll;           /* -> poll */
%ignore shoal_subscription_controlled_poll;/* -> controlled_poll */

%{
/* ---- natives: Lua-function callbacks and byte access ---- */

static shoal_subscription_t *shoal_lua_check_sub(lua_State *L, int idx)
{
    shoal_subscription_t *s = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, (void **)&s, SWIGTYPE_p_shoal_subscription_stct, 0)) || NULL == s) {
        luaL_argerror(L, idx, "expected a shoal_subscription_t handle");
    }
    return s;
}

static shoal_publication_t *shoal_lua_check_pub(lua_State *L, int idx)
{
    shoal_publication_t *p = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, (void **)&p, SWIGTYPE_p_shoal_publication_stct, 0)) || NULL == p) {
        luaL_argerror(L, idx, "expected a shoal_publication_t handle");
    }
    return p;
}

static shoal_claim_t *shoal_lua_check_claim(lua_State *L, int idx)
{
    shoal_claim_t *c = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, idx, (void **)&c, SWIGTYPE_p_shoal_claim_stct, 0)) || NULL == c) {
        luaL_argerror(L, idx, "expected a shoal_claim_t");
    }
    return c;
}

static size_t shoal_lua_check_count(lua_State *L, int idx, lua_Integer dflt)
{
    lua_Integer n = luaL_optinteger(L, idx, dflt);
    if (n < 0) {
        luaL_argerror(L, idx, "must not be negative");
    }
    return (size_t)n;
}

static void shoal_lua_push_header(lua_State *L, const shoal_header_t *h)
{
    lua_createtable(L, 0, 8);
    lua_pushnumber(L, h->session_id); lua_setfield(L, -2, "session_id");
    lua_pushnumber(L, h->stream_id); lua_setfield(L, -2, "stream_id");
    lua_pushnumber(L, h->term_id); lua_setfield(L, -2, "term_id");
    lua_pushnumber(L, h->term_offset); lua_setfield(L, -2, "term_offset");
    lua_pushnumber(L, h->frame_length); lua_setfield(L, -2, "frame_length");
    lua_pushnumber(L, h->flags); lua_setfield(L, -2, "flags");
    lua_pushnumber(L, (lua_Number)h->reserved_value); lua_setfield(L, -2, "reserved_value");
    lua_pushnumber(L, (lua_Number)h->position); lua_setfield(L, -2, "position");
}

typedef struct shoal_lua_poll_stct
{
    lua_State *L;
    int fn;          /* stack index of the Lua handler */
    int controlled;  /* the handler's return value is an action */
    int failed;      /* the handler raised: its message is on the stack top */
} shoal_lua_poll_t;

static shoal_controlled_action_t shoal_lua_on_message(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    shoal_lua_poll_t *pc = (shoal_lua_poll_t *)clientd;
    lua_State *L = pc->L;
    shoal_controlled_action_t action = SHOAL_ACTION_CONTINUE;
    lua_pushvalue(L, pc->fn);
    lua_pushlstring(L, (const char *)buf, len);
    shoal_lua_push_header(L, hdr);
    if (0 != lua_pcall(L, 2, 1, 0)) {
        pc->failed = 1;             /* the message is consumed, the poll stops, the error is re-raised */
        return SHOAL_ACTION_BREAK;
    }
    if (pc->controlled && lua_isnumber(L, -1)) {
        lua_Integer a = lua_tointeger(L, -1);
        if (a >= SHOAL_ACTION_ABORT && a <= SHOAL_ACTION_CONTINUE) {
            action = (shoal_controlled_action_t)a;
        }
    }
    lua_pop(L, 1);
    return action;
}

static int shoal_lua_poll_common(lua_State *L, int controlled)
{
    shoal_subscription_t *s = shoal_lua_check_sub(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    size_t limit = shoal_lua_check_count(L, 3, 10);
    lua_settop(L, 3);
    shoal_lua_poll_t pc = { L, 2, controlled, 0 };
    int n = shoal_subscription_controlled_poll(s, shoal_lua_on_message, &pc, limit);
    if (pc.failed) {
        return lua_error(L);
    }
    lua_pushinteger(L, n);
    return 1;
}

/* poll(sub, fn(data, header) [, limit]) -> count (or -1: see shoal_errmsg) */
static int shoal_lua_poll(lua_State *L)
{
    return shoal_lua_poll_common(L, 0);
}

/* controlled_poll(sub, fn(data, header) -> action [, limit]) -> count; nil means CONTINUE */
static int shoal_lua_controlled_poll(lua_State *L)
{
    return shoal_lua_poll_common(L, 1);
}

/* poll_batch(sub [, max]) -> count, { {data = string, header = {...}}, ... } (or -1) */
static int shoal_lua_poll_batch(lua_State *L)
{
    shoal_subscription_t *s = shoal_lua_check_sub(L, 1);
    size_t max = shoal_lua_check_count(L, 2, 64);
    if (max < 1 || max > 65536) {
        return luaL_argerror(L, 2, "must be in [1, 65536]");
    }
    shoal_fragment_t *frags = (shoal_fragment_t *)malloc(max * sizeof(*frags));
    if (NULL == frags) {
        return luaL_error(L, "poll_batch: out of memory");
    }
    int n = shoal_subscription_poll_batch(s, frags, max);
    lua_pushinteger(L, n);
    lua_createtable(L, n > 0 ? n : 0, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, (const char *)frags[i].data, frags[i].length);
        lua_setfield(L, -2, "data");
        shoal_lua_push_header(L, &frags[i].header);
        lua_setfield(L, -2, "header");
        lua_rawseti(L, -2, i + 1);
    }
    free(frags);
    return 2;
}

/* offerv(pub, { s1, s2, ... }) -> position or negative result code */
static int shoal_lua_offerv(lua_State *L)
{
    shoal_publication_t *p = shoal_lua_check_pub(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = lua_objlen(L, 2);
    shoal_iovec_t small[16];
    shoal_iovec_t *iov = n <= 16 ? small : (shoal_iovec_t *)malloc(n * sizeof(*iov));
    if (NULL == iov) {
        return luaL_error(L, "offerv: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        if (!lua_isstring(L, -1)) {
            if (iov != small) {
                free(iov);
            }
            return luaL_error(L, "offerv: part %d is not a string", (int)i + 1);
        }
        size_t len = 0;
        iov[i].base = (const uint8_t *)lua_tolstring(L, -1, &len);  /* the table keeps the string alive */
        iov[i].length = len;
        lua_pop(L, 1);
    }
    int64_t r = shoal_publication_offerv(p, iov, n);
    if (iov != small) {
        free(iov);
    }
    lua_pushnumber(L, (lua_Number)r);
    return 1;
}

/* claim_put(claim, offset, string): copies string into the claimed range */
static int shoal_lua_claim_put(lua_State *L)
{
    shoal_claim_t *c = shoal_lua_check_claim(L, 1);
    size_t off = shoal_lua_check_count(L, 2, 0);
    size_t len = 0;
    const char *s = luaL_checklstring(L, 3, &len);
    if (NULL == c->data) {
        return luaL_error(L, "claim_put: the claim is not pending");
    }
    if (off > c->length || len > c->length - off) {
        return luaL_error(L, "claim_put: %d bytes at offset %d exceed the claimed %d bytes", (int)len, (int)off,
            (int)c->length);
    }
    memcpy(c->data + off, s, len);
    return 0;
}

/* claim_get(claim, offset, n) -> string: reads back the claimed range */
static int shoal_lua_claim_get(lua_State *L)
{
    shoal_claim_t *c = shoal_lua_check_claim(L, 1);
    size_t off = shoal_lua_check_count(L, 2, 0);
    size_t len = shoal_lua_check_count(L, 3, (lua_Integer)(c->length > off ? c->length - off : 0));
    if (NULL == c->data) {
        return luaL_error(L, "claim_get: the claim is not pending");
    }
    if (off > c->length || len > c->length - off) {
        return luaL_error(L, "claim_get: range exceeds the claimed %d bytes", (int)c->length);
    }
    lua_pushlstring(L, (const char *)c->data + off, len);
    return 1;
}
%}


%{
/* ---- image handlers: Lua functions called from the C handlers, which run
 * on the Lua thread in conductor-invoker mode (see the top of this file) ---- */
typedef struct shoal_lua_handlers_stct
{
    lua_State *L;
    int on_available;            /* registry references, LUA_NOREF when absent */
    int on_unavailable;
    shoal_client_t *client;
    shoal_subscription_t *sub;   /* NULL until the add returned */
    struct shoal_lua_handlers_stct *next;
} shoal_lua_handlers_t;

static shoal_lua_handlers_t *shoal_lua_all_handlers;   /* the Lua thread's own */

static void shoal_lua_call_handler(shoal_lua_handlers_t *h, int ref, const shoal_image_t *image)
{
    lua_State *L = h->L;
    if (LUA_NOREF == ref) {
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_createtable(L, 0, 7);
    lua_pushnumber(L, shoal_image_session_id(image)); lua_setfield(L, -2, "session_id");
    lua_pushnumber(L, shoal_image_stream_id(image)); lua_setfield(L, -2, "stream_id");
    lua_pushnumber(L, (lua_Number)shoal_image_correlation_id(image)); lua_setfield(L, -2, "correlation_id");
    lua_pushstring(L, shoal_image_source_identity(image)); lua_setfield(L, -2, "source_identity");
    lua_pushnumber(L, (lua_Number)shoal_image_join_position(image)); lua_setfield(L, -2, "join_position");
    lua_pushnumber(L, (lua_Number)shoal_image_position(image)); lua_setfield(L, -2, "position");
    lua_pushboolean(L, shoal_image_is_closed(image)); lua_setfield(L, -2, "is_closed");
    if (0 != lua_pcall(L, 1, 0, 0)) {
        fprintf(stderr, "shoal.swig: image handler error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

static void shoal_lua_on_available(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    shoal_lua_handlers_t *h = (shoal_lua_handlers_t *)clientd;
    (void)sub;
    shoal_lua_call_handler(h, h->on_available, image);
}

static void shoal_lua_on_unavailable(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    shoal_lua_handlers_t *h = (shoal_lua_handlers_t *)clientd;
    (void)sub;
    shoal_lua_call_handler(h, h->on_unavailable, image);
}

static void shoal_lua_free_handlers(lua_State *L, shoal_lua_handlers_t *h)
{
    luaL_unref(L, LUA_REGISTRYINDEX, h->on_available);
    luaL_unref(L, LUA_REGISTRYINDEX, h->on_unavailable);
    free(h);
}

/* After a close: the handlers of sub, or of every subscription of client. */
static void shoal_lua_forget_handlers(lua_State *L, const shoal_subscription_t *sub, const shoal_client_t *client)
{
    shoal_lua_handlers_t **at = &shoal_lua_all_handlers;
    while (NULL != *at) {
        shoal_lua_handlers_t *h = *at;
        if ((NULL != sub && h->sub == sub) || (NULL != client && h->client == client)) {
            *at = h->next;
            shoal_lua_free_handlers(L, h);
        } else {
            at = &h->next;
        }
    }
}

static int shoal_lua_handler_ref(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) {
        return LUA_NOREF;
    }
    luaL_checktype(L, idx, LUA_TFUNCTION);
    lua_pushvalue(L, idx);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* add_subscription_with_handlers(client, uri, stream, on_available, on_unavailable) -> rc, sub|nil */
static int shoal_lua_add_subscription_with_handlers(lua_State *L)
{
    shoal_client_t *c = NULL;
    if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&c, SWIGTYPE_p_shoal_client_stct, 0)) || NULL == c) {
        return luaL_argerror(L, 1, "expected a shoal_client_t handle");
    }
    const char *uri = luaL_checkstring(L, 2);
    lua_Integer stream = luaL_checkinteger(L, 3);
    if (!shoal_client_is_conductor_invoker(c)) {
        return luaL_error(L, "add_subscription_with_handlers: the client must be in conductor-invoker mode "
            "(shoal_context_set_use_conductor_invoker(ctx, true) before connecting): its conductor thread "
            "cannot run Lua");
    }
    shoal_lua_handlers_t *h = (shoal_lua_handlers_t *)calloc(1, sizeof(*h));
    if (NULL == h) {
        return luaL_error(L, "add_subscription_with_handlers: out of memory");
    }
    h->L = L;
    h->client = c;
    h->on_available = shoal_lua_handler_ref(L, 4);
    h->on_unavailable = shoal_lua_handler_ref(L, 5);
    shoal_subscription_t *sub = NULL;
    int rc = shoal_add_subscription_with_handlers(c, uri, (int32_t)stream, shoal_lua_on_available,
        shoal_lua_on_unavailable, h, &sub);
    if (rc < 0) {
        shoal_lua_free_handlers(L, h);
        lua_pushnumber(L, rc);
        lua_pushnil(L);
        return 2;
    }
    h->sub = sub;
    h->next = shoal_lua_all_handlers;
    shoal_lua_all_handlers = h;
    lua_pushnumber(L, rc);
    SWIG_NewPointerObj(L, sub, SWIGTYPE_p_shoal_subscription_stct, 0);
    return 2;
}
%}

%native(poll) int shoal_lua_poll(lua_State *L);
%native(controlled_poll) int shoal_lua_controlled_poll(lua_State *L);
%native(poll_batch) int shoal_lua_poll_batch(lua_State *L);
%native(offerv) int shoal_lua_offerv(lua_State *L);
%native(claim_put) int shoal_lua_claim_put(lua_State *L);
%native(claim_get) int shoal_lua_claim_get(lua_State *L);
%native(add_subscription_with_handlers) int shoal_lua_add_subscription_with_handlers(lua_State *L);

/* The handlers' Lua references go with their subscription (or client). */
%exception shoal_subscription_close {
    $action
    shoal_lua_forget_handlers(L, arg1, NULL);
}
%exception shoal_client_close {
    $action
    shoal_lua_forget_handlers(L, NULL, arg1);
}

