/*
 * The exception classes of shoal._shoal and the one mapping from C result
 * codes to them. Every raise_* returns NULL so callers can `return raise_...`.
 */
#ifndef SHOAL_PY_ERRORS_H
#define SHOAL_PY_ERRORS_H

#include "common.h"

extern PyObject *ShoalError, *OfferError, *NotConnected, *BackPressured, *AdminAction, *MaxPositionExceeded;
extern PyObject *ClosedError, *InvalidArgument, *UriError, *MessageTooLarge, *OutOfMemory, *ShoalIOError;
extern PyObject *ShoalTimeoutError, *DriverError, *ClashError, *NoDriverError, *DriverActiveError;
extern PyObject *InvalidStateError, *UnknownRecordingError;

/* Creates the exception classes and adds them to module m. -1 with an exception. */
int errors_add_to_module(PyObject *m);

/* Raises type(message) with .code = code (and .key for a URI error naming one). */
PyObject *raise_with_code(PyObject *type, long code, const char *message);
/* The same with one more attribute set on the exception (name = value), e.g. .length. */
PyObject *raise_with_attribute(PyObject *type, long code, const char *message, const char *name, PyObject *value);
/* shoal_errcode()/shoal_errmsg() of this thread, prefixed by "what: " when what is not NULL. */
PyObject *raise_last_error(const char *what);
/* ClosedError("<what> is closed"). */
PyObject *raise_closed(const char *what);
/* InvalidArgument(message), SHOAL_EINVAL. */
PyObject *raise_invalid(const char *message);
/* InvalidStateError(message), SHOAL_ESTATE. */
PyObject *raise_state(const char *message);
/* The exception for a negative offer/try_claim/position result; suffix (or NULL) ends the message. */
PyObject *raise_offer_result(int64_t rc, const char *suffix);

#endif
