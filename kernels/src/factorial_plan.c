/* The plan of n!: a segmented sieve of the odd primes up to n, each prime's
 * exponent in n! (Legendre), and the primes packed into limbs by the bits of their
 * exponents, cut into equal chunks that become the leaves of the product trees
 * (see factorial_plan.h). Building it is linear in n and small next to the
 * multiplications; the chunking depends on n alone. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "factorial_plan.h"
#include "parkit/factorial.h"
#include "parkit/parkit.h"

enum {
    SIEVE_SPAN = 1 << 16, /* odd numbers per sieve segment: 32 KiB of flags, in L1/L2 */
    CHUNK_MIN = 64,       /* limbs per leaf chunk at least: a chunk is worth a task */
    CHUNK_TARGET = 64,    /* about this many chunks (plus the small segments' own):
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
    if (s->cur == 0) {
        s->cur = p;
    } else if (s->cur <= ULONG_MAX / p) {
        s->cur *= p;
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

static void add_prime(packer *pk, uint64_t n, uint64_t p) {
    for (uint64_t e = legendre(n, p); e != 0; e &= e - 1)
        pack_prime(pk, __builtin_ctzll(e), (unsigned long)p);
}

/* The odd primes up to sqrt(n) (n < 2^32, so below 2^16): a plain sieve. comp
 * holds limit + 1 flags. */
static size_t small_primes(uint32_t limit, uint32_t *out, unsigned char *comp) {
    memset(comp, 0, (size_t)limit + 1);
    size_t k = 0;
    for (uint32_t i = 3; i <= limit; i += 2) {
        if (comp[i])
            continue;
        out[k++] = i;
        for (uint32_t m = i * i; m <= limit; m += 2 * i)
            comp[m] = 1;
    }
    return k;
}

static uint32_t isqrt32(uint64_t n) {
    uint64_t r = 0;
    while ((r + 1) * (r + 1) <= n)
        r++;
    return (uint32_t)r;
}

/* Sieves the odd numbers in [lo, lo + 2 * SIEVE_SPAN) (lo odd) with the base
 * primes and hands each prime <= n to the packer. */
static void sieve_block(packer *pk, uint64_t n, uint64_t lo, const uint32_t *base, size_t nbase,
                        unsigned char *flags) {
    memset(flags, 1, SIEVE_SPAN);
    uint64_t hi = lo + 2 * (uint64_t)SIEVE_SPAN; /* exclusive */
    for (size_t i = 0; i < nbase; i++) {
        uint64_t p = base[i];
        if (p * p >= hi)
            break;
        uint64_t m = p * p >= lo ? p * p : (lo + p - 1) / p * p;
        if (m % 2 == 0)
            m += p;
        for (; m < hi; m += 2 * p)
            flags[(m - lo) / 2] = 0;
    }
    for (uint64_t i = 0; i < SIEVE_SPAN; i++) {
        uint64_t x = lo + 2 * i;
        if (x > n)
            break;
        if (flags[i] && x > 1)
            add_prime(pk, n, x);
    }
}

static int collect_primes(packer *pk, uint64_t n) {
    uint32_t root = isqrt32(n);
    uint32_t *base = malloc(sizeof *base * (root / 2 + 2));
    unsigned char *flags = malloc(SIEVE_SPAN); /* also the base sieve's: root < 2^16 */
    if (base == NULL || flags == NULL) {
        free(base);
        free(flags);
        return PK_ENOMEM;
    }
    size_t nbase = small_primes(root, base, flags);
    for (uint64_t lo = 1; lo <= n && !pk->failed; lo += 2 * (uint64_t)SIEVE_SPAN)
        sieve_block(pk, n, lo, base, nbase, flags);
    free(base);
    free(flags);
    return pk->failed ? PK_ENOMEM : 0;
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
