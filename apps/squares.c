/* squares: x*x for N consecutive integers, stored and summed exactly, on threads
 * or ranks, with a pool-size sweep. Validates the sum against the closed form
 * and every stored value. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "parkit/squares.h"

enum { OPT_FIRST, OPT_NO_STORE, OPT_DISTRIBUTED, OPT_PRINT };

typedef struct squares_state {
    int64_t first, count;
    int store, distributed, print;
    int64_t begin, end; /* the part this rank holds after its last run (--distributed) */
    int64_t *out;
    pk_i128 sum;
} squares_state;

static const app_opt options[] = {
    {"first", 1, OPT_FIRST},
    {"no-store", 0, OPT_NO_STORE},
    {"distributed", 0, OPT_DISTRIBUTED},
    {"print", 0, OPT_PRINT},
    {NULL, 0, 0},
};

static int on_option(void *p, int id, const char *arg, const char **why) {
    squares_state *s = p;
    switch (id) {
    case OPT_FIRST:
        return pk_parse_i64(arg, &s->first, why);
    case OPT_NO_STORE:
        s->store = 0;
        return 0;
    case OPT_DISTRIBUTED:
        s->distributed = 1;
        return 0;
    case OPT_PRINT:
        s->print = 1;
        return 0;
    default:
        return PK_EINVAL;
    }
}

static int where_of(const squares_state *s) {
    return !s->store ? PK_SQUARES_SUM_ONLY : s->distributed ? PK_DISTRIBUTED : PK_ON_ROOT;
}

static int run_once(pk_ctx *ctx, void *arg) {
    squares_state *s = arg;
    if (s->distributed) /* a sub-pool of a --ranks sweep gives each rank another part */
        pk_squares_local_range(ctx, s->count, &s->begin, &s->end);
    return pk_squares(ctx, s->first, s->count, where_of(s), s->out, &s->sum);
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

static int validate(squares_state *s, pk_report *r) {
    pk_i128 want;
    char got_s[48], want_s[48], detail[160] = "";
    pk_squares_expected(s->first, s->count, &want);
    pk_i128_to_string(s->sum, got_s, sizeof got_s);
    pk_i128_to_string(want, want_s, sizeof want_s);
    int ok = pk_i128_eq(s->sum, want);
    if (!ok)
        snprintf(detail, sizeof detail, "sum %s, expected %s", got_s, want_s);
    int64_t begin = 0, end = s->count;
    if (s->distributed) {
        begin = s->begin;
        end = s->end;
    }
    if (ok && s->out != NULL) {
        int64_t bad = check_values(s, begin, end);
        if (bad >= 0) {
            ok = 0;
            snprintf(detail, sizeof detail, "value at index %lld is wrong", (long long)bad);
        }
    }
    pk_report_result_str(r, "sum", "%s", got_s);
    pk_report_result_num(r, "count", "%lld", (long long)s->count);
    pk_report_validation(r, ok, detail);
    return ok ? APP_OK : APP_FAILED;
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

static int parse_count(app *a, squares_state *s) {
    if (a->npos == 1) {
        const char *why;
        if (pk_parse_i64(a->pos[0], &s->count, &why) != 0)
            return app_usage(a, "invalid N '%s': %s", a->pos[0], why);
        if (s->count < 0)
            return app_usage(a, "invalid N '%s': negative numbers are not allowed", a->pos[0]);
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

static int alloc_out(app *a, squares_state *s) {
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
    } else if (!app_is_root(a)) {
        return APP_OK;
    }
    s->out = malloc((size_t)(size > 0 ? size : 1) * sizeof *s->out);
    if (s->out == NULL)
        return app_error(a, "no memory for %lld values", (long long)size);
    return APP_OK;
}

static int run(app *a, squares_state *s) {
    int rc = app_open(a);
    if (rc == APP_OK)
        rc = alloc_out(a, s);
    if (rc != APP_OK)
        return rc;
    pk_stats *rows = NULL;
    int nrows = 0;
    double bytes = s->store ? 8.0 * (double)s->count : (double)s->count;
    rc = app_sweep(a, run_once, s, s->store ? bytes / 1e9 : bytes, &rows, &nrows);
    if (rc == APP_OK) {
        pk_report *r = pk_report_new("squares", a->common.format);
        app_header(a, r);
        pk_report_param(r, "first", "%lld", (long long)s->first);
        pk_report_param(r, "N", "%lld", (long long)s->count);
        pk_report_param(r, "stored", "%s",
                        !s->store        ? "no (sum only)"
                        : s->distributed ? "distributed over ranks"
                                         : "on rank 0");
        rc = validate(s, r);
        pk_report_runs(r, rows, nrows, s->store ? "GB/s" : "values/s");
        app_print(a, r);
        if (s->print && s->out != NULL && app_is_root(a) && !s->distributed)
            for (int64_t i = 0; i < s->count; i++)
                printf("%lld\n", (long long)s->out[i]);
        pk_report_free(r);
        app_check_fault(a);
    }
    free(rows);
    return rc;
}

int main(int argc, char **argv) {
    app a;
    squares_state s = {.first = 1, .count = 100000000, .store = 1};
    int rc = app_start(&a, "squares", &argc, &argv);
    a.usage = "[OPTION]... [N]";
    a.summary = "Square N consecutive integers (default 1..100000000), store and sum them "
                "exactly.";
    a.help = "Options:\n"
             "      --first X         start at X instead of 1 (any 64-bit integer; every\n"
             "                        |x| must be at most 3037000499 so x*x fits)\n"
             "      --no-store        only sum the squares, do not store them\n"
             "      --distributed     under MPI, leave each rank its part of the array\n"
             "                        instead of gathering it on rank 0\n"
             "      --print           print the squares, one per line, after the report\n"
             "\nN and X accept expressions: 1e8, 2^30, 1e8+7.\n"
             "Examples:\n"
             "  squares 1e8 --threads 1,2\n"
             "  squares --first -1000 2001 --print\n"
             "  mpirun -n 8 squares --ranks 1,2,4,8\n\n";
    if (rc == APP_OK)
        rc = app_parse(&a, argc, argv, options, on_option, &s, 1);
    if (rc == APP_OK)
        rc = parse_count(&a, &s);
    if (rc == APP_OK)
        rc = run(&a, &s);
    free(s.out);
    return app_finish(&a, rc);
}
