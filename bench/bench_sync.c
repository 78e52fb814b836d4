/* Benchmark: parkit's sharing primitives against their anchors, in the same run.
 *   1. uncontended lock + unlock on one thread: pk_lock vs pthread_mutex;
 *   2. a contended lock handed between 2 threads (each takes it, bumps a
 *      counter, lets go): pk_lock on threads vs pthread_mutex;
 *   3. the same between 2 ranks of one node (pk_lock on the MPI pool);
 *   4. fetch-add on one shared counter by 2 workers: pk_shared between 2 ranks,
 *      pk_shared between 2 threads, and MPI_Fetch_and_op on a window;
 *   5. the one-sided engine that ranks on several nodes use (forced here with
 *      PARKIT_SYNC_ENGINE=onesided): its fetch-add against the raw
 *      MPI_Fetch_and_op loop, and its contended lock against the same lock on
 *      shared memory. Across real nodes both pay a network round trip per
 *      operation; here they show what parkit adds to the MPI call.
 * Rounds are interleaved and medians compared; it prints ratios and never fails
 * on speed (only on a wrong count). Run it as `mpirun -n 2 bench_sync` for the
 * rank figures; alone it measures threads only. Usage: bench_sync [OPS [ROUNDS]]. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "parkit/parkit.h"
#if PARKIT_WITH_MPI
#include "bench_quiet.h"
#include "parkit/mpi.h"
#endif

enum { MAX_ROUNDS = 51 };

typedef struct series {
    const char *name;
    double t[MAX_ROUNDS];
    int n;
} series;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(series *s) {
    qsort(s->t, (size_t)s->n, sizeof s->t[0], cmp_double);
    return s->n % 2 ? s->t[s->n / 2] : 0.5 * (s->t[s->n / 2 - 1] + s->t[s->n / 2]);
}

static void add(series *s, double seconds) {
    if (s->n < MAX_ROUNDS)
        s->t[s->n++] = seconds;
}

/* ---- the anchors ---- */

typedef struct mutex_arg {
    pthread_mutex_t mu;
    int64_t ops, counter;
} mutex_arg;

static void *mutex_loop(void *p) {
    mutex_arg *a = p;
    for (int64_t i = 0; i < a->ops; i++) {
        pthread_mutex_lock(&a->mu);
        a->counter++;
        pthread_mutex_unlock(&a->mu);
    }
    return NULL;
}

/* ops lock/unlock pairs on each of nthreads threads; seconds, or -1 when wrong. */
static double mutex_run(int nthreads, int64_t ops) {
    mutex_arg a = {.ops = ops};
    pthread_mutex_init(&a.mu, NULL);
    pthread_t t[2];
    double t0 = pk_time_now();
    for (int i = 1; i < nthreads; i++)
        pthread_create(&t[i], NULL, mutex_loop, &a);
    mutex_loop(&a);
    for (int i = 1; i < nthreads; i++)
        pthread_join(t[i], NULL);
    double dt = pk_time_now() - t0;
    pthread_mutex_destroy(&a.mu);
    return a.counter == ops * nthreads ? dt : -1;
}

/* ---- parkit ---- */

typedef struct pk_arg {
    pk_lock *lock;
    pk_shared *counter;
    int64_t ops;
    int64_t plain; /* bumped under the lock */
} pk_arg;

static int lock_loop(void *arg, pk_worker *w) {
    pk_arg *a = arg;
    for (int64_t i = 0; i < a->ops; i++) {
        int rc = pk_lock_acquire(a->lock, w);
        if (rc != 0)
            return rc;
        a->plain++;
        if ((rc = pk_lock_release(a->lock, w)) != 0)
            return rc;
    }
    return 0;
}

static int add_loop(void *arg, pk_worker *w) {
    (void)w;
    pk_arg *a = arg;
    for (int64_t i = 0; i < a->ops; i++) {
        int rc = pk_shared_fetch_add_i64(a->counter, 0, 1, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* One timed team of `workers` running fn; the slowest worker's time. */
static double team_run(pk_ctx *ctx, int workers, pk_team_fn fn, pk_arg *a) {
    pk_rank_barrier(ctx);
    double t0 = pk_time_now();
    int rc = pk_team(ctx, workers, NULL, fn, a);
    double dt = pk_time_now() - t0;
    pk_combine(ctx, &pk_max_f64, &dt, PK_ON_ALL);
    return rc == 0 ? dt : -1;
}

static int64_t shared_total(pk_shared *s) {
    int64_t v = 0;
    pk_shared_load_i64(s, 0, &v);
    return v;
}

#if PARKIT_WITH_MPI
/* MPI_Fetch_and_op on rank 0's window by every rank, ops times; the slowest time. */
static double mpi_fetch_add(pk_ctx *ctx, int64_t ops) {
    MPI_Comm comm = pk_ctx_comm(ctx);
    int64_t *mem = NULL;
    MPI_Win win;
    MPI_Win_allocate(pk_ctx_rank(ctx) == 0 ? (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t),
                     MPI_INFO_NULL, comm, &mem, &win);
    if (pk_ctx_rank(ctx) == 0)
        *mem = 0;
    MPI_Win_lock_all(0, win);
    MPI_Barrier(comm);
    double t0 = pk_time_now();
    int64_t one = 1, old = 0;
    for (int64_t i = 0; i < ops; i++) {
        MPI_Fetch_and_op(&one, &old, MPI_INT64_T, 0, 0, MPI_SUM, win);
        MPI_Win_flush(0, win);
    }
    double dt = pk_time_now() - t0;
    MPI_Barrier(comm);
    MPI_Win_unlock_all(win);
    int64_t total = pk_ctx_rank(ctx) == 0 ? *mem : 0;
    MPI_Win_free(&win);
    pk_combine(ctx, &pk_max_f64, &dt, PK_ON_ALL);
    pk_bcast(ctx, &total, sizeof total);
    return total == ops * pk_ctx_size(ctx) ? dt : -1;
}
#endif

typedef struct all_series {
    series mutex1, lock1, mutex2, lock2, lock_ranks, add_threads, add_ranks, mpi_add;
    series lock_far, add_far;
} all_series;

/* One round of every measurement; 0, or 1 after a wrong count. */
static int round_once(pk_ctx *threads, pk_ctx *ranks, int64_t ops, all_series *s) {
    int root = ranks == NULL || pk_ctx_rank(ranks) == 0;
    pk_arg a = {.ops = ops};
    int bad = 0;
    if (root) {
        double m1 = mutex_run(1, ops), m2 = mutex_run(2, ops / 4);
        pk_lock_new(threads, &a.lock, 0);
        pk_shared_new(threads, &a.counter, 8, 1);
        double l1 = team_run(threads, 1, lock_loop, &a);
        a.plain = 0;
        a.ops = ops / 4;
        double l2 = team_run(threads, 2, lock_loop, &a);
        bad |= a.plain != 2 * a.ops;
        double f2 = team_run(threads, 2, add_loop, &a);
        bad |= shared_total(a.counter) != 2 * a.ops;
        pk_lock_free(a.lock);
        pk_shared_free(a.counter);
        bad |= m1 < 0 || m2 < 0 || l1 < 0 || l2 < 0 || f2 < 0;
        double q = (double)(ops / 4); /* per operation */
        add(&s->mutex1, m1 / (double)ops), add(&s->lock1, l1 / (double)ops);
        add(&s->mutex2, m2 / q), add(&s->lock2, l2 / q), add(&s->add_threads, f2 / q);
    }
#if PARKIT_WITH_MPI
    if (ranks != NULL) {
        quiet_barrier(pk_ctx_comm(ranks));
        a.ops = ops / 4;
        a.plain = 0;
        pk_lock_new(ranks, &a.lock, 0);
        pk_shared_new(ranks, &a.counter, 8, 1);
        double lr = team_run(ranks, 2, lock_loop, &a);
        double fr = team_run(ranks, 2, add_loop, &a);
        bad |= shared_total(a.counter) != 2 * a.ops || lr < 0 || fr < 0;
        pk_lock_free(a.lock);
        pk_shared_free(a.counter);
        double mf = mpi_fetch_add(ranks, ops / 16);
        bad |= mf < 0;
        double q = (double)(ops / 4);
        add(&s->lock_ranks, lr / q), add(&s->add_ranks, fr / q);
        add(&s->mpi_add, mf / (double)(ops / 16));
        /* the one-sided engine, fewer operations: each is an MPI call */
        setenv("PARKIT_SYNC_ENGINE", "onesided", 1);
        a.ops = ops / 16;
        a.plain = 0;
        pk_lock_new(ranks, &a.lock, 0);
        pk_shared_new(ranks, &a.counter, 8, 1);
        unsetenv("PARKIT_SYNC_ENGINE");
        double lf = team_run(ranks, 2, lock_loop, &a);
        double ff = team_run(ranks, 2, add_loop, &a);
        bad |= shared_total(a.counter) != 2 * a.ops || lf < 0 || ff < 0;
        bad |= pk_shared_data(a.counter) != NULL; /* really the one-sided engine */
        pk_lock_free(a.lock);
        pk_shared_free(a.counter);
        add(&s->lock_far, lf / (double)a.ops), add(&s->add_far, ff / (double)a.ops);
    }
#endif
    return bad;
}

static void ratio(const char *what, series *a, series *b) {
    double ma = median(a), mb = median(b);
    printf("  %-46s %8.1f ns  %8.1f ns  %5.2fx\n", what, 1e9 * ma, 1e9 * mb, ma / mb);
}

int main(int argc, char **argv) {
#if PARKIT_WITH_MPI
    int level = 0;
    if (pk_mpi_launched() && pk_mpi_init(&argc, &argv, &level) != 0)
        return 1;
#endif
    int64_t ops = argc > 1 ? atoll(argv[1]) : 4000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    rounds = rounds < 1 ? 1 : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
    pk_ctx *threads = NULL, *ranks = NULL;
    if (pk_ctx_new(&threads, "omp") != 0 && pk_ctx_new(&threads, "serial") != 0)
        return 1;
    pk_ctx_set_threads(threads, 2);
#if PARKIT_WITH_MPI
    if (pk_mpi_launched() && pk_ctx_new(&ranks, "mpi") != 0)
        return 1;
    if (ranks != NULL && pk_ctx_size(ranks) != 2) {
        if (pk_ctx_rank(ranks) == 0)
            fprintf(stderr, "bench_sync: run it on 2 ranks (mpirun -n 2)\n");
        return 1;
    }
#endif
    all_series s = {0};
    int bad = 0;
    for (int r = 0; r < rounds && !bad; r++)
        bad = round_once(threads, ranks, ops, &s);
    int root = ranks == NULL || pk_ctx_rank(ranks) == 0;
    if (root && !bad) {
        printf("%lld operations per worker and round (contended: a quarter), %d rounds, "
               "medians per operation\n",
               (long long)ops, rounds);
        printf("  %-46s %11s  %11s  %s\n", "", "parkit", "anchor", "ratio");
        ratio("uncontended lock+unlock vs pthread_mutex", &s.lock1, &s.mutex1);
        ratio("contended lock, 2 threads vs pthread_mutex", &s.lock2, &s.mutex2);
        if (ranks != NULL) {
            ratio("contended lock, 2 ranks vs 2 threads", &s.lock_ranks, &s.lock2);
            ratio("fetch-add, 2 ranks vs 2 threads", &s.add_ranks, &s.add_threads);
            ratio("fetch-add, 2 ranks vs MPI_Fetch_and_op", &s.add_ranks, &s.mpi_add);
            ratio("one-sided engine: fetch-add vs MPI_Fetch_and_op", &s.add_far, &s.mpi_add);
            ratio("one-sided engine: contended lock vs on-node", &s.lock_far, &s.lock_ranks);
        }
    }
    if (root && bad)
        fprintf(stderr, "bench_sync: a count came out wrong\n");
    pk_ctx_free(threads);
    pk_ctx_free(ranks);
#if PARKIT_WITH_MPI
    pk_mpi_finalize();
#endif
    return bad;
}
