/* The prime sieve: count or list the primes of any 64-bit interval.
 * Written once on the public pool API (parkit/pool.h); runs on every backend.
 * Never prints, exits or times itself. Errors as in parkit/error.h, with the
 * origin in pk_ctx_error(). Scalar results are identical on every rank after a
 * call; bulk results land on rank 0 unless the call says otherwise. */
#ifndef PARKIT_SIEVE_H
#define PARKIT_SIEVE_H

#include <stddef.h>
#include <stdint.h>

#include "parkit/context.h"
#include "parkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sieve ------------------------------------------------------------------
 * Primes in [lo, hi], both inclusive, any 0 <= lo <= hi <= 2^64 - 1. Segmented
 * sieve of Eratosthenes over a mod-30 wheel; threads and ranks claim chunks of
 * the interval. Task = chunk number. count is set on every rank.
 * pk_sieve_primes additionally calls emit on rank 0 with the primes in increasing
 * order, in batches, whatever the pool; emit returning non-zero stops the sieve
 * with that code. */
typedef int (*pk_primes_fn)(void *arg, const uint64_t *primes, size_t count);

int pk_sieve_count(pk_ctx *ctx, uint64_t lo, uint64_t hi, uint64_t *count);
int pk_sieve_primes(pk_ctx *ctx, uint64_t lo, uint64_t hi, pk_primes_fn emit, void *arg,
                    uint64_t *count);

/* pi(10^k) for k = 0..19 (a known-answer table for validation). */
uint64_t pk_prime_pi_pow10(int k);

#ifdef __cplusplus
}
#endif

#endif
