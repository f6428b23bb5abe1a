/*
 * Exceptions: the class tree (ShoalError at the root, .code on every
 * instance) and the mapping from C result codes to classes, in one place.
 */
#include "errors.h"

#include <stdio.h>

PyObject *ShoalError, *OfferError, *NotConnected, *BackPressured, *AdminAction, *MaxPositionExceeded;
PyObject *ClosedError, *InvalidArgument, *UriError, *MessageTooLarge, *OutOfMemory, *ShoalIOError;
PyObject *ShoalTimeoutError, *DriverError, *ClashError, *NoDriverError, *DriverActiveError;
PyObject *InvalidStateError, *UnknownRecordingError;

/* The URI key a SHOAL_EURI message is about: "... key 'k' ..." or, for a bad
 * value, a parameter key of the URI that the text before " in channel URI"
 * names ("term-length 12345 must be ..."). Returns its length (0: none). */
static size_t uri_error_key(const char *message, const char **key)
{
    const char *k = strstr(message, "key '");
    if (NULL != k)
    {
        k += 5;
        const char *end = strchr(k, '\'');
        if (NULL != end && end > k)
        {
            *key = k;
            return (size_t)(end - k);
        }
    }
    const char *uri_at = strstr(message, " in channel URI '");
    if (NULL == uri_at)
    {
        return 0;
    }
    const char *uri = uri_at + strlen(" in channel URI '");
    const char *params = strchr(uri, '?');
    size_t text_length = (size_t)(uri_at - message);
    const char *best = NULL;
    size_t best_length = 0;
    const char *best_at = NULL;
    while (NULL != params && '\0' != *params && '\'' != *params)
    {
        params++;
        const char *eq = params;
        while ('\0' != *eq && '=' != *eq && '|' != *eq && '\'' != *eq)
        {
            eq++;
        }
        size_t length = (size_t)(eq - params);
        if (length > 0)
        {
            for (const char *at = message; at + length <= message + text_length; at++)
            {
                const char after = at[length];
                if (0 == memcmp(at, params, length) && (at == message || ' ' == at[-1] || '\'' == at[-1]) &&
                    (' ' == after || '\'' == after || '=' == after || ':' == after))
                {
                    if (NULL == best_at || at < best_at)
                    {
                        best = params;
                        best_length = length;
                        best_at = at;
                    }
                    break;
                }
            }
        }
        params = strchr(eq, '|');
    }
    *key = best;
    return best_length;
}

/* Raises `type(message)` with .code = code (and .key for a URI error naming one). */

/* type(message) with .code = code, and .key for a URI error naming one. */
static PyObject *exception_new(PyObject *type, long code, const char *message)
{
    PyObject *exc = PyObject_CallFunction(type, "s", message);
    if (NULL == exc)
    {
        return NULL;
    }
    PyObject *value = PyLong_FromLong(code);
    if (NULL == value || PyObject_SetAttrString(exc, "code", value) < 0)
    {
        Py_XDECREF(value);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(value);
    if (type == UriError)
    {
        PyObject *key = Py_None;
        Py_INCREF(key);
        const char *k;
        size_t klen = uri_error_key(message, &k);
        if (klen > 0)
        {
            Py_DECREF(key);
            key = PyUnicode_DecodeUTF8(k, (Py_ssize_t)klen, "replace");
        }
        if (NULL == key || PyObject_SetAttrString(exc, "key", key) < 0)
        {
            Py_XDECREF(key);
            Py_DECREF(exc);
            return NULL;
        }
        Py_DECREF(key);
    }
    return exc;
}

PyObject *raise_with_code(PyObject *type, long code, const char *message)
{
    return raise_with_attribute(type, code, message, NULL, NULL);
}

PyObject *raise_with_attribute(PyObject *type, long code, const char *message, const char *name, PyObject *value)
{
    PyObject *exc = exception_new(type, code, message);
    if (NULL == exc)
    {
        return NULL;
    }
    if (NULL != name && PyObject_SetAttrString(exc, name, value) < 0)
    {
        Py_DECREF(exc);
        return NULL;
    }
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Every class: its variable, its name in the module, its bases (NULL:
 * Exception; a second, builtin one), the shoal_errcode() it stands for (0: none
 * of its own), its doc; base first. */
static const struct
{
    PyObject **var;
    const char *name;
    PyObject **base;
    PyObject **base2;
    int errcode;
    const char *doc;
} classes[] = {
    { &ShoalError, "ShoalError", NULL, NULL, 0, "Base class of every shoal error; .code holds the C code." },
    { &OfferError, "OfferError", &ShoalError, NULL, 0,
        "An offer/try_claim could not publish now (NotConnected, BackPressured, AdminAction, "
        "MaxPositionExceeded)." },
    { &NotConnected, "NotConnected", &OfferError, NULL, 0, "No subscriber is connected (SHOAL_NOT_CONNECTED)." },
    { &BackPressured, "BackPressured", &OfferError, NULL, 0,
        "The slowest subscriber is a window behind: retry later (SHOAL_BACK_PRESSURED)." },
    { &AdminAction, "AdminAction", &OfferError, NULL, 0, "The log rotated to a new term: retry (SHOAL_ADMIN_ACTION)." },
    { &MaxPositionExceeded, "MaxPositionExceeded", &OfferError, NULL, 0,
        "The stream reached its maximum position (SHOAL_MAX_POSITION_EXCEEDED)." },
    { &ClosedError, "ClosedError", &ShoalError, NULL, SHOAL_ECLOSED,
        "The handle, or the client it belongs to, is closed (SHOAL_CLOSED / SHOAL_ECLOSED)." },
    { &InvalidArgument, "InvalidArgument", &ShoalError, &PyExc_ValueError, SHOAL_EINVAL,
        "Invalid argument (SHOAL_EINVAL)." },
    { &UriError, "UriError", &InvalidArgument, NULL, SHOAL_EURI,
        "Malformed channel URI, unknown key or bad value (SHOAL_EURI); .key names the key when there is one." },
    { &MessageTooLarge, "MessageTooLarge", &InvalidArgument, NULL, SHOAL_EMSGSIZE,
        "Message longer than the maximum message (or claim) length (SHOAL_EMSGSIZE)." },
    { &OutOfMemory, "OutOfMemory", &ShoalError, &PyExc_MemoryError, SHOAL_ENOMEM, "Allocation failed (SHOAL_ENOMEM)." },
    { &ShoalIOError, "ShoalIOError", &ShoalError, &PyExc_OSError, SHOAL_EIO,
        "File or mapping failure in the driver directory (SHOAL_EIO)." },
    { &ShoalTimeoutError, "TimeoutError", &ShoalError, &PyExc_TimeoutError, SHOAL_ETIMEDOUT,
        "The driver did not answer within the driver timeout (SHOAL_ETIMEDOUT)." },
    { &DriverError, "DriverError", &ShoalError, NULL, SHOAL_EDRIVER,
        "The driver rejected the request (SHOAL_EDRIVER)." },
    { &ClashError, "ClashError", &DriverError, NULL, SHOAL_ECLASH,
        "Stream/session clash with an existing publication (SHOAL_ECLASH)." },
    { &NoDriverError, "NoDriverError", &DriverError, NULL, SHOAL_ENODRIVER,
        "No driver is running on the directory (SHOAL_ENODRIVER)." },
    { &DriverActiveError, "DriverActiveError", &DriverError, NULL, SHOAL_EACTIVE,
        "Another driver is active on the directory (SHOAL_EACTIVE)." },
    { &InvalidStateError, "InvalidStateError", &ShoalError, NULL, SHOAL_ESTATE,
        "Call not valid in the current state (SHOAL_ESTATE)." },
    { &UnknownRecordingError, "UnknownRecordingError", &InvalidArgument, &PyExc_LookupError, 0,
        "The archive has no such recording (never made, or purged)." },
};

/* The class for a shoal_errcode() value. */
static PyObject *type_for_errcode(int code)
{
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
    {
        if (SHOAL_OK != code && code == classes[i].errcode)
        {
            return *classes[i].var;
        }
    }
    return ShoalError;
}

PyObject *raise_last_error(const char *what)
{
    int code = shoal_errcode();
    const char *msg = shoal_errmsg();
    char text[1024];
    if (NULL == msg || '\0' == msg[0])
    {
        msg = "unknown error";
    }
    if (NULL != what)
    {
        snprintf(text, sizeof(text), "%s: %s", what, msg);
    }
    else
    {
        snprintf(text, sizeof(text), "%s", msg);
    }
    return raise_with_code(type_for_errcode(code), code, text);
}

PyObject *raise_closed(const char *what)
{
    char text[256];
    snprintf(text, sizeof(text), "%s is closed", what);
    return raise_with_code(ClosedError, SHOAL_ECLOSED, text);
}

PyObject *raise_invalid(const char *message)
{
    return raise_with_code(InvalidArgument, SHOAL_EINVAL, message);
}

PyObject *raise_state(const char *message)
{
    return raise_with_code(InvalidStateError, SHOAL_ESTATE, message);
}

PyObject *raise_offer_result(int64_t rc, const char *suffix)
{
    char text[1200];
    const char *name;
    PyObject *type;
    switch (rc)
    {
        case SHOAL_NOT_CONNECTED:
            type = NotConnected;
            name = "not connected: no subscriber";
            break;
        case SHOAL_BACK_PRESSURED:
            type = BackPressured;
            name = "back pressured: the slowest subscriber is a window behind";
            break;
        case SHOAL_ADMIN_ACTION:
            type = AdminAction;
            name = "admin action: the log rotated, retry";
            break;
        case SHOAL_CLOSED:
            type = ClosedError;
            name = "publication is closed";
            break;
        case SHOAL_MAX_POSITION_EXCEEDED:
            type = MaxPositionExceeded;
            name = "max position exceeded";
            break;
        default: return raise_last_error(NULL);
    }
    snprintf(text, sizeof(text), "%s%s", name, suffix ? suffix : "");
    return raise_with_code(type, (long)rc, text);
}

static PyObject *new_exc(PyObject *m, const char *name, PyObject *base, PyObject *base2, const char *doc)
{
    char full[128];
    snprintf(full, sizeof(full), "shoal.%s", name);
    PyObject *bases = NULL == base2 ? (Py_INCREF(base), base) : PyTuple_Pack(2, base, base2);
    if (NULL == bases)
    {
        return NULL;
    }
    PyObject *exc = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (NULL == exc)
    {
        return NULL;
    }
    Py_INCREF(exc);
    if (PyModule_AddObject(m, name, exc) < 0)
    {
        Py_DECREF(exc);
        Py_DECREF(exc);
        return NULL;
    }
    return exc;
}

int errors_add_to_module(PyObject *m)
{
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
    {
        PyObject *base = NULL == classes[i].base ? PyExc_Exception : *classes[i].base;
        PyObject *base2 = NULL == classes[i].base2 ? NULL : *classes[i].base2;
        *classes[i].var = new_exc(m, classes[i].name, base, base2, classes[i].doc);
        if (NULL == *classes[i].var)
        {
            return -1;
        }
    }
    return 0;
}
