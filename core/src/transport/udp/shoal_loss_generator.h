/*
 * Deterministic datagram loss for tests (SHOAL_RCV_LOSS_RATE,
 * SHOAL_SEND_LOSS_RATE, SHOAL_LOSS_SEED): a xorshift64* stream compared with
 * a threshold. One generator per transport and direction, each owned by the
 * one thread that uses that transport, so no sharing and no locks.
 */
#ifndef SHOAL_LOSS_GENERATOR_H
#define SHOAL_LOSS_GENERATOR_H

#include <stdbool.h>
#include <stdint.h>

typedef struct shoal_loss_generator_stct
{
    uint64_t state;
    uint64_t threshold; /* drop when the next 32 random bits are below it; 0 = never */
} shoal_loss_generator_t;

static inline void shoal_loss_generator_init(shoal_loss_generator_t *g, double rate, uint64_t seed)
{
    /* splitmix64 of the seed: neighbouring seeds give unrelated streams */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    g->state = 0 == z ? 0x2545F4914F6CDD1DULL : z;
    g->threshold = rate <= 0.0 ? 0 : rate >= 1.0 ? (1ULL << 32) : (uint64_t)(rate * 4294967296.0);
}

static inline bool shoal_loss_generator_active(const shoal_loss_generator_t *g)
{
    return 0 != g->threshold;
}

static inline bool shoal_loss_generator_should_drop(shoal_loss_generator_t *g)
{
    if (0 == g->threshold)
    {
        return false;
    }
    uint64_t x = g->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->state = x;
    return ((x * 0x2545F4914F6CDD1DULL) >> 32) < g->threshold;
}

#endif
