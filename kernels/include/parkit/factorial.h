/* The factorial kernels: one exact n! or every k! of a range, on GMP integers.
 * The only parkit header that includes <gmp.h>.
 * Written once on the public pool API (parkit/pool.h); runs on every backend.
 * Never prints, exits or times itself. Errors as in parkit/error.h, with the
 * origin in pk_ctx_error(). Scalar results are identical on every rank after a
 * call; bulk results land on rank 0 unless the call says otherwise. */
#ifndef PARKIT_FACTORIAL_H
#define PARKIT_FACTORIAL_H

#include <stddef.h>
#include <stdint.h>

#include <gmp.h>

#include "parkit/context.h"
#include "parkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif
