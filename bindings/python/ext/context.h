/* shoal.Context and how drivers and clients become its users. */
#ifndef SHOAL_PY_CONTEXT_H
#define SHOAL_PY_CONTEXT_H

#include "handle.h"

/* h.c_handle: the shoal_context_t (its clients hold it in the C library:
 * shoal_context_close refuses while one is open). */
typedef struct
{
    HandleObject h;
    PyObject *error_handler;       /* callable(errcode, message) or NULL */
    PyThread_type_lock start_lock; /* serialises driver starts and client connects */
    int users;                     /* live drivers and clients: settings are read-only then */
} ContextObject;

extern HandleType ContextType;

/* Driver.__init__ and Client.__init__: checks ctx_obj is an open Context,
 * refuses a second __init__ (*started), opens user on start(ctx, arg) --
 * called without the GIL, one start at a time per context, so a start may
 * set what it reads (NULL: failed, shoal_errmsg says why) -- and keeps the
 * context with a reference in *slot. -1 with an exception. */
int context_user_open(HandleObject *user, PyObject *ctx_obj, const char *type_name, int *started, ContextObject **slot,
    void *(*start)(shoal_context_t *ctx, void *arg), void *arg);

/* A Driver or an ArchiveServer: a service running on its own thread, started
 * on a context (one of its users until it stops), in a directory. */
typedef struct
{
    HandleObject h;              /* c_handle: the shoal_driver_t / shoal_archive_server_t */
    ContextObject *ctx;          /* strong */
    PyObject *dir;               /* str: the driver directory / the archive directory */
    int (*stop)(void *c_handle); /* the C close of c_handle: joins the service's thread */
    int started;
} ServiceObject;

/* Driver.__init__ and ArchiveServer.__init__: context_user_open for a
 * service that stop will close. */
int service_open(ServiceObject *self, PyObject *ctx_obj, const char *type_name,
    void *(*start)(shoal_context_t *ctx, void *arg), void *arg, int (*stop)(void *c_handle));

/* The release of a ServiceObject's type: stop without the GIL (it joins the
 * service's thread, which may need the GIL to finish), then ctx has a user less. */
int service_release(HandleObject *h, void *c_handle);

/* tp_dealloc of a ServiceObject: its C close now, then its references. */
void service_dealloc(ServiceObject *self);

/* A user is done (its C object closed): settings may change again. */
static inline void context_user_end(ContextObject *ctx)
{
    ctx->users--;
}

/* ctx's directory as str; ClosedError("<owner> is closed") once ctx is gone. */
PyObject *context_dir(ContextObject *ctx, const char *owner);

#endif
