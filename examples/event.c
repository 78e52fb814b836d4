/* An event (Python's threading.Event): worker 0 of a team prepares something,
 * then sets the event; every other worker waits for it, then counts itself
 * woken in a pk_shared. The team is four threads, or the ranks under mpirun,
 * where the waiters sleep in other processes than the one that sets it. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "example_main.h"
#include "parkit/sync.h"

typedef struct start {
    pk_event *go;
    pk_shared *woken; /* one int64 */
} start;

static int worker(void *arg, pk_worker *w) {
    start *s = arg;
    if (w->id == 0) {
        struct timespec t = {0, 50000000L}; /* 50 ms of preparation */
        nanosleep(&t, NULL);
        return pk_event_set(s->go, w);
    }
    int rc = pk_event_wait(s->go, w);
    return rc != 0 ? rc : pk_shared_fetch_add_i64(s->woken, 0, 1, NULL);
}

static int run(pk_ctx *ctx) {
    int team = pk_ctx_size(ctx) > 1 ? pk_ctx_size(ctx) : 4; /* the ranks, or 4 threads */
    start s = {NULL, NULL};
    int rc = pk_event_new(ctx, &s.go);
    if (rc == 0)
        rc = pk_shared_new(ctx, &s.woken, sizeof(int64_t), 1);
    if (rc == 0)
        rc = pk_team(ctx, team, NULL, worker, &s);
    int64_t woken = 0;
    if (rc == 0)
        rc = pk_shared_load_i64(s.woken, 0, &woken);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("woken = %" PRId64 "\n", woken);
    pk_shared_free(s.woken);
    pk_event_free(s.go);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
