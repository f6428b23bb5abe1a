/* The soak's shared pieces: the message format every publisher writes and
 * every subscriber checks, the roles' entry points, and the state of one run
 * (what main's churn loop tends and the report reads). The overview of what
 * the soak does is at the top of shoal_soak.c. */
#ifndef SHOAL_SOAK_H
#define SHOAL_SOAK_H

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "shoal/shoal.h"

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
extern const char *const TRANSPORT_NAMES[TRANSPORTS];

/* ------------------------------------------------------------ messages */

typedef struct
{
    uint32_t tag;
    uint32_t length;
    uint64_t seq;
} soak_msg_header_t;

static inline uint8_t soak_pattern_byte(uint32_t tag, uint64_t seq, size_t i)
{
    return (uint8_t)(tag * 31u + seq * 7u + i);
}

static inline uint64_t soak_rng_next(uint64_t *s)
{
    /* xorshift64*: reproducible from the seed printed in the summary */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static inline double soak_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void soak_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ clients (soak_client.c) */

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

/* Whether a failed connect may be the driver restarting under us. */
int soak_driver_gone_code(int code);
/* A client context on dir whose error handler fills errors; NULL on error. */
shoal_context_t *soak_client_context(const char *dir, error_record_t *errors);

/* ------------------------------------------------------------ the driver (soak_driver.c) */

/* The driver generation: incremented by the soak once a killed driver is
 * reaped; a client connected to generation g whose poll fails once the
 * generation has moved on lost its driver as expected. */
extern atomic_int soak_driver_gen;

int soak_driver_main(const char *dir, const char *loss_seed);
int soak_spawn_driver(const char *self, const char *dir, pid_t *pid, uint64_t seed, int gen);
/* Waits (bounded) for a started driver to answer heartbeats. */
int soak_wait_driver_active(const char *dir, pid_t pid);
/* A system counter of the live driver, 0 if it cannot be read. */
int64_t soak_driver_counter(const char *dir, int32_t id);
/* The driver's counters (pub-lmt, pub-pos, sub-pos per stream) when the soak
 * hangs, from shoal-stat next to the tests directory of this build. */
void soak_dump_counters(const char *self, const char *dir);

/* ------------------------------------------------------------ child processes (soak_process.c) */

typedef struct
{
    pid_t pid;
    int transport;
    int gen; /* driver generation it was started on */
    uint32_t tag;
    long count;
    double kill_at; /* 0: left to finish */
} child_t;

int soak_spawn(pid_t *pid, char *const argv[]);
int soak_count_fds(void);
long soak_rss_kib(void);

/* ------------------------------------------------------------ publishers (soak_publisher.c) */

int soak_publish_main(const char *dir, const char *channel, uint32_t tag, uint64_t seed, long count, int exclusive);
int soak_spawn_publisher(const char *self, const char *dir, const char *channel, child_t *c, uint64_t *rng);

/* ------------------------------------------------------------ subscribers (soak_subscriber.c) */

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

void soak_subscriber_init(subscriber_t *s, const char *name, const char *channel, shoal_context_t *ctx,
    int restarts_enabled, uint64_t seed);
void soak_subscriber_free(subscriber_t *s);
/* The fragment handler: checks a message and counts it (clientd: the subscriber_t). */
void soak_subscriber_on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr);
/* The subscriber thread: (re)connects, polls and checks until stop. */
void *soak_subscriber_run(void *arg);
/* The subscriber process role (soak_subscriber_process.c). */
int soak_subscribe_main(const char *dir, const char *channel, const char *count_path, uint64_t seed);
int soak_spawn_subscriber(const char *self, const char *dir, const char *channel, const char *count_path, child_t *c,
    uint64_t *rng);

/* ------------------------------------------------------------ one run (soak_churn.c, soak_report.c) */

enum
{
    A, /* IPC reference */
    U, /* UDP reference */
    B, /* IPC, restarts and stalls */
    SUBSCRIBERS
};

typedef struct
{
    uint64_t spawned, finished, killed, driver_lost;
} publisher_stats_t;

typedef struct
{
    /* settings */
    const char *self;
    const char *dir;
    const char *count_path;
    const char *channels[TRANSPORTS];
    double seconds;
    uint64_t seed;
    int parallel;
    int driver_kills_enabled;
    /* the processes */
    pid_t driver_pid;
    int driver_kills;
    child_t children[MAX_CHILDREN + 1];
    int slots; /* parallel + 1: the last one publishes on UDP */
    child_t subscriber_process;
    volatile uint64_t *subscriber_count; /* shared with the subscriber process */
    /* the soak process's own client and subscriber threads */
    error_record_t errors;
    shoal_context_t *ctx;
    subscriber_t subs[SUBSCRIBERS];
    pthread_t threads[SUBSCRIBERS];
    /* per publisher tag */
    long *expected; /* the count a publisher finished, 0 otherwise */
    long *planned;
    int *tag_gen;
    uint8_t *tag_transport;
    uint32_t next_tag;
    /* accounting */
    publisher_stats_t pub_stats[TRANSPORTS];
    uint64_t subscriber_spawned, subscriber_killed, subscriber_driver_lost, subscriber_checked;
    int64_t naks_sent, retransmits;
    int fds_start, fds_end;
    size_t heap_start, heap_end;
    long rss_start, rss_end;
    uint64_t rng;
    double start, took;
    char error[320]; /* the first problem; empty: none */
} soak_t;

/* Kills and restarts the driver, spawns and reaps publisher and subscriber
 * processes until the time is up and the publishers finished, or a problem
 * (soak->error). */
void soak_churn(soak_t *soak);
/* Reaps what is left, stops the subscriber threads, takes the closing
 * measures and shuts the last driver down. */
void soak_finish(soak_t *soak);
/* Accounts every stream, prints the summary and checks it; 0 on a pass. */
int soak_report(soak_t *soak);

#endif
