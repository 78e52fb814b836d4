/* The executor (parkit/exec.h): asynchronous tasks with futures, written once
 * for every backend.
 *
 * In each process: a queue of tasks under one mutex, served by the rank's
 * worker threads (pthreads: threads 1..n-1; on ranks other than 0 the main
 * thread serves too, between its message polls). Rank 0's main thread is the
 * submitter; it never runs tasks while other workers exist, except a task
 * pinned to it (an injected fault naming rank 0, thread 0).
 *
 * The submitter keeps every top-level task it has not handed out yet in a
 * pending list, and hands tasks out inside its executor calls (pump): to its
 * own queue while that holds fewer than `prefetch` tasks per local worker, and
 * to other ranks (through the backend's message slots) while each holds fewer
 * than `prefetch` per worker there. Tasks go to a rank in one message per pump;
 * results come back in batches. Tasks submitted from tasks stay on their rank,
 * in its queue, and a task that waits on one not yet started runs it inline.
 *
 * With one process, a submission does not take the mutex: the submitter puts
 * the task in a ring slot that only it writes (the workers take from its head
 * with a compare-and-swap, in submission order, straight to run) and takes
 * the mutex only to wake a sleeping worker, or to double the ring when it is
 * full (from RING slots up to RING_MAX; then the ring moves to the queue).
 * While nothing waits in the queue, workers run ring tasks without the mutex
 * and leave their outcomes in per-thread done queues, which whoever holds the
 * mutex next delivers into the futures (harvest). Futures the submitter frees
 * are kept for its next submissions.
 *
 * Messages (ranks only): TASKS and STOP/CANCEL from rank 0, RESULTS and HELLO
 * to it. A rank other than 0 leaves when it has seen STOP and its queue (nested
 * tasks included) is empty and nothing runs. */
#define _GNU_SOURCE /* sched_yield */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_internal.h"
#include "parkit/exec.h"

enum { NAME_MAX_LEN = 63, MAX_TASKS = 256, SPIN = 256, RING = 1 << 12, RING_MAX = 1 << 20 };
#define BATCH_HOLD 100e-6 /* seconds a rank's results may wait for more */
#define HOLD_TASK 20e-6   /* ...while its last task took less than this */
#define RUN_ON 50e-6      /* a serving main thread runs short tasks this long between polls */
/* One process whose threads each have a core: an idle worker, or the
 * submitter waiting on a future, watches this long before sleeping. A wake-up
 * costs a system call on each side, and on a virtual machine the sleeper's
 * core may take tens of microseconds to come back: a worker that slept each
 * time the submitter fell a few microseconds behind made a burst of empty
 * tasks 2 to 3 times slower. Otherwise (threads outnumber cores, or ranks)
 * the watch is SPIN pauses. */
#define SPIN_LONG 50e-6
#define SPIN_FLOOR 2e-6 /* the least it adapts down to (see watch) */

/* Clears 64 bytes: a constant memset this short is inlined as vector stores
 * (a longer one becomes a `rep stos`, which takes long to start). */
static inline void zero_line(void *p) {
    memset(p, 0, 64);
}

enum { TAG_HELLO = 1, TAG_TASKS, TAG_RESULTS, TAG_STOP, TAG_CANCEL };
enum { F_PENDING = 0, F_QUEUED, F_RUNNING, F_REMOTE, F_DONE, F_FREE /* in a cache */ };

#define NESTED_BASE(rank) ((int64_t)((rank) + 1) << 40)

/* ---- the registry ---- */

typedef struct reg_entry {
    char name[NAME_MAX_LEN + 1];
    pk_exec_fn fn;
} reg_entry;

static reg_entry registry[MAX_TASKS];
static int nregistry;

int pk_exec_register(const char *name, pk_exec_fn fn) {
    if (name == NULL || fn == NULL || name[0] == '\0' || strlen(name) > NAME_MAX_LEN)
        return PK_EINVAL;
    for (int i = 0; i < nregistry; i++) {
        if (strcmp(registry[i].name, name) == 0) {
            registry[i].fn = fn;
            return 0;
        }
    }
    if (nregistry == MAX_TASKS)
        return PK_ENOMEM;
    snprintf(registry[nregistry].name, sizeof registry[nregistry].name, "%s", name);
    registry[nregistry].fn = fn;
    nregistry++;
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const reg_entry *)a)->name, ((const reg_entry *)b)->name);
}

/* ---- byte buffers for messages ---- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_put(buf *b, const void *data, size_t len) {
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return PK_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

typedef struct rd {
    const char *p;
    size_t left;
} rd;

static int rd_get(rd *r, void *out, size_t len) {
    if (r->left < len)
        return PK_EBACKEND;
    memcpy(out, r->p, len);
    r->p += len;
    r->left -= len;
    return 0;
}

/* ---- tasks, futures, the per-process state ---- */

/* What a worker reads of every task fills the first 64 bytes. */
typedef struct task {
    struct task *next;
    struct pk_future *fut; /* NULL: a task of rank 0's, whose result goes back */
    char *arg;
    size_t len;
    int64_t num;     /* task number */
    int fn;          /* index in the executor's sorted registry */
    int pin;         /* the thread that must run it, -1 any */
    int count;       /* arguments: 1, or a map chunk's */
    int chunk;       /* a map chunk: results packed per argument */
    int embedded;    /* lives inside its future (freed with it) */
    size_t arg_size; /* chunk: each argument's size (set, and read, only then) */
    char small[24];  /* a short argument, held here */
} task;

/* The argument's storage: the task's own bytes when short. */
static char *arg_room(task *t, size_t len) {
    return len <= sizeof t->small ? t->small : malloc(len);
}

/* Frees the task's argument, and the task unless its future holds it: after
 * this, an embedded task is touched only through its future. */
static void arg_free(task *t) {
    if (t->arg != t->small && t->arg != NULL)
        free(t->arg);
    t->arg = NULL;
}

static void task_free(task *t) {
    if (t == NULL)
        return;
    arg_free(t);
    if (!t->embedded)
        free(t);
}

typedef struct xstate xstate;
typedef struct slab slab;

/* One line, what the submitter and the worker that ran its task (or whoever
 * delivered its outcome) touch; the rest of a future is apart, in its
 * fut_more (see more()), so that a slab's futures lie one line after the
 * other. Futures are 64-byte aligned. */
struct pk_future {
    xstate *x;
    _Atomic int state; /* F_*: written under x->mu, F_DONE read unlocked */
    _Atomic int refs;  /* the owner's, and the task's while it is out */
    int rc;
    char nested; /* made by a task (pk_call_submit) */
    char cb_set; /* callbacks set */
    char cb_queued;
    char user_freed;
    int64_t num;
    task *t;            /* while in a queue or the pending list */
    pk_error_info *err; /* set with a failure: its details (kept small otherwise) */
    char *data;
    size_t len;
};

/* The rest of a future: its task, whose first 64 bytes are what a worker
 * reads (a plain task of one process is not written here: see rslot), then
 * what only the submitter uses. */
typedef struct fut_more {
    task own;                    /* its task, while it runs on this process */
    struct pk_future *pend_next; /* the pending list, or the `returned` stack */
    /* set with cb_set, queued with cb_queued: a future without callbacks
     * never touches these */
    pk_future_fn on_done, on_error;
    void *cb_arg;
    struct pk_future *cb_next;
} fut_more;

/* What one run gives back: rc, origin, message, data. */
typedef struct outcome {
    int rc, rank, thread;
    int64_t num;
    char *msg;
    buf data;
} outcome;

/* The submitter's ring of tasks: slots only it writes, at the tail; workers
 * take from the head with a compare-and-swap, with or without x->mu. A ring
 * outgrown stays (linked from its successor) until the executor closes: a
 * worker may still be reading it. */
typedef struct rslot {
    /* a plain task as submitted (fn >= 0): its future, argument (short ones
     * in the future's task), number and function, so that neither side
     * touches the future's task line; fn < 0: the task is f->own, whole
     * (a map chunk). Atomic fields: a worker whose take fails may read a
     * slot the submitter is reusing (and then drops what it read). */
    _Atomic(pk_future *) f;
    _Atomic(char *) arg;
    _Atomic int64_t num;
    _Atomic int32_t fn;
    _Atomic uint32_t len;
} rslot;

/* What a worker read of a slot: f NULL when the ring was empty. */
typedef struct rtask {
    pk_future *f;
    char *arg;
    int64_t num;
    int32_t fn;
    uint32_t len;
} rtask;

typedef struct ring {
    struct ring *older;
    int64_t mask; /* slots - 1, a power of two less one */
    rslot slot[];
} ring;

/* Tasks a worker took from the ring and ran without x->mu, their outcomes not
 * yet in their futures: the worker fills entries and moves `published`;
 * whoever holds x->mu next delivers them (harvest) and moves `delivered`. */
enum { DONE_Q = 1024 };
typedef struct done_q {
    _Atomic int64_t published; /* the worker's */
    char pad[56];
    _Atomic int64_t delivered; /* under x->mu */
    char pad2[56];
    struct { /* a success of a plain task: its result (anything else is delivered at once) */
        pk_future *f;
        char *data;
        size_t len;
        char pad[8]; /* two to a line */
    } e[DONE_Q];
} done_q;

/* Laid out by who writes what, so that the submitter's lines and the
 * workers' do not share: what is set at open and then only read; the
 * submitter's ring tail; what the workers write (under mu). */
struct xstate {
    /* set at open, read by all */
    pk_ctx *ctx;
    reg_entry *reg; /* sorted snapshot */
    int nreg;
    int rank, nranks, nthreads;
    int first, nstarted; /* threads first..first+nstarted-1 run */
    int serving;         /* a rank other than 0: its main thread waits on `work` too */
    int remote;          /* other ranks take part (see xstate_init) */
    int asym;            /* a sleeping worker fences the submitter (pk__mover_fence) */
    double spin;         /* seconds to watch before sleeping (0: SPIN pauses) */
    pthread_t *threads;
    pk_exec *ex; /* rank 0 */
    /* one process: tasks submitted, not yet taken, in order (see ring).
     * The submitter grows it under mu. */
    _Atomic(ring *) ring;
    done_q *dq; /* per thread (see done_q) */
    int ndq;
    _Atomic int slow;        /* workers take every task under mu (fault armed, fail-fast) */
    _Atomic int dq_sleepers; /* the submitter sleeps: workers deliver what they publish */
    char pad_tail[64];
    _Atomic int64_t ring_tail;
    int64_t ring_room;    /* the submitter's: slots known free before it looks again */
    _Atomic int sleepers; /* threads asleep on `work` (read unlocked by the submitter) */
    char pad_head[64];
    /* the workers': the head alone in its line (workers move it without mu,
     * which the submitter takes to deliver outcomes) */
    _Atomic int64_t ring_head;
    char pad_mu[56];
    pthread_mutex_t mu;
    int64_t ring_seen;   /* the tail as the workers last read it (under mu) */
    pthread_cond_t work; /* a task was queued, or stop */
    pthread_cond_t done; /* a future is done */
    task *qhead, *qtail;
    _Atomic int64_t queued; /* read unlocked by workers about to sleep */
    int waiters;            /* threads asleep on `done` for any event */
    int sub_waiting;        /* the submitter is asleep on `done`... */
    pk_future *sub_for;     /* ...for this future's end (NULL: any event) */
    int64_t npinned;        /* queued tasks pinned to a thread */
    int running;
    int stop;
    int64_t nested_next;
    int fault_fired;
    /* results for rank 0 (ranks other than 0), packed, sent by the main thread */
    buf outbox;
    int64_t outbox_count;
    double outbox_since; /* when the oldest result in the outbox was put there */
    int cancel_all;      /* fail-fast or CANCEL from rank 0: drop queued top-level tasks */
};

struct pk_exec {
    xstate x;
    /* written by the workers too (under x.mu), per task */
    int64_t completed;
    int64_t local_out; /* top-level tasks in this process's queue or running here */
    pk_future *cb_head, *cb_tail;
    pk_future **byid; /* top-level futures by number, NULL once freed or done and freed */
    int64_t cap_byid;
    int error; /* the executor's own failure */
    char pad_rare[64];
    /* written by the workers now and then, read by the submitter per task */
    _Atomic int failed;     /* fail-fast has fired: no more submissions */
    _Atomic int64_t cb_due; /* callbacks queued and not yet run */
    char pad_sub[64];
    /* the submitter's */
    void *chan;
    double sub_spin; /* its watch on a future (see watch) */
    int fail_fast, prefetch;
    int64_t next_num, submitted;
    pk_future *pend_head, *pend_tail;
    int64_t pending;
    int *threads_of; /* per rank */
    int64_t *out_at; /* per rank: tasks handed out, not yet back */
    int64_t *window; /* per rank: tasks it may hold (prefetch per thread, or grown) */
    double *sent_at; /* per rank: when tasks last went there */
    int adapt;       /* prefetch left to the executor: windows grow for short tasks */
    int below_base;  /* ranks other than 0 holding fewer than their base_of() */
    int next_rank;   /* where the next hand-out looks first */
    int in_callbacks;
    int cancel_told;
    pthread_t submitter;
    pk_future **cache;            /* freed top-level futures, for the next submissions */
    const pk_future *waited_last; /* the future last waited on */
    int64_t ncache, capcache;
    slab *slabs; /* where top-level futures live */
    char pad_returned[64];
    _Atomic(pk_future *) returned; /* freed by other threads, for the cache */
};

struct pk_call {
    xstate *x;
    task *t;
    pk_worker *w;
    int64_t num;
    buf result;
    int has_result;
    char message[sizeof((pk_error_info *)0)->message];
};

struct pk_map_iter {
    pk_exec *ex;
    const char *name;
    const char *args;
    size_t arg_size;
    int64_t n, next_submit, next_yield;
    int chunk, max_flight;
    pk_future **ring; /* chunks in flight, FIFO */
    int rhead, rcount;
    pk_future *cur; /* the chunk being read */
    rd cur_rd;
    int cur_left;
};

static _Thread_local pk_call *current_call;

/* ---- time ---- */

static struct timespec abs_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double whole = (double)(time_t)seconds;
    ts.tv_sec += (time_t)seconds;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, double seconds) {
    struct timespec ts = abs_after(seconds);
    pthread_cond_timedwait(c, m, &ts);
}

/* Waiting for messages: polling while something happened lately (a round trip
 * between ranks takes microseconds), then naps that grow to 1 ms. */
enum { BUSY_US = 2000 };

typedef struct poller {
    double last; /* when something last happened */
    double nap;
} poller;

static void poller_reset(poller *p) {
    p->last = pk__now();
    p->nap = 20e-6;
}

/* How long to sleep on a condition now: 0 for a yield. */
static double poller_nap(poller *p) {
    if (pk__now() - p->last < BUSY_US * 1e-6)
        return 0;
    double t = p->nap;
    p->nap = p->nap < 1e-3 ? p->nap * 2 : 1e-3;
    return t;
}

/* ---- futures (under x->mu) ---- */

/* Top-level futures come from slabs of SLAB futures, which the executor keeps
 * until it closes: a freed future goes back to the submitter's cache (from
 * another thread, through the `returned` stack) for the next submissions, so
 * a run of submissions reuses the same memory in order. At close the slabs go
 * to a pool the process keeps for its next executors (up to POOL_MAX slabs,
 * 64 MiB: memory already paged in); a slab still holding futures the user has
 * not freed lives on until the last one goes. Other futures (made by tasks)
 * are allocated alone. */
/* A slab: SLAB_BYTES, aligned to them, so that a future finds its slab and
 * its fut_more from its own address: the header line, SLAB futures, one line
 * each, then their fut_more in the same order. A future allocated alone
 * (nested) has its fut_more right after it. */
enum {
    SLAB = 63,
    SLAB_BYTES = 16384,
    POOL_MAX = 4096,
    AHEAD = 8,
    LOOK = 8,
    TAKE_AHEAD = 8,
    CATCH_UP = 8,
    WATCHES = 16 /* a wait's watches, each ended by outcomes to deliver, before it sleeps */
};
#define MORE_BYTES ((sizeof(fut_more) + 63) / 64 * 64)
_Static_assert(sizeof(pk_future) == 64, "a future is one line");
_Static_assert(64 + SLAB * (64 + MORE_BYTES) <= SLAB_BYTES, "a slab holds its futures");

static slab *slab_of(const pk_future *f) {
    return (slab *)((uintptr_t)f & ~(uintptr_t)(SLAB_BYTES - 1));
}

static fut_more *more(const pk_future *f) {
    if (f->nested)
        return (fut_more *)((char *)f + 64);
    const char *s = (const char *)slab_of(f);
    size_t i = (size_t)((const char *)f - s - 64) / 64;
    return (fut_more *)(s + 64 + SLAB * 64 + i * MORE_BYTES);
}

struct slab {
    struct slab *next;
    _Atomic int64_t used; /* after close: its futures the user still holds */
};

/* Is the calling thread the submitter's (rank 0's main thread)? */
static _Thread_local const pk_exec *my_exec; /* the last opened here (a quick yes) */

static int on_submitter(const xstate *x) {
    return x->ex != NULL && (my_exec == x->ex || pthread_equal(pthread_self(), x->ex->submitter));
}

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static slab *pool;
static int npool;
enum { SPARE_MAX = 1 << 18 };
static struct ring *spare_ring; /* see xstate_destroy */

/* A slab's futures into the cache (one from the pool, else a new one): 0, or
 * PK_ENOMEM. */
static int slab_new(pk_exec *ex) {
    pthread_mutex_lock(&pool_mu);
    slab *s = pool;
    if (s != NULL) {
        pool = s->next;
        npool--;
    }
    pthread_mutex_unlock(&pool_mu);
    int fresh = s == NULL; /* a pooled slab's futures are all free and know it */
    char *p = s != NULL ? (char *)s : aligned_alloc(SLAB_BYTES, SLAB_BYTES);
    if (p == NULL)
        return PK_ENOMEM;
    s = (slab *)p;
    if (ex->ncache + SLAB > ex->capcache) {
        int64_t cap = ex->capcache ? 2 * ex->capcache : 4 * SLAB;
        pk_future **c = realloc(ex->cache, (size_t)cap * sizeof *c);
        if (c == NULL) {
            free(p);
            return PK_ENOMEM;
        }
        ex->cache = c;
        ex->capcache = cap;
    }
    s->next = ex->slabs;
    s->used = 0;
    ex->slabs = s;
    for (int i = SLAB - 1; i >= 0; i--) { /* the first ends on top */
        pk_future *f = (pk_future *)(p + 64 + (size_t)i * 64);
        if (fresh)
            atomic_store_explicit(&f->state, F_FREE, memory_order_relaxed);
        ex->cache[ex->ncache++] = f;
    }
    return 0;
}

/* Puts f (of a slab) in the cache: 0, or -1 when the cache cannot grow. */
static int cache_push(pk_exec *ex, pk_future *f) {
    if (ex->ncache == ex->capcache) {
        int64_t cap = ex->capcache ? 2 * ex->capcache : 4 * SLAB;
        pk_future **c = realloc(ex->cache, (size_t)cap * sizeof *c);
        if (c == NULL)
            return -1;
        ex->cache = c;
        ex->capcache = cap;
    }
    ex->cache[ex->ncache++] = f;
    return 0;
}

/* Gives f back from a thread other than the submitter, or when the cache
 * cannot grow: the submitter takes these when its cache runs out. */
static void give_back(pk_exec *ex, pk_future *f) {
    fut_more *m = more(f);
    m->pend_next = atomic_load_explicit(&ex->returned, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&ex->returned, &m->pend_next, f))
        ;
}

static pk_future *future_new(xstate *x, int64_t num, int nested) {
    pk_future *f = NULL;
    pk_exec *ex = x->ex;
    if (!nested) { /* made by the submitter (the public calls check) */
        /* the cache is the submitter's alone: no lock */
        if (ex->ncache == 0) /* what other threads gave back, then a new slab */
            for (pk_future *r = atomic_exchange(&ex->returned, NULL), *next; r != NULL; r = next) {
                next = more(r)->pend_next;
                if (cache_push(ex, r) != 0) {
                    give_back(ex, r); /* the rest stays given back */
                    for (; next != NULL; next = r) {
                        r = more(next)->pend_next;
                        give_back(ex, next);
                    }
                    break;
                }
            }
        if (ex->ncache == 0 && slab_new(ex) != 0)
            return NULL;
        f = ex->cache[--ex->ncache];
        if (ex->ncache >= AHEAD) /* a later submission's line: on its way meanwhile */
            pk__prefetch_write(ex->cache[ex->ncache - AHEAD]);
    } else {
        f = aligned_alloc(64, 64 + MORE_BYTES);
    }
    if (f == NULL)
        return NULL;
    /* the first line: the rest is set where it is used (a plain task of one
     * process never touches the next, see rslot) */
    _Static_assert(offsetof(fut_more, own) == 0 && offsetof(task, arg_size) == 64,
                   "what a worker reads of a task in one line");
    zero_line(f);
    f->x = x;
    f->num = num;
    f->nested = (char)(nested != 0);
    atomic_store_explicit(&f->refs, 1, memory_order_relaxed); /* not shared yet */
    return f;
}

/* Gives a future's memory back: to its slab's executor, or to the system. */
static void future_drop(pk_future *f) {
    xstate *x = f->x;
    if (f->nested) { /* allocated alone */
        free(f);
    } else if (x == NULL) { /* the executor closed: the slab may go with it */
        slab *s = slab_of(f);
        if (atomic_fetch_sub(&s->used, 1) == 1)
            free(s);
    } else {
        atomic_store_explicit(&f->state, F_FREE, memory_order_relaxed);
        if (!on_submitter(x) || cache_push(x->ex, f) != 0)
            give_back(x->ex, f);
    }
}

/* At close, every task over: the futures the user still holds no longer
 * point into the executor; the slabs of none go to the pool (or back to the
 * system), the others go with their last future. */
static void slabs_close(pk_exec *ex) {
    for (slab *s = ex->slabs, *next; s != NULL; s = next) {
        next = s->next;
        s->used = 0;
        for (int i = 0; i < SLAB; i++) {
            pk_future *f = (pk_future *)((char *)s + 64 + (size_t)i * 64);
            if (f->state != F_FREE) {
                f->x = NULL;
                s->used++;
            }
        }
        if (s->used > 0)
            continue;
        pthread_mutex_lock(&pool_mu);
        int keep = npool < POOL_MAX;
        if (keep) {
            s->next = pool;
            pool = s;
            npool++;
        }
        pthread_mutex_unlock(&pool_mu);
        if (!keep)
            free(s);
    }
    ex->slabs = NULL;
    free(ex->cache);
    ex->cache = NULL;
    ex->ncache = ex->capcache = 0;
    atomic_store(&ex->returned, NULL);
}

/* A failure's details when there is no memory for them. */
static const pk_error_info no_memory_info = {.code = PK_ENOMEM,
                                             .kernel = "exec",
                                             .rank = -1,
                                             .thread = -1,
                                             .task = -1,
                                             .message = "no memory for the failure's details"};

static void free_err(pk_future *f) {
    if (f->err != NULL && f->err != &no_memory_info)
        free(f->err);
    f->err = NULL;
}

static void future_release(pk_future *f) {
    /* the last reference needs no read-modify-write: nobody else holds f */
    if (atomic_load_explicit(&f->refs, memory_order_acquire) != 1 &&
        atomic_fetch_sub(&f->refs, 1) > 1)
        return;
    if (f->data != NULL)
        free(f->data);
    free_err(f);
    future_drop(f);
}

static void set_error(pk_future *f, int rc, int rank, int thread, int64_t tasknum,
                      const char *msg) {
    f->rc = rc;
    if (rc == 0)
        return;
    free_err(f);
    pk_error_info *e = calloc(1, sizeof *e);
    if (e == NULL) {
        f->err = (pk_error_info *)&no_memory_info;
        return;
    }
    f->err = e;
    e->code = rc;
    snprintf(e->kernel, sizeof e->kernel, "exec");
    e->rank = rank;
    e->thread = thread;
    e->task = tasknum;
    snprintf(e->message, sizeof e->message, "%s", msg != NULL && msg[0] ? msg : pk_strerror(rc));
}

/* Sleeps on x->done (x->mu held), counted so that wakers know to wake. */
static void wait_done(xstate *x, double seconds) {
    x->waiters++;
    timed_wait(&x->done, &x->mu, seconds);
    x->waiters--;
}

/* The submitter sleeps on x->done until f ends (NULL: until anything happens). */
static void submitter_sleep(xstate *x, pk_future *f, double seconds) {
    x->sub_waiting = 1;
    x->sub_for = f;
    timed_wait(&x->done, &x->mu, seconds);
    x->sub_waiting = 0;
    x->sub_for = NULL;
}

/* Something happened: f ended (NULL: another event). Wakes those it concerns,
 * so that a submitter waiting for one future is not woken by every other. */
static void wake_waiters(xstate *x, const pk_future *f) {
    int sub =
        x->sub_waiting && (x->sub_for == NULL || x->sub_for == f || (f != NULL && f->cb_queued));
    if (x->waiters > 0 || sub)
        pthread_cond_broadcast(&x->done);
}

/* Is the submitter's ring empty? */
static int ring_empty(xstate *x) {
    return atomic_load_explicit(&x->ring_head, memory_order_relaxed) ==
           atomic_load_explicit(&x->ring_tail, memory_order_acquire);
}

/* Watches until ready(arg) or the watch of x ends (see SPIN_LONG): whether
 * ready came true. */
static int watch(const xstate *x, int (*ready)(const void *arg), const void *arg, double *budget) {
    if (x->spin <= 0) {
        for (int i = 0; i < SPIN; i += LOOK) {
            if (ready(arg))
                return 1;
            for (int k = 0; k < LOOK; k++)
                pk__cpu_relax();
        }
        return ready(arg);
    }
    if (ready(arg)) /* (before the clock: most waits end here) */
        return 1;
    /* the watch adapts: halved after one in vain, doubled after one that
     * paid, so that where another process holds the other core (the one
     * being waited for then cannot run) a watcher soon gives its core up */
    double b = *budget > SPIN_FLOOR ? *budget : SPIN_FLOOR;
    double start = pk__now(), now = start;
    for (;;) {
        for (int i = 0; i < 8; i++) {
            if (ready(arg)) {
                *budget = 2 * b < x->spin ? 2 * b : x->spin;
                return 1;
            }
            for (int k = 0; k < LOOK; k++)
                pk__cpu_relax();
        }
        if ((now = pk__now()) > start + b) {
            *budget = b / 2;
            return ready(arg);
        }
        /* past the first microseconds, let a thread waiting for this core
         * have it (the one being waited for may be it) */
        if (now > start + SPIN_FLOOR)
            sched_yield();
    }
}

/* Sleeps on x->work (x->mu held), counted so that queuers know to wake. */
static void wait_work(xstate *x, double seconds) {
    atomic_fetch_add(&x->sleepers, 1);
    /* the submitter moves the ring's tail, then reads sleepers; this counts,
     * fences both sides (see pk__mover_fence), then reads the tail: one of
     * the two sees the other. Unfenced, a wake-up may be missed: look again
     * soon. */
    if (!pk__sleeper_fence(x->asym) && (seconds < 0 || seconds > 1e-3))
        seconds = 1e-3;
    if (atomic_load(&x->ring_tail) == atomic_load_explicit(&x->ring_head, memory_order_relaxed)) {
        if (seconds < 0)
            pthread_cond_wait(&x->work, &x->mu);
        else
            timed_wait(&x->work, &x->mu, seconds);
    }
    atomic_fetch_sub(&x->sleepers, 1);
}

static void queue_callbacks(pk_exec *ex, pk_future *f);
static void cancel_pending(pk_exec *ex);

/* The task behind f is over: its outcome is in f. Wakes the waiters. */
static void future_finish(xstate *x, pk_future *f) {
    f->t = NULL;
    if (!f->nested && x->ex != NULL) {
        pk_exec *ex = x->ex;
        ex->completed++;
        if (f->rc != 0 && f->rc != PK_ECANCELED && ex->fail_fast && !ex->failed) {
            ex->failed = 1;
            cancel_pending(ex); /* here, before a worker takes the next one */
        }
        if (!f->user_freed)
            queue_callbacks(ex, f);
        if (f->num < ex->cap_byid)
            ex->byid[f->num] = NULL;
    }
    int sub = x->sub_waiting && (x->sub_for == NULL || x->sub_for == f || f->cb_queued);
    /* The task's reference goes with the F_DONE store, and f is not touched
     * after it (its owner may free it at once). Until then nobody else
     * changes refs: the owner releases without the lock (which is held here)
     * only a future it sees done, and callbacks take theirs under the lock. */
    int last = atomic_load_explicit(&f->refs, memory_order_relaxed) == 1;
    if (!last)
        atomic_store_explicit(&f->refs, atomic_load_explicit(&f->refs, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    atomic_store_explicit(&f->state, F_DONE, memory_order_release); /* after the outcome */
    if (x->waiters > 0 || sub)
        pthread_cond_broadcast(&x->done);
    if (last) { /* its owner freed it first */
        atomic_store_explicit(&f->refs, 0, memory_order_relaxed);
        if (f->data != NULL)
            free(f->data);
        free_err(f);
        future_drop(f);
    }
}

static void future_cancel_now(xstate *x, pk_future *f) {
    set_error(f, PK_ECANCELED, x->rank, -1, f->num, "cancelled before it started");
    future_finish(x, f);
}

/* ---- the local queue (under x->mu) ---- */

/* Links t at the queue's tail (under x->mu), waking nobody. */
static void link_task(xstate *x, task *t) {
    t->next = NULL;
    if (x->qtail != NULL)
        x->qtail->next = t;
    else
        x->qhead = t;
    x->qtail = t;
    x->queued++;
    if (t->pin >= 0)
        x->npinned++;
    if (t->fut != NULL) {
        atomic_store_explicit(&t->fut->state, F_QUEUED, memory_order_relaxed);
        t->fut->t = t;
    }
}

/* Wakes the sleeping workers that n newly queued tasks concern (pinned: some
 * pinned to a thread). */
static void wake_workers(xstate *x, int64_t n, int pinned) {
    /* any worker may take it, so one wakes; a pinned task wakes them all, and
     * so does any task where the serving main thread sleeps on the same
     * condition (a signal could wake only it, and it may be about to block in
     * a task of its own) */
    if (atomic_load_explicit(&x->sleepers, memory_order_relaxed) == 0)
        return;
    if (n == 1 && !pinned && !x->serving)
        pthread_cond_signal(&x->work);
    else
        pthread_cond_broadcast(&x->work);
}

static void enqueue(xstate *x, task *t) {
    link_task(x, t);
    wake_workers(x, 1, t->pin >= 0);
}

static void fault_place(const pk_exec *ex, const task *t, int *rank, int *thread);

/* A task the submitter put in the ring, now taken from it (under x->mu): 1
 * when it is to run, 0 when it was dealt with here (cancelled after a
 * fail-fast stop). An armed fault may pin it to a thread. */
static int admit(xstate *x, task *t) {
    pk_exec *ex = x->ex;
    if (ex->failed) {
        pk_future *f = t->fut;
        task_free(t);
        f->t = NULL;
        future_cancel_now(x, f);
        return 0;
    }
    if (x->ctx->fault.armed) {
        int frank, fthread;
        fault_place(ex, t, &frank, &fthread);
        if (frank >= 0)
            t->pin = fthread;
    }
    if (x->nthreads == 1 || t->pin >= x->nthreads)
        t->pin = 0; /* the submitter is the only thread */
    ex->local_out++;
    return 1;
}

static void slot_get(rslot *sl, rtask *rt) {
    rt->f = atomic_load_explicit(&sl->f, memory_order_relaxed);
    rt->arg = atomic_load_explicit(&sl->arg, memory_order_relaxed);
    rt->num = atomic_load_explicit(&sl->num, memory_order_relaxed);
    rt->fn = atomic_load_explicit(&sl->fn, memory_order_relaxed);
    rt->len = atomic_load_explicit(&sl->len, memory_order_relaxed);
}

static void slot_put(rslot *sl, const rtask *rt) {
    atomic_store_explicit(&sl->f, rt->f, memory_order_relaxed);
    atomic_store_explicit(&sl->arg, rt->arg, memory_order_relaxed);
    atomic_store_explicit(&sl->num, rt->num, memory_order_relaxed);
    atomic_store_explicit(&sl->fn, rt->fn, memory_order_relaxed);
    atomic_store_explicit(&sl->len, rt->len, memory_order_relaxed);
}

/* Takes the ring's oldest task into *rt (rt->f NULL when it is empty);
 * *seen: the tail as the caller last read it (the tail's line is read only
 * when the tasks known to be there ran out). */
static void ring_take(xstate *x, int64_t *seen, rtask *rt) {
    int64_t head = atomic_load_explicit(&x->ring_head, memory_order_relaxed);
    for (;;) {
        if (head >= *seen &&
            head >= (*seen = atomic_load_explicit(&x->ring_tail, memory_order_acquire))) {
            rt->f = NULL;
            return;
        }
        /* read after the tail: a task below it is in this ring or an
         * outgrown one, and its slot there is not reused while head <= it */
        ring *r = atomic_load_explicit(&x->ring, memory_order_acquire);
        slot_get(&r->slot[head & r->mask], rt);
        if (atomic_compare_exchange_weak_explicit(&x->ring_head, &head, head + 1,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            if (*seen - head > TAKE_AHEAD) /* a later task's argument, on its way meanwhile */
                __builtin_prefetch(atomic_load_explicit(&r->slot[(head + TAKE_AHEAD) & r->mask].arg,
                                                        memory_order_relaxed));
            return;
        }
    }
}

/* The whole task of what a slot held: a plain task is written into its
 * future's (under x->mu). (Not inlined: gcc then takes the embedded task
 * for one task_free() might free.) */
__attribute__((noinline)) static task *rtask_task(const rtask *rt) {
    task *t = &more(rt->f)->own;
    if (rt->fn < 0)
        return t;
    zero_line(t);
    t->fut = rt->f;
    t->arg = rt->arg;
    t->len = rt->len;
    t->num = rt->num;
    t->fn = rt->fn;
    t->pin = -1;
    t->count = 1;
    t->embedded = 1;
    return t;
}

/* The ring's oldest task (under x->mu), NULL when it is empty. */
static task *ring_shift(xstate *x) {
    rtask rt;
    ring_take(x, &x->ring_seen, &rt);
    if (rt.f == NULL)
        return NULL;
    task *t = rtask_task(&rt);
    rt.f->t = t;
    return t;
}

static void drain_ring(xstate *x);
static void lock_x(xstate *x);

/* A ring of `size` slots (a power of two), NULL without memory. */
static ring *ring_new(int64_t size) {
    ring *r = calloc(1, sizeof *r + (size_t)size * sizeof r->slot[0]);
    if (r != NULL)
        r->mask = size - 1;
    return r;
}

/* The submitter's ring is full: twice the slots (under x->mu), or all of it
 * to the queue at RING_MAX or without memory. */
static void ring_full(xstate *x) {
    lock_x(x);
    ring *r = atomic_load_explicit(&x->ring, memory_order_relaxed);
    int64_t tail = atomic_load_explicit(&x->ring_tail, memory_order_relaxed);
    /* workers may still take from the head meanwhile: the copy may hold a
     * few tasks already taken, in slots nobody reads again */
    int64_t head = atomic_load_explicit(&x->ring_head, memory_order_acquire);
    ring *bigger = r->mask + 1 < RING_MAX ? ring_new(2 * (r->mask + 1)) : NULL;
    if (bigger != NULL) {
        for (int64_t i = head; i < tail; i++) {
            rtask rt;
            slot_get(&r->slot[i & r->mask], &rt);
            slot_put(&bigger->slot[i & bigger->mask], &rt);
        }
        bigger->older = r;
        atomic_store_explicit(&x->ring, bigger, memory_order_release);
        r = bigger;
    } else {
        drain_ring(x);
        head = tail;
    }
    x->ring_room = r->mask + 1 - (tail - head);
    pthread_mutex_unlock(&x->mu);
}

/* Moves the ring's tasks to the queue, in submission order (under x->mu):
 * for whoever must see every task queued. */
static void drain_ring(xstate *x) {
    int64_t n = 0;
    int pinned = 0;
    for (task *t; atomic_load_explicit(&x->ring, memory_order_relaxed) != NULL &&
                  (t = ring_shift(x)) != NULL;)
        if (admit(x, t)) {
            pinned |= t->pin >= 0;
            link_task(x, t);
            n++;
        }
    if (n > 0)
        wake_workers(x, n, pinned);
}

/* Takes x->mu. */
static void lock_x(xstate *x) {
    pthread_mutex_lock(&x->mu);
}

static void unlink_task(xstate *x, task *prev, task *t) {
    if (prev != NULL)
        prev->next = t->next;
    else
        x->qhead = t->next;
    if (x->qtail == t)
        x->qtail = prev;
    x->queued--;
    if (t->pin >= 0)
        x->npinned--;
    t->next = NULL;
}

/* The first task this thread may run: pinned to it, or to nobody. */
static task *take(xstate *x, int thread) {
    task *prev = NULL;
    for (task *t = x->qhead; t != NULL; prev = t, t = t->next) {
        if (t->pin < 0 || t->pin == thread) {
            unlink_task(x, prev, t);
            return t;
        }
    }
    return NULL;
}

/* The first task pinned to this very thread. */
static task *take_pinned_to(xstate *x, int thread) {
    if (x->npinned == 0)
        return NULL;
    task *prev = NULL;
    for (task *t = x->qhead; t != NULL; prev = t, t = t->next) {
        if (t->pin == thread) {
            unlink_task(x, prev, t);
            return t;
        }
    }
    return NULL;
}

/* The first task this thread may run (under x->mu): from the queue, else
 * straight from the ring (a task pinned elsewhere goes to the queue). */
static task *take_any(xstate *x, int thread) {
    task *t = take(x, thread);
    while (t == NULL && atomic_load_explicit(&x->ring, memory_order_relaxed) != NULL &&
           (t = ring_shift(x)) != NULL) {
        if (!admit(x, t)) {
            t = NULL;
        } else if (t->pin >= 0 && t->pin != thread) {
            link_task(x, t);
            wake_workers(x, 1, 1);
            t = NULL;
        }
    }
    return t;
}

/* Removes t from the queue if it is still there: 1 when it was. */
static int unqueue(xstate *x, task *t) {
    task *prev = NULL;
    for (task *q = x->qhead; q != NULL; prev = q, q = q->next) {
        if (q == t) {
            unlink_task(x, prev, q);
            return 1;
        }
    }
    return 0;
}

/* t, just taken off the queue, runs now (under x->mu). */
static void mark_running(xstate *x, task *t) {
    x->running++;
    if (t->fut != NULL) {
        atomic_store_explicit(&t->fut->state, F_RUNNING, memory_order_relaxed);
        t->fut->t = NULL;
    }
}

/* ---- running a task ---- */

static int fault_hits(xstate *x, int64_t num, const pk_worker *w) {
    const pk__fault *f = &x->ctx->fault;
    if (!f->armed || f->alloc || f->task != num || x->fault_fired)
        return 0;
    if (f->kernel[0] != '\0' && strcmp(f->kernel, "exec") != 0)
        return 0;
    if ((f->rank >= 0 && f->rank != w->rank) || (f->thread >= 0 && f->thread != w->thread))
        return 0;
    x->fault_fired = 1;
    return 1;
}

/* Runs one argument of t: its code, the result in call->result. */
static int run_one(xstate *x, task *t, pk_call *call, int64_t num, const void *arg, size_t len) {
    call->num = num;
    call->result.len = 0;
    call->has_result = 0;
    call->message[0] = '\0';
    call->w->task = num;
    int hit = 0;
    if (x->ctx->fault.armed) {
        pthread_mutex_lock(&x->mu);
        hit = fault_hits(x, num, call->w);
        pthread_mutex_unlock(&x->mu);
    }
    if (hit) {
        snprintf(call->message, sizeof call->message, "injected fault");
        return PK_EINJECTED;
    }
    pk_call *outer = current_call;
    current_call = call;
    int rc = x->reg[t->fn].fn(call, len > 0 ? arg : NULL, len);
    current_call = outer;
    call->w->task = -1;
    if (rc > 0)
        rc = PK_ECALLBACK;
    return rc;
}

/* Runs t on worker w; *o gets its outcome (for a chunk: every argument's
 * code and result packed as int32 rc, uint64 len, bytes). */
static void run_task(xstate *x, task *t, pk_worker *w, outcome *o) {
    pk_call call; /* set field by field: its message is 256 bytes */
    call.x = x;
    call.t = t;
    call.w = w;
    call.num = 0;
    memset(&call.result, 0, sizeof call.result);
    call.has_result = 0;
    call.message[0] = '\0';
    memset(o, 0, sizeof *o);
    o->rank = w->rank;
    o->thread = w->thread;
    o->num = t->num;
    if (!t->chunk) {
        o->rc = run_one(x, t, &call, t->num, t->arg, t->len);
        if (o->rc != 0) {
            o->msg = strdup(call.message);
        } else if (call.has_result) {
            o->data = call.result;
            call.result.p = NULL;
        }
        free(call.result.p);
        return;
    }
    for (int i = 0; i < t->count; i++) {
        int rc = run_one(x, t, &call, t->num + i, t->arg + (size_t)i * t->arg_size, t->arg_size);
        int32_t rc32 = rc;
        uint64_t len = rc == 0 && call.has_result ? call.result.len : 0;
        if (rc != 0 && o->rc == 0) { /* the chunk's first failure names it */
            o->rc = rc;
            o->num = t->num + i;
            o->msg = strdup(call.message);
        }
        int m = buf_put(&o->data, &rc32, sizeof rc32);
        m = m ? m : buf_put(&o->data, &len, sizeof len);
        m = m ? m : buf_put(&o->data, call.result.p, (size_t)len);
        if (m != 0) {
            o->rc = PK_ENOMEM;
            break;
        }
    }
    free(call.result.p);
}

static void outcome_free(outcome *o) {
    if (o->msg != NULL) /* (most tasks have neither: no call then) */
        free(o->msg);
    if (o->data.p != NULL)
        free(o->data.p);
}

/* Moves an outcome into its future (under x->mu). A map chunk's result is its
 * packed parts, each with its code; its error, if any, names the first
 * failing part, and only a chunk that did not run at all fails as a whole. */
static void deliver_local(xstate *x, pk_future *f, int chunk, outcome *o) {
    int whole = o->rc == PK_ENOMEM || o->rc == PK_ECANCELED;
    if (o->rc == 0 || (chunk && !whole)) {
        f->data = o->data.p;
        f->len = o->data.len;
        o->data.p = NULL;
        set_error(f, o->rc, o->rank, o->thread, o->num, o->msg);
        f->rc = 0;
    } else {
        set_error(f, o->rc, o->rank, o->thread, o->num, o->msg);
    }
    future_finish(x, f);
}

/* Packs an outcome for rank 0 (under x->mu). */
static int pack_result(buf *b, const outcome *o) {
    int32_t head[4] = {o->rc, o->rank, o->thread, 0};
    size_t mlen = o->msg != NULL ? strlen(o->msg) : 0;
    head[3] = (int32_t)mlen;
    uint64_t len = o->data.len;
    int rc = buf_put(b, &o->num, sizeof o->num);
    rc = rc ? rc : buf_put(b, head, sizeof head);
    rc = rc ? rc : buf_put(b, &len, sizeof len);
    rc = rc ? rc : buf_put(b, o->msg, mlen);
    rc = rc ? rc : buf_put(b, o->data.p, o->data.len);
    return rc;
}

/* After a task ran on this process: its outcome where it belongs (under x->mu). */
static void complete(xstate *x, task *t, outcome *o) {
    if (t->fut != NULL) {
        pk_future *f = t->fut;
        if (!f->nested && x->ex != NULL)
            x->ex->local_out--;
        deliver_local(x, f, t->chunk, o);
        return;
    }
    /* a task of rank 0's: its result goes back in the next batch, keyed by
     * the task's first number (o->num names the failing part of a chunk) */
    if (x->outbox_count == 0)
        x->outbox_since = pk__now();
    int rc = buf_put(&x->outbox, &t->num, sizeof t->num);
    rc = rc ? rc : pack_result(&x->outbox, o);
    if (rc == 0)
        x->outbox_count++;
    if (atomic_load(&x->sleepers) > 0)
        pthread_cond_broadcast(&x->work); /* the main thread sends it */
}

/* Runs t (taken off the queue) on worker w: called without x->mu, returns
 * holding it (a worker takes its next task in the same hold). */
static void execute_hold(xstate *x, task *t, pk_worker *w) {
    outcome o;
    run_task(x, t, w, &o);
    int embedded = t->embedded;
    if (embedded)
        task_free(t); /* its argument; the task goes with its future */
    lock_x(x);
    complete(x, t, &o); /* may free the future, and an embedded t with it */
    x->running--;
    if (x->running == 0)
        wake_waiters(x, NULL);
    outcome_free(&o);
    if (!embedded)
        task_free(t);
}

/* Runs t (taken off the queue) on worker w: the caller does not hold x->mu. */
static void execute(xstate *x, task *t, pk_worker *w) {
    execute_hold(x, t, w);
    pthread_mutex_unlock(&x->mu);
}

static void worker_of(xstate *x, pk_worker *w, int thread) {
    memset(w, 0, sizeof *w);
    w->rank = x->rank;
    w->nranks = x->nranks;
    w->thread = thread;
    w->nthreads = x->nthreads;
    w->id = x->rank * x->nthreads + thread;
    w->nworkers = x->nranks * x->nthreads;
    w->task = -1;
}

typedef struct thread_arg {
    xstate *x;
    int thread;
} thread_arg;

/* Delivers the outcomes the workers published in their done queues (under
 * x->mu): see done_q. */
static void harvest(xstate *x) {
    if (x->dq == NULL)
        return;
    for (int i = 0; i < x->ndq; i++) {
        done_q *q = &x->dq[i];
        int64_t d = atomic_load_explicit(&q->delivered, memory_order_relaxed);
        int64_t p = atomic_load_explicit(&q->published, memory_order_acquire);
        if (d == p)
            continue;
        for (; d < p; d++) {
            pk_future *f = q->e[d % DONE_Q].f;
            f->data = q->e[d % DONE_Q].data;
            f->len = q->e[d % DONE_Q].len;
            f->rc = 0;
            future_finish(x, f); /* may free it */
        }
        atomic_store_explicit(&q->delivered, d, memory_order_release);
    }
}

/* Has a worker published outcomes not yet delivered (read unlocked)? */
static int unharvested(const xstate *x) {
    if (x->dq == NULL)
        return 0;
    for (int i = 0; i < x->ndq; i++)
        if (atomic_load_explicit(&x->dq[i].published, memory_order_relaxed) !=
            atomic_load_explicit(&x->dq[i].delivered, memory_order_relaxed))
            return 1;
    return 0;
}

/* May workers take tasks from the ring without x->mu? Not with a task in the
 * queue (nested or pinned: those go first), a fault armed, or fail-fast on
 * (a failure stops the others taking tasks): then every task goes through
 * admit(). */
static int ring_is_open(xstate *x) {
    return x->dq != NULL && atomic_load_explicit(&x->slow, memory_order_relaxed) == 0 &&
           atomic_load_explicit(&x->queued, memory_order_relaxed) == 0;
}

/* Runs tasks straight from the ring without x->mu while it is open: their
 * outcomes go to this thread's done queue, delivered in batches by whoever
 * holds x->mu next (a worker, or the submitter when it waits). Called and
 * returns holding x->mu. */
static void run_from_ring(xstate *x, pk_worker *w, int thread, int64_t *seen) {
    done_q *q = &x->dq[thread];
    int64_t p = atomic_load_explicit(&q->published, memory_order_relaxed);
    pthread_mutex_unlock(&x->mu);
    while (ring_is_open(x) &&
           p - atomic_load_explicit(&q->delivered, memory_order_acquire) < DONE_Q) {
        rtask rt;
        ring_take(x, seen, &rt);
        /* caught up with the submitter, who is often a moment behind: let it
         * put a few more in before looking again (each look takes the
         * tail's line from it, and leaving here costs the lock) */
        for (int i = 0; rt.f == NULL && x->spin > 0 && i < CATCH_UP; i++) {
            for (int k = 0; k < 2 * LOOK; k++)
                pk__cpu_relax();
            ring_take(x, seen, &rt);
        }
        if (rt.f == NULL)
            break;
        outcome o;
        int chunk = 0;
        if (rt.fn >= 0) { /* plain: run from a copy, the future's task line untouched */
            task t = {.fut = rt.f,
                      .arg = rt.arg,
                      .len = rt.len,
                      .num = rt.num,
                      .fn = rt.fn,
                      .pin = -1,
                      .count = 1};
            run_task(x, &t, w, &o);
            if (rt.len > sizeof t.small) /* (a short one is in the future) */
                free(rt.arg);
        } else {
            task *t = &more(rt.f)->own;
            run_task(x, t, w, &o);
            chunk = t->chunk;
            arg_free(t); /* the task lives in its future */
        }
        if (o.rc != 0 || chunk || o.msg != NULL) { /* rare: delivered now */
            lock_x(x);
            deliver_local(x, rt.f, chunk, &o);
            pthread_mutex_unlock(&x->mu);
            outcome_free(&o);
            continue;
        }
        q->e[p % DONE_Q].f = rt.f;
        q->e[p % DONE_Q].data = o.data.p;
        q->e[p % DONE_Q].len = o.data.len;
        atomic_store_explicit(&q->published, ++p, memory_order_release);
        /* the submitter asleep may wait for this one: deliver it now (the
         * sleeper counts, fences both sides, then harvests: one of the two
         * sees the other; see pk__mover_fence) */
        pk__mover_fence(x->asym);
        if (atomic_load_explicit(&x->dq_sleepers, memory_order_relaxed) > 0) {
            lock_x(x);
            harvest(x);
            pthread_mutex_unlock(&x->mu);
        }
    }
    lock_x(x);
    harvest(x);
}

/* Is there a task for the workers (read unlocked)? */
static int has_work(const void *arg) {
    xstate *x = (xstate *)arg;
    return atomic_load_explicit(&x->queued, memory_order_relaxed) > 0 || !ring_empty(x);
}

static void *worker_main(void *arg) {
    thread_arg *a = arg;
    xstate *x = a->x;
    pk_worker w;
    int64_t seen = 0;        /* the ring's tail as this thread last read it */
    double budget = x->spin; /* this thread's watch (see watch) */
    lock_x(x);
    worker_of(x, &w, a->thread);
    for (;;) {
        harvest(x);
        if (ring_is_open(x))
            run_from_ring(x, &w, a->thread, &seen);
        task *t = take_any(x, a->thread);
        if (t == NULL) {
            if (x->stop)
                break;
            /* the next task is often a moment away: watch before sleeping */
            pthread_mutex_unlock(&x->mu);
            /* (looking now and then, not at every pause: each look takes the
             * tail's line from the submitter, who is writing it) */
            watch(x, has_work, x, &budget);
            lock_x(x);
            if (x->queued > 0 || x->stop || !ring_empty(x))
                continue;
            wait_work(x, -1);
            continue;
        }
        mark_running(x, t);
        pthread_mutex_unlock(&x->mu);
        execute_hold(x, t, &w);
    }
    pthread_mutex_unlock(&x->mu);
    free(a);
    return NULL;
}

static int xstate_init(xstate *x, pk_ctx *ctx) {
    memset(x, 0, sizeof *x);
    x->ctx = ctx;
    x->rank = ctx->rank;
    x->nranks = ctx->nranks;
    x->nthreads = pk_ctx_threads(ctx);
    if (x->nthreads < 1)
        x->nthreads = 1;
    x->nested_next = NESTED_BASE(ctx->rank);
    x->nreg = nregistry;
    x->reg = malloc(sizeof *x->reg * (size_t)(nregistry > 0 ? nregistry : 1));
    if (x->reg == NULL)
        return PK_ENOMEM;
    memcpy(x->reg, registry, sizeof *x->reg * (size_t)nregistry);
    qsort(x->reg, (size_t)x->nreg, sizeof *x->reg, by_name);
    x->remote = x->nranks > 1 && ctx->backend->msg_send != NULL;
    if (!x->remote) { /* one process */
        x->asym = pk__asym_fences();
        x->spin = x->nranks == 1 && x->nthreads <= pk__usable_cores() ? SPIN_LONG : 0;
        pthread_mutex_lock(&pool_mu); /* the last executor's ring, grown already */
        ring *r = spare_ring;
        spare_ring = NULL;
        pthread_mutex_unlock(&pool_mu);
        r = r != NULL ? r : ring_new(RING);
        if (r == NULL)
            return PK_ENOMEM;
        atomic_init(&x->ring, r);
        atomic_init(&x->slow, ctx->fault.armed != 0);
        x->ring_room = r->mask + 1;
    }
    /* an adaptive mutex spins a little before sleeping: the submitter and
     * the workers hold it briefly and often */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&x->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_cond_init(&x->work, NULL);
    pthread_cond_init(&x->done, NULL);
    return 0;
}

/* Starts the worker threads first..nthreads-1 (first: 1 on rank 0, whose
 * thread 0 is the submitter; 0 elsewhere, where the main thread only moves
 * messages). Fewer start when the system refuses: nthreads then says how many
 * serve. */
static int start_threads(xstate *x, int first) {
    x->first = first;
    x->nstarted = 0;
    if (x->nthreads <= first)
        return 0;
    x->threads = calloc((size_t)x->nthreads, sizeof *x->threads);
    if (atomic_load_explicit(&x->ring, memory_order_relaxed) != NULL) {
        /* (without them, every task goes through the queue) */
        x->dq = aligned_alloc(64, (size_t)x->nthreads * sizeof *x->dq);
        if (x->dq != NULL) {
            memset(x->dq, 0, (size_t)x->nthreads * sizeof *x->dq);
            x->ndq = x->nthreads;
        }
    }
    int n = first;
    for (int i = first; x->threads != NULL && i < x->nthreads; i++) {
        thread_arg *a = malloc(sizeof *a);
        if (a == NULL)
            break;
        a->x = x;
        a->thread = i;
        if (pthread_create(&x->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            break; /* fewer threads serve */
        }
        n = i + 1;
        x->nstarted++;
    }
    n = n > 1 ? n : 1;
    if (x->nthreads != n) { /* the started ones read it */
        lock_x(x);
        x->nthreads = n;
        pthread_mutex_unlock(&x->mu);
    }
    return 0;
}

/* Lets the worker threads end once the queue is empty, and joins them. */
static void stop_threads(xstate *x) {
    lock_x(x);
    x->stop = 1;
    pthread_cond_broadcast(&x->work);
    pthread_mutex_unlock(&x->mu);
    for (int i = x->first; i < x->first + x->nstarted; i++)
        pthread_join(x->threads[i], NULL);
    free(x->threads);
    x->threads = NULL;
    x->nstarted = 0;
}

static void xstate_destroy(xstate *x) {
    for (task *t; atomic_load_explicit(&x->ring, memory_order_relaxed) != NULL &&
                  (t = ring_shift(x)) != NULL;)
        task_free(t);
    ring *r = atomic_load_explicit(&x->ring, memory_order_relaxed);
    if (r != NULL) {
        for (ring *o = r->older, *older; o != NULL; o = older) {
            older = o->older;
            free(o);
        }
        r->older = NULL;
        /* kept for the next executor, up to SPARE_MAX slots (memory paged
         * in: a burst grows a new ring by copying, page by page) */
        pthread_mutex_lock(&pool_mu);
        if (r->mask < SPARE_MAX && (spare_ring == NULL || spare_ring->mask < r->mask)) {
            ring *old = spare_ring;
            spare_ring = r;
            r = old;
        }
        pthread_mutex_unlock(&pool_mu);
        free(r);
    }
    free(x->dq);
    task *t = x->qhead;
    while (t != NULL) {
        task *next = t->next;
        task_free(t);
        t = next;
    }
    free(x->outbox.p);
    free(x->reg);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->work);
    pthread_cond_destroy(&x->done);
}

static int find_fn(const xstate *x, const char *name) {
    if (name == NULL)
        return PK_EINVAL;
    int lo = 0, hi = x->nreg - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(name, x->reg[mid].name);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return PK_ENOENT;
}

/* ---- messages ---- */

static int remote(const xstate *x) {
    return x->remote;
}

static int send_buf(pk_exec *ex, int to, int tag, buf *b) {
    xstate *x = &ex->x;
    int rc = x->ctx->backend->msg_send(x->ctx, ex->chan, to, tag, b->p, b->len);
    b->p = NULL;
    b->len = b->cap = 0;
    return rc;
}

/* Packs a task for another rank. */
static int pack_task(buf *b, const task *t) {
    int32_t head[4] = {t->fn, t->count, t->chunk, t->pin};
    uint64_t len = t->len, asz = t->chunk ? t->arg_size : 0;
    int rc = buf_put(b, &t->num, sizeof t->num);
    rc = rc ? rc : buf_put(b, head, sizeof head);
    rc = rc ? rc : buf_put(b, &asz, sizeof asz);
    rc = rc ? rc : buf_put(b, &len, sizeof len);
    rc = rc ? rc : buf_put(b, t->arg, t->len);
    return rc;
}

static int unpack_task(rd *r, task **out) {
    task *t = calloc(1, sizeof *t);
    if (t == NULL)
        return PK_ENOMEM;
    int32_t head[4];
    uint64_t len = 0, asz = 0;
    int rc = rd_get(r, &t->num, sizeof t->num);
    rc = rc ? rc : rd_get(r, head, sizeof head);
    rc = rc ? rc : rd_get(r, &asz, sizeof asz);
    rc = rc ? rc : rd_get(r, &len, sizeof len);
    if (rc == 0 && len > r->left)
        rc = PK_EBACKEND;
    if (rc == 0 && len > 0) {
        t->arg = arg_room(t, (size_t)len);
        rc = t->arg == NULL ? PK_ENOMEM : rd_get(r, t->arg, (size_t)len);
    }
    t->fn = head[0];
    t->count = head[1];
    t->chunk = head[2];
    t->pin = head[3];
    t->arg_size = (size_t)asz;
    t->len = (size_t)len;
    if (rc != 0) {
        task_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- the submitter ---- */

static void queue_callbacks(pk_exec *ex, pk_future *f) {
    if (!f->cb_set || f->cb_queued)
        return;
    f->cb_queued = 1;
    f->refs++;
    more(f)->cb_next = NULL;
    if (ex->cb_tail != NULL)
        more(ex->cb_tail)->cb_next = f;
    else
        ex->cb_head = f;
    ex->cb_tail = f;
    ex->cb_due++;
}

/* Runs the callbacks due, one at a time, outside the lock. */
static void run_callbacks(pk_exec *ex) {
    xstate *x = &ex->x;
    if (ex->in_callbacks)
        return;
    ex->in_callbacks = 1;
    lock_x(x);
    while (ex->cb_head != NULL) {
        pk_future *f = ex->cb_head;
        ex->cb_head = more(f)->cb_next;
        ex->cb_due--;
        if (ex->cb_head == NULL)
            ex->cb_tail = NULL;
        int freed = f->user_freed;
        f->cb_queued = 0; /* callbacks set again later run again */
        pthread_mutex_unlock(&x->mu);
        if (!freed) {
            int ok = f->rc == 0 && f->err == NULL;
            pk_future_fn fn = ok ? more(f)->on_done : more(f)->on_error;
            if (fn != NULL)
                fn(f, more(f)->cb_arg);
        }
        lock_x(x);
        future_release(f);
    }
    pthread_mutex_unlock(&x->mu);
    ex->in_callbacks = 0;
}

/* The rank and thread a top-level task must run on when an armed fault names
 * one of its numbers (else rank -1, thread -1). */
static void fault_place(const pk_exec *ex, const task *t, int *rank, int *thread) {
    const pk__fault *f = &ex->x.ctx->fault;
    *rank = -1;
    *thread = -1;
    if (!f->armed || f->alloc || f->task < t->num || f->task >= t->num + t->count)
        return;
    if (f->kernel[0] != '\0' && strcmp(f->kernel, "exec") != 0)
        return;
    *rank = f->rank >= 0 && f->rank < ex->x.nranks ? f->rank : -1;
    if (f->thread >= 0) {
        int r = *rank >= 0 ? *rank : 0;
        *rank = r;
        *thread = f->thread < ex->threads_of[r] ? f->thread : 0;
    }
}

/* Local workers of rank 0 that run tasks: its threads but the submitter's; the
 * submitter itself when nobody else could. */
static int local_workers(const pk_exec *ex) {
    const xstate *x = &ex->x;
    if (x->nthreads > 1)
        return x->nthreads - 1;
    int others = 0;
    for (int r = 1; r < x->nranks && remote(x); r++)
        others += ex->threads_of[r];
    return others == 0 ? 1 : 0;
}

/* Tasks rank r holds at least when there are enough: `prefetch` per thread. */
static int64_t base_of(const pk_exec *ex, int r) {
    return (int64_t)ex->threads_of[r] * ex->prefetch;
}

/* Rank r holds d more tasks (under x->mu); below_base follows. */
static void out_add(pk_exec *ex, int r, int64_t d) {
    int was = ex->out_at[r] < base_of(ex, r);
    ex->out_at[r] += d;
    ex->below_base += (ex->out_at[r] < base_of(ex, r)) - was;
}

/* Hands out pending tasks (under x->mu); messages built into per-rank buffers. */
static void dispatch(pk_exec *ex, buf *batches, int *nbatch) {
    xstate *x = &ex->x;
    int lw = local_workers(ex);
    while (ex->pend_head != NULL) {
        pk_future *f = ex->pend_head;
        task *t = f->t;
        int frank, fthread;
        fault_place(ex, t, &frank, &fthread);
        int target = -1;
        if (frank >= 0) {
            target = frank;
            t->pin = fthread;
        } else if (lw > 0 && (!remote(x) || ex->local_out < (int64_t)lw * ex->prefetch)) {
            target = 0;
        } else if (remote(x)) {
            /* in turn, from where the last call left off: first a rank
             * short of its `prefetch` per thread, then one with room in the
             * share it was let grow, so that no rank holds extra while
             * another lacks its due */
            int n1 = x->nranks - 1;
            for (int pass = ex->below_base > 0 ? 0 : 1; pass < 2 && target < 0; pass++)
                for (int k = 0; k < n1 && target < 0; k++) {
                    int r = 1 + (ex->next_rank - 1 + k) % n1;
                    if (ex->out_at[r] < (pass == 0 ? base_of(ex, r) : ex->window[r]))
                        target = r;
                }
            if (target > 0)
                ex->next_rank = target % n1 + 1;
        }
        if (target < 0)
            break;
        ex->pend_head = more(f)->pend_next;
        if (ex->pend_head == NULL)
            ex->pend_tail = NULL;
        ex->pending--;
        more(f)->pend_next = NULL;
        if (target == 0) {
            if (x->nthreads == 1 || t->pin >= x->nthreads)
                t->pin = 0; /* the submitter is rank 0's only thread */
            ex->local_out++;
            enqueue(x, t);
        } else {
            f->t = NULL;
            atomic_store_explicit(&f->state, F_REMOTE, memory_order_relaxed);
            out_add(ex, target, 1);
            if (batches == NULL || pack_task(&batches[target], t) != 0)
                ex->error = PK_ENOMEM;
            else
                nbatch[target]++;
            task_free(t);
        }
    }
}

/* Short tasks: results that come back within WINDOW_FAST of the last tasks
 * sent, while the rank held all it could and more wait, double what the rank
 * may hold (up to WINDOW_MAX per thread), so that many go in one message and
 * the rank never waits for the next; results that take WINDOW_SLOW bring it
 * back to `prefetch` per thread, so that long tasks stay spread over the
 * ranks. (Under x->mu.) */
enum { WINDOW_MAX = 64 };
#define WINDOW_FAST 200e-6
#define WINDOW_SLOW 10e-3

static void adapt_window(pk_exec *ex, int r) {
    int64_t base = base_of(ex, r);
    int64_t top = (int64_t)ex->threads_of[r] * WINDOW_MAX;
    double dt = pk__now() - ex->sent_at[r];
    if (dt < WINDOW_FAST && ex->out_at[r] >= ex->window[r] && ex->pend_head != NULL)
        ex->window[r] = 2 * ex->window[r] < top ? 2 * ex->window[r] : top;
    else if (dt > WINDOW_SLOW)
        ex->window[r] = base;
}

/* Takes in a batch of results from rank `from` (under x->mu). */
static int take_results(pk_exec *ex, int from, const char *p, size_t len) {
    xstate *x = &ex->x;
    if (ex->adapt && from > 0 && from < x->nranks)
        adapt_window(ex, from);
    rd r = {p, len};
    while (r.left > 0) {
        int64_t key, num;
        int32_t head[4];
        uint64_t dlen;
        int rc = rd_get(&r, &key, sizeof key);
        rc = rc ? rc : rd_get(&r, &num, sizeof num);
        rc = rc ? rc : rd_get(&r, head, sizeof head);
        rc = rc ? rc : rd_get(&r, &dlen, sizeof dlen);
        if (rc != 0 || (size_t)head[3] > r.left || dlen > r.left - (size_t)head[3])
            return PK_EBACKEND;
        char msg[sizeof((pk_error_info *)0)->message];
        size_t ml = (size_t)head[3] < sizeof msg - 1 ? (size_t)head[3] : sizeof msg - 1;
        memcpy(msg, r.p, ml);
        msg[ml] = '\0';
        r.p += head[3];
        r.left -= (size_t)head[3];
        const char *data = r.p;
        r.p += dlen;
        r.left -= (size_t)dlen;
        if (from > 0 && from < x->nranks)
            out_add(ex, from, -1);
        if (key < 0 || key >= ex->cap_byid || ex->byid[key] == NULL)
            continue;
        pk_future *f = ex->byid[key];
        outcome o;
        memset(&o, 0, sizeof o);
        o.rc = head[0];
        o.rank = head[1];
        o.thread = head[2];
        o.num = num;
        o.msg = msg;
        if (dlen > 0) {
            o.data.p = malloc((size_t)dlen);
            if (o.data.p == NULL)
                return PK_ENOMEM;
            memcpy(o.data.p, data, (size_t)dlen);
            o.data.len = o.data.cap = (size_t)dlen;
        }
        deliver_local(x, f, more(f)->own.chunk, &o);
        free(o.data.p);
    }
    return 0;
}

static void cancel_pending(pk_exec *ex);
static void tell_all(pk_exec *ex, int tag);

/* Moves messages and tasks along: the submitter's part of every executor
 * call. In its waits (may_run) it runs a task when the submitter is the only
 * worker, or one pinned to it. Runs the callbacks due. Returns how much moved
 * (messages in, tasks out or run). */
static int pump(pk_exec *ex, int may_run) {
    xstate *x = &ex->x;
    int R = remote(x) ? x->nranks : 1;
    buf batches_local[4];
    buf *batches = R <= 4 ? batches_local : calloc((size_t)R, sizeof *batches);
    int nb_local[4];
    int *nbatch = R <= 4 ? nb_local : calloc((size_t)R, sizeof *nbatch);
    if (batches == NULL || nbatch == NULL) {
        ex->error = PK_ENOMEM;
        if (R > 4) {
            free(batches);
            free(nbatch);
        }
        return 0;
    }
    memset(batches, 0, sizeof *batches * (size_t)R);
    memset(nbatch, 0, sizeof *nbatch * (size_t)R);
    int activity = 0;
    /* messages in */
    for (int guard = 0; R > 1 && guard < 64; guard++) {
        int from = -1, tag = 0;
        void *msg = NULL;
        size_t len = 0;
        int got = x->ctx->backend->msg_poll(x->ctx, ex->chan, &from, &tag, &msg, &len);
        if (got < 0) {
            ex->error = got;
            break;
        }
        if (got == 0)
            break;
        activity++;
        lock_x(x);
        if (tag == TAG_RESULTS && take_results(ex, from, msg, len) != 0)
            ex->error = PK_EBACKEND;
        pthread_mutex_unlock(&x->mu);
        free(msg);
    }
    lock_x(x);
    int tell_cancel = 0;
    if (ex->failed) {
        cancel_pending(ex);
        tell_cancel = !ex->cancel_told;
        ex->cancel_told = 1;
    }
    dispatch(ex, batches, nbatch);
    /* the submitter runs a task when it is the only worker, or one pinned to it */
    task *mine = NULL;
    if (may_run && local_workers(ex) > 0 && x->nthreads == 1)
        mine = take_any(x, 0);
    else if (may_run)
        mine = take_pinned_to(x, 0);
    if (mine != NULL) {
        mark_running(x, mine);
    }
    pthread_mutex_unlock(&x->mu);
    double now = R > 1 ? pk__now() : 0;
    for (int r = 1; r < R; r++) {
        activity += nbatch[r];
        if (nbatch[r] > 0 && send_buf(ex, r, TAG_TASKS, &batches[r]) != 0)
            ex->error = PK_EBACKEND;
        if (nbatch[r] > 0)
            ex->sent_at[r] = now; /* read under x->mu: written by this thread only */
    }
    if (tell_cancel)
        tell_all(ex, TAG_CANCEL);
    if (R > 4) {
        free(batches);
        free(nbatch);
    }
    if (mine != NULL) {
        pk_worker w;
        worker_of(x, &w, 0);
        execute(x, mine, &w);
        activity++;
    }
    run_callbacks(ex);
    return activity;
}

/* Cancels every top-level task not started: the pending ones and those in
 * this process's queue (under x->mu). */
static void cancel_pending(pk_exec *ex) {
    xstate *x = &ex->x;
    drain_ring(x);
    while (ex->pend_head != NULL) {
        pk_future *f = ex->pend_head;
        ex->pend_head = more(f)->pend_next;
        task_free(f->t);
        f->t = NULL;
        ex->pending--;
        future_cancel_now(x, f);
    }
    ex->pend_tail = NULL;
    task *prev = NULL, *t = x->qhead;
    while (t != NULL) {
        task *next = t->next;
        if (t->fut != NULL && !t->fut->nested) {
            unlink_task(x, prev, t);
            ex->local_out--;
            pk_future *f = t->fut;
            task_free(t);
            future_cancel_now(x, f);
        } else {
            prev = t;
        }
        t = next;
    }
}

static void tell_all(pk_exec *ex, int tag) {
    xstate *x = &ex->x;
    for (int r = 1; remote(x) && r < x->nranks; r++) {
        buf b = {0};
        if (send_buf(ex, r, tag, &b) != 0)
            ex->error = PK_EBACKEND;
    }
}

static int is_done(pk_exec *ex, void *arg);

/* Waits (the submitter) until done() says so, or the deadline (< 0: none):
 * 0 or PK_ETIMEDOUT. Pumps all along; between pumps sleeps on the done
 * condition, briefly when messages may come. */
static int submitter_wait(pk_exec *ex, int (*done)(pk_exec *ex, void *arg), void *arg,
                          double seconds) {
    xstate *x = &ex->x;
    double deadline = seconds >= 0 ? pk__now() + seconds : -1;
    poller pl;
    poller_reset(&pl);
    for (;;) {
        if (pump(ex, 1) > 0)
            poller_reset(&pl); /* results came or tasks went: more will */
        lock_x(x);
        harvest(x);
        int ok = done(ex, arg);
        if (!ok && ex->error == 0) {
            double left = deadline >= 0 ? deadline - pk__now() : 1.0;
            if (left <= 0) {
                pthread_mutex_unlock(&x->mu);
                return PK_ETIMEDOUT;
            }
            /* a task the submitter must run itself is not waited for */
            int mine =
                (x->qhead != NULL || !ring_empty(x)) && (local_workers(ex) > 0 && x->nthreads == 1);
            if (!mine) {
                double t = remote(x) ? poller_nap(&pl) : 0.05;
                if (t > 0) {
                    t = t < left ? t : left;
                    if (x->dq != NULL) { /* see run_from_ring */
                        atomic_fetch_add(&x->dq_sleepers, 1);
                        if (!pk__sleeper_fence(x->asym) && t > 1e-3)
                            t = 1e-3; /* unfenced: look again soon */
                        harvest(x);
                    }
                    if (!done(ex, arg))
                        submitter_sleep(x, done == is_done ? arg : NULL, t);
                    if (x->dq != NULL)
                        atomic_fetch_sub(&x->dq_sleepers, 1);
                } else {
                    pthread_mutex_unlock(&x->mu);
                    sched_yield();
                    lock_x(x);
                }
            }
            ok = done(ex, arg);
        }
        pthread_mutex_unlock(&x->mu);
        if (ok || ex->error != 0)
            return 0;
        if (deadline >= 0 && pk__now() >= deadline)
            return PK_ETIMEDOUT;
    }
}

/* ---- ranks other than 0: serving ---- */

static int serve(xstate *x, void *chan) {
    pk_ctx *ctx = x->ctx;
    lock_x(x);
    x->serving = 1;
    pthread_mutex_unlock(&x->mu);
    int stop = 0, rc = 0;
    pk_worker w;
    worker_of(x, &w, 0);
    poller pl;
    poller_reset(&pl);
    double last_run = 1; /* seconds the main thread's last task took */
    for (;;) {
        /* messages in */
        for (;;) {
            int from = -1, tag = 0;
            void *msg = NULL;
            size_t len = 0;
            int got = ctx->backend->msg_poll(ctx, chan, &from, &tag, &msg, &len);
            if (got < 0) {
                rc = got;
                stop = 1;
                break;
            }
            if (got == 0)
                break;
            poller_reset(&pl);
            lock_x(x);
            if (tag == TAG_TASKS) {
                rd r = {msg, len};
                while (r.left > 0) {
                    task *t = NULL;
                    int u = unpack_task(&r, &t);
                    if (u != 0) {
                        rc = u;
                        break;
                    }
                    if (t->fn < 0 || t->fn >= x->nreg) {
                        task_free(t);
                        rc = PK_EBACKEND;
                        break;
                    }
                    if (t->pin >= x->nthreads)
                        t->pin = 0;
                    enqueue(x, t);
                }
            } else if (tag == TAG_CANCEL) {
                /* drop rank 0's tasks not started: their results say cancelled */
                task *prev = NULL, *t = x->qhead;
                while (t != NULL) {
                    task *next = t->next;
                    if (t->fut == NULL) {
                        unlink_task(x, prev, t);
                        outcome o;
                        memset(&o, 0, sizeof o);
                        o.rc = PK_ECANCELED;
                        o.rank = x->rank;
                        o.thread = -1;
                        o.num = t->num;
                        o.msg = (char *)"cancelled before it started";
                        complete(x, t, &o);
                        task_free(t);
                    } else {
                        prev = t;
                    }
                    t = next;
                }
            } else if (tag == TAG_STOP) {
                stop = 1;
            }
            pthread_mutex_unlock(&x->mu);
            free(msg);
        }
        /* results out; a main thread that runs the tasks itself keeps running
         * queued ones a moment before sending, so that short tasks' results
         * go back many to a message */
        lock_x(x);
        int hold = x->nstarted == 0 && x->qhead != NULL && x->outbox.len > 0 && !stop &&
                   last_run < HOLD_TASK && pk__now() - x->outbox_since < BATCH_HOLD;
        buf out = {0};
        if (!hold) {
            out = x->outbox;
            memset(&x->outbox, 0, sizeof x->outbox);
            x->outbox_count = 0;
        }
        int idle = x->qhead == NULL && x->running == 0;
        /* the main thread runs no task: it would not hear messages meanwhile;
         * it does when no thread could start */
        task *t = x->nstarted == 0 && x->qhead != NULL ? take(x, 0) : NULL;
        if (t != NULL) {
            mark_running(x, t);
        }
        pthread_mutex_unlock(&x->mu);
        if (out.len > 0 && ctx->backend->msg_send(ctx, chan, 0, TAG_RESULTS, out.p, out.len) != 0)
            rc = PK_EBACKEND;
        else if (out.len == 0)
            free(out.p);
        if (t != NULL) {
            /* short tasks run on, up to RUN_ON, before the next poll: a
             * poll costs more than such a task */
            double t0 = pk__now(), start = t0, now = t0;
            for (;;) {
                execute_hold(x, t, &w);
                now = pk__now();
                last_run = now - t0;
                t = last_run < HOLD_TASK && now - start < RUN_ON && !x->cancel_all &&
                            x->qhead != NULL
                        ? take(x, 0)
                        : NULL;
                if (t == NULL)
                    break;
                mark_running(x, t);
                pthread_mutex_unlock(&x->mu);
                t0 = now;
            }
            pthread_mutex_unlock(&x->mu);
            poller_reset(&pl);
            continue;
        }
        if (out.len > 0)
            poller_reset(&pl);
        if (stop && idle && out.len == 0)
            break;
        double nap = poller_nap(&pl);
        lock_x(x);
        if (x->outbox.len == 0 && (x->qhead == NULL || x->nstarted > 0)) {
            if (nap > 0) {
                wait_work(x, nap);
            } else {
                pthread_mutex_unlock(&x->mu);
                sched_yield();
                lock_x(x);
            }
        }
        pthread_mutex_unlock(&x->mu);
    }
    return rc;
}

/* ---- opening and closing ---- */

/* FNV-1a over the sorted names: equal on every rank that registered the same. */
static uint64_t names_hash(const xstate *x) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < x->nreg; i++) {
        for (const char *c = x->reg[i].name; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

/* Every rank has the same names: rank 0's hash against each rank's. */
static int same_names(pk_ctx *ctx, const xstate *x) {
    uint64_t mine = names_hash(x), root = mine;
    int rc = ctx->backend->bcast != NULL ? ctx->backend->bcast(ctx, &root, sizeof root) : 0;
    if (rc == 0 && root != mine)
        rc = pk__set_error(ctx, PK_EINVAL,
                           "rank %d registered other task names than rank 0 (%d names here): "
                           "every process registers the same before pk_exec_open",
                           ctx->rank, x->nreg);
    return ctx->backend->agree(ctx, rc);
}

int pk_exec_open(pk_ctx *ctx, pk_exec **out, const pk_exec_opts *opts) {
    if (out != NULL)
        *out = NULL;
    if (ctx == NULL)
        return PK_EINVAL;
    int rc = 0;
    if (out == NULL)
        rc = pk__set_error(ctx, PK_EINVAL, "pk_exec_open: no output");
    else if (opts != NULL && opts->prefetch < 0)
        rc = pk__set_error(ctx, PK_EINVAL, "pk_exec_open: prefetch %d: need 0 or more",
                           opts->prefetch);
    rc = ctx->backend->agree(ctx, rc);
    if (rc != 0)
        return rc;
    pk_exec *ex = calloc(1, sizeof *ex);
    rc = ex == NULL ? pk__set_error(ctx, PK_ENOMEM, "pk_exec_open: no memory") : 0;
    if (rc == 0)
        rc = xstate_init(&ex->x, ctx);
    rc = ctx->backend->agree(ctx, rc);
    if (rc != 0) {
        if (ex != NULL && ex->x.reg != NULL)
            xstate_destroy(&ex->x);
        if (my_exec == ex)
            my_exec = NULL;
        free(ex);
        return rc;
    }
    xstate *x = &ex->x;
    rc = same_names(ctx, x);
    int ranks = remote(x);
    if (rc == 0 && ranks)
        rc = ctx->backend->agree(ctx, ctx->backend->msg_open(ctx, &ex->chan));
    if (rc != 0) {
        xstate_destroy(x);
        if (my_exec == ex)
            my_exec = NULL;
        free(ex);
        return rc;
    }
    if (x->rank == 0) {
        x->ex = ex;
        my_exec = ex;
    }
    ex->submitter = pthread_self();
    ex->fail_fast = opts != NULL && opts->fail_fast;
    ex->sub_spin = x->spin;
    if (ex->fail_fast) /* a failure must stop the others taking tasks: see admit() */
        atomic_store(&x->slow, 1);
    ex->prefetch = opts != NULL && opts->prefetch > 0 ? opts->prefetch : 2;
    int R = x->nranks;
    ex->threads_of = calloc((size_t)R, sizeof *ex->threads_of);
    ex->out_at = calloc((size_t)R, sizeof *ex->out_at);
    ex->window = calloc((size_t)R, sizeof *ex->window);
    ex->sent_at = calloc((size_t)R, sizeof *ex->sent_at);
    ex->adapt = opts == NULL || opts->prefetch == 0;
    rc = ex->threads_of == NULL || ex->out_at == NULL || ex->window == NULL || ex->sent_at == NULL
             ? PK_ENOMEM
             : 0;
    /* rank 0: threads 1.. (0 submits); others of one thread: the main thread
     * runs the tasks between its polls; others: every thread, and the main one
     * only moves messages; fewer when some cannot start */
    start_threads(x, x->rank == 0 || !ranks || x->nthreads == 1 ? 1 : 0);
    /* every other rank tells rank 0 how many threads serve there, and serves
     * whatever happened here, so that rank 0's close finds it */
    if (ranks && x->rank != 0) {
        int32_t n = x->nthreads;
        void *b = malloc(sizeof n);
        if (b != NULL) {
            memcpy(b, &n, sizeof n);
            rc = ctx->backend->msg_send(ctx, ex->chan, 0, TAG_HELLO, b, sizeof n);
        } else {
            rc = PK_ENOMEM;
        }
    }
    if (rc == 0 && x->rank == 0) {
        ex->threads_of[0] = x->nthreads;
        for (int heard = 1; ranks && heard < R && rc == 0;) {
            int from = -1, tag = 0;
            void *msg = NULL;
            size_t len = 0;
            int got = ctx->backend->msg_poll(ctx, ex->chan, &from, &tag, &msg, &len);
            if (got < 0)
                rc = got;
            if (got > 0 && tag == TAG_HELLO && len == sizeof(int32_t) && from > 0 && from < R) {
                int32_t n;
                memcpy(&n, msg, sizeof n);
                ex->threads_of[from] = n > 0 ? n : 1;
                heard++;
            }
            free(msg);
        }
        for (int r = 0; rc == 0 && r < R; r++)
            ex->window[r] = base_of(ex, r);
        ex->below_base = R - 1;
        ex->next_rank = 1;
    }
    if (rc != 0)
        pk__set_error(ctx, rc, "pk_exec_open: %s", pk_strerror(rc));
    if (x->rank == 0) {
        x->ex = ex;
        if (rc == 0) {
            *out = ex;
            return 0;
        }
        /* the others serve until told to stop */
        tell_all(ex, TAG_STOP);
        stop_threads(x);
        if (ranks)
            ctx->backend->msg_close(ctx, ex->chan);
        rc = ctx->backend->agree(ctx, rc);
        xstate_destroy(x);
        free(ex->threads_of);
        free(ex->out_at);
        free(ex->window);
        free(ex->sent_at);
        if (my_exec == ex)
            my_exec = NULL;
        free(ex);
        return rc;
    }
    int served = serve(x, ex->chan);
    rc = rc != 0 ? rc : served;
    stop_threads(x);
    /* nested tasks the threads left: none, they drain before stopping */
    if (ranks)
        ctx->backend->msg_close(ctx, ex->chan);
    if (rc != 0)
        pk__set_error(ctx, rc, "executor on rank %d: %s", ctx->rank, pk_strerror(rc));
    rc = ctx->backend->agree(ctx, rc);
    xstate_destroy(x);
    free(ex->threads_of);
    free(ex->out_at);
    free(ex->window);
    free(ex->sent_at);
    if (my_exec == ex)
        my_exec = NULL;
    free(ex);
    return rc;
}

static int all_done(pk_exec *ex, void *arg) {
    (void)arg;
    return ex->completed == ex->submitted;
}

static int quiet(pk_exec *ex, void *arg) {
    (void)arg;
    return ex->x.qhead == NULL && ring_empty(&ex->x) && ex->x.running == 0;
}

int pk_exec_close(pk_exec *ex, int how) {
    if (ex == NULL)
        return 0;
    xstate *x = &ex->x;
    pk_ctx *ctx = x->ctx;
    if (how == PK_EXEC_CANCEL) {
        lock_x(x);
        cancel_pending(ex);
        pthread_mutex_unlock(&x->mu);
        tell_all(ex, TAG_CANCEL);
    }
    submitter_wait(ex, all_done, NULL, -1);
    tell_all(ex, TAG_STOP);
    /* nested tasks still queued here run before the threads stop */
    submitter_wait(ex, quiet, NULL, -1);
    stop_threads(x);
    run_callbacks(ex);
    if (remote(x))
        ctx->backend->msg_close(ctx, ex->chan);
    int rc = ex->error;
    if (rc != 0)
        pk__set_error(ctx, rc, "executor: %s", pk_strerror(rc));
    rc = ctx->backend->agree(ctx, rc);
    /* futures outlive the executor: they no longer point into it */
    slabs_close(ex);
    free(ex->byid);
    xstate_destroy(x);
    free(ex->threads_of);
    free(ex->out_at);
    free(ex->window);
    free(ex->sent_at);
    if (my_exec == ex)
        my_exec = NULL;
    free(ex);
    return rc;
}

int64_t pk_exec_submitted(const pk_exec *ex) {
    return ex == NULL ? 0 : ex->submitted;
}

int64_t pk_exec_completed(const pk_exec *ex) {
    if (ex == NULL)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&ex->x.mu);
    harvest((xstate *)&ex->x);
    int64_t c = ex->completed;
    pthread_mutex_unlock((pthread_mutex_t *)&ex->x.mu);
    return c;
}

/* ---- submitting ---- */

/* Makes a future with its task embedded and the argument copied (outside the
 * lock); NULL when out of memory. */
static pk_future *future_with_task(xstate *x, int fn, int count, int chunk, size_t arg_size,
                                   const void *arg, size_t len, int nested) {
    pk_future *f = future_new(x, 0, nested);
    if (f == NULL)
        return NULL;
    task *t = &more(f)->own;
    zero_line(t);
    t->embedded = 1;
    t->arg = len > 0 ? arg_room(t, len) : NULL;
    if (len > 0 && t->arg == NULL) {
        future_drop(f);
        return NULL;
    }
    if (len > 0)
        memcpy(t->arg, arg, len);
    atomic_store_explicit(&f->refs, 2, memory_order_relaxed); /* the owner's and the task's */
    t->fn = fn;
    t->count = count;
    t->chunk = chunk;
    t->pin = -1;
    if (chunk)
        t->arg_size = arg_size; /* its own line: a plain task leaves it alone */
    t->len = len;
    t->fut = f;
    f->t = t;
    return f;
}

/* A top-level task. Without other ranks it goes straight to this process's
 * queue; with them, to the pending list for the next pump. *callbacks: some
 * are due. */
static int submit_task(pk_exec *ex, int fn, int count, int chunk, size_t arg_size, const void *arg,
                       size_t len, pk_future **out, int *callbacks) {
    xstate *x = &ex->x;
    if (ex->failed)
        return pk__ctx_note(x->ctx, PK_ECLOSED,
                            "the executor stopped at a task's failure "
                            "(fail-fast): no more submissions");
    if (!remote(x)) {
        /* one process: a plain task goes in its ring slot, a chunk whole in
         * its future (see rslot); numbered and pushed without the lock (only
         * the submitter touches next_num and submitted) */
        pk_future *f;
        rtask rt = {.fn = -1};
        if (!chunk && len <= UINT32_MAX) { /* (longer: whole in the future, as a chunk) */
            f = future_new(x, 0, 0);
            rt.arg = f == NULL || len == 0              ? NULL
                     : len <= sizeof more(f)->own.small ? more(f)->own.small
                                                        : malloc(len);
            if (f != NULL && len > 0 && rt.arg == NULL) {
                future_drop(f);
                f = NULL;
            }
            if (f != NULL) {
                if (len > 0)
                    memcpy(rt.arg, arg, len);
                atomic_store_explicit(&f->refs, 2, memory_order_relaxed); /* owner, task */
                rt.fn = fn;
                rt.len = (uint32_t)len;
            }
        } else {
            f = future_with_task(x, fn, count, chunk, arg_size, arg, len, 0);
        }
        if (f == NULL)
            return pk__ctx_note(x->ctx, PK_ENOMEM, "pk_exec_submit: no memory");
        f->num = rt.num = ex->next_num;
        if (rt.fn < 0)
            more(f)->own.num = f->num;
        rt.f = f;
        ex->next_num += count;
        ex->submitted++;
        atomic_store_explicit(&f->state, F_QUEUED, memory_order_relaxed);
        int64_t tail = atomic_load_explicit(&x->ring_tail, memory_order_relaxed);
        ring *r = atomic_load_explicit(&x->ring, memory_order_relaxed);
        if (x->ring_room == 0) {
            /* (acquire: a worker read the slots below the head before it moved it) */
            x->ring_room =
                r->mask + 1 - (tail - atomic_load_explicit(&x->ring_head, memory_order_acquire));
            if (x->ring_room == 0) {
                ring_full(x);
                r = atomic_load_explicit(&x->ring, memory_order_relaxed);
            }
        }
        slot_put(&r->slot[tail & r->mask], &rt);
        x->ring_room--;
        atomic_store_explicit(&x->ring_tail, tail + 1, memory_order_release);
        pk__mover_fence(x->asym); /* then reads sleepers: see wait_work */
        if (atomic_load_explicit(&x->sleepers, memory_order_relaxed) > 0) { /* wake one */
            lock_x(x);
            wake_workers(x, 1, 0);
            pthread_mutex_unlock(&x->mu);
        }
        if (callbacks != NULL)
            *callbacks = atomic_load(&ex->cb_due) > 0;
        *out = f;
        return 0;
    }
    pk_future *f = future_with_task(x, fn, count, chunk, arg_size, arg, len, 0);
    if (f == NULL)
        return pk__ctx_note(x->ctx, PK_ENOMEM, "pk_exec_submit: no memory");
    lock_x(x);
    int64_t num = ex->next_num;
    if (num + count > ex->cap_byid) {
        int64_t cap = ex->cap_byid ? ex->cap_byid : 1024;
        while (cap < num + count)
            cap *= 2;
        pk_future **b = realloc(ex->byid, (size_t)cap * sizeof *b);
        if (b == NULL) {
            pthread_mutex_unlock(&x->mu);
            task_free(f->t);
            future_drop(f);
            return pk__ctx_note(x->ctx, PK_ENOMEM, "pk_exec_submit: no memory");
        }
        memset(b + ex->cap_byid, 0, (size_t)(cap - ex->cap_byid) * sizeof *b);
        ex->byid = b;
        ex->cap_byid = cap;
    }
    f->num = num;
    more(f)->own.num = num;
    ex->byid[num] = f;
    more(f)->pend_next = NULL;
    ex->next_num += count;
    ex->submitted++;
    if (ex->pend_tail != NULL)
        more(ex->pend_tail)->pend_next = f;
    else
        ex->pend_head = f;
    ex->pend_tail = f;
    ex->pending++;
    if (callbacks != NULL)
        *callbacks = ex->cb_head != NULL;
    pthread_mutex_unlock(&x->mu);
    *out = f;
    return 0;
}

/* After a submission with other ranks: hand out now when a worker is short of
 * tasks (a rank, or rank 0's own threads, holding fewer than `prefetch` per
 * thread) or SUBMIT_BATCH wait; else the task waits for the next call, with
 * the ones after it, to go in one message. Every worker still holds its
 * `prefetch`, as between calls. */
enum { SUBMIT_BATCH = 32 };

static int worth_pumping(pk_exec *ex) {
    xstate *x = &ex->x;
    pthread_mutex_lock(&x->mu);
    int lw = local_workers(ex);
    int worth = ex->pending >= SUBMIT_BATCH || ex->failed ||
                (lw > 0 && ex->local_out < (int64_t)lw * ex->prefetch);
    for (int r = 1; !worth && r < x->nranks; r++)
        worth = ex->out_at[r] < base_of(ex, r);
    pthread_mutex_unlock(&x->mu);
    return worth;
}

int pk_exec_submit(pk_exec *ex, const char *name, const void *arg, size_t len, pk_future **future) {
    if (future != NULL)
        *future = NULL;
    if (ex == NULL || future == NULL || (arg == NULL && len > 0))
        return PK_EINVAL;
    if (current_call != NULL)
        return pk__ctx_note(ex->x.ctx, PK_EPERM, "pk_exec_submit from a task: use pk_call_submit");
    if (!on_submitter(&ex->x))
        return pk__ctx_note(ex->x.ctx, PK_EPERM,
                            "pk_exec_submit from a thread other than the submitter "
                            "(the one pk_exec_open returned the executor to)");
    int fn = find_fn(&ex->x, name);
    if (fn < 0)
        return pk__ctx_note(ex->x.ctx, fn, "no task registered as \"%s\"",
                            name != NULL ? name : "(null)");
    int callbacks = 0;
    int rc = submit_task(ex, fn, 1, 0, len, arg, len, future, &callbacks);
    if (rc == 0 && remote(&ex->x) && worth_pumping(ex))
        pump(ex, 0);
    else if (callbacks)
        run_callbacks(ex);
    return rc;
}

int pk_call_submit(pk_call *call, const char *name, const void *arg, size_t len,
                   pk_future **future) {
    if (future != NULL)
        *future = NULL;
    if (call == NULL || future == NULL || (arg == NULL && len > 0))
        return PK_EINVAL;
    xstate *x = call->x;
    int fn = find_fn(x, name);
    if (fn < 0)
        return pk__ctx_note(x->ctx, fn, "no task registered as \"%s\"",
                            name != NULL ? name : "(null)");
    pk_future *f = future_with_task(x, fn, 1, 0, len, arg, len, 1);
    if (f == NULL)
        return pk__ctx_note(x->ctx, PK_ENOMEM, "pk_call_submit: no memory");
    lock_x(x);
    f->num = x->nested_next++;
    more(f)->own.num = f->num;
    enqueue(x, &more(f)->own);
    pthread_mutex_unlock(&x->mu);
    *future = f;
    return 0;
}

/* ---- futures ---- */

/* May the calling thread wait on f? The submitter on its futures, a task on
 * nested ones. */
static int check_waiter(const pk_future *f) {
    if (f->x == NULL)
        return 0; /* the executor is closed: f is done */
    if (!f->nested && current_call != NULL)
        return pk__ctx_note(f->x->ctx, PK_EPERM,
                            "a task waits on a future of the submitter's: it may wait only on "
                            "the futures of tasks it submitted (pk_call_submit)");
    return 0;
}

/* Is the future over (read unlocked)? */
static int is_over(const void *arg) {
    return atomic_load(&((pk_future *)arg)->state) == F_DONE;
}

/* ...or are outcomes waiting to be delivered (looked at every other call:
 * the counts are in the workers' lines)? */
static _Thread_local unsigned due_looks;

static int is_over_or_due(const void *arg) {
    return is_over(arg) || ((++due_looks & 1) == 0 && unharvested(((const pk_future *)arg)->x));
}

static int is_done(pk_exec *ex, void *arg) {
    (void)ex;
    return ((pk_future *)arg)->state == F_DONE;
}

/* Waits for a nested future; from a task (current_call), runs it inline if it
 * has not started. */
static int nested_wait(pk_future *f, double seconds) {
    xstate *x = f->x;
    double deadline = seconds >= 0 ? pk__now() + seconds : -1;
    lock_x(x);
    while (f->state != F_DONE) {
        if (current_call != NULL && f->state == F_QUEUED && f->t != NULL && unqueue(x, f->t)) {
            task *t = f->t;
            mark_running(x, t); /* t->fut is f */
            pthread_mutex_unlock(&x->mu);
            execute(x, t, current_call->w);
            lock_x(x);
            continue;
        }
        double left = deadline >= 0 ? deadline - pk__now() : 0.05;
        if (left <= 0) {
            pthread_mutex_unlock(&x->mu);
            return PK_ETIMEDOUT;
        }
        wait_done(x, left < 0.05 ? left : 0.05);
    }
    pthread_mutex_unlock(&x->mu);
    return 0;
}

int pk_future_wait(pk_future *f, double seconds) {
    if (f == NULL)
        return PK_EINVAL;
    int rc = check_waiter(f);
    if (rc != 0 || f->x == NULL)
        return rc;
    if (!f->nested && !remote(f->x)) {
        /* the submitter often waits on futures in the order it made them,
         * one slab slot apart: the first line of the one AHEAD waits on */
        pk_exec *ex = f->x->ex;
        ptrdiff_t stride = (const char *)f - (const char *)ex->waited_last;
        ex->waited_last = f;
        if (stride == 64 || stride == -64)
            pk__prefetch_write((const char *)f + AHEAD * stride); /* a hint: may be anything */
        /* a task of this process is often a moment from its end: watch it
         * before sleeping; done, and no callback due: no pump */
        /* (outcomes workers published are delivered here, to see f's) */
        for (int i = 0; i < WATCHES && f->x->nthreads > 1 &&
                        watch(f->x, is_over_or_due, f, &ex->sub_spin) && !is_over(f);
             i++) {
            lock_x(f->x);
            harvest(f->x);
            pthread_mutex_unlock(&f->x->mu);
        }
        if (atomic_load(&f->state) == F_DONE && atomic_load(&f->x->ex->cb_due) == 0)
            return 0;
    } else if (!f->nested && atomic_load(&f->state) == F_DONE &&
               atomic_load(&f->x->ex->cb_due) == 0 && !worth_pumping(f->x->ex)) {
        /* with ranks: done, no callback due, and no worker short of tasks
         * (the rule after a submission): a pump would only poll */
        return 0;
    }
    if (f->nested)
        return nested_wait(f, seconds);
    return submitter_wait(f->x->ex, is_done, f, seconds);
}

int pk_future_done(pk_future *f) {
    if (f == NULL)
        return 0;
    if (f->x != NULL && !f->nested && current_call == NULL)
        pump(f->x->ex, 0);
    if (f->x == NULL)
        return 1;
    lock_x(f->x);
    harvest(f->x);
    int d = f->state == F_DONE;
    pthread_mutex_unlock(&f->x->mu);
    return d;
}

int pk_future_result(pk_future *f, const void **data, size_t *len) {
    if (data != NULL)
        *data = NULL;
    if (len != NULL)
        *len = 0;
    if (f == NULL)
        return PK_EINVAL;
    int rc = pk_future_wait(f, -1);
    if (rc != 0)
        return rc;
    if (f->rc != 0)
        return f->rc;
    if (data != NULL)
        *data = f->len > 0 ? f->data : NULL;
    if (len != NULL)
        *len = f->len;
    return 0;
}

const pk_error_info *pk_future_error(const pk_future *f) {
    if (f == NULL || f->state != F_DONE || f->rc == 0)
        return NULL;
    return f->err;
}

int pk_future_cancel(pk_future *f) {
    if (f == NULL)
        return PK_EINVAL;
    xstate *x = f->x;
    if (x == NULL)
        return PK_EBUSY;
    lock_x(x);
    int rc = PK_EBUSY;
    if (f->state == F_PENDING && !f->nested && x->ex != NULL) {
        pk_exec *ex = x->ex;
        pk_future *prev = NULL;
        for (pk_future *p = ex->pend_head; p != NULL; prev = p, p = more(p)->pend_next) {
            if (p != f)
                continue;
            if (prev != NULL)
                more(prev)->pend_next = more(p)->pend_next;
            else
                ex->pend_head = more(p)->pend_next;
            if (ex->pend_tail == p)
                ex->pend_tail = prev;
            ex->pending--;
            task_free(f->t);
            f->t = NULL;
            future_cancel_now(x, f);
            rc = 0;
            break;
        }
    } else if (f->state == F_QUEUED && (drain_ring(x), f->t != NULL) && unqueue(x, f->t)) {
        task *t = f->t;
        if (!f->nested && x->ex != NULL)
            x->ex->local_out--;
        task_free(t);
        future_cancel_now(x, f);
        rc = 0;
    }
    pthread_mutex_unlock(&x->mu);
    return rc;
}

int64_t pk_future_task(const pk_future *f) {
    return f == NULL ? -1 : f->num;
}

void pk_future_free(pk_future *f) {
    if (f == NULL)
        return;
    xstate *x = f->x;
    if (x == NULL) {
        future_release(f);
        return;
    }
    if (!f->nested && !remote(x) && on_submitter(x) && atomic_load(&f->state) == F_DONE &&
        !f->cb_set) {
        /* one process, done, no callbacks: nothing a worker still reads but
         * the reference count */
        future_release(f);
        return;
    }
    lock_x(x);
    f->user_freed = 1;
    if (!f->nested && x->ex != NULL) {
        pk_exec *ex = x->ex;
        if (f->num < ex->cap_byid && f->state == F_DONE)
            ex->byid[f->num] = NULL;
    }
    future_release(f);
    pthread_mutex_unlock(&x->mu);
}

typedef struct any_arg {
    pk_future **fs;
    int n, index;
} any_arg;

static int any_done(pk_exec *ex, void *arg) {
    (void)ex;
    any_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        if (a->fs[i] != NULL && (a->fs[i]->x == NULL || a->fs[i]->state == F_DONE)) {
            a->index = i;
            return 1;
        }
    }
    return 0;
}

int pk_future_wait_any(pk_future **fs, int n, double seconds, int *index) {
    if (index != NULL)
        *index = -1;
    if (fs == NULL || n <= 0 || index == NULL)
        return PK_EINVAL;
    pk_future *first = NULL;
    for (int i = 0; i < n && first == NULL; i++)
        first = fs[i];
    if (first == NULL)
        return PK_EINVAL;
    any_arg a = {fs, n, -1};
    if (first->x == NULL || first->nested) {
        /* closed executor, or nested futures: poll them */
        double deadline = seconds >= 0 ? pk__now() + seconds : -1;
        for (;;) {
            xstate *x = first->x;
            if (x != NULL)
                lock_x(x);
            int ok = any_done(NULL, &a);
            if (x != NULL)
                pthread_mutex_unlock(&x->mu);
            if (ok) {
                *index = a.index;
                return 0;
            }
            if (deadline >= 0 && pk__now() >= deadline)
                return PK_ETIMEDOUT;
            if (current_call != NULL) /* run a nested one inline meanwhile */
                for (int i = 0; i < n; i++)
                    if (fs[i] != NULL && fs[i]->state == F_QUEUED) {
                        nested_wait(fs[i], 0);
                        break;
                    }
            struct timespec nap = {0, 100000};
            nanosleep(&nap, NULL);
        }
    }
    int rc = check_waiter(first);
    if (rc != 0)
        return rc;
    rc = submitter_wait(first->x->ex, any_done, &a, seconds);
    if (rc == 0)
        *index = a.index;
    return rc;
}

int pk_future_on_done(pk_future *f, pk_future_fn on_done, pk_future_fn on_error, void *arg) {
    if (f == NULL || f->nested)
        return PK_EINVAL;
    xstate *x = f->x;
    if (x == NULL)
        return PK_EINVAL;
    lock_x(x);
    more(f)->on_done = on_done;
    more(f)->on_error = on_error;
    more(f)->cb_arg = arg;
    f->cb_set = 1;
    if (f->state == F_DONE)
        queue_callbacks(x->ex, f);
    pthread_mutex_unlock(&x->mu);
    return 0;
}

/* ---- map ---- */

int pk_exec_map(pk_exec *ex, const char *name, const void *args, size_t arg_size, int64_t n,
                int max_in_flight, int chunk, pk_map_iter **it) {
    if (it != NULL)
        *it = NULL;
    if (ex == NULL || it == NULL || n < 0 || max_in_flight < 0 || chunk < 0 ||
        (args == NULL && n > 0 && arg_size > 0))
        return PK_EINVAL;
    if (current_call != NULL || !on_submitter(&ex->x))
        return pk__ctx_note(ex->x.ctx, PK_EPERM,
                            "pk_exec_map from a task or a thread other than the submitter");
    int fn = find_fn(&ex->x, name);
    if (fn < 0)
        return pk__ctx_note(ex->x.ctx, fn, "no task registered as \"%s\"",
                            name != NULL ? name : "(null)");
    pk_map_iter *m = calloc(1, sizeof *m);
    if (m == NULL)
        return PK_ENOMEM;
    int workers = 0;
    for (int r = 0; r < ex->x.nranks; r++)
        workers += ex->threads_of[r];
    m->ex = ex;
    m->name = ex->x.reg[fn].name;
    m->args = args;
    m->arg_size = arg_size;
    m->n = n;
    m->chunk = chunk > 0 ? chunk : 1;
    m->max_flight = max_in_flight > 0 ? max_in_flight : 2 * (workers > 0 ? workers : 1);
    m->ring = calloc((size_t)m->max_flight, sizeof *m->ring);
    if (m->ring == NULL) {
        free(m);
        return PK_ENOMEM;
    }
    *it = m;
    return 0;
}

/* Submits chunks while fewer than max_flight are out. */
static int map_fill(pk_map_iter *m) {
    pk_exec *ex = m->ex;
    int fn = find_fn(&ex->x, m->name);
    while (m->rcount < m->max_flight && m->next_submit < m->n) {
        int64_t k = m->n - m->next_submit < m->chunk ? m->n - m->next_submit : m->chunk;
        pk_future *f = NULL;
        int rc = submit_task(ex, fn, (int)k, 1, m->arg_size,
                             m->args + (size_t)m->next_submit * m->arg_size,
                             (size_t)k * m->arg_size, &f, NULL);
        if (rc != 0)
            return rc;
        m->ring[(m->rhead + m->rcount) % m->max_flight] = f;
        m->rcount++;
        m->next_submit += k;
    }
    pump(ex, 0);
    return 0;
}

int pk_map_next(pk_map_iter *m, const void **data, size_t *len, int *task_rc) {
    if (data != NULL)
        *data = NULL;
    if (len != NULL)
        *len = 0;
    if (task_rc != NULL)
        *task_rc = 0;
    if (m == NULL)
        return PK_EINVAL;
    if (m->next_yield >= m->n)
        return PK_ECLOSED;
    if (m->cur == NULL || m->cur_left == 0) {
        if (m->cur != NULL) {
            pk_future_free(m->cur);
            m->cur = NULL;
        }
        int rc = map_fill(m);
        if (rc != 0)
            return rc;
        pk_future *f = m->ring[m->rhead];
        m->rhead = (m->rhead + 1) % m->max_flight;
        m->rcount--;
        rc = pk_future_wait(f, -1);
        if (rc != 0) {
            pk_future_free(f);
            return rc;
        }
        m->cur = f;
        m->cur_left = more(f)->own.count;
        m->cur_rd = (rd){f->data, f->len};
        map_fill(m); /* keep the workers busy while this chunk is read */
    }
    pk_future *f = m->cur;
    m->cur_left--;
    m->next_yield++;
    if (f->rc != 0) { /* the chunk did not run: every part has its code */
        if (task_rc != NULL)
            *task_rc = f->rc;
        return 0;
    }
    int32_t rc32 = 0;
    uint64_t l = 0;
    if (rd_get(&m->cur_rd, &rc32, sizeof rc32) != 0 || rd_get(&m->cur_rd, &l, sizeof l) != 0 ||
        l > m->cur_rd.left)
        return PK_EBACKEND;
    if (task_rc != NULL)
        *task_rc = rc32;
    if (data != NULL)
        *data = l > 0 ? m->cur_rd.p : NULL;
    if (len != NULL)
        *len = (size_t)l;
    m->cur_rd.p += l;
    m->cur_rd.left -= (size_t)l;
    return 0;
}

void pk_map_free(pk_map_iter *m) {
    if (m == NULL)
        return;
    for (int i = 0; i < m->rcount; i++) {
        pk_future *f = m->ring[(m->rhead + i) % m->max_flight];
        pk_future_cancel(f);
        pk_future_free(f);
    }
    pk_future_free(m->cur);
    free(m->ring);
    free(m);
}

/* ---- inside a task ---- */

pk_worker *pk_call_worker(pk_call *call) {
    return call == NULL ? NULL : call->w;
}

int64_t pk_call_task(const pk_call *call) {
    return call == NULL ? -1 : call->num;
}

int pk_call_return(pk_call *call, const void *data, size_t len) {
    if (call == NULL || (data == NULL && len > 0))
        return PK_EINVAL;
    call->result.len = 0;
    int rc = buf_put(&call->result, data, len);
    call->has_result = rc == 0;
    return rc;
}

int pk_call_fail(pk_call *call, int code, const char *fmt, ...) {
    if (call == NULL)
        return code;
    if (fmt == NULL) {
        call->message[0] = '\0';
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
    return code;
}
