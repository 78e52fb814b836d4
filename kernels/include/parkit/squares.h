/* The squares kernel: x^2 over a range, stored and summed exactly.
 * Written once on the public pool API (parkit/pool.h); runs on every backend.
 * Never prints, exits or times itself. Errors as in parkit/error.h, with the
 * origin in pk_ctx_error(). Scalar results are identical on every rank after a
 * call; bulk results land on rank 0 unless the call says otherwise. */
#ifndef PARKIT_SQUARES_H
#define PARKIT_SQUARES_H

#include <stddef.h>
#include <stdint.h>

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

#ifdef __cplusplus
}
#endif

#endif
