/*
 * Driver lifecycle: claim the directory, lay out the CnC file, run the
 * conductor duty cycle on a thread (embedded) or the caller's thread
 * (shoald), and clean up. In dedicated threading mode the UDP sender and
 * receiver duties get a thread each; in shared mode the conductor runs
 * them after its own work.
 *
 * One driver per directory: an exclusive flock on <dir>/driver.lock, held
 * for the driver's life, decides it. The kernel drops the lock when the
 * process dies, however it dies, so a lock we can take means any cnc.dat
 * or log left behind is stale and may be removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/shoal_context.h"
#include "concurrent/shoal_atomic.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "util/shoal_clock.h"
#include "util/shoal_counters.h"
#include "util/shoal_error.h"
#include "util/shoal_fs.h"
#include "util/shoal_idle.h"

struct shoal_driver_stct
{
    shoal_context_t ctx; /* a copy: the caller may close theirs */
    int lock_fd;
    shoal_cnc_view_t cnc;
    shoal_driver_conductor_t *conductor;
    pthread_t thread;
    bool thread_started;
    volatile int stop;
    volatile int *agents_stop; /* what the sender/receiver threads watch */
    pthread_t agent_threads[2];
    int agent_thread_count;
};

static int lock_dir(const char *dir, int *fd_out)
{
    if (shoal_fs_mkdir_private(dir) < 0)
    {
        return -1;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, SHOAL_CNC_LOCK_FILE);
    /* O_NOFOLLOW: the lock file is truncated and rewritten below, which
     * through a planted symlink would overwrite any file we can write. */
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
    {
        if (ELOOP == errno)
        {
            return shoal_set_err(SHOAL_EIO, "driver: lock file %s is a symbolic link: not followed; remove it", path);
        }
        return shoal_set_err_errno(SHOAL_EIO, errno, "driver: cannot open lock file %s", path);
    }
    if (shoal_fs_check_private_fd(fd, path, false) < 0)
    {
        close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
    {
        int e = errno;
        char pid[32] = "?";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        if (n > 0)
        {
            pid[n] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        close(fd);
        if (EWOULDBLOCK == e)
        {
            return shoal_set_err(SHOAL_EACTIVE, "another driver is active on %s (pid %s)", dir, pid);
        }
        return shoal_set_err_errno(SHOAL_EIO, e, "driver: cannot lock %s", path);
    }
    fchmod(fd, 0600);
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
    {
        int e = errno;
        close(fd);
        return shoal_set_err_errno(SHOAL_EIO, e, "driver: cannot write pid to %s", path);
    }
    *fd_out = fd;
    return 0;
}

/* Removes <dir>/publications without following it if it is a symlink
 * (the link alone goes). */
static int remove_publications_dir(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
    {
        return ENOENT == errno ? 0 : shoal_set_err_errno(SHOAL_EIO, errno, "driver: cannot stat %s", path);
    }
    if (!S_ISDIR(st.st_mode))
    {
        if (unlink(path) < 0 && ENOENT != errno)
        {
            return shoal_set_err_errno(SHOAL_EIO, errno, "driver: cannot remove %s", path);
        }
        return 0;
    }
    if (shoal_fs_delete_dir_contents(path) < 0)
    {
        return -1;
    }
    rmdir(path);
    return 0;
}

/* Removes what a previous driver left: the CnC file and the log buffers. */
static int remove_stale_files(const shoal_context_t *ctx)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", ctx->dir, SHOAL_CNC_FILE);
    struct stat st;
    if (0 == lstat(path, &st))
    {
        if (!ctx->dir_delete_on_start)
        {
            return shoal_set_err(SHOAL_EIO, "stale %s left by a dead driver and SHOAL_DIR_DELETE_ON_START=0", path);
        }
        if (unlink(path) < 0 && ENOENT != errno)
        {
            return shoal_set_err_errno(SHOAL_EIO, errno, "driver: cannot remove stale %s", path);
        }
    }
    snprintf(path, sizeof(path), "%s/publications", ctx->dir);
    return remove_publications_dir(path);
}

static int create_cnc(const shoal_context_t *ctx, shoal_cnc_view_t *view)
{
    shoal_cnc_metadata_t m;
    shoal_context_cnc_metadata(ctx, &m);
    m.start_timestamp_ms = shoal_epoch_ms();
    m.pid = (int64_t)getpid();

    char path[512];
    snprintf(path, sizeof(path), "%s/%s", ctx->dir, SHOAL_CNC_FILE);
    size_t length = shoal_cnc_computed_length(&m);
    void *addr = NULL;
    if (shoal_fs_map_new(path, length, true, &addr) < 0)
    {
        return -1;
    }
    memcpy(addr, &m, sizeof(m));
    view->base = addr;
    view->length = length;
    view->meta = addr;
    view->to_driver = (uint8_t *)addr + SHOAL_CNC_HEADER_LENGTH;
    view->to_clients = view->to_driver + m.to_driver_buffer_length;
    view->counters_metadata = view->to_clients + m.to_clients_buffer_length;
    view->counters_values = view->counters_metadata + m.counters_metadata_buffer_length;
    view->error_log = view->counters_values + m.counters_values_buffer_length;
    view->loss_report = view->error_log + m.error_log_buffer_length;
    view->loss_report_length = (size_t)m.loss_report_buffer_length;
    return 0;
}

static void remove_files_on_close(const shoal_context_t *ctx)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", ctx->dir, SHOAL_CNC_FILE);
    unlink(path);
    snprintf(path, sizeof(path), "%s/publications", ctx->dir);
    remove_publications_dir(path);
    if (ctx->dir_delete_on_shutdown)
    {
        shoal_fs_delete_dir_contents(ctx->dir);
        rmdir(ctx->dir);
    }
}

static void driver_free(shoal_driver_t *d)
{
    if (NULL != d->conductor)
    {
        shoal_driver_conductor_close(d->conductor);
        free(d->conductor);
    }
    if (NULL != d->cnc.base)
    {
        shoal_fs_unmap(d->cnc.base, d->cnc.length);
        remove_files_on_close(&d->ctx);
    }
    if (d->lock_fd >= 0)
    {
        close(d->lock_fd);
    }
    free(d);
}

static int driver_open(shoal_driver_t **dp, const shoal_context_t *ctx)
{
    shoal_driver_t *d = calloc(1, sizeof(*d));
    if (NULL == d)
    {
        return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory");
    }
    d->ctx = *ctx;
    d->lock_fd = -1;
    if (lock_dir(d->ctx.dir, &d->lock_fd) < 0 || remove_stale_files(&d->ctx) < 0 || create_cnc(&d->ctx, &d->cnc) < 0)
    {
        driver_free(d);
        return -1;
    }
    d->conductor = aligned_alloc(64, SHOAL_ALIGN(sizeof(shoal_driver_conductor_t), 64));
    if (NULL == d->conductor)
    {
        driver_free(d);
        return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory");
    }
    if (shoal_driver_conductor_init(d->conductor, &d->ctx, &d->cnc) < 0)
    {
        free(d->conductor);
        d->conductor = NULL;
        driver_free(d);
        return -1;
    }
    /* Published last: clients trust the layout once they see the version. */
    shoal_store_release(&d->cnc.meta->cnc_version, SHOAL_CNC_VERSION);
    *dp = d;
    return 0;
}

static void driver_loop(shoal_driver_t *d, volatile int *stop)
{
    shoal_idle_t idle;
    shoal_idle_init(&idle, d->ctx.idle_strategy);
    while (!shoal_load_relaxed(stop))
    {
        int64_t start = shoal_nano_time();
        int work = shoal_driver_conductor_do_work(d->conductor);
        shoal_counter_propose_max_ordered(d->conductor
                                              ->system_counters[SHOAL_SYSTEM_COUNTER_CONDUCTOR_MAX_CYCLE_TIME_NS],
            shoal_nano_time() - start);
        shoal_idle(&idle, work);
    }
}

static void *driver_thread(void *arg)
{
    shoal_driver_t *d = arg;
    driver_loop(d, &d->stop);
    return NULL;
}

static void agent_loop(shoal_driver_t *d, int (*do_work)(void *agent, int64_t now_ns), void *agent, int64_t *max_cycle)
{
    shoal_idle_t idle;
    shoal_idle_init(&idle, d->ctx.idle_strategy);
    while (!shoal_load_acquire(d->agents_stop))
    {
        int64_t start = shoal_nano_time();
        int work = do_work(agent, start);
        shoal_counter_propose_max_ordered(max_cycle, shoal_nano_time() - start);
        shoal_idle(&idle, work);
    }
}

static int sender_do_work(void *agent, int64_t now_ns)
{
    return shoal_udp_sender_do_work(agent, now_ns);
}

static int receiver_do_work(void *agent, int64_t now_ns)
{
    return shoal_udp_receiver_do_work(agent, now_ns);
}

static void *sender_thread(void *arg)
{
    shoal_driver_t *d = arg;
    agent_loop(d, sender_do_work, d->conductor->sender,
        d->conductor->system_counters[SHOAL_SYSTEM_COUNTER_SENDER_MAX_CYCLE_TIME_NS]);
    return NULL;
}

static void *receiver_thread(void *arg)
{
    shoal_driver_t *d = arg;
    agent_loop(d, receiver_do_work, d->conductor->receiver,
        d->conductor->system_counters[SHOAL_SYSTEM_COUNTER_RECEIVER_MAX_CYCLE_TIME_NS]);
    return NULL;
}

static void stop_agents(shoal_driver_t *d)
{
    if (0 == d->agent_thread_count)
    {
        return;
    }
    shoal_store_release(d->agents_stop, 1);
    for (int i = 0; i < d->agent_thread_count; i++)
    {
        pthread_join(d->agent_threads[i], NULL);
    }
    d->agent_thread_count = 0;
}

/* Dedicated mode: the sender and receiver threads, stopped by *stop (the
 * driver's own flag, or shoald's). */
static int start_agents(shoal_driver_t *d, volatile int *stop)
{
    if (SHOAL_THREADING_DEDICATED != d->ctx.threading_mode)
    {
        return 0;
    }
    d->agents_stop = stop;
    shoal_driver_udp_proxy_set_stop_flag(d->conductor, stop);
    void *(*fns[2])(void *) = { sender_thread, receiver_thread };
    for (int i = 0; i < 2; i++)
    {
        int rc = pthread_create(&d->agent_threads[i], NULL, fns[i], d);
        if (0 != rc)
        {
            stop_agents(d);
            return shoal_set_err_errno(SHOAL_ENOMEM, rc, "driver: cannot start the %s thread",
                0 == i ? "sender" : "receiver");
        }
        d->agent_thread_count++;
    }
    return 0;
}

int shoal_driver_start(shoal_driver_t **driver, shoal_context_t *ctx)
{
    if (NULL == driver || NULL == ctx)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_driver_start: driver and ctx must not be NULL");
    }
    shoal_driver_t *d = NULL;
    if (driver_open(&d, ctx) < 0)
    {
        return -1;
    }
    if (start_agents(d, &d->stop) < 0)
    {
        driver_free(d);
        return -1;
    }
    int rc = pthread_create(&d->thread, NULL, driver_thread, d);
    if (0 != rc)
    {
        stop_agents(d);
        driver_free(d);
        return shoal_set_err_errno(SHOAL_ENOMEM, rc, "driver: cannot start thread");
    }
    d->thread_started = true;
    *driver = d;
    return 0;
}

int shoal_driver_close(shoal_driver_t *d)
{
    if (NULL == d)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_driver_close: driver must not be NULL");
    }
    shoal_store_release(&d->stop, 1);
    if (d->thread_started)
    {
        pthread_join(d->thread, NULL);
    }
    stop_agents(d);
    driver_free(d);
    return 0;
}

int shoal_driver_run(shoal_context_t *ctx, volatile int *stop_flag)
{
    if (NULL == ctx || NULL == stop_flag)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_driver_run: ctx and stop_flag must not be NULL");
    }
    shoal_driver_t *d = NULL;
    if (driver_open(&d, ctx) < 0)
    {
        return -1;
    }
    if (start_agents(d, stop_flag) < 0)
    {
        driver_free(d);
        return -1;
    }
    driver_loop(d, stop_flag);
    stop_agents(d);
    driver_free(d);
    return 0;
}

bool shoal_driver_is_active(const char *dir, uint64_t timeout_ms)
{
    if (NULL == dir)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_driver_is_active: dir must not be NULL");
        return false;
    }
    shoal_cnc_view_t view;
    if (shoal_cnc_map(dir, false, 0, &view) < 0)
    {
        return false;
    }
    shoal_mpsc_rb_t rb;
    bool active = false;
    if (0 == shoal_mpsc_rb_init(&rb, view.to_driver, (size_t)view.meta->to_driver_buffer_length))
    {
        int64_t age = shoal_epoch_ms() - shoal_mpsc_rb_consumer_heartbeat_time_value(&rb);
        active = age <= (int64_t)timeout_ms;
    }
    shoal_cnc_unmap(&view);
    return active;
}
