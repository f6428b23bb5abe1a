/* shoal.RecordingCursor: ArchiveReader.messages(), a recording's messages as an iterator. */
#ifndef SHOAL_PY_RECORDING_CURSOR_H
#define SHOAL_PY_RECORDING_CURSOR_H

#include "archive_reader.h"

extern PyTypeObject RecordingCursorType;

/* A cursor over recording_id of reader from position (-1: start) for length
 * (-1: to the end); timestamps: items are (view, header, recorded_ns). NULL
 * with an exception. */
PyObject *recording_cursor_new(ArchiveReaderObject *reader, long long recording_id, long long position,
    long long length, int timestamps);

#endif
