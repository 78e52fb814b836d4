/* The public pool calls: argument checks first, trivial cases short-circuited,
 * then one job dispatched through the context's backend table, and every result
 * funnelled through one error path. */
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

static int check_ctx_n(pk_ctx *ctx, int64_t n, int has_fn, const pk_opts *opts) {
    if (n < 0)
        return pk__set_error(ctx, PK_EINVAL, "negative index count %lld", (long long)n);
    if (!has_fn)
        return pk__set_error(ctx, PK_EINVAL, "no callback given");
    if (opts != NULL && opts->chunk < 0)
        return pk__set_error(ctx, PK_EINVAL, "negative chunk size %lld", (long long)opts->chunk);
    if (opts != NULL && (opts->schedule < PK_SCHEDULE_DEFAULT || opts->schedule > PK_DYNAMIC))
        return pk__set_error(ctx, PK_EINVAL, "unknown schedule %d", opts->schedule);
    if (opts != NULL && (opts->where < PK_ON_ROOT || opts->where > PK_DISTRIBUTED))
        return pk__set_error(ctx, PK_EINVAL, "unknown placement %d", opts->where);
    if (opts != NULL && opts->task_base < 0)
        return pk__set_error(ctx, PK_EINVAL, "negative task base %lld", (long long)opts->task_base);
    if (opts != NULL && opts->scope != PK_SCOPE_POOL && opts->scope != PK_SCOPE_PROCESS)
        return pk__set_error(ctx, PK_EINVAL, "unknown scope %d", opts->scope);
    if (opts != NULL && (opts->flags & ~(unsigned)(PK_NO_FAULTS | PK_NO_PROGRESS | PK_SOLO)) != 0)
        return pk__set_error(ctx, PK_EINVAL, "unknown flags 0x%x", opts->flags);
    if (opts != NULL && (opts->flags & PK_SOLO) && opts->scope != PK_SCOPE_PROCESS)
        return pk__set_error(ctx, PK_EINVAL,
                             "PK_SOLO is for a call on this process alone (PK_SCOPE_PROCESS)");
    return 0;
}

static int process_scope(const pk_opts *opts) {
    return opts != NULL && opts->scope == PK_SCOPE_PROCESS;
}

/* A status made collective, except for a call on this process's threads alone,
 * whose error is its own. */
static int agree_call(pk_ctx *ctx, const pk_opts *opts, int rc) {
    return process_scope(opts) ? rc : ctx->backend->agree(ctx, rc);
}

int pk_agree(pk_ctx *ctx, int rc) {
    if (ctx == NULL)
        return PK_EINVAL;
    return ctx->backend->agree(ctx, rc);
}

int pk_agree_solo(pk_ctx *ctx, int rc) {
    if (ctx == NULL)
        return PK_EINVAL;
    if (ctx->backend->agree_solo == NULL)
        return ctx->backend->agree(ctx, rc);
    return ctx->backend->agree_solo(ctx, rc);
}

int pk_bcast(pk_ctx *ctx, void *buf, size_t len) {
    if (ctx == NULL)
        return PK_EINVAL;
    if (buf == NULL && len > 0)
        return ctx->backend->agree(ctx, pk__set_error(ctx, PK_EINVAL, "pk_bcast: no buffer"));
    if (ctx->backend->bcast == NULL || len == 0)
        return 0;
    return ctx->backend->bcast(ctx, buf, len);
}

int pk_rank_barrier(pk_ctx *ctx) {
    if (ctx == NULL)
        return PK_EINVAL;
    return ctx->backend->barrier(ctx);
}

/* The error callback, once on rank 0, for a call that failed. */
static int report(pk_ctx *ctx, const pk_opts *opts, void *arg, int rc) {
    if (rc != 0 && opts != NULL && opts->on_error != NULL && ctx->rank == 0)
        opts->on_error(arg, &ctx->err);
    return rc;
}

/* A pool call made directly (not from inside a kernel, where pk__kernel_enter
 * does it) starts with the fault not fired, so pk_ctx_fault_fired() speaks of
 * this call only. */
static void begin_call(pk_ctx *ctx) {
    if (ctx->kernel == NULL)
        ctx->fault.fired = 0;
}

static void set_local_range(pk_ctx *ctx, pk__job *job) {
    if (ctx->backend->local_range != NULL)
        ctx->backend->local_range(ctx, job, &job->clo, &job->chi);
    atomic_store(&job->next, job->clo);
}

int pk_for(pk_ctx *ctx, int64_t n, const pk_opts *opts, pk_range_fn body, void *arg) {
    if (ctx == NULL)
        return PK_EINVAL;
    begin_call(ctx);
    int rc = check_ctx_n(ctx, n, body != NULL, opts);
    if (rc != 0)
        return report(ctx, opts, arg, agree_call(ctx, opts, rc));
    pk__job job;
    pk__job_init(&job, ctx, PK__FOR, n, opts);
    job.range_fn = body;
    job.arg = arg;
    if (job.process_scope)
        return report(ctx, opts, arg, ctx->local->run(ctx, &job));
    set_local_range(ctx, &job);
    return report(ctx, opts, arg, ctx->backend->run(ctx, &job));
}

int pk_local_range(pk_ctx *ctx, int64_t n, const pk_opts *opts, int64_t *begin, int64_t *end) {
    if (ctx == NULL || begin == NULL || end == NULL || n < 0)
        return ctx ? pk__set_error(ctx, PK_EINVAL, "bad arguments to pk_local_range") : PK_EINVAL;
    pk__job job;
    pk__job_init(&job, ctx, PK__MAP_REDUCE, n, opts);
    set_local_range(ctx, &job);
    *begin = job.clo * job.chunk < n ? job.clo * job.chunk : n;
    *end = job.chi * job.chunk < n ? job.chi * job.chunk : n;
    return 0;
}

static int alloc_partials(pk_ctx *ctx, pk__job *job, const pk_reducer *red) {
    int64_t count = job->chi - job->clo;
    job->red = red;
    job->part_base = job->clo;
    if (count == 0)
        return 0;
    size_t bytes = (size_t)count * red->type.size;
    const pk__fault *f = &ctx->fault;
    if (job->fault_on && f->alloc && f->task < 0 && f->thread < 0 &&
        (f->rank < 0 || f->rank == ctx->rank)) {
        /* fail=alloc naming no thread nor task: the rank's own buffer (made
         * by its thread 0) */
        atomic_store(&job->fault_fired, 1);
        ctx->fault.fired = 1;
        pk__set_error(ctx, PK_ENOMEM, "out of memory (injected): %zu bytes", bytes);
        ctx->err.rank = ctx->rank;
        ctx->err.thread = 0;
        return PK_ENOMEM;
    }
    job->partials = malloc(bytes);
    if (job->partials == NULL)
        return pk__set_error(ctx, PK_ENOMEM, "no memory for %lld partial results",
                             (long long)count);
    int rc = pk__type_init_array(&red->type, job->partials, count);
    if (rc != 0) {
        free(job->partials);
        job->partials = NULL;
        return pk__set_error(ctx, rc, "initializing partial results failed");
    }
    return 0;
}

static void free_partials(pk__job *job) {
    if (job->partials == NULL)
        return;
    pk__type_destroy_array(&job->red->type, job->partials, job->chi - job->clo);
    free(job->partials);
    job->partials = NULL;
}

static int check_map_reduce(pk_ctx *ctx, size_t elem_size, void *out, const pk_reducer *red,
                            void *result, const pk_opts *opts) {
    int where = opts ? opts->where : PK_ON_ROOT;
    int ranks = (ctx->backend->caps & PK__CAP_RANKS) && !process_scope(opts);
    if (elem_size > 0 && out == NULL &&
        (ctx->rank == 0 || where != PK_ON_ROOT || process_scope(opts)) &&
        !(ranks && where == PK_ON_ROOT))
        return pk__set_error(ctx, PK_EINVAL, "an output element size without an output array");
    if (red != NULL && (red->combine == NULL || red->type.size == 0))
        return pk__set_error(ctx, PK_EINVAL, "a reducer needs a combine function and a size");
    if (red != NULL && result == NULL)
        return pk__set_error(ctx, PK_EINVAL, "a reducer without a result");
    return 0;
}

/* pk_map_reduce, and pk_combine with set_result (result = reduction). */
static int map_reduce(pk_ctx *ctx, int64_t n, const pk_opts *opts, pk_chunk_fn body, void *arg,
                      size_t elem_size, void *out, const pk_reducer *red, void *result,
                      int set_result) {
    if (ctx == NULL)
        return PK_EINVAL;
    begin_call(ctx);
    int rc = check_ctx_n(ctx, n, body != NULL, opts);
    if (rc == 0)
        rc = check_map_reduce(ctx, elem_size, out, red, result, opts);
    if (rc != 0)
        return report(ctx, opts, arg, agree_call(ctx, opts, rc));
    pk__job job;
    pk__job_init(&job, ctx, PK__MAP_REDUCE, n, opts);
    job.chunk_fn = body;
    job.arg = arg;
    job.set_result = set_result;
    job.elem_size = elem_size;
    job.out = elem_size > 0 ? out : NULL;
    const pk_backend *be = job.process_scope ? ctx->local : ctx->backend;
    if (!job.process_scope)
        set_local_range(ctx, &job);
    if (job.opts.where == PK_DISTRIBUTED && !job.process_scope)
        job.out_base = job.clo * job.chunk;
    rc = red != NULL ? alloc_partials(ctx, &job, red) : 0;
    rc = agree_call(ctx, opts, rc);
    if (rc != 0)
        return report(ctx, opts, arg, rc);
    rc = be->run(ctx, &job);
    if (rc == 0 && red != NULL)
        rc = be->reduce(ctx, &job, result);
    if (rc == 0 && elem_size > 0 && !job.process_scope)
        rc = be->collect(ctx, &job);
    free_partials(&job);
    return report(ctx, opts, arg, rc);
}

int pk_map_reduce(pk_ctx *ctx, int64_t n, const pk_opts *opts, pk_chunk_fn body, void *arg,
                  size_t elem_size, void *out, const pk_reducer *red, void *result) {
    return map_reduce(ctx, n, opts, body, arg, elem_size, out, red, result, 0);
}

int pk_tasks(pk_ctx *ctx, int64_t ntasks, const pk_opts *opts, pk_task_fn fn, void *arg,
             const pk_type *result_type, void *results) {
    if (ctx == NULL)
        return PK_EINVAL;
    begin_call(ctx);
    int rc = check_ctx_n(ctx, ntasks, fn != NULL, opts);
    if (rc == 0 && result_type != NULL && result_type->size == 0)
        rc = pk__set_error(ctx, PK_EINVAL, "a result type of size 0");
    int where = opts ? opts->where : PK_ON_ROOT;
    if (rc == 0 && result_type != NULL && results == NULL &&
        (ctx->nranks == 1 || where == PK_ON_ALL || ctx->rank == 0 || process_scope(opts)))
        rc = pk__set_error(ctx, PK_EINVAL, "a result type without a results array");
    if (rc != 0)
        return report(ctx, opts, arg, agree_call(ctx, opts, rc));
    pk__job job;
    pk__job_init(&job, ctx, PK__TASKS, ntasks, opts);
    job.task_fn = fn;
    job.arg = arg;
    job.rtype = result_type;
    job.results = result_type ? results : NULL;
    if (job.process_scope)
        return report(ctx, opts, arg, ctx->local->run(ctx, &job));
    set_local_range(ctx, &job);
    rc = ctx->backend->run(ctx, &job);
    if (rc == 0 && result_type != NULL)
        rc = ctx->backend->collect(ctx, &job);
    return report(ctx, opts, arg, rc);
}

int pk_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg) {
    if (ctx == NULL)
        return PK_EINVAL;
    begin_call(ctx);
    int rc = 0;
    if (nworkers < 0)
        rc = pk__set_error(ctx, PK_EINVAL, "negative worker count %d", nworkers);
    else if (fn == NULL)
        rc = pk__set_error(ctx, PK_EINVAL, "no callback given");
    else if (opts != NULL && opts->scope != PK_SCOPE_POOL && opts->scope != PK_SCOPE_PROCESS)
        rc = pk__set_error(ctx, PK_EINVAL, "unknown scope %d", opts->scope);
    if (rc != 0)
        return report(ctx, opts, arg, agree_call(ctx, opts, rc));
    const pk_backend *be = process_scope(opts) ? ctx->local : ctx->backend;
    return report(ctx, opts, arg, be->team(ctx, nworkers, opts, fn, arg));
}

int pk_values_new(void **values, const pk_type *type, int64_t count) {
    if (values == NULL)
        return PK_EINVAL;
    *values = NULL;
    if (type == NULL || count < 0 || type->size == 0)
        return PK_EINVAL;
    char *v = malloc(count > 0 ? (size_t)count * type->size : 1);
    if (v == NULL)
        return PK_ENOMEM;
    int rc = pk__type_init_array(type, v, count);
    if (rc != 0) {
        free(v);
        return rc;
    }
    *values = v;
    return 0;
}

void pk_values_free(const pk_type *type, int64_t count, void *values) {
    if (values == NULL)
        return;
    pk__type_destroy_array(type, values, count);
    free(values);
}

typedef struct combine_arg {
    const pk_reducer *red;
    const void *value;
} combine_arg;

/* Chunk r is rank r's: its partial becomes a copy of that rank's value (never
 * combined with the type's initial value, which need not be an identity). A
 * packed type is copied through pack and unpack; a plain one byte for byte, as
 * the pool moves it between ranks. */
static int combine_chunk(void *arg, int64_t begin, int64_t end, void *out, void *acc,
                         pk_worker *w) {
    (void)begin;
    (void)end;
    (void)out;
    const combine_arg *c = arg;
    const pk_type *t = &c->red->type;
    if (t->pack == NULL) {
        memcpy(acc, c->value, t->size);
        return 0;
    }
    void *buf = NULL;
    size_t len = 0;
    int rc = t->pack(c->value, &buf, &len, t->arg);
    if (rc == 0)
        rc = t->unpack(acc, buf, len, t->arg);
    free(buf);
    return rc == 0 ? 0 : pk_fail(w, rc, "copying the value to combine failed");
}

int pk_combine(pk_ctx *ctx, const pk_reducer *red, void *value, int where) {
    if (ctx == NULL)
        return PK_EINVAL;
    if (red == NULL || value == NULL || red->combine == NULL || red->type.size == 0 ||
        (where != PK_ON_ROOT && where != PK_ON_ALL))
        return ctx->backend->agree(ctx,
                                   pk__set_error(ctx, PK_EINVAL, "bad arguments to pk_combine"));
    if (ctx->nranks == 1)
        return 0;
    void *total = malloc(red->type.size);
    if (total == NULL || pk__type_init_array(&red->type, total, 1) != 0) {
        free(total);
        return ctx->backend->agree(ctx, pk__set_error(ctx, PK_ENOMEM, "pk_combine: no memory"));
    }
    combine_arg c = {.red = red, .value = value};
    pk_opts o = {.schedule = PK_STATIC,
                 .chunk = 1,
                 .where = where,
                 .label = "combine",
                 .flags = PK_NO_FAULTS | PK_NO_PROGRESS};
    /* a helper collective: what the most recent call obtained and fired stays */
    int fired = ctx->fault.fired, obtained = ctx->threads_obtained;
    int rc = map_reduce(ctx, ctx->nranks, &o, combine_chunk, &c, 0, NULL, red, total, 1);
    ctx->fault.fired = fired;
    ctx->threads_obtained = obtained;
    if (rc == 0 && (where == PK_ON_ALL || ctx->rank == 0)) {
        pk__type_destroy_array(&red->type, value, 1);
        memcpy(value, total, red->type.size); /* the value takes over total's storage */
    } else {
        pk__type_destroy_array(&red->type, total, 1);
    }
    free(total);
    return rc;
}
