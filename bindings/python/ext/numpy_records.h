/*
 * Fixed-size records as numpy arrays, for Subscription.poll_records and
 * ArchiveReader.read_records: the dtype a caller names and the array the
 * records are copied into. numpy is imported on first use (the extension
 * does not link against it).
 */
#ifndef SHOAL_PY_NUMPY_RECORDS_H
#define SHOAL_PY_NUMPY_RECORDS_H

#include "common.h"

/* The numpy module (a borrowed reference, imported once); NULL with an exception. */
PyObject *numpy_module(void);

/* numpy.dtype(obj), with its itemsize in *itemsize; an itemsize < 1 raises
 * InvalidArgument("<what> needs a dtype with itemsize >= 1"). NULL with an
 * exception. */
PyObject *record_dtype(PyObject *obj, const char *what, Py_ssize_t *itemsize);

/* numpy.empty(count, dtype), its buffer (C-contiguous, writable) in *view:
 * PyBuffer_Release it. NULL with an exception. */
PyObject *record_array(Py_ssize_t count, PyObject *dtype, Py_buffer *view);

#endif
