/* The bounded channel between threads of one process, used by the serial and
 * OpenMP backends. Items live in a ring of slots, each with a stamp saying whose
 * turn the slot is (the producer of this lap, or the consumer), so a put or a get
 * is one compare-and-swap on a shared position plus a copy, with no lock; batches
 * claim a run of slots with one compare-and-swap. A thread that finds the ring
 * full or empty spins a little, yields, then sleeps on a condition variable; a
 * count of sleepers lets the other side skip the lock when nobody sleeps. Close
 * and abort wake every sleeper. With an observe hook every move runs under the
 * lock, so the hook sees the exact contents.
 *
 * With bind_roles and one putter and one getter (SPSC mode) nobody claims a
 * slot: the putter alone moves the tail and the getter alone the head, with no
 * compare-and-swap. The putter learns of free slots from a copy of the head
 * that it reads again only when the copy says full, and stamps each slot it
 * fills; the getter waits on that stamp, in the item's own line, and hands the
 * slot back by moving the head, without writing the slot. So the putter never
 * reads a line the getter wrote but the head, once a lap. Inside a pk_team the
 * worker id decides who may put or get, as across ranks; elsewhere the first
 * thread to put or close binds the putter's role, the first to get the
 * getter's. */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

/* Stamps and positions are lap * one_lap + index, one_lap the power of two above
 * the capacity, so moving on is an add or a carry into the lap and never a
 * division. The last producer's close sets CLOSED in the tail, which makes
 * every later claim fail: a put either lands before the close or sees it. */
#define CLOSED ((uint64_t)1 << 63)
#define LINE 64

/* Busy-waiting before sleeping: a short spin covers the other side being in
 * the middle of a copy; yields give the CPU away when threads outnumber cores.
 * AHEAD: how far, in bytes, an SPSC putter asks for the line it will fill. */
enum { SPINS = 64, MIN_SPINS = 8, YIELDS = 128, RUN = 8, AHEAD = 256, POLL_PAUSES = 8 };

typedef void (*observe_fn)(void *arg, pk_chan *ch, int event, const void *item);

typedef struct thr_chan {
    pk_chan base;
    /* Read-mostly: set at open, or changed once (abort, closing). */
    char *slots;
    size_t stride, cap;
    size_t run;     /* items a spinning waiter waits for (1..RUN) */
    size_t put_run; /* SPSC mode: free slots a spinning putter waits for (see spsc_put_ready_run) */
    size_t ahead_room;  /* SPSC mode: free slots that cover the whole line prefetched */
    size_t ahead_bytes; /* SPSC mode: how far ahead of the slot it fills the putter prefetches */
    size_t ring_bytes;  /* cap * stride */
    uint64_t one_lap;
    unsigned lap_shift;
    atomic_int abort_code; /* 0 while not aborted */
    atomic_int open_producers;
    observe_fn observe;
    void *observe_arg;
    int asym; /* the sleepers fence everyone: the movers need no fence of their own */
    int spsc; /* one bound putter and one bound getter (see the top) */
    int putter_id, getter_id; /* SPSC mode: the team workers of the two roles */
    atomic_int closed; /* SPSC mode: the putter closed (the tail's CLOSED, on a quiet line) */
    /* Written by producers. */
    alignas(LINE) _Atomic uint64_t tail;
    _Atomic uint64_t head_seen; /* some past head: depth estimates without reading head;
                                   in SPSC mode the putter's copy of the head */
    _Atomic size_t max_depth;
    _Atomic uintptr_t put_owner; /* SPSC mode: the bound putter thread (0: none yet) */
    size_t room_seen;            /* SPSC mode: free slots after the tail as of head_seen */
    /* Written by consumers. */
    alignas(LINE) _Atomic uint64_t head;
    _Atomic uintptr_t get_owner; /* SPSC mode: the bound getter thread */
    /* The slow path: sleepers and what they sleep on. */
    alignas(LINE) atomic_int put_waiters;
    atomic_int get_waiters;
    unsigned put_round, get_round; /* under mu: moved on when a mover woke that side */
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    /* Written by spinning waiters: away from the counts every mover reads. */
    alignas(LINE) atomic_int spins; /* the spin before yielding: halved when it was in vain */
} thr_chan;

static inline _Atomic uint64_t *stamp_at(const thr_chan *c, size_t index) {
    return (_Atomic uint64_t *)(void *)(c->slots + index * c->stride);
}

static inline char *item_at(const thr_chan *c, size_t index) {
    return c->slots + index * c->stride + sizeof(uint64_t);
}

static inline size_t index_of(const thr_chan *c, uint64_t pos) {
    return (size_t)(pos & (c->one_lap - 1));
}

/* The position n places on; n never passes the end of the ring. */
static inline uint64_t advance(const thr_chan *c, uint64_t pos, size_t n) {
    return index_of(c, pos) + n < c->cap ? pos + n : (pos & ~(c->one_lap - 1)) + c->one_lap;
}

/* The position n places on, n < cap, across the end of the ring if need be. */
static inline uint64_t pos_plus(const thr_chan *c, uint64_t pos, size_t n) {
    size_t i = index_of(c, pos) + n;
    return i < c->cap ? pos + n : (pos & ~(c->one_lap - 1)) + c->one_lap + (i - c->cap);
}

/* How many items came before pos. */
static inline uint64_t ordinal(const thr_chan *c, uint64_t pos) {
    return (pos >> c->lap_shift) * c->cap + index_of(c, pos);
}

static inline void copy_item(void *dst, const void *src, size_t size) {
    if (size == sizeof(uint64_t))
        memcpy(dst, src, sizeof(uint64_t)); /* the common case, one move */
    else
        memcpy(dst, src, size);
}

/* The fences of a put or get and of a sleeper (see pk__mover_fence). */
static inline void mover_fence(const thr_chan *c) {
    pk__mover_fence(c->asym);
}

static int sleeper_fence(const thr_chan *c) {
    return pk__sleeper_fence(c->asym);
}

/* Hands k claimed slots from first over to the other side. The first slot goes
 * last: a waiter only ever waits for the first slot of a batch, and once it is
 * handed over the whole batch is. */
static void hand_over(const thr_chan *c, size_t first, size_t k, uint64_t stamp0) {
    for (size_t j = k; j-- > 0;)
        atomic_store_explicit(stamp_at(c, first + j), stamp0 + j, memory_order_release);
}

/* Kept out of line so that the fast paths stay small (COLD: rarely run). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define COLD __attribute__((noinline, cold))
#else
#define NOINLINE
#define COLD
#endif

/* One side's sleepers: how many (changed only under the lock), the round that
 * moves on each time a mover wakes them, and what they sleep on. */
typedef struct sleepers {
    atomic_int *count;
    unsigned *round;
    pthread_cond_t *cv;
} sleepers;

static sleepers put_side(thr_chan *c) {
    return (sleepers){&c->put_waiters, &c->put_round, &c->not_full};
}

static sleepers get_side(thr_chan *c) {
    return (sleepers){&c->get_waiters, &c->get_round, &c->not_empty};
}

/* Wakes every sleeper of the side and sets their count to 0, so the movers that
 * follow skip the lock until someone sleeps again: while a woken thread waits
 * for a core, the other side's fast path stays free of syscalls. A woken thread
 * that still cannot go on counts itself in again. */
static COLD void wake_sleepers(thr_chan *c, sleepers s) {
    pthread_mutex_lock(&c->mu);
    if (atomic_load_explicit(s.count, memory_order_relaxed) != 0) {
        atomic_store_explicit(s.count, 0, memory_order_relaxed);
        (*s.round)++;
        pthread_cond_broadcast(s.cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static inline void wake(thr_chan *c, atomic_int *waiters, sleepers (*side)(thr_chan *)) {
    mover_fence(c);
    if (atomic_load_explicit(waiters, memory_order_relaxed) != 0)
        wake_sleepers(c, side(c));
}

/* Raises the high-water mark after a put that ended at tail_end. A head seen
 * earlier gives an upper bound of the depth; only when that bound passes the
 * mark is the real head read, so the common put does not touch the consumers'
 * line. The k items just put were all in the channel at once. */
static COLD void raise_depth(thr_chan *c, uint64_t end, size_t k, size_t mark);

static inline void note_depth(thr_chan *c, uint64_t tail_end, size_t k) {
    uint64_t end = ordinal(c, tail_end);
    size_t mark = atomic_load_explicit(&c->max_depth, memory_order_relaxed);
    if (mark == c->cap)
        return; /* as deep as it gets (the usual state when consumers are slower) */
    uint64_t seen = ordinal(c, atomic_load_explicit(&c->head_seen, memory_order_relaxed));
    if ((int64_t)(end - seen) > (int64_t)mark)
        raise_depth(c, end, k, mark);
}

static void raise_depth(thr_chan *c, uint64_t end, size_t k, size_t mark) {
    /* Acquire: in SPSC mode the putter reuses the slots before this head. */
    uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
    atomic_store_explicit(&c->head_seen, head, memory_order_relaxed);
    int64_t d = (int64_t)(end - ordinal(c, head));
    if (c->spsc)
        c->room_seen = c->cap - (size_t)d; /* the putter's count, exact again */
    size_t depth = d > (int64_t)k ? (size_t)d : k;
    while (depth > mark &&
           !atomic_compare_exchange_weak_explicit(&c->max_depth, &mark, depth, memory_order_relaxed,
                                                  memory_order_relaxed))
        continue;
}

/* Puts up to n items without waiting: how many went in (0 when full), or a
 * negative code (closed, aborted). */
static long put_some(thr_chan *c, const char *src, size_t n) {
    int code = atomic_load_explicit(&c->abort_code, memory_order_acquire);
    if (code != 0)
        return code;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if (t & CLOSED)
            return PK_ECLOSED;
        size_t i = index_of(c, t), room = c->cap - i, k = 0;
        size_t m = n < room ? n : room;
        while (k < m && atomic_load_explicit(stamp_at(c, i + k), memory_order_acquire) == t + k)
            k++;
        if (k == 0) {
            uint64_t now = atomic_load_explicit(&c->tail, memory_order_relaxed);
            if (now == t)
                return 0;
            t = now;
            continue;
        }
        uint64_t next = advance(c, t, k);
        if (atomic_compare_exchange_weak_explicit(&c->tail, &t, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            size_t es = c->base.elem_size;
            for (size_t j = 0; j < k; j++)
                copy_item(item_at(c, i + j), src + j * es, es);
            hand_over(c, i, k, t + 1);
            note_depth(c, next, k);
            return (long)k;
        }
    }
}

/* Gets up to max items without waiting: how many came out (0 when empty), or a
 * negative code (closed and drained, aborted). */
static long get_some(thr_chan *c, char *dst, size_t max) {
    int code = atomic_load_explicit(&c->abort_code, memory_order_acquire);
    if (code != 0)
        return code;
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        size_t i = index_of(c, h), room = c->cap - i, k = 0;
        size_t m = max < room ? max : room;
        while (k < m && atomic_load_explicit(stamp_at(c, i + k), memory_order_acquire) == h + k + 1)
            k++;
        if (k == 0) {
            uint64_t now = atomic_load_explicit(&c->head, memory_order_relaxed);
            if (now != h) {
                h = now;
                continue;
            }
            uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
            return t == (h | CLOSED) ? PK_ECLOSED : 0;
        }
        if (atomic_compare_exchange_weak_explicit(&c->head, &h, advance(c, h, k),
                                                  memory_order_relaxed, memory_order_relaxed)) {
            size_t es = c->base.elem_size;
            for (size_t j = 0; j < k; j++)
                copy_item(dst + j * es, item_at(c, i + j), es);
            hand_over(c, i, k, h + c->one_lap);
            return (long)k;
        }
    }
}

/* The common case on its own short path: one item, its slot ready, nobody
 * else claiming it first. 1 when the item moved; 0 sends the caller to the
 * general path (full, empty, contended, closed or aborted). */
static inline int put_one(thr_chan *c, const void *item) {
    if (atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0)
        return 0;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    size_t i = index_of(c, t); /* with CLOSED set no stamp matches t */
    if (atomic_load_explicit(stamp_at(c, i), memory_order_acquire) != t)
        return 0;
    uint64_t next = advance(c, t, 1);
    if (!atomic_compare_exchange_strong_explicit(&c->tail, &t, next, memory_order_relaxed,
                                                 memory_order_relaxed))
        return 0;
    copy_item(item_at(c, i), item, c->base.elem_size);
    atomic_store_explicit(stamp_at(c, i), t + 1, memory_order_release);
    note_depth(c, next, 1);
    return 1;
}

static inline int get_one(thr_chan *c, void *item) {
    if (atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0)
        return 0;
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    size_t i = index_of(c, h);
    if (atomic_load_explicit(stamp_at(c, i), memory_order_acquire) != h + 1)
        return 0;
    uint64_t next = advance(c, h, 1);
    if (!atomic_compare_exchange_strong_explicit(&c->head, &h, next, memory_order_relaxed,
                                                 memory_order_relaxed))
        return 0;
    copy_item(item, item_at(c, i), c->base.elem_size);
    atomic_store_explicit(stamp_at(c, i), h + c->one_lap, memory_order_release);
    return 1;
}

/* ---- SPSC mode ---------------------------------------------------------------- */

/* A thread's identity: the address of a variable of its own. */
#if defined(__GNUC__)
static _Thread_local char thread_mark __attribute__((tls_model("initial-exec")));
#else
static _Thread_local char thread_mark;
#endif

/* Whether the calling thread holds the role of owner: inside a team, whether
 * it runs the role's worker (role_id), which then owns it; elsewhere whether it
 * is the owner, binding it when nobody is yet. One team's worker hands the
 * role to the next team's at the teams' end and start. */
static inline int bind_role(_Atomic uintptr_t *owner, int role_id) {
    uintptr_t me = (uintptr_t)&thread_mark;
    int id = pk__team_id;
    uintptr_t now = atomic_load_explicit(owner, memory_order_relaxed);
    if (id >= 0) {
        if (id != role_id)
            return 0;
        if (now != me)
            atomic_store_explicit(owner, me, memory_order_relaxed);
        return 1;
    }
    if (now == me)
        return 1;
    return now == 0 && atomic_compare_exchange_strong_explicit(
                           owner, &now, me, memory_order_relaxed, memory_order_relaxed);
}

static COLD int refuse_role(thr_chan *c, const char *role, const char *verb) {
    if (pk__team_id >= 0)
        return pk__chan_refuse(&c->base, PK_EINVAL, "worker %d is not a %s of this channel",
                               pk__team_id, role);
    return pk__chan_refuse(&c->base, PK_EINVAL,
                           "this thread is not the %s of the channel: with bind_roles and one "
                           "%s the first thread to %s takes the role",
                           role, role, verb);
}

/* Items between head and tail (tail without CLOSED). */
static inline uint64_t spsc_depth(const thr_chan *c, uint64_t tail, uint64_t head) {
    return ordinal(c, tail & ~CLOSED) - ordinal(c, head);
}

static inline int spsc_filled(const thr_chan *c, uint64_t pos) {
    return atomic_load_explicit(stamp_at(c, index_of(c, pos)), memory_order_acquire) == pos + 1;
}

/* The SPSC putter's single item, once its count of free slots said there is
 * room: it claims nothing, stamps the slot and moves the tail itself. Its
 * count bounds the depth (cap - room_seen), so the high-water mark costs a
 * compare. What it needs is read before the copy (the item could alias it).
 *
 * Then, while its count of free slots covers the whole line 256 bytes on
 * (ahead_room), it asks for that line in the exclusive state: the getter
 * read it a lap ago, and without the prefetch the putter's stores to it wait
 * for the line to come back (on x86 stores leave in order, so every store
 * behind them waits too, and soon the putter with them). Only lines known
 * free are asked for, or the putter would pull a line the getter still
 * reads. */
static inline void spsc_put_one(thr_chan *c, const void *item) {
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    size_t i = index_of(c, t), room = c->room_seen - 1;
    char *slot = (char *)(void *)stamp_at(c, i);
    uint64_t next = advance(c, t, 1);
    if (room >= c->ahead_room) {
        char *p = slot + c->ahead_bytes;
        pk__prefetch_write(p < c->slots + c->ring_bytes ? p : p - c->ring_bytes);
    }
    copy_item(slot + sizeof(uint64_t), item, c->base.elem_size);
    atomic_store_explicit((_Atomic uint64_t *)(void *)slot, t + 1, memory_order_release);
    atomic_store_explicit(&c->tail, next, memory_order_relaxed);
    c->room_seen = room;
    size_t mark = atomic_load_explicit(&c->max_depth, memory_order_relaxed);
    if (c->cap - room > mark)
        raise_depth(c, ordinal(c, next), 1, mark);
}

/* The SPSC getter's single item: 1 when it moved, 0 sends it to the general
 * path. It claims nothing, and it hands the slot back by moving the head
 * instead of stamping it. */
static inline int spsc_get_one(thr_chan *c, void *item) {
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    size_t i = index_of(c, h);
    const char *slot = (const char *)(void *)stamp_at(c, i);
    if (atomic_load_explicit((const _Atomic uint64_t *)(const void *)slot, memory_order_acquire) !=
            h + 1 ||
        atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0)
        return 0;
    uint64_t next = advance(c, h, 1);
    copy_item(item, slot + sizeof(uint64_t), c->base.elem_size);
    atomic_store_explicit(&c->head, next, memory_order_release);
    return 1;
}

/* Puts up to n items without waiting: how many went in (0 when full), or a
 * negative code. The putter's thread only. */
static long spsc_put_some(thr_chan *c, const char *src, size_t n) {
    int code = atomic_load_explicit(&c->abort_code, memory_order_acquire);
    if (code != 0)
        return code;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (t & CLOSED)
        return PK_ECLOSED;
    if (c->room_seen < n) {
        uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
        atomic_store_explicit(&c->head_seen, h, memory_order_relaxed);
        c->room_seen = c->cap - (size_t)spsc_depth(c, t, h);
    }
    size_t i = index_of(c, t), k = n < c->room_seen ? n : c->room_seen;
    if (k > c->cap - i)
        k = c->cap - i;
    if (k == 0)
        return 0;
    c->room_seen -= k;
    size_t es = c->base.elem_size;
    for (size_t j = 0; j < k; j++)
        copy_item(item_at(c, i + j), src + j * es, es);
    hand_over(c, i, k, t + 1);
    uint64_t next = advance(c, t, k);
    atomic_store_explicit(&c->tail, next, memory_order_relaxed);
    note_depth(c, next, k);
    return (long)k;
}

/* Gets up to max items without waiting: how many came out (0 when empty), or a
 * negative code. The getter's thread only. */
static long spsc_get_some(thr_chan *c, char *dst, size_t max) {
    int code = atomic_load_explicit(&c->abort_code, memory_order_acquire);
    if (code != 0)
        return code;
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    size_t i = index_of(c, h), room = c->cap - i, k = 0;
    size_t m = max < room ? max : room;
    while (k < m && spsc_filled(c, h + k))
        k++;
    if (k == 0) {
        if (!atomic_load_explicit(&c->closed, memory_order_acquire))
            return 0;
        while (k < m && spsc_filled(c, h + k)) /* stamped before the close, seen after it */
            k++;
        if (k == 0)
            return PK_ECLOSED;
    }
    size_t es = c->base.elem_size;
    for (size_t j = 0; j < k; j++)
        copy_item(dst + j * es, item_at(c, i + j), es);
    atomic_store_explicit(&c->head, advance(c, h, k), memory_order_release);
    return (long)k;
}

static int spsc_put_ready_for(thr_chan *c, size_t n) {
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    return (t & CLOSED) ||
           spsc_depth(c, t, atomic_load_explicit(&c->head, memory_order_acquire)) + n <= c->cap ||
           atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0;
}

static int spsc_put_ready(thr_chan *c) {
    return spsc_put_ready_for(c, 1);
}

/* A putter that caught up with the getter waits, while it spins and while it
 * yields, for a quarter of the ring (put_run): it then fills lines the getter
 * left long ago instead of following it a few slots behind, where the two
 * fight over every line. It looks at the head only every POLL_PAUSES pauses:
 * each look pulls the head's line away from the getter, which writes it at
 * every get. Asleep it wakes for one free slot (spsc_put_ready). */
static int spsc_put_ready_run(thr_chan *c) {
    for (int i = 1; i < POLL_PAUSES; i++)
        pk__cpu_relax();
    return spsc_put_ready_for(c, c->put_run);
}

static int spsc_get_ready_for(thr_chan *c, size_t n) {
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    return spsc_filled(c, pos_plus(c, h, n - 1)) ||
           atomic_load_explicit(&c->closed, memory_order_relaxed) ||
           atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0;
}

static int spsc_get_ready(thr_chan *c) {
    return spsc_get_ready_for(c, 1);
}

static int spsc_get_ready_run(thr_chan *c) {
    return spsc_get_ready_for(c, c->run);
}

/* With an observer: one item at a time under the lock, the observer called
 * before anyone else can move an item. */
static long put_observed(thr_chan *c, const char *src) {
    pthread_mutex_lock(&c->mu);
    long n = put_some(c, src, 1);
    if (n > 0)
        c->observe(c->observe_arg, &c->base, 0, src);
    pthread_mutex_unlock(&c->mu);
    return n;
}

static long get_observed(thr_chan *c, char *dst) {
    pthread_mutex_lock(&c->mu);
    long n = get_some(c, dst, 1);
    if (n > 0)
        c->observe(c->observe_arg, &c->base, 1, dst);
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Whether a put could make progress now: a free slot at the tail, or a final
 * answer (closed, aborted). */
static int put_ready(thr_chan *c) {
    if (atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0)
        return 1;
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if ((t & CLOSED) ||
            atomic_load_explicit(stamp_at(c, index_of(c, t)), memory_order_relaxed) == t)
            return 1;
        uint64_t now = atomic_load_explicit(&c->tail, memory_order_relaxed);
        if (now == t)
            return 0;
        t = now;
    }
}

/* Whether a get could make progress now: an item at the head, or a final
 * answer (closed and drained, aborted). */
static int get_ready(thr_chan *c) {
    if (atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0)
        return 1;
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        if (atomic_load_explicit(stamp_at(c, index_of(c, h)), memory_order_relaxed) == h + 1 ||
            atomic_load_explicit(&c->tail, memory_order_relaxed) == (h | CLOSED))
            return 1;
        uint64_t now = atomic_load_explicit(&c->head, memory_order_relaxed);
        if (now == h)
            return 0;
        h = now;
    }
}

/* Whether a put could move a run of items: spinning until then lets the other
 * side work through whole cache lines of slots instead of fighting over one. */
static int put_ready_run(thr_chan *c) {
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (t & CLOSED)
        return 1;
    uint64_t p = pos_plus(c, t, c->run - 1);
    return atomic_load_explicit(stamp_at(c, index_of(c, p)), memory_order_relaxed) == p ||
           atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0;
}

static int get_ready_run(thr_chan *c) {
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    uint64_t p = pos_plus(c, h, c->run - 1);
    return atomic_load_explicit(stamp_at(c, index_of(c, p)), memory_order_relaxed) == p + 1 ||
           (atomic_load_explicit(&c->tail, memory_order_relaxed) & CLOSED) ||
           atomic_load_explicit(&c->abort_code, memory_order_relaxed) != 0;
}

/* Counts the caller among the side's sleepers (under the lock) and fences:
 * whether it may rely on a wake-up (see sleeper_fence). */
static int sleep_register(thr_chan *c, sleepers s, unsigned *round) {
    *round = *s.round;
    atomic_fetch_add_explicit(s.count, 1, memory_order_seq_cst);
    return sleeper_fence(c);
}

/* Spins while the other side is likely to be running: the length adapts, halved
 * (down to MIN_SPINS) after a spin in vain and doubled after one that paid, so
 * that where threads outnumber cores a waiter soon gives its core to the
 * thread it waits for. Whether ready_run(c) came true. */
static int spin_until(thr_chan *c, int (*ready_run)(thr_chan *)) {
    int budget = atomic_load_explicit(&c->spins, memory_order_relaxed);
    for (int i = 0; i < budget; i++) {
        if (ready_run(c)) {
            if (budget < SPINS)
                atomic_store_explicit(&c->spins, 2 * budget, memory_order_relaxed);
            return 1;
        }
        pk__cpu_relax();
    }
    if (budget > MIN_SPINS)
        atomic_store_explicit(&c->spins, budget / 2, memory_order_relaxed);
    return 0;
}

/* Waits until ready(c): spin until ready_run(c), yield until yield_ready(c),
 * then sleep until ready(c). The sleeper announces itself,
 * fences, then re-checks (see sleeper_fence), so a wake-up cannot fall between
 * its check and its sleep; close and abort broadcast under the lock. A mover
 * that wakes the side takes every sleeper off the count (wake_sleepers), so a
 * sleeper that finds the round moved on counts itself in again before its next
 * check. */
static void wait_until(thr_chan *c, int (*ready_run)(thr_chan *), int (*yield_ready)(thr_chan *),
                       int (*ready)(thr_chan *), sleepers s) {
    if (spin_until(c, ready_run))
        return;
    for (int i = 0; i < YIELDS; i++) {
        sched_yield();
        if (yield_ready(c))
            return;
    }
    pthread_mutex_lock(&c->mu);
    unsigned round;
    int wakeable = sleep_register(c, s, &round);
    while (!ready(c)) {
        if (wakeable) {
            pthread_cond_wait(s.cv, &c->mu);
        } else {
            pthread_mutex_unlock(&c->mu);
            sched_yield();
            pthread_mutex_lock(&c->mu);
        }
        if (*s.round != round)
            wakeable = sleep_register(c, s, &round);
    }
    if (*s.round == round)
        atomic_fetch_sub_explicit(s.count, 1, memory_order_relaxed);
    pthread_mutex_unlock(&c->mu);
}

static NOINLINE int put_slow(thr_chan *c, const char *src, size_t count, int block) {
    if (c->spsc && !bind_role(&c->put_owner, c->putter_id))
        return refuse_role(c, "putter", "put or close");
    while (count > 0) {
        long n = c->observe ? put_observed(c, src)
                 : c->spsc  ? spsc_put_some(c, src, count)
                            : put_some(c, src, count);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            if (!block)
                return PK_EAGAIN;
            if (c->spsc)
                wait_until(c, spsc_put_ready_run, spsc_put_ready_run, spsc_put_ready, put_side(c));
            else
                wait_until(c, put_ready_run, put_ready, put_ready, put_side(c));
            continue;
        }
        wake(c, &c->get_waiters, get_side);
        src += (size_t)n * c->base.elem_size;
        count -= (size_t)n;
    }
    return 0;
}

static int thr_put(pk_chan *ch, const void *items, size_t count, int block) {
    thr_chan *c = (thr_chan *)ch;
    if (count == 1 && c->observe == NULL && put_one(c, items)) {
        wake(c, &c->get_waiters, get_side);
        return 0;
    }
    return put_slow(c, items, count, block);
}

/* SPSC mode's put (its own entry, so that the common case stays short). */
static int spsc_put(pk_chan *ch, const void *items, size_t count, int block) {
    thr_chan *c = (thr_chan *)ch;
    /* the role first: the count of free slots is the putter's own */
    if (count == 1 && bind_role(&c->put_owner, c->putter_id) && c->room_seen != 0 &&
        atomic_load_explicit(&c->abort_code, memory_order_relaxed) == 0) {
        spsc_put_one(c, items);
        wake(c, &c->get_waiters, get_side);
        return 0;
    }
    return put_slow(c, items, count, block);
}

static NOINLINE int get_slow(thr_chan *c, void *items, size_t max, size_t *got, int block) {
    if (c->spsc && !bind_role(&c->get_owner, c->getter_id))
        return refuse_role(c, "getter", "get");
    for (;;) {
        long n = c->observe ? get_observed(c, items)
                 : c->spsc  ? spsc_get_some(c, items, max)
                            : get_some(c, items, max);
        if (n > 0) {
            *got = (size_t)n;
            wake(c, &c->put_waiters, put_side);
            return 0;
        }
        if (n < 0)
            return (int)n;
        if (!block)
            return PK_EAGAIN;
        if (c->spsc)
            wait_until(c, spsc_get_ready_run, spsc_get_ready, spsc_get_ready, get_side(c));
        else
            wait_until(c, get_ready_run, get_ready, get_ready, get_side(c));
    }
}

static int thr_get(pk_chan *ch, void *items, size_t max, size_t *got, int block) {
    thr_chan *c = (thr_chan *)ch;
    if (max == 1 && c->observe == NULL && get_one(c, items)) {
        *got = 1;
        wake(c, &c->put_waiters, put_side);
        return 0;
    }
    return get_slow(c, items, max, got, block);
}

static int spsc_get(pk_chan *ch, void *items, size_t max, size_t *got, int block) {
    thr_chan *c = (thr_chan *)ch;
    if (max == 1 && bind_role(&c->get_owner, c->getter_id) && spsc_get_one(c, items)) {
        *got = 1;
        wake(c, &c->put_waiters, put_side);
        return 0;
    }
    return get_slow(c, items, max, got, block);
}

static void wake_all(thr_chan *c) {
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->not_full);
    pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->mu);
}

static int thr_close(pk_chan *ch) {
    thr_chan *c = (thr_chan *)ch;
    if (c->spsc && !bind_role(&c->put_owner, c->putter_id))
        return refuse_role(c, "putter", "put or close");
    int open = atomic_load_explicit(&c->open_producers, memory_order_relaxed);
    do {
        if (open == 0)
            return PK_ECLOSED;
    } while (!atomic_compare_exchange_weak(&c->open_producers, &open, open - 1));
    if (open == 1) {
        atomic_fetch_or(&c->tail, CLOSED);
        if (c->spsc)
            c->room_seen = 0; /* the putter's next put takes the general path and sees CLOSED */
        atomic_store_explicit(&c->closed, 1, memory_order_release);
        wake_all(c);
    }
    return 0;
}

static int thr_abort(pk_chan *ch, int code) {
    thr_chan *c = (thr_chan *)ch;
    int none = 0;
    atomic_compare_exchange_strong(&c->abort_code, &none, code);
    wake_all(c);
    return 0;
}

static size_t thr_max_depth(const pk_chan *ch) {
    thr_chan *c = (thr_chan *)ch;
    return atomic_load(&c->max_depth);
}

/* The items from the head on, as long as they are there: exact inside an
 * observer (every move holds the lock then) or when nobody else uses the
 * channel. */
static size_t thr_peek(const pk_chan *ch, void *items, size_t max) {
    const thr_chan *c = (const thr_chan *)ch;
    size_t es = ch->elem_size, n = 0;
    uint64_t h = atomic_load_explicit(&((thr_chan *)c)->head, memory_order_acquire);
    while (n < c->cap) {
        size_t i = index_of(c, h);
        if (atomic_load_explicit(stamp_at(c, i), memory_order_acquire) != h + 1)
            break;
        if (n < max)
            memcpy((char *)items + n * es, item_at(c, i), es);
        n++;
        h = advance(c, h, 1);
    }
    return n;
}

static void thr_free(pk_chan *ch) {
    thr_chan *c = (thr_chan *)ch;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    free(c->slots);
    free(c);
}

static const pk__chan_ops thr_ops = {
    .put = thr_put,
    .get = thr_get,
    .close = thr_close,
    .abort_with = thr_abort,
    .max_depth = thr_max_depth,
    .peek = thr_peek,
    .free = thr_free,
};

static const pk__chan_ops spsc_ops = {
    .put = spsc_put,
    .get = spsc_get,
    .close = thr_close,
    .abort_with = thr_abort,
    .max_depth = thr_max_depth,
    .peek = thr_peek,
    .free = thr_free,
};

static size_t round_up(size_t n, size_t to) {
    return (n + to - 1) / to * to;
}

/* The ring: a stamp then the item in each slot, slots 8-byte aligned. */
static int alloc_slots(thr_chan *c, size_t cap, size_t elem_size) {
    c->stride = sizeof(uint64_t) + round_up(elem_size, sizeof(uint64_t));
    if (cap > (SIZE_MAX - LINE) / c->stride)
        return PK_ENOMEM;
    c->slots = aligned_alloc(LINE, round_up(cap * c->stride, LINE));
    if (c->slots == NULL)
        return PK_ENOMEM;
    c->cap = cap;
    c->run = cap < RUN ? cap : RUN;
    c->put_run = cap / 4 > c->run ? cap / 4 : c->run;
    size_t ahead = AHEAD / c->stride > 0 ? AHEAD / c->stride : 1;
    c->ahead_room = ahead + (LINE + c->stride - 1) / c->stride;
    c->ahead_bytes = ahead * c->stride;
    c->ring_bytes = cap * c->stride;
    c->lap_shift = 1;
    while (((uint64_t)1 << c->lap_shift) <= cap)
        c->lap_shift++;
    c->one_lap = (uint64_t)1 << c->lap_shift;
    for (size_t i = 0; i < cap; i++)
        atomic_init(stamp_at(c, i), (uint64_t)i);
    return 0;
}

int pk__chan_threads_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts) {
    thr_chan *c = aligned_alloc(LINE, round_up(sizeof *c, LINE));
    if (c == NULL)
        return pk__set_error(ctx, PK_ENOMEM, "no memory for a channel");
    memset(c, 0, sizeof *c);
    c->spsc =
        opts->bind_roles && opts->producers == 1 && opts->consumers == 1 && opts->observe == NULL;
    c->putter_id = opts->putters != NULL ? opts->putters[0] : 0;
    c->getter_id = opts->getters != NULL ? opts->getters[0] : opts->producers;
    if (opts->capacity >= ((uint64_t)1 << 40) ||
        alloc_slots(c, opts->capacity, opts->elem_size) != 0) {
        free(c);
        return pk__set_error(ctx, PK_ENOMEM, "no memory for a channel of %zu items",
                             opts->capacity);
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->not_full, NULL);
    pthread_cond_init(&c->not_empty, NULL);
    atomic_init(&c->abort_code, 0);
    atomic_init(&c->open_producers, opts->producers);
    atomic_init(&c->tail, 0);
    atomic_init(&c->head, 0);
    atomic_init(&c->head_seen, 0);
    atomic_init(&c->max_depth, 0);
    atomic_init(&c->put_owner, 0);
    atomic_init(&c->closed, 0);
    atomic_init(&c->get_owner, 0);
    atomic_init(&c->put_waiters, 0);
    atomic_init(&c->get_waiters, 0);
    atomic_init(&c->spins, SPINS);
    c->base.ops = c->spsc ? &spsc_ops : &thr_ops;
    c->base.elem_size = opts->elem_size;
    c->observe = opts->observe;
    c->observe_arg = opts->observe_arg;
    c->asym = pk__asym_fences();
    *ch = &c->base;
    return 0;
}
