/* The dtype and the array of fixed-size records (poll_records, read_records). */
#include "numpy_records.h"

#include "errors.h"

static PyObject *numpy; /* imported on first use, kept for the process */

PyObject *numpy_module(void)
{
    if (NULL == numpy)
    {
        numpy = PyImport_ImportModule("numpy");
    }
    return numpy;
}

PyObject *record_dtype(PyObject *obj, const char *what, Py_ssize_t *itemsize)
{
    PyObject *np = numpy_module();
    PyObject *dtype = NULL == np ? NULL : PyObject_CallMethod(np, "dtype", "O", obj);
    if (NULL == dtype)
    {
        return NULL;
    }
    PyObject *itemsize_obj = PyObject_GetAttrString(dtype, "itemsize");
    *itemsize = NULL == itemsize_obj ? -1 : PyLong_AsSsize_t(itemsize_obj);
    Py_XDECREF(itemsize_obj);
    if (*itemsize < 1)
    {
        Py_DECREF(dtype);
        if (!PyErr_Occurred())
        {
            char text[128];
            snprintf(text, sizeof(text), "%s needs a dtype with itemsize >= 1", what);
            raise_invalid(text);
        }
        return NULL;
    }
    return dtype;
}

PyObject *record_array(Py_ssize_t count, PyObject *dtype, Py_buffer *view)
{
    PyObject *np = numpy_module();
    PyObject *array = NULL == np ? NULL : PyObject_CallMethod(np, "empty", "nO", count, dtype);
    if (NULL != array && PyObject_GetBuffer(array, view, PyBUF_SIMPLE | PyBUF_WRITABLE) < 0)
    {
        Py_CLEAR(array);
    }
    return array;
}
