/* Checks that several end-to-end tests make the same way, written once: they
 * assert with cmocka, so a failure points at the check that failed. */
#ifndef SHOAL_TEST_CHECKS_H
#define SHOAL_TEST_CHECKS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "shoal_test_support.h"

/* A stream connected by shoal_test_connect, which must succeed: the
 * subscription on sub_client, the publication (exclusive or not) on
 * pub_client, and with wait_image the subscription's image there too. */
static inline shoal_test_stream_t shoal_test_stream(shoal_client_t *sub_client, shoal_client_t *pub_client,
    const char *uri, int32_t stream_id, bool exclusive, bool wait_image)
{
    shoal_test_stream_t s;
    assert_int_equal(0,
        shoal_test_connect(sub_client, pub_client, uri, stream_id, exclusive, wait_image, &s.sub, &s.pub));
    return s;
}

/* Offers one message of each size (its bytes a pattern of the size's index)
 * and checks that each arrives whole, one at a time, within 5 s. buf holds
 * the largest size. */
static inline void shoal_test_check_sizes_arrive_whole(shoal_publication_t *pub, shoal_subscription_t *sub,
    uint8_t *buf, const size_t *sizes, size_t n)
{
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
    {
        for (size_t k = 0; k < sizes[i]; k++)
        {
            buf[k] = (uint8_t)(k * 7 + i);
        }
        assert_true(shoal_test_offer(pub, buf, sizes[i]) > 0);
        assert_int_equal((int)i + 1, shoal_test_poll_until(sub, shoal_test_collect, c, (int)i + 1, 5000));
        assert_int_equal(sizes[i], c->last_len);
        assert_memory_equal(buf, c->last, sizes[i]);
    }
    free(c);
}

/* Checks that the last message c saw is msg, sent by pub on stream_id, and
 * ends at position pos. */
static inline void shoal_test_check_last_message(const shoal_test_collector_t *c, const uint8_t *msg, size_t len,
    int32_t stream_id, shoal_publication_t *pub, int64_t pos)
{
    assert_int_equal(len, c->last_len);
    assert_memory_equal(msg, c->last, len);
    assert_int_equal(stream_id, c->last_hdr.stream_id);
    assert_int_equal(shoal_publication_session_id(pub), c->last_hdr.session_id);
    assert_int_equal(pos, c->last_hdr.position);
}

/* Offers the same message count times; each must be accepted within 5 s. */
static inline void shoal_test_offer_times(shoal_publication_t *pub, const uint8_t *msg, size_t len, int count)
{
    for (int i = 0; i < count; i++)
    {
        assert_true(shoal_test_offer(pub, msg, len) > 0);
    }
}

/* Offers count messages of len bytes that start with the sequence numbers
 * first, first + 1, ... (for shoal_test_collect_seq); len >= 8. */
static inline void shoal_test_offer_seq(shoal_publication_t *pub, uint8_t *buf, size_t len, uint64_t first,
    uint64_t count)
{
    for (uint64_t i = first; i < first + count; i++)
    {
        memcpy(buf, &i, 8);
        assert_true(shoal_test_offer(pub, buf, len) > 0);
    }
}

/* Polls (into c) until sub has no image left, up to timeout_ms, then checks
 * that none is. */
static inline void shoal_test_check_images_drain(shoal_subscription_t *sub, shoal_test_collector_t *c,
    int64_t timeout_ms)
{
    int64_t deadline = shoal_test_now_ms() + timeout_ms;
    while (shoal_subscription_image_count(sub) > 0 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, shoal_test_collect, c, 10);
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(0, shoal_subscription_image_count(sub));
}

/* After its last subscriber left, pub accepts neither an offer nor a claim
 * (NOT_CONNECTED) and its limit does not run ahead of its position; what
 * names the case in the message printed. */
static inline void shoal_test_check_refused_without_subscribers(shoal_publication_t *pub, const char *what)
{
    int64_t refusal = 0;
    long accepted = shoal_test_offers_accepted(pub, 100000, &refusal);
    print_message("%s: offers accepted after the last subscriber left: %ld\n", what, accepted);
    assert_int_equal(0, accepted);
    assert_int_equal(SHOAL_NOT_CONNECTED, refusal);
    assert_true(shoal_publication_position_limit(pub) <= shoal_publication_position(pub));
    shoal_claim_t claim;
    assert_int_equal(SHOAL_NOT_CONNECTED, shoal_publication_try_claim(pub, 16, &claim));
}

/* A publication (on client, of uri and stream_id) that nobody subscribes to
 * is still not connected after settle_ms and refuses an offer with
 * NOT_CONNECTED; closes it. IPC and UDP make the same promise. */
static inline void shoal_test_check_not_connected_without_subscriber(shoal_client_t *client, const char *uri,
    int32_t stream_id, long settle_ms)
{
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(client, uri, stream_id, &pub));
    shoal_test_sleep_ms(settle_ms);
    assert_false(shoal_publication_is_connected(pub));
    assert_int_equal(SHOAL_NOT_CONNECTED, shoal_publication_offer(pub, (const uint8_t *)"x", 1));
    shoal_publication_close(pub);
}

/* A subscriber that comes back (on client, channel, stream_id) connects pub
 * again and gets the next message; closes both. */
static inline void shoal_test_check_subscriber_revives(shoal_publication_t *pub, shoal_client_t *client,
    const char *channel, int32_t stream_id)
{
    shoal_subscription_t *sub;
    assert_int_equal(0, shoal_add_subscription(client, channel, stream_id, &sub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_test_wait_images(sub, 1, 5000));
    const uint8_t msg[64] = { 1 };
    int64_t position = shoal_test_offer(pub, msg, sizeof(msg));
    assert_true(position > 0);
    shoal_test_collector_t *c = calloc(1, sizeof(*c));
    assert_int_equal(1, shoal_test_poll_until(sub, shoal_test_collect, c, 1, 5000));
    assert_int_equal(position, c->last_hdr.position);
    free(c);
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_publication_close(pub));
}

#endif
