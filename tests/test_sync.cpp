// The sharing primitives (parkit/sync.h) on the serial backend and on 1-4
// OpenMP threads: exact counts under contention (non-atomic increments under a
// lock, fetch-add and compare-exchange totals), a semaphore's high-water mark,
// waiters woken by release, set, notify, notify_all and a barrier, the
// non-blocking refusals (PK_EAGAIN), timeouts, recursive locks, every misuse
// with its code and the reason in pk_ctx_error, pk_shared's copies and atomics,
// and error propagation: a worker that fails (a callback error, an injected
// fault) while the others are blocked in a primitive makes the pool call return
// its error, wakes the others with PK_EABORTED, and leaves the primitive broken.
// Teams are four threads on every pool (the serial backend's teams are POSIX
// threads). tests/mpi/test_mpi_sync.cpp runs the same contract across ranks.
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>

#include "parkit/sync.h"
#include "test_util.h"

namespace {

constexpr int kTeam = 4;

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

// Sleeps in small steps until pred() holds (true) or `seconds` pass (false).
template <class F> bool WaitFor(F pred, double seconds = 20) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        SleepMs(1);
    }
    return true;
}

class Sync : public PoolTest {
  protected:
    std::string Message() { return pk_ctx_error(ctx())->message; }
    Ptr<pk_lock> NewLock(unsigned flags = 0) {
        pk_lock *p = nullptr;
        EXPECT_EQ(pk_lock_new(ctx(), &p, flags), 0) << ErrorString();
        return Ptr<pk_lock>(p);
    }
    Ptr<pk_sem> NewSem(int64_t permits, int64_t max) {
        pk_sem *p = nullptr;
        EXPECT_EQ(pk_sem_new(ctx(), &p, permits, max), 0) << ErrorString();
        return Ptr<pk_sem>(p);
    }
    Ptr<pk_event> NewEvent() {
        pk_event *p = nullptr;
        EXPECT_EQ(pk_event_new(ctx(), &p), 0) << ErrorString();
        return Ptr<pk_event>(p);
    }
    Ptr<pk_cond> NewCond(pk_lock *lock) {
        pk_cond *p = nullptr;
        EXPECT_EQ(pk_cond_new(ctx(), &p, lock), 0) << ErrorString();
        return Ptr<pk_cond>(p);
    }
    Ptr<pk_barrier> NewBarrier(int parties) {
        pk_barrier *p = nullptr;
        EXPECT_EQ(pk_barrier_new(ctx(), &p, parties), 0) << ErrorString();
        return Ptr<pk_barrier>(p);
    }
    Ptr<pk_shared> NewShared(size_t elem_size, int64_t count) {
        pk_shared *p = nullptr;
        EXPECT_EQ(pk_shared_new(ctx(), &p, elem_size, count), 0) << ErrorString();
        return Ptr<pk_shared>(p);
    }
    // Runs fn(w) on a team of n workers; returns the team's code.
    template <class F> int Team(int n, F &fn) {
        pk_team_fn call = [](void *arg, pk_worker *w) { return (*static_cast<F *>(arg))(w); };
        return pk_team(ctx(), n, nullptr, call, &fn);
    }
    // Runs fn(w) once in a pool call (one worker: rank 0, thread 0).
    template <class F> int Once(F &fn) { return Team(1, fn); }
};

#define EXPECT_MESSAGE_HAS(text)                                                                   \
    EXPECT_NE(Message().find(text), std::string::npos) << "message: " << Message()

// ---- pk_lock ----------------------------------------------------------------------

struct Counted {
    pk_lock *lock = nullptr;
    int64_t value = 0; // plain memory: only the lock keeps the increments apart
    int per = 0;
};

// A read-modify-write with a pause between the read and the write, so that two
// workers inside at once would lose updates.
int LockedIncrement(Counted *c, pk_worker *w) {
    int rc = pk_lock_acquire(c->lock, w);
    if (rc != 0)
        return rc;
    volatile int64_t *v = &c->value;
    int64_t read = *v;
    for (volatile int spin = 0; spin < 20; spin = spin + 1) {
    }
    *v = read + 1;
    return pk_lock_release(c->lock, w);
}

int LockedRange(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    for (int64_t i = begin; i < end; i++) {
        int rc = LockedIncrement(static_cast<Counted *>(arg), w);
        if (rc != 0)
            return rc;
    }
    return 0;
}

TEST_P(Sync, LockMakesPlainIncrementsExactUnderContention) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    Counted c;
    c.lock = lock.get();
    c.per = 5000;
    auto team = [&](pk_worker *w) {
        for (int i = 0; i < c.per; i++) {
            int rc = LockedIncrement(&c, w);
            if (rc != 0)
                return rc;
        }
        return 0;
    };
    ASSERT_EQ(Team(kTeam, team), 0) << ErrorString();
    EXPECT_EQ(c.value, int64_t{kTeam} * c.per);
    // and from every worker of a pool call
    c.value = 0;
    pk_opts o = {};
    o.chunk = 7;
    o.schedule = PK_DYNAMIC;
    ASSERT_EQ(pk_for(ctx(), 20000, &o, LockedRange, &c), 0) << ErrorString();
    EXPECT_EQ(c.value, 20000);
}

TEST_P(Sync, TryAcquireAndTimeoutWhileAnotherWorkerHolds) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    ASSERT_EQ(pk_lock_acquire(lock.get(), nullptr), 0); // the calling thread holds it
    std::atomic<int> tried{1}, timed{1};
    auto refused = [&](pk_worker *w) {
        tried = pk_lock_try_acquire(lock.get(), w);
        timed = pk_lock_acquire_timeout(lock.get(), w, 0.05);
        return 0;
    };
    ASSERT_EQ(Team(2, refused), 0) << ErrorString();
    EXPECT_EQ(tried.load(), PK_EAGAIN);
    EXPECT_EQ(timed.load(), PK_ETIMEDOUT);
    ASSERT_EQ(pk_lock_release(lock.get(), nullptr), 0);
    auto taken = [&](pk_worker *w) {
        tried = pk_lock_try_acquire(lock.get(), w);
        timed = tried == 0 ? pk_lock_release(lock.get(), w) : 1;
        return 0;
    };
    ASSERT_EQ(Once(taken), 0) << ErrorString();
    EXPECT_EQ(tried.load(), 0);
    EXPECT_EQ(timed.load(), 0);
    EXPECT_EQ(pk_lock_acquire_timeout(lock.get(), nullptr, 0.0), 0); // free: at once
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
    EXPECT_EQ(pk_lock_acquire_timeout(lock.get(), nullptr, -1.0), PK_EINVAL);
    EXPECT_MESSAGE_HAS("timeout");
}

TEST_P(Sync, RecursiveLockIsFreeAfterAsManyReleases) {
    Ptr<pk_lock> lock = NewLock(PK_LOCK_RECURSIVE);
    ASSERT_NE(lock, nullptr);
    std::atomic<int> other{1};
    auto try_take = [&](pk_worker *w) {
        other = pk_lock_try_acquire(lock.get(), w);
        if (other == 0)
            return pk_lock_release(lock.get(), w);
        return 0;
    };
    for (int depth = 1; depth <= 3; depth++)
        ASSERT_EQ(pk_lock_acquire(lock.get(), nullptr), 0) << "depth " << depth;
    ASSERT_EQ(Once(try_take), 0) << ErrorString();
    EXPECT_EQ(other.load(), PK_EAGAIN);
    EXPECT_EQ(pk_lock_try_acquire(lock.get(), nullptr), 0); // depth 4 by try
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
    for (int depth = 3; depth > 1; depth--) {
        EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0) << "depth " << depth;
        ASSERT_EQ(Once(try_take), 0) << ErrorString();
        EXPECT_EQ(other.load(), PK_EAGAIN) << "still held at depth " << depth - 1;
    }
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
    ASSERT_EQ(Once(try_take), 0) << ErrorString();
    EXPECT_EQ(other.load(), 0) << "free after the third release";
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), PK_EPERM);
    EXPECT_MESSAGE_HAS("does not hold");
}

TEST_P(Sync, LockMisuseIsRefusedWithItsReason) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    ASSERT_EQ(pk_lock_acquire(lock.get(), nullptr), 0);
    EXPECT_EQ(pk_lock_acquire(lock.get(), nullptr), PK_EINVAL); // would never return
    EXPECT_MESSAGE_HAS("already holds");
    EXPECT_EQ(pk_lock_try_acquire(lock.get(), nullptr), PK_EINVAL);
    EXPECT_EQ(pk_lock_acquire_timeout(lock.get(), nullptr, 0.01), PK_EINVAL);
    // a worker releasing the lock the calling thread holds
    pk_ctx_clear_error(ctx());
    std::atomic<int> released{1};
    auto release = [&](pk_worker *w) {
        released = pk_lock_release(lock.get(), w);
        return 0;
    };
    ASSERT_EQ(Once(release), 0) << ErrorString();
    EXPECT_EQ(released.load(), PK_EPERM);
    EXPECT_MESSAGE_HAS("does not hold");
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0); // still the holder's
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), PK_EPERM);
    EXPECT_MESSAGE_HAS("does not hold");
    // NULL arguments
    EXPECT_EQ(pk_lock_acquire(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_lock_try_acquire(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_lock_acquire_timeout(nullptr, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_lock_release(nullptr, nullptr), PK_EINVAL);
    pk_lock *l = reinterpret_cast<pk_lock *>(&released); // must be set to NULL
    EXPECT_EQ(pk_lock_new(nullptr, &l, 0), PK_EINVAL);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_lock_new(ctx(), nullptr, 0), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_lock_new");
    l = reinterpret_cast<pk_lock *>(&released);
    EXPECT_EQ(pk_lock_new(ctx(), &l, 0x10), PK_EINVAL);
    EXPECT_EQ(l, nullptr);
    EXPECT_MESSAGE_HAS("flags");
    pk_lock_free(nullptr);
}

TEST_P(Sync, LockOwnershipFollowsTheWorkerAcrossCalls) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    std::atomic<int> rc{1};
    auto take = [&](pk_worker *w) {
        rc = pk_lock_acquire(lock.get(), w);
        return 0;
    };
    auto give = [&](pk_worker *w) {
        rc = pk_lock_release(lock.get(), w);
        return 0;
    };
    ASSERT_EQ(Once(take), 0) << ErrorString();
    ASSERT_EQ(rc.load(), 0);
    EXPECT_EQ(pk_lock_try_acquire(lock.get(), nullptr), PK_EAGAIN);
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), PK_EPERM); // not the caller's
    ASSERT_EQ(Once(give), 0) << ErrorString();
    EXPECT_EQ(rc.load(), 0);
    EXPECT_EQ(pk_lock_try_acquire(lock.get(), nullptr), 0);
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
}

// ---- pk_sem -----------------------------------------------------------------------

TEST_P(Sync, SemaphoreHighWaterMarkIsItsPermits) {
    for (int64_t permits : {1, 2, 3}) {
        SCOPED_TRACE("permits " + std::to_string(permits));
        Ptr<pk_sem> sem = NewSem(permits, permits);
        ASSERT_NE(sem, nullptr);
        std::atomic<int64_t> inside{0}, most{0};
        auto visit = [&](pk_worker *w) {
            for (int round = 0; round < 4; round++) {
                int rc = pk_sem_acquire(sem.get(), w);
                if (rc != 0)
                    return rc;
                int64_t now = ++inside, seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                // the first visit stays until the section is full (overlap for
                // sure), the others a moment
                if (round == 0)
                    WaitFor([&] { return inside.load() >= permits || most.load() >= permits; }, 2);
                else
                    SleepMs(2);
                --inside;
                rc = pk_sem_release(sem.get(), w);
                if (rc != 0)
                    return rc;
            }
            return 0;
        };
        ASSERT_EQ(Team(kTeam, visit), 0) << ErrorString();
        EXPECT_EQ(most.load(), permits);
        EXPECT_EQ(pk_sem_value(sem.get()), permits);
    }
}

TEST_P(Sync, SemaphoreTryAndTimeoutWithoutPermits) {
    Ptr<pk_sem> sem = NewSem(0, 0);
    ASSERT_NE(sem, nullptr);
    EXPECT_EQ(pk_sem_value(sem.get()), 0);
    EXPECT_EQ(pk_sem_try_acquire(sem.get(), nullptr), PK_EAGAIN);
    EXPECT_EQ(pk_sem_acquire_timeout(sem.get(), nullptr, 0.05), PK_ETIMEDOUT);
    EXPECT_EQ(pk_sem_acquire_timeout(sem.get(), nullptr, 0.0), PK_ETIMEDOUT);
    EXPECT_EQ(pk_sem_release(sem.get(), nullptr), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 1);
    EXPECT_EQ(pk_sem_acquire_timeout(sem.get(), nullptr, 1.0), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 0);
    // an unbounded semaphore takes any number of releases
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ(pk_sem_release(sem.get(), nullptr), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 1000);
    EXPECT_EQ(pk_sem_try_acquire(sem.get(), nullptr), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 999);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_sem_acquire_timeout(sem.get(), nullptr, -0.5), PK_EINVAL);
    EXPECT_MESSAGE_HAS("timeout");
}

TEST_P(Sync, BoundedSemaphoreRefusesAReleaseAboveItsMax) {
    Ptr<pk_sem> sem = NewSem(1, 2);
    ASSERT_NE(sem, nullptr);
    EXPECT_EQ(pk_sem_release(sem.get(), nullptr), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 2);
    EXPECT_EQ(pk_sem_release(sem.get(), nullptr), PK_EOVERFLOW);
    EXPECT_MESSAGE_HAS("above");
    EXPECT_EQ(pk_sem_value(sem.get()), 2);
    EXPECT_EQ(pk_sem_acquire(sem.get(), nullptr), 0);
    EXPECT_EQ(pk_sem_release(sem.get(), nullptr), 0);
    // creation's refusals
    pk_sem *s = reinterpret_cast<pk_sem *>(&sem);
    EXPECT_EQ(pk_sem_new(ctx(), &s, -1, 0), PK_EINVAL);
    EXPECT_EQ(s, nullptr);
    EXPECT_MESSAGE_HAS("permits");
    EXPECT_EQ(pk_sem_new(ctx(), &s, 3, 2), PK_EINVAL);
    EXPECT_MESSAGE_HAS("bound");
    EXPECT_EQ(pk_sem_new(ctx(), &s, 0, -1), PK_EINVAL);
    EXPECT_EQ(pk_sem_new(ctx(), nullptr, 0, 0), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_sem_new");
    EXPECT_EQ(pk_sem_new(nullptr, &s, 0, 0), PK_EINVAL);
    EXPECT_EQ(pk_sem_acquire(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_sem_try_acquire(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_sem_acquire_timeout(nullptr, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_sem_release(nullptr, nullptr), PK_EINVAL);
    pk_sem_free(nullptr);
}

TEST_P(Sync, SemaphoreReleaseWakesABlockedAcquire) {
    Ptr<pk_sem> sem = NewSem(0, 0);
    ASSERT_NE(sem, nullptr);
    std::atomic<int> waiting{0}, got{1};
    auto team = [&](pk_worker *w) {
        if (w->id == 1) {
            waiting = 1;
            got = pk_sem_acquire(sem.get(), w);
            return got.load();
        }
        WaitFor([&] { return waiting.load() == 1; });
        SleepMs(30); // worker 1 is asleep in the acquire by now
        return pk_sem_release(sem.get(), w);
    };
    ASSERT_EQ(Team(2, team), 0) << ErrorString();
    EXPECT_EQ(got.load(), 0);
    EXPECT_EQ(pk_sem_value(sem.get()), 0);
}

// ---- pk_event ---------------------------------------------------------------------

TEST_P(Sync, EventSetWakesEveryWaiter) {
    Ptr<pk_event> event = NewEvent();
    ASSERT_NE(event, nullptr);
    std::atomic<int> woken{0}, early{0};
    auto team = [&](pk_worker *w) {
        if (w->id == 0) {
            SleepMs(50);
            return pk_event_set(event.get(), w);
        }
        int rc = pk_event_wait(event.get(), w);
        if (rc == 0 && !pk_event_is_set(event.get()))
            early++;
        if (rc == 0)
            woken++;
        return rc;
    };
    ASSERT_EQ(Team(kTeam, team), 0) << ErrorString();
    EXPECT_EQ(woken.load(), kTeam - 1);
    EXPECT_EQ(early.load(), 0);
    EXPECT_EQ(pk_event_is_set(event.get()), 1);
}

TEST_P(Sync, EventTimeoutClearAndIsSet) {
    Ptr<pk_event> event = NewEvent();
    ASSERT_NE(event, nullptr);
    EXPECT_EQ(pk_event_is_set(event.get()), 0);
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, 0.05), PK_ETIMEDOUT);
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, 0.0), PK_ETIMEDOUT);
    EXPECT_EQ(pk_event_set(event.get(), nullptr), 0);
    EXPECT_EQ(pk_event_is_set(event.get()), 1);
    EXPECT_EQ(pk_event_wait(event.get(), nullptr), 0); // set: returns at once
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, 0.0), 0);
    EXPECT_EQ(pk_event_set(event.get(), nullptr), 0); // twice is fine
    EXPECT_EQ(pk_event_clear(event.get(), nullptr), 0);
    EXPECT_EQ(pk_event_is_set(event.get()), 0);
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, 0.01), PK_ETIMEDOUT);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, -1), PK_EINVAL);
    EXPECT_MESSAGE_HAS("timeout");
    EXPECT_EQ(pk_event_wait_timeout(event.get(), nullptr, NAN), PK_EINVAL);
    EXPECT_EQ(pk_event_new(ctx(), nullptr), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_event_new");
    pk_event *e = nullptr;
    EXPECT_EQ(pk_event_new(nullptr, &e), PK_EINVAL);
    EXPECT_EQ(pk_event_set(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_event_clear(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_event_wait(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_event_wait_timeout(nullptr, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_event_is_set(nullptr), 0);
    pk_event_free(nullptr);
}

// ---- pk_cond ----------------------------------------------------------------------

// Waiters take one ticket each under the lock; the notifier hands them out.
struct Tickets {
    pk_lock *lock;
    pk_cond *cond;
    int64_t tickets = 0, waiting = 0, woken = 0; // under the lock
};

// Reads a field under the lock (from a worker).
int64_t Locked(Tickets *t, pk_worker *w, int64_t Tickets::*field) {
    if (pk_lock_acquire(t->lock, w) != 0)
        return -1;
    int64_t v = t->*field;
    pk_lock_release(t->lock, w);
    return v;
}

int TakeTicket(Tickets *t, pk_worker *w) {
    int rc = pk_lock_acquire(t->lock, w);
    if (rc != 0)
        return rc;
    t->waiting++;
    while (rc == 0 && t->tickets == 0)
        rc = pk_cond_wait(t->cond, w);
    if (rc != 0)
        return rc;
    t->tickets--;
    t->woken++;
    return pk_lock_release(t->lock, w);
}

int HandOut(Tickets *t, pk_worker *w, int64_t n, bool all) {
    int rc = pk_lock_acquire(t->lock, w);
    if (rc != 0)
        return rc;
    t->tickets += n;
    rc = all ? pk_cond_notify_all(t->cond, w) : pk_cond_notify(t->cond, w);
    int released = pk_lock_release(t->lock, w);
    return rc != 0 ? rc : released;
}

TEST_P(Sync, CondNotifyWakesOneWaiterAtATime) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    Ptr<pk_cond> cond = NewCond(lock.get());
    ASSERT_NE(cond, nullptr);
    Tickets t{lock.get(), cond.get()};
    std::atomic<int64_t> after_one{-1};
    auto team = [&](pk_worker *w) {
        if (w->id != 0)
            return TakeTicket(&t, w);
        if (!WaitFor([&] { return Locked(&t, w, &Tickets::waiting) == 2; }))
            return pk_fail(w, PK_ETIMEDOUT, "the waiters never waited");
        int rc = HandOut(&t, w, 1, false);
        if (rc != 0)
            return rc;
        if (!WaitFor([&] { return Locked(&t, w, &Tickets::woken) >= 1; }))
            return pk_fail(w, PK_ETIMEDOUT, "notify woke nobody");
        SleepMs(30);
        after_one = Locked(&t, w, &Tickets::woken);
        return HandOut(&t, w, 1, false);
    };
    ASSERT_EQ(Team(3, team), 0) << ErrorString();
    EXPECT_EQ(after_one.load(), 1);
    EXPECT_EQ(t.woken, 2);
    EXPECT_EQ(t.tickets, 0);
}

TEST_P(Sync, CondNotifyAllWakesEveryWaiter) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    Ptr<pk_cond> cond = NewCond(lock.get());
    ASSERT_NE(cond, nullptr);
    Tickets t{lock.get(), cond.get()};
    auto team = [&](pk_worker *w) {
        if (w->id != 0)
            return TakeTicket(&t, w);
        if (!WaitFor([&] { return Locked(&t, w, &Tickets::waiting) == kTeam - 1; }))
            return pk_fail(w, PK_ETIMEDOUT, "the waiters never waited");
        return HandOut(&t, w, kTeam - 1, true);
    };
    ASSERT_EQ(Team(kTeam, team), 0) << ErrorString();
    EXPECT_EQ(t.woken, kTeam - 1);
}

TEST_P(Sync, CondWaitTimeoutReturnsWithTheLockHeld) {
    for (unsigned flags : {0u, unsigned{PK_LOCK_RECURSIVE}}) {
        SCOPED_TRACE("flags " + std::to_string(flags));
        Ptr<pk_lock> lock = NewLock(flags);
        ASSERT_NE(lock, nullptr);
        Ptr<pk_cond> cond = NewCond(lock.get());
        ASSERT_NE(cond, nullptr);
        int depth = flags != 0 ? 2 : 1;
        for (int d = 0; d < depth; d++)
            ASSERT_EQ(pk_lock_acquire(lock.get(), nullptr), 0);
        EXPECT_EQ(pk_cond_wait_timeout(cond.get(), nullptr, 0.05), PK_ETIMEDOUT);
        std::atomic<int> other{1};
        auto try_take = [&](pk_worker *w) {
            other = pk_lock_try_acquire(lock.get(), w);
            return 0;
        };
        ASSERT_EQ(Once(try_take), 0) << ErrorString();
        EXPECT_EQ(other.load(), PK_EAGAIN) << "held again after the timeout";
        for (int d = 0; d < depth; d++)
            EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0) << "at the same depth";
        EXPECT_EQ(pk_lock_release(lock.get(), nullptr), PK_EPERM);
    }
}

TEST_P(Sync, CondMisuseIsRefusedWithItsReason) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    Ptr<pk_cond> cond = NewCond(lock.get());
    ASSERT_NE(cond, nullptr);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_cond_wait(cond.get(), nullptr), PK_EPERM);
    EXPECT_MESSAGE_HAS("does not hold");
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_cond_wait_timeout(cond.get(), nullptr, 0.01), PK_EPERM);
    EXPECT_MESSAGE_HAS("does not hold");
    // held by a worker, waited on by the calling thread
    std::atomic<int> rc{1};
    auto take = [&](pk_worker *w) {
        rc = pk_lock_acquire(lock.get(), w);
        return 0;
    };
    ASSERT_EQ(Once(take), 0);
    ASSERT_EQ(rc.load(), 0);
    EXPECT_EQ(pk_cond_wait_timeout(cond.get(), nullptr, 0.01), PK_EPERM);
    auto give = [&](pk_worker *w) {
        rc = pk_lock_release(lock.get(), w);
        return 0;
    };
    ASSERT_EQ(Once(give), 0);
    EXPECT_EQ(rc.load(), 0);
    // notify does not need the lock
    EXPECT_EQ(pk_cond_notify(cond.get(), nullptr), 0);
    EXPECT_EQ(pk_cond_notify_all(cond.get(), nullptr), 0);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_lock_acquire(lock.get(), nullptr), 0);
    EXPECT_EQ(pk_cond_wait_timeout(cond.get(), nullptr, -2), PK_EINVAL);
    EXPECT_MESSAGE_HAS("timeout");
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
    // creation's refusals
    pk_cond *c = reinterpret_cast<pk_cond *>(&rc);
    EXPECT_EQ(pk_cond_new(ctx(), &c, nullptr), PK_EINVAL);
    EXPECT_EQ(c, nullptr);
    EXPECT_MESSAGE_HAS("lock");
    CtxPtr other = MakeCtx(GetParam());
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(pk_cond_new(other.get(), &c, lock.get()), PK_EINVAL);
    EXPECT_NE(std::string(pk_ctx_error(other.get())->message).find("another context"),
              std::string::npos)
        << pk_ctx_error(other.get())->message;
    EXPECT_EQ(pk_cond_new(ctx(), nullptr, lock.get()), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_cond_new");
    EXPECT_EQ(pk_cond_new(nullptr, &c, lock.get()), PK_EINVAL);
    EXPECT_EQ(pk_cond_wait(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_cond_wait_timeout(nullptr, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_cond_notify(nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_cond_notify_all(nullptr, nullptr), PK_EINVAL);
    pk_cond_free(nullptr);
}

// ---- pk_barrier -------------------------------------------------------------------

TEST_P(Sync, BarrierHoldsEveryRoundAndNamesOneLastArriver) {
    constexpr int kRounds = 5;
    Ptr<pk_barrier> barrier = NewBarrier(kTeam);
    ASSERT_NE(barrier, nullptr);
    std::atomic<int> arrived[kRounds], last[kRounds], early{0};
    for (int r = 0; r < kRounds; r++)
        arrived[r] = last[r] = 0;
    auto team = [&](pk_worker *w) {
        for (int r = 0; r < kRounds; r++) {
            if (w->id == r % kTeam)
                SleepMs(10); // a late arriver, a different one each round
            arrived[r]++;
            int rc = pk_barrier_wait(barrier.get(), w);
            if (rc < 0)
                return rc;
            if (rc == 1)
                last[r]++;
            if (arrived[r].load() != kTeam)
                early++;
        }
        return 0;
    };
    ASSERT_EQ(Team(kTeam, team), 0) << ErrorString();
    EXPECT_EQ(early.load(), 0);
    for (int r = 0; r < kRounds; r++)
        EXPECT_EQ(last[r].load(), 1) << "round " << r;
}

TEST_P(Sync, BarrierOfOneAndRefusals) {
    Ptr<pk_barrier> one = NewBarrier(1);
    ASSERT_NE(one, nullptr);
    EXPECT_EQ(pk_barrier_wait(one.get(), nullptr), 1);
    EXPECT_EQ(pk_barrier_wait(one.get(), nullptr), 1);
    pk_barrier *b = reinterpret_cast<pk_barrier *>(&one);
    EXPECT_EQ(pk_barrier_new(ctx(), &b, 0), PK_EINVAL);
    EXPECT_EQ(b, nullptr);
    EXPECT_MESSAGE_HAS("parties");
    EXPECT_EQ(pk_barrier_new(ctx(), &b, -3), PK_EINVAL);
    EXPECT_EQ(pk_barrier_new(ctx(), nullptr, 2), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_barrier_new");
    EXPECT_EQ(pk_barrier_new(nullptr, &b, 2), PK_EINVAL);
    EXPECT_EQ(pk_barrier_wait(nullptr, nullptr), PK_EINVAL);
    pk_barrier_free(nullptr);
}

// ---- pk_shared --------------------------------------------------------------------

TEST_P(Sync, SharedCopiesInAndOutAndShowsItsData) {
    Ptr<pk_shared> sh = NewShared(sizeof(int64_t), 10);
    ASSERT_NE(sh, nullptr);
    EXPECT_EQ(pk_shared_count(sh.get()), 10);
    EXPECT_EQ(pk_shared_elem_size(sh.get()), sizeof(int64_t));
    auto *data = static_cast<int64_t *>(pk_shared_data(sh.get()));
    ASSERT_NE(data, nullptr); // threads address the same memory
    int64_t all[10];
    ASSERT_EQ(pk_shared_get(sh.get(), 0, 10, all), 0);
    for (int64_t v : all)
        EXPECT_EQ(v, 0); // zeroed
    int64_t in[3] = {7, -8, 9};
    ASSERT_EQ(pk_shared_put(sh.get(), 2, 3, in), 0);
    EXPECT_EQ(data[2], 7);
    EXPECT_EQ(data[3], -8);
    EXPECT_EQ(data[4], 9);
    data[9] = 99;
    int64_t out[2] = {0, 0};
    ASSERT_EQ(pk_shared_get(sh.get(), 8, 2, out), 0);
    EXPECT_EQ(out[0], 0);
    EXPECT_EQ(out[1], 99);
    EXPECT_EQ(pk_shared_get(sh.get(), 10, 0, out), 0); // empty, at the end
    // elements of any size
    struct Rec {
        char name[12];
        double x;
    };
    Ptr<pk_shared> recs = NewShared(sizeof(Rec), 3);
    ASSERT_NE(recs, nullptr);
    Rec r = {"third", 2.5}, back = {};
    ASSERT_EQ(pk_shared_put(recs.get(), 2, 1, &r), 0);
    ASSERT_EQ(pk_shared_get(recs.get(), 2, 1, &back), 0);
    EXPECT_STREQ(back.name, "third");
    EXPECT_EQ(back.x, 2.5);
}

TEST_P(Sync, SharedRefusesOutOfRangeAndNullWithItsReason) {
    Ptr<pk_shared> sh = NewShared(sizeof(int64_t), 10);
    ASSERT_NE(sh, nullptr);
    int64_t buf[12] = {};
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_shared_get(sh.get(), 9, 2, buf), PK_ERANGE);
    EXPECT_MESSAGE_HAS("shared array");
    EXPECT_EQ(pk_shared_get(sh.get(), -1, 1, buf), PK_ERANGE);
    EXPECT_EQ(pk_shared_get(sh.get(), 0, 11, buf), PK_ERANGE);
    EXPECT_EQ(pk_shared_get(sh.get(), 0, -1, buf), PK_ERANGE);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_shared_put(sh.get(), 10, 1, buf), PK_ERANGE);
    EXPECT_MESSAGE_HAS("shared array");
    EXPECT_EQ(pk_shared_put(sh.get(), INT64_MAX, 2, buf), PK_ERANGE);
    EXPECT_EQ(pk_shared_get(sh.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_put(sh.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_get(nullptr, 0, 1, buf), PK_EINVAL);
    EXPECT_EQ(pk_shared_put(nullptr, 0, 1, buf), PK_EINVAL);
    EXPECT_EQ(pk_shared_data(nullptr), nullptr);
    EXPECT_EQ(pk_shared_count(nullptr), 0);
    EXPECT_EQ(pk_shared_elem_size(nullptr), 0u);
    // creation's refusals
    pk_shared *s = reinterpret_cast<pk_shared *>(&sh);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_shared_new(ctx(), &s, 0, 5), PK_EINVAL);
    EXPECT_EQ(s, nullptr);
    EXPECT_MESSAGE_HAS("shared array");
    EXPECT_EQ(pk_shared_new(ctx(), &s, 8, 0), PK_EINVAL);
    EXPECT_EQ(pk_shared_new(ctx(), &s, 8, -1), PK_EINVAL);
    EXPECT_EQ(pk_shared_new(ctx(), &s, 8, INT64_MAX), PK_ERANGE);
    EXPECT_MESSAGE_HAS("too big");
    EXPECT_EQ(pk_shared_new(ctx(), nullptr, 8, 1), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_shared_new");
    EXPECT_EQ(pk_shared_new(nullptr, &s, 8, 1), PK_EINVAL);
    pk_shared_free(nullptr);
}

TEST_P(Sync, SharedI64Atomics) {
    Ptr<pk_shared> sh = NewShared(sizeof(int64_t), 4);
    ASSERT_NE(sh, nullptr);
    int64_t v = -1, old = -1;
    ASSERT_EQ(pk_shared_store_i64(sh.get(), 1, 40), 0);
    ASSERT_EQ(pk_shared_load_i64(sh.get(), 1, &v), 0);
    EXPECT_EQ(v, 40);
    EXPECT_EQ(pk_shared_fetch_add_i64(sh.get(), 1, 2, &old), 0);
    EXPECT_EQ(old, 40);
    EXPECT_EQ(pk_shared_fetch_add_i64(sh.get(), 1, -50, nullptr), 0);
    pk_shared_load_i64(sh.get(), 1, &v);
    EXPECT_EQ(v, -8);
    // compare-exchange: success stores, failure reports the current value
    int64_t expected = -8;
    EXPECT_EQ(pk_shared_compare_exchange_i64(sh.get(), 1, &expected, 100), 0);
    EXPECT_EQ(expected, -8);
    pk_shared_load_i64(sh.get(), 1, &v);
    EXPECT_EQ(v, 100);
    expected = 5;
    EXPECT_EQ(pk_shared_compare_exchange_i64(sh.get(), 1, &expected, 7), PK_EAGAIN);
    EXPECT_EQ(expected, 100);
    pk_shared_load_i64(sh.get(), 1, &v);
    EXPECT_EQ(v, 100);
    // min and max store only the better value and report the old one
    EXPECT_EQ(pk_shared_max_i64(sh.get(), 1, 50, &old), 0);
    EXPECT_EQ(old, 100);
    pk_shared_load_i64(sh.get(), 1, &v);
    EXPECT_EQ(v, 100);
    EXPECT_EQ(pk_shared_max_i64(sh.get(), 1, 150, &old), 0);
    EXPECT_EQ(old, 100);
    pk_shared_load_i64(sh.get(), 1, &v);
    EXPECT_EQ(v, 150);
    EXPECT_EQ(pk_shared_min_i64(sh.get(), 1, 200, &old), 0);
    EXPECT_EQ(old, 150);
    EXPECT_EQ(pk_shared_min_i64(sh.get(), 1, INT64_MIN, nullptr), 0);
    pk_shared_load_i64(sh.get(), 1, &v);
    EXPECT_EQ(v, INT64_MIN);
    // the other elements were never touched
    pk_shared_load_i64(sh.get(), 0, &v);
    EXPECT_EQ(v, 0);
    pk_shared_load_i64(sh.get(), 3, &v);
    EXPECT_EQ(v, 0);
}

TEST_P(Sync, SharedF64Atomics) {
    Ptr<pk_shared> sh = NewShared(sizeof(double), 2);
    ASSERT_NE(sh, nullptr);
    double v = -1, old = -1;
    ASSERT_EQ(pk_shared_load_f64(sh.get(), 0, &v), 0);
    EXPECT_EQ(v, 0.0);
    ASSERT_EQ(pk_shared_store_f64(sh.get(), 0, 1.5), 0);
    EXPECT_EQ(pk_shared_fetch_add_f64(sh.get(), 0, 0.25, &old), 0);
    EXPECT_EQ(old, 1.5);
    pk_shared_load_f64(sh.get(), 0, &v);
    EXPECT_EQ(v, 1.75);
    double expected = 1.75;
    EXPECT_EQ(pk_shared_compare_exchange_f64(sh.get(), 0, &expected, -3.0), 0);
    pk_shared_load_f64(sh.get(), 0, &v);
    EXPECT_EQ(v, -3.0);
    expected = 2.0;
    EXPECT_EQ(pk_shared_compare_exchange_f64(sh.get(), 0, &expected, 9.0), PK_EAGAIN);
    EXPECT_EQ(expected, -3.0);
    // by value: -0.0 equals 0.0; NaN equals nothing
    ASSERT_EQ(pk_shared_store_f64(sh.get(), 1, 0.0), 0);
    expected = -0.0;
    EXPECT_EQ(pk_shared_compare_exchange_f64(sh.get(), 1, &expected, 4.0), 0);
    pk_shared_load_f64(sh.get(), 1, &v);
    EXPECT_EQ(v, 4.0);
    ASSERT_EQ(pk_shared_store_f64(sh.get(), 1, std::nan("")), 0);
    expected = std::nan("");
    EXPECT_EQ(pk_shared_compare_exchange_f64(sh.get(), 1, &expected, 1.0), PK_EAGAIN);
    EXPECT_TRUE(std::isnan(expected));
    pk_shared_load_f64(sh.get(), 1, &v);
    EXPECT_TRUE(std::isnan(v));
    // min and max
    ASSERT_EQ(pk_shared_store_f64(sh.get(), 1, 2.0), 0);
    EXPECT_EQ(pk_shared_min_f64(sh.get(), 1, 3.0, &old), 0);
    EXPECT_EQ(old, 2.0);
    pk_shared_load_f64(sh.get(), 1, &v);
    EXPECT_EQ(v, 2.0);
    EXPECT_EQ(pk_shared_min_f64(sh.get(), 1, -0.5, &old), 0);
    EXPECT_EQ(old, 2.0);
    pk_shared_load_f64(sh.get(), 1, &v);
    EXPECT_EQ(v, -0.5);
    EXPECT_EQ(pk_shared_max_f64(sh.get(), 1, -1.0, &old), 0);
    EXPECT_EQ(old, -0.5);
    EXPECT_EQ(pk_shared_max_f64(sh.get(), 1, 1e300, nullptr), 0);
    pk_shared_load_f64(sh.get(), 1, &v);
    EXPECT_EQ(v, 1e300);
}

TEST_P(Sync, SharedAtomicsRefuseWrongElementsAndIndicesWithTheirReason) {
    Ptr<pk_shared> narrow = NewShared(sizeof(int32_t), 8);
    ASSERT_NE(narrow, nullptr);
    int64_t i = 0;
    double d = 0;
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_shared_load_i64(narrow.get(), 0, &i), PK_EINVAL);
    EXPECT_MESSAGE_HAS("8-byte");
    EXPECT_EQ(pk_shared_store_i64(narrow.get(), 0, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_fetch_add_i64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_compare_exchange_i64(narrow.get(), 0, &i, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_min_i64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_max_i64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_load_f64(narrow.get(), 0, &d), PK_EINVAL);
    EXPECT_EQ(pk_shared_store_f64(narrow.get(), 0, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_fetch_add_f64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_compare_exchange_f64(narrow.get(), 0, &d, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_min_f64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_max_f64(narrow.get(), 0, 1, nullptr), PK_EINVAL);
    Ptr<pk_shared> sh = NewShared(sizeof(int64_t), 3);
    ASSERT_NE(sh, nullptr);
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_shared_fetch_add_i64(sh.get(), 3, 1, nullptr), PK_ERANGE);
    EXPECT_MESSAGE_HAS("shared array");
    for (int64_t bad : {int64_t{-1}, int64_t{3}, INT64_MAX}) {
        SCOPED_TRACE("index " + std::to_string(bad));
        EXPECT_EQ(pk_shared_load_i64(sh.get(), bad, &i), PK_ERANGE);
        EXPECT_EQ(pk_shared_store_i64(sh.get(), bad, 1), PK_ERANGE);
        EXPECT_EQ(pk_shared_compare_exchange_i64(sh.get(), bad, &i, 1), PK_ERANGE);
        EXPECT_EQ(pk_shared_min_i64(sh.get(), bad, 1, nullptr), PK_ERANGE);
        EXPECT_EQ(pk_shared_max_i64(sh.get(), bad, 1, nullptr), PK_ERANGE);
        EXPECT_EQ(pk_shared_load_f64(sh.get(), bad, &d), PK_ERANGE);
        EXPECT_EQ(pk_shared_store_f64(sh.get(), bad, 1), PK_ERANGE);
        EXPECT_EQ(pk_shared_fetch_add_f64(sh.get(), bad, 1, nullptr), PK_ERANGE);
        EXPECT_EQ(pk_shared_compare_exchange_f64(sh.get(), bad, &d, 1), PK_ERANGE);
        EXPECT_EQ(pk_shared_min_f64(sh.get(), bad, 1, nullptr), PK_ERANGE);
        EXPECT_EQ(pk_shared_max_f64(sh.get(), bad, 1, nullptr), PK_ERANGE);
    }
    // NULL arguments
    EXPECT_EQ(pk_shared_load_i64(sh.get(), 0, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_load_f64(sh.get(), 0, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_compare_exchange_i64(sh.get(), 0, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_compare_exchange_f64(sh.get(), 0, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_load_i64(nullptr, 0, &i), PK_EINVAL);
    EXPECT_EQ(pk_shared_store_i64(nullptr, 0, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_fetch_add_i64(nullptr, 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_compare_exchange_i64(nullptr, 0, &i, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_min_i64(nullptr, 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_max_i64(nullptr, 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_load_f64(nullptr, 0, &d), PK_EINVAL);
    EXPECT_EQ(pk_shared_store_f64(nullptr, 0, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_fetch_add_f64(nullptr, 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_compare_exchange_f64(nullptr, 0, &d, 1), PK_EINVAL);
    EXPECT_EQ(pk_shared_min_f64(nullptr, 0, 1, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_shared_max_f64(nullptr, 0, 1, nullptr), PK_EINVAL);
}

enum Slot { kAdds, kHalves, kMax, kMin, kMaxF, kCas, kSlots };

int Contend(pk_shared *sh, int64_t i, pk_worker *) {
    int rc = pk_shared_fetch_add_i64(sh, kAdds, 1, nullptr);
    if (rc == 0)
        rc = pk_shared_fetch_add_f64(sh, kHalves, 0.5, nullptr);
    if (rc == 0)
        rc = pk_shared_max_i64(sh, kMax, i, nullptr);
    if (rc == 0)
        rc = pk_shared_min_i64(sh, kMin, -i, nullptr);
    if (rc == 0)
        rc = pk_shared_max_f64(sh, kMaxF, static_cast<double>(i) / 4, nullptr);
    int64_t seen = 0;
    if (rc == 0)
        rc = pk_shared_load_i64(sh, kCas, &seen);
    if (rc != 0)
        return rc;
    do // seen is the current value after a failed exchange
        rc = pk_shared_compare_exchange_i64(sh, kCas, &seen, seen + 1);
    while (rc == PK_EAGAIN);
    return rc;
}

int ContendRange(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    for (int64_t i = begin; i < end; i++) {
        int rc = Contend(static_cast<pk_shared *>(arg), i, w);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void ExpectContended(pk_shared *sh, int64_t n) {
    int64_t v = -1;
    double d = -1;
    pk_shared_load_i64(sh, kAdds, &v);
    EXPECT_EQ(v, n);
    pk_shared_load_f64(sh, kHalves, &d);
    EXPECT_EQ(d, 0.5 * static_cast<double>(n));
    pk_shared_load_i64(sh, kMax, &v);
    EXPECT_EQ(v, n - 1);
    pk_shared_load_i64(sh, kMin, &v);
    EXPECT_EQ(v, -(n - 1));
    pk_shared_load_f64(sh, kMaxF, &d);
    EXPECT_EQ(d, static_cast<double>(n - 1) / 4);
    pk_shared_load_i64(sh, kCas, &v);
    EXPECT_EQ(v, n);
}

TEST_P(Sync, AtomicTotalsAreExactUnderContention) {
    constexpr int64_t kN = 40000;
    {
        Ptr<pk_shared> sh = NewShared(sizeof(int64_t), kSlots);
        ASSERT_NE(sh, nullptr);
        pk_opts o = {};
        o.chunk = 16;
        o.schedule = PK_DYNAMIC;
        ASSERT_EQ(pk_for(ctx(), kN, &o, ContendRange, sh.get()), 0) << ErrorString();
        ExpectContended(sh.get(), kN);
    }
    Ptr<pk_shared> sh = NewShared(sizeof(int64_t), kSlots);
    ASSERT_NE(sh, nullptr);
    pk_shared *p = sh.get();
    auto team = [&](pk_worker *w) {
        for (int64_t i = w->id; i < kN; i += kTeam) {
            int rc = Contend(p, i, w);
            if (rc != 0)
                return rc;
        }
        return 0;
    };
    ASSERT_EQ(Team(kTeam, team), 0) << ErrorString();
    ExpectContended(p, kN);
}

// ---- errors: a worker fails while the others are blocked --------------------------

enum Kind { kLock, kSem, kEvent, kCond, kBarrier };

const char *KindName(Kind k) {
    static const char *names[] = {"lock", "semaphore", "event", "condition", "barrier"};
    return names[k];
}

struct Blocked {
    Kind kind;
    bool inject;
    pk_lock *lock;
    pk_sem *sem;
    pk_event *event;
    pk_cond *cond;
    pk_barrier *barrier;
    std::atomic<int> held{0}, arrived{0};
    std::atomic<int> got[3] = {{1}, {1}, {1}};
};

// Worker 1 (holding the lock, for a lock) waits until the others are about to
// block, then fails; workers 0 and 2 block in the primitive: a lock worker 1
// holds, a semaphore of no permits, an event nobody sets, a condition nobody
// notifies, a barrier of 3 parties that worker 1 never reaches.
int BlockedWorker(Blocked *b, pk_worker *w) {
    if (w->id == 1) {
        if (b->kind == kLock) {
            int rc = pk_lock_acquire(b->lock, w);
            if (rc != 0)
                return rc;
            b->held = 1;
        }
        WaitFor([&] { return b->arrived.load() == 2; });
        SleepMs(50); // the others are asleep in the primitive by now
        if (!b->inject)
            return pk_fail(w, PK_EIO, "worker %d gives up", w->id);
        int rc = pk_task_begin(w, 0); // the armed fault fires here
        return rc != 0 ? rc : pk_fail(w, PK_EIO, "the fault did not fire");
    }
    int rc = 0;
    if (b->kind == kLock)
        WaitFor([&] { return b->held.load() == 1; });
    if (b->kind == kCond)
        rc = pk_lock_acquire(b->lock, w);
    b->arrived++;
    if (rc == 0) {
        switch (b->kind) {
        case kLock:
            rc = pk_lock_acquire(b->lock, w);
            break;
        case kSem:
            rc = pk_sem_acquire(b->sem, w);
            break;
        case kEvent:
            rc = pk_event_wait(b->event, w);
            break;
        case kCond:
            while (rc == 0) // never notified
                rc = pk_cond_wait(b->cond, w);
            break;
        case kBarrier:
            rc = pk_barrier_wait(b->barrier, w);
            break;
        }
    }
    b->got[w->id] = rc;
    return rc;
}

class SyncErrors : public Sync {
  protected:
    void RunBlocked(Kind kind) {
        for (bool inject : {false, true}) {
            SCOPED_TRACE(std::string(KindName(kind)) + (inject ? ", injected fault" : ", error"));
            Ptr<pk_lock> lock = NewLock();
            Ptr<pk_sem> sem = NewSem(0, 0);
            Ptr<pk_event> event = NewEvent();
            Ptr<pk_cond> cond = NewCond(lock.get());
            Ptr<pk_barrier> barrier = NewBarrier(3);
            ASSERT_TRUE(lock && sem && event && cond && barrier);
            Blocked b{kind, inject, lock.get(), sem.get(), event.get(), cond.get(), barrier.get()};
            if (inject)
                ASSERT_EQ(pk_ctx_set_fault(ctx(), "thread=1,task=0"), 0);
            auto team = [&](pk_worker *w) { return BlockedWorker(&b, w); };
            int rc = Team(3, team);
            pk_ctx_set_fault(ctx(), nullptr);
            const pk_error_info *e = pk_ctx_error(ctx());
            if (inject) {
                EXPECT_EQ(rc, PK_EINJECTED) << ErrorString();
                EXPECT_STREQ(e->message, "injected fault");
            } else {
                EXPECT_EQ(rc, PK_EIO) << ErrorString();
                EXPECT_STREQ(e->message, "worker 1 gives up");
            }
            EXPECT_EQ(e->thread, 1) << ErrorString();
            EXPECT_EQ(b.got[0].load(), PK_EABORTED);
            EXPECT_EQ(b.got[2].load(), PK_EABORTED);
            // broken for good: every blocking call refuses at once
            switch (kind) {
            case kLock:
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
            case kCond:
                EXPECT_EQ(pk_lock_acquire(lock.get(), nullptr), PK_EABORTED);
                break;
            case kBarrier:
                EXPECT_EQ(pk_barrier_wait(barrier.get(), nullptr), PK_EABORTED);
                break;
            }
            // the same call on new primitives goes on
            Ptr<pk_sem> fresh = NewSem(1, 1);
            ASSERT_NE(fresh, nullptr);
            EXPECT_EQ(pk_sem_acquire(fresh.get(), nullptr), 0);
        }
    }
};

TEST_P(SyncErrors, FailureWakesWorkersBlockedOnALock) {
    RunBlocked(kLock);
}

TEST_P(SyncErrors, FailureWakesWorkersBlockedOnASemaphore) {
    RunBlocked(kSem);
}

TEST_P(SyncErrors, FailureWakesWorkersWaitingForAnEvent) {
    RunBlocked(kEvent);
}

TEST_P(SyncErrors, FailureWakesWorkersWaitingOnACondition) {
    RunBlocked(kCond);
}

TEST_P(SyncErrors, FailureWakesWorkersWaitingAtABarrier) {
    RunBlocked(kBarrier);
}

int Fail(void *, int64_t, int64_t, pk_worker *w) {
    return pk_fail(w, PK_ERANGE, "no");
}

// A condition waited on (its lock held) after the failure: PK_EABORTED, and
// then, as after any PK_EABORTED from a wait, the lock is not held.
TEST_P(SyncErrors, WaitOnABrokenConditionLeavesTheLockFree) {
    Ptr<pk_lock> lock = NewLock();
    ASSERT_NE(lock, nullptr);
    Ptr<pk_cond> cond = NewCond(lock.get());
    ASSERT_NE(cond, nullptr);
    ASSERT_EQ(pk_lock_acquire(lock.get(), nullptr), 0);
    ASSERT_EQ(pk_for(ctx(), 10, nullptr, Fail, nullptr), PK_ERANGE);
    EXPECT_EQ(pk_cond_wait(cond.get(), nullptr), PK_EABORTED);
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), PK_EPERM);
}

// A worker of another context's pool call is refused with the reason (a failure
// there would neither break nor wake this context's primitives).
TEST_P(Sync, APrimitiveOfAnotherContextIsRefused) {
    Ptr<pk_lock> lock = NewLock();
    Ptr<pk_event> event = NewEvent();
    ASSERT_NE(lock, nullptr);
    ASSERT_NE(event, nullptr);
    CtxPtr other = MakeCtx(GetParam());
    ASSERT_NE(other, nullptr);
    struct Uses {
        pk_lock *lock;
        pk_event *event;
        int acquire = 0, set = 0;
    } u{lock.get(), event.get()};
    pk_team_fn use = [](void *arg, pk_worker *w) {
        auto *x = static_cast<Uses *>(arg);
        x->acquire = pk_lock_acquire(x->lock, w);
        x->set = pk_event_set(x->event, w);
        return 0;
    };
    ASSERT_EQ(pk_team(other.get(), 1, nullptr, use, &u), 0);
    EXPECT_EQ(u.acquire, PK_EINVAL);
    EXPECT_EQ(u.set, PK_EINVAL);
    EXPECT_MESSAGE_HAS("another context");
    EXPECT_EQ(pk_event_is_set(event.get()), 0);
    EXPECT_EQ(pk_lock_try_acquire(lock.get(), nullptr), 0); // still free
    EXPECT_EQ(pk_lock_release(lock.get(), nullptr), 0);
}

// A primitive used after it was freed is refused with PK_EINVAL and the reason,
// in a pool call (the lock's fast path too) and outside; freeing it again does
// nothing but say so; a condition whose lock was freed refuses to wait.
TEST_P(Sync, UseAfterFreeIsRefusedWithItsReason) {
    pk_lock *lock = NewLock().release();
    pk_lock *cond_lock = NewLock().release();
    pk_sem *sem = NewSem(1, 0).release();
    pk_event *event = NewEvent().release();
    pk_cond *cond = NewCond(cond_lock).release();
    pk_barrier *barrier = NewBarrier(1).release();
    pk_shared *shared = NewShared(sizeof(int64_t), 4).release();
    ASSERT_TRUE(lock && cond_lock && sem && event && cond && barrier && shared);
    pk_lock_free(lock);
    pk_lock_free(cond_lock);
    pk_sem_free(sem);
    pk_event_free(event);
    pk_barrier_free(barrier);
    pk_shared_free(shared);
    struct Codes {
        int acquire, release, sem, event, cond, barrier, shared;
    } got{};
    auto use = [&](pk_worker *w) {
        got.acquire = pk_lock_acquire(lock, w);
        got.release = pk_lock_release(lock, w);
        got.sem = pk_sem_acquire(sem, w);
        got.event = pk_event_wait(event, w);
        got.cond = pk_cond_wait(cond, w);
        got.barrier = pk_barrier_wait(barrier, w);
        got.shared = pk_shared_fetch_add_i64(shared, 0, 1, nullptr);
        return 0;
    };
    ASSERT_EQ(Once(use), 0) << ErrorString();
    EXPECT_EQ(got.acquire, PK_EINVAL);
    EXPECT_EQ(got.release, PK_EINVAL);
    EXPECT_EQ(got.sem, PK_EINVAL);
    EXPECT_EQ(got.event, PK_EINVAL);
    EXPECT_EQ(got.cond, PK_EINVAL);
    EXPECT_EQ(got.barrier, PK_EINVAL);
    EXPECT_EQ(got.shared, PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_shared used after pk_shared_free");
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_lock_try_acquire(lock, nullptr), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_lock used after pk_lock_free");
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_lock_acquire_timeout(lock, nullptr, 0.01), PK_EINVAL);
    EXPECT_EQ(pk_sem_release(sem, nullptr), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_sem used after pk_sem_free");
    EXPECT_EQ(pk_sem_value(sem), 0);
    EXPECT_EQ(pk_event_set(event, nullptr), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_event used after pk_event_free");
    EXPECT_EQ(pk_event_is_set(event), 0);
    EXPECT_EQ(pk_shared_data(shared), nullptr);
    EXPECT_EQ(pk_shared_count(shared), 0);
    EXPECT_EQ(pk_shared_elem_size(shared), 0u);
    int64_t v = 0;
    EXPECT_EQ(pk_shared_get(shared, 0, 1, &v), PK_EINVAL);
    EXPECT_EQ(pk_shared_load_i64(shared, 0, &v), PK_EINVAL);
    EXPECT_EQ(pk_barrier_wait(barrier, nullptr), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_barrier used after pk_barrier_free");
    // the condition itself is alive; its lock is not
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_cond_notify(cond, nullptr), 0);
    EXPECT_EQ(pk_cond_wait_timeout(cond, nullptr, 0.01), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_lock used after pk_lock_free");
    pk_cond_free(cond);
    EXPECT_EQ(pk_cond_notify(cond, nullptr), PK_EINVAL);
    EXPECT_MESSAGE_HAS("pk_cond used after pk_cond_free");
    // freed twice: nothing happens but the note
    pk_ctx_clear_error(ctx());
    pk_lock_free(lock);
    EXPECT_MESSAGE_HAS("pk_lock used after pk_lock_free");
    pk_shared_free(shared);
    // and the context still makes and uses new primitives
    Ptr<pk_lock> fresh = NewLock();
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(pk_lock_try_acquire(fresh.get(), nullptr), 0) << ErrorString();
    EXPECT_EQ(pk_lock_release(fresh.get(), nullptr), 0) << ErrorString();
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Pools, Sync, testing::ValuesIn(AllPools()), PoolName);
INSTANTIATE_TEST_SUITE_P(Pools, SyncErrors, testing::ValuesIn(AllPools()), PoolName);
