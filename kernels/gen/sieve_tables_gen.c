/* Writes the sieve's read-only tables as C (run at build time, see
 * kernels/CMakeLists.txt): the pre-sieve pattern of each group of primes and
 * the primes above the pre-sieved ones and below 2^16.
 *
 *   sieve_tables_gen OUT.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_groups.h"

static const uint8_t wheel[8] = PK__WHEEL_INIT;
static const uint8_t groups[PK__NGROUPS][4] = PK__GROUP_PRIMES_INIT;

/* Clears the bits of the multiples of q in a pattern of len bytes. */
static void cross(uint8_t *bits, size_t len, unsigned q) {
    for (unsigned k = 0; k < 8; k++)
        for (size_t b = 0; b < len; b++)
            if ((30 * b + wheel[k]) % q == 0)
                bits[b] &= (uint8_t) ~(1u << k);
}

static int write_bytes(FILE *f, const char *name, const uint8_t *v, size_t n) {
    fprintf(f, "static const uint8_t %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%u,", i % 24 == 0 ? "\n" : "", v[i]);
    return fprintf(f, "\n};\n") < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: sieve_tables_gen OUT.c\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "w");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "/* Written by kernels/gen/sieve_tables_gen.c at build time: do not edit. */\n"
               "#include \"sieve_groups.h\"\n\n");
    unsigned long len[PK__NGROUPS];
    for (int g = 0; g < PK__NGROUPS; g++) {
        len[g] = 1;
        for (int i = 0; i < 4 && groups[g][i] != 0; i++)
            len[g] *= groups[g][i];
        uint8_t *bits = malloc(len[g]);
        if (bits == NULL)
            return 1;
        memset(bits, 0xff, len[g]);
        for (int i = 0; i < 4 && groups[g][i] != 0; i++)
            cross(bits, len[g], groups[g][i]);
        char name[32];
        snprintf(name, sizeof name, "group%d", g);
        write_bytes(f, name, bits, len[g]);
        free(bits);
    }
    fprintf(f, "\nconst uint8_t *const pk__presieve_bits[PK__NGROUPS] = {");
    for (int g = 0; g < PK__NGROUPS; g++)
        fprintf(f, "%sgroup%d", g ? ", " : "", g);
    fprintf(f, "};\nconst uint32_t pk__presieve_len[PK__NGROUPS] = {");
    for (int g = 0; g < PK__NGROUPS; g++)
        fprintf(f, "%s%lu", g ? ", " : "", len[g]);
    fprintf(f, "};\n\nconst uint32_t pk__base_primes[] = {");
    static unsigned char composite[PK__BASE_LIMIT];
    unsigned n = 0;
    for (unsigned i = 2; i < PK__BASE_LIMIT; i++) {
        if (composite[i])
            continue;
        for (unsigned long m = (unsigned long)i * i; m < PK__BASE_LIMIT; m += i)
            composite[m] = 1;
        if (i > PK__PRESIEVED_LAST)
            fprintf(f, "%s%u,", n++ % 12 == 0 ? "\n" : "", i);
    }
    fprintf(f, "\n};\nconst uint32_t pk__nbase_primes = %u;\n", n);
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
