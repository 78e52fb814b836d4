/* A Monte Carlo estimate of pi whose answer is the same, bit for bit, on every
 * pool: serial, any number of threads, any number of ranks. The random numbers
 * are keyed to the work, not to the worker: each chunk of darts draws from its
 * own stream, pk_rng_at(SEED, first dart of the chunk), so whichever worker
 * throws a chunk throws the same darts. (Seeding a generator per worker in
 * worker_begin would make the answer depend on the pool.) The count of darts
 * inside the circle is an exact integer sum, so the estimate is identical too. */
#include <inttypes.h>
#include <stdio.h>

#include "example_main.h"

enum { DARTS = 4000000, DARTS_PER_CHUNK = 50000 };
static const uint64_t SEED = 20261129;

static int throw_darts(void *arg, int64_t begin, int64_t end, void *out, void *acc, pk_worker *w) {
    (void)arg, (void)out, (void)w;
    pk_rng r = pk_rng_at(SEED, (uint64_t)begin); /* this chunk's stream */
    int64_t inside = 0;
    for (int64_t i = begin; i < end; i++) {
        double x = pk_rng_double(&r), y = pk_rng_double(&r);
        inside += x * x + y * y < 1.0;
    }
    *(int64_t *)acc = inside;
    return 0;
}

static int run(pk_ctx *ctx) {
    pk_opts o = {.chunk = DARTS_PER_CHUNK, .schedule = PK_DYNAMIC};
    int64_t inside = 0;
    int rc = pk_map_reduce(ctx, DARTS, &o, throw_darts, NULL, 0, NULL, &pk_sum_i64, &inside);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("%s pool of %d rank(s) x %d thread(s)\ninside = %" PRId64
               " of %d darts, pi ~ %.6f\n",
               pk_ctx_backend(ctx), pk_ctx_size(ctx), pk_ctx_threads(ctx), inside, DARTS,
               4.0 * (double)inside / DARTS);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
