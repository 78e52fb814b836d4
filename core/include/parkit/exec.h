/* Asynchronous tasks: an executor with futures, the same on threads, on ranks
 * and hybrid.
 *
 * Python's concurrent.futures and multiprocessing.Pool, for parkit's pools:
 *   Pool.apply_async(f, args, callback, error_callback)
 *                                  pk_exec_submit + pk_future_on_done
 *   Executor.submit(f, *args)      pk_exec_submit
 *   Executor.map(f, args)          pk_exec_map + pk_map_next (lazy, in order)
 *   as_completed(fs)               pk_future_wait_any (in a loop)
 *   future.result() / exception()  pk_future_result / pk_future_error
 *   future.done() / cancel()       pk_future_done / pk_future_cancel
 *   Executor.shutdown(wait, cancel_futures)
 *                                  pk_exec_close(ex, PK_EXEC_WAIT or PK_EXEC_CANCEL)
 *   MPICommExecutor (mpi4py)       pk_exec_open: ranks other than 0 serve
 *
 * Tasks are functions registered by name (pk_exec_register) on every process,
 * because function addresses differ between processes. A task gets its
 * argument as bytes and gives back a result as bytes (pk_call_return), or fails
 * with a code and a message (return the code, or pk_call_fail).
 *
 * Who does what. The executor is opened collectively on a context, like a
 * channel. Rank 0's calling thread is the submitter: pk_exec_open returns there
 * with the executor, and only that thread submits, waits and closes. Every
 * other worker of the pool runs tasks as it becomes free: rank 0's other
 * threads and every thread of every other rank (hybrid included). On ranks
 * other than 0, pk_exec_open does not return until rank 0 closes the executor:
 * it serves tasks, then returns 0 with *ex NULL, so the program stays SPMD:
 *
 *     pk_exec *ex;
 *     int rc = pk_exec_open(ctx, &ex, NULL);
 *     if (rc == 0 && ex != NULL) {      // rank 0: submit, wait, close
 *         ...
 *         rc = pk_exec_close(ex, PK_EXEC_WAIT);
 *     }
 *     // every rank goes on here, with the same rc
 *
 * When the pool has no worker but the submitter (serial backend, one thread
 * on one rank), tasks run on the submitter inside its waits.
 *
 * Under MPI, messages move only inside the submitter's executor calls (submit,
 * done, wait, result, map, close; a wait or result on a future already done
 * moves them only when some worker is short of tasks): a submitter busy
 * elsewhere leaves the other ranks without new tasks. Rank 0's other threads
 * keep running tasks.
 *
 * Errors. A failing task fails its own future only (error: code, message and
 * origin: rank, thread and task number); the other tasks run on, unless the
 * executor was opened fail-fast, when the first failure cancels every task not
 * yet started. An injected fault (--inject-fault / PARKIT_INJECT naming task I,
 * and optionally rank R and thread T, kernel "exec" or none) fails exactly the
 * future of task I, which runs on rank R, thread T (a fail=alloc spec is not
 * the executor's: it fires nothing here). Top-level tasks are numbered
 * in submission order from 0 (a map of n arguments takes n numbers); tasks
 * submitted from tasks are numbered on their rank from (rank + 1) * 2^40.
 *
 * Tasks that submit tasks. A running task may submit further tasks
 * (pk_call_submit); they run on the same rank. It may wait for their futures:
 * a waited task that has not started runs inline in the waiting task, so
 * workers waiting on each other's tasks never deadlock. A task may not wait on
 * the submitter's futures (PK_EPERM). The executor ends when the submitter
 * closes it and nothing is in flight, nested tasks included.
 *
 * Futures belong to the thread that made them: the submitter's to the
 * submitter, a task's to that task (they are freed with pk_future_free, which
 * may come before the task ends: its result is then dropped). */
#ifndef PARKIT_EXEC_H
#define PARKIT_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "parkit/context.h"
#include "parkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_exec pk_exec;
typedef struct pk_future pk_future;
typedef struct pk_call pk_call;
typedef struct pk_map_iter pk_map_iter;

/* ---- tasks -------------------------------------------------------------------- */

/* A task: arg/len are the bytes given at submission (arg NULL when len is 0).
 * Returns 0, or a negative code that fails the task's future (pk_call_fail
 * adds a message). */
typedef int (*pk_exec_fn)(pk_call *call, const void *arg, size_t len);

/* Registers fn as `name` (1 to 63 characters) in this process; registering a
 * name again replaces its function. Every process registers the same names
 * before pk_exec_open, which checks it. Not thread-safe: call it at start-up. */
int pk_exec_register(const char *name, pk_exec_fn fn);

/* Inside a task. */
pk_worker *pk_call_worker(pk_call *call);
/* The task's number (see the top of the file). */
int64_t pk_call_task(const pk_call *call);
/* Sets the task's result: len bytes copied (a later call replaces it). */
int pk_call_return(pk_call *call, const void *data, size_t len);
/* Records the message of the task's failure; returns code, for
 * `return pk_call_fail(call, PK_EINVAL, "bad input %d", x);`. */
int pk_call_fail(pk_call *call, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Submits a task from a task: it runs on this rank; *future is this task's to
 * wait on (inline when not started) and free. */
int pk_call_submit(pk_call *call, const char *name, const void *arg, size_t len,
                   pk_future **future);

/* ---- the executor ---------------------------------------------------------------- */

typedef struct pk_exec_opts {
    /* 1: the first failing task cancels every task not yet started (their
     * futures fail with PK_ECANCELED). 0: failures are each task's own. */
    int fail_fast;
    /* Tasks a rank holds at most, per worker, running ones included, so that
     * a worker finds its next task at hand. The rest wait on the submitter,
     * where they can still be cancelled. 0: 2, and the executor lets a rank
     * hold up to 64 per worker while its tasks come back within 0.2 ms of
     * being sent (short tasks then travel many to a message), back to 2 when
     * they take 10 ms. */
    int prefetch;
} pk_exec_opts;

/* Collective over ctx (every rank, from the thread that makes pool calls,
 * outside pool calls). Rank 0: returns 0 with *ex the executor. Other ranks:
 * serve tasks until rank 0 closes it, then return its outcome with *ex NULL.
 * PK_EINVAL when the processes registered different task names. opts may be
 * NULL. */
int pk_exec_open(pk_ctx *ctx, pk_exec **ex, const pk_exec_opts *opts);

/* Submits task `name` with len bytes of argument (copied); never waits for a
 * worker. *future is the submitter's. PK_ENOENT for a name not registered,
 * PK_ECLOSED after a fail-fast failure, PK_EPERM from a task (see
 * pk_call_submit) or from a thread other than the submitter. */
int pk_exec_submit(pk_exec *ex, const char *name, const void *arg, size_t len, pk_future **future);

enum pk_exec_close_how {
    PK_EXEC_WAIT = 0,   /* run every task submitted, then stop */
    PK_EXEC_CANCEL = 1, /* cancel the tasks not yet started, wait for the rest */
};

/* Shuts the executor down (rank 0, the submitter) and frees it; the other
 * ranks' pk_exec_open return. Futures stay valid until freed. Returns 0 or the
 * executor's own error (a lost rank, no memory), never a task's. NULL: 0. */
int pk_exec_close(pk_exec *ex, int how);

/* Tasks submitted so far, and how many of them are done (any outcome). */
int64_t pk_exec_submitted(const pk_exec *ex);
int64_t pk_exec_completed(const pk_exec *ex);

/* ---- futures ---------------------------------------------------------------------- */

/* 1 when the task is done (succeeded, failed or cancelled), else 0. */
int pk_future_done(pk_future *future);
/* Waits at most `seconds` (< 0: no limit) for the task: 0, or PK_ETIMEDOUT. */
int pk_future_wait(pk_future *future, double seconds);
/* Waits for the task; 0 with its result (*data NULL and *len 0 when it set
 * none; valid until the future is freed), or the task's error code
 * (PK_ECANCELED when cancelled). data and len may be NULL. */
int pk_future_result(pk_future *future, const void **data, size_t *len);
/* The failure (code, message, rank, thread, task) of a failed or cancelled
 * task; NULL while not done or when it succeeded. */
const pk_error_info *pk_future_error(const pk_future *future);
/* Cancels a task that has not started: 0, its future then fails with
 * PK_ECANCELED; PK_EBUSY when it runs, ran, or was handed to a rank already. */
int pk_future_cancel(pk_future *future);
/* The task's number. */
int64_t pk_future_task(const pk_future *future);
/* Frees the future (NULL allowed); a task still running runs on, its result
 * dropped. */
void pk_future_free(pk_future *future);

/* as_completed: waits at most `seconds` (< 0: no limit) until one of the n
 * futures (NULL entries skipped) is done; *index is the first done one. Set
 * that entry to NULL (or free it) to wait for the others next:
 *     for (int left = n; left > 0; left--) {
 *         pk_future_wait_any(fs, n, -1, &i);  ... use fs[i] ...  fs[i] = NULL;
 *     }
 * PK_ETIMEDOUT; PK_EINVAL when every entry is NULL. */
int pk_future_wait_any(pk_future **futures, int n, double seconds, int *index);

/* Callbacks for a future of the submitter, run on the submitter's thread,
 * inside its executor calls, once the task is done: on_done after a success,
 * on_error after a failure or a cancellation (either may be NULL). Set on a
 * future already done, the callback runs at the next executor call. */
typedef void (*pk_future_fn)(pk_future *future, void *arg);
int pk_future_on_done(pk_future *future, pk_future_fn on_done, pk_future_fn on_error, void *arg);

/* ---- map -------------------------------------------------------------------------- */

/* Lazy map: task `name` on each of n arguments of arg_size bytes (args[i] at
 * (const char *)args + i * arg_size, read while the map runs), at most
 * max_in_flight chunks submitted at once (0: 2 per worker), chunk arguments
 * per task (0: 1; more for small tasks). Results come back in order from
 * pk_map_next. The submitter's only (PK_EPERM elsewhere). */
int pk_exec_map(pk_exec *ex, const char *name, const void *args, size_t arg_size, int64_t n,
                int max_in_flight, int chunk, pk_map_iter **it);
/* The next result in argument order: 0 with *task_rc the task's code (0: data
 * and len its result, valid until the next call), or PK_ECLOSED after the
 * last one. task_rc, data and len may be NULL. */
int pk_map_next(pk_map_iter *it, const void **data, size_t *len, int *task_rc);
/* Frees the iterator, cancelling the chunks not started. NULL allowed. */
void pk_map_free(pk_map_iter *it);

#ifdef __cplusplus
}
#endif

#endif
