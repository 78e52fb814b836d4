/* The parkit context: one handle per thread of control that chooses the
 * backend, holds the pool size, the fault-injection spec and the last error.
 *
 * Life cycle: pk_ctx_new() -> any number of kernel or pool calls -> pk_ctx_free().
 * A context is not safe to use from two threads at once; the pools it runs are.
 * After a failed call the context stays usable: the error stays readable through
 * pk_ctx_error() until the next call that fails (successful calls do not clear it;
 * pk_ctx_clear_error() does). Under MPI every rank of the communicator must make
 * the same calls on its context, and every rank returns the same code. */
#ifndef PARKIT_CONTEXT_H
#define PARKIT_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_ctx pk_ctx;

/* Where an error came from. Fields that do not apply are -1 (an argument error
 * has no thread or task); kernel is "" when the error came from no kernel. */
typedef struct pk_error_info {
    int code;          /* a pk_errno, 0 when no error was recorded */
    char kernel[32];   /* "sieve", "factorial", ... or a pool label */
    int rank;          /* MPI rank in the context's communicator (0 without MPI) */
    int thread;        /* thread number inside that rank */
    int64_t task;      /* task or chunk index, as documented by the kernel */
    char message[256]; /* human text without origin, e.g. "21! does not fit in 64 bits" */
} pk_error_info;

/* Creates a context on the named backend: "serial", "omp", "mpi" or "auto".
 * NULL means the environment variable PARKIT_BACKEND if set, else "auto":
 * mpi when the program was launched with more than one MPI rank, else omp
 * (serial when parkit was built without OpenMP). Returns PK_ENOENT for an
 * unknown or not compiled-in backend. The MPI backend needs MPI initialized
 * (see parkit/mpi.h). On failure *ctx is NULL. */
int pk_ctx_new(pk_ctx **ctx, const char *backend);

/* Frees the context; NULL is allowed. */
void pk_ctx_free(pk_ctx *ctx);

/* Name of the context's backend ("serial", "omp", "mpi"). */
const char *pk_ctx_backend(const pk_ctx *ctx);

/* Names of all compiled-in backends, NULL-terminated. */
const char *const *pk_backends(void);

/* Threads per worker process. 0 restores the default: OMP_NUM_THREADS when set,
 * else the cores this process may use (divided among the ranks sharing the node
 * under MPI). The serial backend always runs one thread. PK_EINVAL when negative. */
int pk_ctx_set_threads(pk_ctx *ctx, int threads);

/* Threads a pool call will ask for. */
int pk_ctx_threads(const pk_ctx *ctx);

/* Threads this rank may run for work it does alone while the other ranks of its
 * node wait in a pool call (rank 0 finishing a result, say): its own threads
 * plus those of the ranks that share its CPUs, at most as many as those CPUs
 * (never fewer than pk_ctx_threads). The others wait in pk_agree_solo,
 * which leaves their cores free for these threads. Where the launcher gave each rank CPUs of its
 * own (mpirun --bind-to core, srun --cpu-bind=cores) nothing is lent: pk_ctx_threads. Without
 * ranks: pk_ctx_threads. A process-scope pool call with PK_SOLO runs on this many. */
int pk_ctx_solo_threads(const pk_ctx *ctx);

/* The value given to pk_ctx_set_threads (0: the default). */
int pk_ctx_threads_setting(const pk_ctx *ctx);

/* Threads the most recent pool call actually obtained (the runtime may give fewer). */
int pk_ctx_threads_obtained(const pk_ctx *ctx);

/* This process's rank and the number of ranks (0 and 1 without MPI). */
int pk_ctx_rank(const pk_ctx *ctx);
int pk_ctx_size(const pk_ctx *ctx);

/* Fault injection: "kernel=K,rank=R,thread=T,task=I,fail=F" (every field
 * optional, at least one). With fail=task (the default) the first task that
 * matches every given field fails with PK_EINJECTED. With fail=alloc no task
 * fails at its start; instead the first allocation made through
 * pk_worker_alloc or pk_worker_reserve (parkit/pool.h) by a matching worker
 * (while it runs task I, when task is given) returns NULL and the call fails
 * with PK_ENOMEM, "out of memory (injected): N bytes", with that worker's
 * origin. The pool's own buffer of partial results for a reduction is rank
 * R's allocation, made by its thread 0 before any task: a spec that names
 * neither thread nor task takes it first. A matching task that
 * allocates nothing leaves the fault unfired (pk_ctx_fault_fired() is 0).
 * When both thread and task are given the pool runs that task on that thread,
 * so the fault fires whatever the schedule. NULL or "" disarms. PK_EINVAL
 * with a message for a malformed spec. */
int pk_ctx_set_fault(pk_ctx *ctx, const char *spec);

/* 1 when the armed fault fired during the most recent kernel or pool call. */
int pk_ctx_fault_fired(const pk_ctx *ctx);

/* The last recorded error (code 0 when none). */
const pk_error_info *pk_ctx_error(const pk_ctx *ctx);
void pk_ctx_clear_error(pk_ctx *ctx);

/* Formats the last error as "kernel: rank R, thread T, task I: message"
 * (parts that do not apply are left out). Returns the length it needed. */
size_t pk_ctx_error_string(const pk_ctx *ctx, char *buf, size_t len);

/* Progress: called about every interval seconds on rank 0, thread 0, with the
 * fraction done of the current kernel call (0..1), the first time a quarter of
 * an interval into a call. Calls shorter than that, one after the other, still
 * report about every interval, each time the fraction of the call then running.
 * NULL disables. */
typedef void (*pk_progress_fn)(void *arg, const char *kernel, double fraction);
void pk_ctx_set_progress(pk_ctx *ctx, pk_progress_fn fn, void *arg, double interval);

/* Interruption (a program's SIGINT, say): fn(arg) is called by every worker of
 * every pool call between chunks and tasks, and by pk_stopping() and
 * pk_interrupt_check(); when it returns non-zero the call stops as after a
 * failure, every worker at its next boundary, and returns PK_EINTR ("interrupted")
 * on every rank. fn must be cheap and safe from any thread: reading a flag that a
 * signal handler set, typically. A sub-pool takes its parent's. NULL disables. */
typedef int (*pk_interrupt_fn)(void *arg);
void pk_ctx_set_interrupt(pk_ctx *ctx, pk_interrupt_fn fn, void *arg);

/* 0, or PK_EINTR recorded as the context's error when its interrupt fired: for
 * long steps outside pool calls (a chain of big products on rank 0). Under MPI
 * pass the code to pk_agree() like any local status. */
int pk_ctx_interrupted(pk_ctx *ctx);

/* ---- for kernels of your own ---------------------------------------------------
 * What parkit's own kernels use to look like library calls; open to any caller. */

/* Records an error of the caller's own (a bad argument, a failed allocation
 * outside any callback) in the context, with the running kernel's name and no
 * rank, thread or task, and returns code. Under MPI pass the code to pk_agree()
 * before the next collective call so that every rank returns it. */
int pk_ctx_fail(pk_ctx *ctx, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Brackets a kernel: between begin and end, errors and pk_ctx_fail() name
 * `kernel` as their origin unless a call's label says otherwise, an armed fault
 * spec with kernel=NAME fires only inside the kernel of that name, progress
 * reports carry the name, and pk_ctx_fault_fired() speaks of this kernel call.
 * name must outlive the bracket (a string literal). Not nested. */
void pk_kernel_begin(pk_ctx *ctx, const char *kernel);
void pk_kernel_end(pk_ctx *ctx);

/* Reports that the running kernel is `fraction` (0..1) done, for a step the pool
 * does not see (a long computation on rank 0 alone). Calls the progress
 * callback at most once per interval, on rank 0 only; any thread may call it,
 * but only rank 0's thread 0 or the calling thread outside callbacks should. */
void pk_ctx_progress(pk_ctx *ctx, double fraction);

/* A context on the first `ranks` ranks of ctx (ranks sweeps: the same kernel on
 * a smaller pool). Collective over ctx; *sub is NULL on the ranks left out, and
 * ctx itself (not a copy) when ranks is the whole context; otherwise free it
 * with pk_ctx_free (collective over the sub-pool). The sub-context takes ctx's
 * threads, fault spec and progress callback. PK_EINVAL for ranks outside
 * 1..pk_ctx_size(ctx). */
int pk_ctx_subpool(pk_ctx *ctx, pk_ctx **sub, int ranks);

/* After a call on a sub-pool made by pk_ctx_subpool: copies its last error, its
 * fired fault and its threads obtained back into the parent ctx. */
void pk_ctx_subpool_done(pk_ctx *ctx, const pk_ctx *sub);

#ifdef __cplusplus
}
#endif

#endif
