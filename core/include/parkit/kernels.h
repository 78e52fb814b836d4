/* The four parkit kernels. Each is written once on top of the pool (parkit/pool.h)
 * and runs on every backend. Kernels never print, exit or time themselves.
 * Scalar results (sums, counts, digit counts) are identical on every rank after a
 * call; bulk results (the squares array, the factorial, a prime listing) land on
 * rank 0 unless the call says otherwise. Errors as in parkit/error.h, with the
 * origin in pk_ctx_error(). */
#ifndef PARKIT_KERNELS_H
#define PARKIT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <gmp.h>

#include "parkit/context.h"
#include "parkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- squares ----------------------------------------------------------------
 * out[i] = x * x for x = first + i, i in [0, count), and the exact sum of the
 * squares. PK_EOVERFLOW (naming the value) when some |x| > 3037000499, whose
 * square does not fit in int64; PK_EINVAL when count < 0 or the range passes
 * INT64_MAX. `where` says which elements out holds: PK_ON_ROOT all count on
 * rank 0 (out may be NULL elsewhere), PK_ON_ALL all on every rank, PK_DISTRIBUTED
 * this rank's part (pk_squares_local_range), PK_SQUARES_SUM_ONLY none (out is
 * ignored). The sum is set on every rank. Task = chunk number (PK_SQUARES_CHUNK
 * values each). */
enum { PK_SQUARES_CHUNK = 1 << 16, PK_SQUARES_SUM_ONLY = -1 };
#define PK_SQUARES_MAX_ABS INT64_C(3037000499)

int pk_squares(pk_ctx *ctx, int64_t first, int64_t count, int where, int64_t *out, pk_i128 *sum);
int pk_squares_local_range(pk_ctx *ctx, int64_t count, int64_t *begin, int64_t *end);
/* Closed form of the sum of x^2 over the range, for validation. */
int pk_squares_expected(int64_t first, int64_t count, pk_i128 *sum);

/* Decimal text of a 128-bit integer; returns the length. buf needs 41 bytes. */
size_t pk_i128_to_string(pk_i128 v, char *buf, size_t len);
int pk_i128_eq(pk_i128 a, pk_i128 b);

/* ---- factorial --------------------------------------------------------------
 * pk_factorial: result = n! exactly, on rank 0 (other ranks: 0). result must be
 * initialized. Task = chunk number of the product's leaves.
 * pk_factorial_each: results[k - a] = k! for k in [a, b] as unequal tasks under a
 * dynamic schedule (task = k - a). results holds b - a + 1 initialized mpz_t on
 * rank 0 (NULL elsewhere allowed).
 * pk_factorial_each_u64: the same in 64-bit: PK_EOVERFLOW at the first k > 20,
 * message "k! does not fit in 64 bits". */
int pk_factorial(pk_ctx *ctx, uint64_t n, mpz_t result);
int pk_factorial_each(pk_ctx *ctx, uint64_t a, uint64_t b, mpz_t *results);
int pk_factorial_each_u64(pk_ctx *ctx, uint64_t a, uint64_t b, uint64_t *results);

/* Number of decimal digits of |x| (1 for 0), exact; lead gets the first nlead-1
 * digits (or all) as text. */
int pk_mpz_digits(const mpz_t x, uint64_t *digits, char *lead, size_t nlead);

/* The pk_reducer for mpz_t products (type mpz_t, combine = multiply). */
extern const pk_reducer pk_mpz_product;

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

/* ---- producer/consumer ------------------------------------------------------
 * P producers and C consumers move `items` items through a bounded channel of
 * `capacity`. Producer p makes the items p, p + P, p + 2P, ... below `items`
 * (item i has the value i + 1). Every item is consumed exactly once; the result
 * holds counts, sums and XORs of both sides, which the caller compares.
 * Task = the ordinal of the item within its worker (the I-th item that producer or
 * consumer handles). */
enum pk_prodcons_event { PK_PC_ADDED = 0, PK_PC_REMOVED = 1 };

/* Limits checked up front (PK_EINVAL): producers + consumers, and opts.batch. */
enum { PK_PRODCONS_MAX_WORKERS = 1024, PK_PRODCONS_MAX_BATCH = 1 << 16 };

/* Called for each item with the channel locked, so the listing is exact: contents
 * holds depth items (oldest first). For the tutorial-style trace; slows the run. */
typedef void (*pk_prodcons_trace_fn)(void *arg, int event, int64_t value, const int64_t *contents,
                                     size_t depth);

typedef struct pk_prodcons_opts {
    int producers;        /* >= 1 */
    int consumers;        /* >= 1 */
    size_t capacity;      /* >= 1 */
    int64_t items;        /* >= 0 */
    double produce_delay; /* seconds to sleep before each put */
    double consume_delay; /* seconds to sleep after each get */
    size_t batch;         /* items moved per channel operation (0 or 1: one at a time) */
    pk_prodcons_trace_fn trace;
    void *trace_arg;
} pk_prodcons_opts;

typedef struct pk_prodcons_result {
    int64_t produced, consumed;
    uint64_t sum_produced, sum_consumed;
    uint64_t xor_produced, xor_consumed;
    size_t max_depth;
} pk_prodcons_result;

int pk_prodcons(pk_ctx *ctx, const pk_prodcons_opts *opts, pk_prodcons_result *result);

#ifdef __cplusplus
}
#endif

#endif
