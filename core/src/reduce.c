/* Deterministic reductions: per-chunk partials combined in a fixed binary tree
 * over chunk numbers. The tree depends only on the number of chunks, which does
 * not depend on the pool, so a floating-point sum or a big-integer product comes
 * out bit-identical for any thread or rank count. Heavy reducers (big integers)
 * spread each level's pairs over the threads. */
#include <math.h>
#include <string.h>

#include "core_internal.h"

static int64_t first_pair(int64_t lo, int64_t s) {
    int64_t step = 2 * s;
    return (lo + step - 1) / step * step;
}

int pk__reduce_level(pk_ctx *ctx, pk__job *job, int64_t lo, int64_t hi, int64_t s) {
    const pk_reducer *red = job->red;
    int64_t i0 = first_pair(lo, s);
    int64_t npairs = i0 + s < hi ? (hi - s - i0 - 1) / (2 * s) + 1 : 0;
    if (npairs == 0)
        return 0;
    if (!red->heavy || npairs == 1) {
        for (int64_t p = 0; p < npairs; p++) {
            int64_t i = i0 + p * 2 * s;
            char *into = job->partials + (size_t)(i - job->part_base) * red->type.size;
            int rc = red->combine(into, into + (size_t)s * red->type.size, red->type.arg);
            if (rc != 0)
                return pk__set_error(ctx, rc, "combining partials %lld and %lld failed: %s",
                                     (long long)i, (long long)(i + s), pk_strerror(rc));
        }
        return 0;
    }
    pk_opts o = {.schedule = PK_DYNAMIC, .chunk = 1, .label = job->label};
    pk__job cj;
    pk__job_init(&cj, ctx, PK__COMBINE, npairs, &o);
    cj.red = red;
    cj.partials = job->partials;
    cj.part_base = job->part_base;
    cj.stride = s;
    cj.comb_first = i0;
    return ctx->local->run(ctx, &cj);
}

int pk__reduce_local(pk_ctx *ctx, pk__job *job, void *result) {
    for (int64_t s = 1; s < job->nchunks; s *= 2) {
        int rc = pk__reduce_level(ctx, job, 0, job->nchunks, s);
        if (rc != 0)
            return rc;
    }
    if (job->nchunks == 0)
        return job->set_result ? pk__value_reset(ctx, &job->red->type, result) : 0;
    return pk__result_take(ctx, job, result, job->partials);
}

int pk__result_take(pk_ctx *ctx, pk__job *job, void *result, void *total) {
    if (job->set_result)
        return pk__value_move(ctx, &job->red->type, result, total);
    int rc = job->red->combine(result, total, job->red->type.arg);
    return rc == 0 ? 0 : pk__set_error(ctx, rc, "combining the result failed: %s", pk_strerror(rc));
}

int pk__value_move(pk_ctx *ctx, const pk_type *t, void *dst, void *src) {
    if (t->destroy != NULL)
        t->destroy(dst, t->arg);
    memcpy(dst, src, t->size);
    /* src is a partial that will be destroyed with the others: give it a value
     * of its own again */
    int rc = pk__type_init_array(t, src, 1);
    return rc == 0 ? 0 : pk__set_error(ctx, rc, "initializing a partial result failed");
}

int pk__value_reset(pk_ctx *ctx, const pk_type *t, void *value) {
    if (t->destroy != NULL)
        t->destroy(value, t->arg);
    int rc = pk__type_init_array(t, value, 1);
    return rc == 0 ? 0 : pk__set_error(ctx, rc, "initializing the result failed");
}

int pk__collect_local(pk_ctx *ctx, pk__job *job) {
    (void)ctx;
    (void)job;
    return 0;
}

int pk__type_init_array(const pk_type *t, char *values, int64_t count) {
    if (t->init == NULL) {
        memset(values, 0, (size_t)count * t->size);
        return 0;
    }
    for (int64_t i = 0; i < count; i++) {
        int rc = t->init(values + (size_t)i * t->size, t->arg);
        if (rc != 0) {
            pk__type_destroy_array(t, values, i);
            return rc;
        }
    }
    return 0;
}

void pk__type_destroy_array(const pk_type *t, char *values, int64_t count) {
    if (t->destroy == NULL || values == NULL)
        return;
    for (int64_t i = 0; i < count; i++)
        t->destroy(values + (size_t)i * t->size, t->arg);
}

/* ---- ready-made reducers ---- */

static int sum_i64(void *into, const void *from, void *arg) {
    (void)arg;
    int64_t *a = into;
    int64_t b;
    memcpy(&b, from, sizeof b);
    if (__builtin_add_overflow(*a, b, a))
        return PK_EOVERFLOW;
    return 0;
}

static int sum_u64(void *into, const void *from, void *arg) {
    (void)arg;
    uint64_t *a = into;
    const uint64_t *b = from;
    *a += *b; /* wraps modulo 2^64, as unsigned arithmetic does */
    return 0;
}

static int sum_f64(void *into, const void *from, void *arg) {
    (void)arg;
    *(double *)into += *(const double *)from;
    return 0;
}

static int sum_i128(void *into, const void *from, void *arg) {
    (void)arg;
    pk_i128 *a = into;
    const pk_i128 *b = from;
    uint64_t lo = a->lo + b->lo;
    uint64_t carry = lo < a->lo;
    a->lo = lo;
    a->hi = (int64_t)((uint64_t)a->hi + (uint64_t)b->hi + carry);
    return 0;
}

static int init_min(void *v, void *arg) {
    (void)arg;
    *(int64_t *)v = INT64_MAX;
    return 0;
}

static int init_max(void *v, void *arg) {
    (void)arg;
    *(int64_t *)v = INT64_MIN;
    return 0;
}

static int max_i64(void *into, const void *from, void *arg) {
    (void)arg;
    int64_t *a = into;
    const int64_t *b = from;
    if (*b > *a)
        *a = *b;
    return 0;
}

static int min_i64(void *into, const void *from, void *arg) {
    (void)arg;
    int64_t *a = into;
    const int64_t *b = from;
    if (*b < *a)
        *a = *b;
    return 0;
}

static int init_max_f64(void *v, void *arg) {
    (void)arg;
    *(double *)v = -HUGE_VAL;
    return 0;
}

static int max_f64(void *into, const void *from, void *arg) {
    (void)arg;
    double *a = into;
    const double *b = from;
    if (*b > *a)
        *a = *b;
    return 0;
}

static int xor_u64(void *into, const void *from, void *arg) {
    (void)arg;
    *(uint64_t *)into ^= *(const uint64_t *)from;
    return 0;
}

const pk_reducer pk_sum_i64 = {.type = {.size = sizeof(int64_t)}, .combine = sum_i64};
const pk_reducer pk_sum_u64 = {.type = {.size = sizeof(uint64_t)}, .combine = sum_u64};
const pk_reducer pk_sum_f64 = {.type = {.size = sizeof(double)}, .combine = sum_f64};
const pk_reducer pk_sum_i128 = {.type = {.size = sizeof(pk_i128)}, .combine = sum_i128};
const pk_reducer pk_max_i64 = {.type = {.size = sizeof(int64_t), .init = init_max},
                               .combine = max_i64};
const pk_reducer pk_min_i64 = {.type = {.size = sizeof(int64_t), .init = init_min},
                               .combine = min_i64};
const pk_reducer pk_xor_u64 = {.type = {.size = sizeof(uint64_t)}, .combine = xor_u64};
const pk_reducer pk_max_f64 = {.type = {.size = sizeof(double), .init = init_max_f64},
                               .combine = max_f64};
