/*
 * The handle every closable object of the module is built on (Context,
 * Driver, Client, Publication, Subscription, Cnc, ArchiveReader,
 * ArchiveServer, Archive, ReplayMerge): its open/closing state,
 * close()/__enter__/__exit__/closed, the "is closed" check, and the deferred
 * C close -- written once here, parametrised by a HandleType.
 *
 * Lifetimes and "use after close never crashes"
 *   A handle is "closing" as soon as close() (or its parent's close()) is
 *   called: every later call raises ClosedError. The C close itself is
 *   deferred while the handle is busy: `busy` counts what still needs the C
 *   object -- operations in flight (a poll calling Python code, a wait with
 *   the GIL released, an open try_claim) and children (a client's
 *   publications and subscriptions). The one that drops the count to zero
 *   performs it. (A context is not held by its clients here: the C library
 *   refuses to close a context a client still uses, and close() raises.) All of this happens with
 *   the GIL held; loops running without the GIL only read `closing`
 *   (atomically) and stop.
 */
#ifndef SHOAL_PY_HANDLE_H
#define SHOAL_PY_HANDLE_H

#include "common.h"

typedef struct HandleObject HandleObject;

/* A handle's Python type with what the shared code needs to know about it.
 * The PyTypeObject comes first, so Py_TYPE(handle) is its HandleType (handle
 * types are not subclassable: no Py_TPFLAGS_BASETYPE). */
typedef struct
{
    PyTypeObject type;
    /* Optional: the handle's name in messages ("<name> is closed") when it is
     * not the type's own ("client" for shoal.Client). */
    const char *name;
    /* The C close of c_handle, already detached from self; with the GIL, which
     * it may release. -1 with an exception when the C object refuses to close
     * (a context a client still uses): the handle stays open. */
    int (*release)(HandleObject *self, void *c_handle);
    /* Optional: what close() does once `closing` is set (a client closes its children). */
    void (*on_close)(HandleObject *self);
    /* Optional: nonzero when the C object closed on its own (a client that lost its driver). */
    int (*lost)(HandleObject *self);
    /* Optional: 0 when close() may run now, else -1 with an exception -- a
     * close that would wait for the callback calling it (an image handler
     * inside the client conductor, a ReplayMerge's poll handler). */
    int (*check_close)(HandleObject *self);
} HandleType;

struct HandleObject
{
    PyObject_HEAD void *c_handle; /* the C object; NULL before it is opened and once released */
    int busy;                     /* what defers the C close: calls in flight, children, users */
    int closing;                  /* close() was called; read without the GIL by wait loops */
};

static inline const HandleType *handle_type(const HandleObject *self)
{
    return (const HandleType *)Py_TYPE(self);
}

/* The handle's name in messages: its type's name without "shoal.", unless the type names it otherwise. */
static inline const char *handle_name(const HandleObject *self)
{
    const char *name = handle_type(self)->name;
    return NULL != name ? name : Py_TYPE(self)->tp_name + strlen("shoal.");
}

static inline int handle_is_open(const HandleObject *self)
{
    return NULL != self->c_handle && !self->closing;
}

/* 0 when open, else -1 with ClosedError("<name> is closed"). */
int handle_check(HandleObject *self);

/* The C object of an open handle (what a getter reads), else NULL with ClosedError. */
static inline void *handle_c_checked(HandleObject *self)
{
    return handle_check(self) < 0 ? NULL : self->c_handle;
}

/* Defines the getter fn (a tp_getset entry's, closure unused): to_python(c_get(c))
 * of the open handle's C object c, else NULL with ClosedError. One function per
 * value, as each C accessor takes its own object type. */
#define HANDLE_GETTER(fn, to_python, c_get)                                                                            \
    static PyObject *fn(PyObject *self, void *closure)                                                                 \
    {                                                                                                                  \
        (void)closure;                                                                                                 \
        void *c = handle_c_checked((HandleObject *)self);                                                              \
        return NULL == c ? NULL : to_python(c_get(c));                                                                 \
    }

/* Marks the handle as open on c_handle (after the C open succeeded). */
void handle_open(HandleObject *self, void *c_handle);

/* An operation that may run Python code or release the GIL: keeps the C
 * object (and a reference to self) until handle_op_end. */
void handle_op_begin(HandleObject *self);
void handle_op_end(HandleObject *self);

/* A child or user of self: defers the C close like an operation, without a
 * reference (the child holds its own). */
void handle_hold(HandleObject *self);
void handle_unhold(HandleObject *self);

/* Sets `closing` and runs the type's on_close; the C close follows once
 * nothing holds the handle. Idempotent. -1 with an exception when the C
 * object refused to close now (the handle stays open). */
int handle_close(HandleObject *self);

/* "<shoal.Name closed>": the repr of a handle once it is closed. */
PyObject *handle_repr_closed(HandleObject *self);

/* For tp_dealloc: the C close now (nothing can hold a handle being freed). */
void handle_release_now(HandleObject *self);

/* The Python side of every handle. */
PyObject *Handle_close(PyObject *self, PyObject *unused);
PyObject *Handle_enter(PyObject *self, PyObject *unused);
PyObject *Handle_exit(PyObject *self, PyObject *args);
PyObject *Handle_get_closed(PyObject *self, void *closure);

/* close / __enter__ / __exit__ entries of a handle type's method table. */
#define HANDLE_METHODS(close_doc)                                                                                      \
    { "close", (PyCFunction)Handle_close, METH_NOARGS, close_doc },                                                    \
        { "__enter__", (PyCFunction)Handle_enter, METH_NOARGS, NULL },                                                 \
    {                                                                                                                  \
        "__exit__", (PyCFunction)Handle_exit, METH_VARARGS, NULL                                                       \
    }

/* The close flag of a handle type, as a getset entry; doc says when it turns
 * true. HANDLE_GETSET_IS_CLOSED: is_closed, and closed as its alias. */
#define HANDLE_GETSET_CLOSED(doc)                                                                                      \
    {                                                                                                                  \
        "closed", Handle_get_closed, NULL, doc, NULL                                                                   \
    }
#define HANDLE_GETSET_IS_CLOSED(doc)                                                                                   \
    { "is_closed", Handle_get_closed, NULL, doc, NULL }, HANDLE_GETSET_CLOSED("Alias of is_closed.")

/* The HandleType of shoal.<Name>, named once: its instances are Name##Object,
 * its tables Name##_methods and Name##_getset (with the HANDLE_METHODS and
 * closed entries), release closes the C object. Used as
 *     HandleType NameType = { HANDLE_TYPE(Name, dealloc, release, doc), <more> };
 * where <more> gives further slots as .type.tp_<slot> = ... (a designator
 * inside .type after .type = {...} keeps the rest of it, C11 6.7.9) and the
 * optional hooks (.name, .on_close, .lost, .check_close). */
#define HANDLE_TYPE(Name, dealloc, release_fn, doc)                                                                    \
    HANDLE_TYPE_FLAGS(Name, Py_TPFLAGS_DEFAULT, dealloc, release_fn, doc)
#define HANDLE_TYPE_FLAGS(Name, flags, dealloc, release_fn, doc)                                                       \
    .type = { SHOAL_TYPE_HEAD(#Name, Name##Object, dealloc, flags, doc), .tp_methods = Name##_methods,                 \
        .tp_getset = Name##_getset },                                                                                  \
    .release = release_fn

/* The slots of a handle type users construct (Context, Driver, Client, Cnc
 * and the archive types): Name##_init on a generic new. */
#define HANDLE_CONSTRUCTED(Name) .type.tp_init = (initproc)Name##_init, .type.tp_new = PyType_GenericNew

#endif
