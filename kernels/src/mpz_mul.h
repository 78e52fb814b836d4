/* Big products for the factorial: when parkit is built with FLINT, its FFT
 * (threaded, and truncated to the product's length) multiplies the biggest
 * operands, faster than GMP's mpz_mul on one thread for unbalanced products and
 * on two or more threads for all of them. Operands and results stay mpz_t. */
#ifndef PK_MPZ_MUL_H
#define PK_MPZ_MUL_H

#include <stddef.h>
#include <stdint.h>

#include "parkit/factorial.h"
#include "parkit/pool.h"

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

/* Runs fn(arg, t, NULL, NULL) for every t in [0, ntasks) on up to `threads`
 * threads (the calling thread and workers of a FLINT thread pool of parkit's
 * own), each task claimed once; while another call has the pool, on the
 * calling thread alone. FLINT's idle workers sleep, where OpenMP's spin for milliseconds after
 * a region: spinning beside the threaded FFT that follows took a core from it
 * (the top square of 10^6! in 20 ms instead of 15). A task must not call
 * pk__mul_fft with more than one thread. Returns the first non-zero code a task
 * returned (the others still run), 0, or PK_ENOTSUP when built without FLINT
 * (nothing run). */
int pk__mul_tasks(int threads, int64_t ntasks, pk_task_fn fn, void *arg);

#endif
