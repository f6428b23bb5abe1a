/* The --publish role: a publisher process with a fresh client, exclusive or
 * concurrent, writing a random count of messages of random sizes in the
 * soak's format; it exits 3 once its client reports the driver gone. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

static size_t random_length(uint64_t *rng, size_t max)
{
    uint64_t r = soak_rng_next(rng) % 100;
    size_t hi = r < 70 ? 256 : (r < 95 ? 4096 : max);
    hi = hi > max ? max : hi;
    return HEADER_LEN + (size_t)(soak_rng_next(rng) % (hi - HEADER_LEN + 1));
}

int soak_publish_main(const char *dir, const char *channel, uint32_t tag, uint64_t seed, long count, int exclusive)
{
    static error_record_t errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
    shoal_context_t *ctx = soak_client_context(dir, &errors);
    shoal_client_t *client = NULL;
    shoal_publication_t *pub = NULL;
    if (NULL == ctx || shoal_client_connect(&client, ctx) < 0 ||
        (exclusive ? shoal_add_exclusive_publication(client, channel, STREAM, &pub)
                   : shoal_add_publication(client, channel, STREAM, &pub)) < 0)
    {
        int code = shoal_errcode();
        fprintf(stderr, "soak publisher %u: connect: %s (error %d)\n", tag, shoal_errmsg(), code);
        if (NULL != client)
        {
            shoal_client_close(client);
        }
        shoal_context_close(ctx);
        return soak_driver_gone_code(code) ? EXIT_DRIVER_LOST : 1;
    }
    size_t max = shoal_publication_max_message_length(pub);
    uint8_t *buf = malloc(max);
    uint64_t rng = seed | 1;
    int status = 0;
    for (long seq = 0; seq < count && 0 == status; seq++)
    {
        size_t len = random_length(&rng, max);
        soak_msg_header_t h = { tag, (uint32_t)len, (uint64_t)seq };
        memcpy(buf, &h, sizeof(h));
        for (size_t i = HEADER_LEN; i < len; i++)
        {
            buf[i] = soak_pattern_byte(tag, (uint64_t)seq, i);
        }
        time_t retry_since = 0;
        for (;;)
        {
            int64_t r = shoal_publication_offer(pub, buf, len);
            if (r > 0)
            {
                break;
            }
            if (SHOAL_CLOSED == r || SHOAL_ERROR == r || SHOAL_MAX_POSITION_EXCEEDED == r ||
                shoal_client_is_closed(client))
            {
                /* a client that closed never gets connected or unblocked
                 * again: report it, do not spin. Its driver gone is
                 * expected after a driver kill (the soak decides). The
                 * conductor marks the client closed before it tells the
                 * error handler why: give the handler a moment. */
                /* (an offer that raced the close returns what it saw before it,
                 * e.g. BACK_PRESSURED: the client being closed is what counts) */
                bool closed = SHOAL_CLOSED == r || shoal_client_is_closed(client);
                for (int i = 0; i < 500 && closed && 0 == atomic_load(&errors.driver_losses); i++)
                {
                    soak_sleep_ms(10);
                }
                int lost = closed && atomic_load(&errors.driver_losses) > 0;
                /* under the lock: the conductor's handler may still be writing them */
                pthread_mutex_lock(&errors.lock);
                fprintf(stderr, "soak publisher %u: offer of message %ld: %" PRId64 " %s%s\n", tag, seq, r,
                    lost || errors.first_other[0] ? "error handler: " : "",
                    lost ? errors.first : (errors.first_other[0] ? errors.first_other : shoal_errmsg()));
                pthread_mutex_unlock(&errors.lock);
                status = lost ? EXIT_DRIVER_LOST : 1;
                break;
            }
            /* not connected yet, back pressured, admin action: retry; say so
             * once if it lasts, so a hung publisher explains itself */
            time_t now = time(NULL);
            if (0 == retry_since)
            {
                retry_since = now;
            }
            else if (now - retry_since >= 10 && retry_since > 0)
            {
                fprintf(stderr,
                    "soak publisher %u: offer of message %ld still refused after 10 s: %" PRId64 " (connected %d)\n",
                    tag, seq, r, (int)shoal_publication_is_connected(pub));
                retry_since = -1;
            }
            sched_yield();
        }
    }
    free(buf);
    shoal_publication_close(pub);
    shoal_client_close(client);
    shoal_context_close(ctx);
    return status;
}

int soak_spawn_publisher(const char *self, const char *dir, const char *channel, child_t *c, uint64_t *rng)
{
    char tag[16], seed[32], count[32];
    snprintf(tag, sizeof(tag), "%u", c->tag);
    snprintf(seed, sizeof(seed), "%" PRIu64, soak_rng_next(rng));
    snprintf(count, sizeof(count), "%ld", c->count);
    char *argv[] = { (char *)self, "--publish", (char *)dir, (char *)channel, tag, seed, count,
        (char *)(soak_rng_next(rng) % 2 ? "exclusive" : "concurrent"), NULL };
    return soak_spawn(&c->pid, argv);
}
