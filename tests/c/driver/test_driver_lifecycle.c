/* Driver lifecycle and faults with real processes: one driver per
 * directory, stale directories cleaned, dead clients and dead drivers
 * detected, stuck claims unblocked, private file modes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../shoal_test_support.h"

/* Timeouts short enough for quick fault tests, long enough that a loaded
 * 2-core machine (sanitizers, parallel ctest) does not starve a live client's
 * keepalives or a live publisher's commit past them. */
static shoal_context_t *context_for(const char *dir)
{
    static const char *const settings[] = { "DRIVER_TIMEOUT_MS", "2000", "CLIENT_LIVENESS_TIMEOUT_MS", "1500",
        "PUBLICATION_UNBLOCK_TIMEOUT_MS", "1000", "PUBLICATION_LINGER_MS", "100", "IPC_TERM_LENGTH", "64k", NULL };
    shoal_context_t *ctx = shoal_test_context(dir, settings);
    assert_non_null(ctx);
    return ctx;
}

/* In a forked child: waits (up to 15 s) for the parent's driver in dir,
 * then connects a client; exits 3 if it cannot. */
static shoal_client_t *child_connect(const char *dir)
{
    int64_t until = shoal_test_now_ms() + 15000;
    while (!shoal_driver_is_active(dir, 1000) && shoal_test_now_ms() < until)
    {
        shoal_test_sleep_ms(5);
    }
    shoal_client_t *client;
    if (shoal_client_connect(&client, context_for(dir)) < 0)
    {
        _exit(3);
    }
    return client;
}

/* In a forked child: stays until the parent kills it. */
__attribute__((noreturn)) static void child_wait_for_kill(void)
{
    for (;;)
    {
        pause();
    }
}

/* Child process: run a driver until killed. Nothing shared with the parent. */
static pid_t spawn_driver(const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (0 == pid)
    {
        shoal_context_t *ctx = context_for(dir);
        shoal_driver_t *driver;
        if (shoal_driver_start(&driver, ctx) < 0)
        {
            _exit(3);
        }
        child_wait_for_kill();
    }
    int64_t deadline = shoal_test_now_ms() + 15000;
    while (!shoal_driver_is_active(dir, 1000) && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(5);
    }
    assert_true(shoal_driver_is_active(dir, 1000));
    return pid;
}

/* A fresh directory, a driver in a child process on it, and a context for it
 * in this process. */
typedef struct
{
    char dir[128];
    pid_t child;
    shoal_context_t *ctx;
} child_driver_t;

static child_driver_t spawn_driver_in_new_dir(const char *name)
{
    child_driver_t d;
    shoal_test_dir_name(d.dir, sizeof(d.dir), name);
    d.child = spawn_driver(d.dir);
    d.ctx = context_for(d.dir);
    return d;
}

/* A driver in this process on dir, and a client of it. */
typedef struct
{
    shoal_context_t *ctx;
    shoal_driver_t *driver;
    shoal_client_t *client;
} local_driver_t;

static local_driver_t local_driver_start(const char *dir)
{
    local_driver_t local = { .ctx = context_for(dir) };
    assert_int_equal(0, shoal_driver_start(&local.driver, local.ctx));
    assert_int_equal(0, shoal_client_connect(&local.client, local.ctx));
    return local;
}

static void local_driver_close(local_driver_t *local)
{
    shoal_client_close(local->client);
    shoal_driver_close(local->driver);
    shoal_context_close(local->ctx);
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
}

static int counting;
static void count_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf;
    (void)len;
    (void)hdr;
    (*(int *)clientd)++;
}

static void test_second_driver_refused_then_stale_dir_cleaned(void **state)
{
    (void)state;
    child_driver_t d = spawn_driver_in_new_dir("second");
    shoal_driver_t *driver;
    assert_int_equal(-1, shoal_driver_start(&driver, d.ctx));
    assert_int_equal(SHOAL_EACTIVE, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "another driver is active"));

    /* The first dies hard; its files stay behind; a new driver cleans them. */
    kill_and_reap(d.child);
    char cnc[192];
    snprintf(cnc, sizeof(cnc), "%s/cnc.dat", d.dir);
    assert_int_equal(0, access(cnc, F_OK));
    assert_int_equal(0, shoal_driver_start(&driver, d.ctx));
    assert_true(shoal_driver_is_active(d.dir, 1000));
    assert_int_equal(0, shoal_driver_close(driver));
    assert_false(shoal_driver_is_active(d.dir, 1000));
    shoal_context_close(d.ctx);
}

static void test_client_without_driver_gets_clear_error(void **state)
{
    (void)state;
    char dir[128];
    shoal_test_dir_name(dir, sizeof(dir), "nodriver");
    shoal_context_t *ctx = context_for(dir);
    shoal_client_t *client;
    assert_int_equal(-1, shoal_client_connect(&client, ctx));
    assert_int_equal(SHOAL_ENODRIVER, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), dir));
    shoal_context_close(ctx);
}

static void test_client_detects_dead_driver(void **state)
{
    (void)state;
    child_driver_t d = spawn_driver_in_new_dir("deaddriver");
    shoal_client_t *client;
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    assert_int_equal(0, shoal_client_connect(&client, d.ctx));
    assert_int_equal(0, shoal_add_publication(client, "aeron:ipc", 1, &pub));
    assert_int_equal(0, shoal_add_subscription(client, "aeron:ipc", 1, &sub));

    kill_and_reap(d.child);
    int64_t start = shoal_test_now_ms();
    while (!shoal_client_is_closed(client) && shoal_test_now_ms() - start < 15000)
    {
        shoal_test_sleep_ms(10);
    }
    assert_true(shoal_client_is_closed(client));
    /* Noticed through the driver timeout (2 s), not a hang: the bound is
     * generous because it is a liveness check, not a measurement. */
    assert_true(shoal_test_now_ms() - start < 12000);
    assert_int_equal(SHOAL_CLOSED, shoal_publication_offer(pub, (const uint8_t *)"x", 1));
    assert_int_equal(-1, shoal_subscription_poll(sub, count_message, &counting, 1));
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    shoal_publication_t *pub2;
    assert_int_equal(-1, shoal_add_publication(client, "aeron:ipc", 2, &pub2));
    assert_int_equal(SHOAL_ECLOSED, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "not responding"));
    assert_int_equal(0, shoal_client_close(client));
    shoal_context_close(d.ctx);
}

/* A child publishes on a shared stream, claims, and is killed before it
 * commits: the driver unblocks the log and the parent's messages get through;
 * and the stream lives on. */
static void test_dead_publisher_mid_claim_is_unblocked(void **state)
{
    (void)state;
    char dir[128];
    shoal_test_dir_name(dir, sizeof(dir), "deadclaim");
    /* Fork before this process has any thread (the driver's): a child forked
     * from a threaded parent may inherit a lock another thread held. */
    int pipefd[2];
    assert_int_equal(0, pipe(pipefd));
    pid_t child = fork();
    assert_true(child >= 0);
    if (0 == child)
    {
        shoal_client_t *client = child_connect(dir);
        shoal_publication_t *pub;
        shoal_claim_t claim;
        if (shoal_add_publication(client, "aeron:ipc", 5, &pub) < 0)
        {
            _exit(3);
        }
        while (!shoal_publication_is_connected(pub))
        {
            shoal_test_sleep_ms(1);
        }
        while (shoal_publication_try_claim(pub, 100, &claim) < 0)
        {
        }
        if (write(pipefd[1], "c", 1) != 1)
        {
            _exit(4);
        }
        child_wait_for_kill();
    }
    local_driver_t local = local_driver_start(dir);
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_subscription(local.client, "aeron:ipc", 5, &sub));
    char c;
    assert_int_equal(1, read(pipefd[0], &c, 1));
    assert_int_equal(0, shoal_add_publication(local.client, "aeron:ipc", 5, &pub));
    assert_true(shoal_test_offer(pub, (const uint8_t *)"after the claim", 15) > 0);
    kill_and_reap(child);

    counting = 0;
    int64_t deadline = shoal_test_now_ms() + 15000;
    while (counting < 1 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, count_message, &counting, 10);
        shoal_test_sleep_ms(1);
    }
    assert_int_equal(1, counting);

    /* The stream stays alive: our publication still holds it. */
    assert_true(shoal_test_offer(pub, (const uint8_t *)"more", 4) > 0);
    deadline = shoal_test_now_ms() + 15000;
    while (counting < 2 && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, count_message, &counting, 10);
    }
    assert_int_equal(2, counting);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    local_driver_close(&local);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* A subscriber that dies stops holding the publisher back after the client
 * liveness timeout. */
static void test_dead_subscriber_released(void **state)
{
    (void)state;
    char dir[128];
    shoal_test_dir_name(dir, sizeof(dir), "deadsub");
    pid_t child = fork(); /* before the driver's thread exists, as above */
    assert_true(child >= 0);
    if (0 == child)
    {
        shoal_client_t *client = child_connect(dir);
        shoal_subscription_t *sub;
        if (shoal_add_subscription(client, "aeron:ipc", 6, &sub) < 0)
        {
            _exit(3);
        }
        child_wait_for_kill();
    }
    local_driver_t local = local_driver_start(dir);
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(local.client, "aeron:ipc", 6, &pub));
    assert_int_equal(0, shoal_test_wait_connected(pub));
    uint8_t msg[256] = { 0 };
    int64_t r;
    while ((r = shoal_publication_offer(pub, msg, sizeof(msg))) > 0 || SHOAL_ADMIN_ACTION == r)
    {
    }
    assert_int_equal(SHOAL_BACK_PRESSURED, r);
    kill_and_reap(child);
    int64_t deadline = shoal_test_now_ms() + 15000;
    while (shoal_publication_is_connected(pub) && shoal_test_now_ms() < deadline)
    {
        shoal_test_sleep_ms(10);
    }
    assert_false(shoal_publication_is_connected(pub));
    assert_int_equal(SHOAL_NOT_CONNECTED, shoal_publication_offer(pub, msg, sizeof(msg)));
    shoal_publication_close(pub);
    local_driver_close(&local);
}

static void test_files_are_private(void **state)
{
    (void)state;
    char dir[128];
    shoal_test_dir_name(dir, sizeof(dir), "modes");
    mode_t old = umask(0);
    local_driver_t local = local_driver_start(dir);
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_add_publication(local.client, "aeron:ipc", 7, &pub));
    umask(old);
    struct stat st;
    assert_int_equal(0, stat(dir, &st));
    assert_int_equal(0700, st.st_mode & 0777);
    char path[256];
    snprintf(path, sizeof(path), "%s/cnc.dat", dir);
    assert_int_equal(0, stat(path, &st));
    assert_int_equal(0600, st.st_mode & 0777);
    snprintf(path, sizeof(path), "%s/publications", dir);
    assert_int_equal(0, stat(path, &st));
    assert_int_equal(0700, st.st_mode & 0777);
    snprintf(path, sizeof(path), "%s/driver.lock", dir);
    assert_int_equal(0, stat(path, &st));
    assert_int_equal(0600, st.st_mode & 0777);
    shoal_publication_close(pub);
    local_driver_close(&local);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_driver_refused_then_stale_dir_cleaned),
        cmocka_unit_test(test_client_without_driver_gets_clear_error),
        cmocka_unit_test(test_client_detects_dead_driver),
        cmocka_unit_test(test_dead_publisher_mid_claim_is_unblocked),
        cmocka_unit_test(test_dead_subscriber_released),
        cmocka_unit_test(test_files_are_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
