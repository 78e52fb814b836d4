/* squares: x*x for N consecutive integers, stored and summed exactly, on threads
 * or ranks, with a pool-size sweep. Validates the sum against the closed form
 * and every stored value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "parkit/squares.h"

typedef struct squares_state {
    int64_t first, count;
    int store, distributed, print;
    int64_t begin, end; /* the part this rank holds after its last run (--distributed) */
    int64_t *out;       /* the values this rank holds: all of them on rank 0 */
    pk_shared *shared;  /* ranks of one node: the array every rank writes into */
    pk_i128 sum;
} squares_state;

static int set_first(void *p, const char *arg, const char **why) {
    return pk_parse_i64(arg, &((squares_state *)p)->first, why);
}

static int set_no_store(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((squares_state *)p)->store = 0;
    return 0;
}

static int set_distributed(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((squares_state *)p)->distributed = 1;
    return 0;
}

static int set_print(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((squares_state *)p)->print = 1;
    return 0;
}

static const pk_cli_option options[] = {
    {"first", 0, 1, "X",
     "start at X instead of 1 (any 64-bit integer; every\n"
     "|x| must be at most 3037000499 so x*x fits)",
     set_first},
    {"no-store", 0, 0, NULL, "only sum the squares, do not store them", set_no_store},
    {"distributed", 0, 0, NULL,
     "under MPI, leave each rank its part of the array\ninstead of gathering it on rank 0",
     set_distributed},
    {"print", 0, 0, NULL, "print the squares, one per line, after the report", set_print},
    {NULL, 0, 0, NULL, NULL, NULL},
};

static int where_of(const squares_state *s) {
    return !s->store ? PK_SQUARES_SUM_ONLY : s->distributed ? PK_DISTRIBUTED : PK_ON_ROOT;
}

static int run_once(pk_ctx *ctx, void *arg) {
    squares_state *s = arg;
    if (s->distributed) /* a sub-pool of a --ranks sweep gives each rank another part */
        pk_squares_local_range(ctx, s->count, &s->begin, &s->end);
    int64_t *out = s->shared != NULL ? pk_shared_data(s->shared) : s->out;
    return pk_squares(ctx, s->first, s->count, where_of(s), out, &s->sum);
}

/* Checks every stored value this rank holds; returns the first wrong index or -1. */
static int64_t check_values(const squares_state *s, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
        int64_t x = s->first + i;
        if (s->out[i - begin] != x * x)
            return i;
    }
    return -1;
}

static int validate(app *a, void *state, char *detail, size_t len) {
    (void)a;
    const squares_state *s = state;
    pk_i128 want;
    char got_s[48], want_s[48];
    pk_squares_expected(s->first, s->count, &want);
    if (!pk_i128_eq(s->sum, want)) {
        pk_i128_to_string(s->sum, got_s, sizeof got_s);
        pk_i128_to_string(want, want_s, sizeof want_s);
        snprintf(detail, len, "sum %s, expected %s", got_s, want_s);
        return 0;
    }
    int64_t begin = s->distributed ? s->begin : 0, end = s->distributed ? s->end : s->count;
    int64_t bad = s->out != NULL ? check_values(s, begin, end) : -1;
    if (bad >= 0)
        snprintf(detail, len, "value at index %lld is wrong", (long long)bad);
    return bad < 0;
}

static int check_memory(app *a, squares_state *s) {
    double need = (double)s->count * 8.0;
    if (s->store && a->nranks > 1 && s->distributed)
        need /= a->nranks;
    if (s->store && need > 0.8 * app_physical_memory())
        return app_usage(a,
                         "N = %lld needs %.1f GiB for the stored squares but this machine "
                         "has %.1f GiB; use --no-store to only sum them",
                         (long long)s->count, need / (1 << 30), app_physical_memory() / (1 << 30));
    return APP_OK;
}

/* The first value of the range whose square does not fit in int64, or 0 when
 * every square fits (0 itself always fits). */
static int64_t first_overflow(const squares_state *s) {
    if (s->count == 0)
        return 0;
    int64_t last = s->first + (s->count - 1); /* the caller checked it does not overflow */
    if (s->first < -PK_SQUARES_MAX_ABS || s->first > PK_SQUARES_MAX_ABS)
        return s->first;
    return last > PK_SQUARES_MAX_ABS ? PK_SQUARES_MAX_ABS + 1 : 0;
}

static int check(app *a, void *state) {
    squares_state *s = state;
    if (a->nargs == 1) {
        const char *why;
        if (pk_parse_i64(a->args[0], &s->count, &why) != 0)
            return app_usage(a, "invalid N '%s': %s", a->args[0], why);
        if (s->count < 0)
            return app_usage(a, "invalid N '%s': negative numbers are not allowed", a->args[0]);
    }
    if (s->count > 0 && s->first > INT64_MAX - (s->count - 1))
        return app_usage(a, "the range --first %lld with N = %lld passes 2^63-1",
                         (long long)s->first, (long long)s->count);
    int64_t bad = first_overflow(s);
    if (bad != 0)
        return app_usage(a, "%lld squared does not fit in 64 bits (every |x| must be at most %lld)",
                         (long long)bad, (long long)PK_SQUARES_MAX_ABS);
    return check_memory(a, s);
}

static int alloc_out(app *a, void *state) {
    squares_state *s = state;
    if (!s->store)
        return APP_OK;
    int64_t size = s->count;
    if (s->distributed) {
        /* The smallest pool of the sweep gives a rank its largest part: blocks of
         * whole chunks, at most ceil(chunks / ranks) of them. */
        int ranks = a->nranks;
        for (int i = 0; i < a->common.nranks; i++)
            ranks = a->common.ranks[i] < ranks ? a->common.ranks[i] : ranks;
        int64_t chunks = (s->count + PK_SQUARES_CHUNK - 1) / PK_SQUARES_CHUNK;
        int64_t most = (chunks + ranks - 1) / ranks * PK_SQUARES_CHUNK;
        size = most < size ? most : size;
        pk_squares_local_range(a->ctx, s->count, &s->begin, &s->end);
    } else if (a->nranks > 1) {
        /* Ranks of one node write their parts straight into rank 0's array when
         * it is memory they all map: no copy after the run. Across nodes (no
         * such memory) rank 0 keeps a private array and the parts come to it. */
        if (pk_shared_new(a->ctx, &s->shared, sizeof *s->out, size > 0 ? size : 1) == 0 &&
            pk_shared_data(s->shared) == NULL) {
            pk_shared_free(s->shared);
            s->shared = NULL;
        }
        if (s->shared != NULL) {
            s->out = app_is_root(a) ? pk_shared_data(s->shared) : NULL;
            return APP_OK;
        }
    }
    if (!s->distributed && !app_is_root(a))
        return APP_OK;
    s->out = malloc((size_t)(size > 0 ? size : 1) * sizeof *s->out);
    if (s->out == NULL)
        return app_error(a, "no memory for %lld values", (long long)size);
    return APP_OK;
}

static double work(const app *a, const void *state) {
    (void)a;
    const squares_state *s = state;
    double bytes = s->store ? 8.0 * (double)s->count : (double)s->count;
    return s->store ? bytes / 1e9 : bytes;
}

static const char *rate_unit(const void *state) {
    return ((const squares_state *)state)->store ? "GB/s" : "values/s";
}

static int report(app *a, void *state, pk_report *r) {
    (void)a;
    const squares_state *s = state;
    char sum[48];
    pk_i128_to_string(s->sum, sum, sizeof sum);
    const char *stored = !s->store        ? "no (sum only)"
                         : s->distributed ? "distributed over ranks"
                                          : "on rank 0";
    int rc = pk_report_param(r, "first", "%lld", (long long)s->first);
    rc = app_first_error(rc, pk_report_param(r, "N", "%lld", (long long)s->count));
    rc = app_first_error(rc, pk_report_param(r, "stored", "%s", stored));
    rc = app_first_error(rc, pk_report_result_str(r, "sum", "%s", sum));
    return app_first_error(rc, pk_report_result_num(r, "count", "%lld", (long long)s->count));
}

/* --print: the values after the report, from rank 0 (which holds them all). */
static int print_values(app *a, void *state, int code) {
    const squares_state *s = state;
    if (s->print && s->out != NULL && app_is_root(a) && !s->distributed) {
        for (int64_t i = 0; i < s->count; i++)
            printf("%lld\n", (long long)s->out[i]);
        if (fflush(stdout) != 0 || ferror(stdout))
            return app_error(a, "error writing the values");
    }
    return code;
}

static void release(void *state) {
    squares_state *s = state;
    if (s->shared != NULL)
        pk_shared_free(s->shared);
    else
        free(s->out);
}

static squares_state state = {.first = 1, .count = 100000000, .store = 1};

static const app_program squares = {
    .name = "squares",
    .usage = "[OPTION]... [N]",
    .summary = "Square N consecutive integers (default 1..100000000), store and sum them "
               "exactly.",
    .options = options,
    .help = "\nN and X accept expressions: 1e8, 2^30, 1e8+7.\n"
            "Examples:\n"
            "  squares 1e8 --threads 1,2\n"
            "  squares --first -1000 2001 --print\n"
            "  mpirun -n 8 squares --ranks 1,2,4,8\n\n",
    .max_args = 1,
    .state = &state,
    .state_size = sizeof state,
    .check = check,
    .prepare = alloc_out,
    .run_once = run_once,
    .work = work,
    .rate_unit = rate_unit,
    .validate = validate,
    .report = report,
    .after_report = print_values,
    .release = release,
};

int main(int argc, char **argv) {
    return app_main(&squares, argc, argv);
}
