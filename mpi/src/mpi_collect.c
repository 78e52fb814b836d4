/* Moving a job's bulk results where the call asked for them: map outputs and
 * task results gathered to rank 0 (PK_ON_ROOT), copied to every rank (PK_ON_ALL)
 * or left where they were computed (PK_DISTRIBUTED). Plain values travel as
 * bytes, in pieces below the MPI count limit (or, from rank 0's node, are
 * copied out of node-shared memory: mpi_shm.c); task results whose type packs
 * (big integers, strings) travel packed, one message per piece, in task order. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

typedef struct mover {
    pk_ctx *ctx;
    pk__layout *lay;
    MPI_Comm comm;
    int rc;
} mover;

static void note(mover *mv, int rc) {
    if (mv->rc == 0 && rc != 0)
        mv->rc = rc;
}

static void note_mpi(mover *mv, int m, const char *what) {
    if (m != MPI_SUCCESS && mv->rc == 0)
        mv->rc = pk__mpi_err(mv->ctx, m, what);
}

static int64_t first_of(const mover *mv, const pk__piece *p) {
    return pk__layout_first(mv->lay, p->lo);
}

static int64_t count_of(const mover *mv, const pk__piece *p) {
    return pk__layout_first(mv->lay, p->hi) - first_of(mv, p);
}

static char *data_of(const pk__piece *p, int results) {
    return results ? p->results : p->out;
}

/* Where piece p lies in its owner's node-shared segment, or NULL when it came
 * by message (another node, a piece outside the owner's static block). */
static const char *shared_part(const mover *mv, const pk__piece *p, size_t unit) {
    const pk__mpi_state *st = mv->ctx->impl;
    const char *seg = pk__shm_of(st, p->owner);
    int64_t lo, hi;
    pk__mpi_block(mv->lay->nchunks, mv->ctx->nranks, p->owner, &lo, &hi);
    if (seg == NULL || p->lo < lo || p->hi > hi)
        return NULL;
    return seg + (size_t)(first_of(mv, p) - pk__layout_first(mv->lay, lo)) * unit;
}

/* Every piece into rank 0's array `base` (index 0 first), unit bytes an index:
 * copied from the node-shared segments, or received. */
static void gather_plain(mover *mv, char *base, size_t unit, int results) {
    pk__reqs q = {0};
    int m = MPI_SUCCESS;
    pk__shm_sync(mv->ctx->impl); /* the owners' writes, seen after their agreement */
    for (int k = 0; mv->ctx->rank == 0 && k < mv->lay->nall && m == MPI_SUCCESS; k++) {
        const pk__piece *p = &mv->lay->all[k];
        char *into = base + (size_t)first_of(mv, p) * unit;
        const char *shared = results ? NULL : shared_part(mv, p, unit);
        if (p->owner == 0 || count_of(mv, p) == 0)
            continue;
        if (shared != NULL)
            memcpy(into, shared, (size_t)count_of(mv, p) * unit);
        else
            m = pk__irecv_bytes(mv->comm, p->owner, PK__TAG_GATHER, into,
                                (size_t)count_of(mv, p) * unit, &q);
    }
    for (int k = 0; mv->ctx->rank != 0 && k < mv->lay->nmine && m == MPI_SUCCESS; k++) {
        const pk__piece *p = &mv->lay->mine[k];
        if (count_of(mv, p) > 0 && (results || shared_part(mv, p, unit) == NULL))
            m = pk__isend_bytes(mv->comm, 0, PK__TAG_GATHER, data_of(p, results),
                                (size_t)count_of(mv, p) * unit, &q);
    }
    note_mpi(mv, m, "posting the gather");
    note_mpi(mv, pk__reqs_waitall(&q), "the gather");
    pk__reqs_free(&q);
}

/* Every rank's array `base` gets every piece, from its owner. */
static void share_plain(mover *mv, char *base, size_t unit) {
    for (int k = 0; k < mv->lay->nall; k++) {
        const pk__piece *p = &mv->lay->all[k];
        int m = pk__bcast_bytes(mv->comm, p->owner, base + (size_t)first_of(mv, p) * unit,
                                (size_t)count_of(mv, p) * unit);
        note_mpi(mv, m, "MPI_Bcast (sharing outputs)");
    }
}

static void send_packed(mover *mv, const pk_type *t, pk__reqs *q) {
    for (int k = 0; k < mv->lay->nmine; k++) {
        const pk__piece *p = &mv->lay->mine[k];
        void *buf = NULL;
        size_t len = 0;
        int rc = pk__pack_values(t, p->results, count_of(mv, p), &buf, &len);
        if (rc != 0) /* still send (empty), so rank 0 is not left waiting */
            note(mv, pk__set_error(mv->ctx, rc, "packing the results of tasks %lld.. failed",
                                   (long long)first_of(mv, p)));
        note_mpi(mv, pk__isend_sized(mv->comm, 0, PK__TAG_RESULTS, buf, rc == 0 ? len : 0, q),
                 "MPI_Isend (results)");
    }
}

static void receive_packed(mover *mv, const pk_type *t, char *base) {
    for (int k = 0; k < mv->lay->nall; k++) {
        const pk__piece *p = &mv->lay->all[k];
        if (p->owner == 0)
            continue;
        void *buf = NULL;
        size_t len = 0;
        note_mpi(mv, pk__recv_sized(mv->comm, p->owner, PK__TAG_RESULTS, &buf, &len),
                 "receiving results");
        if (mv->rc == 0) {
            int rc = pk__unpack_values(t, base + (size_t)first_of(mv, p) * t->size, count_of(mv, p),
                                       buf, len);
            if (rc != 0)
                note(mv, pk__set_error(mv->ctx, rc, "unpacking the results of tasks %lld.. failed",
                                       (long long)first_of(mv, p)));
        }
        free(buf);
    }
}

static void gather_packed(mover *mv, const pk_type *t, char *base) {
    pk__reqs q = {0};
    if (mv->ctx->rank == 0)
        receive_packed(mv, t, base);
    else
        send_packed(mv, t, &q);
    note_mpi(mv, pk__reqs_waitall(&q), "MPI_Waitall (results)");
    pk__reqs_free(&q);
}

/* Rank 0's complete array of ntasks values to every rank. */
static void share_packed(mover *mv, const pk_type *t, char *base, int64_t ntasks) {
    void *buf = NULL;
    size_t len = 0;
    int me = mv->ctx->rank;
    if (me == 0 && mv->rc == 0 && pk__pack_values(t, base, ntasks, &buf, &len) != 0)
        note(mv,
             pk__set_error(mv->ctx, PK_ENOMEM, "packing %lld results failed", (long long)ntasks));
    note_mpi(mv, pk__bcast_sized(mv->comm, 0, &buf, &len), "MPI_Bcast (results)");
    if (me != 0 && mv->rc == 0) {
        int rc = pk__unpack_values(t, base, ntasks, buf, len);
        if (rc != 0)
            note(mv,
                 pk__set_error(mv->ctx, rc, "unpacking %lld results failed", (long long)ntasks));
    }
    free(buf);
}

static void move_plain(mover *mv, char *base, size_t unit, int results, int where) {
    if (where == PK_ON_ALL)
        share_plain(mv, base, unit);
    else
        gather_plain(mv, base, unit, results);
}

static void move_packed(mover *mv, const pk_type *t, char *base, int64_t ntasks, int where) {
    gather_packed(mv, t, base);
    if (where == PK_ON_ALL)
        share_packed(mv, t, base, ntasks);
}

int pk__mpi_collect(pk_ctx *ctx, pk__job *job) {
    if (ctx->nranks == 1)
        return pk__collect_local(ctx, job);
    pk__mpi_state *st = ctx->impl;
    mover mv = {.ctx = ctx, .lay = &st->lay, .comm = st->comm};
    int where = job->opts.where;
    int map = job->kind == PK__MAP_REDUCE && job->elem_size > 0 && where != PK_DISTRIBUTED;
    int tasks = job->kind == PK__TASKS && job->rtype != NULL && where != PK_DISTRIBUTED;
    if ((map || tasks) && !st->lay.active)
        note(&mv, pk__set_error(ctx, PK_EBACKEND, "collect without a layout"));
    else if (map && !(where == PK_ON_ROOT && st->out_shared)) /* else written in place */
        move_plain(&mv, job->out, job->elem_size, 0, where);
    else if (tasks && job->rtype->pack != NULL)
        move_packed(&mv, job->rtype, job->results, job->n, where);
    else if (tasks)
        move_plain(&mv, job->results, job->rtype->size, 1, where);
    pk__layout_clear(&st->lay);
    return pk__mpi_agree(ctx, mv.rc);
}
