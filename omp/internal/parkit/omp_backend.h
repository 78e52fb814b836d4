/* The OpenMP backend's table and the pieces the MPI backend reuses for the
 * threads inside each rank. Internal. */
#ifndef PARKIT_OMP_BACKEND_H
#define PARKIT_OMP_BACKEND_H

#include "parkit/internal.h"

extern const pk_backend pk__omp_backend;
int pk__omp_default_threads(pk_ctx *ctx);
int pk__omp_run(pk_ctx *ctx, pk__job *job);
int pk__omp_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg);

#endif
