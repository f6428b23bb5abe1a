/*
 * shoal.Archive(client): controls an archive server (shoal.ArchiveServer or
 * shoal-archived) over the client's driver with the C client API
 * (shoal_archive_*). It is a child of its Client, as a Publication is:
 * closing the client closes it first. Every call waits for the server's
 * answer with the GIL released; a handle serves one call at a time (a second
 * thread gets InvalidStateError).
 *
 * replay() returns a Subscription to the replay (the replay channel with the
 * replay's session-id, so it sees that replay only); stop_replay() takes that
 * Subscription or the replay session id.
 */
#include "archive_client.h"

#include "errors.h"
#include "recording_descriptor.h"
#include "replay_merge.h"

#include "shoal/shoal_archive.h"

typedef struct
{
    ChildObject child; /* h.c_handle: the shoal_archive_t */
    PyObject *replays; /* dict: Subscription -> replay session id */
    int calling;       /* a call is waiting for the server */
} ArchiveObject;

static shoal_archive_t *archive_begin(ArchiveObject *self)
{
    if (handle_check(&self->child.h) < 0)
    {
        return NULL;
    }
    if (self->calling)
    {
        raise_state("Archive: another call is waiting for the server on this handle (one thread at a time)");
        return NULL;
    }
    self->calling = 1;
    handle_op_begin(&self->child.h);
    return self->child.h.c_handle;
}

static void archive_end(ArchiveObject *self)
{
    self->calling = 0;
    handle_op_end(&self->child.h);
}

shoal_archive_t *archive_call_begin(PyObject *archive)
{
    return archive_begin((ArchiveObject *)archive);
}

void archive_call_end(PyObject *archive)
{
    archive_end((ArchiveObject *)archive);
}

void archive_hold(PyObject *archive)
{
    handle_hold(&((ArchiveObject *)archive)->child.h);
}

void archive_unhold(PyObject *archive)
{
    handle_unhold(&((ArchiveObject *)archive)->child.h);
}

static int Archive_init(ArchiveObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "client", NULL };
    PyObject *client_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Archive", kwlist, &client_obj))
    {
        return -1;
    }
    if (!PyObject_TypeCheck(client_obj, &ClientType.type))
    {
        PyErr_Format(PyExc_TypeError, "expected a shoal.Client, not %.100s", Py_TYPE(client_obj)->tp_name);
        return -1;
    }
    if (NULL != self->child.owner)
    {
        raise_state("Archive.__init__ called twice");
        return -1;
    }
    ClientObject *client = (ClientObject *)client_obj;
    if (handle_check(&client->h) < 0)
    {
        return -1;
    }
    self->replays = PyDict_New();
    PyObject *name = PyUnicode_FromString("archive");
    if (NULL == self->replays || NULL == name)
    {
        Py_XDECREF(name);
        return -1;
    }
    shoal_archive_t *a = NULL;
    int rc;
    handle_op_begin(&client->h);
    Py_BEGIN_ALLOW_THREADS rc = shoal_archive_connect(&a, client->h.c_handle);
    Py_END_ALLOW_THREADS if (rc < 0)
    {
        raise_last_error("Archive");
    }
    else
    {
        child_attach(&self->child, client, name, 0, a);
    }
    Py_DECREF(name);
    handle_op_end(&client->h);
    return rc < 0 ? -1 : 0;
}

static int archive_release(HandleObject *h, void *a)
{
    Py_BEGIN_ALLOW_THREADS shoal_archive_close(a);
    Py_END_ALLOW_THREADS child_detach((ChildObject *)h);
    return 0;
}

static void Archive_dealloc(ArchiveObject *self)
{
    if (NULL != self->child.owner)
    {
        child_dealloc(&self->child);
    }
    Py_XDECREF(self->replays);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* An int64 result of a call: the value, or the exception for -1. */
static PyObject *int64_result(int64_t r, const char *what)
{
    return r < 0 ? raise_last_error(what) : PyLong_FromLongLong(r);
}

static PyObject *Archive_start_recording(ArchiveObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "channel", "stream_id", "source", NULL };
    const char *channel, *source = "local";
    int stream_id;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "si|s:start_recording", kwlist, &channel, &stream_id, &source))
    {
        return NULL;
    }
    shoal_archive_source_location_t where;
    if (0 == strcmp(source, "local"))
    {
        where = SHOAL_ARCHIVE_SOURCE_LOCAL;
    }
    else if (0 == strcmp(source, "remote"))
    {
        where = SHOAL_ARCHIVE_SOURCE_REMOTE;
    }
    else
    {
        return raise_invalid("start_recording: source must be 'local' or 'remote'");
    }
    shoal_archive_t *a = archive_begin(self);
    if (NULL == a)
    {
        return NULL;
    }
    int64_t r;
    Py_BEGIN_ALLOW_THREADS r = shoal_archive_start_recording_from(a, channel, stream_id, where);
    Py_END_ALLOW_THREADS archive_end(self);
    return int64_result(r, "start_recording");
}

/* The calls taking one or two int64 arguments and answering 0 / -1 or an int64. */
enum
{
    CALL_STOP_RECORDING,
    CALL_RECORDING_POSITION,
    CALL_TRUNCATE,
    CALL_PURGE,
    CALL_STOP_REPLAY
};

static PyObject *archive_call(ArchiveObject *self, int which, long long x, long long y, const char *what)
{
    shoal_archive_t *a = archive_begin(self);
    if (NULL == a)
    {
        return NULL;
    }
    int64_t r = -1;
    Py_BEGIN_ALLOW_THREADS switch (which)
    {
        case CALL_STOP_RECORDING: r = shoal_archive_stop_recording(a, x); break;
        case CALL_RECORDING_POSITION: r = shoal_archive_recording_position(a, x); break;
        case CALL_TRUNCATE: r = shoal_archive_truncate(a, x, y); break;
        case CALL_PURGE: r = shoal_archive_purge(a, x); break;
        default: r = shoal_archive_stop_replay(a, x); break;
    }
    Py_END_ALLOW_THREADS archive_end(self);
    if (r < 0)
    {
        return raise_last_error(what);
    }
    if (CALL_RECORDING_POSITION == which)
    {
        return PyLong_FromLongLong(r);
    }
    Py_RETURN_NONE;
}

static PyObject *Archive_stop_recording(ArchiveObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    return -1 == id && PyErr_Occurred() ? NULL : archive_call(self, CALL_STOP_RECORDING, id, 0, "stop_recording");
}

static PyObject *Archive_recording_position(ArchiveObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    return -1 == id && PyErr_Occurred() ? NULL
                                        : archive_call(self, CALL_RECORDING_POSITION, id, 0, "recording_position");
}

static PyObject *Archive_truncate(ArchiveObject *self, PyObject *args)
{
    long long id, position;
    if (!PyArg_ParseTuple(args, "LL:truncate", &id, &position))
    {
        return NULL;
    }
    return archive_call(self, CALL_TRUNCATE, id, position, "truncate");
}

static PyObject *Archive_purge(ArchiveObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    return -1 == id && PyErr_Occurred() ? NULL : archive_call(self, CALL_PURGE, id, 0, "purge");
}

/* The list waits for the server with the GIL released; the handler, called
 * on this thread, takes it for each descriptor. */
static PyObject *Archive_recordings(ArchiveObject *self, PyObject *args, PyObject *kwds)
{
    long long from_id;
    int count;
    recording_list_t l;
    if (recording_list_args(args, kwds, &from_id, &count) < 0 || recording_list_init(&l) < 0)
    {
        return NULL;
    }
    shoal_archive_t *a = archive_begin(self);
    if (NULL == a)
    {
        Py_DECREF(l.list);
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = shoal_archive_list_recordings(a, from_id, count, recording_list_add_without_gil, &l);
    Py_END_ALLOW_THREADS archive_end(self);
    return recording_list_result(&l, rc, "recordings");
}

/* channel with session-id=<id> added (a replay's image only). */
static PyObject *channel_with_session(const char *channel, int32_t session_id)
{
    return PyUnicode_FromFormat("%s%ssession-id=%d", channel, NULL != strchr(channel, '?') ? "|" : "?",
        (int)session_id);
}

static PyObject *Archive_replay(ArchiveObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "recording_id", "channel", "stream_id", "position", "length", NULL };
    long long id, position = 0;
    const char *channel;
    int stream_id;
    PyObject *length_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Lsi|LO:replay", kwlist, &id, &channel, &stream_id, &position,
            &length_obj))
    {
        return NULL;
    }
    long long length = -1;
    if (Py_None != length_obj && (-1 == (length = PyLong_AsLongLong(length_obj)) && PyErr_Occurred()))
    {
        return NULL;
    }
    shoal_archive_t *a = archive_begin(self);
    if (NULL == a)
    {
        return NULL;
    }
    int64_t replay_id;
    Py_BEGIN_ALLOW_THREADS replay_id = shoal_archive_replay(a, id, position, length, channel, stream_id);
    Py_END_ALLOW_THREADS archive_end(self);
    if (replay_id < 0)
    {
        return raise_last_error("replay");
    }
    PyObject *uri = channel_with_session(channel, (int32_t)(uint32_t)(uint64_t)replay_id);
    PyObject *sub = NULL == uri
        ? NULL
        : PyObject_CallMethod((PyObject *)self->child.owner, "add_subscription", "Oi", uri, stream_id);
    Py_XDECREF(uri);
    PyObject *rid = PyLong_FromLongLong(replay_id);
    if (NULL == sub || NULL == rid || PyDict_SetItem(self->replays, sub, rid) < 0)
    {
        /* no one will read it: stop it rather than leave it waiting for a subscriber */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (NULL != archive_begin(self))
        {
            Py_BEGIN_ALLOW_THREADS shoal_archive_stop_replay(a, replay_id);
            Py_END_ALLOW_THREADS archive_end(self);
        }
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
        Py_XDECREF(sub);
        Py_XDECREF(rid);
        return NULL;
    }
    Py_DECREF(rid);
    return sub;
}

static PyObject *Archive_stop_replay(ArchiveObject *self, PyObject *arg)
{
    long long id;
    PyObject *known = PyDict_GetItemWithError(self->replays, arg);
    if (NULL != known)
    {
        id = PyLong_AsLongLong(known);
    }
    else if (PyErr_Occurred())
    {
        return NULL;
    }
    else if (PyLong_Check(arg))
    {
        id = PyLong_AsLongLong(arg);
    }
    else
    {
        return raise_invalid("stop_replay takes a Subscription from replay() or a replay session id");
    }
    if (-1 == id && PyErr_Occurred())
    {
        return NULL;
    }
    PyObject *r = archive_call(self, CALL_STOP_REPLAY, id, 0, "stop_replay");
    if (NULL != r && NULL != known && PyDict_DelItem(self->replays, arg) < 0)
    {
        Py_CLEAR(r);
    }
    return r;
}

static PyObject *Archive_replay_session_id(ArchiveObject *self, PyObject *sub)
{
    PyObject *id = PyDict_GetItemWithError(self->replays, sub);
    if (NULL == id)
    {
        return PyErr_Occurred() ? NULL : raise_invalid("not a Subscription from this Archive's replay()");
    }
    Py_INCREF(id);
    return id;
}

static PyObject *Archive_replay_merge(ArchiveObject *self, PyObject *args, PyObject *kwds)
{
    return replay_merge_new((PyObject *)self, args, kwds);
}

HANDLE_GETTER(Archive_get_control_session_id, PyLong_FromLongLong, shoal_archive_control_session_id)

static PyObject *Archive_get_client(ArchiveObject *self, void *closure)
{
    (void)closure;
    PyObject *c = NULL != self->child.owner ? (PyObject *)self->child.owner : Py_None;
    Py_INCREF(c);
    return c;
}

static PyMethodDef Archive_methods[] = {
    { "start_recording", (PyCFunction)(void (*)(void))Archive_start_recording, METH_VARARGS | METH_KEYWORDS,
        "start_recording($self, /, channel, stream_id, source='local')\n--\n\n"
        "Records every session of (channel, stream_id); returns the server's recording subscription id (what "
        "stop_recording takes). source 'local': a UDP channel is read from this driver's publication through a "
        "spy (no extra network traffic); 'remote': received over the network. IPC is always read in place." },
    { "stop_recording", (PyCFunction)Archive_stop_recording, METH_O,
        "stop_recording($self, subscription_id, /)\n--\n\nStops the recordings of that subscription." },
    { "recordings", (PyCFunction)(void (*)(void))Archive_recordings, METH_VARARGS | METH_KEYWORDS,
        "recordings($self, /, from_id=0, count=None)\n--\n\nThe server's recordings: a list of RecordingDescriptor." },
    { "recording_position", (PyCFunction)Archive_recording_position, METH_O,
        "recording_position($self, recording_id, /)\n--\n\n"
        "The position an active recording reached on disk, or a stopped one's stop position." },
    { "replay", (PyCFunction)(void (*)(void))Archive_replay, METH_VARARGS | METH_KEYWORDS,
        "replay($self, /, recording_id, channel, stream_id, position=0, length=None)\n--\n\n"
        "Replays the recording from position (a frame boundary) for length bytes (None: to its end, following "
        "it while it records) on (channel, stream_id), keeping the recording's positions; returns a Subscription "
        "to that replay (channel + session-id). stop_replay(subscription) ends it early." },
    { "stop_replay", (PyCFunction)Archive_stop_replay, METH_O,
        "stop_replay($self, replay, /)\n--\n\nStops a replay: the Subscription replay() returned, or a replay "
        "session id." },
    { "replay_session_id", (PyCFunction)Archive_replay_session_id, METH_O,
        "replay_session_id($self, subscription, /)\n--\n\nThe replay session id behind a Subscription from replay()." },
    { "replay_merge", (PyCFunction)(void (*)(void))Archive_replay_merge, METH_VARARGS | METH_KEYWORDS,
        "replay_merge($self, /, recording_id, position, replay_channel, replay_stream_id, live_channel, "
        "live_stream_id)\n--\n\n"
        "A late joiner: replays the recording from position, then switches to the live stream with no gap and no "
        "duplicate (ReplayMerge). Poll the returned ReplayMerge; is_live tells when it switched." },
    { "truncate", (PyCFunction)Archive_truncate, METH_VARARGS,
        "truncate($self, recording_id, position, /)\n--\n\nCuts a stopped recording at position (a frame boundary)." },
    { "purge", (PyCFunction)Archive_purge, METH_O,
        "purge($self, recording_id, /)\n--\n\nDeletes a stopped recording and its files." },
    HANDLE_METHODS("close($self, /)\n--\n\nEnds the control session (recordings go on; idempotent)."),
    { NULL } /* sentinel */
};

static PyGetSetDef Archive_getset[] = {
    { "control_session_id", (getter)Archive_get_control_session_id, NULL, "The server's id of this session.", NULL },
    { "client", (getter)Archive_get_client, NULL, "The Client it runs on.", NULL },
    HANDLE_GETSET_CLOSED("True once closed (or its client closed)."), { NULL } /* sentinel */
};

HandleType ArchiveType = {
    HANDLE_TYPE(Archive, Archive_dealloc, archive_release,
        "Archive(client)\n--\n\n"
        "A control session with the archive server on the client's driver (shoal_archive_connect): "
        "TimeoutError when no server answers. Closed with its client. A context manager."),
    HANDLE_CONSTRUCTED(Archive),
};
