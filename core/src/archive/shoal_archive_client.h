/* What other parts of the archive need of a shoal_archive_t (the struct stays
 * in shoal_archive_client.c). */
#ifndef SHOAL_ARCHIVE_CLIENT_H
#define SHOAL_ARCHIVE_CLIENT_H

#include "shoal/shoal_archive.h"

/* The client the archive handle was connected with (NULL for NULL). */
shoal_client_t *shoal_archive_client_of(const shoal_archive_t *a);

#endif
