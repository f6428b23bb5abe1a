/* shoal.Archive: a client of an archive server (shoal_archive_t), a child of its Client. */
#ifndef SHOAL_PY_ARCHIVE_CLIENT_H
#define SHOAL_PY_ARCHIVE_CLIENT_H

#include "client.h"

#include "shoal/shoal_archive.h"

extern HandleType ArchiveType;

/* For what runs on an Archive's control session (ReplayMerge): the
 * shoal_archive_t once the handle is checked open and marked busy (one call
 * at a time), else NULL with an exception; archive_call_end after. */
shoal_archive_t *archive_call_begin(PyObject *archive);
void archive_call_end(PyObject *archive);

/* A ReplayMerge holds its Archive open (its C close waits): archive_hold /
 * archive_unhold. */
void archive_hold(PyObject *archive);
void archive_unhold(PyObject *archive);

#endif
