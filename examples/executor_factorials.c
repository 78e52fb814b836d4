/* concurrent.futures' factorial example with parkit's executor: submit k! for
 * k = 1..10, collect the futures as they complete (pk_future_wait_any, like
 * as_completed), store each result in its place, and print them in order at
 * the end. The same binary runs on threads and on ranks (mpirun -n 3), where
 * rank 0 submits and the other ranks compute.
 *
 * A task that fails (try PARKIT_INJECT=task=3, or rank=2,task=3 under
 * mpirun) fails its own future only: the other factorials are still printed,
 * the failed one is printed with where it failed, and the program exits 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_main.h"
#include "parkit/exec.h"

enum { N = 10 };

/* The task: k! in 64 bits for an int64 k (k <= 20 fits). */
static int factorial(pk_call *call, const void *arg, size_t len) {
    int64_t k;
    if (len != sizeof k)
        return pk_call_fail(call, PK_EINVAL, "expected one int64, got %zu bytes", len);
    memcpy(&k, arg, sizeof k);
    if (k < 0 || k > 20)
        return pk_call_fail(call, PK_EOVERFLOW, "%" PRId64 "! does not fit in 64 bits", k);
    uint64_t f = 1;
    for (uint64_t i = 2; i <= (uint64_t)k; i++)
        f *= i;
    return pk_call_return(call, &f, sizeof f);
}

/* One factorial's outcome, filled when its future completes. */
typedef struct outcome {
    int rc;            /* 0, or the task's error code */
    uint64_t value;    /* k! when rc is 0 */
    pk_error_info why; /* where and why it failed when rc is not 0 */
} outcome;

/* Rank 0: submit every task, then take the futures as they complete. */
static int submit_and_collect(pk_exec *ex, outcome *out) {
    pk_future *fs[N] = {NULL}, *pending[N];
    int rc = 0;
    for (int i = 0; i < N && rc == 0; i++) {
        int64_t k = i + 1;
        rc = pk_exec_submit(ex, "factorial", &k, sizeof k, &fs[i]);
    }
    memcpy(pending, fs, sizeof fs);
    for (int left = N; rc == 0 && left > 0; left--) {
        int i;
        rc = pk_future_wait_any(pending, N, -1, &i); /* as_completed */
        if (rc != 0)
            break;
        const void *data;
        size_t len;
        out[i].rc = pk_future_result(pending[i], &data, &len);
        if (out[i].rc == 0 && len != sizeof out[i].value)
            out[i].rc = PK_EVALIDATE; /* not a uint64: cannot happen with this task */
        if (out[i].rc == 0)
            memcpy(&out[i].value, data, len);
        else if (pk_future_error(pending[i]) != NULL)
            out[i].why = *pk_future_error(pending[i]);
        pending[i] = NULL; /* wait for the others next */
    }
    int closed = pk_exec_close(ex, rc == 0 ? PK_EXEC_WAIT : PK_EXEC_CANCEL);
    for (int i = 0; i < N; i++)
        pk_future_free(fs[i]);
    return rc != 0 ? rc : closed;
}

/* Rank 0: the factorials in order; 0, or the first failure's code. */
static int print_all(pk_ctx *ctx, const outcome *out) {
    int failed = 0, first = 0;
    for (int i = 0; i < N; i++) {
        const outcome *o = &out[i];
        if (o->rc == 0) {
            printf("Factorial of %d is %" PRIu64 "\n", i + 1, o->value);
            continue;
        }
        printf("Factorial of %d failed: %s on rank %d, thread %d, task %" PRId64 ": %s\n", i + 1,
               pk_err_name(o->rc), o->why.rank, o->why.thread, o->why.task, o->why.message);
        first = failed++ == 0 ? o->rc : first;
    }
    if (failed)
        pk_ctx_fail(ctx, first, "%d of %d factorials failed", failed, N);
    return first;
}

static int run(pk_ctx *ctx) {
    const char *fault = getenv("PARKIT_INJECT"); /* every rank reads the same spec */
    int rc = fault != NULL ? pk_ctx_set_fault(ctx, fault) : 0;
    if (rc == 0)
        rc = pk_exec_register("factorial", factorial); /* every rank, before opening */
    pk_exec *ex = NULL;
    if (rc == 0)
        rc = pk_exec_open(ctx, &ex, NULL); /* ranks other than 0 serve in here */
    if (rc == 0 && ex != NULL) {
        outcome out[N] = {{0}};
        rc = submit_and_collect(ex, out);
        if (rc == 0)
            rc = print_all(ctx, out);
    }
    return pk_agree(ctx, rc); /* every rank exits with rank 0's verdict */
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
