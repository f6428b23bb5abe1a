/* Shared by the fuzz targets: where their scratch files go. scripts/fuzz.sh
 * sets SHOAL_FUZZ_TMPDIR to a directory it removes afterwards (a crashing
 * target leaves its files behind); /dev/shm otherwise, as file I/O there is
 * what the real driver sees. */
#ifndef SHOAL_FUZZ_SUPPORT_H
#define SHOAL_FUZZ_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void fuzz_scratch_dir(char *buf, size_t length, const char *name)
{
    const char *base = getenv("SHOAL_FUZZ_TMPDIR");
    snprintf(buf, length, "%s/shoal-fuzz-%s-%ld", NULL != base && '\0' != base[0] ? base : "/dev/shm", name,
        (long)getpid());
}

#endif
