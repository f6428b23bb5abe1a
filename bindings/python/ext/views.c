/*
 * Views into the log: the memoryviews poll handlers and poll_batch hand out,
 * the exporter that keeps their log mapped, and the Header that comes with
 * each message.
 */
#include "views.h"

#include "errors.h"

static PyObject *str_release; /* interned "release" */

int views_init(void)
{
    str_release = PyUnicode_InternFromString("release");
    return NULL == str_release ? -1 : 0;
}

void release_view(PyObject *view)
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

HeaderObject *header_new(const shoal_header_t *h)
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
    return PyUnicode_FromFormat("Header(session_id=%d, stream_id=%d, term_id=%d, term_offset=%d, frame_length=%d, "
                                "flags=0x%x, "
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
    { NULL } /* sentinel */
};

PyTypeObject HeaderType = {
    SHOAL_TYPE_HEAD("Header", HeaderObject, Header_dealloc, Py_TPFLAGS_DEFAULT,
        "Header of a delivered message (a copy: safe to keep)."),
    .tp_repr = (reprfunc)Header_repr,
    .tp_members = Header_members,
};

/* Holds one reference on a log mapping; exports exactly the range armed
 * just before PyMemoryView_FromObject, and nothing else (a user reaching it
 * through view.obj gets a BufferError, not the whole log). */
struct LogExporterObject
{
    PyObject_HEAD shoal_mapping_t *mapping;
    const uint8_t *armed_data;
    Py_ssize_t armed_length;
};

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
        shoal_mapping_release(self->mapping); /* the last reference unmaps */
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyTypeObject LogExporterType = {
    SHOAL_TYPE_HEAD("_LogExporter", LogExporterObject, LogExporter_dealloc, Py_TPFLAGS_DEFAULT,
        "Keeps a log buffer mapped while views made from it live (internal)."),
    .tp_as_buffer = &LogExporter_as_buffer,
};

PyObject *log_view(shoal_subscription_t *sub, LogExporterObject **exporter, const uint8_t *data, size_t len)
{
    LogExporterObject *e = *exporter;
    if (NULL == e || !shoal_mapping_contains(e->mapping, data, len))
    {
        shoal_mapping_t *m = NULL;
        if (shoal_subscription_retain_mapping(sub, data, len, &m) < 0)
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
