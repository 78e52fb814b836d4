/* What the MPI benchmarks share: a barrier that waits asleep. */
#ifndef PARKIT_BENCH_QUIET_H
#define PARKIT_BENCH_QUIET_H

#include <mpi.h>
#include <time.h>

/* Every rank waits here without spinning (a test every 0.2 ms): while rank 0
 * times its threads, the other ranks leave the cores to them, so the threads'
 * figures are what they are alone on the machine. */
static inline void quiet_barrier(MPI_Comm comm) {
    MPI_Request req;
    if (MPI_Ibarrier(comm, &req) != MPI_SUCCESS)
        return;
    int done = 0;
    struct timespec nap = {0, 200000L};
    while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done)
        nanosleep(&nap, NULL);
}

#endif
