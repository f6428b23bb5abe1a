/*
 * archive-replay: an embedded archive server replays a recording to a
 * subscriber on aeron:ipc, as fast as the subscriber takes it; a run lasts
 * from the replay request (shoal_archive_replay) to the last message polled,
 * so it is the replay throughput end to end: segment files read from the
 * page cache, offered in blocks (offer_block), polled. The recording (the
 * scenario's --messages of --size on an exclusive IPC publication) is made
 * once, before the runs, and purged after them. Its peer, read-ceiling: one
 * thread read(2)s the same number of bytes in 1 MiB calls from files of the
 * archive's default segment length in the same directory, after writing
 * them (untimed): what the page cache gives a plain reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_clock.h"
#include "shoal/shoal_archive.h"

#define POSITION_POLL_NS 200000LL

static void count_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)buf, (void)len, (void)hdr;
    (*(long *)clientd)++;
}

/* Records count messages of size on a fresh stream: the recording id (stopped), or -1 with err set; *bytes
 * gets its length. */
static int64_t make_recording(bench_t *b, shoal_archive_t *a, const char *channel, size_t size, long count,
    int64_t *bytes, char *err, size_t err_len)
{
    int32_t stream = b->next_stream++;
    shoal_publication_t *pub = NULL;
    uint8_t *msg = calloc(1, size);
    int64_t subscription = -1, end = 0;
    struct
    {
        int64_t id;
    } f = { -1 };
    if (NULL == msg || shoal_add_exclusive_publication(b->client, channel, stream, &pub) < 0 ||
        (subscription = shoal_archive_start_recording(a, "aeron:ipc", stream)) < 0)
    {
        snprintf(err, err_len, "recording setup: %s", shoal_errmsg());
        goto done;
    }
    f.id = bench_find_recording(a, stream, shoal_publication_session_id(pub));
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < count && f.id >= 0; i++)
    {
        memcpy(msg, &i, sizeof(i));
        while ((end = shoal_publication_offer(pub, msg, size)) < 0)
        {
            if (SHOAL_CLOSED == end || SHOAL_ERROR == end || bench_now_ns() - t0 > STALL_NS)
            {
                snprintf(err, err_len, "offer %ld: %lld (%s)", i, (long long)end, shoal_errmsg());
                f.id = -1;
                goto done;
            }
        }
    }
    for (int64_t p = 0; f.id >= 0 && p < end;)
    {
        if ((p = shoal_archive_recording_position(a, f.id)) < 0 || bench_now_ns() - t0 > STALL_NS)
        {
            snprintf(err, err_len, "recording position %lld of %lld: %s", (long long)p, (long long)end, shoal_errmsg());
            f.id = -1;
            goto done;
        }
        if (p < end)
        {
            struct timespec pause = { 0, POSITION_POLL_NS };
            nanosleep(&pause, NULL);
        }
    }
    *bytes = end;
done:
    if (f.id < 0 && '\0' == err[0])
        snprintf(err, err_len, "the archive did not list the recording of stream %d", (int)stream);
    if (subscription >= 0)
        shoal_archive_stop_recording(a, subscription);
    if (pub)
        shoal_publication_close(pub);
    free(msg);
    return f.id;
}

/* One archive-replay run: msgs/s from the request to the last of count messages, or -1 with err set. */
static double replay_run(shoal_archive_t *a, int64_t id, shoal_subscription_t *sub, long count, char *err,
    size_t err_len)
{
    long received = 0;
    int64_t t0 = bench_now_ns(), last = t0;
    int64_t replay = shoal_archive_replay(a, id, 0, -1, "aeron:ipc", shoal_subscription_stream_id(sub));
    if (replay < 0)
    {
        snprintf(err, err_len, "replay: %s", shoal_errmsg());
        return -1;
    }
    while (received < count)
    {
        int n = shoal_subscription_poll(sub, count_message, &received, BATCH);
        int64_t now = bench_now_ns();
        if (n < 0 || now - last > STALL_NS)
        {
            snprintf(err, err_len, "replay stalled at %ld of %ld messages: %s", received, count, shoal_errmsg());
            return -1;
        }
        last = n > 0 ? now : last;
    }
    return (double)count / ((double)(bench_now_ns() - t0) / 1e9);
}

/* One read-ceiling run: read(2) of the files in 1 MiB calls; msgs/s for count messages, or -1. */
static double read_run(const char *dir, int files, long count, char *err, size_t err_len)
{
    static uint8_t chunk[CEILING_CHUNK];
    char path[600];
    volatile uint8_t sink = 0;
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < files; i++)
    {
        snprintf(path, sizeof(path), "%s/read-ceiling-%d.dat", dir, i);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
        {
            snprintf(err, err_len, "open %.180s: %s", path, strerror(errno));
            return -1;
        }
        for (ssize_t r; (r = read(fd, chunk, sizeof(chunk))) != 0;)
        {
            if (r < 0)
            {
                snprintf(err, err_len, "read %.180s: %s", path, strerror(errno));
                close(fd);
                return -1;
            }
            sink = (uint8_t)(sink + chunk[r - 1]); /* the bytes are looked at, as a subscriber's would be */
        }
        close(fd);
    }
    return (double)count / ((double)(bench_now_ns() - t0) / 1e9);
}

typedef struct
{
    const char *dir;
    int files;
    long messages;
    shoal_archive_t *a;
    int64_t id;
    shoal_subscription_t *sub;
} replay_runs_t;

/* One run of either scenario: a replay when there is an archive, else the ceiling's reads. */
static double replay_or_ceiling_run(void *ctx, char *err, size_t err_len)
{
    replay_runs_t *r = ctx;
    return r->a ? replay_run(r->a, r->id, r->sub, r->messages, err, err_len)
                : read_run(r->dir, r->files, r->messages, err, err_len);
}

void bench_run_archive_replay(bench_t *b, result_t *res, const char *channel)
{
    const bench_options_t *opt = b->opt;
    char dir[512], err[256] = "";
    bench_archive_setup(b, res, channel, dir, sizeof(dir));

    shoal_archive_server_t *srv = NULL;
    shoal_archive_t *a = NULL;
    shoal_subscription_t *sub = NULL;
    int64_t id = -1, bytes = 0;
    int files = 0;
    if (M_ARCHIVE_REPLAY == res->sc->mode)
    {
        if (shoal_archive_server_start(&srv, b->ctx, dir) < 0 || shoal_archive_connect(&a, b->client) < 0 ||
            shoal_add_subscription(b->client, "aeron:ipc", b->next_stream++, &sub) < 0)
        {
            snprintf(res->error, sizeof(res->error), "archive server in %.140s: %.150s", dir, shoal_errmsg());
            goto cleanup;
        }
        if ((id = make_recording(b, a, channel, res->size, res->messages, &bytes, err, sizeof(err))) < 0)
        {
            snprintf(res->error, sizeof(res->error), "recording: %s", err);
            goto cleanup;
        }
        b->replay_bytes = bytes, b->replay_size = res->size, b->replay_messages = res->messages;
    }
    else
    {
        int same = b->replay_size == res->size && b->replay_messages == res->messages;
        if ((0 != mkdir(dir, 0700) && EEXIST != errno) ||
            bench_ceiling_write(dir, "read-ceiling",
                same ? b->replay_bytes : bench_framed_bytes(res->size, res->messages), &files, err, sizeof(err)) < 0)
        {
            snprintf(res->error, sizeof(res->error), "read-ceiling files in %.140s: %.150s", dir,
                '\0' != err[0] ? err : strerror(errno));
            goto cleanup;
        }
    }
    replay_runs_t runs = { dir, files, res->messages, a, id, sub };
    bench_archive_runs(opt, res, replay_or_ceiling_run, &runs);
cleanup:
    bench_ceiling_remove(dir, "read-ceiling", files);
    if (sub)
        shoal_subscription_close(sub);
    if (a && id >= 0)
        shoal_archive_purge(a, id);
    shoal_archive_close(a);
    if (srv)
        shoal_archive_server_close(srv);
    if (NULL == opt->archive_dir)
        bench_archive_remove_dir(dir);
}
