/* Node-shared memory for gathers to rank 0. A map output gathered to rank 0
 * (squares' array) is as big as the work itself, and on one node a message
 * moves it at a fraction of the speed of a plain copy. So the ranks that share
 * rank 0's node compute their static block straight into a shared segment of
 * their own (MPI_Win_allocate_shared), and rank 0 copies it out; ranks on other
 * nodes send messages as before. Segments only grow, and every rank of the node
 * decides the same way when to grow them, from the layout alone.
 *
 * When every rank passes the same array of node-shared memory (a pk_shared
 * array's data) as the output, there is nothing to copy: each rank writes its
 * chunks straight into it at their place (st->out_shared), and the gather is
 * skipped. Ranks agree on it by comparing addresses in rank 0's process (the
 * segments record where rank 0 maps them: mpi_segment.c). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

int pk__shm_init(pk__mpi_state *st, int rank) {
    int m = MPI_Comm_split_type(st->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &st->node);
    if (m != MPI_SUCCESS)
        return m;
    st->have_node = 1;
    MPI_Comm_size(st->node, &st->node_ranks);
    st->node_ctx_rank = calloc((size_t)st->node_ranks, sizeof *st->node_ctx_rank);
    st->shm_size = calloc((size_t)st->node_ranks, sizeof *st->shm_size);
    int ok = st->node_ctx_rank != NULL && st->shm_size != NULL;
    m = MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, st->node); /* all or none */
    if (m != MPI_SUCCESS || !ok)
        return m != MPI_SUCCESS ? m : MPI_ERR_NO_MEM;
    return MPI_Allgather(&rank, 1, MPI_INT, st->node_ctx_rank, 1, MPI_INT, st->node);
}

static void free_window(pk__mpi_state *st) {
    if (!st->have_shm)
        return;
    MPI_Win_unlock_all(st->shm);
    MPI_Win_free(&st->shm);
    st->have_shm = 0;
    memset(st->shm_size, 0, (size_t)st->node_ranks * sizeof *st->shm_size);
}

void pk__shm_free(pk__mpi_state *st) {
    free_window(st);
    if (st->have_node)
        MPI_Comm_free(&st->node);
    st->have_node = 0;
    free(st->node_ctx_rank);
    free(st->shm_size);
    st->node_ctx_rank = NULL;
    st->shm_size = NULL;
}

/* The node rank of a context rank, -1 when it is on another node. */
static int node_rank_of(const pk__mpi_state *st, int ctx_rank) {
    for (int i = 0; i < st->node_ranks; i++)
        if (st->node_ctx_rank[i] == ctx_rank)
            return i;
    return -1;
}

/* Bytes of ctx rank r's static block of the job's map output. */
static size_t block_bytes(const pk__layout *lay, int nranks, int r) {
    int64_t lo, hi;
    pk__mpi_block(lay->nchunks, nranks, r, &lo, &hi);
    return (size_t)(pk__layout_first(lay, hi) - pk__layout_first(lay, lo)) * lay->elem_size;
}

/* Grows the segments to what this call needs (collective over the node). */
static int grow(pk__mpi_state *st, int nranks, const pk__layout *lay) {
    int bigger = 0, me = 0;
    MPI_Comm_rank(st->node, &me);
    for (int i = 0; i < st->node_ranks; i++) {
        int r = st->node_ctx_rank[i];
        size_t need = r == 0 ? 0 : block_bytes(lay, nranks, r);
        bigger |= need > st->shm_size[i];
    }
    if (!bigger)
        return MPI_SUCCESS;
    size_t *want = malloc((size_t)st->node_ranks * sizeof *want);
    int ok = want != NULL;
    for (int i = 0; ok && i < st->node_ranks; i++) {
        int r = st->node_ctx_rank[i];
        size_t need = r == 0 ? 0 : block_bytes(lay, nranks, r);
        want[i] = need > st->shm_size[i] ? need : st->shm_size[i];
    }
    free_window(st);
    char *base = NULL;
    int m = MPI_Win_allocate_shared(ok ? (MPI_Aint)want[me] : 0, 1, MPI_INFO_NULL, st->node, &base,
                                    &st->shm);
    int all = ok && m == MPI_SUCCESS;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, st->node);
    if (m == MPI_SUCCESS && !all)
        MPI_Win_free(&st->shm);
    if (all) {
        st->have_shm = 1;
        MPI_Win_set_errhandler(st->shm, MPI_ERRORS_RETURN);
        memcpy(st->shm_size, want, (size_t)st->node_ranks * sizeof *want);
        MPI_Win_lock_all(MPI_MODE_NOCHECK, st->shm);
    }
    free(want);
    return all ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

/* Whether every rank's map output is the same array, in node-shared memory
 * (pk_shared_data): then each rank writes its chunks straight into it and
 * nothing is gathered. Decided by all ranks alike: rank 0's address of its
 * array, and every rank's view of where its own array lies in rank 0's
 * process, must agree. */
static int same_shared_out(pk_ctx *ctx, const pk__job *job) {
    pk__mpi_state *st = ctx->impl;
    uint64_t at0 = 0;
    size_t bytes = (size_t)job->n * job->elem_size;
    if (job->out != NULL && !pk__mpi_segment_locate(job->out, bytes, &at0))
        at0 = 0;
    if (ctx->rank == 0 && at0 != (uint64_t)(uintptr_t)job->out)
        at0 = 0;                 /* not rank 0's own mapping: cannot be */
    uint64_t v[2] = {at0, ~at0}; /* the minimum of both: the smallest and largest */
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MIN, st->comm) != MPI_SUCCESS)
        return 0;
    return v[0] != 0 && v[0] == ~v[1];
}

int pk__shm_prepare(pk_ctx *ctx, const pk__job *job, int dynamic) {
    pk__mpi_state *st = ctx->impl;
    st->use_shm = 0;
    st->out_shared = 0;
    if (job->kind == PK__MAP_REDUCE && job->elem_size > 0 && job->opts.where == PK_ON_ROOT &&
        same_shared_out(ctx, job)) {
        st->out_shared = 1;
        return 0;
    }
    if (!st->have_node || dynamic || job->kind != PK__MAP_REDUCE || job->elem_size == 0 ||
        job->opts.where != PK_ON_ROOT || node_rank_of(st, 0) < 0)
        return 0;
    /* a failure leaves the messages to do it: every rank of the node sees it */
    st->use_shm = grow(st, ctx->nranks, &st->lay) == MPI_SUCCESS && st->have_shm;
    return 0;
}

char *pk__shm_of(const pk__mpi_state *st, int ctx_rank) {
    int i = st->use_shm ? node_rank_of(st, ctx_rank) : -1;
    if (i < 0)
        return NULL;
    MPI_Aint size = 0;
    int disp = 0;
    char *base = NULL;
    if (MPI_Win_shared_query(st->shm, i, &size, &disp, &base) != MPI_SUCCESS)
        return NULL;
    return base;
}

int pk__mpi_out_was_shared(const pk_ctx *ctx) {
    const pk__mpi_state *st =
        ctx != NULL && ctx->backend == &pk__mpi_backend && ctx->nranks > 1 ? ctx->impl : NULL;
    return st != NULL && st->out_shared;
}

void pk__shm_sync(const pk__mpi_state *st) {
    if (st->use_shm)
        MPI_Win_sync(st->shm);
    if (st->out_shared)
        atomic_thread_fence(memory_order_seq_cst);
}
