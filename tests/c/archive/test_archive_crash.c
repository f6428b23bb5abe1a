/*
 * Crash recovery: a child process records as fast as it can and is SIGKILLed
 * at a random moment (mid-write, mid-message, mid-rollover: wherever it is);
 * reopening the archive must recover every block the child's writer had
 * committed (it publishes its position in shared memory after each block),
 * every message intact and in order, and nothing torn: the recovered stop is
 * the end of the last complete message and every byte after it is zero.
 * A second test builds the worst tail by hand: a committed but unfinished
 * fragmented message followed by a block written but not committed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../shoal_test_main.h"
#include "archive/shoal_recording_scan.h"
#include "archive_test_util.h"
#include "shoal/shoal_archive.h"
#include "util/shoal_error.h"

#define TERM    LB_TERM_LENGTH
#define SEGMENT LB_SEGMENT_LENGTH
#define MTU     LB_MTU
#define ROUNDS  8

typedef struct shared_progress_stct
{
    int64_t committed; /* the writer's position after its last block */
    int64_t blocks;
} shared_progress_t;

static void on_written(void *clientd, int64_t position)
{
    shared_progress_t *p = clientd;
    __atomic_store_n(&p->committed, position, __ATOMIC_RELEASE);
    __atomic_fetch_add(&p->blocks, 1, __ATOMIC_RELEASE);
}

/* The child: records forever (until killed). */
static void child_record(const char *dir, shared_progress_t *progress, uint32_t seed, size_t max_block,
    shoal_archive_fsync_policy_t fsync)
{
    shoal_archive_catalog_t *cat;
    if (shoal_archive_catalog_open(&cat, dir, fsync) < 0)
    {
        _exit(2);
    }
    shoal_recording_descriptor_t d = archive_test_descriptor(0, TERM, SEGMENT, MTU);
    shoal_recording_writer_t *w;
    log_builder_t lb = { 0 };
    if (lb_start_recording(cat, &d, fsync, &w, &lb) != 0)
    {
        _exit(3);
    }
    lb.rng = seed;
    lb.max_block = max_block;
    lb.on_written = on_written;
    lb.clientd = progress;
    for (int64_t seq = 0;; seq++)
    {
        if (lb_append(&lb, seq, lb_length_of(seq, MTU)) < 0 || (seq % 3 == 2 && lb_flush(&lb) < 0))
        {
            _exit(4);
        }
    }
}

/* Bytes of d's segments from position on that are not zero (the torn tail). */
static int64_t nonzero_bytes_from(const char *dir, const shoal_recording_descriptor_t *d, int64_t position)
{
    int64_t nonzero = 0;
    for (int64_t base = shoal_segment_base(0, position, TERM, SEGMENT);; base += SEGMENT)
    {
        char path[PATH_MAX];
        assert_int_equal(shoal_segment_file_name(path, sizeof(path), dir, d->recording_id, base), 0);
        const int fd = open(path, O_RDONLY);
        if (fd < 0)
        {
            break;
        }
        static uint8_t buf[SEGMENT];
        const ssize_t n = pread(fd, buf, sizeof(buf), 0);
        close(fd);
        for (ssize_t i = position > base ? position - base : 0; i < n; i++)
        {
            nonzero += buf[i] != 0;
        }
    }
    return nonzero;
}

static void crash_round(int round)
{
    char dir[PATH_MAX];
    archive_test_dir(dir, sizeof(dir), "archive-crash");
    shared_progress_t *progress =
        mmap(NULL, sizeof(*progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(progress != MAP_FAILED);
    memset(progress, 0, sizeof(*progress));

    const size_t max_block = round % 2 == 0 ? 4096 : 60000;
    /* The last two rounds sync (a kill between a block, its sync and its commit). */
    const shoal_archive_fsync_policy_t fsync =
        round >= ROUNDS - 2 ? SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG : SHOAL_ARCHIVE_FSYNC_NONE;
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
    {
        child_record(dir, progress, 0x9E3779B9u * (uint32_t)(round + 1), max_block, fsync);
    }
    /* Let it run past a few segment rollovers, then kill it at a random moment. */
    const int64_t target = (int64_t)(3 + round) * SEGMENT + (int64_t)(rand() % SEGMENT);
    while (__atomic_load_n(&progress->committed, __ATOMIC_ACQUIRE) < target)
    {
        int status;
        assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* the child must not die on its own */
        usleep(100);
    }
    const struct timespec jitter = { 0, (rand() % 2000) * 1000L };
    nanosleep(&jitter, NULL);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    const int64_t committed = __atomic_load_n(&progress->committed, __ATOMIC_ACQUIRE);
    const int64_t blocks = __atomic_load_n(&progress->blocks, __ATOMIC_ACQUIRE);

    /* What the crash left: the catalog still says "recording". */
    shoal_archive_reader_t *r;
    assert_int_equal(shoal_archive_reader_open(&r, dir), 0);
    shoal_recording_descriptor_t d;
    assert_int_equal(shoal_archive_reader_describe(r, 0, &d), 0);
    assert_int_equal(d.stop_position, -1);
    shoal_recording_scan_t before;
    assert_int_equal(shoal_recording_scan(dir, &d, 0, -1, &before), 0);
    shoal_recording_scan_t upto_committed;
    assert_int_equal(shoal_recording_scan(dir, &d, 0, committed, &upto_committed), 0);
    assert_false(upto_committed.invalid);
    assert_int_equal(upto_committed.frames_end, committed);
    const int64_t dirty_before = nonzero_bytes_from(dir, &d, before.complete_end);

    /* Recovery. */
    shoal_archive_catalog_t *cat;
    assert_int_equal(shoal_archive_catalog_open(&cat, dir, SHOAL_ARCHIVE_FSYNC_NONE), 0);
    assert_int_equal(shoal_archive_catalog_recovered_count(cat), 1);
    shoal_recording_descriptor_t rd;
    assert_int_equal(shoal_archive_catalog_find(cat, 0, &rd), 0);
    const int64_t stop = rd.stop_position;
    assert_int_equal(stop, before.complete_end);
    assert_true(rd.stop_timestamp_ns >= rd.start_timestamp_ns);
    assert_int_equal(shoal_archive_catalog_close(cat), 0);

    /* Nothing complete lost: every committed block is in, up to the last
     * whole message (a message whose last fragments were not committed goes). */
    assert_true(before.frames_end >= committed);
    assert_true(stop >= upto_committed.complete_end);
    lb_check_t c;
    memset(&c, 0, sizeof(c));
    shoal_recording_cursor_t *cursor;
    assert_int_equal(shoal_recording_cursor_open(&cursor, r, 0, -1, -1), 0);
    int n;
    while ((n = shoal_recording_cursor_poll(cursor, lb_check_on_message, &c, 100)) > 0)
    {
    }
    assert_int_equal(n, 0);
    assert_true(shoal_recording_cursor_is_end(cursor));
    assert_int_equal(shoal_recording_cursor_position(cursor), stop);
    assert_int_equal(shoal_recording_cursor_close(cursor), 0);
    assert_int_equal(c.bad, 0);
    assert_true(c.last_position <= stop);
    assert_int_equal(c.next_seq, before.messages);
    assert_true(c.next_seq >= upto_committed.messages);
    /* Nothing torn: not a byte after the stop. */
    const int64_t dirty_after = nonzero_bytes_from(dir, &d, stop);
    assert_int_equal(dirty_after, 0);
    assert_int_equal(shoal_archive_reader_close(r), 0);

    printf("round %d (fsync %s): SIGKILL after %" PRId64 " blocks (writer committed up to %" PRId64
           "); recovered stop %" PRId64 " = end of message %" PRId64 ", %" PRId64 " messages read back intact, %" PRId64
           " bytes of committed frames after the last whole message and %" PRId64
           " bytes in all after it cut (now 0)\n",
        round, fsync == SHOAL_ARCHIVE_FSYNC_NONE ? "none" : "data+catalog", blocks, committed, stop, c.next_seq - 1,
        c.next_seq, before.frames_end - stop, dirty_before);
    munmap(progress, sizeof(*progress));
    shoal_fs_delete_dir(dir);
}

static void test_sigkill_mid_recording(void **state)
{
    (void)state;
    srand((unsigned)time(NULL));
    for (int round = 0; round < ROUNDS; round++)
    {
        crash_round(round);
    }
}

/* The worst tail, laid down by hand: 45 whole messages, then the BEGIN and a
 * middle fragment of a message committed, then a block written but not
 * committed (its first length word 0) — the child exits without closing. */
static void test_torn_tail_by_hand(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    archive_test_dir(dir, sizeof(dir), "archive-torn");
    int64_t whole_end = 0;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    const pid_t pid = fork();
    if (pid == 0)
    {
        shoal_archive_catalog_t *cat;
        shoal_recording_writer_t *w;
        log_builder_t lb = { 0 };
        if (lb_start_first_recording(dir, SHOAL_ARCHIVE_FSYNC_DATA, &cat, &w, &lb) != 0)
        {
            _exit(2);
        }
        for (int64_t seq = 0; seq < 45; seq++)
        {
            lb_append(&lb, seq, lb_length_of(seq, MTU));
        }
        lb_flush(&lb);
        const int64_t end = lb.position;
        lb_append(&lb, 45, lb_length_of(45, MTU)); /* four fragments: commit two of them */
        lb.max_block = 1;                          /* one frame a block */
        lb.writer = w;
        const int64_t chain_end = lb.position;
        lb.position = end + 2 * MTU; /* stop the flush after two fragments (MTU is 32-aligned) */
        if (lb_flush(&lb) < 0)
        {
            _exit(3);
        }
        lb.position = chain_end;
        lb_append(&lb, 46, lb_length_of(46, MTU));
        /* The rest, written as the writer writes a block before its commit. */
        char path[PATH_MAX];
        shoal_segment_file_name(path, sizeof(path), dir, 0, 0);
        const int fd = open(path, O_RDWR);
        const int64_t from = lb.flushed;
        uint8_t *tail = lb.term + from;
        memset(tail, 0, 4);
        if (pwrite(fd, tail, (size_t)(lb.position - from), from) != lb.position - from)
        {
            _exit(4);
        }
        if (write(pipefd[1], &end, sizeof(end)) != sizeof(end))
        {
            _exit(5);
        }
        _exit(0); /* no close: as a crash */
    }
    close(pipefd[1]);
    assert_int_equal(read(pipefd[0], &whole_end, sizeof(whole_end)), (ssize_t)sizeof(whole_end));
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    shoal_archive_catalog_t *cat;
    assert_int_equal(shoal_archive_catalog_open(&cat, dir, SHOAL_ARCHIVE_FSYNC_NONE), 0);
    assert_int_equal(shoal_archive_catalog_recovered_count(cat), 1);
    shoal_recording_descriptor_t d;
    assert_int_equal(shoal_archive_catalog_find(cat, 0, &d), 0);
    assert_int_equal(d.stop_position, whole_end);
    assert_int_equal(nonzero_bytes_from(dir, &d, whole_end), 0);
    assert_int_equal(shoal_archive_catalog_close(cat), 0);

    shoal_archive_reader_t *r;
    assert_int_equal(shoal_archive_reader_open(&r, dir), 0);
    shoal_recording_cursor_t *cursor;
    assert_int_equal(shoal_recording_cursor_open(&cursor, r, 0, -1, -1), 0);
    lb_check_t c;
    memset(&c, 0, sizeof(c));
    while (shoal_recording_cursor_poll(cursor, lb_check_on_message, &c, 100) > 0)
    {
    }
    assert_int_equal(c.next_seq, 45);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.last_position, whole_end);
    assert_int_equal(shoal_recording_cursor_close(cursor), 0);
    assert_int_equal(shoal_archive_reader_close(r), 0);
    printf("torn tail: 45 whole messages kept (stop %" PRId64
           "); 2 committed fragments of message 45 (of 4) and the uncommitted block after them cut\n",
        whole_end);
    shoal_fs_delete_dir(dir);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_sigkill_mid_recording),
    cmocka_unit_test(test_torn_tail_by_hand),
})
