/*
 * Atomics and memory ordering used across shoal. GCC/clang __atomic builtins
 * keep the code C99 while giving C11 semantics; every shared-memory word that
 * another thread or process reads goes through these.
 */
#ifndef SHOAL_ATOMIC_H
#define SHOAL_ATOMIC_H

#include <stdint.h>
#include <stdbool.h>

#define SHOAL_CACHE_LINE_LENGTH 64
/* Two lines: adjacent-line prefetch makes 64 bytes too little on x86. */
#define SHOAL_CACHE_PAD_LENGTH 128
/* A counter alone on its pad (a struct member declaration): the rings'
 * shared-memory trailers keep each counter away from its neighbours so a
 * producer and a consumer do not share a line. */
#define SHOAL_CACHE_PADDED_INT64(name)                                                                                 \
    int64_t name;                                                                                                      \
    uint8_t name##_pad[SHOAL_CACHE_PAD_LENGTH - sizeof(int64_t)]

#define shoal_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define shoal_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define shoal_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define shoal_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define shoal_get_and_add(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define shoal_cas(p, expected_ptr, desired)                                                                            \
    __atomic_compare_exchange_n((p), (expected_ptr), (desired), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define shoal_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define shoal_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#define shoal_fence_full()    __atomic_thread_fence(__ATOMIC_SEQ_CST)

static inline void shoal_cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#define SHOAL_ALIGN(value, alignment) (((value) + ((alignment)-1)) & ~((alignment)-1))
#define SHOAL_IS_POWER_OF_TWO(v)      ((v) > 0 && (((v) & ((v)-1)) == 0))

#if defined(__GNUC__)
#define SHOAL_LIKELY(x)   __builtin_expect(!!(x), 1)
#define SHOAL_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For a hot-path helper written once for several callers that each pass
 * constants: inlined into every one, the constants fold its branches away. */
#define SHOAL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SHOAL_LIKELY(x)     (x)
#define SHOAL_UNLIKELY(x)   (x)
#define SHOAL_ALWAYS_INLINE inline
#endif

#endif
