/* Big products by FLINT's FFT (flint_mpn_mul_fft_main) on mpz_t operands. GMP's
 * FFT transforms both operands at the full length of the product, so a product
 * 20 times longer than its small operand costs as much as a square of half the
 * result; FLINT's transform is truncated, and it runs on a pool of threads, so
 * one huge product of the factorial's chain no longer runs on one core. The
 * limbs are GMP's on both sides: nothing is converted. */
#include "mpz_mul.h"

#include "parkit/parkit.h"

#if PK_HAVE_FLINT
#include <flint/fft.h>
#include <flint/flint.h>
#include <pthread.h>
#endif

/* Measured against mpz_mul (process CPU time, medians): on one thread FLINT
 * wins 5-15% on balanced products from 16k limbs and 10-30% on unbalanced ones
 * whose smaller operand has 64k limbs or more (GMP transforms it at the full
 * length), ties on unbalanced ones with a smaller operand of 8k-40k limbs, and
 * loses 0-10% on squares, which GMP does with one transform less. On two
 * threads it wins from about 64k limbs, squares included. */
enum { FFT_MIN_SMALL = 16384, FFT_UNBALANCED_MIN = 32768, FFT_THREADED_MIN_BIG = 65536 };

int pk__mul_fft_available(void) {
    return PK_HAVE_FLINT;
}

int pk__mul_fft_pays(size_t big, size_t small, int square, int threads) {
    if (!PK_HAVE_FLINT || small < FFT_MIN_SMALL)
        return 0;
    if (threads > 1 && big >= FFT_THREADED_MIN_BIG)
        return 1;
    return !square && (big <= 4 * small || small >= FFT_UNBALANCED_MIN);
}

#if PK_HAVE_FLINT
/* FLINT's thread count is one process-wide pool, resized by
 * flint_set_num_threads (which aborts when the pool is busy): threaded products
 * take turns under this lock and leave the count as they found it. A product on
 * one thread only lowers this thread's own worker count, without the lock. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void fft_run(mp_ptr rp, mp_srcptr big, mp_size_t nbig, mp_srcptr small, mp_size_t nsmall,
                    int threads) {
    if (threads <= 1) {
        int workers = flint_set_num_workers(0);
        flint_mpn_mul_fft_main(rp, big, nbig, small, nsmall);
        flint_reset_num_workers(workers);
        return;
    }
    pthread_mutex_lock(&pool_lock);
    int before = flint_get_num_threads();
    flint_set_num_threads(threads);
    flint_mpn_mul_fft_main(rp, big, nbig, small, nsmall);
    flint_set_num_threads(before);
    pthread_mutex_unlock(&pool_lock);
}
#endif

int pk__mul_fft(mpz_t r, const mpz_t a, const mpz_t b, int threads) {
#if PK_HAVE_FLINT
    mpz_srcptr big = mpz_size(a) >= mpz_size(b) ? a : b;
    mpz_srcptr small = big == a ? b : a;
    mp_size_t nbig = (mp_size_t)mpz_size(big), nsmall = (mp_size_t)mpz_size(small);
    if (nsmall == 0) {
        mpz_set_ui(r, 0);
        return 0;
    }
    mpz_t prod; /* r may be an operand: the product goes elsewhere first */
    mpz_init(prod);
    mp_ptr rp = mpz_limbs_write(prod, nbig + nsmall);
    mp_srcptr bp = mpz_limbs_read(big);
    /* The same pointer twice is FLINT's cue for a square (one transform). */
    mp_srcptr sp = a == b ? bp : mpz_limbs_read(small);
    fft_run(rp, bp, nbig, sp, nsmall, threads);
    mp_size_t n = nbig + nsmall; /* mpz_limbs_finish drops a zero top limb */
    mpz_limbs_finish(prod, mpz_sgn(a) == mpz_sgn(b) ? n : -n);
    mpz_swap(r, prod);
    mpz_clear(prod);
    return 0;
#else
    (void)r;
    (void)a;
    (void)b;
    (void)threads;
    return PK_ENOTSUP;
#endif
}
