/*
 * The shoal demo: an embedded driver, one process, two threads.
 *  1. throughput: a publisher thread offers 32-byte messages as fast as the
 *     subscriber thread drains them (exclusive, then concurrent publication);
 *  2. latency: ping-pong between two threads over two IPC streams, printing
 *     round-trip percentiles.
 * Every figure printed is measured in this run.
 *
 * usage: shoal_demo [messages] [round_trips]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shoal/shoal.h"

#define CHANNEL    "aeron:ipc?term-length=4m"
#define MSG_LENGTH 32

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "shoal_demo: %s: %s\n", what, shoal_errmsg());
    exit(1);
}

typedef struct
{
    shoal_publication_t *pub;
    long count;
    long back_pressured;
} pub_args_t;

static void *publisher(void *arg)
{
    pub_args_t *a = arg;
    uint8_t msg[MSG_LENGTH];
    memset(msg, 'x', sizeof(msg));
    for (long i = 0; i < a->count; i++)
    {
        memcpy(msg, &i, sizeof(i));
        int64_t r;
        while ((r = shoal_publication_offer(a->pub, msg, sizeof(msg))) < 0)
        {
            if (SHOAL_ERROR == r || SHOAL_CLOSED == r)
            {
                die("offer");
            }
            a->back_pressured++;
        }
    }
    return NULL;
}

typedef struct
{
    long received;
    long expected_next;
    long out_of_order;
} sub_state_t;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    sub_state_t *s = clientd;
    long seq;
    memcpy(&seq, buf, sizeof(seq));
    if (len != MSG_LENGTH || seq != s->expected_next)
    {
        s->out_of_order++;
    }
    s->expected_next = seq + 1;
    s->received++;
}

static void wait_connected(shoal_publication_t *pub)
{
    while (!shoal_publication_is_connected(pub))
    {
        usleep(1000);
    }
}

static double throughput(shoal_client_t *client, bool exclusive, int32_t stream, long count, long *lost)
{
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    if (shoal_add_subscription(client, CHANNEL, stream, &sub) < 0)
    {
        die("add_subscription");
    }
    int rc = exclusive ? shoal_add_exclusive_publication(client, CHANNEL, stream, &pub)
                       : shoal_add_publication(client, CHANNEL, stream, &pub);
    if (rc < 0)
    {
        die("add_publication");
    }
    wait_connected(pub);

    pub_args_t args = { pub, count, 0 };
    sub_state_t state = { 0, 0, 0 };
    pthread_t thread;
    int64_t start = now_ns();
    pthread_create(&thread, NULL, publisher, &args);
    while (state.received < count)
    {
        if (shoal_subscription_poll(sub, on_message, &state, 256) < 0)
        {
            die("poll");
        }
    }
    int64_t elapsed = now_ns() - start;
    pthread_join(thread, NULL);
    *lost = state.out_of_order;
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    return (double)count * 1e9 / (double)elapsed;
}

/* ---- ping-pong ---- */
typedef struct
{
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    volatile int running;
} pong_args_t;

static void echo(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    pong_args_t *a = clientd;
    while (shoal_publication_offer(a->pub, buf, len) < 0)
    {
    }
}

static void *ponger(void *arg)
{
    pong_args_t *a = arg;
    while (a->running)
    {
        shoal_subscription_poll(a->sub, echo, a, 16);
    }
    return NULL;
}

static void on_pong(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)len;
    (void)hdr;
    int64_t sent;
    memcpy(&sent, buf, sizeof(sent));
    *(int64_t *)clientd = now_ns() - sent;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void latency(shoal_client_t *client, long round_trips)
{
    shoal_publication_t *ping_pub, *pong_pub;
    shoal_subscription_t *ping_sub, *pong_sub;
    if (shoal_add_subscription(client, CHANNEL, 2001, &ping_sub) < 0 ||
        shoal_add_subscription(client, CHANNEL, 2002, &pong_sub) < 0 ||
        shoal_add_exclusive_publication(client, CHANNEL, 2001, &ping_pub) < 0 ||
        shoal_add_exclusive_publication(client, CHANNEL, 2002, &pong_pub) < 0)
    {
        die("latency setup");
    }
    wait_connected(ping_pub);
    wait_connected(pong_pub);
    pong_args_t args = { ping_sub, pong_pub, 1 };
    pthread_t thread;
    pthread_create(&thread, NULL, ponger, &args);

    int64_t *samples = malloc((size_t)round_trips * sizeof(int64_t));
    uint8_t msg[MSG_LENGTH];
    memset(msg, 0, sizeof(msg));
    long warmup = round_trips / 10;
    for (long i = -warmup; i < round_trips; i++)
    {
        int64_t rtt = 0;
        int64_t t = now_ns();
        memcpy(msg, &t, sizeof(t));
        while (shoal_publication_offer(ping_pub, msg, sizeof(msg)) < 0)
        {
        }
        while (0 == rtt)
        {
            shoal_subscription_poll(pong_sub, on_pong, &rtt, 1);
        }
        if (i >= 0)
        {
            samples[i] = rtt;
        }
    }
    args.running = 0;
    pthread_join(thread, NULL);
    qsort(samples, (size_t)round_trips, sizeof(int64_t), cmp_i64);
    printf("  round trip (2 threads, %ld samples): p50 %.2f us  p90 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.2f us\n",
        round_trips, samples[round_trips / 2] / 1e3, samples[round_trips * 9 / 10] / 1e3,
        samples[round_trips * 99 / 100] / 1e3, samples[round_trips * 999 / 1000] / 1e3, samples[round_trips - 1] / 1e3);
    free(samples);
    shoal_publication_close(ping_pub);
    shoal_publication_close(pong_pub);
    shoal_subscription_close(ping_sub);
    shoal_subscription_close(pong_sub);
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 10000000;
    long round_trips = argc > 2 ? atol(argv[2]) : 100000;
    char dir[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-demo-%ld", (long)getpid());

    shoal_context_t *ctx;
    shoal_driver_t *driver;
    shoal_client_t *client;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0)
    {
        die("context");
    }
    if (shoal_driver_start(&driver, ctx) < 0)
    {
        die("driver_start");
    }
    if (shoal_client_connect(&client, ctx) < 0)
    {
        die("client_connect");
    }
    printf("shoal %s demo: embedded driver in %s, %ld x %d-byte messages over aeron:ipc\n", shoal_version(), dir, count,
        MSG_LENGTH);
    long lost_exclusive = 0, lost_concurrent = 0;
    double excl = throughput(client, true, 1001, count, &lost_exclusive);
    printf("  exclusive publication : %6.2f M msgs/s  (%ld out of order)\n", excl / 1e6, lost_exclusive);
    double conc = throughput(client, false, 1002, count, &lost_concurrent);
    printf("  concurrent publication: %6.2f M msgs/s  (%ld out of order)\n", conc / 1e6, lost_concurrent);
    long lost = lost_exclusive + lost_concurrent;
    latency(client, round_trips);

    shoal_client_close(client);
    shoal_driver_close(driver);
    shoal_context_close(ctx);
    return lost == 0 ? 0 : 1;
}
