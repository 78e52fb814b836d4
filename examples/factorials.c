/* The thread-pool tutorial's first program with parkit: the factorials of 1..10
 * computed as tasks on a pool and printed in order. The same binary runs on
 * threads (OMP_NUM_THREADS=4 ./factorials) and on ranks (mpirun -n 3 ./factorials):
 * results are collected in task order on rank 0. */
#include <inttypes.h>
#include <stdio.h>

#include "example_main.h"
#include "parkit/factorial.h"
#include "parkit/parkit.h"

/* One task: the factorial of 1 + task. Any C function of this shape can run on
 * the pool; it returns 0 or an error code. */
static int factorial_task(void *arg, int64_t task, void *result, pk_worker *w) {
    (void)arg;
    (void)w;
    uint64_t f = 1;
    for (uint64_t k = 2; k <= (uint64_t)task + 1; k++)
        f *= k;
    *(uint64_t *)result = f;
    return 0;
}

static int run(pk_ctx *ctx) {
    enum { N = 10 };
    uint64_t results[N];
    pk_type u64 = {.size = sizeof(uint64_t)};
    int rc = pk_tasks(ctx, N, NULL, factorial_task, NULL, &u64, results);
    if (rc != 0)
        return rc;
    if (pk_ctx_rank(ctx) == 0)
        for (int i = 0; i < N; i++)
            printf("Factorial of %d is %" PRIu64 "\n", i + 1, results[i]);
    return 0;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
