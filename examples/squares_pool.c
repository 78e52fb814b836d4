/* The tutorial's pool of squares with parkit: squares of 0..N-1 with pk_map_reduce
 * (a map into an array plus an exact sum) on pools of 2, 4 and 8 threads per
 * process, each timed. Under mpirun the pool is ranks x threads and the array
 * lands on rank 0. */
#include <stdio.h>
#include <stdlib.h>

#include "example_main.h"
#include "parkit/parkit.h"
#include "parkit/squares.h"

/* The user's function, over a chunk [begin, end): out holds those elements, acc
 * the chunk's partial sum. */
static int square_chunk(void *arg, int64_t begin, int64_t end, void *out, void *acc, pk_worker *w) {
    (void)arg;
    (void)w;
    int64_t *o = out;
    int64_t sum = 0;
    for (int64_t x = begin; x < end; x++) {
        o[x - begin] = x * x;
        sum += x * x;
    }
    *(int64_t *)acc = sum;
    return 0;
}

static int run(pk_ctx *ctx) {
    const int64_t n = 1000000;
    int64_t *squares = malloc((size_t)n * sizeof *squares);
    if (squares == NULL)
        return PK_ENOMEM;
    int rc = 0;
    for (int pool = 2; pool <= 8 && rc == 0; pool *= 2) {
        int64_t sum = 0;
        pk_ctx_set_threads(ctx, pool);
        double t0 = pk_time_now();
        rc = pk_map_reduce(ctx, n, NULL, square_chunk, NULL, sizeof(int64_t), squares, &pk_sum_i64,
                           &sum);
        double dt = pk_time_now() - t0;
        if (rc == 0 && pk_ctx_rank(ctx) == 0)
            printf("pool of %d x %d: squares[9] = %lld, sum = %lld, %.3f ms\n", pk_ctx_size(ctx),
                   pool, (long long)squares[9], (long long)sum, 1e3 * dt);
    }
    free(squares);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
