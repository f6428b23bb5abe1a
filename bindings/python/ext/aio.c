/* Subscription.receive / Subscription.messages: the asyncio forms, written
 * in Python (shoal/aio.py); these methods hand the call over, so they read as
 * methods of the subscription. */
#include "subscription.h"

PyObject *Subscription_receive(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return call_python_method("shoal.aio", "receive", (PyObject *)self, args, kwds);
}

PyObject *Subscription_messages(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return call_python_method("shoal.aio", "messages", (PyObject *)self, args, kwds);
}
