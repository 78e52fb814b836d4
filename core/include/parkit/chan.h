/* The parkit channel: a bounded queue between the workers of a pk_team
 * (Python's Queue), on threads and across MPI ranks. Included by
 * parkit/pool.h, which declares pk_team. */
#ifndef PARKIT_CHAN_H
#define PARKIT_CHAN_H

#include <stddef.h>

#include "parkit/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_chan pk_chan;

typedef struct pk_chan_opts {
    size_t elem_size; /* bytes per item (> 0) */
    size_t capacity;  /* items the channel holds at most (> 0) */
    int producers;    /* workers that will put (each calls pk_chan_close once) */
    int consumers;    /* workers that will get */
    /* Optional, threads only: called after each item goes in (event 0) or comes
     * out (event 1) with the channel locked, so pk_chan_peek() sees exactly the
     * contents at that moment. For tracing; it serializes the channel. */
    void (*observe)(void *arg, pk_chan *ch, int event, const void *item);
    void *observe_arg;
} pk_chan_opts;

/* Opens a channel for a pk_team: team workers 0..producers-1 put, workers
 * producers..producers+consumers-1 get. On threads any worker may put or get;
 * across ranks the roles are as given. Collective under MPI. */
int pk_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts);

/* Blocks while full. 0, or PK_ECLOSED after close, or the abort code. */
int pk_chan_put(pk_chan *ch, const void *item);
/* Never blocks: PK_EAGAIN when full. */
int pk_chan_try_put(pk_chan *ch, const void *item);
/* Puts count items (blocks until all went in); batching cuts synchronisation. */
int pk_chan_put_many(pk_chan *ch, const void *items, size_t count);

/* Blocks while empty. 0, or PK_ECLOSED when every producer closed and the channel
 * is drained, or the abort code. */
int pk_chan_get(pk_chan *ch, void *item);
/* Never blocks: PK_EAGAIN when empty (and not closed). */
int pk_chan_try_get(pk_chan *ch, void *item);
/* Gets between 1 and max items into items, *got set; blocks until at least one. */
int pk_chan_get_many(pk_chan *ch, void *items, size_t max, size_t *got);

/* One producer is done; after the last producer's close, getters drain and end. */
int pk_chan_close(pk_chan *ch);
/* Wakes every blocked put and get with `code` (negative), now and later. */
int pk_chan_abort(pk_chan *ch, int code);

/* Copies up to max items, oldest first, without removing them; returns how many
 * there are. Only meaningful inside an observe hook or when nobody else uses
 * the channel. 0 across ranks. */
size_t pk_chan_peek(const pk_chan *ch, void *items, size_t max);

/* Items in the channel at most so far (depth high-water mark). */
size_t pk_chan_max_depth(const pk_chan *ch);

/* Frees the channel (collective under MPI). NULL is allowed. */
void pk_chan_free(pk_chan *ch);

#ifdef __cplusplus
}
#endif

#endif
