#include "util/shoal_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread int tls_errcode = SHOAL_OK;
static __thread char tls_errmsg[SHOAL_ERRMSG_MAX];

int shoal_set_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_errmsg, sizeof(tls_errmsg), fmt, ap);
    va_end(ap);
    tls_errcode = code;
    return -1;
}

int shoal_set_err_errno(int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tls_errmsg, sizeof(tls_errmsg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(tls_errmsg))
    {
        snprintf(tls_errmsg + n, sizeof(tls_errmsg) - (size_t)n, ": %s", strerror(errnum));
    }
    tls_errcode = code;
    return -1;
}

void shoal_err_clear(void)
{
    tls_errcode = SHOAL_OK;
    tls_errmsg[0] = '\0';
}

int shoal_errcode(void)
{
    return tls_errcode;
}

const char *shoal_errmsg(void)
{
    return tls_errmsg;
}
