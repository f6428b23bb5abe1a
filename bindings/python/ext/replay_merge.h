/* shoal.ReplayMerge: Archive.replay_merge(), a recording replayed then merged into the live stream. */
#ifndef SHOAL_PY_REPLAY_MERGE_H
#define SHOAL_PY_REPLAY_MERGE_H

#include "handle.h"

extern HandleType ReplayMergeType;

/* Archive.replay_merge(...): a new ReplayMerge on archive; NULL with an exception. */
PyObject *replay_merge_new(PyObject *archive, PyObject *args, PyObject *kwds);

#endif
