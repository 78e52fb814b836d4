/* The tutorial's producer/consumer list, with parkit: two producers add numbers
 * to a shared bounded list and two consumers remove them, as a team of four
 * workers around a bounded channel. The tutorial guards its list with a lock;
 * the channel needs none. Runs on threads, or as four ranks under mpirun -n 4. */
#include <stdio.h>

#include "example_main.h"
#include "parkit/parkit.h"
#include "parkit/prodcons.h"

enum { PRODUCERS = 2, CONSUMERS = 2, ITEMS = 20 };

typedef struct shared {
    pk_chan *list;
    int64_t consumed[PRODUCERS + CONSUMERS];
} shared;

static int worker(void *arg, pk_worker *w) {
    shared *s = arg;
    if (w->id < PRODUCERS) { /* producer: items id, id + P, ... */
        for (int64_t v = w->id; v < ITEMS; v += PRODUCERS) {
            int rc = pk_chan_put(s->list, &v);
            if (rc != 0)
                return rc;
        }
        return pk_chan_close(s->list);
    }
    int64_t v;
    int rc;
    while ((rc = pk_chan_get(s->list, &v)) == 0)
        s->consumed[w->id]++;
    return rc == PK_ECLOSED ? 0 : rc;
}

static int run(pk_ctx *ctx) {
    shared s = {0};
    pk_chan_opts o = {.elem_size = sizeof(int64_t),
                      .capacity = 4,
                      .producers = PRODUCERS,
                      .consumers = CONSUMERS};
    int rc = pk_chan_open(ctx, &s.list, &o);
    if (rc != 0)
        return rc;
    rc = pk_team(ctx, PRODUCERS + CONSUMERS, NULL, worker, &s);
    int64_t total = 0;
    for (int i = PRODUCERS; i < PRODUCERS + CONSUMERS; i++)
        total += s.consumed[i];
    /* under mpirun each consumer counted in its own rank: add the counts up */
    if (rc == 0)
        rc = pk_combine(ctx, &pk_sum_i64, &total, PK_ON_ALL);
    pk_chan_free(s.list);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("consumed %lld items\n", (long long)total);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
