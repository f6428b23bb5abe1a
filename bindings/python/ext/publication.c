/* shoal.Publication: the offer paths, MDC destinations, the getters. */
#include "publication.h"

#include "errors.h"
#include "image.h"
#include "wait.h"

/* Borrows the bytes of obj: bytes objects directly, anything else through a
 * C-contiguous Py_buffer (view->obj != NULL then: release it). */
static int get_bytes(PyObject *obj, Py_buffer *view, const uint8_t **data, size_t *length)
{
    if (PyBytes_CheckExact(obj))
    {
        view->obj = NULL;
        *data = (const uint8_t *)PyBytes_AS_STRING(obj);
        *length = (size_t)PyBytes_GET_SIZE(obj);
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
    {
        if (PyErr_ExceptionMatches(PyExc_TypeError) || !PyObject_CheckBuffer(obj))
        {
            return -1;
        }
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *text = value ? PyObject_Str(value) : NULL;
        PyErr_Format(InvalidArgument, "a C-contiguous buffer is required: %S", text ? text : Py_None);
        Py_XDECREF(text);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    *data = (const uint8_t *)view->buf;
    *length = (size_t)view->len;
    return 0;
}

static void put_bytes(Py_buffer *view)
{
    if (NULL != view->obj)
    {
        PyBuffer_Release(view);
    }
}

/* One offer, retried at once over a term rotation (ADMIN_ACTION). */
static inline int64_t offer_once(shoal_publication_t *pub, const shoal_iovec_t *iov, size_t iovcnt)
{
    int64_t rc;
    int admin = 0;
    do
    {
        rc = 1 == iovcnt ? shoal_publication_offer(pub, iov[0].base, iov[0].length)
                         : shoal_publication_offerv(pub, iov, iovcnt);
    }
    while (SHOAL_ADMIN_ACTION == rc && ++admin < 3);
    return rc;
}

typedef struct
{
    shoal_publication_t *pub;
    const shoal_iovec_t *iov;
    size_t iovcnt;
    shoal_claim_t *claim; /* try_claim instead of offer when not NULL */
    size_t claim_length;
    int64_t rc;
} offer_attempt_t;

/* Between attempts: back pressure and "not connected" end when the driver
 * moves the limit, which shoal_publication_wait_available sleeps for;
 * ADMIN_ACTION is retried at once. arg: the attempt (pub first). */
static void offer_sleep(void *arg, int64_t max_ns)
{
    offer_attempt_t *a = arg;
    if (SHOAL_ADMIN_ACTION != a->rc)
    {
        shoal_publication_wait_available(a->pub, max_ns);
    }
}

static int offer_attempt(void *arg)
{
    offer_attempt_t *a = arg;
    a->rc = NULL != a->claim ? claim_once(a->pub, a->claim_length, a->claim) : offer_once(a->pub, a->iov, a->iovcnt);
    return !retryable(a->rc);
}

int64_t publication_offer_slow(PublicationObject *self, const shoal_iovec_t *iov, size_t iovcnt, shoal_claim_t *claim,
    size_t claim_length, int64_t wait_ns)
{
    int64_t deadline = wait_ns >= 0 ? deadline_after(wait_ns) : 0;
    int64_t rc;
    handle_op_begin(&self->child.h);
    if (self->exclusive)
    {
        self->writer_busy++;
        if (!PyThread_acquire_lock(self->wlock, NOWAIT_LOCK))
        {
            Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->wlock, WAIT_LOCK);
            Py_END_ALLOW_THREADS
        }
    }
    if (!publication_open(self))
    {
        rc = SHOAL_CLOSED;
    }
    else
    {
        offer_attempt_t a = { publication_c(self), iov, iovcnt, claim, claim_length, 0 };
        if (!offer_attempt(&a) && wait_ns > 0)
        {
            int w = wait_released_sleeping(offer_attempt, offer_sleep, &a, &self->child.h.closing, deadline);
            if (WAIT_CLOSING == w)
            {
                a.rc = SHOAL_CLOSED;
            }
            else if (WAIT_SIGNAL == w)
            {
                a.rc = RESULT_PYERR;
            }
        }
        rc = a.rc;
    }
    if (self->exclusive)
    {
        PyThread_release_lock(self->wlock);
        self->writer_busy--;
    }
    handle_op_end(&self->child.h);
    return rc;
}

PyObject *raise_flow_result(int64_t rc, int64_t wait_ns)
{
    if (wait_ns > 0 && SHOAL_CLOSED != rc)
    {
        char suffix[96];
        snprintf(suffix, sizeof(suffix), " (still after waiting %.3f s)", (double)wait_ns / 1e9);
        return raise_offer_result(rc, suffix);
    }
    return raise_offer_result(rc, NULL);
}

static PyObject *offer_result(int64_t rc, int64_t wait_ns, int raise_flow)
{
    if (rc >= 0)
    {
        return PyLong_FromLongLong(rc);
    }
    if (RESULT_PYERR == rc)
    {
        return NULL;
    }
    if (SHOAL_ERROR == rc || (raise_flow && SHOAL_CLOSED == rc))
    {
        return SHOAL_ERROR == rc ? raise_last_error("offer") : raise_offer_result(rc, NULL);
    }
    if (!raise_flow)
    {
        return PyLong_FromLongLong(rc);
    }
    return raise_flow_result(rc, wait_ns);
}

static PyObject *publication_offer_common(PublicationObject *self, PyObject *data, PyObject *timeout, int raise_flow)
{
    int64_t wait_ns = -1;
    if (NULL != timeout && parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    Py_buffer view;
    shoal_iovec_t iov;
    size_t length = 0;
    if (get_bytes(data, &view, &iov.base, &length) < 0)
    {
        return NULL;
    }
    iov.length = length;
    int64_t rc;
    if (!publication_open(self))
    {
        rc = SHOAL_CLOSED;
    }
    else if (0 == self->writer_busy)
    {
        rc = offer_once(publication_c(self), &iov, 1);
        if (wait_ns > 0 && retryable(rc))
        {
            rc = publication_offer_slow(self, &iov, 1, NULL, 0, wait_ns);
        }
    }
    else
    {
        rc = publication_offer_slow(self, &iov, 1, NULL, 0, wait_ns);
    }
    put_bytes(&view);
    return offer_result(rc, wait_ns, raise_flow);
}

static PyObject *Publication_offer(PublicationObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *data = NULL, *timeout = NULL;
    Py_ssize_t nkw = NULL == kwnames ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs < 1 || nargs > 2)
    {
        if (!(0 == nargs && nkw > 0))
        {
            return PyErr_Format(PyExc_TypeError, "offer() takes 1 or 2 positional arguments (%zd given)", nargs);
        }
    }
    if (nargs >= 1)
    {
        data = args[0];
    }
    if (nargs == 2)
    {
        timeout = args[1];
    }
    for (Py_ssize_t i = 0; i < nkw; i++)
    {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (0 == PyUnicode_CompareWithASCIIString(name, "timeout") && NULL == timeout)
        {
            timeout = args[nargs + i];
        }
        else if (0 == PyUnicode_CompareWithASCIIString(name, "data") && NULL == data)
        {
            data = args[nargs + i];
        }
        else
        {
            return PyErr_Format(PyExc_TypeError, "offer() got an unexpected or repeated keyword argument '%U'", name);
        }
    }
    if (NULL == data)
    {
        return PyErr_Format(PyExc_TypeError, "offer() missing required argument 'data'");
    }
    return publication_offer_common(self, data, timeout, 1);
}

static PyObject *Publication_offer_nowait(PublicationObject *self, PyObject *data)
{
    return publication_offer_common(self, data, NULL, 0);
}

#define MAX_IOV 1024

static PyObject *Publication_offerv(PublicationObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "buffers", "timeout", NULL };
    PyObject *seq_obj, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:offerv", kwlist, &seq_obj, &timeout))
    {
        return NULL;
    }
    int64_t wait_ns;
    if (parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(seq_obj, "offerv() needs a sequence of buffers");
    if (NULL == seq)
    {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > MAX_IOV)
    {
        Py_DECREF(seq);
        return raise_invalid("offerv() needs 1 to 1024 buffers");
    }
    Py_buffer *views = PyMem_Calloc((size_t)n, sizeof(Py_buffer));
    shoal_iovec_t *iov = PyMem_Calloc((size_t)n, sizeof(shoal_iovec_t));
    PyObject *result = NULL;
    Py_ssize_t got = 0;
    if (NULL == views || NULL == iov)
    {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++)
    {
        size_t length = 0;
        if (get_bytes(PySequence_Fast_GET_ITEM(seq, got), &views[got], &iov[got].base, &length) < 0)
        {
            goto done;
        }
        iov[got].length = length;
    }
    int64_t rc;
    if (!publication_open(self))
    {
        rc = SHOAL_CLOSED;
    }
    else if (0 == self->writer_busy && wait_ns <= 0)
    {
        rc = offer_once(publication_c(self), iov, (size_t)n);
    }
    else
    {
        rc = publication_offer_slow(self, iov, (size_t)n, NULL, 0, wait_ns);
    }
    result = offer_result(rc, wait_ns, 1);
done:
    for (Py_ssize_t i = 0; i < got; i++)
    {
        put_bytes(&views[i]);
    }
    PyMem_Free(views);
    PyMem_Free(iov);
    Py_DECREF(seq);
    return result;
}

/* Manual MDC destinations: a driver round trip, so the GIL is released
 * (the str stays alive: the caller holds it). */
static PyObject *publication_destination(PublicationObject *self, PyObject *arg, int add)
{
    if (handle_check(&self->child.h) < 0 ||
        check_not_in_image_handler(add ? "add_destination" : "remove_destination") < 0)
    {
        return NULL;
    }
    if (!PyUnicode_Check(arg))
    {
        return raise_invalid("endpoint_uri must be a str such as 'aeron:udp?endpoint=host:port'");
    }
    const char *uri = PyUnicode_AsUTF8(arg);
    if (NULL == uri)
    {
        return NULL;
    }
    shoal_publication_t *pub = publication_c(self);
    int rc;
    handle_op_begin(&self->child.h);
    Py_BEGIN_ALLOW_THREADS rc =
        add ? shoal_publication_add_destination(pub, uri) : shoal_publication_remove_destination(pub, uri);
    Py_END_ALLOW_THREADS handle_op_end(&self->child.h);
    if (rc < 0)
    {
        return raise_last_error(add ? "add_destination" : "remove_destination");
    }
    Py_RETURN_NONE;
}

static PyObject *Publication_add_destination(PublicationObject *self, PyObject *arg)
{
    return publication_destination(self, arg, 1);
}

static PyObject *Publication_remove_destination(PublicationObject *self, PyObject *arg)
{
    return publication_destination(self, arg, 0);
}

enum
{
    PUB_POSITION,
    PUB_POSITION_LIMIT,
    PUB_SESSION_ID,
    PUB_MAX_MESSAGE_LENGTH,
    PUB_MAX_PAYLOAD_LENGTH,
    PUB_REGISTRATION_ID
};

/* The numeric attributes; closure says which. */
static PyObject *Publication_get_number(PublicationObject *self, void *which)
{
    if (handle_check(&self->child.h) < 0)
    {
        return NULL;
    }
    shoal_publication_t *pub = publication_c(self);
    int64_t rc;
    switch ((intptr_t)which)
    {
        case PUB_POSITION: rc = shoal_publication_position(pub); break;
        case PUB_POSITION_LIMIT: rc = shoal_publication_position_limit(pub); break;
        case PUB_SESSION_ID: return PyLong_FromLong(shoal_publication_session_id(pub));
        case PUB_MAX_MESSAGE_LENGTH: return PyLong_FromSize_t(shoal_publication_max_message_length(pub));
        case PUB_REGISTRATION_ID: return PyLong_FromLongLong(shoal_publication_registration_id(pub));
        default: return PyLong_FromSize_t(shoal_publication_max_payload_length(pub));
    }
    return rc < 0 ? raise_offer_result(rc, NULL) : PyLong_FromLongLong(rc);
}

static PyObject *Publication_get_is_connected(PublicationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(publication_open(self) && shoal_publication_is_connected(publication_c(self)));
}

static PyObject *Publication_get_exclusive(PublicationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->exclusive);
}

static PyObject *Publication_wait_connected(PublicationObject *self, PyObject *args, PyObject *kwds)
{
    return child_wait_connected(&self->child, publication_c(self), NULL, args, kwds);
}

static PyObject *Publication_repr(PublicationObject *self)
{
    if (!publication_open(self))
    {
        return PyUnicode_FromFormat("<shoal.Publication %U stream %d closed>", self->child.channel,
            (int)self->child.stream_id);
    }
    return PyUnicode_FromFormat("<shoal.Publication %U stream %d session %d%s>", self->child.channel,
        (int)self->child.stream_id, (int)shoal_publication_session_id(publication_c(self)),
        self->exclusive ? " exclusive" : "");
}

static int publication_release(HandleObject *h, void *pub)
{
    Py_BEGIN_ALLOW_THREADS shoal_publication_close(pub);
    Py_END_ALLOW_THREADS child_detach((ChildObject *)h);
    return 0;
}

static int publication_lost(HandleObject *h)
{
    return shoal_publication_is_closed(h->c_handle);
}

ChildObject *publication_alloc(int exclusive)
{
    PyThread_type_lock wlock = NULL;
    if (exclusive && NULL == (wlock = PyThread_allocate_lock()))
    {
        PyErr_NoMemory();
        return NULL;
    }
    /* tp_alloc zeroes the object: no handle, no owner yet. */
    PublicationObject *self = (PublicationObject *)PublicationType.type.tp_alloc(&PublicationType.type, 0);
    if (NULL == self)
    {
        if (NULL != wlock)
        {
            PyThread_free_lock(wlock);
        }
        return NULL;
    }
    self->wlock = wlock;
    self->exclusive = exclusive;
    return &self->child;
}

static void Publication_dealloc(PublicationObject *self)
{
    child_dealloc(&self->child);
    if (NULL != self->wlock)
    {
        PyThread_free_lock(self->wlock);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Publication_methods[] = {
    { "offer", (PyCFunction)(void (*)(void))Publication_offer, METH_FASTCALL | METH_KEYWORDS,
        "offer($self, /, data, timeout=None)\n--\n\n"
        "Publishes data (any C-contiguous buffer: bytes, bytearray, memoryview, numpy array) without copying it "
        "into Python objects; returns the new stream position. Messages longer than the mtu are fragmented. "
        "Without timeout it tries once and raises BackPressured / NotConnected / AdminAction / "
        "MaxPositionExceeded / ClosedError; with timeout (seconds) it retries with the GIL released until the "
        "deadline. Use offer_nowait() in hot loops." },
    { "offer_nowait", (PyCFunction)Publication_offer_nowait, METH_O,
        "offer_nowait($self, data, /)\n--\n\n"
        "Tries once and returns the C result: the position (> 0) or NOT_CONNECTED, BACK_PRESSURED, ADMIN_ACTION, "
        "CLOSED, MAX_POSITION_EXCEEDED (negative ints). Never raises for those; raises only for bad input "
        "(TypeError, MessageTooLarge)." },
    { "offerv", (PyCFunction)(void (*)(void))Publication_offerv, METH_VARARGS | METH_KEYWORDS,
        "offerv($self, /, buffers, timeout=None)\n--\n\nGathers up to 1024 buffers into one message; otherwise as "
        "offer()." },
    { "try_claim", (PyCFunction)(void (*)(void))Publication_try_claim, METH_VARARGS | METH_KEYWORDS,
        "try_claim($self, /, length, timeout=None)\n--\n\n"
        "Claims length bytes (<= max_payload_length) in the log for zero-copy filling; returns a Claim to use "
        "as `with pub.try_claim(n) as buf:`. Raises like offer() when there is no room; with timeout (seconds) "
        "it retries with the GIL released until the deadline." },
    { "wait_connected", (PyCFunction)(void (*)(void))Publication_wait_connected, METH_VARARGS | METH_KEYWORDS,
        "wait_connected($self, /, timeout=None)\n--\n\nWaits (GIL released) until a subscriber is connected; returns "
        "False "
        "on timeout." },
    { "add_destination", (PyCFunction)Publication_add_destination, METH_O,
        "add_destination($self, endpoint_uri, /)\n--\n\n"
        "Manual MDC (channel with control-mode=manual): also send to endpoint_uri, 'aeron:udp?endpoint=host:port'. "
        "Waits for the driver (GIL released). Raises InvalidArgument (not manual MDC, already added), UriError, "
        "ClosedError." },
    { "remove_destination", (PyCFunction)Publication_remove_destination, METH_O,
        "remove_destination($self, endpoint_uri, /)\n--\n\n"
        "Manual MDC: stop sending to endpoint_uri (it also leaves flow control at once). Raises InvalidArgument "
        "when it is not a destination; otherwise as add_destination()." },
    HANDLE_METHODS("close($self, /)\n--\n\nCloses the publication (idempotent). Later calls raise ClosedError."),
    { NULL } /* sentinel */
};

static PyGetSetDef Publication_getset[] = {
    { "position", (getter)Publication_get_number, NULL, "Current stream position.", (void *)PUB_POSITION },
    { "position_limit", (getter)Publication_get_number, NULL, "Flow-control limit.", (void *)PUB_POSITION_LIMIT },
    { "session_id", (getter)Publication_get_number, NULL, "Session id.", (void *)PUB_SESSION_ID },
    { "registration_id", (getter)Publication_get_number, NULL,
        "The driver's id of this add_publication (what a response channel's response-correlation-id names).",
        (void *)PUB_REGISTRATION_ID },
    { "max_message_length", (getter)Publication_get_number, NULL, "Longest message offer() takes.",
        (void *)PUB_MAX_MESSAGE_LENGTH },
    { "max_payload_length", (getter)Publication_get_number, NULL,
        "Longest unfragmented message (mtu - 32): the try_claim limit.", (void *)PUB_MAX_PAYLOAD_LENGTH },
    { "is_connected", (getter)Publication_get_is_connected, NULL, "True while a subscriber is connected.", NULL },
    HANDLE_GETSET_IS_CLOSED("True once closed (by us, or its client)."),
    { "exclusive", (getter)Publication_get_exclusive, NULL, "True for an exclusive publication.", NULL },
    { NULL } /* sentinel */
};

HandleType PublicationType = {
    HANDLE_TYPE(Publication, Publication_dealloc, publication_release,
        "A publication, from Client.add_publication(). A context manager. Thread-safe: a concurrent "
        "publication may be offered to from many threads."),
    .type.tp_repr = (reprfunc)Publication_repr,
    .type.tp_members = child_members,
    .name = "publication",
    .lost = publication_lost,
    .check_close = child_check_close,
};
