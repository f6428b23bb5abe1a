/* Subscription.receive / Subscription.messages: the asyncio forms, written
 * in Python (shoal/aio.py); these methods hand the call over, so they read as
 * methods of the subscription. */
#include "subscription.h"

static PyObject *aio_call(const char *name, SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *aio = PyImport_ImportModule("shoal.aio");
    if (NULL == aio)
    {
        return NULL;
    }
    PyObject *fn = PyObject_GetAttrString(aio, name);
    Py_DECREF(aio);
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
    PyTuple_SET_ITEM(full, 0, (PyObject *)self);
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

PyObject *Subscription_receive(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return aio_call("receive", self, args, kwds);
}

PyObject *Subscription_messages(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return aio_call("messages", self, args, kwds);
}
