/* A bounded buffer with a lock and two conditions (Python's threading.Condition):
 * producers wait on not_full while the buffer is full, consumers on not_empty
 * while it is empty, and each side notifies the other after a move. The buffer
 * and its indices are a pk_shared that every worker sees, changed only under
 * the lock. Half of a team produces, the other half consumes: four threads, or
 * the ranks under mpirun. */
#include <inttypes.h>
#include <stdio.h>

#include "example_main.h"
#include "parkit/sync.h"

enum { ITEMS = 400, CAPACITY = 4 };
/* The shared state, all int64: indices, counts, then the slots. */
enum { HEAD, TAIL, FILLED, TAKEN, SUM, SLOTS, STATE = SLOTS + CAPACITY };

typedef struct buffer {
    pk_lock *lock;
    pk_cond *not_full, *not_empty;
    pk_shared *st;
    int producers;
} buffer;

static int64_t get(buffer *b, int64_t i) {
    int64_t v = 0;
    pk_shared_load_i64(b->st, i, &v);
    return v;
}

static void set(buffer *b, int64_t i, int64_t v) {
    pk_shared_store_i64(b->st, i, v);
}

/* Producer p puts p, p + producers, ... below ITEMS. */
static int produce(buffer *b, pk_worker *w) {
    for (int64_t item = w->id; item < ITEMS; item += b->producers) {
        int rc = pk_lock_acquire(b->lock, w);
        while (rc == 0 && get(b, FILLED) == CAPACITY)
            rc = pk_cond_wait(b->not_full, w);
        if (rc != 0)
            return rc;
        int64_t tail = get(b, TAIL);
        set(b, SLOTS + tail, item);
        set(b, TAIL, (tail + 1) % CAPACITY);
        set(b, FILLED, get(b, FILLED) + 1);
        rc = pk_cond_notify(b->not_empty, w);
        int released = pk_lock_release(b->lock, w);
        if (rc != 0 || released != 0)
            return rc != 0 ? rc : released;
    }
    return 0;
}

/* Consumers take items until all ITEMS have been taken. */
static int consume(buffer *b, pk_worker *w) {
    for (;;) {
        int rc = pk_lock_acquire(b->lock, w);
        while (rc == 0 && get(b, FILLED) == 0 && get(b, TAKEN) < ITEMS)
            rc = pk_cond_wait(b->not_empty, w);
        if (rc != 0)
            return rc;
        if (get(b, TAKEN) == ITEMS) /* all gone: done */
            return pk_lock_release(b->lock, w);
        int64_t head = get(b, HEAD);
        int64_t item = get(b, SLOTS + head);
        set(b, HEAD, (head + 1) % CAPACITY);
        set(b, FILLED, get(b, FILLED) - 1);
        set(b, TAKEN, get(b, TAKEN) + 1);
        set(b, SUM, get(b, SUM) + item);
        rc = pk_cond_notify(b->not_full, w);
        if (rc == 0 && get(b, TAKEN) == ITEMS) /* the last one: the other consumers stop */
            rc = pk_cond_notify_all(b->not_empty, w);
        int released = pk_lock_release(b->lock, w);
        if (rc != 0 || released != 0)
            return rc != 0 ? rc : released;
    }
}

static int worker(void *arg, pk_worker *w) {
    buffer *b = arg;
    return w->id < b->producers ? produce(b, w) : consume(b, w);
}

static int run(pk_ctx *ctx) {
    int team = pk_ctx_size(ctx) > 1 ? pk_ctx_size(ctx) : 4; /* the ranks, or 4 threads */
    buffer b = {NULL, NULL, NULL, NULL, team / 2};
    int rc = pk_lock_new(ctx, &b.lock, 0);
    if (rc == 0)
        rc = pk_cond_new(ctx, &b.not_full, b.lock);
    if (rc == 0)
        rc = pk_cond_new(ctx, &b.not_empty, b.lock);
    if (rc == 0)
        rc = pk_shared_new(ctx, &b.st, sizeof(int64_t), STATE);
    if (rc == 0)
        rc = pk_team(ctx, team, NULL, worker, &b);
    if (rc == 0 && get(&b, SUM) != (int64_t)ITEMS * (ITEMS - 1) / 2)
        rc = pk_ctx_fail(ctx, PK_EVALIDATE, "the items consumed add up to %" PRId64, get(&b, SUM));
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("consumed = %" PRId64 " (expected %d)\n", get(&b, TAKEN), ITEMS);
    pk_shared_free(b.st);
    pk_cond_free(b.not_empty);
    pk_cond_free(b.not_full);
    pk_lock_free(b.lock);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
