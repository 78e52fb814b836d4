/* The OpenMP backend as the registry sees it: its table and the pieces of it
 * the registry hands to the MPI backend as the threads inside each rank.
 * Internal: included as "omp_internal.h" by omp/ and parkit/ only. */
#ifndef PARKIT_OMP_INTERNAL_H
#define PARKIT_OMP_INTERNAL_H

#include "core_internal.h"

extern const pk_backend pk__omp_backend;
int pk__omp_default_threads(pk_ctx *ctx);
int pk__omp_run(pk_ctx *ctx, pk__job *job);
int pk__omp_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg);

#endif
