/* A semaphore of 2 permits lets at most two workers into a section at once
 * (Python's threading.Semaphore(2)). Each worker of a team enters the section
 * several times and stays a little while inside; a pk_shared counts who is
 * inside (fetch_add +1 on entry, -1 on exit) and keeps the most ever seen
 * (max_i64), so the program shows the bound is reached and never passed. The
 * team is four threads, or the ranks under mpirun. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "example_main.h"
#include "parkit/sync.h"

enum { PERMITS = 2, ROUNDS = 5, INSIDE_MS = 20 };
enum { NOW_INSIDE = 0, MOST_INSIDE = 1 }; /* elements of the pk_shared */

typedef struct section {
    pk_sem *sem;
    pk_barrier *start;
    pk_shared *tally; /* NOW_INSIDE, MOST_INSIDE */
} section;

static void sleep_ms(int ms) {
    struct timespec t = {0, (long)ms * 1000000L};
    nanosleep(&t, NULL);
}

static int visit(section *s, pk_worker *w) {
    int rc = pk_sem_acquire(s->sem, w);
    if (rc != 0)
        return rc;
    int64_t before = 0;
    rc = pk_shared_fetch_add_i64(s->tally, NOW_INSIDE, 1, &before);
    if (rc == 0)
        rc = pk_shared_max_i64(s->tally, MOST_INSIDE, before + 1, NULL);
    sleep_ms(INSIDE_MS); /* stay a while, so that visits overlap */
    if (rc == 0)
        rc = pk_shared_fetch_add_i64(s->tally, NOW_INSIDE, -1, NULL);
    int released = pk_sem_release(s->sem, w);
    return rc != 0 ? rc : released;
}

static int worker(void *arg, pk_worker *w) {
    section *s = arg;
    int rc = pk_barrier_wait(s->start, w); /* everyone starts together */
    for (int r = 0; rc >= 0 && r < ROUNDS; r++) {
        rc = visit(s, w);
        sleep_ms(1);
    }
    return rc < 0 ? rc : 0;
}

static int run(pk_ctx *ctx) {
    int team = pk_ctx_size(ctx) > 1 ? pk_ctx_size(ctx) : 4; /* the ranks, or 4 threads */
    section s = {NULL, NULL, NULL};
    int rc = pk_sem_new(ctx, &s.sem, PERMITS, PERMITS);
    if (rc == 0)
        rc = pk_barrier_new(ctx, &s.start, team);
    if (rc == 0)
        rc = pk_shared_new(ctx, &s.tally, sizeof(int64_t), 2);
    if (rc == 0)
        rc = pk_team(ctx, team, NULL, worker, &s);
    int64_t most = 0;
    if (rc == 0)
        rc = pk_shared_load_i64(s.tally, MOST_INSIDE, &most);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("most inside at once = %" PRId64 "\n", most);
    pk_shared_free(s.tally);
    pk_barrier_free(s.start);
    pk_sem_free(s.sem);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
