/* The anchors of scripts/bench.sh, one measurement per process so that the
 * script can alternate them with parkit's programs:
 *
 *   bench_anchor primesieve LO HI THREADS   primesieve's count of [LO, HI]
 *   bench_anchor fac N                      GMP's mpz_fac_ui(N)
 *   bench_anchor fill N THREADS             write-only fill of N int64 (OpenMP)
 *   bench_anchor copy N THREADS             STREAM-style copy of N int64
 *
 * Each prints one line, "seconds=S result=R", where S is the time of the work
 * alone (the fill and the copy touch their arrays once before the timed pass,
 * as parkit's programs do in their warm-up run) and R a result to check it by
 * (the count, the factorial's bit count, the number of elements). */
#include <gmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parkit/parkit.h"

#if PARKIT_HAVE_PRIMESIEVE
#include <primesieve.h>
#endif

static int usage(void) {
    fprintf(stderr, "usage: bench_anchor primesieve LO HI THREADS | fac N | fill N THREADS | "
                    "copy N THREADS\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t *v) {
    const char *why = NULL;
    return pk_parse_u64(s, v, &why);
}

static int threads_of(const char *s) {
    int t = atoi(s);
    return t < 1 ? 1 : t;
}

static int run_primesieve(char **argv) {
#if PARKIT_HAVE_PRIMESIEVE
    uint64_t lo, hi;
    if (parse_u64(argv[0], &lo) != 0 || parse_u64(argv[1], &hi) != 0)
        return usage();
    primesieve_set_num_threads(threads_of(argv[2]));
    double t0 = pk_time_now();
    uint64_t count = primesieve_count_primes(lo, hi);
    double dt = pk_time_now() - t0;
    printf("seconds=%.9f result=%llu\n", dt, (unsigned long long)count);
    return 0;
#else
    (void)argv;
    fprintf(stderr, "bench_anchor: built without libprimesieve\n");
    return 1;
#endif
}

static int run_fac(char **argv) {
    uint64_t n;
    if (parse_u64(argv[0], &n) != 0 || n > ULONG_MAX)
        return usage();
    mpz_t f;
    mpz_init(f);
    double t0 = pk_time_now();
    mpz_fac_ui(f, (unsigned long)n);
    double dt = pk_time_now() - t0;
    printf("seconds=%.9f result=%zu\n", dt, mpz_sizeinbase(f, 2));
    mpz_clear(f);
    return 0;
}

static int run_stream(char **argv, int copy) {
    uint64_t n;
    if (parse_u64(argv[0], &n) != 0 || n == 0)
        return usage();
    int threads = threads_of(argv[1]);
    int64_t *dst = malloc(n * sizeof *dst);
    int64_t *src = copy ? malloc(n * sizeof *src) : NULL;
    if (dst == NULL || (copy && src == NULL)) {
        fprintf(stderr, "bench_anchor: no memory for %llu elements\n", (unsigned long long)n);
        return 1;
    }
    int64_t len = (int64_t)n;
    double dt = 0;
    for (int pass = 0; pass < 2; pass++) { /* the first touches the pages */
        double t0 = pk_time_now();
        if (copy) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t i = 0; i < len; i++)
                dst[i] = src[i];
        } else {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t i = 0; i < len; i++)
                dst[i] = i;
        }
        dt = pk_time_now() - t0;
        if (copy && pass == 0) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t i = 0; i < len; i++)
                src[i] = i;
        }
    }
    printf("seconds=%.9f result=%lld\n", dt, (long long)(dst[len - 1] + 1));
    free(dst);
    free(src);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "primesieve") == 0)
        return run_primesieve(argv + 2);
    if (argc >= 3 && strcmp(argv[1], "fac") == 0)
        return run_fac(argv + 2);
    if (argc >= 4 && strcmp(argv[1], "fill") == 0)
        return run_stream(argv + 2, 0);
    if (argc >= 4 && strcmp(argv[1], "copy") == 0)
        return run_stream(argv + 2, 1);
    return usage();
}
