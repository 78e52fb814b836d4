/* Running a job over ranks: which chunks each rank runs, on the threads of the
 * local executor (ctx->local->run, which calls pk__job_worker), then one agreed
 * outcome. Static: balanced contiguous blocks, run in a few segments so that a
 * rank stops early when another has failed. Dynamic: each rank first takes a
 * block of half the work, then claims guided batches from a counter on rank 0
 * (MPI_Fetch_and_op); only this thread touches MPI, never the workers. A failing
 * rank raises a flag next to the counter and pushes the counter past the end,
 * which is how the others learn to stop. A fault naming a rank (or a thread) and
 * a task is moved there: every rank skips that chunk and the named one runs it,
 * as the named thread; the layout records where it ran, so results stay right
 * even when the fault does not fire. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

int pk__mpi_local_range(pk_ctx *ctx, const pk__job *job, int64_t *clo, int64_t *chi) {
    pk__mpi_block(job->nchunks, ctx->nranks, ctx->rank, clo, chi);
    return 0;
}

/* The caller's buffers as the pool set them up (restored before returning). */
typedef struct job_bufs {
    int64_t clo, chi;
    char *out, *partials, *results;
    int64_t out_base, part_base, res_base;
} job_bufs;

static job_bufs save_bufs(const pk__job *job) {
    return (job_bufs){job->clo,     job->chi,      job->out,       job->partials,
                      job->results, job->out_base, job->part_base, job->res_base};
}

static void restore_bufs(pk__job *job, const job_bufs *b) {
    job->clo = b->clo;
    job->chi = b->chi;
    job->out = b->out;
    job->partials = b->partials;
    job->results = b->results;
    job->out_base = b->out_base;
    job->part_base = b->part_base;
    job->res_base = b->res_base;
}

/* A fault moved to its rank: `rank` runs `chunk` as `thread`; -1: no move. */
typedef struct fault_move {
    int64_t chunk;
    int rank, thread;
} fault_move;

static fault_move plan_fault(const pk_ctx *ctx, const pk__job *job, int dynamic) {
    fault_move fm = {-1, -1, 0};
    const pk__fault *f = &ctx->fault;
    if (!job->fault_on || f->task < 0 || (f->rank < 0 && f->thread < 0) || f->rank >= ctx->nranks)
        return fm;
    int64_t c = pk__job_fault_chunk(job);
    if (c < 0)
        return fm;
    fm.chunk = c;
    fm.thread = f->thread >= 0 ? f->thread : 0;
    fm.rank = f->rank >= 0 ? f->rank
              : dynamic    ? 0
                           : pk__mpi_block_owner(job->nchunks, ctx->nranks, c);
    return fm;
}

typedef struct runner {
    pk_ctx *ctx;
    pk__job *job;
    pk__mpi_state *st;
    const job_bufs *bufs;
    fault_move fm;
    int slot;         /* this call's counter on rank 0 */
    int got;          /* most threads a local run obtained */
    int poisoned;     /* this rank told the others to stop */
    int64_t block_hi; /* run_segments: the end of the rank's static block */
} runner;

/* Records an error of this rank's own (no callback involved) as the job's. */
static void fail_here(pk__job *job, int code, const char *what) {
    pk_worker w;
    pk__worker_init(&w, job, 0, 1);
    pk_fail(&w, code, "%s", what);
}

static void fail_mpi(runner *r, int m, const char *what) {
    pk__mpi_err(r->ctx, m, what);
    fail_here(r->job, PK_EBACKEND, r->ctx->err.message);
}

/* This call's words in rank 0's window: the claim counter and the failure flag. */
static int counter_word(const runner *r) {
    return r->slot;
}

static int flag_word(const runner *r) {
    return 2 + r->slot;
}

/* The chunks done over the pool, for progress. */
static int progress_word(int slot) {
    return 4 + slot;
}

static int window_op(runner *r, int word, int64_t value, MPI_Op op, int64_t *old) {
    int m = MPI_Fetch_and_op(&value, old, MPI_INT64_T, 0, word, op, r->st->win);
    if (m == MPI_SUCCESS)
        m = MPI_Win_flush(0, r->st->win);
    return m;
}

/* Tells the others to stop: raises the flag they check between segments, and
 * pushes the counter past the end so that no claim succeeds any more. */
static void poison(runner *r) {
    int64_t old;
    if (r->poisoned)
        return;
    r->poisoned = 1;
    /* a worker thread may have been unable to break the context's primitives
     * across nodes itself; this thread may */
    pk__ctx_break_syncs(r->ctx);
    window_op(r, flag_word(r), 1, MPI_SUM, &old);
    window_op(r, counter_word(r), r->job->nchunks + 1, MPI_SUM, &old);
}

static int others_failed(runner *r) {
    int64_t old = 0;
    int m = window_op(r, flag_word(r), 0, MPI_NO_OP, &old);
    if (m != MPI_SUCCESS)
        fail_mpi(r, m, "MPI_Fetch_and_op (stop check)");
    return m != MPI_SUCCESS || old != 0;
}

/* After the agreement, when every rank is past its last access: ready for the
 * call after next, which uses the same words. */
static void reset_words(runner *r) {
    int64_t old;
    window_op(r, counter_word(r), 0, MPI_REPLACE, &old);
    window_op(r, flag_word(r), 0, MPI_REPLACE, &old);
}

/* Runs chunks [lo, hi) on the local threads, leaving out a moved fault chunk. */
static void run_part(runner *r, int64_t lo, int64_t hi) {
    pk__job *job = r->job;
    int64_t skip = r->fm.chunk;
    if (skip >= lo && skip < hi) {
        run_part(r, lo, skip);
        run_part(r, skip + 1, hi);
        return;
    }
    if (lo >= hi || atomic_load(&job->stop))
        return;
    job->clo = lo;
    job->chi = hi;
    /* one thread's run goes on into the next part, up to the moved fault chunk */
    int64_t skip_next = r->fm.chunk >= hi && r->fm.chunk < r->block_hi ? r->fm.chunk : r->block_hi;
    job->parts_end = job->schedule == PK_DYNAMIC ? 0 : skip_next;
    atomic_store(&job->next, lo);
    atomic_store(&job->threads_obtained, 0);
    int user = pk__mpi_user_begin();
    r->ctx->local->run(r->ctx, job);
    pk__mpi_user_end(user);
    int t = atomic_load(&job->threads_obtained);
    if (t > r->got)
        r->got = t;
    if (atomic_load(&job->stop))
        poison(r);
}

/* The moved fault chunk, on this thread posing as the named one (thread 0 when
 * this rank has no such thread, so the fault does not fire, as on threads). */
static void run_moved(runner *r) {
    pk__job *job = r->job;
    int nt = pk_ctx_threads(r->ctx);
    pk_worker own;
    pk_worker *w = pk__job_enter_worker(job, &own, r->fm.thread < nt ? r->fm.thread : 0, nt);
    if (w == NULL)
        return;
    w->run_end_ = r->fm.chunk + 1;
    pk__job_chunk(job, w, r->fm.chunk);
    pk__job_leave_worker(job, w);
}

/* ---- buffers ---- */

/* Whether this rank's map output lives in the caller's array at full indexing. */
static int out_in_place(const pk_ctx *ctx, const pk__job *job) {
    const pk__mpi_state *st = ctx->impl;
    return job->opts.where == PK_ON_ALL ||
           (job->opts.where == PK_ON_ROOT && (ctx->rank == 0 || st->out_shared));
}

static int results_in_place(const pk_ctx *ctx, const pk__job *job, const job_bufs *b) {
    return b->results != NULL && (job->opts.where != PK_ON_ROOT || ctx->rank == 0);
}

static char *new_values(const pk_type *t, int64_t count) {
    char *v = malloc((size_t)(count > 0 ? count : 1) * t->size);
    if (v != NULL && pk__type_init_array(t, v, count) != 0) {
        free(v);
        v = NULL;
    }
    return v;
}

/* Points the job at a piece's buffers. */
static void use_piece(pk__job *job, const pk__layout *lay, const pk__piece *p) {
    int64_t first = pk__layout_first(lay, p->lo);
    job->partials = p->partials;
    job->part_base = p->lo;
    job->out = p->out;
    job->out_base = first;
    job->results = p->results;
    job->res_base = first;
}

/* Buffers of a piece of its own: a dynamic batch or a moved fault chunk. */
static int own_buffers(runner *r, pk__piece *p) {
    pk__job *job = r->job;
    const job_bufs *b = r->bufs;
    pk__layout *lay = &r->st->lay;
    int64_t first = pk__layout_first(lay, p->lo);
    int64_t count = pk__layout_first(lay, p->hi) - first;
    if (lay->red != NULL) {
        if ((p->partials = new_values(&lay->red->type, p->hi - p->lo)) == NULL)
            return PK_ENOMEM;
        p->own |= PK__OWN_PARTIALS;
    }
    if (lay->elem_size > 0 && out_in_place(r->ctx, job)) {
        p->out = b->out + (size_t)(first - b->out_base) * lay->elem_size;
    } else if (lay->elem_size > 0) {
        if ((p->out = malloc((size_t)(count > 0 ? count : 1) * lay->elem_size)) == NULL)
            return PK_ENOMEM;
        p->own |= PK__OWN_OUT;
    }
    if (lay->rtype != NULL && results_in_place(r->ctx, job, b)) {
        p->results = b->results + (size_t)first * lay->rtype->size;
    } else if (lay->rtype != NULL) {
        if ((p->results = new_values(lay->rtype, count)) == NULL)
            return PK_ENOMEM;
        p->own |= PK__OWN_RESULTS;
    }
    return 0;
}

/* A new piece [lo, hi) of this rank with buffers of its own, made current. */
static pk__piece *own_piece(runner *r, int64_t lo, int64_t hi) {
    pk__layout *lay = &r->st->lay;
    pk__piece *p = pk__layout_add(lay, lo, hi, r->ctx->rank);
    if (p == NULL || own_buffers(r, p) != 0) {
        fail_here(r->job, PK_ENOMEM, "no memory for the buffers of a batch of chunks");
        return NULL;
    }
    use_piece(r->job, lay, p);
    return p;
}

static char *scratch(pk__mpi_state *st, size_t bytes) {
    if (bytes > st->scratch_size) {
        free(st->scratch);
        st->scratch = malloc(bytes);
        st->scratch_size = st->scratch ? bytes : 0;
    }
    return st->scratch;
}

/* The static block's buffers, set as the job's: the caller's arrays where this
 * rank keeps that part, else scratch memory kept for the gather. */
static int block_buffers(runner *r, int64_t lo, int64_t hi) {
    pk__job *job = r->job;
    const job_bufs *b = r->bufs;
    pk__layout *lay = &r->st->lay;
    int64_t first = pk__layout_first(lay, lo), count = pk__layout_first(lay, hi) - first;
    job->partials = b->partials;
    job->part_base = b->part_base;
    job->out = NULL;
    job->out_base = first;
    if (lay->elem_size > 0 && job->opts.where == PK_DISTRIBUTED) {
        job->out = b->out;
    } else if (lay->elem_size > 0 && out_in_place(r->ctx, job)) {
        job->out = b->out + (size_t)first * lay->elem_size;
    } else if (lay->elem_size > 0 && r->st->use_shm) {
        job->out = pk__shm_of(r->st, r->ctx->rank);
        if (job->out == NULL && count > 0)
            return PK_ENOMEM;
    } else if (lay->elem_size > 0) {
        job->out = scratch(r->st, (size_t)(count > 0 ? count : 1) * lay->elem_size);
        if (job->out == NULL)
            return PK_ENOMEM;
    }
    job->results = NULL;
    job->res_base = first;
    if (lay->rtype != NULL && results_in_place(r->ctx, job, b)) {
        job->results = b->results + (size_t)first * lay->rtype->size;
    } else if (lay->rtype != NULL) {
        if ((lay->block_results = new_values(lay->rtype, count)) == NULL)
            return PK_ENOMEM;
        lay->block_count = count;
        job->results = lay->block_results;
    }
    return 0;
}

/* A piece [lo, hi) viewing the current (block) buffers. */
static int view_piece(runner *r, int64_t lo, int64_t hi) {
    if (lo >= hi)
        return 0;
    pk__job *job = r->job;
    pk__layout *lay = &r->st->lay;
    pk__piece *p = pk__layout_add(lay, lo, hi, r->ctx->rank);
    if (p == NULL)
        return PK_ENOMEM;
    int64_t first = pk__layout_first(lay, lo);
    if (job->partials != NULL)
        p->partials = job->partials + (size_t)(lo - job->part_base) * lay->red->type.size;
    if (job->out != NULL)
        p->out = job->out + (size_t)(first - job->out_base) * lay->elem_size;
    if (job->results != NULL)
        p->results = job->results + (size_t)(first - job->res_base) * lay->rtype->size;
    return 0;
}

/* ---- static ---- */

static int block_pieces(runner *r, int64_t lo, int64_t hi) {
    int64_t c = r->fm.chunk;
    if (c >= lo && c < hi && r->fm.rank != r->ctx->rank) {
        int rc = view_piece(r, lo, c);
        return rc != 0 ? rc : view_piece(r, c + 1, hi);
    }
    return view_piece(r, lo, hi);
}

static void run_moved_static(runner *r, int64_t lo, int64_t hi) {
    if (r->fm.chunk < 0 || r->fm.rank != r->ctx->rank)
        return;
    if (r->fm.chunk >= lo && r->fm.chunk < hi) {
        run_moved(r);
        return;
    }
    job_bufs block = save_bufs(r->job);
    if (own_piece(r, r->fm.chunk, r->fm.chunk + 1) != NULL)
        run_moved(r);
    restore_bufs(r->job, &block);
}

/* A fixed block in a few segments, so that a failure elsewhere stops this rank
 * early: the flag is checked between them. */
static void run_segments(runner *r, int64_t lo, int64_t hi) {
    int64_t m = hi - lo, nseg = m / (4 * (int64_t)pk_ctx_threads(r->ctx));
    nseg = nseg < 1 ? 1 : nseg > 8 ? 8 : nseg;
    r->block_hi = hi;
    for (int64_t s = 0; s < nseg && !atomic_load(&r->job->stop); s++) {
        if (s > 0 && others_failed(r))
            break;
        run_part(r, lo + m * s / nseg, lo + m * (s + 1) / nseg);
    }
}

static void run_static(runner *r) {
    int64_t lo = r->bufs->clo, hi = r->bufs->chi;
    if (block_buffers(r, lo, hi) != 0 || block_pieces(r, lo, hi) != 0) {
        fail_here(r->job, PK_ENOMEM, "no memory for this rank's block of chunks");
        return;
    }
    run_moved_static(r, lo, hi);
    run_segments(r, lo, hi);
}

/* ---- dynamic ---- */

/* A batch of chunks with buffers of its own; the first block in segments. */
static void run_batch(runner *r, int64_t lo, int64_t hi, int first) {
    int64_t c = r->fm.chunk;
    if (c >= lo && c < hi) {
        run_batch(r, lo, c, first);
        run_batch(r, c + 1, hi, first);
        return;
    }
    if (lo >= hi || atomic_load(&r->job->stop) || own_piece(r, lo, hi) == NULL)
        return;
    if (first)
        run_segments(r, lo, hi);
    else
        run_part(r, lo, hi);
}

static void run_dynamic(runner *r) {
    pk__job *job = r->job;
    int64_t n = job->nchunks, p = r->ctx->nranks, me = r->ctx->rank;
    if (r->fm.chunk >= 0 && r->fm.rank == me && own_piece(r, r->fm.chunk, r->fm.chunk + 1) != NULL)
        run_moved(r);
    /* the first half in fixed blocks: no claims, and every rank has work */
    int64_t b0 = n / (2 * p) > 0 ? n / (2 * p) : 1;
    int64_t start = b0 * p < n ? b0 * p : n;
    int64_t lo = me * b0, hi = lo + b0 < start ? lo + b0 : start;
    run_batch(r, lo, hi, 1);
    int64_t est = start, minb = pk_ctx_threads(r->ctx);
    while (!atomic_load(&job->stop)) {
        int64_t want = (n - est) / (2 * p);
        want = want > minb ? want : minb;
        int64_t old = 0;
        int m = window_op(r, counter_word(r), want, MPI_SUM, &old);
        if (m != MPI_SUCCESS) {
            fail_mpi(r, m, "MPI_Fetch_and_op (claiming chunks)");
            break;
        }
        if (old >= n - start)
            break;
        lo = start + old;
        hi = n - lo > want ? lo + want : n;
        est = hi;
        atomic_store(&job->done, lo);
        run_batch(r, lo, hi, 0);
    }
}

/* ---- the layout every rank sees ---- */

static int needs_layout(const pk__job *job) {
    return (job->kind == PK__MAP_REDUCE && (job->red != NULL || job->elem_size > 0)) ||
           (job->kind == PK__TASKS && job->rtype != NULL);
}

static void add_all(pk__layout *lay, int64_t lo, int64_t hi, int owner) {
    if (lo < hi)
        lay->all[lay->nall++] = (pk__piece){.lo = lo, .hi = hi, .owner = owner};
}

/* Every rank's static block, with the moved fault chunk given to its rank. */
static int static_all(pk_ctx *ctx, pk__layout *lay, const fault_move *fm) {
    lay->all = calloc((size_t)ctx->nranks + 3, sizeof *lay->all);
    if (lay->all == NULL)
        return PK_ENOMEM;
    int64_t c = fm->chunk;
    for (int r = 0; r < ctx->nranks; r++) {
        int64_t lo, hi;
        pk__mpi_block(lay->nchunks, ctx->nranks, r, &lo, &hi);
        if (c >= lo && c < hi && fm->rank != r) {
            add_all(lay, lo, c, r);
            add_all(lay, c + 1, hi, r);
        } else {
            add_all(lay, lo, hi, r);
            if (c >= 0 && fm->rank == r && (c < lo || c >= hi))
                add_all(lay, c, c + 1, r);
        }
    }
    pk__layout_sort(lay->all, lay->nall);
    return 0;
}

int pk__mpi_run(pk_ctx *ctx, pk__job *job) {
    pk__mpi_state *st = ctx->impl;
    pk__layout_clear(&st->lay);
    if (ctx->nranks == 1)
        return ctx->local->run(ctx, job);
    job_bufs b = save_bufs(job);
    int dynamic =
        job->schedule == PK_DYNAMIC && !(job->elem_size > 0 && job->opts.where == PK_DISTRIBUTED);
    runner r = {.ctx = ctx, .job = job, .st = st, .bufs = &b, .slot = (int)(st->runs++ % 2)};
    st->slot = r.slot;
    r.fm = plan_fault(ctx, job, dynamic);
    job->fault_chunk = -1; /* the move replaces job.c's own redirection */
    job->progress_total = dynamic ? job->nchunks : b.chi - b.clo;
    pk__layout_start(&st->lay, job);
    pk__shm_prepare(ctx, job, dynamic);
    /* the share runs in parts; each thread is one worker across all of them */
    if (pk__job_keep_workers(job, pk_ctx_threads(ctx)) != 0)
        fail_here(job, PK_ENOMEM, "no memory for the workers' state");
    else if (dynamic)
        run_dynamic(&r);
    else
        run_static(&r);
    pk__job_end_workers(job);
    pk__layout_sort(st->lay.mine, st->lay.nmine);
    /* the static layout is known to all: computed here, so the agreement covers it */
    if (!dynamic && needs_layout(job) && static_all(ctx, &st->lay, &r.fm) != 0)
        fail_here(job, PK_ENOMEM, "no memory for the layout");
    if (atomic_load(&job->stop))
        poison(&r);
    pk__shm_sync(st); /* the writes to the segment, before the agreement */
    pk__mpi_chans_flush(ctx);
    int rc = pk__job_error_to_ctx(job);
    if (r.got > 0)
        ctx->threads_obtained = r.got;
    rc = pk__mpi_agree(ctx, rc);
    if (ctx->rank == 0 && (dynamic || rc != 0))
        reset_words(&r);
    if (ctx->rank == 0 && ctx->progress != NULL) { /* every rank has counted: ready again */
        int64_t old;
        window_op(&r, progress_word(r.slot), 0, MPI_REPLACE, &old);
    }
    restore_bufs(job, &b);
    if (rc == 0 && dynamic && needs_layout(job))
        rc = pk__layout_gather(ctx, &st->lay);
    if (rc != 0 || !needs_layout(job))
        pk__layout_clear(&st->lay);
    return rc;
}

int64_t pk__mpi_progress_sum(pk_ctx *ctx, pk__job *job, int64_t local_done) {
    pk__mpi_state *st = ctx->impl;
    int64_t delta = local_done - job->progress_sent, old = 0;
    job->progress_sent = local_done;
    int taken = pk__mpi_serial_begin(); /* the other threads are running */
    int m =
        MPI_Fetch_and_op(&delta, &old, MPI_INT64_T, 0, progress_word(st->slot), MPI_SUM, st->win);
    if (m == MPI_SUCCESS)
        m = MPI_Win_flush(0, st->win);
    pk__mpi_serial_end(taken);
    return m == MPI_SUCCESS ? old + delta : local_done; /* progress only: no error */
}
