/* The producer/consumer kernel: P producers and C consumers around one channel.
 * Written once on the public pool API (parkit/pool.h); runs on every backend.
 * Never prints, exits or times itself. Errors as in parkit/error.h, with the
 * origin in pk_ctx_error(). Scalar results are identical on every rank after a
 * call; bulk results land on rank 0 unless the call says otherwise. */
#ifndef PARKIT_PRODCONS_H
#define PARKIT_PRODCONS_H

#include <stddef.h>
#include <stdint.h>

#include "parkit/context.h"
#include "parkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- producer/consumer ------------------------------------------------------
 * P producers and C consumers move `items` items through a bounded channel of
 * `capacity`. Producer p makes the items p, p + P, p + 2P, ... below `items`
 * (item i has the value i + 1). Every item is consumed exactly once; the result
 * holds counts, sums and XORs of both sides, which the caller compares.
 * Task = the ordinal of the item within its worker (the I-th item that producer or
 * consumer handles). Each worker allocates its batch buffer as task 0
 * (pk_worker_alloc), which is where a fail=alloc fault fires.
 *
 * When the team fails (a worker's error, an injected fault, an interrupt), the
 * call returns that error on every rank and every blocked producer and consumer
 * wakes; result then holds what happened up to the abort, summed over ranks:
 * produced counts the items handed to the channel (every put that succeeded,
 * and the whole batch of a batched put that the abort cut short), consumed the
 * items a consumer took and finished (not one taken and failed), with their
 * sums and XORs. So consumed <= produced, and every consumed item was
 * produced once. */
enum pk_prodcons_event { PK_PC_ADDED = 0, PK_PC_REMOVED = 1 };

/* Limits checked up front (PK_EINVAL): producers + consumers, and opts.batch. */
enum { PK_PRODCONS_MAX_WORKERS = 1024, PK_PRODCONS_MAX_BATCH = 1 << 16 };

/* Called for each item with the channel locked, so the listing is exact: contents
 * holds depth items (oldest first). For the tutorial-style trace; slows the run. */
typedef void (*pk_prodcons_trace_fn)(void *arg, int event, int64_t value, const int64_t *contents,
                                     size_t depth);

typedef struct pk_prodcons_opts {
    int producers;        /* >= 1 */
    int consumers;        /* >= 1 */
    size_t capacity;      /* >= 1 */
    int64_t items;        /* >= 0 */
    double produce_delay; /* seconds to sleep before each put */
    double consume_delay; /* seconds to sleep after each get */
    size_t batch;         /* items moved per channel operation (0 or 1: one at a time) */
    pk_prodcons_trace_fn trace;
    void *trace_arg;
} pk_prodcons_opts;

typedef struct pk_prodcons_result {
    int64_t produced, consumed;
    uint64_t sum_produced, sum_consumed;
    uint64_t xor_produced, xor_consumed;
    size_t max_depth;
} pk_prodcons_result;

int pk_prodcons(pk_ctx *ctx, const pk_prodcons_opts *opts, pk_prodcons_result *result);

#ifdef __cplusplus
}
#endif

#endif
