/* parkit: parallel kernels on OpenMP threads and MPI ranks, with one interface.
 * This header includes the runtime's public C API: contexts, errors, the pool,
 * sharing primitives (locks, semaphores, events, conditions, barriers, shared
 * arrays), random numbers, timing, reports and command-line helpers. The kernels have a
 * header each (parkit/squares.h, parkit/factorial.h, parkit/sieve.h,
 * parkit/prodcons.h; only parkit/factorial.h brings in GMP's <gmp.h>), and
 * parkit/mpi.h the MPI-specific calls (it includes <mpi.h>). */
#ifndef PARKIT_PARKIT_H
#define PARKIT_PARKIT_H

#include "parkit/cli.h"
#include "parkit/config.h"
#include "parkit/context.h"
#include "parkit/error.h"
#include "parkit/exec.h"
#include "parkit/plot.h"
#include "parkit/pool.h"
#include "parkit/random.h"
#include "parkit/report.h"
#include "parkit/sync.h"
#include "parkit/timing.h"

#endif
