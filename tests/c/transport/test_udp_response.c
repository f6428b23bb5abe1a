/* Response channels over UDP (issue #15 part 1): requesters on two drivers
 * share one responder's control port and each hears only its own answers;
 * forged and malformed RSP_SETUP frames are dropped and counted; the
 * driver refuses response-correlation-ids that name nothing. The wire
 * exchange itself is checked against Aeron C in
 * tests/system/test_aeron_response_interop.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>

#include "../shoal_test_main.h"
#include "../client/image_recorder.h"
#include "udp_test_util.h"
#include "protocol/shoal_frames.h"

#define REQUEST_STREAM  10
#define RESPONSE_STREAM 11

/* The responder: the requests' images its subscription heard of (recorded
 * by its image handler), and the response publication the test thread made
 * for each. */
typedef struct
{
    shoal_subscription_t *sub;
    image_recorder_t *heard;
    shoal_publication_t *responses[MAX_IMAGE_EVENTS];
} responder_t;

typedef struct
{
    shoal_subscription_t *responses;
    shoal_publication_t *requests;
    char prefix[16];
    int received;
    int errors;
} requester_t;

typedef struct
{
    shoal_test_env_t server, c1, c2;
    int request_port, control_port;
    responder_t responder;
    requester_t requesters[4];
    int n;
} fixture_t;

/* Adds the response publication of every requester heard so far. */
static void respond_to_new_requesters(fixture_t *f)
{
    const int count = image_recorder_count(f->responder.heard);
    for (int i = 0; i < count; i++)
    {
        if (NULL == f->responder.responses[i])
        {
            char uri[256];
            udp_test_uri(uri, sizeof(uri),
                "aeron:udp?control=127.0.0.1:%d|control-mode=response|response-correlation-id=%" PRId64,
                f->control_port, image_recorder_at(f->responder.heard, i).correlation_id);
            assert_int_equal(0,
                shoal_add_publication(f->server.client, uri, RESPONSE_STREAM, &f->responder.responses[i]));
        }
    }
}

static void add_requester(fixture_t *f, shoal_client_t *client)
{
    requester_t *r = &f->requesters[f->n];
    snprintf(r->prefix, sizeof(r->prefix), "r%d:", f->n);
    f->n++;
    char uri[256];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?control=127.0.0.1:%d|control-mode=response", f->control_port);
    assert_int_equal(0, shoal_add_subscription(client, uri, RESPONSE_STREAM, &r->responses));
    int64_t id = shoal_subscription_registration_id(r->responses);
    assert_true(id >= 0);
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d|response-correlation-id=%" PRId64, f->request_port,
        id);
    assert_int_equal(0, shoal_add_publication(client, uri, REQUEST_STREAM, &r->requests));
    assert_true(shoal_publication_registration_id(r->requests) >= 0);
}

static bool all_connected(const fixture_t *f)
{
    for (int i = 0; i < f->n; i++)
    {
        if (!shoal_publication_is_connected(f->requesters[i].requests) ||
            !shoal_subscription_is_connected(f->requesters[i].responses))
        {
            return false;
        }
    }
    return true;
}

/* Until every requester's request and response streams are up. */
static void connect_all(fixture_t *f)
{
    int64_t deadline = shoal_test_now_ms() + 20000;
    while (!all_connected(f) && shoal_test_now_ms() < deadline)
    {
        respond_to_new_requesters(f);
        shoal_test_sleep_ms(1);
    }
    assert_true(all_connected(f));
    assert_int_equal(f->n, image_recorder_count(f->responder.heard));
}

static void on_request(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    fixture_t *f = clientd;
    const int count = image_recorder_count(f->responder.heard);
    for (int i = 0; i < count; i++)
    {
        if (image_recorder_at(f->responder.heard, i).session_id == hdr->session_id)
        {
            assert_true(shoal_test_offer(f->responder.responses[i], buf, len) > 0);
            return;
        }
    }
    fail_msg("request from unknown session %d", hdr->session_id);
}

static void on_response(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    requester_t *r = clientd;
    char expected[32];
    int n = snprintf(expected, sizeof(expected), "%s%d", r->prefix, r->received);
    if ((size_t)n != len || 0 != memcmp(buf, expected, len))
    {
        r->errors++;
    }
    r->received++;
}

/* Each requester sends count requests; the responder echoes each on the
 * requester's own response stream; every requester gets exactly its own. */
static void exchange(fixture_t *f, int count)
{
    int base[4];
    for (int k = 0; k < f->n; k++)
    {
        base[k] = f->requesters[k].received;
        for (int i = 0; i < count; i++)
        {
            char msg[32];
            int len = snprintf(msg, sizeof(msg), "%s%d", f->requesters[k].prefix, base[k] + i);
            assert_true(shoal_test_offer(f->requesters[k].requests, (const uint8_t *)msg, (size_t)len) > 0);
        }
    }
    int64_t deadline = shoal_test_now_ms() + 20000;
    bool done = false;
    while (!done && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(f->responder.sub, on_request, f, 64);
        done = true;
        for (int k = 0; k < f->n; k++)
        {
            shoal_subscription_poll(f->requesters[k].responses, on_response, &f->requesters[k], 64);
            done &= f->requesters[k].received >= base[k] + count;
        }
    }
    for (int k = 0; k < f->n; k++)
    {
        assert_int_equal(base[k] + count, f->requesters[k].received);
        assert_int_equal(0, f->requesters[k].errors);
    }
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->request_port = udp_test_free_port();
    f->control_port = udp_test_free_port();
    if (udp_test_env_start(&f->server, "rsp-server", NULL) < 0 || udp_test_env_start(&f->c1, "rsp-c1", NULL) < 0 ||
        udp_test_env_start(&f->c2, "rsp-c2", NULL) < 0)
    {
        return -1;
    }
    char uri[128];
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", f->request_port);
    f->responder.heard = image_recorder_new();
    if (shoal_add_subscription_with_handlers(f->server.client, uri, REQUEST_STREAM, image_recorder_on_available, NULL,
            f->responder.heard, &f->responder.sub) < 0)
    {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    shoal_test_env_stop(&f->c1);
    shoal_test_env_stop(&f->c2);
    shoal_test_env_stop(&f->server);
    image_recorder_free(f->responder.heard);
    free(f);
    return 0;
}

static void test_requesters_share_one_control_port(void **state)
{
    fixture_t *f = *state;
    add_requester(f, f->c1.client);
    add_requester(f, f->c1.client);
    add_requester(f, f->c2.client);
    add_requester(f, f->c2.client);
    connect_all(f);
    char control[64];
    snprintf(control, sizeof(control), "127.0.0.1:%d", f->control_port);
    for (int32_t i = 0; i < f->n; i++)
    {
        /* Each response stream is its own session, all from the one control port. */
        for (int32_t k = 0; k < i; k++)
        {
            assert_true(image_recorder_at(f->responder.heard, i).session_id !=
                image_recorder_at(f->responder.heard, k).session_id);
            assert_true(shoal_publication_session_id(f->responder.responses[i]) !=
                shoal_publication_session_id(f->responder.responses[k]));
        }
    }
    exchange(f, 200);
    int64_t invalid = udp_test_counter(f->server.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES);
    printf("4 requesters on 2 drivers, one control port %s: 200 requests each answered to its own requester; "
           "responder invalid frames %" PRId64 "\n",
        control, invalid);
}

static int foreign_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    return fd;
}

static void send_to_port(int fd, const void *buf, size_t len, int port)
{
    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons((uint16_t)port);
    assert_int_equal((ssize_t)len, sendto(fd, buf, len, 0, (const struct sockaddr *)&to, sizeof(to)));
}

static void test_malformed_response_setups_dropped_and_counted(void **state)
{
    fixture_t *f = *state;
    add_requester(f, f->c1.client);
    connect_all(f);
    exchange(f, 10);
    /* The request publication's socket: where the responder sends RSP_SETUP. */
    const image_event_t request = image_recorder_at(f->responder.heard, 0);
    const char *colon = strrchr(request.source, ':');
    assert_non_null(colon);
    int request_socket_port = atoi(colon + 1);
    int32_t session = request.session_id;

    int64_t before = udp_test_counter(f->c1.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES);
    int fd = foreign_socket();
    shoal_response_setup_header_t r;
    r.frame_header = shoal_frame_header(SHOAL_RSP_SETUP_HEADER_LENGTH, 0, SHOAL_HDR_TYPE_RSP_SETUP);
    r.session_id = session;
    r.stream_id = REQUEST_STREAM;
    r.response_session_id = 12345;
    send_to_port(fd, &r, 12, request_socket_port); /* truncated */
    shoal_response_setup_header_t bad = r;
    bad.frame_header.frame_length = 64; /* longer than the datagram */
    send_to_port(fd, &bad, sizeof(bad), request_socket_port);
    bad = r;
    bad.frame_header.version = 1;
    send_to_port(fd, &bad, sizeof(bad), request_socket_port);
    bad = r;
    bad.session_id = session + 1; /* no such publication */
    send_to_port(fd, &bad, sizeof(bad), request_socket_port);
    bad = r;
    bad.stream_id = REQUEST_STREAM + 7;
    send_to_port(fd, &bad, sizeof(bad), request_socket_port);
    int64_t after = udp_test_wait_counter(f->c1.dir, SHOAL_SYSTEM_COUNTER_INVALID_FRAMES, before + 5, 5000);
    printf("5 malformed or foreign RSP_SETUPs: requester invalid frames %" PRId64 " -> %" PRId64 "\n", before, after);
    assert_true(after >= before + 5);

    /* A well-formed one naming another response session, once the stream
     * is set up, changes nothing; nor does a session-0 SETUP request at the
     * responder's control port (response publications answer their own
     * session only, so no one can redirect them with a wildcard). */
    send_to_port(fd, &r, sizeof(r), request_socket_port);
    shoal_status_message_header_t sm;
    memset(&sm, 0, sizeof(sm));
    sm.frame_header = shoal_frame_header(SHOAL_SM_HEADER_LENGTH, SHOAL_SM_FLAG_SETUP, SHOAL_HDR_TYPE_SM);
    sm.session_id = 0;
    sm.stream_id = RESPONSE_STREAM;
    sm.receiver_id = 99;
    for (int i = 0; i < 5; i++)
    {
        send_to_port(fd, &sm, sizeof(sm), f->control_port);
    }
    shoal_test_sleep_ms(300);
    exchange(f, 50);
    close(fd);
}

static void test_response_correlation_ids_that_name_nothing_are_refused(void **state)
{
    fixture_t *f = *state;
    char uri[256];
    shoal_publication_t *pub = NULL;
    /* A request publication needs a response subscription of its driver. */
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d|response-correlation-id=987654", f->request_port);
    assert_int_equal(-1, shoal_add_publication(f->c1.client, uri, REQUEST_STREAM, &pub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "987654"));
    /* A response publication needs an image that asked for a response channel. */
    udp_test_uri(uri, sizeof(uri),
        "aeron:udp?control=127.0.0.1:%d|control-mode=response|response-correlation-id=987654", f->control_port);
    assert_int_equal(-1, shoal_add_publication(f->server.client, uri, RESPONSE_STREAM, &pub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    udp_test_uri(uri, sizeof(uri), "aeron:udp?control=127.0.0.1:%d|control-mode=response", f->control_port);
    assert_int_equal(-1, shoal_add_publication(f->server.client, uri, RESPONSE_STREAM, &pub));
    assert_non_null(strstr(shoal_errmsg(), "response-correlation-id"));
    /* A plain publication's image did not ask for one. */
    udp_test_uri(uri, sizeof(uri), "aeron:udp?endpoint=127.0.0.1:%d", f->request_port);
    shoal_publication_t *plain;
    assert_int_equal(0, shoal_add_publication(f->c1.client, uri, REQUEST_STREAM, &plain));
    assert_int_equal(0, shoal_test_wait_connected(plain));
    int64_t deadline = shoal_test_now_ms() + 10000;
    while (image_recorder_count(f->responder.heard) < 1 && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(1, image_recorder_count(f->responder.heard));
    udp_test_uri(uri, sizeof(uri),
        "aeron:udp?control=127.0.0.1:%d|control-mode=response|response-correlation-id=%" PRId64, f->control_port,
        image_recorder_at(f->responder.heard, 0).correlation_id);
    assert_int_equal(-1, shoal_add_publication(f->server.client, uri, RESPONSE_STREAM, &pub));
    assert_non_null(strstr(shoal_errmsg(), "no response channel"));
    shoal_publication_close(plain);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_requesters_share_one_control_port, setup, teardown),
    cmocka_unit_test_setup_teardown(test_malformed_response_setups_dropped_and_counted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_response_correlation_ids_that_name_nothing_are_refused, setup, teardown),
})
