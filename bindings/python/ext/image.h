/*
 * shoal.Image and image handlers: on_available(image) / on_unavailable(image)
 * of Client.add_subscription, called from the C client through trampolines.
 */
#ifndef SHOAL_PY_IMAGE_H
#define SHOAL_PY_IMAGE_H

#include "common.h"

extern PyTypeObject ImageType;

/* Handlers of one subscription: the clientd of the C trampolines. Owned by
 * the Subscription (or by Client.add_subscription until it made one) and
 * freed after shoal_subscription_close returned, when the C client calls it
 * no more. */
typedef struct image_handlers image_handlers_t;

/* NULL with an exception, or handlers (either callable may be None). */
image_handlers_t *image_handlers_new(PyObject *on_available, PyObject *on_unavailable);

/* With the GIL, once the C client no longer calls the handlers. NULL: nothing. */
void image_handlers_free(image_handlers_t *h);

/* The shoal_image_handler_t trampolines, clientd = image_handlers_t. They run on
 * the client's conductor thread, or on the thread closing the subscription or
 * client (which released the GIL around the C close), and take the GIL. */
void image_available_trampoline(void *clientd, shoal_subscription_t *sub, shoal_image_t *image);
void image_unavailable_trampoline(void *clientd, shoal_subscription_t *sub, shoal_image_t *image);

/* -1 with InvalidStateError when called from inside an image handler: what
 * (add_*, close) would wait for the client conductor that runs the handler. */
int check_not_in_image_handler(const char *what);

#endif
