/* A client whose conductor falls a whole broadcast buffer behind the driver
 * has missed events (here, the image of a publication that went away) and
 * cannot know which: it closes with SHOAL_ECLOSED "missed driver events"
 * through the error handler instead of keeping a stale image, and the
 * driver releases its resources at once. Deterministic: the test holds the
 * client's conductor lock while another client makes the driver broadcast
 * more than the (4 KiB) buffer holds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"
#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_counters.h"

#define DEADLINE_MS      20000
#define BROADCAST_LENGTH 4096

typedef struct
{
    int calls;
    int code;
    char message[1024];
} handler_record_t;

/* Runs on the client's conductor thread: the count is stored last, with
 * release, and the test reads the record only once it has seen the count. */
static void on_error(void *clientd, int code, const char *message)
{
    handler_record_t *r = clientd;
    r->code = code;
    snprintf(r->message, sizeof(r->message), "%s", message);
    __atomic_store_n(&r->calls, r->calls + 1, __ATOMIC_RELEASE);
}

static shoal_context_t *context_for(const char *dir)
{
    shoal_context_t *ctx;
    assert_int_equal(0, shoal_context_init(&ctx));
    assert_int_equal(0, shoal_context_set_dir(ctx, dir));
    assert_int_equal(0, shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1"));
    assert_int_equal(0, shoal_context_set(ctx, "PUBLICATION_LINGER_MS", "100"));
    assert_int_equal(0, shoal_context_set(ctx, "TO_CLIENTS_BUFFER_LENGTH", "4096"));
    assert_int_equal(0, shoal_context_set_ipc_term_length(ctx, 64 * 1024));
    return ctx;
}

static int64_t system_counter(shoal_client_t *c, int32_t id)
{
    return shoal_load_acquire(shoal_counter_addr(c->cnc.counters_values, id));
}

static void test_lapped_client_closes_instead_of_keeping_stale_images(void **state)
{
    (void)state;
    static handler_record_t record;
    memset(&record, 0, sizeof(record));
    char dir[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-test-%ld-lapped", (long)getpid());
    shoal_context_t *driver_ctx = context_for(dir);
    shoal_context_t *lagging_ctx = context_for(dir);
    shoal_context_t *busy_ctx = context_for(dir);
    assert_int_equal(0, shoal_context_set_error_handler(lagging_ctx, on_error, &record));
    shoal_driver_t *driver;
    shoal_client_t *lagging, *busy;
    assert_int_equal(0, shoal_driver_start(&driver, driver_ctx));
    assert_int_equal(0, shoal_client_connect(&lagging, lagging_ctx));
    assert_int_equal(0, shoal_client_connect(&busy, busy_ctx));
    assert_int_equal(BROADCAST_LENGTH, (int64_t)lagging->to_clients.capacity);

    shoal_subscription_t *sub;
    shoal_publication_t *own_pub, *their_pub;
    assert_int_equal(0, shoal_add_subscription(lagging, "aeron:ipc", 7, &sub));
    assert_int_equal(0, shoal_add_publication(lagging, "aeron:ipc", 8, &own_pub));
    assert_int_equal(0, shoal_add_publication(busy, "aeron:ipc", 7, &their_pub));
    assert_int_equal(0, shoal_test_wait_images(sub, 1, DEADLINE_MS));

    /* Stall the lagging client's conductor; meanwhile its image goes away
     * and the driver broadcasts twice the buffer. */
    pthread_mutex_lock(&lagging->lock);
    assert_int_equal(0, shoal_publication_close(their_pub));
    const int64_t cursor = lagging->to_clients.next_record;
    int64_t deadline = shoal_test_now_ms() + DEADLINE_MS;
    int rounds = 0;
    while (shoal_load_acquire(&lagging->to_clients.descriptor->tail_counter) - cursor <= 2 * BROADCAST_LENGTH &&
        shoal_test_now_ms() < deadline)
    {
        shoal_publication_t *churn;
        assert_int_equal(0, shoal_add_publication(busy, "aeron:ipc", 9, &churn));
        assert_int_equal(0, shoal_publication_close(churn));
        rounds++;
    }
    assert_true(shoal_load_acquire(&lagging->to_clients.descriptor->tail_counter) - cursor > 2 * BROADCAST_LENGTH);
    pthread_mutex_unlock(&lagging->lock);

    deadline = shoal_test_now_ms() + DEADLINE_MS;
    /* the conductor marks the client closed, then calls the handler */
    while ((!shoal_client_is_closed(lagging) || 0 == __atomic_load_n(&record.calls, __ATOMIC_ACQUIRE)) &&
        shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    print_message("after %d add/close rounds: closed %d, images %d, error handler calls %d: %d %s\n", rounds,
        (int)shoal_client_is_closed(lagging), shoal_subscription_image_count(sub),
        __atomic_load_n(&record.calls, __ATOMIC_ACQUIRE), record.code, record.message);
    assert_true(shoal_client_is_closed(lagging));
    assert_int_equal(1, __atomic_load_n(&record.calls, __ATOMIC_ACQUIRE));
    assert_int_equal(SHOAL_ECLOSED, record.code);
    assert_non_null(strstr(record.message, "missed driver events"));
    assert_non_null(strstr(record.message, "4096-byte broadcast buffer"));

    /* Nothing of the stale state is usable. */
    shoal_test_collector_t *got = calloc(1, sizeof(*got));
    assert_int_equal(-1, shoal_subscription_poll(sub, shoal_test_collect, got, 10));
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    assert_int_equal(SHOAL_CLOSED, shoal_publication_offer(own_pub, (const uint8_t *)"x", 1));
    shoal_subscription_t *again;
    assert_int_equal(-1, shoal_add_subscription(lagging, "aeron:ipc", 7, &again));
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "missed driver events"));

    /* The driver let go of it at once (not after the liveness timeout). */
    deadline = shoal_test_now_ms() + DEADLINE_MS;
    while (system_counter(busy, SHOAL_SYSTEM_COUNTER_CLIENTS_ACTIVE) != 1 && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    assert_int_equal(1, system_counter(busy, SHOAL_SYSTEM_COUNTER_CLIENTS_ACTIVE));
    assert_int_equal(0, system_counter(busy, SHOAL_SYSTEM_COUNTER_CLIENT_TIMEOUTS));

    /* Other clients carry on; a new client is the way back. */
    shoal_client_t *fresh;
    shoal_subscription_t *fresh_sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_client_connect(&fresh, lagging_ctx));
    assert_int_equal(0, shoal_test_connect(fresh, busy, "aeron:ipc", 7, false, false, &fresh_sub, &pub));
    assert_int_equal(0, shoal_test_wait_images(fresh_sub, 1, DEADLINE_MS));
    assert_true(shoal_test_offer(pub, (const uint8_t *)"hello", 5) > 0);
    assert_int_equal(1, shoal_test_poll_until(fresh_sub, shoal_test_collect, got, 1, DEADLINE_MS));
    assert_int_equal(1, __atomic_load_n(&record.calls, __ATOMIC_ACQUIRE));

    free(got);
    assert_int_equal(0, shoal_client_close(fresh));
    assert_int_equal(0, shoal_client_close(lagging));
    assert_int_equal(0, shoal_client_close(busy));
    assert_int_equal(0, shoal_driver_close(driver));
    shoal_context_close(busy_ctx);
    shoal_context_close(lagging_ctx);
    shoal_context_close(driver_ctx);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_lapped_client_closes_instead_of_keeping_stale_images),
})
