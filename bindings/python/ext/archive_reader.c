/*
 * shoal.ArchiveReader: an archive directory opened read-only with
 * shoal_archive_reader_open (no driver, no server): its recordings, their
 * messages (RecordingCursor) and fixed-size records as numpy arrays
 * (recording_map.c). The Python entry point is shoal.archive.open(dir).
 */
#include "archive_reader.h"

#include "errors.h"
#include "recording_cursor.h"
#include "recording_descriptor.h"
#include "recording_map.h"

static int ArchiveReader_init(ArchiveReaderObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "dir", NULL };
    PyObject *bytes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:ArchiveReader", kwlist, PyUnicode_FSConverter, &bytes))
    {
        return -1;
    }
    if (NULL != self->h.c_handle)
    {
        Py_DECREF(bytes);
        raise_state("ArchiveReader.__init__ called twice");
        return -1;
    }
    shoal_archive_reader_t *r = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = shoal_archive_reader_open(&r, PyBytes_AS_STRING(bytes));
    Py_END_ALLOW_THREADS if (rc < 0)
    {
        char what[512];
        snprintf(what, sizeof(what), "archive %s", PyBytes_AS_STRING(bytes));
        Py_DECREF(bytes);
        raise_last_error(what);
        return -1;
    }
    Py_XSETREF(self->dir, bytes);
    Py_XSETREF(self->maps, PyDict_New());
    if (NULL == self->maps)
    {
        shoal_archive_reader_close(r);
        return -1;
    }
    handle_open(&self->h, r);
    return 0;
}

static int archive_reader_release(HandleObject *self, void *r)
{
    /* the views handed out keep their own mappings */
    Py_CLEAR(((ArchiveReaderObject *)self)->maps);
    return shoal_archive_reader_close(r) < 0 ? (raise_last_error("ArchiveReader.close"), -1) : 0;
}

static void ArchiveReader_dealloc(ArchiveReaderObject *self)
{
    handle_release_now(&self->h);
    Py_CLEAR(self->dir);
    Py_CLEAR(self->maps);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

int archive_reader_describe(ArchiveReaderObject *self, long long recording_id, shoal_recording_descriptor_t *out)
{
    if (handle_check(&self->h) < 0)
    {
        return -1;
    }
    if (shoal_archive_reader_describe(self->h.c_handle, recording_id, out) < 0)
    {
        if (SHOAL_EINVAL == shoal_errcode())
        {
            char text[512];
            snprintf(text, sizeof(text), "recording %lld: %s", recording_id, shoal_errmsg());
            raise_with_code(UnknownRecordingError, SHOAL_EINVAL, text);
            return -1;
        }
        raise_last_error("describe");
        return -1;
    }
    return 0;
}

static PyObject *ArchiveReader_recordings(ArchiveReaderObject *self, PyObject *args, PyObject *kwds)
{
    long long from_id;
    int count;
    recording_list_t l;
    if (recording_list_args(args, kwds, &from_id, &count) < 0 || handle_check(&self->h) < 0 ||
        recording_list_init(&l) < 0)
    {
        return NULL;
    }
    int rc = shoal_archive_reader_list(self->h.c_handle, from_id, count, recording_list_add, &l);
    return recording_list_result(&l, rc, "recordings");
}

static PyObject *ArchiveReader_describe(ArchiveReaderObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    if (-1 == id && PyErr_Occurred())
    {
        return NULL;
    }
    shoal_recording_descriptor_t d;
    return archive_reader_describe(self, id, &d) < 0 ? NULL : recording_descriptor_new(&d);
}

static PyObject *ArchiveReader_read_records(ArchiveReaderObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "recording_id", "dtype", "start", "stop", NULL };
    long long id;
    PyObject *dtype, *start = Py_None, *stop = Py_None;
    shoal_recording_descriptor_t d;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LO|OO:read_records", kwlist, &id, &dtype, &start, &stop) ||
        archive_reader_describe(self, id, &d) < 0)
    {
        return NULL;
    }
    /* the descriptor's strings point into the reader: read_records needs none of them */
    handle_op_begin(&self->h);
    PyObject *result = recording_read_records(PyBytes_AS_STRING(self->dir), &d, dtype, start, stop, self->maps);
    handle_op_end(&self->h);
    return result;
}

static PyObject *ArchiveReader_messages(ArchiveReaderObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "recording_id", "position", "length", "timestamps", NULL };
    long long id, position = -1, length = -1;
    int timestamps = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "L|LLp:messages", kwlist, &id, &position, &length, &timestamps))
    {
        return NULL;
    }
    if (handle_check(&self->h) < 0)
    {
        return NULL;
    }
    return recording_cursor_new(self, id, position, length, timestamps);
}

static PyObject *ArchiveReader_get_dir(ArchiveReaderObject *self, void *closure)
{
    (void)closure;
    if (NULL == self->dir)
    {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(self->dir));
}

static PyObject *ArchiveReader_repr(ArchiveReaderObject *self)
{
    PyObject *dir = ArchiveReader_get_dir(self, NULL);
    if (NULL == dir)
    {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat("<shoal.ArchiveReader %R%s>", dir, handle_is_open(&self->h) ? "" : " closed");
    Py_DECREF(dir);
    return r;
}

static PyMethodDef ArchiveReader_methods[] = {
    { "recordings", (PyCFunction)(void (*)(void))ArchiveReader_recordings, METH_VARARGS | METH_KEYWORDS,
        "recordings($self, /, from_id=0, count=None)\n--\n\n"
        "The recordings with ids >= from_id (at most count), in id order: a list of RecordingDescriptor. "
        "Reads the catalog afresh." },
    { "describe", (PyCFunction)ArchiveReader_describe, METH_O,
        "describe($self, recording_id, /)\n--\n\n"
        "The RecordingDescriptor of recording_id; UnknownRecordingError if the archive has none (or it was purged)." },
    { "read_records", (PyCFunction)(void (*)(void))ArchiveReader_read_records, METH_VARARGS | METH_KEYWORDS,
        "read_records($self, /, recording_id, dtype, start=0, stop=None)\n--\n\n"
        "The recording's messages [start:stop) (message indices, Python slice rules) as a numpy array of dtype, "
        "every message being one record of dtype.itemsize bytes. Maps the segment files: when every message "
        "is a single frame and there is no padding (a term length that is a multiple of the aligned frame), "
        "the result is a read-only strided view of the mapping (no copy); otherwise one copy into a new array. "
        "InvalidArgument if a message has another length; ShoalIOError for a missing or corrupt segment." },
    { "messages", (PyCFunction)(void (*)(void))ArchiveReader_messages, METH_VARARGS | METH_KEYWORDS,
        "messages($self, /, recording_id, position=-1, length=-1, timestamps=False)\n--\n\n"
        "An iterator of (view, header) -- (view, header, recorded_ns) with timestamps=True -- over the "
        "recording's messages from position (-1: its start; a frame boundary) for length bytes (-1: to its "
        "stop, or what is written so far of a recording in progress), as a subscription would deliver them "
        "(fragments joined; header.position is the recorded stream position). Each view is a copy, safe to keep." },
    HANDLE_METHODS("close($self, /)\n--\n\nCloses the reader (once its cursors are done; idempotent)."),
    { NULL } /* sentinel */
};

static PyGetSetDef ArchiveReader_getset[] = {
    { "dir", (getter)ArchiveReader_get_dir, NULL, "The archive directory.", NULL },
    HANDLE_GETSET_CLOSED("True once closed."), { NULL } /* sentinel */
};

HandleType ArchiveReaderType = {
    HANDLE_TYPE(ArchiveReader, ArchiveReader_dealloc, archive_reader_release,
        "ArchiveReader(dir)\n--\n\n"
        "An archive directory opened read-only, with no driver (shoal_archive_reader_open); "
        "shoal.archive.open(dir) makes one. ShoalIOError if dir holds no readable catalog. "
        "A context manager."),
    HANDLE_CONSTRUCTED(ArchiveReader),
    .type.tp_repr = (reprfunc)ArchiveReader_repr,
};
