/*
 * Fixed-size records: poll_records (into a new numpy array of a dtype) and
 * poll_into (into a caller's writable buffer) copy a batch of messages in one
 * call, with no Python object per message.
 */
#include "errors.h"
#include "numpy_records.h"
#include "subscription.h"
#include "wait.h"

/* One poll copying up to `max` messages as fixed-size records into view
 * (released here, whatever happens). Returns the count, or -1 with an
 * exception. *mismatched counts messages whose length was not record_size
 * (copied truncated / zero-padded). */
static Py_ssize_t records_poll(SubscriptionObject *self, Py_buffer *view, size_t record_size, size_t max,
    int64_t wait_ns, Py_ssize_t *mismatched)
{
    *mismatched = 0;
    if (poll_begin(self) < 0)
    {
        PyBuffer_Release(view);
        return -1;
    }
    int n = subscription_fill(self, max, wait_ns);
    Py_ssize_t bad = 0;
    uint8_t *dst = view->buf;
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
    poll_end(self);
    PyBuffer_Release(view);
    *mismatched = bad;
    return n;
}

/* records (the result: a count or an array), or, when strict and some
 * messages were not record_size long, InvalidArgument carrying it in .records. */
static PyObject *records_result(PyObject *records, Py_ssize_t bad, Py_ssize_t n, size_t record_size, int strict)
{
    if (NULL == records || 0 == bad || !strict)
    {
        return records;
    }
    char text[256];
    snprintf(text, sizeof(text),
        "%zd of %zd messages were not %zu bytes long (copied truncated/zero-padded; the records are in "
        "the exception's .records)",
        bad, n, record_size);
    raise_with_attribute(InvalidArgument, SHOAL_EINVAL, text, "records", records);
    Py_DECREF(records);
    return NULL;
}

PyObject *Subscription_poll_into(SubscriptionObject *self, PyObject *args, PyObject *kwds)
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
    Py_ssize_t bad;
    Py_ssize_t n = records_poll(self, &view, (size_t)record_size, max, wait_ns, &bad);
    return n < 0 ? NULL : records_result(PyLong_FromSsize_t(n), bad, n, (size_t)record_size, strict);
}

PyObject *Subscription_poll_records(SubscriptionObject *self, PyObject *args, PyObject *kwds)
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
    Py_ssize_t itemsize;
    PyObject *dtype = record_dtype(dtype_obj, "poll_records", &itemsize);
    if (NULL == dtype)
    {
        return NULL;
    }
    Py_buffer view;
    PyObject *array = record_array((Py_ssize_t)max, dtype, &view);
    Py_DECREF(dtype);
    if (NULL == array)
    {
        return NULL;
    }
    Py_ssize_t bad;
    Py_ssize_t n = records_poll(self, &view, (size_t)itemsize, max, wait_ns, &bad);
    PyObject *result = n < 0 ? NULL : PySequence_GetSlice(array, 0, n);
    Py_DECREF(array);
    return records_result(result, bad, n, (size_t)itemsize, strict);
}
