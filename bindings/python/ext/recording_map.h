/*
 * A recording's segment files mapped read-only back to back in one address
 * range, so its frames read as one array: what read_records returns views of.
 */
#ifndef SHOAL_PY_RECORDING_MAP_H
#define SHOAL_PY_RECORDING_MAP_H

#include "common.h"

#include "shoal/shoal_archive.h"

extern PyTypeObject RecordingMapType;

/* ArchiveReader.read_records: the messages of recording d (in archive_dir)
 * as records of dtype, [start:stop) in message order (Python slice indices,
 * negative ones from the end; stop None: to the end). A read-only view into
 * the mapped segments when every frame of the recording up to stop is one
 * unfragmented message of dtype.itemsize and there is no padding, else a new
 * array (one copy). NULL with an exception: InvalidArgument for a message of
 * another length, ShoalIOError for a missing or corrupt segment. cache (a
 * dict, or NULL): the caller's mappings of stopped recordings, reused. */
PyObject *recording_read_records(const char *archive_dir, const shoal_recording_descriptor_t *d, PyObject *dtype,
    PyObject *start, PyObject *stop, PyObject *cache);

#endif
