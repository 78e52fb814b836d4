/* Squares against memory bandwidth, measured in the same run: parkit's squares
 * (8 bytes stored per value, summed on the fly) next to a STREAM-style copy
 * (16 bytes moved per element: read + write) and a write-only fill (8 bytes) on
 * the same number of threads. Prints GB/s for each and parkit's ratios. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parkit/parkit.h"
#include "parkit/squares.h"

enum { REPEAT = 7 };

static double median(double *v, int n) {
    pk_stats st;
    pk_stats_compute(v, n, &st);
    return st.median;
}

static double time_copy(double *dst, const double *src, int64_t n, int threads) {
    double t[REPEAT];
    for (int r = 0; r < REPEAT; r++) {
        double t0 = pk_time_now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n; i++)
            dst[i] = src[i];
        t[r] = pk_time_now() - t0;
    }
    return median(t, REPEAT);
}

static double time_fill(double *dst, int64_t n, int threads) {
    double t[REPEAT];
    for (int r = 0; r < REPEAT; r++) {
        double t0 = pk_time_now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n; i++)
            dst[i] = (double)i;
        t[r] = pk_time_now() - t0;
    }
    return median(t, REPEAT);
}

static double time_squares(pk_ctx *ctx, int64_t *out, int64_t n, int where) {
    double t[REPEAT];
    pk_i128 sum;
    for (int r = 0; r < REPEAT; r++) {
        double t0 = pk_time_now();
        if (pk_squares(ctx, 1, n, where, out, &sum) != 0)
            return -1;
        t[r] = pk_time_now() - t0;
    }
    return median(t, REPEAT);
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000000;
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    int64_t *out = malloc((size_t)n * sizeof *out);
    pk_ctx *ctx = NULL;
    if (a == NULL || b == NULL || out == NULL || pk_ctx_new(&ctx, "omp") != 0) {
        fprintf(stderr, "bench_squares: set-up failed\n");
        return 1;
    }
    memset(a, 0, (size_t)n * sizeof *a);
    memset(b, 1, (size_t)n * sizeof *b);
    memset(out, 0, (size_t)n * sizeof *out);
    double gb = (double)n * 8 / 1e9;
    printf("N = %lld, %d runs each, medians\n", (long long)n, REPEAT);
    printf("%7s %12s %12s %12s %14s %12s %12s\n", "threads", "copy GB/s", "fill GB/s",
           "squares GB/s", "sum-only Gv/s", "sq/copy", "sq/fill");
    for (int t = 1; t <= omp_get_num_procs(); t *= 2) {
        pk_ctx_set_threads(ctx, t);
        double tc = time_copy(a, b, n, t), tf = time_fill(a, n, t);
        double ts = time_squares(ctx, out, n, PK_ON_ROOT);
        double tn = time_squares(ctx, NULL, n, PK_SQUARES_SUM_ONLY);
        double copy = 2 * gb / tc, fill = gb / tf, sq = gb / ts;
        printf("%7d %12.2f %12.2f %12.2f %14.2f %12.2f %12.2f\n", t, copy, fill, sq,
               (double)n / tn / 1e9, sq / copy, sq / fill);
    }
    pk_ctx_free(ctx);
    free(a);
    free(b);
    free(out);
    return 0;
}
