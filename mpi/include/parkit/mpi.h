/* parkit on MPI: the only parkit header that includes <mpi.h>.
 *
 * The MPI backend runs a pool call over the ranks of a communicator, with
 * OpenMP threads inside each rank (hybrid). It works on a duplicate of the
 * communicator with MPI_ERRORS_RETURN, so parkit can be embedded in a larger MPI
 * program: give pk_ctx_new_mpi() any communicator. The library never calls
 * MPI_Abort or exit: errors on any rank become the same return code and message
 * on every rank. */
#ifndef PARKIT_MPI_H
#define PARKIT_MPI_H

#include <mpi.h>

#include "parkit/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initializes MPI with MPI_Init_thread (MPI_THREAD_FUNNELED is what parkit needs;
 * it asks for that) unless it already is. *provided gets the level. Returns 0 or
 * PK_EBACKEND. */
int pk_mpi_init(int *argc, char ***argv, int *provided);

/* Finalizes MPI if pk_mpi_init initialized it. */
int pk_mpi_finalize(void);

/* 1 when this process was started by an MPI launcher (mpirun, mpiexec, srun). */
int pk_mpi_launched(void);

/* Name of a thread level ("MPI_THREAD_FUNNELED"). */
const char *pk_mpi_thread_level_name(int level);

/* A context on the ranks of comm (duplicated; comm itself is not used again). */
int pk_ctx_new_mpi(pk_ctx **ctx, MPI_Comm comm);

/* The context's own communicator (MPI_COMM_NULL when the backend is not mpi). */
MPI_Comm pk_ctx_comm(const pk_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
