/* Helpers for multicast and multi-destination-cast tests: one publisher
 * driver and several subscriber drivers (each its own directory, as if on
 * separate hosts) in one process over loopback, messages that carry their
 * sequence number so a late joiner can check a contiguous suffix. */
#ifndef SHOAL_UDP_MULTI_TEST_H
#define SHOAL_UDP_MULTI_TEST_H

#include <stdbool.h>

#include "udp_loss_test.h"

#define MULTI_MAX_SUBS 4

/* Multicast over loopback needs the MULTICAST flag on lo (off in many
 * containers). We set it when we may (root); otherwise the test fails with
 * this message rather than skipping silently. */
static inline int udp_test_ensure_loopback_multicast(char *why, size_t why_length)
{
    FILE *f = popen("ip link show lo 2>&1", "r");
    if (NULL == f)
    {
        snprintf(why, why_length, "cannot run 'ip link show lo' (install iproute2)");
        return -1;
    }
    char line[512];
    bool multicast = false, seen = false;
    while (NULL != fgets(line, sizeof(line), f))
    {
        seen = seen || NULL != strstr(line, "lo:");
        multicast = multicast || (NULL != strstr(line, "lo:") && NULL != strstr(line, "MULTICAST"));
    }
    int status = pclose(f);
    if (!seen || 0 != status)
    {
        snprintf(why, why_length, "'ip link show lo' failed (is iproute2 installed?)");
        return -1;
    }
    if (multicast)
    {
        return 0;
    }
    if (0 != geteuid())
    {
        snprintf(why, why_length,
            "loopback has no MULTICAST flag and we are not root: run "
            "'ip link set lo multicast on' as root, then rerun this test");
        return -1;
    }
    if (0 != system("ip link set lo multicast on"))
    {
        snprintf(why, why_length, "'ip link set lo multicast on' failed");
        return -1;
    }
    return 0;
}

/* ---- messages that name themselves: 8-byte sequence, then a pattern ---- */

static inline size_t seq_message_length(uint64_t seq)
{
    /* Mostly small, some up to an mtu, a few fragmented (~4 mtus). */
    return udp_test_message_length(udp_test_seq_hash(seq), 80, 8);
}

static inline size_t seq_message_fill(uint8_t *buf, uint64_t seq)
{
    size_t len = seq_message_length(seq);
    loss_fill(buf, len, seq);
    memcpy(buf, &seq, sizeof(seq));
    return len;
}

typedef struct
{
    uint64_t first_seq; /* of the first message seen */
    uint64_t next_seq;  /* expected next */
    uint64_t received;
    uint64_t errors;
    int64_t first_position; /* stream position after the first message */
    bool any;
    const char *name;
    uint8_t expected[8192];
} seq_checker_t;

/* Checks every message: a contiguous run from the first one seen, each
 * byte-identical to what the publisher wrote. */
static inline void seq_check(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    seq_checker_t *c = clientd;
    uint64_t seq = UINT64_MAX;
    if (len >= sizeof(seq))
    {
        memcpy(&seq, buf, sizeof(seq));
    }
    if (!c->any)
    {
        c->any = true;
        c->first_seq = seq;
        c->next_seq = seq;
        c->first_position = hdr->position;
    }
    size_t expected_len = seq == c->next_seq ? seq_message_fill(c->expected, seq) : 0;
    if (seq != c->next_seq || len != expected_len || 0 != memcmp(buf, c->expected, len))
    {
        if (c->errors++ < 5)
        {
            fprintf(stderr, "%s: message seq %llu length %zu (expected seq %llu length %zu) or content differs\n",
                NULL != c->name ? c->name : "sub", (unsigned long long)seq, len, (unsigned long long)c->next_seq,
                expected_len);
        }
    }
    c->next_seq = seq + 1;
    c->received++;
}

/* Offers message seq; true when it went (else retry later). Fails the test
 * on CLOSED / ERROR. */
static inline bool seq_offer(shoal_publication_t *pub, uint64_t seq, uint8_t *scratch)
{
    size_t len = seq_message_fill(scratch, seq);
    int64_t r = shoal_publication_offer(pub, scratch, len);
    if (r > 0)
    {
        return true;
    }
    if (SHOAL_CLOSED == r || SHOAL_ERROR == r || SHOAL_MAX_POSITION_EXCEEDED == r)
    {
        fprintf(stderr, "offer seq %llu: %lld %s\n", (unsigned long long)seq, (long long)r, shoal_errmsg());
        abort();
    }
    return false;
}

typedef struct
{
    shoal_test_env_t pub_env;
    shoal_test_env_t sub_env[MULTI_MAX_SUBS];
    int sub_count;
} multi_envs_t;

/* Starts the publisher driver and n subscriber drivers. */
static inline int multi_envs_start(multi_envs_t *m, const char *name, int n, const char *const *pub_settings,
    const char *const *sub_settings)
{
    memset(m, 0, sizeof(*m));
    char env_name[64];
    snprintf(env_name, sizeof(env_name), "%s-pub", name);
    if (udp_test_env_start(&m->pub_env, env_name, pub_settings) < 0)
    {
        return -1;
    }
    for (int i = 0; i < n; i++)
    {
        snprintf(env_name, sizeof(env_name), "%s-sub%d", name, i);
        if (udp_test_env_start(&m->sub_env[i], env_name, sub_settings) < 0)
        {
            return -1;
        }
        m->sub_count++;
    }
    return 0;
}

static inline void multi_envs_stop(multi_envs_t *m)
{
    for (int i = 0; i < m->sub_count; i++)
    {
        shoal_test_env_stop(&m->sub_env[i]);
    }
    shoal_test_env_stop(&m->pub_env);
}

/* One line per subscriber: what it received and where its driver's and the
 * publisher's position counters stand (to read a stall or a loss from). */
static inline void multi_envs_print_subscriber(const multi_envs_t *m, int i, uint64_t received)
{
    printf("  sub %d: %llu messages, rcv-pos %lld rcv-hwm %lld sub-pos %lld, NAKs %lld; snd-pos %lld snd-lmt %lld\n", i,
        (unsigned long long)received, (long long)udp_test_counter_by_label(m->sub_env[i].dir, "rcv-pos"),
        (long long)udp_test_counter_by_label(m->sub_env[i].dir, "rcv-hwm"),
        (long long)udp_test_counter_by_label(m->sub_env[i].dir, "sub-pos"),
        (long long)udp_test_counter(m->sub_env[i].dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT),
        (long long)udp_test_counter_by_label(m->pub_env.dir, "snd-pos"),
        (long long)udp_test_counter_by_label(m->pub_env.dir, "snd-lmt"));
}

#endif
