/* The tutorial's Manager list, appended to by every worker of the pool at once:
 * a pk_shared length counter and a pk_shared array of slots. An append claims
 * the next slot with one atomic fetch-add on the length, then writes its value
 * into that slot, so no two workers ever write the same slot and no lock is
 * needed. Afterwards rank 0 checks that every value is in the list exactly
 * once. Runs on threads, under mpirun and hybrid. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_main.h"
#include "parkit/sync.h"

enum { ITEMS = 1000 };

typedef struct list {
    pk_shared *length; /* one int64 */
    pk_shared *items;  /* ITEMS int64: the slots */
} list;

static int append(list *l, int64_t value) {
    int64_t slot = 0;
    int rc = pk_shared_fetch_add_i64(l->length, 0, 1, &slot);
    return rc != 0 ? rc : pk_shared_store_i64(l->items, slot, value);
}

/* Each index of the pool call appends its own value. */
static int appender(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    (void)w;
    for (int64_t i = begin; i < end; i++) {
        int rc = append(arg, i * i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Every value 0, 1, 4, ... (ITEMS - 1)^2 in the list exactly once. */
static int check(pk_ctx *ctx, list *l, int64_t length) {
    char *seen = calloc(ITEMS, 1);
    if (seen == NULL)
        return pk_ctx_fail(ctx, PK_ENOMEM, "no memory to check the list");
    int rc = 0;
    for (int64_t s = 0; rc == 0 && s < length; s++) {
        int64_t v = -1, root = 0;
        rc = pk_shared_load_i64(l->items, s, &v);
        while (rc == 0 && root * root < v)
            root++;
        if (rc == 0 && (root >= ITEMS || root * root != v || seen[root]++))
            rc = pk_ctx_fail(ctx, PK_EVALIDATE, "slot %" PRId64 " holds %" PRId64, s, v);
    }
    free(seen);
    return rc;
}

static int run(pk_ctx *ctx) {
    list l = {NULL, NULL};
    int rc = pk_shared_new(ctx, &l.length, sizeof(int64_t), 1);
    if (rc == 0)
        rc = pk_shared_new(ctx, &l.items, sizeof(int64_t), ITEMS);
    pk_opts o = {.chunk = 10, .schedule = PK_DYNAMIC}; /* the workers' appends interleave */
    if (rc == 0)
        rc = pk_for(ctx, ITEMS, &o, appender, &l);
    int64_t length = 0;
    if (rc == 0)
        rc = pk_shared_load_i64(l.length, 0, &length);
    if (rc == 0 && length == ITEMS)
        rc = check(ctx, &l, length);
    if (rc == 0 && pk_ctx_rank(ctx) == 0)
        printf("length = %" PRId64 " (expected %d)\n", length, ITEMS);
    pk_shared_free(l.items);
    pk_shared_free(l.length);
    return rc;
}

int main(int argc, char **argv) {
    return example_main(argc, argv, run);
}
