/* Response channels on one host (aeron:ipc, docs/response-channels.md): a
 * response subscription links no stream until the responder's response
 * publication names it (through the request publication's image), then
 * only that one; two requesters each get their own response stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>

#include "../shoal_test_main.h"
#include "image_recorder.h"

static void test_each_requester_gets_its_own_response_stream(void **state)
{
    (void)state;
    shoal_test_env_t env;
    assert_int_equal(0, shoal_test_env_start(&env, "ipc-response"));
    /* The responder learns each request stream's correlation id from its image. */
    image_recorder_t *seen = image_recorder_new();
    shoal_subscription_t *requests = image_recorder_subscribe(seen, env.client, "aeron:ipc", 1);
    shoal_subscription_t *plain, *responses[2];
    shoal_publication_t *request_pubs[2], *response_pubs[2];
    assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc", 2, &plain));
    char uri[128];
    for (int k = 0; k < 2; k++)
    {
        assert_int_equal(0, shoal_add_subscription(env.client, "aeron:ipc?control-mode=response", 2, &responses[k]));
        snprintf(uri, sizeof(uri), "aeron:ipc?response-correlation-id=%" PRId64,
            shoal_subscription_registration_id(responses[k]));
        assert_int_equal(0, shoal_add_publication(env.client, uri, 1, &request_pubs[k]));
    }
    assert_int_equal(0, shoal_test_wait_images(requests, 2, 5000));
    int64_t deadline = shoal_test_now_ms() + 5000;
    while (image_recorder_count(seen) < 2 && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(2, image_recorder_count(seen));
    /* Nothing on the response subscriptions before the responder answers. */
    assert_int_equal(0, shoal_subscription_image_count(responses[0]));
    for (int k = 0; k < 2; k++)
    {
        snprintf(uri, sizeof(uri), "aeron:ipc?control-mode=response|response-correlation-id=%" PRId64,
            image_recorder_at(seen, k).correlation_id);
        assert_int_equal(0, shoal_add_publication(env.client, uri, 2, &response_pubs[k]));
    }
    for (int k = 0; k < 2; k++)
    {
        /* The response publication made for request session s reaches the requester of s only. */
        int requester = shoal_publication_session_id(request_pubs[0]) == image_recorder_at(seen, k).session_id ? 0 : 1;
        assert_int_equal(0, shoal_test_wait_images(responses[requester], 1, 5000));
        const uint8_t msg[] = "answer";
        assert_true(shoal_test_offer(response_pubs[k], msg, sizeof(msg)) > 0);
        static shoal_test_collector_t got;
        memset(&got, 0, sizeof(got));
        assert_int_equal(1, shoal_test_poll_until(responses[requester], shoal_test_collect, &got, 1, 5000));
        assert_int_equal(shoal_publication_session_id(response_pubs[k]), got.last_hdr.session_id);
    }
    assert_int_equal(1, shoal_subscription_image_count(responses[0]));
    assert_int_equal(1, shoal_subscription_image_count(responses[1]));
    assert_int_equal(0, shoal_test_wait_images(plain, 2, 5000)); /* a plain subscriber sees every session */

    /* Ids that name nothing. */
    shoal_publication_t *pub;
    assert_int_equal(-1, shoal_add_publication(env.client, "aeron:ipc?response-correlation-id=987654", 1, &pub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_int_equal(-1,
        shoal_add_publication(env.client, "aeron:ipc?control-mode=response|response-correlation-id=987654", 2, &pub));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_int_equal(-1, shoal_add_publication(env.client, "aeron:ipc?control-mode=response", 2, &pub));
    assert_non_null(strstr(shoal_errmsg(), "response-correlation-id"));
    shoal_test_env_stop(&env);
    image_recorder_free(seen);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_each_requester_gets_its_own_response_stream),
})
