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
#include <flint/thread_pool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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

#if PK_HAVE_FLINT
/* pk__mul_tasks' own pool (FLINT's global one is sized per threaded FFT, and
 * making a thread each time cost 44 us): created at the first call with more
 * than one thread, grown to the most threads asked for, its workers asleep
 * between calls. */
static pthread_mutex_t tasks_lock = PTHREAD_MUTEX_INITIALIZER;
static thread_pool_t tasks_pool;
static slong tasks_workers = -1;

typedef struct pool_run {
    pk_task_fn fn;
    void *arg;
    int64_t ntasks;
    atomic_llong next;
    atomic_int rc;
} pool_run;

static void pool_worker(void *p) {
    pool_run *r = p;
    long long t;
    while ((t = atomic_fetch_add(&r->next, 1)) < r->ntasks) {
        int rc = r->fn(r->arg, (int64_t)t, NULL, NULL);
        int none = 0;
        if (rc != 0)
            (void)atomic_compare_exchange_strong(&r->rc, &none, rc);
    }
}
#endif

int pk__mul_tasks(int threads, int64_t ntasks, pk_task_fn fn, void *arg) {
#if PK_HAVE_FLINT
    pool_run r = {.fn = fn, .arg = arg, .ntasks = ntasks};
    atomic_init(&r.next, 0);
    atomic_init(&r.rc, 0);
    if (threads > ntasks)
        threads = (int)ntasks;
    thread_pool_handle *h = NULL;
    if (threads > 1 && (h = malloc((size_t)(threads - 1) * sizeof *h)) == NULL)
        threads = 1; /* the tasks still run, on this thread */
    /* One call at a time has the pool; another (a task's own, or another
     * thread's) runs its tasks on its calling thread. */
    if (threads <= 1 || pthread_mutex_trylock(&tasks_lock) != 0) {
        pool_worker(&r);
        free(h);
        return atomic_load(&r.rc);
    }
    if (tasks_workers < 0) {
        thread_pool_init(tasks_pool, threads - 1);
        tasks_workers = threads - 1;
    } else if (tasks_workers < threads - 1 && thread_pool_set_size(tasks_pool, threads - 1)) {
        tasks_workers = threads - 1;
    }
    slong got = thread_pool_request(tasks_pool, h, threads - 1);
    for (slong i = 0; i < got; i++)
        thread_pool_wake(tasks_pool, h[i], 0, pool_worker, &r);
    pool_worker(&r);
    for (slong i = 0; i < got; i++) {
        thread_pool_wait(tasks_pool, h[i]);
        thread_pool_give_back(tasks_pool, h[i]);
    }
    pthread_mutex_unlock(&tasks_lock);
    free(h);
    return atomic_load(&r.rc);
#else
    (void)threads;
    (void)ntasks;
    (void)fn;
    (void)arg;
    return PK_ENOTSUP;
#endif
}
