/* shoal-archived as a process: SIGKILLed while it records a busy stream, then
 * restarted; the restart recovers the recording up to its last complete
 * message: every message the archive had reported recorded is there, in
 * order and intact, nothing torn follows, and the stop position is the end of
 * the last message read back. Also: SIGTERM stops it cleanly (exit 0, the
 * recording stopped at what was published). The daemon is the build's
 * shoal-archived, next to this test's directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "../shoal_test_main.h"
#include "../shoal_test_threads.h"
#include "archive_test_env.h"

#define STREAM_ID 2001

typedef struct
{
    shoal_test_env_t env;
    char archive_dir[160];
    char daemon[PATH_MAX];
    pid_t pid;
} crash_env_t;

static int setup(void **state)
{
    static const char *const settings[] = { "CLIENT_LIVENESS_TIMEOUT_MS", "1500", "ARCHIVE_SEGMENT_LENGTH", "128k",
        NULL };
    crash_env_t *c = calloc(1, sizeof(*c));
    char exe[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (NULL == c || n <= 0)
    {
        free(c);
        return -1;
    }
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(c->daemon, sizeof(c->daemon), "%s/../shoal-archived", exe);
    if (0 != access(c->daemon, X_OK) ||
        shoal_test_env_start_settings(&c->env, "arccrash", SHOAL_TEST_ENV_DEFAULTS, settings) < 0)
    {
        fprintf(stderr, "no %s or no driver\n", c->daemon);
        free(c);
        return -1;
    }
    snprintf(c->archive_dir, sizeof(c->archive_dir), "%s-archive", c->env.dir);
    archive_test_remove_dir(c->archive_dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    crash_env_t *c = *state;
    if (c->pid > 0)
    {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    shoal_test_env_stop(&c->env);
    archive_test_remove_dir(c->archive_dir);
    free(c);
    return 0;
}

static void start_daemon(crash_env_t *c)
{
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (0 == c->pid)
    {
        setenv("SHOAL_ARCHIVE_SEGMENT_LENGTH", "128k", 1);
        execl(c->daemon, "shoal-archived", "--dir", c->env.dir, "--archive-dir", c->archive_dir, "--quiet",
            (char *)NULL);
        _exit(127);
    }
}

/* Connects once the daemon answers (it starts in a few ms; 10 s at most). */
static shoal_archive_t *connect_archive(crash_env_t *c)
{
    shoal_archive_t *a = NULL;
    int64_t deadline = shoal_test_now_ms() + 10000;
    while (shoal_test_now_ms() < deadline)
    {
        if (shoal_archive_connect(&a, c->env.client) == 0)
        {
            return a;
        }
    }
    fail_msg("shoal-archived did not answer: %s", shoal_errmsg());
    return NULL;
}

/* Message i: its sequence number, then bytes derived from it; lengths vary,
 * some span several frames (fragmented: mtu 1408). */
static size_t message_length(int64_t i)
{
    return 8 + (size_t)((i * 37) % 200) + (0 == i % 50 ? 3000 : 0);
}

/* Writes message i into buf; returns its length. */
static size_t fill_message(uint8_t *buf, int64_t i)
{
    size_t length = message_length(i);
    memcpy(buf, &i, sizeof(i));
    for (size_t k = 8; k < length; k++)
    {
        buf[k] = (uint8_t)(i + (int64_t)k);
    }
    return length;
}

static size_t publisher_message(const shoal_test_publisher_t *p, int64_t i, uint8_t *buf)
{
    (void)p;
    return fill_message(buf, i);
}

typedef struct
{
    int64_t next;
    int64_t last_position; /* after the last message */
    int64_t end_position;  /* where the cursor ended: past any padding after it */
    bool intact;
} check_t;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    check_t *c = clientd;
    uint8_t expected[4096];
    fill_message(expected, c->next);
    c->intact = c->intact && len == message_length(c->next) && 0 == memcmp(buf, expected, len);
    c->next++;
    c->last_position = hdr->position;
}

static int64_t only_recording(shoal_archive_t *a, archive_test_list_t *list)
{
    memset(list, 0, sizeof(*list));
    assert_int_equal(1, shoal_archive_list_recordings(a, 0, 10, archive_test_collect, list));
    return list->last.recording_id;
}

/* Reads the whole recording into check (no time limit). */
static void read_all(const char *dir, int64_t recording_id, check_t *check)
{
    memset(check, 0, sizeof(*check));
    check->intact = true;
    check->end_position = archive_test_read_recording(dir, recording_id, on_message, check, -1);
    assert_true(check->end_position >= 0);
}

static void test_sigkill_while_recording_then_restart_recovers_every_complete_message(void **state)
{
    crash_env_t *c = *state;
    start_daemon(c);
    shoal_archive_t *a = connect_archive(c);
    shoal_test_publisher_t p = { .message = publisher_message, .count = -1 };
    assert_int_equal(0, shoal_add_exclusive_publication(c->env.client, "aeron:ipc", STREAM_ID, &p.pub));
    assert_true(shoal_archive_start_recording(a, "aeron:ipc", STREAM_ID) >= 0);
    archive_test_list_t list;
    assert_int_equal(0, archive_test_wait_recordings(a, 1, &list));
    int64_t recording_id = list.last.recording_id;

    shoal_test_publisher_start(&p);
    /* Well into the recording (several 64k terms, 128k segments), then kill
     * it while the stream is busy. */
    int64_t reported = 0;
    while ((reported = shoal_archive_recording_position(a, recording_id)) < 1024 * 1024)
    {
        assert_true(reported >= 0);
    }
    assert_int_equal(0, kill(c->pid, SIGKILL));
    int status = 0;
    assert_int_equal(c->pid, waitpid(c->pid, &status, 0));
    c->pid = 0;
    assert_true(WIFSIGNALED(status) && SIGKILL == WTERMSIG(status));
    shoal_test_publisher_stop(&p);
    /* Where the stream ends: past the last message, or past the padding an
     * offer wrote at a term's end before the publisher stopped (that offer
     * returned no position of its own). */
    const int64_t stream_end = shoal_publication_position(p.pub);
    assert_true(stream_end >= p.position);
    shoal_archive_close(a);

    start_daemon(c);
    a = connect_archive(c);
    assert_int_equal(recording_id, only_recording(a, &list));
    int64_t stop = list.last.stop_position;
    check_t check;
    read_all(c->archive_dir, recording_id, &check);
    printf("crash test: published %lld messages to position %lld; the archive reported %lld recorded before "
           "SIGKILL; after restart the recording stops at %lld with %lld messages, all intact and in order: %s\n",
        (long long)p.published, (long long)p.position, (long long)reported, (long long)stop, (long long)check.next,
        check.intact ? "yes" : "NO");
    assert_true(check.intact);
    assert_true(stop >= reported); /* nothing the archive had written is lost */
    assert_true(stop <= stream_end);
    /* The stop ends a whole frame: the last message, or the padding after it
     * at a term's end (64k terms). Nothing torn is read. */
    assert_int_equal(stop, check.end_position);
    assert_true(stop == check.last_position || (0 == stop % 65536 && stop - check.last_position < 65536));
    assert_true(check.next <= p.published);

    /* The restarted daemon records again, and SIGTERM stops it cleanly. */
    shoal_publication_t *pub2 = NULL;
    assert_int_equal(0, shoal_add_exclusive_publication(c->env.client, "aeron:ipc", STREAM_ID + 1, &pub2));
    assert_true(shoal_archive_start_recording(a, "aeron:ipc", STREAM_ID + 1) >= 0);
    assert_int_equal(0, archive_test_wait_recordings(a, 2, &list));
    uint8_t buf[4096];
    int64_t end = 0;
    for (int64_t i = 0; i < 1000; i++)
    {
        const size_t length = fill_message(buf, i);
        end = shoal_test_offer(pub2, buf, length);
        assert_true(end > 0);
    }
    assert_int_equal(0, archive_test_wait_position(a, list.last.recording_id, end));
    shoal_archive_close(a);
    assert_int_equal(0, kill(c->pid, SIGTERM));
    assert_int_equal(c->pid, waitpid(c->pid, &status, 0));
    c->pid = 0;
    assert_true(WIFEXITED(status) && 0 == WEXITSTATUS(status));
    read_all(c->archive_dir, list.last.recording_id, &check);
    assert_int_equal(1000, check.next);
    assert_true(check.intact);
    assert_int_equal(end, check.last_position);
    shoal_publication_close(pub2);
    shoal_publication_close(p.pub);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_sigkill_while_recording_then_restart_recovers_every_complete_message, setup,
        teardown),
})
