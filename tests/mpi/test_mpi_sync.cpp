// The sharing primitives (parkit/sync.h) across ranks, hybrid when a rank has
// two threads: every worker of a pk_for (one chunk per worker: ranks x threads)
// or of a pk_team over the ranks uses the same lock, semaphore, event,
// condition, barrier or shared array, so workers on different ranks wait on
// one another. Exact counts under contention, the semaphore's high-water mark,
// wake-ups by set, notify, notify_all and the barrier, refusals, timeouts and
// misuse with its reason, and a failing worker (a callback error, an injected
// fault) that wakes the workers blocked on other ranks with PK_EABORTED and
// brings its error to every rank. tests/test_sync.cpp has the thread cases.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "mpi_test_util.h"
#include "parkit/sync.h"

namespace {

struct SyncFree {
    void operator()(pk_lock *p) const { pk_lock_free(p); }
    void operator()(pk_sem *p) const { pk_sem_free(p); }
    void operator()(pk_event *p) const { pk_event_free(p); }
    void operator()(pk_cond *p) const { pk_cond_free(p); }
    void operator()(pk_barrier *p) const { pk_barrier_free(p); }
    void operator()(pk_shared *p) const { pk_shared_free(p); }
};
template <class T> using Ptr = std::unique_ptr<T, SyncFree>;

void SleepMs(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

template <class F> bool WaitFor(F pred, double seconds = 20) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        SleepMs(1);
    }
    return true;
}

int64_t Load(pk_shared *sh, int64_t i) {
    int64_t v = -1;
    EXPECT_EQ(pk_shared_load_i64(sh, i, &v), 0);
    return v;
}

// Creation is collective: every rank makes the same calls.
Ptr<pk_lock> NewLock(pk_ctx *ctx, unsigned flags = 0) {
    pk_lock *p = nullptr;
    EXPECT_EQ(pk_lock_new(ctx, &p, flags), 0) << ErrorText(ctx);
    return Ptr<pk_lock>(p);
}
Ptr<pk_sem> NewSem(pk_ctx *ctx, int64_t permits, int64_t max) {
    pk_sem *p = nullptr;
    EXPECT_EQ(pk_sem_new(ctx, &p, permits, max), 0) << ErrorText(ctx);
    return Ptr<pk_sem>(p);
}
Ptr<pk_event> NewEvent(pk_ctx *ctx) {
    pk_event *p = nullptr;
    EXPECT_EQ(pk_event_new(ctx, &p), 0) << ErrorText(ctx);
    return Ptr<pk_event>(p);
}
Ptr<pk_cond> NewCond(pk_ctx *ctx, pk_lock *lock) {
    pk_cond *p = nullptr;
    EXPECT_EQ(pk_cond_new(ctx, &p, lock), 0) << ErrorText(ctx);
    return Ptr<pk_cond>(p);
}
Ptr<pk_barrier> NewBarrier(pk_ctx *ctx, int parties) {
    pk_barrier *p = nullptr;
    EXPECT_EQ(pk_barrier_new(ctx, &p, parties), 0) << ErrorText(ctx);
    return Ptr<pk_barrier>(p);
}
Ptr<pk_shared> NewShared(pk_ctx *ctx, size_t elem_size, int64_t count) {
    pk_shared *p = nullptr;
    EXPECT_EQ(pk_shared_new(ctx, &p, elem_size, count), 0) << ErrorText(ctx);
    return Ptr<pk_shared>(p);
}

int Workers(pk_ctx *ctx) {
    return pk_ctx_size(ctx) * pk_ctx_threads(ctx);
}

// Runs fn(chunk, w) once per worker of the pool: a pk_for of one chunk each.
template <class F> int EveryWorker(pk_ctx *ctx, F &fn) {
    pk_opts o = {};
    o.chunk = 1;
    o.schedule = PK_STATIC;
    pk_range_fn body = [](void *arg, int64_t begin, int64_t, pk_worker *w) {
        return (*static_cast<F *>(arg))(begin, w);
    };
    return pk_for(ctx, Workers(ctx), &o, body, &fn);
}

bool OneSidedEngine() {
    const char *engine = std::getenv("PARKIT_SYNC_ENGINE");
    return engine != nullptr && std::string(engine) == "onesided";
}

// Are all the world's ranks on this node?
bool OneNode() {
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int here = 0, world = 0;
    MPI_Comm_size(node, &here);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Comm_free(&node);
    int all = here == world, agreed = 0;
    MPI_Allreduce(&all, &agreed, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return agreed != 0;
}

bool Has(pk_ctx *ctx, const char *text) {
    return std::string(pk_ctx_error(ctx)->message).find(text) != std::string::npos;
}

} // namespace

TEST(MpiSync, LockMakesPlainIncrementsExactAcrossRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_lock> lock = NewLock(ctx.get());
    Ptr<pk_shared> value = NewShared(ctx.get(), sizeof(int64_t), 1);
    ASSERT_TRUE(lock && value);
    constexpr int kPer = 300;
    auto add = [&](int64_t, pk_worker *w) {
        for (int i = 0; i < kPer; i++) {
            int rc = pk_lock_acquire(lock.get(), w);
            if (rc != 0)
                return rc;
            int64_t v = 0; // a plain read and write: only the lock keeps them apart
            rc = pk_shared_load_i64(value.get(), 0, &v);
            std::this_thread::yield();
            if (rc == 0)
                rc = pk_shared_store_i64(value.get(), 0, v + 1);
            int released = pk_lock_release(lock.get(), w);
            if (rc != 0 || released != 0)
                return rc != 0 ? rc : released;
        }
        return 0;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), add), 0) << ErrorText(ctx.get());
    EXPECT_EQ(Load(value.get(), 0), int64_t{Workers(ctx.get())} * kPer);
}

TEST(MpiSync, LockRefusalsRecursionAndMisuse) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_lock> lock = NewLock(ctx.get());
    Ptr<pk_lock> rlock = NewLock(ctx.get(), PK_LOCK_RECURSIVE);
    ASSERT_TRUE(lock && rlock);
    int rank = pk_ctx_rank(ctx.get()), last = pk_ctx_size(ctx.get()) - 1;
    // the last rank holds both locks (outside pool calls), the others are refused
    if (rank == last) {
        EXPECT_EQ(pk_lock_acquire(lock.get(), nullptr), 0);
        EXPECT_EQ(pk_lock_acquire(lock.get(), nullptr), PK_EINVAL);
        EXPECT_TRUE(Has(ctx.get(), "already holds")) << ErrorText(ctx.get());
        for (int d = 0; d < 3; d++)
            EXPECT_EQ(pk_lock_acquire(rlock.get(), nullptr), 0) << "depth " << d + 1;
    }
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    std::atomic<int> tried{0}, timed{0}, released{0};
    auto refused = [&](int64_t, pk_worker *w) {
        if (pk_lock_try_acquire(lock.get(), w) == PK_EAGAIN)
            tried++;
        if (pk_lock_acquire_timeout(rlock.get(), w, 0.05) == PK_ETIMEDOUT)
            timed++;
        if (pk_lock_release(lock.get(), w) == PK_EPERM)
            released++;
        return 0;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), refused), 0) << ErrorText(ctx.get());
    int threads = pk_ctx_threads(ctx.get());
    EXPECT_EQ(tried.load(), threads);
    EXPECT_EQ(timed.load(), threads);
    EXPECT_EQ(released.load(), threads);
    if (rank != last) {
        pk_ctx_clear_error(ctx.get());
        EXPECT_EQ(pk_lock_release(lock.get(), nullptr), PK_EPERM);
        EXPECT_TRUE(Has(ctx.get(), "does not hold")) << ErrorText(ctx.get());
    }
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    if (rank == last) {
        EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
        for (int d = 0; d < 3; d++)
            EXPECT_EQ(pk_lock_release(rlock.get(), nullptr), 0) << "depth " << 3 - d;
        EXPECT_EQ(pk_lock_release(rlock.get(), nullptr), PK_EPERM);
    }
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    // free again: every worker takes both in turn
    std::atomic<int> took{0};
    auto take = [&](int64_t, pk_worker *w) {
        int rc = pk_lock_acquire(lock.get(), w);
        if (rc == 0)
            rc = pk_lock_acquire_timeout(rlock.get(), w, 30);
        if (rc == 0)
            took++;
        if (rc == 0)
            rc = pk_lock_release(rlock.get(), w);
        return rc != 0 ? rc : pk_lock_release(lock.get(), w);
    };
    ASSERT_EQ(EveryWorker(ctx.get(), take), 0) << ErrorText(ctx.get());
    EXPECT_EQ(took.load(), threads);
}

TEST(MpiSync, AtomicTotalsAreExactAcrossRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_shared> sh = NewShared(ctx.get(), sizeof(int64_t), 5);
    ASSERT_NE(sh, nullptr);
    constexpr int64_t kN = 20000;
    pk_opts o = {};
    o.chunk = 50;
    o.schedule = PK_DYNAMIC;
    pk_range_fn body = [](void *arg, int64_t b, int64_t e, pk_worker *) {
        auto *s = static_cast<pk_shared *>(arg);
        for (int64_t i = b; i < e; i++) {
            int rc = pk_shared_fetch_add_i64(s, 0, 1, nullptr);
            if (rc == 0)
                rc = pk_shared_fetch_add_f64(s, 1, 0.25, nullptr);
            if (rc == 0)
                rc = pk_shared_max_i64(s, 2, i, nullptr);
            if (rc == 0)
                rc = pk_shared_min_f64(s, 3, -static_cast<double>(i), nullptr);
            int64_t seen = 0;
            if (rc == 0)
                rc = pk_shared_load_i64(s, 4, &seen);
            if (rc != 0)
                return rc;
            do
                rc = pk_shared_compare_exchange_i64(s, 4, &seen, seen + 1);
            while (rc == PK_EAGAIN);
            if (rc != 0)
                return rc;
        }
        return 0;
    };
    ASSERT_EQ(pk_for(ctx.get(), kN, &o, body, sh.get()), 0) << ErrorText(ctx.get());
    double d = -1;
    EXPECT_EQ(Load(sh.get(), 0), kN);
    pk_shared_load_f64(sh.get(), 1, &d);
    EXPECT_EQ(d, 0.25 * kN);
    EXPECT_EQ(Load(sh.get(), 2), kN - 1);
    pk_shared_load_f64(sh.get(), 3, &d);
    EXPECT_EQ(d, -static_cast<double>(kN - 1));
    EXPECT_EQ(Load(sh.get(), 4), kN);
}

TEST(MpiSync, SemaphoreHighWaterMarkIsItsPermits) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_sem> sem = NewSem(ctx.get(), 2, 2);
    Ptr<pk_shared> tally = NewShared(ctx.get(), sizeof(int64_t), 2); // inside, most
    ASSERT_TRUE(sem && tally);
    pk_shared *t = tally.get();
    auto visit = [&](int64_t, pk_worker *w) {
        for (int round = 0; round < 3; round++) {
            int rc = pk_sem_acquire(sem.get(), w);
            if (rc != 0)
                return rc;
            int64_t before = 0;
            pk_shared_fetch_add_i64(t, 0, 1, &before);
            pk_shared_max_i64(t, 1, before + 1, nullptr);
            if (round == 0) // stay until the section is full: overlap for sure
                WaitFor([&] { return Load(t, 1) >= 2; }, 5);
            else
                SleepMs(2);
            pk_shared_fetch_add_i64(t, 0, -1, nullptr);
            rc = pk_sem_release(sem.get(), w);
            if (rc != 0)
                return rc;
        }
        return 0;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), visit), 0) << ErrorText(ctx.get());
    EXPECT_EQ(Load(t, 1), 2);
    EXPECT_EQ(Load(t, 0), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 2);
    // refusals, from the last rank while the others wait
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    if (pk_ctx_rank(ctx.get()) == pk_ctx_size(ctx.get()) - 1) {
        EXPECT_EQ(pk_sem_release(sem.get(), nullptr), PK_EOVERFLOW);
        EXPECT_TRUE(Has(ctx.get(), "above")) << ErrorText(ctx.get());
        EXPECT_EQ(pk_sem_acquire(sem.get(), nullptr), 0);
        EXPECT_EQ(pk_sem_acquire(sem.get(), nullptr), 0);
        EXPECT_EQ(pk_sem_try_acquire(sem.get(), nullptr), PK_EAGAIN);
        EXPECT_EQ(pk_sem_acquire_timeout(sem.get(), nullptr, 0.05), PK_ETIMEDOUT);
        EXPECT_EQ(pk_sem_release(sem.get(), nullptr), 0);
        EXPECT_EQ(pk_sem_release(sem.get(), nullptr), 0);
    }
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 2);
}

TEST(MpiSync, EventSetWakesWaitersOnEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_event> event = NewEvent(ctx.get());
    Ptr<pk_shared> woken = NewShared(ctx.get(), sizeof(int64_t), 1);
    ASSERT_TRUE(event && woken);
    auto team = [&](int64_t chunk, pk_worker *w) {
        if (chunk == 0) {
            SleepMs(30);
            return pk_event_set(event.get(), w);
        }
        int rc = pk_event_wait(event.get(), w);
        return rc != 0 ? rc : pk_shared_fetch_add_i64(woken.get(), 0, 1, nullptr);
    };
    ASSERT_EQ(EveryWorker(ctx.get(), team), 0) << ErrorText(ctx.get());
    EXPECT_EQ(Load(woken.get(), 0), Workers(ctx.get()) - 1);
    EXPECT_EQ(pk_event_is_set(event.get()), 1);
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    if (pk_ctx_rank(ctx.get()) == 0)
        EXPECT_EQ(pk_event_clear(event.get(), nullptr), 0);
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    EXPECT_EQ(pk_event_is_set(event.get()), 0);
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, 0.05), PK_ETIMEDOUT);
}

namespace {

enum { kItems = 200, kCapacity = 3 };
enum { kHead, kTail, kFilled, kTaken, kSum, kWaiting, kGo, kWoken, kSlots };

struct Buffer {
    pk_lock *lock;
    pk_cond *not_full, *not_empty;
    pk_shared *st;
    int producers;
};

int64_t Get(Buffer *b, int64_t i) {
    int64_t v = 0;
    pk_shared_load_i64(b->st, i, &v);
    return v;
}

void Set(Buffer *b, int64_t i, int64_t v) {
    pk_shared_store_i64(b->st, i, v);
}

int Produce(Buffer *b, int64_t id, pk_worker *w) {
    for (int64_t item = id; item < kItems; item += b->producers) {
        int rc = pk_lock_acquire(b->lock, w);
        while (rc == 0 && Get(b, kFilled) == kCapacity)
            rc = pk_cond_wait(b->not_full, w);
        if (rc != 0)
            return rc;
        int64_t tail = Get(b, kTail);
        Set(b, kSlots + tail, item);
        Set(b, kTail, (tail + 1) % kCapacity);
        Set(b, kFilled, Get(b, kFilled) + 1);
        rc = pk_cond_notify(b->not_empty, w);
        int released = pk_lock_release(b->lock, w);
        if (rc != 0 || released != 0)
            return rc != 0 ? rc : released;
    }
    return 0;
}

int Consume(Buffer *b, pk_worker *w) {
    for (;;) {
        int rc = pk_lock_acquire(b->lock, w);
        while (rc == 0 && Get(b, kFilled) == 0 && Get(b, kTaken) < kItems)
            rc = pk_cond_wait(b->not_empty, w);
        if (rc != 0)
            return rc;
        if (Get(b, kTaken) == kItems)
            return pk_lock_release(b->lock, w);
        int64_t head = Get(b, kHead);
        Set(b, kSum, Get(b, kSum) + Get(b, kSlots + head));
        Set(b, kHead, (head + 1) % kCapacity);
        Set(b, kFilled, Get(b, kFilled) - 1);
        Set(b, kTaken, Get(b, kTaken) + 1);
        rc = pk_cond_notify(b->not_full, w);
        if (rc == 0 && Get(b, kTaken) == kItems)
            rc = pk_cond_notify_all(b->not_empty, w);
        int released = pk_lock_release(b->lock, w);
        if (rc != 0 || released != 0)
            return rc != 0 ? rc : released;
    }
}

} // namespace

TEST(MpiSync, ConditionsRunABoundedBufferAcrossRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_lock> lock = NewLock(ctx.get());
    ASSERT_NE(lock, nullptr);
    Ptr<pk_cond> not_full = NewCond(ctx.get(), lock.get());
    Ptr<pk_cond> not_empty = NewCond(ctx.get(), lock.get());
    Ptr<pk_shared> st = NewShared(ctx.get(), sizeof(int64_t), kSlots + kCapacity);
    ASSERT_TRUE(not_full && not_empty && st);
    Buffer b{lock.get(), not_full.get(), not_empty.get(), st.get(), Workers(ctx.get()) / 2};
    auto role = [&](int64_t chunk, pk_worker *w) {
        return chunk < b.producers ? Produce(&b, chunk, w) : Consume(&b, w);
    };
    ASSERT_EQ(EveryWorker(ctx.get(), role), 0) << ErrorText(ctx.get());
    EXPECT_EQ(Get(&b, kTaken), kItems);
    EXPECT_EQ(Get(&b, kSum), int64_t{kItems} * (kItems - 1) / 2);
    EXPECT_EQ(Get(&b, kFilled), 0);
}

TEST(MpiSync, NotifyAllWakesWaitersOnEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Ptr<pk_lock> lock = NewLock(ctx.get());
    ASSERT_NE(lock, nullptr);
    Ptr<pk_cond> cond = NewCond(ctx.get(), lock.get());
    Ptr<pk_shared> st = NewShared(ctx.get(), sizeof(int64_t), kSlots);
    ASSERT_TRUE(cond && st);
    Buffer b{lock.get(), cond.get(), cond.get(), st.get(), 0};
    int waiters = Workers(ctx.get()) - 1;
    auto team = [&](int64_t chunk, pk_worker *w) {
        int rc = pk_lock_acquire(b.lock, w);
        if (rc != 0)
            return rc;
        if (chunk != 0) {
            Set(&b, kWaiting, Get(&b, kWaiting) + 1);
            while (rc == 0 && Get(&b, kGo) == 0)
                rc = pk_cond_wait(b.not_empty, w);
            if (rc != 0)
                return rc;
            Set(&b, kWoken, Get(&b, kWoken) + 1);
            return pk_lock_release(b.lock, w);
        }
        // chunk 0: waits (the lock given back) until every waiter waits
        while (rc == 0 && Get(&b, kWaiting) < waiters) {
            rc = pk_lock_release(b.lock, w);
            SleepMs(1);
            if (rc == 0)
                rc = pk_lock_acquire(b.lock, w);
        }
        if (rc != 0)
            return rc;
        Set(&b, kGo, 1);
        rc = pk_cond_notify_all(b.not_empty, w);
        int released = pk_lock_release(b.lock, w);
        return rc != 0 ? rc : released;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), team), 0) << ErrorText(ctx.get());
    EXPECT_EQ(Get(&b, kWoken), waiters);
    // misuse: a wait without the lock, with its reason
    pk_ctx_clear_error(ctx.get());
    EXPECT_EQ(pk_cond_wait_timeout(cond.get(), nullptr, 0.01), PK_EPERM);
    EXPECT_TRUE(Has(ctx.get(), "does not hold")) << ErrorText(ctx.get());
}

TEST(MpiSync, BarrierHoldsEveryRoundAcrossRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int kRounds = 3;
    int workers = Workers(ctx.get());
    Ptr<pk_barrier> barrier = NewBarrier(ctx.get(), workers);
    // per round: arrivals, last arrivers; then early leavers
    Ptr<pk_shared> st = NewShared(ctx.get(), sizeof(int64_t), 2 * kRounds + 1);
    ASSERT_TRUE(barrier && st);
    pk_shared *s = st.get();
    auto rounds = [&](int64_t chunk, pk_worker *w) {
        for (int r = 0; r < kRounds; r++) {
            if (chunk == (r * 7) % workers)
                SleepMs(10); // a late arriver
            pk_shared_fetch_add_i64(s, 2 * r, 1, nullptr);
            int rc = pk_barrier_wait(barrier.get(), w);
            if (rc < 0)
                return rc;
            if (rc == 1)
                pk_shared_fetch_add_i64(s, 2 * r + 1, 1, nullptr);
            if (Load(s, 2 * r) != workers)
                pk_shared_fetch_add_i64(s, 2 * kRounds, 1, nullptr);
        }
        return 0;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), rounds), 0) << ErrorText(ctx.get());
    for (int r = 0; r < kRounds; r++) {
        EXPECT_EQ(Load(s, 2 * r), workers) << "round " << r;
        EXPECT_EQ(Load(s, 2 * r + 1), 1) << "round " << r;
    }
    EXPECT_EQ(Load(s, 2 * kRounds), 0) << "left before everyone arrived";
}

TEST(MpiSync, SharedArrayIsOneArrayOnEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int rank = pk_ctx_rank(ctx.get()), size = pk_ctx_size(ctx.get());
    Ptr<pk_shared> sh = NewShared(ctx.get(), sizeof(int64_t), size);
    Ptr<pk_shared> narrow = NewShared(ctx.get(), 4, 2);
    ASSERT_TRUE(sh && narrow);
    EXPECT_EQ(pk_shared_count(sh.get()), size);
    // the ranks of one node share it; ranks on several nodes (or the one-sided
    // engine forced on one) reach it only through get and put
    if (OneSidedEngine() || !OneNode())
        EXPECT_EQ(pk_shared_data(sh.get()), nullptr);
    else
        EXPECT_NE(pk_shared_data(sh.get()), nullptr);
    int64_t mine = 100 + rank;
    ASSERT_EQ(pk_shared_put(sh.get(), rank, 1, &mine), 0);
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    std::vector<int64_t> all(static_cast<size_t>(size));
    ASSERT_EQ(pk_shared_get(sh.get(), 0, size, all.data()), 0);
    for (int r = 0; r < size; r++)
        EXPECT_EQ(all[static_cast<size_t>(r)], 100 + r) << "rank " << r << "'s element";
    auto *data = static_cast<int64_t *>(pk_shared_data(sh.get()));
    if (data != nullptr)
        EXPECT_EQ(data[size - 1], 100 + size - 1);
    // refusals with their reason, on every rank
    pk_ctx_clear_error(ctx.get());
    EXPECT_EQ(pk_shared_get(sh.get(), size, 1, all.data()), PK_ERANGE);
    EXPECT_TRUE(Has(ctx.get(), "shared array")) << ErrorText(ctx.get());
    EXPECT_EQ(pk_shared_fetch_add_i64(sh.get(), -1, 1, nullptr), PK_ERANGE);
    pk_ctx_clear_error(ctx.get());
    EXPECT_EQ(pk_shared_fetch_add_i64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_TRUE(Has(ctx.get(), "8-byte")) << ErrorText(ctx.get());
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
}

namespace {

enum Kind { kLock, kSem, kEvent, kCond, kBarrier };
constexpr int64_t kFaultTask = 1000000; // not a chunk: fired by the failing worker itself

const char *KindName(Kind k) {
    static const char *names[] = {"lock", "semaphore", "event", "condition", "barrier"};
    return names[k];
}

// The worker of the last chunk (on the last rank) fails once the others are
// blocked: in a lock it holds, a semaphore of no permits, an event nobody sets,
// a condition nobody notifies, a barrier it never reaches.
void RunBlocked(Kind kind) {
    for (bool inject : {false, true}) {
        SCOPED_TRACE(std::string(KindName(kind)) + (inject ? ", injected fault" : ", error"));
        MpiCtx ctx = WorldCtx();
        ASSERT_NE(ctx, nullptr);
        int workers = Workers(ctx.get()), last = pk_ctx_size(ctx.get()) - 1;
        Ptr<pk_lock> lock = NewLock(ctx.get());
        ASSERT_NE(lock, nullptr);
        Ptr<pk_sem> sem = NewSem(ctx.get(), 0, 0);
        Ptr<pk_event> event = NewEvent(ctx.get());
        Ptr<pk_cond> cond = NewCond(ctx.get(), lock.get());
        Ptr<pk_barrier> barrier = NewBarrier(ctx.get(), workers);
        Ptr<pk_shared> st = NewShared(ctx.get(), sizeof(int64_t), 3); // held, arrived, aborted
        ASSERT_TRUE(sem && event && cond && barrier && st);
        pk_shared *s = st.get();
        if (inject) {
            std::string spec =
                "rank=" + std::to_string(last) + ",task=" + std::to_string(kFaultTask);
            ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
        }
        auto team = [&](int64_t chunk, pk_worker *w) {
            if (chunk == workers - 1) {
                if (kind == kLock) {
                    int rc = pk_lock_acquire(lock.get(), w);
                    if (rc != 0)
                        return rc;
                    pk_shared_store_i64(s, 0, 1);
                }
                WaitFor([&] { return Load(s, 1) == workers - 1; });
                SleepMs(50); // the others are asleep in the primitive by now
                if (!inject)
                    return pk_fail(w, PK_EIO, "chunk %lld gives up", static_cast<long long>(chunk));
                int rc = pk_task_begin(w, kFaultTask);
                return rc != 0 ? rc : pk_fail(w, PK_EIO, "the fault did not fire");
            }
            int rc = 0;
            if (kind == kLock)
                WaitFor([&] { return Load(s, 0) == 1; });
            if (kind == kCond)
                rc = pk_lock_acquire(lock.get(), w);
            pk_shared_fetch_add_i64(s, 1, 1, nullptr);
            if (rc == 0) {
                switch (kind) {
                case kLock:
                    rc = pk_lock_acquire(lock.get(), w);
                    break;
                case kSem:
                    rc = pk_sem_acquire(sem.get(), w);
                    break;
                case kEvent:
                    rc = pk_event_wait(event.get(), w);
                    break;
                case kCond:
                    while (rc == 0)
                        rc = pk_cond_wait(cond.get(), w);
                    break;
                case kBarrier:
                    rc = pk_barrier_wait(barrier.get(), w);
                    break;
                }
            }
            if (rc == PK_EABORTED)
                pk_shared_fetch_add_i64(s, 2, 1, nullptr);
            return rc;
        };
        int rc = EveryWorker(ctx.get(), team);
        pk_ctx_set_fault(ctx.get(), nullptr);
        const pk_error_info *e = pk_ctx_error(ctx.get());
        if (inject) {
            EXPECT_EQ(rc, PK_EINJECTED) << ErrorText(ctx.get());
            EXPECT_STREQ(e->message, "injected fault");
        } else {
            EXPECT_EQ(rc, PK_EIO) << ErrorText(ctx.get());
            EXPECT_EQ(std::string(e->message),
                      "chunk " + std::to_string(workers - 1) + " gives up");
        }
        EXPECT_EQ(e->rank, last) << ErrorText(ctx.get());
        EXPECT_EQ(Load(s, 2), workers - 1) << "workers woken with PK_EABORTED";
        switch (kind) {
        case kLock:
        case kCond:
            EXPECT_EQ(pk_lock_acquire(lock.get(), nullptr), PK_EABORTED);
            EXPECT_EQ(pk_lock_acquire_timeout(lock.get(), nullptr, 5), PK_EABORTED);
            break;
        case kSem:
            EXPECT_EQ(pk_sem_acquire(sem.get(), nullptr), PK_EABORTED);
            EXPECT_EQ(pk_sem_acquire_timeout(sem.get(), nullptr, 5), PK_EABORTED);
            break;
        case kEvent:
            EXPECT_EQ(pk_event_wait(event.get(), nullptr), PK_EABORTED);
            EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, 5), PK_EABORTED);
            break;
        case kBarrier:
            EXPECT_EQ(pk_barrier_wait(barrier.get(), nullptr), PK_EABORTED);
            break;
        }
        EXPECT_TRUE(SameOnAllRanks(rc));
    }
}

} // namespace

TEST(MpiSync, FailureWakesWorkersBlockedOnALock) {
    RunBlocked(kLock);
}

TEST(MpiSync, FailureWakesWorkersBlockedOnASemaphore) {
    RunBlocked(kSem);
}

TEST(MpiSync, FailureWakesWorkersWaitingForAnEvent) {
    RunBlocked(kEvent);
}

TEST(MpiSync, FailureWakesWorkersWaitingOnACondition) {
    RunBlocked(kCond);
}

TEST(MpiSync, FailureWakesWorkersWaitingAtABarrier) {
    RunBlocked(kBarrier);
}

namespace {

// Does this pool use the one-sided engine (ranks on several nodes, or forced on
// one) with more than one thread per rank?
bool FarWithThreads(pk_ctx *ctx) {
    return (OneSidedEngine() || !OneNode()) && pk_ctx_threads(ctx) >= 2;
}

// The MPI thread level this process got.
int Level() {
    int provided = 0;
    MPI_Query_thread(&provided);
    return provided;
}

} // namespace

// The one-sided engine (ranks on several nodes, or forced on one by
// PARKIT_SYNC_ENGINE=onesided) needs MPI_THREAD_SERIALIZED (parkit's default)
// or MULTIPLE for worker threads other than a rank's main thread: under
// FUNNELED they are refused with the reason, the main threads go on, and the
// pool call fails with that reason on every rank rather than calling MPI from
// a thread that may not.
TEST(MpiSync, OneSidedEngineRefusesWorkerThreadsUnderFunneled) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (!FarWithThreads(ctx.get()) || Level() >= MPI_THREAD_SERIALIZED)
        GTEST_SKIP() << "needs the one-sided engine, threads and MPI_THREAD_FUNNELED";
    Ptr<pk_lock> lock = NewLock(ctx.get());
    Ptr<pk_shared> took = NewShared(ctx.get(), sizeof(int64_t), 1);
    ASSERT_TRUE(lock && took);
    // outside pool calls the main thread may use it
    ASSERT_EQ(pk_lock_acquire(lock.get(), nullptr), 0) << ErrorText(ctx.get());
    ASSERT_EQ(pk_lock_release(lock.get(), nullptr), 0) << ErrorText(ctx.get());
    // every rank is done with it before any rank's pool call fails and breaks it
    ASSERT_EQ(pk_rank_barrier(ctx.get()), 0);
    std::atomic<int> refused{0};
    auto use = [&](int64_t, pk_worker *w) {
        int rc = pk_lock_acquire(lock.get(), w);
        if (rc == PK_ENOTSUP)
            refused++;
        if (rc != 0)
            return rc;
        rc = pk_shared_fetch_add_i64(took.get(), 0, 1, nullptr);
        int released = pk_lock_release(lock.get(), w);
        return rc != 0 ? rc : released;
    };
    EXPECT_EQ(EveryWorker(ctx.get(), use), PK_ENOTSUP);
    EXPECT_TRUE(Has(ctx.get(), "MPI_THREAD_SERIALIZED")) << ErrorText(ctx.get());
    // a rank whose thread came late may have seen the primitive broken instead
    int mine = refused.load(), all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_GE(all, 1);
}

// Under MPI_THREAD_SERIALIZED (parkit's default) every worker thread of every
// rank uses the one-sided engine itself, its MPI calls taken one at a time with
// the pool's own: each worker takes the lock many times and counts its turns in
// its own element, and the lock keeps a plain read-and-write exact. The count of
// each (rank, thread) proves the threads other than a rank's main one took part.
TEST(MpiSync, OneSidedEngineServesEveryWorkerThreadWhenSerialized) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (!FarWithThreads(ctx.get()) || Level() < MPI_THREAD_SERIALIZED)
        GTEST_SKIP() << "needs the one-sided engine, threads and MPI_THREAD_SERIALIZED or more";
    int workers = Workers(ctx.get()), threads = pk_ctx_threads(ctx.get());
    Ptr<pk_lock> lock = NewLock(ctx.get());
    Ptr<pk_shared> total = NewShared(ctx.get(), sizeof(int64_t), 1);
    Ptr<pk_shared> turns = NewShared(ctx.get(), sizeof(int64_t), workers);
    ASSERT_TRUE(lock && total && turns);
    EXPECT_EQ(pk_shared_data(total.get()), nullptr); // really the one-sided engine
    constexpr int kPer = 40;
    auto use = [&](int64_t, pk_worker *w) {
        int64_t me = int64_t{w->rank} * threads + w->thread;
        for (int i = 0; i < kPer; i++) {
            int rc = pk_lock_acquire(lock.get(), w);
            if (rc != 0)
                return rc;
            int64_t v = 0;
            rc = pk_shared_load_i64(total.get(), 0, &v);
            if (rc == 0)
                rc = pk_shared_store_i64(total.get(), 0, v + 1);
            if (rc == 0)
                rc = pk_shared_fetch_add_i64(turns.get(), me, 1, nullptr);
            int released = pk_lock_release(lock.get(), w);
            if (rc != 0 || released != 0)
                return rc != 0 ? rc : released;
        }
        return 0;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), use), 0) << ErrorText(ctx.get());
    EXPECT_EQ(Load(total.get(), 0), int64_t{workers} * kPer);
    int served = 0;
    for (int i = 0; i < workers; i++) {
        EXPECT_EQ(Load(turns.get(), i), kPer)
            << "rank " << i / threads << ", thread " << i % threads;
        served += Load(turns.get(), i) == kPer;
    }
    if (pk_ctx_rank(ctx.get()) == 0) // for the multihost test to see it ran
        std::printf("one-sided engine served %d of %d workers (%d threads per rank)\n", served,
                    workers, threads);
}

// Freed (collectively), a primitive is refused with the reason on every rank,
// by every worker, rather than touching a freed window.
TEST(MpiSync, UseAfterFreeIsRefusedOnEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_lock *lock = NewLock(ctx.get()).release();
    pk_shared *shared = NewShared(ctx.get(), sizeof(int64_t), 2).release();
    ASSERT_TRUE(lock && shared);
    pk_lock_free(lock);
    pk_shared_free(shared);
    std::atomic<int> refused{0};
    auto use = [&](int64_t, pk_worker *w) {
        if (pk_lock_acquire(lock, w) == PK_EINVAL &&
            pk_shared_fetch_add_i64(shared, 0, 1, nullptr) == PK_EINVAL)
            refused++;
        return 0;
    };
    ASSERT_EQ(EveryWorker(ctx.get(), use), 0) << ErrorText(ctx.get());
    EXPECT_EQ(refused.load(), pk_ctx_threads(ctx.get()));
    pk_ctx_clear_error(ctx.get());
    EXPECT_EQ(pk_lock_release(lock, nullptr), PK_EINVAL);
    EXPECT_TRUE(Has(ctx.get(), "pk_lock used after pk_lock_free")) << ErrorText(ctx.get());
    int64_t v = 0;
    EXPECT_EQ(pk_shared_get(shared, 0, 1, &v), PK_EINVAL);
    EXPECT_TRUE(Has(ctx.get(), "pk_shared used after pk_shared_free")) << ErrorText(ctx.get());
}
