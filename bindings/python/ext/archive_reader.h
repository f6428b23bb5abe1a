/* shoal.ArchiveReader (shoal.archive.open): an archive directory read offline, with no driver. */
#ifndef SHOAL_PY_ARCHIVE_READER_H
#define SHOAL_PY_ARCHIVE_READER_H

#include "handle.h"

#include "shoal/shoal_archive.h"

/* h.c_handle: the shoal_archive_reader_t; h.busy counts its open cursors
 * (the C reader refuses to close under them). */
typedef struct
{
    HandleObject h;
    PyObject *dir;  /* bytes (the file system encoding of the path given) */
    PyObject *maps; /* dict: recording id -> its mapping (read_records of stopped recordings) */
} ArchiveReaderObject;

extern HandleType ArchiveReaderType;

/* Describes recording_id into *out: 0, or -1 with ClosedError (the reader is
 * closed), UnknownRecordingError or the C error. */
int archive_reader_describe(ArchiveReaderObject *self, long long recording_id, shoal_recording_descriptor_t *out);

#endif
