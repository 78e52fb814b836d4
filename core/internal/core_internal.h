/* parkit internals shared by core, the backends (omp/, mpi/) and the registry
 * (parkit/). Not installed, and not on the include path of kernels/, apps/,
 * examples/ or bench/: they use the public headers only.
 *
 * A pool call becomes a pk__job: n indices cut into nchunks chunks. A backend's
 * run() executes chunks [0, nchunks) over its workers; each thread of each worker
 * process calls pk__job_worker() on the chunks its process owns, which does the
 * scheduling, fault injection, error capture and progress in one place for all
 * backends. Names declared here start with pk__ (internal, not static); names
 * with pk_ are public and declared in the parkit/ headers. */
#ifndef PARKIT_CORE_INTERNAL_H
#define PARKIT_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "parkit/parkit.h"

#if defined(__GNUC__)
#define PK__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PK__PRINTF(f, a)
#endif

enum pk__kind { PK__FOR, PK__MAP_REDUCE, PK__TASKS, PK__COMBINE, PK__TEAM };

/* Fault-injection spec parsed from "kernel=K,rank=R,thread=T,task=I,fail=F";
 * -1 = any. */
typedef struct pk__fault {
    int armed;
    int alloc;       /* fail=alloc: the first matching allocation fails (pk_worker_reserve) */
    char kernel[32]; /* "" = any */
    int rank;
    int thread;
    int64_t task;
    int fired; /* set after a call in which it fired */
} pk__fault;

typedef struct pk__job pk__job;

/* One table per backend. C99 designated initializers, one slot per line. */
typedef struct pk_backend {
    const char *name;
    unsigned caps; /* PK__CAP_* */
    int (*init)(pk_ctx *ctx);
    void (*finalize)(pk_ctx *ctx);
    int (*default_threads)(pk_ctx *ctx);
    /* pk_ctx_solo_threads(); NULL slot: pk_ctx_threads(). */
    int (*solo_threads)(pk_ctx *ctx);
    /* Runs chunks [0, job->nchunks) over the pool; returns the agreed error code. */
    int (*run)(pk_ctx *ctx, pk__job *job);
    /* After run() of a PK__MAP_REDUCE: combine the partials into result. */
    int (*reduce)(pk_ctx *ctx, pk__job *job, void *result);
    /* After run() of PK__TASKS or a map with output: move results where asked. */
    int (*collect)(pk_ctx *ctx, pk__job *job);
    int (*team)(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg);
    int (*local_range)(pk_ctx *ctx, const pk__job *job, int64_t *clo, int64_t *chi);
    /* Channels. */
    int (*chan_open)(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts);
    int (*barrier)(pk_ctx *ctx);
    /* Ranks sweeps: the context of the first `ranks` ranks (NULL on the others),
     * collective over ctx. NULL slot: only the whole pool exists. */
    int (*subpool)(pk_ctx *ctx, int ranks, pk_ctx **sub);
    /* Broadcasts len bytes from rank 0 (no-op without ranks). */
    int (*bcast)(pk_ctx *ctx, void *buf, size_t len);
    /* Makes a local return code collective: every rank gets the same code and
     * the same error detail in ctx. Identity without ranks. */
    int (*agree)(pk_ctx *ctx, int rc);
    /* The same for ranks that wait while one works alone (pk_agree_solo): they
     * leave their cores while they wait. NULL slot: agree. */
    int (*agree_solo)(pk_ctx *ctx, int rc);
    /* Memory of `bytes` that every worker of the pool reaches (sync.c);
     * collective and agreed. Where the workers share memory, *base is its
     * address in this process, 64-byte aligned, contents undefined. Where they
     * do not (ranks on several nodes), *base is NULL, the contents are zero,
     * and the bytes are reached only through segment_op and segment_xfer.
     * NULL slot: the pool is this process, plain memory serves. */
    int (*segment_new)(pk_ctx *ctx, size_t bytes, void **base, void **handle);
    void (*segment_free)(pk_ctx *ctx, void *handle);
    /* One atomic operation (PK__SEG_*) on the 64-bit word at byte off of a
     * segment without a base, from any worker: *old (may be NULL) gets the word
     * before. PK__SEG_CAS stores operand when the word equals compare. On
     * failure records why with pk__ctx_note (not with PK__SEG_QUIET) and returns
     * the code; PK_ENOTSUP: this thread may not make the call. */
    int (*segment_op)(pk_ctx *ctx, void *handle, int op, size_t off, uint64_t operand,
                      uint64_t compare, uint64_t *old);
    /* Copies len bytes at off into the segment (put) or out of it; element
     * words are not torn by a concurrent segment_op, nothing more is promised. */
    int (*segment_xfer)(pk_ctx *ctx, void *handle, int put, size_t off, size_t len, void *buf);
    /* Messages between ranks for the executor (exec.c), on a channel of their
     * own; NULL slots: one process. msg_open and msg_close are collective;
     * msg_close first completes this rank's sends. msg_send takes buf (malloc'ed,
     * freed by the backend once sent; NULL with len 0 allowed) and never waits
     * for the receiver. msg_poll: 1 with the next message (*buf malloc'ed, the
     * caller frees; in order per sender), 0 when none has arrived, or an error.
     * Tags 1..99. Only the thread that makes pool calls uses them. */
    int (*msg_open)(pk_ctx *ctx, void **chan);
    int (*msg_send)(pk_ctx *ctx, void *chan, int to, int tag, void *buf, size_t len);
    int (*msg_poll)(pk_ctx *ctx, void *chan, int *from, int *tag, void **buf, size_t *len);
    void (*msg_close)(pk_ctx *ctx, void *chan);
    /* Progress of a job over the whole pool: adds this process's chunks done
     * since its last call and returns the pool's total so far (meaningful on
     * rank 0). Called by each rank's thread 0 at most once per progress
     * interval. NULL slot: the process is the pool. */
    int64_t (*progress_sum)(pk_ctx *ctx, pk__job *job, int64_t local_done);
} pk_backend;

enum { PK__CAP_THREADS = 1u, PK__CAP_RANKS = 2u };

/* segment_op's operations. */
enum {
    PK__SEG_LOAD = 1,
    PK__SEG_STORE,
    PK__SEG_ADD,
    PK__SEG_SWAP,
    PK__SEG_CAS,
    PK__SEG_QUIET = 1 << 8, /* or'ed in: no note on failure */
};

/* Channel operations, one table per channel implementation. */
typedef struct pk__chan_ops {
    int (*put)(pk_chan *ch, const void *items, size_t count, int block);
    int (*get)(pk_chan *ch, void *items, size_t max, size_t *got, int block);
    int (*close)(pk_chan *ch);
    int (*abort_with)(pk_chan *ch, int code);
    size_t (*max_depth)(const pk_chan *ch);
    size_t (*peek)(const pk_chan *ch, void *items, size_t max);
    void (*free)(pk_chan *ch);
    /* Optional: sends what the caller put and the channel still keeps. */
    void (*flush)(pk_chan *ch);
} pk__chan_ops;

/* Every channel starts with this header. */
struct pk_chan {
    const pk__chan_ops *ops;
    pk_ctx *ctx;
    size_t elem_size;
    int producers, consumers;
};

/* Records a refusal of a call on ch in its context's error (serialized over
 * threads) and returns code. */
int pk__chan_refuse(pk_chan *ch, int code, const char *fmt, ...) PK__PRINTF(3, 4);

struct pk_ctx {
    const pk_backend *backend; /* what the calls dispatch to */
    const pk_backend *local;   /* the threaded executor inside one process (omp or serial) */
    void *impl;                /* backend's private state (MPI communicator, ...) */
    int threads;               /* requested; 0 = default */
    int threads_obtained;
    int rank, nranks;
    const char *kernel; /* label of the kernel being run, NULL outside kernels */
    pk_error_info err;
    pk__fault fault;
    pk_progress_fn progress;
    void *progress_arg;
    pk_interrupt_fn interrupt; /* polled by workers between chunks; NULL: none */
    void *interrupt_arg;
    double progress_interval;
    double progress_due; /* pk_ctx_progress: the next report is due then */
    /* pool calls: this process's next report is due then (0: none yet). Kept
     * from call to call, so that calls shorter than the interval, one after
     * the other, still report about once an interval; atomic as calls may
     * start on several threads */
    _Atomic double progress_pool_due;
    pk_chan *chans[16];      /* open channels, woken by abort when a call fails */
    struct pk__sync **syncs; /* open sharing primitives, broken when a call fails */
    int nsyncs, cap_syncs;
    struct pk__sync **grave; /* the last freed primitives, kept to refuse their use */
    int grave_next;
    int nchans;
    int redirect_ok; /* rank layout lets the fault task move (set by the backend) */
};

struct pk__job {
    pk_ctx *ctx;
    int kind;
    const char *label;
    int64_t n, chunk, nchunks;
    int schedule;
    int nthreads; /* threads to ask for */
    pk_opts opts;
    /* callbacks */
    pk_range_fn range_fn;
    pk_chunk_fn chunk_fn;
    pk_task_fn task_fn;
    void *arg;
    /* map output: element i lives at out + (i - out_base) * elem_size */
    size_t elem_size;
    char *out;
    int64_t out_base;
    /* reduction partials: chunk c at partials + (c - part_base) * red->type.size */
    const pk_reducer *red;
    int set_result; /* result = reduction (pk_combine), else result (+)= reduction */
    char *partials;
    int64_t part_base;
    /* task results: task t at results + (t - res_base) * rtype->size */
    const pk_type *rtype;
    char *results;
    int64_t res_base;
    /* combine jobs: pair p combines partials comb_first + 2 p stride and that + stride */
    int64_t stride, comb_first;
    /* this process's chunks and the dynamic counter over them */
    int64_t clo, chi;
    /* PK_STATIC on ranks: the rank's block runs in parts, [clo, chi) one of
     * them; on one thread the run goes on from chi into the next part up to
     * here (pk_worker_run_end). 0: the run ends at chi. */
    int64_t parts_end;
    _Atomic int64_t next;
    /* errors: first one wins */
    atomic_int stop;
    atomic_int err_claimed;
    pk_error_info err;
    /* fault injection for this call */
    int fault_on;
    int64_t task_base;   /* opts.task_base: reported task = task_base + local number */
    int process_scope;   /* PK_SCOPE_PROCESS: this process's threads only */
    int64_t fault_chunk; /* chunk holding the fault's task, -1 when none */
    atomic_int fault_fired;
    atomic_int fault_task_done;
    /* progress */
    _Atomic int64_t done;
    double progress_next;
    /* chunks the progress fraction counts against; 0: chi - clo. Set by backends
     * that run this process's share in several parts (done then runs on). */
    int64_t progress_total;
    int64_t progress_sent; /* chunks done here already counted by progress_sum */
    atomic_int threads_obtained;
    /* Workers kept across several local runs of one job (the MPI backend runs a
     * rank's share in parts): worker_begin once per thread at its first chunk,
     * worker_end once in pk__job_end_workers. NULL: every run begins and ends its
     * own workers. */
    pk_worker *kept;
    signed char *kept_state; /* 0 not begun, 1 begun, -1 begin failed */
    int nkept;
    /* rank layout, set by the backend before workers start */
    int rank, nranks;
};

/* ---- contexts ---- */
int pk__ctx_create(pk_ctx **out, const pk_backend *backend, const pk_backend *local, void *impl);
/* Channels opened on a context are aborted when a pool call on it fails. */
void pk__ctx_add_chan(pk_ctx *ctx, pk_chan *ch);
void pk__ctx_remove_chan(pk_ctx *ctx, pk_chan *ch);
void pk__ctx_abort_chans(pk_ctx *ctx, int code);
/* Sends the items the channels of ctx keep for later (a worker is about to wait
 * outside them, on a sharing primitive). */
void pk__ctx_flush_chans(pk_ctx *ctx);

/* ---- error helpers ---- */
int pk__set_error(pk_ctx *ctx, int code, const char *fmt, ...) PK__PRINTF(3, 4);
int pk__set_errorv(pk_ctx *ctx, int code, const char *fmt, va_list ap);
/* Copies a job's first error into ctx->err (code returned). */
int pk__job_error_to_ctx(pk__job *job);

/* ---- jobs ---- */
void pk__job_init(pk__job *job, pk_ctx *ctx, int kind, int64_t n, const pk_opts *opts);
/* The per-thread loop: runs this thread's share of chunks [job->clo, job->chi). */
void pk__job_worker(pk__job *job, int thread, int nthreads);
/* Keeps the workers of threads 0..nthreads-1 across the local runs of this job
 * (no-op without worker_begin/worker_end). PK_ENOMEM. */
int pk__job_keep_workers(pk__job *job, int nthreads);
/* The worker for `thread`: the kept one (begun at its first use) or own, freshly
 * begun. NULL when worker_begin failed (the job's error is set). */
pk_worker *pk__job_enter_worker(pk__job *job, pk_worker *own, int thread, int nthreads);
/* Ends a worker that is not kept. */
void pk__job_leave_worker(pk__job *job, pk_worker *w);
/* worker_end for every kept worker that began, in thread order; frees them. */
void pk__job_end_workers(pk__job *job);
/* One member of a pk_team: runs fn as worker id of n, recording its error. */
void pk__team_member(pk__job *job, pk_team_fn fn, void *arg, int id, int n);

/* The team worker id of the calling thread while it runs a pk_team callback,
 * -1 elsewhere (a channel with bound roles checks it; see chan_threads.c). */
#if defined(__GNUC__)
extern _Thread_local int pk__team_id __attribute__((tls_model("initial-exec")));
#else
extern _Thread_local int pk__team_id;
#endif
/* The chunk holding the armed fault's task in the job's numbering (task_base
 * applied), -1 when the fault names no task of this job. */
int64_t pk__job_fault_chunk(const pk__job *job);
/* Runs one chunk on w (fault check, callback, error capture). */
int pk__job_chunk(pk__job *job, pk_worker *w, int64_t c);
/* Records rc (negative) from w as the job's error if it is the first. */
void pk__job_fail(pk__job *job, pk_worker *w, int rc);
/* The fixed reduction tree over chunk numbers [0, nchunks): at level s = 1, 2, 4, ...
 * partial i (i a multiple of 2s) takes in partial i + s. pk__reduce_level does the
 * pairs of one level whose both partials lie in [lo, hi) (the partials this
 * process holds), over the local threads when the reducer is heavy. */
int pk__reduce_level(pk_ctx *ctx, pk__job *job, int64_t lo, int64_t hi, int64_t s);
/* All levels over [0, nchunks) held locally, then partial 0 into result
 * (pk__result_take). */
int pk__reduce_local(pk_ctx *ctx, pk__job *job, void *result);
int pk__collect_local(pk_ctx *ctx, pk__job *job);
/* The reduction's total into the caller's result: result (+)= total, or with
 * job->set_result, result = total (moved). */
int pk__result_take(pk_ctx *ctx, pk__job *job, void *result, void *total);
/* dst = src, moved: dst's old value destroyed, src given a fresh initial value
 * (it is a partial destroyed later with the others). */
int pk__value_move(pk_ctx *ctx, const pk_type *t, void *dst, void *src);
/* value = the type's initial value (the old one destroyed). */
int pk__value_reset(pk_ctx *ctx, const pk_type *t, void *value);
/* Fills opts defaults. */
pk_opts pk__opts_or_default(const pk_opts *opts, int kind);
int64_t pk__default_chunk(int64_t n);

/* ---- spinning and fences (fence.c) ---- */

/* Tells the core this thread spins (a pause), between looks at a shared word. */
static inline void pk__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Brings a line this thread will write soon (a hint: never faults). */
static inline void pk__prefetch_write(const void *p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1);
#endif
}

/* A sleeper announces itself and then re-checks what it waits for; a mover
 * publishes and then checks for sleepers. Without a full fence on both sides
 * each could miss the other (a store may wait in the store buffer while the
 * next load runs). Linux's membarrier lets the sleeper, on its slow path, put
 * that fence in every running thread of the process at once, so the mover's
 * fast path needs only a compiler barrier; elsewhere the mover fences.
 * pk__asym_fences: 1 when the process could register for that (once). */
int pk__asym_fences(void);

static inline void pk__mover_fence(int asym) {
    if (asym)
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
}

/* The sleeper's side; 0 when the movers could not be fenced (membarrier
 * failing after it registered, which it should not): then a sleeper must not
 * rely on a wake-up. */
int pk__sleeper_fence(int asym);

/* The cores this process may run on (its affinity, else the online CPUs). */
int pk__usable_cores(void);

/* ---- shared backend pieces ---- */
void pk__worker_init(pk_worker *w, pk__job *job, int thread, int nthreads);
int pk__type_init_array(const pk_type *t, char *values, int64_t count);
void pk__type_destroy_array(const pk_type *t, char *values, int64_t count);
void pk__progress_tick(pk__job *job, pk_worker *w);

/* Records code and a message in ctx's error from any thread (serialized with
 * every other such note); returns code. For refusals inside callbacks. */
int pk__ctx_note(pk_ctx *ctx, int code, const char *fmt, ...) PK__PRINTF(3, 4);
int pk__ctx_notev(pk_ctx *ctx, int code, const char *fmt, va_list ap);
/* The reason of this thread's last note on ctx when it had this code (taken:
 * asked once), else NULL. */
const char *pk__ctx_take_note(const pk_ctx *ctx, int code);

/* Sharing primitives (sync.c): a pool call failed, so every primitive open on
 * ctx breaks and its waiters, on every rank, wake with PK_EABORTED. */
void pk__ctx_break_syncs(pk_ctx *ctx);
void pk__ctx_free_syncs(pk_ctx *ctx);

/* Threads-backend channel (mutex and condition variables), also used by serial. */
int pk__chan_threads_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts);

extern const pk_backend pk__serial_backend;

double pk__now(void);

#endif
