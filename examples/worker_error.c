/* An error raised in one worker and reported in the caller, with parkit: task 7
 * of 20 fails with a message; the pool stops the other workers, calls the error
 * callback once (like Pool's error_callback) and returns the error, with where
 * it came from, to the caller on every rank. Exits 1 on purpose. */
#include <stdio.h>

#include "example_main.h"
#include "parkit/parkit.h"

static int checked_inverse(void *arg, int64_t task, void *result, pk_worker *w) {
    (void)arg;
    int64_t divisor = task - 7;
    if (divisor == 0)
        return pk_fail(w, PK_ERANGE, "division by zero in task %lld", (long long)task);
    *(double *)result = 1.0 / (double)divisor;
    return 0;
}

static void on_error(void *arg, const pk_error_info *e) {
    (void)arg;
    printf("error callback: %s from rank %d, thread %d, task %lld: %s\n", pk_err_name(e->code),
           e->rank, e->thread, (long long)e->task, e->message);
}

static int run(pk_ctx *ctx) {
    enum { N = 20 };
    double results[N];
    pk_type f64 = {.size = sizeof(double)};
    pk_opts o = {.label = "inverse", .on_error = on_error};
    int rc = pk_tasks(ctx, N, &o, checked_inverse, NULL, &f64, results);
    if (pk_ctx_rank(ctx) == 0)
        printf("pk_tasks returned %s on rank 0\n", pk_err_name(rc));
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
