/* The producer/consumer kernel: P producers and C consumers run as one pk_team
 * around one bounded pk_chan. Each worker keeps its own counts, sums and XORs and
 * the caller compares both sides, so a lost or doubled item shows. Batching,
 * per-item delays, an exact trace through the channel's observe hook and fault
 * injection per item are all here; the channel and the team come from the pool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parkit/parkit.h"
#include "parkit/prodcons.h"

/* With a trace the contents are copied out at every event: keep that bounded. */
enum { PRODCONS_MAX_TRACE_CAPACITY = 1 << 20 };
/* Longer delays than this are a mistake (a delay in ms given as seconds). */
#define PRODCONS_MAX_DELAY 3600.0

typedef struct pc_run {
    const pk_prodcons_opts *o;
    pk_chan *ch;
    pk_prodcons_result *tallies; /* one per worker, written once when it ends */
    int64_t *contents;           /* trace: the channel's contents at each event */
} pc_run;

static size_t batch_of(const pk_prodcons_opts *o) {
    return o->batch > 1 ? o->batch : 1;
}

/* Items between two looks for an interrupt when items take no set time (a
 * call through the context per look: about 8% of a single-item run's time
 * when made per item); with a delay per item, every item looks. */
enum { INTERRUPT_EVERY = 64 };

static inline void sleep_seconds(double s) {
    if (s <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

static int put_batch(pc_run *r, const int64_t *buf, size_t n) {
    return n == 1 ? pk_chan_put(r->ch, buf) : pk_chan_put_many(r->ch, buf, n);
}

/* The producer's next item after i: i + step, or items when that passes the end
 * (without overflowing near INT64_MAX). */
static inline int64_t next_item(int64_t i, int64_t items, int64_t step) {
    return items - i > step ? i + step : items;
}

/* Fills buf with up to batch items from *next on (a stride of step, below
 * items), each announced to fault injection when armed; returns how many, or a
 * negative code. done counts the items already handed to the channel: the
 * batch's own counts go to *pend, which the caller adds once it put them. */
static long fill_batch(const pc_run *r, pk_worker *w, int faults, int64_t *buf, int64_t *next,
                       int64_t done, pk_prodcons_result *pend) {
    const pk_prodcons_opts *o = r->o;
    const int64_t items = o->items, step = o->producers;
    const size_t batch = batch_of(o);
    const double delay = o->produce_delay;
    int64_t i = *next;
    size_t n = 0;
    memset(pend, 0, sizeof *pend);
    for (; n < batch && i < items; n++, i = next_item(i, items, step)) {
        int64_t ordinal = done + (int64_t)n;
        int rc = faults ? pk_task_begin(w, ordinal) : 0;
        if (rc == 0 && (delay > 0 || ordinal % INTERRUPT_EVERY == 0))
            rc = pk_interrupt_check(w);
        if (rc != 0)
            return rc;
        sleep_seconds(delay);
        buf[n] = i + 1;
        pend->sum_produced += (uint64_t)(i + 1);
        pend->xor_produced ^= (uint64_t)(i + 1);
    }
    *next = i;
    pend->produced = (int64_t)n;
    w->task = done + (int64_t)n - 1; /* the last item's, should the channel fail */
    return (long)n;
}

static void add_produced(pk_prodcons_result *t, const pk_prodcons_result *pend) {
    t->produced += pend->produced;
    t->sum_produced += pend->sum_produced;
    t->xor_produced ^= pend->xor_produced;
}

static int end_produce(pc_run *r, pk_worker *w, int rc, const pk_prodcons_result *tally,
                       pk_prodcons_result *t) {
    *t = *tally;
    w->task = -1;
    return rc != 0 ? rc : pk_chan_close(r->ch);
}

/* produce() with one item per put and no delay, on a loop of its own: the
 * common single-item case, whose time is the channel's. */
static int produce_single(pc_run *r, pk_worker *w, int faults, int64_t *buf,
                          pk_prodcons_result *t) {
    const int64_t items = r->o->items, step = r->o->producers;
    pk_prodcons_result tally = {0};
    int rc = 0;
    for (int64_t i = w->id; i < items; i = next_item(i, items, step)) {
        int64_t ordinal = tally.produced;
        if ((faults && (rc = pk_task_begin(w, ordinal)) != 0) ||
            (ordinal % INTERRUPT_EVERY == 0 && (rc = pk_interrupt_check(w)) != 0))
            break;
        w->task = ordinal; /* should the channel fail */
        buf[0] = i + 1;
        if ((rc = pk_chan_put(r->ch, buf)) != 0)
            break;
        tally.produced++;
        tally.sum_produced += (uint64_t)(i + 1);
        tally.xor_produced ^= (uint64_t)(i + 1);
    }
    return end_produce(r, w, rc, &tally, t);
}

/* Producer p: items p, p + P, p + 2P, ... below N, item i carrying the value i + 1.
 * The tally counts the items handed to the channel: after a failure, those of
 * every put that succeeded, and the whole batch of a put_many that the abort
 * cut short (some of it may have gone in), so no item a consumer got is left
 * out. */
static int produce(pc_run *r, pk_worker *w, int64_t *buf, pk_prodcons_result *t) {
    const int faults = pk_fault_armed(w);
    if (batch_of(r->o) == 1 && r->o->produce_delay <= 0)
        return produce_single(r, w, faults, buf, t);
    int64_t next = w->id;
    pk_prodcons_result tally = {0}, pend;
    long n;
    int rc = 0;
    while (rc == 0 && (n = fill_batch(r, w, faults, buf, &next, tally.produced, &pend)) != 0) {
        if (n < 0) {
            rc = (int)n;
            break;
        }
        rc = put_batch(r, buf, (size_t)n);
        if (rc == 0 || n > 1)
            add_produced(&tally, &pend);
    }
    return end_produce(r, w, rc, &tally, t);
}

static int take(pk_chan *ch, int64_t *buf, size_t batch, size_t *got) {
    *got = 1;
    return batch == 1 ? pk_chan_get(ch, buf) : pk_chan_get_many(ch, buf, batch, got);
}

/* Consumers get until the last producer closed and the channel is drained. */
static int consume(pc_run *r, pk_worker *w, int64_t *buf, pk_prodcons_result *t) {
    const pk_prodcons_opts *o = r->o;
    const int faults = pk_fault_armed(w);
    const size_t batch = batch_of(o);
    const double delay = o->consume_delay;
    size_t got;
    int64_t ordinal = 0;
    uint64_t sum = 0, xr = 0;
    int rc;
    while ((rc = take(r->ch, buf, batch, &got)) == 0) {
        for (size_t k = 0; k < got && rc == 0; k++) {
            if ((faults && (rc = pk_task_begin(w, ordinal)) != 0) ||
                ((delay > 0 || ordinal % INTERRUPT_EVERY == 0) &&
                 (rc = pk_interrupt_check(w)) != 0))
                break;
            ordinal++;
            sum += (uint64_t)buf[k];
            xr ^= (uint64_t)buf[k];
            sleep_seconds(delay);
        }
        if (rc != 0)
            break;
        w->task = ordinal; /* the next item's, should the channel fail */
    }
    *t = (pk_prodcons_result){.consumed = ordinal, .sum_consumed = sum, .xor_consumed = xr};
    w->task = -1;
    return rc == PK_ECLOSED ? 0 : rc;
}

static int worker(void *arg, pk_worker *w) {
    pc_run *r = arg;
    pk_prodcons_result t;
    memset(&t, 0, sizeof t);
    /* The batch buffer serves the worker's items from its first on: allocated
     * as task 0 (the first item), which is where a fail=alloc fault fires. */
    w->task = 0;
    int64_t *block = pk_worker_alloc(w, batch_of(r->o) * sizeof *block);
    w->task = -1;
    /* A single item lives on the worker's stack: the 8-byte blocks of a
     * producer and a consumer, allocated together, would share a cache line. */
    int64_t one = 0, *buf = block == NULL ? NULL : batch_of(r->o) == 1 ? &one : block;
    int rc = buf == NULL               ? PK_ENOMEM
             : w->id < r->o->producers ? produce(r, w, buf, &t)
                                       : consume(r, w, buf, &t);
    free(block);
    r->tallies[w->id] = t;
    return rc;
}

/* The channel's observe hook: runs with the channel locked, so the copy of its
 * contents is exactly the list at this event. */
static void observe(void *arg, pk_chan *ch, int event, const void *item) {
    pc_run *r = arg;
    int64_t value;
    memcpy(&value, item, sizeof value);
    size_t depth = pk_chan_peek(ch, r->contents, r->o->capacity);
    r->o->trace(r->o->trace_arg, event == 0 ? PK_PC_ADDED : PK_PC_REMOVED, value, r->contents,
                depth);
}

static int check_delay(pk_ctx *ctx, double d, const char *what) {
    if (!(d >= 0 && d <= PRODCONS_MAX_DELAY))
        return pk_ctx_fail(ctx, PK_EINVAL, "%s delay %g s is not in [0, %g] s", what, d,
                           PRODCONS_MAX_DELAY);
    return 0;
}

static int check_opts(pk_ctx *ctx, const pk_prodcons_opts *o, const pk_prodcons_result *result) {
    if (o == NULL || result == NULL)
        return pk_ctx_fail(ctx, PK_EINVAL, "pk_prodcons needs options and a result");
    if (o->producers < 1 || o->consumers < 1)
        return pk_ctx_fail(ctx, PK_EINVAL, "%d producers and %d consumers: need at least 1 each",
                           o->producers, o->consumers);
    if (o->producers > PK_PRODCONS_MAX_WORKERS - o->consumers)
        return pk_ctx_fail(ctx, PK_EINVAL, "%d producers + %d consumers exceed %d workers",
                           o->producers, o->consumers, PK_PRODCONS_MAX_WORKERS);
    if (o->capacity < 1)
        return pk_ctx_fail(ctx, PK_EINVAL, "channel capacity 0: need at least 1");
    if (o->items < 0)
        return pk_ctx_fail(ctx, PK_EINVAL, "negative item count %lld", (long long)o->items);
    if (o->batch > PK_PRODCONS_MAX_BATCH)
        return pk_ctx_fail(ctx, PK_EINVAL, "batch of %zu items exceeds %d", o->batch,
                           PK_PRODCONS_MAX_BATCH);
    if (o->trace != NULL && o->capacity > PRODCONS_MAX_TRACE_CAPACITY)
        return pk_ctx_fail(ctx, PK_EINVAL, "a trace needs a capacity of at most %d items",
                           PRODCONS_MAX_TRACE_CAPACITY);
    int rc = check_delay(ctx, o->produce_delay, "produce");
    return rc != 0 ? rc : check_delay(ctx, o->consume_delay, "consume");
}

static int combine_results(void *into, const void *from, void *arg) {
    (void)arg;
    pk_prodcons_result *a = into;
    const pk_prodcons_result *b = from;
    a->produced += b->produced;
    a->consumed += b->consumed;
    a->sum_produced += b->sum_produced;
    a->sum_consumed += b->sum_consumed;
    a->xor_produced ^= b->xor_produced;
    a->xor_consumed ^= b->xor_consumed;
    a->max_depth = a->max_depth > b->max_depth ? a->max_depth : b->max_depth;
    return 0;
}

/* Under MPI each worker's tally lives in its own rank: combined over ranks. */
static const pk_reducer results_reducer = {
    .type = {.size = sizeof(pk_prodcons_result)},
    .combine = combine_results,
};

static int open_channel(pk_ctx *ctx, pc_run *r) {
    const pk_prodcons_opts *o = r->o;
    pk_chan_opts co = {.elem_size = sizeof(int64_t),
                       .capacity = o->capacity,
                       .producers = o->producers,
                       .consumers = o->consumers,
                       .bind_roles = 1}; /* each worker keeps its thread */
    if (o->trace != NULL) {
        r->contents = malloc(o->capacity * sizeof *r->contents);
        if (r->contents == NULL)
            return pk_agree(
                ctx, pk_ctx_fail(ctx, PK_ENOMEM, "no memory to trace %zu items", o->capacity));
        co.observe = observe;
        co.observe_arg = r;
    }
    return pk_chan_open(ctx, &r->ch, &co);
}

static int run(pk_ctx *ctx, const pk_prodcons_opts *o, pk_prodcons_result *result) {
    int n = o->producers + o->consumers;
    pc_run r = {.o = o};
    r.tallies = calloc((size_t)n, sizeof *r.tallies);
    int rc = r.tallies == NULL ? pk_ctx_fail(ctx, PK_ENOMEM, "no memory for %d tallies", n) : 0;
    rc = pk_agree(ctx, rc);
    if (rc == 0)
        rc = open_channel(ctx, &r);
    int team_rc = rc == 0 ? pk_team(ctx, n, NULL, worker, &r) : rc;
    if (rc == 0) {
        /* also after a failed team: the counts up to the abort, summed over
         * ranks, with the team's error kept as the call's */
        for (int i = 0; i < n; i++)
            combine_results(result, &r.tallies[i], NULL);
        result->max_depth = pk_chan_max_depth(r.ch);
        int crc = pk_combine(ctx, &results_reducer, result, PK_ON_ALL);
        rc = team_rc != 0 ? team_rc : crc; /* a call that succeeds leaves the error */
    }
    pk_chan_free(r.ch);
    free(r.contents);
    free(r.tallies);
    return rc;
}

int pk_prodcons(pk_ctx *ctx, const pk_prodcons_opts *opts, pk_prodcons_result *result) {
    if (ctx == NULL)
        return PK_EINVAL;
    pk_kernel_begin(ctx, "prodcons");
    if (result != NULL)
        memset(result, 0, sizeof *result);
    int rc = pk_agree(ctx, check_opts(ctx, opts, result));
    if (rc == 0)
        rc = run(ctx, opts, result);
    pk_kernel_end(ctx);
    return rc;
}
