/* shoal.Archive: a client of an archive server (shoal_archive_t), a child of its Client. */
#ifndef SHOAL_PY_ARCHIVE_CLIENT_H
#define SHOAL_PY_ARCHIVE_CLIENT_H

#include "client.h"

#include "shoal/shoal_archive.h"

extern HandleType ArchiveType;

#endif
