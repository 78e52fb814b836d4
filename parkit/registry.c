/* The backend registry: the one place that knows which backends were compiled
 * in, and that picks one by name (--backend, then PARKIT_BACKEND, then auto:
 * mpi when launched with more than one rank, else omp, else serial). It sits at
 * the top of the stack (target parkit::parkit), so that core/ depends on neither
 * omp/ nor mpi/, and the MPI backend does not name the threads backend it runs
 * inside each rank: this file hands it over. */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#if PARKIT_WITH_OPENMP
#include "omp_internal.h"
#endif
#if PARKIT_WITH_MPI
#include "mpi_internal.h"
#include "parkit/mpi.h"
#endif

static const char *const backend_names[] = {
    "serial",
#if PARKIT_WITH_OPENMP
    "omp",
#endif
#if PARKIT_WITH_MPI
    "mpi",
#endif
    NULL,
};

const char *const *pk_backends(void) {
    return backend_names;
}

/* The executor for the threads inside one process. */
static const pk_backend *local_backend(void) {
#if PARKIT_WITH_OPENMP
    return &pk__omp_backend;
#else
    return &pk__serial_backend;
#endif
}

static const char *resolve_auto(void) {
#if PARKIT_WITH_MPI
    if (pk__mpi_world_size() > 1)
        return "mpi";
#endif
#if PARKIT_WITH_OPENMP
    return "omp";
#else
    return "serial";
#endif
}

int pk_ctx_new(pk_ctx **ctx, const char *name) {
    if (ctx == NULL)
        return PK_EINVAL;
    *ctx = NULL;
    if (name == NULL || name[0] == '\0')
        name = getenv("PARKIT_BACKEND");
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0)
        name = resolve_auto();
    if (strcmp(name, "serial") == 0)
        return pk__ctx_create(ctx, &pk__serial_backend, &pk__serial_backend, NULL);
#if PARKIT_WITH_OPENMP
    if (strcmp(name, "omp") == 0)
        return pk__ctx_create(ctx, &pk__omp_backend, &pk__omp_backend, NULL);
#endif
#if PARKIT_WITH_MPI
    if (strcmp(name, "mpi") == 0)
        return pk__mpi_ctx_new(ctx, local_backend(), NULL);
#endif
    (void)local_backend;
    return PK_ENOENT;
}

#if PARKIT_WITH_MPI
int pk_ctx_new_mpi(pk_ctx **ctx, MPI_Comm comm) {
    if (ctx == NULL)
        return PK_EINVAL;
    *ctx = NULL;
    return pk__mpi_ctx_new(ctx, local_backend(), &comm);
}
#endif
