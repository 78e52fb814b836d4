/* Why a lock matters: every worker of the pool adds 1 to one shared counter
 * 10000 times, by a plain load and a plain store (read, add, write back). Two
 * workers doing that at once would lose updates; under a pk_lock each
 * read-add-write happens alone, so the count comes out exact. The counter is a
 * pk_shared of one int64, which every thread and every rank sees, so the same
 * program counts right on threads, under mpirun and hybrid. */
#include <inttypes.h>
#include <stdio.h>

#include "example_main.h"
#include "parkit/sync.h"

enum { ADDS = 10000 };

typedef struct counter {
    pk_lock *lock;
    pk_shared *value; /* one int64 */
} counter;

/* One chunk = one worker's share: ADDS increments, each under the lock. */
static int add(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    counter *c = arg;
    for (int64_t k = begin; k < end; k++) {
        for (int i = 0; i < ADDS; i++) {
            int rc = pk_lock_acquire(c->lock, w);
            if (rc != 0)
                return rc;
            int64_t v;
            rc = pk_shared_load_i64(c->value, 0, &v); /* read ... */
            if (rc == 0)
                rc = pk_shared_store_i64(c->value, 0, v + 1); /* ... and write back */
            int released = pk_lock_release(c->lock, w);
            if (rc != 0 || released != 0)
                return rc != 0 ? rc : released;
        }
    }
    return 0;
}

static int run(pk_ctx *ctx) {
    counter c = {NULL, NULL};
    int rc = pk_lock_new(ctx, &c.lock, 0);
    if (rc == 0)
        rc = pk_shared_new(ctx, &c.value, sizeof(int64_t), 1);
    /* one chunk per worker: ranks x threads */
    int64_t workers = (int64_t)pk_ctx_size(ctx) * pk_ctx_threads(ctx);
    pk_opts o = {.chunk = 1};
    if (rc == 0)
        rc = pk_for(ctx, workers, &o, add, &c);
    int64_t total = 0;
    if (rc == 0)
        rc = pk_shared_load_i64(c.value, 0, &total);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("counter = %" PRId64 " (expected %" PRId64 ")\n", total, workers * ADDS);
    pk_shared_free(c.value);
    pk_lock_free(c.lock);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
