/*
 * shoal_soak: a bounded soak of shoal under churn and faults over time.
 *
 *   shoal_soak [-t seconds] [-s seed] [-p IPC publishers at a time] [-K]
 *
 * Processes (this program re-executed in a role):
 *  - the driver (--driver), SIGKILLed every 30 to 60 s (the first kill
 *    within the first 60 % of the run, so a 30 s run has one; -K: never)
 *    and restarted at once on the same directory; its loss generator drops
 *    LOSS_RATE of the UDP datagrams it sends and of those it receives;
 *  - publishers (--publish): -p on IPC and one on UDP (unicast over
 *    127.0.0.1) at a time, each with a fresh client, exclusive or concurrent
 *    (concurrent ones share a session, as in Aeron), random message sizes up
 *    to the maximum message length, a random count; one in five SIGKILLed
 *    mid-stream: the driver must time its client out and unblock what it
 *    left half written;
 *  - one subscriber (--subscribe) on IPC or UDP, SIGKILLed after a random
 *    time and respawned: the driver must time its client out and stop
 *    holding publishers back for it. After each join it checks consecutive,
 *    intact messages and exits 1 on the first problem.
 * Threads of the soak process, which is only a client:
 *  - A (IPC) and U (UDP): the reference subscribers, subscribed before any
 *    publisher of a driver starts, reconnecting only when their driver died;
 *  - B (IPC) restarts its client at random and stalls now and then (back
 *    pressure); after each join it must see consecutive, intact messages.
 *
 * Accounting. A stream is one publisher process's messages (the tag in each
 * message names the publisher); a stream lives on one driver, as a
 * publisher never outlives its driver (it exits 3 once its client reports
 * the driver gone). A reference subscriber counts, per stream, messages
 * delivered (intact, in order), duplicated (a seq already delivered again)
 * and lost (a seq skipped; at the end, the missing tail of a stream whose
 * publisher finished on the driver that was never killed). Messages that
 * never arrived because the stream was cut, its publisher SIGKILLed or its
 * driver killed (what was in the driver's logs and UDP buffers goes with
 * it), are counted as cut, not lost. Every stream here is reliable: lost and
 * duplicated must be 0 (for B and the subscriber process too).
 *
 * A client of a killed driver must get a clear error: its error handler
 * SHOAL_ETIMEDOUT "driver in DIR is not responding (...)", then an offer
 * returns SHOAL_CLOSED and a poll -1 with SHOAL_ECLOSED naming that reason.
 * New clients must then work with the new driver. Any other failure of a
 * client, and any publisher or subscriber process ending otherwise than as
 * expected, fails the soak.
 *
 * At the end the soak process must hold the same file descriptors and
 * (within 1 MiB) the same heap as before the churn, and the last driver must
 * shut down cleanly. Exits 0 with a summary, or 1 naming the first problem.
 * No timing is asserted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shoal/shoal.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "util/shoal_counters.h"

#define STREAM               7001
#define IPC_CHANNEL          "aeron:ipc?term-length=128k"
#define LOSS_RATE            "0.02"
#define DRIVER_TIMEOUT_MS    "5000" /* clients: generous on a loaded machine */
#define MAX_TAGS             65536
#define MAX_CHILDREN         8
#define HEADER_LEN           16 /* tag, length, seq */
#define EXIT_DRIVER_LOST     3
#define RECONNECT_DEADLINE_S 60.0

enum
{
    IPC = 0,
    UDP = 1,
    TRANSPORTS = 2
};
static const char *const TRANSPORT_NAMES[TRANSPORTS] = { "ipc", "udp" };

extern char **environ;

typedef struct
{
    uint32_t tag;
    uint32_t length;
    uint64_t seq;
} soak_msg_header_t;

static uint8_t pattern_byte(uint32_t tag, uint64_t seq, size_t i)
{
    return (uint8_t)(tag * 31u + seq * 7u + i);
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: reproducible from the seed printed in the summary */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Whether a failed connect may be the driver restarting under us. */
static int driver_gone_code(int code)
{
    return SHOAL_ENODRIVER == code || SHOAL_ETIMEDOUT == code || SHOAL_ECLOSED == code || SHOAL_EIO == code;
}

/* ------------------------------------------------------------ the driver (child) */

static volatile int driver_stop_flag = 0;

static void on_sigterm(int sig)
{
    (void)sig;
    driver_stop_flag = 1;
}

static int driver_main(const char *dir, const char *loss_seed)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_START", "1") < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0 ||
        shoal_context_set(ctx, "DRIVER_TIMEOUT_MS", DRIVER_TIMEOUT_MS) < 0 ||
        shoal_context_set(ctx, "CLIENT_LIVENESS_TIMEOUT_MS", "1000") < 0 ||
        shoal_context_set(ctx, "PUBLICATION_UNBLOCK_TIMEOUT_MS", "1000") < 0 ||
        shoal_context_set(ctx, "PUBLICATION_LINGER_MS", "100") < 0 ||
        shoal_context_set(ctx, "RCV_LOSS_RATE", LOSS_RATE) < 0 ||
        shoal_context_set(ctx, "SEND_LOSS_RATE", LOSS_RATE) < 0 || shoal_context_set(ctx, "LOSS_SEED", loss_seed) < 0 ||
        shoal_driver_run(ctx, &driver_stop_flag) < 0)
    {
        fprintf(stderr, "soak driver: %s\n", shoal_errmsg());
        shoal_context_close(ctx);
        return 1;
    }
    shoal_context_close(ctx);
    return 0;
}

/* ------------------------------------------------------------ client errors */

/* What a client's error handler was told (the first driver loss is kept for
 * the summary: it is what a user of a dead driver sees). */
typedef struct
{
    atomic_int driver_losses;
    atomic_int timed_out; /* the driver gave up on a live client: never expected */
    atomic_int other;
    pthread_mutex_t lock;
    char first[256];
    char first_other[256];
} error_record_t;

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

static shoal_context_t *client_context(const char *dir, error_record_t *errors)
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

/* ------------------------------------------------------------ publisher (child) */

static size_t random_length(uint64_t *rng, size_t max)
{
    uint64_t r = rng_next(rng) % 100;
    size_t hi = r < 70 ? 256 : (r < 95 ? 4096 : max);
    hi = hi > max ? max : hi;
    return HEADER_LEN + (size_t)(rng_next(rng) % (hi - HEADER_LEN + 1));
}

static int publish_main(const char *dir, const char *channel, uint32_t tag, uint64_t seed, long count, int exclusive)
{
    static error_record_t errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
    shoal_context_t *ctx = client_context(dir, &errors);
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
        return driver_gone_code(code) ? EXIT_DRIVER_LOST : 1;
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
            buf[i] = pattern_byte(tag, (uint64_t)seq, i);
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
                    sleep_ms(10);
                }
                int lost = closed && atomic_load(&errors.driver_losses) > 0;
                fprintf(stderr, "soak publisher %u: offer of message %ld: %" PRId64 " %s%s\n", tag, seq, r,
                    lost || errors.first_other[0] ? "error handler: " : "",
                    lost ? errors.first : (errors.first_other[0] ? errors.first_other : shoal_errmsg()));
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

/* ------------------------------------------------------------ subscribers */

typedef struct
{
    const char *name;
    const char *channel;
    shoal_context_t *ctx;
    int restarts_enabled;
    uint64_t rng;
    atomic_int stop;
    atomic_int subscribed_gen; /* driver generation of the current subscription, -1 none */
    /* per publisher tag: next expected seq, session seen */
    uint64_t *next_seq;
    int32_t *session;
    uint8_t *seen;
    uint64_t messages, bytes, lost, duplicated, restarts, stalls, driver_losses;
    char error[256];
    char driver_lost_error[256]; /* what the first poll on a dead driver said */
} subscriber_t;

/* The driver generation: incremented by the soak once a killed driver is
 * reaped; a client connected to generation g whose poll fails once the
 * generation has moved on lost its driver as expected. */
static atomic_int current_gen;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
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
        if (buf[i] != pattern_byte(h.tag, h.seq, i))
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

static void subscriber_init(subscriber_t *s, const char *name, const char *channel, shoal_context_t *ctx,
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

static void subscriber_free(subscriber_t *s)
{
    free(s->next_seq);
    free(s->session);
    free(s->seen);
}

/* Connects and subscribes, retrying while a driver restarts (bounded).
 * Returns the driver generation it is subscribed on, or -1 (error set). */
static int subscriber_connect(subscriber_t *s, shoal_client_t **client, shoal_subscription_t **sub)
{
    double deadline = now_s() + RECONNECT_DEADLINE_S;
    while (!atomic_load(&s->stop))
    {
        int gen = atomic_load(&current_gen);
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
            if (!driver_gone_code(code) || now_s() > deadline)
            {
                snprintf(s->error, sizeof(s->error), "%s: connect: %s (error %d)", s->name, message, code);
                return -1;
            }
            sleep_ms(20);
            continue;
        }
        if (gen == atomic_load(&current_gen))
        {
            return gen;
        }
        /* raced with a driver kill: which driver this is is unclear */
        shoal_subscription_close(*sub);
        shoal_client_close(*client);
    }
    return -1;
}

static void *subscriber_run(void *arg)
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
        double until = s->restarts_enabled ? now_s() + 0.2 + (double)(rng_next(&s->rng) % 1800) / 1000.0 : 1e300;
        while (!atomic_load(&s->stop) && !s->error[0] && now_s() < until)
        {
            int n = shoal_subscription_poll(sub, on_message, s, 64);
            if (n < 0)
            {
                if (SHOAL_ECLOSED == shoal_errcode() && gen < atomic_load(&current_gen))
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
            if (s->restarts_enabled && 0 == rng_next(&s->rng) % 20000)
            {
                s->stalls++;
                sleep_ms(5 + (long)(rng_next(&s->rng) % 45)); /* a slow consumer: publishers feel back pressure */
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
                if (shoal_subscription_poll(sub, on_message, s, 1024) > 0)
                {
                    idle = 0;
                }
                sleep_ms(1);
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

/* A subscriber process, SIGKILLed by the soak: checks every message after
 * each join, publishes its count in count_path, exits 1 on a problem, 3 when
 * its driver went away. */
static int subscribe_main(const char *dir, const char *channel, const char *count_path, uint64_t seed)
{
    static error_record_t errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
    int fd = open(count_path, O_RDWR);
    uint64_t *count = fd < 0 ? MAP_FAILED : mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0)
    {
        close(fd);
    }
    shoal_context_t *ctx = client_context(dir, &errors);
    if (MAP_FAILED == count || NULL == ctx)
    {
        fprintf(stderr, "soak subscriber process: %s: %s\n", count_path,
            NULL == ctx ? shoal_errmsg() : strerror(errno));
        return 1;
    }
    subscriber_t s;
    subscriber_init(&s, "subscriber process", channel, ctx, 1, seed);
    shoal_client_t *client = NULL;
    shoal_subscription_t *sub = NULL;
    int status = 0;
    if (shoal_client_connect(&client, ctx) < 0 || shoal_add_subscription(client, channel, STREAM, &sub) < 0)
    {
        fprintf(stderr, "soak subscriber process: connect: %s\n", shoal_errmsg());
        status = driver_gone_code(shoal_errcode()) ? EXIT_DRIVER_LOST : 1;
    }
    while (0 == status)
    {
        int n = shoal_subscription_poll(sub, on_message, &s, 64);
        if (n < 0)
        {
            fprintf(stderr, "soak subscriber process: poll: %s\n", shoal_errmsg());
            status = SHOAL_ECLOSED == shoal_errcode() ? EXIT_DRIVER_LOST : 1;
        }
        else if (s.error[0] || s.lost || s.duplicated)
        {
            fprintf(stderr, "soak: %s (lost %" PRIu64 ", duplicated %" PRIu64 ")\n", s.error, s.lost, s.duplicated);
            status = 1;
        }
        *(volatile uint64_t *)count = s.messages;
        if (0 == n)
        {
            sched_yield();
        }
    }
    if (NULL != client)
    {
        shoal_client_close(client);
    }
    shoal_context_close(ctx);
    subscriber_free(&s);
    munmap(count, sizeof(uint64_t));
    return status;
}

/* ------------------------------------------------------------ process resources */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (NULL == d)
    {
        return -1;
    }
    while (readdir(d))
    {
        n++;
    }
    closedir(d);
    return n;
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f)
    {
        if (2 != fscanf(f, "%ld %ld", &pages, &resident))
        {
            resident = 0;
        }
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && 0 == bind(fd, (struct sockaddr *)&a, sizeof(a)) && 0 == getsockname(fd, (struct sockaddr *)&a, &len))
    {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0)
    {
        close(fd);
    }
    return port;
}

/* A system counter of the live driver, 0 if it cannot be read. */
static int64_t driver_counter(const char *dir, int32_t id)
{
    shoal_cnc_view_t view;
    if (shoal_cnc_map(dir, false, 0, &view) < 0)
    {
        return 0;
    }
    int64_t v = shoal_counter_get_acquire(shoal_counter_addr(view.counters_values, id));
    shoal_cnc_unmap(&view);
    return v;
}

/* ------------------------------------------------------------ main */

typedef struct
{
    pid_t pid;
    int transport;
    int gen; /* driver generation it was started on */
    uint32_t tag;
    long count;
    double kill_at; /* 0: left to finish */
} child_t;

typedef struct
{
    uint64_t spawned, finished, killed, driver_lost;
} publisher_stats_t;

/* The driver's counters (pub-lmt, pub-pos, sub-pos per stream) when the soak
 * hangs, from shoal-stat next to the tests directory of this build. */
static void dump_counters(const char *self, const char *dir)
{
    char cmd[2 * PATH_MAX + 64];
    const char *slash = strrchr(self, '/');
    int len = NULL == slash ? 0 : (int)(slash - self);
    snprintf(cmd, sizeof(cmd), "'%.*s/../shoal-stat' -d '%s' --once 2>&1", len, self, dir);
    printf("soak: counters at the hang (%s):\n", cmd);
    fflush(stdout);
    if (0 != system(cmd))
    {
        printf("soak: shoal-stat did not run\n");
    }
}

static int spawn(pid_t *pid, char *const argv[])
{
    return posix_spawn(pid, argv[0], NULL, NULL, argv, environ);
}

static int spawn_driver(const char *self, const char *dir, pid_t *pid, uint64_t seed, int gen)
{
    char loss_seed[32];
    snprintf(loss_seed, sizeof(loss_seed), "%" PRIu64, (seed + (uint64_t)gen) % 1000000007u + 1);
    char *argv[] = { (char *)self, "--driver", (char *)dir, loss_seed, NULL };
    return spawn(pid, argv);
}

static int spawn_publisher(const char *self, const char *dir, const char *channel, child_t *c, uint64_t *rng)
{
    char tag[16], seed[32], count[32];
    snprintf(tag, sizeof(tag), "%u", c->tag);
    snprintf(seed, sizeof(seed), "%" PRIu64, rng_next(rng));
    snprintf(count, sizeof(count), "%ld", c->count);
    char *argv[] = { (char *)self, "--publish", (char *)dir, (char *)channel, tag, seed, count,
        (char *)(rng_next(rng) % 2 ? "exclusive" : "concurrent"), NULL };
    return spawn(&c->pid, argv);
}

static int spawn_subscriber(const char *self, const char *dir, const char *channel, const char *count_path, child_t *c,
    uint64_t *rng)
{
    char seed[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, rng_next(rng));
    char *argv[] = { (char *)self, "--subscribe", (char *)dir, (char *)channel, (char *)count_path, seed, NULL };
    return spawn(&c->pid, argv);
}

/* Waits (bounded) for a started driver to answer heartbeats. */
static int wait_driver_active(const char *dir, pid_t pid)
{
    for (double deadline = now_s() + 30; now_s() < deadline;)
    {
        if (shoal_driver_is_active(dir, 2000))
        {
            return 0;
        }
        if (pid == waitpid(pid, NULL, WNOHANG))
        {
            return -1;
        }
        sleep_ms(10);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && 0 == strcmp(argv[1], "--driver"))
    {
        return driver_main(argv[2], argv[3]);
    }
    if (argc == 8 && 0 == strcmp(argv[1], "--publish"))
    {
        return publish_main(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 10), strtoull(argv[5], NULL, 10),
            atol(argv[6]), 0 == strcmp(argv[7], "exclusive"));
    }
    if (argc == 6 && 0 == strcmp(argv[1], "--subscribe"))
    {
        return subscribe_main(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10));
    }
    double seconds = 30;
    uint64_t seed = (uint64_t)time(NULL);
    int parallel = 2, driver_kills_enabled = 1, opt;
    while ((opt = getopt(argc, argv, "t:s:p:Kh")) != -1)
    {
        switch (opt)
        {
            case 't': seconds = atof(optarg); break;
            case 's': seed = strtoull(optarg, NULL, 10); break;
            case 'p': parallel = atoi(optarg); break;
            case 'K': driver_kills_enabled = 0; break;
            default:
                fprintf(stderr,
                    "usage: shoal_soak [-t seconds] [-s seed] [-p IPC publishers (1..%d)] "
                    "[-K: no driver kills]\n",
                    MAX_CHILDREN);
                return 2;
        }
    }
    if (seconds <= 0 || parallel < 1 || parallel > MAX_CHILDREN)
    {
        fprintf(stderr, "shoal_soak: -t must be > 0 and -p within 1..%d\n", MAX_CHILDREN);
        return 2;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
    {
        perror("shoal_soak: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    char dir[128], count_path[160], udp_channel[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-soak-%ld", (long)getpid());
    snprintf(count_path, sizeof(count_path), "/dev/shm/shoal-soak-%ld.subscriber-count", (long)getpid());
    int port = free_udp_port();
    snprintf(udp_channel, sizeof(udp_channel), "aeron:udp?endpoint=127.0.0.1:%d|term-length=128k", port);
    const char *channels[TRANSPORTS] = { IPC_CHANNEL, udp_channel };
    int count_fd = open(count_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    volatile uint64_t *subscriber_count = MAP_FAILED;
    if (port < 0 || count_fd < 0 || ftruncate(count_fd, sizeof(uint64_t)) < 0 ||
        MAP_FAILED ==
            (subscriber_count = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, count_fd, 0)))
    {
        fprintf(stderr, "shoal_soak: UDP port or %s: %s\n", count_path, strerror(errno));
        return 1;
    }
    close(count_fd);

    pid_t driver_pid = 0;
    int rc = spawn_driver(self, dir, &driver_pid, seed, 0);
    if (0 != rc || wait_driver_active(dir, driver_pid) < 0)
    {
        fprintf(stderr, "shoal_soak: the driver did not start: %s\n", 0 != rc ? strerror(rc) : "not active");
        return 1;
    }
    error_record_t errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
    shoal_context_t *ctx = client_context(dir, &errors);
    if (NULL == ctx)
    {
        fprintf(stderr, "shoal_soak: context: %s\n", shoal_errmsg());
        return 1;
    }

    enum
    {
        A,
        U,
        B,
        SUBSCRIBERS
    };
    subscriber_t subs[SUBSCRIBERS];
    subscriber_init(&subs[A], "A (ipc, reference)", IPC_CHANNEL, ctx, 0, seed * 2 + 1);
    subscriber_init(&subs[U], "U (udp, reference)", udp_channel, ctx, 0, seed * 2 + 3);
    subscriber_init(&subs[B], "B (ipc, restarts, stalls)", IPC_CHANNEL, ctx, 1, seed * 2 + 5);
    /* the baseline: the tables up, before any client churn */
    sleep_ms(200);
    int fds_start = count_fds();
    size_t heap_start = mallinfo2().uordblks;
    long rss_start = rss_kib();

    pthread_t threads[SUBSCRIBERS];
    for (int i = 0; i < SUBSCRIBERS; i++)
    {
        pthread_create(&threads[i], NULL, subscriber_run, &subs[i]);
    }

    long *expected = calloc(MAX_TAGS, sizeof(long)); /* the count a publisher finished, 0 otherwise */
    long *planned = calloc(MAX_TAGS, sizeof(long));
    int *tag_gen = calloc(MAX_TAGS, sizeof(int));
    uint8_t *tag_transport = calloc(MAX_TAGS, 1);
    child_t children[MAX_CHILDREN + 1] = { { 0 } };
    int slots = parallel + 1; /* the last one publishes on UDP */
    child_t subscriber_process = { 0 };
    uint64_t subscriber_spawned = 0, subscriber_killed = 0, subscriber_driver_lost = 0, subscriber_checked = 0;
    publisher_stats_t pub_stats[TRANSPORTS] = { { 0 } };
    uint64_t rng = seed | 1;
    uint32_t next_tag = 1;
    int driver_kills = 0;
    int64_t naks_sent = 0, retransmits = 0;
    double start = now_s(), end = start + seconds;
    double first_kill = seconds < 75 ? 0.4 * seconds : 30.0, kill_span = seconds < 150 ? 0.2 * seconds : 30.0;
    double next_driver_kill = start + first_kill + (double)(rng_next(&rng) % (uint64_t)(kill_span * 1000 + 1)) / 1000.0;
    double waiting_since = 0; /* a new driver is up: publishers wait for A and U to subscribe */
    char error[320] = "";
    while (!error[0])
    {
        double now = now_s();
        int gen = atomic_load(&current_gen);
        int ready = atomic_load(&subs[A].subscribed_gen) == gen && atomic_load(&subs[U].subscribed_gen) == gen;
        if (!ready && 0 == waiting_since)
        {
            waiting_since = now;
        }
        else if (ready)
        {
            waiting_since = 0;
        }
        else if (now - waiting_since > RECONNECT_DEADLINE_S + 10)
        {
            snprintf(error, sizeof(error), "A and U not subscribed to driver %d %.0f s after it started", gen,
                now - waiting_since);
        }
        if (driver_kills_enabled && now >= next_driver_kill && now < end - 5)
        {
            naks_sent += driver_counter(dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
            retransmits += driver_counter(dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
            kill(driver_pid, SIGKILL);
            waitpid(driver_pid, NULL, 0);
            driver_kills++;
            atomic_store(&current_gen, ++gen);
            ready = 0;
            rc = spawn_driver(self, dir, &driver_pid, seed, gen);
            if (0 != rc || wait_driver_active(dir, driver_pid) < 0)
            {
                snprintf(error, sizeof(error), "driver %d did not start: %s", gen,
                    0 != rc ? strerror(rc) : "not active");
                driver_pid = 0;
                break;
            }
            next_driver_kill = now_s() + 30 + (double)(rng_next(&rng) % 30000) / 1000.0;
        }
        int live = 0;
        for (int i = 0; i < slots; i++)
        {
            child_t *c = &children[i];
            if (c->pid > 0)
            {
                int status;
                pid_t r = waitpid(c->pid, &status, WNOHANG);
                if (r == c->pid)
                {
                    publisher_stats_t *ps = &pub_stats[c->transport];
                    if (WIFEXITED(status) && 0 == WEXITSTATUS(status))
                    {
                        expected[c->tag] = c->count;
                        ps->finished++;
                    }
                    else if (WIFSIGNALED(status) && SIGKILL == WTERMSIG(status) && c->kill_at > 0)
                    {
                        ps->killed++;
                    }
                    else if (WIFEXITED(status) && EXIT_DRIVER_LOST == WEXITSTATUS(status) && c->gen < gen)
                    {
                        ps->driver_lost++;
                    }
                    else
                    {
                        snprintf(error, sizeof(error), "%s publisher %u (driver %d) failed (status 0x%x)",
                            TRANSPORT_NAMES[c->transport], c->tag, c->gen, status);
                    }
                    c->pid = 0;
                }
                else if (c->kill_at > 0 && now >= c->kill_at)
                {
                    kill(c->pid, SIGKILL);
                }
            }
            if (0 == c->pid && now < end && ready && next_tag < MAX_TAGS)
            {
                c->tag = next_tag++;
                c->transport = i == slots - 1 ? UDP : IPC;
                c->gen = gen;
                c->count =
                    UDP == c->transport ? 500 + (long)(rng_next(&rng) % 5000) : 1000 + (long)(rng_next(&rng) % 30000);
                c->kill_at = 0 == rng_next(&rng) % 5 ? now + 0.05 + (double)(rng_next(&rng) % 500) / 1000.0 : 0;
                planned[c->tag] = c->count;
                tag_gen[c->tag] = gen;
                tag_transport[c->tag] = (uint8_t)c->transport;
                rc = spawn_publisher(self, dir, channels[c->transport], c, &rng);
                if (0 != rc)
                {
                    snprintf(error, sizeof(error), "posix_spawn: %s", strerror(rc));
                    c->pid = 0;
                }
                pub_stats[c->transport].spawned++;
            }
            live += c->pid > 0;
        }
        child_t *sp = &subscriber_process;
        if (sp->pid > 0)
        {
            int status;
            if (sp->pid == waitpid(sp->pid, &status, WNOHANG))
            {
                subscriber_checked += *subscriber_count;
                if (WIFSIGNALED(status) && SIGKILL == WTERMSIG(status))
                {
                    subscriber_killed++;
                }
                else if (WIFEXITED(status) && EXIT_DRIVER_LOST == WEXITSTATUS(status) && sp->gen < gen)
                {
                    subscriber_driver_lost++;
                }
                else
                {
                    snprintf(error, sizeof(error), "subscriber process (%s, driver %d) failed (status 0x%x)",
                        TRANSPORT_NAMES[sp->transport], sp->gen, status);
                }
                sp->pid = 0;
            }
            else if (now >= sp->kill_at)
            {
                kill(sp->pid, SIGKILL);
            }
        }
        if (0 == sp->pid && now < end && ready && !error[0])
        {
            sp->transport = (int)(rng_next(&rng) % TRANSPORTS);
            sp->gen = gen;
            sp->kill_at = now + 0.3 + (double)(rng_next(&rng) % 3000) / 1000.0;
            *subscriber_count = 0;
            rc = spawn_subscriber(self, dir, channels[sp->transport], count_path, sp, &rng);
            if (0 != rc)
            {
                snprintf(error, sizeof(error), "posix_spawn: %s", strerror(rc));
                sp->pid = 0;
            }
            subscriber_spawned++;
        }
        for (int i = 0; i < SUBSCRIBERS && !error[0]; i++)
        {
            if (subs[i].error[0])
            {
                snprintf(error, sizeof(error), "%.255s", subs[i].error);
            }
        }
        if (0 == live && now >= end)
        {
            break;
        }
        if (now > end + 120)
        {
            snprintf(error, sizeof(error), "publishers still running 120 s after the end");
            dump_counters(self, dir);
            break;
        }
        sleep_ms(10);
    }
    for (int i = 0; i < slots; i++)
    {
        if (children[i].pid > 0)
        {
            kill(children[i].pid, SIGKILL);
            waitpid(children[i].pid, NULL, 0);
        }
    }
    if (subscriber_process.pid > 0)
    {
        kill(subscriber_process.pid, SIGKILL);
        waitpid(subscriber_process.pid, NULL, 0);
        subscriber_checked += *subscriber_count;
    }
    atomic_store(&subs[B].stop, 1);
    pthread_join(threads[B], NULL);
    atomic_store(&subs[A].stop, 1);
    atomic_store(&subs[U].stop, 1);
    pthread_join(threads[A], NULL);
    pthread_join(threads[U], NULL);
    for (int i = 0; i < SUBSCRIBERS && !error[0]; i++)
    {
        if (subs[i].error[0])
        {
            snprintf(error, sizeof(error), "%.255s", subs[i].error);
        }
    }
    /* Per stream, at its reference subscriber: the tail of a stream that
     * finished on the last driver is lost; of any other, cut. */
    int final_gen = atomic_load(&current_gen);
    uint64_t lost_tail[TRANSPORTS] = { 0 }, cut[TRANSPORTS] = { 0 }, complete[TRANSPORTS] = { 0 };
    for (uint32_t t = 1; t < next_tag; t++)
    {
        int tr = tag_transport[t];
        const subscriber_t *ref = &subs[IPC == tr ? A : U];
        uint64_t got = ref->next_seq[t];
        if (expected[t] > 0 && tag_gen[t] == final_gen)
        {
            if (got < (uint64_t)expected[t])
            {
                if (0 == lost_tail[tr])
                {
                    fprintf(stderr, "soak: %s received %" PRIu64 " of publisher %u's %ld messages\n", ref->name, got, t,
                        expected[t]);
                }
                lost_tail[tr] += (uint64_t)expected[t] - got;
            }
            else
            {
                complete[tr]++;
            }
        }
        else if (got < (uint64_t)planned[t])
        {
            cut[tr] += (uint64_t)planned[t] - got;
        }
        else
        {
            complete[tr]++;
        }
    }
    /* the driver releases the killed publishers' clients and logs */
    sleep_ms(500);
    int fds_end = count_fds();
    size_t heap_end = mallinfo2().uordblks;
    long rss_end = rss_kib();
    naks_sent += driver_counter(dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
    retransmits += driver_counter(dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
    double took = now_s() - start;
    shoal_context_close(ctx);
    if (driver_pid > 0)
    {
        int status = 0;
        kill(driver_pid, SIGTERM);
        waitpid(driver_pid, &status, 0);
        if (!error[0] && !(WIFEXITED(status) && 0 == WEXITSTATUS(status)))
        {
            snprintf(error, sizeof(error), "the last driver did not shut down cleanly (status 0x%x)", status);
        }
    }
    munmap((void *)subscriber_count, sizeof(uint64_t));
    unlink(count_path);

    printf("soak: %.0f s (seed %" PRIu64 "), driver SIGKILLed and restarted %d times, UDP loss %s each way "
           "(NAKs sent %" PRId64 ", retransmits %" PRId64 ")\n",
        took, seed, driver_kills, LOSS_RATE, naks_sent, retransmits);
    for (int tr = 0; tr < TRANSPORTS; tr++)
    {
        const publisher_stats_t *ps = &pub_stats[tr];
        const subscriber_t *ref = &subs[IPC == tr ? A : U];
        printf("soak: %s: %" PRIu64 " publisher processes (%" PRIu64 " finished, %" PRIu64 " SIGKILLed, %" PRIu64
               " lost their driver), %" PRIu64 " streams complete\n",
            TRANSPORT_NAMES[tr], ps->spawned, ps->finished, ps->killed, ps->driver_lost, complete[tr]);
        printf("soak: %s: %s delivered %" PRIu64 " messages (%.1f MB), lost %" PRIu64 ", duplicated %" PRIu64
               ", cut by kills %" PRIu64 "; reconnected %" PRIu64 " times after its driver died\n",
            TRANSPORT_NAMES[tr], ref->name, ref->messages, ref->bytes / 1e6, ref->lost + lost_tail[tr], ref->duplicated,
            cut[tr], ref->driver_losses);
    }
    printf("soak: B delivered %" PRIu64 " messages, lost %" PRIu64 ", duplicated %" PRIu64 ", over %" PRIu64
           " client restarts (%" PRIu64 " after driver kills), %" PRIu64 " deliberate stalls\n",
        subs[B].messages, subs[B].lost, subs[B].duplicated, subs[B].restarts, subs[B].driver_losses, subs[B].stalls);
    printf("soak: subscriber processes: %" PRIu64 " spawned, %" PRIu64 " SIGKILLed, %" PRIu64
           " lost their driver, %" PRIu64 " messages checked\n",
        subscriber_spawned, subscriber_killed, subscriber_driver_lost, subscriber_checked);
    if (driver_kills > 0)
    {
        printf("soak: a client of a killed driver: error handler SHOAL_ETIMEDOUT \"%s\" (%d times in this process), "
               "then poll -1 SHOAL_ECLOSED \"%s\"\n",
            errors.first, atomic_load(&errors.driver_losses), subs[A].driver_lost_error);
    }
    if (atomic_load(&errors.other) > 0)
    {
        printf("soak: %d other errors reported to the error handler, the first: %s\n", atomic_load(&errors.other),
            errors.first_other);
    }
    if (0 == heap_start && 0 == heap_end)
    {
        /* sanitizer allocators do not fill mallinfo2; LeakSanitizer checks at exit instead */
        printf("soak: fds %d -> %d, heap in use not reported by this allocator, RSS %ld -> %ld KiB\n", fds_start,
            fds_end, rss_start, rss_end);
    }
    else
    {
        printf("soak: fds %d -> %d, heap in use %zu -> %zu bytes, RSS %ld -> %ld KiB\n", fds_start, fds_end, heap_start,
            heap_end, rss_start, rss_end);
    }
    for (int i = 0; i < SUBSCRIBERS && !error[0]; i++)
    {
        if (subs[i].lost || subs[i].duplicated)
        {
            snprintf(error, sizeof(error), "%s: lost %" PRIu64 ", duplicated %" PRIu64 " on a reliable stream",
                subs[i].name, subs[i].lost, subs[i].duplicated);
        }
    }
    for (int tr = 0; tr < TRANSPORTS && !error[0]; tr++)
    {
        if (lost_tail[tr])
        {
            snprintf(error, sizeof(error), "%s: %" PRIu64 " messages of finished publishers never delivered",
                TRANSPORT_NAMES[tr], lost_tail[tr]);
        }
    }
    /* each kill found the reference subscribers subscribed (kills are 30 s
     * apart), unless one was still connecting: at least one loss seen */
    if (!error[0] && driver_kills > 0 &&
        (0 == subs[A].driver_losses || subs[A].driver_losses > (uint64_t)driver_kills || 0 == subs[U].driver_losses ||
            subs[U].driver_losses > (uint64_t)driver_kills))
    {
        snprintf(error, sizeof(error), "%d driver kills but A saw %" PRIu64 " and U %" PRIu64 " driver losses",
            driver_kills, subs[A].driver_losses, subs[U].driver_losses);
    }
    if (!error[0] && atomic_load(&errors.timed_out) > 0)
    {
        snprintf(error, sizeof(error), "the driver timed %d live clients out: %s", atomic_load(&errors.timed_out),
            errors.first_other);
    }
    if (!error[0] && fds_end != fds_start)
    {
        snprintf(error, sizeof(error), "file descriptors %d at start, %d at the end", fds_start, fds_end);
    }
    if (!error[0] && heap_end > heap_start + (1u << 20))
    {
        snprintf(error, sizeof(error), "heap in use grew by %zu bytes", heap_end - heap_start);
    }
    if (!error[0] &&
        (0 == subs[A].messages || 0 == subs[U].messages || 0 == pub_stats[IPC].finished ||
            0 == pub_stats[UDP].finished))
    {
        snprintf(error, sizeof(error), "nothing was exchanged on %s", 0 == subs[A].messages ? "ipc" : "udp");
    }
    for (int i = 0; i < SUBSCRIBERS; i++)
    {
        subscriber_free(&subs[i]);
    }
    free(expected);
    free(planned);
    free(tag_gen);
    free(tag_transport);
    if (error[0])
    {
        printf("soak: FAIL: %s\n", error);
        return 1;
    }
    printf("soak: PASS\n");
    return 0;
}
