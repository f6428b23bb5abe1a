/* shoal.RecordingDescriptor: one recording as an archive's catalog describes it. */
#ifndef SHOAL_PY_RECORDING_DESCRIPTOR_H
#define SHOAL_PY_RECORDING_DESCRIPTOR_H

#include "common.h"

#include "shoal/shoal_archive.h"

extern PyTypeObject RecordingDescriptorType;

/* Once, at module init. -1 with an exception. */
int recording_descriptor_init(void);

/* A new RecordingDescriptor holding a copy of *d (strings included); NULL with an exception. */
PyObject *recording_descriptor_new(const shoal_recording_descriptor_t *d);

/* recordings(from_id=0, count=None) of ArchiveReader and Archive: the
 * arguments, checked (>= 0). -1 with an exception. */
int recording_list_args(PyObject *args, PyObject *kwds, long long *from_id, int *count);

/* The list handler of shoal_archive_reader_list / shoal_archive_list_recordings:
 * clientd is a recording_list_t; appends a descriptor, stops adding at the
 * first Python failure (then .failed). */
typedef struct
{
    PyObject *list;
    int failed;
} recording_list_t;

/* A recording_list_t with an empty list; -1 with an exception. */
int recording_list_init(recording_list_t *l);

void recording_list_add(void *clientd, const shoal_recording_descriptor_t *d);

/* The same for a list call made with the GIL released on this thread (the
 * archive client's, which waits for the server): takes the GIL for each
 * descriptor, so a failure is this thread's exception once the call returns. */
void recording_list_add_without_gil(void *clientd, const shoal_recording_descriptor_t *d);

/* A recording_list_t's result once the C call returned rc: the list, or NULL
 * with an exception (the Python failure, else the C error of rc < 0). */
PyObject *recording_list_result(recording_list_t *l, int rc, const char *what);

#endif
