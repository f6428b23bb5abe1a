/* Values the driver reads from memory every client can write: subscriber
 * position counters and the error log's record lengths in cnc.dat. A value
 * no correct client writes must not stall the driver's duty cycle (checked
 * by the driver heartbeat moving on, with a generous deadline), index
 * outside a buffer (ASan), or stop the stream for well-behaved clients; it
 * is clamped or repaired and counted in "Invalid values in client-writable
 * memory". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_checks.h"
#include "../transport/udp_test_util.h"
#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_clock.h"
#include "util/shoal_counters.h"
#include "util/shoal_error_log.h"

#define TERM_LENGTH        (64 * 1024)
#define UNBLOCK_TIMEOUT_MS 100
#define DEADLINE_MS        20000

typedef struct
{
    char dir[128];
    shoal_context_t *ctx;
    shoal_driver_t *driver;
    shoal_client_t *client;
} env_t;

static void start(env_t *env, const char *name)
{
    memset(env, 0, sizeof(*env));
    snprintf(env->dir, sizeof(env->dir), "/dev/shm/shoal-test-%ld-%s", (long)getpid(), name);
    assert_int_equal(0, shoal_context_init(&env->ctx));
    assert_int_equal(0, shoal_context_set_dir(env->ctx, env->dir));
    assert_int_equal(0, shoal_context_set(env->ctx, "DIR_DELETE_ON_SHUTDOWN", "1"));
    assert_int_equal(0, shoal_context_set(env->ctx, "PUBLICATION_LINGER_MS", "200"));
    assert_int_equal(0, shoal_context_set_ipc_term_length(env->ctx, TERM_LENGTH));
    /* Short, so the unblock check runs on the clamped positions below. */
    assert_int_equal(0, shoal_context_set_publication_unblock_timeout_ms(env->ctx, UNBLOCK_TIMEOUT_MS));
    assert_int_equal(0, shoal_driver_start(&env->driver, env->ctx));
    assert_int_equal(0, shoal_client_connect(&env->client, env->ctx));
}

static void stop(env_t *env)
{
    assert_int_equal(0, shoal_client_close(env->client));
    assert_int_equal(0, shoal_driver_close(env->driver));
    shoal_context_close(env->ctx);
}

static int64_t system_counter(const env_t *env, int32_t id)
{
    return shoal_load_acquire(shoal_counter_addr(env->client->cnc.counters_values, id));
}

/* The conductor stamps the heartbeat every millisecond of its duty cycle: a
 * stamp well after since_ms means cycles completed after the poke. */
static void assert_driver_cycles_after(const env_t *env, int64_t since_ms, int64_t margin_ms)
{
    int64_t deadline = shoal_test_now_ms() + DEADLINE_MS;
    while (system_counter(env, SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT) < since_ms + margin_ms &&
        shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    assert_true(system_counter(env, SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT) >= since_ms + margin_ms);
}

static void assert_counter_reaches(const env_t *env, int32_t id, int64_t min)
{
    int64_t deadline = shoal_test_now_ms() + DEADLINE_MS;
    while (system_counter(env, id) < min && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    assert_true(system_counter(env, id) >= min);
}

typedef struct
{
    const char *needle;
    int32_t count;
    int found;
} log_search_t;

static void find_in_log(int32_t observation_count, int64_t first_ms, int64_t last_ms, int32_t error_code,
    const char *text, size_t text_length, void *clientd)
{
    (void)first_ms;
    (void)last_ms;
    (void)error_code;
    log_search_t *s = clientd;
    char copy[512];
    size_t n = text_length < sizeof(copy) - 1 ? text_length : sizeof(copy) - 1;
    memcpy(copy, text, n);
    copy[n] = '\0';
    if (NULL != strstr(copy, s->needle))
    {
        s->found++;
        s->count = observation_count;
    }
}

static log_search_t search_error_log(const env_t *env, const char *needle)
{
    log_search_t s = { needle, 0, 0 };
    shoal_error_log_read(env->client->cnc.error_log, (size_t)env->client->cnc.meta->error_log_buffer_length,
        find_in_log, &s, 0);
    return s;
}

/* Publishes count sequenced messages and reads them back. */
static void exchange(shoal_publication_t *pub, shoal_subscription_t *sub, shoal_test_collector_t *got, int count)
{
    uint8_t msg[1000] = { 0 };
    const int expected = got->count + count;
    const uint64_t first_seq = (uint64_t)got->count; /* every message sent so far has arrived */
    for (int i = 0; i < count; i++)
    {
        uint64_t seq = first_seq + (uint64_t)i;
        memcpy(msg, &seq, sizeof(seq));
        int64_t deadline = shoal_test_now_ms() + DEADLINE_MS;
        int64_t r;
        while ((r = shoal_publication_offer(pub, msg, sizeof(msg))) < 0 && shoal_test_now_ms() < deadline)
        {
            assert_true(SHOAL_BACK_PRESSURED == r || SHOAL_ADMIN_ACTION == r || SHOAL_NOT_CONNECTED == r);
            assert_true(shoal_subscription_poll(sub, shoal_test_collect_seq, got, 100) >= 0);
        }
        assert_true(r > 0);
    }
    assert_int_equal(expected, shoal_test_poll_until(sub, shoal_test_collect_seq, got, expected, DEADLINE_MS));
    assert_int_equal(0, got->errors);
}

static void ipc_stream(env_t *env, shoal_publication_t **pub, shoal_subscription_t **sub)
{
    assert_int_equal(0, shoal_add_subscription(env->client, "aeron:ipc", 1, sub));
    assert_int_equal(0, shoal_add_publication(env->client, "aeron:ipc", 1, pub));
    assert_int_equal(0, shoal_test_wait_connected(*pub));
    assert_int_equal(0, shoal_test_wait_images(*sub, 1, DEADLINE_MS));
}

static int64_t *subscriber_position_counter(shoal_subscription_t *sub)
{
    return shoal_load_acquire(&sub->images)->images[0]->subscriber_position;
}

/* A driver and client with one IPC stream between them, and what the
 * subscription has received (static in the tests: the collector is large). */
typedef struct
{
    env_t env;
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    shoal_test_collector_t got;
} ipc_fixture_t;

/* Starts the fixture (the driver's directory named for name) and exchanges
 * count messages. */
static void start_ipc(ipc_fixture_t *f, const char *name, int count)
{
    memset(&f->got, 0, sizeof(f->got));
    start(&f->env, name);
    ipc_stream(&f->env, &f->pub, &f->sub);
    exchange(f->pub, f->sub, &f->got, count);
}

static void assert_logged_once(const env_t *env, const char *needle)
{
    assert_int_equal(1, search_error_log(env, needle).found);
}

/* Writes value where the driver reads sub's position, as a client gone
 * wrong could: the driver counts one more invalid value and its duty cycle
 * goes on for cycle_ms after the write. */
static void poke_subscriber_position(env_t *env, shoal_subscription_t *sub, int64_t value, int64_t cycle_ms)
{
    const int64_t invalid_before = system_counter(env, SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES);
    shoal_store_release(subscriber_position_counter(sub), value);
    const int64_t poked_ms = shoal_epoch_ms();
    assert_counter_reaches(env, SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES, invalid_before + 1);
    assert_driver_cycles_after(env, poked_ms, cycle_ms);
}

/* INT64_MAX used to make the conductor clean the log up to there, 64 KiB
 * at a time: 2^47 rounds, the driver frozen for good. */
static void test_subscriber_position_beyond_the_stream_is_clamped(void **state)
{
    (void)state;
    static ipc_fixture_t f;
    start_ipc(&f, "subpos-high", 10);
    env_t *env = &f.env;

    const int64_t invalid_before = system_counter(env, SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES);
    const int64_t values[] = { INT64_MAX, shoal_publication_position(f.pub) + 1 };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
    {
        poke_subscriber_position(env, f.sub, values[i], 50);
        /* The publisher may run ahead of the position it was given, not of
         * what is possible: the limit stays within a window of the stream. */
        int64_t limit = shoal_publication_position_limit(f.pub);
        assert_true(limit >= shoal_publication_position(f.pub));
        assert_true(limit <= shoal_publication_position(f.pub) + TERM_LENGTH);
        /* Polling writes the true position back; the stream goes on. */
        exchange(f.pub, f.sub, &f.got, 100);
    }
    /* Counted once per excursion, logged with the value. */
    assert_int_equal(invalid_before + 2, system_counter(env, SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES));
    assert_logged_once(env, "subscriber position 9223372036854775807 of subscription");
    stop(env);
}

/* A position far behind (or before the start of) the stream used to index
 * outside the log when the unblock check ran on it: the driver crashed. */
static void test_subscriber_position_behind_the_stream_is_clamped(void **state)
{
    (void)state;
    static ipc_fixture_t f;
    /* Two terms and more, so positions a term behind are in the stream. */
    start_ipc(&f, "subpos-low", 150);
    env_t *env = &f.env;

    const int64_t values[] = { -2 * (int64_t)TERM_LENGTH + 64, INT64_MIN, -1,
        shoal_publication_position(f.pub) - TERM_LENGTH - 32 };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
    {
        /* Long enough for the unblock timeout to pass on the bad value. */
        poke_subscriber_position(env, f.sub, values[i], 3 * UNBLOCK_TIMEOUT_MS);
        assert_int_equal(0, system_counter(env, SHOAL_SYSTEM_COUNTER_UNBLOCKED_PUBLICATIONS));
        exchange(f.pub, f.sub, &f.got, 100);
    }
    assert_logged_once(env, "-9223372036854775808 of subscription");
    stop(env);
}

/* A UDP image's subscriber position beyond what was received used to make
 * the receiver clean up to it (frozen) and advertise it in status messages. */
static void test_udp_subscriber_position_beyond_received_is_clamped(void **state)
{
    (void)state;
    static shoal_test_collector_t got;
    memset(&got, 0, sizeof(got));
    env_t env;
    start(&env, "subpos-udp");
    char channel[96];
    int port = udp_test_free_port();
    assert_true(port > 0);
    snprintf(channel, sizeof(channel), "aeron:udp?endpoint=127.0.0.1:%d|term-length=64k", port);
    shoal_test_stream_t s = shoal_test_stream(env.client, env.client, channel, 2, false, false);
    assert_int_equal(0, shoal_test_wait_images(s.sub, 1, DEADLINE_MS));
    exchange(s.pub, s.sub, &got, 20);

    poke_subscriber_position(&env, s.sub, INT64_MAX - 1, 50);
    /* The receiver still takes data: it is not stuck cleaning. */
    exchange(s.pub, s.sub, &got, 200);
    stop(&env);
}

/* The error log's first record length set to 0 (and other impossible
 * values): the driver's search for a repeat used to stand still on it. */
static void test_error_log_record_lengths_are_repaired(void **state)
{
    (void)state;
    env_t env;
    start(&env, "errlog");
    shoal_publication_t *pub, *clash;
    assert_int_equal(0, shoal_add_exclusive_publication(env.client, "aeron:ipc?session-id=77", 9, &pub));
    assert_int_equal(-1, shoal_add_exclusive_publication(env.client, "aeron:ipc?session-id=77", 9, &clash));
    assert_int_equal(SHOAL_ECLASH, shoal_errcode());
    assert_int_equal(1, search_error_log(&env, "session-id 77 is already in use").count);

    int32_t *first_length = (int32_t *)(void *)env.client->cnc.error_log;
    const int32_t good = shoal_load_acquire(first_length);
    const int32_t bad[] = { 0, -1, INT32_MAX, 4, good + 8 };
    const int64_t invalid_before = system_counter(&env, SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        shoal_store_release(first_length, bad[i]);
        int64_t poked_ms = shoal_epoch_ms();
        /* The driver answers first, then records the error, walking the log. */
        assert_int_equal(-1, shoal_add_exclusive_publication(env.client, "aeron:ipc?session-id=77", 9, &clash));
        assert_int_equal(SHOAL_ECLASH, shoal_errcode());
        assert_counter_reaches(&env, SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES, invalid_before + (int64_t)i + 1);
        assert_driver_cycles_after(&env, poked_ms, 50);
        assert_int_equal(good, shoal_load_acquire(first_length));
        /* The repeat was found again, not appended as a new record. */
        log_search_t s = search_error_log(&env, "session-id 77 is already in use");
        assert_int_equal(1, s.found);
        assert_int_equal((int32_t)i + 2, s.count);
    }
    log_search_t repaired = search_error_log(&env, "restored 1 record length(s) that a client overwrote");
    assert_int_equal(1, repaired.found);
    assert_int_equal(5, repaired.count);
    assert_int_equal(0, shoal_publication_close(pub));
    stop(&env);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_subscriber_position_beyond_the_stream_is_clamped),
    cmocka_unit_test(test_subscriber_position_behind_the_stream_is_clamped),
    cmocka_unit_test(test_udp_subscriber_position_beyond_received_is_clamped),
    cmocka_unit_test(test_error_log_record_lengths_are_repaired),
})
