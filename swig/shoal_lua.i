/*
 * shoal_lua.i: SWIG interface of libshoal for Lua, giving the module
 * `shoal.swig` (require "shoal.swig") for plain Lua 5.1 API users (LuaJIT
 * runs it too). It wraps the public header core/include/shoal/shoal.h as is
 * (%include, so it cannot drift), with Lua typemaps for what SWIG cannot map
 * by itself:
 *   - out-parameter handles (T **) become extra return values:
 *       local rc, ctx = swig.shoal_context_init()
 *       local rc, pub = swig.shoal_add_publication(client, "aeron:ipc", 1001)
 *   - (const uint8_t *buf, size_t len) takes a Lua string:
 *       local pos = swig.shoal_publication_offer(pub, "hello")
 *   - callbacks: the C function-pointer calls are replaced by native
 *     functions taking Lua functions (see the bottom of this file):
 *       swig.poll(sub, function(data, header) ... end [, limit])   -> count
 *       swig.controlled_poll(sub, function(data, header) return swig.SHOAL_ACTION_CONTINUE end [, limit])
 *       swig.poll_batch(sub [, max])        -> count, { {data=..., header}, ... }
 *       swig.offerv(pub, { "part1", "part2" })                      -> position
 *       swig.claim_put(claim, offset, "bytes") / swig.claim_get(claim, offset, n)
 *       swig.image_events(queue [, max])    -> count, { {type="available", session_id=...}, ... }
 *     image handlers: the C client calls them on its conductor thread, where
 *     Lua must not run, so shoal_add_subscription_with_handlers is replaced
 *     by shoal_lua_add_subscription(client, uri, stream, queue), whose events
 *     Lua drains with image_events (swig/shoal_lua_images.i; the module links
 *     libshoal_lua.so, CMake target shoal_lua).
 *     `header` is a table: session_id, stream_id, term_id, term_offset,
 *     frame_length, flags, reserved_value, position.
 * Results follow the C API exactly: return codes, swig.shoal_errcode() and
 * swig.shoal_errmsg(); misuse of a native (wrong argument type) raises a Lua
 * error. Handles are NOT garbage collected: close them with the shoal_*_close
 * functions, as in C.
 *
 * Two ways to build it (scripts/test_lua.sh picks the second once swig/shoal.i
 * includes this file, else the first):
 *   swig4.0 -lua -nomoduleglobal -Icore/include swig/shoal_lua.i
 *   swig4.0 -lua -nomoduleglobal -module shoal_swig -Iswig -Icore/include swig/shoal.i
 * For the second, swig/shoal.i (shared with Python, which already maps the
 * out-parameter handles and Lua strings) has, before %include "shoal/shoal.h":
 *     #if defined(SWIGLUA)
 *     #define SHOAL_LUA_EMBEDDED
 *     %include "shoal_lua.i"
 *     #endif
 * and this file then adds only what Lua still lacks: the callback natives.
 */
#ifndef SHOAL_LUA_EMBEDDED
%module shoal_swig
#endif

%{
#include <stdlib.h>
#include <string.h>
#include "shoal/shoal.h"
%}

#ifndef SHOAL_LUA_EMBEDDED
%include <stdint.i>

/* ---- handles returned through T ** out-parameters ---- */
%define SHOAL_OUT_HANDLE(TYPE, NAME)
%typemap(in, numinputs=0) TYPE **NAME (TYPE *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) TYPE **NAME {
    if (tmp$argnum) {
        SWIG_NewPointerObj(L, tmp$argnum, $*1_descriptor, 0);
    } else {
        lua_pushnil(L);
    }
    SWIG_arg++;
}
%enddef
SHOAL_OUT_HANDLE(shoal_context_t, ctx)
SHOAL_OUT_HANDLE(shoal_driver_t, driver)
SHOAL_OUT_HANDLE(shoal_client_t, client)
SHOAL_OUT_HANDLE(shoal_publication_t, pub)
SHOAL_OUT_HANDLE(shoal_subscription_t, sub)

/* ---- byte buffers: a Lua string ---- */
%typemap(in, checkfn="lua_isstring") (const uint8_t *buf, size_t len) {
    size_t shoal_len_ = 0;
    $1 = ($1_ltype)lua_tolstring(L, $input, &shoal_len_);
    $2 = shoal_len_;
}

/* ---- what plain Lua cannot use here: replaced by the natives below ---- */
%ignore shoal_driver_run;                  /* blocks until a C flag flips: use shoald */
%ignore shoal_subscription_poll_batch;     /* -> poll_batch */
%ignore shoal_publication_offerv;          /* -> offerv */
%ignore shoal_fragment_stct;               /* views used by poll_batch only */
%ignore shoal_iovec_stct;
#endif

/* C function-pointer parameters cannot take a Lua function: natives below. */
%ignore shoal_context_set_error_handler;   /* would run Lua on the conductor thread */
%ignore shoal_add_subscription_with_handlers; /* likewise: shoal_lua_add_subscription + image_events */
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

%native(poll) int shoal_lua_poll(lua_State *L);
%native(controlled_poll) int shoal_lua_controlled_poll(lua_State *L);
%native(poll_batch) int shoal_lua_poll_batch(lua_State *L);
%native(offerv) int shoal_lua_offerv(lua_State *L);
%native(claim_put) int shoal_lua_claim_put(lua_State *L);
%native(claim_get) int shoal_lua_claim_get(lua_State *L);

#ifndef SHOAL_LUA_EMBEDDED
/* The whole header, as is. POD views are read-only from Lua (a claim's
 * pointers must not be edited). */
%immutable;
%include "shoal/shoal.h"
%mutable;
/* image handlers through an event queue (after the header: it uses its types) */
%include "shoal_lua_images.i"
#endif
