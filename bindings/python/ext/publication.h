/*
 * shoal.Publication: offer / offer_nowait / offerv from any buffer, and the
 * slow path (exclusive writer lock, waiting with the GIL released) that
 * try_claim shares.
 */
#ifndef SHOAL_PY_PUBLICATION_H
#define SHOAL_PY_PUBLICATION_H

#include "client.h"

typedef struct
{
    ChildObject child;
    PyThread_type_lock wlock; /* exclusive publications: serialises GIL-released offers */
    int exclusive;
    int writer_busy; /* threads holding or waiting for wlock */
} PublicationObject;

extern HandleType PublicationType;

static inline shoal_publication_t *publication_c(PublicationObject *self)
{
    return self->child.h.c_handle;
}

static inline int publication_open(PublicationObject *self)
{
    return handle_is_open(&self->child.h);
}

/* Worth retrying until a deadline: flow control, not a failure. */
static inline int retryable(int64_t rc)
{
    return SHOAL_BACK_PRESSURED == rc || SHOAL_NOT_CONNECTED == rc || SHOAL_ADMIN_ACTION == rc;
}

/* One try_claim, retried at once over a term rotation (ADMIN_ACTION). */
static inline int64_t claim_once(shoal_publication_t *pub, size_t length, shoal_claim_t *claim)
{
    int64_t rc;
    int admin = 0;
    do
    {
        rc = shoal_publication_try_claim(pub, length, claim);
    }
    while (SHOAL_ADMIN_ACTION == rc && ++admin < 3);
    return rc;
}

/* A new, not yet attached publication (for Client.add_publication); NULL with an exception. */
ChildObject *publication_alloc(int exclusive);

/* publication_offer_slow's result when a Python exception is set (a signal). */
#define RESULT_PYERR (SHOAL_ERROR - 100)

/* The offer everybody goes through once the fast path does not apply: takes
 * the exclusive writer lock if needed, tries once (try_claim when claim is not
 * NULL), then (wait_ns > 0) retries with the GIL released until the deadline.
 * Returns the C result, or RESULT_PYERR. */
int64_t publication_offer_slow(PublicationObject *self, const shoal_iovec_t *iov, size_t iovcnt, shoal_claim_t *claim,
    size_t claim_length, int64_t wait_ns);

/* The exception for a negative flow-control result, saying how long it waited. */
PyObject *raise_flow_result(int64_t rc, int64_t wait_ns);

/* Publication.try_claim (claim.c). */
PyObject *Publication_try_claim(PublicationObject *self, PyObject *args, PyObject *kwds);

#endif
