/* reliable=false over UDP under injected loss: the receiver pads over every
 * gap instead of NAKing (and an unreliable publication answers the NAKs of
 * a reliable subscription with padding instead of data), so the subscriber
 * gets an in-order subset of the messages, whole and intact, never stalls,
 * reaches the publisher's final position, and the gaps are counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "udp_test_util.h"

#define MESSAGES    20000
#define MAX_MESSAGE 6000

/* 85 % small, 10 % up to one mtu, 5 % fragmented (up to ~4 mtus). */
static size_t message_length(uint64_t seq)
{
    return udp_test_message_length(udp_test_seq_hash(seq), 85, 16);
}

/* seq in the first 8 bytes, then bytes derived from seq. */
static void message_fill(uint8_t *buf, size_t len, uint64_t seq)
{
    memcpy(buf, &seq, sizeof(seq));
    for (size_t i = sizeof(seq); i < len; i++)
    {
        buf[i] = (uint8_t)(seq * 31 + i * 7);
    }
}

typedef struct
{
    int64_t received;
    int64_t jumps;  /* times the sequence skipped ahead: gaps the application saw */
    int64_t errors; /* out of order, duplicate, wrong length or content */
    int64_t last_seq;
    int64_t last_delivery_ms;
    uint8_t expected[MAX_MESSAGE];
} checker_t;

static void check(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    checker_t *c = clientd;
    uint64_t seq = 0;
    if (len >= sizeof(seq))
    {
        memcpy(&seq, buf, sizeof(seq));
    }
    if (len < sizeof(seq) || (int64_t)seq <= c->last_seq || seq >= MESSAGES || len != message_length(seq))
    {
        if (c->errors++ < 5)
        {
            fprintf(stderr, "bad message after %lld: seq %llu length %zu\n", (long long)c->last_seq,
                (unsigned long long)seq, len);
        }
        return;
    }
    message_fill(c->expected, len, seq);
    if (0 != memcmp(buf, c->expected, len))
    {
        c->errors++;
    }
    if ((int64_t)seq != c->last_seq + 1)
    {
        c->jumps++;
    }
    c->last_seq = (int64_t)seq;
    c->received++;
    c->last_delivery_ms = shoal_test_now_ms();
}

static void keep_image(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    /* Runs on the client conductor thread; the test thread reads it. */
    __atomic_store_n((shoal_image_t **)clientd, image, __ATOMIC_RELEASE);
}

typedef struct
{
    const char *pub_params; /* appended to the publication URI */
    const char *sub_params; /* appended to the subscription URI */
    const char *loss;       /* subscriber driver's receive loss rate */
    bool expect_naks;
} scenario_t;

typedef struct
{
    checker_t *checker;
    int64_t gap_fills, naks, retransmits, longest_stall_ms;
} outcome_t;

static outcome_t run(const char *name, const scenario_t *s)
{
    outcome_t outcome;
    outcome_t *out = &outcome;
    const char *sub_settings[] = { "RCV_LOSS_RATE", s->loss, "LOSS_SEED", "5", NULL };
    shoal_test_env_t pub_env, sub_env;
    char env_name[64];
    snprintf(env_name, sizeof(env_name), "%s-pub", name);
    assert_int_equal(0, udp_test_env_start(&pub_env, env_name, NULL));
    snprintf(env_name, sizeof(env_name), "%s-sub", name);
    assert_int_equal(0, udp_test_env_start(&sub_env, env_name, sub_settings));
    int port = udp_test_free_port();
    char pub_uri[160], sub_uri[160];
    udp_test_uri(pub_uri, sizeof(pub_uri), "aeron:udp?endpoint=127.0.0.1:%d|term-length=256k%s", port, s->pub_params);
    udp_test_uri(sub_uri, sizeof(sub_uri), "aeron:udp?endpoint=127.0.0.1:%d%s", port, s->sub_params);
    shoal_image_t *image = NULL;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0,
        shoal_add_subscription_with_handlers(sub_env.client, sub_uri, 9, keep_image, NULL, &image, &sub));
    assert_int_equal(0, shoal_add_exclusive_publication(pub_env.client, pub_uri, 9, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));

    checker_t *c = calloc(1, sizeof(*c));
    c->last_seq = -1;
    c->last_delivery_ms = shoal_test_now_ms();
    uint8_t buf[MAX_MESSAGE];
    uint64_t sent = 0;
    int64_t longest_stall = 0;
    int64_t deadline = shoal_test_now_ms() + 60000;
    while (sent < MESSAGES && shoal_test_now_ms() < deadline)
    {
        for (int k = 0; k < 32 && sent < MESSAGES; k++)
        {
            size_t len = message_length(sent);
            message_fill(buf, len, sent);
            int64_t r = shoal_publication_offer(pub, buf, len);
            if (r > 0)
            {
                sent++;
            }
            else if (SHOAL_BACK_PRESSURED == r || SHOAL_NOT_CONNECTED == r || SHOAL_ADMIN_ACTION == r)
            {
                break;
            }
            else
            {
                fail_msg("offer: %lld %s", (long long)r, shoal_errmsg());
            }
        }
        shoal_subscription_poll(sub, check, c, 256);
        int64_t stall = shoal_test_now_ms() - c->last_delivery_ms;
        longest_stall = stall > longest_stall ? stall : longest_stall;
    }
    assert_int_equal(MESSAGES, sent);
    /* The tail too: lost last frames are found through heartbeats and padded,
     * so this subscription's position reaches the publisher's. */
    int64_t end = shoal_publication_position(pub);
    image = __atomic_load_n(&image, __ATOMIC_ACQUIRE);
    assert_non_null(image);
    int64_t settle = shoal_test_now_ms() + 10000;
    while (shoal_image_position(image) < end && shoal_test_now_ms() < settle)
    {
        shoal_subscription_poll(sub, check, c, 256);
    }
    assert_int_equal(end, shoal_image_position(image));

    out->checker = c;
    out->gap_fills = udp_test_counter(sub_env.dir, SHOAL_SYSTEM_COUNTER_LOSS_GAP_FILLS);
    out->naks = udp_test_counter(sub_env.dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
    out->retransmits = udp_test_counter(pub_env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
    out->longest_stall_ms = longest_stall;
    printf("%s: loss %s, %lld/%d messages delivered in order, %lld gaps seen by the application, "
           "%lld gap fills, NAKs %lld, retransmits %lld, longest wait for a message %lld ms\n",
        name, s->loss, (long long)c->received, MESSAGES, (long long)c->jumps, (long long)out->gap_fills,
        (long long)out->naks, (long long)out->retransmits, (long long)longest_stall);
    fflush(stdout);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    shoal_test_env_stop(&pub_env);
    shoal_test_env_stop(&sub_env);
    return outcome;
}

/* What moving on under loss looks like to the application: an intact,
 * in-order subset of the stream with gaps in it, and no long wait. */
static void assert_most_delivered_with_gaps(const outcome_t *o)
{
    const checker_t *c = o->checker;
    assert_int_equal(0, c->errors);
    assert_true(c->received < MESSAGES);     /* a subset ... */
    assert_true(c->received > MESSAGES / 2); /* ... most of it */
    assert_true(c->jumps > 0);
    assert_true(o->longest_stall_ms < 2000);
}

static void test_unreliable_both_sides_under_loss(void **state)
{
    (void)state;
    const scenario_t s = { "|reliable=false", "|reliable=false", "0.1", false };
    outcome_t o = run("unrel", &s);
    assert_most_delivered_with_gaps(&o);
    assert_true(o.gap_fills >= o.checker->jumps); /* every skip is a counted gap fill */
    assert_int_equal(0, o.naks);                  /* nobody asked ... */
    assert_int_equal(0, o.retransmits);           /* ... nothing was sent twice */
    free(o.checker);
}

/* A reliable subscription of an unreliable publication: its NAKs are
 * answered with padding, so it moves on too (and nothing is resent). */
static void test_reliable_subscriber_of_unreliable_publication(void **state)
{
    (void)state;
    const scenario_t s = { "|reliable=false", "", "0.1", true };
    outcome_t o = run("unrel-pub", &s);
    assert_most_delivered_with_gaps(&o);
    assert_true(o.naks > 0);
    assert_int_equal(0, o.retransmits);
    assert_int_equal(0, o.gap_fills); /* the publication's padding filled them */
    free(o.checker);
}

/* Without loss an unreliable stream loses nothing: no false gap fills. */
static void test_unreliable_without_loss_delivers_everything(void **state)
{
    (void)state;
    const scenario_t s = { "|reliable=false", "|reliable=false", "0", false };
    outcome_t o = run("unrel-noloss", &s);
    assert_int_equal(0, o.checker->errors);
    assert_int_equal(MESSAGES, o.checker->received);
    assert_int_equal(0, o.checker->jumps);
    assert_int_equal(0, o.gap_fills);
    free(o.checker);
}

static void count_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf;
    (void)hdr;
    if (5 == len)
    {
        (*(int *)clientd)++;
    }
}

/* Regression: a claim a publisher never commits is padded over by the
 * unblocker, mid-term; the sender sends that PAD's header and the receiver
 * used to reject a PAD that does not end the term as invalid, so the stream
 * stalled there for good (reliable mode NAKed and got the same PAD again). */
static void test_unblocked_claim_is_stepped_over_by_the_receiver(void **state)
{
    (void)state;
    const char *pub_settings[] = { "PUBLICATION_UNBLOCK_TIMEOUT_MS", "200", NULL };
    udp_test_pair_t p;
    assert_int_equal(0, udp_test_pair_start(&p, "unblk", pub_settings, NULL));
    shoal_test_stream_t s = shoal_test_stream(p.sub_env.client, p.pub_env.client, p.uri, 10, false, false);
    assert_true(shoal_test_offer(s.pub, (const uint8_t *)"first", 5) > 0);
    shoal_claim_t claim;
    assert_true(shoal_publication_try_claim(s.pub, 100, &claim) > 0); /* never committed */
    assert_true(shoal_test_offer(s.pub, (const uint8_t *)"after", 5) > 0);
    int got = 0;
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (got < 2 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(s.sub, count_message, &got, 10);
    }
    assert_int_equal(2, got);
    assert_int_equal(0, udp_test_counter(p.sub_env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES));
    shoal_test_stream_close(&s);
    udp_test_pair_stop(&p);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_unreliable_both_sides_under_loss),
    cmocka_unit_test(test_reliable_subscriber_of_unreliable_publication),
    cmocka_unit_test(test_unreliable_without_loss_delivers_everything),
    cmocka_unit_test(test_unblocked_claim_is_stepped_over_by_the_receiver),
})
