/* Private to the factorial kernel (factorial.c, factorial_plan.c): the leaves of
 * n! as packed limbs grouped by the bits of the prime exponents, and the product
 * helpers both files use. Not installed. */
#ifndef PARKIT_FACTORIAL_PLAN_H
#define PARKIT_FACTORIAL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <gmp.h>

/* n! = 2^(n - popcount n) * prod over odd primes p <= n of p^e(p), with e(p) from
 * Legendre's formula. Writing e(p) in binary, n! = 2^(...) * prod_j P_j^(2^j),
 * where P_j is the product of the primes whose exponent has bit j set; so n! comes
 * out of the P_j by squarings (Horner: R = P_top, then R = R^2 * P_j downwards),
 * which is how it beats multiplying 1..n together. Segment j holds the primes of
 * P_j packed several to an unsigned long; segments are cut into chunks of
 * chunk_limbs limbs (the leaves of the product trees), numbered over all segments
 * from segment 0 up. The chunking depends on n only, never on the pool. */
enum { PK__FACT_MAX_SEG = 64 };

typedef struct pk__fact_plan {
    uint64_t n;
    int nseg;             /* segments 0..nseg-1 (bits of the largest exponent) */
    unsigned long *limbs; /* every segment's packed primes, back to back */
    size_t nlimbs;
    size_t seg_limb[PK__FACT_MAX_SEG + 1];   /* segment j: limbs [seg_limb[j], seg_limb[j+1]) */
    int64_t seg_chunk[PK__FACT_MAX_SEG + 1]; /* segment j: chunks [seg_chunk[j], seg_chunk[j+1]) */
    int64_t nchunks;
    size_t chunk_limbs;
} pk__fact_plan;

/* Builds the plan of n! for 3 <= n <= 2^32 - 1: PK_ENOMEM or 0. */
int pk__fact_plan_build(pk__fact_plan *plan, uint64_t n);
void pk__fact_plan_free(pk__fact_plan *plan);

/* The limbs [*begin, *end) of chunk c. */
void pk__fact_plan_chunk(const pk__fact_plan *plan, int64_t c, size_t *begin, size_t *end);

/* r = limbs[0] * ... * limbs[n-1] by binary splitting, so the big products are
 * balanced and reach GMP's fast multiplication (1 for n = 0). */
void pk__prod_limbs(mpz_t r, const unsigned long *limbs, size_t n);

/* The power of two in n!: n - popcount(n). */
uint64_t pk__fact_twos(uint64_t n);

/* (factorial.c) The chain on rank 0: r = prod_j seg[j]^(2^j) * 2^twos, the low
 * m segments folded first (m from 1, plain Horner, to nseg - 1; 0: the cost
 * model's choice, pk__fact_fold_bits). seg[] is spent. ctx NULL: the calling
 * thread alone. Returns 0 or the context's interrupt code. */
struct pk_ctx;
int pk__fact_chain(struct pk_ctx *ctx, mpz_t r, mpz_t *seg, int nseg, uint64_t twos, int m);

/* The bits the chain folds for these segment products on `threads` threads. */
int pk__fact_fold_bits(mpz_t *seg, int nseg, int threads);

#endif
