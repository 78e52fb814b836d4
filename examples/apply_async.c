/* Pool.apply_async with callbacks, on parkit's executor: ten tasks square their
 * argument, but a square of a multiple of 3 fails on purpose. Each future gets
 * two callbacks (pk_future_on_done): one stores a result, the other reports a
 * failure. The callbacks run on the submitting thread, inside its executor
 * calls, so they need no lock. Each failure must be reported exactly once;
 * the program checks that every future got exactly one callback.
 *
 * SPMD: every rank registers the task and opens the executor; rank 0 submits,
 * the other ranks serve tasks until rank 0 closes it. Same binary on threads,
 * under mpirun and hybrid. Failure lines come in completion order; everything
 * else is printed in submission order. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_main.h"
#include "parkit/exec.h"

enum { TASKS = 10 };

/* The task: x*x for an int64 x, or PK_EINVAL for a multiple of 3. */
static int square(pk_call *call, const void *arg, size_t len) {
    int64_t x;
    if (len != sizeof x)
        return pk_call_fail(call, PK_EINVAL, "expected one int64, got %zu bytes", len);
    memcpy(&x, arg, sizeof x);
    if (x % 3 == 0)
        return pk_call_fail(call, PK_EINVAL, "%" PRId64 " is a multiple of 3", x);
    int64_t y = x * x;
    return pk_call_return(call, &y, sizeof y);
}

/* What the callbacks of one future know and leave behind. */
typedef struct slot {
    int64_t x;      /* the argument */
    int64_t square; /* set by on_done */
    int ok;         /* 1 when on_done ran */
    int callbacks;  /* how many callbacks ran for this future: must end at 1 */
    int *errors;    /* the failures reported so far, shared by every slot */
} slot;

static void on_done(pk_future *f, void *arg) {
    slot *s = arg;
    const void *data;
    size_t len;
    if (pk_future_result(f, &data, &len) == 0 && len == sizeof s->square) {
        memcpy(&s->square, data, sizeof s->square);
        s->ok = 1;
    }
    s->callbacks++;
}

/* Python's error_callback: print the failure, once per failed future. */
static void on_error(pk_future *f, void *arg) {
    slot *s = arg;
    const pk_error_info *e = pk_future_error(f);
    printf("error callback: square(%" PRId64 "): %s: %s\n", s->x, e ? pk_err_name(e->code) : "?",
           e ? e->message : "no error recorded");
    (*s->errors)++;
    s->callbacks++;
}

/* Rank 0, the submitter: apply_async ten times, wait for all, close. */
static int submit_all(pk_exec *ex, slot *slots, pk_future **fs) {
    int rc = 0;
    for (int i = 0; i < TASKS && rc == 0; i++) {
        rc = pk_exec_submit(ex, "square", &slots[i].x, sizeof slots[i].x, &fs[i]);
        if (rc == 0)
            rc = pk_future_on_done(fs[i], on_done, on_error, &slots[i]);
    }
    /* like pool.close(); pool.join(): the callbacks run inside these waits */
    for (int i = 0; i < TASKS && fs[i] != NULL; i++)
        pk_future_wait(fs[i], -1);
    int closed = pk_exec_close(ex, PK_EXEC_WAIT);
    return rc != 0 ? rc : closed;
}

/* Rank 0: the results in submission order, then the one checkable line. */
static int report(pk_ctx *ctx, const slot *slots, int errors) {
    int expected = 0, once = 1;
    for (int i = 0; i < TASKS; i++) {
        if (slots[i].ok)
            printf("square(%" PRId64 ") = %" PRId64 "\n", slots[i].x, slots[i].square);
        expected += slots[i].x % 3 == 0;
        once &= slots[i].callbacks == 1;
    }
    printf("errors reported = %d (expected %d)\n", errors, expected);
    if (!once)
        return pk_ctx_fail(ctx, PK_EVALIDATE, "a future did not get exactly one callback");
    if (errors != expected)
        return pk_ctx_fail(ctx, PK_EVALIDATE, "%d errors reported, %d expected", errors, expected);
    return 0;
}

static int run(pk_ctx *ctx) {
    const char *fault = getenv("PARKIT_INJECT"); /* e.g. task=4 or rank=1,task=4 */
    int rc = fault != NULL ? pk_ctx_set_fault(ctx, fault) : 0;
    if (rc == 0)
        rc = pk_exec_register("square", square); /* on every rank, before opening */
    pk_exec *ex = NULL;
    if (rc == 0)
        rc = pk_exec_open(ctx, &ex, NULL); /* ranks other than 0 serve in here */
    int errors = 0;
    slot slots[TASKS];
    pk_future *fs[TASKS] = {NULL};
    for (int i = 0; i < TASKS; i++)
        slots[i] = (slot){.x = i + 1, .errors = &errors};
    if (rc == 0 && ex != NULL) {
        rc = submit_all(ex, slots, fs);
        if (rc == 0)
            rc = report(ctx, slots, errors);
        for (int i = 0; i < TASKS; i++)
            pk_future_free(fs[i]);
    }
    return pk_agree(ctx, rc); /* every rank exits with rank 0's verdict */
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
