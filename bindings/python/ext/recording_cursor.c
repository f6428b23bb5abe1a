/*
 * shoal.RecordingCursor: the iterator ArchiveReader.messages() returns. It
 * polls a shoal_recording_cursor_t a batch at a time, copying each message
 * (the C cursor's buffer is valid only during its handler), and holds its
 * reader open (handle_hold) until it is exhausted, closed or collected.
 */
#include "recording_cursor.h"

#include "errors.h"
#include "views.h"

#define CURSOR_BATCH 256

typedef struct
{
    PyObject_HEAD ArchiveReaderObject *reader; /* strong, held while c is open */
    shoal_recording_cursor_t *c;               /* NULL once closed */
    PyObject *batch;                           /* list of items from the last poll */
    Py_ssize_t next;                           /* the next item of batch to hand out */
    int timestamps;
    int failed; /* a Python failure inside the handler */
} RecordingCursorObject;

static void cursor_close(RecordingCursorObject *self)
{
    if (NULL != self->c)
    {
        shoal_recording_cursor_close(self->c);
        self->c = NULL;
        handle_unhold(&self->reader->h);
    }
}

PyObject *recording_cursor_new(ArchiveReaderObject *reader, long long recording_id, long long position,
    long long length, int timestamps)
{
    shoal_recording_cursor_t *c = NULL;
    if (shoal_recording_cursor_open(&c, reader->h.c_handle, recording_id, position, length) < 0)
    {
        if (SHOAL_EINVAL == shoal_errcode() && position < 0 && length < 0)
        {
            /* no position to be wrong about: the id is */
            char text[512];
            snprintf(text, sizeof(text), "recording %lld: %s", recording_id, shoal_errmsg());
            return raise_with_code(UnknownRecordingError, SHOAL_EINVAL, text);
        }
        return raise_last_error("messages");
    }
    RecordingCursorObject *self = PyObject_New(RecordingCursorObject, &RecordingCursorType);
    if (NULL == self)
    {
        shoal_recording_cursor_close(c);
        return NULL;
    }
    Py_INCREF(reader);
    self->reader = reader;
    handle_hold(&reader->h);
    self->c = c;
    self->batch = NULL;
    self->next = 0;
    self->timestamps = timestamps;
    self->failed = 0;
    return (PyObject *)self;
}

static void cursor_on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    RecordingCursorObject *self = clientd;
    if (self->failed)
    {
        return;
    }
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
    PyObject *view = NULL == bytes ? NULL : PyMemoryView_FromObject(bytes);
    Py_XDECREF(bytes);
    PyObject *header = (PyObject *)header_new(hdr);
    PyObject *item = NULL;
    if (NULL != view && NULL != header)
    {
        item = self->timestamps
            ? Py_BuildValue("(OOL)", view, header, (long long)shoal_recording_cursor_timestamp_ns(self->c))
            : PyTuple_Pack(2, view, header);
    }
    Py_XDECREF(view);
    Py_XDECREF(header);
    if (NULL == item || PyList_Append(self->batch, item) < 0)
    {
        self->failed = 1;
    }
    Py_XDECREF(item);
}

static PyObject *RecordingCursor_next(RecordingCursorObject *self)
{
    if (NULL != self->batch && self->next < PyList_GET_SIZE(self->batch))
    {
        PyObject *item = PyList_GET_ITEM(self->batch, self->next);
        self->next++;
        Py_INCREF(item);
        return item;
    }
    if (NULL == self->c)
    {
        return NULL; /* exhausted or closed: StopIteration */
    }
    if (!handle_is_open(&self->reader->h))
    {
        cursor_close(self);
        return raise_closed("ArchiveReader");
    }
    Py_XSETREF(self->batch, PyList_New(0));
    self->next = 0;
    if (NULL == self->batch)
    {
        return NULL;
    }
    int n = shoal_recording_cursor_poll(self->c, cursor_on_message, self, CURSOR_BATCH);
    if (self->failed)
    {
        cursor_close(self);
        return NULL;
    }
    if (n < 0)
    {
        cursor_close(self);
        return raise_last_error("messages");
    }
    if (0 == n)
    {
        cursor_close(self); /* the end, or all that is written of a recording in progress */
        return NULL;
    }
    return RecordingCursor_next(self);
}

static PyObject *RecordingCursor_close(RecordingCursorObject *self, PyObject *unused)
{
    (void)unused;
    cursor_close(self);
    Py_RETURN_NONE;
}

static PyObject *RecordingCursor_get_position(RecordingCursorObject *self, void *closure)
{
    (void)closure;
    if (NULL == self->c)
    {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(shoal_recording_cursor_position(self->c));
}

static void RecordingCursor_dealloc(RecordingCursorObject *self)
{
    cursor_close(self);
    Py_XDECREF(self->batch);
    Py_XDECREF(self->reader);
    PyObject_Free(self);
}

static PyMethodDef RecordingCursor_methods[] = {
    { "close", (PyCFunction)RecordingCursor_close, METH_NOARGS,
        "close($self, /)\n--\n\nStops the iteration and lets the reader close (idempotent)." },
    { NULL } /* sentinel */
};

static PyGetSetDef RecordingCursor_getset[] = {
    { "position", (getter)RecordingCursor_get_position, NULL,
        "Stream position after the last message polled (None once exhausted or closed).", NULL },
    { NULL } /* sentinel */
};

PyTypeObject RecordingCursorType = {
    SHOAL_TYPE_HEAD("RecordingCursor", RecordingCursorObject, RecordingCursor_dealloc, Py_TPFLAGS_DEFAULT,
        "Iterator over a recording's messages (ArchiveReader.messages)."),
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)RecordingCursor_next,
    .tp_methods = RecordingCursor_methods,
    .tp_getset = RecordingCursor_getset,
};
