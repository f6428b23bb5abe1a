/* shoal.Context: settings shared by a driver and its clients, who start through it. */
#include "context.h"

#include "errors.h"

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
    if (shoal_context_set_error_handler(self->h.c_handle, NULL == handler ? NULL : context_error_trampoline, self) < 0)
    {
        raise_last_error("error_handler");
        return -1;
    }
    Py_XINCREF(handler);
    Py_XSETREF(self->error_handler, handler);
    return 0;
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
        if (shoal_context_set(self->h.c_handle, k, v) < 0)
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

static int context_set_dir(ContextObject *self, PyObject *dir)
{
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(dir, &bytes))
    {
        return -1;
    }
    int rc = shoal_context_set_dir(self->h.c_handle, PyBytes_AS_STRING(bytes));
    Py_DECREF(bytes);
    if (rc < 0)
    {
        raise_last_error("Context dir");
        return -1;
    }
    return 0;
}

/* Settings are read when a driver or client starts: later changes would be ignored. */
static int context_check_settable(ContextObject *self, const char *message)
{
    if (handle_check(&self->h) < 0)
    {
        return -1;
    }
    if (self->users > 0)
    {
        raise_state(message);
        return -1;
    }
    return 0;
}

static int Context_init(ContextObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *dir = Py_None;
    if (!PyArg_ParseTuple(args, "|O:Context", &dir))
    {
        return -1;
    }
    if (NULL != self->h.c_handle)
    {
        raise_state("Context.__init__ called twice");
        return -1;
    }
    if (NULL == self->start_lock && NULL == (self->start_lock = PyThread_allocate_lock()))
    {
        PyErr_NoMemory();
        return -1;
    }
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0)
    {
        raise_last_error("Context");
        return -1;
    }
    handle_open(&self->h, ctx);
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
    if (Py_None != dir && context_set_dir(self, dir) < 0)
    {
        goto fail;
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
    shoal_context_close(self->h.c_handle);
    self->h.c_handle = NULL;
    Py_CLEAR(self->error_handler);
    return -1;
}

static PyObject *Context_set(ContextObject *self, PyObject *args)
{
    PyObject *key, *value;
    if (!PyArg_ParseTuple(args, "OO:set", &key, &value) ||
        context_check_settable(self,
            "context settings are read by a live driver or client: set them before creating one") < 0)
    {
        return NULL;
    }
    int is_dir = PyUnicode_Check(key) && 0 == PyUnicode_CompareWithASCIIString(key, "dir");
    if ((is_dir ? context_set_dir(self, value) : context_set_one(self, key, value)) < 0)
    {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Context_set_error_handler(ContextObject *self, PyObject *handler)
{
    if (context_check_settable(self, "the error handler is read by live clients: set it before creating one") < 0)
    {
        return NULL;
    }
    if (context_set_error_handler(self, handler) < 0)
    {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The C library refuses while a client connected with the context is open:
 * InvalidStateError, and the context stays open. */
static int context_release(HandleObject *self, void *c_handle)
{
    (void)self;
    if (shoal_context_close(c_handle) < 0)
    {
        raise_last_error(NULL);
        return -1;
    }
    return 0;
}

int service_open(ServiceObject *self, PyObject *ctx_obj, const char *type_name,
    void *(*start)(shoal_context_t *ctx, void *arg), void *arg, int (*stop)(void *c_handle))
{
    self->stop = stop;
    return context_user_open(&self->h, ctx_obj, type_name, &self->started, &self->ctx, start, arg);
}

int service_release(HandleObject *h, void *c_handle)
{
    ServiceObject *self = (ServiceObject *)h;
    Py_BEGIN_ALLOW_THREADS self->stop(c_handle);
    Py_END_ALLOW_THREADS context_user_end(self->ctx);
    return 0;
}

void service_dealloc(ServiceObject *self)
{
    handle_release_now(&self->h);
    Py_XDECREF(self->ctx);
    Py_XDECREF(self->dir);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyObject *context_dir(ContextObject *ctx, const char *owner)
{
    if (NULL == ctx || NULL == ctx->h.c_handle)
    {
        return raise_closed(owner);
    }
    return PyUnicode_DecodeFSDefault(shoal_context_get_dir(ctx->h.c_handle));
}

static PyObject *Context_get_dir(ContextObject *self, void *closure)
{
    (void)closure;
    if (handle_check(&self->h) < 0)
    {
        return NULL;
    }
    return context_dir(self, "context");
}

static PyObject *Context_repr(ContextObject *self)
{
    if (NULL == self->h.c_handle)
    {
        return handle_repr_closed(&self->h);
    }
    return PyUnicode_FromFormat("<shoal.Context dir=%s%s>", shoal_context_get_dir(self->h.c_handle),
        self->h.closing ? " closing" : "");
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
    handle_release_now(&self->h);
    Py_CLEAR(self->error_handler);
    if (NULL != self->start_lock)
    {
        PyThread_free_lock(self->start_lock);
    }
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
    HANDLE_METHODS("close($self, /)\n--\n\nCloses the context (idempotent). Raises InvalidStateError while a "
                   "client connected with it is open (close the client first; the context stays open). A running "
                   "driver works on its own copy of the settings and does not hold it."),
    { NULL } /* sentinel */
};

static PyGetSetDef Context_getset[] = {
    { "dir", (getter)Context_get_dir, NULL, "The driver directory.", NULL }, HANDLE_GETSET_CLOSED("True once closed."),
    { NULL } /* sentinel */
};

HandleType ContextType = {
    HANDLE_TYPE_FLAGS(Context, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, Context_dealloc, context_release,
        "Context(dir=None, **settings)\n--\n\n"
        "Settings shared by a driver and/or clients. dir is the driver directory (default "
        "$SHOAL_DIR or /dev/shm/shoal-$USER); settings are SHOAL_* names without the prefix in "
        "any case, e.g. Context(dir=d, ipc_term_length=65536, dir_delete_on_shutdown=True); "
        "error_handler=callable(errcode, message) receives asynchronous errors (see set_error_handler). "
        "Bad names or values raise InvalidArgument. A context manager."),
    HANDLE_CONSTRUCTED(Context),
    .type.tp_repr = (reprfunc)Context_repr,
    .type.tp_traverse = (traverseproc)Context_traverse,
    .type.tp_clear = (inquiry)Context_clear,
    .name = "context",
};

/* ---- the drivers and clients using a context ---- */

static int context_arg(PyObject *obj, ContextObject **out)
{
    if (!PyObject_TypeCheck(obj, &ContextType.type))
    {
        PyErr_Format(PyExc_TypeError, "expected a shoal.Context, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    ContextObject *ctx = (ContextObject *)obj;
    if (handle_check(&ctx->h) < 0)
    {
        return -1;
    }
    *out = ctx;
    return 0;
}

int context_user_open(HandleObject *user, PyObject *ctx_obj, const char *type_name, int *started, ContextObject **slot,
    void *(*start)(shoal_context_t *ctx, void *arg), void *arg)
{
    ContextObject *ctx;
    if (context_arg(ctx_obj, &ctx) < 0)
    {
        return -1;
    }
    if (*started)
    {
        char text[64];
        snprintf(text, sizeof(text), "%s.__init__ called twice", type_name);
        raise_state(text);
        return -1;
    }
    *started = 1;
    void *c_handle;
    PyThread_type_lock lock = ctx->start_lock;
    shoal_context_t *c_ctx = ctx->h.c_handle;
    Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(lock, WAIT_LOCK);
    c_handle = start(c_ctx, arg);
    PyThread_release_lock(lock);
    Py_END_ALLOW_THREADS if (NULL == c_handle)
    {
        raise_last_error(type_name);
        return -1;
    }
    Py_INCREF(ctx);
    *slot = ctx;
    ctx->users++;
    handle_open(user, c_handle);
    return 0;
}
