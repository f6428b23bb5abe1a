/*
 * shoal.Subscription. A poll -- poll, controlled_poll, poll_batch,
 * recv_into, poll_records, poll_into -- runs between poll_begin and poll_end:
 * one at a time per subscription, holding it open, after releasing the views
 * of the last poll_batch.
 */
#ifndef SHOAL_PY_SUBSCRIPTION_H
#define SHOAL_PY_SUBSCRIPTION_H

#include "client.h"
#include "image.h"
#include "views.h"

typedef struct
{
    ChildObject child;
    shoal_fragment_t *frags; /* poll_batch's array, grown to the largest max asked */
    size_t frags_capacity;
    PyObject *batch_views;      /* list of memoryviews handed out by the last poll_batch */
    HeaderObject *spare_header; /* poll()'s header, reused when the handler kept none */
    image_handlers_t *handlers; /* image handlers, or NULL; freed after the C close */
    int polling;
} SubscriptionObject;

extern HandleType SubscriptionType;

static inline shoal_subscription_t *subscription_c(SubscriptionObject *self)
{
    return self->child.h.c_handle;
}

/* A new, not yet attached subscription (for Client.add_subscription); NULL with an exception. */
ChildObject *subscription_alloc(void);

/* The subscription owns handlers from now on (NULL: none). */
void subscription_take_handlers(ChildObject *child, image_handlers_t *handlers);

/* Checks a poll may start and marks it running; -1 with an exception. */
int poll_begin(SubscriptionObject *self);
void poll_end(SubscriptionObject *self);

/* A batch size argument: None -> def, else 1..MAX_BATCH; -1 with an exception. */
int parse_max(PyObject *obj, size_t def, size_t *out, const char *what);

/* Fills self->frags with up to max fragments by shoal_subscription_poll_batch,
 * waiting up to wait_ns for the first (poll already begun). Returns n >= 0, or
 * -1 with an exception. */
int subscription_fill(SubscriptionObject *self, size_t max, int64_t wait_ns);

/* Subscription.receive / messages (aio.c): coroutines of shoal.aio. */
PyObject *Subscription_receive(SubscriptionObject *self, PyObject *args, PyObject *kwds);
PyObject *Subscription_messages(SubscriptionObject *self, PyObject *args, PyObject *kwds);

/* Subscription.poll_records / poll_into (records.c). */
PyObject *Subscription_poll_records(SubscriptionObject *self, PyObject *args, PyObject *kwds);
PyObject *Subscription_poll_into(SubscriptionObject *self, PyObject *args, PyObject *kwds);

#endif
