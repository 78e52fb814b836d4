/* Reproducible random numbers for any pool size.
 *
 * A pool decides which worker runs which chunk, and that changes with the number
 * of threads and ranks. A generator seeded per worker (in worker_begin, from
 * w->id) therefore draws different numbers on every pool. To get the same
 * numbers on every pool, key the numbers to the work, not to the worker: seed
 * one stream per chunk (or per sample index) from a fixed seed and the chunk's
 * first index, inside the callback:
 *
 *     static int body(void *arg, int64_t begin, int64_t end, void *out, void *acc,
 *                     pk_worker *w) {
 *         pk_rng r = pk_rng_at(SEED, (uint64_t)begin);   // this chunk's stream
 *         for (int64_t i = begin; i < end; i++) {
 *             double x = pk_rng_double(&r), y = pk_rng_double(&r);
 *             ...
 *
 * The generator is counter-based: the k-th number of stream (seed, stream) is a
 * fixed function of (seed, stream, k) (SplitMix64's mixing function applied to
 * a Weyl sequence whose starting point is a mix of seed and stream), so any
 * number can be computed directly (pk_random_u64) and nothing is shared between
 * workers. Statistical quality is that of SplitMix64: good for simulation, not
 * for cryptography. Header-only, no state outside the pk_rng. */
#ifndef PARKIT_RANDOM_H
#define PARKIT_RANDOM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_rng {
    uint64_t base; /* the stream's starting point, from (seed, stream) */
    uint64_t next; /* how many numbers were drawn */
} pk_rng;

#define PK_RNG_GAMMA UINT64_C(0x9e3779b97f4a7c15) /* 2^64 / golden ratio, odd */

/* SplitMix64's finalizer: a bijection of 64-bit words with full avalanche. */
static inline uint64_t pk_rng_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Stream `stream` of generator `seed` (stream: a chunk's first index, a sample
 * number, a task number). */
static inline pk_rng pk_rng_at(uint64_t seed, uint64_t stream) {
    pk_rng r;
    r.base = pk_rng_mix(pk_rng_mix(seed) ^ (stream * PK_RNG_GAMMA + UINT64_C(0x632be59bd9b4e019)));
    r.next = 0;
    return r;
}

/* The k-th number of the stream (k = 0, 1, ...), directly. */
static inline uint64_t pk_rng_nth(const pk_rng *r, uint64_t k) {
    return pk_rng_mix(r->base + (k + 1) * PK_RNG_GAMMA);
}

/* The next 64 random bits of the stream. */
static inline uint64_t pk_rng_u64(pk_rng *r) {
    return pk_rng_nth(r, r->next++);
}

/* The next number of the stream as a double in [0, 1) with 53 random bits. */
static inline double pk_rng_double(pk_rng *r) {
    return (double)(pk_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* The index-th number of stream 0 of seed: one number per index, no state. */
static inline uint64_t pk_random_u64(uint64_t seed, uint64_t index) {
    pk_rng r = pk_rng_at(seed, 0);
    return pk_rng_nth(&r, index);
}

#ifdef __cplusplus
}
#endif

#endif
