/* prodcons: P producer threads hand N items to C consumer threads through one
 * bounded channel, and every run checks that each item arrived exactly once
 * (counts, sums and XORs of both sides against the closed forms). With delays and
 * --trace it replays the classic producer/consumer tutorial, one line per move. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "parkit/prodcons.h"

__extension__ typedef unsigned __int128 u128;

/* Delays are given in milliseconds; the kernel takes at most an hour. */
#define MAX_DELAY_MS 3.6e6

typedef struct pc_state {
    int producers, consumers; /* 0: half the row's pool, at least 1 */
    int64_t items;
    int items_given;
    size_t capacity, batch;
    int batch_given;
    double produce_ms, consume_ms;
    int trace;
    FILE *trace_out;
    /* over every run of the sweep */
    int runs, failed;
    char detail[200];
    pk_prodcons_result last;
    size_t max_depth;
    int min_team[2], max_team[2]; /* producers and consumers over the runs */
    int fixed_team;               /* both sides given: --threads is ignored */
} pc_state;

_Static_assert(PK_PRODCONS_MAX_WORKERS == 1024 && PK_PRODCONS_MAX_BATCH == 65536,
               "the limits are spelled out in the messages and the help");

/* A count in [min, max] (min 0 or 1); too_big says what max is. */
static int parse_count(const char *arg, int64_t min, int64_t max, const char *too_big, int64_t *v,
                       const char **why) {
    if (pk_parse_i64(arg, v, why) != 0)
        return PK_EINVAL;
    if (*v < min) {
        *why = min == 0 ? "must not be negative" : "must be at least 1";
        return PK_EINVAL;
    }
    if (*v > max) {
        *why = too_big;
        return PK_EINVAL;
    }
    return 0;
}

static int parse_ms(const char *arg, double *ms, const char **why) {
    if (pk_parse_double(arg, ms, why) != 0)
        return PK_EINVAL;
    if (*ms > MAX_DELAY_MS) {
        *why = "more than an hour";
        return PK_EINVAL;
    }
    return 0;
}

static int set_side(int *side, const char *arg, const char **why) {
    int64_t v = 0;
    int rc = parse_count(arg, 1, PK_PRODCONS_MAX_WORKERS - 1, "at most 1023", &v, why);
    *side = (int)v;
    return rc;
}

static int set_producers(void *p, const char *arg, const char **why) {
    return set_side(&((pc_state *)p)->producers, arg, why);
}

static int set_consumers(void *p, const char *arg, const char **why) {
    return set_side(&((pc_state *)p)->consumers, arg, why);
}

static int set_items(void *p, const char *arg, const char **why) {
    pc_state *s = p;
    s->items_given = 1;
    return parse_count(arg, 0, INT64_MAX, "", &s->items, why);
}

static int set_capacity(void *p, const char *arg, const char **why) {
    int64_t v = 0;
    int rc = parse_count(arg, 1, INT64_MAX, "", &v, why);
    ((pc_state *)p)->capacity = (size_t)v;
    return rc;
}

static int set_batch(void *p, const char *arg, const char **why) {
    pc_state *s = p;
    int64_t v = 0;
    int rc = parse_count(arg, 1, PK_PRODCONS_MAX_BATCH, "at most 65536", &v, why);
    s->batch = (size_t)v;
    s->batch_given = 1;
    return rc;
}

static int set_produce_delay(void *p, const char *arg, const char **why) {
    return parse_ms(arg, &((pc_state *)p)->produce_ms, why);
}

static int set_consume_delay(void *p, const char *arg, const char **why) {
    return parse_ms(arg, &((pc_state *)p)->consume_ms, why);
}

static int set_trace(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((pc_state *)p)->trace = 1;
    return 0;
}

static const pk_cli_option options[] = {
    {"producers", 0, 1, "P", "producer threads (default: half the threads, at least 1)",
     set_producers},
    {"consumers", 0, 1, "C", "consumer threads (default: half the threads, at least 1)",
     set_consumers},
    {"items", 0, 1, "N", "items to move (default 10000000; 10 with --trace)", set_items},
    {"capacity", 0, 1, "K", "items the channel holds at most (default 1024)", set_capacity},
    {"batch", 0, 1, "B",
     "items moved per channel operation (default 1; under MPI\n"
     "1024 or the capacity if smaller; at most 65536)",
     set_batch},
    {"produce-delay", 0, 1, "MS", "sleep MS milliseconds before each item is put",
     set_produce_delay},
    {"consume-delay", 0, 1, "MS",
     "sleep MS milliseconds after each item is taken\n"
     "(fractions allowed: 0.5 is half a millisecond)",
     set_consume_delay},
    {"trace", 0, 0, NULL,
     "print every move with the list as it is then, e.g.\n"
     "\"Added 3 to the list. List: [1, 2, 3]\"; one run, no\n"
     "warm-up (to stderr with --format csv or json)",
     set_trace},
    {NULL, 0, 0, NULL, NULL, NULL},
};

/* ---- the trace: the tutorial's lines ---- */

static void print_trace(void *arg, int event, int64_t value, const int64_t *contents,
                        size_t depth) {
    FILE *out = ((pc_state *)arg)->trace_out;
    fprintf(out, "%s %lld %s the list. List: [", event == PK_PC_ADDED ? "Added" : "Removed",
            (long long)value, event == PK_PC_ADDED ? "to" : "from");
    for (size_t i = 0; i < depth; i++)
        fprintf(out, "%s%lld", i ? ", " : "", (long long)contents[i]);
    fputs("]\n", out);
}

/* ---- one run and its check ---- */

/* The default side: half the pool, at least 1. The pool is the threads of the
 * process, or the ranks under MPI, where each team worker is a rank. */
static int half_pool(const pk_ctx *ctx) {
    int n = pk_ctx_size(ctx) > 1 ? pk_ctx_size(ctx) : pk_ctx_threads(ctx);
    return n / 2 > 0 ? n / 2 : 1;
}

static pk_prodcons_opts kernel_opts(pk_ctx *ctx, pc_state *s) {
    pk_prodcons_opts o = {
        .producers = s->producers > 0 ? s->producers : half_pool(ctx),
        .consumers = s->consumers > 0 ? s->consumers : half_pool(ctx),
        .capacity = s->capacity,
        .items = s->items,
        .produce_delay = s->produce_ms / 1e3,
        .consume_delay = s->consume_ms / 1e3,
        .batch = s->batch,
        .trace = s->trace ? print_trace : NULL,
        .trace_arg = s,
    };
    return o;
}

/* 1 xor 2 xor ... xor n has the period-4 closed form n, 1, n + 1, 0. */
static uint64_t xor_to(uint64_t n) {
    switch (n % 4) {
    case 0:
        return n;
    case 1:
        return 1;
    case 2:
        return n + 1;
    default:
        return 0;
    }
}

/* Why the result is wrong, or NULL: both sides against each other and against
 * the closed forms for the values 1..N (sums modulo 2^64, as the kernel adds). */
static const char *check(const pc_state *s, const pk_prodcons_result *r, char *buf, size_t len) {
    uint64_t n = (uint64_t)s->items;
    uint64_t sum = (uint64_t)((u128)n * (n + 1) / 2);
    if (r->produced != s->items || r->consumed != s->items)
        snprintf(buf, len, "produced %lld and consumed %lld of %lld items", (long long)r->produced,
                 (long long)r->consumed, (long long)s->items);
    else if (r->sum_produced != sum || r->sum_consumed != sum)
        snprintf(buf, len, "sums produced %llu, consumed %llu, expected %llu",
                 (unsigned long long)r->sum_produced, (unsigned long long)r->sum_consumed,
                 (unsigned long long)sum);
    else if (r->xor_produced != xor_to(n) || r->xor_consumed != xor_to(n))
        snprintf(buf, len, "XORs produced %llu, consumed %llu, expected %llu",
                 (unsigned long long)r->xor_produced, (unsigned long long)r->xor_consumed,
                 (unsigned long long)xor_to(n));
    else if (r->max_depth > s->capacity)
        snprintf(buf, len, "channel depth %zu above its capacity %zu", r->max_depth, s->capacity);
    else
        return NULL;
    return buf;
}

static int run_once(pk_ctx *ctx, void *arg) {
    pc_state *s = arg;
    pk_prodcons_opts o = kernel_opts(ctx, s);
    pk_prodcons_result r;
    int rc = pk_prodcons(ctx, &o, &r);
    if (rc != 0) {
        /* A worker failed (not an argument, not a signal): what moved before
         * the abort, beside the error line the driver prints after this. */
        if (rc != PK_EINTR && pk_ctx_error(ctx)->thread >= 0 && pk_ctx_rank(ctx) == 0)
            fprintf(stderr, "prodcons: aborted after %lld produced, %lld consumed\n",
                    (long long)r.produced, (long long)r.consumed);
        return rc;
    }
    char why[sizeof s->detail];
    if (!s->failed && check(s, &r, why, sizeof why) != NULL) {
        s->failed = 1;
        snprintf(s->detail, sizeof s->detail, "%s", why);
    }
    int team[2] = {o.producers, o.consumers};
    for (int i = 0; i < 2; i++) {
        s->min_team[i] = s->runs == 0 || team[i] < s->min_team[i] ? team[i] : s->min_team[i];
        s->max_team[i] = team[i] > s->max_team[i] ? team[i] : s->max_team[i];
    }
    s->runs++;
    s->last = r;
    s->max_depth = r.max_depth > s->max_depth ? r.max_depth : s->max_depth;
    return 0;
}

/* ---- set-up and report ---- */

static int check_options(app *a, void *state) {
    pc_state *s = state;
    if (s->producers > 0 && s->consumers > 0 &&
        s->producers > PK_PRODCONS_MAX_WORKERS - s->consumers)
        return app_usage(a, "%d producers + %d consumers: at most %d threads in all", s->producers,
                         s->consumers, PK_PRODCONS_MAX_WORKERS);
    if ((double)s->capacity * 16.0 > 0.5 * app_physical_memory())
        return app_usage(a, "a channel of %zu items would not fit in memory", s->capacity);
    if (s->trace && s->capacity > (1u << 20))
        return app_usage(a, "--trace lists the channel at every move: use --capacity up to %u",
                         1u << 20);
    if (s->trace && a->common.nthreads > 1)
        return app_usage(a, "--trace makes one run: give --threads one value at most");
    return APP_OK;
}

/* --trace: one run that can be read, with few items unless told otherwise. The
 * listing goes to stdout, or to stderr when stdout carries csv or json. */
static void set_up_trace(app *a, pc_state *s) {
    if (!s->trace)
        return;
    if (!s->items_given)
        s->items = 10;
    a->common.repeat = 1;
    a->common.warmup = 0;
    s->trace_out = a->common.format == PK_FORMAT_TABLE ? stdout : stderr;
}

/* The team as run: fixed by the options, or half the pool of each row. */
static int report_team(pk_report *r, const pc_state *s) {
    static const char *const keys[2] = {"producers", "consumers"};
    int given[2] = {s->producers, s->consumers};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        if (given[i] > 0)
            rc = app_first_error(rc, pk_report_param(r, keys[i], "%d", given[i]));
        else if (s->min_team[i] == s->max_team[i])
            rc = app_first_error(rc,
                                 pk_report_param(r, keys[i], "%d (half the pool)", s->min_team[i]));
        else
            rc = app_first_error(rc,
                                 pk_report_param(r, keys[i], "%d to %d (half the pool of each row)",
                                                 s->min_team[i], s->max_team[i]));
    }
    return rc;
}

static int report_results(pk_report *r, const pc_state *s, double best) {
    int rc = pk_report_result_num(r, "produced", "%lld", (long long)s->last.produced);
    rc = app_first_error(rc,
                         pk_report_result_num(r, "consumed", "%lld", (long long)s->last.consumed));
    rc = app_first_error(rc, pk_report_result_num(r, "max depth", "%zu", s->max_depth));
    return app_first_error(rc, pk_report_result_num(r, "items/s", "%.4g", best));
}

static int report_notes(pk_report *r, const pc_state *s) {
    int rc = 0;
    if (s->fixed_team)
        rc = pk_report_note(r, "--threads is ignored: --producers and --consumers fix the team");
    if (s->trace)
        rc = app_first_error(
            rc, pk_report_note(r, "--trace: one run, no warm-up; the listing slows the channel"));
    return rc;
}

/* The best rate of the sweep's rows. */
static double best_rate(const app *a) {
    double best = 0;
    for (int i = 0; i < a->nrows; i++)
        best = a->rows[i].rate > best ? a->rows[i].rate : best;
    return best;
}

static int report(app *a, void *state, pk_report *r) {
    const pc_state *s = state;
    int rc = report_team(r, s);
    rc = app_first_error(rc, pk_report_param(r, "items", "%lld", (long long)s->items));
    rc = app_first_error(rc, pk_report_param(r, "capacity", "%zu", s->capacity));
    rc = app_first_error(rc, pk_report_param(r, "batch", "%zu", s->batch));
    rc = app_first_error(rc, pk_report_param(r, "produce delay", "%g ms", s->produce_ms));
    rc = app_first_error(rc, pk_report_param(r, "consume delay", "%g ms", s->consume_ms));
    rc = app_first_error(rc, report_results(r, s, best_rate(a)));
    return app_first_error(rc, report_notes(r, s));
}

static int validate(app *a, void *state, char *detail, size_t len) {
    (void)a;
    const pc_state *s = state;
    if (s->failed)
        snprintf(detail, len, "%s", s->detail);
    return !s->failed;
}

/* Settings that depend on the backend and on the options together. */
static int prepare(app *a, void *state) {
    pc_state *s = state;
    /* Between ranks the channel sends single items together, but each call
     * still polls and copies on its own: move items in batches unless told
     * otherwise (one at a time measured about 3x slower there). */
    if (!s->batch_given && strcmp(pk_ctx_backend(a->ctx), "mpi") == 0 && !s->trace)
        s->batch = s->capacity < 1024 ? s->capacity : 1024;
    set_up_trace(a, s);
    /* With both sides fixed every row of a --threads sweep would be the same run. */
    s->fixed_team = s->producers > 0 && s->consumers > 0 && a->common.nthreads > 0;
    if (s->fixed_team)
        a->common.nthreads = 0;
    return APP_OK;
}

static double work(const app *a, const void *state) {
    (void)a;
    return (double)((const pc_state *)state)->items;
}

static const char *rate_unit(const void *state) {
    (void)state;
    return "items/s";
}

static pc_state state = {.items = 10000000, .capacity = 1024, .batch = 1};

static const app_program prodcons = {
    .name = "prodcons",
    .usage = "[OPTION]...",
    .summary = "Move N items from P producers to C consumers through one bounded channel and\n"
               "check that every item arrives exactly once.",
    .options = options,
    .help = "\nThe team is P + C threads whatever the pool (under mpirun: P + C ranks, one\n"
            "worker each, and P and C default to half the ranks). --threads LIST sweeps\n"
            "the team: for each value t, P and C not given are t/2 each (at least 1); with\n"
            "both --producers and --consumers given, --threads is ignored. Validation: both\n"
            "sides' counts, sums and XORs equal each other and the closed forms for the\n"
            "values 1..N, in every run. Faults: task = the item's ordinal in its worker,\n"
            "thread = the worker (producers 0..P-1, then consumers P..P+C-1; under\n"
            "mpirun the worker is the rank: rank=R).\n"
            "N, P, C, K and B accept expressions: 1e7, 2^20, 1e6+1.\n"
            "Examples:\n"
            "  prodcons --producers 2 --consumers 2 --items 1e7 --capacity 1024\n"
            "  prodcons --threads 2,4,8 --batch 64\n"
            "  prodcons --producers 2 --consumers 2 --capacity 3 --produce-delay 100 \\\n"
            "           --consume-delay 150 --trace\n"
            "  prodcons --producers 2 --consumers 2 --inject-fault thread=3,task=100\n",
    .max_args = 0,
    .state = &state,
    .state_size = sizeof state,
    .check = check_options,
    .prepare = prepare,
    .run_once = run_once,
    .work = work,
    .rate_unit = rate_unit,
    .validate = validate,
    .report = report,
};

int main(int argc, char **argv) {
    return app_main(&prodcons, argc, argv);
}
