/* The plan of n!: the odd primes up to n (from the sieve engine), each prime's
 * exponent in n! (Legendre), and the primes packed into limbs by the bits of their
 * exponents, cut into equal chunks that become the leaves of the product trees
 * (see factorial_plan.h). Building it is linear in n and small next to the
 * multiplications; the chunking depends on n alone. */
#include <stdlib.h>
#include <string.h>

#include "factorial_plan.h"
#include "parkit/factorial.h"
#include "parkit/parkit.h"
#include "sieve_engine.h"
#include "sieve_groups.h"

enum {
    CHUNK_MIN = 64,    /* limbs per leaf chunk at least: a chunk is worth a task */
    CHUNK_TARGET = 64, /* about this many chunks (plus the small segments' own):
                          enough to balance the pool's threads, few enough that
                          the segments' trees above them are shallow */
};

/* A growing array of packed limbs for one segment, and the limb being filled. */
typedef struct seg_vec {
    unsigned long *v;
    size_t n, cap;
    unsigned long cur;
} seg_vec;

typedef struct packer {
    seg_vec seg[PK__FACT_MAX_SEG];
    int nseg;
    int failed;
    uint64_t q, q_last; /* every prime in (root, q_last] has exponent q in n! */
} packer;

static int vec_push(seg_vec *s, unsigned long limb) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        unsigned long *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            return PK_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = limb;
    return 0;
}

/* Multiplies p into segment j's current limb, or starts a new limb when it would
 * overflow. */
static void pack_prime(packer *pk, int j, unsigned long p) {
    seg_vec *s = &pk->seg[j];
    unsigned long prod;
    if (s->cur == 0) {
        s->cur = p;
    } else if (!__builtin_umull_overflow(s->cur, p, &prod)) {
        s->cur = prod;
    } else {
        if (vec_push(s, s->cur) != 0)
            pk->failed = 1;
        s->cur = p;
    }
    if (j + 1 > pk->nseg)
        pk->nseg = j + 1;
}

/* Legendre: the exponent of prime p in n!. */
static uint64_t legendre(uint64_t n, uint64_t p) {
    uint64_t e = 0;
    for (uint64_t q = n / p; q > 0; q /= p)
        e += q;
    return e;
}

/* A prime above sqrt(n) has exponent n / p, the same for a run of primes: one
 * division per run, not two or three per prime (divisions were most of the
 * plan's time). */
static void add_prime(packer *pk, uint64_t n, uint64_t p) {
    uint64_t e;
    if (p * p <= n) {
        e = legendre(n, p);
    } else {
        if (p > pk->q_last) {
            pk->q = n / p;
            pk->q_last = n / pk->q;
        }
        e = pk->q;
    }
    for (; e != 0; e &= e - 1)
        pack_prime(pk, __builtin_ctzll(e), (unsigned long)p);
}

/* The primes 3 and 5 by hand, then every prime from 7 to n from the sieve
 * engine (the wheel leaves out 2, 3 and 5), segment by segment. The plan's own
 * byte-per-odd-number sieve took 1.9 ms of the 105 ms of 10^6!; the engine
 * takes a tenth of that. */
typedef struct collect_arg {
    packer *pk;
    uint64_t n;
} collect_arg;

static int collect_put(void *arg, uint64_t p) {
    collect_arg *c = arg;
    add_prime(c->pk, c->n, p);
    return 0;
}

static int collect_segment(void *arg, const uint8_t *seg, uint64_t byte, size_t len) {
    return pk__sieve_extract(seg, byte, len, collect_put, arg);
}

static int collect_primes(packer *pk, uint64_t n) {
    for (uint64_t p = 3; p <= 5 && p <= n; p += 2)
        add_prime(pk, n, p);
    if (n < 7)
        return pk->failed ? PK_ENOMEM : 0;
    if (n < PK__BASE_LIMIT) {
        /* Below 2^16 the primes are at hand: 7 .. 173 from the pre-sieve's
         * groups, the rest from the sieve's table, without a segment to map in
         * or pre-sieve patterns to read (a first 10^4! spent about 0.2 ms on
         * those). */
        static const uint8_t groups[PK__NGROUPS][4] = PK__GROUP_PRIMES_INIT;
        for (int g = 0; g < PK__NGROUPS; g++)
            for (int i = 0; i < 4 && groups[g][i] != 0 && groups[g][i] <= n; i++)
                add_prime(pk, n, groups[g][i]);
        size_t nb;
        const uint32_t *base = pk__sieve_base_primes(&nb);
        for (size_t i = 0; i < nb && base[i] <= n; i++)
            add_prime(pk, n, base[i]);
        return pk->failed ? PK_ENOMEM : 0;
    }
    pk__sieve *engine = pk__sieve_new(pk__sieve_segment_log(n));
    if (engine == NULL)
        return PK_ENOMEM;
    collect_arg c = {.pk = pk, .n = n};
    pk__sieve_job job = {
        .lo = 7, .hi = n, .b0 = 0, .b1 = n / 30 + 1, .on_segment = collect_segment, .arg = &c};
    int rc = pk__sieve_chunk(engine, &job);
    pk__sieve_free(engine);
    if (rc == 0 && pk->failed)
        rc = PK_ENOMEM;
    return rc;
}

static void packer_free(packer *pk) {
    for (int j = 0; j < PK__FACT_MAX_SEG; j++)
        free(pk->seg[j].v);
}

/* Closes every segment's last limb and lays the segments out back to back. */
static int lay_out(pk__fact_plan *plan, packer *pk) {
    size_t total = 0;
    for (int j = 0; j < pk->nseg; j++) {
        if (pk->seg[j].cur != 0 && vec_push(&pk->seg[j], pk->seg[j].cur) != 0)
            return PK_ENOMEM;
        total += pk->seg[j].n;
    }
    plan->limbs = malloc((total > 0 ? total : 1) * sizeof *plan->limbs);
    if (plan->limbs == NULL)
        return PK_ENOMEM;
    plan->nseg = pk->nseg;
    plan->nlimbs = total;
    size_t at = 0;
    for (int j = 0; j < pk->nseg; j++) {
        plan->seg_limb[j] = at;
        if (pk->seg[j].n > 0)
            memcpy(plan->limbs + at, pk->seg[j].v, pk->seg[j].n * sizeof *plan->limbs);
        at += pk->seg[j].n;
    }
    plan->seg_limb[pk->nseg] = at;
    return 0;
}

static void cut_chunks(pk__fact_plan *plan) {
    size_t c = (plan->nlimbs + CHUNK_TARGET - 1) / CHUNK_TARGET;
    plan->chunk_limbs = c > CHUNK_MIN ? c : CHUNK_MIN;
    int64_t k = 0;
    for (int j = 0; j < plan->nseg; j++) {
        plan->seg_chunk[j] = k;
        size_t len = plan->seg_limb[j + 1] - plan->seg_limb[j];
        k += (int64_t)((len + plan->chunk_limbs - 1) / plan->chunk_limbs);
    }
    plan->seg_chunk[plan->nseg] = k;
    plan->nchunks = k;
}

int pk__fact_plan_build(pk__fact_plan *plan, uint64_t n) {
    memset(plan, 0, sizeof *plan);
    plan->n = n;
    packer *pk = calloc(1, sizeof *pk);
    if (pk == NULL)
        return PK_ENOMEM;
    int rc = collect_primes(pk, n);
    if (rc == 0)
        rc = lay_out(plan, pk);
    packer_free(pk);
    free(pk);
    if (rc != 0) {
        pk__fact_plan_free(plan);
        return rc;
    }
    cut_chunks(plan);
    return 0;
}

void pk__fact_plan_free(pk__fact_plan *plan) {
    free(plan->limbs);
    plan->limbs = NULL;
}

void pk__fact_plan_chunk(const pk__fact_plan *plan, int64_t c, size_t *begin, size_t *end) {
    int j = 0;
    while (plan->seg_chunk[j + 1] <= c)
        j++;
    size_t b = plan->seg_limb[j] + (size_t)(c - plan->seg_chunk[j]) * plan->chunk_limbs;
    size_t e = b + plan->chunk_limbs;
    *begin = b;
    *end = e < plan->seg_limb[j + 1] ? e : plan->seg_limb[j + 1];
}

/* Below this many limbs a running product is cheaper than splitting. */
enum { PROD_DIRECT = 16 };

void pk__prod_limbs(mpz_t r, const unsigned long *limbs, size_t n) {
    if (n <= PROD_DIRECT) {
        mpz_set_ui(r, n > 0 ? limbs[0] : 1);
        for (size_t i = 1; i < n; i++)
            mpz_mul_ui(r, r, limbs[i]);
        return;
    }
    mpz_t right;
    mpz_init(right);
    pk__prod_limbs(r, limbs, n / 2);
    pk__prod_limbs(right, limbs + n / 2, n - n / 2);
    mpz_mul(r, r, right);
    mpz_clear(right);
}

uint64_t pk__fact_twos(uint64_t n) {
    return n - (uint64_t)__builtin_popcountll(n);
}
