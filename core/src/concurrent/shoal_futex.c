#include "concurrent/shoal_futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"

#ifndef __NR_futex_waitv
#define __NR_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
/* As <linux/futex.h> of Linux 5.16, for older headers. */
struct futex_waitv
{
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t __reserved;
};
#endif

#define WAITV_MISSING_SLEEP_NS 1000000LL

static int waitv_missing; /* set once futex_waitv said ENOSYS */

static struct timespec to_timespec(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
    return ts;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int wait_one(const shoal_futex_word_t *w, int64_t deadline_ns)
{
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
    struct timespec until = to_timespec(deadline_ns);
    const int op = FUTEX_WAIT_BITSET | (w->shared ? 0 : FUTEX_PRIVATE_FLAG);
    long rc = syscall(SYS_futex, w->word, op, w->expected, INT64_MAX == deadline_ns ? NULL : &until, NULL,
        FUTEX_BITSET_MATCH_ANY);
    return rc < 0 && ETIMEDOUT == errno ? 1 : 0;
}

int shoal_futex_wait_any(const shoal_futex_word_t *words, int count, int64_t deadline_ns)
{
    if (count <= 0)
    {
        return 1;
    }
    if (1 == count)
    {
        return wait_one(&words[0], deadline_ns);
    }
    if (!shoal_load_relaxed(&waitv_missing))
    {
        struct futex_waitv v[SHOAL_FUTEX_WAIT_ANY_MAX];
        const int n = count < SHOAL_FUTEX_WAIT_ANY_MAX ? count : SHOAL_FUTEX_WAIT_ANY_MAX;
        for (int i = 0; i < n; i++)
        {
            v[i].val = (uint64_t)(uint32_t)words[i].expected;
            v[i].uaddr = (uint64_t)(uintptr_t)words[i].word;
            v[i].flags = FUTEX_32 | (words[i].shared ? 0 : FUTEX_PRIVATE_FLAG);
            v[i].__reserved = 0;
        }
        struct timespec until = to_timespec(deadline_ns);
        long rc =
            syscall(__NR_futex_waitv, v, (unsigned)n, 0, INT64_MAX == deadline_ns ? NULL : &until, CLOCK_MONOTONIC);
        if (rc >= 0 || ENOSYS != errno)
        {
            return rc < 0 && ETIMEDOUT == errno ? 1 : 0;
        }
        shoal_store_relaxed(&waitv_missing, 1);
    }
    const int64_t bound = monotonic_ns() + WAITV_MISSING_SLEEP_NS;
    if (bound < deadline_ns)
    {
        wait_one(&words[0], bound);
        return 0;
    }
    return wait_one(&words[0], deadline_ns);
}

int shoal_futex_wake_all(int32_t *word, bool shared)
{
    return (int)syscall(SYS_futex, word, FUTEX_WAKE | (shared ? 0 : FUTEX_PRIVATE_FLAG), INT_MAX, NULL, NULL, 0);
}

#if defined(__SANITIZE_THREAD__)
#define SHOAL_FUTEX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHOAL_FUTEX_TSAN 1
#endif
#endif

void shoal_store_load_fence(void)
{
#if defined(SHOAL_FUTEX_TSAN)
    static int fence_word;
    __atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST);
#else
    shoal_fence_full();
#endif
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static bool registered;

static void register_this_process(void)
{
    registered = 0 == syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0);
}

/* A forked child is a process of its own: it registers again, or it would
 * believe itself fenced by other processes' membarriers when it is not. */
static void register_process(void)
{
    register_this_process();
    pthread_atfork(NULL, NULL, register_this_process);
}

bool shoal_membarrier_register(void)
{
    pthread_once(&register_once, register_process);
    return registered;
}

bool shoal_membarrier_global(void)
{
    return 0 == syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}
