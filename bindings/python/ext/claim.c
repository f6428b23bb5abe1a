/* shoal.Claim: Publication.try_claim, a writable view into the log, commit/abort. */
#include "claim.h"

#include "errors.h"
#include "publication.h"
#include "views.h"
#include "wait.h"

enum
{
    CLAIM_PENDING = 0,
    CLAIM_COMMITTED = 1,
    CLAIM_ABORTED = 2
};

typedef struct
{
    PyObject_HEAD PublicationObject *pub; /* strong; busy held while `holding` */
    shoal_claim_t claim;
    int64_t position;
    int state;
    int exports;
    int holding;
    PyObject *view; /* the memoryview __enter__ returned */
} ClaimObject;

static void claim_maybe_drop(ClaimObject *self)
{
    if (self->holding && CLAIM_PENDING != self->state && 0 == self->exports)
    {
        self->holding = 0;
        handle_op_end(&self->pub->child.h);
    }
}

/* A claim dropped without commit or abort is aborted. */
static void claim_abort_pending(ClaimObject *self)
{
    if (CLAIM_PENDING == self->state)
    {
        shoal_claim_abort(&self->claim);
        self->state = CLAIM_ABORTED;
    }
}

static int claim_finish(ClaimObject *self, int commit)
{
    if (CLAIM_PENDING != self->state)
    {
        return 0;
    }
    int rc = commit ? shoal_claim_commit(&self->claim) : shoal_claim_abort(&self->claim);
    self->state = commit ? CLAIM_COMMITTED : CLAIM_ABORTED;
    if (rc < 0)
    {
        raise_last_error(commit ? "claim commit" : "claim abort");
        return -1;
    }
    return 0;
}

static void claim_release_view(ClaimObject *self)
{
    PyObject *view = self->view;
    if (NULL != view)
    {
        self->view = NULL;
        release_view(view);
        Py_DECREF(view);
    }
}

PyObject *Publication_try_claim(PublicationObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = { "length", "timeout", NULL };
    Py_ssize_t length;
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|O:try_claim", kwlist, &length, &timeout) ||
        parse_timeout(timeout, &wait_ns) < 0)
    {
        return NULL;
    }
    if (length < 0)
    {
        return raise_invalid("try_claim length must be >= 0");
    }
    if (handle_check(&self->child.h) < 0)
    {
        return NULL;
    }
    ClaimObject *claim = PyObject_GC_New(ClaimObject, &ClaimType);
    if (NULL == claim)
    {
        return NULL;
    }
    claim->pub = NULL;
    claim->state = CLAIM_ABORTED;
    claim->exports = 0;
    claim->holding = 0;
    claim->view = NULL;
    memset(&claim->claim, 0, sizeof(claim->claim));
    int64_t rc;
    if (0 == self->writer_busy)
    {
        rc = claim_once(publication_c(self), (size_t)length, &claim->claim);
        if (wait_ns > 0 && retryable(rc))
        {
            rc = publication_offer_slow(self, NULL, 0, &claim->claim, (size_t)length, wait_ns);
        }
    }
    else
    {
        rc = publication_offer_slow(self, NULL, 0, &claim->claim, (size_t)length, wait_ns);
    }
    if (rc < 0)
    {
        PyObject_GC_Track(claim);
        Py_DECREF(claim);
        if (RESULT_PYERR == rc)
        {
            return NULL;
        }
        return SHOAL_ERROR == rc ? raise_last_error("try_claim") : raise_flow_result(rc, wait_ns);
    }
    /* Still open: the slow path reports CLOSED if it was closed meanwhile. */
    claim->position = rc;
    claim->state = CLAIM_PENDING;
    claim->pub = self;
    Py_INCREF(self);
    handle_op_begin(&self->child.h); /* keeps the log mapped while the claim is open */
    claim->holding = 1;
    PyObject_GC_Track(claim);
    return (PyObject *)claim;
}

static int Claim_getbuffer(ClaimObject *self, Py_buffer *view, int flags)
{
    if (CLAIM_PENDING != self->state)
    {
        PyErr_SetString(ClosedError, "claim was already committed or aborted");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->claim.data, (Py_ssize_t)self->claim.length, 0, flags) < 0)
    {
        return -1;
    }
    self->exports++;
    return 0;
}

static void Claim_releasebuffer(ClaimObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
    claim_maybe_drop(self);
}

static PyBufferProcs Claim_as_buffer = {
    (getbufferproc)Claim_getbuffer,
    (releasebufferproc)Claim_releasebuffer,
};

static PyObject *Claim_enter(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    if (NULL != self->view)
    {
        return raise_state("claim already entered");
    }
    PyObject *view = PyMemoryView_FromObject((PyObject *)self);
    if (NULL == view)
    {
        return NULL;
    }
    self->view = view;
    Py_INCREF(view);
    return view;
}

static PyObject *Claim_exit(ClaimObject *self, PyObject *args)
{
    PyObject *type = Py_None, *value = Py_None, *tb = Py_None;
    if (!PyArg_UnpackTuple(args, "__exit__", 0, 3, &type, &value, &tb))
    {
        return NULL;
    }
    int rc = claim_finish(self, Py_None == type);
    claim_release_view(self);
    claim_maybe_drop(self);
    if (rc < 0)
    {
        if (Py_None != type)
        {
            PyErr_Clear(); /* the body's exception is the one to report */
        }
        else
        {
            return NULL;
        }
    }
    Py_RETURN_FALSE;
}

/* commit() and abort(): once, then InvalidStateError. */
static int claim_end(ClaimObject *self, int commit)
{
    if (CLAIM_PENDING != self->state)
    {
        raise_state("claim was already committed or aborted");
        return -1;
    }
    int rc = claim_finish(self, commit);
    claim_release_view(self);
    claim_maybe_drop(self);
    return rc;
}

static PyObject *Claim_commit(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    return claim_end(self, 1) < 0 ? NULL : PyLong_FromLongLong(self->position);
}

static PyObject *Claim_abort(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    if (claim_end(self, 0) < 0)
    {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Claim_get_position(ClaimObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->position);
}

static PyObject *Claim_get_length(ClaimObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(CLAIM_PENDING == self->state ? self->claim.length : 0);
}

static PyObject *Claim_get_state(ClaimObject *self, void *closure)
{
    (void)closure;
    static const char *names[] = { "pending", "committed", "aborted" };
    return PyUnicode_FromString(names[self->state]);
}

static int Claim_traverse(ClaimObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->view);
    return 0;
}

static int Claim_clear(ClaimObject *self)
{
    /* Only reached for a claim entered but never exited and then dropped. */
    claim_abort_pending(self);
    Py_CLEAR(self->view);
    return 0;
}

static void Claim_dealloc(ClaimObject *self)
{
    PyObject_GC_UnTrack(self);
    claim_abort_pending(self); /* never leave the log blocked */
    Py_CLEAR(self->view);
    claim_maybe_drop(self);
    Py_XDECREF(self->pub);
    PyObject_GC_Del(self);
}

static PyMethodDef Claim_methods[] = {
    { "__enter__", (PyCFunction)Claim_enter, METH_NOARGS,
        "Returns a writable memoryview of the claimed bytes in the log." },
    { "__exit__", (PyCFunction)Claim_exit, METH_VARARGS,
        "Commits on normal exit, aborts on an exception; the view is released either way." },
    { "commit", (PyCFunction)Claim_commit, METH_NOARGS,
        "commit($self, /)\n--\n\nPublishes the claimed message; returns its position." },
    { "abort", (PyCFunction)Claim_abort, METH_NOARGS,
        "abort($self, /)\n--\n\nTurns the claimed space into padding the subscribers skip." },
    { NULL } /* sentinel */
};

static PyGetSetDef Claim_getset[] = {
    { "position", (getter)Claim_get_position, NULL, "Stream position the message ends at.", NULL },
    { "length", (getter)Claim_get_length, NULL, "Claimed bytes (0 once committed/aborted).", NULL },
    { "state", (getter)Claim_get_state, NULL, "'pending', 'committed' or 'aborted'.", NULL }, { NULL } /* sentinel */
};

PyTypeObject ClaimType = {
    SHOAL_TYPE_HEAD("Claim", ClaimObject, Claim_dealloc, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
        "A zero-copy claim from Publication.try_claim(n): `with pub.try_claim(n) as buf:` fills buf "
        "(a writable memoryview into the log), commits on normal exit and aborts on an exception. "
        "The view is valid only inside the with block."),
    .tp_as_buffer = &Claim_as_buffer,
    .tp_traverse = (traverseproc)Claim_traverse,
    .tp_clear = (inquiry)Claim_clear,
    .tp_methods = Claim_methods,
    .tp_getset = Claim_getset,
};
