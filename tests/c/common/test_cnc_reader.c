/* The public monitoring API (shoal_cnc_*): arguments, result codes and what
 * it reads from a live embedded driver. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "shoal/shoal.h"
#include "../shoal_test_support.h"

typedef struct
{
    int counters, system, clients_active_seen, pub_pos_seen, labels_terminated;
    int64_t clients_active;
} counters_seen_t;

static void on_counter(void *clientd, int32_t id, int32_t type_id, const char *label, size_t label_length,
    int64_t value)
{
    counters_seen_t *s = clientd;
    assert_true(id >= 0);
    s->counters++;
    s->labels_terminated += '\0' == label[label_length] && strlen(label) == label_length;
    if (SHOAL_COUNTER_TYPE_SYSTEM == type_id)
    {
        s->system++;
        if (0 == strcmp(label, "Clients active"))
        {
            s->clients_active_seen = 1;
            s->clients_active = value;
        }
    }
    if (SHOAL_COUNTER_TYPE_PUBLISHER_POSITION == type_id && 0 == strncmp(label, "pub-pos: ", 9))
    {
        s->pub_pos_seen = 1;
    }
}

static void on_error(void *clientd, int32_t count, int64_t first_ms, int64_t last_ms, int32_t code, const char *text,
    size_t text_length)
{
    (void)count, (void)first_ms, (void)last_ms, (void)code, (void)text, (void)text_length;
    (*(int *)clientd)++;
}

static void on_loss(void *clientd, int64_t observations, int64_t bytes, int64_t first_ms, int64_t last_ms,
    int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length, const char *source,
    size_t source_length)
{
    (void)observations, (void)bytes, (void)first_ms, (void)last_ms, (void)session_id, (void)stream_id;
    (void)channel, (void)channel_length, (void)source, (void)source_length;
    (*(int *)clientd)++;
}

static void test_reads_a_live_driver(void **state)
{
    (void)state;
    shoal_test_env_t env;
    assert_int_equal(shoal_test_env_start(&env, "cnc-reader"), 0);
    shoal_publication_t *pub;
    assert_int_equal(shoal_add_publication(env.client, "aeron:ipc", 9, &pub), 0);

    shoal_cnc_t *cnc = NULL;
    assert_int_equal(shoal_cnc_open(&cnc, env.dir), 0);
    counters_seen_t seen = { 0 };
    int n = shoal_cnc_counters_foreach(cnc, on_counter, &seen);
    assert_int_equal(n, seen.counters);
    assert_true(seen.system >= 14);
    assert_int_equal(seen.labels_terminated, seen.counters);
    assert_true(seen.clients_active_seen);
    assert_int_equal(seen.clients_active, 1);
    assert_true(seen.pub_pos_seen);

    int errors = 0, losses = 0;
    assert_int_equal(shoal_cnc_errors_foreach(cnc, on_error, &errors), 0);
    assert_int_equal(shoal_cnc_loss_foreach(cnc, on_loss, &losses), 0);
    assert_int_equal(errors + losses, 0);

    int64_t age = shoal_cnc_driver_heartbeat_age_ns(cnc);
    assert_true(age >= 0);
    assert_true(age <= shoal_cnc_driver_timeout_ns(cnc));
    assert_int_equal(shoal_cnc_driver_pid(cnc), getpid());
    assert_int_equal(shoal_cnc_close(cnc), 0);

    shoal_publication_close(pub);
    shoal_test_env_stop(&env);
}

static void test_arguments_and_result_codes(void **state)
{
    (void)state;
    shoal_cnc_t *cnc = (shoal_cnc_t *)&cnc;
    assert_int_equal(shoal_cnc_open(NULL, "/dev/shm"), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_cnc_open(&cnc, "/dev/shm/shoal-test-no-such-driver-dir"), -1);
    assert_int_equal(shoal_errcode(), SHOAL_ENODRIVER);
    assert_null(cnc);

    int count = 0;
    assert_int_equal(shoal_cnc_counters_foreach(NULL, NULL, NULL), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_non_null(strstr(shoal_errmsg(), "shoal_cnc_counters_foreach"));
    assert_int_equal(shoal_cnc_errors_foreach(NULL, on_error, &count), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_cnc_loss_foreach(NULL, on_loss, &count), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_cnc_driver_heartbeat_age_ns(NULL), -1);
    assert_int_equal(shoal_cnc_driver_pid(NULL), -1);
    assert_int_equal(shoal_cnc_driver_timeout_ns(NULL), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_cnc_close(NULL), 0);

    shoal_test_env_t env;
    assert_int_equal(shoal_test_env_start(&env, "cnc-reader-args"), 0);
    assert_int_equal(shoal_cnc_open(&cnc, env.dir), 0);
    assert_int_equal(shoal_cnc_counters_foreach(cnc, NULL, NULL), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_cnc_errors_foreach(cnc, NULL, NULL), -1);
    assert_int_equal(shoal_cnc_loss_foreach(cnc, NULL, NULL), -1);
    assert_int_equal(count, 0);
    shoal_cnc_close(cnc);
    shoal_test_env_stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_reads_a_live_driver),
    cmocka_unit_test(test_arguments_and_result_codes),
})
