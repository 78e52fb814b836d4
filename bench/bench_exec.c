/* Benchmark: parkit's executor (parkit/exec.h) against hand-written anchors,
 * in the same run.
 *   1. Threads: 2 threads, the submitter and one worker. N empty tasks
 *      submitted and then waited (tasks/s), and the round trip of one task
 *      (submit, wait, repeat), against a work queue under one mutex and two
 *      condition variables, with one producer and one worker thread doing the
 *      same (written below).
 *   2. Ranks, under `mpirun -n 2` with one thread each (rank 0 submits, rank 1
 *      runs tasks): N/2 small tasks (x -> x*x) through pk_exec_map with chunks
 *      of CHUNK arguments, and N/100 through pk_exec_submit one task at a time
 *      (all submitted, then their results in order; fewer, as each task is a
 *      message), against a raw MPI_Send/MPI_Recv loop over N/2 tasks where rank
 *      0 sends one task per message and rank 1 replies, WINDOW tasks out.
 * A warm-up round is dropped, rounds are interleaved (on threads the two
 * bursts run back to back, each first in every other round, then the two
 * runs of round trips), medians compared. It
 * prints rates and ratios and never fails on speed (only on a wrong result).
 * Usage: bench_exec [TASKS [ROUNDS]] (or: mpirun -n 2 bench_exec ...). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parkit/parkit.h"
#if PARKIT_WITH_MPI
#include "bench_quiet.h"
#include "parkit/mpi.h"
#endif

enum { MAX_ROUNDS = 51, CHUNK = 64, WINDOW = 64 };

typedef struct series {
    double t[MAX_ROUNDS];
    int n;
} series;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(series *s) {
    if (s->n == 0)
        return 0;
    qsort(s->t, (size_t)s->n, sizeof s->t[0], cmp_double);
    return s->n % 2 ? s->t[s->n / 2] : 0.5 * (s->t[s->n / 2 - 1] + s->t[s->n / 2]);
}

static void add(series *s, double seconds) {
    if (s->n < MAX_ROUNDS)
        s->t[s->n++] = seconds;
}

/* ---- the threads anchor: one mutex, two condition variables ------------------ */

typedef struct item {
    void (*fn)(struct item *);
    int64_t arg, result;
} item;

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the worker sleeps here when the queue is empty */
    pthread_cond_t done; /* the producer sleeps here for completions */
    item *items;
    int64_t cap, head, tail; /* items [head, tail) wait, at index % cap */
    int64_t completed, want; /* the producer waits until completed >= want */
    int idle, stop;
    pthread_t worker;
} queue;

static void empty_item(item *it) {
    (void)it;
}

static void *queue_worker(void *p) {
    queue *q = p;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->head == q->tail && !q->stop) {
            q->idle = 1;
            pthread_cond_wait(&q->work, &q->mu);
            q->idle = 0;
        }
        if (q->head == q->tail)
            break; /* stopped and drained */
        item *it = &q->items[q->head++ % q->cap];
        pthread_mutex_unlock(&q->mu);
        it->fn(it); /* the work, outside the lock */
        pthread_mutex_lock(&q->mu);
        if (++q->completed >= q->want)
            pthread_cond_signal(&q->done);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void queue_push(queue *q, int64_t arg) {
    pthread_mutex_lock(&q->mu);
    q->items[q->tail++ % q->cap] = (item){empty_item, arg, 0};
    if (q->idle)
        pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
}

static void queue_wait(queue *q, int64_t completed) {
    pthread_mutex_lock(&q->mu);
    q->want = completed;
    while (q->completed < completed)
        pthread_cond_wait(&q->done, &q->mu);
    q->want = INT64_MAX;
    pthread_mutex_unlock(&q->mu);
}

/* Starts the queue's worker, with room for n items: 0, or 1. */
static int queue_open(queue *q, int64_t n) {
    *q = (queue){.cap = n, .want = INT64_MAX};
    q->items = malloc((size_t)n * sizeof *q->items);
    if (q->items == NULL)
        return 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    if (pthread_create(&q->worker, NULL, queue_worker, q) != 0) {
        free(q->items);
        return 1;
    }
    return 0;
}

/* n empty items pushed then waited: seconds. */
static double queue_burst(queue *q, int64_t n) {
    int64_t base = q->tail;
    double t0 = pk_time_now();
    for (int64_t i = 0; i < n; i++)
        queue_push(q, i);
    queue_wait(q, base + n);
    return pk_time_now() - t0;
}

/* `trips` times: push one item and wait for it; seconds. */
static double queue_trips(queue *q, int64_t trips) {
    int64_t base = q->tail;
    double t0 = pk_time_now();
    for (int64_t i = 0; i < trips; i++) {
        queue_push(q, i);
        queue_wait(q, base + i + 1);
    }
    return pk_time_now() - t0;
}

/* Stops the worker: 0, or 1 when it did not complete `expect` items. */
static int queue_close(queue *q, int64_t expect) {
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->worker, NULL);
    pthread_cond_destroy(&q->done);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    free(q->items);
    return q->completed != expect;
}

/* ---- parkit's executor ---------------------------------------------------------- */

static int empty_task(pk_call *call, const void *arg, size_t len) {
    (void)call, (void)arg, (void)len;
    return 0;
}

/* x -> x*x on one int64. */
static int square_task(pk_call *call, const void *arg, size_t len) {
    int64_t x;
    if (len != sizeof x)
        return pk_call_fail(call, PK_EINVAL, "expected one int64, got %zu bytes", len);
    memcpy(&x, arg, sizeof x);
    x *= x;
    return pk_call_return(call, &x, sizeof x);
}

/* n empty tasks submitted then waited in order; seconds, or -1 on an error. */
static double exec_burst(pk_exec *ex, pk_future **fs, int64_t n) {
    int rc = 0;
    double t0 = pk_time_now();
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = pk_exec_submit(ex, "empty", NULL, 0, &fs[i]);
    for (int64_t i = 0; i < n; i++) {
        if (rc == 0 && fs[i] != NULL)
            rc = pk_future_result(fs[i], NULL, NULL);
        pk_future_free(fs[i]);
        fs[i] = NULL;
    }
    double dt = pk_time_now() - t0;
    return rc == 0 ? dt : -1;
}

/* `trips` times: submit one empty task and wait for it; seconds, or -1. */
static double exec_trips(pk_exec *ex, int64_t trips) {
    int rc = 0;
    double t0 = pk_time_now();
    for (int64_t i = 0; i < trips && rc == 0; i++) {
        pk_future *f = NULL;
        rc = pk_exec_submit(ex, "empty", NULL, 0, &f);
        if (rc == 0)
            rc = pk_future_result(f, NULL, NULL);
        pk_future_free(f);
    }
    double dt = pk_time_now() - t0;
    return rc == 0 ? dt : -1;
}

typedef struct all_series {
    series queue_tput, queue_trip, exec_tput, exec_trip; /* threads */
    series map, submit, raw;                             /* ranks */
} all_series;

typedef struct sizes {
    int64_t tasks, trips, rank_tasks, rank_submits;
    int rounds;
} sizes;

/* One round on threads (rank 0 only); 0, or 1 after an error. Both bursts
 * run back to back, in turn first, before both runs of round trips (a run of
 * round trips of the queue lasts about a second, during which memory not
 * touched goes cold). */
static int threads_round(pk_ctx *threads, const sizes *z, pk_future **fs, all_series *s, int keep,
                         int parkit_first) {
    double qt = 0, ql = 0, et = 0, el = 0;
    queue q;
    if (queue_open(&q, z->tasks + z->trips) != 0)
        return 1;
    pk_exec *ex = NULL;
    if (pk_exec_open(threads, &ex, NULL) != 0 || ex == NULL) {
        queue_close(&q, 0);
        return 1;
    }
    if (parkit_first)
        et = exec_burst(ex, fs, z->tasks);
    qt = queue_burst(&q, z->tasks);
    if (!parkit_first)
        et = exec_burst(ex, fs, z->tasks);
    ql = queue_trips(&q, z->trips);
    el = exec_trips(ex, z->trips);
    int bad = queue_close(&q, z->tasks + z->trips);
    bad |= pk_exec_close(ex, PK_EXEC_WAIT) != 0 || et < 0 || el < 0;
    if (keep && !bad) {
        add(&s->queue_tput, qt), add(&s->queue_trip, ql);
        add(&s->exec_tput, et), add(&s->exec_trip, el);
    }
    return bad;
}

#if PARKIT_WITH_MPI
static int64_t sum_of_squares(int64_t n) { /* 0^2 + ... + (n-1)^2 */
    return (n - 1) * n * (2 * n - 1) / 6;
}

/* Rank 0: n squares through pk_exec_map in chunks of CHUNK; seconds, or -1. */
static double exec_map(pk_exec *ex, const int64_t *args, int64_t n) {
    double t0 = pk_time_now();
    pk_map_iter *it = NULL;
    int rc = pk_exec_map(ex, "square", args, sizeof args[0], n, 0, CHUNK, &it);
    int64_t sum = 0, got = 0;
    const void *data;
    size_t len;
    int task_rc = 0;
    while (rc == 0 && (rc = pk_map_next(it, &data, &len, &task_rc)) == 0 && task_rc == 0 &&
           len == sizeof(int64_t)) {
        int64_t y;
        memcpy(&y, data, sizeof y);
        sum += y, got++;
    }
    pk_map_free(it);
    double dt = pk_time_now() - t0;
    return rc == PK_ECLOSED && got == n && sum == sum_of_squares(n) ? dt : -1;
}

/* Rank 0: n squares submitted one by one, then their results; seconds, or -1. */
static double exec_submit_each(pk_exec *ex, pk_future **fs, const int64_t *args, int64_t n) {
    int rc = 0;
    int64_t sum = 0;
    double t0 = pk_time_now();
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = pk_exec_submit(ex, "square", &args[i], sizeof args[i], &fs[i]);
    for (int64_t i = 0; i < n; i++) {
        const void *data;
        size_t len;
        if (rc == 0 && fs[i] != NULL && (rc = pk_future_result(fs[i], &data, &len)) == 0 &&
            len == sizeof(int64_t)) {
            int64_t y;
            memcpy(&y, data, sizeof y);
            sum += y;
        }
        pk_future_free(fs[i]);
        fs[i] = NULL;
    }
    double dt = pk_time_now() - t0;
    return rc == 0 && sum == sum_of_squares(n) ? dt : -1;
}

enum { TAG_TASK = 1, TAG_RESULT = 2, TAG_STOP = 3 };

/* The raw loop: rank 0 keeps WINDOW tasks out, one int64 per message; rank 1
 * squares each and replies. Rank 0's seconds, or -1 on a wrong sum. */
static double raw_loop(MPI_Comm comm, int64_t n) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Barrier(comm);
    if (rank != 0) {
        MPI_Status st;
        for (int64_t x;;) {
            MPI_Recv(&x, 1, MPI_INT64_T, 0, MPI_ANY_TAG, comm, &st);
            if (st.MPI_TAG == TAG_STOP)
                return 0;
            x *= x;
            MPI_Send(&x, 1, MPI_INT64_T, 0, TAG_RESULT, comm);
        }
    }
    double t0 = pk_time_now();
    int64_t sent = 0, sum = 0;
    for (; sent < n && sent < WINDOW; sent++)
        MPI_Send(&sent, 1, MPI_INT64_T, 1, TAG_TASK, comm);
    for (int64_t got = 0; got < n; got++) {
        int64_t y;
        MPI_Recv(&y, 1, MPI_INT64_T, 1, TAG_RESULT, comm, MPI_STATUS_IGNORE);
        sum += y;
        if (sent < n) {
            MPI_Send(&sent, 1, MPI_INT64_T, 1, TAG_TASK, comm);
            sent++;
        }
    }
    double dt = pk_time_now() - t0;
    MPI_Send(&sent, 1, MPI_INT64_T, 1, TAG_STOP, comm);
    return sum == sum_of_squares(n) ? dt : -1;
}

/* One round on ranks (every rank calls it); 0, or 1 after an error. */
static int ranks_round(pk_ctx *ranks, MPI_Comm raw, const sizes *z, const int64_t *args,
                       pk_future **fs, all_series *s, int keep) {
    int root = pk_ctx_rank(ranks) == 0;
    double tm = 0, ts = 0;
    pk_exec *ex = NULL;
    int rc = pk_exec_open(ranks, &ex, NULL); /* rank 1 serves in here */
    if (rc == 0 && ex != NULL) {
        tm = exec_map(ex, args, z->rank_tasks);
        ts = exec_submit_each(ex, fs, args, z->rank_submits);
        rc = pk_exec_close(ex, PK_EXEC_WAIT);
    }
    double tr = raw_loop(raw, z->rank_tasks);
    int bad = rc != 0 || (root && (tm < 0 || ts < 0 || tr < 0));
    MPI_Bcast(&bad, 1, MPI_INT, 0, raw);
    if (root && keep && !bad)
        add(&s->map, tm), add(&s->submit, ts * (double)z->rank_tasks / (double)z->rank_submits),
            add(&s->raw, tr);
    return bad;
}
#endif

/* ---- report ------------------------------------------------------------------------ */

/* Rates (tasks/s) of parkit and the anchor and their ratio, from median times. */
static double rate_row(const char *what, series *pk, series *anchor, int64_t tasks) {
    double p = (double)tasks / median(pk), a = (double)tasks / median(anchor);
    printf("  %-44s %12.4g  %12.4g  %6.2f\n", what, p, a, p / a);
    return p / a;
}

static void report_threads(all_series *s, const sizes *z) {
    printf("threads: 2 (the submitter and one worker) vs a mutex + condition variable queue\n"
           "(one producer, one worker thread); %lld empty tasks and %lld round trips per round,\n"
           "%d rounds after a warm-up, medians\n",
           (long long)z->tasks, (long long)z->trips, z->rounds);
    printf("  %-44s %12s  %12s  %6s\n", "", "parkit", "anchor", "parkit/anchor");
    double r = rate_row("empty tasks, submit all then wait (tasks/s)", &s->exec_tput,
                        &s->queue_tput, z->tasks);
    double pt = median(&s->exec_trip) / (double)z->trips;
    double at = median(&s->queue_trip) / (double)z->trips;
    printf("  %-44s %9.2f us  %9.2f us  %6.2f\n", "round trip of one task (time)", 1e6 * pt,
           1e6 * at, pt / at);
    printf("  goal: threads at least as fast as the plain queue: %s (%.2fx)\n",
           r >= 1 ? "met" : "not met", r);
}

#if PARKIT_WITH_MPI
static void report_ranks(all_series *s, const sizes *z) {
    printf("ranks: 2 of one thread (rank 0 submits, rank 1 runs) vs a raw MPI_Send/MPI_Recv\n"
           "master-worker loop (one task per message, %d outstanding); %lld tasks x -> x*x\n"
           "per round (submitted one by one: %lld), %d rounds after a warm-up, medians\n",
           WINDOW, (long long)z->rank_tasks, (long long)z->rank_submits, z->rounds);
    printf("  %-44s %12s  %12s  %6s\n", "", "parkit", "raw MPI", "parkit/anchor");
    char what[64];
    snprintf(what, sizeof what, "pk_exec_map, chunk %d (tasks/s)", CHUNK);
    double r = rate_row(what, &s->map, &s->raw, z->rank_tasks);
    rate_row("pk_exec_submit one by one (tasks/s)", &s->submit, &s->raw, z->rank_tasks);
    printf("  goal: batched ranks at least half the raw loop's rate: %s (%.2fx)\n",
           r >= 0.5 ? "met" : "not met", r);
}
#endif

static int setup(pk_ctx **threads, pk_ctx **ranks) {
    if (pk_exec_register("empty", empty_task) != 0 || pk_exec_register("square", square_task) != 0)
        return 1;
    if (pk_ctx_new(threads, "omp") != 0 && pk_ctx_new(threads, "serial") != 0)
        return 1;
    pk_ctx_set_threads(*threads, 2);
#if PARKIT_WITH_MPI
    if (pk_mpi_launched() && pk_ctx_new(ranks, "mpi") != 0)
        return 1;
    if (*ranks != NULL && pk_ctx_size(*ranks) != 2) {
        if (pk_ctx_rank(*ranks) == 0)
            fprintf(stderr, "bench_exec: run it on 2 ranks (mpirun -n 2)\n");
        return 1;
    }
    if (*ranks != NULL)
        pk_ctx_set_threads(*ranks, 1);
#else
    (void)ranks;
#endif
    return 0;
}

static int bench(pk_ctx *threads, pk_ctx *ranks, const sizes *z, all_series *s) {
    int root = ranks == NULL || pk_ctx_rank(ranks) == 0;
    int64_t most = z->tasks > z->rank_tasks ? z->tasks : z->rank_tasks;
    pk_future **fs = calloc((size_t)most, sizeof *fs);
    int64_t *args = malloc((size_t)z->rank_tasks * sizeof *args);
    int bad = fs == NULL || args == NULL;
    for (int64_t i = 0; !bad && i < z->rank_tasks; i++)
        args[i] = i;
#if PARKIT_WITH_MPI
    MPI_Comm raw = MPI_COMM_NULL;
    if (ranks != NULL)
        MPI_Comm_dup(pk_ctx_comm(ranks), &raw);
    if (ranks != NULL)
        MPI_Bcast(&bad, 1, MPI_INT, 0, raw);
#endif
    for (int r = 0; r <= z->rounds && !bad; r++) { /* round 0: the warm-up */
        if (root)
            bad = threads_round(threads, z, fs, s, r > 0, r % 2);
#if PARKIT_WITH_MPI
        if (ranks != NULL) {
            quiet_barrier(raw);
            MPI_Bcast(&bad, 1, MPI_INT, 0, raw);
            if (!bad)
                bad = ranks_round(ranks, raw, z, args, fs, s, r > 0);
        }
#endif
    }
#if PARKIT_WITH_MPI
    if (raw != MPI_COMM_NULL)
        MPI_Comm_free(&raw);
#endif
    free(args);
    free(fs);
    return bad;
}

int main(int argc, char **argv) {
#if PARKIT_WITH_MPI
    int level = 0;
    if (pk_mpi_launched() && pk_mpi_init(&argc, &argv, &level) != 0)
        return 1;
#endif
    sizes z = {.tasks = argc > 1 ? atoll(argv[1]) : 200000};
    z.tasks = z.tasks < 200 ? 200 : z.tasks;
    z.trips = z.tasks / 10, z.rank_tasks = z.tasks / 2, z.rank_submits = z.tasks / 100;
    z.rounds = argc > 2 ? atoi(argv[2]) : 5;
    z.rounds = z.rounds < 1 ? 1 : z.rounds >= MAX_ROUNDS ? MAX_ROUNDS - 1 : z.rounds;
    pk_ctx *threads = NULL, *ranks = NULL;
    int bad = setup(&threads, &ranks);
    all_series s = {0};
    if (!bad)
        bad = bench(threads, ranks, &z, &s);
    int root = ranks == NULL || pk_ctx_rank(ranks) == 0;
    if (root && !bad) {
        report_threads(&s, &z);
#if PARKIT_WITH_MPI
        if (ranks != NULL)
            report_ranks(&s, &z);
#endif
    }
    if (root && bad)
        fprintf(stderr, "bench_exec: a run failed or a result came out wrong\n");
    pk_ctx_free(threads);
    pk_ctx_free(ranks);
#if PARKIT_WITH_MPI
    pk_mpi_finalize();
#endif
    return bad;
}
