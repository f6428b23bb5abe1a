/* shoal.Cnc: a driver's CnC file mapped read-only through shoal_cnc_* (behind shoal.stat). */
#include "cnc.h"

#include "errors.h"
#include "handle.h"

typedef struct
{
    HandleObject h; /* c_handle: the shoal_cnc_t */
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
    handle_release_now(&self->h); /* __init__ again: the old mapping goes */
    shoal_cnc_t *cnc = NULL;
    int rc = shoal_cnc_open(&cnc, NULL != bytes ? PyBytes_AS_STRING(bytes) : NULL);
    Py_XDECREF(bytes);
    if (rc < 0)
    {
        raise_last_error("Cnc");
        return -1;
    }
    handle_open(&self->h, cnc);
    return 0;
}

static int cnc_release(HandleObject *self, void *cnc)
{
    (void)self;
    shoal_cnc_close(cnc);
    return 0;
}

static void Cnc_dealloc(CncObject *self)
{
    handle_release_now(&self->h);
    Py_TYPE(self)->tp_free((PyObject *)self);
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
        cnc_add_row(r,
            Py_BuildValue("(iiNL)", id, type_id, PyUnicode_DecodeUTF8(label, (Py_ssize_t)label_length, "replace"),
                (long long)value));
    }
}

static void cnc_on_error(void *clientd, int32_t count, int64_t first_ms, int64_t last_ms, int32_t code,
    const char *text, size_t text_length)
{
    cnc_rows_t *r = clientd;
    if (!r->failed)
    {
        cnc_add_row(r,
            Py_BuildValue("(iLLiN)", count, (long long)first_ms, (long long)last_ms, code,
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
        cnc_add_row(r,
            Py_BuildValue("(LLLLiiNN)", (long long)observations, (long long)bytes, (long long)first_ms,
                (long long)last_ms, session_id, stream_id,
                PyUnicode_DecodeUTF8(channel, (Py_ssize_t)channel_length, "replace"),
                PyUnicode_DecodeUTF8(source, (Py_ssize_t)source_length, "replace")));
    }
}

static PyObject *cnc_rows(CncObject *self, int which)
{
    if (handle_check(&self->h) < 0)
    {
        return NULL;
    }
    shoal_cnc_t *cnc = self->h.c_handle;
    cnc_rows_t r = { PyList_New(0), 0 };
    if (NULL == r.rows)
    {
        return NULL;
    }
    int rc = 0 == which ? shoal_cnc_counters_foreach(cnc, cnc_on_counter, &r)
        : 1 == which    ? shoal_cnc_errors_foreach(cnc, cnc_on_error, &r)
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

enum
{
    CNC_PID,
    CNC_DRIVER_TIMEOUT_NS,
    CNC_HEARTBEAT_AGE_NS
};

/* The driver's numbers; closure says which. */
static PyObject *Cnc_get_number(CncObject *self, void *which)
{
    if (handle_check(&self->h) < 0)
    {
        return NULL;
    }
    shoal_cnc_t *cnc = self->h.c_handle;
    switch ((intptr_t)which)
    {
        case CNC_PID: return PyLong_FromLongLong(shoal_cnc_driver_pid(cnc));
        case CNC_DRIVER_TIMEOUT_NS: return PyLong_FromLongLong(shoal_cnc_driver_timeout_ns(cnc));
        default: return PyLong_FromLongLong(shoal_cnc_driver_heartbeat_age_ns(cnc));
    }
}

static PyObject *Cnc_heartbeat_age_ns(CncObject *self, PyObject *unused)
{
    (void)unused;
    return Cnc_get_number(self, (void *)CNC_HEARTBEAT_AGE_NS);
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
    HANDLE_METHODS("close($self, /)\n--\n\nUnmaps the file (idempotent)."), { NULL } /* sentinel */
};

static PyGetSetDef Cnc_getset[] = {
    { "pid", (getter)Cnc_get_number, NULL, "The driver's process id.", (void *)CNC_PID },
    { "driver_timeout_ns", (getter)Cnc_get_number, NULL, "Heartbeat age beyond which clients consider the driver dead.",
        (void *)CNC_DRIVER_TIMEOUT_NS },
    HANDLE_GETSET_CLOSED("True once closed."), { NULL } /* sentinel */
};

HandleType CncType = {
    HANDLE_TYPE(Cnc, Cnc_dealloc, cnc_release,
        "Cnc(dir=None)\n--\n\n"
        "A driver's CnC file mapped read-only (shoal_cnc_open): counters, errors, loss report, heartbeat. "
        "Raises NoDriverError without a driver. A context manager."),
    HANDLE_CONSTRUCTED(Cnc),
};
