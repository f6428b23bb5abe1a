/*
 * shoal._shoal -- the hand-written CPython extension behind the `shoal`
 * package (C99): module functions, constants and initialisation. The
 * pure-Python package re-exports these types; see
 * bindings/python/shoal/_shoal.pyi for the documented signatures.
 *
 * One file per type: context.c, driver.c, client.c (+ child.c: what
 * publications and subscriptions share), publication.c, claim.c,
 * subscription.c (+ records.c: poll_records / poll_into), image.c,
 * views.c (log views, Header), cnc.c; the archive: archive_reader.c
 * (ArchiveReader, offline) with recording_cursor.c (messages()),
 * recording_map.c (read_records) and recording_descriptor.c,
 * archive_server.c (ArchiveServer), archive_client.c (Archive),
 * replay_merge.c (ReplayMerge). Shared: handle.c (open/closing state,
 * deferred close, close()/with/closed -- lifetimes are described there),
 * errors.c (exceptions, result codes), wait.c (waiting without the GIL).
 *
 * Hot paths
 *   Publication.offer / offer_nowait take any C-contiguous buffer-protocol
 *   object (bytes fast path, else Py_buffer) and call shoal_publication_offer
 *   with the GIL held: one attempt costs less than a GIL hand-off. Only when
 *   the caller asks to wait (timeout=) does the retry loop run with the GIL
 *   released. Subscription.poll_batch / poll_records / poll_into use
 *   shoal_subscription_poll_batch, so no C->Python callback is involved;
 *   poll() calls the Python handler from inside the C poll. Neither path
 *   allocates per message beyond the Python objects it hands out.
 */
#include "archive_client.h"
#include "archive_reader.h"
#include "archive_server.h"
#include "claim.h"
#include "client.h"
#include "cnc.h"
#include "driver.h"
#include "errors.h"
#include "image.h"
#include "publication.h"
#include "recording_cursor.h"
#include "recording_descriptor.h"
#include "recording_map.h"
#include "replay_merge.h"
#include "subscription.h"
#include "views.h"

static PyObject *mod_version(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyUnicode_FromString(shoal_version());
}

static PyObject *mod_last_error(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return Py_BuildValue("(is)", shoal_errcode(), shoal_errmsg());
}

static PyObject *mod_raise_for_code(PyObject *m, PyObject *arg)
{
    (void)m;
    long long rc = PyLong_AsLongLong(arg);
    if (-1 == rc && PyErr_Occurred())
    {
        return NULL;
    }
    if (rc >= 0)
    {
        Py_RETURN_NONE;
    }
    return raise_offer_result(rc, NULL);
}

static PyMethodDef module_methods[] = {
    { "version", mod_version, METH_NOARGS, "version($module, /)\n--\n\nThe C library version, e.g. '0.1.0'." },
    { "last_error", mod_last_error, METH_NOARGS,
        "last_error($module, /)\n--\n\n(errcode, message) of the last failure in the C library on this thread." },
    { "raise_for_code", mod_raise_for_code, METH_O,
        "raise_for_code($module, result, /)\n--\n\nRaises the exception for a negative offer_nowait() result; "
        "returns None for a position." },
    { NULL } /* sentinel */
};

static struct PyModuleDef shoal_module = { PyModuleDef_HEAD_INIT, "shoal._shoal",
    "Hand-written CPython binding of libshoal; use the `shoal` package.", -1, module_methods, NULL, NULL, NULL, NULL };

PyObject *call_python_method(const char *module, const char *name, PyObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (NULL == mod)
    {
        return NULL;
    }
    PyObject *fn = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (NULL == fn)
    {
        return NULL;
    }
    Py_ssize_t n = NULL == args ? 0 : PyTuple_GET_SIZE(args);
    PyObject *full = PyTuple_New(n + 1);
    if (NULL == full)
    {
        Py_DECREF(fn);
        return NULL;
    }
    Py_INCREF(self);
    PyTuple_SET_ITEM(full, 0, self);
    for (Py_ssize_t i = 0; i < n; i++)
    {
        PyObject *item = PyTuple_GET_ITEM(args, i);
        Py_INCREF(item);
        PyTuple_SET_ITEM(full, i + 1, item);
    }
    PyObject *result = PyObject_Call(fn, full, kwds);
    Py_DECREF(full);
    Py_DECREF(fn);
    return result;
}

PyMODINIT_FUNC PyInit__shoal(void)
{
    /* PyModule_AddType names each after its tp_name, without "shoal.". */
    PyTypeObject *types[] = {
        &ContextType.type,
        &DriverType.type,
        &ClientType.type,
        &PublicationType.type,
        &SubscriptionType.type,
        &HeaderType,
        &ClaimType,
        &ImageType,
        &LogExporterType,
        &CncType.type,
        &ArchiveReaderType.type,
        &ArchiveServerType.type,
        &ArchiveType.type,
        &ReplayMergeType.type,
        &RecordingCursorType,
        &RecordingMapType,
        &RecordingDescriptorType,
    };
    static const struct
    {
        const char *name;
        long value;
    } constants[] = {
        { "NOT_CONNECTED", SHOAL_NOT_CONNECTED },
        { "BACK_PRESSURED", SHOAL_BACK_PRESSURED },
        { "ADMIN_ACTION", SHOAL_ADMIN_ACTION },
        { "CLOSED", SHOAL_CLOSED },
        { "MAX_POSITION_EXCEEDED", SHOAL_MAX_POSITION_EXCEEDED },
        { "ERROR", SHOAL_ERROR },
        { "OK", SHOAL_OK },
        { "EINVAL", SHOAL_EINVAL },
        { "EURI", SHOAL_EURI },
        { "ENOMEM", SHOAL_ENOMEM },
        { "EIO", SHOAL_EIO },
        { "ETIMEDOUT", SHOAL_ETIMEDOUT },
        { "EDRIVER", SHOAL_EDRIVER },
        { "ECLOSED", SHOAL_ECLOSED },
        { "ECLASH", SHOAL_ECLASH },
        { "EMSGSIZE", SHOAL_EMSGSIZE },
        { "EACTIVE", SHOAL_EACTIVE },
        { "ENODRIVER", SHOAL_ENODRIVER },
        { "ESTATE", SHOAL_ESTATE },
        { "FLAG_BEGIN", SHOAL_FLAG_BEGIN },
        { "FLAG_END", SHOAL_FLAG_END },
        { "FLAG_EOS", SHOAL_FLAG_EOS },
        { "ACTION_ABORT", SHOAL_ACTION_ABORT },
        { "ACTION_BREAK", SHOAL_ACTION_BREAK },
        { "ACTION_COMMIT", SHOAL_ACTION_COMMIT },
        { "ACTION_CONTINUE", SHOAL_ACTION_CONTINUE },
    };
    if (recording_descriptor_init() < 0)
    {
        return NULL;
    }
    PyObject *m = PyModule_Create(&shoal_module);
    if (NULL == m)
    {
        return NULL;
    }
    if (views_init() < 0 || errors_add_to_module(m) < 0)
    {
        goto fail;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    {
        if (PyModule_AddType(m, types[i]) < 0)
        {
            goto fail;
        }
    }
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
    {
        if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0)
        {
            goto fail;
        }
    }
    if (PyModule_AddIntConstant(m, "VERSION_NUMBER", shoal_version_number()) < 0)
    {
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
