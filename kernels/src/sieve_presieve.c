/* The sieve's one-time tables: the pre-sieve patterns and the primes below 2^16.
 * Pre-sieving copies the multiples of the primes 7..173 into a segment from
 * periodic patterns (one AND of four streams per pass) instead of crossing them
 * off one by one: these smallest primes would otherwise cost about half of all
 * the crossing-off. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "sieve_engine.h"

const uint8_t pk__wheel[8] = {1, 7, 11, 13, 17, 19, 23, 29};

/* Primes grouped so that each pattern (the product of its primes, in bytes,
 * is its period) stays small enough to be read from cache; four groups per pass. */
enum { NGROUPS = 16, GROUPS_PER_PASS = 4, BASE_LIMIT = 1 << 16, PRIMES_BELOW_BASE_LIMIT = 6542 };
static const uint8_t group_primes[NGROUPS][4] = {
    {7, 11, 13, 17},  {19, 23, 29, 0},  {31, 37, 41, 0},  {43, 47, 53, 0},
    {59, 61, 0, 0},   {67, 71, 0, 0},   {73, 79, 0, 0},   {83, 89, 0, 0},
    {97, 101, 0, 0},  {103, 107, 0, 0}, {109, 113, 0, 0}, {127, 131, 0, 0},
    {137, 139, 0, 0}, {149, 151, 0, 0}, {157, 163, 0, 0}, {167, 173, 0, 0},
};

typedef struct pattern {
    uint8_t *bits; /* bit k of byte b: 30 b + wheel[k] has no factor in the group */
    size_t len;    /* the period in bytes: the product of the group's primes */
} pattern;

static pattern patterns[NGROUPS];
static uint32_t *base_primes; /* primes in [PK__SIEVE_FIRST_PRIME, 2^16) */
static size_t nbase;
static int tables_ok;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Clears, in a pattern of len bytes, the bits of the multiples of q. The bytes
 * holding multiples with residue wheel[k] form a progression of step q. */
static void pattern_cross(uint8_t *bits, size_t len, unsigned q) {
    for (unsigned k = 0; k < 8; k++) {
        size_t first = 0;
        while ((30 * first + pk__wheel[k]) % q != 0)
            first++;
        for (size_t b = first; b < len; b += q)
            bits[b] &= (uint8_t) ~(1u << k);
    }
}

static int build_pattern(pattern *p, const uint8_t *primes) {
    size_t len = 1;
    for (int i = 0; i < 4 && primes[i] != 0; i++)
        len *= primes[i];
    p->bits = malloc(len);
    if (p->bits == NULL)
        return -1;
    memset(p->bits, 0xff, len);
    for (int i = 0; i < 4 && primes[i] != 0; i++)
        pattern_cross(p->bits, len, primes[i]);
    p->len = len;
    return 0;
}

/* The primes below 2^16 by a plain sieve over odd numbers: the sieving primes
 * of the generator that produces all larger sieving primes. */
static int build_base_primes(void) {
    uint8_t *composite = calloc(BASE_LIMIT, 1);
    base_primes = malloc(sizeof *base_primes * PRIMES_BELOW_BASE_LIMIT);
    if (composite == NULL || base_primes == NULL) {
        free(composite);
        return -1;
    }
    for (uint32_t i = 3; i * i < BASE_LIMIT; i += 2)
        if (!composite[i])
            for (uint32_t m = i * i; m < BASE_LIMIT; m += 2 * i)
                composite[m] = 1;
    for (uint32_t i = PK__SIEVE_FIRST_PRIME; i < BASE_LIMIT; i += 2)
        if (!composite[i])
            base_primes[nbase++] = i;
    free(composite);
    return 0;
}

static void build_tables(void) {
    for (int g = 0; g < NGROUPS; g++)
        if (build_pattern(&patterns[g], group_primes[g]) != 0)
            return;
    if (build_base_primes() != 0)
        return;
    tables_ok = 1;
}

int pk__sieve_tables_init(void) {
    pthread_once(&tables_once, build_tables);
    return tables_ok ? 0 : -1;
}

const uint32_t *pk__sieve_base_primes(size_t *n) {
    *n = nbase;
    return base_primes;
}

/* dst[i] (&)= a[i] & b[i] & c[i] & d[i]: the loop the compiler vectorizes. */
PK_HOT_BODY void and4(uint8_t *restrict dst, const uint8_t *restrict a, const uint8_t *restrict b,
                      const uint8_t *restrict c, const uint8_t *restrict d, size_t n, int first) {
    if (first) {
        for (size_t i = 0; i < n; i++)
            dst[i] = a[i] & b[i] & c[i] & d[i];
    } else {
        for (size_t i = 0; i < n; i++)
            dst[i] &= a[i] & b[i] & c[i] & d[i];
    }
}

/* One pass: dst (&)= the four patterns of groups g..g+3, in runs that end where
 * one of the patterns wraps around. */
PK_HOT_BODY void presieve_pass(uint8_t *dst, uint64_t byte, size_t len, int g) {
    const pattern *p = &patterns[g];
    size_t off[GROUPS_PER_PASS];
    for (int k = 0; k < GROUPS_PER_PASS; k++)
        off[k] = (size_t)(byte % p[k].len);
    size_t done = 0;
    while (done < len) {
        size_t run = len - done;
        for (int k = 0; k < GROUPS_PER_PASS; k++)
            if (p[k].len - off[k] < run)
                run = p[k].len - off[k];
        and4(dst + done, p[0].bits + off[0], p[1].bits + off[1], p[2].bits + off[2],
             p[3].bits + off[3], run, g == 0);
        done += run;
        for (int k = 0; k < GROUPS_PER_PASS; k++) {
            off[k] += run;
            if (off[k] == p[k].len)
                off[k] = 0;
        }
    }
}

/* Compiled per instruction set (isa.h), and4 vectorized in each. */
PK_HOT_BODY void presieve_body(uint8_t *dst, uint64_t byte, size_t len) {
    for (int g = 0; g < NGROUPS; g += GROUPS_PER_PASS)
        presieve_pass(dst, byte, len, g);
}
// clang-format off
PK_HOT_VOID(extern, pk__sieve_presieve, (uint8_t *dst, uint64_t byte, size_t len),
            (dst, byte, len), presieve_body)
// clang-format on

/* The pre-sieve crossed off the pre-sieved primes themselves (and left 1):
 * puts the primes back when the segment holds them, unless only larger primes
 * are wanted, and always takes 1 out. */
void pk__sieve_fix_start(uint8_t *seg, uint64_t byte, size_t len, int keep_small) {
    if (byte == 0)
        seg[0] &= (uint8_t)~1u;
    if (!keep_small)
        return;
    for (int g = 0; g < NGROUPS; g++)
        for (int i = 0; i < 4 && group_primes[g][i] != 0; i++) {
            unsigned q = group_primes[g][i];
            uint64_t b = q / 30;
            if (b < byte || b - byte >= len)
                continue;
            for (unsigned k = 0; k < 8; k++)
                if (pk__wheel[k] == q % 30)
                    seg[b - byte] |= (uint8_t)(1u << k);
        }
}
