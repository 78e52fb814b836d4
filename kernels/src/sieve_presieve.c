/* The sieve's pre-sieve. Pre-sieving copies the multiples of the primes 7..173
 * into a segment from periodic patterns (one AND of four streams per pass)
 * instead of crossing them off one by one: these smallest primes would
 * otherwise cost about half of all the crossing-off. The patterns and the
 * primes below 2^16 are read-only tables written at build time
 * (sieve_groups.h). */
#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "sieve_engine.h"
#include "sieve_groups.h"

const uint8_t pk__wheel[8] = PK__WHEEL_INIT;

static const uint8_t group_primes[PK__NGROUPS][4] = PK__GROUP_PRIMES_INIT;
_Static_assert((int)PK__SIEVE_FIRST_PRIME > (int)PK__PRESIEVED_LAST,
               "sieving starts past the pre-sieve");

const uint32_t *pk__sieve_base_primes(size_t *n) {
    *n = pk__nbase_primes;
    return pk__base_primes;
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
    const uint8_t *const *bits = &pk__presieve_bits[g];
    const uint32_t *plen = &pk__presieve_len[g];
    size_t off[PK__GROUPS_PER_PASS];
    for (int k = 0; k < PK__GROUPS_PER_PASS; k++)
        off[k] = (size_t)(byte % plen[k]);
    size_t done = 0;
    while (done < len) {
        size_t run = len - done;
        for (int k = 0; k < PK__GROUPS_PER_PASS; k++)
            if (plen[k] - off[k] < run)
                run = plen[k] - off[k];
        and4(dst + done, bits[0] + off[0], bits[1] + off[1], bits[2] + off[2], bits[3] + off[3],
             run, g == 0);
        done += run;
        for (int k = 0; k < PK__GROUPS_PER_PASS; k++) {
            off[k] += run;
            if (off[k] == plen[k])
                off[k] = 0;
        }
    }
}

/* Compiled per instruction set (isa.h), and4 vectorized in each. */
PK_HOT_BODY void presieve_body(uint8_t *dst, uint64_t byte, size_t len) {
    for (int g = 0; g < PK__NGROUPS; g += PK__GROUPS_PER_PASS)
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
    for (int g = 0; g < PK__NGROUPS; g++)
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
