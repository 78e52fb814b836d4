/* The execution of one pool call, shared by every backend: the per-thread loop
 * (static or dynamic claiming of chunks), fault injection, first-error-wins
 * capture and progress. Backends only decide which chunks a process owns and how
 * its threads are started; everything that decides *what happens* to a chunk is
 * here, once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

int64_t pk__default_chunk(int64_t n) {
    /* About 1024 chunks whatever the pool: enough to balance 64 workers 16 ways,
     * few enough that per-chunk overhead stays invisible. */
    int64_t c = n / 1024;
    return c > 0 ? c : 1;
}

pk_opts pk__opts_or_default(const pk_opts *opts, int kind) {
    pk_opts o;
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    if (o.schedule == PK_SCHEDULE_DEFAULT)
        o.schedule = kind == PK__TASKS ? PK_DYNAMIC : PK_STATIC;
    return o;
}

static int kernel_matches(const pk_ctx *ctx, const char *label) {
    return ctx->fault.armed &&
           (ctx->fault.kernel[0] == '\0' || strcmp(ctx->fault.kernel, label) == 0);
}

int64_t pk__job_fault_chunk(const pk__job *job) {
    int64_t t = job->ctx->fault.task - job->task_base;
    if (job->ctx->fault.task < 0 || t < 0)
        return -1;
    int64_t c = job->kind == PK__TASKS ? t / job->chunk : t;
    return c < job->nchunks ? c : -1;
}

/* A PK_SOLO step: a process-scope call on the threads the node lends. */
static int solo_step(const pk__job *job) {
    return job->process_scope && (job->opts.flags & PK_SOLO);
}

void pk__job_init(pk__job *job, pk_ctx *ctx, int kind, int64_t n, const pk_opts *opts) {
    memset(job, 0, sizeof *job);
    job->ctx = ctx;
    job->kind = kind;
    job->opts = pk__opts_or_default(opts, kind);
    job->label = job->opts.label ? job->opts.label : ctx->kernel ? ctx->kernel : "pool";
    job->n = n;
    job->chunk = job->opts.chunk > 0 ? job->opts.chunk
                 : kind == PK__TASKS ? 1
                                     : pk__default_chunk(n);
    job->nchunks = n == 0 ? 0 : (n - 1) / job->chunk + 1;
    job->schedule = job->opts.schedule;
    job->nthreads = pk_ctx_threads(ctx);
    job->rank = ctx->rank;
    job->nranks = ctx->nranks;
    job->clo = 0;
    job->chi = job->nchunks;
    job->task_base = job->opts.task_base > 0 ? job->opts.task_base : 0;
    job->process_scope = job->opts.scope == PK_SCOPE_PROCESS;
    if (job->process_scope)
        job->nranks = 1;
    if (solo_step(job))
        job->nthreads = pk_ctx_solo_threads(ctx);
    job->fault_on =
        kind != PK__COMBINE && !(job->opts.flags & PK_NO_FAULTS) && kernel_matches(ctx, job->label);
    job->fault_chunk = -1;
    if (job->fault_on && ctx->fault.task >= 0 && ctx->fault.thread >= 0 &&
        ctx->fault.rank < ctx->nranks) {
        int64_t c = pk__job_fault_chunk(job);
        if (c >= 0)
            job->fault_chunk = c;
    }
    atomic_init(&job->next, 0);
    atomic_init(&job->stop, 0);
    atomic_init(&job->err_claimed, 0);
    atomic_init(&job->fault_fired, 0);
    atomic_init(&job->fault_task_done, 0);
    atomic_init(&job->done, 0);
    atomic_init(&job->threads_obtained, 0);
    job->err.rank = job->err.thread = -1;
    job->err.task = -1;
    /* The first report comes sooner: a call of a second shows it is moving.
     * A call that follows others keeps the report they had due, unless it is
     * older than an interval (a pause between calls): calls shorter than the
     * interval, one after the other, still report about once an interval. */
    double now = pk__now(), soon = now + ctx->progress_interval / 4;
    double due = atomic_load_explicit(&ctx->progress_pool_due, memory_order_relaxed);
    if (due < now - ctx->progress_interval) {
        due = soon;
        atomic_store_explicit(&ctx->progress_pool_due, due, memory_order_relaxed);
    }
    job->progress_next = due;
}

void pk__worker_init(pk_worker *w, pk__job *job, int thread, int nthreads) {
    memset(w, 0, sizeof *w);
    w->rank = job->rank;
    w->nranks = job->nranks;
    w->thread = thread;
    w->nthreads = nthreads;
    w->id = (job->process_scope ? 0 : job->rank) * nthreads + thread;
    w->nworkers = job->nranks * nthreads;
    w->task = -1;
    w->job_ = job;
}

/* Claims the job's error for w if nobody did yet; message may be NULL. */
static void job_record(pk__job *job, const pk_worker *w, int rc, const char *message) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&job->err_claimed, &expected, 1)) {
        pk_error_info *e = &job->err;
        e->code = rc;
        snprintf(e->kernel, sizeof e->kernel, "%s", job->label);
        e->rank = w->rank;
        e->thread = w->thread;
        e->task = w->task >= 0 ? job->task_base + w->task : -1;
        snprintf(e->message, sizeof e->message, "%s", message ? message : pk_strerror(rc));
        pk__ctx_abort_chans(job->ctx, PK_EABORTED);
        pk__ctx_break_syncs(job->ctx);
    }
    atomic_store(&job->stop, 1);
}

void pk__job_fail(pk__job *job, pk_worker *w, int rc) {
    job_record(job, w, rc, pk__ctx_take_note(job->ctx, rc));
}

int pk_fail(pk_worker *w, int code, const char *fmt, ...) {
    char msg[sizeof((pk_error_info *)0)->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w != NULL && w->job_ != NULL && code != 0)
        job_record(w->job_, w, code, msg);
    return code;
}

/* Whether the context's interrupt fired; if so the job fails with PK_EINTR. */
static int job_interrupted(pk__job *job, const pk_worker *w) {
    const pk_ctx *ctx = job->ctx;
    if (ctx->interrupt == NULL || !ctx->interrupt(ctx->interrupt_arg))
        return 0;
    job_record(job, w, PK_EINTR, pk_strerror(PK_EINTR));
    return 1;
}

int pk_interrupt_check(pk_worker *w) {
    return w != NULL && w->job_ != NULL && job_interrupted(w->job_, w) ? PK_EINTR : 0;
}

int pk_stopping(const pk_worker *w) {
    return w->job_ != NULL && (atomic_load_explicit(&w->job_->stop, memory_order_relaxed) ||
                               job_interrupted(w->job_, w));
}

int pk_fault_armed(const pk_worker *w) {
    return w != NULL && w->job_ != NULL && w->job_->fault_on;
}

int pk_task_begin(pk_worker *w, int64_t task) {
    w->task = task;
    pk__job *job = w->job_;
    if (job == NULL || !job->fault_on)
        return 0;
    const pk__fault *f = &job->ctx->fault;
    if ((f->task >= 0 && f->task != job->task_base + task) ||
        (f->thread >= 0 && f->thread != w->thread) || (f->rank >= 0 && f->rank != w->rank))
        return 0;
    if (f->alloc || atomic_exchange(&job->fault_fired, 1))
        return 0;
    return pk_fail(w, PK_EINJECTED, "injected fault");
}

/* Whether an armed fail=alloc fault takes this allocation (once per call). */
static int alloc_fault_hits(const pk_worker *w) {
    pk__job *job = w->job_;
    if (job == NULL || !job->fault_on)
        return 0;
    const pk__fault *f = &job->ctx->fault;
    if (!f->alloc || (f->task >= 0 && (w->task < 0 || f->task != job->task_base + w->task)) ||
        (f->thread >= 0 && f->thread != w->thread) || (f->rank >= 0 && f->rank != w->rank))
        return 0;
    return !atomic_exchange(&job->fault_fired, 1);
}

int pk_worker_reserve(pk_worker *w, size_t bytes) {
    if (w == NULL || !alloc_fault_hits(w))
        return 0;
    return pk_fail(w, PK_ENOMEM, "out of memory (injected): %zu bytes", bytes);
}

void *pk_worker_alloc(pk_worker *w, size_t bytes) {
    if (pk_worker_reserve(w, bytes) != 0)
        return NULL;
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (p == NULL && w != NULL)
        pk_fail(w, PK_ENOMEM, "out of memory: %zu bytes", bytes);
    return p;
}

/* Thread 0 of each rank, at most once per interval: on rank 0 the callback
 * gets the fraction of the whole job done; with several ranks every rank adds
 * its count (progress_sum), so rank 0 shows all of them. */
void pk__progress_tick(pk__job *job, pk_worker *w) {
    pk_ctx *ctx = job->ctx;
    int pooled = ctx->nranks > 1 && ctx->backend->progress_sum != NULL && !job->process_scope;
    if (ctx->progress == NULL || w->thread != 0 || (w->rank != 0 && !pooled) ||
        job->kind == PK__COMBINE || (job->opts.flags & PK_NO_PROGRESS))
        return;
    double now = pk__now();
    if (now < job->progress_next)
        return;
    job->progress_next = now + ctx->progress_interval;
    atomic_store_explicit(&ctx->progress_pool_due, job->progress_next, memory_order_relaxed);
    int64_t done = atomic_load(&job->done);
    if (pooled)
        done = ctx->backend->progress_sum(ctx, job, done);
    if (w->rank != 0)
        return;
    int64_t total = pooled                    ? job->nchunks
                    : job->progress_total > 0 ? job->progress_total
                                              : job->chi - job->clo;
    double frac = total > 0 ? (double)done / (double)total : 1.0;
    ctx->progress(ctx->progress_arg, job->label, frac > 1 ? 1 : frac);
}

static int run_tasks(pk__job *job, pk_worker *w, int64_t b, int64_t e) {
    const pk_type *rt = job->rtype;
    for (int64_t t = b; t < e; t++) {
        int rc = pk_task_begin(w, t);
        if (rc != 0)
            return rc;
        void *res = job->results ? job->results + (size_t)(t - job->res_base) * rt->size : NULL;
        void *arg =
            job->opts.arg_stride ? (char *)job->arg + (size_t)t * job->opts.arg_stride : job->arg;
        rc = job->task_fn(arg, t, res, w);
        if (rc != 0)
            return rc;
        if (t + 1 < e && pk_stopping(w))
            return 0;
    }
    return 0;
}

/* Pair p of a combine level with stride s: partials i and i + s. */
static int run_combine(pk__job *job, int64_t p) {
    const pk_reducer *red = job->red;
    int64_t i = job->comb_first + p * 2 * job->stride;
    char *into = job->partials + (size_t)(i - job->part_base) * red->type.size;
    char *from = into + (size_t)job->stride * red->type.size;
    return red->combine(into, from, red->type.arg);
}

int pk__job_chunk(pk__job *job, pk_worker *w, int64_t c) {
    if (job->kind != PK__COMBINE && job_interrupted(job, w))
        return PK_EINTR;
    if (w->run_end_ <= c) /* a chunk run on its own */
        w->run_end_ = c + 1;
    int64_t b = c * job->chunk;
    int64_t e = job->n - b < job->chunk ? job->n : b + job->chunk;
    int rc = 0;
    switch (job->kind) {
    case PK__FOR:
        rc = pk_task_begin(w, c);
        if (rc == 0)
            rc = job->range_fn(job->arg, b, e, w);
        break;
    case PK__MAP_REDUCE: {
        rc = pk_task_begin(w, c);
        void *out = job->out ? job->out + (size_t)(b - job->out_base) * job->elem_size : NULL;
        void *acc = job->partials
                        ? job->partials + (size_t)(c - job->part_base) * job->red->type.size
                        : NULL;
        if (rc == 0)
            rc = job->chunk_fn(job->arg, b, e, out, acc, w);
        break;
    }
    case PK__TASKS:
        rc = run_tasks(job, w, b, e);
        break;
    case PK__COMBINE:
        w->task = c;
        rc = run_combine(job, c);
        break;
    default:
        rc = PK_EINVAL;
    }
    if (rc != 0) {
        pk__job_fail(job, w, rc);
        w->task = -1;
        return rc;
    }
    w->task = -1;
    atomic_fetch_add_explicit(&job->done, 1, memory_order_relaxed);
    pk__progress_tick(job, w);
    return 0;
}

int64_t pk_worker_run_end(const pk_worker *w) {
    const pk__job *job = w != NULL ? w->job_ : NULL;
    if (job == NULL || w->task < 0 || job->kind == PK__COMBINE || job->kind == PK__TEAM)
        return -1;
    int64_t e = w->run_end_ * job->chunk;
    return e < job->n ? e : job->n;
}

/* Whether this worker must leave chunk c to the fault's thread. */
static int leave_to_fault(const pk__job *job, const pk_worker *w, int target, int64_t c) {
    return c == job->fault_chunk && !target && job->fault_chunk >= 0 &&
           job->ctx->fault.thread < w->nthreads;
}

static int is_fault_target(const pk__job *job, const pk_worker *w) {
    const pk__fault *f = &job->ctx->fault;
    return job->fault_chunk >= 0 && f->thread == w->thread && (f->rank < 0 || f->rank == w->rank);
}

static void worker_loop(pk__job *job, pk_worker *w, int target, int *ran_fault) {
    int64_t lo = job->clo, hi = job->chi;
    if (job->schedule == PK_DYNAMIC) {
        while (!atomic_load_explicit(&job->stop, memory_order_relaxed)) {
            int64_t c = atomic_fetch_add(&job->next, 1);
            if (c >= hi)
                break;
            if (leave_to_fault(job, w, target, c))
                continue;
            *ran_fault |= c == job->fault_chunk;
            w->run_end_ = c + 1;
            if (pk__job_chunk(job, w, c) != 0)
                break;
        }
        return;
    }
    int64_t m = hi - lo, t = w->thread, nt = w->nthreads;
    int64_t b = lo + (m / nt) * t + (t < m % nt ? t : m % nt);
    int64_t e = b + m / nt + (t < m % nt ? 1 : 0);
    for (int64_t c = b; c < e; c++) {
        if (atomic_load_explicit(&job->stop, memory_order_relaxed))
            break;
        if (leave_to_fault(job, w, target, c))
            continue;
        *ran_fault |= c == job->fault_chunk;
        /* a chunk left to the fault's thread breaks the run; on one thread the
         * next part of a rank's block carries it on */
        int64_t f = job->fault_chunk,
                run = e == hi && nt == 1 && job->parts_end > hi ? job->parts_end : e;
        w->run_end_ = f > c && f < e && leave_to_fault(job, w, target, f) ? f : run;
        if (pk__job_chunk(job, w, c) != 0)
            break;
    }
}

static int has_hooks(const pk__job *job) {
    return job->kind != PK__COMBINE &&
           (job->opts.worker_begin != NULL || job->opts.worker_end != NULL);
}

int pk__job_keep_workers(pk__job *job, int nthreads) {
    if (!has_hooks(job) || nthreads < 1)
        return 0;
    job->kept = calloc((size_t)nthreads, sizeof *job->kept);
    job->kept_state = calloc((size_t)nthreads, sizeof *job->kept_state);
    if (job->kept == NULL || job->kept_state == NULL) {
        free(job->kept);
        free(job->kept_state);
        job->kept = NULL;
        job->kept_state = NULL;
        return PK_ENOMEM;
    }
    job->nkept = nthreads;
    return 0;
}

pk_worker *pk__job_enter_worker(pk__job *job, pk_worker *own, int thread, int nthreads) {
    int keep = job->kept != NULL && thread < job->nkept;
    pk_worker *w = keep ? &job->kept[thread] : own;
    if (keep && job->kept_state[thread] != 0) {
        w->task = -1;
        return job->kept_state[thread] > 0 ? w : NULL;
    }
    /* a kept worker counts the rank's whole pool of threads, whatever this run got */
    pk__worker_init(w, job, thread, keep ? job->nkept : nthreads);
    int rc = job->opts.worker_begin != NULL && job->kind != PK__COMBINE
                 ? job->opts.worker_begin(job->arg, w)
                 : 0;
    if (keep)
        job->kept_state[thread] = rc == 0 ? 1 : -1;
    if (rc != 0) {
        pk__job_fail(job, w, rc);
        return NULL;
    }
    return w;
}

void pk__job_leave_worker(pk__job *job, pk_worker *w) {
    if (job->kept == NULL && job->opts.worker_end != NULL && job->kind != PK__COMBINE)
        job->opts.worker_end(job->arg, w);
}

void pk__job_end_workers(pk__job *job) {
    if (job->kept == NULL)
        return;
    for (int t = 0; t < job->nkept; t++)
        if (job->kept_state[t] > 0 && job->opts.worker_end != NULL)
            job->opts.worker_end(job->arg, &job->kept[t]);
    free(job->kept);
    free(job->kept_state);
    job->kept = NULL;
    job->kept_state = NULL;
    job->nkept = 0;
}

void pk__job_worker(pk__job *job, int thread, int nthreads) {
    if (thread == 0)
        atomic_store(&job->threads_obtained, nthreads);
    pk_worker own;
    pk_worker *w = pk__job_enter_worker(job, &own, thread, nthreads);
    if (w == NULL)
        return;
    int target =
        is_fault_target(job, w) && job->fault_chunk >= job->clo && job->fault_chunk < job->chi;
    int ran_fault = 0;
    worker_loop(job, w, target, &ran_fault);
    if (target && !ran_fault && !atomic_load(&job->stop)) {
        w->run_end_ = job->fault_chunk + 1;
        pk__job_chunk(job, w, job->fault_chunk);
    }
    pk__job_leave_worker(job, w);
}

int pk__job_error_to_ctx(pk__job *job) {
    pk_ctx *ctx = job->ctx;
    int got = atomic_load(&job->threads_obtained);
    if (got > 0 && !solo_step(job))
        ctx->threads_obtained = got; /* a solo step borrows threads: not the pool's */
    if (atomic_load(&job->fault_fired))
        ctx->fault.fired = 1;
    if (!atomic_load(&job->err_claimed))
        return 0;
    ctx->err = job->err;
    return job->err.code;
}

_Thread_local int pk__team_id = -1;

void pk__team_member(pk__job *job, pk_team_fn fn, void *arg, int id, int n) {
    int outer = pk__team_id;
    pk__team_id = id;
    pk_worker w;
    pk__worker_init(&w, job, job->nranks > 1 ? 0 : id, job->nranks > 1 ? 1 : n);
    w.id = id;
    w.nworkers = n;
    int rc = 0;
    if (job->opts.worker_begin != NULL)
        rc = job->opts.worker_begin(arg, &w);
    if (rc == 0) {
        rc = fn(arg, &w);
        if (job->opts.worker_end != NULL)
            job->opts.worker_end(arg, &w);
    }
    if (rc != 0)
        pk__job_fail(job, &w, rc);
    pk__team_id = outer;
}
