/* The sieve against primesieve, measured in the same run: pk_sieve_count and
 * primesieve_count_primes over [0, N] (default 1e10) on 1 and 2 threads, runs
 * interleaved so both see the same machine load. Prints the medians, both
 * counts and the ratio parkit / primesieve per thread count. */
#include <stdio.h>
#include <stdlib.h>

#include "parkit/parkit.h"
#include "parkit/sieve.h"

#ifndef PARKIT_HAVE_PRIMESIEVE
#define PARKIT_HAVE_PRIMESIEVE 0
#endif
#if PARKIT_HAVE_PRIMESIEVE
#include <primesieve.h>
#endif

enum { REPEAT = 5 };

static double median(double *v, int n) {
    pk_stats st;
    pk_stats_compute(v, n, &st);
    return st.median;
}

static double time_parkit(pk_ctx *ctx, uint64_t hi, uint64_t *count) {
    double t0 = pk_time_now();
    if (pk_sieve_count(ctx, 0, hi, count) != 0) {
        char msg[512];
        pk_ctx_error_string(ctx, msg, sizeof msg);
        fprintf(stderr, "bench_sieve: %s\n", msg);
        exit(1);
    }
    return pk_time_now() - t0;
}

#if PARKIT_HAVE_PRIMESIEVE
static double time_primesieve(uint64_t hi, uint64_t *count) {
    double t0 = pk_time_now();
    *count = primesieve_count_primes(0, hi);
    return pk_time_now() - t0;
}
#endif

static void bench_threads(pk_ctx *ctx, uint64_t hi, int threads) {
    double tp[REPEAT], ts[REPEAT] = {0};
    uint64_t np = 0, ns = 0;
    pk_ctx_set_threads(ctx, threads);
#if PARKIT_HAVE_PRIMESIEVE
    primesieve_set_num_threads(threads);
#endif
    for (int r = 0; r < REPEAT; r++) {
        tp[r] = time_parkit(ctx, hi, &np);
#if PARKIT_HAVE_PRIMESIEVE
        ts[r] = time_primesieve(hi, &ns);
#endif
    }
    double mp = median(tp, REPEAT), ms = median(ts, REPEAT);
#if PARKIT_HAVE_PRIMESIEVE
    printf("%7d %12.3f %12.3f %14llu %14llu %8.2f%s\n", threads, mp, ms, (unsigned long long)np,
           (unsigned long long)ns, mp / ms, np == ns ? "" : "  COUNTS DIFFER");
#else
    (void)ms;
    (void)ns;
    printf("%7d %12.3f %12s %14llu %14s %8s\n", threads, mp, "-", (unsigned long long)np, "-", "-");
#endif
}

int main(int argc, char **argv) {
    uint64_t hi = 10000000000ull;
    const char *why;
    if (argc > 1 && pk_parse_u64(argv[1], &hi, &why) != 0) {
        fprintf(stderr, "bench_sieve: invalid upper bound '%s': %s\n", argv[1], why);
        return 2;
    }
    pk_ctx *ctx = NULL;
    if (pk_ctx_new(&ctx, "omp") != 0 && pk_ctx_new(&ctx, "serial") != 0) {
        fprintf(stderr, "bench_sieve: cannot create a context\n");
        return 1;
    }
    printf("pi(%llu): parkit (%s backend) and primesieve, %d interleaved runs each, "
           "median seconds\n",
           (unsigned long long)hi, pk_ctx_backend(ctx), REPEAT);
#if !PARKIT_HAVE_PRIMESIEVE
    printf("(built without primesieve: parkit only)\n");
#endif
    printf("%7s %12s %12s %14s %14s %8s\n", "threads", "parkit(s)", "primesieve(s)", "parkit",
           "primesieve", "ratio");
    for (int t = 1; t <= 2; t++)
        bench_threads(ctx, hi, t);
    pk_ctx_free(ctx);
    return 0;
}
