/* The MPI backend as the registry and the tests see it. Internal. This header
 * includes neither <mpi.h> nor core_internal.h, so the registry compiles
 * without MPI types and C++ tests can include it; a communicator is passed by
 * address. */
#ifndef PARKIT_MPI_INTERNAL_H
#define PARKIT_MPI_INTERNAL_H

#include <stddef.h>

#include "parkit/context.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_backend;
extern const struct pk_backend pk__mpi_backend;

/* Ranks in MPI_COMM_WORLD; before MPI_Init, what the launcher's environment says
 * (1 when not launched by one). */
int pk__mpi_world_size(void);

/* A context on the ranks of *comm (an MPI_Comm; NULL: MPI_COMM_WORLD), whose
 * threads inside each rank run on `local`. Collective over the communicator.
 * PK_EBACKEND when MPI is not initialized. */
int pk__mpi_ctx_new(pk_ctx **ctx, const struct pk_backend *local, const void *comm);

/* Largest message the backend sends, in bytes (default 1 GiB; bigger transfers
 * go in pieces). Tests lower it to exercise the piecewise paths. 0 restores the
 * default. Call it with the same value on every rank. */
void pk__mpi_set_max_message(size_t bytes);

/* 1 when the context's last map call gathered to rank 0 had every rank write
 * its part straight into one array of node-shared memory (every rank passed
 * the same pk_shared_data array), 0 when the parts were moved to rank 0. */
int pk__mpi_out_was_shared(const pk_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
