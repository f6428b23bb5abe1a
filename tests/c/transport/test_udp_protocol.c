/* The Aeron UDP protocol as seen from the wire: the test plays the remote
 * peer with a raw socket, against a publishing driver (the test is the
 * receiver) and a subscribing driver (the test is the sender). Also feeds
 * both malformed and hostile datagrams, which must be dropped and counted
 * in INVALID_FRAMES without disturbing the stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>

#include "../shoal_test_main.h"
#include "udp_test_util.h"
#include "protocol/shoal_frames.h"

typedef struct
{
    shoal_test_env_t env;
    int fd;
    struct sockaddr_in local;
    int port;
} fixture_t;

static int open_peer(fixture_t *f)
{
    f->fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&f->local, 0, sizeof(f->local));
    f->local.sin_family = AF_INET;
    f->local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(f->local);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&f->local, sizeof(f->local)) < 0 ||
        getsockname(f->fd, (struct sockaddr *)&f->local, &len) < 0)
    {
        return -1;
    }
    f->port = ntohs(f->local.sin_port);
    return 0;
}

static int setup_with(void **state, const char *const *settings)
{
    if (shoal_test_env_setup_sized(state, sizeof(fixture_t), "udp-proto", UDP_TEST_ENV_DEFAULTS, settings) < 0)
    {
        return -1;
    }
    return open_peer(*state);
}

static int setup(void **state)
{
    static const char *const settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "2000", NULL };
    return setup_with(state, settings);
}

/* A NAK retry floor long enough to tell its timers apart on a busy machine. */
#define SLOW_RETRY_MS 50
static int setup_slow_retry(void **state)
{
    static const char *const settings[] = { "IMAGE_LIVENESS_TIMEOUT_MS", "5000", "NAK_RETRY_DELAY_US", "50000", NULL };
    return setup_with(state, settings);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    close(f->fd);
    shoal_test_env_stop(&f->env);
    free(f);
    return 0;
}

/* Receives a datagram of the given type (others are skipped), up to timeout. */
static ssize_t recv_type(fixture_t *f, int type, uint8_t *buf, size_t cap, struct sockaddr_in *from, int timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    for (;;)
    {
        int64_t left = deadline - shoal_test_now_ms();
        if (left <= 0)
        {
            return -1;
        }
        struct pollfd p = { f->fd, POLLIN, 0 };
        if (poll(&p, 1, (int)left) <= 0)
        {
            return -1;
        }
        socklen_t len = sizeof(*from);
        ssize_t n = recvfrom(f->fd, buf, cap, 0, (struct sockaddr *)from, &len);
        if (n >= 8 && (type < 0 || ((const shoal_frame_header_t *)buf)->type == type))
        {
            return n;
        }
    }
}

/* The next DATA frame with a payload (heartbeats skipped). */
static ssize_t recv_data(fixture_t *f, uint8_t *buf, size_t cap, struct sockaddr_in *from, int timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (shoal_test_now_ms() < deadline)
    {
        ssize_t n = recv_type(f, SHOAL_HDR_TYPE_DATA, buf, cap, from, (int)(deadline - shoal_test_now_ms()));
        if (n > 0 && ((shoal_data_header_t *)buf)->frame_header.frame_length > 0)
        {
            return n;
        }
    }
    return -1;
}

static void send_to(fixture_t *f, const void *buf, size_t len, const struct sockaddr_in *to)
{
    assert_int_equal((ssize_t)len, sendto(f->fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)));
}

static void drain(fixture_t *f)
{
    uint8_t buf[2048];
    while (recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
    {
    }
}

/* ---- the test as a receiver of a driver's publication ---- */

/* An exclusive publication of the driver to the test's socket, with the
 * first SETUP the socket got and the address it came from. */
typedef struct
{
    shoal_publication_t *pub;
    int32_t session_id;
    shoal_setup_header_t setup;
    struct sockaddr_in sender;
} peer_publication_t;

/* uri_keys are appended to the channel. */
static peer_publication_t publish_to_peer(fixture_t *f, const char *uri_keys, int32_t stream_id)
{
    peer_publication_t p;
    char uri[128];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d%s", f->port, uri_keys);
    assert_int_equal(0, shoal_add_exclusive_publication(f->env.client, uri, stream_id, &p.pub));
    p.session_id = shoal_publication_session_id(p.pub);
    uint8_t buf[2048];
    assert_int_equal(SHOAL_SETUP_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_SETUP, buf, sizeof(buf), &p.sender, 2000));
    memcpy(&p.setup, buf, sizeof(p.setup));
    return p;
}

static void test_publication_speaks_aeron(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[2048];
    /* SETUP until a status message comes. */
    peer_publication_t p = publish_to_peer(f, "", 42);
    assert_int_equal(SHOAL_SETUP_HEADER_LENGTH, p.setup.frame_header.frame_length);
    assert_int_equal(0, p.setup.frame_header.version);
    assert_int_equal(p.session_id, p.setup.session_id);
    assert_int_equal(42, p.setup.stream_id);
    assert_int_equal(1024 * 1024, p.setup.term_length);
    assert_int_equal(1408, p.setup.mtu);
    assert_int_equal(p.setup.initial_term_id, p.setup.active_term_id);
    assert_int_equal(0, p.setup.term_offset);
    assert_int_equal(SHOAL_SETUP_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_SETUP, buf, sizeof(buf), &p.sender, 500));
    assert_false(shoal_publication_is_connected(p.pub));
    assert_int_equal(SHOAL_NOT_CONNECTED, shoal_publication_offer(p.pub, (const uint8_t *)"x", 1));

    shoal_status_message_header_t sm = { { SHOAL_SM_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_SM }, p.session_id, 42,
        p.setup.active_term_id, 0, 64 * 1024, 4242 };
    send_to(f, &sm, sizeof(sm), &p.sender);
    assert_int_equal(0, shoal_test_wait_connected(p.pub));

    assert_true(shoal_test_offer(p.pub, (const uint8_t *)"abc", 3) > 0);
    ssize_t n = recv_data(f, buf, sizeof(buf), &p.sender, 2000);
    assert_true(n >= 35);
    shoal_data_header_t data;
    memcpy(&data, buf, sizeof(data));
    assert_int_equal(35, data.frame_header.frame_length);
    assert_int_equal(SHOAL_FRAME_FLAG_UNFRAGMENTED, data.frame_header.flags);
    assert_int_equal(0, data.term_offset);
    assert_int_equal(p.session_id, data.session_id);
    assert_int_equal(42, data.stream_id);
    assert_int_equal(p.setup.initial_term_id, data.term_id);
    assert_memory_equal("abc", buf + 32, 3);

    /* NAK: the frame comes again, identical. */
    shoal_nak_header_t nak = { { SHOAL_NAK_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_NAK }, p.session_id, 42,
        p.setup.initial_term_id, 0, 64 };
    send_to(f, &nak, sizeof(nak), &p.sender);
    uint8_t again[2048];
    assert_int_equal(n, recv_data(f, again, sizeof(again), &p.sender, 2000));
    assert_memory_equal(buf, again, (size_t)n);
    assert_true(udp_test_wait_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT, 1, 1000) >= 1);
    assert_true(udp_test_wait_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED, 1, 1000) >= 1);

    /* RTT measurement: answered with the reply flag and our timestamp. */
    shoal_rttm_header_t rttm = { { SHOAL_RTTM_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_RTTM }, p.session_id, 42, 123456789,
        0, 4242 };
    send_to(f, &rttm, sizeof(rttm), &p.sender);
    assert_int_equal(SHOAL_RTTM_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_RTTM, buf, sizeof(buf), &p.sender, 2000));
    shoal_rttm_header_t reply;
    memcpy(&reply, buf, sizeof(reply));
    assert_int_equal(SHOAL_RTTM_FLAG_REPLY, reply.frame_header.flags);
    assert_int_equal(123456789, reply.echo_timestamp);
    assert_int_equal(4242, reply.receiver_id);

    /* Idle: heartbeats at the sender position (after the 64-byte aligned frame). */
    sm.consumption_term_offset = 64;
    send_to(f, &sm, sizeof(sm), &p.sender);
    drain(f);
    int64_t before = shoal_test_now_ms();
    assert_int_equal(SHOAL_DATA_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_DATA, buf, sizeof(buf), &p.sender, 1000));
    assert_true(shoal_test_now_ms() - before <= 300);
    memcpy(&data, buf, sizeof(data));
    assert_int_equal(0, data.frame_header.frame_length);
    assert_int_equal(64, data.term_offset);
    assert_int_equal(0, data.frame_header.flags & SHOAL_FRAME_FLAG_EOS);

    /* Hostile control frames: dropped and counted, the stream goes on. */
    int64_t invalid = udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES);
    send_to(f, &sm, 20, &p.sender); /* truncated SM */
    shoal_status_message_header_t bad = sm;
    bad.frame_header.type = 0x77; /* unknown type */
    send_to(f, &bad, sizeof(bad), &p.sender);
    bad = sm;
    bad.frame_header.version = 1; /* unknown version */
    send_to(f, &bad, sizeof(bad), &p.sender);
    bad = sm;
    bad.frame_header.frame_length = 4000; /* longer than the datagram */
    send_to(f, &bad, sizeof(bad), &p.sender);
    shoal_nak_header_t wrong = nak;
    wrong.session_id = p.session_id + 1; /* nobody's session */
    send_to(f, &wrong, sizeof(wrong), &p.sender);
    nak.term_offset = 1 << 30; /* huge offset: ignored (not a frame error) */
    send_to(f, &nak, sizeof(nak), &p.sender);
    nak.term_offset = -64;
    send_to(f, &nak, sizeof(nak), &p.sender);
    sm.consumption_term_offset = 1 << 20; /* a position never sent: ignored */
    sm.receiver_window = 1 << 30;
    send_to(f, &sm, sizeof(sm), &p.sender);
    int64_t deadline = shoal_test_now_ms() + 2000;
    while (udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES) < invalid + 5 &&
        shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    assert_int_equal(invalid + 5, udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES));
    assert_true(udp_test_counter_by_label(f->env.dir, "snd-channel invalid frames") >= 5);
    drain(f);
    assert_true(shoal_test_offer(p.pub, (const uint8_t *)"defg", 4) > 0);
    n = recv_data(f, buf, sizeof(buf), &p.sender, 2000);
    assert_true(n >= 36);
    memcpy(&data, buf, sizeof(data));
    assert_int_equal(64, data.term_offset);
    assert_memory_equal("defg", buf + 32, 4);

    /* Acknowledge everything, close: heartbeats carry EOS. */
    sm.consumption_term_offset = 128;
    sm.receiver_window = 64 * 1024;
    send_to(f, &sm, sizeof(sm), &p.sender);
    shoal_publication_close(p.pub);
    bool eos = false;
    deadline = shoal_test_now_ms() + 2000;
    while (!eos && shoal_test_now_ms() < deadline)
    {
        if (recv_type(f, SHOAL_HDR_TYPE_DATA, buf, sizeof(buf), &p.sender, 500) == SHOAL_DATA_HEADER_LENGTH)
        {
            memcpy(&data, buf, sizeof(data));
            eos = (data.frame_header.flags & SHOAL_FRAME_FLAG_EOS) && 128 == data.term_offset;
        }
    }
    assert_true(eos);
}

/* ---- the test as a sender into a driver's subscription ---- */

typedef struct
{
    int count;
    char last[256];
    size_t last_len;
    char all[1024];
} collected_t;

static void collect(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    collected_t *c = clientd;
    c->count++;
    c->last_len = len < sizeof(c->last) ? len : sizeof(c->last);
    memcpy(c->last, buf, c->last_len);
    strncat(c->all, (const char *)buf, len < 64 ? len : 64);
}

#define TERM_LENGTH  (64 * 1024)
#define INITIAL_TERM 100
#define SESSION      1234
#define STREAM       5

static size_t data_frame(uint8_t *out, int32_t term_offset, const char *payload)
{
    size_t len = strlen(payload);
    shoal_data_header_t h = { { (int32_t)(32 + len), 0, SHOAL_FRAME_FLAG_UNFRAGMENTED, SHOAL_HDR_TYPE_DATA },
        term_offset, SESSION, STREAM, INITIAL_TERM, 0 };
    memcpy(out, &h, sizeof(h));
    memcpy(out + 32, payload, len);
    return 32 + len;
}

/* One data frame of the test's stream carrying payload at term_offset. */
static void send_data(fixture_t *f, const struct sockaddr_in *endpoint, int32_t term_offset, const char *payload)
{
    uint8_t buf[256];
    const size_t n = data_frame(buf, term_offset, payload);
    send_to(f, buf, n, endpoint);
}

static int poll_for(shoal_subscription_t *sub, collected_t *c, int expected, int timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (c->count < expected && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, collect, c, 10);
    }
    return c->count;
}

/* A subscription of the driver on a free loopback port: where the test sends. */
static void subscribe_on_free_port(fixture_t *f, shoal_subscription_t **sub, struct sockaddr_in *endpoint)
{
    int port = udp_test_free_port();
    char uri[128];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", port);
    assert_int_equal(0, shoal_add_subscription(f->env.client, uri, STREAM, sub));
    memset(endpoint, 0, sizeof(*endpoint));
    endpoint->sin_family = AF_INET;
    endpoint->sin_port = htons((uint16_t)port);
    endpoint->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    shoal_test_sleep_ms(20); /* the receiver binds on the conductor's next cycle */
}

static void test_subscription_speaks_aeron(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *sub;
    struct sockaddr_in endpoint;
    subscribe_on_free_port(f, &sub, &endpoint);

    uint8_t buf[2048], in[2048];
    struct sockaddr_in from;
    /* DATA before any SETUP: the receiver asks for one (SM with the SETUP flag). */
    send_data(f, &endpoint, 0, "early");
    assert_int_equal(SHOAL_SM_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_SM, in, sizeof(in), &from, 2000));
    shoal_status_message_header_t sm;
    memcpy(&sm, in, sizeof(sm));
    assert_int_equal(SHOAL_SM_FLAG_SETUP, sm.frame_header.flags);
    assert_int_equal(SESSION, sm.session_id);
    assert_int_equal(STREAM, sm.stream_id);
    assert_int_equal(0, udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES));

    shoal_setup_header_t setup = { { SHOAL_SETUP_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_SETUP }, 0, SESSION, STREAM,
        INITIAL_TERM, INITIAL_TERM, TERM_LENGTH, 1408, 0 };
    send_to(f, &setup, sizeof(setup), &endpoint);
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 2000));
    /* The image answers with a status message: position 0, a window. */
    do
    {
        assert_int_equal(SHOAL_SM_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_SM, in, sizeof(in), &from, 2000));
        memcpy(&sm, in, sizeof(sm));
    }
    while (sm.frame_header.flags & SHOAL_SM_FLAG_SETUP);
    assert_int_equal(INITIAL_TERM, sm.consumption_term_id);
    assert_int_equal(0, sm.consumption_term_offset);
    assert_true(sm.receiver_window >= 32 * 1024);
    int64_t receiver_id = sm.receiver_id;

    collected_t *c = calloc(1, sizeof(*c));
    send_data(f, &endpoint, 0, "one");
    assert_int_equal(1, poll_for(sub, c, 1, 2000));
    assert_memory_equal("one", c->last, 3);

    /* Frame at 64 lost, frame at 128 arrives: a NAK for [64, 128). */
    drain(f);
    send_data(f, &endpoint, 128, "three");
    shoal_nak_header_t nak;
    assert_int_equal(SHOAL_NAK_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_NAK, in, sizeof(in), &from, 2000));
    memcpy(&nak, in, sizeof(nak));
    assert_int_equal(SESSION, nak.session_id);
    assert_int_equal(STREAM, nak.stream_id);
    assert_int_equal(INITIAL_TERM, nak.term_id);
    assert_int_equal(64, nak.term_offset);
    assert_int_equal(64, nak.length);
    assert_int_equal(1, poll_for(sub, c, 2, 50));
    /* Not filled: NAKed again after the retry delay. */
    assert_int_equal(SHOAL_NAK_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_NAK, in, sizeof(in), &from, 2000));
    send_data(f, &endpoint, 64, "two");
    assert_int_equal(3, poll_for(sub, c, 3, 2000));
    assert_string_equal("onetwothree", c->all);

    /* Hostile DATA: dropped and counted, the image unharmed. */
    int64_t invalid = udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES);
    int expected_invalid = 0;
    size_t n = data_frame(buf, 192, "four");
    send_to(f, buf, 20, &endpoint);
    expected_invalid++; /* truncated header */
    shoal_data_header_t *h = (shoal_data_header_t *)buf;
    h->frame_header.frame_length = 500;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* longer than datagram */
    h->frame_header.frame_length = 20;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* shorter than a header */
    h->frame_header.frame_length = (int32_t)n;
    h->term_offset = 1 << 30;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* beyond the term */
    h->term_offset = -32;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* negative */
    h->term_offset = 200;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* not 32-aligned */
    h->term_offset = TERM_LENGTH - 32;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* crosses the term end */
    h->term_offset = 192;
    h->frame_header.type = 0x42;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* unknown type */
    h->frame_header.type = SHOAL_HDR_TYPE_DATA;
    h->frame_header.version = 9;
    send_to(f, buf, n, &endpoint);
    expected_invalid++; /* unknown version */
    h->frame_header.version = 0;
    {
        /* two frames in one datagram, the second of another session */
        uint8_t two[128];
        memset(two, 0, sizeof(two));
        data_frame(two, 192, "four");
        data_frame(two + 64, 256, "five");
        ((shoal_data_header_t *)(two + 64))->session_id = SESSION + 1;
        send_to(f, two, 64 + 37, &endpoint);
        expected_invalid++;
        /* second frame at the wrong offset */
        ((shoal_data_header_t *)(two + 64))->session_id = SESSION;
        ((shoal_data_header_t *)(two + 64))->term_offset = 320;
        send_to(f, two, 64 + 37, &endpoint);
        expected_invalid++;
        /* a PAD that runs past the term end (one inside the term is valid:
         * an unblocked claim or an unreliable publication's gap) */
        shoal_data_header_t pad = { { TERM_LENGTH, 0, 0, SHOAL_HDR_TYPE_PAD }, 192, SESSION, STREAM, INITIAL_TERM, 0 };
        send_to(f, &pad, sizeof(pad), &endpoint);
        expected_invalid++;
    }
    shoal_setup_header_t bad_setup = setup;
    bad_setup.session_id = SESSION + 7;
    bad_setup.term_length = 1000;
    send_to(f, &bad_setup, sizeof(bad_setup), &endpoint);
    expected_invalid++; /* term length not a power of 2 */
    bad_setup.term_length = TERM_LENGTH;
    bad_setup.mtu = 13;
    send_to(f, &bad_setup, sizeof(bad_setup), &endpoint);
    expected_invalid++; /* mtu */
    send_to(f, "\x01\x02\x03", 3, &endpoint);
    expected_invalid++; /* junk */
    /* DATA for a session with no image: not an error (asks for SETUP). */
    h->session_id = SESSION + 99;
    send_to(f, buf, n, &endpoint);
    h->session_id = SESSION;
    /* A frame far ahead of the window: dropped (flow control), not an error. */
    h->term_offset = 60 * 1024;
    send_to(f, buf, n, &endpoint);
    h->term_offset = 192;

    int64_t deadline = shoal_test_now_ms() + 2000;
    while (udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES) < invalid + expected_invalid &&
        shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    assert_int_equal(invalid + expected_invalid, udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES));
    assert_int_equal(3, poll_for(sub, c, 4, 100));
    assert_int_equal(1, shoal_subscription_image_count(sub));

    send_to(f, buf, n, &endpoint);
    assert_int_equal(4, poll_for(sub, c, 4, 2000));
    assert_string_equal("onetwothreefour", c->all);

    /* RTT measurement requests go to the source (our socket). */
    drain(f);
    assert_int_equal(SHOAL_RTTM_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_RTTM, in, sizeof(in), &from, 2500));
    shoal_rttm_header_t rttm;
    memcpy(&rttm, in, sizeof(rttm));
    assert_int_equal(0, rttm.frame_header.flags);
    assert_int_equal(receiver_id, rttm.receiver_id);

    /* End of stream: an EOS heartbeat at the end; the image goes once read. */
    shoal_data_header_t hb = { { 0, 0, SHOAL_FRAME_FLAG_UNFRAGMENTED | SHOAL_FRAME_FLAG_EOS, SHOAL_HDR_TYPE_DATA }, 256,
        SESSION, STREAM, INITIAL_TERM, 0 };
    send_to(f, &hb, sizeof(hb), &endpoint);
    assert_int_equal(0, shoal_test_wait_images(sub, 0, 2000));
    free(c);
    shoal_subscription_close(sub);
}

/* The next NAK; *at_ms is when it arrived. */
static shoal_nak_header_t recv_nak(fixture_t *f, int64_t *at_ms)
{
    uint8_t in[2048];
    struct sockaddr_in from;
    shoal_nak_header_t nak;
    assert_int_equal(SHOAL_NAK_HEADER_LENGTH, recv_type(f, SHOAL_HDR_TYPE_NAK, in, sizeof(in), &from, 2000));
    *at_ms = shoal_test_now_ms();
    memcpy(&nak, in, sizeof(nak));
    return nak;
}

/* Whether a NAK is waiting on the socket (what else waits is dropped). */
static bool nak_pending(fixture_t *f)
{
    uint8_t buf[2048];
    bool found = false;
    ssize_t n;
    while ((n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 8)
    {
        found = found || SHOAL_HDR_TYPE_NAK == ((const shoal_frame_header_t *)buf)->type;
    }
    return found;
}

/*
 * The receiver's NAK timers: the rest of a gap that a repair filled in part
 * was asked for already and keeps its timer; and the retry delay follows the
 * time repairs take (a sender answering late gets fewer, later retries).
 * Bounds are lower bounds only: a loaded machine makes things later, never
 * earlier.
 */
static void test_nak_timers(void **state)
{
    fixture_t *f = *state;
    shoal_subscription_t *sub;
    struct sockaddr_in endpoint;
    subscribe_on_free_port(f, &sub, &endpoint);
    shoal_setup_header_t setup = { { SHOAL_SETUP_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_SETUP }, 0, SESSION, STREAM,
        INITIAL_TERM, INITIAL_TERM, TERM_LENGTH, 1408, 0 };
    send_to(f, &setup, sizeof(setup), &endpoint);
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 2000));
    collected_t *c = calloc(1, sizeof(*c));
    send_data(f, &endpoint, 0, "a");
    assert_int_equal(1, poll_for(sub, c, 1, 2000));

    /* Frames at 64 and 128 lost, 192 arrives: one NAK for [64, 192). */
    drain(f);
    int64_t first_at, rest_at;
    send_data(f, &endpoint, 192, "d");
    shoal_nak_header_t nak = recv_nak(f, &first_at);
    assert_int_equal(64, nak.term_offset);
    assert_int_equal(128, nak.length);
    /* The repair fills 64 only: [128, 192) is NAKed on the gap's retry timer,
     * not at once as a new gap. */
    send_data(f, &endpoint, 64, "b");
    nak = recv_nak(f, &rest_at);
    assert_int_equal(128, nak.term_offset);
    assert_int_equal(64, nak.length);
    assert_true(rest_at - first_at >= SLOW_RETRY_MS - 10);
    send_data(f, &endpoint, 128, "c");
    assert_int_equal(4, poll_for(sub, c, 4, 2000));
    assert_string_equal("abcd", c->all);

    /* Repairs that take 90 % of the retry floor: once one is measured (a gap
     * answered after a single NAK), the retry delay exceeds the floor. */
    int32_t offset = 256;
    bool measured = false;
    for (int round = 0; round < 10 && !measured; round++, offset += 128)
    {
        drain(f);
        send_data(f, &endpoint, offset + 64, "f");
        int64_t nak_at;
        nak = recv_nak(f, &nak_at);
        assert_int_equal(offset, nak.term_offset);
        int64_t wait_ms = SLOW_RETRY_MS * 9 / 10 - (shoal_test_now_ms() - nak_at);
        shoal_test_sleep_ms(wait_ms > 0 ? wait_ms : 0);
        bool retried = nak_pending(f);
        send_data(f, &endpoint, offset, "e");
        /* a retry NAK before the repair makes the sample ambiguous (Karn): not measured */
        measured = !retried && shoal_test_now_ms() - nak_at < SLOW_RETRY_MS;
        assert_int_equal(6 + 2 * round, poll_for(sub, c, 6 + 2 * round, 2000));
    }
    assert_true(measured);
    /* A gap left open: its retry comes later than the floor (1.5 x the sample at first). */
    drain(f);
    send_data(f, &endpoint, offset + 64, "h");
    int64_t retry_at;
    nak = recv_nak(f, &first_at);
    assert_int_equal(offset, nak.term_offset);
    nak = recv_nak(f, &retry_at);
    assert_int_equal(offset, nak.term_offset);
    assert_true(retry_at - first_at > SLOW_RETRY_MS + 5);
    free(c);
    shoal_subscription_close(sub);
}

/* A receiver more than a term behind (fc=max lets that happen) asks for data
 * the sender has overwritten: no resend is possible; the NAK is counted in
 * "NAKs for data no longer held" so a stuck receiver can be explained. */
static void test_nak_for_overwritten_data_is_counted(void **state)
{
    fixture_t *f = *state;
    uint8_t buf[2048];
    peer_publication_t p = publish_to_peer(f, "|term-length=64k", 43);

    /* Acknowledge everything as it comes, until three terms went by. */
    uint8_t payload[1000];
    memset(payload, 7, sizeof(payload));
    int64_t acked = 0;
    int64_t end = 3 * 64 * 1024;
    int64_t deadline = shoal_test_now_ms() + 10000;
    while (acked < end && shoal_test_now_ms() < deadline)
    {
        int32_t term_id = p.setup.initial_term_id + (int32_t)(acked / (64 * 1024));
        shoal_status_message_header_t sm = { { SHOAL_SM_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_SM }, p.session_id, 43,
            term_id, (int32_t)(acked % (64 * 1024)), 32 * 1024, 4343 };
        send_to(f, &sm, sizeof(sm), &p.sender);
        while (shoal_publication_offer(p.pub, payload, sizeof(payload)) > 0)
        {
        }
        ssize_t n = recv_type(f, SHOAL_HDR_TYPE_DATA, buf, sizeof(buf), &p.sender, 100);
        if (n >= SHOAL_DATA_HEADER_LENGTH)
        {
            shoal_data_header_t d;
            memcpy(&d, buf, sizeof(d));
            int64_t position = (int64_t)(d.term_id - p.setup.initial_term_id) * 64 * 1024 + d.term_offset + n;
            acked = position > acked ? position : acked;
        }
    }
    assert_true(acked >= end);
    int64_t retransmits = udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);

    shoal_nak_header_t nak = { { SHOAL_NAK_HEADER_LENGTH, 0, 0, SHOAL_HDR_TYPE_NAK }, p.session_id, 43,
        p.setup.initial_term_id, 0, 1024 };
    send_to(f, &nak, sizeof(nak), &p.sender);
    assert_int_equal(1, udp_test_wait_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED, 1, 2000));
    assert_int_equal(retransmits, udp_test_counter(f->env.dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT));
    shoal_publication_close(p.pub);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_publication_speaks_aeron),
    T(test_subscription_speaks_aeron),
    T(test_nak_for_overwritten_data_is_counted),
    cmocka_unit_test_setup_teardown(test_nak_timers, setup_slow_retry, teardown),
})
