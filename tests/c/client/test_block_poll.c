/* The image block poll (the archive recorder's read path): raw frames of one
 * term at a time, contiguous, within the limit, headers and padding included,
 * and the subscriber position moves past them (flow control sees it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "client/shoal_block_poll.h"
#include "protocol/shoal_frames.h"

static int setup(void **state)
{
    return shoal_test_env_setup(state, "blockpoll", NULL);
}

typedef struct
{
    int64_t expected_position;
    int64_t bytes;
    int blocks;
    int messages;
    int paddings;
    size_t limit;
    size_t largest;
    bool contiguous;
    bool within_terms;
    bool frames_whole;
} blocks_t;

static void on_block(void *clientd, shoal_image_t *image, const uint8_t *frames, size_t length, int64_t position)
{
    (void)image;
    blocks_t *b = clientd;
    const int64_t term_length = 64 * 1024;
    b->contiguous = b->contiguous && position == b->expected_position;
    b->within_terms = b->within_terms && (position / term_length) == ((position + (int64_t)length - 1) / term_length);
    b->largest = length > b->largest ? length : b->largest;
    size_t offset = 0;
    while (offset < length)
    {
        const shoal_data_header_t *h = (const shoal_data_header_t *)(frames + offset);
        int32_t frame_length = h->frame_header.frame_length;
        b->frames_whole = b->frames_whole && frame_length >= SHOAL_DATA_HEADER_LENGTH &&
            h->term_offset == (int32_t)((position + (int64_t)offset) % term_length);
        if (SHOAL_HDR_TYPE_PAD == h->frame_header.type)
        {
            b->paddings++;
        }
        else
        {
            b->messages++;
        }
        offset += (size_t)SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
    }
    b->frames_whole = b->frames_whole && offset == length;
    b->expected_position = position + (int64_t)length;
    b->bytes += (int64_t)length;
    b->blocks++;
}

static void drain(shoal_subscription_t *sub, blocks_t *b, int64_t end)
{
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (b->expected_position < end && shoal_test_now_ms() < deadline)
    {
        assert_true(shoal_subscription_block_poll(sub, on_block, b, b->limit) >= 0);
    }
}

static void test_blocks_are_the_log_as_written(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 70, true, true);

    blocks_t b = { .limit = 4096, .contiguous = true, .within_terms = true, .frames_whole = true };
    uint8_t msg[300] = { 1 };
    int sent = 0;
    int64_t end = 0;
    /* 300-byte messages (352-byte frames) do not divide a 64 KiB term:
     * each term ends with padding. Three terms and more. */
    for (int round = 0; round < 10; round++)
    {
        for (int i = 0; i < 70; i++, sent++)
        {
            end = shoal_test_offer(s.pub, msg, sizeof(msg));
            assert_true(end > 0);
        }
        drain(s.sub, &b, end);
    }
    assert_int_equal(end, b.expected_position);
    assert_int_equal(end, b.bytes);
    assert_true(b.contiguous);
    assert_true(b.within_terms);
    assert_true(b.frames_whole);
    assert_int_equal(sent, b.messages);
    assert_true(b.paddings >= 3);
    assert_true(b.largest <= b.limit);
    assert_true(b.blocks > 1);
    /* The publication's subscriber position followed (it could go on). */
    assert_true(shoal_test_offer(s.pub, msg, sizeof(msg)) > 0);

    /* Nothing committed: nothing handed out. */
    blocks_t none = { .limit = 4096 };
    assert_true(shoal_subscription_block_poll(s.sub, on_block, &none, 4096) > 0); /* the last offer */
    none.blocks = 0;
    assert_int_equal(0, shoal_subscription_block_poll(s.sub, on_block, &none, 4096));
    assert_int_equal(0, none.blocks);

    assert_int_equal(-1, shoal_subscription_block_poll(NULL, on_block, &none, 4096));
    assert_int_equal(-1, shoal_subscription_block_poll(s.sub, NULL, &none, 4096));
    assert_int_equal(-1, shoal_subscription_block_poll(s.sub, on_block, &none, 0));
    assert_int_equal(0, shoal_test_stream_close(&s));
}

/* A limit smaller than a frame still moves: the first frame goes whole. */
static void test_a_frame_longer_than_the_limit_goes_whole(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_test_stream_t s = shoal_test_stream(env->client, env->client, "aeron:ipc", 71, true, true);
    uint8_t msg[1000] = { 2 };
    int64_t end = 0;
    for (int i = 0; i < 5; i++)
    {
        end = shoal_test_offer(s.pub, msg, sizeof(msg));
    }
    blocks_t b = { .limit = 64, .contiguous = true, .within_terms = true, .frames_whole = true };
    drain(s.sub, &b, end);
    assert_int_equal(5, b.blocks);
    assert_int_equal(5, b.messages);
    assert_int_equal(end, b.bytes);
    assert_true(b.frames_whole);
    assert_int_equal(0, shoal_test_stream_close(&s));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, shoal_test_env_teardown)

SHOAL_TEST_MAIN({
    T(test_blocks_are_the_log_as_written),
    T(test_a_frame_longer_than_the_limit_goes_whole),
})
