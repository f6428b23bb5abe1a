/* Shared helpers for tests that run a real embedded driver. */
#ifndef SHOAL_TEST_SUPPORT_H
#define SHOAL_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shoal/shoal.h"

typedef struct
{
    char dir[128];
    shoal_context_t *ctx;
    shoal_driver_t *driver;
    shoal_client_t *client;
} shoal_test_env_t;

static inline void shoal_test_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static inline int64_t shoal_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Applies a NULL-terminated list of "KEY", "VALUE" pairs (list may be NULL). */
static inline int shoal_test_apply_settings(shoal_context_t *ctx, const char *const *settings)
{
    for (int i = 0; NULL != settings && NULL != settings[i]; i += 2)
    {
        if (shoal_context_set(ctx, settings[i], settings[i + 1]) < 0)
        {
            fprintf(stderr, "env %s=%s: %s\n", settings[i], settings[i + 1], shoal_errmsg());
            return -1;
        }
    }
    return 0;
}

/* A test's driver directory: /dev/shm/shoal-test-<pid>-<name>. */
static inline void shoal_test_dir_name(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/dev/shm/shoal-test-%ld-%s", (long)getpid(), name);
}

/* A context on dir with settings (a "KEY", "VALUE" list or NULL); NULL on
 * error (said on stderr). */
static inline shoal_context_t *shoal_test_context(const char *dir, const char *const *settings)
{
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0)
    {
        fprintf(stderr, "context: %s\n", shoal_errmsg());
        shoal_context_close(ctx);
        return NULL;
    }
    if (shoal_test_apply_settings(ctx, settings) < 0)
    {
        shoal_context_close(ctx);
        return NULL;
    }
    return ctx;
}

/* Starts a driver on /dev/shm/shoal-test-<pid>-<name> and connects a
 * client: the settings in defaults, then those in settings (both
 * NULL-terminated "KEY", "VALUE" lists, or NULL). */
static inline int shoal_test_env_start_settings(shoal_test_env_t *env, const char *name, const char *const *defaults,
    const char *const *settings)
{
    memset(env, 0, sizeof(*env));
    shoal_test_dir_name(env->dir, sizeof(env->dir), name);
    env->ctx = shoal_test_context(env->dir, defaults);
    if (NULL == env->ctx || shoal_test_apply_settings(env->ctx, settings) < 0)
    {
        return -1;
    }
    if (shoal_driver_start(&env->driver, env->ctx) < 0 || shoal_client_connect(&env->client, env->ctx) < 0)
    {
        fprintf(stderr, "env: %s\n", shoal_errmsg());
        return -1;
    }
    return 0;
}

/* Timeouts are short so fault tests finish quickly; terms small to exercise
 * rotation. */
static const char *const SHOAL_TEST_ENV_DEFAULTS[] = { "DIR_DELETE_ON_SHUTDOWN", "1", "PUBLICATION_LINGER_MS", "200",
    "IPC_TERM_LENGTH", "64k", NULL };

/* Starts a driver on a fresh directory and connects a client. */
static inline int shoal_test_env_start(shoal_test_env_t *env, const char *name)
{
    return shoal_test_env_start_settings(env, name, SHOAL_TEST_ENV_DEFAULTS, NULL);
}

static inline void shoal_test_env_stop(shoal_test_env_t *env)
{
    if (env->client)
    {
        shoal_client_close(env->client);
    }
    if (env->driver)
    {
        shoal_driver_close(env->driver);
    }
    if (env->ctx)
    {
        shoal_context_close(env->ctx);
    }
}

/* As shoal_test_env_setup, for a fixture of size bytes that starts with its
 * env (the rest zeroed), so a fixture built on the env shares this setup;
 * the settings go over defaults (both "KEY", "VALUE" lists or NULL). */
static inline int shoal_test_env_setup_sized(void **state, size_t size, const char *prefix, const char *const *defaults,
    const char *const *settings)
{
    static int n = 0;
    char name[64];
    snprintf(name, sizeof(name), "%s%d", prefix, n++);
    shoal_test_env_t *env = calloc(1, size);
    if (NULL == env || shoal_test_env_start_settings(env, name, defaults, settings) < 0)
    {
        if (NULL != env)
        {
            shoal_test_env_stop(env);
        }
        free(env);
        return -1;
    }
    *state = env;
    return 0;
}

/* A cmocka setup: a fresh env per test in state, named prefix and a count,
 * with settings (a "KEY", "VALUE" list or NULL) over the defaults above. */
static inline int shoal_test_env_setup(void **state, const char *prefix, const char *const *settings)
{
    return shoal_test_env_setup_sized(state, sizeof(shoal_test_env_t), prefix, SHOAL_TEST_ENV_DEFAULTS, settings);
}

static inline int shoal_test_env_teardown(void **state)
{
    shoal_test_env_stop(*state);
    free(*state);
    return 0;
}

/* Waits until pub has a subscriber, up to 5 s. */
static inline int shoal_test_wait_connected(shoal_publication_t *pub)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (!shoal_publication_is_connected(pub))
    {
        if (shoal_test_now_ms() > deadline)
        {
            return -1;
        }
        shoal_test_sleep_ms(1);
    }
    return 0;
}

static inline int64_t shoal_test_offer(shoal_publication_t *pub, const uint8_t *buf, size_t len)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    int64_t r;
    while ((r = shoal_publication_offer(pub, buf, len)) < 0)
    {
        if (SHOAL_ERROR == r || SHOAL_CLOSED == r || shoal_test_now_ms() > deadline)
        {
            return r;
        }
    }
    return r;
}

/* Waits until pub reports no subscriber (or receiver), up to timeout_ms. */
static inline int shoal_test_wait_disconnected(shoal_publication_t *pub, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (shoal_publication_is_connected(pub))
    {
        if (shoal_test_now_ms() > deadline)
        {
            return -1;
        }
        shoal_test_sleep_ms(1);
    }
    return 0;
}

/* Offers 1 KiB messages until one is refused (ADMIN_ACTION is retried) or
 * max_offers were accepted; returns how many were accepted and leaves the
 * refusal in *refusal. */
static inline long shoal_test_offers_accepted(shoal_publication_t *pub, long max_offers, int64_t *refusal)
{
    static const uint8_t msg[1024];
    long accepted = 0;
    int64_t r = 0;
    while (accepted < max_offers)
    {
        r = shoal_publication_offer(pub, msg, sizeof(msg));
        if (r > 0)
        {
            accepted++;
        }
        else if (SHOAL_ADMIN_ACTION != r)
        {
            break;
        }
    }
    *refusal = r;
    return accepted;
}

/* Waits until the subscription sees exactly n images (the client learns of
 * them from the driver's broadcast, after the publication may already be
 * connected); -1 after timeout_ms. */
static inline int shoal_test_wait_images(shoal_subscription_t *sub, int n, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (shoal_subscription_image_count(sub) != n)
    {
        if (shoal_test_now_ms() > deadline)
        {
            return -1;
        }
        shoal_test_sleep_ms(1);
    }
    return 0;
}

/* Adds a subscription (on sub_client), then a publication (on pub_client,
 * exclusive or not) of uri and stream_id, and waits until the publication
 * has a subscriber and, with wait_image, the subscription its image.
 * 0, or -1 with what failed on stderr. */
static inline int shoal_test_connect(shoal_client_t *sub_client, shoal_client_t *pub_client, const char *uri,
    int32_t stream_id, bool exclusive, bool wait_image, shoal_subscription_t **sub, shoal_publication_t **pub)
{
    const char *failed = NULL;
    if (shoal_add_subscription(sub_client, uri, stream_id, sub) < 0)
    {
        failed = "add subscription";
    }
    else if ((exclusive ? shoal_add_exclusive_publication : shoal_add_publication)(pub_client, uri, stream_id, pub) < 0)
    {
        failed = "add publication";
    }
    else if (shoal_test_wait_connected(*pub) < 0)
    {
        return fprintf(stderr, "%s stream %d: no subscriber after 5 s\n", uri, stream_id), -1;
    }
    else if (wait_image && shoal_test_wait_images(*sub, 1, 5000) < 0)
    {
        return fprintf(stderr, "%s stream %d: no image after 5 s\n", uri, stream_id), -1;
    }
    if (NULL != failed)
    {
        return fprintf(stderr, "%s %s stream %d: %s\n", failed, uri, stream_id, shoal_errmsg()), -1;
    }
    return 0;
}

/* A subscription and a publication of one stream (shoal_test_stream in
 * shoal_test_checks.h connects them). */
typedef struct
{
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
} shoal_test_stream_t;

/* Closes the publication, then the subscription: 0 when both closed. */
static inline int shoal_test_stream_close(shoal_test_stream_t *s)
{
    int pub_closed = shoal_publication_close(s->pub);
    int sub_closed = shoal_subscription_close(s->sub);
    return pub_closed < 0 || sub_closed < 0 ? -1 : 0;
}

/* A fragment handler's record of what arrived: the count and bytes, the
 * last message (if it fits) and header, for shoal_test_collect_seq the
 * sequence check of messages that start with a uint64 counter, and for
 * shoal_test_collect_stream the first header too. */
typedef struct
{
    int count;
    size_t total_bytes;
    uint8_t last[1 << 18];
    size_t last_len;
    shoal_header_t first_hdr;
    shoal_header_t last_hdr;
    uint64_t next_seq;
    int errors;
} shoal_test_collector_t;

static inline void shoal_test_collect(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    shoal_test_collector_t *c = clientd;
    c->count++;
    c->total_bytes += len;
    if (len <= sizeof(c->last))
    {
        memcpy(c->last, buf, len);
    }
    c->last_len = len;
    c->last_hdr = *hdr;
}

/* Counts a message out of sequence (or shorter than 8 bytes) as an error. */
static inline void shoal_test_collect_seq(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    shoal_test_collector_t *c = clientd;
    (void)hdr;
    uint64_t seq = 0;
    memcpy(&seq, buf, len < 8 ? len : 8);
    if (len < 8 || seq != c->next_seq)
    {
        c->errors++;
    }
    c->next_seq = seq + 1;
    c->count++;
}

/* As shoal_test_collect_seq, for the messages of one image: a position that
 * does not move forward is an error too, and the first and last headers are
 * kept. */
static inline void shoal_test_collect_stream(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    shoal_test_collector_t *c = clientd;
    if (0 == c->count)
    {
        c->first_hdr = *hdr;
    }
    else if (hdr->position <= c->last_hdr.position)
    {
        c->errors++;
    }
    c->last_hdr = *hdr;
    shoal_test_collect_seq(clientd, buf, len, hdr);
}

/* Polls until c->count reaches expected or timeout_ms passes; the count, or
 * -1 when a poll fails. */
static inline int shoal_test_poll_until(shoal_subscription_t *sub, shoal_fragment_handler_t h,
    shoal_test_collector_t *c, int expected, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (c->count < expected && shoal_test_now_ms() < deadline)
    {
        if (shoal_subscription_poll(sub, h, c, 100) < 0)
        {
            return -1;
        }
    }
    return c->count;
}

#endif
