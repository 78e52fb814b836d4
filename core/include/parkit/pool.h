/* The parkit pool: your own function on threads or on MPI ranks, with one call.
 *
 * parkit's answer to Python's multiprocessing.Pool and concurrent.futures:
 *   pk_for         a body over index chunks of [0, n)              (Pool.map, side effects)
 *   pk_map_reduce  the same with an output array and/or a reduction  (Pool.map + reduce)
 *   pk_tasks       unequal tasks claimed dynamically, results in task order (starmap)
 *   pk_team        exactly N workers at once, each with its own role  (Process x N)
 *   pk_chan        a bounded channel between workers               (Queue)
 *
 * What runs where. The pool is the context's backend: one thread (serial),
 * pk_ctx_threads() threads (omp), or the ranks of the communicator with that
 * many threads each (mpi). Under MPI every rank calls the same function with the
 * same arguments; callbacks are plain C functions that run on whichever rank and
 * thread own a chunk. Chunks are numbered 0..nchunks-1 and the chunk size does
 * not depend on the pool size, so chunk numbers (the "task" in error origins)
 * mean the same thing on every pool.
 *
 * Errors. A callback returns 0 or a negative pk_errno; pk_fail() attaches a
 * message. The first error wins: the other workers stop at their next chunk,
 * and the call returns that code on every thread and rank, with its origin
 * (kernel, rank, thread, task) in pk_ctx_error(). Workers blocked in a channel
 * are woken. Nothing is left running when a call returns. */
#ifndef PARKIT_POOL_H
#define PARKIT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "parkit/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Who is running a callback. Read-only for callbacks, except `local`. */
typedef struct pk_worker {
    int rank;     /* rank in the context's communicator (0 without MPI) */
    int nranks;   /* ranks taking part */
    int thread;   /* thread inside this rank, 0..nthreads-1 */
    int nthreads; /* threads obtained in this rank */
    int id; /* worker number over the whole pool: rank * nthreads + thread (pk_team: 0..n-1) */
    int nworkers;         /* workers over the whole pool */
    int64_t task;         /* chunk or task being run, -1 between tasks */
    void *local;          /* free for the caller: set in worker_begin, read in callbacks */
    struct pk__job *job_; /* private */
    int64_t run_end_;     /* private: see pk_worker_run_end */
} pk_worker;

enum pk_schedule {
    PK_SCHEDULE_DEFAULT = 0, /* PK_STATIC, except PK_DYNAMIC for pk_tasks */
    PK_STATIC = 1,           /* each worker takes a contiguous block of chunks */
    PK_DYNAMIC = 2,          /* workers claim the next chunk when done (unequal work) */
};

enum pk_where {
    PK_ON_ROOT = 0,     /* bulk results land on rank 0 (default) */
    PK_ON_ALL = 1,      /* every rank gets them */
    PK_DISTRIBUTED = 2, /* each rank keeps the part it computed (see pk_local_range) */
};

/* Options common to the pool calls; a NULL pointer or a zeroed struct means
 * the defaults. */
typedef struct pk_opts {
    int schedule;      /* enum pk_schedule */
    int64_t chunk;     /* indices per chunk; 0: chosen from n alone (never from the pool size) */
    int where;         /* enum pk_where, for outputs and results */
    size_t arg_stride; /* pk_tasks: task i gets (char *)arg + i * arg_stride (starmap); 0: arg */
    const char
        *label; /* name used as "kernel" in error origins; NULL: the running kernel or "pool" */
    /* Optional per-worker set-up and tear-down (Pool's initializer): begin runs
     * once on each worker before its first chunk, end after its last (also after
     * an error, when begin succeeded). begin may fail like any callback. */
    int (*worker_begin)(void *arg, pk_worker *w);
    void (*worker_end)(void *arg, pk_worker *w);
    /* Optional (Pool's error_callback): called once, on rank 0, with the agreed
     * error when the call fails, before it returns. */
    void (*on_error)(void *arg, const pk_error_info *err);
    /* Task numbering for a call that does part of a bigger job: error origins and
     * injected faults speak of task task_base + i for the call's chunk or task i
     * (callbacks still get i). 0: the call's own numbering. Must be >= 0. */
    int64_t task_base;
    /* enum pk_scope: the whole pool (default, collective) or only the threads of
     * the calling process (PK_SCOPE_PROCESS). */
    int scope;
    /* PK_NO_FAULTS | PK_NO_PROGRESS, or 0. */
    unsigned flags;
} pk_opts;

enum pk_scope {
    /* Every thread of every rank; collective under MPI: every rank makes the call. */
    PK_SCOPE_POOL = 0,
    /* Only the threads of this process, like a plain OpenMP loop: under MPI only
     * the calling rank makes the call (rank 0 finishing a step alone, say), no
     * other rank takes part or waits, outputs and results stay in this process
     * (`where` is ignored), and the error is this rank's own: call pk_agree()
     * before the next collective call when the others must learn of it. */
    PK_SCOPE_PROCESS = 1,
};

enum pk_flags {
    /* The call's tasks are not tasks in the caller's numbering (a helper step
     * inside a kernel): an armed fault (pk_ctx_set_fault) never fires in them. */
    PK_NO_FAULTS = 1u << 0,
    /* The call reports no progress; the caller reports its own (pk_ctx_progress). */
    PK_NO_PROGRESS = 1u << 1,
    /* With PK_SCOPE_PROCESS only: the call runs on pk_ctx_solo_threads()
     * threads, for a step this rank does alone while the other ranks of its
     * node wait in pk_agree_solo. Workers see that many in w->nthreads. */
    PK_SOLO = 1u << 2,
};

/* Records a message for the error a callback is about to return:
 *     return pk_fail(w, PK_EOVERFLOW, "%llu! does not fit in 64 bits", k);
 * Returns code. */
int pk_fail(pk_worker *w, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* 1 when another worker has failed, or the context's interrupt fired (which
 * then fails the call with PK_EINTR), and this one should stop early (for bodies
 * that run long inside one chunk). */
int pk_stopping(const pk_worker *w);

/* 0, or PK_EINTR when the context's interrupt (pk_ctx_set_interrupt) fired: the
 * call's error is then recorded and every worker stops. For callbacks that run
 * their own loops (pk_team roles); the pool checks between chunks itself. */
int pk_interrupt_check(pk_worker *w);

/* Inside a chunk's callback: the end (exclusive, numbered as the callback's
 * begin and end, or task) of the chunks this worker is sure to take next, one
 * after the other, from the current one on. With PK_STATIC that is the end of
 * the worker's block in this part of the call (on ranks a rank's share may come
 * in parts; with one thread per rank they make one run), and the chunk starting
 * there is not this worker's next: state carried from chunk to chunk (the
 * sieve's next multiple of each prime) need not reach past it. With PK_DYNAMIC,
 * or a chunk run on its own, it is the end of the current chunk, and which
 * chunk comes next is not known. -1 outside a chunk. */
int64_t pk_worker_run_end(const pk_worker *w);

/* Marks the start of task `task` inside a callback that runs its own loop (pk_team
 * roles): sets w->task and fires an armed fault that matches. Returns 0 or
 * PK_EINJECTED (with the message set). The pool calls it for each chunk itself. */
int pk_task_begin(pk_worker *w, int64_t task);

/* Memory for a callback (a per-task or per-worker buffer): malloc(bytes) (at
 * least one byte), or NULL with PK_ENOMEM recorded as w's error, with its
 * origin (rank, thread, task), when the allocation fails: return PK_ENOMEM
 * then. An armed fault with fail=alloc (pk_ctx_set_fault) makes the first
 * matching allocation fail: "out of memory (injected): N bytes". Free with
 * free(). w may be NULL (plain malloc, nothing recorded). */
void *pk_worker_alloc(pk_worker *w, size_t bytes);

/* For memory a callback gets from an allocator of its own (aligned_alloc, a
 * big-integer library): 0, or PK_ENOMEM recorded as w's error when an armed
 * fail=alloc fault takes this allocation of `bytes`. Call it just before
 * allocating, and fail the task when it says so. */
int pk_worker_reserve(pk_worker *w, size_t bytes);

/* 1 when an armed fault may fire in the running call (pk_ctx_set_fault), so a
 * callback that announces many small items with pk_task_begin can skip that
 * call per item when it is 0. */
int pk_fault_armed(const pk_worker *w);

/* ---- types and reductions ------------------------------------------------------ */

/* A value type the pool can create, destroy and move between ranks. For plain
 * bytes only size is needed. */
typedef struct pk_type {
    size_t size;                             /* bytes of one value in memory */
    int (*init)(void *value, void *arg);     /* NULL: zero bytes */
    void (*destroy)(void *value, void *arg); /* NULL: nothing to free */
    /* Between ranks: pack into a malloc'ed buffer the pool frees; unpack into an
     * initialized value. NULL: the size bytes are sent as they are. */
    int (*pack)(const void *value, void **buf, size_t *len, void *arg);
    int (*unpack)(void *value, const void *buf, size_t len, void *arg);
    void *arg;
} pk_type;

/* A reduction: values of `type` combined by `combine(into, from)`, into = into (+) from,
 * where `into` holds the partial of the lower indices. It must be associative;
 * it need not be commutative: parkit always combines in index order. */
typedef struct pk_reducer {
    pk_type type;
    int (*combine)(void *into, const void *from, void *arg);
    /* Optional: 1 when a combine is so costly that the pool should spread the
     * combination tree over its workers (big integers). */
    int heavy;
} pk_reducer;

/* Ready-made reductions. pk_i128 is a two's-complement 128-bit integer. */
typedef struct pk_i128 {
    uint64_t lo;
    int64_t hi;
} pk_i128;
extern const pk_reducer pk_sum_i64, pk_sum_u64, pk_sum_f64, pk_sum_i128;
extern const pk_reducer pk_max_i64, pk_min_i64, pk_xor_u64, pk_max_f64;

/* ---- the calls ----------------------------------------------------------------- */

typedef int (*pk_range_fn)(void *arg, int64_t begin, int64_t end, pk_worker *w);

/* Runs body over [0, n) in chunks [begin, end). n = 0 calls nothing and returns 0;
 * PK_EINVAL for n < 0 or a NULL body. */
int pk_for(pk_ctx *ctx, int64_t n, const pk_opts *opts, pk_range_fn body, void *arg);

/* out: elements [begin, end) of the output array (NULL when there is none).
 * acc: this chunk's partial, initialized by the reducer's type (NULL when none). */
typedef int (*pk_chunk_fn)(void *arg, int64_t begin, int64_t end, void *out, void *acc,
                           pk_worker *w);

/* Map and/or reduce over [0, n):
 * - out (elem_size bytes per index) receives the map: with PK_ON_ROOT it must hold
 *   n elements on rank 0 (other ranks may pass NULL), with PK_ON_ALL n elements on
 *   every rank, with PK_DISTRIBUTED the rank's own part (pk_local_range).
 *   NULL out with elem_size 0: no map.
 * - red (may be NULL) reduces the per-chunk partials in a fixed tree over chunk
 *   numbers, so the result is bit-identical for any thread or rank count. result
 *   holds a value of red->type, usually its identity (a zeroed or initialized
 *   value), and the reduction is combined into it: result = result (+)
 *   reduction, so a caller can accumulate over several calls (n = 0 leaves it).
 *   Every rank passes the same starting value. The result is on rank 0
 *   (PK_ON_ROOT) or on every rank (PK_ON_ALL, PK_DISTRIBUTED); under MPI plain
 *   values (no pack) reach every rank whatever `where` says. */
int pk_map_reduce(pk_ctx *ctx, int64_t n, const pk_opts *opts, pk_chunk_fn body, void *arg,
                  size_t elem_size, void *out, const pk_reducer *red, void *result);

/* Combines one value per process (rank) with red in rank order: on return
 * value holds v0 (+) v1 (+) ... (+) v(nranks-1), starting from rank 0's value
 * (the type's initial value is never mixed in, so a reducer whose identity is
 * not zero bytes, a logical AND, is right), on rank 0 (PK_ON_ROOT) or on every
 * rank (PK_ON_ALL). Without ranks value is left as it is. For results that
 * pk_team workers leave in their own process (counts, sums). */
int pk_combine(pk_ctx *ctx, const pk_reducer *red, void *value, int where);

/* Under MPI with PK_DISTRIBUTED or pk_for: the indices [*begin, *end) this rank
 * runs for n indices with these options (the whole range without MPI). */
int pk_local_range(pk_ctx *ctx, int64_t n, const pk_opts *opts, int64_t *begin, int64_t *end);

typedef int (*pk_task_fn)(void *arg, int64_t task, void *result, pk_worker *w);

/* Runs fn for task = 0..ntasks-1, claimed dynamically one at a time (opts->chunk
 * tasks at a time when set). result points to the task's slot of `results`
 * (an array of ntasks values of result_type, initialized by the caller:
 * pk_values_new does it), or NULL
 * when result_type is NULL. Results land in task order on rank 0 (PK_ON_ROOT)
 * or on every rank (PK_ON_ALL); results may be NULL on ranks that get none. */
int pk_tasks(pk_ctx *ctx, int64_t ntasks, const pk_opts *opts, pk_task_fn fn, void *arg,
             const pk_type *result_type, void *results);

/* An array of count values of type, each initialized (pk_values_new: *values set,
 * NULL on failure; PK_EINVAL, PK_ENOMEM or the init's code) or destroyed and the
 * array freed (pk_values_free). */
int pk_values_new(void **values, const pk_type *type, int64_t count);
void pk_values_free(const pk_type *type, int64_t count, void *values);

typedef int (*pk_team_fn)(void *arg, pk_worker *w);

/* ---- building blocks for kernels of your own ------------------------------------
 * parkit's own kernels use exactly these; nothing else of the runtime is open to
 * them. Each is collective under MPI (every rank of the context calls it, in the
 * same order as the pool calls) and trivial without ranks. */

/* Makes a local status collective: every rank passes its own rc (0 or a negative
 * code, with the detail recorded by pk_ctx_fail or a failed call) and every rank
 * gets the same code and the same pk_ctx_error(): the lowest rank with an error
 * of its own wins over a rank that merely saw PK_EABORTED. Use it before the next
 * collective call whenever one rank may have failed alone (a failed malloc on
 * rank 0), so that no rank is left waiting in a collective. */
int pk_agree(pk_ctx *ctx, int rc);

/* pk_agree where ranks wait while one of them runs a step alone with PK_SOLO
 * (rank 0 finishing a result on the threads its node lends it): every rank
 * calls it, the solo rank after its step; the others, waiting, leave their
 * cores to its threads (they test for the end and nap, up to 200 us at a
 * time). Use pk_agree elsewhere: a napping rank serves MPI rarely. */
int pk_agree_solo(pk_ctx *ctx, int rc);

/* Copies len bytes from rank 0's buf into every other rank's buf. */
int pk_bcast(pk_ctx *ctx, void *buf, size_t len);

/* Waits until every rank has called it (the threads of a rank are not involved:
 * call it from the thread that makes the pool calls). */
int pk_rank_barrier(pk_ctx *ctx);

/* Runs fn on exactly nworkers workers at the same time (0: the pool size), each
 * seeing w->id = 0..nworkers-1. Threads: nworkers threads of this process
 * (PK_EAGAIN if the runtime gives fewer). MPI: ranks 0..nworkers-1, one worker
 * each (PK_EINVAL when nworkers exceeds the ranks); the other ranks wait. */
int pk_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg);

/* ---- channels: parkit/chan.h ---------------------------------------------------- */

#include "parkit/chan.h"

#ifdef __cplusplus
}
#endif

#endif
