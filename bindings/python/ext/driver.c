/* shoal.Driver: an embedded media driver on its own thread. */
#include "driver.h"

#include "context.h"
#include "errors.h"

typedef ServiceObject DriverObject; /* dir: the directory it runs in */

static void *driver_start(shoal_context_t *ctx, void *arg)
{
    (void)arg;
    shoal_driver_t *driver = NULL;
    return shoal_driver_start(&driver, ctx) < 0 ? NULL : driver;
}

static int driver_stop(void *driver)
{
    return shoal_driver_close(driver);
}

static int Driver_init(DriverObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "ctx", NULL };
    PyObject *ctx;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Driver", kwlist, &ctx) ||
        service_open(self, ctx, "Driver", driver_start, NULL, driver_stop) < 0)
    {
        return -1;
    }
    /* The driver runs on its own copy of the settings: it outlives a closed context. */
    self->dir = PyUnicode_DecodeFSDefault(shoal_context_get_dir(self->ctx->h.c_handle));
    return NULL == self->dir ? -1 : 0;
}

static PyObject *Driver_get_dir(DriverObject *self, void *closure)
{
    (void)closure;
    if (handle_check(&self->h) < 0)
    {
        return NULL;
    }
    Py_INCREF(self->dir);
    return self->dir;
}

static PyObject *Driver_repr(DriverObject *self)
{
    return handle_is_open(&self->h) ? PyUnicode_FromFormat("<shoal.Driver dir=%U>", self->dir)
                                    : handle_repr_closed(&self->h);
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
    Py_BEGIN_ALLOW_THREADS active = shoal_driver_is_active(PyBytes_AS_STRING(bytes), ms);
    Py_END_ALLOW_THREADS Py_DECREF(bytes);
    return PyBool_FromLong(active);
}

static PyMethodDef Driver_methods[] = {
    { "is_active", (PyCFunction)(void (*)(void))Driver_is_active, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
        "is_active(dir, timeout=10.0)\n--\n\nWhether a live driver (heartbeat within timeout seconds) owns dir." },
    HANDLE_METHODS("close($self, /)\n--\n\nStops the driver thread (idempotent; releases the GIL while it joins)."),
    { NULL } /* sentinel */
};

static PyMemberDef Driver_members[] = {
    { "context", T_OBJECT, offsetof(DriverObject, ctx), READONLY, "The Context the driver runs with." },
    { NULL } /* sentinel */
};

static PyGetSetDef Driver_getset[] = {
    HANDLE_GETSET_CLOSED("True once closed."), { "dir", (getter)Driver_get_dir, NULL, "The driver directory.", NULL },
    { NULL } /* sentinel */
};

HandleType DriverType = {
    HANDLE_TYPE(Driver, service_dealloc, service_release,
        "Driver(ctx)\n--\n\n"
        "An embedded media driver running on its own thread for ctx's directory. Raises "
        "DriverActiveError if another live driver owns the directory. A context manager."),
    HANDLE_CONSTRUCTED(Driver),
    .type.tp_repr = (reprfunc)Driver_repr,
    .type.tp_members = Driver_members,
    .name = "driver",
};
