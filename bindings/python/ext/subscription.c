/* shoal.Subscription: poll, controlled_poll, poll_batch, recv_into; the poll bookkeeping records.c shares. */
#include "subscription.h"

#include "errors.h"
#include "image.h"
#include "wait.h"

static void subscription_release_batch(SubscriptionObject *self)
{
    PyObject *views = self->batch_views;
    if (NULL == views)
    {
        return;
    }
    self->batch_views = NULL;
    Py_ssize_t n = PyList_GET_SIZE(views);
    for (Py_ssize_t i = 0; i < n; i++)
    {
        PyObject *view = PyList_GET_ITEM(views, i);
        if (Py_REFCNT(view) > 1)
        {
            release_view(view);
        }
    }
    Py_DECREF(views);
}

int poll_begin(SubscriptionObject *self)
{
    if (handle_check(&self->child.h) < 0)
    {
        return -1;
    }
    if (self->polling)
    {
        raise_state("subscription is already being polled (re-entered from a handler, or from another thread: "
                    "a subscription is polled by one thread at a time)");
        return -1;
    }
    self->polling = 1;
    handle_op_begin(&self->child.h);
    subscription_release_batch(self);
    return 0;
}

void poll_end(SubscriptionObject *self)
{
    self->polling = 0;
    handle_op_end(&self->child.h);
}

static int ensure_frags(SubscriptionObject *self, size_t max)
{
    if (max <= self->frags_capacity)
    {
        return 0;
    }
    size_t capacity = self->frags_capacity ? self->frags_capacity : 64;
    while (capacity < max)
    {
        capacity *= 2;
    }
    shoal_fragment_t *frags = PyMem_Realloc(self->frags, capacity * sizeof(*frags));
    if (NULL == frags)
    {
        PyErr_NoMemory();
        return -1;
    }
    self->frags = frags;
    self->frags_capacity = capacity;
    return 0;
}

int parse_max(PyObject *obj, size_t def, size_t *out, const char *what)
{
    if (NULL == obj || Py_None == obj)
    {
        *out = def;
        return 0;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    if (-1 == v && PyErr_Occurred())
    {
        return -1;
    }
    if (v < 1 || v > MAX_BATCH)
    {
        PyErr_Format(InvalidArgument, "%s must be between 1 and %d", what, MAX_BATCH);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* Between attempts: shoal_subscription_wait, no CPU until a message comes.
 * arg is an attempt whose first member is the subscription. */
static void subscription_sleep(void *arg, int64_t max_ns)
{
    shoal_subscription_wait(*(shoal_subscription_t **)arg, max_ns);
}

typedef struct
{
    shoal_subscription_t *sub; /* first: subscription_sleep */
    shoal_fragment_t *frags;
    size_t max;
    int n;
} batch_attempt_t;

static int batch_attempt(void *arg)
{
    batch_attempt_t *a = arg;
    a->n = shoal_subscription_poll_batch(a->sub, a->frags, a->max);
    return 0 != a->n;
}

/* wait_released_or_raise, sleeping in shoal_subscription_wait. */
static int wait_subscription_or_raise(attempt_fn attempt, void *arg, SubscriptionObject *self, int64_t deadline)
{
    int w = wait_released_sleeping(attempt, subscription_sleep, arg, &self->child.h.closing, deadline);
    if (WAIT_CLOSING == w)
    {
        raise_closed(handle_name(&self->child.h));
    }
    return WAIT_SIGNAL == w || WAIT_CLOSING == w ? -1 : w;
}

int subscription_fill(SubscriptionObject *self, size_t max, int64_t wait_ns)
{
    if (ensure_frags(self, max) < 0)
    {
        return -1;
    }
    batch_attempt_t a = { subscription_c(self), self->frags, max, 0 };
    if (!batch_attempt(&a) && wait_ns > 0)
    {
        if (wait_subscription_or_raise(batch_attempt, &a, self, deadline_after(wait_ns)) < 0)
        {
            return -1;
        }
    }
    if (a.n < 0)
    {
        raise_last_error("poll");
        return -1;
    }
    return a.n;
}

/* ---- poll(handler) ---- */

typedef struct
{
    SubscriptionObject *self;
    PyObject *handler;
    long delivered;
    int failed;
    int controlled;
    LogExporterObject *exporter;
} poll_state_t;

static HeaderObject *poll_header(SubscriptionObject *self, const shoal_header_t *hdr)
{
    HeaderObject *h = self->spare_header;
    if (NULL != h && 1 == Py_REFCNT(h))
    {
        h->h = *hdr; /* nobody kept the last one: reuse it */
        Py_INCREF(h);
        return h;
    }
    Py_XDECREF(h);
    h = header_new(hdr);
    self->spare_header = h;
    Py_XINCREF(h);
    return h;
}

static shoal_controlled_action_t poll_trampoline(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    poll_state_t *st = clientd;
    if (st->failed || st->self->child.h.closing)
    {
        return SHOAL_ACTION_ABORT;
    }
    PyObject *view = log_view(subscription_c(st->self), &st->exporter, buf, len);
    if (NULL == view)
    {
        st->failed = 1;
        return SHOAL_ACTION_ABORT;
    }
    HeaderObject *h = poll_header(st->self, hdr);
    if (NULL == h)
    {
        Py_DECREF(view);
        st->failed = 1;
        return SHOAL_ACTION_ABORT;
    }
    PyObject *argv[2] = { view, (PyObject *)h };
    PyObject *r = PyObject_Vectorcall(st->handler, argv, 2, NULL);
    release_view(view);
    Py_DECREF(view);
    Py_DECREF(h);
    st->delivered++;
    if (NULL == r)
    {
        st->failed = 1;
        return SHOAL_ACTION_BREAK; /* this message is consumed; the rest are delivered by the next poll */
    }
    shoal_controlled_action_t action = SHOAL_ACTION_CONTINUE;
    if (st->controlled && Py_None != r)
    {
        long a = PyLong_AsLong(r);
        if ((-1 == a && PyErr_Occurred()) || a < SHOAL_ACTION_ABORT || a > SHOAL_ACTION_CONTINUE)
        {
            if (!PyErr_Occurred())
            {
                raise_invalid("a controlled_poll handler returns ABORT, BREAK, COMMIT, CONTINUE or None");
            }
            st->failed = 1;
            action = SHOAL_ACTION_BREAK;
        }
        else
        {
            action = (shoal_controlled_action_t)a;
            if (SHOAL_ACTION_ABORT == action)
            {
                st->delivered--;
            }
        }
    }
    Py_DECREF(r);
    return action;
}

/* Waits (GIL released) until a message is available without consuming it. */
static shoal_controlled_action_t probe_trampoline(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    (void)buf;
    (void)len;
    (void)hdr;
    *(int *)clientd = 1;
    return SHOAL_ACTION_ABORT;
}

/* Polls at most one message with handler until *got says it took one, or the
 * poll fails: the wait of poll(timeout=) and recv_into(timeout=). */
typedef struct
{
    shoal_subscription_t *sub; /* first: subscription_sleep */
    shoal_controlled_handler_t handler;
    void *clientd;
    const int *got;
    int rc;
} one_message_attempt_t;

static int one_message_attempt(void *arg)
{
    one_message_attempt_t *a = arg;
    a->rc = shoal_subscription_controlled_poll(a->sub, a->handler, a->clientd, 1);
    return a->rc < 0 || 0 != *a->got;
}

static PyObject *subscription_poll_common(SubscriptionObject *self, PyObject *args, PyObject *kwds, int controlled)
{
    static char *kwlist[] = { "handler", "limit", "timeout", NULL };
    PyObject *handler, *limit_obj = Py_None, *timeout = Py_None;
    size_t limit;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, controlled ? "O|OO:controlled_poll" : "O|OO:poll", kwlist, &handler,
            &limit_obj, &timeout) ||
        parse_max(limit_obj, 10, &limit, "limit") < 0 || parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (!PyCallable_Check(handler))
    {
        return PyErr_Format(PyExc_TypeError, "handler must be callable, not %.100s", Py_TYPE(handler)->tp_name);
    }
    if (poll_begin(self) < 0)
    {
        return NULL;
    }
    poll_state_t st = { self, handler, 0, 0, controlled, NULL };
    int rc = shoal_subscription_controlled_poll(subscription_c(self), poll_trampoline, &st, limit);
    if (0 == rc && !st.failed && wait_ns > 0 && !self->child.h.closing)
    {
        int available = 0;
        one_message_attempt_t a = { subscription_c(self), probe_trampoline, &available, &available, 0 };
        int w = wait_released_sleeping(one_message_attempt, subscription_sleep, &a, &self->child.h.closing,
            deadline_after(wait_ns));
        if (WAIT_SIGNAL == w)
        {
            st.failed = 1;
        }
        else if (a.rc < 0)
        {
            rc = -1;
        }
        else if (WAIT_DONE == w)
        {
            rc = shoal_subscription_controlled_poll(subscription_c(self), poll_trampoline, &st, limit);
        }
    }
    if (rc < 0 && !st.failed)
    {
        raise_last_error("poll");
        st.failed = 1;
    }
    Py_XDECREF(st.exporter);
    poll_end(self);
    if (st.failed)
    {
        return NULL;
    }
    return PyLong_FromLong(st.delivered);
}

static PyObject *Subscription_poll(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return subscription_poll_common(self, args, kwds, 0);
}

static PyObject *Subscription_controlled_poll(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return subscription_poll_common(self, args, kwds, 1);
}

/* ---- poll_batch ---- */

static PyObject *Subscription_poll_batch(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "max", "timeout", "copy", NULL };
    PyObject *max_obj = Py_None, *timeout = Py_None;
    int copy = 0;
    size_t max;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOp:poll_batch", kwlist, &max_obj, &timeout, &copy) ||
        parse_max(max_obj, 256, &max, "max") < 0 || parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (poll_begin(self) < 0)
    {
        return NULL;
    }
    PyObject *result = NULL, *views = NULL;
    LogExporterObject *exporter = NULL;
    int n = subscription_fill(self, max, wait_ns);
    if (n < 0)
    {
        goto done;
    }
    result = PyList_New(n);
    views = copy ? NULL : PyList_New(n);
    if (NULL == result || (!copy && NULL == views))
    {
        Py_CLEAR(result);
        goto done;
    }
    for (int i = 0; i < n; i++)
    {
        const shoal_fragment_t *f = &self->frags[i];
        PyObject *data = copy ? PyBytes_FromStringAndSize((const char *)f->data, (Py_ssize_t)f->length)
                              : log_view(subscription_c(self), &exporter, f->data, f->length);
        HeaderObject *h = NULL == data ? NULL : header_new(&f->header);
        PyObject *pair = NULL == h ? NULL : PyTuple_New(2);
        if (NULL == pair)
        {
            Py_XDECREF(data);
            Py_XDECREF(h);
            Py_CLEAR(result);
            goto done;
        }
        if (!copy)
        {
            Py_INCREF(data);
            PyList_SET_ITEM(views, i, data);
        }
        PyTuple_SET_ITEM(pair, 0, data);
        PyTuple_SET_ITEM(pair, 1, (PyObject *)h);
        PyList_SET_ITEM(result, i, pair);
    }
    self->batch_views = views;
    views = NULL;
done:
    if (NULL != views)
    {
        /* Failure half way: release what was made (the unfilled slots are NULL). */
        Py_ssize_t made = 0;
        while (made < PyList_GET_SIZE(views) && NULL != PyList_GET_ITEM(views, made))
        {
            made++;
        }
        Py_SET_SIZE(views, made);
        self->batch_views = views;
        subscription_release_batch(self);
    }
    Py_XDECREF(exporter);
    poll_end(self);
    return result;
}

/* ---- recv_into ---- */

typedef struct
{
    Py_buffer *dst;
    Py_ssize_t length; /* copied bytes, or the length that did not fit */
    int state;         /* 0 nothing, 1 copied, 2 too small */
} recv_state_t;

static shoal_controlled_action_t recv_trampoline(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    (void)hdr;
    recv_state_t *st = clientd;
    st->length = (Py_ssize_t)len;
    if ((Py_ssize_t)len > st->dst->len)
    {
        st->state = 2;
        return SHOAL_ACTION_ABORT; /* not consumed: a bigger buffer gets it */
    }
    memcpy(st->dst->buf, buf, len);
    st->state = 1;
    return SHOAL_ACTION_BREAK;
}

static PyObject *Subscription_recv_into(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "buffer", "timeout", NULL };
    Py_buffer dst;
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "w*|O:recv_into", kwlist, &dst, &timeout))
    {
        return NULL;
    }
    if (parse_timeout(timeout, &wait_ns) < 0 || poll_begin(self) < 0)
    {
        PyBuffer_Release(&dst);
        return NULL;
    }
    recv_state_t st = { &dst, 0, 0 };
    one_message_attempt_t a = { subscription_c(self), recv_trampoline, &st, &st.state, 0 };
    PyObject *result = NULL;
    /* Later attempts run without the GIL: dst stays exported to us, so the
     * copy into it needs none. */
    if (!one_message_attempt(&a) && wait_ns > 0)
    {
        if (wait_subscription_or_raise(one_message_attempt, &a, self, deadline_after(wait_ns)) < 0)
        {
            goto done;
        }
    }
    if (a.rc < 0)
    {
        raise_last_error("recv_into");
    }
    else if (2 == st.state)
    {
        char message[160];
        snprintf(message, sizeof(message),
            "the next message is %zd bytes, the buffer %zd: it was not consumed (retry with a buffer of >= %zd bytes)",
            st.length, dst.len, st.length);
        PyObject *needed = PyLong_FromSsize_t(st.length);
        if (NULL != needed)
        {
            raise_with_attribute(MessageTooLarge, SHOAL_EMSGSIZE, message, "length", needed);
            Py_DECREF(needed);
        }
    }
    else if (1 == st.state)
    {
        result = PyLong_FromSsize_t(st.length);
    }
    else
    {
        result = Py_None;
        Py_INCREF(result);
    }
done:
    poll_end(self);
    PyBuffer_Release(&dst);
    return result;
}

/* ---- wait ---- */

typedef struct
{
    shoal_subscription_t *sub; /* first: subscription_sleep */
    int rc;
} available_attempt_t;

static int available_attempt(void *arg)
{
    available_attempt_t *a = arg;
    a->rc = shoal_subscription_wait(a->sub, 0);
    return 0 != a->rc;
}

static PyObject *Subscription_wait(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "timeout", NULL };
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait", kwlist, &timeout) || parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (poll_begin(self) < 0)
    {
        return NULL;
    }
    available_attempt_t a = { subscription_c(self), 0 };
    PyObject *result = NULL;
    int w = WAIT_DONE;
    if (!available_attempt(&a) && 0 != wait_ns)
    {
        /* None waits for ever here (a poll's None does not wait at all). */
        w = wait_subscription_or_raise(available_attempt, &a, self, deadline_after(wait_ns < 0 ? INT64_MAX : wait_ns));
    }
    if (w >= 0)
    {
        if (a.rc < 0)
        {
            raise_last_error("wait");
        }
        else
        {
            result = PyBool_FromLong(1 == a.rc);
        }
    }
    poll_end(self);
    return result;
}

static PyObject *Subscription_wait_connected(SubscriptionObject *self, PyObject *args, PyObject *kwds)
{
    return child_wait_connected(&self->child, NULL, subscription_c(self), args, kwds);
}

static PyObject *Subscription_get_is_connected(SubscriptionObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(handle_is_open(&self->child.h) && shoal_subscription_is_connected(subscription_c(self)));
}

HANDLE_GETTER(Subscription_get_image_count, PyLong_FromLong, shoal_subscription_image_count)

HANDLE_GETTER(Subscription_get_registration_id, PyLong_FromLongLong, shoal_subscription_registration_id)

static int subscription_lost(HandleObject *h)
{
    return shoal_client_is_closed(((ChildObject *)h)->owner->h.c_handle);
}

static PyObject *Subscription_repr(SubscriptionObject *self)
{
    return PyUnicode_FromFormat("<shoal.Subscription %U stream %d%s>", self->child.channel, (int)self->child.stream_id,
        handle_is_open(&self->child.h) ? "" : " closed");
}

/* The C close (it calls on_unavailable for the images left: the handlers
 * are called no more once it returned). */
static int subscription_release(HandleObject *h, void *sub)
{
    SubscriptionObject *self = (SubscriptionObject *)h;
    subscription_release_batch(self);
    image_handlers_t *handlers = self->handlers;
    self->handlers = NULL;
    Py_BEGIN_ALLOW_THREADS shoal_subscription_close(sub);
    Py_END_ALLOW_THREADS image_handlers_free(handlers);
    child_detach(&self->child);
    return 0;
}

ChildObject *subscription_alloc(void)
{
    /* tp_alloc zeroes the object: no handle, no owner, no handlers yet. */
    SubscriptionObject *self = (SubscriptionObject *)SubscriptionType.type.tp_alloc(&SubscriptionType.type, 0);
    return NULL == self ? NULL : &self->child;
}

void subscription_take_handlers(ChildObject *child, image_handlers_t *handlers)
{
    ((SubscriptionObject *)child)->handlers = handlers;
}

static void Subscription_dealloc(SubscriptionObject *self)
{
    child_dealloc(&self->child);
    PyMem_Free(self->frags);
    Py_XDECREF(self->spare_header);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Subscription_methods[] = {
    { "poll", (PyCFunction)(void (*)(void))Subscription_poll, METH_VARARGS | METH_KEYWORDS,
        "poll($self, /, handler, limit=10, timeout=None)\n--\n\n"
        "Calls handler(view, header) for up to limit messages; returns how many. view is a read-only memoryview "
        "into the log, valid only during the call (it is released afterwards: copy with bytes(view) to keep). "
        "If the handler raises, that message counts as consumed, the poll stops and the exception propagates; "
        "later messages wait for the next poll. With timeout (seconds) and nothing available it waits with the "
        "GIL released." },
    { "controlled_poll", (PyCFunction)(void (*)(void))Subscription_controlled_poll, METH_VARARGS | METH_KEYWORDS,
        "controlled_poll($self, /, handler, limit=10, timeout=None)\n--\n\n"
        "As poll(), but the handler returns ACTION_ABORT (not consumed, stop), ACTION_BREAK, ACTION_COMMIT or "
        "ACTION_CONTINUE (also None)." },
    { "recv_into", (PyCFunction)(void (*)(void))Subscription_recv_into, METH_VARARGS | METH_KEYWORDS,
        "recv_into($self, /, buffer, timeout=None)\n--\n\n"
        "Copies the next message into the writable buffer and returns its length, or None when there is none "
        "(after waiting up to timeout seconds). A message longer than the buffer is not consumed: "
        "MessageTooLarge is raised with .length set to the size needed. The copy outlives any later poll." },
    { "poll_batch", (PyCFunction)(void (*)(void))Subscription_poll_batch, METH_VARARGS | METH_KEYWORDS,
        "poll_batch($self, /, max=256, timeout=None, copy=False)\n--\n\n"
        "Returns a list of up to max (view, header) pairs without a per-message callback. The views are "
        "read-only memoryviews into the log, valid until the next poll on this subscription or its close "
        "(views still referenced then are released). Slices and numpy arrays made from a view keep the log "
        "mapped (never a crash), but its bytes may be overwritten once the subscriber is a term further: "
        "copy=True returns bytes copies instead. With timeout it waits (GIL released) for at least one." },
    { "poll_records", (PyCFunction)(void (*)(void))Subscription_poll_records, METH_VARARGS | METH_KEYWORDS,
        "poll_records($self, /, dtype, max=1024, timeout=None, strict=True)\n--\n\n"
        "Copies up to max messages of exactly dtype.itemsize bytes into a new numpy array of that dtype "
        "(structured dtypes welcome) in one call; returns the filled slice. A message of another length is "
        "truncated/zero-padded and, if strict, InvalidArgument is raised after the batch with the array in "
        ".records." },
    { "poll_into", (PyCFunction)(void (*)(void))Subscription_poll_into, METH_VARARGS | METH_KEYWORDS,
        "poll_into($self, /, buffer, record_size, timeout=None, strict=True)\n--\n\n"
        "Copies messages as record_size-byte records into a writable buffer (as many as fit); returns the count." },
    { "wait", (PyCFunction)(void (*)(void))Subscription_wait, METH_VARARGS | METH_KEYWORDS,
        "wait($self, /, timeout=None)\n--\n\n"
        "Waits (GIL released, no CPU while idle) until a poll would find a message: True, or False after "
        "timeout seconds (None: no timeout; 0: just look). Consumes nothing. Ctrl-C interrupts it." },
    { "receive", (PyCFunction)(void (*)(void))Subscription_receive, METH_VARARGS | METH_KEYWORDS,
        "receive($self, /, timeout=None, copy=False)\n--\n\n"
        "asyncio: `view, header = await sub.receive()`, the next message. The view is valid until the next "
        "poll of this subscription (copy=True: bytes). None after timeout seconds. The wait runs on a thread "
        "of shoal's wait pool (see shoal.aio), the event loop stays free." },
    { "messages", (PyCFunction)(void (*)(void))Subscription_messages, METH_VARARGS | METH_KEYWORDS,
        "messages($self, /, batch=256, copy=False)\n--\n\n"
        "asyncio: `async for view, header in sub.messages(): ...`, for ever (until the subscription closes). "
        "Each view is valid until the loop asks for the one after the last of its batch (copy=True: bytes)." },
    { "wait_connected", (PyCFunction)(void (*)(void))Subscription_wait_connected, METH_VARARGS | METH_KEYWORDS,
        "wait_connected($self, /, timeout=None)\n--\n\nWaits (GIL released) until a publication is seen; False on "
        "timeout." },
    HANDLE_METHODS("close($self, /)\n--\n\nCloses the subscription (idempotent); outstanding poll_batch views "
                   "are released."),
    { NULL } /* sentinel */
};

static PyGetSetDef Subscription_getset[] = {
    { "is_connected", (getter)Subscription_get_is_connected, NULL, "True while at least one image is seen.", NULL },
    { "image_count", (getter)Subscription_get_image_count, NULL, "Number of publications (images) seen.", NULL },
    { "registration_id", (getter)Subscription_get_registration_id, NULL,
        "The driver's id of this subscription: a requester's request publication names it in "
        "response-correlation-id.",
        NULL },
    HANDLE_GETSET_IS_CLOSED("True once closed."), { NULL } /* sentinel */
};

HandleType SubscriptionType = {
    HANDLE_TYPE(Subscription, Subscription_dealloc, subscription_release,
        "A subscription, from Client.add_subscription(). Polled by one thread at a time. A context manager."),
    .type.tp_repr = (reprfunc)Subscription_repr,
    .type.tp_members = child_members,
    .name = "subscription",
    .lost = subscription_lost,
    .check_close = child_check_close,
};
