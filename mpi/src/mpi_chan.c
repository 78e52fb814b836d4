/* A bounded channel between ranks for pk_team roles: the putters and the
 * getters are ranks named by the channel's lists (by default ranks 0..P-1 put
 * and P..P+C-1 get), and a rank may be both. Flow control is by credit: the
 * capacity K is split among the getters as slots; a putter with no credit asks
 * every getter for some, a getter grants free slots (a fair share at a time)
 * and items are only sent against granted credit, so at most K items are ever
 * in the channel. Items go in batches (as many as the credit and the call
 * allow, one message); a putter's close follows its last items, so a getter
 * that has seen every close and emptied its queue is done.
 *
 * Both roles on one rank. Messages go through MPI even from a rank to itself,
 * and every message is handled whatever call the rank is in: a rank waiting to
 * put takes in items and grants room as a getter, and a rank waiting to get
 * takes in grants. A waiting rank serves every channel of its context, not
 * only the one it waits on, so stages that put to each other (a ring, a
 * pipeline with worker 0 at both ends) keep moving; and it gives back the
 * credit it holds anywhere but on the channel it is putting into, so room it
 * reserved and will not fill while it waits is free for the others. Every wait
 * polls (MPI_Iprobe) with back-off and checks the abort code, which a failing
 * worker sends to every rank with a role, so nobody stays blocked. At free,
 * the ranks exchange how many messages each sent to each, and receive whatever
 * is still on the way. */
#define _GNU_SOURCE /* sched_yield */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi_impl.h"

enum { TAG_REQ = 1, TAG_GRANT, TAG_DATA, TAG_CLOSE, TAG_ABORT, TAG_RETURN };

/* Coalescing: a putter's buffer per getter holds up to COAL_BYTES (and at most
 * a quarter of that getter's room, so the getter works on one part while the
 * next is on the way). A call polls for messages once in POLL_EVERY when it
 * need not wait; a put looks at the clock once in AGE_EVERY. */
enum { COAL_BYTES = 4096, POLL_EVERY = 64, AGE_EVERY = 16 };
/* Items kept longer than this go out at the putter's next put. */
#define HELD_AGE 50e-6

typedef struct mpi_chan {
    pk_chan base;
    MPI_Comm comm;
    int rank, nranks, P, C;
    int *put_of, *get_of;           /* per rank: its putter / getter index, or -1 */
    int *putter_rank, *getter_rank; /* per putter / getter index: its rank */
    size_t es;
    pthread_t owner; /* the thread that may call MPI */
    atomic_int abort_code;
    atomic_int abort_local; /* abort was called here: notices to send */
    int abort_sent;
    int64_t *sent, *recvd; /* messages to / from each rank */
    pk__reqs sends;
    /* putter */
    int64_t *credit;      /* per getter */
    unsigned char *asked; /* a request is outstanding at that getter */
    int closed;
    int next;
    /* putter: items put, already paid for with credit, not yet sent (one
     * buffer of coal_cap items per getter), and since when */
    char *coal;
    size_t *ncoal, coal_cap, nheld;
    double held_since;
    unsigned puts; /* calls since the last poll */
    /* getter */
    size_t capacity; /* K, over all getters */
    size_t slots, head, count, max_depth;
    char *ring, *stage;
    int64_t *granted, *received; /* per putter */
    unsigned char *pclosed, *waiting;
    int *queue; /* putters waiting for credit, FIFO */
    int qhead, qlen;
    int64_t outstanding; /* granted to open putters, not yet arrived */
    int nclosed;
    unsigned gets;    /* calls since the last poll */
    size_t grant_min; /* room worth a grant between polls */
} mpi_chan;

static const pk__chan_ops mpi_chan_ops;

static size_t slots_of(size_t capacity, int consumers, int k) {
    return capacity / (size_t)consumers + ((size_t)k < capacity % (size_t)consumers ? 1 : 0);
}

static int is_producer(const mpi_chan *c) {
    return c->put_of[c->rank] >= 0;
}

static int is_consumer(const mpi_chan *c) {
    return c->get_of[c->rank] >= 0;
}

/* The putter (getter) index of the rank a message came from, or -1. */
static int putter_at(const mpi_chan *c, int rank) {
    return rank >= 0 && rank < c->nranks ? c->put_of[rank] : -1;
}

static int getter_at(const mpi_chan *c, int rank) {
    return rank >= 0 && rank < c->nranks ? c->get_of[rank] : -1;
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
    int taken = pk__mpi_serial_begin();
    int m = MPI_Isend(copy, (int)len, MPI_BYTE, dest, tag, c->comm, &r);
    pk__mpi_serial_end(taken);
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
    for (int r = 0; r < c->nranks; r++)
        if (r != c->rank && (c->put_of[r] >= 0 || c->get_of[r] >= 0))
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
        post_i64(c, c->putter_rank[p], TAG_GRANT, g);
    }
}

static void on_request(mpi_chan *c, int p) {
    if (!is_consumer(c) || p < 0 || c->pclosed[p] || c->waiting[p])
        return;
    c->waiting[p] = 1;
    c->queue[(c->qhead + c->qlen) % c->P] = p;
    c->qlen++;
}

static void ring_in(mpi_chan *c, const char *src, size_t n) {
    size_t tail = c->head + c->count;
    tail = tail < c->slots ? tail : tail - c->slots;
    size_t first = n < c->slots - tail ? n : c->slots - tail;
    memcpy(c->ring + tail * c->es, src, first * c->es);
    memcpy(c->ring, src + first * c->es, (n - first) * c->es);
    c->count += n;
    if (c->count > c->max_depth)
        c->max_depth = c->count;
}

static void ring_out(mpi_chan *c, char *dst, size_t n) {
    size_t first = n < c->slots - c->head ? n : c->slots - c->head;
    if (n == 1 && c->es == sizeof(int64_t)) {
        memcpy(dst, c->ring + c->head * sizeof(int64_t), sizeof(int64_t)); /* the common case */
    } else {
        memcpy(dst, c->ring + c->head * c->es, first * c->es);
        memcpy(dst + first * c->es, c->ring, (n - first) * c->es);
    }
    c->head += n;
    c->head = c->head < c->slots ? c->head : c->head - c->slots;
    c->count -= n;
}

static void on_data(mpi_chan *c, int p, size_t bytes) {
    size_t n = bytes / c->es;
    if (!is_consumer(c) || p < 0 || c->count + n > c->slots) {
        set_abort(c, PK_EBACKEND); /* items beyond the credit: a broken peer */
        return;
    }
    ring_in(c, c->stage, n);
    c->received[p] += (int64_t)n;
    c->outstanding -= (int64_t)n;
}

static void on_close(mpi_chan *c, int p) {
    if (!is_consumer(c) || p < 0 || c->pclosed[p])
        return;
    c->pclosed[p] = 1;
    c->nclosed++;
    c->outstanding -= c->granted[p] - c->received[p]; /* credit it will never use */
}

/* Putter p gives back v credit it will not use now: the slots are free again. */
static void on_return(mpi_chan *c, int p, int64_t v) {
    if (!is_consumer(c) || p < 0 || c->pclosed[p] || v < 0 || v > c->granted[p])
        return;
    c->granted[p] -= v;
    c->outstanding -= v;
}

/* ---- putter bookkeeping ---- */

static void on_grant(mpi_chan *c, int k, int64_t v) {
    if (!is_producer(c) || k < 0)
        return;
    c->credit[k] += c->closed ? 0 : v;
    c->asked[k] = 0;
}

/* ---- coalescing ---- */

/* Sends what the buffer of getter k holds as one message. */
static void flush_to(mpi_chan *c, int k) {
    size_t n = c->ncoal[k];
    if (n == 0)
        return;
    c->ncoal[k] = 0;
    c->nheld -= n;
    const char *buf = c->coal + (size_t)k * c->coal_cap * c->es;
    if (post(c, c->getter_rank[k], TAG_DATA, buf, n * c->es) != 0)
        set_abort(c, PK_ENOMEM);
    c->next = (k + 1) % c->C;
}

/* Sends every item this putter keeps: it is about to wait, close or end. */
static void flush_held(mpi_chan *c) {
    for (int k = 0; c->nheld > 0 && k < c->C; k++)
        flush_to(c, k);
}

/* Gives back every credit held: this rank is about to wait elsewhere. The
 * items it keeps, already paid for, go out first. */
static void give_back_credit(mpi_chan *c) {
    if (!is_producer(c) || c->closed)
        return;
    flush_held(c);
    for (int k = 0; k < c->C; k++)
        if (c->credit[k] > 0) {
            post_i64(c, c->getter_rank[k], TAG_RETURN, c->credit[k]);
            c->credit[k] = 0;
        }
}

/* ---- polling ---- */

static void dispatch(mpi_chan *c, int tag, int src, int64_t v, size_t bytes) {
    if (tag == TAG_REQ) {
        on_request(c, putter_at(c, src));
    } else if (tag == TAG_GRANT) {
        on_grant(c, getter_at(c, src), v);
    } else if (tag == TAG_DATA) {
        on_data(c, putter_at(c, src), bytes);
    } else if (tag == TAG_CLOSE) {
        on_close(c, putter_at(c, src));
    } else if (tag == TAG_RETURN) {
        on_return(c, putter_at(c, src), v);
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
    int taken = pk__mpi_serial_begin();
    int m = MPI_Recv(into, bytes, MPI_BYTE, src, tag, c->comm, MPI_STATUS_IGNORE);
    pk__mpi_serial_end(taken);
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
    int taken = pk__mpi_serial_begin();
    int m = c->sends.n > 0 ? pk__reqs_test(&c->sends) : MPI_SUCCESS;
    pk__mpi_serial_end(taken);
    if (m != MPI_SUCCESS)
        set_abort(c, PK_EBACKEND);
    for (;;) {
        int flag = 0;
        MPI_Status s;
        taken = pk__mpi_serial_begin();
        m = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &s);
        pk__mpi_serial_end(taken);
        if (m != MPI_SUCCESS) {
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

/* The getter to send to: the current one while it has credit (its buffer is
 * filling), else the next with credit. */
static int pick_credit(const mpi_chan *c) {
    int k = c->next;
    for (int i = 0; i < c->C; i++, k = k + 1 < c->C ? k + 1 : 0)
        if (c->credit[k] > 0)
            return k;
    return -1;
}

static void ask_for_credit(mpi_chan *c) {
    for (int k = 0; k < c->C; k++)
        if (!c->asked[k] && slots_of(c->capacity, c->C, k) > 0) {
            c->asked[k] = 1;
            post_i64(c, c->getter_rank[k], TAG_REQ, 0);
        }
}

/* The code a call returns before doing anything, or 0; a refusal is named in
 * the context's error. Team worker w is rank w. */
static int check_role(mpi_chan *c, int producer) {
    if (!on_owner(c))
        return pk__chan_refuse(&c->base, PK_ENOTSUP,
                               "only the thread that runs MPI on rank %d may use a channel "
                               "between ranks",
                               c->rank);
    if (producer ? !is_producer(c) : !is_consumer(c))
        return pk__chan_refuse(&c->base, PK_EINVAL, "worker %d is not a %s of this channel",
                               c->rank, producer ? "putter" : "getter");
    return 0;
}

/* One round of waiting in a call on c (putting: a put on c). The other
 * channels of the context are served as well, so that peers waiting on this
 * rank in them go on; every credit this rank holds, except on the channel it
 * is putting into, goes back to its getter; then a pause. */
static void wait_round(mpi_chan *c, int putting, int *idle) {
    pk_ctx *ctx = c->base.ctx;
    if (!putting)
        give_back_credit(c);
    for (int i = 0; ctx != NULL && i < ctx->nchans; i++) {
        mpi_chan *o = (mpi_chan *)ctx->chans[i];
        if (ctx->chans[i]->ops != &mpi_chan_ops || o == c || !on_owner(o))
            continue;
        progress(o);
        give_back_credit(o);
    }
    back_off(idle);
}

/* Sends up to count items against credit at consumer k; returns how many. */
static size_t send_items(mpi_chan *c, int k, const char *src, size_t count) {
    size_t per_message = pk__mpi_max_message() / c->es;
    size_t n = count < (size_t)c->credit[k] ? count : (size_t)c->credit[k];
    n = n < per_message ? n : (per_message > 0 ? per_message : 1);
    if (post(c, c->getter_rank[k], TAG_DATA, src, n * c->es) != 0) {
        set_abort(c, PK_ENOMEM);
        return 0;
    }
    c->credit[k] -= (int64_t)n;
    c->next = (k + 1) % c->C;
    return n;
}

/* Asks getter k for more room before its credit runs out, so that the grant
 * is on the way while the putter goes on. */
static void ask_early(mpi_chan *c, int k) {
    if (!c->asked[k] && c->credit[k] < (int64_t)c->coal_cap) {
        c->asked[k] = 1;
        post_i64(c, c->getter_rank[k], TAG_REQ, 0);
    }
}

/* Takes up to count items against credit at getter k: into its buffer, which
 * goes out when full or when that credit is spent, or straight into a message
 * when the buffer is empty and they would fill it. Returns how many. */
static size_t stash(mpi_chan *c, int k, const char *src, size_t count) {
    size_t n = count < (size_t)c->credit[k] ? count : (size_t)c->credit[k];
    if (c->ncoal[k] == 0 && n >= c->coal_cap) {
        n = send_items(c, k, src, count);
        ask_early(c, k);
        return n;
    }
    size_t room = c->coal_cap - c->ncoal[k];
    n = n < room ? n : room;
    if (c->nheld == 0)
        c->held_since = pk_time_now();
    char *at = c->coal + ((size_t)k * c->coal_cap + c->ncoal[k]) * c->es;
    if (n == 1 && c->es == sizeof(int64_t))
        memcpy(at, src, sizeof(int64_t)); /* the common case, one move */
    else
        memcpy(at, src, n * c->es);
    c->ncoal[k] += n;
    c->nheld += n;
    c->credit[k] -= (int64_t)n;
    if (c->ncoal[k] == c->coal_cap || c->credit[k] == 0)
        flush_to(c, k);
    ask_early(c, k);
    return n;
}

/* Polls once in POLL_EVERY calls, and whenever the putter has no credit. */
static int mc_put(pk_chan *ch, const void *items, size_t count, int block) {
    mpi_chan *c = (mpi_chan *)ch;
    int rc = check_role(c, 1), idle = 0, poll = ++c->puts % POLL_EVERY == 0;
    const char *src = items;
    while (rc == 0 && count > 0) {
        int k = pick_credit(c);
        if (k < 0 || poll) {
            progress(c);
            poll = 0;
            k = pick_credit(c);
        }
        rc = atomic_load_explicit(&c->abort_code, memory_order_relaxed);
        if (rc == 0 && c->closed)
            rc = PK_ECLOSED;
        if (rc != 0)
            break;
        if (k >= 0) {
            size_t n = stash(c, k, src, count);
            src += n * c->es;
            count -= n;
            idle = 0;
            continue;
        }
        flush_held(c);
        ask_for_credit(c);
        if (!block)
            return PK_EAGAIN;
        wait_round(c, 1, &idle);
    }
    if (c->nheld > 0 && c->puts % AGE_EVERY == 0 && pk_time_now() - c->held_since > HELD_AGE)
        flush_held(c);
    return rc;
}

/* Takes up to max items from the ring. */
static void take(mpi_chan *c, void *items, size_t max, size_t *got) {
    size_t n = max < c->count ? max : c->count;
    ring_out(c, items, n);
    *got = n;
}

/* With items at hand, polls once in POLL_EVERY calls, and grants room between
 * polls only when enough is free to be worth a message. */
static int mc_get(pk_chan *ch, void *items, size_t max, size_t *got, int block) {
    mpi_chan *c = (mpi_chan *)ch;
    int rc = check_role(c, 0), idle = 0;
    *got = 0;
    if (rc == 0 && c->count > 0 && ++c->gets % POLL_EVERY != 0 &&
        atomic_load_explicit(&c->abort_code, memory_order_relaxed) == 0) {
        take(c, items, max, got);
        if (c->qlen > 0 && free_slots(c) >= (int64_t)c->grant_min)
            serve_requests(c);
        return 0;
    }
    while (rc == 0) {
        progress(c);
        if ((rc = atomic_load(&c->abort_code)) != 0)
            break;
        if (c->count > 0) {
            take(c, items, max, got);
            serve_requests(c); /* the slots just freed */
            return 0;
        }
        if (c->nclosed == c->P)
            return PK_ECLOSED;
        if (!block)
            return PK_EAGAIN;
        wait_round(c, 0, &idle);
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
    flush_held(c); /* the items before the close */
    c->closed = 1;
    for (int k = 0; k < c->C; k++) {
        c->credit[k] = 0;
        post_i64(c, c->getter_rank[k], TAG_CLOSE, 0);
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
    free(c->coal);
    free(c->ncoal);
    free(c->ring);
    free(c->stage);
    free(c->granted);
    free(c->received);
    free(c->pclosed);
    free(c->waiting);
    free(c->queue);
    free(c->put_of);
    free(c->get_of);
    free(c->putter_rank);
    free(c->getter_rank);
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
    if (on_owner(c))
        flush_held(c);
    send_abort_notices(c);
    drain(c);
    pk__reqs_waitall(&c->sends);
    MPI_Comm_free(&c->comm);
    free_memory(c);
}

/* Before the rank waits outside the channels (a sharing primitive). */
static void mc_flush(pk_chan *ch) {
    mpi_chan *c = (mpi_chan *)ch;
    if (c->nheld > 0 && on_owner(c) && atomic_load(&c->abort_code) == 0)
        flush_held(c);
}

static const pk__chan_ops mpi_chan_ops = {
    .put = mc_put,
    .get = mc_get,
    .close = mc_close,
    .abort_with = mc_abort,
    .max_depth = mc_max_depth,
    .peek = mc_peek,
    .free = mc_free,
    .flush = mc_flush,
};

/* At the end of a pool call or a team: the abort notices, and the items kept
 * by a putter that did not close. */
void pk__mpi_chans_flush(pk_ctx *ctx) {
    for (int i = 0; i < ctx->nchans; i++) {
        if (ctx->chans[i]->ops != &mpi_chan_ops)
            continue;
        mc_flush(ctx->chans[i]);
        send_abort_notices((mpi_chan *)ctx->chans[i]);
    }
}

/* Who is who: the lists of the options, or the default ids. */
static int alloc_ranks(mpi_chan *c, const pk_chan_opts *o) {
    size_t n = (size_t)c->nranks;
    c->put_of = malloc(n * sizeof *c->put_of);
    c->get_of = malloc(n * sizeof *c->get_of);
    c->putter_rank = malloc((size_t)c->P * sizeof *c->putter_rank);
    c->getter_rank = malloc((size_t)c->C * sizeof *c->getter_rank);
    if (!c->put_of || !c->get_of || !c->putter_rank || !c->getter_rank)
        return PK_ENOMEM;
    for (int r = 0; r < c->nranks; r++)
        c->put_of[r] = c->get_of[r] = -1;
    for (int p = 0; p < c->P; p++) {
        c->putter_rank[p] = o->putters != NULL ? o->putters[p] : p;
        c->put_of[c->putter_rank[p]] = p;
    }
    for (int k = 0; k < c->C; k++) {
        c->getter_rank[k] = o->getters != NULL ? o->getters[k] : c->P + k;
        c->get_of[c->getter_rank[k]] = k;
    }
    return 0;
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
    if (is_producer(c)) {
        c->coal = malloc(k * c->coal_cap * c->es);
        c->ncoal = calloc(k, sizeof *c->ncoal);
        if (!c->coal || !c->ncoal)
            return PK_ENOMEM;
    }
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

/* The channel's state on this rank; the roles were checked by pk_chan_open. */
static int chan_new(pk_ctx *ctx, const pk_chan_opts *o, mpi_chan **out) {
    mpi_chan *c = calloc(1, sizeof *c);
    *out = c;
    if (c == NULL)
        return PK_ENOMEM;
    c->rank = ctx->rank;
    c->nranks = ctx->nranks;
    c->P = o->producers;
    c->C = o->consumers;
    c->es = o->elem_size;
    c->capacity = o->capacity;
    c->owner = pthread_self();
    atomic_init(&c->abort_code, 0);
    atomic_init(&c->abort_local, 0);
    int rc = alloc_ranks(c, o);
    if (rc != 0)
        return rc;
    c->slots = is_consumer(c) ? slots_of(o->capacity, c->C, c->get_of[c->rank]) : 0;
    c->grant_min = c->slots / 4 > 0 ? c->slots / 4 : 1;
    size_t quarter = o->capacity / (size_t)c->C / 4, fit = COAL_BYTES / c->es;
    c->coal_cap = quarter < fit ? quarter : fit;
    c->coal_cap = c->coal_cap > 0 ? c->coal_cap : 1;
    return alloc_roles(c);
}

int pk__mpi_chan_open(pk_ctx *ctx, pk_chan **out, const pk_chan_opts *o) {
    pk__mpi_state *st = ctx->impl;
    if (o->observe != NULL)
        return pk__set_error(ctx, PK_ENOTSUP, "channel observers need threads, not ranks");
    mpi_chan *c = NULL;
    int rc = chan_new(ctx, o, &c);
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
