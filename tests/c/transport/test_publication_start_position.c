/* Exclusive publications placed at a stream position (init-term-id, term-id,
 * term-offset, as a replay publishes a recording's positions): the publisher
 * and its subscribers' images start there, IPC and UDP, across term ends;
 * the keys are refused where they do not belong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../client/image_recorder.h"
#include "udp_test_util.h"
#include "util/shoal_error.h"

#define TERM_LENGTH  65536
#define INIT_TERM_ID 1000
#define TERM_ID      1005
#define TERM_OFFSET  40960
#define START        ((int64_t)(TERM_ID - INIT_TERM_ID) * TERM_LENGTH + TERM_OFFSET)
#define START_KEYS   "term-length=64k|init-term-id=1000|term-id=1005|term-offset=40960"

typedef udp_test_media_t fixture_t;

static int setup_ipc(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    return udp_test_media_start(f, false, "startpos");
}

static int setup_udp(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    return udp_test_media_start(f, true, "startpos");
}

static int teardown(void **state)
{
    udp_test_media_stop(*state);
    free(*state);
    return 0;
}

static void channel(fixture_t *f, char *buf, size_t len, const char *keys)
{
    if (f->udp)
    {
        udp_test_uri(buf, len, "%s|%s", f->uri, keys);
    }
    else
    {
        udp_test_uri(buf, len, "aeron:ipc?%s", keys);
    }
}

/* Publishes n messages of 1000 bytes (3 terms' worth crosses two term ends)
 * and receives them all; the publisher's positions come back in headers. */
static void publish_and_receive(shoal_publication_t *pub, shoal_subscription_t *sub, int n, int64_t *last)
{
    uint8_t msg[1000] = { 0 };
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    int64_t deadline = shoal_test_now_ms() + 20000;
    for (int i = 0; i < n && shoal_test_now_ms() < deadline;)
    {
        uint64_t seq = (uint64_t)i;
        memcpy(msg, &seq, sizeof(seq));
        int64_t r = shoal_publication_offer(pub, msg, sizeof(msg));
        assert_true(r > 0 || SHOAL_BACK_PRESSURED == r || SHOAL_ADMIN_ACTION == r || SHOAL_NOT_CONNECTED == r);
        if (r > 0)
        {
            *last = r;
            i++;
        }
        shoal_subscription_poll(sub, shoal_test_collect_stream, c, 100);
    }
    while (c->count < n && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, shoal_test_collect_stream, c, 100);
    }
    assert_int_equal(n, c->count);
    assert_int_equal(0, c->errors);
    /* The first message sits where the publication was placed. */
    assert_int_equal(TERM_ID, c->first_hdr.term_id);
    assert_int_equal(TERM_OFFSET, c->first_hdr.term_offset);
    assert_int_equal(START + 1056, c->first_hdr.position); /* 1000 + 32, aligned to 32 */
    assert_int_equal(*last, c->last_hdr.position);
    free(c);
}

static void test_stream_starts_at_position(void **state)
{
    fixture_t *f = *state;
    char uri[512];
    channel(f, uri, sizeof(uri), START_KEYS);
    image_recorder_t *rec = image_recorder_new();
    shoal_subscription_t *sub = image_recorder_subscribe(rec, udp_test_media_sub_client(f), f->uri, 7);
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_exclusive_publication(udp_test_media_pub_client(f), uri, 7, &pub));
    assert_int_equal(START, shoal_publication_position(pub));
    assert_true(shoal_publication_position_limit(pub) >= START);
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 5000));
    /* The image is in the list before its handler has run (on the
     * subscriber's conductor): wait for the handler's record too. */
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (image_recorder_count(rec) < 1 && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(1, image_recorder_count(rec));
    image_event_t joined = image_recorder_at(rec, 0);
    assert_true(joined.available);
    assert_int_equal(START, joined.join_position);
    assert_int_equal(START, joined.position);

    int64_t last = 0;
    publish_and_receive(pub, sub, 3 * TERM_LENGTH / 1024, &last);
    assert_true(last > START + 2 * TERM_LENGTH);
    assert_int_equal(last, shoal_publication_position(pub));
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
    image_recorder_free(rec);
}

/* term-offset = term-length: the log starts full at that term's end, and the
 * first offer moves it to the next term. */
static void test_start_at_term_end(void **state)
{
    fixture_t *f = *state;
    char uri[512];
    channel(f, uri, sizeof(uri), "term-length=64k|init-term-id=-7|term-id=-6|term-offset=65536");
    shoal_subscription_t *sub;
    assert_int_equal(0, shoal_add_subscription(udp_test_media_sub_client(f), f->uri, 8, &sub));
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_exclusive_publication(udp_test_media_pub_client(f), uri, 8, &pub));
    assert_int_equal(2 * TERM_LENGTH, shoal_publication_position(pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    const uint8_t msg[8] = { 1 };
    int64_t r = shoal_test_offer(pub, msg, sizeof(msg));
    assert_int_equal(2 * TERM_LENGTH + 64, r);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, shoal_test_poll_until(sub, shoal_test_collect, c, 1, 5000));
    assert_int_equal(-5, c->last_hdr.term_id);
    assert_int_equal(0, c->last_hdr.term_offset);
    assert_int_equal(r, c->last_hdr.position);
    free(c);
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
}

static void assert_refused(shoal_client_t *client, const char *uri, bool exclusive, const char *needle)
{
    shoal_publication_t *pub = NULL;
    shoal_err_clear();
    int rc =
        exclusive ? shoal_add_exclusive_publication(client, uri, 9, &pub) : shoal_add_publication(client, uri, 9, &pub);
    if (-1 != rc || SHOAL_EURI != shoal_errcode() || NULL == strstr(shoal_errmsg(), needle))
    {
        print_error("'%s': rc %d code %d '%s' (wanted '%s')\n", uri, rc, shoal_errcode(), shoal_errmsg(), needle);
        fail();
    }
}

static void test_keys_refused_where_they_do_not_belong(void **state)
{
    fixture_t *f = *state;
    char uri[512];
    channel(f, uri, sizeof(uri), START_KEYS);
    assert_refused(udp_test_media_pub_client(f), uri, false, "for exclusive publications only");
    shoal_subscription_t *sub = NULL;
    shoal_err_clear();
    assert_int_equal(-1, shoal_add_subscription(udp_test_media_sub_client(f), uri, 9, &sub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "a subscription joins where the stream is"));
    channel(f, uri, sizeof(uri), "init-term-id=1|term-id=1|term-offset=0");
    assert_refused(udp_test_media_pub_client(f), uri, true, "needs key 'term-length'");
    channel(f, uri, sizeof(uri), "term-length=64k|init-term-id=1|term-id=1");
    assert_refused(udp_test_media_pub_client(f), uri, true, "must be given together");
    channel(f, uri, sizeof(uri), "term-length=64k|init-term-id=1|term-id=1|term-offset=100");
    assert_refused(udp_test_media_pub_client(f), uri, true, "term-offset 100 must be a multiple of 32");
}

#define T_IPC(fn) cmocka_unit_test_setup_teardown(fn, setup_ipc, teardown)
#define T_UDP(fn) cmocka_unit_test_setup_teardown(fn, setup_udp, teardown)

SHOAL_TEST_MAIN({
    T_IPC(test_stream_starts_at_position),
    T_IPC(test_start_at_term_end),
    T_IPC(test_keys_refused_where_they_do_not_belong),
    T_UDP(test_stream_starts_at_position),
    T_UDP(test_start_at_term_end),
    T_UDP(test_keys_refused_where_they_do_not_belong),
})
