/*
 * shoal.ReplayMerge: shoal_replay_merge_* on an Archive's control session. A
 * late subscriber reads the recording from a position through a replay, then
 * the live stream, with no gap and no duplicate at the switch. It holds its
 * Archive (whose C close waits for it) and, like the Archive, serves one call
 * at a time; polls run with the GIL held (they never wait). A handle:
 * close()/with/closed are the shared ones.
 */
#include "replay_merge.h"

#include "archive_client.h"
#include "errors.h"
#include "views.h"

/* h.c_handle: the shoal_replay_merge_t. */
typedef struct
{
    HandleObject h;
    PyObject *archive; /* strong, held while the merge is open */
    PyObject *handler; /* the poll in progress: callable, or a list (poll_batch) */
    PyObject *error;   /* the handler's exception (type, value, tb) packed, or NULL */
    int count;
} ReplayMergeObject;

static int merge_release(HandleObject *h, void *m)
{
    Py_BEGIN_ALLOW_THREADS shoal_replay_merge_close(m);
    Py_END_ALLOW_THREADS archive_unhold(((ReplayMergeObject *)h)->archive);
    return 0;
}

/* The C close would free the merge its own poll is in. */
static int merge_check_close(HandleObject *h)
{
    if (NULL != ((ReplayMergeObject *)h)->handler)
    {
        raise_state("ReplayMerge.close from its own handler");
        return -1;
    }
    return 0;
}

PyObject *replay_merge_new(PyObject *archive, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "recording_id", "position", "replay_channel", "replay_stream_id", "live_channel",
        "live_stream_id", NULL };
    long long id, position;
    const char *replay_channel, *live_channel;
    int replay_stream, live_stream;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LLsisi:replay_merge", kwlist, &id, &position, &replay_channel,
            &replay_stream, &live_channel, &live_stream))
    {
        return NULL;
    }
    /* tp_alloc zeroes the object: no archive, merge, handler or error yet. */
    ReplayMergeObject *self = (ReplayMergeObject *)ReplayMergeType.type.tp_alloc(&ReplayMergeType.type, 0);
    if (NULL == self)
    {
        return NULL;
    }
    shoal_archive_t *a = archive_call_begin(archive);
    if (NULL == a)
    {
        Py_DECREF(self);
        return NULL;
    }
    shoal_replay_merge_t *m = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc =
        shoal_replay_merge_start(&m, a, id, position, replay_channel, replay_stream, live_channel, live_stream);
    Py_END_ALLOW_THREADS archive_call_end(archive);
    if (rc < 0)
    {
        Py_DECREF(self);
        return raise_last_error("replay_merge");
    }
    Py_INCREF(archive);
    self->archive = archive;
    archive_hold(archive);
    handle_open(&self->h, m);
    return (PyObject *)self;
}

/* The C handler: a callable gets (view, header) with the view valid during
 * the call (released after); a list (poll_batch) gets a (copy, header) pair. */
static void merge_on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    ReplayMergeObject *self = clientd;
    if (NULL != self->error)
    {
        return; /* a handler raised: the rest of this poll is skipped */
    }
    self->count++;
    const int batch = PyList_Check(self->handler);
    PyObject *view = batch ? PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len)
                           : PyMemoryView_FromMemory((char *)buf, (Py_ssize_t)len, PyBUF_READ);
    PyObject *header = (PyObject *)header_new(hdr);
    PyObject *r = NULL;
    if (NULL != view && NULL != header)
    {
        if (batch)
        {
            PyObject *pair = PyTuple_Pack(2, view, header);
            r = NULL == pair || PyList_Append(self->handler, pair) < 0 ? NULL : (Py_INCREF(Py_None), Py_None);
            Py_XDECREF(pair);
        }
        else
        {
            r = PyObject_CallFunctionObjArgs(self->handler, view, header, NULL);
        }
    }
    if (NULL != view && !batch)
    {
        release_view(view);
    }
    Py_XDECREF(view);
    Py_XDECREF(header);
    if (NULL == r)
    {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (NULL != tb)
        {
            PyException_SetTraceback(value, tb);
        }
        self->error = value;
        Py_XDECREF(type);
        Py_XDECREF(tb);
    }
    Py_XDECREF(r);
}

static int merge_poll(ReplayMergeObject *self, PyObject *handler, int limit)
{
    if (handle_check(&self->h) < 0)
    {
        return -1;
    }
    if (NULL != self->handler)
    {
        raise_state("ReplayMerge: a poll is already in progress");
        return -1;
    }
    if (NULL == archive_call_begin(self->archive))
    {
        return -1;
    }
    self->handler = handler;
    self->count = 0;
    int n = shoal_replay_merge_poll(self->h.c_handle, merge_on_message, self, limit);
    self->handler = NULL;
    archive_call_end(self->archive);
    if (NULL != self->error)
    {
        PyObject *e = self->error;
        self->error = NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
        return -1;
    }
    if (n < 0)
    {
        raise_last_error("ReplayMerge.poll");
        return -1;
    }
    return n;
}

static PyObject *ReplayMerge_poll(ReplayMergeObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "handler", "limit", NULL };
    PyObject *handler;
    int limit = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|i:poll", kwlist, &handler, &limit))
    {
        return NULL;
    }
    if (!PyCallable_Check(handler) || limit < 1)
    {
        return raise_invalid("poll needs a callable handler(view, header) and a limit >= 1");
    }
    int n = merge_poll(self, handler, limit);
    return n < 0 ? NULL : PyLong_FromLong(n);
}

static PyObject *ReplayMerge_poll_batch(ReplayMergeObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "max", NULL };
    int max = 256;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i:poll_batch", kwlist, &max))
    {
        return NULL;
    }
    if (max < 1)
    {
        return raise_invalid("poll_batch: max must be >= 1");
    }
    PyObject *list = PyList_New(0);
    if (NULL == list)
    {
        return NULL;
    }
    if (merge_poll(self, list, max) < 0)
    {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

HANDLE_GETTER(ReplayMerge_get_is_live, PyBool_FromLong, shoal_replay_merge_is_live)

HANDLE_GETTER(ReplayMerge_get_position, PyLong_FromLongLong, shoal_replay_merge_position)

static void ReplayMerge_dealloc(ReplayMergeObject *self)
{
    handle_release_now(&self->h);
    Py_XDECREF(self->archive);
    Py_XDECREF(self->error);
    PyObject_Free(self);
}

static PyMethodDef ReplayMerge_methods[] = {
    { "poll", (PyCFunction)(void (*)(void))ReplayMerge_poll, METH_VARARGS | METH_KEYWORDS,
        "poll($self, /, handler, limit=10)\n--\n\n"
        "Delivers up to limit messages to handler(view, header) (the view valid during the call), from the replay "
        "then from the live stream; returns how many. Also moves the merge on (call it in a loop)." },
    { "poll_batch", (PyCFunction)(void (*)(void))ReplayMerge_poll_batch, METH_VARARGS | METH_KEYWORDS,
        "poll_batch($self, /, max=256)\n--\n\nUp to max messages as a list of (bytes, header)." },
    HANDLE_METHODS("close($self, /)\n--\n\nStops the replay and the subscriptions (idempotent)."),
    { NULL } /* sentinel */
};

static PyGetSetDef ReplayMerge_getset[] = {
    { "is_live", (getter)ReplayMerge_get_is_live, NULL, "True once it reads the live stream.", NULL },
    { "position", (getter)ReplayMerge_get_position, NULL, "Stream position after the last message delivered.", NULL },
    HANDLE_GETSET_CLOSED("True once closed."), { NULL } /* sentinel */
};

HandleType ReplayMergeType = {
    HANDLE_TYPE(ReplayMerge, ReplayMerge_dealloc, merge_release,
        "A recording replayed then merged into the live stream (Archive.replay_merge). A context manager."),
    .check_close = merge_check_close,
};
