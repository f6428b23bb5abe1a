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

/* The start of Driver.__init__ and Client.__init__ (format "O:Type"):
 * parses ctx, refuses a second __init__ (*started), and makes the object a
 * user of ctx, stored with a reference in *slot. NULL with an exception. */
ContextObject *context_user_begin(PyObject *args, PyObject *kwds, const char *format, const char *type_name,
    int *started, ContextObject **slot);

/* Undoes context_user_begin after the C start failed. */
void context_user_failed(ContextObject **slot);

/* A user is done (its C object closed): the context may close now. */
static inline void context_user_end(ContextObject *ctx)
{
    handle_unhold(&ctx->h);
}

/* ctx's directory as str; ClosedError("<owner> is closed") once ctx is gone. */
PyObject *context_dir(ContextObject *ctx, const char *owner);

#endif
