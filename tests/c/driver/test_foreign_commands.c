/* A client cannot close another client's publications or subscriptions by
 * sending their registration ids (the public API only closes its own
 * handles; these commands go through the internal request path, as a buggy
 * or hostile client could send them). The driver answers with an error,
 * counts it in "Commands naming another client's handle", and the owner's
 * stream keeps working. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"
#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_counters.h"

#define DEADLINE_MS 20000

static int64_t system_counter(shoal_client_t *c, int32_t id)
{
    return shoal_load_acquire(shoal_counter_addr(c->cnc.counters_values, id));
}

/* Sends a remove command as client c would, naming registration_id. */
static int send_remove(shoal_client_t *c, int32_t type, int64_t registration_id)
{
    shoal_remove_command_t cmd = { { c->client_id, shoal_mpsc_rb_next_correlation_id(&c->to_driver) },
        registration_id };
    pthread_mutex_lock(&c->api_lock);
    int rc = shoal_client_request(c, type, &cmd, sizeof(cmd), cmd.correlated.correlation_id);
    pthread_mutex_unlock(&c->api_lock);
    return rc;
}

static int send_add_destination(shoal_client_t *c, int64_t registration_id, const char *endpoint)
{
    uint8_t buffer[sizeof(shoal_destination_command_t) + 128];
    shoal_destination_command_t cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.correlated.client_id = c->client_id;
    cmd.correlated.correlation_id = shoal_mpsc_rb_next_correlation_id(&c->to_driver);
    cmd.registration_id = registration_id;
    cmd.channel_length = (int32_t)strlen(endpoint);
    memcpy(buffer, &cmd, sizeof(cmd));
    memcpy(buffer + sizeof(cmd), endpoint, strlen(endpoint));
    pthread_mutex_lock(&c->api_lock);
    int rc = shoal_client_request(c, SHOAL_CMD_ADD_DESTINATION, buffer, sizeof(cmd) + strlen(endpoint),
        cmd.correlated.correlation_id);
    pthread_mutex_unlock(&c->api_lock);
    return rc;
}

static void assert_refused_as_foreign(const char *what)
{
    print_message("refused: %s\n", shoal_errmsg());
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), what));
    assert_non_null(strstr(shoal_errmsg(), "belongs to another client"));
}

static void exchange(shoal_publication_t *pub, shoal_subscription_t *sub, shoal_test_collector_t *got, int count)
{
    int expected = got->count + count;
    for (int i = 0; i < count; i++)
    {
        assert_true(shoal_test_offer(pub, (const uint8_t *)"still here", 10) > 0);
    }
    assert_int_equal(expected, shoal_test_poll_until(sub, shoal_test_collect, got, expected, DEADLINE_MS));
}

static void test_other_clients_handles_cannot_be_removed(void **state)
{
    (void)state;
    static shoal_test_collector_t got;
    memset(&got, 0, sizeof(got));
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, "foreign"));
    shoal_client_t *owner = env.client;
    shoal_client_t *other;
    assert_int_equal(0, shoal_client_connect(&other, env.ctx));

    shoal_publication_t *pub, *mdc;
    shoal_subscription_t *sub;
    assert_int_equal(0, shoal_add_subscription(owner, "aeron:ipc", 1, &sub));
    assert_int_equal(0, shoal_add_publication(owner, "aeron:ipc", 1, &pub));
    assert_int_equal(0, shoal_add_publication(owner, "aeron:udp?control-mode=manual", 2, &mdc));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    assert_int_equal(0, shoal_test_wait_images(sub, 1, DEADLINE_MS));
    exchange(pub, sub, &got, 10);

    const int64_t foreign_before = system_counter(owner, SHOAL_SYSTEM_COUNTER_FOREIGN_COMMANDS);
    assert_int_equal(-1, send_remove(other, SHOAL_CMD_REMOVE_PUBLICATION, pub->registration_id));
    assert_refused_as_foreign("publication");
    assert_int_equal(-1, send_remove(other, SHOAL_CMD_REMOVE_SUBSCRIPTION, sub->registration_id));
    assert_refused_as_foreign("subscription");
    assert_int_equal(-1, send_add_destination(other, mdc->registration_id, "aeron:udp?endpoint=127.0.0.1:40999"));
    assert_refused_as_foreign("publication");
    assert_int_equal(foreign_before + 3, system_counter(owner, SHOAL_SYSTEM_COUNTER_FOREIGN_COMMANDS));

    /* An id nobody holds is still just unknown, and not counted as foreign. */
    assert_int_equal(-1, send_remove(other, SHOAL_CMD_REMOVE_PUBLICATION, 1LL << 60));
    assert_int_equal(SHOAL_EINVAL, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "unknown publication registration"));
    assert_int_equal(foreign_before + 3, system_counter(owner, SHOAL_SYSTEM_COUNTER_FOREIGN_COMMANDS));

    /* The owner's stream is untouched; its own removes still succeed. */
    assert_true(shoal_publication_is_connected(pub));
    assert_int_equal(1, shoal_subscription_image_count(sub));
    exchange(pub, sub, &got, 100);
    assert_int_equal(0, shoal_publication_close(mdc));
    assert_int_equal(0, shoal_publication_close(pub));
    assert_int_equal(0, shoal_subscription_close(sub));
    assert_int_equal(0, shoal_client_close(other));
    shoal_test_env_stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_other_clients_handles_cannot_be_removed),
})
