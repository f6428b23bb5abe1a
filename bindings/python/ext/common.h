/*
 * What every file of the shoal._shoal extension includes: Python, the public
 * C header and the few macros shared by the types. The extension as a whole
 * (lifetimes, views, hot paths) is described in module.c.
 */
#ifndef SHOAL_PY_COMMON_H
#define SHOAL_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <pythread.h>

#include <stdint.h>
#include <string.h>

#include "shoal/shoal.h"

#if PY_VERSION_HEX < 0x03090000
#error "shoal needs Python 3.9 or later"
#endif

/* Flags written with the GIL and read by loops running without it. */
#define LOAD_ACQ(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#if PY_VERSION_HEX >= 0x030D0000
#define SHOAL_PY_FINALIZING() Py_IsFinalizing()
#else
#define SHOAL_PY_FINALIZING() _Py_IsFinalizing()
#endif

/* The fields every type object of the module starts with: its name without
 * "shoal.", instance struct, tp_dealloc, tp_flags and tp_doc. */
#define SHOAL_TYPE_HEAD(name, object, dealloc, flags, doc)                                                             \
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shoal." name, .tp_basicsize = sizeof(object),                            \
                                .tp_dealloc = (destructor)(dealloc), .tp_flags = (flags), .tp_doc = doc

/* module.name(self, *args, **kwds): a method written in Python (shoal/aio.py,
 * shoal/response.py) reached as a method of one of the module's types. */
PyObject *call_python_method(const char *module, const char *name, PyObject *self, PyObject *args, PyObject *kwds);

/* Largest poll_batch / poll_records / poll_into batch. */
#define MAX_BATCH (1 << 20)

#endif
