/* Timing: the clock, statistics over repeated runs and the sweep driver. A timed
 * run starts after a barrier and counts the slowest rank; warm-up runs are not
 * counted. Under a ranks sweep, ranks outside the sub-pool wait and receive the
 * rows from rank 0, so every rank returns the same table and the same code. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parkit/parkit.h"

double pk_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double pk_time_resolution(void) {
    struct timespec ts;
    if (clock_getres(CLOCK_MONOTONIC, &ts) != 0)
        return 1e-6;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int pk_stats_compute(double *samples, int n, pk_stats *st) {
    if (samples == NULL || st == NULL || n < 1)
        return PK_EINVAL;
    qsort(samples, (size_t)n, sizeof *samples, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += samples[i];
    st->runs = n;
    st->min = samples[0];
    st->max = samples[n - 1];
    st->median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
    st->mean = sum / n;
    return 0;
}

void pk_stats_relative(pk_stats *rows, int n, double work) {
    for (int i = 0; i < n; i++) {
        pk_stats *r = &rows[i];
        r->speedup = r->median > 0 ? rows[0].median / r->median : 0;
        double scale = rows[0].pool > 0 ? (double)r->pool / rows[0].pool : 1;
        r->efficiency = scale > 0 ? r->speedup / scale : 0;
        r->rate = r->median > 0 ? work / r->median : 0;
    }
}

/* The slowest rank's time. */
static double slowest(pk_ctx *ctx, double dt) {
    double v = dt;
    return pk_combine(ctx, &pk_max_f64, &v, PK_ON_ALL) == 0 ? v : dt;
}

/* Timed runs of one pool size on sub (the pool), filling row. */
static int time_size(pk_ctx *sub, const pk_sweep *sw, pk_run_fn fn, void *arg, pk_stats *row,
                     double *samples) {
    int got = 1 << 30;
    int64_t pool = INT64_MAX;
    for (int i = 0; i < sw->warmup + sw->repeat; i++) {
        pk_rank_barrier(sub);
        double t0 = pk_time_now();
        int rc = fn(sub, arg);
        double dt = slowest(sub, pk_time_now() - t0);
        if (rc != 0)
            return rc;
        int obtained = pk_ctx_threads_obtained(sub);
        got = obtained < got ? obtained : got;
        /* the pool is every rank's threads: ranks on unequal hosts differ */
        int64_t all = obtained;
        if (pk_combine(sub, &pk_sum_i64, &all, PK_ON_ALL) != 0)
            all = (int64_t)obtained * pk_ctx_size(sub);
        pool = all < pool ? all : pool;
        if (i >= sw->warmup)
            samples[i - sw->warmup] = dt;
    }
    row->threads_got = got;
    row->pool = pool < INT32_MAX ? (int)pool : INT32_MAX;
    return pk_stats_compute(samples, sw->repeat, row);
}

static int sweep_ranks(pk_ctx *ctx, const pk_sweep *sw, pk_run_fn fn, void *arg, int ranks,
                       int threads, pk_stats *rows, double *samples) {
    pk_ctx *sub = NULL;
    int rc = pk_ctx_subpool(ctx, &sub, ranks);
    if (rc != 0)
        return rc;
    int nt = sw->nthreads > 0 ? sw->nthreads : 1;
    for (int t = 0; t < nt && rc == 0; t++) {
        pk_stats *row = &rows[t];
        memset(row, 0, sizeof *row);
        if (sub != NULL) {
            pk_ctx_set_threads(sub, sw->nthreads > 0 ? sw->threads[t] : threads);
            row->ranks = pk_ctx_size(sub);
            row->threads = pk_ctx_threads(sub);
            rc = time_size(sub, sw, fn, arg, row, samples);
            pk_ctx_subpool_done(ctx, sub);
        }
        rc = pk_agree(ctx, rc);
        if (rc == 0)
            rc = pk_bcast(ctx, row, sizeof *row);
    }
    if (sub != NULL && sub != ctx)
        pk_ctx_free(sub);
    return rc;
}

int pk_sweep_run(pk_ctx *ctx, const pk_sweep *sw, pk_run_fn fn, void *arg, pk_stats *rows) {
    if (ctx == NULL || sw == NULL || fn == NULL || rows == NULL || sw->repeat < 1 || sw->warmup < 0)
        return ctx ? pk_ctx_fail(ctx, PK_EINVAL, "bad sweep arguments") : PK_EINVAL;
    for (int i = 0; i < sw->nranks; i++)
        if (sw->ranks[i] < 1 || sw->ranks[i] > pk_ctx_size(ctx))
            return pk_ctx_fail(ctx, PK_EINVAL, "a pool of %d ranks in a world of %d", sw->ranks[i],
                               pk_ctx_size(ctx));
    double *samples = malloc((size_t)sw->repeat * sizeof *samples);
    if (samples == NULL)
        return pk_ctx_fail(ctx, PK_ENOMEM, "no memory for samples");
    int nr = sw->nranks > 0 ? sw->nranks : 1;
    int nt = sw->nthreads > 0 ? sw->nthreads : 1;
    int rc = 0;
    int saved_threads = pk_ctx_threads_setting(ctx);
    /* Every pool of a ranks sweep runs the threads per rank of the whole launch:
     * a sub-pool's own default would divide the node's cores among fewer ranks
     * (a 1-rank pool of an 8-rank launch on 2 cores would run 2 threads, the
     * others 1), and the rows would compare pools of unequal ranks. */
    int threads = sw->nranks > 0 ? pk_ctx_threads(ctx) : saved_threads;
    for (int r = 0; r < nr && rc == 0; r++) {
        int ranks = sw->nranks > 0 ? sw->ranks[r] : pk_ctx_size(ctx);
        rc = sweep_ranks(ctx, sw, fn, arg, ranks, threads, rows + (size_t)r * (size_t)nt, samples);
    }
    pk_ctx_set_threads(ctx, saved_threads);
    free(samples);
    /* When the last pool left ranks out, their results are from an earlier pool
     * or none: one untimed run on the whole pool leaves every rank the result. */
    if (rc == 0 && sw->nranks > 0 && sw->ranks[sw->nranks - 1] != pk_ctx_size(ctx))
        rc = fn(ctx, arg);
    if (rc == 0)
        pk_stats_relative(rows, nr * nt, sw->work);
    return rc;
}
