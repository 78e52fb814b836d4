/* Sharing primitives (parkit/sync.h), written once over a segment of memory that
 * every worker of the pool addresses: plain process memory on threads, an MPI
 * shared-memory window on the ranks of one node (the backend's segment_new). The
 * state of each primitive is a head of atomics in that segment, so the same code
 * serves threads and processes, and no MPI call is made after creation.
 *
 * Waiting. Every primitive has one 32-bit sequence word: whoever changes the
 * state in a way a waiter may care about bumps it and wakes the sleepers. A
 * waiter reads the word, tests its condition, and sleeps only while the word
 * still has the value it read (a futex on Linux, which works across processes
 * on shared memory; a short sleep elsewhere), so no wake-up is lost. A count of
 * sleepers lets a waker skip the system call when nobody sleeps.
 *
 * Errors. A pool call that fails breaks every primitive of its context
 * (pk__ctx_break_syncs, from the failing worker's process): the head's broken
 * flag is set and its sleepers woken, and since the head is shared, waiters on
 * every rank see it. A broken primitive stays broken. */
#define _DEFAULT_SOURCE /* syscall() */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core_internal.h"
#include "parkit/sync.h"

enum kind { K_LOCK = 1, K_SEM, K_EVENT, K_COND, K_BARRIER, K_SHARED };

/* The shared state of one primitive (at the start of its segment). */
typedef struct sync_head {
    _Atomic uint32_t seq;    /* bumped on every change a waiter may wait for */
    _Atomic uint32_t broken; /* a pool call failed */
    _Atomic uint32_t sleepers;
    _Atomic uint32_t state; /* lock: 0 free, 1 held */
    _Atomic int64_t owner;  /* lock: the holder's key, 0 none */
    _Atomic int64_t depth;  /* lock: times the holder took it (owner only) */
    _Atomic int64_t count;  /* sem: permits; event: flag; barrier: arrivals */
    _Atomic uint32_t round; /* barrier: completed rounds */
    uint32_t flags;         /* set at creation */
    int64_t max;            /* sem: bound (0: none); barrier: parties */
} sync_head;

enum { HEAD_BYTES = (sizeof(sync_head) + 63) / 64 * 64, SPINS = 2000 };

/* A primitive as one process sees it. Every public type starts with it. */
typedef struct pk__sync {
    pk_ctx *ctx;
    int kind;
    void *segment; /* the backend's handle, or the malloc'ed block */
    sync_head *h;
    char *data; /* pk_shared: the elements, after the head */
    size_t elem_size;
    int64_t count;
    struct pk__sync *lock; /* pk_cond: its lock */
} pk__sync;

struct pk_lock {
    pk__sync s;
};
struct pk_sem {
    pk__sync s;
};
struct pk_event {
    pk__sync s;
};
struct pk_cond {
    pk__sync s;
};
struct pk_barrier {
    pk__sync s;
};
struct pk_shared {
    pk__sync s;
};

/* ---- waiting and waking ---- */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Sleeps while *word == seen, at most `seconds`. */
static void sleep_on(_Atomic uint32_t *word, uint32_t seen, double seconds) {
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
#if defined(__linux__)
    /* not FUTEX_PRIVATE: the word may live in memory shared between processes */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, seen, &ts, NULL, 0);
#else
    (void)seen;
    struct timespec nap = {0, ts.tv_sec > 0 || ts.tv_nsec > 100000 ? 100000 : ts.tv_nsec};
    nanosleep(&nap, NULL);
#endif
}

static void wake_sleepers(sync_head *h, int n) {
    atomic_fetch_add(&h->seq, 1);
#if defined(__linux__)
    if (atomic_load(&h->sleepers) > 0)
        syscall(SYS_futex, (uint32_t *)&h->seq, FUTEX_WAKE, n, NULL, NULL, 0);
#else
    (void)n;
#endif
}

static int stopping(const pk__sync *s, const pk_worker *w) {
    return atomic_load_explicit(&s->h->broken, memory_order_relaxed) ||
           (w != NULL && w->job_ != NULL &&
            atomic_load_explicit(&w->job_->stop, memory_order_relaxed));
}

/* Waits until the sequence word moves on from seen: 0, or PK_EABORTED when the
 * primitive broke or the caller's pool call is stopping, or PK_ETIMEDOUT after
 * deadline (< 0: none). Sleeps at most 0.2 s at a time, so that a stop no wake
 * reached is still seen. */
static int wait_seq(pk__sync *s, pk_worker *w, uint32_t seen, double deadline) {
    sync_head *h = s->h;
    for (int spin = 0;; spin++) {
        if (stopping(s, w))
            return PK_EABORTED;
        if (atomic_load(&h->seq) != seen)
            return 0;
        if (spin < SPINS) {
            cpu_relax();
            continue;
        }
        double left = 0.2;
        if (deadline >= 0) {
            double t = deadline - now_seconds();
            if (t <= 0)
                return PK_ETIMEDOUT;
            left = t < left ? t : left;
        }
        atomic_fetch_add(&h->sleepers, 1);
        sleep_on(&h->seq, seen, left);
        atomic_fetch_sub(&h->sleepers, 1);
    }
}

static double deadline_after(double seconds) {
    return now_seconds() + seconds;
}

/* ---- creation and registration ---- */

static int ctx_add(pk_ctx *ctx, pk__sync *s) {
    if (ctx->nsyncs == ctx->cap_syncs) {
        int cap = ctx->cap_syncs > 0 ? 2 * ctx->cap_syncs : 8;
        pk__sync **a = realloc(ctx->syncs, (size_t)cap * sizeof *a);
        if (a == NULL)
            return PK_ENOMEM;
        ctx->syncs = a;
        ctx->cap_syncs = cap;
    }
    ctx->syncs[ctx->nsyncs++] = s;
    return 0;
}

static void ctx_remove(pk_ctx *ctx, pk__sync *s) {
    for (int i = 0; i < ctx->nsyncs; i++) {
        if (ctx->syncs[i] == s) {
            ctx->syncs[i] = ctx->syncs[--ctx->nsyncs];
            break;
        }
    }
    if (ctx->nsyncs == 0) {
        free(ctx->syncs);
        ctx->syncs = NULL;
        ctx->cap_syncs = 0;
    }
}

void pk__ctx_break_syncs(pk_ctx *ctx) {
    for (int i = 0; i < ctx->nsyncs; i++) {
        sync_head *h = ctx->syncs[i]->h;
        atomic_store(&h->broken, 1);
        wake_sleepers(h, INT_MAX);
    }
}

static int shared_by_pool(const pk_ctx *ctx) {
    return ctx->backend->segment_new != NULL && ctx->nranks > 1;
}

static int segment_new(pk_ctx *ctx, size_t bytes, void **base, void **handle) {
    if (shared_by_pool(ctx))
        return ctx->backend->segment_new(ctx, bytes, base, handle);
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == NULL)
        return pk__set_error(ctx, PK_ENOMEM, "no memory for %zu bytes of shared state", bytes);
    *base = p;
    *handle = p;
    return 0;
}

static void segment_free(pk_ctx *ctx, void *handle) {
    if (shared_by_pool(ctx))
        ctx->backend->segment_free(ctx, handle);
    else
        free(handle);
}

/* The part of creation every rank does alike, after its checks (rc: their
 * outcome, the same on every rank). init writes the head on rank 0 before the
 * others may look. */
static int sync_open(pk_ctx *ctx, pk__sync *s, int kind, size_t extra, int rc,
                     void (*init)(sync_head *h, const void *arg), const void *arg) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->kind = kind;
    rc = ctx->backend->agree(ctx, rc);
    void *base = NULL;
    if (rc == 0)
        rc = segment_new(ctx, HEAD_BYTES + extra, &base, &s->segment);
    if (rc != 0)
        return rc;
    s->h = base;
    s->data = (char *)base + HEAD_BYTES;
    if (ctx->rank == 0) {
        memset(base, 0, HEAD_BYTES + extra);
        if (init != NULL)
            init(s->h, arg);
    }
    rc = ctx_add(ctx, s) == 0 ? 0 : pk__set_error(ctx, PK_ENOMEM, "no memory to register");
    rc = ctx->backend->agree(ctx, rc); /* also the barrier after rank 0's writes */
    if (rc != 0) {
        ctx_remove(ctx, s);
        segment_free(ctx, s->segment);
    }
    return rc;
}

static void sync_close(pk__sync *s) {
    pk_ctx *ctx = s->ctx;
    ctx_remove(ctx, s);
    segment_free(ctx, s->segment);
}

/* What every pk_X_new does around its own checks (rc: their outcome): the
 * output checked, the object allocated, its segment opened; the same code on
 * every rank. *made is the new object (every public type is one pk__sync). */
static int sync_new(pk_ctx *ctx, int has_out, const char *call, int kind, size_t extra, int rc,
                    void (*init)(sync_head *h, const void *arg), const void *arg, pk__sync **made) {
    *made = NULL;
    if (ctx == NULL)
        return PK_EINVAL;
    if (!has_out)
        return ctx->backend->agree(ctx, pk__set_error(ctx, PK_EINVAL, "%s: no output", call));
    pk__sync *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ctx->backend->agree(ctx, pk__set_error(ctx, PK_ENOMEM, "%s: no memory", call));
    rc = sync_open(ctx, s, kind, extra, rc, init, arg);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *made = s;
    return 0;
}

static void sync_free(pk__sync *s) {
    if (s == NULL)
        return;
    sync_close(s);
    free(s);
}

/* ---- who is calling ---- */

static int64_t key_of(const pk__sync *s, const pk_worker *w) {
    int rank = w != NULL ? w->rank : s->ctx->rank;
    int thread = w != NULL ? w->thread : -1;
    return (int64_t)(((uint64_t)(rank + 1) << 32) | (uint32_t)(thread + 1));
}

static void describe(const pk__sync *s, const pk_worker *w, char *buf, size_t len) {
    if (w != NULL)
        snprintf(buf, len, "worker (rank %d, thread %d)", w->rank, w->thread);
    else
        snprintf(buf, len, "rank %d outside pool calls", s->ctx->rank);
}

static int refuse(const pk__sync *s, int code, const char *fmt, ...) PK__PRINTF(3, 4);
static int refuse(const pk__sync *s, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pk__ctx_notev(s->ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

/* A worker of another context's pool call: its failures would not break this
 * primitive, nor this context's wake it, so the use is refused. */
static int foreign(const pk__sync *s, const pk_worker *w) {
    if (w == NULL || w->job_ == NULL || w->job_->ctx == s->ctx)
        return 0;
    return refuse(s, PK_EINVAL,
                  "a primitive of one context used by a worker of another context's pool call");
}

static int bad_timeout(const pk__sync *s, double seconds) {
    if (seconds >= 0 && seconds <= 1e9)
        return 0;
    return refuse(s, PK_EINVAL, "timeout %g s: need 0 to 1e9 seconds", seconds);
}

/* ---- pk_lock ---- */

static void lock_init(sync_head *h, const void *arg) {
    h->flags = *(const unsigned *)arg;
}

int pk_lock_new(pk_ctx *ctx, pk_lock **lock, unsigned flags) {
    int rc = ctx != NULL && (flags & ~(unsigned)PK_LOCK_RECURSIVE) != 0
                 ? pk__set_error(ctx, PK_EINVAL, "unknown lock flags 0x%x", flags)
                 : 0;
    pk__sync *s;
    rc = sync_new(ctx, lock != NULL, "pk_lock_new", K_LOCK, 0, rc, lock_init, &flags, &s);
    if (lock != NULL)
        *lock = (pk_lock *)s;
    return rc;
}

/* The lock word: 0 free, 1 held, 2 held and someone may be waiting (then the
 * release bumps the sequence word and wakes a sleeper). */
static void lock_own(sync_head *h, int64_t key) {
    /* read only by the holder itself and by workers checking for their own
     * key, which they cannot see unless they wrote it: relaxed is enough */
    atomic_store_explicit(&h->owner, key, memory_order_relaxed);
    atomic_store_explicit(&h->depth, 1, memory_order_relaxed);
}

/* Takes the lock for key: 0, PK_EAGAIN (try), PK_ETIMEDOUT, PK_EABORTED. */
static int lock_take(pk__sync *s, pk_worker *w, int64_t key, double deadline, int try_only) {
    sync_head *h = s->h;
    uint32_t free_state = 0;
    if (atomic_compare_exchange_strong_explicit(&h->state, &free_state, 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        lock_own(h, key);
        return 0;
    }
    if (try_only)
        return PK_EAGAIN;
    /* a lock is held briefly: watch it a while before saying this worker waits */
    for (int i = 0; i < SPINS && !stopping(s, w); i++) {
        free_state = 0;
        if (atomic_load_explicit(&h->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&h->state, &free_state, 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
            lock_own(h, key);
            return 0;
        }
        cpu_relax();
    }
    for (;;) {
        uint32_t seen = atomic_load(&h->seq);
        /* 2, not 1: whoever releases must wake, since this worker may sleep */
        if (atomic_exchange_explicit(&h->state, 2, memory_order_acquire) == 0) {
            lock_own(h, key);
            return 0;
        }
        int rc = wait_seq(s, w, seen, deadline);
        if (rc != 0)
            return rc;
    }
}

static int lock_acquire(pk_lock *lock, pk_worker *w, double deadline, int try_only) {
    if (lock == NULL)
        return PK_EINVAL;
    pk__sync *s = &lock->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    if (stopping(s, w))
        return PK_EABORTED;
    int64_t key = key_of(s, w);
    if (atomic_load_explicit(&s->h->owner, memory_order_relaxed) == key) {
        if (s->h->flags & PK_LOCK_RECURSIVE) {
            atomic_fetch_add_explicit(&s->h->depth, 1, memory_order_relaxed);
            return 0;
        }
        char who[64];
        describe(s, w, who, sizeof who);
        return refuse(s, PK_EINVAL,
                      "%s already holds this lock: taking a non-recursive lock twice would never "
                      "return (PK_LOCK_RECURSIVE allows it)",
                      who);
    }
    return lock_take(s, w, key, deadline, try_only);
}

int pk_lock_acquire(pk_lock *lock, pk_worker *w) {
    return lock_acquire(lock, w, -1, 0);
}

int pk_lock_try_acquire(pk_lock *lock, pk_worker *w) {
    return lock_acquire(lock, w, -1, 1);
}

int pk_lock_acquire_timeout(pk_lock *lock, pk_worker *w, double seconds) {
    if (lock == NULL)
        return PK_EINVAL;
    int rc = bad_timeout(&lock->s, seconds);
    return rc != 0 ? rc : lock_acquire(lock, w, deadline_after(seconds), 0);
}

/* Lets go of the lock entirely (depth and all). */
static void lock_drop(pk__sync *s) {
    sync_head *h = s->h;
    atomic_store_explicit(&h->depth, 0, memory_order_relaxed);
    atomic_store_explicit(&h->owner, 0, memory_order_relaxed);
    if (atomic_exchange_explicit(&h->state, 0, memory_order_release) == 2)
        wake_sleepers(h, 1);
}

static int check_owner(pk__sync *s, pk_worker *w, const char *what) {
    if (atomic_load_explicit(&s->h->owner, memory_order_relaxed) == key_of(s, w))
        return 0;
    char who[64];
    describe(s, w, who, sizeof who);
    return refuse(s, PK_EPERM, "%s %s a lock it does not hold", who, what);
}

int pk_lock_release(pk_lock *lock, pk_worker *w) {
    if (lock == NULL)
        return PK_EINVAL;
    pk__sync *s = &lock->s;
    int rc = foreign(s, w) != 0 ? PK_EINVAL : check_owner(s, w, "releases");
    if (rc != 0)
        return rc;
    if (atomic_load_explicit(&s->h->depth, memory_order_relaxed) > 1) {
        atomic_fetch_sub_explicit(&s->h->depth, 1, memory_order_relaxed);
        return 0;
    }
    lock_drop(s);
    return 0;
}

void pk_lock_free(pk_lock *lock) {
    sync_free(lock == NULL ? NULL : &lock->s);
}

/* ---- pk_sem ---- */

typedef struct sem_init_arg {
    int64_t permits, max;
} sem_init_arg;

static void sem_init(sync_head *h, const void *arg) {
    const sem_init_arg *a = arg;
    atomic_store(&h->count, a->permits);
    h->max = a->max;
}

int pk_sem_new(pk_ctx *ctx, pk_sem **sem, int64_t permits, int64_t max) {
    int rc = 0;
    if (ctx != NULL && permits < 0)
        rc = pk__set_error(ctx, PK_EINVAL, "a semaphore of %lld permits: need 0 or more",
                           (long long)permits);
    else if (ctx != NULL && (max < 0 || (max > 0 && max < permits)))
        rc = pk__set_error(ctx, PK_EINVAL,
                           "a semaphore bound of %lld: need 0 (none) or at least the %lld permits",
                           (long long)max, (long long)permits);
    sem_init_arg a = {permits, max};
    pk__sync *s;
    rc = sync_new(ctx, sem != NULL, "pk_sem_new", K_SEM, 0, rc, sem_init, &a, &s);
    if (sem != NULL)
        *sem = (pk_sem *)s;
    return rc;
}

static int sem_acquire(pk_sem *sem, pk_worker *w, double deadline, int try_only) {
    if (sem == NULL)
        return PK_EINVAL;
    pk__sync *s = &sem->s;
    sync_head *h = s->h;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    if (stopping(s, w))
        return PK_EABORTED;
    for (;;) {
        uint32_t seen = atomic_load(&h->seq);
        int64_t c = atomic_load(&h->count);
        while (c > 0)
            if (atomic_compare_exchange_weak(&h->count, &c, c - 1))
                return 0;
        if (try_only)
            return PK_EAGAIN;
        int rc = wait_seq(s, w, seen, deadline);
        if (rc != 0)
            return rc;
    }
}

int pk_sem_acquire(pk_sem *sem, pk_worker *w) {
    return sem_acquire(sem, w, -1, 0);
}

int pk_sem_try_acquire(pk_sem *sem, pk_worker *w) {
    return sem_acquire(sem, w, -1, 1);
}

int pk_sem_acquire_timeout(pk_sem *sem, pk_worker *w, double seconds) {
    if (sem == NULL)
        return PK_EINVAL;
    int rc = bad_timeout(&sem->s, seconds);
    return rc != 0 ? rc : sem_acquire(sem, w, deadline_after(seconds), 0);
}

int pk_sem_release(pk_sem *sem, pk_worker *w) {
    if (sem == NULL || foreign(&sem->s, w) != 0)
        return PK_EINVAL;
    sync_head *h = sem->s.h;
    int64_t c = atomic_load(&h->count);
    do {
        if (h->max > 0 && c >= h->max)
            return refuse(&sem->s, PK_EOVERFLOW,
                          "releasing a bounded semaphore above its %lld permits",
                          (long long)h->max);
    } while (!atomic_compare_exchange_weak(&h->count, &c, c + 1));
    wake_sleepers(h, 1);
    return 0;
}

int64_t pk_sem_value(const pk_sem *sem) {
    return sem == NULL ? 0 : atomic_load(&sem->s.h->count);
}

void pk_sem_free(pk_sem *sem) {
    sync_free(sem == NULL ? NULL : &sem->s);
}

/* ---- pk_event ---- */

int pk_event_new(pk_ctx *ctx, pk_event **event) {
    pk__sync *s;
    int rc = sync_new(ctx, event != NULL, "pk_event_new", K_EVENT, 0, 0, NULL, NULL, &s);
    if (event != NULL)
        *event = (pk_event *)s;
    return rc;
}

int pk_event_set(pk_event *event, pk_worker *w) {
    if (event == NULL || foreign(&event->s, w) != 0)
        return PK_EINVAL;
    atomic_store(&event->s.h->count, 1);
    wake_sleepers(event->s.h, INT_MAX);
    return 0;
}

int pk_event_clear(pk_event *event, pk_worker *w) {
    if (event == NULL || foreign(&event->s, w) != 0)
        return PK_EINVAL;
    atomic_store(&event->s.h->count, 0);
    return 0;
}

int pk_event_is_set(const pk_event *event) {
    return event != NULL && atomic_load(&event->s.h->count) != 0;
}

static int event_wait(pk_event *event, pk_worker *w, double deadline) {
    if (event == NULL)
        return PK_EINVAL;
    pk__sync *s = &event->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    for (;;) {
        uint32_t seen = atomic_load(&s->h->seq);
        if (stopping(s, w))
            return PK_EABORTED;
        if (atomic_load(&s->h->count) != 0)
            return 0;
        int rc = wait_seq(s, w, seen, deadline);
        if (rc != 0)
            return rc;
    }
}

int pk_event_wait(pk_event *event, pk_worker *w) {
    return event_wait(event, w, -1);
}

int pk_event_wait_timeout(pk_event *event, pk_worker *w, double seconds) {
    if (event == NULL)
        return PK_EINVAL;
    int rc = bad_timeout(&event->s, seconds);
    return rc != 0 ? rc : event_wait(event, w, deadline_after(seconds));
}

void pk_event_free(pk_event *event) {
    sync_free(event == NULL ? NULL : &event->s);
}

/* ---- pk_cond ---- */

int pk_cond_new(pk_ctx *ctx, pk_cond **cond, pk_lock *lock) {
    int rc = 0;
    if (ctx != NULL && lock == NULL)
        rc = pk__set_error(ctx, PK_EINVAL, "a condition needs a lock");
    else if (ctx != NULL && lock->s.ctx != ctx)
        rc = pk__set_error(ctx, PK_EINVAL, "the condition's lock belongs to another context");
    pk__sync *s;
    rc = sync_new(ctx, cond != NULL, "pk_cond_new", K_COND, 0, rc, NULL, NULL, &s);
    if (s != NULL)
        s->lock = &lock->s;
    if (cond != NULL)
        *cond = (pk_cond *)s;
    return rc;
}

static int cond_wait(pk_cond *cond, pk_worker *w, double deadline) {
    if (cond == NULL)
        return PK_EINVAL;
    pk__sync *s = &cond->s, *l = s->lock;
    int rc = foreign(s, w) != 0 ? PK_EINVAL : check_owner(l, w, "waits on a condition over");
    if (rc != 0)
        return rc;
    /* a broken condition returns PK_EABORTED from wait_seq, the lock let go */
    uint32_t seen = atomic_load(&s->h->seq); /* before the lock goes: no notify is lost */
    int64_t depth = atomic_load(&l->h->depth);
    lock_drop(l);
    rc = wait_seq(s, w, seen, deadline);
    if (rc == PK_EABORTED)
        return rc;
    int taken = lock_take(l, w, key_of(l, w), -1, 0);
    if (taken != 0)
        return taken;
    atomic_store(&l->h->depth, depth);
    return rc;
}

int pk_cond_wait(pk_cond *cond, pk_worker *w) {
    return cond_wait(cond, w, -1);
}

int pk_cond_wait_timeout(pk_cond *cond, pk_worker *w, double seconds) {
    if (cond == NULL)
        return PK_EINVAL;
    int rc = bad_timeout(&cond->s, seconds);
    return rc != 0 ? rc : cond_wait(cond, w, deadline_after(seconds));
}

int pk_cond_notify(pk_cond *cond, pk_worker *w) {
    if (cond == NULL || foreign(&cond->s, w) != 0)
        return PK_EINVAL;
    wake_sleepers(cond->s.h, 1);
    return 0;
}

int pk_cond_notify_all(pk_cond *cond, pk_worker *w) {
    if (cond == NULL || foreign(&cond->s, w) != 0)
        return PK_EINVAL;
    wake_sleepers(cond->s.h, INT_MAX);
    return 0;
}

void pk_cond_free(pk_cond *cond) {
    sync_free(cond == NULL ? NULL : &cond->s);
}

/* ---- pk_barrier ---- */

static void barrier_init(sync_head *h, const void *arg) {
    h->max = *(const int *)arg;
}

int pk_barrier_new(pk_ctx *ctx, pk_barrier **barrier, int parties) {
    int rc = ctx != NULL && parties < 1
                 ? pk__set_error(ctx, PK_EINVAL, "a barrier of %d parties: need 1 or more", parties)
                 : 0;
    pk__sync *s;
    rc = sync_new(ctx, barrier != NULL, "pk_barrier_new", K_BARRIER, 0, rc, barrier_init, &parties,
                  &s);
    if (barrier != NULL)
        *barrier = (pk_barrier *)s;
    return rc;
}

int pk_barrier_wait(pk_barrier *barrier, pk_worker *w) {
    if (barrier == NULL)
        return PK_EINVAL;
    pk__sync *s = &barrier->s;
    sync_head *h = s->h;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    if (stopping(s, w))
        return PK_EABORTED;
    uint32_t round = atomic_load(&h->round);
    if (atomic_fetch_add(&h->count, 1) + 1 == h->max) {
        atomic_store(&h->count, 0); /* before the round moves: the next round counts anew */
        atomic_fetch_add(&h->round, 1);
        wake_sleepers(h, INT_MAX);
        return 1;
    }
    for (;;) {
        uint32_t seen = atomic_load(&h->seq);
        if (atomic_load(&h->round) != round)
            return 0;
        int rc = wait_seq(s, w, seen, -1);
        if (rc != 0)
            return rc;
    }
}

void pk_barrier_free(pk_barrier *barrier) {
    sync_free(barrier == NULL ? NULL : &barrier->s);
}

/* ---- pk_shared ---- */

int pk_shared_new(pk_ctx *ctx, pk_shared **shared, size_t elem_size, int64_t count) {
    int rc = 0;
    if (ctx != NULL && (elem_size == 0 || count < 1))
        rc = pk__set_error(ctx, PK_EINVAL, "a shared array of %lld elements of %zu bytes",
                           (long long)count, elem_size);
    else if (ctx != NULL && (uint64_t)count > (SIZE_MAX / 2 - HEAD_BYTES) / elem_size)
        rc =
            pk__set_error(ctx, PK_ERANGE, "a shared array of %lld elements of %zu bytes is too big",
                          (long long)count, elem_size);
    size_t bytes = rc == 0 ? (size_t)count * elem_size : 0;
    pk__sync *s;
    rc = sync_new(ctx, shared != NULL, "pk_shared_new", K_SHARED, bytes, rc, NULL, NULL, &s);
    if (s != NULL) {
        s->elem_size = elem_size;
        s->count = count;
    }
    if (shared != NULL)
        *shared = (pk_shared *)s;
    return rc;
}

void *pk_shared_data(pk_shared *shared) {
    return shared == NULL ? NULL : shared->s.data;
}

int64_t pk_shared_count(const pk_shared *shared) {
    return shared == NULL ? 0 : shared->s.count;
}

size_t pk_shared_elem_size(const pk_shared *shared) {
    return shared == NULL ? 0 : shared->s.elem_size;
}

static int check_range(const pk_shared *sh, int64_t first, int64_t n) {
    if (first >= 0 && n >= 0 && first <= sh->s.count && n <= sh->s.count - first)
        return 0;
    return refuse(&sh->s, PK_ERANGE, "elements [%lld, %lld + %lld) of a shared array of %lld",
                  (long long)first, (long long)first, (long long)n, (long long)sh->s.count);
}

int pk_shared_get(pk_shared *shared, int64_t first, int64_t n, void *out) {
    if (shared == NULL || (out == NULL && n > 0))
        return PK_EINVAL;
    int rc = check_range(shared, first, n);
    if (rc == 0 && n > 0)
        memcpy(out, shared->s.data + (size_t)first * shared->s.elem_size,
               (size_t)n * shared->s.elem_size);
    return rc;
}

int pk_shared_put(pk_shared *shared, int64_t first, int64_t n, const void *in) {
    if (shared == NULL || (in == NULL && n > 0))
        return PK_EINVAL;
    int rc = check_range(shared, first, n);
    if (rc == 0 && n > 0)
        memcpy(shared->s.data + (size_t)first * shared->s.elem_size, in,
               (size_t)n * shared->s.elem_size);
    return rc;
}

/* The 8-byte word of element i, or NULL with the reason recorded. */
static uint64_t *word_at(pk_shared *sh, int64_t i) {
    if (sh == NULL)
        return NULL;
    if (sh->s.elem_size != 8) {
        refuse(&sh->s, PK_EINVAL, "atomic operations need 8-byte elements, not %zu",
               sh->s.elem_size);
        return NULL;
    }
    if (check_range(sh, i, 1) != 0)
        return NULL;
    return (uint64_t *)(void *)(sh->s.data + (size_t)i * 8);
}

/* The code for a NULL word_at: its reason is recorded already. */
static int word_error(const pk_shared *sh, int64_t i) {
    if (sh == NULL)
        return PK_EINVAL;
    return sh->s.elem_size != 8 ? PK_EINVAL : (i < 0 || i >= sh->s.count ? PK_ERANGE : PK_EINVAL);
}

static int64_t as_i64(uint64_t u) {
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint64_t of_i64(int64_t v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double as_f64(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint64_t of_f64(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* The atomic operations, once on the element's 64 bits; `f64` says whether
 * they hold a double (compared and added by value) or an int64_t. */

static int word_less(int f64, uint64_t a, uint64_t b) {
    return f64 ? as_f64(a) < as_f64(b) : as_i64(a) < as_i64(b);
}

/* by value for doubles: -0.0 == 0.0, and NaN never equals anything */
static int word_equal(int f64, uint64_t a, uint64_t b) {
    return f64 ? as_f64(a) == as_f64(b) : a == b;
}

/* The element's word, or NULL with *rc set (and the reason recorded); a call
 * that needs a pointer of the caller's and got none is PK_EINVAL. */
static uint64_t *word_or_error(pk_shared *sh, int64_t i, int has_ptr, int *rc) {
    uint64_t *p = word_at(sh, i);
    *rc = p == NULL ? word_error(sh, i) : !has_ptr ? PK_EINVAL : 0;
    return *rc == 0 ? p : NULL;
}

static int word_load(pk_shared *sh, int64_t i, uint64_t *value) {
    int rc;
    uint64_t *p = word_or_error(sh, i, value != NULL, &rc);
    if (p != NULL)
        *value = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    return rc;
}

static int word_store(pk_shared *sh, int64_t i, uint64_t value) {
    int rc;
    uint64_t *p = word_or_error(sh, i, 1, &rc);
    if (p != NULL)
        __atomic_store_n(p, value, __ATOMIC_SEQ_CST);
    return rc;
}

static int word_fetch_add(pk_shared *sh, int64_t i, int f64, uint64_t delta, uint64_t *old) {
    int rc;
    uint64_t *p = word_or_error(sh, i, 1, &rc);
    if (p == NULL)
        return rc;
    uint64_t cur;
    if (!f64) { /* two's-complement wrap, as an unsigned add, never undefined */
        cur = __atomic_fetch_add(p, delta, __ATOMIC_SEQ_CST);
    } else {
        cur = __atomic_load_n(p, __ATOMIC_SEQ_CST);
        while (!__atomic_compare_exchange_n(p, &cur, of_f64(as_f64(cur) + as_f64(delta)), 1,
                                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        }
    }
    if (old != NULL)
        *old = cur;
    return 0;
}

static int word_compare_exchange(pk_shared *sh, int64_t i, int f64, uint64_t *expected,
                                 uint64_t desired) {
    int rc;
    uint64_t *p = word_or_error(sh, i, expected != NULL, &rc);
    if (p == NULL)
        return rc;
    uint64_t cur = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    for (;;) {
        if (!word_equal(f64, cur, *expected)) {
            *expected = cur;
            return PK_EAGAIN;
        }
        if (__atomic_compare_exchange_n(p, &cur, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return 0;
    }
}

/* Stores value when it is below (min) or above (max) the element; *old gets
 * the element before. */
static int word_update(pk_shared *sh, int64_t i, int f64, uint64_t value, uint64_t *old,
                       int want_max) {
    int rc;
    uint64_t *p = word_or_error(sh, i, 1, &rc);
    if (p == NULL)
        return rc;
    uint64_t cur = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (want_max ? word_less(f64, cur, value) : word_less(f64, value, cur))
        if (__atomic_compare_exchange_n(p, &cur, value, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
    if (old != NULL)
        *old = cur;
    return 0;
}

int pk_shared_load_i64(pk_shared *shared, int64_t i, int64_t *value) {
    uint64_t u = 0;
    int rc = word_load(shared, i, value == NULL ? NULL : &u);
    if (rc == 0)
        *value = as_i64(u);
    return rc;
}

int pk_shared_store_i64(pk_shared *shared, int64_t i, int64_t value) {
    return word_store(shared, i, of_i64(value));
}

int pk_shared_fetch_add_i64(pk_shared *shared, int64_t i, int64_t delta, int64_t *old) {
    uint64_t u;
    int rc = word_fetch_add(shared, i, 0, of_i64(delta), &u);
    if (rc == 0 && old != NULL)
        *old = as_i64(u);
    return rc;
}

int pk_shared_compare_exchange_i64(pk_shared *shared, int64_t i, int64_t *expected,
                                   int64_t desired) {
    uint64_t e = expected != NULL ? of_i64(*expected) : 0;
    int rc = word_compare_exchange(shared, i, 0, expected != NULL ? &e : NULL, of_i64(desired));
    if (rc == PK_EAGAIN)
        *expected = as_i64(e);
    return rc;
}

static int update_i64(pk_shared *shared, int64_t i, int64_t value, int64_t *old, int want_max) {
    uint64_t u;
    int rc = word_update(shared, i, 0, of_i64(value), &u, want_max);
    if (rc == 0 && old != NULL)
        *old = as_i64(u);
    return rc;
}

int pk_shared_min_i64(pk_shared *shared, int64_t i, int64_t value, int64_t *old) {
    return update_i64(shared, i, value, old, 0);
}

int pk_shared_max_i64(pk_shared *shared, int64_t i, int64_t value, int64_t *old) {
    return update_i64(shared, i, value, old, 1);
}

int pk_shared_load_f64(pk_shared *shared, int64_t i, double *value) {
    uint64_t u = 0;
    int rc = word_load(shared, i, value == NULL ? NULL : &u);
    if (rc == 0)
        *value = as_f64(u);
    return rc;
}

int pk_shared_store_f64(pk_shared *shared, int64_t i, double value) {
    return word_store(shared, i, of_f64(value));
}

int pk_shared_fetch_add_f64(pk_shared *shared, int64_t i, double delta, double *old) {
    uint64_t u;
    int rc = word_fetch_add(shared, i, 1, of_f64(delta), &u);
    if (rc == 0 && old != NULL)
        *old = as_f64(u);
    return rc;
}

int pk_shared_compare_exchange_f64(pk_shared *shared, int64_t i, double *expected, double desired) {
    uint64_t e = expected != NULL ? of_f64(*expected) : 0;
    int rc = word_compare_exchange(shared, i, 1, expected != NULL ? &e : NULL, of_f64(desired));
    if (rc == PK_EAGAIN)
        *expected = as_f64(e);
    return rc;
}

static int update_f64(pk_shared *shared, int64_t i, double value, double *old, int want_max) {
    uint64_t u;
    int rc = word_update(shared, i, 1, of_f64(value), &u, want_max);
    if (rc == 0 && old != NULL)
        *old = as_f64(u);
    return rc;
}

int pk_shared_min_f64(pk_shared *shared, int64_t i, double value, double *old) {
    return update_f64(shared, i, value, old, 0);
}

int pk_shared_max_f64(pk_shared *shared, int64_t i, double value, double *old) {
    return update_f64(shared, i, value, old, 1);
}

void pk_shared_free(pk_shared *shared) {
    sync_free(shared == NULL ? NULL : &shared->s);
}
