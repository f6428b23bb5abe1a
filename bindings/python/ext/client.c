/* shoal.Client: a connection to a driver; makes publications and subscriptions. */
#include "client.h"

#include "errors.h"
#include "image.h"
#include "publication.h"
#include "subscription.h"

/* on_close: close the children; the client's C close follows the last one. */
static void client_close_children(HandleObject *h)
{
    ClientObject *self = (ClientObject *)h;
    /* Closing a child may release the GIL: snapshot the list first. */
    Py_ssize_t n = 0;
    for (ChildObject *c = self->children; NULL != c; c = c->next)
    {
        n++;
    }
    if (0 == n)
    {
        return;
    }
    ChildObject **snapshot = PyMem_Malloc((size_t)n * sizeof(*snapshot));
    if (NULL == snapshot)
    {
        for (ChildObject *c = self->children; NULL != c; c = c->next)
        {
            STORE_REL(&c->h.closing, 1); /* children close themselves when freed */
        }
        return;
    }
    Py_ssize_t i = 0;
    for (ChildObject *c = self->children; NULL != c; c = c->next)
    {
        Py_INCREF(c);
        snapshot[i++] = c;
    }
    for (i = 0; i < n; i++)
    {
        handle_close(&snapshot[i]->h);
        Py_DECREF(snapshot[i]);
    }
    PyMem_Free(snapshot);
}

static int client_release(HandleObject *h, void *client)
{
    Py_BEGIN_ALLOW_THREADS shoal_client_close(client);
    Py_END_ALLOW_THREADS context_user_end(((ClientObject *)h)->ctx);
    return 0;
}

/* The client's C close waits for its conductor thread. */
static int client_check_close(HandleObject *h)
{
    (void)h;
    return check_not_in_image_handler("Client.close");
}

static int client_lost(HandleObject *h)
{
    return shoal_client_is_closed(h->c_handle);
}

/* arg: the invoker flag; starts on a context are serialised, so setting it here is seen by this connect only. */
static void *client_start(shoal_context_t *ctx, void *arg)
{
    shoal_client_t *client = NULL;
    if (shoal_context_set_use_conductor_invoker(ctx, *(const bool *)arg) < 0 || shoal_client_connect(&client, ctx) < 0)
    {
        return NULL;
    }
    return client;
}

static int Client_init(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "ctx", "invoker", NULL };
    PyObject *ctx;
    int invoker = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:Client", kwlist, &ctx, &invoker))
    {
        return -1;
    }
    bool use_invoker = invoker;
    return context_user_open(&self->h, ctx, "Client", &self->started, &self->ctx, client_start, &use_invoker);
}

/* The stream id as int32; -1 with an exception. */
static int stream_id_arg(PyObject *obj, int32_t *stream_id)
{
    if (!PyLong_Check(obj) || PyBool_Check(obj))
    {
        PyErr_Format(PyExc_TypeError, "stream_id must be int, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long stream = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow || stream < INT32_MIN || stream > INT32_MAX)
    {
        raise_invalid("stream_id must fit in a signed 32-bit integer");
        return -1;
    }
    if (-1 == stream && PyErr_Occurred())
    {
        return -1;
    }
    *stream_id = (int32_t)stream;
    return 0;
}

/* The channel URI as UTF-8 (owned by uri); NULL with an exception. */
static const char *uri_arg(PyObject *uri)
{
    if (!PyUnicode_Check(uri))
    {
        PyErr_Format(PyExc_TypeError, "channel URI must be str, not %.100s", Py_TYPE(uri)->tp_name);
        return NULL;
    }
    Py_ssize_t uri_length;
    const char *curi = PyUnicode_AsUTF8AndSize(uri, &uri_length);
    if (NULL != curi && (Py_ssize_t)strlen(curi) != uri_length)
    {
        raise_with_code(UriError, SHOAL_EURI, "channel URI must not contain NUL characters");
        return NULL;
    }
    return curi;
}

enum
{
    ADD_PUB = 0,
    ADD_EXCLUSIVE = 1,
    ADD_SUB = 2
};

static PyObject *client_add(ClientObject *self, PyObject *uri, PyObject *stream_obj, int what, PyObject *on_available,
    PyObject *on_unavailable)
{
    const char *what_name = ADD_SUB == what ? "add_subscription" : "add_publication";
    int32_t stream_id;
    const char *curi;
    if (check_not_in_image_handler(what_name) < 0 || NULL == (curi = uri_arg(uri)) ||
        stream_id_arg(stream_obj, &stream_id) < 0 || handle_check(&self->h) < 0)
    {
        return NULL;
    }
    image_handlers_t *handlers = NULL;
    if (ADD_SUB == what &&
        ((NULL != on_available && Py_None != on_available) || (NULL != on_unavailable && Py_None != on_unavailable)))
    {
        if (NULL == (handlers = image_handlers_new(on_available, on_unavailable)))
        {
            return NULL;
        }
    }
    /* Allocate the Python object first: nothing can fail after the C add. */
    ChildObject *child = ADD_SUB == what ? subscription_alloc() : publication_alloc(ADD_EXCLUSIVE == what);
    if (NULL == child)
    {
        image_handlers_free(handlers);
        return NULL;
    }
    void *c_handle = NULL;
    int rc;
    shoal_client_t *client = self->h.c_handle;
    handle_op_begin(&self->h);
    Py_BEGIN_ALLOW_THREADS if (ADD_SUB == what && NULL != handlers)
    {
        /* The handlers may run (conductor thread) before this returns. */
        rc = shoal_add_subscription_with_handlers(client, curi, stream_id, image_available_trampoline,
            image_unavailable_trampoline, handlers, (shoal_subscription_t **)&c_handle);
    }
    else if (ADD_SUB == what)
    {
        rc = shoal_add_subscription(client, curi, stream_id, (shoal_subscription_t **)&c_handle);
    }
    else if (ADD_EXCLUSIVE == what)
    {
        rc = shoal_add_exclusive_publication(client, curi, stream_id, (shoal_publication_t **)&c_handle);
    }
    else
    {
        rc = shoal_add_publication(client, curi, stream_id, (shoal_publication_t **)&c_handle);
    }
    Py_END_ALLOW_THREADS PyObject *result = NULL;
    if (rc < 0)
    {
        raise_last_error(what_name);
    }
    else
    {
        child_attach(child, self, uri, stream_id, c_handle);
        if (ADD_SUB == what)
        {
            subscription_take_handlers(child, handlers);
            handlers = NULL;
        }
        if (self->h.closing)
        {
            /* The client closed meanwhile: so does what it just made. */
            handle_close(&child->h);
            raise_closed("client");
        }
        else
        {
            result = (PyObject *)child;
        }
    }
    if (NULL == result)
    {
        Py_DECREF(child);
    }
    /* Not handed over (the add failed): the C side paired its events already
     * and calls them no more. */
    image_handlers_free(handlers);
    handle_op_end(&self->h);
    return result;
}

static PyObject *Client_add_publication(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "uri", "stream_id", "exclusive", NULL };
    PyObject *uri, *stream;
    int exclusive = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|p:add_publication", kwlist, &uri, &stream, &exclusive))
    {
        return NULL;
    }
    return client_add(self, uri, stream, exclusive ? ADD_EXCLUSIVE : ADD_PUB, NULL, NULL);
}

static PyObject *Client_add_exclusive_publication(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "uri", "stream_id", NULL };
    PyObject *uri, *stream;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:add_exclusive_publication", kwlist, &uri, &stream))
    {
        return NULL;
    }
    return client_add(self, uri, stream, ADD_EXCLUSIVE, NULL, NULL);
}

static PyObject *Client_add_subscription(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "uri", "stream_id", "on_available", "on_unavailable", NULL };
    PyObject *uri, *stream, *on_available = NULL, *on_unavailable = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|OO:add_subscription", kwlist, &uri, &stream, &on_available,
            &on_unavailable))
    {
        return NULL;
    }
    return client_add(self, uri, stream, ADD_SUB, on_available, on_unavailable);
}

static PyObject *Client_do_work(ClientObject *self, PyObject *unused)
{
    (void)unused;
    if (handle_check(&self->h) < 0)
    {
        return NULL;
    }
    shoal_client_t *client = self->h.c_handle;
    int work;
    /* Without the GIL: concurrent callers wait for each other inside, and the
     * image handlers it runs take the GIL themselves. */
    handle_op_begin(&self->h);
    Py_BEGIN_ALLOW_THREADS work = shoal_client_do_work(client);
    Py_END_ALLOW_THREADS PyObject *result = work < 0 ? raise_last_error("do_work") : PyLong_FromLong(work);
    handle_op_end(&self->h);
    return result;
}

HANDLE_GETTER(Client_get_invoker, PyBool_FromLong, shoal_client_is_conductor_invoker)

HANDLE_GETTER(Client_get_client_id, PyLong_FromLongLong, shoal_client_id)

static PyObject *Client_repr(ClientObject *self)
{
    if (!handle_is_open(&self->h))
    {
        return handle_repr_closed(&self->h);
    }
    return PyUnicode_FromFormat("<shoal.Client id=%lld dir=%s>", (long long)shoal_client_id(self->h.c_handle),
        shoal_context_get_dir(self->ctx->h.c_handle));
}

static void Client_dealloc(ClientObject *self)
{
    /* Children hold a reference to us, so none is left here. */
    handle_release_now(&self->h);
    Py_XDECREF(self->ctx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* client.requester(...) / client.responder(...): the helpers are pure
 * Python (shoal/response.py); these forward to them with the client first. */
static PyObject *Client_requester(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return call_python_method("shoal.response", "requester", self, args, kwargs);
}

static PyObject *Client_responder(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return call_python_method("shoal.response", "responder", self, args, kwargs);
}

static PyMethodDef Client_methods[] = {
    { "add_publication", (PyCFunction)(void (*)(void))Client_add_publication, METH_VARARGS | METH_KEYWORDS,
        "add_publication($self, /, uri, stream_id, exclusive=False)\n--\n\n"
        "Adds a publication (concurrent: any thread may offer; exclusive=True: faster, one thread at a time). "
        "A bad URI raises UriError naming the key. Releases the GIL during the driver round trip." },
    { "add_exclusive_publication", (PyCFunction)(void (*)(void))Client_add_exclusive_publication,
        METH_VARARGS | METH_KEYWORDS,
        "add_exclusive_publication($self, /, uri, stream_id)\n--\n\nSame as add_publication(uri, stream_id, "
        "exclusive=True)." },
    { "add_subscription", (PyCFunction)(void (*)(void))Client_add_subscription, METH_VARARGS | METH_KEYWORDS,
        "add_subscription($self, /, uri, stream_id, on_available=None, on_unavailable=None)\n--\n\n"
        "Adds a subscription. Releases the GIL during the driver round trip. on_available(image) / "
        "on_unavailable(image) (callables or None; TypeError otherwise) are told when a publication session "
        "becomes visible to the subscription or goes away, with a shoal.Image (the same object for both). They run "
        "on the client's conductor thread (a non-Python thread; they take the GIL), possibly before "
        "add_subscription returns -- or, for Client(ctx, invoker=True), inside do_work() (and add_*/close calls) "
        "on the calling thread -- and for images still there at close on the closing thread, before close "
        "returns. An exception in a handler is reported through sys.unraisablehook and the client goes on. "
        "Handlers must be short and must not add or close publications, subscriptions or the client "
        "(InvalidStateError). The handlers are released when the subscription is closed." },
    { "requester", (PyCFunction)(void (*)(void))Client_requester, METH_VARARGS | METH_KEYWORDS,
        "requester($self, /, request_channel, request_stream_id, response_channel, response_stream_id)\n--\n\n"
        "A shoal.response.Requester: req.request(data, timeout=1.0) -> bytes sends a request and returns its "
        "response (thread-safe, several outstanding at once, correlated by an 8-byte id the helper adds). "
        "response_channel is the responder's control channel (aeron:udp?control=host:port; control-mode=response "
        "is added) or aeron:ipc. See docs/response-channels.md." },
    { "responder", (PyCFunction)(void (*)(void))Client_responder, METH_VARARGS | METH_KEYWORDS,
        "responder($self, /, request_channel, request_stream_id, response_channel, response_stream_id, handler, "
        "offer_timeout=1.0)\n--\n\n"
        "A shoal.response.Responder: rsp.poll(limit=10, timeout=None) serves requests, answering each with "
        "handler(view, header) -> bytes-like on the requester's own response stream. See "
        "docs/response-channels.md." },
    { "do_work", (PyCFunction)Client_do_work, METH_NOARGS,
        "do_work($self, /)\n--\n\n"
        "Client(ctx, invoker=True) only: runs one duty cycle of the client's conductor on this thread -- driver "
        "events, image handlers, keepalives, the driver liveness check -- and returns the work done (0: nothing "
        "to do). Call it often (well within the client liveness timeout, 10 s by default) or the driver times "
        "the client out. Never waits for the driver; releases the GIL (concurrent calls run one at a time). "
        "InvalidStateError on a threaded client or from an image handler, ClosedError once the client is closed "
        "or lost its driver." },
    HANDLE_METHODS("close($self, /)\n--\n\nCloses the client and every publication and subscription it made "
                   "(idempotent)."),
    { NULL } /* sentinel */
};

static PyMemberDef Client_members[] = {
    { "context", T_OBJECT, offsetof(ClientObject, ctx), READONLY, "The Context the client connected with." },
    { NULL } /* sentinel */
};

static PyGetSetDef Client_getset[] = {
    { "client_id", (getter)Client_get_client_id, NULL, "Driver-assigned client id.", NULL },
    { "invoker", (getter)Client_get_invoker, NULL,
        "True in conductor-invoker mode (Client(ctx, invoker=True): no conductor thread, see do_work()).", NULL },
    HANDLE_GETSET_IS_CLOSED("True once closed, or once the client lost its driver (driver timeout)."),
    { NULL } /* sentinel */
};

HandleType ClientType = {
    HANDLE_TYPE(Client, Client_dealloc, client_release,
        "Client(ctx, invoker=False)\n--\n\n"
        "Connects to the driver of ctx's directory (NoDriverError if none runs there). invoker=True: "
        "conductor-invoker mode, no conductor thread -- the client's work (image handlers included) runs "
        "on the thread calling do_work(). A context manager: closing it closes its publications and "
        "subscriptions; ctx cannot be closed while the client is open."),
    HANDLE_CONSTRUCTED(Client),
    .type.tp_repr = (reprfunc)Client_repr,
    .type.tp_members = Client_members,
    .name = "client",
    .on_close = client_close_children,
    .lost = client_lost,
    .check_close = client_check_close,
};
