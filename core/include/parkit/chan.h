/* The parkit channel: a bounded queue between the workers of a pk_team
 * (Python's Queue), on threads and across MPI ranks with the same rules.
 *
 * Roles. A channel names the team workers that put (the putters) and those
 * that get (the getters), by their w->id in the pk_team that uses it. By
 * default team workers 0..producers-1 put and producers..producers+consumers-1
 * get; pk_chan_opts.putters and .getters name any other workers instead, with
 * gaps and in any order. A worker may be in both lists: it may put into the
 * channel it gets from (worker 0 sending work to the others and collecting
 * their results, a worker handing items to itself), and a pipeline stage gets
 * from one channel and puts into another. Worker 0 may be a getter.
 *
 * Where the roles bind. Across ranks team worker w is rank w, and only the
 * named workers may put (and close) or get: a call in a role the worker was
 * not given fails with PK_EINVAL. On threads every worker of the process may
 * put or get whatever the lists say; the lists are still checked at open in
 * the same way, so code written for ranks runs unchanged on threads.
 *
 * Progress across ranks. A rank waiting in a channel call keeps serving every
 * channel of its context: it grants room and takes in items as a getter while
 * it waits to put, and the other way round, so a rank may hold both roles on
 * one channel or on several (a ring of stages) without deadlock, exactly as
 * threads would. Items are sent ahead to a getter's rank against the room it
 * granted, so an item that went to getter g is got by g only: a getter gets
 * until PK_ECLOSED, or the channel is freed with items left in it. Single
 * items a putter puts in a row travel together: it keeps them (already
 * counted against the room) and sends them when it has a message's worth,
 * when it would wait, closes, waits in any channel call or on a sharing
 * primitive (parkit/sync.h), ends its pool call or team, or at a put some
 * 50 us after the first. A putter that goes on computing for long after a put
 * holds that item back until one of these.
 *
 * Errors. Every refusal records its reason in the context's error
 * (pk_ctx_error(ctx)->message): at open the lists and the team ("putter id 5
 * is outside the team of 4 workers", "worker 2 is named twice as a getter");
 * across ranks a call in the wrong role ("worker 3 is not a putter of this
 * channel"), written on the rank that made it, where a team callback can pass
 * it on with pk_fail(w, rc, "%s", pk_ctx_error(ctx)->message). */
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
    int producers;    /* putters: each calls pk_chan_close once when done */
    int consumers;    /* getters */
    /* Optional, threads only: called after each item goes in (event 0) or comes
     * out (event 1) with the channel locked, so pk_chan_peek() sees exactly the
     * contents at that moment. For tracing; it serializes the channel. */
    void (*observe)(void *arg, pk_chan *ch, int event, const void *item);
    void *observe_arg;
    /* Optional: the team workers that put (producers ids) and that get
     * (consumers ids), each list without repeats, the two lists free to
     * overlap. NULL: 0..producers-1 put, producers..producers+consumers-1 get.
     * The channel keeps its own copy. */
    const int *putters;
    const int *getters;
    /* Optional: the size of the team that uses the channel; every id named
     * must be below it. 0: across ranks the ranks of the pool (team worker w
     * runs on rank w), on threads no bound. Across ranks it may not exceed the
     * ranks. */
    int workers;
    /* Optional: nonzero binds the roles on threads too, as across ranks. With one
     * putter and one getter: inside a pk_team callback only the named workers
     * may put (and close) or get, the others fail with PK_EINVAL ("worker 1 is
     * not a putter of this channel"), and the channel may serve team after
     * team; outside a team the first thread to put or close becomes the
     * putter and the first to get the getter, and calls from other threads
     * fail with PK_EINVAL (reason in pk_ctx_error()). In return the channel
     * runs as a single-producer single-consumer ring: no atomic
     * read-modify-write per item, several times the single-item rate. With
     * more putters or getters, or an observer, it changes nothing on threads.
     * Across ranks the roles always bind. */
    int bind_roles;
} pk_chan_opts;

/* Opens a channel for a pk_team with the roles of opts (see the top of this
 * file). PK_EINVAL with the reason in pk_ctx_error() when a size, a count, a
 * list or the team is wrong (an id named twice in one list, an id outside the
 * team, across ranks a team larger than the ranks); PK_ENOTSUP for an observer
 * across ranks. Collective under MPI: every rank passes the same options and
 * gets the same code. */
int pk_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts);

/* Blocks while full. 0, or PK_ECLOSED after this worker's close (on threads,
 * after the last putter's), or the abort code; across ranks PK_EINVAL from a
 * worker that is not a putter. */
int pk_chan_put(pk_chan *ch, const void *item);
/* Never blocks: PK_EAGAIN when full. */
int pk_chan_try_put(pk_chan *ch, const void *item);
/* Puts count items (blocks until all went in); batching cuts synchronisation. */
int pk_chan_put_many(pk_chan *ch, const void *items, size_t count);

/* Blocks while empty. 0, or PK_ECLOSED when every putter closed and the channel
 * is drained (across ranks: this getter's part of it), or the abort code;
 * across ranks PK_EINVAL from a worker that is not a getter. */
int pk_chan_get(pk_chan *ch, void *item);
/* Never blocks: PK_EAGAIN when empty (and not closed). */
int pk_chan_try_get(pk_chan *ch, void *item);
/* Gets between 1 and max items into items, *got set; blocks until at least one. */
int pk_chan_get_many(pk_chan *ch, void *items, size_t max, size_t *got);

/* One putter is done (each putter closes once; a second close is PK_ECLOSED);
 * after the last putter's close, getters drain and end. Across ranks PK_EINVAL
 * from a worker that is not a putter. */
int pk_chan_close(pk_chan *ch);
/* Wakes every blocked put and get with `code` (negative), now and later. */
int pk_chan_abort(pk_chan *ch, int code);

/* Copies up to max items, oldest first, without removing them; returns how many
 * there are. Only meaningful inside an observe hook or when nobody else uses
 * the channel. 0 across ranks. */
size_t pk_chan_peek(const pk_chan *ch, void *items, size_t max);

/* Items in the channel at most so far (depth high-water mark); across ranks
 * the most this rank held as a getter. */
size_t pk_chan_max_depth(const pk_chan *ch);

/* Frees the channel (collective under MPI). NULL is allowed. */
void pk_chan_free(pk_chan *ch);

#ifdef __cplusplus
}
#endif

#endif
