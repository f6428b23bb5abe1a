/* The soak's clients: one context shape for every role, and the error
 * handler that tells an expected driver loss from a real failure. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "soak.h"

int soak_driver_gone_code(int code)
{
    return SHOAL_ENODRIVER == code || SHOAL_ETIMEDOUT == code || SHOAL_ECLOSED == code || SHOAL_EIO == code;
}

static void on_client_error(void *clientd, int errcode, const char *message)
{
    error_record_t *r = clientd;
    if (SHOAL_ETIMEDOUT == errcode && NULL != strstr(message, "is not responding"))
    {
        atomic_fetch_add(&r->driver_losses, 1);
        pthread_mutex_lock(&r->lock);
        if ('\0' == r->first[0])
        {
            snprintf(r->first, sizeof(r->first), "%s", message);
        }
        pthread_mutex_unlock(&r->lock);
    }
    else
    {
        /* e.g. an image whose log the driver already removed (its
         * publisher came and went under churn): reported, not fatal */
        atomic_fetch_add(NULL != strstr(message, "timed this client out") ? &r->timed_out : &r->other, 1);
        pthread_mutex_lock(&r->lock);
        if ('\0' == r->first_other[0])
        {
            snprintf(r->first_other, sizeof(r->first_other), "error %d: %s", errcode, message);
        }
        pthread_mutex_unlock(&r->lock);
    }
}

shoal_context_t *soak_client_context(const char *dir, error_record_t *errors)
{
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_context_set(ctx, "DRIVER_TIMEOUT_MS", DRIVER_TIMEOUT_MS) < 0 ||
        shoal_context_set_error_handler(ctx, on_client_error, errors) < 0)
    {
        shoal_context_close(ctx);
        return NULL;
    }
    return ctx;
}
