/* The reduction tree of core/src/reduce.c, spread over ranks. At level
 * s = 1, 2, 4, ... partial i (a multiple of 2s) takes in partial i + s; pairs
 * whose halves a rank holds in one piece are combined by pk__reduce_level (on
 * the rank's threads for heavy reducers), and a pair split between two ranks
 * travels from the holder of i + s to the holder of i (plain bytes, or packed
 * for big integers). The tree is the same whatever the layout, so the result is
 * bit-identical for any rank and thread count. A piece takes part in at most
 * one such message each way per level. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

typedef struct tree {
    pk_ctx *ctx;
    pk__job *job;
    pk__layout *lay;
    const pk_reducer *red;
    MPI_Comm comm;
    int rc; /* the first error; the exchange goes on so that no rank waits forever */
} tree;

static int64_t multiple_below(int64_t x, int64_t m) {
    return x / m * m;
}

static char *partial_at(const tree *t, const pk__piece *p, int64_t c) {
    return p->partials + (size_t)(c - p->lo) * t->red->type.size;
}

static void note(tree *t, int rc) {
    if (t->rc == 0 && rc != 0)
        t->rc = rc;
}

static void note_mpi(tree *t, int m, const char *what) {
    if (m != MPI_SUCCESS && t->rc == 0)
        t->rc = pk__mpi_err(t->ctx, m, what);
}

static void combine(tree *t, char *into, const void *from, int64_t i, int64_t j) {
    if (t->rc != 0)
        return;
    int rc = t->red->combine(into, from, t->red->type.arg);
    if (rc != 0)
        note(t, pk__set_error(t->ctx, rc, "combining partials %lld and %lld failed: %s",
                              (long long)i, (long long)j, pk_strerror(rc)));
}

/* The pair whose upper half i + s is in p and lower half i before p. */
static void send_upper(tree *t, const pk__piece *p, int64_t s, int tag, pk__reqs *q) {
    if (p->lo == 0)
        return;
    int64_t i = multiple_below(p->lo - 1, 2 * s);
    if (i + s < p->lo || i + s >= p->hi)
        return;
    int dest = pk__layout_owner(t->lay, i);
    if (dest == t->ctx->rank)
        return; /* both halves here: the lower piece combines them */
    const char *v = partial_at(t, p, i + s);
    if (t->red->type.pack == NULL) {
        note_mpi(t, pk__isend_bytes(t->comm, dest, tag, v, t->red->type.size, q), "MPI_Isend");
        return;
    }
    void *buf = NULL;
    size_t len = 0;
    int rc = pk__pack_values(&t->red->type, v, 1, &buf, &len);
    if (rc != 0) /* still send (empty), so the receiver is not left waiting */
        note(t, pk__set_error(t->ctx, rc, "packing partial %lld failed", (long long)(i + s)));
    note_mpi(t, pk__isend_sized(t->comm, dest, tag, buf, rc == 0 ? len : 0, q), "MPI_Isend");
}

static void receive_into(tree *t, int src, int tag, char *into, int64_t i, int64_t j) {
    const pk_type *ty = &t->red->type;
    _Alignas(16) char small[256]; /* plain partials are small: no allocation to fail */
    char *tmp = ty->size <= sizeof small ? small : malloc(ty->size);
    void *buf = NULL;
    size_t len = 0;
    int m;
    if (ty->pack == NULL) {
        pk__reqs q = {0};
        m = tmp ? pk__irecv_bytes(t->comm, src, tag, tmp, ty->size, &q) : MPI_ERR_NO_MEM;
        int w = pk__reqs_waitall(&q);
        pk__reqs_free(&q);
        m = m != MPI_SUCCESS ? m : w;
    } else {
        m = pk__recv_sized(t->comm, src, tag, &buf, &len);
    }
    note_mpi(t, m, "receiving a partial");
    if (t->rc == 0 && tmp == NULL)
        note(t, pk__set_error(t->ctx, PK_ENOMEM, "no memory for partial %lld", (long long)j));
    if (t->rc == 0 && ty->pack != NULL) {
        int rc = pk__type_init_array(ty, tmp, 1);
        if (rc == 0) {
            rc = pk__unpack_values(ty, tmp, 1, buf, len);
            if (rc == 0)
                combine(t, into, tmp, i, j);
            pk__type_destroy_array(ty, tmp, 1);
        }
        if (rc != 0)
            note(t, pk__set_error(t->ctx, rc, "unpacking partial %lld failed", (long long)j));
    } else if (t->rc == 0) {
        combine(t, into, tmp, i, j);
    }
    free(buf);
    if (tmp != small)
        free(tmp);
}

/* The pair whose lower half i is in p and upper half i + s after p. */
static void take_lower(tree *t, pk__piece *p, int64_t s, int tag) {
    int64_t i = multiple_below(p->hi - 1, 2 * s);
    if (i < p->lo || i + s < p->hi || i + s >= t->job->nchunks)
        return;
    char *into = partial_at(t, p, i);
    int src = pk__layout_owner(t->lay, i + s);
    if (src == t->ctx->rank) {
        const pk__piece *up = pk__layout_mine(t->lay, i + s);
        combine(t, into, partial_at(t, up, i + s), i, i + s);
        return;
    }
    receive_into(t, src, tag, into, i, i + s);
}

static void level(tree *t, int64_t s, int tag) {
    pk__layout *lay = t->lay;
    pk__reqs q = {0};
    for (int k = 0; k < lay->nmine; k++)
        send_upper(t, &lay->mine[k], s, tag, &q);
    for (int k = 0; k < lay->nmine && t->rc == 0; k++) {
        t->job->partials = lay->mine[k].partials;
        t->job->part_base = lay->mine[k].lo;
        note(t, pk__reduce_level(t->ctx, t->job, lay->mine[k].lo, lay->mine[k].hi, s));
    }
    for (int k = 0; k < lay->nmine; k++)
        take_lower(t, &lay->mine[k], s, tag);
    note_mpi(t, pk__reqs_waitall(&q), "MPI_Waitall");
    pk__reqs_free(&q);
}

/* result (+)= the total on the rank holding partial 0 (result = total for
 * pk_combine, pk__result_take), then to the others:
 * always for plain values (cheap, and scalar results belong on every rank),
 * for packed ones only when the call asked for them everywhere. */
static void finish(tree *t, void *result) {
    int root = pk__layout_owner(t->lay, 0), me = t->ctx->rank;
    const pk_type *ty = &t->red->type;
    if (me == root && t->rc == 0) {
        note(t,
             pk__result_take(t->ctx, t->job, result, partial_at(t, pk__layout_mine(t->lay, 0), 0)));
    }
    if (ty->pack == NULL) {
        note_mpi(t, pk__bcast_bytes(t->comm, root, result, ty->size), "MPI_Bcast (result)");
        return;
    }
    if (t->job->opts.where == PK_ON_ROOT)
        return;
    void *buf = NULL;
    size_t len = 0;
    if (me == root && pk__pack_values(ty, result, 1, &buf, &len) != 0)
        note(t, pk__set_error(t->ctx, PK_ENOMEM, "packing the result failed"));
    note_mpi(t, pk__bcast_sized(t->comm, root, &buf, &len), "MPI_Bcast (result)");
    if (me != root && t->rc == 0) {
        int rc = pk__unpack_values(ty, result, 1, buf, len);
        if (rc != 0)
            note(t, pk__set_error(t->ctx, rc, "unpacking the result failed"));
    }
    free(buf);
}

int pk__mpi_reduce(pk_ctx *ctx, pk__job *job, void *result) {
    if (ctx->nranks == 1)
        return pk__reduce_local(ctx, job, result);
    pk__mpi_state *st = ctx->impl;
    if (job->nchunks == 0) {
        const pk_type *ty = &job->red->type;
        int mine = ty->pack == NULL || job->opts.where != PK_ON_ROOT || ctx->rank == 0;
        int rc = mine && job->set_result ? pk__value_reset(ctx, ty, result) : 0;
        return pk__mpi_agree(ctx, rc);
    }
    if (!st->lay.active || st->lay.red == NULL)
        return pk__mpi_agree(ctx, pk__set_error(ctx, PK_EBACKEND, "reduce without a layout"));
    tree t = {.ctx = ctx, .job = job, .lay = &st->lay, .red = st->lay.red, .comm = st->comm};
    char *partials = job->partials;
    int64_t part_base = job->part_base;
    int tag = PK__TAG_REDUCE;
    for (int64_t s = 1; s < job->nchunks; s *= 2)
        level(&t, s, tag++);
    job->partials = partials;
    job->part_base = part_base;
    finish(&t, result);
    pk__layout_free_partials(&st->lay);
    return pk__mpi_agree(ctx, t.rc);
}
