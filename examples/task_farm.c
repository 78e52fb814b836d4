/* A task farm whose tasks make tasks: the total number of Collatz steps (n ->
 * n/2 or 3n+1, until 1) over every start in [1, 200000]. Rank 0 submits 16
 * pieces of the range; a task whose range is longer than 2000 splits it in two
 * halves, submits each as a sub-task (pk_call_submit), and sums their futures.
 * Sub-tasks run on the rank of their parent; a parent that waits on a sub-task
 * nobody has started runs it itself, so workers waiting on each other never
 * deadlock. The total is checked against a plain loop on rank 0.
 *
 * SPMD: every rank registers the task and opens the executor; rank 0 submits,
 * the other ranks serve tasks until rank 0 closes it. Same binary on threads,
 * under mpirun and hybrid. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_main.h"
#include "parkit/exec.h"

enum { FIRST = 1, LAST = 200000, PIECES = 16, THRESHOLD = 2000 };

typedef struct range {
    int64_t lo, hi; /* [lo, hi) */
} range;

typedef struct tally {
    int64_t steps; /* Collatz steps of every start in the range */
    int64_t tasks; /* tasks that ran for the range, this one included */
} tally;

static int64_t collatz_steps(uint64_t n) {
    int64_t steps = 0;
    for (; n != 1; steps++)
        n = n % 2 ? 3 * n + 1 : n / 2;
    return steps;
}

/* Waits for a sub-task and adds its tally to t; 0 or its error code. */
static int add_subtask(pk_call *call, pk_future *f, tally *t) {
    const void *data;
    size_t len;
    int rc = pk_future_result(f, &data, &len);
    if (rc == 0 && len == sizeof(tally)) {
        tally sub;
        memcpy(&sub, data, sizeof sub);
        t->steps += sub.steps;
        t->tasks += sub.tasks;
        return 0;
    }
    const pk_error_info *e = pk_future_error(f);
    if (rc == 0)
        rc = PK_EVALIDATE;
    return pk_call_fail(call, rc, "sub-task %" PRId64 ": %s", pk_future_task(f),
                        e != NULL ? e->message : pk_strerror(rc));
}

/* The task: the steps of [lo, hi), directly when short, else by two sub-tasks. */
static int count_range(pk_call *call, const void *arg, size_t len) {
    range r;
    if (len != sizeof r)
        return pk_call_fail(call, PK_EINVAL, "expected a range, got %zu bytes", len);
    memcpy(&r, arg, sizeof r);
    tally t = {0, 1};
    if (r.hi - r.lo <= THRESHOLD) {
        for (int64_t n = r.lo; n < r.hi; n++)
            t.steps += collatz_steps((uint64_t)n);
        return pk_call_return(call, &t, sizeof t);
    }
    int64_t mid = r.lo + (r.hi - r.lo) / 2;
    range half[2] = {{r.lo, mid}, {mid, r.hi}};
    pk_future *f[2] = {NULL, NULL};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = pk_call_submit(call, "count_range", &half[i], sizeof half[i], &f[i]);
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = add_subtask(call, f[i], &t);
    pk_future_free(f[0]);
    pk_future_free(f[1]);
    return rc != 0 ? rc : pk_call_return(call, &t, sizeof t);
}

/* Rank 0: submit the pieces, sum their tallies in order, close. */
static int farm(pk_ctx *ctx, pk_exec *ex, tally *total) {
    pk_future *f[PIECES] = {NULL};
    int64_t size = (LAST - FIRST + 1) / PIECES;
    int rc = 0;
    for (int i = 0; i < PIECES && rc == 0; i++) {
        range r = {FIRST + i * size, i == PIECES - 1 ? LAST + 1 : FIRST + (i + 1) * size};
        rc = pk_exec_submit(ex, "count_range", &r, sizeof r, &f[i]);
    }
    for (int i = 0; i < PIECES && rc == 0; i++) {
        const void *data;
        size_t len;
        rc = pk_future_result(f[i], &data, &len);
        if (rc == 0 && len == sizeof(tally)) {
            tally t;
            memcpy(&t, data, sizeof t);
            total->steps += t.steps;
            total->tasks += t.tasks;
        } else {
            const pk_error_info *e = pk_future_error(f[i]);
            rc = pk_ctx_fail(ctx, rc != 0 ? rc : PK_EVALIDATE, "piece %d: %s", i,
                             e != NULL ? e->message : "no tally");
        }
    }
    int closed = pk_exec_close(ex, rc == 0 ? PK_EXEC_WAIT : PK_EXEC_CANCEL);
    for (int i = 0; i < PIECES; i++)
        pk_future_free(f[i]);
    return rc != 0 ? rc : closed;
}

static int run(pk_ctx *ctx) {
    const char *fault = getenv("PARKIT_INJECT");
    int rc = fault != NULL ? pk_ctx_set_fault(ctx, fault) : 0;
    if (rc == 0)
        rc = pk_exec_register("count_range", count_range); /* every rank, before opening */
    pk_exec *ex = NULL;
    if (rc == 0)
        rc = pk_exec_open(ctx, &ex, NULL); /* ranks other than 0 serve in here */
    if (rc == 0 && ex != NULL) {
        tally total = {0, 0};
        rc = farm(ctx, ex, &total);
        int64_t expected = 0; /* the same count by a plain loop */
        for (int64_t n = FIRST; n <= LAST; n++)
            expected += collatz_steps((uint64_t)n);
        if (rc == 0) {
            printf("Collatz steps of every start in [%d, %d]: %d pieces, split down to at "
                   "most %d starts\n",
                   FIRST, LAST, PIECES, THRESHOLD);
            printf("tasks run = %" PRId64 "\n", total.tasks);
            printf("total = %" PRId64 " (expected %" PRId64 ")\n", total.steps, expected);
            if (total.steps != expected)
                rc = pk_ctx_fail(ctx, PK_EVALIDATE, "the tasks counted a wrong total");
        }
    }
    return pk_agree(ctx, rc); /* every rank exits with rank 0's verdict */
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
