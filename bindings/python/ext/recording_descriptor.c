/*
 * shoal.RecordingDescriptor: a named tuple (PyStructSequence) of the fields of
 * shoal_recording_descriptor_t, strings copied, so it is safe to keep.
 */
#include "recording_descriptor.h"

#include "errors.h"

PyTypeObject RecordingDescriptorType;

static PyStructSequence_Field descriptor_fields[] = {
    { "recording_id", "The recording's id in its archive." },
    { "start_position", "Stream position of the first recorded byte." },
    { "stop_position", "Stream position after the last recorded byte; -1 while recording." },
    { "start_timestamp_ns", "CLOCK_REALTIME ns when the recording started." },
    { "stop_timestamp_ns", "CLOCK_REALTIME ns when it stopped; -1 while recording." },
    { "initial_term_id", "The recorded stream's initial term id." },
    { "term_length", "The recorded stream's term length." },
    { "mtu", "The recorded stream's mtu." },
    { "segment_length", "Bytes a segment file of the recording holds." },
    { "session_id", "The recorded publication's session id." },
    { "stream_id", "The recorded stream id." },
    { "channel", "The recorded channel URI." },
    { "source_identity", "Where the recorded stream came from (the sender's address, or 'aeron:ipc')." },
    { NULL, NULL },
};

static PyStructSequence_Desc descriptor_desc = {
    "shoal.RecordingDescriptor",
    "A recording as the archive's catalog describes it (a named tuple; positions are stream positions, "
    "timestamps CLOCK_REALTIME ns).",
    descriptor_fields,
    13,
};

int recording_descriptor_init(void)
{
    if (NULL != RecordingDescriptorType.tp_name)
    {
        return 0;
    }
    return PyStructSequence_InitType2(&RecordingDescriptorType, &descriptor_desc);
}

static PyObject *text(const char *s)
{
    return PyUnicode_DecodeUTF8(NULL != s ? s : "", NULL != s ? (Py_ssize_t)strlen(s) : 0, "replace");
}

PyObject *recording_descriptor_new(const shoal_recording_descriptor_t *d)
{
    /* N: a NULL text (its exception set) fails the build, which still releases the other one. */
    PyObject *values = Py_BuildValue("(LLLLLiiiiiiNN)", (long long)d->recording_id, (long long)d->start_position,
        (long long)d->stop_position, (long long)d->start_timestamp_ns, (long long)d->stop_timestamp_ns,
        (int)d->initial_term_id, (int)d->term_length, (int)d->mtu, (int)d->segment_length, (int)d->session_id,
        (int)d->stream_id, text(d->channel), text(d->source_identity));
    PyObject *t = NULL == values ? NULL : PyObject_CallOneArg((PyObject *)&RecordingDescriptorType, values);
    Py_XDECREF(values);
    return t;
}

int recording_list_args(PyObject *args, PyObject *kwds, long long *from_id, int *count)
{
    static char *kwlist[] = { "from_id", "count", NULL };
    *from_id = 0;
    *count = INT32_MAX;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Li:recordings", kwlist, from_id, count))
    {
        return -1;
    }
    if (*from_id < 0 || *count < 0)
    {
        raise_invalid("recordings: from_id and count must be >= 0");
        return -1;
    }
    return 0;
}

int recording_list_init(recording_list_t *l)
{
    l->failed = 0;
    l->list = PyList_New(0);
    return NULL == l->list ? -1 : 0;
}

void recording_list_add(void *clientd, const shoal_recording_descriptor_t *d)
{
    recording_list_t *l = clientd;
    if (l->failed)
    {
        return;
    }
    PyObject *row = recording_descriptor_new(d);
    if (NULL == row || PyList_Append(l->list, row) < 0)
    {
        l->failed = 1;
    }
    Py_XDECREF(row);
}

void recording_list_add_without_gil(void *clientd, const shoal_recording_descriptor_t *d)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    recording_list_add(clientd, d);
    PyGILState_Release(gil);
}

PyObject *recording_list_result(recording_list_t *l, int rc, const char *what)
{
    if (l->failed || rc < 0)
    {
        Py_CLEAR(l->list);
        return l->failed ? NULL : raise_last_error(what);
    }
    return l->list;
}
