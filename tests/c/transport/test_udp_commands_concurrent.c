/* The command queues between the driver conductor and its sender and
 * receiver duties (transport/udp/shoal_udp_commands.h): records come out in
 * order and whole, a full queue is drained in place in shared mode (and
 * refused inside a drain), waits for the consumer in dedicated mode and
 * gives up once the driver stops; a producer thread against a consumer
 * thread keeps FIFO order (this file runs under TSan: "concurrent"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../shoal_test_main.h"
#include "transport/udp/shoal_udp_commands.h"

#define SMALL_QUEUE 4096

typedef struct
{
    int64_t next; /* correlation id expected next */
    int count;
    int32_t last_type;
    char last_message[SHOAL_ERRMSG_MAX];
    shoal_udp_command_queue_t *queue; /* for the nested-post check */
    int nested_rc;
} consumer_t;

static void on_command(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    consumer_t *c = clientd;
    assert_int_equal(c->next, cmd->correlation_id);
    c->next++;
    c->count++;
    c->last_type = type;
    snprintf(c->last_message, sizeof(c->last_message), "%s", cmd->message);
}

static shoal_udp_command_t command(int64_t correlation_id)
{
    shoal_udp_command_t cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.correlation_id = correlation_id;
    cmd.stream_id = (int32_t)correlation_id;
    return cmd;
}

static void test_records_come_out_in_order_and_whole(void **state)
{
    (void)state;
    shoal_udp_command_queue_t q;
    assert_int_equal(0, shoal_udp_command_queue_init(&q, SMALL_QUEUE));
    shoal_udp_command_t cmd = command(0);
    assert_int_equal(0, shoal_udp_command_queue_post(&q, SHOAL_UDP_CMD_ADD_STREAM, &cmd));
    cmd = command(1);
    snprintf(cmd.message, sizeof(cmd.message), "add_destination: 10.0.0.1:40001 is already a destination");
    assert_int_equal(0, shoal_udp_command_queue_post(&q, SHOAL_UDP_MSG_RESULT, &cmd));
    cmd = command(2);
    assert_true(shoal_udp_command_queue_offer(&q, SHOAL_UDP_MSG_RELEASED, &cmd));

    consumer_t c = { 0 };
    assert_int_equal(2, shoal_udp_command_queue_drain(&q, on_command, &c, 2));
    assert_int_equal(SHOAL_UDP_MSG_RESULT, c.last_type);
    assert_string_equal("add_destination: 10.0.0.1:40001 is already a destination", c.last_message);
    assert_int_equal(1, shoal_udp_command_queue_drain(&q, on_command, &c, 10));
    assert_int_equal(SHOAL_UDP_MSG_RELEASED, c.last_type);
    assert_string_equal("", c.last_message); /* only RESULT/ERROR carry text */
    assert_int_equal(0, shoal_udp_command_queue_drain(&q, on_command, &c, 10));
    shoal_udp_command_queue_close(&q);
}

static void drain_in_place(void *clientd)
{
    consumer_t *c = clientd;
    shoal_udp_command_queue_drain(c->queue, on_command, c, SIZE_MAX);
}

/* A small queue in shared mode: a full post drains it in place into c. */
static void init_shared_queue(shoal_udp_command_queue_t *q, consumer_t *c)
{
    assert_int_equal(0, shoal_udp_command_queue_init(q, SMALL_QUEUE));
    c->queue = q;
    q->shared = true;
    q->drain_in_place = drain_in_place;
    q->drain_clientd = c;
}

static void test_shared_mode_full_queue_drains_in_place(void **state)
{
    (void)state;
    shoal_udp_command_queue_t q;
    consumer_t c = { 0 };
    init_shared_queue(&q, &c);
    /* Far more than fit: the producer empties the queue itself when full. */
    for (int64_t i = 0; i < 1000; i++)
    {
        shoal_udp_command_t cmd = command(i);
        assert_int_equal(0, shoal_udp_command_queue_post(&q, SHOAL_UDP_CMD_ADD_IMAGE, &cmd));
    }
    assert_true(c.count > 0 && c.count < 1000);
    shoal_udp_command_queue_drain(&q, on_command, &c, SIZE_MAX);
    assert_int_equal(1000, c.count);
    shoal_udp_command_queue_close(&q);
}

static void post_from_inside(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    consumer_t *c = clientd;
    on_command(type, cmd, clientd);
    if (1 == c->count)
    {
        /* The queue is full and we are its consumer: draining again is not
         * possible, so the post must fail rather than recurse or spin. */
        shoal_udp_command_t more = command(-1);
        c->nested_rc = 0;
        while (0 == c->nested_rc)
        {
            c->nested_rc = shoal_udp_command_queue_post(c->queue, SHOAL_UDP_CMD_ADD_IMAGE, &more);
        }
    }
}

static void test_post_inside_a_drain_of_a_full_queue_fails(void **state)
{
    (void)state;
    shoal_udp_command_queue_t q;
    consumer_t c = { 0 };
    init_shared_queue(&q, &c);
    int64_t n = 0;
    for (;; n++)
    {
        shoal_udp_command_t cmd = command(n);
        if (!shoal_udp_command_queue_offer(&q, SHOAL_UDP_CMD_ADD_IMAGE, &cmd))
        {
            break;
        }
    }
    assert_true(n > 1);
    assert_int_equal(1, shoal_udp_command_queue_drain(&q, post_from_inside, &c, 1));
    assert_int_equal(-1, c.nested_rc);
    assert_int_equal(SHOAL_EDRIVER, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "command queue full"));
    shoal_udp_command_queue_close(&q);
}

static void test_dedicated_mode_gives_up_when_stopping(void **state)
{
    (void)state;
    shoal_udp_command_queue_t q;
    assert_int_equal(0, shoal_udp_command_queue_init(&q, SMALL_QUEUE));
    volatile int stop = 1;
    q.stop = &stop;
    shoal_udp_command_t cmd = command(0);
    while (shoal_udp_command_queue_offer(&q, SHOAL_UDP_CMD_ADD_IMAGE, &cmd))
    {
    }
    assert_int_equal(-1, shoal_udp_command_queue_post(&q, SHOAL_UDP_CMD_ADD_IMAGE, &cmd));
    assert_non_null(strstr(shoal_errmsg(), "stopping"));
    shoal_udp_command_queue_close(&q);
}

#define THREADED_COMMANDS 200000

typedef struct
{
    shoal_udp_command_queue_t *q;
    volatile int stop;
} producer_t;

static void *produce(void *arg)
{
    producer_t *p = arg;
    for (int64_t i = 0; i < THREADED_COMMANDS; i++)
    {
        shoal_udp_command_t cmd = command(i);
        if (0 == i % 7)
        {
            snprintf(cmd.message, sizeof(cmd.message), "record %lld", (long long)i);
        }
        /* Dedicated mode: a full queue makes the producer wait. */
        if (shoal_udp_command_queue_post(p->q, 0 == i % 7 ? SHOAL_UDP_MSG_ERROR : SHOAL_UDP_CMD_ADD_STREAM, &cmd) < 0)
        {
            return (void *)1;
        }
    }
    return NULL;
}

static void check_threaded(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    if (SHOAL_UDP_MSG_ERROR == type)
    {
        char expected[64];
        snprintf(expected, sizeof(expected), "record %lld", (long long)cmd->correlation_id);
        assert_string_equal(expected, cmd->message);
    }
    assert_int_equal((int32_t)cmd->correlation_id, cmd->stream_id);
    on_command(type, cmd, clientd);
}

static void test_producer_and_consumer_threads_keep_fifo_order(void **state)
{
    (void)state;
    shoal_udp_command_queue_t q;
    assert_int_equal(0, shoal_udp_command_queue_init(&q, SMALL_QUEUE * 4));
    producer_t p = { &q, 0 };
    q.stop = &p.stop;
    pthread_t thread;
    assert_int_equal(0, pthread_create(&thread, NULL, produce, &p));
    consumer_t c = { 0 };
    while (c.count < THREADED_COMMANDS)
    {
        shoal_udp_command_queue_drain(&q, check_threaded, &c, 64);
    }
    void *result = NULL;
    pthread_join(thread, &result);
    assert_null(result);
    assert_int_equal(THREADED_COMMANDS, c.count);
    assert_int_equal(0, shoal_udp_command_queue_drain(&q, check_threaded, &c, 64));
    shoal_udp_command_queue_close(&q);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_records_come_out_in_order_and_whole),
    cmocka_unit_test(test_shared_mode_full_queue_drains_in_place),
    cmocka_unit_test(test_post_inside_a_drain_of_a_full_queue_fails),
    cmocka_unit_test(test_dedicated_mode_gives_up_when_stopping),
    cmocka_unit_test(test_producer_and_consumer_threads_keep_fifo_order),
})
