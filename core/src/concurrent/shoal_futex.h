/*
 * Sleeping on 32-bit words: Linux futexes, and the asymmetric fence that
 * lets a writer check "does anyone sleep?" with one plain load.
 *
 * Shared futexes (no FUTEX_PRIVATE_FLAG) work across processes that map the
 * same file: the kernel keys them by (inode, offset). Private ones key by
 * address and are cheaper; use them for words in process memory.
 *
 * The fence: a waiter publishes "I sleep" and then reads the data; a writer
 * publishes data and then reads "anyone sleeping?". Each side needs a
 * StoreLoad fence between its store and its load, or both can miss the
 * other (x86 lets a load pass an earlier store). The writer is a hot path
 * and must not pay for a fence, so the waiter pays for both:
 * shoal_membarrier_global() makes every running thread of every process
 * that called shoal_membarrier_register() execute a full fence (an IPI;
 * threads not running are fenced by their context switch), while the
 * writer only keeps the compiler from reordering (shoal_compiler_fence).
 * A process whose registration failed (old kernel, seccomp) must say so to
 * waiters (shoal_logbuffer_metadata_t.unfenced_writers), who then bound
 * their sleeps instead.
 */
#ifndef SHOAL_FUTEX_H
#define SHOAL_FUTEX_H

#include <stdbool.h>
#include <stdint.h>

/* Most words one shoal_futex_wait_any call sleeps on (the kernel's limit). */
#define SHOAL_FUTEX_WAIT_ANY_MAX 128

typedef struct shoal_futex_word_stct
{
    int32_t *word;
    int32_t expected; /* sleep only while *word still holds this */
    bool shared;      /* in a MAP_SHARED file mapping other processes use */
} shoal_futex_word_t;

/* Sleeps until one of words[0..count) is woken or no longer holds its
 * expected value, or CLOCK_MONOTONIC passes deadline_ns (INT64_MAX: none).
 * Returns 1 when the deadline passed, 0 otherwise (woken, value changed,
 * interrupted by a signal: the caller re-checks its condition in every
 * case). count 1 uses FUTEX_WAIT; more use futex_waitv (Linux 5.16), and
 * without it sleep on the first word only, at most 1 ms, so the others are
 * still looked at soon. */
int shoal_futex_wait_any(const shoal_futex_word_t *words, int count, int64_t deadline_ns);

/* Wakes every thread sleeping on word; returns how many (or -1). */
int shoal_futex_wake_all(int32_t *word, bool shared);

/* Registers this process for shoal_membarrier_global (once per process,
 * thread-safe). True if registered: the process's writers may then check
 * for sleepers with a plain load. */
bool shoal_membarrier_register(void);

/* A full fence on every running thread of every registered process; true
 * if done (false: no kernel support, the caller must not rely on it). */
bool shoal_membarrier_global(void);

/* Keeps the compiler from moving loads above earlier stores; the CPU's
 * StoreLoad ordering comes from a waiter's shoal_membarrier_global. */
#define shoal_compiler_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* A full (StoreLoad) fence on this thread, for the cold sides of the waiting
 * protocols. GCC refuses atomic_thread_fence under -fsanitize=thread: there a
 * seq_cst read-modify-write stands in (a full barrier on x86; TSan checks
 * data races, not this ordering). */
void shoal_store_load_fence(void);

#endif
