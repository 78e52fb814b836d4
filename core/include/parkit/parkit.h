/* parkit: parallel kernels on OpenMP threads and MPI ranks, with one interface.
 * This header includes the whole public C API except parkit/mpi.h. */
#ifndef PARKIT_PARKIT_H
#define PARKIT_PARKIT_H

#include "parkit/cli.h"
#include "parkit/config.h"
#include "parkit/context.h"
#include "parkit/error.h"
#include "parkit/kernels.h"
#include "parkit/pool.h"
#include "parkit/report.h"
#include "parkit/timing.h"

#endif
