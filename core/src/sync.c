/* Sharing primitives (parkit/sync.h), written once over a segment of memory that
 * every worker of the pool reaches: plain process memory on threads, an MPI
 * shared-memory window on the ranks of one node (the backend's segment_new). The
 * state of each primitive is a head of 64-bit words in that segment, so the same
 * code serves threads and processes, and no MPI call is made after creation.
 * When the pool's ranks span several nodes there is no memory they all map: the
 * backend hands out a segment without a base, whose words live on rank 0 and
 * are reached by the backend's one-sided operations (segment_op, segment_xfer).
 * Every access to a word goes through ld/st/fadd/xchg/cas below, which pick
 * the engine; the primitives do not know which one serves them.
 *
 * Waiting. Every primitive has one sequence word: whoever changes the state in
 * a way a waiter may care about bumps it and wakes the sleepers. A waiter reads
 * the word, tests its condition, and sleeps only while the word still has the
 * value it read (a futex on Linux, on the word's low 32 bits, which works
 * across processes on shared memory; a short sleep elsewhere), so no wake-up is
 * lost. A count of sleepers lets a waker skip the system call when nobody
 * sleeps. Across nodes a waiter polls the word with growing pauses instead.
 *
 * Errors. A pool call that fails breaks every primitive of its context
 * (pk__ctx_break_syncs, from the failing worker's process): the head's broken
 * word is set and its sleepers woken, and since the head is shared, waiters on
 * every rank see it. A broken primitive stays broken. */
#define _DEFAULT_SOURCE /* syscall() */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
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

typedef _Atomic uint64_t word;

/* The shared state of one primitive (at the start of its segment), all 64-bit
 * words so that the one-sided engine reaches each one alike. */
typedef struct sync_head {
    word seq;      /* bumped on every change a waiter may wait for */
    word broken;   /* a pool call failed */
    word sleepers; /* waiters asleep on seq (shared memory only) */
    word state;    /* lock: 0 free, else the holder's key (| WAITERS) */
    word count;    /* sem: permits; event: flag; barrier: arrivals */
    word round;    /* barrier: completed rounds */
    word flags;    /* set at creation */
    word max;      /* sem: bound (0: none); barrier: parties */
} sync_head;

enum { HEAD_BYTES = (sizeof(sync_head) + 63) / 64 * 64, SPINS = 2000, LOCK_SPINS = 2000 };

/* Use after free. A freed primitive's memory is kept, marked dead, among the
 * context's last GRAVE freed ones (until the context is freed), so that a call
 * through a stale pointer is refused with the reason rather than reading freed
 * memory. Beyond that many frees the oldest is given back and nothing can be
 * said of it. */
enum { SYNC_LIVE = 0x5c11a11e, SYNC_DEAD = 0x0dead5c1, GRAVE = 1024 };

#define F(field) offsetof(sync_head, field)

/* A primitive as one process sees it. Every public type starts with it. */
typedef struct pk__sync {
    uint32_t magic; /* SYNC_LIVE until freed, then SYNC_DEAD (kept a while) */
    int kind;
    pk_ctx *ctx;
    void *segment; /* the backend's handle, or the malloc'ed block */
    sync_head *h;  /* NULL when the words are reached one-sidedly */
    char *data;    /* pk_shared: the elements, after the head (NULL: one-sided) */
    size_t elem_size;
    int64_t count;
    uint64_t flags, max;   /* the head's, read once at creation */
    struct pk__sync *lock; /* pk_cond: its lock */
    _Atomic int64_t depth; /* pk_lock: times its holder, if in this process, took it */
    /* one-sided engine only */
    int far;
    _Atomic int far_failed;   /* an operation failed with this code: unusable here */
    _Atomic int break_needed; /* broken here, not yet told to rank 0's words */
    /* pk_lock, one-sided: the gate of this process's workers (gate_enter) */
    pthread_mutex_t gate_mu;
    _Atomic uint64_t gate; /* the key of the worker through it (0: none) */
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

/* ---- the words: shared memory or one-sided operations ---- */

/* Inlined, so that the memory order is a constant the compiler sees (a
 * relaxed store is a plain move on x86, a seq_cst one an exchange) and the
 * shared-memory path is the bare atomic; the one-sided path is out of line. */
#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#define COLD static __attribute__((noinline, cold))
#define FAR(s) __builtin_expect((s)->far, 0)
#else
#define HOT static inline
#define COLD static
#define FAR(s) ((s)->far)
#endif

HOT word *at(const pk__sync *s, size_t off) {
    return (word *)(void *)((char *)s->h + off);
}

/* One one-sided operation on the word at off; 0 (and the primitive marked
 * failed with the code) when it fails: the backend has recorded why. */
COLD uint64_t far_op(const pk__sync *s, int op, size_t off, uint64_t operand, uint64_t compare) {
    pk__sync *m = (pk__sync *)s; /* the failure mark is the only thing written */
    uint64_t out = 0;
    if (atomic_load(&m->far_failed))
        return 0;
    int rc = s->ctx->backend->segment_op(s->ctx, s->segment, op, off, operand, compare, &out);
    if (rc != 0)
        atomic_store(&m->far_failed, rc);
    return out;
}

COLD int far_cas(pk__sync *s, size_t off, uint64_t *expected, uint64_t desired) {
    uint64_t old = far_op(s, PK__SEG_CAS, off, desired, *expected);
    if (atomic_load(&s->far_failed))
        return 0;
    if (old == *expected)
        return 1;
    *expected = old;
    return 0;
}

HOT uint64_t ld(const pk__sync *s, size_t off, memory_order mo) {
    if (FAR(s))
        return far_op(s, PK__SEG_LOAD, off, 0, 0);
    return atomic_load_explicit(at(s, off), mo);
}

HOT void st(pk__sync *s, size_t off, uint64_t v, memory_order mo) {
    if (FAR(s))
        far_op(s, PK__SEG_STORE, off, v, 0);
    else
        atomic_store_explicit(at(s, off), v, mo);
}

HOT uint64_t fadd(pk__sync *s, size_t off, uint64_t delta) {
    if (FAR(s))
        return far_op(s, PK__SEG_ADD, off, delta, 0);
    return atomic_fetch_add(at(s, off), delta);
}

/* Compare and swap: 1 when the word held *expected (now desired), else 0 with
 * *expected the word's value. */
HOT int cas(pk__sync *s, size_t off, uint64_t *expected, uint64_t desired, memory_order mo) {
    if (FAR(s))
        return far_cas(s, off, expected, desired);
    return atomic_compare_exchange_strong_explicit(at(s, off), expected, desired, mo,
                                                   memory_order_relaxed);
}

HOT int64_t sld(const pk__sync *s, size_t off) {
    return (int64_t)ld(s, off, memory_order_seq_cst);
}

/* ---- waiting and waking ---- */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The sequence word's low 32 bits, which the futex watches. */
static uint32_t *seq32(sync_head *h) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (uint32_t *)(void *)&h->seq + 1;
#else
    return (uint32_t *)(void *)&h->seq;
#endif
}

/* Sleeps while the sequence word's low half is seen, at most `seconds`. */
static void sleep_on(sync_head *h, uint32_t seen, double seconds) {
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
#if defined(__linux__)
    /* not FUTEX_PRIVATE: the word may live in memory shared between processes */
    syscall(SYS_futex, seq32(h), FUTEX_WAIT, seen, &ts, NULL, 0);
#else
    (void)h;
    (void)seen;
    struct timespec nap = {0, ts.tv_sec > 0 || ts.tv_nsec > 100000 ? 100000 : ts.tv_nsec};
    nanosleep(&nap, NULL);
#endif
}

static void wake_sleepers(pk__sync *s, int n) {
    fadd(s, F(seq), 1);
    if (s->far)
        return; /* the waiters poll */
#if defined(__linux__)
    if (atomic_load(&s->h->sleepers) > 0)
        syscall(SYS_futex, seq32(s->h), FUTEX_WAKE, n, NULL, NULL, 0);
#else
    (void)n;
#endif
}

/* One-sided engine: tells rank 0's words that this process broke the
 * primitive, once. A thread the backend does not let make the call leaves it to
 * the next one that may: the main thread does it when the pool call ends. */
static void far_break(pk__sync *s) {
    if (!atomic_load(&s->break_needed))
        return;
    int rc = s->ctx->backend->segment_op(s->ctx, s->segment, PK__SEG_STORE | PK__SEG_QUIET,
                                         F(broken), 1, 0, NULL);
    if (rc == PK_ENOTSUP)
        return;
    atomic_store(&s->break_needed, 0);
    if (rc != 0)
        atomic_store(&s->far_failed, rc);
    else
        fadd(s, F(seq), 1);
}

COLD int far_stopping(const pk__sync *s) {
    if (atomic_load(&s->break_needed)) {
        far_break((pk__sync *)s);
        return PK_EABORTED;
    }
    int failed = atomic_load(&s->far_failed);
    if (failed != 0)
        return failed;
    if (ld(s, F(broken), memory_order_relaxed) != 0)
        return PK_EABORTED;
    return atomic_load(&s->far_failed);
}

/* 0, or what a call must return at once: PK_EABORTED when the primitive broke
 * or the caller's pool call is stopping, the code of a one-sided operation that
 * failed in this process. */
HOT int stopping(const pk__sync *s, const pk_worker *w) {
    if (w != NULL && w->job_ != NULL && atomic_load_explicit(&w->job_->stop, memory_order_relaxed))
        return PK_EABORTED;
    if (FAR(s))
        return far_stopping(s);
    return atomic_load_explicit(&s->h->broken, memory_order_relaxed) != 0 ? PK_EABORTED : 0;
}

/* Waits until the sequence word moves on from seen: 0, or PK_EABORTED when the
 * primitive broke or the caller's pool call is stopping, or PK_ETIMEDOUT after
 * deadline (< 0: none). Sleeps at most 0.2 s at a time, so that a stop no wake
 * reached is still seen; one-sided, polls with pauses growing to 1 ms. */
static int wait_seq(pk__sync *s, pk_worker *w, uint64_t seen, double deadline, int spins) {
    double pause = 1e-6;
    for (int spin = 0;; spin++) {
        int stop = stopping(s, w);
        if (stop != 0)
            return stop;
        if (ld(s, F(seq), memory_order_seq_cst) != seen)
            return 0;
        if (!s->far && spin < spins) {
            pk__cpu_relax();
            continue;
        }
        double left = s->far ? pause : 0.2;
        if (deadline >= 0) {
            double t = deadline - now_seconds();
            if (t <= 0)
                return PK_ETIMEDOUT;
            left = t < left ? t : left;
        }
        if (spin == spins || s->far)
            pk__ctx_flush_chans(s->ctx); /* a peer may wait for items this one keeps */
        if (s->far) {
            struct timespec nap = {0, (long)(left * 1e9)};
            nanosleep(&nap, NULL);
            pause = pause < 1e-3 ? 2 * pause : 1e-3;
            continue;
        }
        atomic_fetch_add(&s->h->sleepers, 1);
        sleep_on(s->h, (uint32_t)seen, left);
        atomic_fetch_sub(&s->h->sleepers, 1);
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
        pk__sync *s = ctx->syncs[i];
        if (s->far) {
            atomic_store(&s->break_needed, 1);
            far_break(s);
        } else {
            atomic_store(&s->h->broken, 1);
            wake_sleepers(s, INT_MAX);
        }
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
 * outcome, the same on every rank). init fills the head on rank 0, which
 * writes it before the others may look. */
static int sync_open(pk_ctx *ctx, pk__sync *s, int kind, size_t extra, int rc,
                     void (*init)(sync_head *h, const void *arg), const void *arg) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->gate_mu, NULL);
    s->magic = SYNC_LIVE;
    s->ctx = ctx;
    s->kind = kind;
    rc = ctx->backend->agree(ctx, rc);
    void *base = NULL;
    if (rc == 0)
        rc = segment_new(ctx, HEAD_BYTES + extra, &base, &s->segment);
    if (rc != 0)
        return rc;
    s->far = base == NULL;
    s->h = base;
    s->data = base == NULL ? NULL : (char *)base + HEAD_BYTES;
    if (ctx->rank == 0) {
        sync_head head;
        memset(&head, 0, sizeof head);
        if (init != NULL)
            init(&head, arg);
        if (!s->far) {
            memset(base, 0, HEAD_BYTES + extra);
            memcpy(base, &head, sizeof head);
        } else { /* the backend's segment starts zeroed */
            rc = ctx->backend->segment_xfer(ctx, s->segment, 1, 0, sizeof head, &head);
        }
    }
    if (rc == 0 && ctx_add(ctx, s) != 0)
        rc = pk__set_error(ctx, PK_ENOMEM, "no memory to register");
    rc = ctx->backend->agree(ctx, rc); /* also the barrier after rank 0's writes */
    if (rc == 0) {
        s->flags = ld(s, F(flags), memory_order_relaxed);
        s->max = ld(s, F(max), memory_order_relaxed);
        rc = ctx->backend->agree(ctx, atomic_load(&s->far_failed));
    }
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

static const char *kind_name(int kind) {
    static const char *names[] = {"?", "lock", "sem", "event", "cond", "barrier", "shared"};
    return kind >= K_LOCK && kind <= K_SHARED ? names[kind] : names[0];
}

static int refuse(const pk__sync *s, int code, const char *fmt, ...) PK__PRINTF(3, 4);

/* The primitive was freed: the call is refused, with the reason when the
 * memory is still the dead primitive's (see GRAVE). */
COLD int dead_use(const pk__sync *s) {
    if (s->magic != SYNC_DEAD)
        return PK_EINVAL; /* not a primitive at all: nothing to trust in it */
    return refuse(s, PK_EINVAL, "a pk_%s used after pk_%s_free", kind_name(s->kind),
                  kind_name(s->kind));
}

/* 1 (and the reason noted) when s may not be used: NULL, or freed. */
HOT int gone(const pk__sync *s) {
    if (s == NULL)
        return 1;
    if (__builtin_expect(s->magic != SYNC_LIVE, 0)) {
        dead_use(s);
        return 1;
    }
    return 0;
}
#define GONE(p) gone((const pk__sync *)(const void *)(p))

/* Keeps the dead primitive among the context's last GRAVE, giving back the
 * oldest beyond that. */
static void bury(pk__sync *s) {
    pk_ctx *ctx = s->ctx;
    s->magic = SYNC_DEAD;
    if (ctx->grave == NULL && (ctx->grave = calloc(GRAVE, sizeof *ctx->grave)) == NULL) {
        free(s);
        return;
    }
    free(ctx->grave[ctx->grave_next]);
    ctx->grave[ctx->grave_next] = s;
    ctx->grave_next = (ctx->grave_next + 1) % GRAVE;
}

/* Frees what the context still holds of primitives (pk_ctx_free). */
void pk__ctx_free_syncs(pk_ctx *ctx) {
    if (ctx->grave != NULL)
        for (int i = 0; i < GRAVE; i++)
            free(ctx->grave[i]);
    free(ctx->grave);
    ctx->grave = NULL;
    free(ctx->syncs);
    ctx->syncs = NULL;
    ctx->nsyncs = ctx->cap_syncs = 0;
}

static void sync_free(pk__sync *s) {
    if (s == NULL)
        return;
    if (s->magic != SYNC_LIVE) { /* freed twice: nothing more to do */
        dead_use(s);
        return;
    }
    sync_close(s);
    bury(s);
}

/* ---- who is calling ---- */

HOT int64_t key_of(const pk__sync *s, const pk_worker *w) {
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
    atomic_init(&h->flags, *(const unsigned *)arg);
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

/* The lock word: 0 free, else the holder's key, with WAITERS set when someone
 * may be waiting (then the release bumps the sequence word and wakes a
 * sleeper). Taking a free lock and letting go of one nobody waits for are one
 * compare-and-swap each, one MPI call apiece on the one-sided engine. The depth
 * of a recursive hold is the holder's alone: it lives in the holder's process
 * (s->depth), touched only by the holder. */
#define WAITERS (UINT64_C(1) << 63)

/* A new hold's depth. Only a recursive lock keeps one: a plain lock's holder
 * writes nothing but the lock word, so a lock handed between two workers moves
 * one cache line, not two. */
static void hold_once(pk__sync *s) {
    if (s->flags & PK_LOCK_RECURSIVE)
        atomic_store_explicit(&s->depth, 1, memory_order_relaxed);
}

/* How many times the holder holds it: 1 for a plain lock. */
static int64_t hold_depth(const pk__sync *s) {
    if (!(s->flags & PK_LOCK_RECURSIVE))
        return 1;
    return atomic_load_explicit(&s->depth, memory_order_relaxed);
}

/* lock_take when the lock was not free at first sight. */
static int lock_wait(pk__sync *s, pk_worker *w, uint64_t key, double deadline) {
    /* a lock is held briefly: watch it a while before saying this worker waits */
    for (int i = 0, pause = 1; !s->far && i < LOCK_SPINS && stopping(s, w) == 0; i += pause) {
        uint64_t cur = 0;
        if (ld(s, F(state), memory_order_relaxed) == 0 &&
            cas(s, F(state), &cur, key, memory_order_acquire)) {
            hold_once(s);
            return 0;
        }
        /* looking less and less often leaves the line to the holder */
        for (int k = 0; k < pause; k++)
            pk__cpu_relax();
        pause = pause < 64 ? 2 * pause : 64;
    }
    for (;;) {
        uint64_t seen = ld(s, F(seq), memory_order_seq_cst);
        uint64_t cur = ld(s, F(state), memory_order_relaxed);
        /* taken with WAITERS, not bare: others may sleep, so the release wakes */
        if (cur == 0 && cas(s, F(state), &cur, key | WAITERS, memory_order_acquire)) {
            hold_once(s);
            return 0;
        }
        if (atomic_load(&s->far_failed) != 0)
            return atomic_load(&s->far_failed);
        if (cur == 0 ||
            ((cur & WAITERS) == 0 && !cas(s, F(state), &cur, cur | WAITERS, memory_order_relaxed)))
            continue; /* the word moved: look again */
        int rc = wait_seq(s, w, seen, deadline, LOCK_SPINS);
        if (rc != 0)
            return rc;
    }
}

/* The first compare-and-swap found the lock held (its word: cur). */
static int lock_busy(pk__sync *s, pk_worker *w, uint64_t key, uint64_t cur, double deadline,
                     int try_only) {
    if (atomic_load(&s->far_failed) != 0)
        return atomic_load(&s->far_failed);
    if ((cur & ~WAITERS) == key) {
        if (s->flags & PK_LOCK_RECURSIVE) {
            atomic_fetch_add_explicit(&s->depth, 1, memory_order_relaxed);
            return 0;
        }
        char who[64];
        describe(s, w, who, sizeof who);
        return refuse(s, PK_EINVAL,
                      "%s already holds this lock: taking a non-recursive lock twice would never "
                      "return (PK_LOCK_RECURSIVE allows it)",
                      who);
    }
    return try_only ? PK_EAGAIN : lock_wait(s, w, key, deadline);
}

/* One-sided, the workers of one process line up at the lock's gate (in the
 * process) before one of them goes to the lock word (on rank 0): a process's
 * MPI calls go one at a time, so a worker polling the word would hold up its
 * neighbour that holds the lock and is reading and writing under it. Across
 * two test hosts with two threads per rank, 40 000 increments under a lock
 * took 19 to 31 s without the gate and 8 to 10 s with it, about what one
 * thread per rank takes per increment. 0 once the gate is key's (*entered: 1 when this call
 * entered it, 0 when key had it already: a recursive or a second take, which
 * the lock word deals with), else what the take must return. The wait
 * sleeps on a mutex, looking at the pool call's stop and the primitive's
 * broken word (an MPI call) every 20 ms. */
COLD int gate_enter(pk__sync *s, pk_worker *w, uint64_t key, double deadline, int try_only,
                    int *entered) {
    *entered = 0;
    if (atomic_load(&s->gate) == key)
        return 0; /* only key's worker sets it to key */
    if (try_only && pthread_mutex_trylock(&s->gate_mu) != 0)
        return PK_EAGAIN;
    while (!try_only) {
        double left = deadline >= 0 ? deadline - now_seconds() : 0.02;
        left = left < 0.02 ? left : 0.02;
        struct timespec at; /* the timed lock's clock */
        clock_gettime(CLOCK_REALTIME, &at);
        if (left > 0) {
            long ns = at.tv_nsec + (long)(left * 1e9);
            at.tv_sec += ns / 1000000000L;
            at.tv_nsec = ns % 1000000000L;
        }
        if (pthread_mutex_timedlock(&s->gate_mu, &at) == 0)
            break;
        int stop = stopping(s, w);
        if (stop != 0)
            return stop;
        if (deadline >= 0 && now_seconds() >= deadline)
            return PK_ETIMEDOUT;
    }
    atomic_store(&s->gate, key);
    *entered = 1;
    return 0;
}

/* The lock let go entirely by key: the next worker of this process may go. */
static void gate_leave(pk__sync *s, uint64_t key) {
    if (atomic_load(&s->gate) != key)
        return;
    atomic_store(&s->gate, 0);
    pthread_mutex_unlock(&s->gate_mu);
}

/* Takes the lock for key: 0, PK_EAGAIN (try), PK_ETIMEDOUT, PK_EABORTED. */
HOT int lock_take(pk__sync *s, pk_worker *w, uint64_t key, double deadline, int try_only) {
    int entered = 0;
    if (FAR(s)) {
        int rc = gate_enter(s, w, key, deadline, try_only, &entered);
        if (rc != 0)
            return rc;
    }
    uint64_t cur = 0;
    if (cas(s, F(state), &cur, key, memory_order_acquire)) {
        hold_once(s);
        return 0;
    }
    int rc = lock_busy(s, w, key, cur, deadline, try_only);
    if (rc != 0 && entered)
        gate_leave(s, key);
    return rc;
}

HOT int lock_acquire(pk_lock *lock, pk_worker *w, double deadline, int try_only) {
    if (GONE(lock))
        return PK_EINVAL;
    pk__sync *s = &lock->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    int stop = stopping(s, w);
    if (stop != 0)
        return stop;
    return lock_take(s, w, (uint64_t)key_of(s, w), deadline, try_only);
}

/* The common case in one leaf: a worker of this context's pool call takes a
 * free lock on shared memory. Anything else (no worker, a stop, a lock held,
 * the one-sided engine) goes the whole way, which looks again from the start. */
int pk_lock_acquire(pk_lock *lock, pk_worker *w) {
    if (lock != NULL && w != NULL && w->job_ != NULL) {
        const pk__sync *s = &lock->s;
        const struct pk__job *job = w->job_;
        if (job->ctx == s->ctx && s->magic == SYNC_LIVE && !FAR(s) &&
            !atomic_load_explicit(&job->stop, memory_order_relaxed) &&
            !atomic_load_explicit(&s->h->broken, memory_order_relaxed)) {
            uint64_t cur = 0;
            if (atomic_compare_exchange_strong_explicit(&s->h->state, &cur, (uint64_t)key_of(s, w),
                                                        memory_order_acquire,
                                                        memory_order_relaxed)) {
                if (s->flags & PK_LOCK_RECURSIVE)
                    atomic_store_explicit(&lock->s.depth, 1, memory_order_relaxed);
                return 0;
            }
        }
    }
    return lock_acquire(lock, w, -1, 0);
}

int pk_lock_try_acquire(pk_lock *lock, pk_worker *w) {
    return lock_acquire(lock, w, -1, 1);
}

int pk_lock_acquire_timeout(pk_lock *lock, pk_worker *w, double seconds) {
    if (GONE(lock))
        return PK_EINVAL;
    int rc = bad_timeout(&lock->s, seconds);
    return rc != 0 ? rc : lock_acquire(lock, w, deadline_after(seconds), 0);
}

/* Lets go of the lock entirely (depth and all); the caller holds it. */
static void lock_drop(pk__sync *s, uint64_t key) {
    uint64_t cur = key;
    if (s->flags & PK_LOCK_RECURSIVE)
        atomic_store_explicit(&s->depth, 0, memory_order_relaxed);
    if (!cas(s, F(state), &cur, 0, memory_order_release)) {
        /* WAITERS is set, and only the holder clears it */
        while (!cas(s, F(state), &cur, 0, memory_order_release))
            if (atomic_load(&s->far_failed) != 0)
                break;
        if (atomic_load(&s->far_failed) == 0)
            wake_sleepers(s, 1);
    }
    if (FAR(s))
        gate_leave(s, key);
}

COLD int not_owner(pk__sync *s, pk_worker *w, const char *what) {
    if (atomic_load(&s->far_failed) != 0)
        return atomic_load(&s->far_failed);
    char who[64];
    describe(s, w, who, sizeof who);
    return refuse(s, PK_EPERM, "%s %s a lock it does not hold", who, what);
}

static int check_owner(pk__sync *s, pk_worker *w, const char *what) {
    if ((ld(s, F(state), memory_order_relaxed) & ~WAITERS) == (uint64_t)key_of(s, w))
        return 0;
    return not_owner(s, w, what);
}

static int lock_release(pk_lock *lock, pk_worker *w);

/* The common case in one leaf: a worker of this context's pool call lets go
 * of a plain lock on shared memory that nobody waits for. The compare-and-swap
 * is the owner check; anything else goes the whole way. */
int pk_lock_release(pk_lock *lock, pk_worker *w) {
    if (lock != NULL && w != NULL && w->job_ != NULL) {
        const pk__sync *s = &lock->s;
        if (w->job_->ctx == s->ctx && s->magic == SYNC_LIVE && !FAR(s) &&
            !(s->flags & PK_LOCK_RECURSIVE)) {
            uint64_t cur = (uint64_t)key_of(s, w);
            if (atomic_compare_exchange_strong_explicit(&s->h->state, &cur, 0, memory_order_release,
                                                        memory_order_relaxed))
                return 0;
        }
    }
    return lock_release(lock, w);
}

static int lock_release(pk_lock *lock, pk_worker *w) {
    if (GONE(lock))
        return PK_EINVAL;
    pk__sync *s = &lock->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    uint64_t key = (uint64_t)key_of(s, w), cur = key;
    /* held once and nobody waiting: the compare-and-swap is the owner check */
    if (hold_depth(s) == 1 && cas(s, F(state), &cur, 0, memory_order_release)) {
        if (s->flags & PK_LOCK_RECURSIVE)
            atomic_store_explicit(&s->depth, 0, memory_order_relaxed);
        if (FAR(s))
            gate_leave(s, key);
        return 0;
    }
    int rc = check_owner(s, w, "releases");
    if (rc != 0)
        return rc;
    if (hold_depth(s) > 1) {
        atomic_fetch_sub_explicit(&s->depth, 1, memory_order_relaxed);
        return 0;
    }
    lock_drop(s, key);
    return 0;
}

void pk_lock_free(pk_lock *lock) {
    sync_free((pk__sync *)(void *)lock);
}

/* ---- pk_sem ---- */

typedef struct sem_init_arg {
    int64_t permits, max;
} sem_init_arg;

static void sem_init(sync_head *h, const void *arg) {
    const sem_init_arg *a = arg;
    atomic_init(&h->count, (uint64_t)a->permits);
    atomic_init(&h->max, (uint64_t)a->max);
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
    if (GONE(sem))
        return PK_EINVAL;
    pk__sync *s = &sem->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    int stop = stopping(s, w);
    if (stop != 0)
        return stop;
    for (;;) {
        uint64_t seen = ld(s, F(seq), memory_order_seq_cst);
        uint64_t c = ld(s, F(count), memory_order_seq_cst);
        while ((int64_t)c > 0 && !atomic_load(&s->far_failed))
            if (cas(s, F(count), &c, c - 1, memory_order_seq_cst))
                return 0;
        if (atomic_load(&s->far_failed))
            return atomic_load(&s->far_failed);
        if (try_only)
            return PK_EAGAIN;
        int rc = wait_seq(s, w, seen, deadline, SPINS);
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
    if (GONE(sem))
        return PK_EINVAL;
    int rc = bad_timeout(&sem->s, seconds);
    return rc != 0 ? rc : sem_acquire(sem, w, deadline_after(seconds), 0);
}

int pk_sem_release(pk_sem *sem, pk_worker *w) {
    if (GONE(sem) || foreign(&sem->s, w) != 0)
        return PK_EINVAL;
    pk__sync *s = &sem->s;
    int64_t max = (int64_t)s->max;
    uint64_t c = ld(s, F(count), memory_order_seq_cst);
    do {
        if (atomic_load(&s->far_failed))
            return atomic_load(&s->far_failed);
        if (max > 0 && (int64_t)c >= max)
            return refuse(s, PK_EOVERFLOW, "releasing a bounded semaphore above its %lld permits",
                          (long long)max);
    } while (!cas(s, F(count), &c, c + 1, memory_order_seq_cst));
    wake_sleepers(s, 1);
    return 0;
}

int64_t pk_sem_value(const pk_sem *sem) {
    return GONE(sem) ? 0 : sld(&sem->s, F(count));
}

void pk_sem_free(pk_sem *sem) {
    sync_free((pk__sync *)(void *)sem);
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
    if (GONE(event) || foreign(&event->s, w) != 0)
        return PK_EINVAL;
    st(&event->s, F(count), 1, memory_order_seq_cst);
    wake_sleepers(&event->s, INT_MAX);
    return 0;
}

int pk_event_clear(pk_event *event, pk_worker *w) {
    if (GONE(event) || foreign(&event->s, w) != 0)
        return PK_EINVAL;
    st(&event->s, F(count), 0, memory_order_seq_cst);
    return 0;
}

int pk_event_is_set(const pk_event *event) {
    return !GONE(event) && sld(&event->s, F(count)) != 0;
}

static int event_wait(pk_event *event, pk_worker *w, double deadline) {
    if (GONE(event))
        return PK_EINVAL;
    pk__sync *s = &event->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    for (;;) {
        uint64_t seen = ld(s, F(seq), memory_order_seq_cst);
        int stop = stopping(s, w);
        if (stop != 0)
            return stop;
        if (sld(s, F(count)) != 0)
            return 0;
        int rc = wait_seq(s, w, seen, deadline, SPINS);
        if (rc != 0)
            return rc;
    }
}

int pk_event_wait(pk_event *event, pk_worker *w) {
    return event_wait(event, w, -1);
}

int pk_event_wait_timeout(pk_event *event, pk_worker *w, double seconds) {
    if (GONE(event))
        return PK_EINVAL;
    int rc = bad_timeout(&event->s, seconds);
    return rc != 0 ? rc : event_wait(event, w, deadline_after(seconds));
}

void pk_event_free(pk_event *event) {
    sync_free((pk__sync *)(void *)event);
}

/* ---- pk_cond ---- */

int pk_cond_new(pk_ctx *ctx, pk_cond **cond, pk_lock *lock) {
    int rc = 0;
    if (ctx != NULL && lock == NULL)
        rc = pk__set_error(ctx, PK_EINVAL, "a condition needs a lock");
    else if (ctx != NULL && GONE(lock))
        rc = PK_EINVAL;
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
    if (GONE(cond))
        return PK_EINVAL;
    pk__sync *s = &cond->s, *l = s->lock;
    if (gone(l))
        return PK_EINVAL;
    int rc = foreign(s, w) != 0 ? PK_EINVAL : check_owner(l, w, "waits on a condition over");
    if (rc != 0)
        return rc;
    /* a broken condition returns PK_EABORTED from wait_seq, the lock let go */
    /* the sequence word is read before the lock goes: no notify is lost */
    uint64_t seen = ld(s, F(seq), memory_order_seq_cst);
    int64_t depth = hold_depth(l);
    uint64_t key = (uint64_t)key_of(l, w);
    lock_drop(l, key);
    rc = wait_seq(s, w, seen, deadline, SPINS);
    if (rc != 0 && rc != PK_ETIMEDOUT)
        return rc;
    int taken = lock_take(l, w, key, -1, 0);
    if (taken != 0)
        return taken;
    if (l->flags & PK_LOCK_RECURSIVE)
        atomic_store_explicit(&l->depth, depth, memory_order_relaxed);
    return rc;
}

int pk_cond_wait(pk_cond *cond, pk_worker *w) {
    return cond_wait(cond, w, -1);
}

int pk_cond_wait_timeout(pk_cond *cond, pk_worker *w, double seconds) {
    if (GONE(cond))
        return PK_EINVAL;
    int rc = bad_timeout(&cond->s, seconds);
    return rc != 0 ? rc : cond_wait(cond, w, deadline_after(seconds));
}

int pk_cond_notify(pk_cond *cond, pk_worker *w) {
    if (GONE(cond) || foreign(&cond->s, w) != 0)
        return PK_EINVAL;
    wake_sleepers(&cond->s, 1);
    return 0;
}

int pk_cond_notify_all(pk_cond *cond, pk_worker *w) {
    if (GONE(cond) || foreign(&cond->s, w) != 0)
        return PK_EINVAL;
    wake_sleepers(&cond->s, INT_MAX);
    return 0;
}

void pk_cond_free(pk_cond *cond) {
    sync_free((pk__sync *)(void *)cond);
}

/* ---- pk_barrier ---- */

static void barrier_init(sync_head *h, const void *arg) {
    atomic_init(&h->max, (uint64_t) * (const int *)arg);
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
    if (GONE(barrier))
        return PK_EINVAL;
    pk__sync *s = &barrier->s;
    if (foreign(s, w) != 0)
        return PK_EINVAL;
    int stop = stopping(s, w);
    if (stop != 0)
        return stop;
    uint64_t round = ld(s, F(round), memory_order_seq_cst);
    if (fadd(s, F(count), 1) + 1 == s->max && !atomic_load(&s->far_failed)) {
        st(s, F(count), 0, memory_order_seq_cst); /* before the round moves: a new count */
        fadd(s, F(round), 1);
        wake_sleepers(s, INT_MAX);
        return 1;
    }
    for (;;) {
        uint64_t seen = ld(s, F(seq), memory_order_seq_cst);
        if (ld(s, F(round), memory_order_seq_cst) != round)
            return 0;
        int rc = wait_seq(s, w, seen, -1, SPINS);
        if (rc != 0)
            return rc;
    }
}

void pk_barrier_free(pk_barrier *barrier) {
    sync_free((pk__sync *)(void *)barrier);
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
    return GONE(shared) ? NULL : shared->s.data;
}

int64_t pk_shared_count(const pk_shared *shared) {
    return GONE(shared) ? 0 : shared->s.count;
}

size_t pk_shared_elem_size(const pk_shared *shared) {
    return GONE(shared) ? 0 : shared->s.elem_size;
}

static int check_range(const pk_shared *sh, int64_t first, int64_t n) {
    if (first >= 0 && n >= 0 && first <= sh->s.count && n <= sh->s.count - first)
        return 0;
    return refuse(&sh->s, PK_ERANGE, "elements [%lld, %lld + %lld) of a shared array of %lld",
                  (long long)first, (long long)first, (long long)n, (long long)sh->s.count);
}

/* Moves elements [first, first + n) out of (put: into) the array. */
static int xfer(pk_shared *sh, int put, int64_t first, int64_t n, void *buf) {
    int rc = check_range(sh, first, n);
    if (rc != 0 || n == 0)
        return rc;
    size_t off = (size_t)first * sh->s.elem_size, len = (size_t)n * sh->s.elem_size;
    if (sh->s.far)
        return sh->s.ctx->backend->segment_xfer(sh->s.ctx, sh->s.segment, put, HEAD_BYTES + off,
                                                len, buf);
    if (put)
        memcpy(sh->s.data + off, buf, len);
    else
        memcpy(buf, sh->s.data + off, len);
    return 0;
}

int pk_shared_get(pk_shared *shared, int64_t first, int64_t n, void *out) {
    if (GONE(shared) || (out == NULL && n > 0))
        return PK_EINVAL;
    return xfer(shared, 0, first, n, out);
}

int pk_shared_put(pk_shared *shared, int64_t first, int64_t n, const void *in) {
    if (GONE(shared) || (in == NULL && n > 0))
        return PK_EINVAL;
    return xfer(shared, 1, first, n, (void *)in);
}

/* The offset of element i's 8-byte word in the segment, or 0 with the reason
 * recorded. */
static size_t word_at(pk_shared *sh, int64_t i) {
    if (GONE(sh))
        return 0;
    if (sh->s.elem_size != 8) {
        refuse(&sh->s, PK_EINVAL, "atomic operations need 8-byte elements, not %zu",
               sh->s.elem_size);
        return 0;
    }
    if (check_range(sh, i, 1) != 0)
        return 0;
    return HEAD_BYTES + (size_t)i * 8;
}

/* The code for a 0 word_at: its reason is recorded already. */
static int word_error(const pk_shared *sh, int64_t i) {
    if (sh == NULL || sh->s.magic != SYNC_LIVE)
        return PK_EINVAL;
    return sh->s.elem_size != 8 ? PK_EINVAL : (i < 0 || i >= sh->s.count ? PK_ERANGE : PK_EINVAL);
}

static int64_t as_i64(uint64_t u) {
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint64_t of_i64(int64_t v) {
    uint64_t u = 0;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double as_f64(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint64_t of_f64(double v) {
    uint64_t u = 0;
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

/* The element's word offset, or 0 with *rc set (and the reason recorded); a
 * call that needs a pointer of the caller's and got none is PK_EINVAL. */
static size_t word_or_error(pk_shared *sh, int64_t i, int has_ptr, int *rc) {
    size_t off = word_at(sh, i);
    *rc = off == 0 ? word_error(sh, i) : !has_ptr ? PK_EINVAL : 0;
    return *rc == 0 ? off : 0;
}

/* What a call on the one-sided engine ends with: the code of an operation that
 * failed in this process (the backend said why), else 0. */
static int far_rc(const pk_shared *sh) {
    return atomic_load(&sh->s.far_failed);
}

static int word_load(pk_shared *sh, int64_t i, uint64_t *value) {
    int rc;
    size_t off = word_or_error(sh, i, value != NULL, &rc);
    if (off == 0)
        return rc;
    *value = ld(&sh->s, off, memory_order_seq_cst);
    return far_rc(sh);
}

static int word_store(pk_shared *sh, int64_t i, uint64_t value) {
    int rc;
    size_t off = word_or_error(sh, i, 1, &rc);
    if (off == 0)
        return rc;
    st(&sh->s, off, value, memory_order_seq_cst);
    return far_rc(sh);
}

static int word_fetch_add(pk_shared *sh, int64_t i, int f64, uint64_t delta, uint64_t *old) {
    int rc;
    size_t off = word_or_error(sh, i, 1, &rc);
    if (off == 0)
        return rc;
    uint64_t cur;
    if (!f64) { /* two's-complement wrap, as an unsigned add, never undefined */
        cur = fadd(&sh->s, off, delta);
    } else {
        cur = ld(&sh->s, off, memory_order_seq_cst);
        while (!cas(&sh->s, off, &cur, of_f64(as_f64(cur) + as_f64(delta)), memory_order_seq_cst))
            if (far_rc(sh) != 0)
                break;
    }
    if (old != NULL)
        *old = cur;
    return far_rc(sh);
}

static int word_compare_exchange(pk_shared *sh, int64_t i, int f64, uint64_t *expected,
                                 uint64_t desired) {
    int rc;
    size_t off = word_or_error(sh, i, expected != NULL, &rc);
    if (off == 0)
        return rc;
    uint64_t cur = ld(&sh->s, off, memory_order_seq_cst);
    for (;;) {
        if (far_rc(sh) != 0)
            return far_rc(sh);
        if (!word_equal(f64, cur, *expected)) {
            *expected = cur;
            return PK_EAGAIN;
        }
        if (cas(&sh->s, off, &cur, desired, memory_order_seq_cst))
            return 0;
    }
}

/* Stores value when it is below (min) or above (max) the element; *old gets
 * the element before. */
static int word_update(pk_shared *sh, int64_t i, int f64, uint64_t value, uint64_t *old,
                       int want_max) {
    int rc;
    size_t off = word_or_error(sh, i, 1, &rc);
    if (off == 0)
        return rc;
    uint64_t cur = ld(&sh->s, off, memory_order_seq_cst);
    while (far_rc(sh) == 0 && (want_max ? word_less(f64, cur, value) : word_less(f64, value, cur)))
        if (cas(&sh->s, off, &cur, value, memory_order_seq_cst))
            break;
    if (old != NULL)
        *old = cur;
    return far_rc(sh);
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
    uint64_t u = 0;
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
    uint64_t u = 0;
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
    uint64_t u = 0;
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
    uint64_t u = 0;
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
    sync_free((pk__sync *)(void *)shared);
}
