/* The OpenMP backend: a pool of threads in this process. Each pool call is one
 * parallel region whose threads run the shared chunk loop (core/src/job.c);
 * errors go through the job's first-error-wins flag, never through
 * `omp cancel` (which is off unless OMP_CANCELLATION=true). */
#include <omp.h>
#include <stdlib.h>

#include "core_internal.h"
#include "omp_internal.h"

int pk__omp_default_threads(pk_ctx *ctx) {
    (void)ctx;
    return omp_get_max_threads();
}

static int threads_for(const pk__job *job) {
    int64_t chunks = job->chi - job->clo;
    int t = job->nthreads;
    return chunks < t ? (int)(chunks > 0 ? chunks : 1) : t;
}

int pk__omp_run(pk_ctx *ctx, pk__job *job) {
    (void)ctx;
    if (job->chi > job->clo) {
        int t = threads_for(job);
#pragma omp parallel num_threads(t)
        pk__job_worker(job, omp_get_thread_num(), omp_get_num_threads());
    }
    return pk__job_error_to_ctx(job);
}

static int omp_reduce(pk_ctx *ctx, pk__job *job, void *result) {
    return pk__reduce_local(ctx, job, result);
}

int pk__omp_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg) {
    int n = nworkers > 0 ? nworkers : pk_ctx_threads(ctx);
    pk__job job;
    pk__job_init(&job, ctx, PK__TEAM, n, opts);
    int got = 0;
#pragma omp parallel num_threads(n)
    {
#pragma omp single
        got = omp_get_num_threads();
        /* the single's implied barrier publishes got to every thread */
        if (got == n)
            pk__team_member(&job, fn, arg, omp_get_thread_num(), n);
    }
    atomic_store(&job.threads_obtained, got);
    int rc = pk__job_error_to_ctx(&job);
    if (rc == 0 && got != n)
        rc = pk__set_error(ctx, PK_EAGAIN,
                           "a team of %d threads was asked for but the OpenMP runtime gave %d "
                           "(check OMP_THREAD_LIMIT and OMP_DYNAMIC)",
                           n, got);
    return rc;
}

static int omp_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts) {
    return pk__chan_threads_open(ctx, ch, opts);
}

static int omp_barrier(pk_ctx *ctx) {
    (void)ctx;
    return 0;
}

static int omp_agree(pk_ctx *ctx, int rc) {
    (void)ctx;
    return rc;
}

const pk_backend pk__omp_backend = {
    .name = "omp",
    .caps = PK__CAP_THREADS,
    .init = NULL,
    .finalize = NULL,
    .default_threads = pk__omp_default_threads,
    .run = pk__omp_run,
    .reduce = omp_reduce,
    .collect = pk__collect_local,
    .team = pk__omp_team,
    .local_range = NULL,
    .chan_open = omp_chan_open,
    .barrier = omp_barrier,
    .subpool = NULL,
    .bcast = NULL,
    .agree = omp_agree,
};
