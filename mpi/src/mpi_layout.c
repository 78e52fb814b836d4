/* Which rank holds which chunks after a run. The static layout is balanced
 * contiguous blocks; a dynamic run (or a fault moved to its named rank) leaves
 * irregular pieces, which the ranks exchange so that the reduction tree and the
 * gathers know where every chunk's partial, output and results are. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

void pk__mpi_block(int64_t nchunks, int nranks, int r, int64_t *lo, int64_t *hi) {
    int64_t q = nchunks / nranks, rem = nchunks % nranks;
    *lo = q * r + (r < rem ? r : rem);
    *hi = *lo + q + (r < rem ? 1 : 0);
}

int pk__mpi_block_owner(int64_t nchunks, int nranks, int64_t c) {
    int64_t q = nchunks / nranks, rem = nchunks % nranks;
    int64_t big = rem * (q + 1); /* chunks in the first rem blocks, of q + 1 each */
    return (int)(c < big ? c / (q + 1) : rem + (c - big) / q);
}

void pk__layout_start(pk__layout *lay, const pk__job *job) {
    pk__layout_clear(lay);
    lay->active = 1;
    lay->red = job->kind == PK__MAP_REDUCE ? job->red : NULL;
    lay->rtype = job->kind == PK__TASKS ? job->rtype : NULL;
    lay->elem_size = job->elem_size;
    lay->n = job->n;
    lay->chunk = job->chunk;
    lay->nchunks = job->nchunks;
}

pk__piece *pk__layout_add(pk__layout *lay, int64_t lo, int64_t hi, int owner) {
    if (lay->nmine == lay->capmine) {
        int cap = lay->capmine > 0 ? lay->capmine * 2 : 8;
        pk__piece *p = realloc(lay->mine, (size_t)cap * sizeof *p);
        if (p == NULL)
            return NULL;
        lay->mine = p;
        lay->capmine = cap;
    }
    pk__piece *p = &lay->mine[lay->nmine++];
    memset(p, 0, sizeof *p);
    p->lo = lo;
    p->hi = hi;
    p->owner = owner;
    return p;
}

static int by_lo(const void *a, const void *b) {
    const pk__piece *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

void pk__layout_sort(pk__piece *pieces, int n) {
    if (n > 1)
        qsort(pieces, (size_t)n, sizeof *pieces, by_lo);
}

int64_t pk__layout_first(const pk__layout *lay, int64_t chunk) {
    int64_t i = chunk * lay->chunk;
    return i < lay->n ? i : lay->n;
}

static void fill_all(pk__layout *lay, const int64_t *recv, const int *counts, const int *displs,
                     int p) {
    lay->nall = 0;
    for (int r = 0; r < p; r++)
        for (int k = 0; k < counts[r]; k += 2) {
            pk__piece *x = &lay->all[lay->nall++];
            x->lo = recv[displs[r] + k];
            x->hi = recv[displs[r] + k + 1];
            x->owner = r;
        }
    pk__layout_sort(lay->all, lay->nall);
}

/* Every rank sends its pieces as (lo, hi) pairs; the union, sorted, is `all`.
 * Allocations are agreed on before each collective, so no rank is left in one. */
int pk__layout_gather(pk_ctx *ctx, pk__layout *lay) {
    pk__mpi_state *st = ctx->impl;
    int p = ctx->nranks, mine2 = 2 * lay->nmine;
    int *counts = malloc(2 * (size_t)p * sizeof *counts);
    int64_t *send = malloc((size_t)(mine2 > 0 ? mine2 : 1) * sizeof *send);
    int64_t *recv = NULL;
    int rc = counts && send ? 0 : pk__set_error(ctx, PK_ENOMEM, "no memory for the layout");
    rc = pk__mpi_agree(ctx, rc);
    int m = MPI_SUCCESS;
    if (rc == 0)
        m = MPI_Allgather(&mine2, 1, MPI_INT, counts, 1, MPI_INT, st->comm);
    int64_t total = 0;
    for (int r = 0; r < p && rc == 0 && m == MPI_SUCCESS; r++) {
        counts[p + r] = (int)total;
        total += counts[r];
    }
    if (rc == 0 && m == MPI_SUCCESS) {
        for (int i = 0; i < lay->nmine; i++) {
            send[2 * i] = lay->mine[i].lo;
            send[2 * i + 1] = lay->mine[i].hi;
        }
        recv = malloc((size_t)(total > 0 ? total : 1) * sizeof *recv);
        lay->all = calloc((size_t)(total > 0 ? total / 2 : 1), sizeof *lay->all);
        rc = recv && lay->all ? 0 : pk__set_error(ctx, PK_ENOMEM, "no memory for the layout");
        rc = pk__mpi_agree(ctx, rc);
    }
    if (rc == 0 && m == MPI_SUCCESS)
        m = MPI_Allgatherv(send, mine2, MPI_INT64_T, recv, counts, counts + p, MPI_INT64_T,
                           st->comm);
    if (rc == 0 && m != MPI_SUCCESS)
        rc = pk__mpi_err(ctx, m, "MPI_Allgatherv (piece layout)");
    if (rc == 0)
        fill_all(lay, recv, counts, counts + p, p);
    free(counts);
    free(send);
    free(recv);
    return rc;
}

static const pk__piece *find(const pk__piece *v, int n, int64_t c) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid].hi <= c)
            lo = mid + 1;
        else if (v[mid].lo > c)
            hi = mid;
        else
            return &v[mid];
    }
    return NULL;
}

int pk__layout_owner(const pk__layout *lay, int64_t c) {
    const pk__piece *p = find(lay->all, lay->nall, c);
    return p ? p->owner : -1;
}

pk__piece *pk__layout_mine(const pk__layout *lay, int64_t c) {
    return (pk__piece *)find(lay->mine, lay->nmine, c);
}

static void free_piece_partials(const pk__layout *lay, pk__piece *p) {
    if (!(p->own & PK__OWN_PARTIALS))
        return;
    pk__type_destroy_array(&lay->red->type, p->partials, p->hi - p->lo);
    free(p->partials);
    p->partials = NULL;
    p->own &= ~(unsigned)PK__OWN_PARTIALS;
}

void pk__layout_free_partials(pk__layout *lay) {
    for (int i = 0; i < lay->nmine; i++)
        free_piece_partials(lay, &lay->mine[i]);
}

void pk__layout_clear(pk__layout *lay) {
    for (int i = 0; i < lay->nmine; i++) {
        pk__piece *p = &lay->mine[i];
        free_piece_partials(lay, p);
        if (p->own & PK__OWN_OUT)
            free(p->out);
        if (p->own & PK__OWN_RESULTS) {
            int64_t count = pk__layout_first(lay, p->hi) - pk__layout_first(lay, p->lo);
            pk__type_destroy_array(lay->rtype, p->results, count);
            free(p->results);
        }
    }
    if (lay->block_results != NULL) {
        pk__type_destroy_array(lay->rtype, lay->block_results, lay->block_count);
        free(lay->block_results);
    }
    free(lay->mine);
    free(lay->all);
    memset(lay, 0, sizeof *lay);
}
