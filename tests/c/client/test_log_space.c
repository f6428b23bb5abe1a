/* A full filesystem under the driver directory is an error, never SIGBUS.
 *
 * Each case mounts its own 64 MiB tmpfs (Docker's default /dev/shm size) and
 * runs the driver and client in a forked child, so a signal is seen as the
 * child's fate rather than killing the test runner. Mounting needs root (or
 * CAP_SYS_ADMIN): elsewhere every case is skipped with the reason printed. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"
#include "../transport/udp_test_util.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "util/shoal_error_log.h"

#define TMPFS_SIZE "64m"
#define MIB        (1024 * 1024)

typedef struct
{
    char mount_point[64];
    char dir[96];
} space_fixture_t;

static int setup(void **state)
{
    space_fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->mount_point, sizeof(f->mount_point), "/tmp/shoal-space-XXXXXX");
    if (NULL == mkdtemp(f->mount_point))
    {
        free(f);
        return -1;
    }
    if (mount("tmpfs", f->mount_point, "tmpfs", 0, "size=" TMPFS_SIZE ",mode=0700") != 0)
    {
        int err = errno;
        rmdir(f->mount_point);
        free(f);
        *state = NULL;
        fprintf(stderr, "SKIP: cannot mount a %s tmpfs (%s): these cases need root or CAP_SYS_ADMIN\n", TMPFS_SIZE,
            strerror(err));
        return 0;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/driver", f->mount_point);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    space_fixture_t *f = *state;
    if (f != NULL)
    {
        umount2(f->mount_point, MNT_DETACH);
        rmdir(f->mount_point);
        free(f);
    }
    return 0;
}

#define SKIP_WITHOUT_MOUNT(f)                                                                                          \
    do                                                                                                                 \
    {                                                                                                                  \
        if (NULL == (f))                                                                                               \
        {                                                                                                              \
            skip();                                                                                                    \
        }                                                                                                              \
    }                                                                                                                  \
    while (0)

static int start_env(shoal_test_env_t *env, const char *dir, int32_t ipc_term_length)
{
    memset(env, 0, sizeof(*env));
    snprintf(env->dir, sizeof(env->dir), "%s", dir);
    if (shoal_context_init(&env->ctx) < 0 || shoal_context_set_dir(env->ctx, env->dir) < 0 ||
        shoal_context_set(env->ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0 ||
        shoal_context_set(env->ctx, "PUBLICATION_LINGER_MS", "50") < 0 ||
        (ipc_term_length > 0 && shoal_context_set_ipc_term_length(env->ctx, ipc_term_length) < 0) ||
        shoal_driver_start(&env->driver, env->ctx) < 0 || shoal_client_connect(&env->client, env->ctx) < 0)
    {
        fprintf(stderr, "env: %s\n", shoal_errmsg());
        return -1;
    }
    return 0;
}

/* A case's body: runs in the child with a driver and client on dir. */
typedef int (*child_body_t)(shoal_test_env_t *env, const char *dir);

/* Runs body in a child, with a driver and client on dir (IPC terms of
 * ipc_term_length, the default for 0); the child's exit code is its verdict
 * (0 = passed). Returns the raw wait status so the caller can tell an exit
 * from a signal. */
static int run_in_child(child_body_t body, const char *dir, int32_t ipc_term_length)
{
    fflush(NULL);
    pid_t pid = fork();
    if (0 == pid)
    {
        shoal_test_env_t env;
        if (start_env(&env, dir, ipc_term_length) < 0)
        {
            _exit(1);
        }
        const int verdict = body(&env, dir);
        if (0 == verdict)
        {
            shoal_test_env_stop(&env);
        }
        _exit(verdict);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && EINTR == errno)
    {
    }
    return status;
}

static void assert_child_passed(int status)
{
    if (WIFSIGNALED(status))
    {
        fail_msg("child killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

#define CHECK(cond)                                                                                                    \
    do                                                                                                                 \
    {                                                                                                                  \
        if (!(cond))                                                                                                   \
        {                                                                                                              \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, shoal_errmsg());  \
            return 1;                                                                                                  \
        }                                                                                                              \
    }                                                                                                                  \
    while (0)

/* Runs body in a child on the case's tmpfs; it must exit 0. */
static void assert_passes_in_child(void **state, child_body_t body, int32_t ipc_term_length)
{
    space_fixture_t *f = *state;
    SKIP_WITHOUT_MOUNT(f);
    assert_child_passed(run_in_child(body, f->dir, ipc_term_length));
}

/* In the child: a subscription on aeron:ipc stream 1001, then a publication
 * on channel (the same stream), connected. */
static int ipc_stream(shoal_test_env_t *env, const char *channel, shoal_subscription_t **sub, shoal_publication_t **pub)
{
    CHECK(shoal_add_subscription(env->client, "aeron:ipc", 1001, sub) == 0);
    CHECK(shoal_add_publication(env->client, channel, 1001, pub) == 0);
    CHECK(shoal_test_wait_connected(*pub) == 0);
    return 0;
}

/* In the child: offers msg, polling sub into got while the publication
 * refuses it; 1 if that goes on past deadline_ms. */
static int offer_while_polling(shoal_publication_t *pub, const uint8_t *msg, size_t length, shoal_subscription_t *sub,
    shoal_fragment_handler_t handler, shoal_test_collector_t *got, int64_t deadline_ms)
{
    while (shoal_publication_offer(pub, msg, length) < 0)
    {
        shoal_subscription_poll(sub, handler, got, 256);
        CHECK(shoal_test_now_ms() < deadline_ms);
    }
    return 0;
}

/* The default IPC term (64 MiB, a 192 MiB log) cannot fit: add_publication
 * fails and says where, what and how much. */
static int default_term_refused(shoal_test_env_t *env, const char *dir)
{
    shoal_publication_t *pub = NULL;
    int rc = shoal_add_publication(env->client, "aeron:ipc", 1001, &pub);
    fprintf(stderr, "add_publication(aeron:ipc) on a %s tmpfs: %d: %s\n", TMPFS_SIZE, rc, shoal_errmsg());
    CHECK(rc < 0);
    CHECK(shoal_errcode() == SHOAL_EIO);
    CHECK(strstr(shoal_errmsg(), "no space left in") != NULL);
    CHECK(strstr(shoal_errmsg(), dir) != NULL);
    CHECK(strstr(shoal_errmsg(), ".logbuffer") != NULL);
    CHECK(strstr(shoal_errmsg(), "201330688 bytes needed") != NULL); /* 3 x 64 MiB + the 4 KiB metadata page */
    /* nothing half-made is left behind: a publication that fits still works */
    CHECK(shoal_add_publication(env->client, "aeron:ipc?term-length=1m", 1001, &pub) == 0);
    shoal_publication_close(pub);
    return 0;
}

static void test_default_term_is_a_clear_error(void **state)
{
    assert_passes_in_child(state, default_term_refused, 0);
}

/* 100 MiB through a log that fits (4 MiB terms): the space is reused term
 * after term, every byte arrives. */
static int hundred_mib_through_small_terms(shoal_test_env_t *env, const char *dir)
{
    (void)dir;
    shoal_subscription_t *sub = NULL;
    shoal_publication_t *pub = NULL;
    CHECK(ipc_stream(env, "aeron:ipc", &sub, &pub) == 0);
    uint8_t msg[1024];
    shoal_test_collector_t *got = calloc(1, sizeof(*got));
    CHECK(got != NULL);
    const uint64_t messages = 100ULL * MIB / sizeof(msg);
    int64_t deadline = shoal_test_now_ms() + 120000;
    for (uint64_t seq = 0; seq < messages; seq++)
    {
        memcpy(msg, &seq, sizeof(seq));
        CHECK(offer_while_polling(pub, msg, sizeof(msg), sub, shoal_test_collect_seq, got, deadline) == 0);
    }
    while ((uint64_t)got->count < messages && shoal_test_now_ms() < deadline)
    {
        shoal_subscription_poll(sub, shoal_test_collect_seq, got, 256);
    }
    fprintf(stderr, "through a %s tmpfs with 4 MiB terms: %d messages of %zu bytes (%llu MiB), %d out of order\n",
        TMPFS_SIZE, got->count, sizeof(msg), (unsigned long long)got->count * sizeof(msg) / MIB, got->errors);
    CHECK((uint64_t)got->count == messages);
    CHECK(got->errors == 0);
    free(got);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    return 0;
}

static void test_hundred_mib_through_terms_that_fit(void **state)
{
    assert_passes_in_child(state, hundred_mib_through_small_terms, 4 * MIB);
}

typedef struct
{
    int no_space;
    char first[512];
} error_scan_t;

static void on_error_record(int32_t count, int64_t first_ms, int64_t last_ms, int32_t code, const char *text,
    size_t text_length, void *clientd)
{
    (void)count;
    (void)first_ms;
    (void)last_ms;
    (void)code;
    error_scan_t *scan = clientd;
    char copy[512];
    snprintf(copy, sizeof(copy), "%.*s", (int)text_length, text);
    if (strstr(copy, "no space left in") != NULL)
    {
        if (0 == scan->no_space++)
        {
            snprintf(scan->first, sizeof(scan->first), "%s", copy);
        }
    }
}

/* A UDP publication's 48 MiB log fits; the receiving image's second 48 MiB
 * does not. The driver's receiver must refuse the image with an error in the
 * error log, not fault while writing DATA into it. */
static int udp_image_refused(shoal_test_env_t *env, const char *dir)
{
    int port = udp_test_free_port();
    CHECK(port > 0);
    char channel[96];
    snprintf(channel, sizeof(channel), "aeron:udp?endpoint=127.0.0.1:%d", port);
    shoal_publication_t *pub = NULL;
    shoal_subscription_t *sub = NULL;
    CHECK(shoal_add_publication(env->client, channel, 1002, &pub) == 0);
    CHECK(shoal_add_subscription(env->client, channel, 1002, &sub) == 0);

    shoal_cnc_view_t cnc;
    CHECK(shoal_cnc_map(dir, false, 1000, &cnc) == 0);
    error_scan_t scan = { 0 };
    uint8_t msg[1024] = { 0 };
    int64_t deadline = shoal_test_now_ms() + 10000;
    while (0 == scan.no_space && shoal_test_now_ms() < deadline)
    {
        /* offers fail (not connected); they must not fault either */
        shoal_publication_offer(pub, msg, sizeof(msg));
        shoal_test_sleep_ms(5);
        shoal_error_log_read(cnc.error_log, (size_t)cnc.meta->error_log_buffer_length, on_error_record, &scan, 0);
    }
    fprintf(stderr, "receiver's image on a %s tmpfs: %d error record(s): %s\n", TMPFS_SIZE, scan.no_space, scan.first);
    CHECK(scan.no_space > 0);
    CHECK(strstr(scan.first, dir) != NULL);
    CHECK(strstr(scan.first, "bytes needed") != NULL);
    CHECK(0 == shoal_subscription_image_count(sub));
    CHECK(!shoal_publication_is_connected(pub));
    shoal_cnc_unmap(&cnc);
    shoal_subscription_close(sub);
    shoal_publication_close(pub);
    return 0;
}

static void test_udp_image_without_space_is_refused(void **state)
{
    assert_passes_in_child(state, udp_image_refused, 0);
}

/* sparse=true is the documented opt-in to unreserved files, and shows what
 * the old default did: the publisher faults once the filesystem is full. */
static int sparse_publisher(shoal_test_env_t *env, const char *dir)
{
    (void)dir;
    /* the default action, so a sanitizer's handler does not turn it into an exit */
    signal(SIGBUS, SIG_DFL);
    shoal_subscription_t *sub = NULL;
    shoal_publication_t *pub = NULL;
    CHECK(ipc_stream(env, "aeron:ipc?sparse=true", &sub, &pub) == 0);
    uint8_t msg[1024] = { 0 };
    shoal_test_collector_t *got = calloc(1, sizeof(*got));
    CHECK(got != NULL);
    int64_t deadline = shoal_test_now_ms() + 60000;
    for (uint64_t sent = 0; sent < 100ULL * MIB / sizeof(msg); sent++)
    {
        CHECK(offer_while_polling(pub, msg, sizeof(msg), sub, shoal_test_collect, got, deadline) == 0);
    }
    return 0; /* not reached on a 64 MiB filesystem */
}

static void test_sparse_opt_in_faults_when_full(void **state)
{
    space_fixture_t *f = *state;
    SKIP_WITHOUT_MOUNT(f);
    int status = run_in_child(sparse_publisher, f->dir, 0);
    fprintf(stderr, "sparse=true publisher on a full %s tmpfs: %s %d\n", TMPFS_SIZE,
        WIFSIGNALED(status) ? "killed by signal" : "exited",
        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGBUS);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_default_term_is_a_clear_error),
    T(test_hundred_mib_through_terms_that_fit),
    T(test_udp_image_without_space_is_refused),
    T(test_sparse_opt_in_faults_when_full),
})
