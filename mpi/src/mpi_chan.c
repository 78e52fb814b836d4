/* A bounded channel between ranks for pk_team roles: ranks 0..P-1 put, ranks
 * P..P+C-1 get. Flow control is by credit: the capacity K is split among the
 * consumers as slots; a producer with no credit asks every consumer for some,
 * a consumer grants free slots (a fair share at a time) and items are only sent
 * against granted credit, so at most K items are ever in the channel. Items go
 * in batches (as many as the credit and the call allow, one message); a
 * producer's close follows its last items, so a consumer that has seen every
 * close and emptied its queue is done. Every wait polls (MPI_Iprobe) with
 * back-off and checks the abort code, which a failing worker sends to every
 * role, so nobody stays blocked. At free, the ranks exchange how many messages
 * each sent to each, and receive whatever is still on the way. */
#define _GNU_SOURCE /* sched_yield */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi_impl.h"

enum { TAG_REQ = 1, TAG_GRANT, TAG_DATA, TAG_CLOSE, TAG_ABORT };

typedef struct mpi_chan {
    pk_chan base;
    MPI_Comm comm;
    int rank, nranks, P, C;
    size_t es;
    pthread_t owner; /* the thread that may call MPI */
    atomic_int abort_code;
    atomic_int abort_local; /* abort was called here: notices to send */
    int abort_sent;
    int64_t *sent, *recvd; /* messages to / from each rank */
    pk__reqs sends;
    /* producer */
    int64_t *credit;      /* per consumer */
    unsigned char *asked; /* a request is outstanding at that consumer */
    int closed;
    int next;
    /* consumer */
    size_t capacity; /* K, over all consumers */
    size_t slots, head, count, max_depth;
    char *ring, *stage;
    int64_t *granted, *received; /* per producer */
    unsigned char *pclosed, *waiting;
    int *queue; /* producers waiting for credit, FIFO */
    int qhead, qlen;
    int64_t outstanding; /* granted to open producers, not yet arrived */
    int nclosed;
} mpi_chan;

static size_t slots_of(size_t capacity, int consumers, int k) {
    return capacity / (size_t)consumers + ((size_t)k < capacity % (size_t)consumers ? 1 : 0);
}

static int is_producer(const mpi_chan *c) {
    return c->rank < c->P;
}

static int is_consumer(const mpi_chan *c) {
    return c->rank >= c->P && c->rank < c->P + c->C;
}

static int on_owner(const mpi_chan *c) {
    return pthread_equal(pthread_self(), c->owner);
}

/* ---- messages ---- */

/* Sends len bytes (copied) to rank dest. */
static int post(mpi_chan *c, int dest, int tag, const void *data, size_t len) {
    void *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return PK_ENOMEM;
    memcpy(copy, data, len);
    MPI_Request r;
    int m = MPI_Isend(copy, (int)len, MPI_BYTE, dest, tag, c->comm, &r);
    if (m != MPI_SUCCESS) {
        free(copy);
        return PK_EBACKEND;
    }
    c->sent[dest]++;
    return pk__reqs_add(&c->sends, r, copy) == MPI_SUCCESS ? 0 : PK_ENOMEM;
}

static int post_i64(mpi_chan *c, int dest, int tag, int64_t v) {
    return post(c, dest, tag, &v, sizeof v);
}

static void send_abort_notices(mpi_chan *c) {
    if (c->abort_sent || !atomic_load(&c->abort_local) || !on_owner(c))
        return;
    c->abort_sent = 1;
    int64_t code = atomic_load(&c->abort_code);
    for (int r = 0; r < c->P + c->C; r++)
        if (r != c->rank)
            post_i64(c, r, TAG_ABORT, code);
}

static void set_abort(mpi_chan *c, int code) {
    int expected = 0;
    atomic_compare_exchange_strong(&c->abort_code, &expected, code);
}

/* ---- consumer bookkeeping ---- */

static int64_t free_slots(const mpi_chan *c) {
    return (int64_t)c->slots - (int64_t)c->count - c->outstanding;
}

static void serve_requests(mpi_chan *c) {
    int64_t share = ((int64_t)c->slots + c->P - 1) / c->P;
    while (c->qlen > 0 && free_slots(c) > 0) {
        int p = c->queue[c->qhead];
        c->qhead = (c->qhead + 1) % c->P;
        c->qlen--;
        c->waiting[p] = 0;
        if (c->pclosed[p])
            continue;
        int64_t g = free_slots(c) < share ? free_slots(c) : share;
        c->granted[p] += g;
        c->outstanding += g;
        post_i64(c, p, TAG_GRANT, g);
    }
}

static void on_request(mpi_chan *c, int p) {
    if (!is_consumer(c) || p >= c->P || c->pclosed[p] || c->waiting[p])
        return;
    c->waiting[p] = 1;
    c->queue[(c->qhead + c->qlen) % c->P] = p;
    c->qlen++;
}

static void ring_in(mpi_chan *c, const char *src, size_t n) {
    size_t tail = (c->head + c->count) % c->slots;
    size_t first = n < c->slots - tail ? n : c->slots - tail;
    memcpy(c->ring + tail * c->es, src, first * c->es);
    memcpy(c->ring, src + first * c->es, (n - first) * c->es);
    c->count += n;
    if (c->count > c->max_depth)
        c->max_depth = c->count;
}

static void ring_out(mpi_chan *c, char *dst, size_t n) {
    size_t first = n < c->slots - c->head ? n : c->slots - c->head;
    memcpy(dst, c->ring + c->head * c->es, first * c->es);
    memcpy(dst + first * c->es, c->ring, (n - first) * c->es);
    c->head = (c->head + n) % c->slots;
    c->count -= n;
}

static void on_data(mpi_chan *c, int p, size_t bytes) {
    size_t n = bytes / c->es;
    if (!is_consumer(c) || p >= c->P || c->count + n > c->slots) {
        set_abort(c, PK_EBACKEND); /* items beyond the credit: a broken peer */
        return;
    }
    ring_in(c, c->stage, n);
    c->received[p] += (int64_t)n;
    c->outstanding -= (int64_t)n;
}

static void on_close(mpi_chan *c, int p) {
    if (!is_consumer(c) || p >= c->P || c->pclosed[p])
        return;
    c->pclosed[p] = 1;
    c->nclosed++;
    c->outstanding -= c->granted[p] - c->received[p]; /* credit it will never use */
}

/* ---- polling ---- */

static void dispatch(mpi_chan *c, int tag, int src, int64_t v, size_t bytes) {
    if (tag == TAG_REQ) {
        on_request(c, src);
    } else if (tag == TAG_GRANT && is_producer(c) && src >= c->P && src < c->P + c->C) {
        c->credit[src - c->P] += c->closed ? 0 : v;
        c->asked[src - c->P] = 0;
    } else if (tag == TAG_DATA) {
        on_data(c, src, bytes);
    } else if (tag == TAG_CLOSE) {
        on_close(c, src);
    } else if (tag == TAG_ABORT) {
        set_abort(c, v < 0 ? (int)v : PK_EABORTED);
    }
}

/* Receives the probed message and acts on it; an MPI code. */
static int handle(mpi_chan *c, const MPI_Status *s) {
    int bytes = 0, tag = s->MPI_TAG, src = s->MPI_SOURCE;
    MPI_Get_count(s, MPI_BYTE, &bytes);
    int64_t v = 0;
    void *into = tag == TAG_DATA ? (void *)c->stage : (void *)&v;
    size_t room = tag == TAG_DATA ? c->slots * c->es : sizeof v;
    char *spill = NULL;
    if (bytes < 0 || (size_t)bytes > room || into == NULL)
        into = spill = malloc(bytes > 0 ? (size_t)bytes : 1);
    int m = MPI_Recv(into, bytes, MPI_BYTE, src, tag, c->comm, MPI_STATUS_IGNORE);
    free(spill);
    if (m == MPI_SUCCESS)
        c->recvd[src]++;
    if (m != MPI_SUCCESS || spill != NULL) {
        set_abort(c, PK_EBACKEND); /* more than any credit allows: a broken peer */
        return m;
    }
    dispatch(c, tag, src, v, (size_t)bytes);
    return MPI_SUCCESS;
}

/* Takes in everything that has arrived and answers credit requests. */
static void progress(mpi_chan *c) {
    send_abort_notices(c);
    if (c->sends.n > 0 && pk__reqs_test(&c->sends) != MPI_SUCCESS)
        set_abort(c, PK_EBACKEND);
    for (;;) {
        int flag = 0;
        MPI_Status s;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &s) != MPI_SUCCESS) {
            set_abort(c, PK_EBACKEND);
            return;
        }
        if (!flag || handle(c, &s) != MPI_SUCCESS)
            break;
    }
    if (is_consumer(c))
        serve_requests(c);
}

/* Spin politely at first, then sleep longer and longer (up to half a
 * millisecond), so that idle ranks leave the cores to the busy ones. */
static void back_off(int *idle) {
    if (++*idle < 64) {
        sched_yield();
        return;
    }
    int k = *idle - 64 < 6 ? *idle - 64 : 6;
    struct timespec ts = {0, 8000L << k};
    nanosleep(&ts, NULL);
}

/* ---- operations ---- */

static int pick_credit(const mpi_chan *c) {
    for (int i = 0; i < c->C; i++) {
        int k = (c->next + i) % c->C;
        if (c->credit[k] > 0)
            return k;
    }
    return -1;
}

static void ask_for_credit(mpi_chan *c) {
    for (int k = 0; k < c->C; k++)
        if (!c->asked[k] && slots_of(c->capacity, c->C, k) > 0) {
            c->asked[k] = 1;
            post_i64(c, c->P + k, TAG_REQ, 0);
        }
}

/* The code a call returns before doing anything, or 0. */
static int check_role(const mpi_chan *c, int producer) {
    if (!on_owner(c))
        return PK_ENOTSUP; /* only the rank's MPI thread may use a channel between ranks */
    if (producer ? !is_producer(c) : !is_consumer(c))
        return PK_EINVAL;
    return 0;
}

/* Sends up to count items against credit at consumer k; returns how many. */
static size_t send_items(mpi_chan *c, int k, const char *src, size_t count) {
    size_t per_message = pk__mpi_max_message() / c->es;
    size_t n = count < (size_t)c->credit[k] ? count : (size_t)c->credit[k];
    n = n < per_message ? n : (per_message > 0 ? per_message : 1);
    if (post(c, c->P + k, TAG_DATA, src, n * c->es) != 0) {
        set_abort(c, PK_ENOMEM);
        return 0;
    }
    c->credit[k] -= (int64_t)n;
    c->next = (k + 1) % c->C;
    return n;
}

static int mc_put(pk_chan *ch, const void *items, size_t count, int block) {
    mpi_chan *c = (mpi_chan *)ch;
    int rc = check_role(c, 1), idle = 0;
    const char *src = items;
    while (rc == 0 && count > 0) {
        progress(c);
        rc = atomic_load(&c->abort_code);
        if (rc == 0 && c->closed)
            rc = PK_ECLOSED;
        if (rc != 0)
            break;
        int k = pick_credit(c);
        if (k >= 0) {
            size_t n = send_items(c, k, src, count);
            src += n * c->es;
            count -= n;
            idle = 0;
            continue;
        }
        ask_for_credit(c);
        if (!block)
            return PK_EAGAIN;
        back_off(&idle);
    }
    return rc;
}

static int mc_get(pk_chan *ch, void *items, size_t max, size_t *got, int block) {
    mpi_chan *c = (mpi_chan *)ch;
    int rc = check_role(c, 0), idle = 0;
    *got = 0;
    while (rc == 0) {
        progress(c);
        if ((rc = atomic_load(&c->abort_code)) != 0)
            break;
        if (c->count > 0) {
            size_t n = max < c->count ? max : c->count;
            ring_out(c, items, n);
            *got = n;
            serve_requests(c); /* the slots just freed */
            return 0;
        }
        if (c->nclosed == c->P)
            return PK_ECLOSED;
        if (!block)
            return PK_EAGAIN;
        back_off(&idle);
    }
    return rc;
}

static int mc_close(pk_chan *ch) {
    mpi_chan *c = (mpi_chan *)ch;
    int rc = check_role(c, 1);
    if (rc != 0)
        return rc;
    if (c->closed)
        return PK_ECLOSED;
    c->closed = 1;
    for (int k = 0; k < c->C; k++) {
        c->credit[k] = 0;
        post_i64(c, c->P + k, TAG_CLOSE, 0);
    }
    progress(c);
    return 0;
}

/* From any thread: the code is set at once; the notices to the other ranks go
 * out now on the MPI thread, else at that thread's next channel call or run. */
static int mc_abort(pk_chan *ch, int code) {
    mpi_chan *c = (mpi_chan *)ch;
    set_abort(c, code);
    atomic_store(&c->abort_local, 1);
    send_abort_notices(c);
    return 0;
}

static size_t mc_max_depth(const pk_chan *ch) {
    return ((const mpi_chan *)ch)->max_depth;
}

static size_t mc_peek(const pk_chan *ch, void *items, size_t max) {
    (void)ch;
    (void)items;
    (void)max;
    return 0;
}

static void free_memory(mpi_chan *c) {
    pk__reqs_free(&c->sends);
    free(c->sent);
    free(c->recvd);
    free(c->credit);
    free(c->asked);
    free(c->ring);
    free(c->stage);
    free(c->granted);
    free(c->received);
    free(c->pclosed);
    free(c->waiting);
    free(c->queue);
    free(c);
}

/* Receives, and drops, what the others sent that nobody took in yet. */
static void drain(mpi_chan *c) {
    int64_t *expect = malloc((size_t)c->nranks * sizeof *expect);
    if (expect == NULL ||
        MPI_Alltoall(c->sent, 1, MPI_INT64_T, expect, 1, MPI_INT64_T, c->comm) != MPI_SUCCESS) {
        free(expect);
        return;
    }
    for (int r = 0; r < c->nranks; r++)
        while (c->recvd[r] < expect[r]) {
            MPI_Status s;
            if (MPI_Probe(r, MPI_ANY_TAG, c->comm, &s) != MPI_SUCCESS ||
                handle(c, &s) != MPI_SUCCESS)
                break;
        }
    free(expect);
}

static void mc_free(pk_chan *ch) {
    mpi_chan *c = (mpi_chan *)ch;
    send_abort_notices(c);
    drain(c);
    pk__reqs_waitall(&c->sends);
    MPI_Comm_free(&c->comm);
    free_memory(c);
}

static const pk__chan_ops mpi_chan_ops = {
    .put = mc_put,
    .get = mc_get,
    .close = mc_close,
    .abort_with = mc_abort,
    .max_depth = mc_max_depth,
    .peek = mc_peek,
    .free = mc_free,
};

void pk__mpi_chans_flush(pk_ctx *ctx) {
    for (int i = 0; i < ctx->nchans; i++)
        if (ctx->chans[i]->ops == &mpi_chan_ops)
            send_abort_notices((mpi_chan *)ctx->chans[i]);
}

static int alloc_roles(mpi_chan *c) {
    size_t p = (size_t)c->P, n = (size_t)c->nranks, k = (size_t)c->C;
    c->sent = calloc(n, sizeof *c->sent);
    c->recvd = calloc(n, sizeof *c->recvd);
    c->credit = calloc(k, sizeof *c->credit);
    c->asked = calloc(k, 1);
    c->granted = calloc(p, sizeof *c->granted);
    c->received = calloc(p, sizeof *c->received);
    c->pclosed = calloc(p, 1);
    c->waiting = calloc(p, 1);
    c->queue = calloc(p, sizeof *c->queue);
    if (is_consumer(c) && c->slots > 0) {
        c->ring = malloc(c->slots * c->es);
        c->stage = malloc(c->slots * c->es);
    }
    return c->sent && c->recvd && c->credit && c->asked && c->granted && c->received &&
                   c->pclosed && c->waiting && c->queue &&
                   (!is_consumer(c) || c->slots == 0 || (c->ring && c->stage))
               ? 0
               : PK_ENOMEM;
}

int pk__mpi_chan_open(pk_ctx *ctx, pk_chan **out, const pk_chan_opts *o) {
    pk__mpi_state *st = ctx->impl;
    if (o->observe != NULL)
        return pk__set_error(ctx, PK_ENOTSUP, "channel observers need threads, not ranks");
    if (o->producers > ctx->nranks - o->consumers)
        return pk__set_error(ctx, PK_EINVAL,
                             "a channel between %d producers and %d consumers needs %d ranks; "
                             "this pool has %d",
                             o->producers, o->consumers, o->producers + o->consumers, ctx->nranks);
    mpi_chan *c = calloc(1, sizeof *c);
    int rc = c ? 0 : PK_ENOMEM;
    if (c != NULL) {
        c->rank = ctx->rank;
        c->nranks = ctx->nranks;
        c->P = o->producers;
        c->C = o->consumers;
        c->es = o->elem_size;
        c->capacity = o->capacity;
        c->slots = is_consumer(c) ? slots_of(o->capacity, c->C, c->rank - c->P) : 0;
        c->owner = pthread_self();
        atomic_init(&c->abort_code, 0);
        atomic_init(&c->abort_local, 0);
        rc = alloc_roles(c);
    }
    if (rc != 0)
        pk__set_error(ctx, rc, "no memory for a channel");
    rc = pk__mpi_agree(ctx, rc); /* no rank goes on to the collective dup alone */
    int m = rc == 0 ? MPI_Comm_dup(st->comm, &c->comm) : MPI_SUCCESS;
    if (m != MPI_SUCCESS)
        rc = pk__mpi_err(ctx, m, "MPI_Comm_dup (channel)");
    if (rc != 0) {
        if (c != NULL)
            free_memory(c);
        return rc;
    }
    c->base.ops = &mpi_chan_ops;
    *out = &c->base;
    return 0;
}
