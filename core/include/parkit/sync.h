/* Sharing between workers: locks, semaphores, events, conditions, barriers and
 * shared values and arrays, the same on threads, on ranks and hybrid.
 *
 * Python's threading and multiprocessing modules, for parkit's pools:
 *   threading.Lock / RLock        pk_lock (PK_LOCK_RECURSIVE)
 *   Semaphore / BoundedSemaphore  pk_sem (max = 0 / max > 0)
 *   Event                         pk_event
 *   Condition                     pk_cond, bound to a pk_lock
 *   Barrier                       pk_barrier
 *   multiprocessing Value / Array pk_shared (one element / many)
 *   Queue, Pipe                   pk_chan (parkit/chan.h)
 *
 * Life cycle. A primitive is created collectively on a context, like
 * pk_chan_open: every rank calls pk_X_new with the same arguments, from the
 * thread that makes the pool calls, outside any callback. Inside any pool
 * callback (pk_for, pk_map_reduce, pk_tasks, pk_team, worker_begin/end) every
 * worker — any thread of any rank — may use it, passing its pk_worker; the
 * thread that makes the pool calls may use it between calls, passing NULL. It is
 * freed collectively (pk_X_free, NULL allowed) before its context.
 *
 * Where the memory is. On threads a primitive lives in the process's memory. On
 * ranks of one node it lives in memory the ranks share (an MPI shared-memory
 * window), so locking, waking and atomic updates between two ranks are plain
 * atomic operations on that memory and cost about what they cost between two
 * threads; no MPI call is made after creation. When the ranks span several
 * nodes, the state lives on rank 0 and every operation is an MPI one-sided
 * call (MPI_Fetch_and_op, MPI_Compare_and_swap) that completes before it
 * returns; waiters poll with pauses growing to 1 ms. An operation then costs a
 * network round trip (taking a free lock or letting go of one is one call), and
 * pk_shared_data is NULL (use get and put). Every worker thread makes those
 * calls itself under the MPI_THREAD_SERIALIZED that pk_mpi_init asks for:
 * parkit takes its own MPI calls one at a time in each process while such
 * primitives exist (the program must make no MPI call of its own inside a pool
 * call then). Under MPI_THREAD_FUNNELED (MPI initialized so by the program, or
 * PARKIT_MPI_THREADS=funneled) only a rank's main thread may: other worker
 * threads get PK_ENOTSUP with the reason. PARKIT_MPI_THREADS=multiple asks
 * for MPI_THREAD_MULTIPLE where MPI's one-sided component supports it (RDMA
 * networks; Open MPI's TCP component, osc pt2pt, refuses every window under
 * it). The one-sided operations move only while rank 0 is inside MPI, so rank
 * 0 runs a progress thread that polls MPI (under SERIALIZED while its pool
 * calls run callbacks, under MULTIPLE all the time); a rank 0 busy outside
 * pool calls delays them (never for good: every waiter polls through MPI).
 * PARKIT_SYNC_ENGINE=onesided uses this engine on one node too (tests, timing).
 *
 * Waiting and errors. Blocking calls sleep (a futex on Linux), and take part in
 * the pool's error propagation: when any worker of a pool call fails, the
 * context's primitives are broken and every worker blocked in a lock,
 * semaphore, event, condition or barrier wakes at once with PK_EABORTED, on
 * every rank; the pool call returns the first error, as usual. A broken
 * primitive stays broken: every later blocking call returns PK_EABORTED (so no
 * worker waits for a lock that a failed worker held); free it and create a new
 * one to go on. Timeouts (seconds, >= 0) return PK_ETIMEDOUT. Misuse returns a
 * code and records the reason in the context's error (pk_ctx_error): releasing
 * a lock one does not hold (PK_EPERM), taking a non-recursive lock twice
 * (PK_EINVAL: it would never return), releasing a bounded semaphore above its
 * maximum (PK_EOVERFLOW), a condition used without its lock held (PK_EPERM), a
 * primitive used by a worker of another context's pool call (PK_EINVAL: that
 * pool's failures would not wake it), a primitive used or freed again after its
 * pk_X_free (PK_EINVAL, "a pk_lock used after pk_lock_free"; the context keeps
 * the memory of its last 1024 freed primitives, so the call reads no freed
 * memory; beyond that, or after pk_ctx_free, nothing can be said, and a build
 * with AddressSanitizer finds it).
 *
 * Identity. A worker is (w->rank, w->thread); NULL stands for the calling thread
 * outside pool calls. Lock ownership follows the worker, so a lock taken in one
 * chunk may be released in a later chunk of the same worker. */
#ifndef PARKIT_SYNC_H
#define PARKIT_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "parkit/context.h"
#include "parkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- pk_lock: mutual exclusion over the whole pool ------------------------------ */

typedef struct pk_lock pk_lock;

enum pk_lock_flags {
    /* RLock: the owner may take it again; it is free after as many releases. */
    PK_LOCK_RECURSIVE = 1u << 0,
};

int pk_lock_new(pk_ctx *ctx, pk_lock **lock, unsigned flags);
/* Blocks until w holds the lock. */
int pk_lock_acquire(pk_lock *lock, pk_worker *w);
/* Never blocks: PK_EAGAIN when another worker holds it. */
int pk_lock_try_acquire(pk_lock *lock, pk_worker *w);
/* Blocks at most `seconds`: PK_ETIMEDOUT. */
int pk_lock_acquire_timeout(pk_lock *lock, pk_worker *w, double seconds);
/* PK_EPERM when w does not hold it. */
int pk_lock_release(pk_lock *lock, pk_worker *w);
void pk_lock_free(pk_lock *lock);

/* ---- pk_sem: a counting semaphore ------------------------------------------------ */

typedef struct pk_sem pk_sem;

/* permits >= 0 to start with; max = 0: no bound (Semaphore), max >= permits:
 * a release that would pass max fails with PK_EOVERFLOW (BoundedSemaphore). */
int pk_sem_new(pk_ctx *ctx, pk_sem **sem, int64_t permits, int64_t max);
/* Blocks until a permit is free, and takes it. */
int pk_sem_acquire(pk_sem *sem, pk_worker *w);
/* Never blocks: PK_EAGAIN when none is free. */
int pk_sem_try_acquire(pk_sem *sem, pk_worker *w);
int pk_sem_acquire_timeout(pk_sem *sem, pk_worker *w, double seconds);
/* Gives a permit back (any worker may, as with Python's Semaphore). */
int pk_sem_release(pk_sem *sem, pk_worker *w);
/* Permits free now (a snapshot). */
int64_t pk_sem_value(const pk_sem *sem);
void pk_sem_free(pk_sem *sem);

/* ---- pk_event: a flag workers wait for ------------------------------------------- */

typedef struct pk_event pk_event;

int pk_event_new(pk_ctx *ctx, pk_event **event);
/* Sets the flag and wakes every waiter. */
int pk_event_set(pk_event *event, pk_worker *w);
int pk_event_clear(pk_event *event, pk_worker *w);
/* 1 when set, 0 when not. */
int pk_event_is_set(const pk_event *event);
/* Returns at once when set, else blocks until it is. */
int pk_event_wait(pk_event *event, pk_worker *w);
int pk_event_wait_timeout(pk_event *event, pk_worker *w, double seconds);
void pk_event_free(pk_event *event);

/* ---- pk_cond: a condition bound to a lock ---------------------------------------- */

typedef struct pk_cond pk_cond;

/* lock must outlive the condition; several conditions may share one lock. */
int pk_cond_new(pk_ctx *ctx, pk_cond **cond, pk_lock *lock);
/* w must hold the lock (once, or a recursive lock at any depth): releases it,
 * waits for a notify, takes it again before returning — also after a timeout.
 * Wake-ups may be spurious: wait in a loop on the predicate,
 *     while (!ready) if ((rc = pk_cond_wait(c, w)) != 0) break;
 * After PK_EABORTED the lock is not held. */
int pk_cond_wait(pk_cond *cond, pk_worker *w);
int pk_cond_wait_timeout(pk_cond *cond, pk_worker *w, double seconds);
/* Wakes one waiter / every waiter. The caller should hold the lock (the state
 * the waiters test changes under it); it is not required. */
int pk_cond_notify(pk_cond *cond, pk_worker *w);
int pk_cond_notify_all(pk_cond *cond, pk_worker *w);
void pk_cond_free(pk_cond *cond);

/* ---- pk_barrier: every worker waits for the others ------------------------------- */

typedef struct pk_barrier pk_barrier;

/* parties: how many workers call pk_barrier_wait in each round (a pk_team's
 * size, or the pool's workers: pk_ctx_size x pk_ctx_threads); >= 1. */
int pk_barrier_new(pk_ctx *ctx, pk_barrier **barrier, int parties);
/* Blocks until `parties` workers have called it, then all go on and the barrier
 * is ready for the next round. Returns 1 in exactly one worker of each round
 * (the last to arrive), 0 in the others, or a negative code. */
int pk_barrier_wait(pk_barrier *barrier, pk_worker *w);
void pk_barrier_free(pk_barrier *barrier);

/* ---- pk_shared: a value or an array every worker sees ---------------------------- */

typedef struct pk_shared pk_shared;

/* count elements of elem_size bytes, all zero. */
int pk_shared_new(pk_ctx *ctx, pk_shared **shared, size_t elem_size, int64_t count);
/* The elements themselves, where every worker addresses the same memory
 * (threads; ranks of one node): loops over it run at memory speed. The caller
 * orders its own accesses (a lock, a barrier, or the end of a pool call). NULL
 * where the memory is not shared (ranks on several nodes). Passed by every rank
 * as the output of a map gathered to rank 0 (pk_map_reduce, pk_squares with
 * PK_ON_ROOT), it is written in place by all ranks: nothing is copied to rank 0
 * afterwards, so the call runs at the node's memory bandwidth. */
void *pk_shared_data(pk_shared *shared);
int64_t pk_shared_count(const pk_shared *shared);
size_t pk_shared_elem_size(const pk_shared *shared);
/* Copies elements [first, first + n) out of / into the array. PK_ERANGE outside it. */
int pk_shared_get(pk_shared *shared, int64_t first, int64_t n, void *out);
int pk_shared_put(pk_shared *shared, int64_t first, int64_t n, const void *in);

/* Atomic operations on element i, for arrays of 8-byte elements (PK_EINVAL
 * otherwise), as int64_t or as double. fetch_add, min and max return the old
 * value in *old when old is not NULL. compare_exchange stores desired when the
 * element equals *expected and returns 0; otherwise it returns PK_EAGAIN and
 * puts the current value in *expected. min and max store the smaller / larger of
 * the element and value. Doubles compare by value (-0.0 == 0.0; NaN never
 * compares equal, so a compare-exchange against NaN fails). */
int pk_shared_load_i64(pk_shared *shared, int64_t i, int64_t *value);
int pk_shared_store_i64(pk_shared *shared, int64_t i, int64_t value);
int pk_shared_fetch_add_i64(pk_shared *shared, int64_t i, int64_t delta, int64_t *old);
int pk_shared_compare_exchange_i64(pk_shared *shared, int64_t i, int64_t *expected,
                                   int64_t desired);
int pk_shared_min_i64(pk_shared *shared, int64_t i, int64_t value, int64_t *old);
int pk_shared_max_i64(pk_shared *shared, int64_t i, int64_t value, int64_t *old);

int pk_shared_load_f64(pk_shared *shared, int64_t i, double *value);
int pk_shared_store_f64(pk_shared *shared, int64_t i, double value);
int pk_shared_fetch_add_f64(pk_shared *shared, int64_t i, double delta, double *old);
int pk_shared_compare_exchange_f64(pk_shared *shared, int64_t i, double *expected, double desired);
int pk_shared_min_f64(pk_shared *shared, int64_t i, double value, double *old);
int pk_shared_max_f64(pk_shared *shared, int64_t i, double value, double *old);

void pk_shared_free(pk_shared *shared);

#ifdef __cplusplus
}
#endif

#endif
