/* Helpers for UDP tests: two (or more) embedded drivers in one process, each
 * with its own directory, talking over loopback. */
#ifndef SHOAL_UDP_TEST_UTIL_H
#define SHOAL_UDP_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../shoal_test_support.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "util/shoal_counters.h"

/* Whether a UDP socket can bind 127.0.0.1:port now. */
static inline bool udp_test_port_is_free(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
    {
        return false;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool free_now = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return free_now;
}

/* A UDP port on 127.0.0.1 that nothing holds now, below the kernel's
 * ephemeral range: a port from that range, bound and released, can be handed
 * to any socket bound to port 0 (another test's driver, under ctest -j)
 * before the test binds it ("Address already in use"). Each process walks
 * its own stretch of the ports from 10000 up, starting where its pid says. */
static inline int udp_test_free_port(void)
{
    static int next = -1;
    int ephemeral_low = 32768, ephemeral_high = 60999;
    FILE *range = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (range != NULL)
    {
        if (fscanf(range, "%d %d", &ephemeral_low, &ephemeral_high) != 2)
        {
            ephemeral_low = 32768;
        }
        fclose(range);
    }
    const int first = 10000;
    const int span = ephemeral_low - first;
    if (span < 1000)
    {
        return -1; /* an unusual range: no room below it */
    }
    if (next < 0)
    {
        next = (int)(((unsigned)getpid() * 7919u) % (unsigned)span);
    }
    for (int tries = 0; tries < span; tries++)
    {
        const int port = first + next;
        next = (next + 1) % span;
        if (udp_test_port_is_free(port))
        {
            return port;
        }
    }
    return -1;
}

/* The UDP tests' driver defaults: terms of 1 MiB, as a network stream has. */
static const char *const UDP_TEST_ENV_DEFAULTS[] = { "DIR_DELETE_ON_SHUTDOWN", "1", "PUBLICATION_LINGER_MS", "200",
    "TERM_LENGTH", "1m", NULL };

/* Starts a driver and client on /dev/shm/shoal-test-<pid>-<name>; settings
 * is a NULL-terminated list of "KEY", "VALUE" pairs applied to the context. */
static inline int udp_test_env_start(shoal_test_env_t *env, const char *name, const char *const *settings)
{
    return shoal_test_env_start_settings(env, name, UDP_TEST_ENV_DEFAULTS, settings);
}

static inline void udp_test_uri(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Two embedded drivers on loopback, the publisher's and the subscriber's,
 * and a unicast channel on a free port between them. */
typedef struct
{
    shoal_test_env_t pub_env;
    shoal_test_env_t sub_env;
    int port;
    char uri[256];
} udp_test_pair_t;

static inline void udp_test_pair_stop(udp_test_pair_t *p)
{
    shoal_test_env_stop(&p->pub_env);
    shoal_test_env_stop(&p->sub_env);
}

/* Starts both drivers (named name-pub<n>, name-sub<n>) with their settings
 * ("KEY", "VALUE" lists or NULL). */
static inline int udp_test_pair_start(udp_test_pair_t *p, const char *name, const char *const *pub_settings,
    const char *const *sub_settings)
{
    static int n = 0;
    char env_name[64];
    snprintf(env_name, sizeof(env_name), "%s-pub%d", name, n);
    int rc = udp_test_env_start(&p->pub_env, env_name, pub_settings);
    snprintf(env_name, sizeof(env_name), "%s-sub%d", name, n++);
    if (rc < 0 || udp_test_env_start(&p->sub_env, env_name, sub_settings) < 0)
    {
        udp_test_pair_stop(p);
        return -1;
    }
    p->port = udp_test_free_port();
    udp_test_uri(p->uri, sizeof(p->uri), "aeron:udp?endpoint=127.0.0.1:%d", p->port);
    return 0;
}

/* The transport a test runs over: IPC through one driver, or UDP between a
 * pair of drivers; uri is "aeron:ipc" or the pair's channel. */
typedef struct
{
    shoal_test_env_t env; /* IPC */
    udp_test_pair_t pair; /* UDP */
    bool udp;
    const char *uri;
} udp_test_media_t;

/* Starts the driver (named name<n>) or the pair (see udp_test_pair_start). */
static inline int udp_test_media_start(udp_test_media_t *m, bool udp, const char *name)
{
    static int n = 0;
    m->udp = udp;
    if (udp)
    {
        int rc = udp_test_pair_start(&m->pair, name, NULL, NULL);
        m->uri = m->pair.uri;
        return rc;
    }
    char env_name[64];
    snprintf(env_name, sizeof(env_name), "%s%d", name, n++);
    m->uri = "aeron:ipc";
    return shoal_test_env_start(&m->env, env_name);
}

static inline void udp_test_media_stop(udp_test_media_t *m)
{
    if (m->udp)
    {
        udp_test_pair_stop(&m->pair);
    }
    else
    {
        shoal_test_env_stop(&m->env);
    }
}

static inline shoal_client_t *udp_test_media_pub_client(const udp_test_media_t *m)
{
    return m->udp ? m->pair.pub_env.client : m->env.client;
}

static inline shoal_client_t *udp_test_media_sub_client(const udp_test_media_t *m)
{
    return m->udp ? m->pair.sub_env.client : m->env.client;
}

/* A cmocka teardown for a fixture that is a udp_test_pair_t. */
static inline int udp_test_pair_teardown(void **state)
{
    udp_test_pair_stop(*state);
    free(*state);
    return 0;
}

/* Value of a counter of the driver in dir (system counters: id = enum value). */
static inline int64_t udp_test_counter(const char *dir, int32_t id)
{
    shoal_cnc_view_t view;
    if (shoal_cnc_map(dir, false, 1000, &view) < 0)
    {
        return -1;
    }
    int64_t v = shoal_load_acquire(shoal_counter_addr(view.counters_values, id));
    shoal_cnc_unmap(&view);
    return v;
}

/* Waits until a system counter reaches at least min; returns its value. */
static inline int64_t udp_test_wait_counter(const char *dir, int32_t id, int64_t min, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    int64_t v;
    while ((v = udp_test_counter(dir, id)) < min && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(2);
    }
    return v;
}

typedef struct
{
    const char *label_prefix;
    int64_t total;
    int found;
} udp_counter_sum_t;

static inline void udp_sum_counter(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length,
    const char *label, size_t label_length, int64_t value, void *clientd)
{
    (void)id;
    (void)type_id;
    (void)key;
    (void)key_length;
    udp_counter_sum_t *s = clientd;
    size_t n = strlen(s->label_prefix);
    if (label_length >= n && 0 == memcmp(label, s->label_prefix, n))
    {
        s->total += value;
        s->found++;
    }
}

/* Sum of the counters whose label starts with prefix; -1 if none. */
static inline int64_t udp_test_counter_by_label(const char *dir, const char *prefix)
{
    shoal_cnc_view_t view;
    if (shoal_cnc_map(dir, false, 1000, &view) < 0)
    {
        return -1;
    }
    shoal_counters_reader_t reader;
    udp_counter_sum_t sum = { prefix, 0, 0 };
    if (0 ==
        shoal_counters_reader_init(&reader, view.counters_metadata, (size_t)view.meta->counters_metadata_buffer_length,
            view.counters_values, (size_t)view.meta->counters_values_buffer_length))
    {
        shoal_counters_reader_foreach(&reader, udp_sum_counter, &sum);
    }
    shoal_cnc_unmap(&view);
    return sum.found ? sum.total : -1;
}

/* Waits until the labelled counters sum to at least min; returns the sum. */
static inline int64_t udp_test_wait_label(const char *dir, const char *prefix, int64_t min, int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    int64_t v;
    while ((v = udp_test_counter_by_label(dir, prefix)) < min && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(2);
    }
    return v;
}

/* A message length for the UDP stream tests from a random 64-bit x:
 * pct_small percent small ([small_min, 200)), up to 95 % up to one mtu
 * ([200, 1400)), the rest fragmented ([1400, 5600): up to ~4 mtus), so a
 * lost fragment must drop a whole message, never deliver part of it. */
static inline size_t udp_test_message_length(uint64_t x, uint32_t pct_small, size_t small_min)
{
    uint32_t pick = (uint32_t)(x % 100);
    uint32_t v = (uint32_t)(x >> 32);
    if (pick < pct_small)
    {
        return small_min + v % (200 - small_min);
    }
    if (pick < 95)
    {
        return 200 + v % 1200;
    }
    return 1400 + v % 4200;
}

/* A random-looking 64-bit value derived from seq alone (the receiver
 * recomputes a message's length from its sequence number). */
static inline uint64_t udp_test_seq_hash(uint64_t seq)
{
    uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 29);
}

#endif
