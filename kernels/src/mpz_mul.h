/* Big products for the factorial: when parkit is built with FLINT, its FFT
 * (threaded, and truncated to the product's length) multiplies the biggest
 * operands, faster than GMP's mpz_mul on one thread for unbalanced products and
 * on two or more threads for all of them. Operands and results stay mpz_t. */
#ifndef PK_MPZ_MUL_H
#define PK_MPZ_MUL_H

#include <stddef.h>

#include "parkit/factorial.h"

/* 1 when built with FLINT's FFT, else 0. */
int pk__mul_fft_available(void);

/* 1 when pk__mul_fft is expected to beat mpz_mul on these sizes (limbs; big >=
 * small) with `threads` threads for the product, square meaning a * a. Always 0
 * without FLINT. */
int pk__mul_fft_pays(size_t big, size_t small, int square, int threads);

/* r = a * b by FLINT's FFT on up to `threads` threads (1: the calling thread
 * alone), whatever the sizes; r may be a or b, and a * a is taken as a square.
 * Threaded calls from several threads take turns. Returns 0, or PK_ENOTSUP when
 * built without FLINT (r untouched). */
int pk__mul_fft(mpz_t r, const mpz_t a, const mpz_t b, int threads);

#endif
