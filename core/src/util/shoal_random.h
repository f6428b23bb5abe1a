/*
 * Unpredictable numbers for identifiers a peer on the network must not be
 * able to guess: session ids, initial term ids, receiver ids. A predictable
 * session id lets anyone who saw one stream forge frames for the next.
 *
 * Source: getrandom(2) (non-blocking). If the kernel refuses (no entropy
 * yet at early boot, seccomp, ENOSYS), /dev/urandom, and only if that also
 * fails a mix of the clocks and the pid. Any fallback is reported: the call
 * returns -1 with shoal_errmsg() saying which source was used, and the
 * buffer is filled all the same, so a caller can log and carry on.
 *
 * Not for the data path: each call is a syscall. Thread-safe.
 */
#ifndef SHOAL_RANDOM_H
#define SHOAL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf; 0 from getrandom, -1 (buf still filled) from a fallback. */
int shoal_random_fill(void *buf, size_t length);

/* A random int32; *fallback (if not NULL) set when it did not come from getrandom. */
int32_t shoal_random_int32(int *fallback);

#endif
