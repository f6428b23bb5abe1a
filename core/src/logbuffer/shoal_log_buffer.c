#include "logbuffer/shoal_log_buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_log_waiters.h"
#include "logbuffer/shoal_logbuffer_tsan.h"
#include "logbuffer/shoal_term_unblocker.h"
#include "util/shoal_error.h"
#include "util/shoal_fs.h"

static void lay_out(shoal_log_buffer_t *log, uint8_t *mapped, size_t length, int32_t term_length)
{
    log->mapped = mapped;
    log->mapped_length = length;
    log->term_length = term_length;
    log->position_bits_to_shift = shoal_logbuffer_position_bits_to_shift(term_length);
    for (size_t i = 0; i < SHOAL_LOGBUFFER_PARTITION_COUNT; i++)
    {
        log->terms[i] = shoal_logbuffer_term(mapped, term_length, i);
    }
    log->meta = shoal_logbuffer_metadata(mapped, term_length);
}

int shoal_log_buffer_create(shoal_log_buffer_t *log, char *path, size_t path_size, const char *dir,
    const shoal_log_buffer_params_t *p)
{
    memset(log, 0, sizeof(*log));
    char sub_dir[448];
    snprintf(sub_dir, sizeof(sub_dir), "%s/publications", dir);
    if (shoal_fs_mkdir_private(sub_dir) < 0)
    {
        return -1;
    }
    snprintf(path, path_size, "%s/%lld.logbuffer", sub_dir, (long long)p->registration_id);
    size_t length = (size_t)shoal_logbuffer_compute_log_length(p->term_length);
    void *addr = NULL;
    if (shoal_fs_map_new(path, length, !p->sparse, &addr) < 0)
    {
        return -1;
    }
    lay_out(log, addr, length, p->term_length);
    log->initial_term_id = p->initial_term_id;
    if (shoal_logbuffer_metadata_init(log->meta, p->term_length, p->mtu, (int32_t)sysconf(_SC_PAGESIZE),
            p->initial_term_id, p->session_id, p->stream_id, p->registration_id) < 0)
    {
        shoal_log_buffer_delete(log, path);
        return -1;
    }
    if (p->has_start)
    {
        shoal_logbuffer_metadata_start_at(log->meta, p->start_term_id, p->start_term_offset);
    }
    return 0;
}

int shoal_log_buffer_map(shoal_log_buffer_t *log, const char *path)
{
    memset(log, 0, sizeof(*log));
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "cannot open log buffer %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
    {
        int e = errno;
        close(fd);
        return shoal_set_err_errno(SHOAL_EIO, e, "cannot stat log buffer %s", path);
    }
    size_t len = (size_t)st.st_size;
    if (len < SHOAL_LOG_META_DATA_LENGTH + 3 * (size_t)SHOAL_LOGBUFFER_TERM_MIN_LENGTH)
    {
        close(fd);
        return shoal_set_err(SHOAL_EIO, "log buffer %s is too short (%zu bytes)", path, len);
    }
    /* A log whose blocks are all allocated (the default: not sparse=true) is
     * mapped in whole now, so the publisher's and subscriber's first pass
     * through each page takes no page fault; a sparse one stays sparse. */
    const bool allocated = (uint64_t)st.st_blocks * 512U >= (uint64_t)st.st_size;
    void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | (allocated ? MAP_POPULATE : 0), fd, 0);
    int e = errno;
    close(fd);
    if (MAP_FAILED == addr)
    {
        return shoal_set_err_errno(SHOAL_EIO, e, "cannot map log buffer %s", path);
    }
    int32_t tl = (int32_t)((len - SHOAL_LOG_META_DATA_LENGTH) / 3);
    shoal_logbuffer_metadata_t *m = shoal_logbuffer_metadata(addr, tl);
    if (m->term_length != tl || shoal_logbuffer_check_term_length(tl) < 0)
    {
        munmap(addr, len);
        return shoal_set_err(SHOAL_EIO, "log buffer %s is corrupt (term length %d, file %zu bytes)", path,
            m->term_length, len);
    }
    lay_out(log, addr, len, tl);
    log->initial_term_id = m->initial_term_id;
    log->sparse = !allocated;
    return 0;
}

size_t shoal_log_buffer_pre_touch(const shoal_log_buffer_t *log, shoal_log_touch_t how, size_t offset, size_t max_bytes)
{
    if (NULL == log->mapped || log->sparse || offset >= log->mapped_length)
    {
        return log->mapped_length;
    }
    const long page = sysconf(_SC_PAGESIZE);
    const size_t step = page > 0 ? (size_t)page : 4096;
    const size_t end = max_bytes < log->mapped_length - offset ? offset + max_bytes : log->mapped_length;
    if (SHOAL_LOG_TOUCH_WRITE == how)
    {
        for (; offset < end; offset += step)
        {
            __atomic_fetch_add((int64_t *)(void *)(log->mapped + offset), 0, __ATOMIC_RELAXED);
        }
        return offset < log->mapped_length ? offset : log->mapped_length;
    }
    uint64_t sum = 0;
    for (; offset < end; offset += step)
    {
        sum += __atomic_load_n((const uint64_t *)(const void *)(log->mapped + offset), __ATOMIC_RELAXED);
    }
    /* The loads are the point: keep them. */
    __asm__ volatile("" : : "r"(sum) : "memory");
    return offset < log->mapped_length ? offset : log->mapped_length;
}

void shoal_log_buffer_unmap(shoal_log_buffer_t *log)
{
    if (NULL != log->mapped)
    {
        shoal_fs_unmap(log->mapped, log->mapped_length);
        log->mapped = NULL;
    }
}

void shoal_log_buffer_delete(shoal_log_buffer_t *log, const char *path)
{
    if (NULL != log->mapped)
    {
        shoal_log_buffer_unmap(log);
        unlink(path);
    }
}

void shoal_log_buffer_mark_uncleaned(shoal_log_buffer_t *log)
{
    log->uncleaned = true;
    shoal_store_release(&log->meta->laps_uncleaned, 1);
}

int shoal_log_buffer_clean(shoal_log_buffer_t *log, int64_t *clean_position, int64_t position)
{
    int chunks = 0;
    const int64_t log_length = (int64_t)SHOAL_LOGBUFFER_PARTITION_COUNT * log->term_length;
    if (position - *clean_position > log_length)
    {
        *clean_position = position - log_length;
    }
    while (position > *clean_position)
    {
        int64_t from = *clean_position;
        size_t index = shoal_logbuffer_index_by_position(from, log->position_bits_to_shift);
        int32_t term_offset = (int32_t)(from & (log->term_length - 1));
        int64_t left_in_term = log->term_length - term_offset;
        int64_t length = position - from < left_in_term ? position - from : left_in_term;
        shoal_term_clean(log->terms[index], term_offset, term_offset + (int32_t)length);
        *clean_position = from + length;
        shoal_logbuffer_tsan_cleaned(log->meta);
        chunks++;
    }
    return chunks;
}

bool shoal_log_buffer_unblock(shoal_log_buffer_t *log, int64_t blocked_position)
{
    if (blocked_position < 0)
    {
        /* Only a corrupt tail counter puts the producer, and so the clamped
         * consumer, below the start of the stream. */
        return false;
    }
    shoal_logbuffer_metadata_t *m = log->meta;
    int32_t blocked_term_count = (int32_t)(blocked_position >> log->position_bits_to_shift);
    int32_t blocked_offset = (int32_t)(blocked_position & (log->term_length - 1));
    int32_t active_term_count = shoal_load_acquire(&m->active_term_count);
    if (active_term_count == blocked_term_count - 1 && 0 == blocked_offset)
    {
        /* The writer tripped the term end and died before rotating. */
        int64_t raw =
            shoal_load_acquire(&m->term_tail_counters[shoal_logbuffer_index_by_term_count(active_term_count)]);
        return shoal_logbuffer_rotate_log(m, active_term_count, shoal_logbuffer_term_id(raw));
    }
    size_t index = shoal_logbuffer_index_by_term_count(blocked_term_count);
    int64_t raw_tail = shoal_load_acquire(&m->term_tail_counters[index]);
    shoal_unblock_status_t s = shoal_term_unblocker_unblock(m, log->terms[index], log->term_length, blocked_offset,
        shoal_logbuffer_term_offset(raw_tail, log->term_length), shoal_logbuffer_term_id(raw_tail), log->uncleaned);
    if (SHOAL_UNBLOCK_NO_ACTION == s)
    {
        return false;
    }
    shoal_log_waiters_notify_subscribers_fenced(m);
    return true;
}
