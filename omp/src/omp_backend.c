/* The OpenMP backend: a pool of threads in this process. Each pool call is one
 * parallel region whose threads run the shared chunk loop (core/src/job.c);
 * errors go through the job's first-error-wins flag, never through
 * `omp cancel` (which is off unless OMP_CANCELLATION=true). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity */
#endif
#include <omp.h>
#include <stdlib.h>
#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include "core_internal.h"
#include "omp_internal.h"

int pk__omp_default_threads(pk_ctx *ctx) {
    (void)ctx;
    return omp_get_max_threads();
}

/* ---- where the workers run ----------------------------------------------------
 *
 * A new pool's threads often start on the CPU of the thread that calls the
 * pool, and an OpenMP worker that has just finished spins there before it
 * sleeps: both then share one CPU while another idles, until the scheduler's
 * balancing moves one of them, a time slice (about 4 ms) later. Measured here
 * (2 CPUs, no binding set): the first three calls of 10^4! on two threads took
 * 5 to 20 ms in 8 of 12 processes and 2 ms in the others; with the workers
 * placed, 2 ms in all 12. So in a single process whose OpenMP binding is not
 * set (no OMP_PROC_BIND, OMP_PLACES, GOMP_CPU_AFFINITY or KMP_AFFINITY), and
 * whose team fits the CPUs it may use, worker t of a call runs on the t-th CPU
 * after the one the calling thread is on (in the process's CPU set, round).
 * The calling thread itself is never bound, so a worker moves (one system
 * call) only when the caller is found on another CPU at the next call. Under
 * MPI with more than one rank nothing is placed: the ranks of a host would
 * pick the same CPUs (docs/RUNNING.md, "Binding"). */
#if defined(__linux__) && defined(CPU_SET)
static pthread_once_t place_once = PTHREAD_ONCE_INIT;
static int place_ncpu;                  /* CPUs of the process's set; 0: nothing is placed */
static int *place_cpus;                 /* their numbers, increasing */
static _Thread_local int place_on = -1; /* the CPU this worker is bound to */

/* Whether the user asked the OpenMP runtime for a binding (read at each call:
 * the runtime read it at its start, and a worker this file bound is set free
 * again when it is found set). */
static int user_binds(void) {
    static const char *const vars[] = {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY",
                                       "KMP_AFFINITY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]) != NULL)
            return 1;
    return 0;
}

static void place_init(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2)
        return;
    int n = CPU_COUNT(&set), k = 0;
    int *cpus = malloc((size_t)n * sizeof *cpus);
    if (cpus == NULL)
        return;
    for (size_t c = 0; c < CPU_SETSIZE && k < n; c++)
        if (CPU_ISSET(c, &set))
            cpus[k++] = (int)c;
    place_cpus = cpus;
    place_ncpu = k;
}

/* The index in the process's set of the CPU the caller is on, or -1 when the
 * team of t threads is not placed. */
static int place_origin(pk_ctx *ctx, int t) {
    if (t < 2 || pk_ctx_size(ctx) > 1)
        return -1;
    pthread_once(&place_once, place_init);
    if (t > place_ncpu || user_binds())
        return -1;
    int cpu = sched_getcpu();
    for (int i = 0; i < place_ncpu; i++)
        if (place_cpus[i] == cpu)
            return i;
    return -1;
}

/* Binds worker tid of a placed team (origin >= 0) to its CPU; a worker bound
 * by an earlier call goes back to the process's whole set when this team is
 * not placed (more threads than CPUs, or a binding set since). */
static void place_worker(int origin, int tid) {
    if (tid == 0 || (origin < 0 && place_on < 0))
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    int cpu = origin < 0 ? -1 : place_cpus[(origin + tid) % place_ncpu];
    if (place_on == cpu)
        return;
    if (cpu >= 0)
        CPU_SET((size_t)cpu, &set);
    else
        for (int i = 0; i < place_ncpu; i++)
            CPU_SET((size_t)place_cpus[i], &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0)
        place_on = cpu;
}
#else
static int place_origin(pk_ctx *ctx, int t) {
    (void)ctx;
    (void)t;
    return -1;
}
static void place_worker(int origin, int tid) {
    (void)origin;
    (void)tid;
}
#endif

static int threads_for(const pk__job *job) {
    int64_t chunks = job->chi - job->clo;
    int t = job->nthreads;
    return chunks < t ? (int)(chunks > 0 ? chunks : 1) : t;
}

int pk__omp_run(pk_ctx *ctx, pk__job *job) {
    if (job->chi > job->clo) {
        int t = threads_for(job);
        int origin = place_origin(ctx, t);
#pragma omp parallel num_threads(t)
        {
            place_worker(origin, omp_get_thread_num());
            pk__job_worker(job, omp_get_thread_num(), omp_get_num_threads());
        }
    }
    return pk__job_error_to_ctx(job);
}

/* The pool's threads start with the context, as a pool's workers do, rather
 * than inside its first call: there the first call of 10^4! on two threads
 * took 1.0 - 5.4 ms (thread creation, and the new thread often starting on the
 * caller's CPU), against 0.9 - 1.1 ms with the threads started (and placed)
 * before it. The default pool size is started; more threads, if a call asks
 * for them, start in that call. */
static int omp_init(pk_ctx *ctx) {
    int t = omp_get_max_threads();
    if (t > 1) {
        int origin = place_origin(ctx, t);
#pragma omp parallel num_threads(t)
        place_worker(origin, omp_get_thread_num());
    }
    return 0;
}

static int omp_reduce(pk_ctx *ctx, pk__job *job, void *result) {
    return pk__reduce_local(ctx, job, result);
}

int pk__omp_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg) {
    int n = nworkers > 0 ? nworkers : pk_ctx_threads(ctx);
    pk__job job;
    pk__job_init(&job, ctx, PK__TEAM, n, opts);
    int got = 0, origin = place_origin(ctx, n);
#pragma omp parallel num_threads(n)
    {
        place_worker(origin, omp_get_thread_num());
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
    .init = omp_init,
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
