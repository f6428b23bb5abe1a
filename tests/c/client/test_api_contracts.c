/* The conventions stated at the top of shoal.h, checked function by function:
 * what getters return for NULL (and that they set SHOAL_EINVAL), and what a
 * second commit or abort of a claim does (nothing to the log, SHOAL_ESTATE). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"

/* Leaves a failure other than SHOAL_EINVAL, so each check sees its own. */
static void shoal_set_errcode_marker(void)
{
    shoal_client_t *c = NULL;
    shoal_context_t *ctx = NULL;
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_int_equal(0, shoal_context_set_dir(ctx, "/dev/shm/shoal-no-driver-here-for-contracts"));
    assert_int_equal(-1, shoal_client_connect(&c, ctx));
    assert_int_not_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(0, shoal_context_close(ctx));
}

#define EXPECT_EINVAL(expr, expected)                                                                                  \
    do                                                                                                                 \
    {                                                                                                                  \
        shoal_set_errcode_marker();                                                                                    \
        assert_true((expected) == (expr));                                                                             \
        assert_int_equal(SHOAL_EINVAL, shoal_errcode());                                                               \
        assert_non_null(strstr(shoal_errmsg(), "NULL"));                                                               \
    }                                                                                                                  \
    while (0)

static void test_getters_given_null(void **state)
{
    (void)state;
    EXPECT_EINVAL(shoal_context_get_dir(NULL), NULL);
    EXPECT_EINVAL(shoal_context_get_use_conductor_invoker(NULL), false);
    EXPECT_EINVAL(shoal_client_id(NULL), -1);
    EXPECT_EINVAL(shoal_client_is_closed(NULL), true);
    EXPECT_EINVAL(shoal_client_is_conductor_invoker(NULL), false);
    EXPECT_EINVAL(shoal_publication_is_connected(NULL), false);
    EXPECT_EINVAL(shoal_publication_is_closed(NULL), true);
    EXPECT_EINVAL(shoal_publication_position(NULL), SHOAL_ERROR);
    EXPECT_EINVAL(shoal_publication_position_limit(NULL), SHOAL_ERROR);
    EXPECT_EINVAL(shoal_publication_session_id(NULL), -1);
    EXPECT_EINVAL(shoal_publication_stream_id(NULL), -1);
    EXPECT_EINVAL(shoal_publication_max_message_length(NULL), 0);
    EXPECT_EINVAL(shoal_publication_max_payload_length(NULL), 0);
    EXPECT_EINVAL(shoal_subscription_is_connected(NULL), false);
    EXPECT_EINVAL(shoal_subscription_image_count(NULL), -1);
    EXPECT_EINVAL(shoal_subscription_stream_id(NULL), -1);
    EXPECT_EINVAL(shoal_image_session_id(NULL), -1);
    EXPECT_EINVAL(shoal_image_stream_id(NULL), -1);
    EXPECT_EINVAL(shoal_image_correlation_id(NULL), -1);
    EXPECT_EINVAL(shoal_image_source_identity(NULL), NULL);
    EXPECT_EINVAL(shoal_image_join_position(NULL), -1);
    EXPECT_EINVAL(shoal_image_position(NULL), -1);
    EXPECT_EINVAL(shoal_image_is_closed(NULL), true);
    EXPECT_EINVAL(shoal_mapping_contains(NULL, (const uint8_t *)"x", 1), false);
}

static void test_second_commit_or_abort_changes_nothing(void **state)
{
    (void)state;
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, "contracts"));
    shoal_test_stream_t s = shoal_test_stream(env.client, env.client, "aeron:ipc", 51, true, false);

    shoal_claim_t claim;
    assert_true(shoal_publication_try_claim(s.pub, 4, &claim) > 0);
    memcpy(claim.data, "one!", 4);
    assert_int_equal(0, shoal_claim_commit(&claim));
    int64_t after_first = shoal_publication_position(s.pub);
    assert_int_equal(-1, shoal_claim_commit(&claim));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_int_equal(-1, shoal_claim_abort(&claim));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());

    assert_true(shoal_publication_try_claim(s.pub, 4, &claim) > 0);
    memcpy(claim.data, "two!", 4);
    assert_int_equal(0, shoal_claim_abort(&claim));
    assert_int_equal(-1, shoal_claim_abort(&claim));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_int_equal(-1, shoal_claim_commit(&claim));
    assert_int_equal(SHOAL_ESTATE, shoal_errcode());
    assert_true(shoal_publication_position(s.pub) > after_first); /* the aborted frame is padding */

    assert_true(shoal_test_offer(s.pub, (const uint8_t *)"tri!", 4) > 0);
    /* the subscriber sees the committed message and the offered one; the
     * aborted claim and the repeated commit/abort left nothing */
    shoal_fragment_t frags[8];
    int got = 0;
    char seen[8][5];
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (got < 2 && shoal_test_now_ms() < deadline)
    {
        int n = shoal_subscription_poll_batch(s.sub, frags, 8);
        assert_true(n >= 0);
        for (int i = 0; i < n && got < 8; i++, got++)
        {
            assert_int_equal(4, frags[i].length);
            memcpy(seen[got], frags[i].data, 4);
            seen[got][4] = '\0';
        }
    }
    shoal_test_sleep_ms(50);
    assert_int_equal(0, shoal_subscription_poll_batch(s.sub, frags, 8));
    assert_int_equal(2, got);
    assert_string_equal("one!", seen[0]);
    assert_string_equal("tri!", seen[1]);
    shoal_test_env_stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_getters_given_null),
    cmocka_unit_test(test_second_commit_or_abort_changes_nothing),
})
