/* What publications and subscriptions share: the link to their client, wait_connected. */
#include "client.h"

#include "errors.h"
#include "image.h"
#include "wait.h"

void child_attach(ChildObject *child, ClientObject *owner, PyObject *channel, int32_t stream_id, void *c_handle)
{
    child->owner = owner;
    Py_INCREF(owner);
    handle_hold(&owner->h);
    child->channel = channel;
    Py_INCREF(channel);
    child->stream_id = stream_id;
    child->prev = NULL;
    child->next = owner->children;
    if (NULL != owner->children)
    {
        owner->children->prev = child;
    }
    owner->children = child;
    handle_open(&child->h, c_handle);
}

void child_detach(ChildObject *child)
{
    ClientObject *owner = child->owner;
    if (NULL != child->prev)
    {
        child->prev->next = child->next;
    }
    else if (owner->children == child)
    {
        owner->children = child->next;
    }
    if (NULL != child->next)
    {
        child->next->prev = child->prev;
    }
    child->prev = child->next = NULL;
    handle_unhold(&owner->h);
}

void child_dealloc(ChildObject *child)
{
    /* busy is 0 here: every operation holds a reference. */
    handle_release_now(&child->h);
    Py_XDECREF(child->channel);
    Py_XDECREF(child->owner);
}

PyMemberDef child_members[] = {
    { "stream_id", T_INT, offsetof(ChildObject, stream_id), READONLY, "Stream id." },
    { "channel", T_OBJECT, offsetof(ChildObject, channel), READONLY, "Channel URI." },
    { "client", T_OBJECT, offsetof(ChildObject, owner), READONLY, "The Client that made it." }, { NULL } /* sentinel */
};

int child_check_close(HandleObject *h)
{
    (void)h;
    return check_not_in_image_handler("close");
}

typedef struct
{
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
} connected_attempt_t;

static int connected_attempt(void *arg)
{
    connected_attempt_t *a = arg;
    return NULL != a->pub ? shoal_publication_is_connected(a->pub) : shoal_subscription_is_connected(a->sub);
}

PyObject *child_wait_connected(ChildObject *child, shoal_publication_t *pub, shoal_subscription_t *sub, PyObject *args,
    PyObject *kwds)
{
    static char *kwlist[] = { "timeout", NULL };
    PyObject *timeout = Py_None;
    int64_t wait_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait_connected", kwlist, &timeout) ||
        parse_timeout(timeout, &wait_ns) < 0 || handle_check(&child->h) < 0)
    {
        return NULL;
    }
    if (wait_ns < 0)
    {
        wait_ns = INT64_MAX;
    }
    connected_attempt_t a = { pub, sub };
    if (connected_attempt(&a))
    {
        Py_RETURN_TRUE;
    }
    handle_op_begin(&child->h);
    int w = wait_released_or_raise(connected_attempt, &a, &child->h, deadline_after(wait_ns));
    handle_op_end(&child->h);
    return w < 0 ? NULL : PyBool_FromLong(WAIT_DONE == w);
}
