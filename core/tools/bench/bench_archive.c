/*
 * The archive scenarios. archive-record: an exclusive IPC publication offers
 * back to back while an embedded archive server (shoal_archive_server_start,
 * on the bench's driver) records the stream into --archive-dir; a run lasts
 * from the first offer until the archive reports the last byte recorded
 * (shoal_archive_recording_position), so it is the recording throughput, the
 * publisher held back by the recorder like any tethered subscriber. One
 * publication serves every run (a new recording each, purged after), so its
 * log is warm once the warm-up run wrapped it. Its peer,
 * write-ceiling: one thread writes the same bytes (what the recording held:
 * frames, headers and padding) with write(2) in 1 MiB calls into segment
 * files of the archive's default length in the same directory: what the
 * filesystem takes from a plain writer. Both leave the page cache to decide
 * (the archive's fsync policy none, unless --set ARCHIVE_FSYNC=...); each
 * run's files are removed after it, outside the timing. With --pin the
 * archive server's threads start on the subscriber's CPU and the publisher
 * (this thread, its own mask restored after) runs on the publisher's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_clock.h"
#include "shoal/shoal_archive.h"

#define POSITION_POLL_NS     200000LL
#define RECORDING_WAIT_NS    5000000000LL
#define FRAME_HEADER         32
#define FRAME_PAYLOAD_AT_MTU (1408 - FRAME_HEADER)

void bench_archive_dir(const bench_t *b, char *dir, size_t len)
{
    if (b->opt->archive_dir)
        snprintf(dir, len, "%s", b->opt->archive_dir);
    else
        snprintf(dir, len, "/var/tmp/shoal-bench-archive-%ld", (long)getpid());
}

/* The default directory is ours: what the archive left in it (its catalog;
 * each run's recording was purged) goes with it. A --archive-dir is left. */
void bench_archive_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    char path[600];
    for (struct dirent *e; d && (e = readdir(d));)
    {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
        {
            snprintf(path, sizeof(path), "%.300s/%.255s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The bytes count messages of size bytes take in a log (frames of the
 * default mtu, 32-byte aligned), for a write-ceiling run without an
 * archive-record run of that size before it. */
int64_t bench_framed_bytes(size_t size, long count)
{
    size_t frames = size / FRAME_PAYLOAD_AT_MTU, last = size % FRAME_PAYLOAD_AT_MTU;
    int64_t bytes = (int64_t)frames * (FRAME_PAYLOAD_AT_MTU + FRAME_HEADER);
    if (last > 0 || 0 == frames)
        bytes += ((int64_t)last + FRAME_HEADER + 31) & ~31LL;
    return bytes * count;
}

/* Waits for the archive to list the recording of stream (the publication's session): its id, or -1. */
typedef struct
{
    int32_t stream, session;
    int64_t id;
} find_t;

static void on_descriptor(void *clientd, const shoal_recording_descriptor_t *d)
{
    find_t *f = clientd;
    if (d->stream_id == f->stream && d->session_id == f->session && d->stop_position < 0)
        f->id = d->recording_id;
}

int64_t bench_find_recording(shoal_archive_t *a, int32_t stream, int32_t session)
{
    find_t f = { stream, session, -1 };
    for (int64_t deadline = bench_now_ns() + RECORDING_WAIT_NS; f.id < 0 && bench_now_ns() < deadline;)
    {
        if (shoal_archive_list_recordings(a, 0, INT32_MAX, on_descriptor, &f) < 0)
            return -1;
        if (f.id < 0)
            usleep(1000);
    }
    return f.id;
}

/* After a run, untimed: the filesystem's work on the files it removed (the
 * journal commit, discards) is done before the next run starts, so one run
 * does not pay for the last. */
static void settle(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
    {
        syncfs(fd);
        close(fd);
    }
}

/* One archive-record run on pub's stream: a new recording of count messages, purged after; msgs/s, or -1
 * with err set; *bytes gets what the recording held. */
static double record_run(shoal_archive_t *a, const char *dir, shoal_publication_t *pub, size_t size, long count,
    int yield, int64_t *bytes, char *err, size_t err_len)
{
    int32_t stream = shoal_publication_stream_id(pub);
    int64_t subscription = shoal_archive_start_recording(a, "aeron:ipc", stream);
    if (subscription < 0)
    {
        snprintf(err, err_len, "start recording: %s", shoal_errmsg());
        return -1;
    }
    double result = -1;
    int64_t id = bench_find_recording(a, stream, shoal_publication_session_id(pub));
    uint8_t *msg = calloc(1, size);
    if (id < 0 || NULL == msg)
    {
        snprintf(err, err_len, "the archive did not list the recording of stream %d: %s", (int)stream, shoal_errmsg());
        goto done;
    }
    int64_t start = shoal_publication_position(pub), end = 0;
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < count; i++)
    {
        memcpy(msg, &i, sizeof(i));
        while ((end = shoal_publication_offer(pub, msg, size)) < 0)
        {
            if (SHOAL_CLOSED == end || SHOAL_ERROR == end || SHOAL_MAX_POSITION_EXCEEDED == end ||
                bench_now_ns() - t0 > STALL_NS)
            {
                snprintf(err, err_len, "offer %ld: %lld (%s)", i, (long long)end, shoal_errmsg());
                goto done;
            }
            if (yield)
                sched_yield();
        }
    }
    for (int64_t p = 0; p < end;)
    {
        if ((p = shoal_archive_recording_position(a, id)) < 0 || bench_now_ns() - t0 > STALL_NS)
        {
            snprintf(err, err_len, "recording position %lld of %lld: %s", (long long)p, (long long)end, shoal_errmsg());
            goto done;
        }
        if (p < end)
        {
            struct timespec pause = { 0, POSITION_POLL_NS };
            nanosleep(&pause, NULL);
        }
    }
    result = (double)count / ((double)(bench_now_ns() - t0) / 1e9);
    *bytes = end - start;
done:
    free(msg);
    shoal_archive_stop_recording(a, subscription);
    if (id >= 0 && shoal_archive_purge(a, id) < 0 && result >= 0)
    {
        snprintf(err, err_len, "purge recording %lld: %s", (long long)id, shoal_errmsg());
        result = -1;
    }
    settle(dir);
    return result;
}

int bench_ceiling_write(const char *dir, const char *name, int64_t bytes, int *files, char *err, size_t err_len)
{
    static uint8_t chunk[CEILING_CHUNK];
    memset(chunk, 0x5a, sizeof(chunk));
    char path[600];
    *files = 0;
    for (int64_t written = 0; written < bytes;)
    {
        snprintf(path, sizeof(path), "%s/%s-%d.dat", dir, name, *files);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        if (fd < 0)
        {
            snprintf(err, err_len, "open %.180s: %s", path, strerror(errno));
            return -1;
        }
        ++*files;
        for (int64_t in_file = 0; in_file < CEILING_SEGMENT && written < bytes;)
        {
            size_t n = bytes - written < CEILING_CHUNK ? (size_t)(bytes - written) : CEILING_CHUNK;
            ssize_t w = write(fd, chunk, n);
            if (w <= 0)
            {
                snprintf(err, err_len, "write %.180s: %s", path, strerror(errno));
                close(fd);
                return -1;
            }
            written += w, in_file += w;
        }
        close(fd);
    }
    return 0;
}

void bench_ceiling_remove(const char *dir, const char *name, int files)
{
    char path[600];
    for (int i = 0; i < files; i++)
    {
        snprintf(path, sizeof(path), "%s/%s-%d.dat", dir, name, i);
        unlink(path);
    }
}

/* One write-ceiling run: bytes written with write(2) into segment files in dir; msgs/s for count messages. */
static double write_run(const char *dir, int64_t bytes, long count, char *err, size_t err_len)
{
    int files = 0;
    int64_t t0 = bench_now_ns();
    double result = bench_ceiling_write(dir, "write-ceiling", bytes, &files, err, err_len) < 0
        ? -1
        : (double)count / ((double)(bench_now_ns() - t0) / 1e9);
    bench_ceiling_remove(dir, "write-ceiling", files);
    settle(dir);
    return result;
}

void bench_archive_setup(const bench_t *b, result_t *res, const char *channel, char *dir, size_t len)
{
    bench_archive_dir(b, dir, len);
    snprintf(res->uri, sizeof(res->uri), "%.100s (%.140s)", channel, dir);
    long cap = (long)(((uint64_t)b->opt->max_mib << 20) / res->size);
    res->npub = 1;
    res->messages = b->opt->messages < cap ? b->opt->messages : cap < 16 ? 16 : cap;
}

void bench_archive_runs(const bench_options_t *opt, result_t *res, bench_archive_run_fn run, void *ctx)
{
    char err[256] = "";
    for (int i = -1; i < opt->runs; i++)
    {
        double v = run(ctx, err, sizeof(err));
        if (v < 0)
        {
            snprintf(res->error, sizeof(res->error), "%s: %s", i < 0 ? "warm-up" : "timed run", err);
            break;
        }
        if (i >= 0)
            res->tput[res->nruns++] = v;
    }
}

typedef struct
{
    bench_t *b;
    result_t *res;
    const char *dir;
    shoal_archive_t *a;
    shoal_publication_t *pub;
} archive_runs_t;

/* One run of either scenario: a recording when there is an archive, else the ceiling's writes. */
static double archive_or_ceiling_run(void *ctx, char *err, size_t err_len)
{
    archive_runs_t *r = ctx;
    bench_t *b = r->b;
    const result_t *res = r->res;
    if (NULL == r->a)
    {
        int same = b->archive_size == res->size && b->archive_messages == res->messages;
        return write_run(r->dir, same ? b->archive_bytes : bench_framed_bytes(res->size, res->messages), res->messages,
            err, err_len);
    }
    int64_t bytes = 0;
    double v = record_run(r->a, r->dir, r->pub, res->size, res->messages, b->opt->yield, &bytes, err, err_len);
    if (v >= 0)
        b->archive_bytes = bytes, b->archive_size = res->size, b->archive_messages = res->messages;
    return v;
}

void bench_run_archive(bench_t *b, result_t *res, const char *channel)
{
    const bench_options_t *opt = b->opt;
    char dir[512];
    bench_archive_setup(b, res, channel, dir, sizeof(dir));

    shoal_archive_server_t *srv = NULL;
    shoal_archive_t *a = NULL;
    shoal_publication_t *pub = NULL;
    cpu_set_t own;
    const int restore = b->pin.enabled && 0 == pthread_getaffinity_np(pthread_self(), sizeof(own), &own);
    if (M_ARCHIVE_RECORD == res->sc->mode)
    {
        /* One publication for all runs: its log is warm after the warm-up run
         * (first touches of a fresh log are ipc-cold-start's subject). */
        bench_pin_self(&b->pin, 1);
        int started = shoal_archive_server_start(&srv, b->ctx, dir);
        bench_pin_self(&b->pin, 0);
        if (started < 0 || shoal_archive_connect(&a, b->client) < 0 ||
            shoal_add_exclusive_publication(b->client, channel, b->next_stream++, &pub) < 0)
        {
            snprintf(res->error, sizeof(res->error), "archive server in %.140s: %.150s", dir, shoal_errmsg());
            goto cleanup;
        }
    }
    else if (0 != mkdir(dir, 0700) && EEXIST != errno)
    {
        snprintf(res->error, sizeof(res->error), "mkdir %.200s: %s", dir, strerror(errno));
        return;
    }
    archive_runs_t runs = { b, res, dir, a, pub };
    bench_archive_runs(opt, res, archive_or_ceiling_run, &runs);
cleanup:
    if (pub)
        shoal_publication_close(pub);
    shoal_archive_close(a);
    if (srv)
        shoal_archive_server_close(srv);
    if (NULL == opt->archive_dir)
        bench_archive_remove_dir(dir);
    if (restore)
        pthread_setaffinity_np(pthread_self(), sizeof(own), &own);
}
