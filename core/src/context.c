/* The context: allocation around a chosen backend, the pool size, the fault
 * injection spec and progress reporting. Backend choice by name is in
 * registry/registry.c, the one place that knows which backends were built. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_internal.h"

double pk__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int pk__ctx_create(pk_ctx **out, const pk_backend *backend, const pk_backend *local, void *impl) {
    *out = NULL;
    pk_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return PK_ENOMEM;
    ctx->backend = backend;
    ctx->local = local;
    ctx->impl = impl;
    ctx->nranks = 1;
    ctx->progress_interval = 1.0;
    pk_ctx_clear_error(ctx);
    if (backend->init != NULL) {
        int rc = backend->init(ctx);
        if (rc != 0) {
            free(ctx);
            return rc;
        }
    }
    *out = ctx;
    return 0;
}

void pk_ctx_free(pk_ctx *ctx) {
    if (ctx == NULL)
        return;
    if (ctx->backend->finalize != NULL)
        ctx->backend->finalize(ctx);
    pk__ctx_free_syncs(ctx);
    free(ctx);
}

const char *pk_ctx_backend(const pk_ctx *ctx) {
    return ctx->backend->name;
}

int pk_ctx_set_threads(pk_ctx *ctx, int threads) {
    if (threads < 0)
        return pk__set_error(ctx, PK_EINVAL, "thread count %d is negative", threads);
    ctx->threads = threads;
    return 0;
}

int pk_ctx_threads(const pk_ctx *ctx) {
    if (ctx->threads > 0)
        return (ctx->local->caps & PK__CAP_THREADS) ? ctx->threads : 1;
    return ctx->local->default_threads((pk_ctx *)ctx);
}

int pk_ctx_solo_threads(const pk_ctx *ctx) {
    if (ctx->backend->solo_threads == NULL)
        return pk_ctx_threads(ctx);
    return ctx->backend->solo_threads((pk_ctx *)ctx);
}

int pk_ctx_threads_setting(const pk_ctx *ctx) {
    return ctx->threads;
}

int pk_ctx_threads_obtained(const pk_ctx *ctx) {
    return ctx->threads_obtained > 0 ? ctx->threads_obtained : pk_ctx_threads(ctx);
}

int pk_ctx_rank(const pk_ctx *ctx) {
    return ctx->rank;
}
int pk_ctx_size(const pk_ctx *ctx) {
    return ctx->nranks;
}

void pk_ctx_set_progress(pk_ctx *ctx, pk_progress_fn fn, void *arg, double interval) {
    ctx->progress = fn;
    ctx->progress_arg = arg;
    ctx->progress_interval = interval > 0 ? interval : 1.0;
    atomic_store_explicit(&ctx->progress_pool_due, 0.0, memory_order_relaxed);
}

void pk_ctx_set_interrupt(pk_ctx *ctx, pk_interrupt_fn fn, void *arg) {
    ctx->interrupt = fn;
    ctx->interrupt_arg = arg;
}

int pk_ctx_interrupted(pk_ctx *ctx) {
    if (ctx == NULL || ctx->interrupt == NULL || !ctx->interrupt(ctx->interrupt_arg))
        return 0;
    return pk_ctx_fail(ctx, PK_EINTR, "%s", pk_strerror(PK_EINTR));
}

int pk_ctx_fault_fired(const pk_ctx *ctx) {
    return ctx->fault.fired;
}

/* Parses one "key=value" of a fault spec into f. */
static int fault_field(pk_ctx *ctx, pk__fault *f, const char *key, size_t klen, const char *val,
                       size_t vlen) {
    if (vlen == 0)
        return pk__set_error(ctx, PK_EINVAL, "fault spec: '%.*s' has no value", (int)klen, key);
    if (klen == 6 && strncmp(key, "kernel", 6) == 0) {
        if (vlen >= sizeof f->kernel)
            return pk__set_error(ctx, PK_EINVAL, "fault spec: kernel name too long");
        memcpy(f->kernel, val, vlen);
        f->kernel[vlen] = '\0';
        return 0;
    }
    if (klen == 4 && strncmp(key, "fail", 4) == 0) {
        if (vlen == 4 && strncmp(val, "task", 4) == 0)
            f->alloc = 0;
        else if (vlen == 5 && strncmp(val, "alloc", 5) == 0)
            f->alloc = 1;
        else
            return pk__set_error(ctx, PK_EINVAL,
                                 "fault spec: fail=%.*s: expected fail=task or fail=alloc",
                                 (int)(vlen > 32 ? 32 : vlen), val);
        return 0;
    }
    char num[32];
    if (vlen >= sizeof num)
        return pk__set_error(ctx, PK_EINVAL, "fault spec: value of '%.*s' too long", (int)klen,
                             key);
    memcpy(num, val, vlen);
    num[vlen] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (*end != '\0' || errno != 0 || v < 0 || !isdigit((unsigned char)num[0]))
        return pk__set_error(ctx, PK_EINVAL, "fault spec: '%s' is not a non-negative integer", num);
    if (klen == 4 && strncmp(key, "rank", 4) == 0 && v <= 1 << 30)
        f->rank = (int)v;
    else if (klen == 6 && strncmp(key, "thread", 6) == 0 && v <= 1 << 30)
        f->thread = (int)v;
    else if (klen == 4 && strncmp(key, "task", 4) == 0)
        f->task = v;
    else
        return pk__set_error(ctx, PK_EINVAL,
                             "fault spec: unknown or out-of-range field '%.*s' (expected "
                             "kernel, rank, thread, task or fail)",
                             (int)klen, key);
    return 0;
}

int pk_ctx_set_fault(pk_ctx *ctx, const char *spec) {
    pk__fault f = {.rank = -1, .thread = -1, .task = -1};
    if (spec == NULL || spec[0] == '\0') {
        ctx->fault = f;
        return 0;
    }
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL)
            return pk__set_error(ctx, PK_EINVAL, "fault spec: '%.*s' is not key=value", (int)len,
                                 p);
        size_t klen = (size_t)(eq - p);
        int rc = fault_field(ctx, &f, p, klen, eq + 1, len - klen - 1);
        if (rc != 0)
            return rc;
        p += len;
        if (*p == ',')
            p++;
    }
    f.armed = 1;
    ctx->fault = f;
    return 0;
}

void pk_kernel_begin(pk_ctx *ctx, const char *kernel) {
    if (ctx == NULL)
        return;
    ctx->kernel = kernel;
    ctx->fault.fired = 0;
    ctx->progress_due = pk__now() + ctx->progress_interval;
}

void pk_kernel_end(pk_ctx *ctx) {
    if (ctx != NULL)
        ctx->kernel = NULL;
}

void pk_ctx_progress(pk_ctx *ctx, double fraction) {
    if (ctx == NULL || ctx->progress == NULL || ctx->rank != 0)
        return;
    double now = pk__now();
    if (now < ctx->progress_due)
        return;
    ctx->progress_due = now + ctx->progress_interval;
    fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
    ctx->progress(ctx->progress_arg, ctx->kernel ? ctx->kernel : "pool", fraction);
}

/* ---- sub-pools ---- */

int pk_ctx_subpool(pk_ctx *ctx, pk_ctx **sub, int ranks) {
    if (ctx == NULL || sub == NULL)
        return ctx ? pk__set_error(ctx, PK_EINVAL, "pk_ctx_subpool: no output given") : PK_EINVAL;
    *sub = NULL;
    if (ranks < 1 || ranks > ctx->nranks)
        return pk__set_error(ctx, PK_EINVAL, "a pool of %d ranks in a world of %d", ranks,
                             ctx->nranks);
    if (ranks == ctx->nranks) {
        *sub = ctx;
        return 0;
    }
    if (ctx->backend->subpool == NULL)
        return pk__set_error(ctx, PK_EINVAL, "a pool of %d ranks needs the mpi backend", ranks);
    int rc = ctx->backend->subpool(ctx, ranks, sub);
    if (rc != 0 || *sub == NULL)
        return rc;
    pk_ctx *s = *sub;
    s->threads = ctx->threads;
    s->fault = ctx->fault;
    s->progress = ctx->progress;
    s->progress_arg = ctx->progress_arg;
    s->progress_interval = ctx->progress_interval;
    s->interrupt = ctx->interrupt;
    s->interrupt_arg = ctx->interrupt_arg;
    s->kernel = ctx->kernel;
    return 0;
}

void pk_ctx_subpool_done(pk_ctx *ctx, const pk_ctx *sub) {
    if (ctx == NULL || sub == NULL || sub == ctx)
        return;
    ctx->err = sub->err;
    ctx->fault.fired |= sub->fault.fired;
    if (sub->threads_obtained > 0)
        ctx->threads_obtained = sub->threads_obtained;
}
