/* The pre-sieve's groups of primes, shared by the sieve and by the build-time
 * program that writes its tables (gen/sieve_tables_gen.c). Each group's
 * pattern has the product of its primes as its period in bytes, small enough to
 * be read from cache; a pass ANDs four groups' patterns into a segment. */
#ifndef PARKIT_SIEVE_GROUPS_H
#define PARKIT_SIEVE_GROUPS_H

#include <stdint.h>

enum {
    PK__NGROUPS = 16,
    PK__GROUPS_PER_PASS = 4,
    PK__BASE_LIMIT = 1 << 16, /* the generator's own sieving primes are below it */
    PK__PRESIEVED_LAST = 173, /* the largest pre-sieved prime */
};

/* Bit k of a sieve byte b stands for 30 b + wheel[k]. */
#define PK__WHEEL_INIT                                                                             \
    { 1, 7, 11, 13, 17, 19, 23, 29 }

/* The primes 7..173 in groups of up to four (0: none). */
#define PK__GROUP_PRIMES_INIT                                                                      \
    {                                                                                              \
        {7, 11, 13, 17}, {19, 23, 29, 0}, {31, 37, 41, 0}, {43, 47, 53, 0}, {59, 61, 0, 0},        \
            {67, 71, 0, 0}, {73, 79, 0, 0}, {83, 89, 0, 0}, {97, 101, 0, 0}, {103, 107, 0, 0},     \
            {109, 113, 0, 0}, {127, 131, 0, 0}, {137, 139, 0, 0}, {149, 151, 0, 0},                \
            {157, 163, 0, 0}, {167, 173, 0, 0},                                                    \
    }

/* Written at build time into sieve_tables.c: read-only data that a first run
 * maps from the library's file, where building them at run time cost about
 * 1.3 ms of fresh pages and writes, more than all of pi(10^6). */
extern const uint8_t *const pk__presieve_bits[PK__NGROUPS]; /* bit k of byte b: 30 b + wheel[k]
                                                               has no factor in the group */
extern const uint32_t pk__presieve_len[PK__NGROUPS];        /* the periods in bytes */
extern const uint32_t pk__base_primes[]; /* the primes in (PK__PRESIEVED_LAST, 2^16), increasing */
extern const uint32_t pk__nbase_primes;

#endif
