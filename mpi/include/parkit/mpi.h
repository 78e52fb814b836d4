/* parkit on MPI: the only parkit header that includes <mpi.h>.
 *
 * The MPI backend runs a pool call over the ranks of a communicator, with
 * OpenMP threads inside each rank (hybrid). It works on a duplicate of the
 * communicator with MPI_ERRORS_RETURN, so parkit can be embedded in a larger MPI
 * program: give pk_ctx_new_mpi() any communicator. The library never calls
 * MPI_Abort or exit: errors on any rank become the same return code and message
 * on every rank (the lowest rank with a first-hand error wins; a worker that only
 * stopped because another failed, PK_EABORTED, never hides the cause).
 *
 * Threads. Only the thread that calls parkit (the one that initialized MPI)
 * makes the pool's MPI calls. The threads that run callbacks make none, except
 * the one-sided calls of the sharing primitives when the ranks span several
 * nodes (parkit/sync.h): under MPI_THREAD_SERIALIZED parkit takes those and its
 * own one at a time. Call parkit, including every channel operation between
 * ranks, from that thread only.
 *
 * How a call is spread over ranks:
 * - Static schedule: each rank runs a balanced contiguous block of chunks (what
 *   pk_local_range() returns), on its threads.
 * - Dynamic schedule: each rank first runs a fixed block holding half of the
 *   work, then claims batches of chunks, smaller and smaller, from a counter on
 *   rank 0 (MPI_Fetch_and_op). A map output with PK_DISTRIBUTED always runs
 *   statically, since each rank's part must be its pk_local_range().
 *   worker_begin/worker_end run once per batch on each thread.
 * - A rank that fails tells the others, which stop at their next batch or
 *   segment of their block; then the error is agreed.
 * - Reductions follow the same tree over chunk numbers as on threads, pairs
 *   split between ranks travelling as messages: results are bit-identical for
 *   any rank and thread count. A reducer whose type has no pack function (a
 *   plain value such as a sum) has its result on every rank whatever `where`
 *   says; packed values (big integers) go to rank 0 only with PK_ON_ROOT.
 * - pk_tasks with PK_DISTRIBUTED: each rank's results stay in its own results
 *   array (indexed by task, as everywhere), nothing is gathered.
 * - pk_team: worker w is rank w, alone (w->thread 0); pool calls on the same
 *   context from inside a team worker are not allowed.
 * - Channels between ranks have no observer hook (PK_ENOTSUP) and
 *   pk_chan_peek() returns 0; pk_chan_max_depth() is this rank's own queue.
 * - Fault injection with a rank (or a thread) and a task moves that task to the
 *   named rank, which runs it as the named thread, so it fires whatever the
 *   schedule (it does not fire when that rank has no such thread).
 * Messages are at most 1 GiB, so outputs and values of any size travel. */
#ifndef PARKIT_MPI_H
#define PARKIT_MPI_H

#include <mpi.h>

#include "parkit/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initializes MPI with MPI_Init_thread unless it already is; *provided gets the
 * level. parkit asks for MPI_THREAD_SERIALIZED (FUNNELED is enough for all but
 * worker threads using the sharing primitives across nodes; Open MPI treats the
 * two alike); PARKIT_MPI_THREADS=funneled, =serialized or =multiple asks for
 * that level. Returns 0, PK_EINVAL (PARKIT_MPI_THREADS names no level: MPI is
 * not started) or PK_EBACKEND. */
int pk_mpi_init(int *argc, char ***argv, int *provided);

/* Finalizes MPI if pk_mpi_init initialized it. Free every MPI context first. */
int pk_mpi_finalize(void);

/* 1 when this process was started by an MPI launcher (mpirun, mpiexec, srun),
 * judged from the environment the launcher sets; MPI need not be initialized. */
int pk_mpi_launched(void);

/* Name of a thread level ("MPI_THREAD_FUNNELED"). */
const char *pk_mpi_thread_level_name(int level);

/* A context on the ranks of comm (duplicated; comm itself is not used again).
 * Collective over comm. Default threads per rank: OMP_NUM_THREADS when set, else
 * the cores this process may use divided among the ranks of comm on its node.
 * PK_EBACKEND when MPI is not initialized or comm is MPI_COMM_NULL. Freeing the
 * context is collective too. */
int pk_ctx_new_mpi(pk_ctx **ctx, MPI_Comm comm);

/* The context's own communicator (MPI_COMM_NULL when the backend is not mpi). */
MPI_Comm pk_ctx_comm(const pk_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
