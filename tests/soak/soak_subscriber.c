/* The soak's subscribers: the checks every received message goes through
 * (intact, consecutive per publisher, one session per publisher) and the
 * subscriber threads of the soak process, which reconnect when their driver
 * dies and (B) restart their client and stall at random. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

void soak_subscriber_on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    subscriber_t *s = clientd;
    if (s->error[0])
    {
        return;
    }
    soak_msg_header_t h;
    if (len < HEADER_LEN)
    {
        snprintf(s->error, sizeof(s->error), "%s: %zu-byte message (min %d)", s->name, len, HEADER_LEN);
        return;
    }
    memcpy(&h, buf, sizeof(h));
    if (h.tag == 0 || h.tag >= MAX_TAGS || h.length != len)
    {
        snprintf(s->error, sizeof(s->error), "%s: bad header tag %u length %u (received %zu)", s->name, h.tag, h.length,
            len);
        return;
    }
    for (size_t i = HEADER_LEN; i < len; i++)
    {
        if (buf[i] != soak_pattern_byte(h.tag, h.seq, i))
        {
            snprintf(s->error, sizeof(s->error), "%s: publisher %u seq %" PRIu64 ": byte %zu of %zu corrupt", s->name,
                h.tag, h.seq, i, len);
            return;
        }
    }
    if (!s->seen[h.tag])
    {
        /* a reference subscriber was there before the publisher: its stream
         * starts at 0; one that (re)joined takes it from where it is */
        s->seen[h.tag] = 1;
        s->session[h.tag] = hdr->session_id;
        if (s->restarts_enabled)
        {
            s->next_seq[h.tag] = h.seq;
        }
    }
    else if (s->session[h.tag] != hdr->session_id)
    {
        snprintf(s->error, sizeof(s->error), "%s: publisher %u seq %" PRIu64 " in session %d, first seen in session %d",
            s->name, h.tag, h.seq, hdr->session_id, s->session[h.tag]);
        return;
    }
    if (h.seq < s->next_seq[h.tag])
    {
        s->duplicated++;
        if ('\0' == s->error[0] && 1 == s->duplicated)
        {
            fprintf(stderr, "soak: %s: publisher %u: seq %" PRIu64 " again (next expected %" PRIu64 ")\n", s->name,
                h.tag, h.seq, s->next_seq[h.tag]);
        }
        return;
    }
    if (h.seq > s->next_seq[h.tag])
    {
        if (0 == s->lost)
        {
            fprintf(stderr, "soak: %s: publisher %u: seq %" PRIu64 " after %" PRIu64 " (%" PRIu64 " skipped)\n",
                s->name, h.tag, h.seq, s->next_seq[h.tag], h.seq - s->next_seq[h.tag]);
        }
        s->lost += h.seq - s->next_seq[h.tag];
    }
    s->next_seq[h.tag] = h.seq + 1;
    s->messages++;
    s->bytes += len;
}

void soak_subscriber_init(subscriber_t *s, const char *name, const char *channel, shoal_context_t *ctx,
    int restarts_enabled, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->channel = channel;
    s->ctx = ctx;
    s->restarts_enabled = restarts_enabled;
    s->rng = seed | 1;
    atomic_store(&s->subscribed_gen, -1);
    s->next_seq = calloc(MAX_TAGS, sizeof(uint64_t));
    s->session = calloc(MAX_TAGS, sizeof(int32_t));
    s->seen = calloc(MAX_TAGS, 1);
}

void soak_subscriber_free(subscriber_t *s)
{
    free(s->next_seq);
    free(s->session);
    free(s->seen);
}

/* Connects and subscribes, retrying while a driver restarts (bounded).
 * Returns the driver generation it is subscribed on, or -1 (error set). */
static int subscriber_connect(subscriber_t *s, shoal_client_t **client, shoal_subscription_t **sub)
{
    double deadline = soak_now_s() + RECONNECT_DEADLINE_S;
    while (!atomic_load(&s->stop))
    {
        int gen = atomic_load(&soak_driver_gen);
        *client = NULL;
        *sub = NULL;
        if (shoal_client_connect(client, s->ctx) < 0 || shoal_add_subscription(*client, s->channel, STREAM, sub) < 0)
        {
            int code = shoal_errcode();
            char message[200];
            snprintf(message, sizeof(message), "%s", shoal_errmsg());
            if (NULL != *client)
            {
                shoal_client_close(*client);
            }
            if (!soak_driver_gone_code(code) || soak_now_s() > deadline)
            {
                snprintf(s->error, sizeof(s->error), "%s: connect: %s (error %d)", s->name, message, code);
                return -1;
            }
            soak_sleep_ms(20);
            continue;
        }
        if (gen == atomic_load(&soak_driver_gen))
        {
            return gen;
        }
        /* raced with a driver kill: which driver this is is unclear */
        shoal_subscription_close(*sub);
        shoal_client_close(*client);
    }
    return -1;
}

void *soak_subscriber_run(void *arg)
{
    subscriber_t *s = arg;
    while (!atomic_load(&s->stop) && !s->error[0])
    {
        shoal_client_t *client = NULL;
        shoal_subscription_t *sub = NULL;
        int gen = subscriber_connect(s, &client, &sub);
        if (gen < 0)
        {
            break;
        }
        memset(s->seen, 0, MAX_TAGS); /* a new subscription joins wherever the streams are */
        atomic_store(&s->subscribed_gen, gen);
        int driver_lost = 0;
        double until =
            s->restarts_enabled ? soak_now_s() + 0.2 + (double)(soak_rng_next(&s->rng) % 1800) / 1000.0 : 1e300;
        while (!atomic_load(&s->stop) && !s->error[0] && soak_now_s() < until)
        {
            int n = shoal_subscription_poll(sub, soak_subscriber_on_message, s, 64);
            if (n < 0)
            {
                if (SHOAL_ECLOSED == shoal_errcode() && gen < atomic_load(&soak_driver_gen))
                {
                    driver_lost = 1;
                    if ('\0' == s->driver_lost_error[0])
                    {
                        snprintf(s->driver_lost_error, sizeof(s->driver_lost_error), "%s", shoal_errmsg());
                    }
                }
                else
                {
                    snprintf(s->error, sizeof(s->error), "%s: poll: %s (error %d)", s->name, shoal_errmsg(),
                        shoal_errcode());
                }
                break;
            }
            if (s->restarts_enabled && 0 == soak_rng_next(&s->rng) % 20000)
            {
                s->stalls++;
                soak_sleep_ms(
                    5 + (long)(soak_rng_next(&s->rng) % 45)); /* a slow consumer: publishers feel back pressure */
            }
            if (0 == n)
            {
                sched_yield();
            }
        }
        if (atomic_load(&s->stop) && !s->restarts_enabled && !s->error[0])
        {
            /* drain what finished publishers left in the log before closing */
            for (int idle = 0; idle < 200; idle++)
            {
                if (shoal_subscription_poll(sub, soak_subscriber_on_message, s, 1024) > 0)
                {
                    idle = 0;
                }
                soak_sleep_ms(1);
            }
        }
        atomic_store(&s->subscribed_gen, -1);
        shoal_subscription_close(sub);
        shoal_client_close(client);
        if (driver_lost)
        {
            s->driver_losses++;
        }
        else if (!atomic_load(&s->stop))
        {
            s->restarts++;
        }
    }
    return NULL;
}
