/* The shared handle: open/closing state, deferred C close, close()/with/closed. */
#include "handle.h"

#include "errors.h"

int handle_check(HandleObject *self)
{
    if (!handle_is_open(self))
    {
        raise_closed(handle_name(self));
        return -1;
    }
    return 0;
}

void handle_open(HandleObject *self, void *c_handle)
{
    self->c_handle = c_handle;
    self->busy = 0;
    STORE_REL(&self->closing, 0);
}

/* The C close, once closing and nothing holds the handle any more. */
static int handle_maybe_release(HandleObject *self)
{
    if (self->closing && 0 == self->busy && NULL != self->c_handle)
    {
        void *c_handle = self->c_handle;
        self->c_handle = NULL;
        if (handle_type(self)->release(self, c_handle) < 0)
        {
            self->c_handle = c_handle;
            STORE_REL(&self->closing, 0);
            return -1;
        }
    }
    return 0;
}

void handle_op_begin(HandleObject *self)
{
    self->busy++;
    Py_INCREF(self);
}

void handle_op_end(HandleObject *self)
{
    self->busy--;
    (void)handle_maybe_release(self);
    Py_DECREF(self);
}

void handle_hold(HandleObject *self)
{
    self->busy++;
}

void handle_unhold(HandleObject *self)
{
    self->busy--;
    (void)handle_maybe_release(self);
}

int handle_close(HandleObject *self)
{
    if (!self->closing)
    {
        STORE_REL(&self->closing, 1);
        if (NULL != handle_type(self)->on_close)
        {
            handle_type(self)->on_close(self);
        }
    }
    return handle_maybe_release(self);
}

PyObject *handle_repr_closed(HandleObject *self)
{
    return PyUnicode_FromFormat("<%s closed>", Py_TYPE(self)->tp_name);
}

void handle_release_now(HandleObject *self)
{
    STORE_REL(&self->closing, 1);
    self->busy = 0;
    if (handle_maybe_release(self) < 0)
    {
        PyErr_WriteUnraisable((PyObject *)self);
    }
}

/* close() and __exit__: the same, but for the result. */
static int handle_close_from_python(PyObject *self)
{
    int (*check_close)(HandleObject *) = handle_type((HandleObject *)self)->check_close;
    if (NULL != check_close && check_close((HandleObject *)self) < 0)
    {
        return -1;
    }
    return handle_close((HandleObject *)self);
}

PyObject *Handle_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    return handle_close_from_python(self) < 0 ? NULL : (Py_INCREF(Py_None), Py_None);
}

PyObject *Handle_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return self;
}

PyObject *Handle_exit(PyObject *self, PyObject *args)
{
    (void)args;
    return handle_close_from_python(self) < 0 ? NULL : (Py_INCREF(Py_False), Py_False);
}

PyObject *Handle_get_closed(PyObject *obj, void *closure)
{
    (void)closure;
    HandleObject *self = (HandleObject *)obj;
    int (*lost)(HandleObject *) = handle_type(self)->lost;
    return PyBool_FromLong(!handle_is_open(self) || (NULL != lost && lost(self)));
}
