/* Timing: a monotonic clock, statistics over repeated runs, and the sweep driver
 * that runs one kernel call for each pool size (threads per rank, and ranks under
 * MPI) and fills one row of statistics per size. Warm-up runs are not counted;
 * every timed run starts after a barrier and takes the slowest rank's time. */
#ifndef PARKIT_TIMING_H
#define PARKIT_TIMING_H

#include <stddef.h>

#include "parkit/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic seconds, and the clock's resolution in seconds. */
double pk_time_now(void);
double pk_time_resolution(void);

/* One row of a sweep. */
typedef struct pk_stats {
    int ranks;                     /* ranks in the pool */
    int threads;                   /* threads per rank requested */
    int threads_got;               /* threads per rank obtained (smallest over the runs) */
    int pool;                      /* ranks * threads_got */
    int runs;                      /* timed runs */
    double min, median, max, mean; /* seconds */
    double speedup;                /* median of the first row / this median */
    double efficiency;             /* speedup / (pool / pool of the first row) */
    double rate;                   /* work units per second at the median */
} pk_stats;

/* min/median/max/mean of n samples (sorted in place). PK_EINVAL for n < 1. */
int pk_stats_compute(double *samples, int n, pk_stats *st);
/* Speedup and efficiency of every row against rows[0]; rate = work / median. */
void pk_stats_relative(pk_stats *rows, int n, double work);

/* One timed kernel call on the given context (a sub-context under a ranks sweep). */
typedef int (*pk_run_fn)(pk_ctx *ctx, void *arg);

typedef struct pk_sweep {
    /* threads per rank to try; NULL/0: the context's setting, and in a ranks
     * sweep the threads per rank the whole context has, on every sub-pool */
    const int *threads;
    int nthreads;
    const int *ranks; /* ranks to try (MPI); NULL/0: all ranks */
    int nranks;
    int repeat;  /* timed runs per size (>= 1) */
    int warmup;  /* untimed runs per size (>= 0) */
    double work; /* work units per run, for the rate */
} pk_sweep;

/* Runs fn repeat + warmup times for every (ranks, threads) pair and fills
 * rows[0 .. nranks*nthreads-1]. Stops at the first failing run and returns its
 * code (the error is in ctx). Ranks outside a sub-pool wait at the barrier and
 * get the same rows. When the last pool of a ranks sweep is not the whole
 * context, one more untimed run on the whole context follows, so that every
 * rank ends with the result of a run it took part in. */
int pk_sweep_run(pk_ctx *ctx, const pk_sweep *sweep, pk_run_fn fn, void *arg, pk_stats *rows);

#ifdef __cplusplus
}
#endif

#endif
