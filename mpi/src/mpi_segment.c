/* Memory every rank of a pool addresses, for the sharing primitives (core's
 * sync.c): one MPI shared-memory window on the node, allocated by rank 0 and
 * mapped by the others (MPI_Win_allocate_shared, MPI_Win_shared_query). After
 * that the primitives are plain atomics on the mapped memory; no MPI call is
 * made until the window is freed. A pool whose ranks are on several nodes has
 * no such memory: PK_ENOTSUP, with the reason. */
#include <stdlib.h>

#include "mpi_impl.h"

typedef struct segment {
    MPI_Win win;
} segment;

int pk__mpi_segment_new(pk_ctx *ctx, size_t bytes, void **base, void **handle) {
    pk__mpi_state *st = ctx->impl;
    *base = NULL;
    *handle = NULL;
    if (st->node_ranks != ctx->nranks)
        return pk__mpi_agree(
            ctx, pk__set_error(ctx, PK_ENOTSUP,
                               "sharing primitives need every rank on one node: rank %d's node "
                               "holds %d of the %d ranks (across nodes they are not supported yet)",
                               ctx->rank, st->node_ranks, ctx->nranks));
    segment *seg = calloc(1, sizeof *seg);
    int rc = seg == NULL ? pk__set_error(ctx, PK_ENOMEM, "no memory for a segment") : 0;
    rc = pk__mpi_agree(ctx, rc);
    if (rc != 0) {
        free(seg);
        return rc;
    }
    void *mine = NULL;
    /* 64 bytes more: the window need not start on a cache line; the mapping is
     * page-aligned in every process, so the same offset aligns it everywhere */
    MPI_Aint size = ctx->rank == 0 ? (MPI_Aint)(bytes + 64) : 0;
    int m = MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, st->comm, &mine, &seg->win);
    if (m != MPI_SUCCESS) {
        free(seg);
        return pk__mpi_agree(ctx, pk__mpi_err(ctx, m, "MPI_Win_allocate_shared"));
    }
    MPI_Aint got = 0;
    int disp = 0;
    char *start = NULL;
    m = MPI_Win_shared_query(seg->win, 0, &got, &disp, &start);
    rc = m == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, m, "MPI_Win_shared_query");
    size_t skip = start == NULL ? 0 : (64 - (uintptr_t)start % 64) % 64;
    if (rc == 0 && (start == NULL || (size_t)got < bytes + skip))
        rc = pk__set_error(ctx, PK_EBACKEND, "the shared window has %lld bytes, not %zu",
                           (long long)got, bytes + skip);
    *base = start == NULL ? NULL : start + skip;
    rc = pk__mpi_agree(ctx, rc);
    if (rc != 0) {
        MPI_Win_free(&seg->win);
        free(seg);
        *base = NULL;
        return rc;
    }
    *handle = seg;
    return 0;
}

void pk__mpi_segment_free(pk_ctx *ctx, void *handle) {
    (void)ctx;
    segment *seg = handle;
    if (seg == NULL)
        return;
    MPI_Win_free(&seg->win);
    free(seg);
}
