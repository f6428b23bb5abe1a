/*
 * shoal.Client and its children (publications and subscriptions): the parent
 * link both kinds of child share. A client closes its children when it
 * closes; its C close waits until the last one is released.
 */
#ifndef SHOAL_PY_CLIENT_H
#define SHOAL_PY_CLIENT_H

#include "context.h"

typedef struct ChildObject ChildObject;

/* h.c_handle: the shoal_client_t; h.busy: add_* calls in flight and live children. */
typedef struct
{
    HandleObject h;
    ContextObject *ctx;    /* strong; the client is one of its users */
    ChildObject *children; /* live (not yet C-closed) publications and subscriptions */
    int started;
} ClientObject;

/* The first member of PublicationObject and SubscriptionObject.
 * h.c_handle: the shoal_publication_t / shoal_subscription_t. */
struct ChildObject
{
    HandleObject h;
    ChildObject *prev; /* in owner->children while not C-closed */
    ChildObject *next;
    ClientObject *owner; /* strong */
    PyObject *channel;   /* str */
    int32_t stream_id;
};

extern HandleType ClientType;

/* Links a child to its client once the C add succeeded; it holds the client. */
void child_attach(ChildObject *child, ClientObject *owner, PyObject *channel, int32_t stream_id, void *c_handle);

/* Unlinks a child after its C close (from its type's release). */
void child_detach(ChildObject *child);

/* The C close now, then the references: the start of a child's tp_dealloc. */
void child_dealloc(ChildObject *child);

/* check_close of publications and subscriptions: their C close waits for the client conductor. */
int child_check_close(HandleObject *h);

/* wait_connected(timeout=None) of either kind (one of pub and sub is NULL). */
PyObject *child_wait_connected(ChildObject *child, shoal_publication_t *pub, shoal_subscription_t *sub, PyObject *args,
    PyObject *kwds);

/* The members of publications and subscriptions: stream_id, channel, client (read-only). */
extern PyMemberDef child_members[];

#endif
