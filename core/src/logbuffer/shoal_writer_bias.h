/*
 * Single-writer bias of a concurrent log. Writers of a concurrent
 * publication claim space with an atomic add on the shared tail, and a
 * locked add waits for every store before it to drain: at 32 B, with the
 * subscriber reading right behind, that wait is most of an offer. Most
 * concurrent publications are written by one thread at a time, so the first
 * thread to append owns the tail and appends as an exclusive publication
 * does (plain load and store of the tail), until another thread appends.
 *
 * meta->writer_bias holds token << 8 | hand-overs << 3 | state, where the
 * token names one thread of one process (pid << 32 | a per-process
 * sequence):
 *   FREE      0: nobody has appended yet
 *   OWNED     the token's thread appends without the atomic add
 *   REVOKING  another writer wants the tail; nobody appends until
 *   FENCED    that writer's membarrier has run: once the owner is seen
 *             outside an append (or its process is gone), the tail goes to
 *             the writer that asked, or, once it has been handed over
 *             SHOAL_WRITER_BIAS_HANDOVERS - 1 times (threads that keep
 *             taking turns), is
 *   SHARED    3 (no token): every writer uses the atomic add, for good.
 * Hand-overs let a publication outlive the thread that first wrote it (a
 * pool, one thread per run) and keep the bias; each costs one membarrier.
 *
 * The owner's append is bracketed by its busy word, an asymmetric
 * Dekker handshake: the owner stores busy = 1 then loads writer_bias with no
 * fence between; a revoker stores REVOKING, then shoal_membarrier_global()
 * makes every running thread of every registered process execute a full
 * fence, then loads busy. Either the owner's load comes after the fence and
 * sees REVOKING (so it leaves without appending), or its busy = 1 is visible to
 * the revoker, which waits for the release store of busy = 0 that ends that
 * append (the owner's tail store comes before it). Each ownership has a
 * busy word of its own (meta->writer_bias_busy[hand-overs]): a former owner
 * that checked the word just before it changed stores busy = 1, then 0,
 * into its own word, never over the new owner's. Only processes
 * registered for the membarrier (shoal_membarrier_register) take the bias;
 * a process refused the membarrier itself (a seccomp filter) cannot take a
 * tail over, and its offers fail with SHOAL_ERROR saying so.
 *
 * A thread that forks: the child's copy of the thread gets a new token
 * (pthread_atfork), so parent and child never both own one tail.
 */
#ifndef SHOAL_WRITER_BIAS_H
#define SHOAL_WRITER_BIAS_H

#include <stdbool.h>
#include <stdint.h>

#include "concurrent/shoal_atomic.h"
#include "concurrent/shoal_futex.h"
#include "logbuffer/shoal_logbuffer_descriptor.h"

#define SHOAL_WRITER_BIAS_FREE           0
#define SHOAL_WRITER_BIAS_OWNED          1
#define SHOAL_WRITER_BIAS_REVOKING       2
#define SHOAL_WRITER_BIAS_SHARED         3
#define SHOAL_WRITER_BIAS_FENCED         4
#define SHOAL_WRITER_BIAS_STATE(w)       ((w)&7)
#define SHOAL_WRITER_BIAS_HANDOVERS      SHOAL_LOGBUFFER_WRITER_BIAS_OWNERSHIPS
#define SHOAL_WRITER_BIAS_HANDOVER_SHIFT 3
#define SHOAL_WRITER_BIAS_TOKEN_SHIFT    8

/* This thread's token, 0 until shoal_writer_bias_token() assigns it.
 * Initial-exec: one %fs-relative load on the offer path, not a call. */
extern __thread uint64_t shoal_writer_bias_tls __attribute__((tls_model("initial-exec")));

/* The calling thread's token (assigned on first use, never 0). */
uint64_t shoal_writer_bias_token(void);

/* Whether bias says the calling thread owns the tail (a thread with no
 * token yet owns nothing: token 0 is never written). */
static SHOAL_ALWAYS_INLINE bool shoal_writer_bias_is_mine(int64_t bias)
{
    const int64_t handovers = (int64_t)0x1F << SHOAL_WRITER_BIAS_HANDOVER_SHIFT;
    return (bias & ~handovers) ==
        (int64_t)((shoal_writer_bias_tls << SHOAL_WRITER_BIAS_TOKEN_SHIFT) | SHOAL_WRITER_BIAS_OWNED);
}

SHOAL_LAYOUT_ASSERT(SHOAL_IS_POWER_OF_TWO(SHOAL_WRITER_BIAS_HANDOVERS), "busy words are indexed by a mask");

/* The busy word of the ownership bias names. */
static SHOAL_ALWAYS_INLINE int32_t *shoal_writer_bias_busy(shoal_logbuffer_metadata_t *meta, int64_t bias)
{
    return &meta->writer_bias_busy[(bias >> SHOAL_WRITER_BIAS_HANDOVER_SHIFT) & (SHOAL_WRITER_BIAS_HANDOVERS - 1)];
}

/* The owner's way in: true when the caller, which saw that bias is its own,
 * may append without the atomic add; it must then call
 * shoal_writer_bias_exit(busy). False: a revocation began, take the slow
 * path. */
static SHOAL_ALWAYS_INLINE bool shoal_writer_bias_enter(shoal_logbuffer_metadata_t *meta, int64_t bias, int32_t *busy)
{
    shoal_store_relaxed(busy, 1);
    /* No StoreLoad fence: the revoker's membarrier stands in for it. */
    shoal_compiler_fence();
    if (SHOAL_LIKELY(shoal_load_relaxed(&meta->writer_bias) == bias))
    {
        return true;
    }
    shoal_store_release(busy, 0);
    return false;
}

static SHOAL_ALWAYS_INLINE void shoal_writer_bias_exit(int32_t *busy)
{
    shoal_store_release(busy, 0);
}

typedef enum shoal_writer_bias_path_en
{
    SHOAL_WRITER_BIAS_PATH_SHARED, /* append with the atomic add */
    SHOAL_WRITER_BIAS_PATH_OWNED,  /* the caller now owns the tail: append as its owner */
    SHOAL_WRITER_BIAS_PATH_WAIT,   /* a revocation waits for the owner: retry later */
    SHOAL_WRITER_BIAS_PATH_ERROR   /* this process cannot fence the owner (membarrier refused): errmsg set */
} shoal_writer_bias_path_t;

/* For a writer that does not own the tail and found bias there (not
 * SHARED): takes a FREE tail, or moves a revocation on. A writer that got
 * the tail appends as its owner only (bracketed by its busy word): an
 * atomic add outside the bracket could race a later owner's plain store. */
shoal_writer_bias_path_t shoal_writer_bias_arbitrate(shoal_logbuffer_metadata_t *meta, int64_t bias);

#endif /* SHOAL_WRITER_BIAS_H */
