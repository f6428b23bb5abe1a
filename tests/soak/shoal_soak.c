/*
 * shoal_soak: a bounded soak of one embedded driver under churn.
 *
 *   shoal_soak [-t seconds] [-s seed] [-p publishers]
 *
 * The process hosts the driver and two subscribers on one stream:
 *  - A subscribes before any publisher and never restarts: it must see every
 *    publisher's messages from its first, in order, byte-identical;
 *  - B restarts its client at random moments and stalls now and then (back
 *    pressure): after each join it must see consecutive, intact messages.
 * Publishers are child processes (this program re-executed with --publish),
 * two or more at a time, each with a fresh client: random exclusive or
 * concurrent publication (concurrent ones share a session, as in Aeron),
 * random message sizes up to the maximum message length, a random count.
 * One in five is SIGKILLed mid-stream: the driver must time its client out
 * and unblock what it left half written.
 *
 * At the end every publisher that finished must have been received whole by
 * A, and the process must hold the same file descriptors and (within 1 MiB)
 * the same heap as before the churn. Exits 0 with a summary, or 1 naming the
 * first problem. No timing is asserted.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shoal/shoal.h"

#define STREAM 7001
#define CHANNEL "aeron:ipc?term-length=128k"
#define MAX_TAGS 65536
#define MAX_CHILDREN 8
#define HEADER_LEN 16 /* tag, length, seq */

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

/* ------------------------------------------------------------ publisher (child) */

static size_t random_length(uint64_t *rng, size_t max)
{
    uint64_t r = rng_next(rng) % 100;
    size_t hi = r < 70 ? 256 : (r < 95 ? 4096 : max);
    hi = hi > max ? max : hi;
    return HEADER_LEN + (size_t)(rng_next(rng) % (hi - HEADER_LEN + 1));
}

static int publish_main(const char *dir, uint32_t tag, uint64_t seed, long count, int exclusive)
{
    shoal_context_t *ctx = NULL;
    shoal_client_t *client = NULL;
    shoal_publication_t *pub = NULL;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_client_connect(&client, ctx) < 0 ||
        (exclusive ? shoal_add_exclusive_publication(client, CHANNEL, STREAM, &pub)
                   : shoal_add_publication(client, CHANNEL, STREAM, &pub)) < 0)
    {
        fprintf(stderr, "soak publisher %u: %s\n", tag, shoal_errmsg());
        return 1;
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
                /* a client that closed (driver timeout, a failed command) never
                 * gets connected or unblocked again: report it, do not spin */
                fprintf(stderr, "soak publisher %u: offer %ld: %" PRId64 " %s\n", tag, seq, r, shoal_errmsg());
                status = 1;
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
                fprintf(stderr, "soak publisher %u: offer of message %ld still refused after 10 s: %" PRId64
                    " (connected %d)\n", tag, seq, r, (int)shoal_publication_is_connected(pub));
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
    shoal_context_t *ctx;
    int restarts_enabled;
    uint64_t rng;
    atomic_int stop;
    /* per publisher tag: next expected seq (0: none seen), session seen */
    uint64_t *next_seq;
    int32_t *session;
    uint8_t *seen;
    uint64_t messages, bytes, restarts, stalls;
    char error[256];
} subscriber_t;

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
        snprintf(s->error, sizeof(s->error), "%s: bad header tag %u length %u (received %zu)", s->name, h.tag,
            h.length, len);
        return;
    }
    if (s->seen[h.tag])
    {
        if (s->session[h.tag] != hdr->session_id || s->next_seq[h.tag] != h.seq)
        {
            snprintf(s->error, sizeof(s->error),
                "%s: publisher %u: seq %" PRIu64 " in session %d, expected seq %" PRIu64 " in session %d", s->name,
                h.tag, h.seq, hdr->session_id, s->next_seq[h.tag], s->session[h.tag]);
            return;
        }
    }
    else
    {
        if (!s->restarts_enabled && 0 != h.seq)
        {
            snprintf(s->error, sizeof(s->error), "%s: publisher %u: first message seq %" PRIu64 " (expected 0)",
                s->name, h.tag, h.seq);
            return;
        }
        s->seen[h.tag] = 1;
        s->session[h.tag] = hdr->session_id;
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
    s->next_seq[h.tag] = h.seq + 1;
    s->messages++;
    s->bytes += len;
}

static void *subscriber_run(void *arg)
{
    subscriber_t *s = arg;
    while (!atomic_load(&s->stop) && !s->error[0])
    {
        shoal_client_t *client = NULL;
        shoal_subscription_t *sub = NULL;
        if (shoal_client_connect(&client, s->ctx) < 0 || shoal_add_subscription(client, CHANNEL, STREAM, &sub) < 0)
        {
            snprintf(s->error, sizeof(s->error), "%s: connect: %s", s->name, shoal_errmsg());
            shoal_client_close(client);
            break;
        }
        memset(s->seen, 0, MAX_TAGS); /* a new subscription joins wherever the streams are */
        double until = s->restarts_enabled ? now_s() + 0.2 + (double)(rng_next(&s->rng) % 1800) / 1000.0 : 1e300;
        while (!atomic_load(&s->stop) && !s->error[0] && now_s() < until)
        {
            int n = shoal_subscription_poll(sub, on_message, s, 64);
            if (n < 0)
            {
                snprintf(s->error, sizeof(s->error), "%s: poll: %s", s->name, shoal_errmsg());
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
        shoal_subscription_close(sub);
        shoal_client_close(client);
        if (!atomic_load(&s->stop))
        {
            s->restarts++;
        }
    }
    return NULL;
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

/* ------------------------------------------------------------ main */

typedef struct
{
    pid_t pid;
    uint32_t tag;
    long count;
    double kill_at; /* 0: left to finish */
} child_t;

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

static int spawn_publisher(const char *self, const char *dir, child_t *c, uint64_t *rng)
{
    char tag[16], seed[32], count[32];
    snprintf(tag, sizeof(tag), "%u", c->tag);
    snprintf(seed, sizeof(seed), "%" PRIu64, rng_next(rng));
    snprintf(count, sizeof(count), "%ld", c->count);
    char *argv[] = { (char *)self, "--publish", (char *)dir, tag, seed, count,
        (char *)(rng_next(rng) % 2 ? "exclusive" : "concurrent"), NULL };
    return posix_spawn(&c->pid, self, NULL, NULL, argv, environ);
}

int main(int argc, char **argv)
{
    if (argc == 7 && 0 == strcmp(argv[1], "--publish"))
    {
        return publish_main(argv[2], (uint32_t)strtoul(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
            atol(argv[5]), 0 == strcmp(argv[6], "exclusive"));
    }
    double seconds = 30;
    uint64_t seed = (uint64_t)time(NULL);
    int parallel = 2, opt;
    while ((opt = getopt(argc, argv, "t:s:p:h")) != -1)
    {
        switch (opt)
        {
            case 't': seconds = atof(optarg); break;
            case 's': seed = strtoull(optarg, NULL, 10); break;
            case 'p': parallel = atoi(optarg); break;
            default:
                fprintf(stderr, "usage: shoal_soak [-t seconds] [-s seed] [-p publishers (1..%d)]\n", MAX_CHILDREN);
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
    char dir[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-soak-%ld", (long)getpid());

    shoal_context_t *ctx = NULL;
    shoal_driver_t *driver = NULL;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0 ||
        shoal_context_set(ctx, "CLIENT_LIVENESS_TIMEOUT_MS", "1000") < 0 ||
        shoal_context_set(ctx, "PUBLICATION_UNBLOCK_TIMEOUT_MS", "1000") < 0 ||
        shoal_context_set(ctx, "PUBLICATION_LINGER_MS", "100") < 0 || shoal_driver_start(&driver, ctx) < 0)
    {
        fprintf(stderr, "shoal_soak: driver: %s\n", shoal_errmsg());
        return 1;
    }

    subscriber_t subs[2] = { { .name = "A (never restarts)" }, { .name = "B (restarts, stalls)" } };
    for (int i = 0; i < 2; i++)
    {
        subs[i].ctx = ctx;
        subs[i].restarts_enabled = i;
        subs[i].rng = seed * 2 + (uint64_t)i + 1;
        subs[i].next_seq = calloc(MAX_TAGS, sizeof(uint64_t));
        subs[i].session = calloc(MAX_TAGS, sizeof(int32_t));
        subs[i].seen = calloc(MAX_TAGS, 1);
    }
    /* the baseline: driver and the tables up, before any client churn */
    sleep_ms(200);
    int fds_start = count_fds();
    size_t heap_start = mallinfo2().uordblks;
    long rss_start = rss_kib();

    pthread_t threads[2];
    pthread_create(&threads[0], NULL, subscriber_run, &subs[0]);
    sleep_ms(300); /* A is subscribed before the first publisher */
    pthread_create(&threads[1], NULL, subscriber_run, &subs[1]);

    long *expected = calloc(MAX_TAGS, sizeof(long)); /* -1: killed; else the count it finished */
    child_t children[MAX_CHILDREN] = { { 0 } };
    uint64_t rng = seed | 1;
    uint32_t next_tag = 1;
    long finished = 0, killed = 0, failed = 0;
    double start = now_s(), end = start + seconds;
    char error[320] = "";
    while (!error[0])
    {
        double now = now_s();
        int live = 0;
        for (int i = 0; i < parallel; i++)
        {
            child_t *c = &children[i];
            if (c->pid > 0)
            {
                int status;
                pid_t r = waitpid(c->pid, &status, WNOHANG);
                if (r == c->pid)
                {
                    if (WIFEXITED(status) && 0 == WEXITSTATUS(status))
                    {
                        expected[c->tag] = c->count;
                        finished++;
                    }
                    else if (WIFSIGNALED(status) && SIGKILL == WTERMSIG(status) && c->kill_at > 0)
                    {
                        expected[c->tag] = -1;
                        killed++;
                    }
                    else
                    {
                        failed++;
                        snprintf(error, sizeof(error), "publisher %u failed (status 0x%x)", c->tag, status);
                    }
                    c->pid = 0;
                }
                else if (c->kill_at > 0 && now >= c->kill_at)
                {
                    kill(c->pid, SIGKILL);
                }
            }
            if (0 == c->pid && now < end && next_tag < MAX_TAGS)
            {
                c->tag = next_tag++;
                c->count = 1000 + (long)(rng_next(&rng) % 30000);
                c->kill_at = 0 == rng_next(&rng) % 5 ? now + 0.05 + (double)(rng_next(&rng) % 500) / 1000.0 : 0;
                int rc = spawn_publisher(self, dir, c, &rng);
                if (0 != rc)
                {
                    snprintf(error, sizeof(error), "posix_spawn: %s", strerror(rc));
                    c->pid = 0;
                }
            }
            live += c->pid > 0;
        }
        for (int i = 0; i < 2 && !error[0]; i++)
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
    for (int i = 0; i < parallel; i++)
    {
        if (children[i].pid > 0)
        {
            kill(children[i].pid, SIGKILL);
            waitpid(children[i].pid, NULL, 0);
        }
    }
    atomic_store(&subs[1].stop, 1);
    pthread_join(threads[1], NULL);
    atomic_store(&subs[0].stop, 1);
    pthread_join(threads[0], NULL);
    for (int i = 0; i < 2 && !error[0]; i++)
    {
        if (subs[i].error[0])
        {
            snprintf(error, sizeof(error), "%.255s", subs[i].error);
        }
    }
    /* every publisher that finished was received whole by A */
    long complete = 0;
    for (uint32_t t = 1; t < next_tag && !error[0]; t++)
    {
        if (expected[t] > 0)
        {
            if ((long)subs[0].next_seq[t] != expected[t])
            {
                snprintf(error, sizeof(error), "A received %" PRIu64 " of publisher %u's %ld messages",
                    subs[0].next_seq[t], t, expected[t]);
            }
            complete++;
        }
    }
    /* the driver releases the killed publishers' clients and logs */
    sleep_ms(2500);
    int fds_end = count_fds();
    size_t heap_end = mallinfo2().uordblks;
    long rss_end = rss_kib();
    double took = now_s() - start;
    shoal_driver_close(driver);
    shoal_context_close(ctx);

    printf("soak: %.0f s (seed %" PRIu64 "), %u publisher processes (%ld finished, %ld SIGKILLed, %ld failed), "
           "%d at a time\n", took, seed, next_tag - 1, finished, killed, failed, parallel);
    printf("soak: A checked %" PRIu64 " messages (%.1f MB), every finished publisher complete (%ld)\n",
        subs[0].messages, subs[0].bytes / 1e6, complete);
    printf("soak: B checked %" PRIu64 " messages over %" PRIu64 " client restarts, %" PRIu64 " deliberate stalls\n",
        subs[1].messages, subs[1].restarts, subs[1].stalls);
    if (0 == heap_start && 0 == heap_end)
    {
        /* sanitizer allocators do not fill mallinfo2; LeakSanitizer checks at exit instead */
        printf("soak: fds %d -> %d, heap in use not reported by this allocator, RSS %ld -> %ld KiB\n", fds_start,
            fds_end, rss_start, rss_end);
    }
    else
    {
        printf("soak: fds %d -> %d, heap in use %zu -> %zu bytes, RSS %ld -> %ld KiB\n", fds_start, fds_end,
            heap_start, heap_end, rss_start, rss_end);
    }
    if (!error[0] && fds_end != fds_start)
    {
        snprintf(error, sizeof(error), "file descriptors %d at start, %d at the end", fds_start, fds_end);
    }
    if (!error[0] && heap_end > heap_start + (1u << 20))
    {
        snprintf(error, sizeof(error), "heap in use grew by %zu bytes", heap_end - heap_start);
    }
    if (!error[0] && (0 == subs[0].messages || 0 == finished))
    {
        snprintf(error, sizeof(error), "nothing was exchanged");
    }
    for (int i = 0; i < 2; i++)
    {
        free(subs[i].next_seq);
        free(subs[i].session);
        free(subs[i].seen);
    }
    free(expected);
    if (error[0])
    {
        printf("soak: FAIL: %s\n", error);
        return 1;
    }
    printf("soak: PASS\n");
    return 0;
}
