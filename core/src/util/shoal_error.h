/*
 * Thread-local last error, read by shoal_errcode()/shoal_errmsg(). Internal
 * code sets it where the failure is first understood, so the message names
 * the argument, key or file at fault; callers up the stack just return -1.
 */
#ifndef SHOAL_ERROR_H
#define SHOAL_ERROR_H

#include "shoal/shoal.h"

#define SHOAL_ERRMSG_MAX 512

#if defined(__GNUC__)
#define SHOAL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SHOAL_PRINTF(f, a)
#endif

/* Sets the thread's last error; always returns -1 so callers can `return shoal_set_err(...)`. */
int shoal_set_err(int code, const char *fmt, ...) SHOAL_PRINTF(2, 3);
/* Same, appending strerror(errnum). */
int shoal_set_err_errno(int code, int errnum, const char *fmt, ...) SHOAL_PRINTF(3, 4);
void shoal_err_clear(void);

#endif
