/* The factorial kernels. pk_factorial builds n! from the prime factorization
 * (factorial_plan.h): the leaf chunks of packed primes are multiplied as pool
 * tasks, each exponent bit's chunks are combined in a balanced tree, and the
 * Horner chain of squarings assembles the result, with the big unbalanced
 * products split over the threads. pk_factorial_each and pk_factorial_each_u64
 * compute k! for every k in a range as unequal tasks under a dynamic schedule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "factorial_plan.h"
#include "mpz_mul.h"
#include "parkit/factorial.h"
#include "parkit/parkit.h"

/* GMP's size field is an int of limbs: n! for n up to 2^32 - 1 (1.3e11 bits) fits
 * under its 2^37-bit limit, with room for the intermediate products. */
#define FACT_MAX_N UINT64_C(4294967295)
enum { U64_MAX_K = 20 }; /* 20! < 2^64 < 21! */

/* Splitting a product over threads pays when the split operand has at least
 * this many limbs and the other is not tiny (a product by a few limbs is linear
 * and memory-bound): below, the product takes less than about a millisecond,
 * which waking the other threads can cost on a loaded machine. */
enum { SPLIT_MIN_BIG = 16384, SPLIT_MIN_SMALL = 256 };

/* Below this many leaf limbs the segments' trees take well under a millisecond:
 * rank 0 does them alone rather than wake its threads. */
enum { TREES_PARALLEL_MIN = 8192 };

static uint64_t fact_u64(uint64_t k) {
    uint64_t f = 1;
    for (uint64_t i = 2; i <= k; i++)
        f *= i;
    return f;
}

/* ---- tasks on this process's threads only ---- */

/* Runs fn for tasks [0, ntasks) on the threads of this process (the operands of
 * the final products live on rank 0 alone), with the threads the other ranks of
 * its node lend it while they wait (PK_SOLO): whenever rank 0 works alone here,
 * the other ranks wait in pk_agree_solo. With FLINT they run on as many
 * threads of a FLINT thread pool (pk__mul_tasks): its idle workers sleep,
 * where OpenMP's spin for milliseconds beside the threaded squares that
 * follow. Faults are not injected here: task numbers in factorial errors name
 * leaf chunks, and these are not leaves. */
/* The threads for a product rank 0 does alone (see local_tasks). */
static int ctx_threads(pk_ctx *ctx) {
    return ctx == NULL ? 1 : pk_ctx_solo_threads(ctx);
}

static int local_tasks(pk_ctx *ctx, int64_t ntasks, pk_task_fn fn, void *arg) {
    if (pk__mul_fft_available())
        return pk__mul_tasks(ctx_threads(ctx), ntasks, fn, arg);
    pk_opts o = {.schedule = PK_DYNAMIC,
                 .chunk = 1,
                 .scope = PK_SCOPE_PROCESS,
                 .flags = PK_NO_FAULTS | PK_NO_PROGRESS /* the chain reports its own */ | PK_SOLO};
    return pk_tasks(ctx, ntasks, &o, fn, arg, NULL, NULL);
}

/* ---- products split over threads ---- */

/* r = a * b whole: by FLINT's FFT on `threads` threads where that beats GMP
 * (mpz_mul.h), else by mpz_mul on the calling thread. r may be a or b. */
static void mul_whole(mpz_t r, const mpz_t a, const mpz_t b, int threads) {
    size_t na = mpz_size(a), nb = mpz_size(b);
    if (pk__mul_fft_pays(na > nb ? na : nb, na > nb ? nb : na, a == b, threads))
        (void)pk__mul_fft(r, a, b, threads);
    else
        mpz_mul(r, a, b);
}

typedef struct split_mul {
    mpz_srcptr big, small;
    size_t piece; /* limbs of big per piece (the last takes the rest) */
    int64_t pieces;
    mp_bitcnt_t shift;
    mpz_t *prod;
} split_mul;

/* Where piece t of big starts, in limbs. */
static size_t piece_offset(const split_mul *s, int64_t t) {
    return (size_t)t * s->piece;
}

/* out = (piece t of big) * small, unshifted. The pieces are read-only views
 * into big's limbs, so nothing is copied in. */
static void piece_product(const split_mul *s, int64_t t, mpz_t out) {
    size_t off = piece_offset(s, t);
    size_t len = t + 1 == s->pieces ? mpz_size(s->big) - off : s->piece;
    mpz_t view;
    mpz_roinit_n(view, mpz_limbs_read(s->big) + off, (mp_size_t)len);
    mul_whole(out, view, s->small, 1);
}

/* prod[t] = (piece t of big) * small * 2^(its offset + shift). */
static int piece_task(void *arg, int64_t t, void *result, pk_worker *w) {
    (void)result;
    (void)w;
    const split_mul *s = arg;
    piece_product(s, t, s->prod[t]);
    mpz_mul_2exp(s->prod[t], s->prod[t],
                 (mp_bitcnt_t)piece_offset(s, t) * GMP_NUMB_BITS + s->shift);
    return 0;
}

/* How many pieces to cut the bigger operand into: one per thread, each no
 * shorter than the smaller operand (else the pieces cost more than the whole). */
static int64_t pieces_for(pk_ctx *ctx, size_t big, size_t small) {
    if (ctx == NULL || big < SPLIT_MIN_BIG || small < SPLIT_MIN_SMALL)
        return 1;
    int64_t k = pk_ctx_solo_threads(ctx);
    /* FLINT's transform lengths go by steps: a very unbalanced product measured
     * 10-30% faster cut in two halves than whole, so even one thread cuts it. */
    if (k < 2 && big >= 8 * small && pk__mul_fft_pays(big / 2, small, 0, 1))
        k = 2;
    int64_t fit = (int64_t)(big / small);
    return k < fit ? k : fit;
}

static int split_multiply(pk_ctx *ctx, mpz_t r, split_mul *s) {
    s->prod = malloc((size_t)s->pieces * sizeof *s->prod);
    if (s->prod == NULL)
        return pk_ctx_fail(ctx, PK_ENOMEM, "no memory for %lld partial products",
                           (long long)s->pieces);
    for (int64_t i = 0; i < s->pieces; i++)
        mpz_init(s->prod[i]);
    int rc = local_tasks(ctx, s->pieces, piece_task, s);
    if (rc == 0) {
        mpz_swap(r, s->prod[0]); /* r may be an operand: it is free only now */
        for (int64_t i = 1; i < s->pieces; i++)
            mpz_add(r, r, s->prod[i]);
    }
    for (int64_t i = 0; i < s->pieces; i++)
        mpz_clear(s->prod[i]);
    free(s->prod);
    return rc;
}

/* r = a * b * 2^shift; r may be a or b. ctx NULL: on the calling thread. An
 * unbalanced product is cut into one piece per thread, each multiplied whole
 * (FLINT's truncated transform loses nothing to the cut); a balanced one is
 * left to FLINT's threads when it is built in. */
static int mul_shift(pk_ctx *ctx, mpz_t r, const mpz_t a, const mpz_t b, mp_bitcnt_t shift) {
    int a_big = mpz_size(a) >= mpz_size(b);
    mpz_srcptr big = a_big ? a : b, small = a_big ? b : a;
    int64_t pieces = pieces_for(ctx, mpz_size(big), mpz_size(small));
    if (pieces <= 1) {
        mul_whole(r, a, b, ctx_threads(ctx));
        if (shift > 0)
            mpz_mul_2exp(r, r, shift);
        return 0;
    }
    split_mul s = {.big = big,
                   .small = small,
                   .piece = mpz_size(big) / (size_t)pieces,
                   .pieces = pieces,
                   .shift = shift};
    return split_multiply(ctx, r, &s);
}

/* Progress of the chain on rank 0: the work of a level grows with the size of
 * r, so the size reached over the final size is the fraction done. */
typedef struct chain_progress {
    pk_ctx *ctx;
    double total_bits;
} chain_progress;

static void progress_start(chain_progress *p, pk_ctx *ctx, mpz_t *seg, int nseg) {
    p->ctx = ctx;
    p->total_bits = 0;
    for (int j = 0; j < nseg; j++)
        p->total_bits += ldexp((double)mpz_sizeinbase(seg[j], 2), j);
}

static void progress_step(chain_progress *p, const mpz_t r) {
    if (p->ctx != NULL)
        pk_ctx_progress(p->ctx, (double)mpz_sizeinbase(r, 2) / p->total_bits);
}

/* The chain over the segment products: n! / 2^twos = prod_j P_j^(2^j). Plain
 * Horner (r = P[top], then r = r^2 * P[j] for j downwards) multiplies the
 * biggest r^2 by a small P_j once per low bit, and once the sizes are in the
 * FFT's range such an unbalanced product costs nearly as much as a square of
 * r. So the low m segments are folded first into Q = prod_{j<m} P_j^(2^j) (a
 * chain of its own, small), r goes down to bit m, is squared m times and
 * multiplied by Q once. On two or more threads the two chains run side by
 * side, r's going on with its squares as long as they are too small for a
 * threaded FFT. m comes from a cost model of the actual sizes (fold_cost):
 * 4 for 10^6!, 3 for 10^7! on two threads. Against plain Horner, alternating
 * runs, medians: 10^6! 0.104 -> 0.096 s on one thread, 0.075 -> 0.062 s on
 * two; 3 10^5! 0.020 -> 0.016 s and 10^7! 1.05 -> 0.95 s on two. */
enum { FOLD_MAX = 8, FOLD_MIN_LIMBS = 32768 };

/* Model of a product's cost in arbitrary units: n^1.46 (Toom) up to GMP's FFT
 * range, n log n (FFT) above, continuous; an unbalanced one (b > s) as b / s
 * products of s limbs; a square two thirds of a product. */
enum { MODEL_FFT = 5000 };

static double model_mul(double n) {
    if (n <= MODEL_FFT)
        return pow(n, 1.46);
    return pow(MODEL_FFT, 1.46) * (n / MODEL_FFT) * log2(n) / log2(MODEL_FFT);
}

static double model_unbalanced(double b, double s) {
    if (s < 1)
        return 0;
    return b >= s ? b / s * model_mul(s) : s / b * model_mul(b);
}

static double model_square(double n, int threads) {
    /* FLINT's threaded square measured about 1.3x one thread's at 10^5 limbs */
    size_t z = (size_t)n;
    return 0.67 * model_mul(n) / (pk__mul_fft_pays(z, z, 1, threads) ? 1.3 : 1.0);
}

/* The modelled time of folding m bits (1 <= m < nseg) with `threads` threads:
 * the two chains side by side (one after the other on one thread), then the
 * squares of r left and the product by Q, cut over the threads. */
static double fold_cost(const double *p, int nseg, int m, int threads) {
    double r = p[nseg - 1], q = p[m - 1], t0 = 0, t1 = 0, rest = 0;
    for (int j = nseg - 2; j >= m; j--) {
        t0 += model_square(r, 1) + model_unbalanced(2 * r, p[j]);
        r = 2 * r + p[j];
    }
    for (int j = m - 2; j >= 0; j--) {
        t1 += model_square(q, 1) + model_unbalanced(2 * q, p[j]);
        q = 2 * q + p[j];
    }
    int i = 0;
    for (; i < m && !pk__mul_fft_pays((size_t)r, (size_t)r, 1, threads); i++, r *= 2)
        t0 += model_square(r, 1);
    for (; i < m; i++, r *= 2)
        rest += model_square(r, threads);
    double pieces = threads > 1 && r >= SPLIT_MIN_BIG ? fmin(threads, r / fmax(q, 1)) : 1;
    rest += model_unbalanced(r, q) / fmax(pieces, 1);
    return (threads > 1 ? fmax(t0, t1) : t0 + t1) + rest;
}

/* The bits to fold: 1 (plain Horner) for a small result, else the modelled
 * best from 2 to FOLD_MAX. */
int pk__fact_fold_bits(mpz_t *seg, int nseg, int threads) {
    double p[PK__FACT_MAX_SEG], total = 0;
    for (int j = 0; j < nseg; j++) {
        p[j] = (double)mpz_sizeinbase(seg[j], 2) / GMP_NUMB_BITS; /* tiny tops: not a whole limb */
        total += ldexp(p[j], j);
    }
    int best = 1;
    if (total < FOLD_MIN_LIMBS)
        return best;
    double best_cost = 0;
    for (int m = 2; m <= FOLD_MAX && m < nseg; m++) {
        double c = fold_cost(p, nseg, m, threads);
        if (best == 1 || c < best_cost) {
            best = m;
            best_cost = c;
        }
    }
    return best;
}

typedef struct fold_chains {
    pk_ctx *ctx; /* for the products inside a chain; NULL: the task's thread alone */
    mpz_t *seg;
    int nseg, m;
    int pool_threads; /* threads of the squares that follow the chains */
    int squared;      /* squarings of r done in task 0 */
    mpz_ptr r;
} fold_chains;

/* Task 0: r = the chain from the top segment down to segment m, then squared
 * while a square is not worth pool_threads (at most m times). Task 1: seg[0] =
 * Q, the chain of the segments below m (seg[1 .. m) are spent). */
static int fold_task(void *arg, int64_t t, void *result, pk_worker *w) {
    (void)result;
    (void)w;
    fold_chains *c = arg;
    int threads = ctx_threads(c->ctx);
    if (t == 0) {
        mpz_swap(c->r, c->seg[c->nseg - 1]);
        for (int j = c->nseg - 2; j >= c->m; j--) {
            mul_whole(c->r, c->r, c->r, threads);
            int rc = mul_shift(c->ctx, c->r, c->r, c->seg[j], 0);
            if (rc != 0)
                return rc;
        }
        while (c->squared < c->m &&
               !pk__mul_fft_pays(mpz_size(c->r), mpz_size(c->r), 1, c->pool_threads)) {
            mul_whole(c->r, c->r, c->r, threads);
            c->squared++;
        }
        return 0;
    }
    mpz_ptr q = c->seg[c->m - 1];
    for (int j = c->m - 2; j >= 0; j--) {
        mul_whole(q, q, q, threads);
        int rc = mul_shift(c->ctx, q, q, c->seg[j], 0);
        if (rc != 0)
            return rc;
    }
    mpz_swap(c->seg[0], q);
    return 0;
}

int pk__fact_chain(pk_ctx *ctx, mpz_t r, mpz_t *seg, int nseg, uint64_t twos, int m) {
    chain_progress prog;
    progress_start(&prog, ctx, seg, nseg);
    if (nseg == 1) {
        mpz_swap(r, seg[0]);
        mpz_mul_2exp(r, r, (mp_bitcnt_t)twos);
        return 0;
    }
    int threads = ctx_threads(ctx);
    if (m >= nseg)
        m = nseg - 1;
    fold_chains c = {.ctx = ctx,
                     .seg = seg,
                     .nseg = nseg,
                     .m = m > 0 ? m : pk__fact_fold_bits(seg, nseg, threads),
                     .pool_threads = threads,
                     .r = r};
    int rc = pk_ctx_interrupted(ctx);
    if (rc == 0 && threads > 1 && c.m > 1) {
        c.ctx = NULL; /* one thread per chain */
        rc = local_tasks(ctx, 2, fold_task, &c);
    } else if (rc == 0) {
        rc = fold_task(&c, 1, NULL, NULL);
        if (rc == 0)
            rc = fold_task(&c, 0, NULL, NULL);
    }
    for (; rc == 0 && c.squared < c.m; c.squared++) {
        progress_step(&prog, r);
        if ((rc = pk_ctx_interrupted(ctx)) == 0)
            mul_whole(r, r, r, threads);
    }
    if (rc == 0)
        rc = mul_shift(ctx, r, r, seg[0], (mp_bitcnt_t)twos);
    if (rc == 0)
        progress_step(&prog, r);
    return rc;
}

/* ---- the chain's unbalanced products over every rank ---- */

/* Under MPI the ranks that share rank 0's CPUs lend it their threads while they
 * wait (pk_ctx_solo_threads): when that covers every worker of the pool, rank 0
 * runs the chain alone as on threads, and nothing is sent. Otherwise (ranks on
 * other nodes, or bound to CPUs of their own) the other ranks would wait
 * through the whole chain: instead the big unbalanced products r^2 * P_j are
 * cut into pieces for every worker of every rank. Rank 0 broadcasts both
 * operands, each worker multiplies the pieces it claims, and the pieces come
 * back to rank 0 to be added. A product worth it takes milliseconds at least,
 * its operands' transfer tens of microseconds. The squares stay on rank 0 (on
 * its solo threads): a square cut into independent products costs as much per
 * worker as the whole (the FFT is near linear). */
enum { RANKS_MIN_BIG = 32768 };

/* x on every rank as on rank 0 (x is rank 0's operand or another rank's
 * scratch). */
static int bcast_mpz(pk_ctx *ctx, mpz_t x) {
    uint64_t n = pk_ctx_rank(ctx) == 0 ? (uint64_t)mpz_size(x) : 0;
    int rc = pk_bcast(ctx, &n, sizeof n);
    if (rc != 0 || n == 0) {
        if (rc == 0)
            mpz_set_ui(x, 0);
        return rc;
    }
    int root = pk_ctx_rank(ctx) == 0;
    mp_limb_t *p = root ? mpz_limbs_modify(x, (mp_size_t)n) : mpz_limbs_write(x, (mp_size_t)n);
    rc = pk_bcast(ctx, p, (size_t)n * sizeof *p);
    if (!root)
        mpz_limbs_finish(x, rc == 0 ? (mp_size_t)n : 0);
    return rc;
}

static int rank_piece_task(void *arg, int64_t t, void *result, pk_worker *w) {
    (void)w;
    piece_product(arg, t, result);
    return 0;
}

/* On rank 0: r = sum of the pieces, each at its offset, times 2^shift. */
static void add_pieces(mpz_t r, const split_mul *s, mpz_t *vals) {
    mpz_t t;
    mpz_init(t);
    mpz_set_ui(r, 0);
    for (int64_t i = 0; i < s->pieces; i++) {
        mpz_mul_2exp(t, vals[i], (mp_bitcnt_t)piece_offset(s, i) * GMP_NUMB_BITS);
        mpz_add(r, r, t);
    }
    mpz_mul_2exp(r, r, s->shift);
    mpz_clear(t);
}

/* Collective: r = r * small * 2^shift with rank 0's r and small, the pieces
 * on every worker. big and small are scratch on the other ranks. */
static int ranks_multiply(pk_ctx *ctx, mpz_t big, mpz_t small, mp_bitcnt_t shift) {
    int rc = bcast_mpz(ctx, big);
    if (rc == 0)
        rc = bcast_mpz(ctx, small);
    if (rc != 0)
        return rc;
    int64_t workers = (int64_t)pk_ctx_size(ctx) * pk_ctx_threads(ctx);
    size_t nb = mpz_size(big), ns = mpz_size(small);
    int64_t fit = ns == 0 ? 1 : (int64_t)(nb / ns);
    split_mul s = {.big = big, .small = small, .pieces = workers < fit ? workers : fit};
    if (s.pieces < 1)
        s.pieces = 1;
    s.piece = nb / (size_t)s.pieces;
    s.shift = shift;
    const pk_type *type = &pk_mpz_product.type;
    void *vals = NULL;
    int local_rc = 0;
    if (pk_ctx_rank(ctx) == 0 && pk_values_new(&vals, type, s.pieces) != 0)
        local_rc =
            pk_ctx_fail(ctx, PK_ENOMEM, "no memory for %lld partial products", (long long)s.pieces);
    rc = pk_agree(ctx, local_rc);
    if (rc == 0) {
        pk_opts o = {.schedule = PK_DYNAMIC, .chunk = 1, .flags = PK_NO_FAULTS | PK_NO_PROGRESS};
        rc = pk_tasks(ctx, s.pieces, &o, rank_piece_task, &s, type, vals);
    }
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        add_pieces(big, &s, vals);
    pk_values_free(type, s.pieces, vals);
    return rc;
}

/* Limbs of P_j as the plan predicts them (its packed limbs), the same on every
 * rank: which products go to the ranks must be decided alike everywhere. */
static size_t seg_estimate(const pk__fact_plan *plan, int j) {
    return plan->seg_limb[j + 1] - plan->seg_limb[j];
}

/* Whether rank 0 runs the chain alone (pk__fact_chain), the threads its node
 * lends it covering the whole pool, or with every rank (horner_ranks): the
 * same answer on every rank. */
static int chain_alone(pk_ctx *ctx) {
    return pk_ctx_size(ctx) == 1 ||
           pk_ctx_solo_threads(ctx) >= pk_ctx_size(ctx) * pk_ctx_threads(ctx);
}

/* Plain Horner (see pk__fact_chain) with every rank taking part (collective). rc is rank
 * 0's status so far; returns the agreed code of a failed collective step, else
 * rank 0's own. */
static int horner_ranks(pk_ctx *ctx, mpz_t r, mpz_t *seg, const pk__fact_plan *plan, uint64_t twos,
                        int rc) {
    int root = pk_ctx_rank(ctx) == 0, nseg = plan->nseg;
    mpz_t big, small; /* the other ranks' copies of the operands */
    mpz_inits(big, small, NULL);
    chain_progress prog = {0};
    if (root && rc == 0) {
        progress_start(&prog, ctx, seg, nseg);
        mpz_swap(r, seg[nseg - 1]);
    }
    size_t est = seg_estimate(plan, nseg - 1);
    for (int j = nseg - 2; j >= 0; j--) {
        mp_bitcnt_t shift = j == 0 ? (mp_bitcnt_t)twos : 0;
        int spread = 2 * est >= RANKS_MIN_BIG && seg_estimate(plan, j) >= SPLIT_MIN_SMALL;
        est = 2 * est + seg_estimate(plan, j);
        if (root && rc == 0) /* a signal: the next agreement stops every rank */
            rc = pk_ctx_interrupted(ctx);
        if (root && rc == 0)
            mul_whole(r, r, r, ctx_threads(ctx));
        if (spread) {
            int agreed = pk_agree_solo(ctx, rc); /* the others nap while rank 0 squares */
            if (agreed == 0)
                agreed = root ? ranks_multiply(ctx, r, seg[j], shift)
                              : ranks_multiply(ctx, big, small, shift);
            if (agreed != 0) {
                rc = agreed;
                break;
            }
        } else if (root && rc == 0) {
            rc = mul_shift(ctx, r, r, seg[j], shift);
        }
        if (root && rc == 0)
            progress_step(&prog, r);
    }
    if (root && rc == 0 && nseg == 1)
        mpz_mul_2exp(r, r, (mp_bitcnt_t)twos);
    mpz_clears(big, small, NULL);
    return rc;
}

static mpz_t *segs_new(int nseg) {
    mpz_t *seg = malloc((size_t)(nseg > 0 ? nseg : 1) * sizeof *seg);
    if (seg != NULL)
        for (int j = 0; j < nseg; j++)
            mpz_init_set_ui(seg[j], 1);
    return seg;
}

static void segs_free(mpz_t *seg, int nseg) {
    if (seg == NULL)
        return;
    for (int j = 0; j < nseg; j++)
        mpz_clear(seg[j]);
    free(seg);
}

/* ---- one factorial on the calling thread (the tasks of pk_factorial_each) ---- */

static int fact_serial(mpz_t r, uint64_t k) {
    if (k <= U64_MAX_K) {
        mpz_set_ui(r, (unsigned long)fact_u64(k));
        return 0;
    }
    pk__fact_plan plan;
    if (pk__fact_plan_build(&plan, k) != 0)
        return PK_ENOMEM;
    mpz_t *seg = segs_new(plan.nseg);
    int rc = seg == NULL ? PK_ENOMEM : 0;
    for (int j = 0; rc == 0 && j < plan.nseg; j++)
        pk__prod_limbs(seg[j], plan.limbs + plan.seg_limb[j],
                       plan.seg_limb[j + 1] - plan.seg_limb[j]);
    if (rc == 0)
        rc = pk__fact_chain(NULL, r, seg, plan.nseg, pk__fact_twos(k), 0);
    segs_free(seg, plan.nseg);
    pk__fact_plan_free(&plan);
    return rc;
}

/* ---- pk_factorial ---- */

static int leaf_task(void *arg, int64_t c, void *result, pk_worker *w) {
    const pk__fact_plan *plan = arg;
    size_t b, e;
    pk__fact_plan_chunk(plan, c, &b, &e);
    /* The product of e - b limbs fits in as many: GMP allocates them (and
     * cannot report a failure), so they are announced to the fault hook. */
    int rc = pk_worker_reserve(w, (e - b) * sizeof(mp_limb_t));
    if (rc != 0)
        return rc;
    mpz_t local; /* not into result: the results of neighbouring leaves share cache lines */
    mpz_init(local);
    pk__prod_limbs(local, plan->limbs + b, e - b);
    mpz_swap(result, local);
    mpz_clear(local);
    return 0;
}

/* The chunk products of one segment, v[0..count), multiplied in a fixed
 * balanced tree (level s = 1, 2, 4, ...: v[i] *= v[i + s]); the product ends in
 * v[0] (1 when count is 0). */
static void tree_product(mpz_t *v, int64_t count, mpz_t out) {
    for (int64_t s = 1; s < count; s *= 2)
        for (int64_t i = 0; i + s < count; i += 2 * s)
            mul_whole(v[i], v[i], v[i + s], 1);
    if (count > 0)
        mpz_swap(out, v[0]);
}

typedef struct segs_arg {
    const pk__fact_plan *plan;
    mpz_t *vals; /* the chunk products */
    mpz_t *seg;  /* the segment products */
} segs_arg;

/* Task j: segment j's tree. One task per segment, claimed in order, so the
 * biggest trees (the low exponent bits) start first; the whole step is one
 * parallel region, not one per tree level. */
static int segment_task(void *arg, int64_t j, void *result, pk_worker *w) {
    (void)result;
    (void)w;
    const segs_arg *s = arg;
    int64_t first = s->plan->seg_chunk[j];
    tree_product(s->vals + first, s->plan->seg_chunk[j + 1] - first, s->seg[j]);
    return 0;
}

/* The leaf chunks as pool tasks (results on rank 0), then the segments' trees
 * on rank 0's threads. Returns the pool's agreed code; *local_rc is rank 0's. */
static int segment_products(pk_ctx *ctx, const pk__fact_plan *plan, mpz_t *seg, int *local_rc) {
    const pk_type *type = &pk_mpz_product.type;
    void *vals = NULL;
    *local_rc = 0;
    if (pk_ctx_rank(ctx) == 0 && pk_values_new(&vals, type, plan->nchunks) != 0)
        *local_rc = pk_ctx_fail(ctx, PK_ENOMEM, "no memory for %lld leaf products",
                                (long long)plan->nchunks);
    int rc = pk_agree(ctx, *local_rc);
    if (rc == 0) {
        pk_opts o = {.schedule = PK_DYNAMIC, .chunk = 1};
        rc = pk_tasks(ctx, plan->nchunks, &o, leaf_task, (void *)plan, type, vals);
    }
    if (rc == 0 && pk_ctx_rank(ctx) == 0) {
        segs_arg s = {.plan = plan, .vals = vals, .seg = seg};
        if (plan->nlimbs >= TREES_PARALLEL_MIN)
            *local_rc = local_tasks(ctx, plan->nseg, segment_task, &s);
        else
            for (int j = 0; j < plan->nseg; j++)
                segment_task(&s, j, NULL, NULL);
    }
    pk_values_free(type, plan->nchunks, vals);
    return rc;
}

static int factorial_pool(pk_ctx *ctx, uint64_t n, mpz_t result) {
    pk__fact_plan plan;
    int rc = pk__fact_plan_build(&plan, n);
    if (rc != 0)
        rc = pk_ctx_fail(ctx, rc, "no memory for the prime factorization of %llu!",
                         (unsigned long long)n);
    rc = pk_agree(ctx, rc);
    if (rc != 0) {
        pk__fact_plan_free(&plan); /* the ranks whose plan was built */
        return rc;
    }
    int local_rc = 0;
    mpz_t *seg = pk_ctx_rank(ctx) == 0 ? segs_new(plan.nseg) : NULL;
    if (pk_ctx_rank(ctx) == 0 && seg == NULL)
        local_rc = pk_ctx_fail(ctx, PK_ENOMEM, "no memory for %d products", plan.nseg);
    rc = pk_agree(ctx, local_rc);
    if (rc == 0)
        rc = segment_products(ctx, &plan, seg, &local_rc);
    if (rc == 0) {
        if (!chain_alone(ctx))
            local_rc = horner_ranks(ctx, result, seg, &plan, pk__fact_twos(n), local_rc);
        else if (local_rc == 0 && pk_ctx_rank(ctx) == 0)
            local_rc = pk__fact_chain(ctx, result, seg, plan.nseg, pk__fact_twos(n), 0);
        rc = pk_agree_solo(ctx, local_rc); /* the others nap while rank 0 finishes */
    }
    segs_free(seg, plan.nseg);
    pk__fact_plan_free(&plan);
    return rc;
}

static int check_n(pk_ctx *ctx, uint64_t n) {
    if (n > FACT_MAX_N)
        return pk_ctx_fail(ctx, PK_ERANGE,
                           "%llu! is beyond GMP's integer size (n must be at most 2^32-1)",
                           (unsigned long long)n);
    return 0;
}

/* Argument checks are agreed on before any work: a missing result on one rank
 * must not leave the others in a collective alone. */
int pk_factorial(pk_ctx *ctx, uint64_t n, mpz_t result) {
    if (ctx == NULL)
        return PK_EINVAL;
    pk_kernel_begin(ctx, "factorial");
    int rc = result == NULL ? pk_ctx_fail(ctx, PK_EINVAL, "no result given") : check_n(ctx, n);
    rc = pk_agree(ctx, rc);
    if (rc == 0 && n > U64_MAX_K)
        rc = factorial_pool(ctx, n, result);
    else if (rc == 0)
        mpz_set_ui(result, (unsigned long)fact_u64(n));
    if (rc == 0 && pk_ctx_rank(ctx) != 0)
        mpz_set_ui(result, 0);
    pk_kernel_end(ctx);
    return rc;
}

/* ---- pk_factorial_each ---- */

typedef struct each_arg {
    uint64_t a;
    uint64_t first_bad; /* u64: the first k > 20 in the range */
    int has_bad;        /* whether there is one */
} each_arg;

static int check_range(pk_ctx *ctx, uint64_t a, uint64_t b, const void *results) {
    if (results == NULL && pk_ctx_rank(ctx) == 0)
        return pk_ctx_fail(ctx, PK_EINVAL, "no results array given");
    if (a > b)
        return pk_ctx_fail(ctx, PK_EINVAL, "empty range %llu..%llu (a > b)", (unsigned long long)a,
                           (unsigned long long)b);
    if (b - a >= (uint64_t)INT64_MAX)
        return pk_ctx_fail(ctx, PK_EINVAL, "the range %llu..%llu has too many values",
                           (unsigned long long)a, (unsigned long long)b);
    return 0;
}

static int each_task(void *arg, int64_t t, void *result, pk_worker *w) {
    const each_arg *e = arg;
    uint64_t k = e->a + (uint64_t)t;
    /* k! takes at most k log2 k bits, GMP's allocation: announced to the hook */
    double bits = k > 1 ? (double)k * log2((double)k) : 1.0;
    int rc = pk_worker_reserve(w, (size_t)(bits / 8.0) + sizeof(mp_limb_t));
    if (rc != 0)
        return rc;
    if (fact_serial(result, k) != 0)
        return pk_fail(w, PK_ENOMEM, "no memory to compute %llu!", (unsigned long long)k);
    return 0;
}

int pk_factorial_each(pk_ctx *ctx, uint64_t a, uint64_t b, mpz_t *results) {
    if (ctx == NULL)
        return PK_EINVAL;
    pk_kernel_begin(ctx, "factorial");
    int rc = check_range(ctx, a, b, results);
    if (rc == 0)
        rc = check_n(ctx, b);
    rc = pk_agree(ctx, rc);
    if (rc == 0) {
        each_arg e = {.a = a};
        pk_opts o = {.schedule = PK_DYNAMIC, .chunk = 1};
        rc = pk_tasks(ctx, (int64_t)(b - a + 1), &o, each_task, &e, &pk_mpz_product.type, results);
    }
    pk_kernel_end(ctx);
    return rc;
}

/* k! in 64 bits. Only the first k > 20 of the range fails and the later ones are
 * skipped, so the error names that k whatever the schedule. */
static int each_u64_task(void *arg, int64_t t, void *result, pk_worker *w) {
    const each_arg *e = arg;
    uint64_t k = e->a + (uint64_t)t;
    if (e->has_bad && k == e->first_bad)
        return pk_fail(w, PK_EOVERFLOW, "%llu! does not fit in 64 bits", (unsigned long long)k);
    if (k > U64_MAX_K)
        return 0;
    *(uint64_t *)result = fact_u64(k);
    return 0;
}

int pk_factorial_each_u64(pk_ctx *ctx, uint64_t a, uint64_t b, uint64_t *results) {
    if (ctx == NULL)
        return PK_EINVAL;
    pk_kernel_begin(ctx, "factorial");
    int rc = pk_agree(ctx, check_range(ctx, a, b, results));
    if (rc == 0) {
        each_arg e = {
            .a = a, .first_bad = a > U64_MAX_K ? a : U64_MAX_K + 1, .has_bad = b > U64_MAX_K};
        pk_opts o = {.schedule = PK_DYNAMIC, .chunk = 1};
        static const pk_type u64_type = {.size = sizeof(uint64_t)};
        rc = pk_tasks(ctx, (int64_t)(b - a + 1), &o, each_u64_task, &e, &u64_type, results);
    }
    pk_kernel_end(ctx);
    return rc;
}
