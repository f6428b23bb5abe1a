/*
 * Fixed-size records: poll_records (into a new numpy array of a dtype) and
 * poll_into (into a caller's writable buffer) copy a batch of messages in one
 * call, with no Python object per message.
 */
#include "errors.h"
#include "subscription.h"
#include "wait.h"

static PyObject *numpy_module;  /* imported on first poll_records */

/* Copies up to `max` messages as fixed-size records into dst. Returns the
 * count, or -1 with an exception. mismatched counts messages whose length was
 * not record_size (copied truncated / zero-padded). */
static Py_ssize_t subscription_copy_records(SubscriptionObject *self, uint8_t *dst, size_t record_size, size_t max,
    int64_t wait_ns, Py_ssize_t *mismatched)
{
    int n = subscription_fill(self, max, wait_ns);
    if (n < 0)
    {
        return -1;
    }
    Py_ssize_t bad = 0;
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
    *mismatched = bad;
    return n;
}

static PyObject *raise_mismatch(Py_ssize_t bad, Py_ssize_t n, size_t record_size, PyObject *records)
{
    char text[256];
    snprintf(text, sizeof(text),
        "%zd of %zd messages were not %zu bytes long (copied truncated/zero-padded; the records are in "
        "the exception's .records)", bad, n, record_size);
    return raise_with_attribute(InvalidArgument, SHOAL_EINVAL, text, "records", records);
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
    if (poll_begin(self) < 0)
    {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t bad = 0;
    Py_ssize_t n = subscription_copy_records(self, view.buf, (size_t)record_size, max, wait_ns, &bad);
    poll_end(self);
    PyBuffer_Release(&view);
    if (n < 0)
    {
        return NULL;
    }
    PyObject *count = PyLong_FromSsize_t(n);
    if (bad > 0 && strict && NULL != count)
    {
        raise_mismatch(bad, n, (size_t)record_size, count);
        Py_DECREF(count);
        return NULL;
    }
    return count;
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
    if (NULL == numpy_module && NULL == (numpy_module = PyImport_ImportModule("numpy")))
    {
        return NULL;
    }
    PyObject *dtype = PyObject_CallMethod(numpy_module, "dtype", "O", dtype_obj);
    if (NULL == dtype)
    {
        return NULL;
    }
    PyObject *itemsize_obj = PyObject_GetAttrString(dtype, "itemsize");
    Py_ssize_t itemsize = NULL == itemsize_obj ? -1 : PyLong_AsSsize_t(itemsize_obj);
    Py_XDECREF(itemsize_obj);
    if (itemsize < 1)
    {
        Py_DECREF(dtype);
        if (!PyErr_Occurred())
        {
            raise_invalid("poll_records needs a dtype with itemsize >= 1");
        }
        return NULL;
    }
    PyObject *array = PyObject_CallMethod(numpy_module, "empty", "nO", (Py_ssize_t)max, dtype);
    Py_DECREF(dtype);
    if (NULL == array)
    {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(array, &view, PyBUF_SIMPLE | PyBUF_WRITABLE) < 0)
    {
        Py_DECREF(array);
        return NULL;
    }
    if (poll_begin(self) < 0)
    {
        PyBuffer_Release(&view);
        Py_DECREF(array);
        return NULL;
    }
    Py_ssize_t bad = 0;
    Py_ssize_t n = subscription_copy_records(self, view.buf, (size_t)itemsize, max, wait_ns, &bad);
    poll_end(self);
    PyBuffer_Release(&view);
    if (n < 0)
    {
        Py_DECREF(array);
        return NULL;
    }
    PyObject *result = PySequence_GetSlice(array, 0, n);
    Py_DECREF(array);
    if (NULL != result && bad > 0 && strict)
    {
        raise_mismatch(bad, n, (size_t)itemsize, result);
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

