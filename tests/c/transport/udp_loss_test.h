/* Loss test body shared by the 10 % and 30 % executables: N messages of
 * random sizes (1 B .. ~4 MTUs) over a lossy loopback, checked in order,
 * exactly once and byte for byte. Loss is injected by the drivers' own
 * generators in both directions: the subscriber's driver drops rate of the
 * DATA/SETUP/heartbeat datagrams it receives, the publisher's driver rate of
 * the SMs/NAKs/RTT replies it receives. */
#ifndef SHOAL_UDP_LOSS_TEST_H
#define SHOAL_UDP_LOSS_TEST_H

#include "udp_test_util.h"

typedef struct
{
    uint64_t state;
} loss_rng_t;

static inline uint64_t loss_rng_next(loss_rng_t *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* 80 % small, 15 % up to one mtu, 5 % up to ~4 mtus (fragmented). */
static inline size_t loss_message_length(loss_rng_t *r)
{
    return udp_test_message_length(loss_rng_next(r), 80, 1);
}

static inline void loss_fill(uint8_t *buf, size_t len, uint64_t seq)
{
    uint64_t x = seq * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < len; i++)
    {
        buf[i] = (uint8_t)(x >> ((i & 7) * 8)) ^ (uint8_t)i;
        if (7 == (i & 7))
        {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        }
    }
}

typedef struct
{
    loss_rng_t rng;
    uint64_t next_seq;
    uint64_t errors;
    uint8_t expected[8192];
} loss_checker_t;

static inline void loss_check(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    loss_checker_t *c = clientd;
    size_t expected_len = loss_message_length(&c->rng);
    loss_fill(c->expected, expected_len, c->next_seq);
    if (len != expected_len || 0 != memcmp(buf, c->expected, len))
    {
        if (c->errors++ < 5)
        {
            fprintf(stderr, "message %llu: length %zu (expected %zu) or content differs\n",
                (unsigned long long)c->next_seq, len, expected_len);
        }
    }
    c->next_seq++;
}

static inline long loss_test_messages(long fallback)
{
    const char *v = getenv("SHOAL_TEST_LOSS_MESSAGES");
    return NULL != v ? atol(v) : fallback;
}

/* The publishing side of a loss run: message i has a random length from rng
 * and content loss_fill(i); one that meets back pressure is offered again. */
typedef struct
{
    loss_rng_t rng;
    size_t pending_len;
    bool have_pending;
    uint64_t sent;
    uint64_t bytes;
    uint8_t buf[8192];
} loss_sender_t;

/* Offers up to 64 messages, stopping at back pressure; -1 on an offer error. */
static inline int loss_offer_burst(loss_sender_t *s, shoal_publication_t *pub, uint64_t messages)
{
    for (int k = 0; k < 64 && s->sent < messages; k++)
    {
        if (!s->have_pending)
        {
            s->pending_len = loss_message_length(&s->rng);
            loss_fill(s->buf, s->pending_len, s->sent);
            s->have_pending = true;
        }
        int64_t r = shoal_publication_offer(pub, s->buf, s->pending_len);
        if (r > 0)
        {
            s->bytes += s->pending_len;
            s->sent++;
            s->have_pending = false;
        }
        else if (SHOAL_BACK_PRESSURED == r || SHOAL_NOT_CONNECTED == r)
        {
            break;
        }
        else if (SHOAL_ADMIN_ACTION != r)
        {
            fprintf(stderr, "offer failed: %lld %s\n", (long long)r, shoal_errmsg());
            return -1;
        }
    }
    return 0;
}

/* Returns 0 when every message arrived once, in order, intact. */
static inline int run_loss_test(const char *name, const char *rate, const char *term_length, long messages,
    int64_t timeout_ms)
{
    const char *pub_settings[] = { "RCV_LOSS_RATE", rate, "LOSS_SEED", "7", NULL };
    const char *sub_settings[] = { "RCV_LOSS_RATE", rate, "LOSS_SEED", "11", NULL };
    shoal_test_env_t pub_env, sub_env;
    char pub_name[64], sub_name[64];
    snprintf(pub_name, sizeof(pub_name), "%s-pub", name);
    snprintf(sub_name, sizeof(sub_name), "%s-sub", name);
    if (udp_test_env_start(&pub_env, pub_name, pub_settings) < 0 ||
        udp_test_env_start(&sub_env, sub_name, sub_settings) < 0)
    {
        return -1;
    }
    int port = udp_test_free_port();
    char uri[256];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d|term-length=%s", port, term_length);
    shoal_subscription_t *sub = NULL;
    shoal_publication_t *pub = NULL;
    if (shoal_add_subscription(sub_env.client, uri, 77, &sub) < 0 ||
        shoal_add_exclusive_publication(pub_env.client, uri, 77, &pub) < 0 || shoal_test_wait_connected(pub) < 0)
    {
        fprintf(stderr, "loss test setup: %s\n", shoal_errmsg());
        return -1;
    }
    loss_checker_t *checker = calloc(1, sizeof(*checker));
    checker->rng.state = 0x1234567ULL;
    loss_sender_t sender = { { 0x1234567ULL }, 0, false, 0, 0, { 0 } };
    int64_t start = shoal_test_now_ms();
    int64_t deadline = start + timeout_ms;
    while (checker->next_seq < (uint64_t)messages && shoal_test_now_ms() < deadline)
    {
        if (loss_offer_burst(&sender, pub, (uint64_t)messages) < 0)
        {
            return -1;
        }
        shoal_subscription_poll(sub, loss_check, checker, 256);
    }
    int64_t elapsed = shoal_test_now_ms() - start;
    /* A little longer: nothing more (no duplicates) may arrive. */
    int64_t settle = shoal_test_now_ms() + 200;
    while (shoal_test_now_ms() < settle)
    {
        shoal_subscription_poll(sub, loss_check, checker, 256);
    }
    int64_t naks = udp_test_counter(sub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
    int64_t retransmits = udp_test_counter(pub_env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
    int64_t dropped_bytes = udp_test_counter(sub_env.dir, SHOAL_SYSTEM_COUNTER_BYTES_RECEIVED);
    printf("loss test %s: term %s, loss rate %s each way, %llu/%ld messages (%.1f MB payload) in %.2f s (%.0f msg/s), "
           "%llu errors, NAKs sent %lld, retransmits %lld, bytes received incl. dropped %lld\n",
        name, term_length, rate, (unsigned long long)checker->next_seq, messages, (double)sender.bytes / 1e6,
        (double)elapsed / 1000.0, (double)checker->next_seq * 1000.0 / (double)(elapsed > 0 ? elapsed : 1),
        (unsigned long long)checker->errors, (long long)naks, (long long)retransmits, (long long)dropped_bytes);
    /* The NAK defences must not be what holds loss recovery back. */
    printf("loss test %s: NAKs over retransmit budget %lld, from unknown receivers %lld\n", name,
        (long long)udp_test_counter(pub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET),
        (long long)udp_test_counter(pub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS));
    fflush(stdout);
    int rc = (checker->next_seq == (uint64_t)messages && 0 == checker->errors) ? 0 : -1;
    free(checker);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    shoal_test_env_stop(&pub_env);
    shoal_test_env_stop(&sub_env);
    return rc;
}

#endif
