// Tests of the channel contract (parkit/pool.h, pk_chan_*) on every pool of
// AllPools(): FIFO order, the non-blocking calls, close then drain, put after
// close, abort of really blocked puts and gets, batches, the depth high-water
// mark, peek and the observe hook, open's argument errors, and exactly-once
// delivery under many producers and consumers. Blocking tests run the blocked
// call on a helper thread and give up on it (leaving it and its channel behind)
// if it does not return in time, so a broken channel fails the test instead of
// hanging it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

using Clock = std::chrono::steady_clock;

struct ChanDeleter {
    void operator()(pk_chan *c) const { pk_chan_free(c); }
};
using ChanPtr = std::unique_ptr<pk_chan, ChanDeleter>;

pk_chan_opts ChanOpts(size_t capacity, int producers = 1, int consumers = 1,
                      size_t elem_size = sizeof(int64_t)) {
    pk_chan_opts o{};
    o.elem_size = elem_size;
    o.capacity = capacity;
    o.producers = producers;
    o.consumers = consumers;
    return o;
}

class Chan : public PoolTest {
  protected:
    ChanPtr Open(const pk_chan_opts &o) {
        pk_chan *c = nullptr;
        EXPECT_EQ(pk_chan_open(ctx(), &c, &o), 0) << ErrorString();
        return ChanPtr(c);
    }
    ChanPtr Open(size_t capacity, int producers = 1, int consumers = 1) {
        return Open(ChanOpts(capacity, producers, consumers));
    }
};

// Runs call() on a thread that starts blocked in the channel. After 100 ms the
// call must still be running (it really blocked); then release() must make it
// return within 10 seconds. Returns the call's code, or 1 when it returned too
// early, or 2 when release did not wake it: then the thread is left behind, and
// the channel with it (never freed under a thread still inside it), so that the
// test fails instead of hanging.
template <class Call, class Release> int BlockThenRelease(ChanPtr &ch, Call call, Release release) {
    auto done = std::make_shared<std::promise<int>>();
    std::future<int> fut = done->get_future();
    auto started = std::make_shared<std::atomic<bool>>(false);
    std::thread t([done, started, call] {
        *started = true;
        done->set_value(call());
    });
    while (!*started)
        std::this_thread::yield();
    bool early = fut.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready;
    if (!early)
        release();
    if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        t.detach();
        (void)ch.release();
        return 2;
    }
    t.join();
    return early ? 1 : fut.get();
}

// A thread putting into ch; if the test stops early (a failed ASSERT) the channel
// is aborted so that the thread ends and can be joined.
struct Feeder {
    pk_chan *ch;
    std::thread t;
    template <class Fn> Feeder(pk_chan *c, Fn fn) : ch(c), t(fn) {}
    ~Feeder() {
        if (t.joinable()) {
            pk_chan_abort(ch, PK_EABORTED);
            t.join();
        }
    }
};

TEST_P(Chan, FifoOrderOneProducerOneConsumer) {
    const int64_t n = 200000;
    auto ch = Open(16);
    ASSERT_NE(ch, nullptr);
    Feeder producer(ch.get(), [&] {
        for (int64_t i = 0; i < n; i++)
            ASSERT_EQ(pk_chan_put(ch.get(), &i), 0);
        ASSERT_EQ(pk_chan_close(ch.get()), 0);
    });
    int64_t want = 0, v = -1;
    int rc;
    while ((rc = pk_chan_get(ch.get(), &v)) == 0) {
        ASSERT_EQ(v, want) << "out of order";
        want++;
    }
    producer.t.join();
    EXPECT_EQ(rc, PK_ECLOSED);
    EXPECT_EQ(want, n);
}

TEST_P(Chan, TryPutOnFullAndTryGetOnEmptyGiveEagain) {
    auto ch = Open(3);
    ASSERT_NE(ch, nullptr);
    int64_t v = 0;
    EXPECT_EQ(pk_chan_try_get(ch.get(), &v), PK_EAGAIN);
    for (int64_t i = 1; i <= 3; i++)
        EXPECT_EQ(pk_chan_try_put(ch.get(), &i), 0);
    int64_t extra = 4;
    EXPECT_EQ(pk_chan_try_put(ch.get(), &extra), PK_EAGAIN);
    EXPECT_EQ(pk_chan_try_get(ch.get(), &v), 0);
    EXPECT_EQ(v, 1);
    EXPECT_EQ(pk_chan_try_put(ch.get(), &extra), 0);
    for (int64_t want : {2, 3, 4}) {
        EXPECT_EQ(pk_chan_try_get(ch.get(), &v), 0);
        EXPECT_EQ(v, want);
    }
    EXPECT_EQ(pk_chan_try_get(ch.get(), &v), PK_EAGAIN);
}

TEST_P(Chan, CloseByEveryProducerThenDrainThenClosed) {
    auto ch = Open(8, 2, 1);
    ASSERT_NE(ch, nullptr);
    for (int64_t i = 10; i < 13; i++)
        ASSERT_EQ(pk_chan_put(ch.get(), &i), 0);
    ASSERT_EQ(pk_chan_close(ch.get()), 0);
    int64_t v = 0;
    // One producer of two is still open: more may come, so not closed yet.
    EXPECT_EQ(pk_chan_get(ch.get(), &v), 0);
    EXPECT_EQ(v, 10);
    int64_t late = 13;
    EXPECT_EQ(pk_chan_put(ch.get(), &late), 0);
    ASSERT_EQ(pk_chan_close(ch.get()), 0);
    for (int64_t want : {11, 12, 13}) {
        EXPECT_EQ(pk_chan_get(ch.get(), &v), 0);
        EXPECT_EQ(v, want);
    }
    ASSERT_EQ(pk_chan_try_get(ch.get(), &v), PK_ECLOSED); // before a get that could block
    EXPECT_EQ(pk_chan_get(ch.get(), &v), PK_ECLOSED);
    size_t got = 7;
    int64_t buf[4];
    EXPECT_EQ(pk_chan_get_many(ch.get(), buf, 4, &got), PK_ECLOSED);
    EXPECT_EQ(got, 0u);
}

TEST_P(Chan, PutAfterCloseAndCloseTooOftenGiveClosed) {
    auto ch = Open(4);
    ASSERT_NE(ch, nullptr);
    ASSERT_EQ(pk_chan_close(ch.get()), 0);
    int64_t v = 1;
    EXPECT_EQ(pk_chan_put(ch.get(), &v), PK_ECLOSED);
    EXPECT_EQ(pk_chan_try_put(ch.get(), &v), PK_ECLOSED);
    EXPECT_EQ(pk_chan_put_many(ch.get(), &v, 1), PK_ECLOSED);
    EXPECT_EQ(pk_chan_close(ch.get()), PK_ECLOSED);
    ASSERT_EQ(pk_chan_try_get(ch.get(), &v), PK_ECLOSED);
    EXPECT_EQ(pk_chan_get(ch.get(), &v), PK_ECLOSED);
}

TEST_P(Chan, AbortWakesABlockedGet) {
    auto ch = Open(4);
    ASSERT_NE(ch, nullptr);
    auto slot = std::make_shared<int64_t>(0); // outlives the call should it never return
    pk_chan *c = ch.get();
    int rc = BlockThenRelease(
        ch, [c, slot] { return pk_chan_get(c, slot.get()); },
        [&] { EXPECT_EQ(pk_chan_abort(ch.get(), PK_EINJECTED), 0); });
    EXPECT_EQ(rc, PK_EINJECTED);
    int64_t v = 0;
    // Aborted for good: later calls fail at once with the same code.
    EXPECT_EQ(pk_chan_get(ch.get(), &v), PK_EINJECTED);
    EXPECT_EQ(pk_chan_put(ch.get(), &v), PK_EINJECTED);
}

TEST_P(Chan, AbortWakesABlockedPut) {
    auto ch = Open(1);
    ASSERT_NE(ch, nullptr);
    int64_t v = 5;
    ASSERT_EQ(pk_chan_put(ch.get(), &v), 0);
    auto slot = std::make_shared<int64_t>(6);
    pk_chan *c = ch.get();
    int rc = BlockThenRelease(
        ch, [c, slot] { return pk_chan_put(c, slot.get()); },
        [&] { EXPECT_EQ(pk_chan_abort(ch.get(), PK_EABORTED), 0); });
    EXPECT_EQ(rc, PK_EABORTED);
    // The item that was in stays unreachable: an aborted channel gives nothing.
    EXPECT_EQ(pk_chan_get(ch.get(), &v), PK_EABORTED);
}

TEST_P(Chan, AbortWakesEveryBlockedWaiter) {
    auto ch = Open(2, 1, 3);
    ASSERT_NE(ch, nullptr);
    pk_chan *c = ch.get();
    auto started = std::make_shared<std::atomic<int>>(0);
    auto woken = std::make_shared<std::atomic<int>>(0);
    auto codes = std::make_shared<std::vector<std::atomic<int>>>(3);
    std::vector<std::thread> getters;
    for (size_t i = 0; i < 3; i++)
        getters.emplace_back([c, started, woken, codes, i] {
            ++*started;
            int64_t v;
            (*codes)[i] = pk_chan_get(c, &v);
            ++*woken;
        });
    while (*started < 3)
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(woken->load(), 0) << "a get on an empty channel returned";
    EXPECT_EQ(pk_chan_abort(c, PK_EABORTED), 0);
    auto until = Clock::now() + std::chrono::seconds(10);
    while (*woken < 3 && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (*woken < 3) { // leave the stuck threads and their channel behind, and fail
        for (auto &t : getters)
            t.detach();
        (void)ch.release();
        FAIL() << "abort left " << 3 - *woken << " getters blocked";
    }
    for (auto &t : getters)
        t.join();
    for (auto &code : *codes)
        EXPECT_EQ(code.load(), PK_EABORTED);
}

TEST_P(Chan, CloseWakesABlockedGet) {
    auto ch = Open(4);
    ASSERT_NE(ch, nullptr);
    auto slot = std::make_shared<int64_t>(0);
    pk_chan *c = ch.get();
    int rc = BlockThenRelease(
        ch, [c, slot] { return pk_chan_get(c, slot.get()); },
        [&] { EXPECT_EQ(pk_chan_close(ch.get()), 0); });
    EXPECT_EQ(rc, PK_ECLOSED);
}

TEST_P(Chan, PutWakesABlockedGetAndGetWakesABlockedPut) {
    auto ch = Open(1);
    ASSERT_NE(ch, nullptr);
    auto got = std::make_shared<int64_t>(0), second = std::make_shared<int64_t>(2);
    int64_t item = 42;
    pk_chan *c = ch.get();
    int rc = BlockThenRelease(
        ch, [c, got] { return pk_chan_get(c, got.get()); },
        [&] { EXPECT_EQ(pk_chan_put(ch.get(), &item), 0); });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(*got, 42);
    int64_t first = 1, out = 0;
    ASSERT_EQ(pk_chan_put(ch.get(), &first), 0);
    rc = BlockThenRelease(
        ch, [c, second] { return pk_chan_put(c, second.get()); },
        [&] { EXPECT_EQ(pk_chan_get(ch.get(), &out), 0); });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(out, 1);
    EXPECT_EQ(pk_chan_get(ch.get(), &out), 0);
    EXPECT_EQ(out, 2);
}

TEST_P(Chan, PutManyAndGetManyKeepOrderAcrossTheRingEnd) {
    const int64_t n = 10000;
    auto ch = Open(5);
    ASSERT_NE(ch, nullptr);
    Feeder producer(ch.get(), [&] {
        std::vector<int64_t> items;
        for (int64_t i = 0; i < n; i++) {
            items.push_back(i);
            if (items.size() == 7 || i == n - 1) { // batches larger than the ring
                ASSERT_EQ(pk_chan_put_many(ch.get(), items.data(), items.size()), 0);
                items.clear();
            }
        }
        ASSERT_EQ(pk_chan_close(ch.get()), 0);
    });
    int64_t want = 0, buf[3];
    size_t got = 0;
    int rc;
    while ((rc = pk_chan_get_many(ch.get(), buf, 3, &got)) == 0) {
        ASSERT_GE(got, 1u);
        ASSERT_LE(got, 3u);
        for (size_t k = 0; k < got; k++)
            ASSERT_EQ(buf[k], want++);
    }
    producer.t.join();
    EXPECT_EQ(rc, PK_ECLOSED);
    EXPECT_EQ(want, n);
}

TEST_P(Chan, GetManyTakesWhatIsThere) {
    auto ch = Open(8);
    ASSERT_NE(ch, nullptr);
    int64_t items[3] = {7, 8, 9};
    ASSERT_EQ(pk_chan_put_many(ch.get(), items, 3), 0);
    int64_t buf[8] = {0};
    size_t got = 0;
    ASSERT_EQ(pk_chan_get_many(ch.get(), buf, 8, &got), 0);
    EXPECT_EQ(got, 3u);
    EXPECT_EQ(std::vector<int64_t>(buf, buf + 3), std::vector<int64_t>({7, 8, 9}));
    EXPECT_EQ(pk_chan_put_many(ch.get(), items, 0), 0);
}

TEST_P(Chan, MaxDepthIsTheHighWaterMark) {
    auto ch = Open(5);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 0u);
    int64_t v = 0, items[4] = {1, 2, 3, 4};
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(pk_chan_put(ch.get(), &v), 0);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 3u);
    ASSERT_EQ(pk_chan_get(ch.get(), &v), 0);
    ASSERT_EQ(pk_chan_get(ch.get(), &v), 0);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 3u); // a mark: it does not go down
    ASSERT_EQ(pk_chan_put_many(ch.get(), items, 4), 0);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 5u);
    EXPECT_EQ(pk_chan_try_put(ch.get(), &v), PK_EAGAIN);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 5u);
}

TEST_P(Chan, PeekCopiesTheOldestWithoutRemoving) {
    auto ch = Open(4);
    ASSERT_NE(ch, nullptr);
    int64_t buf[4] = {0};
    EXPECT_EQ(pk_chan_peek(ch.get(), buf, 4), 0u);
    for (int64_t i = 1; i <= 4; i++) // fill, then move the head past the ring end
        ASSERT_EQ(pk_chan_put(ch.get(), &i), 0);
    int64_t v = 0;
    ASSERT_EQ(pk_chan_get(ch.get(), &v), 0);
    int64_t five = 5;
    ASSERT_EQ(pk_chan_put(ch.get(), &five), 0);
    EXPECT_EQ(pk_chan_peek(ch.get(), buf, 2), 4u); // counts all, copies max
    EXPECT_EQ(buf[0], 2);
    EXPECT_EQ(buf[1], 3);
    EXPECT_EQ(buf[2], 0);
    EXPECT_EQ(pk_chan_peek(ch.get(), buf, 4), 4u);
    EXPECT_EQ(std::vector<int64_t>(buf, buf + 4), std::vector<int64_t>({2, 3, 4, 5}));
    ASSERT_EQ(pk_chan_get(ch.get(), &v), 0);
    EXPECT_EQ(v, 2);
}

TEST_P(Chan, ItemsOfAnySizeArriveIntact) {
    for (size_t size : {1u, 3u, 8u, 24u}) {
        auto ch = Open(ChanOpts(3, 1, 1, size));
        ASSERT_NE(ch, nullptr);
        Feeder producer(ch.get(), [&] {
            std::vector<unsigned char> item(size);
            for (int i = 0; i < 1000; i++) {
                std::fill(item.begin(), item.end(), static_cast<unsigned char>(i));
                ASSERT_EQ(pk_chan_put(ch.get(), item.data()), 0);
            }
            ASSERT_EQ(pk_chan_close(ch.get()), 0);
        });
        std::vector<unsigned char> item(size);
        int i = 0;
        while (pk_chan_get(ch.get(), item.data()) == 0) {
            for (unsigned char b : item)
                ASSERT_EQ(b, static_cast<unsigned char>(i)) << "size " << size;
            i++;
        }
        producer.t.join();
        EXPECT_EQ(i, 1000) << "size " << size;
    }
}

TEST_P(Chan, OpenRejectsBadArguments) {
    pk_chan *c = reinterpret_cast<pk_chan *>(1);
    pk_chan_opts o = ChanOpts(4);
    EXPECT_EQ(pk_chan_open(ctx(), nullptr, &o), PK_EINVAL);
    EXPECT_EQ(pk_chan_open(ctx(), &c, nullptr), PK_EINVAL);
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(pk_chan_open(nullptr, &c, &o), PK_EINVAL);
    struct Case {
        size_t elem, cap;
        int producers, consumers, code;
    };
    const Case cases[] = {{0, 4, 1, 1, PK_EINVAL},
                          {8, 0, 1, 1, PK_EINVAL},
                          {8, 4, 0, 1, PK_EINVAL},
                          {8, 4, 1, 0, PK_EINVAL},
                          {8, SIZE_MAX / 4, 1, 1, PK_ENOMEM},
                          {8, static_cast<size_t>(1) << 41, 1, 1, PK_ENOMEM}};
    for (const Case &k : cases) {
        c = reinterpret_cast<pk_chan *>(1);
        o = ChanOpts(k.cap, k.producers, k.consumers, k.elem);
        EXPECT_EQ(pk_chan_open(ctx(), &c, &o), k.code) << k.elem << " " << k.cap;
        EXPECT_EQ(c, nullptr);
        EXPECT_EQ(pk_ctx_error(ctx())->code, k.code);
        EXPECT_NE(std::string(pk_ctx_error(ctx())->message), "");
    }
    EXPECT_EQ(pk_chan_abort(nullptr, PK_EABORTED), PK_EINVAL);
    auto ch = Open(2);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(pk_chan_abort(ch.get(), 0), PK_EINVAL); // the code must be an error
    int64_t buf[2];
    size_t got;
    EXPECT_EQ(pk_chan_get_many(ch.get(), buf, 0, &got), PK_EINVAL);
    EXPECT_EQ(pk_chan_put(ch.get(), nullptr), PK_EINVAL);
}

// ---- observe: the hook sees every move, with the exact contents --------------------

struct Observed {
    std::deque<int64_t> model; // what the channel must hold, from the events alone
    int64_t adds = 0, removes = 0, mismatches = 0;
    size_t capacity = 0;
};

void ObserveHook(void *arg, pk_chan *ch, int event, const void *item) {
    auto *o = static_cast<Observed *>(arg);
    int64_t v;
    std::memcpy(&v, item, sizeof v);
    if (event == 0) {
        o->adds++;
        o->model.push_back(v);
    } else {
        o->removes++;
        if (o->model.empty() || o->model.front() != v)
            o->mismatches++;
        else
            o->model.pop_front();
    }
    std::vector<int64_t> seen(o->capacity + 1);
    size_t n = pk_chan_peek(ch, seen.data(), seen.size());
    seen.resize(std::min(n, seen.size()));
    if (n > o->capacity || !std::equal(seen.begin(), seen.end(), o->model.begin(), o->model.end()))
        o->mismatches++;
}

struct TeamArgs {
    pk_chan *ch;
    int producers;
    int64_t n;    // items in all
    size_t batch; // items per put_many/get_many (1: single calls)
    std::vector<std::atomic<int>> *seen;
};

int TeamWorker(void *arg, pk_worker *w) {
    auto *a = static_cast<TeamArgs *>(arg);
    std::vector<int64_t> buf(a->batch);
    if (w->id < a->producers) {
        size_t k = 0;
        for (int64_t i = w->id; i < a->n; i += a->producers) {
            buf[k++] = i;
            if (k == a->batch || i + a->producers >= a->n) {
                int rc = a->batch == 1 ? pk_chan_put(a->ch, buf.data())
                                       : pk_chan_put_many(a->ch, buf.data(), k);
                if (rc != 0)
                    return rc;
                k = 0;
            }
        }
        return pk_chan_close(a->ch);
    }
    for (;;) {
        size_t got = 1;
        int rc = a->batch == 1 ? pk_chan_get(a->ch, buf.data())
                               : pk_chan_get_many(a->ch, buf.data(), a->batch, &got);
        if (rc == PK_ECLOSED)
            return 0;
        if (rc != 0)
            return rc;
        for (size_t k = 0; k < got; k++)
            (*a->seen)[static_cast<size_t>(buf[k])]++;
    }
}

TEST_P(Chan, ObserveHookSeesEveryMoveWithExactContents) {
    Observed obs;
    obs.capacity = 3;
    pk_chan_opts o = ChanOpts(3, 2, 2);
    o.observe = ObserveHook;
    o.observe_arg = &obs;
    auto ch = Open(o);
    ASSERT_NE(ch, nullptr);
    const int64_t n = 2000;
    std::vector<std::atomic<int>> seen(n);
    TeamArgs a{ch.get(), 2, n, 1, &seen};
    ASSERT_EQ(pk_team(ctx(), 4, nullptr, TeamWorker, &a), 0) << ErrorString();
    EXPECT_EQ(obs.adds, n);
    EXPECT_EQ(obs.removes, n);
    EXPECT_EQ(obs.mismatches, 0);
    EXPECT_TRUE(obs.model.empty());
    for (int64_t i = 0; i < n; i++)
        ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "item " << i;
}

// ---- exactly once under many producers and consumers --------------------------------

struct StressCase {
    int producers, consumers;
    size_t capacity, batch;
};

TEST_P(Chan, EveryItemArrivesExactlyOnceUnderContention) {
    const StressCase cases[] = {{1, 1, 1, 1},  {2, 2, 1, 1}, {4, 1, 2, 1},  {1, 4, 3, 1},
                                {3, 3, 64, 1}, {2, 3, 5, 4}, {4, 4, 7, 16}, {1, 1, 1024, 64},
                                {3, 2, 16, 3}, {2, 2, 1, 8}};
    const int64_t n = 30000;
    for (const StressCase &k : cases) {
        auto ch = Open(k.capacity, k.producers, k.consumers);
        ASSERT_NE(ch, nullptr);
        std::vector<std::atomic<int>> seen(n);
        TeamArgs a{ch.get(), k.producers, n, k.batch, &seen};
        ASSERT_EQ(pk_team(ctx(), k.producers + k.consumers, nullptr, TeamWorker, &a), 0)
            << ErrorString();
        for (int64_t i = 0; i < n; i++)
            ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1)
                << "item " << i << " with " << k.producers << "P" << k.consumers << "C capacity "
                << k.capacity << " batch " << k.batch;
        EXPECT_LE(pk_chan_max_depth(ch.get()), k.capacity);
        EXPECT_GE(pk_chan_max_depth(ch.get()), 1u);
    }
}

// Producers that try_put in a loop and consumers that try_get in a loop: the
// non-blocking paths under contention lose and double nothing either.
TEST_P(Chan, NonBlockingCallsUnderContentionLoseNothing) {
    const int64_t n = 20000;
    auto ch = Open(4, 2, 2);
    ASSERT_NE(ch, nullptr);
    std::vector<std::atomic<int>> seen(n);
    std::atomic<int64_t> taken{0};
    auto producer = [&](int64_t first) {
        for (int64_t i = first; i < n; i += 2)
            while (pk_chan_try_put(ch.get(), &i) == PK_EAGAIN)
                std::this_thread::yield();
    };
    auto deadline = Clock::now() + std::chrono::seconds(30); // a lost item must not hang
    auto consumer = [&] {
        int64_t v;
        while (taken < n && Clock::now() < deadline) {
            int rc = pk_chan_try_get(ch.get(), &v);
            if (rc == 0) {
                seen[static_cast<size_t>(v)]++;
                taken++;
            } else {
                ASSERT_EQ(rc, PK_EAGAIN);
                std::this_thread::yield();
            }
        }
    };
    std::thread p0(producer, 0), p1(producer, 1), c0(consumer), c1(consumer);
    p0.join();
    p1.join();
    c0.join();
    c1.join();
    for (int64_t i = 0; i < n; i++)
        ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "item " << i;
}

INSTANTIATE_TEST_SUITE_P(Pools, Chan, testing::ValuesIn(AllPools()), PoolName);

} // namespace
