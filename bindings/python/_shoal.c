/*
 * shoal._shoal -- the hand-written CPython extension behind the `shoal`
 * package (C99). The pure-Python package re-exports these types; see
 * bindings/python/shoal/_shoal.pyi for the documented signatures.
 *
 * Hot paths
 *   Publication.offer / offer_nowait take any C-contiguous buffer-protocol
 *   object (bytes fast path, else Py_buffer) and call shoal_publication_offer
 *   with the GIL held: one attempt costs less than a GIL hand-off. Only when
 *   the caller asks to wait (timeout=) does the retry loop run with the GIL
 *   released. Subscription.poll_batch / poll_records / poll_into use
 *   shoal_subscription_poll_batch, so no C->Python callback is involved;
 *   poll() calls the Python handler from inside the C poll.
 *
 * Lifetimes and "use after close never crashes"
 *   Every handle object owns its C handle and a strong reference to its
 *   parent (publication/subscription -> client -> context; driver -> context),
 *   so parents are never freed before children. A handle is "closing" as soon
 *   as close() (or the parent's close()) is called: every later call raises
 *   ClosedError. The C close itself is deferred while the handle is busy
 *   (`busy` counts operations in flight: a poll calling Python code, a wait
 *   with the GIL released, an open try_claim); the operation that drops the
 *   count to zero performs it. A client's C close waits for all its children,
 *   a context's C close for every driver and client using it. All of this
 *   bookkeeping happens with the GIL held; loops running without the GIL only
 *   read `closing` (atomically) and stop.
 *
 * Views
 *   The memoryview given to a poll handler points into the log; it is
 *   released (made unusable) when the handler returns, if the handler kept a
 *   reference. poll_batch views stay valid until the next poll on the same
 *   subscription or its close, when the ones still referenced are released.
 *   Every view is made from a LogExporter that holds a reference on the log's
 *   mapping (shoal_subscription_retain_mapping): slices and numpy arrays made
 *   from a view (which make release() fail, or survive it) keep the log
 *   mapped, so they never read unmapped memory; the last one dropped unmaps.
 *   Their bytes may be overwritten once the subscriber has moved a term on:
 *   poll_batch(copy=True) and recv_into() copy instead. A reassembled
 *   (fragmented) message is copied: its buffer is reused by the next one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <pythread.h>

#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "shoal/shoal.h"

#if PY_VERSION_HEX < 0x03090000
#error "shoal needs Python 3.9 or later"
#endif

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#if defined(__x86_64__) || defined(__i386__)
#define CPU_PAUSE() __builtin_ia32_pause()
#else
#define CPU_PAUSE() ((void)0)
#endif

#define MAX_BATCH (1 << 20)
#define SIGNAL_CHECK_NS (50 * 1000 * 1000LL)

/* ------------------------------------------------------------------ */
/* exceptions                                                          */
/* ------------------------------------------------------------------ */

static PyObject *ShoalError, *OfferError, *NotConnected, *BackPressured, *AdminAction, *MaxPositionExceeded;
static PyObject *ClosedError, *InvalidArgument, *UriError, *MessageTooLarge, *OutOfMemory, *ShoalIOError;
static PyObject *ShoalTimeoutError, *DriverError, *ClashError, *NoDriverError, *DriverActiveError;
static PyObject *InvalidStateError;

static PyObject *str_release;   /* interned "release" */
static PyObject *numpy_module;  /* imported on first poll_records */

/* The URI key a SHOAL_EURI message is about: "... key 'k' ..." or, for a bad
 * value, a parameter key of the URI that the text before " in channel URI"
 * names ("term-length 12345 must be ..."). Returns its length (0: none). */
static size_t uri_error_key(const char *message, const char **key)
{
    const char *k = strstr(message, "key '");
    if (NULL != k)
    {
        k += 5;
        const char *end = strchr(k, '\'');
        if (NULL != end && end > k)
        {
            *key = k;
            return (size_t)(end - k);
        }
    }
    const char *uri_at = strstr(message, " in channel URI '");
    if (NULL == uri_at)
    {
        return 0;
    }
    const char *uri = uri_at + strlen(" in channel URI '");
    const char *params = strchr(uri, '?');
    size_t text_length = (size_t)(uri_at - message);
    const char *best = NULL;
    size_t best_length = 0;
    const char *best_at = NULL;
    while (NULL != params && '\0' != *params && '\'' != *params)
    {
        params++;
        const char *eq = params;
        while ('\0' != *eq && '=' != *eq && '|' != *eq && '\'' != *eq)
        {
            eq++;
        }
        size_t length = (size_t)(eq - params);
        if (length > 0)
        {
            for (const char *at = message; at + length <= message + text_length; at++)
            {
                const char after = at[length];
                if (0 == memcmp(at, params, length) && (at == message || ' ' == at[-1] || '\'' == at[-1]) &&
                    (' ' == after || '\'' == after || '=' == after || ':' == after))
                {
                    if (NULL == best_at || at < best_at)
                    {
                        best = params;
                        best_length = length;
                        best_at = at;
                    }
                    break;
                }
            }
        }
        params = strchr(eq, '|');
    }
    *key = best;
    return best_length;
}

/* Raises `type(message)` with .code = code (and .key for a URI error naming one). */
static PyObject *raise_with_code(PyObject *type, long code, const char *message)
{
    PyObject *exc = PyObject_CallFunction(type, "s", message);
    if (NULL == exc)
    {
        return NULL;
    }
    PyObject *value = PyLong_FromLong(code);
    if (NULL == value || PyObject_SetAttrString(exc, "code", value) < 0)
    {
        Py_XDECREF(value);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(value);
    if (type == UriError)
    {
        PyObject *key = Py_None;
        Py_INCREF(key);
        const char *k;
        size_t klen = uri_error_key(message, &k);
        if (klen > 0)
        {
            Py_DECREF(key);
            key = PyUnicode_DecodeUTF8(k, (Py_ssize_t)klen, "replace");
        }
        if (NULL == key || PyObject_SetAttrString(exc, "key", key) < 0)
        {
            Py_XDECREF(key);
            Py_DECREF(exc);
            return NULL;
        }
        Py_DECREF(key);
    }
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *type_for_errcode(int code)
{
    switch (code)
    {
        case SHOAL_EINVAL: return InvalidArgument;
        case SHOAL_EURI: return UriError;
        case SHOAL_ENOMEM: return OutOfMemory;
        case SHOAL_EIO: return ShoalIOError;
        case SHOAL_ETIMEDOUT: return ShoalTimeoutError;
        case SHOAL_EDRIVER: return DriverError;
        case SHOAL_ECLOSED: return ClosedError;
        case SHOAL_ECLASH: return ClashError;
        case SHOAL_EMSGSIZE: return MessageTooLarge;
        case SHOAL_EACTIVE: return DriverActiveError;
        case SHOAL_ENODRIVER: return NoDriverError;
        case SHOAL_ESTATE: return InvalidStateError;
        default: return ShoalError;
    }
}

/* Raises the exception for shoal_errcode()/shoal_errmsg() of this thread. */
static PyObject *raise_last_error(const char *what)
{
    int code = shoal_errcode();
    const char *msg = shoal_errmsg();
    char text[1024];
    if (NULL == msg || '\0' == msg[0])
    {
        msg = "unknown error";
    }
    if (NULL != what)
    {
        snprintf(text, sizeof(text), "%s: %s", what, msg);
    }
    else
    {
        snprintf(text, sizeof(text), "%s", msg);
    }
    return raise_with_code(type_for_errcode(code), code, text);
}

static PyObject *raise_closed(const char *what)
{
    char text[256];
    snprintf(text, sizeof(text), "%s is closed", what);
    return raise_with_code(ClosedError, SHOAL_ECLOSED, text);
}

static PyObject *raise_invalid(const char *message)
{
    return raise_with_code(InvalidArgument, SHOAL_EINVAL, message);
}

/* Raises the exception for a negative offer/try_claim result. */
static PyObject *raise_offer_result(int64_t rc, const char *suffix)
{
    char text[1200];
    const char *name;
    PyObject *type;
    switch (rc)
    {
        case SHOAL_NOT_CONNECTED: type = NotConnected; name = "not connected: no subscriber"; break;
        case SHOAL_BACK_PRESSURED: type = BackPressured; name = "back pressured: the slowest subscriber is a window behind"; break;
        case SHOAL_ADMIN_ACTION: type = AdminAction; name = "admin action: the log rotated, retry"; break;
        case SHOAL_CLOSED: type = ClosedError; name = "publication is closed"; break;
        case SHOAL_MAX_POSITION_EXCEEDED: type = MaxPositionExceeded; name = "max position exceeded"; break;
        default: return raise_last_error(NULL);
    }
    snprintf(text, sizeof(text), "%s%s", name, suffix ? suffix : "");
    return raise_with_code(type, (long)rc, text);
}

/* ------------------------------------------------------------------ */
/* time, idling, waiting without the GIL                               */
/* ------------------------------------------------------------------ */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* None -> *wait_ns = -1 (do not wait); seconds >= 0 -> nanoseconds (INT64_MAX: forever). */
static int parse_timeout(PyObject *obj, int64_t *wait_ns)
{
    if (NULL == obj || Py_None == obj)
    {
        *wait_ns = -1;
        return 0;
    }
    double t = PyFloat_AsDouble(obj);
    if (-1.0 == t && PyErr_Occurred())
    {
        return -1;
    }
    if (isnan(t) || t < 0)
    {
        raise_invalid("timeout must be None or a number of seconds >= 0");
        return -1;
    }
    *wait_ns = t > 1e9 ? INT64_MAX : (int64_t)(t * 1e9);
    return 0;
}

static int64_t deadline_after(int64_t wait_ns)
{
    if (wait_ns == INT64_MAX)
    {
        return INT64_MAX;
    }
    return mono_ns() + wait_ns;
}

typedef struct
{
    uint32_t spins;
    long sleep_ns;
} backoff_t;

static void backoff_idle(backoff_t *b)
{
    if (b->spins < 50)
    {
        b->spins++;
        CPU_PAUSE();
        return;
    }
    if (b->spins < 100)
    {
        b->spins++;
        sched_yield();
        return;
    }
    struct timespec ts = { 0, b->sleep_ns };
    nanosleep(&ts, NULL);
    if (b->sleep_ns < 1000000)
    {
        b->sleep_ns *= 2;
    }
}

typedef int (*attempt_fn)(void *arg); /* nonzero: done */

enum { WAIT_TIMEOUT = 0, WAIT_DONE = 1, WAIT_CLOSING = 2, WAIT_SIGNAL = -1 };

/* Calls attempt(arg) with the GIL released until it reports done, *closing
 * becomes non-zero or the deadline passes. Takes the GIL back every 50 ms to
 * run signal handlers (Ctrl-C interrupts the wait). Called with the GIL. */
static int wait_released(attempt_fn attempt, void *arg, const int *closing, int64_t deadline)
{
    backoff_t b = { 0, 1000 };
    int64_t next_check = mono_ns() + SIGNAL_CHECK_NS;
    int result;
    PyThreadState *ts = PyEval_SaveThread();
    for (;;)
    {
        if (attempt(arg))
        {
            result = WAIT_DONE;
            break;
        }
        if (NULL != closing && LOAD_ACQ(closing))
        {
            result = WAIT_CLOSING;
            break;
        }
        int64_t now = mono_ns();
        if (now >= deadline)
        {
            result = WAIT_TIMEOUT;
            break;
        }
        if (now >= next_check)
        {
            PyEval_RestoreThread(ts);
            int sig = PyErr_CheckSignals();
            ts = PyEval_SaveThread();
            if (sig < 0)
            {
                result = WAIT_SIGNAL;
                break;
            }
            next_check = now + SIGNAL_CHECK_NS;
        }
        backoff_idle(&b);
    }
    PyEval_RestoreThread(ts);
    return result;
}

/* Releases a memoryview the caller no longer vouches for; a view something
 * else still exports (e.g. a numpy array made from it) cannot be released
 * and is left alone (documented). */
static void release_view(PyObject *view)
{
    if (Py_REFCNT(view) > 1)
    {
        /* May run with an exception pending (a handler raised): keep it. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *r = PyObject_CallMethodNoArgs(view, str_release);
        if (NULL == r)
        {
            PyErr_Clear();
        }
        Py_XDECREF(r);
        PyErr_Restore(type, value, tb);
    }
}

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

typedef struct
{
    PyObject_HEAD
    shoal_context_t *ctx;
    PyObject *error_handler;  /* callable(errcode, message) or NULL */
    int users;    /* live drivers and clients using ctx */
    int closing;
} ContextObject;

static PyTypeObject ContextType;

#if PY_VERSION_HEX >= 0x030D0000
#define SHOAL_PY_FINALIZING() Py_IsFinalizing()
#else
#define SHOAL_PY_FINALIZING() _Py_IsFinalizing()
#endif

/* Runs on a client's conductor thread: asynchronous errors (driver timeout,
 * image mapping failure). The ContextObject outlives every client using it. */
static void context_error_trampoline(void *clientd, int errcode, const char *message)
{
    if (!Py_IsInitialized() || SHOAL_PY_FINALIZING())
    {
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    ContextObject *self = clientd;
    PyObject *handler = self->error_handler;
    if (NULL != handler)
    {
        Py_INCREF(handler);
        PyObject *r = PyObject_CallFunction(handler, "is", errcode, message);
        if (NULL == r)
        {
            PyErr_WriteUnraisable(handler);
        }
        Py_XDECREF(r);
        Py_DECREF(handler);
    }
    PyGILState_Release(gil);
}

static int context_set_error_handler(ContextObject *self, PyObject *handler)
{
    if (Py_None == handler)
    {
        handler = NULL;
    }
    else if (!PyCallable_Check(handler))
    {
        PyErr_Format(PyExc_TypeError, "error_handler must be callable or None, not %.100s", Py_TYPE(handler)->tp_name);
        return -1;
    }
    if (shoal_context_set_error_handler(self->ctx, NULL == handler ? NULL : context_error_trampoline, self) < 0)
    {
        raise_last_error("error_handler");
        return -1;
    }
    Py_XINCREF(handler);
    Py_XSETREF(self->error_handler, handler);
    return 0;
}

static void context_maybe_free(ContextObject *self)
{
    if (self->closing && 0 == self->users && NULL != self->ctx)
    {
        shoal_context_close(self->ctx);
        self->ctx = NULL;
    }
}

static void context_release_user(ContextObject *self)
{
    self->users--;
    context_maybe_free(self);
}

/* Converts a setting value to the string shoal_context_set expects. */
static PyObject *setting_text(PyObject *value)
{
    if (PyBool_Check(value))
    {
        return PyUnicode_FromString(Py_True == value ? "1" : "0");
    }
    if (PyUnicode_Check(value))
    {
        Py_INCREF(value);
        return value;
    }
    if (PyLong_Check(value))
    {
        return PyObject_Str(value);
    }
    PyErr_Format(PyExc_TypeError, "setting values must be str, int or bool, not %.100s", Py_TYPE(value)->tp_name);
    return NULL;
}

static int context_set_one(ContextObject *self, PyObject *key, PyObject *value)
{
    if (!PyUnicode_Check(key))
    {
        PyErr_SetString(PyExc_TypeError, "setting names must be str");
        return -1;
    }
    PyObject *upper = PyObject_CallMethod(key, "upper", NULL);
    if (NULL == upper)
    {
        return -1;
    }
    PyObject *text = setting_text(value);
    if (NULL == text)
    {
        Py_DECREF(upper);
        return -1;
    }
    const char *k = PyUnicode_AsUTF8(upper);
    const char *v = PyUnicode_AsUTF8(text);
    int rc = -1;
    if (NULL != k && NULL != v)
    {
        if (shoal_context_set(self->ctx, k, v) < 0)
        {
            raise_last_error(NULL);
        }
        else
        {
            rc = 0;
        }
    }
    Py_DECREF(upper);
    Py_DECREF(text);
    return rc;
}

static int Context_init(ContextObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *dir = Py_None;
    if (!PyArg_ParseTuple(args, "|O:Context", &dir))
    {
        return -1;
    }
    if (NULL != self->ctx)
    {
        raise_with_code(InvalidStateError, SHOAL_ESTATE, "Context.__init__ called twice");
        return -1;
    }
    if (shoal_context_init(&self->ctx) < 0)
    {
        self->ctx = NULL;
        raise_last_error("Context");
        return -1;
    }
    self->closing = 0;
    self->users = 0;
    if (NULL != kwds)
    {
        PyObject *kdir = PyDict_GetItemString(kwds, "dir");
        if (NULL != kdir)
        {
            if (Py_None != dir)
            {
                PyErr_SetString(PyExc_TypeError, "Context: dir given twice");
                goto fail;
            }
            dir = kdir;
        }
    }
    if (Py_None != dir)
    {
        PyObject *bytes = NULL;
        if (!PyUnicode_FSConverter(dir, &bytes))
        {
            goto fail;
        }
        int rc = shoal_context_set_dir(self->ctx, PyBytes_AS_STRING(bytes));
        Py_DECREF(bytes);
        if (rc < 0)
        {
            raise_last_error("Context dir");
            goto fail;
        }
    }
    if (NULL != kwds)
    {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwds, &pos, &key, &value))
        {
            if (PyUnicode_Check(key) && 0 == PyUnicode_CompareWithASCIIString(key, "dir"))
            {
                continue;
            }
            if (PyUnicode_Check(key) && 0 == PyUnicode_CompareWithASCIIString(key, "error_handler"))
            {
                if (context_set_error_handler(self, value) < 0)
                {
                    goto fail;
                }
                continue;
            }
            if (context_set_one(self, key, value) < 0)
            {
                goto fail;
            }
        }
    }
    return 0;
fail:
    shoal_context_close(self->ctx);
    self->ctx = NULL;
    Py_CLEAR(self->error_handler);
    return -1;
}

static int context_check(ContextObject *self)
{
    if (NULL == self->ctx || self->closing)
    {
        raise_closed("context");
        return -1;
    }
    return 0;
}

static PyObject *Context_set(ContextObject *self, PyObject *args)
{
    PyObject *key, *value;
    if (!PyArg_ParseTuple(args, "OO:set", &key, &value) || context_check(self) < 0)
    {
        return NULL;
    }
    if (self->users > 0)
    {
        return raise_with_code(InvalidStateError, SHOAL_ESTATE,
            "context settings are read by a live driver or client: set them before creating one");
    }
    if (PyUnicode_Check(key) && 0 == PyUnicode_CompareWithASCIIString(key, "dir"))
    {
        PyObject *bytes = NULL;
        if (!PyUnicode_FSConverter(value, &bytes))
        {
            return NULL;
        }
        int rc = shoal_context_set_dir(self->ctx, PyBytes_AS_STRING(bytes));
        Py_DECREF(bytes);
        if (rc < 0)
        {
            return raise_last_error("Context dir");
        }
        Py_RETURN_NONE;
    }
    if (context_set_one(self, key, value) < 0)
    {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Context_set_error_handler(ContextObject *self, PyObject *handler)
{
    if (context_check(self) < 0)
    {
        return NULL;
    }
    if (self->users > 0)
    {
        return raise_with_code(InvalidStateError, SHOAL_ESTATE,
            "the error handler is read by live clients: set it before creating one");
    }
    if (context_set_error_handler(self, handler) < 0)
    {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Context_close(ContextObject *self, PyObject *unused)
{
    (void)unused;
    self->closing = 1;
    context_maybe_free(self);
    Py_RETURN_NONE;
}

static PyObject *return_self(PyObject *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return self;
}

static PyObject *Context_exit(ContextObject *self, PyObject *args)
{
    (void)args;
    Py_XDECREF(Context_close(self, NULL));
    Py_RETURN_FALSE;
}

static PyObject *Context_get_dir(ContextObject *self, void *closure)
{
    (void)closure;
    if (context_check(self) < 0)
    {
        return NULL;
    }
    return PyUnicode_DecodeFSDefault(shoal_context_get_dir(self->ctx));
}

static PyObject *Context_get_closed(ContextObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(NULL == self->ctx || self->closing);
}

static PyObject *Context_repr(ContextObject *self)
{
    if (NULL == self->ctx)
    {
        return PyUnicode_FromString("<shoal.Context closed>");
    }
    return PyUnicode_FromFormat("<shoal.Context dir=%s%s>", shoal_context_get_dir(self->ctx),
        self->closing ? " closing" : "");
}

static int Context_traverse(ContextObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->error_handler);
    return 0;
}

static int Context_clear(ContextObject *self)
{
    /* The conductor trampoline takes the GIL and finds NULL: safe. */
    Py_CLEAR(self->error_handler);
    return 0;
}

static void Context_dealloc(ContextObject *self)
{
    PyObject_GC_UnTrack(self);
    if (NULL != self->ctx)
    {
        shoal_context_close(self->ctx);
    }
    Py_CLEAR(self->error_handler);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Context_methods[] = {
    { "set", (PyCFunction)Context_set, METH_VARARGS,
      "set($self, key, value, /)\n--\n\nSets one setting by its SHOAL_* name without the prefix, any case "
      "(e.g. set('ipc_term_length', 65536)). Only before a driver or client uses the context." },
    { "set_error_handler", (PyCFunction)Context_set_error_handler, METH_O,
      "set_error_handler($self, handler, /)\n--\n\n"
      "handler(errcode, message) is called on a client's conductor thread for asynchronous errors (the driver "
      "timed out or died, an image could not be mapped); None removes it. Also Context(error_handler=...). "
      "Exceptions it raises are reported as unraisable. Only before a driver or client uses the context." },
    { "close", (PyCFunction)Context_close, METH_NOARGS,
      "close($self, /)\n--\n\nCloses the context (idempotent). Drivers and clients still using it keep it alive "
      "until they close." },
    { "__enter__", (PyCFunction)return_self, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Context_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Context_getset[] = {
    { "dir", (getter)Context_get_dir, NULL, "The driver directory.", NULL },
    { "closed", (getter)Context_get_closed, NULL, "True once close() was called.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Context",
    .tp_basicsize = sizeof(ContextObject),
    .tp_dealloc = (destructor)Context_dealloc,
    .tp_repr = (reprfunc)Context_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)Context_traverse,
    .tp_clear = (inquiry)Context_clear,
    .tp_doc = "Context(dir=None, **settings)\n--\n\n"
              "Settings shared by a driver and/or clients. dir is the driver directory (default "
              "$SHOAL_DIR or /dev/shm/shoal-$USER); settings are SHOAL_* names without the prefix in "
              "any case, e.g. Context(dir=d, ipc_term_length=65536, dir_delete_on_shutdown=True); "
              "error_handler=callable(errcode, message) receives asynchronous errors (see set_error_handler). "
              "Bad names or values raise InvalidArgument. A context manager.",
    .tp_methods = Context_methods,
    .tp_getset = Context_getset,
    .tp_init = (initproc)Context_init,
    .tp_new = PyType_GenericNew,
};

static int context_arg(PyObject *obj, ContextObject **out)
{
    if (!PyObject_TypeCheck(obj, &ContextType))
    {
        PyErr_Format(PyExc_TypeError, "expected a shoal.Context, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    ContextObject *ctx = (ContextObject *)obj;
    if (context_check(ctx) < 0)
    {
        return -1;
    }
    *out = ctx;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Driver (embedded)                                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
    PyObject_HEAD
    shoal_driver_t *driver;
    ContextObject *ctx;
    int started;
} DriverObject;

/* The start of Driver.__init__ and Client.__init__ (format "O:Type"):
 * parses ctx, refuses a second __init__, and makes the object a user of
 * ctx (stored in *slot). NULL with an exception. */
static ContextObject *init_with_context(PyObject *args, PyObject *kwds, const char *format, const char *type_name,
    int *started, ContextObject **slot)
{
    static char *kwlist[] = { "ctx", NULL };
    PyObject *obj;
    ContextObject *ctx;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, &obj) || context_arg(obj, &ctx) < 0)
    {
        return NULL;
    }
    if (*started)
    {
        char text[64];
        snprintf(text, sizeof(text), "%s.__init__ called twice", type_name);
        raise_with_code(InvalidStateError, SHOAL_ESTATE, text);
        return NULL;
    }
    *started = 1;
    Py_INCREF(ctx);
    *slot = ctx;
    ctx->users++;
    return ctx;
}

/* Undoes init_with_context after the C start failed. */
static void init_with_context_failed(ContextObject **slot)
{
    ContextObject *ctx = *slot;
    context_release_user(ctx);
    *slot = NULL;
    Py_DECREF(ctx);
}

static int Driver_init(DriverObject *self, PyObject *args, PyObject *kwds)
{
    ContextObject *ctx = init_with_context(args, kwds, "O:Driver", "Driver", &self->started, &self->ctx);
    if (NULL == ctx)
    {
        return -1;
    }
    shoal_driver_t *driver = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = shoal_driver_start(&driver, ctx->ctx);
    Py_END_ALLOW_THREADS
    if (rc < 0)
    {
        raise_last_error("Driver");
        init_with_context_failed(&self->ctx);
        return -1;
    }
    self->driver = driver;
    return 0;
}

static void driver_close(DriverObject *self)
{
    shoal_driver_t *driver = self->driver;
    if (NULL == driver)
    {
        return;
    }
    self->driver = NULL;
    Py_BEGIN_ALLOW_THREADS
    shoal_driver_close(driver);
    Py_END_ALLOW_THREADS
    context_release_user(self->ctx);
}

static PyObject *Driver_close(DriverObject *self, PyObject *unused)
{
    (void)unused;
    driver_close(self);
    Py_RETURN_NONE;
}

static PyObject *Driver_exit(DriverObject *self, PyObject *args)
{
    (void)args;
    driver_close(self);
    Py_RETURN_FALSE;
}

static PyObject *Driver_get_closed(DriverObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(NULL == self->driver);
}

static PyObject *Driver_get_dir(DriverObject *self, void *closure)
{
    (void)closure;
    if (NULL == self->ctx || NULL == self->ctx->ctx)
    {
        return raise_closed("driver");
    }
    return PyUnicode_DecodeFSDefault(shoal_context_get_dir(self->ctx->ctx));
}

static PyObject *Driver_get_context(DriverObject *self, void *closure)
{
    (void)closure;
    if (NULL == self->ctx)
    {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->ctx);
    return (PyObject *)self->ctx;
}

static PyObject *Driver_repr(DriverObject *self)
{
    if (NULL == self->driver)
    {
        return PyUnicode_FromString("<shoal.Driver closed>");
    }
    return PyUnicode_FromFormat("<shoal.Driver dir=%s>", shoal_context_get_dir(self->ctx->ctx));
}

static void Driver_dealloc(DriverObject *self)
{
    driver_close(self);
    Py_XDECREF(self->ctx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Driver_is_active(PyObject *cls, PyObject *args, PyObject *kwds)
{
    (void)cls;
    static char *kwlist[] = { "dir", "timeout", NULL };
    PyObject *dir, *bytes = NULL;
    double timeout = 10.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|d:is_active", kwlist, &dir, &timeout) ||
        !PyUnicode_FSConverter(dir, &bytes))
    {
        return NULL;
    }
    if (!(timeout >= 0))
    {
        Py_DECREF(bytes);
        return raise_invalid("timeout must be >= 0");
    }
    bool active;
    uint64_t ms = (uint64_t)(timeout * 1000.0);
    Py_BEGIN_ALLOW_THREADS
    active = shoal_driver_is_active(PyBytes_AS_STRING(bytes), ms);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    return PyBool_FromLong(active);
}

static PyMethodDef Driver_methods[] = {
    { "close", (PyCFunction)Driver_close, METH_NOARGS,
      "close($self, /)\n--\n\nStops the driver thread (idempotent; releases the GIL while it joins)." },
    { "is_active", (PyCFunction)(void (*)(void))Driver_is_active, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
      "is_active(dir, timeout=10.0)\n--\n\nWhether a live driver (heartbeat within timeout seconds) owns dir." },
    { "__enter__", (PyCFunction)return_self, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Driver_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Driver_getset[] = {
    { "closed", (getter)Driver_get_closed, NULL, "True once closed.", NULL },
    { "dir", (getter)Driver_get_dir, NULL, "The driver directory.", NULL },
    { "context", (getter)Driver_get_context, NULL, "The Context the driver runs with.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject DriverType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Driver",
    .tp_basicsize = sizeof(DriverObject),
    .tp_dealloc = (destructor)Driver_dealloc,
    .tp_repr = (reprfunc)Driver_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Driver(ctx)\n--\n\n"
              "An embedded media driver running on its own thread for ctx's directory. Raises "
              "DriverActiveError if another live driver owns the directory. A context manager.",
    .tp_methods = Driver_methods,
    .tp_getset = Driver_getset,
    .tp_init = (initproc)Driver_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ */
/* Images and image handlers                                           */
/* ------------------------------------------------------------------ */

/* Set on a thread while it runs a Python image handler: the C client's
 * conductor thread (or a closing thread) is inside the client then, so an
 * add_* or close from the handler would wait for itself. */
static __thread int in_image_handler;

static int check_not_in_image_handler(const char *what)
{
    if (in_image_handler)
    {
        char text[256];
        snprintf(text, sizeof(text), "%s cannot be called from an image handler (it would deadlock the client)", what);
        raise_with_code(InvalidStateError, SHOAL_ESTATE, text);
        return -1;
    }
    return 0;
}

/* One image as seen from Python. The immutable fields are copied at
 * on_available; `image` is the C handle, valid (and read) only until
 * on_unavailable returns: the trampoline clears it under the GIL, and every
 * read also holds the GIL, so no read can see a freed image. After that
 * position is the last value (read when on_unavailable ran). */
typedef struct
{
    PyObject_HEAD
    const shoal_image_t *image;
    PyObject *source_identity;   /* str */
    int64_t correlation_id;
    int64_t join_position;
    int64_t last_position;
    int32_t session_id;
    int32_t stream_id;
} ImageObject;

static PyTypeObject ImageType;

/* Handlers of one subscription: the clientd of the C trampolines. Owned by
 * the SubscriptionObject (or by client_add until it made one) and freed after
 * shoal_subscription_close returned, when the C client calls it no more. */
typedef struct
{
    PyObject *on_available;     /* callable or NULL */
    PyObject *on_unavailable;   /* callable or NULL */
    PyObject *images;           /* dict: PyLong(shoal_image_t *) -> ImageObject, the images now available */
} image_handlers_t;

static ImageObject *image_object_new(const shoal_image_t *image)
{
    const char *source = shoal_image_source_identity(image);
    PyObject *text = PyUnicode_DecodeUTF8(source ? source : "", source ? (Py_ssize_t)strlen(source) : 0, "replace");
    if (NULL == text)
    {
        return NULL;
    }
    ImageObject *self = PyObject_New(ImageObject, &ImageType);
    if (NULL == self)
    {
        Py_DECREF(text);
        return NULL;
    }
    self->image = image;
    self->source_identity = text;
    self->session_id = shoal_image_session_id(image);
    self->stream_id = shoal_image_stream_id(image);
    self->correlation_id = shoal_image_correlation_id(image);
    self->join_position = shoal_image_join_position(image);
    self->last_position = shoal_image_position(image);
    return self;
}

static void image_object_detach(ImageObject *self)
{
    if (NULL != self->image)
    {
        self->last_position = shoal_image_position(self->image);
        self->image = NULL;
    }
}

static void image_handler_call(PyObject *handler, ImageObject *image)
{
    if (NULL == handler || NULL == image)
    {
        return;
    }
    Py_INCREF(handler);
    in_image_handler++;
    PyObject *r = PyObject_CallFunctionObjArgs(handler, (PyObject *)image, NULL);
    in_image_handler--;
    if (NULL == r)
    {
        /* Reported like an exception in a __del__ (sys.unraisablehook); the
         * client goes on and later events are delivered. */
        PyErr_WriteUnraisable(handler);
    }
    Py_XDECREF(r);
    Py_DECREF(handler);
}

/* Runs on the client's conductor thread (no Python thread state of ours). */
static void image_available_trampoline(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    if (!Py_IsInitialized() || SHOAL_PY_FINALIZING())
    {
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    image_handlers_t *h = clientd;
    ImageObject *obj = image_object_new(image);
    PyObject *key = NULL;
    if (NULL == obj || NULL == (key = PyLong_FromVoidPtr(image)) || PyDict_SetItem(h->images, key, (PyObject *)obj) < 0)
    {
        PyErr_WriteUnraisable(NULL != h->on_available ? h->on_available : Py_None);
    }
    else
    {
        image_handler_call(h->on_available, obj);
    }
    Py_XDECREF(key);
    Py_XDECREF(obj);
    PyGILState_Release(gil);
}

/* Runs on the conductor thread, or on the thread closing the subscription or
 * client (which released the GIL around the C close). */
static void image_unavailable_trampoline(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    if (!Py_IsInitialized() || SHOAL_PY_FINALIZING())
    {
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    image_handlers_t *h = clientd;
    ImageObject *obj = NULL;
    PyObject *key = PyLong_FromVoidPtr(image);
    if (NULL != key)
    {
        obj = (ImageObject *)PyDict_GetItemWithError(h->images, key);
        if (NULL != obj)
        {
            Py_INCREF(obj);
            if (PyDict_DelItem(h->images, key) < 0)
            {
                PyErr_Clear();
            }
        }
        else if (!PyErr_Occurred())
        {
            obj = image_object_new(image);   /* its on_available could not be reported */
        }
    }
    if (NULL == obj)
    {
        PyErr_WriteUnraisable(NULL != h->on_unavailable ? h->on_unavailable : Py_None);
    }
    else
    {
        /* Closed from here on: the handler sees the final position. */
        image_object_detach(obj);
        image_handler_call(h->on_unavailable, obj);
        Py_DECREF(obj);
    }
    Py_XDECREF(key);
    PyGILState_Release(gil);
}

/* NULL with an exception, or handlers (either callable may be None). */
static image_handlers_t *image_handlers_new(PyObject *on_available, PyObject *on_unavailable)
{
    const char *names[2] = { "on_available", "on_unavailable" };
    PyObject *fns[2] = { on_available, on_unavailable };
    for (int i = 0; i < 2; i++)
    {
        if (Py_None == fns[i])
        {
            fns[i] = NULL;
        }
        else if (NULL != fns[i] && !PyCallable_Check(fns[i]))
        {
            PyErr_Format(PyExc_TypeError, "%s must be callable or None, not %.100s", names[i],
                Py_TYPE(fns[i])->tp_name);
            return NULL;
        }
    }
    image_handlers_t *h = PyMem_Malloc(sizeof(*h));
    if (NULL == h)
    {
        PyErr_NoMemory();
        return NULL;
    }
    h->images = PyDict_New();
    if (NULL == h->images)
    {
        PyMem_Free(h);
        return NULL;
    }
    Py_XINCREF(fns[0]);
    Py_XINCREF(fns[1]);
    h->on_available = fns[0];
    h->on_unavailable = fns[1];
    return h;
}

/* With the GIL, once the C client no longer calls the handlers. */
static void image_handlers_free(image_handlers_t *h)
{
    if (NULL == h)
    {
        return;
    }
    /* The C client pairs every on_available with an on_unavailable before
     * the close returns; detach anything left anyway (e.g. events skipped
     * during interpreter shutdown) so no Image can reach a freed handle. */
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(h->images, &pos, &key, &value))
    {
        ((ImageObject *)value)->image = NULL;
    }
    Py_CLEAR(h->images);
    Py_CLEAR(h->on_available);
    Py_CLEAR(h->on_unavailable);
    PyMem_Free(h);
}

static PyObject *Image_get_position(ImageObject *self, void *c)
{
    (void)c;
    if (NULL != self->image)
    {
        self->last_position = shoal_image_position(self->image);
    }
    return PyLong_FromLongLong(self->last_position);
}

static PyObject *Image_get_is_closed(ImageObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(NULL == self->image || shoal_image_is_closed(self->image));
}

static PyObject *Image_repr(ImageObject *self)
{
    return PyUnicode_FromFormat("<shoal.Image session %d stream %d from %U correlation %lld join %lld%s>",
        (int)self->session_id, (int)self->stream_id, self->source_identity, (long long)self->correlation_id,
        (long long)self->join_position, NULL == self->image ? " closed" : "");
}

static void Image_dealloc(ImageObject *self)
{
    Py_XDECREF(self->source_identity);
    PyObject_Free(self);
}

/* Fixed at on_available: plain members, as Header's. */
static PyMemberDef Image_members[] = {
    { "session_id", T_INT, offsetof(ImageObject, session_id), READONLY, "Session id of the publication." },
    { "stream_id", T_INT, offsetof(ImageObject, stream_id), READONLY, "Stream id." },
    { "correlation_id", T_LONGLONG, offsetof(ImageObject, correlation_id), READONLY,
      "Driver-assigned id of the image (unique in that driver)." },
    { "source_identity", T_OBJECT_EX, offsetof(ImageObject, source_identity), READONLY,
      "Where the stream comes from: 'aeron:ipc', or the sender's 'ip:port' for UDP." },
    { "join_position", T_LONGLONG, offsetof(ImageObject, join_position), READONLY,
      "Stream position at which the subscription joined." },
    { NULL, 0, 0, 0, NULL }
};

static PyGetSetDef Image_getset[] = {
    { "position", (getter)Image_get_position, NULL,
      "Position of the subscription in this stream (consumed so far); once the image is unavailable, the last "
      "value (read when on_unavailable ran).", NULL },
    { "is_closed", (getter)Image_get_is_closed, NULL, "True once the image went unavailable (already in on_unavailable).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ImageType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Image",
    .tp_basicsize = sizeof(ImageObject),
    .tp_dealloc = (destructor)Image_dealloc,
    .tp_repr = (reprfunc)Image_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One publication session seen by a subscription, handed to the on_available / on_unavailable "
              "handlers of Client.add_subscription (not created by users). Read-only; the same object is passed "
              "to both handlers and stays usable after on_unavailable (position then keeps its last value).",
    .tp_members = Image_members,
    .tp_getset = Image_getset,
};

/* ------------------------------------------------------------------ */
/* Client and its children (publications, subscriptions)               */
/* ------------------------------------------------------------------ */

typedef struct ChildObject ChildObject;

typedef struct
{
    PyObject_HEAD
    shoal_client_t *client;
    ContextObject *ctx;
    ChildObject *children;   /* live (not yet C-closed) publications and subscriptions */
    int busy;                /* add_* calls in flight */
    int closing;
    int started;
} ClientObject;

enum { CHILD_PUBLICATION = 1, CHILD_SUBSCRIPTION = 2 };

struct ChildObject
{
    PyObject_HEAD
    ChildObject *prev;
    ChildObject *next;
    ClientObject *owner;   /* strong reference */
    PyObject *channel;     /* str */
    int32_t stream_id;
    int kind;
    int busy;
    int closing;           /* read without the GIL by wait loops */
};

typedef struct
{
    ChildObject base;
    shoal_publication_t *pub;
    PyThread_type_lock wlock;  /* exclusive publications: serialises GIL-released offers */
    int exclusive;
    int writer_busy;           /* threads holding or waiting for wlock */
} PublicationObject;

typedef struct
{
    PyObject_HEAD
    shoal_header_t h;
} HeaderObject;

typedef struct
{
    ChildObject base;
    shoal_subscription_t *sub;
    shoal_fragment_t *frags;
    size_t frags_capacity;
    PyObject *batch_views;     /* list of memoryviews handed out by the last poll_batch */
    HeaderObject *spare_header;
    image_handlers_t *handlers;  /* image handlers, or NULL; freed after the C close */
    int polling;
} SubscriptionObject;

static PyTypeObject PublicationType, SubscriptionType, HeaderType, ClaimType;

static void client_maybe_finish(ClientObject *self);

static void child_unlink(ChildObject *child)
{
    ClientObject *owner = child->owner;
    if (NULL != child->prev)
    {
        child->prev->next = child->next;
    }
    else if (owner->children == child)
    {
        owner->children = child->next;
    }
    if (NULL != child->next)
    {
        child->next->prev = child->prev;
    }
    child->prev = child->next = NULL;
}

static void subscription_release_batch(SubscriptionObject *self)
{
    PyObject *views = self->batch_views;
    if (NULL == views)
    {
        return;
    }
    self->batch_views = NULL;
    Py_ssize_t n = PyList_GET_SIZE(views);
    for (Py_ssize_t i = 0; i < n; i++)
    {
        PyObject *view = PyList_GET_ITEM(views, i);
        if (Py_REFCNT(view) > 1)
        {
            release_view(view);
        }
    }
    Py_DECREF(views);
}

/* The C close of a child; the handle is already unusable from Python. */
static void child_real_close(ChildObject *child)
{
    void *handle = NULL;
    if (CHILD_PUBLICATION == child->kind)
    {
        PublicationObject *p = (PublicationObject *)child;
        handle = p->pub;
        p->pub = NULL;
    }
    else
    {
        SubscriptionObject *s = (SubscriptionObject *)child;
        subscription_release_batch(s);
        handle = s->sub;
        s->sub = NULL;
    }
    if (NULL == handle)
    {
        return;
    }
    int kind = child->kind;
    image_handlers_t *handlers = NULL;
    if (CHILD_SUBSCRIPTION == kind)
    {
        handlers = ((SubscriptionObject *)child)->handlers;
        ((SubscriptionObject *)child)->handlers = NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (CHILD_PUBLICATION == kind)
    {
        shoal_publication_close((shoal_publication_t *)handle);
    }
    else
    {
        shoal_subscription_close((shoal_subscription_t *)handle);
    }
    Py_END_ALLOW_THREADS
    /* The C close called on_unavailable for the images left: no more calls. */
    image_handlers_free(handlers);
    child_unlink(child);
    client_maybe_finish(child->owner);
}

static void child_close(ChildObject *child)
{
    if (child->closing)
    {
        return;
    }
    STORE_REL(&child->closing, 1);
    if (0 == child->busy)
    {
        child_real_close(child);
    }
}

static void child_op_begin(ChildObject *child)
{
    child->busy++;
    Py_INCREF(child);
}

static void child_op_end(ChildObject *child)
{
    child->busy--;
    if (0 == child->busy && child->closing)
    {
        child_real_close(child);
    }
    Py_DECREF(child);
}

static void client_maybe_finish(ClientObject *self)
{
    if (!self->closing || self->busy > 0 || NULL != self->children || NULL == self->client)
    {
        return;
    }
    shoal_client_t *client = self->client;
    self->client = NULL;
    Py_BEGIN_ALLOW_THREADS
    shoal_client_close(client);
    Py_END_ALLOW_THREADS
    context_release_user(self->ctx);
}

static void client_close(ClientObject *self)
{
    if (self->closing)
    {
        client_maybe_finish(self);
        return;
    }
    STORE_REL(&self->closing, 1);
    /* Closing a child may release the GIL: snapshot the list first. */
    Py_ssize_t n = 0;
    for (ChildObject *c = self->children; NULL != c; c = c->next)
    {
        n++;
    }
    if (n > 0)
    {
        ChildObject **snapshot = PyMem_Malloc((size_t)n * sizeof(*snapshot));
        if (NULL != snapshot)
        {
            Py_ssize_t i = 0;
            for (ChildObject *c = self->children; NULL != c; c = c->next)
            {
                Py_INCREF(c);
                snapshot[i++] = c;
            }
            for (i = 0; i < n; i++)
            {
                child_close(snapshot[i]);
                Py_DECREF(snapshot[i]);
            }
            PyMem_Free(snapshot);
        }
        else
        {
            for (ChildObject *c = self->children; NULL != c; c = c->next)
            {
                STORE_REL(&c->closing, 1); /* children close themselves when freed */
            }
        }
    }
    client_maybe_finish(self);
}

static int Client_init(ClientObject *self, PyObject *args, PyObject *kwds)
{
    ContextObject *ctx = init_with_context(args, kwds, "O:Client", "Client", &self->started, &self->ctx);
    if (NULL == ctx)
    {
        return -1;
    }
    shoal_client_t *client = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = shoal_client_connect(&client, ctx->ctx);
    Py_END_ALLOW_THREADS
    if (rc < 0)
    {
        raise_last_error("Client");
        init_with_context_failed(&self->ctx);
        self->closing = 1;
        return -1;
    }
    self->client = client;
    return 0;
}

static int client_check(ClientObject *self)
{
    if (NULL == self->client || self->closing)
    {
        raise_closed("client");
        return -1;
    }
    return 0;
}

static void child_init(ChildObject *child, ClientObject *owner, PyObject *channel, int32_t stream_id, int kind)
{
    child->owner = owner;
    Py_INCREF(owner);
    child->channel = channel;
    Py_INCREF(channel);
    child->stream_id = stream_id;
    child->kind = kind;
    child->busy = 0;
    child->closing = 0;
    child->prev = NULL;
    child->next = owner->children;
    if (NULL != owner->children)
    {
        owner->children->prev = child;
    }
    owner->children = child;
}

enum { ADD_PUB = 0, ADD_EXCLUSIVE = 1, ADD_SUB = 2 };

static PyObject *client_add(ClientObject *self, PyObject *uri, PyObject *stream_obj, int what,
    PyObject *on_available, PyObject *on_unavailable)
{
    if (check_not_in_image_handler(ADD_SUB == what ? "add_subscription" : "add_publication") < 0)
    {
        return NULL;
    }
    if (!PyUnicode_Check(uri))
    {
        return PyErr_Format(PyExc_TypeError, "channel URI must be str, not %.100s", Py_TYPE(uri)->tp_name);
    }
    if (!PyLong_Check(stream_obj) || PyBool_Check(stream_obj))
    {
        return PyErr_Format(PyExc_TypeError, "stream_id must be int, not %.100s", Py_TYPE(stream_obj)->tp_name);
    }
    int overflow = 0;
    long long stream = PyLong_AsLongLongAndOverflow(stream_obj, &overflow);
    if (overflow || stream < INT32_MIN || stream > INT32_MAX)
    {
        return raise_invalid("stream_id must fit in a signed 32-bit integer");
    }
    if (-1 == stream && PyErr_Occurred())
    {
        return NULL;
    }
    Py_ssize_t uri_length;
    const char *curi = PyUnicode_AsUTF8AndSize(uri, &uri_length);
    if (NULL == curi)
    {
        return NULL;
    }
    if ((Py_ssize_t)strlen(curi) != uri_length)
    {
        return raise_with_code(UriError, SHOAL_EURI, "channel URI must not contain NUL characters");
    }
    if (client_check(self) < 0)
    {
        return NULL;
    }
    image_handlers_t *handlers = NULL;
    if (ADD_SUB == what && ((NULL != on_available && Py_None != on_available) ||
        (NULL != on_unavailable && Py_None != on_unavailable)))
    {
        if (NULL == (handlers = image_handlers_new(on_available, on_unavailable)))
        {
            return NULL;
        }
    }
    /* Allocate the Python object first: nothing can fail after the C add. */
    PyThread_type_lock wlock = NULL;
    if (ADD_EXCLUSIVE == what && NULL == (wlock = PyThread_allocate_lock()))
    {
        return PyErr_NoMemory();
    }
    ChildObject *child;
    if (ADD_SUB == what)
    {
        SubscriptionObject *s = PyObject_New(SubscriptionObject, &SubscriptionType);
        if (NULL != s)
        {
            s->sub = NULL;
            s->frags = NULL;
            s->frags_capacity = 0;
            s->batch_views = NULL;
            s->spare_header = NULL;
            s->handlers = NULL;
            s->polling = 0;
        }
        child = (ChildObject *)s;
    }
    else
    {
        PublicationObject *p = PyObject_New(PublicationObject, &PublicationType);
        if (NULL != p)
        {
            p->pub = NULL;
            p->wlock = wlock;
            wlock = NULL;
            p->exclusive = ADD_EXCLUSIVE == what;
            p->writer_busy = 0;
        }
        child = (ChildObject *)p;
    }
    if (NULL == child)
    {
        if (NULL != wlock)
        {
            PyThread_free_lock(wlock);
        }
        image_handlers_free(handlers);
        return NULL;
    }
    child->owner = NULL;
    child->channel = NULL;
    child->prev = child->next = NULL;
    child->kind = ADD_SUB == what ? CHILD_SUBSCRIPTION : CHILD_PUBLICATION;
    child->busy = 0;
    child->closing = 1;
    void *handle = NULL;
    int rc;
    shoal_client_t *client = self->client;
    int32_t stream_id = (int32_t)stream;
    self->busy++;
    Py_INCREF(self);
    Py_BEGIN_ALLOW_THREADS
    if (ADD_SUB == what && NULL != handlers)
    {
        /* The handlers may run (conductor thread) before this returns. */
        rc = shoal_add_subscription_with_handlers(client, curi, stream_id, image_available_trampoline,
            image_unavailable_trampoline, handlers, (shoal_subscription_t **)&handle);
    }
    else if (ADD_SUB == what)
    {
        rc = shoal_add_subscription(client, curi, stream_id, (shoal_subscription_t **)&handle);
    }
    else if (ADD_EXCLUSIVE == what)
    {
        rc = shoal_add_exclusive_publication(client, curi, stream_id, (shoal_publication_t **)&handle);
    }
    else
    {
        rc = shoal_add_publication(client, curi, stream_id, (shoal_publication_t **)&handle);
    }
    Py_END_ALLOW_THREADS
    self->busy--;
    PyObject *result = NULL;
    if (rc < 0)
    {
        raise_last_error(ADD_SUB == what ? "add_subscription" : "add_publication");
    }
    else if (self->closing)
    {
        Py_BEGIN_ALLOW_THREADS
        if (ADD_SUB == what)
        {
            shoal_subscription_close((shoal_subscription_t *)handle);
        }
        else
        {
            shoal_publication_close((shoal_publication_t *)handle);
        }
        Py_END_ALLOW_THREADS
        raise_closed("client");
    }
    if (NULL == PyErr_Occurred())
    {
        child_init(child, self, uri, stream_id, ADD_SUB == what ? CHILD_SUBSCRIPTION : CHILD_PUBLICATION);
        if (ADD_SUB == what)
        {
            ((SubscriptionObject *)child)->sub = handle;
            ((SubscriptionObject *)child)->handlers = handlers;
            handlers = NULL;
        }
        else
        {
            ((PublicationObject *)child)->pub = handle;
        }
        result = (PyObject *)child;
    }
    else
    {
        Py_DECREF(child);  /* no handle, no owner: dealloc only frees */
    }
    /* Not handed over (the add failed, or its subscription was closed at
     * once): the C side paired its events already and calls them no more. */
    image_handlers_free(handlers);
    client_maybe_finish(self);
    Py_DECREF(self);
    return result;
}

static PyObject *Client_add_publication(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "uri", "stream_id", "exclusive", NULL };
    PyObject *uri, *stream;
    int exclusive = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|p:add_publication", kwlist, &uri, &stream, &exclusive))
    {
        return NULL;
    }
    return client_add(self, uri, stream, exclusive ? ADD_EXCLUSIVE : ADD_PUB, NULL, NULL);
}

static PyObject *Client_add_exclusive_publication(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "uri", "stream_id", NULL };
    PyObject *uri, *stream;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:add_exclusive_publication", kwlist, &uri, &stream))
    {
        return NULL;
    }
    return client_add(self, uri, stream, ADD_EXCLUSIVE, NULL, NULL);
}

static PyObject *Client_add_subscription(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "uri", "stream_id", "on_available", "on_unavailable", NULL };
    PyObject *uri, *stream, *on_available = NULL, *on_unavailable = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OO:add_subscription", kwlist, &uri, &stream, &on_available,
        &on_unavailable))
    {
        return NULL;
    }
    return client_add(self, uri, stream, ADD_SUB, on_available, on_unavailable);
}

static PyObject *Client_close(ClientObject *self, PyObject *unused)
{
    (void)unused;
    if (check_not_in_image_handler("Client.close") < 0)
    {
        return NULL;
    }
    client_close(self);
    Py_RETURN_NONE;
}

static PyObject *Client_exit(ClientObject *self, PyObject *args)
{
    (void)args;
    if (check_not_in_image_handler("Client.close") < 0)
    {
        return NULL;
    }
    client_close(self);
    Py_RETURN_FALSE;
}

static PyObject *Client_get_client_id(ClientObject *self, void *closure)
{
    (void)closure;
    if (client_check(self) < 0)
    {
        return NULL;
    }
    return PyLong_FromLongLong(shoal_client_id(self->client));
}

static PyObject *Client_get_is_closed(ClientObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(NULL == self->client || self->closing || shoal_client_is_closed(self->client));
}

static PyObject *Client_get_context(ClientObject *self, void *closure)
{
    (void)closure;
    if (NULL == self->ctx)
    {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->ctx);
    return (PyObject *)self->ctx;
}

static PyObject *Client_repr(ClientObject *self)
{
    if (NULL == self->client || self->closing)
    {
        return PyUnicode_FromString("<shoal.Client closed>");
    }
    return PyUnicode_FromFormat("<shoal.Client id=%lld dir=%s>", (long long)shoal_client_id(self->client),
        shoal_context_get_dir(self->ctx->ctx));
}

static void Client_dealloc(ClientObject *self)
{
    /* Children hold a reference to us, so none is left here. */
    STORE_REL(&self->closing, 1);
    client_maybe_finish(self);
    Py_XDECREF(self->ctx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Client_methods[] = {
    { "add_publication", (PyCFunction)(void (*)(void))Client_add_publication, METH_VARARGS | METH_KEYWORDS,
      "add_publication($self, /, uri, stream_id, exclusive=False)\n--\n\n"
      "Adds a publication (concurrent: any thread may offer; exclusive=True: faster, one thread at a time). "
      "A bad URI raises UriError naming the key. Releases the GIL during the driver round trip." },
    { "add_exclusive_publication", (PyCFunction)(void (*)(void))Client_add_exclusive_publication,
      METH_VARARGS | METH_KEYWORDS, "add_exclusive_publication($self, /, uri, stream_id)\n--\n\nSame as add_publication(uri, stream_id, exclusive=True)." },
    { "add_subscription", (PyCFunction)(void (*)(void))Client_add_subscription, METH_VARARGS | METH_KEYWORDS,
      "add_subscription($self, /, uri, stream_id, on_available=None, on_unavailable=None)\n--\n\n"
      "Adds a subscription. Releases the GIL during the driver round trip. on_available(image) / "
      "on_unavailable(image) (callables or None; TypeError otherwise) are told when a publication session "
      "becomes visible to the subscription or goes away, with a shoal.Image (the same object for both). They run "
      "on the client's conductor thread (a non-Python thread; they take the GIL), possibly before "
      "add_subscription returns, and for images still there at close on the closing thread, before close "
      "returns. An exception in a handler is reported through sys.unraisablehook and the client goes on. "
      "Handlers must be short and must not add or close publications, subscriptions or the client "
      "(InvalidStateError). The handlers are released when the subscription is closed." },
    { "close", (PyCFunction)Client_close, METH_NOARGS,
      "close($self, /)\n--\n\nCloses the client and every publication and subscription it made (idempotent)." },
    { "__enter__", (PyCFunction)return_self, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Client_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Client_getset[] = {
    { "client_id", (getter)Client_get_client_id, NULL, "Driver-assigned client id.", NULL },
    { "is_closed", (getter)Client_get_is_closed, NULL,
      "True once closed, or once the client lost its driver (driver timeout).", NULL },
    { "closed", (getter)Client_get_is_closed, NULL, "Alias of is_closed.", NULL },
    { "context", (getter)Client_get_context, NULL, "The Context the client connected with.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_dealloc = (destructor)Client_dealloc,
    .tp_repr = (reprfunc)Client_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Client(ctx)\n--\n\n"
              "Connects to the driver of ctx's directory (NoDriverError if none runs there). "
              "A context manager: closing it closes its publications and subscriptions.",
    .tp_methods = Client_methods,
    .tp_getset = Client_getset,
    .tp_init = (initproc)Client_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ */
/* Publication                                                         */
/* ------------------------------------------------------------------ */

static int publication_open(PublicationObject *self)
{
    return NULL != self->pub && !self->base.closing;
}

/* Borrows the bytes of obj: bytes objects directly, anything else through a
 * C-contiguous Py_buffer (view->obj != NULL then: release it). */
static int get_bytes(PyObject *obj, Py_buffer *view, const uint8_t **data, size_t *length)
{
    if (PyBytes_CheckExact(obj))
    {
        view->obj = NULL;
        *data = (const uint8_t *)PyBytes_AS_STRING(obj);
        *length = (size_t)PyBytes_GET_SIZE(obj);
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
    {
        if (PyErr_ExceptionMatches(PyExc_TypeError) || !PyObject_CheckBuffer(obj))
        {
            return -1;
        }
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *text = value ? PyObject_Str(value) : NULL;
        PyErr_Format(InvalidArgument, "a C-contiguous buffer is required: %S", text ? text : Py_None);
        Py_XDECREF(text);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    *data = (const uint8_t *)view->buf;
    *length = (size_t)view->len;
    return 0;
}

static void put_bytes(Py_buffer *view)
{
    if (NULL != view->obj)
    {
        PyBuffer_Release(view);
    }
}

static inline int retryable(int64_t rc)
{
    return SHOAL_BACK_PRESSURED == rc || SHOAL_NOT_CONNECTED == rc || SHOAL_ADMIN_ACTION == rc;
}

typedef struct
{
    shoal_publication_t *pub;
    const shoal_iovec_t *iov;
    size_t iovcnt;
    shoal_claim_t *claim;      /* try_claim instead of offer when not NULL */
    size_t claim_length;
    int64_t rc;
} offer_attempt_t;

static inline int64_t offer_once(shoal_publication_t *pub, const shoal_iovec_t *iov, size_t iovcnt)
{
    int64_t rc;
    int admin = 0;
    do
    {
        rc = 1 == iovcnt ? shoal_publication_offer(pub, iov[0].base, iov[0].length)
                         : shoal_publication_offerv(pub, iov, iovcnt);
    } while (SHOAL_ADMIN_ACTION == rc && ++admin < 3);
    return rc;
}

static inline int64_t claim_once(shoal_publication_t *pub, size_t length, shoal_claim_t *claim)
{
    int64_t rc;
    int admin = 0;
    do
    {
        rc = shoal_publication_try_claim(pub, length, claim);
    } while (SHOAL_ADMIN_ACTION == rc && ++admin < 3);
    return rc;
}

static int offer_attempt(void *arg)
{
    offer_attempt_t *a = arg;
    a->rc = NULL != a->claim ? claim_once(a->pub, a->claim_length, a->claim) : offer_once(a->pub, a->iov, a->iovcnt);
    return !retryable(a->rc);
}

/* The offer everybody goes through once the fast path does not apply: takes
 * the exclusive writer lock if needed, tries once, then (wait_ns >= 0) retries
 * with the GIL released until the deadline. Returns the C result, or
 * SHOAL_ERROR - 100 with a Python exception set (signal). */
#define RESULT_PYERR (SHOAL_ERROR - 100)

static int64_t publication_offer_slow(PublicationObject *self, const shoal_iovec_t *iov, size_t iovcnt,
    shoal_claim_t *claim, size_t claim_length, int64_t wait_ns)
{
    int64_t deadline = wait_ns >= 0 ? deadline_after(wait_ns) : 0;
    int64_t rc;
    child_op_begin(&self->base);
    if (self->exclusive)
    {
        self->writer_busy++;
        if (!PyThread_acquire_lock(self->wlock, NOWAIT_LOCK))
        {
            Py_BEGIN_ALLOW_THREADS
            PyThread_acquire_lock(self->wlock, WAIT_LOCK);
            Py_END_ALLOW_THREADS
        }
    }
    if (!publication_open(self))
    {
        rc = SHOAL_CLOSED;
    }
    else
    {
        offer_attempt_t a = { self->pub, iov, iovcnt, claim, claim_length, 0 };
        if (!offer_attempt(&a) && wait_ns > 0)
        {
            int w = wait_released(offer_attempt, &a, &self->base.closing, deadline);
            if (WAIT_CLOSING == w)
            {
                a.rc = SHOAL_CLOSED;
            }
            else if (WAIT_SIGNAL == w)
            {
                a.rc = RESULT_PYERR;
            }
        }
        rc = a.rc;
    }
    if (self->exclusive)
    {
        PyThread_release_lock(self->wlock);
        self->writer_busy--;
    }
    child_op_end(&self->base);
    return rc;
}

static PyObject *offer_result(int64_t rc, int64_t wait_ns, int raise_flow)
{
    if (rc >= 0)
    {
        return PyLong_FromLongLong(rc);
    }
    if (RESULT_PYERR == rc)
    {
        return NULL;
    }
    if (SHOAL_ERROR == rc || (raise_flow && SHOAL_CLOSED == rc))
    {
        return SHOAL_ERROR == rc ? raise_last_error("offer") : raise_offer_result(rc, NULL);
    }
    if (!raise_flow)
    {
        return PyLong_FromLongLong(rc);
    }
    if (wait_ns > 0)
    {
        char suffix[96];
        snprintf(suffix, sizeof(suffix), " (still after waiting %.3f s)", (double)wait_ns / 1e9);
        return raise_offer_result(rc, suffix);
    }
    return raise_offer_result(rc, NULL);
}

static PyObject *publication_offer_common(PublicationObject *self, PyObject *data, PyObject *timeout, int raise_flow)
{
    int64_t wait_ns = -1;
    if (NULL != timeout && parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    Py_buffer view;
    shoal_iovec_t iov;
    size_t length = 0;
    if (get_bytes(data, &view, &iov.base, &length) < 0)
    {
        return NULL;
    }
    iov.length = length;
    int64_t rc;
    if (!publication_open(self))
    {
        rc = SHOAL_CLOSED;
    }
    else if (0 == self->writer_busy)
    {
        rc = offer_once(self->pub, &iov, 1);
        if (wait_ns > 0 && retryable(rc))
        {
            rc = publication_offer_slow(self, &iov, 1, NULL, 0, wait_ns);
        }
    }
    else
    {
        rc = publication_offer_slow(self, &iov, 1, NULL, 0, wait_ns);
    }
    put_bytes(&view);
    return offer_result(rc, wait_ns, raise_flow);
}

static PyObject *Publication_offer(PublicationObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *data = NULL, *timeout = NULL;
    Py_ssize_t nkw = NULL == kwnames ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs < 1 || nargs > 2)
    {
        if (!(0 == nargs && nkw > 0))
        {
            return PyErr_Format(PyExc_TypeError, "offer() takes 1 or 2 positional arguments (%zd given)", nargs);
        }
    }
    if (nargs >= 1)
    {
        data = args[0];
    }
    if (nargs == 2)
    {
        timeout = args[1];
    }
    for (Py_ssize_t i = 0; i < nkw; i++)
    {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (0 == PyUnicode_CompareWithASCIIString(name, "timeout") && NULL == timeout)
        {
            timeout = args[nargs + i];
        }
        else if (0 == PyUnicode_CompareWithASCIIString(name, "data") && NULL == data)
        {
            data = args[nargs + i];
        }
        else
        {
            return PyErr_Format(PyExc_TypeError, "offer() got an unexpected or repeated keyword argument '%U'", name);
        }
    }
    if (NULL == data)
    {
        return PyErr_Format(PyExc_TypeError, "offer() missing required argument 'data'");
    }
    return publication_offer_common(self, data, timeout, 1);
}

static PyObject *Publication_offer_nowait(PublicationObject *self, PyObject *data)
{
    return publication_offer_common(self, data, NULL, 0);
}

#define MAX_IOV 1024

static PyObject *Publication_offerv(PublicationObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "buffers", "timeout", NULL };
    PyObject *seq_obj, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:offerv", kwlist, &seq_obj, &timeout))
    {
        return NULL;
    }
    int64_t wait_ns;
    if (parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(seq_obj, "offerv() needs a sequence of buffers");
    if (NULL == seq)
    {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > MAX_IOV)
    {
        Py_DECREF(seq);
        return raise_invalid("offerv() needs 1 to 1024 buffers");
    }
    Py_buffer *views = PyMem_Calloc((size_t)n, sizeof(Py_buffer));
    shoal_iovec_t *iov = PyMem_Calloc((size_t)n, sizeof(shoal_iovec_t));
    PyObject *result = NULL;
    Py_ssize_t got = 0;
    if (NULL == views || NULL == iov)
    {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++)
    {
        size_t length = 0;
        if (get_bytes(PySequence_Fast_GET_ITEM(seq, got), &views[got], &iov[got].base, &length) < 0)
        {
            goto done;
        }
        iov[got].length = length;
    }
    int64_t rc;
    if (!publication_open(self))
    {
        rc = SHOAL_CLOSED;
    }
    else if (0 == self->writer_busy && wait_ns <= 0)
    {
        rc = offer_once(self->pub, iov, (size_t)n);
    }
    else
    {
        rc = publication_offer_slow(self, iov, (size_t)n, NULL, 0, wait_ns);
    }
    result = offer_result(rc, wait_ns, 1);
done:
    for (Py_ssize_t i = 0; i < got; i++)
    {
        put_bytes(&views[i]);
    }
    PyMem_Free(views);
    PyMem_Free(iov);
    Py_DECREF(seq);
    return result;
}

/* ---- Claim ---- */

enum { CLAIM_PENDING = 0, CLAIM_COMMITTED = 1, CLAIM_ABORTED = 2 };

typedef struct
{
    PyObject_HEAD
    PublicationObject *pub;  /* strong; busy held while `holding` */
    shoal_claim_t claim;
    int64_t position;
    int state;
    int exports;
    int holding;
    PyObject *view;          /* the memoryview __enter__ returned */
} ClaimObject;

static void claim_maybe_drop(ClaimObject *self)
{
    if (self->holding && CLAIM_PENDING != self->state && 0 == self->exports)
    {
        self->holding = 0;
        child_op_end(&self->pub->base);
    }
}

static int claim_finish(ClaimObject *self, int commit)
{
    if (CLAIM_PENDING != self->state)
    {
        return 0;
    }
    int rc = commit ? shoal_claim_commit(&self->claim) : shoal_claim_abort(&self->claim);
    self->state = commit ? CLAIM_COMMITTED : CLAIM_ABORTED;
    if (rc < 0)
    {
        raise_last_error(commit ? "claim commit" : "claim abort");
        return -1;
    }
    return 0;
}

static void claim_release_view(ClaimObject *self)
{
    PyObject *view = self->view;
    if (NULL != view)
    {
        self->view = NULL;
        release_view(view);
        Py_DECREF(view);
    }
}

static PyObject *Publication_try_claim(PublicationObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "length", "timeout", NULL };
    Py_ssize_t length;
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|O:try_claim", kwlist, &length, &timeout) ||
        parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (length < 0)
    {
        return raise_invalid("try_claim length must be >= 0");
    }
    if (!publication_open(self))
    {
        return raise_closed("publication");
    }
    ClaimObject *claim = PyObject_GC_New(ClaimObject, &ClaimType);
    if (NULL == claim)
    {
        return NULL;
    }
    claim->pub = NULL;
    claim->state = CLAIM_ABORTED;
    claim->exports = 0;
    claim->holding = 0;
    claim->view = NULL;
    memset(&claim->claim, 0, sizeof(claim->claim));
    int64_t rc;
    if (0 == self->writer_busy)
    {
        rc = claim_once(self->pub, (size_t)length, &claim->claim);
        if (wait_ns > 0 && retryable(rc))
        {
            rc = publication_offer_slow(self, NULL, 0, &claim->claim, (size_t)length, wait_ns);
        }
    }
    else
    {
        rc = publication_offer_slow(self, NULL, 0, &claim->claim, (size_t)length, wait_ns);
    }
    if (rc < 0)
    {
        PyObject_GC_Track(claim);
        Py_DECREF(claim);
        if (RESULT_PYERR == rc)
        {
            return NULL;
        }
        if (SHOAL_ERROR == rc)
        {
            return raise_last_error("try_claim");
        }
        if (wait_ns > 0 && SHOAL_CLOSED != rc)
        {
            char suffix[96];
            snprintf(suffix, sizeof(suffix), " (still after waiting %.3f s)", (double)wait_ns / 1e9);
            return raise_offer_result(rc, suffix);
        }
        return raise_offer_result(rc, NULL);
    }
    /* Still open: the slow path reports CLOSED if it was closed meanwhile. */
    claim->position = rc;
    claim->state = CLAIM_PENDING;
    claim->pub = self;
    Py_INCREF(self);
    child_op_begin(&self->base);  /* keeps the log mapped while the claim is open */
    claim->holding = 1;
    PyObject_GC_Track(claim);
    return (PyObject *)claim;
}

static int Claim_getbuffer(ClaimObject *self, Py_buffer *view, int flags)
{
    if (CLAIM_PENDING != self->state)
    {
        PyErr_SetString(ClosedError, "claim was already committed or aborted");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->claim.data, (Py_ssize_t)self->claim.length, 0, flags) < 0)
    {
        return -1;
    }
    self->exports++;
    return 0;
}

static void Claim_releasebuffer(ClaimObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
    claim_maybe_drop(self);
}

static PyBufferProcs Claim_as_buffer = {
    (getbufferproc)Claim_getbuffer,
    (releasebufferproc)Claim_releasebuffer,
};

static PyObject *Claim_enter(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    if (NULL != self->view)
    {
        return raise_with_code(InvalidStateError, SHOAL_ESTATE, "claim already entered");
    }
    PyObject *view = PyMemoryView_FromObject((PyObject *)self);
    if (NULL == view)
    {
        return NULL;
    }
    self->view = view;
    Py_INCREF(view);
    return view;
}

static PyObject *Claim_exit(ClaimObject *self, PyObject *args)
{
    PyObject *type = Py_None, *value = Py_None, *tb = Py_None;
    if (!PyArg_UnpackTuple(args, "__exit__", 0, 3, &type, &value, &tb))
    {
        return NULL;
    }
    int rc = claim_finish(self, Py_None == type);
    claim_release_view(self);
    claim_maybe_drop(self);
    if (rc < 0)
    {
        if (Py_None != type)
        {
            PyErr_Clear();  /* the body's exception is the one to report */
        }
        else
        {
            return NULL;
        }
    }
    Py_RETURN_FALSE;
}

static PyObject *Claim_commit(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    if (CLAIM_PENDING != self->state)
    {
        return raise_with_code(InvalidStateError, SHOAL_ESTATE, "claim was already committed or aborted");
    }
    int rc = claim_finish(self, 1);
    claim_release_view(self);
    claim_maybe_drop(self);
    if (rc < 0)
    {
        return NULL;
    }
    return PyLong_FromLongLong(self->position);
}

static PyObject *Claim_abort(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    if (CLAIM_PENDING != self->state)
    {
        return raise_with_code(InvalidStateError, SHOAL_ESTATE, "claim was already committed or aborted");
    }
    int rc = claim_finish(self, 0);
    claim_release_view(self);
    claim_maybe_drop(self);
    if (rc < 0)
    {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Claim_get_position(ClaimObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->position);
}

static PyObject *Claim_get_length(ClaimObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(CLAIM_PENDING == self->state ? self->claim.length : 0);
}

static PyObject *Claim_get_state(ClaimObject *self, void *closure)
{
    (void)closure;
    static const char *names[] = { "pending", "committed", "aborted" };
    return PyUnicode_FromString(names[self->state]);
}

static int Claim_traverse(ClaimObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->view);
    return 0;
}

static int Claim_clear(ClaimObject *self)
{
    /* Only reached for a claim entered but never exited and then dropped. */
    if (CLAIM_PENDING == self->state)
    {
        shoal_claim_abort(&self->claim);
        self->state = CLAIM_ABORTED;
    }
    Py_CLEAR(self->view);
    return 0;
}

static void Claim_dealloc(ClaimObject *self)
{
    PyObject_GC_UnTrack(self);
    if (CLAIM_PENDING == self->state)
    {
        shoal_claim_abort(&self->claim);  /* never leave the log blocked */
        self->state = CLAIM_ABORTED;
    }
    Py_CLEAR(self->view);
    if (self->holding && 0 == self->exports)
    {
        self->holding = 0;
        child_op_end(&self->pub->base);
    }
    Py_XDECREF(self->pub);
    PyObject_GC_Del(self);
}

static PyMethodDef Claim_methods[] = {
    { "__enter__", (PyCFunction)Claim_enter, METH_NOARGS,
      "Returns a writable memoryview of the claimed bytes in the log." },
    { "__exit__", (PyCFunction)Claim_exit, METH_VARARGS,
      "Commits on normal exit, aborts on an exception; the view is released either way." },
    { "commit", (PyCFunction)Claim_commit, METH_NOARGS,
      "commit($self, /)\n--\n\nPublishes the claimed message; returns its position." },
    { "abort", (PyCFunction)Claim_abort, METH_NOARGS,
      "abort($self, /)\n--\n\nTurns the claimed space into padding the subscribers skip." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Claim_getset[] = {
    { "position", (getter)Claim_get_position, NULL, "Stream position the message ends at.", NULL },
    { "length", (getter)Claim_get_length, NULL, "Claimed bytes (0 once committed/aborted).", NULL },
    { "state", (getter)Claim_get_state, NULL, "'pending', 'committed' or 'aborted'.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject ClaimType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Claim",
    .tp_basicsize = sizeof(ClaimObject),
    .tp_dealloc = (destructor)Claim_dealloc,
    .tp_as_buffer = &Claim_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A zero-copy claim from Publication.try_claim(n): `with pub.try_claim(n) as buf:` fills buf "
              "(a writable memoryview into the log), commits on normal exit and aborts on an exception. "
              "The view is valid only inside the with block.",
    .tp_traverse = (traverseproc)Claim_traverse,
    .tp_clear = (inquiry)Claim_clear,
    .tp_methods = Claim_methods,
    .tp_getset = Claim_getset,
};

/* ---- Publication getters, close ---- */

typedef struct
{
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
} connected_attempt_t;

static int connected_attempt(void *arg)
{
    connected_attempt_t *a = arg;
    return NULL != a->pub ? shoal_publication_is_connected(a->pub) : shoal_subscription_is_connected(a->sub);
}

static PyObject *child_wait_connected(ChildObject *child, void *pub, void *sub, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "timeout", NULL };
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait_connected", kwlist, &timeout) ||
        parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (wait_ns < 0)
    {
        wait_ns = INT64_MAX;
    }
    if ((NULL == pub && NULL == sub) || child->closing)
    {
        return raise_closed(CHILD_PUBLICATION == child->kind ? "publication" : "subscription");
    }
    connected_attempt_t a = { pub, sub };
    if (connected_attempt(&a))
    {
        Py_RETURN_TRUE;
    }
    child_op_begin(child);
    int w = wait_released(connected_attempt, &a, &child->closing, deadline_after(wait_ns));
    child_op_end(child);
    if (WAIT_SIGNAL == w)
    {
        return NULL;
    }
    if (WAIT_CLOSING == w)
    {
        return raise_closed(CHILD_PUBLICATION == child->kind ? "publication" : "subscription");
    }
    return PyBool_FromLong(WAIT_DONE == w);
}

static PyObject *Publication_wait_connected(PublicationObject *self, PyObject *args, PyObject *kwds)
{
    return child_wait_connected(&self->base, self->pub, NULL, args, kwds);
}

#define PUB_CHECK(self)                        \
    if (!publication_open(self))               \
    {                                          \
        return raise_closed("publication");    \
    }

/* Manual MDC destinations: a driver round trip, so the GIL is released
 * (the str stays alive: the caller holds it). */
static PyObject *publication_destination(PublicationObject *self, PyObject *arg, int add)
{
    PUB_CHECK(self);
    if (check_not_in_image_handler(add ? "add_destination" : "remove_destination") < 0)
    {
        return NULL;
    }
    if (!PyUnicode_Check(arg))
    {
        return raise_invalid("endpoint_uri must be a str such as 'aeron:udp?endpoint=host:port'");
    }
    const char *uri = PyUnicode_AsUTF8(arg);
    if (NULL == uri)
    {
        return NULL;
    }
    shoal_publication_t *pub = self->pub;
    int rc;
    child_op_begin(&self->base);
    Py_BEGIN_ALLOW_THREADS
    rc = add ? shoal_publication_add_destination(pub, uri) : shoal_publication_remove_destination(pub, uri);
    Py_END_ALLOW_THREADS
    child_op_end(&self->base);
    if (rc < 0)
    {
        return raise_last_error(add ? "add_destination" : "remove_destination");
    }
    Py_RETURN_NONE;
}

static PyObject *Publication_add_destination(PublicationObject *self, PyObject *arg)
{
    return publication_destination(self, arg, 1);
}

static PyObject *Publication_remove_destination(PublicationObject *self, PyObject *arg)
{
    return publication_destination(self, arg, 0);
}

static PyObject *Publication_get_position(PublicationObject *self, void *c)
{
    (void)c;
    PUB_CHECK(self);
    int64_t rc = shoal_publication_position(self->pub);
    return rc < 0 ? raise_offer_result(rc, NULL) : PyLong_FromLongLong(rc);
}

static PyObject *Publication_get_position_limit(PublicationObject *self, void *c)
{
    (void)c;
    PUB_CHECK(self);
    int64_t rc = shoal_publication_position_limit(self->pub);
    return rc < 0 ? raise_offer_result(rc, NULL) : PyLong_FromLongLong(rc);
}

static PyObject *Publication_get_session_id(PublicationObject *self, void *c)
{
    (void)c;
    PUB_CHECK(self);
    return PyLong_FromLong(shoal_publication_session_id(self->pub));
}

static PyObject *Publication_get_max_message_length(PublicationObject *self, void *c)
{
    (void)c;
    PUB_CHECK(self);
    return PyLong_FromSize_t(shoal_publication_max_message_length(self->pub));
}

static PyObject *Publication_get_max_payload_length(PublicationObject *self, void *c)
{
    (void)c;
    PUB_CHECK(self);
    return PyLong_FromSize_t(shoal_publication_max_payload_length(self->pub));
}

static PyObject *Publication_get_is_connected(PublicationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(publication_open(self) && shoal_publication_is_connected(self->pub));
}

static PyObject *Publication_get_is_closed(PublicationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(!publication_open(self) || shoal_publication_is_closed(self->pub));
}

static PyObject *Publication_get_exclusive(PublicationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->exclusive);
}

static PyObject *child_get_stream_id(ChildObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->stream_id);
}

static PyObject *child_get_channel(ChildObject *self, void *c)
{
    (void)c;
    Py_INCREF(self->channel);
    return self->channel;
}

static PyObject *child_get_client(ChildObject *self, void *c)
{
    (void)c;
    Py_INCREF(self->owner);
    return (PyObject *)self->owner;
}

static PyObject *Child_close(ChildObject *self, PyObject *unused)
{
    (void)unused;
    if (check_not_in_image_handler("close") < 0)
    {
        return NULL;
    }
    child_close(self);
    Py_RETURN_NONE;
}

static PyObject *Child_exit(ChildObject *self, PyObject *args)
{
    (void)args;
    if (check_not_in_image_handler("close") < 0)
    {
        return NULL;
    }
    child_close(self);
    Py_RETURN_FALSE;
}

static PyObject *Publication_repr(PublicationObject *self)
{
    if (!publication_open(self))
    {
        return PyUnicode_FromFormat("<shoal.Publication %U stream %d closed>", self->base.channel,
            (int)self->base.stream_id);
    }
    return PyUnicode_FromFormat("<shoal.Publication %U stream %d session %d%s>", self->base.channel,
        (int)self->base.stream_id, (int)shoal_publication_session_id(self->pub), self->exclusive ? " exclusive" : "");
}

static void Publication_dealloc(PublicationObject *self)
{
    /* busy is 0 here: every operation holds a reference. */
    STORE_REL(&self->base.closing, 1);
    child_real_close(&self->base);
    if (NULL != self->wlock)
    {
        PyThread_free_lock(self->wlock);
    }
    Py_XDECREF(self->base.channel);
    Py_XDECREF(self->base.owner);
    PyObject_Free(self);
}

static PyMethodDef Publication_methods[] = {
    { "offer", (PyCFunction)(void (*)(void))Publication_offer, METH_FASTCALL | METH_KEYWORDS,
      "offer($self, /, data, timeout=None)\n--\n\n"
      "Publishes data (any C-contiguous buffer: bytes, bytearray, memoryview, numpy array) without copying it "
      "into Python objects; returns the new stream position. Messages longer than the mtu are fragmented. "
      "Without timeout it tries once and raises BackPressured / NotConnected / AdminAction / "
      "MaxPositionExceeded / ClosedError; with timeout (seconds) it retries with the GIL released until the "
      "deadline. Use offer_nowait() in hot loops." },
    { "offer_nowait", (PyCFunction)Publication_offer_nowait, METH_O,
      "offer_nowait($self, data, /)\n--\n\n"
      "Tries once and returns the C result: the position (> 0) or NOT_CONNECTED, BACK_PRESSURED, ADMIN_ACTION, "
      "CLOSED, MAX_POSITION_EXCEEDED (negative ints). Never raises for those; raises only for bad input "
      "(TypeError, MessageTooLarge)." },
    { "offerv", (PyCFunction)(void (*)(void))Publication_offerv, METH_VARARGS | METH_KEYWORDS,
      "offerv($self, /, buffers, timeout=None)\n--\n\nGathers up to 1024 buffers into one message; otherwise as offer()." },
    { "try_claim", (PyCFunction)(void (*)(void))Publication_try_claim, METH_VARARGS | METH_KEYWORDS,
      "try_claim($self, /, length, timeout=None)\n--\n\n"
      "Claims length bytes (<= max_payload_length) in the log for zero-copy filling; returns a Claim to use "
      "as `with pub.try_claim(n) as buf:`. Raises like offer() when there is no room; with timeout (seconds) "
      "it retries with the GIL released until the deadline." },
    { "wait_connected", (PyCFunction)(void (*)(void))Publication_wait_connected, METH_VARARGS | METH_KEYWORDS,
      "wait_connected($self, /, timeout=None)\n--\n\nWaits (GIL released) until a subscriber is connected; returns False "
      "on timeout." },
    { "add_destination", (PyCFunction)Publication_add_destination, METH_O,
      "add_destination($self, endpoint_uri, /)\n--\n\n"
      "Manual MDC (channel with control-mode=manual): also send to endpoint_uri, 'aeron:udp?endpoint=host:port'. "
      "Waits for the driver (GIL released). Raises InvalidArgument (not manual MDC, already added), UriError, "
      "ClosedError." },
    { "remove_destination", (PyCFunction)Publication_remove_destination, METH_O,
      "remove_destination($self, endpoint_uri, /)\n--\n\n"
      "Manual MDC: stop sending to endpoint_uri (it also leaves flow control at once). Raises InvalidArgument "
      "when it is not a destination; otherwise as add_destination()." },
    { "close", (PyCFunction)Child_close, METH_NOARGS,
      "close($self, /)\n--\n\nCloses the publication (idempotent). Later calls raise ClosedError." },
    { "__enter__", (PyCFunction)return_self, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Child_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Publication_getset[] = {
    { "position", (getter)Publication_get_position, NULL, "Current stream position.", NULL },
    { "position_limit", (getter)Publication_get_position_limit, NULL, "Flow-control limit.", NULL },
    { "session_id", (getter)Publication_get_session_id, NULL, "Session id.", NULL },
    { "stream_id", (getter)child_get_stream_id, NULL, "Stream id.", NULL },
    { "channel", (getter)child_get_channel, NULL, "Channel URI.", NULL },
    { "client", (getter)child_get_client, NULL, "The Client that made it.", NULL },
    { "max_message_length", (getter)Publication_get_max_message_length, NULL, "Longest message offer() takes.", NULL },
    { "max_payload_length", (getter)Publication_get_max_payload_length, NULL,
      "Longest unfragmented message (mtu - 32): the try_claim limit.", NULL },
    { "is_connected", (getter)Publication_get_is_connected, NULL, "True while a subscriber is connected.", NULL },
    { "is_closed", (getter)Publication_get_is_closed, NULL, "True once closed (by us, or its client).", NULL },
    { "closed", (getter)Publication_get_is_closed, NULL, "Alias of is_closed.", NULL },
    { "exclusive", (getter)Publication_get_exclusive, NULL, "True for an exclusive publication.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject PublicationType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Publication",
    .tp_basicsize = sizeof(PublicationObject),
    .tp_dealloc = (destructor)Publication_dealloc,
    .tp_repr = (reprfunc)Publication_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A publication, from Client.add_publication(). A context manager. Thread-safe: a concurrent "
              "publication may be offered to from many threads.",
    .tp_methods = Publication_methods,
    .tp_getset = Publication_getset,
};

/* ------------------------------------------------------------------ */
/* Header                                                              */
/* ------------------------------------------------------------------ */

static HeaderObject *header_new(const shoal_header_t *h)
{
    HeaderObject *self = PyObject_New(HeaderObject, &HeaderType);
    if (NULL != self)
    {
        self->h = *h;
    }
    return self;
}

static PyObject *Header_repr(HeaderObject *self)
{
    return PyUnicode_FromFormat(
        "Header(session_id=%d, stream_id=%d, term_id=%d, term_offset=%d, frame_length=%d, flags=0x%x, "
        "reserved_value=%lld, position=%lld)",
        (int)self->h.session_id, (int)self->h.stream_id, (int)self->h.term_id, (int)self->h.term_offset,
        (int)self->h.frame_length, (unsigned)self->h.flags, (long long)self->h.reserved_value,
        (long long)self->h.position);
}

static void Header_dealloc(HeaderObject *self)
{
    PyObject_Free(self);
}

static PyMemberDef Header_members[] = {
    { "session_id", T_INT, offsetof(HeaderObject, h.session_id), READONLY, "Publisher's session id." },
    { "stream_id", T_INT, offsetof(HeaderObject, h.stream_id), READONLY, "Stream id." },
    { "term_id", T_INT, offsetof(HeaderObject, h.term_id), READONLY, "Term id of the (first) frame." },
    { "term_offset", T_INT, offsetof(HeaderObject, h.term_offset), READONLY, "Term offset of the (first) frame." },
    { "frame_length", T_INT, offsetof(HeaderObject, h.frame_length), READONLY,
      "Length of the (first) frame including its 32-byte header." },
    { "flags", T_UBYTE, offsetof(HeaderObject, h.flags), READONLY, "FLAG_BEGIN | FLAG_END (| FLAG_EOS)." },
    { "reserved_value", T_LONGLONG, offsetof(HeaderObject, h.reserved_value), READONLY, "Publisher's user value." },
    { "position", T_LONGLONG, offsetof(HeaderObject, h.position), READONLY, "Stream position after the message." },
    { NULL, 0, 0, 0, NULL }
};

static PyTypeObject HeaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Header",
    .tp_basicsize = sizeof(HeaderObject),
    .tp_dealloc = (destructor)Header_dealloc,
    .tp_repr = (reprfunc)Header_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Header of a delivered message (a copy: safe to keep).",
    .tp_members = Header_members,
};

/* ------------------------------------------------------------------ */
/* Subscription                                                        */
/* ------------------------------------------------------------------ */

static int subscription_open(SubscriptionObject *self)
{
    return NULL != self->sub && !self->base.closing;
}

/* Checks a poll may start; marks it running. */
static int poll_begin(SubscriptionObject *self)
{
    if (!subscription_open(self))
    {
        raise_closed("subscription");
        return -1;
    }
    if (self->polling)
    {
        raise_with_code(InvalidStateError, SHOAL_ESTATE,
            "subscription is already being polled (re-entered from a handler, or from another thread: "
            "a subscription is polled by one thread at a time)");
        return -1;
    }
    self->polling = 1;
    child_op_begin(&self->base);
    subscription_release_batch(self);
    return 0;
}

static void poll_end(SubscriptionObject *self)
{
    self->polling = 0;
    child_op_end(&self->base);
}

static int ensure_frags(SubscriptionObject *self, size_t max)
{
    if (max <= self->frags_capacity)
    {
        return 0;
    }
    size_t capacity = self->frags_capacity ? self->frags_capacity : 64;
    while (capacity < max)
    {
        capacity *= 2;
    }
    shoal_fragment_t *frags = PyMem_Realloc(self->frags, capacity * sizeof(*frags));
    if (NULL == frags)
    {
        PyErr_NoMemory();
        return -1;
    }
    self->frags = frags;
    self->frags_capacity = capacity;
    return 0;
}

static int parse_max(PyObject *obj, size_t def, size_t *out, const char *what)
{
    if (NULL == obj || Py_None == obj)
    {
        *out = def;
        return 0;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    if (-1 == v && PyErr_Occurred())
    {
        return -1;
    }
    if (v < 1 || v > MAX_BATCH)
    {
        PyErr_Format(InvalidArgument, "%s must be between 1 and %d", what, MAX_BATCH);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

typedef struct
{
    shoal_subscription_t *sub;
    shoal_fragment_t *frags;
    size_t max;
    int n;
} batch_attempt_t;

static int batch_attempt(void *arg)
{
    batch_attempt_t *a = arg;
    a->n = shoal_subscription_poll_batch(a->sub, a->frags, a->max);
    return 0 != a->n;
}

/* Fills self->frags (poll already begun). Returns n >= 0, or -1 with an exception. */
static int subscription_fill(SubscriptionObject *self, size_t max, int64_t wait_ns)
{
    if (ensure_frags(self, max) < 0)
    {
        return -1;
    }
    batch_attempt_t a = { self->sub, self->frags, max, 0 };
    if (!batch_attempt(&a) && wait_ns > 0)
    {
        int w = wait_released(batch_attempt, &a, &self->base.closing, deadline_after(wait_ns));
        if (WAIT_SIGNAL == w)
        {
            return -1;
        }
        if (WAIT_CLOSING == w)
        {
            raise_closed("subscription");
            return -1;
        }
    }
    if (a.n < 0)
    {
        raise_last_error("poll");
        return -1;
    }
    return a.n;
}

/* ---- LogExporter: the buffer exporter behind every view ---- */

/* Holds one reference on a log mapping; exports exactly the range armed
 * just before PyMemoryView_FromObject, and nothing else (a user reaching it
 * through view.obj gets a BufferError, not the whole log). */
typedef struct
{
    PyObject_HEAD
    shoal_mapping_t *mapping;
    const uint8_t *armed_data;
    Py_ssize_t armed_length;
} LogExporterObject;

static PyTypeObject LogExporterType;

static int LogExporter_getbuffer(LogExporterObject *self, Py_buffer *view, int flags)
{
    if (NULL == self->armed_data)
    {
        view->obj = NULL;
        PyErr_SetString(PyExc_BufferError, "shoal log views are made by poll() and poll_batch() only");
        return -1;
    }
    return PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->armed_data, self->armed_length, 1, flags);
}

static PyBufferProcs LogExporter_as_buffer = {
    (getbufferproc)LogExporter_getbuffer,
    NULL,
};

static void LogExporter_dealloc(LogExporterObject *self)
{
    if (NULL != self->mapping)
    {
        shoal_mapping_release(self->mapping);  /* the last reference unmaps */
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject LogExporterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal._LogExporter",
    .tp_basicsize = sizeof(LogExporterObject),
    .tp_dealloc = (destructor)LogExporter_dealloc,
    .tp_as_buffer = &LogExporter_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Keeps a log buffer mapped while views made from it live (internal).",
};

/* A read-only memoryview of data[0..len) from a poll of self. *exporter is
 * the caller's cache (one exporter serves every view into the same log);
 * the caller drops it with Py_XDECREF when the poll is over. */
static PyObject *log_view(SubscriptionObject *self, LogExporterObject **exporter, const uint8_t *data, size_t len)
{
    LogExporterObject *e = *exporter;
    if (NULL == e || !shoal_mapping_contains(e->mapping, data, len))
    {
        shoal_mapping_t *m = NULL;
        if (shoal_subscription_retain_mapping(self->sub, data, len, &m) < 0)
        {
            return raise_last_error("poll");
        }
        if (NULL == m)
        {
            /* Reassembled: the image's assembly buffer is reused by its next
             * fragmented message; the view is of a copy. */
            PyObject *copy = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
            if (NULL == copy)
            {
                return NULL;
            }
            PyObject *view = PyMemoryView_FromObject(copy);
            Py_DECREF(copy);
            return view;
        }
        e = PyObject_New(LogExporterObject, &LogExporterType);
        if (NULL == e)
        {
            shoal_mapping_release(m);
            return NULL;
        }
        e->mapping = m;
        e->armed_data = NULL;
        e->armed_length = 0;
        Py_XSETREF(*exporter, e);
    }
    e->armed_data = data;
    e->armed_length = (Py_ssize_t)len;
    PyObject *view = PyMemoryView_FromObject((PyObject *)e);
    e->armed_data = NULL;
    return view;
}

/* ---- poll(handler) ---- */

typedef struct
{
    SubscriptionObject *self;
    PyObject *handler;
    long delivered;
    int failed;
    int controlled;
    LogExporterObject *exporter;
} poll_state_t;

static HeaderObject *poll_header(SubscriptionObject *self, const shoal_header_t *hdr)
{
    HeaderObject *h = self->spare_header;
    if (NULL != h && 1 == Py_REFCNT(h))
    {
        h->h = *hdr;        /* nobody kept the last one: reuse it */
        Py_INCREF(h);
        return h;
    }
    Py_XDECREF(h);
    h = header_new(hdr);
    self->spare_header = h;
    Py_XINCREF(h);
    return h;
}

static shoal_controlled_action_t poll_trampoline(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    poll_state_t *st = clientd;
    if (st->failed || st->self->base.closing)
    {
        return SHOAL_ACTION_ABORT;
    }
    PyObject *view = log_view(st->self, &st->exporter, buf, len);
    if (NULL == view)
    {
        st->failed = 1;
        return SHOAL_ACTION_ABORT;
    }
    HeaderObject *h = poll_header(st->self, hdr);
    if (NULL == h)
    {
        Py_DECREF(view);
        st->failed = 1;
        return SHOAL_ACTION_ABORT;
    }
    PyObject *argv[2] = { view, (PyObject *)h };
    PyObject *r = PyObject_Vectorcall(st->handler, argv, 2, NULL);
    release_view(view);
    Py_DECREF(view);
    Py_DECREF(h);
    st->delivered++;
    if (NULL == r)
    {
        st->failed = 1;
        return SHOAL_ACTION_BREAK;  /* this message is consumed; the rest are delivered by the next poll */
    }
    shoal_controlled_action_t action = SHOAL_ACTION_CONTINUE;
    if (st->controlled && Py_None != r)
    {
        long a = PyLong_AsLong(r);
        if ((-1 == a && PyErr_Occurred()) || a < SHOAL_ACTION_ABORT || a > SHOAL_ACTION_CONTINUE)
        {
            if (!PyErr_Occurred())
            {
                raise_invalid("a controlled_poll handler returns ABORT, BREAK, COMMIT, CONTINUE or None");
            }
            st->failed = 1;
            action = SHOAL_ACTION_BREAK;
        }
        else
        {
            action = (shoal_controlled_action_t)a;
            if (SHOAL_ACTION_ABORT == action)
            {
                st->delivered--;
            }
        }
    }
    Py_DECREF(r);
    return action;
}

/* Waits (GIL released) until a message is available without consuming it. */
static shoal_controlled_action_t probe_trampoline(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    (void)buf;
    (void)len;
    (void)hdr;
    *(int *)clientd = 1;
    return SHOAL_ACTION_ABORT;
}

typedef struct
{
    shoal_subscription_t *sub;
    int available;
    int rc;
} probe_attempt_t;

static int probe_attempt(void *arg)
{
    probe_attempt_t *a = arg;
    a->rc = shoal_subscription_controlled_poll(a->sub, probe_trampoline, &a->available, 1);
    return a->available || a->rc < 0;
}

static PyObject *subscription_poll_common(SubscriptionObject *self, PyObject *args, PyObject *kwds, int controlled)
{
    static char *kwlist[] = { "handler", "limit", "timeout", NULL };
    PyObject *handler, *limit_obj = Py_None, *timeout = Py_None;
    size_t limit;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, controlled ? "O|OO:controlled_poll" : "O|OO:poll", kwlist,
            &handler, &limit_obj, &timeout) ||
        parse_max(limit_obj, 10, &limit, "limit") < 0 || parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (!PyCallable_Check(handler))
    {
        return PyErr_Format(PyExc_TypeError, "handler must be callable, not %.100s", Py_TYPE(handler)->tp_name);
    }
    if (poll_begin(self) < 0)
    {
        return NULL;
    }
    poll_state_t st = { self, handler, 0, 0, controlled, NULL };
    int rc = shoal_subscription_controlled_poll(self->sub, poll_trampoline, &st, limit);
    if (0 == rc && !st.failed && wait_ns > 0 && !self->base.closing)
    {
        probe_attempt_t a = { self->sub, 0, 0 };
        int w = wait_released(probe_attempt, &a, &self->base.closing, deadline_after(wait_ns));
        if (WAIT_SIGNAL == w)
        {
            st.failed = 1;
        }
        else if (a.rc < 0)
        {
            rc = -1;
        }
        else if (WAIT_DONE == w)
        {
            rc = shoal_subscription_controlled_poll(self->sub, poll_trampoline, &st, limit);
        }
    }
    if (rc < 0 && !st.failed)
    {
        raise_last_error("poll");
        st.failed = 1;
    }
    Py_XDECREF(st.exporter);
    poll_end(self);
    if (st.failed)
    {
        return NULL;
    }
    return PyLong_FromLong(st.delivered);
}

static PyObject *Subscription_poll(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return subscription_poll_common(self, args, kwds, 0);
}

static PyObject *Subscription_controlled_poll(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return subscription_poll_common(self, args, kwds, 1);
}

/* ---- poll_batch ---- */

static PyObject *Subscription_poll_batch(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "max", "timeout", "copy", NULL };
    PyObject *max_obj = Py_None, *timeout = Py_None;
    int copy = 0;
    size_t max;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOp:poll_batch", kwlist, &max_obj, &timeout, &copy) ||
        parse_max(max_obj, 256, &max, "max") < 0 || parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (poll_begin(self) < 0)
    {
        return NULL;
    }
    PyObject *result = NULL, *views = NULL;
    LogExporterObject *exporter = NULL;
    int n = subscription_fill(self, max, wait_ns);
    if (n < 0)
    {
        goto done;
    }
    result = PyList_New(n);
    views = copy ? NULL : PyList_New(n);
    if (NULL == result || (!copy && NULL == views))
    {
        Py_CLEAR(result);
        goto done;
    }
    for (int i = 0; i < n; i++)
    {
        const shoal_fragment_t *f = &self->frags[i];
        if (copy)
        {
            PyObject *bytes = PyBytes_FromStringAndSize((const char *)f->data, (Py_ssize_t)f->length);
            HeaderObject *h = NULL == bytes ? NULL : header_new(&f->header);
            PyObject *pair = NULL == h ? NULL : PyTuple_New(2);
            if (NULL == pair)
            {
                Py_XDECREF(bytes);
                Py_XDECREF(h);
                Py_CLEAR(result);
                goto done;
            }
            PyTuple_SET_ITEM(pair, 0, bytes);
            PyTuple_SET_ITEM(pair, 1, (PyObject *)h);
            PyList_SET_ITEM(result, i, pair);
            continue;
        }
        PyObject *view = log_view(self, &exporter, f->data, f->length);
        HeaderObject *h = NULL == view ? NULL : header_new(&f->header);
        PyObject *pair = NULL == h ? NULL : PyTuple_New(2);
        if (NULL == pair)
        {
            Py_XDECREF(view);
            Py_XDECREF(h);
            Py_CLEAR(result);
            goto done;
        }
        Py_INCREF(view);
        PyList_SET_ITEM(views, i, view);
        PyTuple_SET_ITEM(pair, 0, view);
        PyTuple_SET_ITEM(pair, 1, (PyObject *)h);
        PyList_SET_ITEM(result, i, pair);
    }
    self->batch_views = views;
    views = NULL;
done:
    if (NULL != views)
    {
        /* Failure half way: release what was made (the unfilled slots are NULL). */
        Py_ssize_t made = 0;
        while (made < PyList_GET_SIZE(views) && NULL != PyList_GET_ITEM(views, made))
        {
            made++;
        }
        Py_SET_SIZE(views, made);
        self->batch_views = views;
        subscription_release_batch(self);
    }
    Py_XDECREF(exporter);
    poll_end(self);
    return result;
}

/* ---- recv_into ---- */

typedef struct
{
    Py_buffer *dst;
    Py_ssize_t length;      /* copied bytes, or the length that did not fit */
    int state;              /* 0 nothing, 1 copied, 2 too small */
} recv_state_t;

static shoal_controlled_action_t recv_trampoline(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    (void)hdr;
    recv_state_t *st = clientd;
    st->length = (Py_ssize_t)len;
    if ((Py_ssize_t)len > st->dst->len)
    {
        st->state = 2;
        return SHOAL_ACTION_ABORT;  /* not consumed: a bigger buffer gets it */
    }
    memcpy(st->dst->buf, buf, len);
    st->state = 1;
    return SHOAL_ACTION_BREAK;
}

typedef struct
{
    shoal_subscription_t *sub;
    recv_state_t *st;
    int rc;
} recv_attempt_t;

static int recv_attempt(void *arg)
{
    recv_attempt_t *a = arg;
    a->rc = shoal_subscription_controlled_poll(a->sub, recv_trampoline, a->st, 1);
    return a->rc < 0 || 0 != a->st->state;
}

static PyObject *Subscription_recv_into(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "buffer", "timeout", NULL };
    Py_buffer dst;
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "w*|O:recv_into", kwlist, &dst, &timeout))
    {
        return NULL;
    }
    if (parse_timeout(timeout, &wait_ns) < 0 || poll_begin(self) < 0)
    {
        PyBuffer_Release(&dst);
        return NULL;
    }
    recv_state_t st = { &dst, 0, 0 };
    recv_attempt_t a = { self->sub, &st, 0 };
    PyObject *result = NULL;
    /* Later attempts run without the GIL: dst stays exported to us, so the
     * copy into it needs none. */
    if (!recv_attempt(&a) && wait_ns > 0)
    {
        int w = wait_released(recv_attempt, &a, &self->base.closing, deadline_after(wait_ns));
        if (WAIT_SIGNAL == w)
        {
            goto done;
        }
        if (WAIT_CLOSING == w)
        {
            raise_closed("subscription");
            goto done;
        }
    }
    if (a.rc < 0)
    {
        raise_last_error("recv_into");
    }
    else if (2 == st.state)
    {
        char message[160];
        snprintf(message, sizeof(message),
            "the next message is %zd bytes, the buffer %zd: it was not consumed (retry with a buffer of >= %zd bytes)",
            st.length, dst.len, st.length);
        raise_with_code(MessageTooLarge, SHOAL_EMSGSIZE, message);
        if (PyErr_ExceptionMatches(MessageTooLarge))
        {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            PyObject *needed = PyLong_FromSsize_t(st.length);
            if (NULL == needed || PyObject_SetAttrString(value, "length", needed) < 0)
            {
                PyErr_Clear();
            }
            Py_XDECREF(needed);
            PyErr_Restore(type, value, tb);
        }
    }
    else if (1 == st.state)
    {
        result = PyLong_FromSsize_t(st.length);
    }
    else
    {
        result = Py_None;
        Py_INCREF(result);
    }
done:
    poll_end(self);
    PyBuffer_Release(&dst);
    return result;
}

/* ---- records: poll_into / poll_records ---- */

/* Copies up to `max` messages as fixed-size records into dst. Returns the
 * count, or -1 with an exception. mismatched counts messages whose length was
 * not record_size (copied truncated / zero-padded). */
static Py_ssize_t subscription_copy_records(SubscriptionObject *self, uint8_t *dst, size_t record_size, size_t max,
    int64_t wait_ns, Py_ssize_t *mismatched)
{
    int n = subscription_fill(self, max, wait_ns);
    if (n < 0)
    {
        return -1;
    }
    Py_ssize_t bad = 0;
    for (int i = 0; i < n; i++)
    {
        const shoal_fragment_t *f = &self->frags[i];
        uint8_t *out = dst + (size_t)i * record_size;
        if (f->length == record_size)
        {
            memcpy(out, f->data, record_size);
        }
        else
        {
            size_t copy = f->length < record_size ? f->length : record_size;
            memcpy(out, f->data, copy);
            memset(out + copy, 0, record_size - copy);
            bad++;
        }
    }
    *mismatched = bad;
    return n;
}

static PyObject *raise_mismatch(Py_ssize_t bad, Py_ssize_t n, size_t record_size, PyObject *records)
{
    char text[256];
    snprintf(text, sizeof(text),
        "%zd of %zd messages were not %zu bytes long (copied truncated/zero-padded; the records are in "
        "the exception's .records)", bad, n, record_size);
    PyObject *exc = PyObject_CallFunction(InvalidArgument, "s", text);
    if (NULL == exc)
    {
        return NULL;
    }
    PyObject *code = PyLong_FromLong(SHOAL_EINVAL);
    if (NULL != code)
    {
        PyObject_SetAttrString(exc, "code", code);
        Py_DECREF(code);
    }
    PyObject_SetAttrString(exc, "records", records);
    PyErr_SetObject(InvalidArgument, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *Subscription_poll_into(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "buffer", "record_size", "timeout", "strict", NULL };
    PyObject *buffer, *timeout = Py_None;
    Py_ssize_t record_size;
    int strict = 1;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "On|Op:poll_into", kwlist, &buffer, &record_size, &timeout, &strict) ||
        parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (record_size < 1)
    {
        return raise_invalid("record_size must be >= 1");
    }
    Py_buffer view;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE | PyBUF_WRITABLE) < 0)
    {
        if (PyErr_ExceptionMatches(PyExc_BufferError))
        {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "poll_into needs a writable C-contiguous buffer, not %.100s",
                Py_TYPE(buffer)->tp_name);
        }
        return NULL;
    }
    size_t max = (size_t)view.len / (size_t)record_size;
    if (max > MAX_BATCH)
    {
        max = MAX_BATCH;
    }
    if (0 == max)
    {
        PyBuffer_Release(&view);
        return raise_invalid("buffer is smaller than one record");
    }
    if (poll_begin(self) < 0)
    {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t bad = 0;
    Py_ssize_t n = subscription_copy_records(self, view.buf, (size_t)record_size, max, wait_ns, &bad);
    poll_end(self);
    PyBuffer_Release(&view);
    if (n < 0)
    {
        return NULL;
    }
    PyObject *count = PyLong_FromSsize_t(n);
    if (bad > 0 && strict && NULL != count)
    {
        raise_mismatch(bad, n, (size_t)record_size, count);
        Py_DECREF(count);
        return NULL;
    }
    return count;
}

static PyObject *Subscription_poll_records(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "dtype", "max", "timeout", "strict", NULL };
    PyObject *dtype_obj, *max_obj = Py_None, *timeout = Py_None;
    int strict = 1;
    size_t max;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOp:poll_records", kwlist, &dtype_obj, &max_obj, &timeout,
            &strict) ||
        parse_max(max_obj, 1024, &max, "max") < 0 || parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (NULL == numpy_module && NULL == (numpy_module = PyImport_ImportModule("numpy")))
    {
        return NULL;
    }
    PyObject *dtype = PyObject_CallMethod(numpy_module, "dtype", "O", dtype_obj);
    if (NULL == dtype)
    {
        return NULL;
    }
    PyObject *itemsize_obj = PyObject_GetAttrString(dtype, "itemsize");
    Py_ssize_t itemsize = NULL == itemsize_obj ? -1 : PyLong_AsSsize_t(itemsize_obj);
    Py_XDECREF(itemsize_obj);
    if (itemsize < 1)
    {
        Py_DECREF(dtype);
        if (!PyErr_Occurred())
        {
            raise_invalid("poll_records needs a dtype with itemsize >= 1");
        }
        return NULL;
    }
    PyObject *array = PyObject_CallMethod(numpy_module, "empty", "nO", (Py_ssize_t)max, dtype);
    Py_DECREF(dtype);
    if (NULL == array)
    {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(array, &view, PyBUF_SIMPLE | PyBUF_WRITABLE) < 0)
    {
        Py_DECREF(array);
        return NULL;
    }
    if (poll_begin(self) < 0)
    {
        PyBuffer_Release(&view);
        Py_DECREF(array);
        return NULL;
    }
    Py_ssize_t bad = 0;
    Py_ssize_t n = subscription_copy_records(self, view.buf, (size_t)itemsize, max, wait_ns, &bad);
    poll_end(self);
    PyBuffer_Release(&view);
    if (n < 0)
    {
        Py_DECREF(array);
        return NULL;
    }
    PyObject *result = PySequence_GetSlice(array, 0, n);
    Py_DECREF(array);
    if (NULL != result && bad > 0 && strict)
    {
        raise_mismatch(bad, n, (size_t)itemsize, result);
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

static PyObject *Subscription_wait_connected(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return child_wait_connected(&self->base, NULL, self->sub, args, kwds);
}

static PyObject *Subscription_get_is_connected(SubscriptionObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(subscription_open(self) && shoal_subscription_is_connected(self->sub));
}

static PyObject *Subscription_get_image_count(SubscriptionObject *self, void *c)
{
    (void)c;
    if (!subscription_open(self))
    {
        return raise_closed("subscription");
    }
    return PyLong_FromLong(shoal_subscription_image_count(self->sub));
}

static PyObject *Subscription_get_is_closed(SubscriptionObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(!subscription_open(self) || shoal_client_is_closed(self->base.owner->client));
}

static PyObject *Subscription_repr(SubscriptionObject *self)
{
    return PyUnicode_FromFormat("<shoal.Subscription %U stream %d%s>", self->base.channel, (int)self->base.stream_id,
        subscription_open(self) ? "" : " closed");
}

static void Subscription_dealloc(SubscriptionObject *self)
{
    STORE_REL(&self->base.closing, 1);
    child_real_close(&self->base);
    PyMem_Free(self->frags);
    Py_XDECREF(self->spare_header);
    Py_XDECREF(self->base.channel);
    Py_XDECREF(self->base.owner);
    PyObject_Free(self);
}

static PyMethodDef Subscription_methods[] = {
    { "poll", (PyCFunction)(void (*)(void))Subscription_poll, METH_VARARGS | METH_KEYWORDS,
      "poll($self, /, handler, limit=10, timeout=None)\n--\n\n"
      "Calls handler(view, header) for up to limit messages; returns how many. view is a read-only memoryview "
      "into the log, valid only during the call (it is released afterwards: copy with bytes(view) to keep). "
      "If the handler raises, that message counts as consumed, the poll stops and the exception propagates; "
      "later messages wait for the next poll. With timeout (seconds) and nothing available it waits with the "
      "GIL released." },
    { "controlled_poll", (PyCFunction)(void (*)(void))Subscription_controlled_poll, METH_VARARGS | METH_KEYWORDS,
      "controlled_poll($self, /, handler, limit=10, timeout=None)\n--\n\n"
      "As poll(), but the handler returns ACTION_ABORT (not consumed, stop), ACTION_BREAK, ACTION_COMMIT or "
      "ACTION_CONTINUE (also None)." },
    { "recv_into", (PyCFunction)(void (*)(void))Subscription_recv_into, METH_VARARGS | METH_KEYWORDS,
      "recv_into($self, /, buffer, timeout=None)\n--\n\n"
      "Copies the next message into the writable buffer and returns its length, or None when there is none "
      "(after waiting up to timeout seconds). A message longer than the buffer is not consumed: "
      "MessageTooLarge is raised with .length set to the size needed. The copy outlives any later poll." },
    { "poll_batch", (PyCFunction)(void (*)(void))Subscription_poll_batch, METH_VARARGS | METH_KEYWORDS,
      "poll_batch($self, /, max=256, timeout=None, copy=False)\n--\n\n"
      "Returns a list of up to max (view, header) pairs without a per-message callback. The views are "
      "read-only memoryviews into the log, valid until the next poll on this subscription or its close "
      "(views still referenced then are released). Slices and numpy arrays made from a view keep the log "
      "mapped (never a crash), but its bytes may be overwritten once the subscriber is a term further: "
      "copy=True returns bytes copies instead. With timeout it waits (GIL released) for at least one." },
    { "poll_records", (PyCFunction)(void (*)(void))Subscription_poll_records, METH_VARARGS | METH_KEYWORDS,
      "poll_records($self, /, dtype, max=1024, timeout=None, strict=True)\n--\n\n"
      "Copies up to max messages of exactly dtype.itemsize bytes into a new numpy array of that dtype "
      "(structured dtypes welcome) in one call; returns the filled slice. A message of another length is "
      "truncated/zero-padded and, if strict, InvalidArgument is raised after the batch with the array in "
      ".records." },
    { "poll_into", (PyCFunction)(void (*)(void))Subscription_poll_into, METH_VARARGS | METH_KEYWORDS,
      "poll_into($self, /, buffer, record_size, timeout=None, strict=True)\n--\n\n"
      "Copies messages as record_size-byte records into a writable buffer (as many as fit); returns the count." },
    { "wait_connected", (PyCFunction)(void (*)(void))Subscription_wait_connected, METH_VARARGS | METH_KEYWORDS,
      "wait_connected($self, /, timeout=None)\n--\n\nWaits (GIL released) until a publication is seen; False on timeout." },
    { "close", (PyCFunction)Child_close, METH_NOARGS,
      "close($self, /)\n--\n\nCloses the subscription (idempotent); outstanding poll_batch views are released." },
    { "__enter__", (PyCFunction)return_self, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Child_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Subscription_getset[] = {
    { "stream_id", (getter)child_get_stream_id, NULL, "Stream id.", NULL },
    { "channel", (getter)child_get_channel, NULL, "Channel URI.", NULL },
    { "client", (getter)child_get_client, NULL, "The Client that made it.", NULL },
    { "is_connected", (getter)Subscription_get_is_connected, NULL, "True while at least one image is seen.", NULL },
    { "image_count", (getter)Subscription_get_image_count, NULL, "Number of publications (images) seen.", NULL },
    { "is_closed", (getter)Subscription_get_is_closed, NULL, "True once closed.", NULL },
    { "closed", (getter)Subscription_get_is_closed, NULL, "Alias of is_closed.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject SubscriptionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Subscription",
    .tp_basicsize = sizeof(SubscriptionObject),
    .tp_dealloc = (destructor)Subscription_dealloc,
    .tp_repr = (reprfunc)Subscription_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A subscription, from Client.add_subscription(). Polled by one thread at a time. A context manager.",
    .tp_methods = Subscription_methods,
    .tp_getset = Subscription_getset,
};

/* ------------------------------------------------------------------ */
/* module                                                              */
/* ------------------------------------------------------------------ */

static PyObject *mod_version(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyUnicode_FromString(shoal_version());
}

static PyObject *mod_last_error(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return Py_BuildValue("(is)", shoal_errcode(), shoal_errmsg());
}

static PyObject *mod_raise_for_code(PyObject *m, PyObject *arg)
{
    (void)m;
    long long rc = PyLong_AsLongLong(arg);
    if (-1 == rc && PyErr_Occurred())
    {
        return NULL;
    }
    if (rc >= 0)
    {
        Py_RETURN_NONE;
    }
    return raise_offer_result(rc, NULL);
}

/* ------------------------------------------------------------------ */
/* Monitoring: a driver's CnC file through shoal_cnc_* (shoal.stat)     */
/* ------------------------------------------------------------------ */

typedef struct
{
    PyObject_HEAD
    shoal_cnc_t *cnc;
} CncObject;

static int Cnc_init(CncObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "dir", NULL };
    PyObject *dir = Py_None, *bytes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Cnc", kwlist, &dir))
    {
        return -1;
    }
    if (Py_None != dir && !PyUnicode_FSConverter(dir, &bytes))
    {
        return -1;
    }
    if (NULL != self->cnc)
    {
        shoal_cnc_close(self->cnc);
        self->cnc = NULL;
    }
    int rc = shoal_cnc_open(&self->cnc, NULL != bytes ? PyBytes_AS_STRING(bytes) : NULL);
    Py_XDECREF(bytes);
    if (rc < 0)
    {
        raise_last_error("Cnc");
        return -1;
    }
    return 0;
}

static void Cnc_dealloc(CncObject *self)
{
    shoal_cnc_close(self->cnc);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static shoal_cnc_t *cnc_handle(CncObject *self)
{
    if (NULL == self->cnc)
    {
        raise_closed("Cnc");
    }
    return self->cnc;
}

/* Rows collected by a foreach callback; the first Python failure stops adding. */
typedef struct
{
    PyObject *rows;
    int failed;
} cnc_rows_t;

static void cnc_add_row(cnc_rows_t *r, PyObject *row)
{
    if (NULL == row || PyList_Append(r->rows, row) < 0)
    {
        r->failed = 1;
    }
    Py_XDECREF(row);
}

static void cnc_on_counter(void *clientd, int32_t id, int32_t type_id, const char *label, size_t label_length,
    int64_t value)
{
    cnc_rows_t *r = clientd;
    if (!r->failed)
    {
        cnc_add_row(r, Py_BuildValue("(iiNL)", id, type_id,
            PyUnicode_DecodeUTF8(label, (Py_ssize_t)label_length, "replace"), (long long)value));
    }
}

static void cnc_on_error(void *clientd, int32_t count, int64_t first_ms, int64_t last_ms, int32_t code,
    const char *text, size_t text_length)
{
    cnc_rows_t *r = clientd;
    if (!r->failed)
    {
        cnc_add_row(r, Py_BuildValue("(iLLiN)", count, (long long)first_ms, (long long)last_ms, code,
            PyUnicode_DecodeUTF8(text, (Py_ssize_t)text_length, "replace")));
    }
}

static void cnc_on_loss(void *clientd, int64_t observations, int64_t bytes, int64_t first_ms, int64_t last_ms,
    int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length, const char *source,
    size_t source_length)
{
    cnc_rows_t *r = clientd;
    if (!r->failed)
    {
        cnc_add_row(r, Py_BuildValue("(LLLLiiNN)", (long long)observations, (long long)bytes, (long long)first_ms,
            (long long)last_ms, session_id, stream_id,
            PyUnicode_DecodeUTF8(channel, (Py_ssize_t)channel_length, "replace"),
            PyUnicode_DecodeUTF8(source, (Py_ssize_t)source_length, "replace")));
    }
}

static PyObject *cnc_rows(CncObject *self, int which)
{
    shoal_cnc_t *cnc = cnc_handle(self);
    if (NULL == cnc)
    {
        return NULL;
    }
    cnc_rows_t r = { PyList_New(0), 0 };
    if (NULL == r.rows)
    {
        return NULL;
    }
    int rc = 0 == which ? shoal_cnc_counters_foreach(cnc, cnc_on_counter, &r)
        : 1 == which ? shoal_cnc_errors_foreach(cnc, cnc_on_error, &r)
        : shoal_cnc_loss_foreach(cnc, cnc_on_loss, &r);
    if (r.failed || rc < 0)
    {
        Py_DECREF(r.rows);
        return r.failed ? NULL : raise_last_error(NULL);
    }
    return r.rows;
}

static PyObject *Cnc_counters(CncObject *self, PyObject *unused)
{
    (void)unused;
    return cnc_rows(self, 0);
}

static PyObject *Cnc_errors(CncObject *self, PyObject *unused)
{
    (void)unused;
    return cnc_rows(self, 1);
}

static PyObject *Cnc_loss(CncObject *self, PyObject *unused)
{
    (void)unused;
    return cnc_rows(self, 2);
}

static PyObject *Cnc_heartbeat_age_ns(CncObject *self, PyObject *unused)
{
    (void)unused;
    shoal_cnc_t *cnc = cnc_handle(self);
    return NULL == cnc ? NULL : PyLong_FromLongLong(shoal_cnc_driver_heartbeat_age_ns(cnc));
}

static PyObject *Cnc_close(CncObject *self, PyObject *unused)
{
    (void)unused;
    shoal_cnc_close(self->cnc);
    self->cnc = NULL;
    Py_RETURN_NONE;
}

static PyObject *Cnc_exit(CncObject *self, PyObject *args)
{
    (void)args;
    shoal_cnc_close(self->cnc);
    self->cnc = NULL;
    Py_RETURN_FALSE;
}

static PyObject *Cnc_get_pid(CncObject *self, void *closure)
{
    (void)closure;
    shoal_cnc_t *cnc = cnc_handle(self);
    return NULL == cnc ? NULL : PyLong_FromLongLong(shoal_cnc_driver_pid(cnc));
}

static PyObject *Cnc_get_driver_timeout_ns(CncObject *self, void *closure)
{
    (void)closure;
    shoal_cnc_t *cnc = cnc_handle(self);
    return NULL == cnc ? NULL : PyLong_FromLongLong(shoal_cnc_driver_timeout_ns(cnc));
}

static PyObject *Cnc_get_closed(CncObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(NULL == self->cnc);
}

static PyMethodDef Cnc_methods[] = {
    { "counters", (PyCFunction)Cnc_counters, METH_NOARGS,
      "counters($self, /)\n--\n\n[(id, type_id, label, value), ...] of every allocated counter, in id order." },
    { "errors", (PyCFunction)Cnc_errors, METH_NOARGS,
      "errors($self, /)\n--\n\n[(count, first_ms, last_ms, code, text), ...]: the driver's distinct errors." },
    { "loss", (PyCFunction)Cnc_loss, METH_NOARGS,
      "loss($self, /)\n--\n\n[(observations, bytes_lost, first_ms, last_ms, session_id, stream_id, channel, "
      "source), ...]: the driver's loss report, one entry per image that saw a gap." },
    { "heartbeat_age_ns", (PyCFunction)Cnc_heartbeat_age_ns, METH_NOARGS,
      "heartbeat_age_ns($self, /)\n--\n\nNanoseconds since the driver's last heartbeat." },
    { "close", (PyCFunction)Cnc_close, METH_NOARGS, "close($self, /)\n--\n\nUnmaps the file (idempotent)." },
    { "__enter__", (PyCFunction)return_self, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Cnc_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef Cnc_getset[] = {
    { "pid", (getter)Cnc_get_pid, NULL, "The driver's process id.", NULL },
    { "driver_timeout_ns", (getter)Cnc_get_driver_timeout_ns, NULL,
      "Heartbeat age beyond which clients consider the driver dead.", NULL },
    { "closed", (getter)Cnc_get_closed, NULL, "True once closed.", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject CncType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shoal.Cnc",
    .tp_basicsize = sizeof(CncObject),
    .tp_dealloc = (destructor)Cnc_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Cnc(dir=None)\n--\n\n"
              "A driver's CnC file mapped read-only (shoal_cnc_open): counters, errors, loss report, heartbeat. "
              "Raises NoDriverError without a driver. A context manager.",
    .tp_methods = Cnc_methods,
    .tp_getset = Cnc_getset,
    .tp_init = (initproc)Cnc_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    { "version", mod_version, METH_NOARGS, "version($module, /)\n--\n\nThe C library version, e.g. '0.1.0'." },
    { "last_error", mod_last_error, METH_NOARGS,
      "last_error($module, /)\n--\n\n(errcode, message) of the last failure in the C library on this thread." },
    { "raise_for_code", mod_raise_for_code, METH_O,
      "raise_for_code($module, result, /)\n--\n\nRaises the exception for a negative offer_nowait() result; "
      "returns None for a position." },
    { NULL, NULL, 0, NULL }
};

static struct PyModuleDef shoal_module = {
    PyModuleDef_HEAD_INIT, "shoal._shoal",
    "Hand-written CPython binding of libshoal; use the `shoal` package.", -1, module_methods,
    NULL, NULL, NULL, NULL
};

static PyObject *new_exc(PyObject *m, const char *name, PyObject *base, PyObject *base2, const char *doc)
{
    char full[128];
    snprintf(full, sizeof(full), "shoal.%s", name);
    PyObject *bases = NULL == base2 ? (Py_INCREF(base), base) : PyTuple_Pack(2, base, base2);
    if (NULL == bases)
    {
        return NULL;
    }
    PyObject *exc = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (NULL == exc)
    {
        return NULL;
    }
    Py_INCREF(exc);
    if (PyModule_AddObject(m, name, exc) < 0)
    {
        Py_DECREF(exc);
        Py_DECREF(exc);
        return NULL;
    }
    return exc;
}

#define ADD_INT(m, name, value)                                  \
    if (PyModule_AddIntConstant((m), (name), (value)) < 0)       \
    {                                                            \
        goto fail;                                               \
    }

#define EXC(var, name, base, base2, doc)                                       \
    if (NULL == ((var) = new_exc(m, (name), (base), (base2), (doc))))          \
    {                                                                          \
        goto fail;                                                             \
    }

PyMODINIT_FUNC PyInit__shoal(void)
{
    PyTypeObject *types[] = { &ContextType, &DriverType, &ClientType, &PublicationType, &SubscriptionType,
        &HeaderType, &ClaimType, &ImageType, &LogExporterType, &CncType };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    {
        if (PyType_Ready(types[i]) < 0)
        {
            return NULL;
        }
    }
    PyObject *m = PyModule_Create(&shoal_module);
    if (NULL == m)
    {
        return NULL;
    }
    str_release = PyUnicode_InternFromString("release");
    if (NULL == str_release)
    {
        goto fail;
    }
    EXC(ShoalError, "ShoalError", PyExc_Exception, NULL, "Base class of every shoal error; .code holds the C code.");
    EXC(OfferError, "OfferError", ShoalError, NULL,
        "An offer/try_claim could not publish now (NotConnected, BackPressured, AdminAction, MaxPositionExceeded).");
    EXC(NotConnected, "NotConnected", OfferError, NULL, "No subscriber is connected (SHOAL_NOT_CONNECTED).");
    EXC(BackPressured, "BackPressured", OfferError, NULL,
        "The slowest subscriber is a window behind: retry later (SHOAL_BACK_PRESSURED).");
    EXC(AdminAction, "AdminAction", OfferError, NULL, "The log rotated to a new term: retry (SHOAL_ADMIN_ACTION).");
    EXC(MaxPositionExceeded, "MaxPositionExceeded", OfferError, NULL,
        "The stream reached its maximum position (SHOAL_MAX_POSITION_EXCEEDED).");
    EXC(ClosedError, "ClosedError", ShoalError, NULL,
        "The handle, or the client it belongs to, is closed (SHOAL_CLOSED / SHOAL_ECLOSED).");
    EXC(InvalidArgument, "InvalidArgument", ShoalError, PyExc_ValueError, "Invalid argument (SHOAL_EINVAL).");
    EXC(UriError, "UriError", InvalidArgument, NULL,
        "Malformed channel URI, unknown key or bad value (SHOAL_EURI); .key names the key when there is one.");
    EXC(MessageTooLarge, "MessageTooLarge", InvalidArgument, NULL,
        "Message longer than the maximum message (or claim) length (SHOAL_EMSGSIZE).");
    EXC(OutOfMemory, "OutOfMemory", ShoalError, PyExc_MemoryError, "Allocation failed (SHOAL_ENOMEM).");
    EXC(ShoalIOError, "ShoalIOError", ShoalError, PyExc_OSError,
        "File or mapping failure in the driver directory (SHOAL_EIO).");
    EXC(ShoalTimeoutError, "TimeoutError", ShoalError, PyExc_TimeoutError,
        "The driver did not answer within the driver timeout (SHOAL_ETIMEDOUT).");
    EXC(DriverError, "DriverError", ShoalError, NULL, "The driver rejected the request (SHOAL_EDRIVER).");
    EXC(ClashError, "ClashError", DriverError, NULL,
        "Stream/session clash with an existing publication (SHOAL_ECLASH).");
    EXC(NoDriverError, "NoDriverError", DriverError, NULL, "No driver is running on the directory (SHOAL_ENODRIVER).");
    EXC(DriverActiveError, "DriverActiveError", DriverError, NULL,
        "Another driver is active on the directory (SHOAL_EACTIVE).");
    EXC(InvalidStateError, "InvalidStateError", ShoalError, NULL, "Call not valid in the current state (SHOAL_ESTATE).");

    const char *typenames[] = { "Context", "Driver", "Client", "Publication", "Subscription", "Header", "Claim",
        "Image", "_LogExporter", "Cnc" };
    for (size_t i = 0; i < sizeof(typenames) / sizeof(typenames[0]); i++)
    {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, typenames[i], (PyObject *)types[i]) < 0)
        {
            Py_DECREF(types[i]);
            goto fail;
        }
    }

    ADD_INT(m, "NOT_CONNECTED", SHOAL_NOT_CONNECTED);
    ADD_INT(m, "BACK_PRESSURED", SHOAL_BACK_PRESSURED);
    ADD_INT(m, "ADMIN_ACTION", SHOAL_ADMIN_ACTION);
    ADD_INT(m, "CLOSED", SHOAL_CLOSED);
    ADD_INT(m, "MAX_POSITION_EXCEEDED", SHOAL_MAX_POSITION_EXCEEDED);
    ADD_INT(m, "ERROR", SHOAL_ERROR);
    ADD_INT(m, "OK", SHOAL_OK);
    ADD_INT(m, "EINVAL", SHOAL_EINVAL);
    ADD_INT(m, "EURI", SHOAL_EURI);
    ADD_INT(m, "ENOMEM", SHOAL_ENOMEM);
    ADD_INT(m, "EIO", SHOAL_EIO);
    ADD_INT(m, "ETIMEDOUT", SHOAL_ETIMEDOUT);
    ADD_INT(m, "EDRIVER", SHOAL_EDRIVER);
    ADD_INT(m, "ECLOSED", SHOAL_ECLOSED);
    ADD_INT(m, "ECLASH", SHOAL_ECLASH);
    ADD_INT(m, "EMSGSIZE", SHOAL_EMSGSIZE);
    ADD_INT(m, "EACTIVE", SHOAL_EACTIVE);
    ADD_INT(m, "ENODRIVER", SHOAL_ENODRIVER);
    ADD_INT(m, "ESTATE", SHOAL_ESTATE);
    ADD_INT(m, "FLAG_BEGIN", SHOAL_FLAG_BEGIN);
    ADD_INT(m, "FLAG_END", SHOAL_FLAG_END);
    ADD_INT(m, "FLAG_EOS", SHOAL_FLAG_EOS);
    ADD_INT(m, "ACTION_ABORT", SHOAL_ACTION_ABORT);
    ADD_INT(m, "ACTION_BREAK", SHOAL_ACTION_BREAK);
    ADD_INT(m, "ACTION_COMMIT", SHOAL_ACTION_COMMIT);
    ADD_INT(m, "ACTION_CONTINUE", SHOAL_ACTION_CONTINUE);
    ADD_INT(m, "VERSION_NUMBER", shoal_version_number());
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
