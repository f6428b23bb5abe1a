/* shoal.ArchiveServer: an archive server embedded in this process (its own thread). */
#ifndef SHOAL_PY_ARCHIVE_SERVER_H
#define SHOAL_PY_ARCHIVE_SERVER_H

#include "handle.h"

extern HandleType ArchiveServerType;

#endif
