/* Benchmark: parkit's producer/consumer kernel against two queues written here,
 * measured in the same run on the same machine: a ring under one mutex with two
 * condition variables (the textbook bounded buffer), a lock-free
 * single-producer single-consumer ring, publishing every item or every 64, and
 * a bounded multi-producer multi-consumer ring with a sequence number per slot;
 * and the channel alone (pk_chan_put and pk_chan_get of one item each).
 * Under `mpirun -n 2`: the kernel between two ranks (one producer, one
 * consumer, single items) against the raw MPI message rate (rank 0 sends
 * 8-byte messages with MPI_Isend in windows, rank 1 receives them), in
 * alternate rounds.
 * Prints the median items/s of each and its ratio to the anchors. Never fails on
 * speed. Usage: bench_prodcons [ITEMS [REPEATS [CAPACITY]]] (or: mpirun -n 2 bench_prodcons ...).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parkit/parkit.h"
#include "parkit/prodcons.h"
#if PARKIT_WITH_MPI
#include "parkit/mpi.h"
#endif

typedef struct bench_cfg {
    int64_t items;
    int repeats;
    size_t capacity;
} bench_cfg;

/* ---- anchor 1: mutex + two condition variables ------------------------------ */

typedef struct mutex_ring {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    int64_t *buf;
    size_t cap, head, count;
    int64_t items;
    uint64_t sum;
} mutex_ring;

static void *mutex_producer(void *p) {
    mutex_ring *q = p;
    for (int64_t i = 1; i <= q->items; i++) {
        pthread_mutex_lock(&q->mu);
        while (q->count == q->cap)
            pthread_cond_wait(&q->not_full, &q->mu);
        size_t tail = q->head + q->count;
        q->buf[tail < q->cap ? tail : tail - q->cap] = i;
        q->count++;
        pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

static void *mutex_consumer(void *p) {
    mutex_ring *q = p;
    uint64_t sum = 0;
    for (int64_t i = 0; i < q->items; i++) {
        pthread_mutex_lock(&q->mu);
        while (q->count == 0)
            pthread_cond_wait(&q->not_empty, &q->mu);
        sum += (uint64_t)q->buf[q->head];
        q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
        q->count--;
        pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->mu);
    }
    q->sum = sum;
    return NULL;
}

/* ---- anchor 2: lock-free SPSC ring ------------------------------------------
 * Each side owns one index and keeps a cached copy of the other's, re-read only
 * when the ring looks full (or empty); `every` items are published at once. A
 * side that keeps finding nothing yields its core now and then: on a machine
 * with more threads than cores a pure spin would burn the other side's slice. */

static void backoff(unsigned *spins) {
    if (++*spins % 64 == 0)
        sched_yield();
}

typedef struct spsc_ring {
    _Alignas(64) _Atomic size_t head;
    size_t tail_cache;
    _Alignas(64) _Atomic size_t tail;
    size_t head_cache;
    _Alignas(64) int64_t *buf;
    size_t cap;
    int64_t items;
    size_t every;
    uint64_t sum;
} spsc_ring;

static void *spsc_producer(void *p) {
    spsc_ring *q = p;
    size_t tail = 0, published = 0, slot = 0;
    for (int64_t i = 1; i <= q->items; i++) {
        for (unsigned spins = 0; tail - q->head_cache == q->cap; backoff(&spins))
            q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
        q->buf[slot] = i;
        slot = slot + 1 == q->cap ? 0 : slot + 1;
        tail++;
        if (tail - published >= q->every || i == q->items) {
            atomic_store_explicit(&q->tail, tail, memory_order_release);
            published = tail;
        }
    }
    return NULL;
}

static void *spsc_consumer(void *p) {
    spsc_ring *q = p;
    size_t head = 0, slot = 0, published = 0;
    uint64_t sum = 0;
    for (int64_t i = 0; i < q->items; i++) {
        for (unsigned spins = 0; head == q->tail_cache; backoff(&spins))
            q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
        sum += (uint64_t)q->buf[slot];
        slot = slot + 1 == q->cap ? 0 : slot + 1;
        head++;
        if (head - published >= q->every) {
            atomic_store_explicit(&q->head, head, memory_order_release);
            published = head;
        }
    }
    q->sum = sum;
    return NULL;
}

/* ---- anchor 3: bounded MPMC ring with a sequence number per slot ------------
 * The classic design for any number of producers and consumers: a slot's
 * sequence number says whose turn it is (equal to the position: a producer's;
 * position + 1: a consumer's), a side claims a position with one
 * compare-and-swap on its shared counter, copies, then moves the slot's number
 * on to the other side's turn for this lap (consumer: position + capacity). Run
 * here with one producer and one consumer, spinning (with yields) when full or
 * empty, which is the figure the channel's single-item path is held to. */

typedef struct mpmc_cell {
    _Atomic size_t seq;
    int64_t value;
} mpmc_cell;

typedef struct mpmc_ring {
    _Alignas(64) _Atomic size_t enq;
    _Alignas(64) _Atomic size_t deq;
    _Alignas(64) mpmc_cell *cells;
    size_t mask;
    int64_t items;
    uint64_t sum;
} mpmc_ring;

static int mpmc_push(mpmc_ring *q, int64_t v) {
    size_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
    for (;;) {
        mpmc_cell *cell = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                cell->value = v;
                atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
                return 1;
            }
        } else if (dif < 0) {
            return 0; /* full */
        } else {
            pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
        }
    }
}

static int mpmc_pop(mpmc_ring *q, int64_t *v) {
    size_t pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
    for (;;) {
        mpmc_cell *cell = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->deq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                *v = cell->value;
                atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
                return 1;
            }
        } else if (dif < 0) {
            return 0; /* empty */
        } else {
            pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
        }
    }
}

static void *mpmc_producer(void *p) {
    mpmc_ring *q = p;
    for (int64_t i = 1; i <= q->items; i++)
        for (unsigned spins = 0; !mpmc_push(q, i); backoff(&spins))
            continue;
    return NULL;
}

static void *mpmc_consumer(void *p) {
    mpmc_ring *q = p;
    uint64_t sum = 0;
    int64_t v;
    for (int64_t i = 0; i < q->items; i++) {
        for (unsigned spins = 0; !mpmc_pop(q, &v); backoff(&spins))
            continue;
        sum += (uint64_t)v;
    }
    q->sum = sum;
    return NULL;
}

/* ---- the channel alone: pk_chan_put and pk_chan_get of one item each -------- */

typedef struct chan_pair {
    pk_chan *ch;
    int64_t items;
    uint64_t sum;
} chan_pair;

static void *chan_producer(void *p) {
    chan_pair *q = p;
    for (int64_t i = 1; i <= q->items; i++)
        if (pk_chan_put(q->ch, &i) != 0)
            break;
    pk_chan_close(q->ch);
    return NULL;
}

static void *chan_consumer(void *p) {
    chan_pair *q = p;
    uint64_t sum = 0;
    int64_t v;
    while (pk_chan_get(q->ch, &v) == 0)
        sum += (uint64_t)v;
    q->sum = sum;
    return NULL;
}

/* ---- timing ------------------------------------------------------------------ */

typedef int (*bench_fn)(const bench_cfg *cfg, void *arg, double *seconds);

static int run_pair(void *(*prod)(void *), void *(*cons)(void *), void *q, double *seconds) {
    pthread_t tp, tc;
    double t0 = pk_time_now();
    if (pthread_create(&tc, NULL, cons, q) != 0)
        return -1;
    if (pthread_create(&tp, NULL, prod, q) != 0) {
        pthread_cancel(tc); /* it waits for items that will not come */
        pthread_join(tc, NULL);
        return -1;
    }
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    *seconds = pk_time_now() - t0;
    return 0;
}

static uint64_t sum_to(int64_t n) {
    return (uint64_t)n * (uint64_t)(n + 1) / 2;
}

static int bench_mutex(const bench_cfg *cfg, void *arg, double *seconds) {
    (void)arg;
    mutex_ring q = {.cap = cfg->capacity, .items = cfg->items};
    q.buf = malloc(q.cap * sizeof *q.buf);
    if (q.buf == NULL)
        return -1;
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.not_full, NULL);
    pthread_cond_init(&q.not_empty, NULL);
    int rc = run_pair(mutex_producer, mutex_consumer, &q, seconds);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.not_full);
    pthread_cond_destroy(&q.not_empty);
    free(q.buf);
    return rc == 0 && q.sum == sum_to(cfg->items) ? 0 : -1;
}

static int bench_spsc(const bench_cfg *cfg, void *arg, double *seconds) {
    spsc_ring *q = aligned_alloc(64, sizeof(spsc_ring));
    if (q == NULL)
        return -1;
    memset(q, 0, sizeof *q);
    q->cap = cfg->capacity;
    q->items = cfg->items;
    q->every = *(const size_t *)arg;
    q->buf = malloc(q->cap * sizeof *q->buf);
    int rc = q->buf == NULL ? -1 : run_pair(spsc_producer, spsc_consumer, q, seconds);
    int ok = rc == 0 && q->sum == sum_to(cfg->items);
    free(q->buf);
    free(q);
    return ok ? 0 : -1;
}

static int bench_mpmc(const bench_cfg *cfg, void *arg, double *seconds) {
    (void)arg;
    size_t cap = 1;
    while (cap < cfg->capacity)
        cap <<= 1;
    mpmc_ring *q = aligned_alloc(64, sizeof(mpmc_ring));
    if (q == NULL)
        return -1;
    memset(q, 0, sizeof *q);
    q->mask = cap - 1;
    q->items = cfg->items;
    q->cells = malloc(cap * sizeof *q->cells);
    int rc = -1;
    if (q->cells != NULL) {
        for (size_t i = 0; i < cap; i++)
            atomic_init(&q->cells[i].seq, i);
        rc = run_pair(mpmc_producer, mpmc_consumer, q, seconds);
    }
    int ok = rc == 0 && q->sum == sum_to(cfg->items);
    free(q->cells);
    free(q);
    return ok ? 0 : -1;
}

typedef struct chan_case {
    pk_ctx *ctx;
    int bind_roles;
} chan_case;

static int bench_chan(const bench_cfg *cfg, void *arg, double *seconds) {
    const chan_case *cc = arg;
    pk_ctx *ctx = cc->ctx;
    pk_chan_opts o = {.elem_size = sizeof(int64_t),
                      .capacity = cfg->capacity,
                      .producers = 1,
                      .consumers = 1,
                      .bind_roles = cc->bind_roles};
    chan_pair q = {.items = cfg->items};
    if (pk_chan_open(ctx, &q.ch, &o) != 0)
        return -1;
    int rc = run_pair(chan_producer, chan_consumer, &q, seconds);
    pk_chan_free(q.ch);
    return rc == 0 && q.sum == sum_to(cfg->items) ? 0 : -1;
}

typedef struct kernel_case {
    pk_ctx *ctx;
    int producers, consumers;
    size_t batch;
} kernel_case;

static int bench_kernel(const bench_cfg *cfg, void *arg, double *seconds) {
    const kernel_case *k = arg;
    pk_prodcons_opts o = {.producers = k->producers,
                          .consumers = k->consumers,
                          .capacity = cfg->capacity,
                          .items = cfg->items,
                          .batch = k->batch};
    pk_prodcons_result res;
    double t0 = pk_time_now();
    int rc = pk_prodcons(k->ctx, &o, &res);
    *seconds = pk_time_now() - t0;
    if (rc != 0) {
        char buf[512];
        pk_ctx_error_string(k->ctx, buf, sizeof buf);
        fprintf(stderr, "bench_prodcons: %s\n", buf);
        return -1;
    }
    int ok = res.produced == cfg->items && res.consumed == cfg->items &&
             res.sum_consumed == sum_to(cfg->items) && res.xor_consumed == res.xor_produced;
    return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One line of the table: how to run it, and its times over the rounds. */
typedef struct bench_case {
    char name[64];
    bench_fn fn;
    void *arg;
    double seconds[64];
    double cpus[64]; /* processor time / wall time of each run: how many cores it got */
    int failed;
} bench_case;

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rounds of every case in turn, so that a change in the machine's load (it is
 * shared) shifts all cases alike instead of one; the first round is a warm-up. */
static void run_rounds(const bench_cfg *cfg, bench_case *cases, int ncases) {
    for (int round = 0; round <= cfg->repeats; round++) {
        for (int i = 0; i < ncases; i++) {
            double dt = 0, cpu0 = cpu_seconds();
            if (cases[i].failed || cases[i].fn(cfg, cases[i].arg, &dt) != 0) {
                cases[i].failed = 1;
            } else if (round > 0) {
                cases[i].seconds[round - 1] = dt;
                cases[i].cpus[round - 1] = (cpu_seconds() - cpu0) / dt;
            }
        }
    }
}

static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct summary {
    double median, best, cpus; /* items/s at the median and best run; cores used */
} summary;

/* Zeros when the case failed. */
static summary summarize(const bench_cfg *cfg, bench_case *c) {
    summary m = {0, 0, 0};
    if (c->failed)
        return m;
    m.median = (double)cfg->items / median_of(c->seconds, cfg->repeats);
    m.best = (double)cfg->items / c->seconds[0]; /* sorted by median_of */
    m.cpus = median_of(c->cpus, cfg->repeats);
    return m;
}

static void print_row(const char *name, summary m, double mutex_rate, double spsc_rate,
                      double mpmc_rate) {
    if (m.median == 0) {
        printf("%-42s %8s\n", name, "FAILED");
        return;
    }
    printf("%-42s %8.2f %8.2f %6.2f %8.2fx %7.2fx %7.2fx\n", name, m.median / 1e6, m.best / 1e6,
           m.cpus, m.median / mutex_rate, m.median / spsc_rate, m.median / mpmc_rate);
}

static int usage(const char *msg, const char *arg) {
    fprintf(stderr, "bench_prodcons: %s '%s'\nUsage: bench_prodcons [ITEMS [REPEATS [CAPACITY]]]\n",
            msg, arg);
    return -1;
}

static int parse_args(int argc, char **argv, bench_cfg *cfg) {
    const char *why = "";
    int64_t v;
    if (argc > 4)
        return usage("too many arguments:", argv[4]);
    if (argc > 1 && (pk_parse_i64(argv[1], &cfg->items, &why) != 0 || cfg->items < 1))
        return usage("ITEMS must be a number of at least 1, not", argv[1]);
    if (argc > 2 && (pk_parse_i64(argv[2], &v, &why) != 0 || v < 1 || v > 64))
        return usage("REPEATS must be 1..64, not", argv[2]);
    if (argc > 2)
        cfg->repeats = (int)v;
    if (argc > 3 && (pk_parse_i64(argv[3], &v, &why) != 0 || v < 64 || v > (1 << 24)))
        return usage("CAPACITY must be 64..2^24, not", argv[3]);
    if (argc > 3)
        cfg->capacity = (size_t)v;
    return 0;
}

#if PARKIT_WITH_MPI
/* ---- ranks: the kernel between 2 ranks against the raw message rate ------- */

enum { RAW_WINDOW = 64 };

/* Rank 0 sends n 8-byte messages to rank 1, RAW_WINDOW at a time in flight;
 * rank 1 answers the last one so rank 0's clock covers the delivery. */
static double raw_rate_round(MPI_Comm comm, int rank, int64_t n) {
    int64_t buf[RAW_WINDOW];
    MPI_Request reqs[RAW_WINDOW];
    MPI_Barrier(comm);
    double t0 = pk_time_now();
    for (int64_t done = 0; done < n;) {
        int w = n - done < RAW_WINDOW ? (int)(n - done) : RAW_WINDOW;
        for (int i = 0; i < w; i++) {
            buf[i] = done + i + 1;
            if (rank == 0)
                MPI_Isend(&buf[i], 1, MPI_INT64_T, 1, 0, comm, &reqs[i]);
            else
                MPI_Irecv(&buf[i], 1, MPI_INT64_T, 0, 0, comm, &reqs[i]);
        }
        MPI_Waitall(w, reqs, MPI_STATUSES_IGNORE);
        done += w;
    }
    if (rank == 0)
        MPI_Recv(buf, 1, MPI_INT64_T, 1, 1, comm, MPI_STATUS_IGNORE);
    else
        MPI_Send(buf, 1, MPI_INT64_T, 0, 1, comm);
    return pk_time_now() - t0;
}

static double kernel_round(pk_ctx *ctx, int64_t n, size_t capacity, size_t batch) {
    pk_prodcons_opts o = {
        .producers = 1, .consumers = 1, .capacity = capacity, .items = n, .batch = batch};
    pk_prodcons_result res;
    MPI_Barrier(pk_ctx_comm(ctx));
    double t0 = pk_time_now();
    int rc = pk_prodcons(ctx, &o, &res);
    double dt = pk_time_now() - t0;
    int ok = rc == 0 && res.consumed == n && res.sum_consumed == sum_to(n);
    return ok ? dt : -1;
}

/* Alternate rounds of both after a warm-up; rank 0 prints medians and the ratio. */
static int bench_ranks(pk_ctx *ctx, const bench_cfg *cfg) {
    MPI_Comm comm = pk_ctx_comm(ctx);
    int rank = pk_ctx_rank(ctx), failed = 0;
    double raw[64], chan[64], batched[64];
    pk_ctx_set_threads(ctx, 1);
    for (int round = 0; round <= cfg->repeats && !failed; round++) {
        double r = raw_rate_round(comm, rank, cfg->items);
        double k = kernel_round(ctx, cfg->items, cfg->capacity, 1);
        double b = kernel_round(ctx, cfg->items, cfg->capacity, cfg->capacity);
        failed = k < 0 || b < 0;
        if (round > 0) {
            raw[round - 1] = r;
            chan[round - 1] = k;
            batched[round - 1] = b;
        }
    }
    if (rank != 0)
        return failed;
    if (failed) {
        fprintf(stderr, "bench_prodcons: the kernel failed between ranks\n");
        return 1;
    }
    double rr = (double)cfg->items / median_of(raw, cfg->repeats);
    double kr = (double)cfg->items / median_of(chan, cfg->repeats);
    double br = (double)cfg->items / median_of(batched, cfg->repeats);
    printf("ranks: 2, %lld items, capacity %zu, median of %d alternate rounds after a warm-up\n",
           (long long)cfg->items, cfg->capacity, cfg->repeats);
    printf("%-48s %10s %9s\n", "M items/s", "median", "vs raw");
    printf("%-48s %10.2f %8.2fx\n", "anchor: raw MPI_Isend of 8-byte messages", rr / 1e6, 1.0);
    printf("%-48s %10.2f %8.2fx\n", "parkit prodcons 1P1C on 2 ranks, batch 1", kr / 1e6, kr / rr);
    char name[64];
    snprintf(name, sizeof name, "parkit prodcons 1P1C on 2 ranks, batch %zu", cfg->capacity);
    printf("%-48s %10.2f %8.2fx\n", name, br / 1e6, br / rr);
    return 0;
}
#endif

enum { MUTEX, SPSC, SPSC64, MPMC, CHAN, CHAN_BOUND, NANCHORS };

int main(int argc, char **argv) {
    bench_cfg cfg = {.items = 20000000, .repeats = 5, .capacity = 1024};
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    pk_ctx *ctx = NULL;
#if PARKIT_WITH_MPI
    if (pk_mpi_launched()) {
        int level = 0, rc = 1;
        if (pk_mpi_init(&argc, &argv, &level) != 0 || pk_ctx_new(&ctx, "mpi") != 0)
            fprintf(stderr, "bench_prodcons: no MPI context\n");
        else if (pk_ctx_size(ctx) != 2)
            fprintf(stderr, "bench_prodcons: under mpirun, run it on 2 ranks\n");
        else
            rc = bench_ranks(ctx, &cfg);
        pk_ctx_free(ctx);
        pk_mpi_finalize();
        return rc;
    }
#endif
    if (pk_ctx_new(&ctx, NULL) != 0) {
        fprintf(stderr, "bench_prodcons: no parkit context\n");
        return 1;
    }
    static size_t one = 1, sixty_four = 64;
    static const kernel_case teams[] = {
        {NULL, 1, 1, 1}, {NULL, 2, 2, 1}, {NULL, 1, 1, 64}, {NULL, 2, 2, 64}};
    enum { NTEAMS = sizeof teams / sizeof teams[0] };
    kernel_case kc[NTEAMS];
    chan_case chans[2] = {{ctx, 0}, {ctx, 1}};
    bench_case cases[NANCHORS + NTEAMS] = {
        [MUTEX] = {.name = "anchor: mutex+condvar ring, 1P1C", .fn = bench_mutex},
        [SPSC] = {.name = "anchor: lock-free SPSC ring, 1P1C", .fn = bench_spsc, .arg = &one},
        [SPSC64] = {.name = "anchor: SPSC ring, publish every 64",
                    .fn = bench_spsc,
                    .arg = &sixty_four},
        [MPMC] = {.name = "anchor: MPMC ring (slot sequences), 1P1C", .fn = bench_mpmc},
        [CHAN] = {.name = "pk_chan put/get alone, 1P1C", .fn = bench_chan, .arg = &chans[0]},
        [CHAN_BOUND] = {.name = "pk_chan alone, 1P1C, bind_roles",
                        .fn = bench_chan,
                        .arg = &chans[1]},
    };
    for (int i = 0; i < NTEAMS; i++) {
        kc[i] = teams[i];
        kc[i].ctx = ctx;
        bench_case *c = &cases[NANCHORS + i];
        snprintf(c->name, sizeof c->name, "parkit prodcons %dP%dC, batch %zu", kc[i].producers,
                 kc[i].consumers, kc[i].batch);
        c->fn = bench_kernel;
        c->arg = &kc[i];
    }
    printf("producer/consumer: %lld items, capacity %zu, backend %s, median of %d rounds\n"
           "(each round runs every line once, after a warm-up round)\n",
           (long long)cfg.items, cfg.capacity, pk_ctx_backend(ctx), cfg.repeats);
    run_rounds(&cfg, cases, NANCHORS + NTEAMS);
    summary sums[NANCHORS + NTEAMS];
    for (int i = 0; i < NANCHORS + NTEAMS; i++)
        sums[i] = summarize(&cfg, &cases[i]);
    double mutex_rate = sums[MUTEX].median, spsc_rate = sums[SPSC].median;
    double mpmc_rate = sums[MPMC].median;
    if (mutex_rate == 0 || spsc_rate == 0 || mpmc_rate == 0) {
        fprintf(stderr, "bench_prodcons: an anchor failed\n");
        pk_ctx_free(ctx);
        return 1;
    }
    printf("%-42s %8s %8s %6s %9s %8s %8s\n", "M items/s", "median", "best", "cores", "vs mutex",
           "vs spsc", "vs mpmc");
    int failed = 0;
    for (int i = 0; i < NANCHORS + NTEAMS; i++) {
        failed |= sums[i].median == 0;
        print_row(cases[i].name, sums[i], mutex_rate, spsc_rate, mpmc_rate);
    }
    printf("(cores: processor time over wall time, median; below 2 the machine was shared.\n"
           " Ratios compare medians.)\n");
    pk_ctx_free(ctx);
    return failed ? 1 : 0;
}
