/* shoal.Context and how drivers and clients become its users. */
#ifndef SHOAL_PY_CONTEXT_H
#define SHOAL_PY_CONTEXT_H

#include "handle.h"

/* h.c_handle: the shoal_context_t; h.busy: the drivers and clients using it
 * (its C close waits for the last one). */
typedef struct
{
    HandleObject h;
    PyObject *error_handler;  /* callable(errcode, message) or NULL */
} ContextObject;

extern HandleType ContextType;

/* Driver.__init__ and Client.__init__: parses ctx, refuses a second
 * __init__ (*started), makes user a user of ctx (kept with a reference in
 * *slot) and opens it on start(ctx), called without the GIL (NULL: failed,
 * shoal_errmsg says why). -1 with an exception. */
int context_user_open(HandleObject *user, PyObject *args, PyObject *kwds, const char *type_name, int *started,
    ContextObject **slot, void *(*start)(shoal_context_t *ctx));

/* A user is done (its C object closed): the context may close now. */
static inline void context_user_end(ContextObject *ctx)
{
    handle_unhold(&ctx->h);
}

/* ctx's directory as str; ClosedError("<owner> is closed") once ctx is gone. */
PyObject *context_dir(ContextObject *ctx, const char *owner);

#endif
