/* shoal_publication_offer_block: whole frames (as a recording holds them)
 * appended to an exclusive publication placed at their position; session
 * and stream ids rewritten; fragments, padding and reserved values kept;
 * malformed blocks refused with nothing written. IPC and UDP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../transport/udp_test_util.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

#define TERM_LENGTH     65536
#define INIT_TERM_ID    77
#define START_KEYS      "term-length=64k|init-term-id=77|term-id=78|term-offset=64000"
#define START           (TERM_LENGTH + 64000)
#define FOREIGN_SESSION 4242
#define FOREIGN_STREAM  99

typedef struct
{
    udp_test_media_t media;
    char pub_uri[512];
} fixture_t;

static int setup_ipc(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    int rc = udp_test_media_start(&f->media, false, "block");
    snprintf(f->pub_uri, sizeof(f->pub_uri), "aeron:ipc?%s", START_KEYS);
    return rc;
}

static int setup_udp(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    int rc = udp_test_media_start(&f->media, true, "block");
    snprintf(f->pub_uri, sizeof(f->pub_uri), "%s|%s", f->media.uri, START_KEYS);
    return rc;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    udp_test_media_stop(&f->media);
    free(f);
    return 0;
}

/* A block under construction, laid out as a log holds it. */
typedef struct
{
    uint8_t bytes[TERM_LENGTH];
    size_t length;
    int32_t term_id;
    int32_t term_offset; /* of bytes[0] */
} block_t;

static void block_init(block_t *b, int64_t position)
{
    memset(b, 0, sizeof(*b));
    b->term_id = INIT_TERM_ID + (int32_t)(position / TERM_LENGTH);
    b->term_offset = (int32_t)(position % TERM_LENGTH);
}

static void block_frame(block_t *b, uint16_t type, uint8_t flags, const uint8_t *payload, size_t length,
    int64_t reserved_value)
{
    shoal_data_header_t h = {
        .frame_header = { .frame_length = (int32_t)(SHOAL_DATA_HEADER_LENGTH + length),
            .version = 0,
            .flags = flags,
            .type = type },
        .term_offset = b->term_offset + (int32_t)b->length,
        .session_id = FOREIGN_SESSION,
        .stream_id = FOREIGN_STREAM,
        .term_id = b->term_id,
        .reserved_value = reserved_value,
    };
    memcpy(b->bytes + b->length, &h, sizeof(h));
    if (NULL != payload)
    {
        memcpy(b->bytes + b->length + sizeof(h), payload, length);
    }
    b->length += SHOAL_ALIGN(sizeof(h) + length, SHOAL_FRAME_ALIGNMENT);
}

/* A message of length bytes, each byte seq + i, as one frame. */
static void block_message(block_t *b, uint8_t seq, size_t length)
{
    uint8_t payload[1024];
    for (size_t i = 0; i < length; i++)
    {
        payload[i] = (uint8_t)(seq + i);
    }
    block_frame(b, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_UNFRAGMENTED, payload, length, 1000 + seq);
}

/* b starts again at position with message 0, of length bytes, in it. */
static void block_of_one_message(block_t *b, int64_t position, size_t length)
{
    block_init(b, position);
    block_message(b, 0, length);
}

/* A block on the heap (it is a term long); the caller frees it. */
static block_t *new_block(int64_t position)
{
    block_t *b = malloc(sizeof(*b));
    assert_non_null(b);
    block_init(b, position);
    return b;
}

/* Padding to the end of the term. */
static void block_pad_to_term_end(block_t *b)
{
    size_t left = (size_t)TERM_LENGTH - (size_t)b->term_offset - b->length;
    block_frame(b, SHOAL_HDR_TYPE_PAD, SHOAL_FRAME_FLAG_UNFRAGMENTED, NULL, left - SHOAL_DATA_HEADER_LENGTH, 0);
}

typedef struct
{
    int count;
    int errors;
    uint8_t next_seq;
    size_t lengths[16];
    shoal_header_t headers[16];
} block_collector_t;

static void collect(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    block_collector_t *c = clientd;
    for (size_t i = 0; i < len; i++)
    {
        c->errors += buf[i] != (uint8_t)(c->next_seq + i);
    }
    if (c->count < 16)
    {
        c->lengths[c->count] = len;
        c->headers[c->count] = *hdr;
    }
    c->next_seq++;
    c->count++;
}

static int64_t offer_block(shoal_publication_t *pub, const block_t *b)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    int64_t r;
    while ((r = shoal_publication_offer_block(pub, b->bytes, b->length)) < 0 && SHOAL_ERROR != r &&
        shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    return r;
}

/* An exclusive publication on stream 5 and a subscription that has its image. */
typedef struct
{
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
} pair_t;

static pair_t open_pair(fixture_t *f)
{
    pair_t p;
    shoal_client_t *pc = udp_test_media_pub_client(&f->media);
    shoal_client_t *sc = udp_test_media_sub_client(&f->media);
    assert_int_equal(0, shoal_add_subscription(sc, f->media.uri, 5, &p.sub));
    assert_int_equal(0, shoal_add_exclusive_publication(pc, f->pub_uri, 5, &p.pub));
    assert_int_equal(0, shoal_test_wait_connected(p.pub));
    assert_int_equal(0, shoal_test_wait_images(p.sub, 1, 5000));
    return p;
}

static void close_pair(pair_t *p)
{
    assert_int_equal(0, shoal_publication_close(p->pub));
    assert_int_equal(0, shoal_subscription_close(p->sub));
}

/* Messages, a fragmented one, padding to the term end, then the next term's
 * block and an ordinary offer after it: the subscriber sees the messages
 * with the publication's ids and the positions the frames had. */
static void test_blocks_across_a_term_end(void **state)
{
    fixture_t *f = *state;
    pair_t p = open_pair(f);

    block_t *b = new_block(START);
    block_message(b, 0, 100);
    block_message(b, 1, 0);
    /* message 2, in three fragments of 64 bytes */
    uint8_t frag[192];
    for (size_t i = 0; i < sizeof(frag); i++)
    {
        frag[i] = (uint8_t)(2 + i);
    }
    block_frame(b, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_BEGIN, frag, 64, 1002);
    block_frame(b, SHOAL_HDR_TYPE_DATA, 0, frag + 64, 64, 1002);
    block_frame(b, SHOAL_HDR_TYPE_DATA, SHOAL_FRAME_FLAG_END, frag + 128, 64, 1002);
    block_message(b, 3, 900);
    block_pad_to_term_end(b);
    assert_int_equal(2 * TERM_LENGTH, offer_block(p.pub, b));
    assert_int_equal(2 * TERM_LENGTH, shoal_publication_position(p.pub));

    block_init(b, 2 * TERM_LENGTH);
    block_message(b, 4, 8);
    block_message(b, 5, 500);
    int64_t end = 2 * TERM_LENGTH + (int64_t)b->length;
    assert_int_equal(end, offer_block(p.pub, b));
    uint8_t msg6[10];
    for (size_t i = 0; i < sizeof(msg6); i++)
    {
        msg6[i] = (uint8_t)(6 + i);
    }
    assert_int_equal(end + 64, shoal_test_offer(p.pub, msg6, sizeof(msg6)));

    block_collector_t c = { 0 };
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (c.count < 7 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(p.sub, collect, &c, 10);
    }
    assert_int_equal(7, c.count);
    assert_int_equal(0, c.errors);
    const size_t lengths[] = { 100, 0, 192, 900, 8, 500, 10 };
    for (int i = 0; i < 7; i++)
    {
        assert_int_equal(lengths[i], c.lengths[i]);
        assert_int_equal(shoal_publication_session_id(p.pub), c.headers[i].session_id);
        assert_int_equal(5, c.headers[i].stream_id);
        assert_int_equal(i < 6 ? 1000 + i : 0, c.headers[i].reserved_value);
    }
    assert_int_equal(START + 160, c.headers[0].position);
    assert_int_equal(78, c.headers[0].term_id);
    assert_int_equal(79, c.headers[4].term_id);
    assert_int_equal(0, c.headers[4].term_offset);
    assert_int_equal(end + 64, c.headers[6].position);
    free(b);
    close_pair(&p);
}

static void assert_block_refused(shoal_publication_t *pub, const uint8_t *frames, size_t length, const char *needle)
{
    int64_t before = shoal_publication_position(pub);
    shoal_err_clear();
    int64_t r = shoal_publication_offer_block(pub, frames, length);
    if (SHOAL_ERROR != r || SHOAL_EINVAL != shoal_errcode() || NULL == strstr(shoal_errmsg(), needle))
    {
        print_error("rc %lld code %d '%s' (wanted '%s')\n", (long long)r, shoal_errcode(), shoal_errmsg(), needle);
        fail();
    }
    assert_int_equal(before, shoal_publication_position(pub));
}

static void test_malformed_blocks_refused(void **state)
{
    fixture_t *f = *state;
    pair_t p = open_pair(f);
    block_t *b = new_block(START + 32);
    block_message(b, 0, 10);
    assert_block_refused(p.pub, b->bytes, b->length,
        "term 78 offset 64032, the publication is at term 78 offset 64000");
    block_of_one_message(b, START + TERM_LENGTH, 10);
    assert_block_refused(p.pub, b->bytes, b->length, "is for term 79");
    block_of_one_message(b, START, 10);
    assert_block_refused(p.pub, b->bytes, b->length - 16, "whole 32-byte aligned frames");
    assert_block_refused(p.pub, b->bytes, 0, "not empty");
    block_message(b, 1, 10);
    assert_block_refused(p.pub, b->bytes, b->length - 32,
        "frame at byte 64 has length 42"); /* the second frame cut off */
    b->bytes[SHOAL_FRAME_TYPE_OFFSET] = SHOAL_HDR_TYPE_SM;
    assert_block_refused(p.pub, b->bytes, b->length, "frame at byte 0 has type 3");
    block_of_one_message(b, START, 10);
    block_message(b, 1, 10);
    int32_t bad_length = 31;
    memcpy(b->bytes + 64, &bad_length, sizeof(bad_length));
    assert_block_refused(p.pub, b->bytes, b->length, "frame at byte 64 has length 31");
    /* 1536 bytes left in the term */
    block_init(b, START);
    for (uint8_t i = 0; i < 3; i++)
    {
        block_message(b, i, 500);
    }
    assert_block_refused(p.pub, b->bytes, b->length, "within the 1536 bytes left in the term");
    assert_block_refused(p.pub, NULL, 64, "must not be NULL");

    /* A good block still goes in after all that. */
    block_of_one_message(b, START, 10);
    assert_int_equal(START + 64, offer_block(p.pub, b));
    free(b);
    close_pair(&p);
}

static void test_concurrent_publication_refused(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(f->media.env.client, "aeron:ipc", 6, &pub));
    block_t *b = new_block(0);
    block_message(b, 0, 10);
    assert_block_refused(pub, b->bytes, b->length, "an exclusive publication is needed");
    free(b);
    assert_int_equal(0, shoal_publication_close(pub));
}

/* No subscriber: not connected, as offer says; closed: CLOSED. */
static void test_not_connected(void **state)
{
    fixture_t *f = *state;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_exclusive_publication(f->media.env.client, f->pub_uri, 7, &pub));
    block_t *b = new_block(START);
    block_message(b, 0, 10);
    assert_int_equal(SHOAL_NOT_CONNECTED, shoal_publication_offer_block(pub, b->bytes, b->length));
    free(b);
    assert_int_equal(0, shoal_publication_close(pub));
}

#define T_IPC(fn) cmocka_unit_test_setup_teardown(fn, setup_ipc, teardown)
#define T_UDP(fn) cmocka_unit_test_setup_teardown(fn, setup_udp, teardown)

SHOAL_TEST_MAIN({
    T_IPC(test_blocks_across_a_term_end),
    T_IPC(test_malformed_blocks_refused),
    T_IPC(test_concurrent_publication_refused),
    T_IPC(test_not_connected),
    T_UDP(test_blocks_across_a_term_end),
})
