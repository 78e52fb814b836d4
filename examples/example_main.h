/* What every example needs around its run() function: MPI start-up when the
 * program was launched by mpirun (so the same binary runs on threads or on
 * ranks), a context on the default backend, the error printed once, and an exit
 * status. Kept in a header so each example stays one file a reader can follow. */
#ifndef PARKIT_EXAMPLE_MAIN_H
#define PARKIT_EXAMPLE_MAIN_H

#include <stdio.h>
#include <stdlib.h>

#include "parkit/parkit.h"
#if PARKIT_WITH_MPI
#include "parkit/mpi.h"
#endif

static inline int example_main(int argc, char **argv, int (*run)(pk_ctx *ctx)) {
#if PARKIT_WITH_MPI
    int provided;
    int started = pk_mpi_launched() ? pk_mpi_init(&argc, &argv, &provided) : 0;
    if (started == PK_EINVAL)
        fprintf(stderr, "PARKIT_MPI_THREADS=%s: need funneled, serialized or multiple\n",
                getenv("PARKIT_MPI_THREADS"));
    if (started != 0)
        return 1;
#else
    (void)argc;
    (void)argv;
#endif
    pk_ctx *ctx = NULL;
    int rc = pk_ctx_new(&ctx, NULL); /* PARKIT_BACKEND, else mpi under mpirun, else omp */
    if (rc == 0)
        rc = run(ctx);
    if (rc != 0 && (ctx == NULL || pk_ctx_rank(ctx) == 0)) {
        char msg[512];
        if (ctx != NULL)
            pk_ctx_error_string(ctx, msg, sizeof msg);
        fprintf(stderr, "%s: %s\n", argv[0], ctx ? msg : pk_strerror(rc));
    }
    pk_ctx_free(ctx);
#if PARKIT_WITH_MPI
    pk_mpi_finalize();
#endif
    return rc == 0 ? 0 : 1;
}

#endif
