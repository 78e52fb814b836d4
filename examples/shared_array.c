/* A shared array (Python's multiprocessing.Array): every worker of a team
 * fills its own part, a barrier waits until all parts are there, then worker 0
 * adds the whole array up. Where every worker addresses the same memory
 * (threads, ranks of one node) pk_shared_data gives the elements themselves;
 * elsewhere pk_shared_put and pk_shared_get copy in and out. The team is four
 * threads, or the ranks under mpirun. */
#include <inttypes.h>
#include <stdio.h>

#include "example_main.h"
#include "parkit/sync.h"

enum { N = 1000 };

typedef struct work {
    pk_shared *array; /* N int64 */
    pk_barrier *filled;
    int team;
    int64_t sum; /* worker 0's result (rank 0 under mpirun) */
} work;

static int worker(void *arg, pk_worker *w) {
    work *s = arg;
    int64_t first = (int64_t)N * w->id / s->team; /* this worker's part */
    int64_t last = (int64_t)N * (w->id + 1) / s->team;
    int64_t *data = pk_shared_data(s->array);
    for (int64_t i = first; i < last; i++) {
        int64_t v = i + 1;
        if (data != NULL)
            data[i] = v;
        else {
            int rc = pk_shared_put(s->array, i, 1, &v);
            if (rc != 0)
                return rc;
        }
    }
    int rc = pk_barrier_wait(s->filled, w); /* every part is written after this */
    if (rc < 0 || w->id != 0)
        return rc < 0 ? rc : 0;
    int64_t sum = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t v = 0;
        if (data != NULL)
            v = data[i];
        else if ((rc = pk_shared_get(s->array, i, 1, &v)) != 0)
            return rc;
        sum += v;
    }
    s->sum = sum;
    return 0;
}

static int run(pk_ctx *ctx) {
    int team = pk_ctx_size(ctx) > 1 ? pk_ctx_size(ctx) : 4; /* the ranks, or 4 threads */
    work s = {NULL, NULL, team, 0};
    int rc = pk_shared_new(ctx, &s.array, sizeof(int64_t), N);
    if (rc == 0)
        rc = pk_barrier_new(ctx, &s.filled, team);
    if (rc == 0)
        rc = pk_team(ctx, team, NULL, worker, &s);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("sum = %" PRId64 " (expected %" PRId64 ")\n", s.sum, (int64_t)N * (N + 1) / 2);
    pk_barrier_free(s.filled);
    pk_shared_free(s.array);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
