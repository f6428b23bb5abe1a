/* A publisher that dies in the middle of writing a fragmented message to a
 * shared (concurrent) IPC log must not stop the stream: the subscriber
 * reassembles in the log and waits at the committed BEGIN fragment, so the
 * driver's unblocker has to find the uncommitted fragment behind it. Before
 * this was handled the subscriber position stayed at BEGIN forever and
 * every other publisher of the session was back pressured for good (the
 * soak's "offer still refused: BACK_PRESSURED (connected 1)"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"
#include "client/shoal_client.h"
#include "logbuffer/shoal_term_appender.h"

#define STREAM 60

static int setup(void **state)
{
    static const char *const settings[] = { "PUBLICATION_UNBLOCK_TIMEOUT_MS", "100", "PUBLICATION_LINGER_MS", "5000",
        NULL };
    return shoal_test_env_setup(state, "deadwriter", settings);
}

/* Plays the dead writer through its own handle on the shared log: claims a
 * three-fragment message, commits BEGIN, leaves the second fragment claimed
 * (negative length, as a writer killed mid-copy) and the third unwritten. */
static void write_message_and_die_in_it(shoal_publication_t *dead)
{
    int32_t term_count = shoal_load_acquire(&dead->meta->active_term_count);
    size_t index = shoal_logbuffer_index_by_term_count(term_count);
    int64_t *tail = &dead->meta->term_tail_counters[index];
    int32_t term_id = shoal_logbuffer_term_id(shoal_load_acquire(tail));
    size_t length = 2 * dead->max_payload_length + 200;
    static uint8_t payload[8192];
    memset(payload, 0xd1, sizeof(payload));
    shoal_iovec_t iov = { payload, length };
    int32_t end = shoal_term_appender_append_fragmented(dead->terms[index], tail, dead->term_length,
        dead->default_header, &iov, 1, length, dead->max_payload_length, 0, term_id);
    assert_true(end > 0);
    int32_t full_frame =
        SHOAL_ALIGN((int32_t)dead->max_payload_length + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    int32_t last_frame = SHOAL_ALIGN(200 + SHOAL_DATA_HEADER_LENGTH, SHOAL_FRAME_ALIGNMENT);
    int32_t second = end - last_frame - full_frame;
    int32_t third = end - last_frame;
    uint8_t *term = dead->terms[index];
    assert_int_equal(SHOAL_FRAME_FLAG_BEGIN, ((shoal_data_header_t *)(term + second - full_frame))->frame_header.flags);
    shoal_store_release(&((shoal_data_header_t *)(term + second))->frame_header.frame_length,
        -((int32_t)dead->max_payload_length + SHOAL_DATA_HEADER_LENGTH));
    memset(term + third, 0, (size_t)last_frame);
}

static void test_message_cut_by_a_dead_writer_does_not_stop_the_stream(void **state)
{
    shoal_test_env_t *env = *state;
    shoal_subscription_t *sub;
    shoal_publication_t *live, *dead;
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", STREAM, &sub));
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", STREAM, &live));
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", STREAM, &dead));
    assert_int_equal(shoal_publication_session_id(live), shoal_publication_session_id(dead));
    assert_int_equal(0, shoal_test_wait_connected(live));

    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_true(shoal_test_offer(live, (const uint8_t *)"before", 7) > 0);
    assert_int_equal(1, shoal_test_poll_until(sub, shoal_test_collect, c, 1, 5000));

    write_message_and_die_in_it(dead);
    int64_t after = shoal_test_offer(live, (const uint8_t *)"after", 6);
    assert_true(after > 0);

    /* Two unblocks (the claimed fragment, then the unwritten one) and the
     * live publisher's message arrives; the cut message never does. */
    assert_int_equal(2, shoal_test_poll_until(sub, shoal_test_collect, c, 2, 10000));
    assert_int_equal(6, c->last_len);
    assert_memory_equal("after", c->last, 6);
    assert_int_equal(after, c->last_hdr.position);

    /* The stream goes on: more than a term window gets through. */
    uint8_t msg[1000] = { 0 };
    int64_t deadline = shoal_test_now_ms() + 10000;
    int sent = 0;
    while (sent < 100 && shoal_test_now_ms() < deadline)
    {
        if (shoal_publication_offer(live, msg, sizeof(msg)) > 0)
        {
            sent++;
        }
        shoal_subscription_poll(sub, shoal_test_collect, c, 10);
    }
    assert_int_equal(100, sent);
    assert_int_equal(102, shoal_test_poll_until(sub, shoal_test_collect, c, 102, 5000));
    free(c);
    assert_int_equal(0, shoal_publication_close(dead));
    assert_int_equal(0, shoal_publication_close(live));
    assert_int_equal(0, shoal_subscription_close(sub));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_message_cut_by_a_dead_writer_does_not_stop_the_stream, setup,
        shoal_test_env_teardown),
})
