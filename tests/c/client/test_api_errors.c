/* Bad input through the public API: every call answers with a result code
 * and a message that names the problem; nothing crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"

static void test_version(void **state)
{
    (void)state;
    char expected[32];
    snprintf(expected, sizeof(expected), "%d.%d.%d", SHOAL_VERSION_MAJOR, SHOAL_VERSION_MINOR, SHOAL_VERSION_PATCH);
    assert_string_equal(expected, shoal_version());
    assert_int_equal((SHOAL_VERSION_MAJOR << 16) | (SHOAL_VERSION_MINOR << 8) | SHOAL_VERSION_PATCH,
        shoal_version_number());
}

static void test_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(-1, shoal_context_init(NULL));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_int_equal(-1, shoal_context_close(NULL));
    assert_int_equal(-1, shoal_context_set_dir(NULL, "/tmp"));
    assert_int_equal(-1, shoal_driver_start(NULL, NULL));
    assert_int_equal(-1, shoal_driver_close(NULL));
    assert_int_equal(-1, shoal_client_connect(NULL, NULL));
    assert_int_equal(-1, shoal_client_close(NULL));
    assert_int_equal(-1, shoal_add_publication(NULL, "aeron:ipc", 1, NULL));
    assert_non_null(strstr(shoal_errmsg(), "must not be NULL"));
    assert_int_equal(-1, shoal_add_subscription(NULL, "aeron:ipc", 1, NULL));
    assert_int_equal(SHOAL_ERROR, shoal_publication_offer(NULL, (const uint8_t *)"x", 1));
    assert_int_equal(SHOAL_ERROR, shoal_publication_offerv(NULL, NULL, 0));
    assert_int_equal(SHOAL_ERROR, shoal_publication_try_claim(NULL, 1, NULL));
    assert_int_equal(-1, shoal_claim_commit(NULL));
    assert_int_equal(-1, shoal_claim_abort(NULL));
    assert_int_equal(-1, shoal_subscription_poll(NULL, NULL, NULL, 1));
    assert_int_equal(-1, shoal_subscription_controlled_poll(NULL, NULL, NULL, 1));
    assert_int_equal(-1, shoal_subscription_poll_batch(NULL, NULL, 1));
    assert_int_equal(-1, shoal_publication_close(NULL));
    assert_int_equal(-1, shoal_subscription_close(NULL));
    assert_false(shoal_publication_is_connected(NULL));
    assert_true(shoal_publication_is_closed(NULL));
    assert_false(shoal_subscription_is_connected(NULL));
    assert_false(shoal_driver_is_active(NULL, 1));
}

static void test_context_settings_validated(void **state)
{
    (void)state;
    shoal_context_t *ctx;
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_int_equal(-1, shoal_context_set_ipc_term_length(ctx, 1000));
    assert_non_null(strstr(shoal_errmsg(), "IPC_TERM_LENGTH"));
    assert_int_equal(-1, shoal_context_set(ctx, "NO_SUCH_SETTING", "1"));
    assert_non_null(strstr(shoal_errmsg(), "NO_SUCH_SETTING"));
    assert_int_equal(-1, shoal_context_set(ctx, "MTU", "1000"));
    assert_int_equal(-1, shoal_context_set(ctx, "DRIVER_TIMEOUT_MS", "abc"));
    assert_int_equal(-1, shoal_context_set(ctx, "IDLE_STRATEGY", "nap"));
    assert_int_equal(0, shoal_context_set(ctx, "SHOAL_IPC_TERM_LENGTH", "1m"));
    assert_int_equal(0, shoal_context_set(ctx, "IDLE_STRATEGY", "busy-spin"));
    assert_int_equal(-1, shoal_context_set_driver_timeout_ms(ctx, 0));
    assert_int_equal(-1, shoal_context_set_dir(ctx, ""));
    assert_int_equal(0, shoal_context_set_dir(ctx, "/tmp/x/"));
    assert_string_equal("/tmp/x", shoal_context_get_dir(ctx));
    shoal_context_close(ctx);

    setenv("SHOAL_MTU", "17", 1);
    assert_int_equal(-1, shoal_context_init(&ctx));
    assert_non_null(strstr(shoal_errmsg(), "SHOAL_MTU"));
    unsetenv("SHOAL_MTU");
}

static void test_bad_uris_and_closed_handles(void **state)
{
    (void)state;
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, "errors"));
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    struct
    {
        const char *uri;
        const char *needle;
    } bad[] = {
        { "", "URI" },
        { "tcp://x", "aeron:" },
        { "aeron:ipc?foo=1", "foo" },
        { "aeron:ipc?term-length=1000", "term-length" },
        { "aeron:ipc?endpoint=localhost:40123", "endpoint" },
        { "aeron:ipc?mtu=abc", "mtu" },
        { "aeron:ipc?session-id", "session-id" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        assert_int_equal(-1, shoal_add_publication(env.client, bad[i].uri, 1, &pub));
        assert_int_equal(SHOAL_EURI, shoal_errcode());
        if (NULL == strstr(shoal_errmsg(), bad[i].needle))
        {
            fail_msg("uri '%s': message '%s' lacks '%s'", bad[i].uri, shoal_errmsg(), bad[i].needle);
        }
        assert_int_equal(-1, shoal_add_subscription(env.client, bad[i].uri, 1, &sub));
        assert_int_equal(SHOAL_EURI, shoal_errcode());
    }
    /* A UDP endpoint that parses but does not resolve: the driver's answer names the host. */
    assert_int_equal(-1, shoal_add_publication(env.client, "aeron:udp?endpoint=no-such-host.invalid:40123", 1, &pub));
    if (NULL == strstr(shoal_errmsg(), "no-such-host.invalid"))
    {
        fail_msg("unresolvable host: message '%s' does not name it", shoal_errmsg());
    }
    assert_int_not_equal(0, shoal_errcode());

    /* After the client closes, its calls fail cleanly. */
    shoal_client_close(env.client);
    env.client = NULL;
    shoal_client_t *client;
    assert_int_equal(0, shoal_client_connect(&client, env.ctx));
    assert_int_equal(0, shoal_add_subscription(client, "aeron:ipc", 3, &sub));
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_client_close(client));
    shoal_test_env_stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_version),
    cmocka_unit_test(test_null_arguments),
    cmocka_unit_test(test_context_settings_validated),
    cmocka_unit_test(test_bad_uris_and_closed_handles),
})
