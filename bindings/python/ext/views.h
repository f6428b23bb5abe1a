/*
 * Views into the log and message headers.
 *
 *   The memoryview given to a poll handler points into the log; it is
 *   released (made unusable) when the handler returns, if the handler kept a
 *   reference. poll_batch views stay valid until the next poll on the same
 *   subscription or its close, when the ones still referenced are released.
 *   Every view is made from a LogExporter that holds a reference on the log's
 *   mapping (shoal_subscription_retain_mapping): slices and numpy arrays made
 *   from a view (which make release() fail, or survive it) keep the log
 *   mapped, so they never read unmapped memory; the last one dropped unmaps.
 *   Their bytes may be overwritten once the subscriber has moved a term on:
 *   poll_batch(copy=True) and recv_into() copy instead. A reassembled
 *   (fragmented) message is copied: its buffer is reused by the next one.
 */
#ifndef SHOAL_PY_VIEWS_H
#define SHOAL_PY_VIEWS_H

#include "common.h"

/* shoal.Header: a copy of a delivered message's header. */
typedef struct
{
    PyObject_HEAD shoal_header_t h;
} HeaderObject;

extern PyTypeObject HeaderType;
extern PyTypeObject LogExporterType;

typedef struct LogExporterObject LogExporterObject;

/* Once, at module init. */
int views_init(void);

/* A new Header holding a copy of *h; NULL with an exception. */
HeaderObject *header_new(const shoal_header_t *h);

/* A read-only memoryview of data[0..len) from a poll of sub. *exporter is
 * the caller's cache (one exporter serves every view into the same log);
 * the caller drops it with Py_XDECREF when the poll is over. */
PyObject *log_view(shoal_subscription_t *sub, LogExporterObject **exporter, const uint8_t *data, size_t len);

/* Releases a memoryview the caller no longer vouches for; a view something
 * else still exports (e.g. a numpy array made from it) cannot be released
 * and is left alone (documented). */
void release_view(PyObject *view);

#endif
