/* shoal.Image and the image handlers of a subscription (on_available / on_unavailable). */
#include "image.h"

#include "errors.h"

/* Set on a thread while it runs a Python image handler: the C client's
 * conductor thread (or a closing thread) is inside the client then, so an
 * add_* or close from the handler would wait for itself. */
static __thread int in_image_handler;

int check_not_in_image_handler(const char *what)
{
    if (in_image_handler)
    {
        char text[256];
        snprintf(text, sizeof(text), "%s cannot be called from an image handler (it would deadlock the client)", what);
        raise_state(text);
        return -1;
    }
    return 0;
}

/* One image as seen from Python. The immutable fields are copied at
 * on_available; `image` is the C handle, valid (and read) only until
 * on_unavailable returns: the trampoline clears it under the GIL, and every
 * read also holds the GIL, so no read can see a freed image. After that
 * position is the last value (read when on_unavailable ran). */
typedef struct
{
    PyObject_HEAD const shoal_image_t *image;
    PyObject *source_identity; /* str */
    int64_t correlation_id;
    int64_t join_position;
    int64_t last_position;
    int32_t session_id;
    int32_t stream_id;
} ImageObject;

/* See image_handlers_t in image.h. */
struct image_handlers
{
    PyObject *on_available;   /* callable or NULL */
    PyObject *on_unavailable; /* callable or NULL */
    PyObject *images;         /* dict: PyLong(shoal_image_t *) -> ImageObject, the images now available */
};

static ImageObject *image_object_new(const shoal_image_t *image)
{
    const char *source = shoal_image_source_identity(image);
    PyObject *text = PyUnicode_DecodeUTF8(source ? source : "", source ? (Py_ssize_t)strlen(source) : 0, "replace");
    if (NULL == text)
    {
        return NULL;
    }
    ImageObject *self = PyObject_New(ImageObject, &ImageType);
    if (NULL == self)
    {
        Py_DECREF(text);
        return NULL;
    }
    self->image = image;
    self->source_identity = text;
    self->session_id = shoal_image_session_id(image);
    self->stream_id = shoal_image_stream_id(image);
    self->correlation_id = shoal_image_correlation_id(image);
    self->join_position = shoal_image_join_position(image);
    self->last_position = shoal_image_position(image);
    return self;
}

static void image_object_detach(ImageObject *self)
{
    if (NULL != self->image)
    {
        self->last_position = shoal_image_position(self->image);
        self->image = NULL;
    }
}

static void image_handler_call(PyObject *handler, ImageObject *image)
{
    if (NULL == handler || NULL == image)
    {
        return;
    }
    Py_INCREF(handler);
    in_image_handler++;
    PyObject *r = PyObject_CallFunctionObjArgs(handler, (PyObject *)image, NULL);
    in_image_handler--;
    if (NULL == r)
    {
        /* Reported like an exception in a __del__ (sys.unraisablehook); the
         * client goes on and later events are delivered. */
        PyErr_WriteUnraisable(handler);
    }
    Py_XDECREF(r);
    Py_DECREF(handler);
}

static void image_on_available(image_handlers_t *h, shoal_image_t *image)
{
    ImageObject *obj = image_object_new(image);
    PyObject *key = NULL;
    if (NULL == obj || NULL == (key = PyLong_FromVoidPtr(image)) || PyDict_SetItem(h->images, key, (PyObject *)obj) < 0)
    {
        PyErr_WriteUnraisable(NULL != h->on_available ? h->on_available : Py_None);
    }
    else
    {
        image_handler_call(h->on_available, obj);
    }
    Py_XDECREF(key);
    Py_XDECREF(obj);
}

static void image_on_unavailable(image_handlers_t *h, shoal_image_t *image)
{
    ImageObject *obj = NULL;
    PyObject *key = PyLong_FromVoidPtr(image);
    if (NULL != key)
    {
        obj = (ImageObject *)PyDict_GetItemWithError(h->images, key);
        if (NULL != obj)
        {
            Py_INCREF(obj);
            if (PyDict_DelItem(h->images, key) < 0)
            {
                PyErr_Clear();
            }
        }
        else if (!PyErr_Occurred())
        {
            obj = image_object_new(image); /* its on_available could not be reported */
        }
    }
    if (NULL == obj)
    {
        PyErr_WriteUnraisable(NULL != h->on_unavailable ? h->on_unavailable : Py_None);
    }
    else
    {
        /* Closed from here on: the handler sees the final position. */
        image_object_detach(obj);
        image_handler_call(h->on_unavailable, obj);
        Py_DECREF(obj);
    }
    Py_XDECREF(key);
}

/* Both trampolines: they run on a thread the C client chose, so they take
 * the GIL; an exception pending on a closing thread is kept apart from the
 * handler's. */
static void image_event(void *clientd, shoal_image_t *image, void (*event)(image_handlers_t *, shoal_image_t *))
{
    if (!Py_IsInitialized() || SHOAL_PY_FINALIZING())
    {
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    event(clientd, image);
    PyErr_Restore(type, value, tb);
    PyGILState_Release(gil);
}

void image_available_trampoline(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    image_event(clientd, image, image_on_available);
}

void image_unavailable_trampoline(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    image_event(clientd, image, image_on_unavailable);
}

image_handlers_t *image_handlers_new(PyObject *on_available, PyObject *on_unavailable)
{
    const char *names[2] = { "on_available", "on_unavailable" };
    PyObject *fns[2] = { on_available, on_unavailable };
    for (int i = 0; i < 2; i++)
    {
        if (Py_None == fns[i])
        {
            fns[i] = NULL;
        }
        else if (NULL != fns[i] && !PyCallable_Check(fns[i]))
        {
            PyErr_Format(PyExc_TypeError, "%s must be callable or None, not %.100s", names[i],
                Py_TYPE(fns[i])->tp_name);
            return NULL;
        }
    }
    image_handlers_t *h = PyMem_Malloc(sizeof(*h));
    if (NULL == h)
    {
        PyErr_NoMemory();
        return NULL;
    }
    h->images = PyDict_New();
    if (NULL == h->images)
    {
        PyMem_Free(h);
        return NULL;
    }
    Py_XINCREF(fns[0]);
    Py_XINCREF(fns[1]);
    h->on_available = fns[0];
    h->on_unavailable = fns[1];
    return h;
}

void image_handlers_free(image_handlers_t *h)
{
    if (NULL == h)
    {
        return;
    }
    /* The C client pairs every on_available with an on_unavailable before
     * the close returns; detach anything left anyway (e.g. events skipped
     * during interpreter shutdown) so no Image can reach a freed handle. */
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(h->images, &pos, &key, &value))
    {
        ((ImageObject *)value)->image = NULL;
    }
    Py_CLEAR(h->images);
    Py_CLEAR(h->on_available);
    Py_CLEAR(h->on_unavailable);
    PyMem_Free(h);
}

static PyObject *Image_get_position(ImageObject *self, void *c)
{
    (void)c;
    if (NULL != self->image)
    {
        self->last_position = shoal_image_position(self->image);
    }
    return PyLong_FromLongLong(self->last_position);
}

static PyObject *Image_get_is_closed(ImageObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(NULL == self->image || shoal_image_is_closed(self->image));
}

static PyObject *Image_repr(ImageObject *self)
{
    return PyUnicode_FromFormat("<shoal.Image session %d stream %d from %U correlation %lld join %lld%s>",
        (int)self->session_id, (int)self->stream_id, self->source_identity, (long long)self->correlation_id,
        (long long)self->join_position, NULL == self->image ? " closed" : "");
}

static void Image_dealloc(ImageObject *self)
{
    Py_XDECREF(self->source_identity);
    PyObject_Free(self);
}

/* Fixed at on_available: plain members, as Header's. */
static PyMemberDef Image_members[] = {
    { "session_id", T_INT, offsetof(ImageObject, session_id), READONLY, "Session id of the publication." },
    { "stream_id", T_INT, offsetof(ImageObject, stream_id), READONLY, "Stream id." },
    { "correlation_id", T_LONGLONG, offsetof(ImageObject, correlation_id), READONLY,
        "Driver-assigned id of the image (unique in that driver)." },
    { "source_identity", T_OBJECT_EX, offsetof(ImageObject, source_identity), READONLY,
        "Where the stream comes from: 'aeron:ipc', or the sender's 'ip:port' for UDP." },
    { "join_position", T_LONGLONG, offsetof(ImageObject, join_position), READONLY,
        "Stream position at which the subscription joined." },
    { NULL } /* sentinel */
};

static PyGetSetDef Image_getset[] = {
    { "position", (getter)Image_get_position, NULL,
        "Position of the subscription in this stream (consumed so far); once the image is unavailable, the last "
        "value (read when on_unavailable ran).",
        NULL },
    { "is_closed", (getter)Image_get_is_closed, NULL,
        "True once the image went unavailable (already in on_unavailable).", NULL },
    { NULL } /* sentinel */
};

PyTypeObject ImageType = {
    SHOAL_TYPE_HEAD("Image", ImageObject, Image_dealloc, Py_TPFLAGS_DEFAULT,
        "One publication session seen by a subscription, handed to the on_available / on_unavailable "
        "handlers of Client.add_subscription (not created by users). Read-only; the same object is passed "
        "to both handlers and stays usable after on_unavailable (position then keeps its last value)."),
    .tp_repr = (reprfunc)Image_repr,
    .tp_members = Image_members,
    .tp_getset = Image_getset,
};
