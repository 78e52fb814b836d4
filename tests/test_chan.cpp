// Tests of the channel contract (parkit/chan.h, pk_chan_*) on every pool of
// AllPools(): FIFO order, the non-blocking calls, close then drain, put after
// close, abort of really blocked puts and gets, a batch put that must wake
// every sleeping getter, batches, the depth high-water
// mark, peek and the observe hook, open's argument errors, exactly-once
// delivery under many producers and consumers (every shape up to 4P4C at
// capacities 1, 2 and 1024, each putter's items in order at each getter), and a
// failing worker waking the blocked ones; roles named by lists (worker 0
// gets, a worker puts to itself, every worker puts and gets, a two-stage
// pipeline, gaps) and the refusals of open with their reasons, the same cases
// as tests/mpi/test_mpi_chan.cpp runs across ranks. Blocking tests run the blocked
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
#include <numeric>
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
    void ExpectItemsOfAnySizeArriveIntact(int bind_roles);
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

// n items from a putter thread to this one, in order, then the close. With
// pauses, each side sleeps 2 ms every so many items, so the other finds the
// ring full or empty and blocks.
void ExpectFifo(ChanPtr &ch, int64_t n, int64_t put_pause = 0, int64_t get_pause = 0) {
    ASSERT_NE(ch, nullptr);
    Feeder producer(ch.get(), [&] {
        for (int64_t i = 0; i < n; i++) {
            if (put_pause > 0 && i % put_pause == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            ASSERT_EQ(pk_chan_put(ch.get(), &i), 0);
        }
        ASSERT_EQ(pk_chan_close(ch.get()), 0);
    });
    int64_t want = 0, v = -1;
    int rc;
    while ((rc = pk_chan_get(ch.get(), &v)) == 0) {
        ASSERT_EQ(v, want) << "out of order";
        if (++want % (get_pause > 0 ? get_pause : n + 1) == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    producer.t.join();
    EXPECT_EQ(rc, PK_ECLOSED);
    EXPECT_EQ(want, n);
}

TEST_P(Chan, FifoOrderOneProducerOneConsumer) {
    auto ch = Open(16);
    ExpectFifo(ch, 200000);
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

// Three getters sleep on an empty channel; one batch put of three items must
// wake all of them, not one: each gets an item before anything else happens
// (no close, no further put, which would hide a wake-up that went to one
// sleeper only).
TEST_P(Chan, ABatchPutWakesEveryBlockedGetter) {
    auto ch = Open(4, 1, 3);
    ASSERT_NE(ch, nullptr);
    pk_chan *c = ch.get();
    auto started = std::make_shared<std::atomic<int>>(0);
    auto woken = std::make_shared<std::atomic<int>>(0);
    auto codes = std::make_shared<std::vector<std::atomic<int>>>(3);
    auto items = std::make_shared<std::vector<std::atomic<int64_t>>>(3);
    std::vector<std::thread> getters;
    for (size_t i = 0; i < 3; i++)
        getters.emplace_back([c, started, woken, codes, items, i] {
            ++*started;
            int64_t v = 0;
            (*codes)[i] = pk_chan_get(c, &v);
            (*items)[i] = v;
            ++*woken;
        });
    while (*started < 3)
        std::this_thread::yield();
    // long enough for every getter to stop spinning and yielding and to sleep
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(woken->load(), 0) << "a get on an empty channel returned";
    const int64_t batch[3] = {11, 22, 33};
    EXPECT_EQ(pk_chan_put_many(c, batch, 3), 0);
    auto until = Clock::now() + std::chrono::seconds(10);
    while (*woken < 3 && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    int asleep = 3 - *woken;
    if (asleep > 0) {
        // close wakes the rest (they then fail on the items they find, or
        // PK_ECLOSED); if even that does not, leave them and the channel behind
        EXPECT_EQ(pk_chan_close(c), 0);
        until = Clock::now() + std::chrono::seconds(10);
        while (*woken < 3 && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (*woken < 3) {
            for (auto &t : getters)
                t.detach();
            (void)ch.release();
        } else {
            for (auto &t : getters)
                t.join();
        }
        FAIL() << "a batch put of 3 items woke " << 3 - asleep
               << " of 3 sleeping getters; the others slept on with items waiting";
    }
    for (auto &t : getters)
        t.join();
    std::vector<int64_t> got;
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ((*codes)[i].load(), 0);
        got.push_back((*items)[i].load());
    }
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int64_t>{11, 22, 33}));
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

// Batches of 7 into a ring of 5, taken out 3 at the most: in order, all of them.
void ExpectBatchesKeepOrderAcrossTheRingEnd(ChanPtr &ch) {
    const int64_t n = 10000;
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

TEST_P(Chan, PutManyAndGetManyKeepOrderAcrossTheRingEnd) {
    auto ch = Open(5);
    ExpectBatchesKeepOrderAcrossTheRingEnd(ch);
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

void Chan::ExpectItemsOfAnySizeArriveIntact(int bind_roles) {
    for (size_t size : {1u, 3u, 8u, 24u}) {
        pk_chan_opts o = ChanOpts(3, 1, 1, size);
        o.bind_roles = bind_roles;
        auto ch = Open(o);
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

TEST_P(Chan, ItemsOfAnySizeArriveIntact) {
    ExpectItemsOfAnySizeArriveIntact(0);
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

// Every team shape with P and C in 1..4 and capacities 1, 2 and 1024, single
// puts and gets: every item got exactly once, and each getter sees the items of
// one putter in the order they were put.
struct Ordered {
    pk_chan *ch;
    int producers;
    int64_t n;
    std::vector<std::atomic<int>> *seen;
    std::atomic<int64_t> out_of_order{0};
};

int OrderedWorker(void *arg, pk_worker *w) {
    auto *a = static_cast<Ordered *>(arg);
    if (w->id < a->producers) {
        for (int64_t i = w->id; i < a->n; i += a->producers) {
            int rc = pk_chan_put(a->ch, &i);
            if (rc != 0)
                return rc;
        }
        return pk_chan_close(a->ch);
    }
    std::vector<int64_t> last(static_cast<size_t>(a->producers), -1);
    int64_t v = 0;
    int rc;
    while ((rc = pk_chan_get(a->ch, &v)) == 0) {
        if (v < 0 || v >= a->n)
            return PK_EBACKEND;
        int64_t &prev = last[static_cast<size_t>(v % a->producers)];
        if (v <= prev)
            a->out_of_order++;
        prev = v;
        (*a->seen)[static_cast<size_t>(v)]++;
    }
    return rc == PK_ECLOSED ? 0 : rc;
}

TEST_P(Chan, EveryTeamShapeGetsEachSingleItemOnceAndInOrderPerPutter) {
    const int64_t n = 3000;
    for (int P = 1; P <= 4; P++) {
        for (int C = 1; C <= 4; C++) {
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                auto ch = Open(capacity, P, C);
                ASSERT_NE(ch, nullptr);
                std::vector<std::atomic<int>> seen(n);
                Ordered a{ch.get(), P, n, &seen};
                ASSERT_EQ(pk_team(ctx(), P + C, nullptr, OrderedWorker, &a), 0) << ErrorString();
                EXPECT_EQ(a.out_of_order.load(), 0) << P << "P" << C << "C capacity " << capacity;
                for (int64_t i = 0; i < n; i++)
                    ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1)
                        << "item " << i << " with " << P << "P" << C << "C capacity " << capacity;
                EXPECT_LE(pk_chan_max_depth(ch.get()), capacity);
            }
        }
    }
}

// A worker that fails wakes the others blocked in the channel: getters waiting
// on an empty channel, and putters waiting on a full one, return PK_EABORTED
// and the team the failing worker's error.
struct FailWhileBlocked {
    pk_chan *ch;
    int fail_id;
    std::atomic<int> entering{0};
    std::vector<int> rcs;
};

int FailOrBlock(void *arg, pk_worker *w) {
    auto *x = static_cast<FailWhileBlocked *>(arg);
    if (w->id == x->fail_id) {
        while (x->entering.load() < 2) // both others are about to block
            std::this_thread::yield();
        return pk_fail(w, PK_EINJECTED, "worker %d fails on purpose", w->id);
    }
    int64_t v = w->id;
    int rc;
    x->entering++;
    if (x->fail_id == 0) // the others get from an empty channel
        rc = pk_chan_get(x->ch, &v);
    else // the others put into a full one until it refuses
        while ((rc = pk_chan_put(x->ch, &v)) == 0)
            continue;
    x->rcs[static_cast<size_t>(w->id)] = rc;
    return rc == PK_EABORTED ? 0 : rc;
}

TEST_P(Chan, AFailingWorkerWakesBlockedGettersAndPutters) {
    for (int fail_id : {0, 2}) {
        auto ch = Open(fail_id == 0 ? ChanOpts(1, 1, 2) : ChanOpts(2, 2, 1));
        ASSERT_NE(ch, nullptr);
        FailWhileBlocked x{ch.get(), fail_id, {0}, std::vector<int>(3, 1)};
        EXPECT_EQ(pk_team(ctx(), 3, nullptr, FailOrBlock, &x), PK_EINJECTED);
        EXPECT_NE(std::string(pk_ctx_error(ctx())->message).find("fails on purpose"),
                  std::string::npos)
            << pk_ctx_error(ctx())->message;
        for (int id = 0; id < 3; id++)
            if (id != fail_id)
                EXPECT_EQ(x.rcs[static_cast<size_t>(id)], PK_EABORTED)
                    << "worker " << id << " with worker " << fail_id << " failing";
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

// ---- roles named by lists: the cases of the MPI tests, on threads ------------------

std::vector<int> Ids(int first, int end) {
    std::vector<int> v;
    for (int i = first; i < end; i++)
        v.push_back(i);
    return v;
}

bool In(const std::vector<int> &ids, int id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

int64_t Item(int id, int64_t j) {
    return (id + 1) * 100000 + j;
}

int64_t SumOfItems(const std::vector<int> &ids, int64_t per) {
    int64_t s = 0;
    for (int id : ids)
        for (int64_t j = 0; j < per; j++)
            s += Item(id, j);
    return s;
}

// Per worker, so that threads never share one.
struct Tallies {
    std::vector<int64_t> count, sum;
    explicit Tallies(int n) : count(static_cast<size_t>(n)), sum(static_cast<size_t>(n)) {}
    void Add(int id, int64_t v) {
        count[static_cast<size_t>(id)]++;
        sum[static_cast<size_t>(id)] += v;
    }
    int64_t Count() const { return std::accumulate(count.begin(), count.end(), int64_t{0}); }
    int64_t Sum() const { return std::accumulate(sum.begin(), sum.end(), int64_t{0}); }
};

pk_chan_opts RoleOpts(const std::vector<int> &putters, const std::vector<int> &getters,
                      size_t capacity, int workers) {
    pk_chan_opts o =
        ChanOpts(capacity, static_cast<int>(putters.size()), static_cast<int>(getters.size()));
    o.putters = putters.data();
    o.getters = getters.data();
    o.workers = workers;
    return o;
}

// Gets until the channel ends, tallied for worker id; 0 or the failing code.
int Drain(pk_chan *ch, Tallies *t, int id) {
    int64_t v = 0;
    int rc;
    while ((rc = pk_chan_get(ch, &v)) == 0)
        t->Add(id, v);
    return rc == PK_ECLOSED ? 0 : rc;
}

struct Roles {
    pk_chan *ch;
    std::vector<int> putters;
    int64_t per_putter;
    Tallies put, got;
};

int PutThenWorkerZeroGets(void *arg, pk_worker *w) {
    auto *r = static_cast<Roles *>(arg);
    if (In(r->putters, w->id)) {
        std::vector<int64_t> items;
        for (int64_t j = 0; j < r->per_putter; j++)
            items.push_back(Item(w->id, j));
        for (size_t j = 0; j < items.size();) {
            size_t n = w->id % 2 ? std::min<size_t>(5, items.size() - j) : 1;
            int rc = n == 1 ? pk_chan_put(r->ch, &items[j]) : pk_chan_put_many(r->ch, &items[j], n);
            if (rc != 0)
                return rc;
            for (size_t k = j; k < j + n; k++)
                r->put.Add(w->id, items[k]);
            j += n;
        }
        int rc = pk_chan_close(r->ch);
        if (rc != 0)
            return rc;
    }
    return w->id == 0 ? Drain(r->ch, &r->got, 0) : 0;
}

TEST_P(Chan, WorkerZeroGetsWhileTheOthersPut) {
    for (int n = 1; n <= 4; n++) {
        std::vector<int> putters = n == 1 ? Ids(0, 1) : Ids(1, n);
        const int64_t per = 120, total = per * static_cast<int64_t>(putters.size());
        auto ch = Open(RoleOpts(putters, {0}, n == 1 ? static_cast<size_t>(total) : 4, n));
        ASSERT_NE(ch, nullptr);
        Roles r{ch.get(), putters, per, Tallies(n), Tallies(n)};
        ASSERT_EQ(pk_team(ctx(), n, nullptr, PutThenWorkerZeroGets, &r), 0) << ErrorString();
        EXPECT_EQ(r.got.count[0], total) << n << " workers";
        EXPECT_EQ(r.got.Count(), total);
        EXPECT_EQ(r.got.sum[0], SumOfItems(putters, per));
        EXPECT_EQ(r.put.Sum(), SumOfItems(putters, per));
    }
}

struct Self {
    pk_chan *ch;
    std::vector<int64_t> seen;
    int end_rc = 1;
};

int PutToItself(void *arg, pk_worker *w) {
    auto *x = static_cast<Self *>(arg);
    if (w->id != 0)
        return 0;
    int64_t v = 0;
    for (int step : {1, 2, 0, 3, 0, 0}) {
        int64_t item = step;
        int rc = step > 0 ? pk_chan_put(x->ch, &item) : pk_chan_get(x->ch, &v);
        if (rc != 0)
            return rc;
        if (step == 0)
            x->seen.push_back(v);
    }
    int rc = pk_chan_close(x->ch);
    x->end_rc = pk_chan_get(x->ch, &v);
    return rc;
}

TEST_P(Chan, AWorkerPutsToItself) {
    for (int n = 1; n <= 4; n++) {
        auto ch = Open(RoleOpts({0}, {0}, 2, 0));
        ASSERT_NE(ch, nullptr);
        Self x{ch.get(), {}};
        ASSERT_EQ(pk_team(ctx(), n, nullptr, PutToItself, &x), 0) << ErrorString();
        EXPECT_EQ(x.seen, (std::vector<int64_t>{1, 2, 3}));
        EXPECT_EQ(x.end_rc, PK_ECLOSED);
    }
}

struct Both {
    pk_chan *ch;
    int64_t per_worker;
    Tallies put, got;
};

int PutAndGet(void *arg, pk_worker *w) {
    auto *x = static_cast<Both *>(arg);
    int64_t v = 0;
    for (int64_t j = 0; j < x->per_worker;) {
        int64_t item = Item(w->id, j);
        int rc = pk_chan_try_put(x->ch, &item);
        if (rc == 0) {
            x->put.Add(w->id, item);
            j++;
            continue;
        }
        if (rc != PK_EAGAIN)
            return rc;
        rc = pk_chan_try_get(x->ch, &v);
        if (rc == 0)
            x->got.Add(w->id, v);
        else if (rc == PK_EAGAIN)
            std::this_thread::yield();
        else
            return rc;
    }
    int rc = pk_chan_close(x->ch);
    return rc != 0 ? rc : Drain(x->ch, &x->got, w->id);
}

TEST_P(Chan, EveryWorkerPutsAndGetsOnOneChannel) {
    for (int n = 1; n <= 4; n++) {
        for (size_t capacity : {size_t{1}, size_t{5}}) {
            auto ch = Open(RoleOpts(Ids(0, n), Ids(0, n), capacity, n));
            ASSERT_NE(ch, nullptr);
            Both x{ch.get(), 60, Tallies(n), Tallies(n)};
            ASSERT_EQ(pk_team(ctx(), n, nullptr, PutAndGet, &x), 0) << ErrorString();
            EXPECT_LE(pk_chan_max_depth(ch.get()), capacity);
            EXPECT_EQ(x.got.Count(), 60 * n) << n << " workers, capacity " << capacity;
            EXPECT_EQ(x.got.Sum(), SumOfItems(Ids(0, n), 60));
            EXPECT_EQ(x.put.Sum(), SumOfItems(Ids(0, n), 60));
        }
    }
}

// Stage A (the even workers) puts into ch1; stage B (the odd ones, or worker 0
// alone in a team of one) puts 2v + 1 into ch2; worker 0 gets from ch2.
struct Pipe {
    pk_chan *ch1 = nullptr, *ch2 = nullptr;
    std::vector<int> a, b;
    int64_t per_a = 0;
    std::atomic<int64_t> forwarded{0};
    int64_t got_count = 0, got_sum = 0;
};

int Forward(Pipe *p) {
    int64_t v = 0;
    int rc;
    while ((rc = pk_chan_get(p->ch1, &v)) == 0) {
        v = 2 * v + 1;
        if ((rc = pk_chan_put(p->ch2, &v)) != 0)
            return rc;
        p->forwarded++;
    }
    return rc == PK_ECLOSED ? pk_chan_close(p->ch2) : rc;
}

int PipeStage(void *arg, pk_worker *w) {
    auto *p = static_cast<Pipe *>(arg);
    int rc = 0;
    if (In(p->a, w->id)) {
        for (int64_t j = 0; rc == 0 && j < p->per_a; j++) {
            int64_t v = Item(w->id, j);
            rc = pk_chan_put(p->ch1, &v);
        }
        rc = rc != 0 ? rc : pk_chan_close(p->ch1);
    }
    if (rc == 0 && In(p->b, w->id))
        rc = Forward(p);
    int64_t v = 0;
    while (rc == 0 && w->id == 0 && (rc = pk_chan_get(p->ch2, &v)) == 0) {
        p->got_count++;
        p->got_sum += v;
    }
    return rc == PK_ECLOSED ? 0 : rc;
}

TEST_P(Chan, TwoStagePipelineWithWorkerZeroAtBothEnds) {
    for (int n = 1; n <= 4; n++) {
        Pipe p;
        for (int i = 0; i < n; i++)
            (i % 2 == 0 ? p.a : p.b).push_back(i);
        if (n == 1)
            p.b = {0};
        p.per_a = 80;
        int64_t total = p.per_a * static_cast<int64_t>(p.a.size()), want = 0;
        for (int id : p.a)
            for (int64_t j = 0; j < p.per_a; j++)
                want += 2 * Item(id, j) + 1;
        auto ch1 = Open(RoleOpts(p.a, p.b, n == 1 ? static_cast<size_t>(total) : 3, n));
        auto ch2 = Open(RoleOpts(p.b, {0}, static_cast<size_t>(total), n));
        ASSERT_NE(ch1, nullptr);
        ASSERT_NE(ch2, nullptr);
        p.ch1 = ch1.get();
        p.ch2 = ch2.get();
        ASSERT_EQ(pk_team(ctx(), n, nullptr, PipeStage, &p), 0) << ErrorString();
        EXPECT_EQ(p.forwarded.load(), total) << n << " workers";
        EXPECT_EQ(p.got_count, total);
        EXPECT_EQ(p.got_sum, want);
    }
}

TEST_P(Chan, ListsWithGaps) {
    const std::vector<int> putters{2, 0}, getters{1};
    pk_chan *c = nullptr;
    pk_chan_opts o = RoleOpts(putters, getters, 3, 2);
    EXPECT_EQ(pk_chan_open(ctx(), &c, &o), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "putter id 2 is outside the team of 2 workers");
    auto ch = Open(RoleOpts(putters, getters, 3, 3));
    ASSERT_NE(ch, nullptr);
    Roles r{ch.get(), putters, 50, Tallies(3), Tallies(3)};
    pk_team_fn fn = [](void *arg, pk_worker *w) {
        auto *x = static_cast<Roles *>(arg);
        if (w->id == 1)
            return Drain(x->ch, &x->got, 1);
        for (int64_t j = 0; j < x->per_putter; j++) {
            int64_t v = Item(w->id, j);
            int rc = pk_chan_put(x->ch, &v);
            if (rc != 0)
                return rc;
        }
        return pk_chan_close(x->ch);
    };
    ASSERT_EQ(pk_team(ctx(), 3, nullptr, fn, &r), 0) << ErrorString();
    EXPECT_EQ(r.got.count[1], 100);
    EXPECT_EQ(r.got.sum[1], SumOfItems({0, 2}, 50));
}

// On threads the lists bind no call: any worker of the process may put or get
// (across ranks only the named ones may).
TEST_P(Chan, OnThreadsAnyWorkerMayPutOrGet) {
    auto ch = Open(RoleOpts({1}, {2}, 2, 3));
    ASSERT_NE(ch, nullptr);
    int64_t v = 7;
    EXPECT_EQ(pk_chan_put(ch.get(), &v), 0);
    EXPECT_EQ(pk_chan_get(ch.get(), &v), 0);
    EXPECT_EQ(v, 7);
    EXPECT_EQ(pk_chan_close(ch.get()), 0);
    EXPECT_EQ(pk_chan_close(ch.get()), PK_ECLOSED) << "one putter closes once";
}

TEST_P(Chan, RefusalsNameTheirReason) {
    struct Case {
        std::vector<int> putters, getters;
        int workers;
        std::string why;
    };
    const Case cases[] = {
        {{0, 4}, {0}, 4, "putter id 4 is outside the team of 4 workers"},
        {{0}, {-1}, 4, "getter id -1 is outside the team of 4 workers"},
        {{0}, {-1}, 0, "getter id -1 is not a worker id"},
        {{0}, {0, 0}, 0, "worker 0 is named twice as a getter"},
        {{3, 0, 3}, {0}, 4, "worker 3 is named twice as a putter"},
        {{0}, {0}, -2, "a team of -2 workers is impossible"},
    };
    for (const Case &k : cases) {
        pk_chan *c = reinterpret_cast<pk_chan *>(1);
        pk_chan_opts o = RoleOpts(k.putters, k.getters, 4, k.workers);
        EXPECT_EQ(pk_chan_open(ctx(), &c, &o), PK_EINVAL) << k.why;
        EXPECT_EQ(c, nullptr);
        EXPECT_EQ(std::string(pk_ctx_error(ctx())->message), k.why);
    }
    pk_chan *c = nullptr;
    pk_chan_opts o = ChanOpts(4, 4, 1);
    o.workers = 4;
    EXPECT_EQ(pk_chan_open(ctx(), &c, &o), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "a channel between 4 putters and 1 getters needs a team of 5 workers; the team "
              "has 4");
    // roles that fill the team exactly are accepted
    o = ChanOpts(4, 3, 1);
    o.workers = 4;
    c = nullptr;
    EXPECT_EQ(pk_chan_open(ctx(), &c, &o), 0) << ErrorString();
    EXPECT_NE(c, nullptr);
    pk_chan_free(c);
    const int zero[] = {0};
    o = ChanOpts(4, 1, 4);
    o.putters = zero;
    o.workers = 4;
    EXPECT_EQ(pk_chan_open(ctx(), &c, &o), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "the default getter ids 1..4 are outside the team of 4 workers");
    auto ch = Open(2);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(pk_chan_put(ch.get(), nullptr), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "pk_chan_put needs a buffer for the items");
    EXPECT_EQ(pk_chan_abort(ch.get(), 0), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "pk_chan_abort needs a negative error code, not 0");
}

// Worker 0 puts one item into ch and waits for worker 1, which fills ch with
// three more while the getter, worker 2, waits for a token: all four fit (the
// MPI test checks that a waiting rank gives back the room it holds).
struct Lend {
    pk_chan *ch, *go, *done, *token;
    int64_t got = 0;
};

int LendWorker(void *arg, pk_worker *w) {
    auto *l = static_cast<Lend *>(arg);
    int64_t v = w->id;
    int rc = 0;
    if (w->id == 0) {
        for (pk_chan *c : {l->ch, l->go})
            rc = rc != 0 ? rc : pk_chan_put(c, &v);
        rc = rc != 0 ? rc : pk_chan_get(l->done, &v);
        for (pk_chan *c : {l->ch, l->go})
            rc = rc != 0 ? rc : pk_chan_close(c);
    } else if (w->id == 1) {
        rc = pk_chan_get(l->go, &v);
        for (int i = 0; rc == 0 && i < 3; i++)
            rc = pk_chan_put(l->ch, &v);
        for (pk_chan *c : {l->token, l->done})
            rc = rc != 0 ? rc : pk_chan_put(c, &v);
        for (pk_chan *c : {l->ch, l->token, l->done})
            rc = rc != 0 ? rc : pk_chan_close(c);
    } else {
        rc = pk_chan_get(l->token, &v);
        while (rc == 0 && (rc = pk_chan_get(l->ch, &v)) == 0)
            l->got++;
        rc = rc == PK_ECLOSED ? 0 : rc;
    }
    return rc;
}

TEST_P(Chan, AWaitingWorkerLeavesTheRoomToOthers) {
    auto ch = Open(RoleOpts({0, 1}, {2}, 4, 3));
    auto go = Open(RoleOpts({0}, {1}, 1, 3));
    auto done = Open(RoleOpts({1}, {0}, 1, 3));
    auto token = Open(RoleOpts({1}, {2}, 1, 3));
    ASSERT_TRUE(ch && go && done && token);
    Lend l{ch.get(), go.get(), done.get(), token.get()};
    ASSERT_EQ(pk_team(ctx(), 3, nullptr, LendWorker, &l), 0) << ErrorString();
    EXPECT_EQ(l.got, 4);
}

// ---- bind_roles: one putter and one getter bound to their threads -------------

pk_chan_opts BoundOpts(size_t capacity, size_t elem_size = sizeof(int64_t)) {
    pk_chan_opts o = ChanOpts(capacity, 1, 1, elem_size);
    o.bind_roles = 1;
    return o;
}

// Both sides block in turn: the getter pauses now and then so the putter finds
// the ring full and sleeps, the putter pauses so the getter finds it empty.
TEST_P(Chan, BoundRolesKeepOrderWhileEachSideSleeps) {
    auto ch = Open(BoundOpts(4));
    ASSERT_NE(ch, nullptr);
    ExpectFifo(ch, 100000, 20011, 19997);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 4u);
}

TEST_P(Chan, BoundRolesBatchesKeepOrderAcrossTheRingEnd) {
    auto ch = Open(BoundOpts(5));
    ExpectBatchesKeepOrderAcrossTheRingEnd(ch);
}

TEST_P(Chan, BoundRolesCarryItemsOfAnySize) {
    ExpectItemsOfAnySizeArriveIntact(1);
}

// A full ring's putter waits, while it spins and yields, for a quarter of the
// ring to be free; asleep, one free slot must let it go on. The getter here
// takes one item and then waits for the putter, which must not wait for more.
TEST_P(Chan, BoundPutterOfAFullRingGoesOnForOneFreeSlot) {
    for (size_t cap : {4u, 64u, 1024u}) {
        auto ch = Open(BoundOpts(cap));
        ASSERT_NE(ch, nullptr);
        pk_chan *c = ch.get();
        int64_t first = -1;
        int rc = BlockThenRelease(
            ch,
            [c, cap] {
                for (int64_t i = 0; i <= static_cast<int64_t>(cap); i++)
                    if (int rc = pk_chan_put(c, &i); rc != 0)
                        return rc;
                return 0;
            },
            [&] { EXPECT_EQ(pk_chan_get(c, &first), 0); });
        ASSERT_EQ(rc, 0) << "capacity " << cap << " (1: never blocked, 2: never went on)";
        EXPECT_EQ(first, 0);
        for (int64_t i = 1; i <= static_cast<int64_t>(cap); i++) {
            int64_t v = -1;
            ASSERT_EQ(pk_chan_get(c, &v), 0);
            EXPECT_EQ(v, i) << "capacity " << cap;
        }
    }
}

// The bound putter checks the mark against its own count of free slots, an
// upper bound of the depth: the mark must still be the depth reached, never
// the bound, also across the ring's end.
TEST_P(Chan, BoundRolesMarkTheDepthReached) {
    auto ch = Open(BoundOpts(8));
    ASSERT_NE(ch, nullptr);
    int64_t v = 0;
    auto put = [&](int n) {
        for (int i = 0; i < n; i++)
            ASSERT_EQ(pk_chan_put(ch.get(), &v), 0);
    };
    auto get = [&](int n) {
        for (int i = 0; i < n; i++)
            ASSERT_EQ(pk_chan_get(ch.get(), &v), 0);
    };
    put(3);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 3u);
    get(2);
    put(2); // depth 3 again
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 3u);
    put(2);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 5u);
    get(5);
    put(4); // across the ring's end, depth 4
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 5u);
    put(2);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 6u);
    get(6);
    put(8);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 8u);
}

// One thread may hold both roles: the non-blocking calls, peek, the depth
// mark, close and drain, all on one thread.
TEST_P(Chan, BoundRolesOnOneThread) {
    auto ch = Open(BoundOpts(4));
    ASSERT_NE(ch, nullptr);
    int64_t v = 0, buf[4] = {0};
    EXPECT_EQ(pk_chan_try_get(ch.get(), &v), PK_EAGAIN);
    for (int64_t i = 1; i <= 4; i++)
        ASSERT_EQ(pk_chan_try_put(ch.get(), &i), 0);
    int64_t extra = 5;
    EXPECT_EQ(pk_chan_try_put(ch.get(), &extra), PK_EAGAIN);
    EXPECT_EQ(pk_chan_max_depth(ch.get()), 4u);
    ASSERT_EQ(pk_chan_get(ch.get(), &v), 0);
    EXPECT_EQ(v, 1);
    ASSERT_EQ(pk_chan_put(ch.get(), &extra), 0); // past the ring end
    EXPECT_EQ(pk_chan_peek(ch.get(), buf, 4), 4u);
    EXPECT_EQ(std::vector<int64_t>(buf, buf + 4), std::vector<int64_t>({2, 3, 4, 5}));
    ASSERT_EQ(pk_chan_close(ch.get()), 0);
    EXPECT_EQ(pk_chan_put(ch.get(), &v), PK_ECLOSED);
    EXPECT_EQ(pk_chan_close(ch.get()), PK_ECLOSED);
    std::vector<int64_t> drained;
    size_t got = 0;
    int rc;
    while ((rc = pk_chan_get_many(ch.get(), buf, 4, &got)) == 0) { // stops at the ring end
        ASSERT_GE(got, 1u);
        drained.insert(drained.end(), buf, buf + got);
    }
    EXPECT_EQ(rc, PK_ECLOSED);
    EXPECT_EQ(drained, std::vector<int64_t>({2, 3, 4, 5}));
    EXPECT_EQ(pk_chan_get(ch.get(), &v), PK_ECLOSED);
    EXPECT_EQ(pk_chan_try_get(ch.get(), &v), PK_ECLOSED);
}

// The first thread to put (or close) is the putter, the first to get the
// getter; the others are refused with the reason, and nothing moves.
TEST_P(Chan, BoundRolesRefuseOtherThreads) {
    auto ch = Open(BoundOpts(4));
    ASSERT_NE(ch, nullptr);
    pk_chan *c = ch.get();
    int64_t v = 1;
    std::thread([c] {
        int64_t x = 7;
        EXPECT_EQ(pk_chan_put(c, &x), 0);
    }).join();
    EXPECT_EQ(pk_chan_put(c, &v), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "this thread is not the putter of the channel: with bind_roles and one putter "
              "the first thread to put or close takes the role");
    EXPECT_EQ(pk_chan_try_put(c, &v), PK_EINVAL);
    EXPECT_EQ(pk_chan_put_many(c, &v, 1), PK_EINVAL);
    EXPECT_EQ(pk_chan_close(c), PK_EINVAL);
    ASSERT_EQ(pk_chan_get(c, &v), 0); // this thread becomes the getter
    EXPECT_EQ(v, 7);
    std::thread([c] {
        int64_t x = 0;
        EXPECT_EQ(pk_chan_try_get(c, &x), PK_EINVAL);
        size_t got = 0;
        EXPECT_EQ(pk_chan_get_many(c, &x, 1, &got), PK_EINVAL);
    }).join();
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message),
              "this thread is not the getter of the channel: with bind_roles and one getter "
              "the first thread to get takes the role");
    EXPECT_EQ(pk_chan_try_get(c, &v), PK_EAGAIN);
    // Abort reaches the channel from any thread.
    std::thread([c] { EXPECT_EQ(pk_chan_abort(c, PK_EABORTED), 0); }).join();
    EXPECT_EQ(pk_chan_get(c, &v), PK_EABORTED);
}

TEST_P(Chan, BoundRolesAbortAndCloseWakeTheBlocked) {
    {
        auto ch = Open(BoundOpts(4));
        ASSERT_NE(ch, nullptr);
        auto slot = std::make_shared<int64_t>(0);
        pk_chan *c = ch.get();
        int rc = BlockThenRelease(
            ch, [c, slot] { return pk_chan_get(c, slot.get()); },
            [&] { EXPECT_EQ(pk_chan_abort(ch.get(), PK_EINJECTED), 0); });
        EXPECT_EQ(rc, PK_EINJECTED);
    }
    {
        auto ch = Open(BoundOpts(1));
        ASSERT_NE(ch, nullptr);
        auto slot = std::make_shared<int64_t>(6);
        pk_chan *c = ch.get();
        int rc = BlockThenRelease(
            ch,
            [c, slot] {
                int r = pk_chan_put(c, slot.get()); // fills the ring, then blocks
                return r != 0 ? r : pk_chan_put(c, slot.get());
            },
            [&] { EXPECT_EQ(pk_chan_abort(ch.get(), PK_EABORTED), 0); });
        EXPECT_EQ(rc, PK_EABORTED);
    }
    {
        auto ch = Open(BoundOpts(2));
        ASSERT_NE(ch, nullptr);
        pk_chan *c = ch.get();
        auto slot = std::make_shared<int64_t>(0);
        // The putter, this thread, puts one item and closes while the getter
        // waits for the second.
        int64_t v = 3;
        int rc = BlockThenRelease(
            ch,
            [c, slot] {
                int r = pk_chan_get(c, slot.get());
                return r != 0 ? r : pk_chan_get(c, slot.get());
            },
            [&] {
                EXPECT_EQ(pk_chan_put(c, &v), 0);
                EXPECT_EQ(pk_chan_close(c), 0);
            });
        // Returned early (1) only if the get had an item at once, which it had not.
        EXPECT_EQ(rc, PK_ECLOSED);
        EXPECT_EQ(*slot, 3);
    }
}

// With more than one putter, or an observer, the option changes nothing on
// threads: any thread may put.
TEST_P(Chan, BoundRolesWithTwoPuttersOrAnObserverBindNothing) {
    pk_chan_opts o = BoundOpts(8);
    o.producers = 2;
    auto ch = Open(o);
    ASSERT_NE(ch, nullptr);
    pk_chan *c = ch.get();
    int64_t v = 1;
    ASSERT_EQ(pk_chan_put(c, &v), 0);
    std::thread([c] {
        int64_t x = 2;
        EXPECT_EQ(pk_chan_put(c, &x), 0);
        EXPECT_EQ(pk_chan_get(c, &x), 0);
        EXPECT_EQ(x, 1);
    }).join();
    ASSERT_EQ(pk_chan_get(c, &v), 0);
    EXPECT_EQ(v, 2);

    struct Seen {
        std::vector<int64_t> moves;
    } seen;
    o = BoundOpts(8);
    o.observe = [](void *arg, pk_chan *, int event, const void *item) {
        int64_t x;
        std::memcpy(&x, item, sizeof x);
        static_cast<Seen *>(arg)->moves.push_back(event == 0 ? x : -x);
    };
    o.observe_arg = &seen;
    auto obs = Open(o);
    ASSERT_NE(obs, nullptr);
    c = obs.get();
    v = 4;
    ASSERT_EQ(pk_chan_put(c, &v), 0);
    std::thread([c] {
        int64_t x = 5;
        EXPECT_EQ(pk_chan_put(c, &x), 0);
    }).join();
    ASSERT_EQ(pk_chan_get(c, &v), 0);
    EXPECT_EQ(seen.moves, std::vector<int64_t>({4, 5, -4}));
}

// A team whose 1-to-1 channels bind their roles: each worker keeps its thread.
TEST_P(Chan, BoundRolesInATeam) {
    auto bound = [](pk_chan_opts o) {
        o.bind_roles = 1;
        return o;
    };
    auto ch = Open(RoleOpts({0, 1}, {2}, 4, 3));
    auto go = Open(bound(RoleOpts({0}, {1}, 1, 3)));
    auto done = Open(bound(RoleOpts({1}, {0}, 1, 3)));
    auto token = Open(bound(RoleOpts({1}, {2}, 1, 3)));
    ASSERT_TRUE(ch && go && done && token);
    Lend l{ch.get(), go.get(), done.get(), token.get()};
    ASSERT_EQ(pk_team(ctx(), 3, nullptr, LendWorker, &l), 0) << ErrorString();
    EXPECT_EQ(l.got, 4);
}

// Inside a team the worker ids decide, as across ranks: a bound channel goes on
// over two teams (on the serial backend each team runs on new threads), and a
// worker without the role is refused with its id.
struct TwoTeams {
    pk_chan *ch;
    int round = 0;
    std::vector<int64_t> got;
    int wrong_rc = 0;
    std::string why;
    pk_ctx *ctx;
};

int TwoTeamsWorker(void *arg, pk_worker *w) {
    auto *x = static_cast<TwoTeams *>(arg);
    int64_t v = 0;
    if (w->id == 0) {
        for (int64_t i = 0; i < 3; i++) {
            v = 10 * x->round + i;
            int rc = pk_chan_put(x->ch, &v);
            if (rc != 0)
                return rc;
        }
        return x->round == 1 ? pk_chan_close(x->ch) : 0;
    }
    if (x->round == 0) {
        x->wrong_rc = pk_chan_put(x->ch, &v);
        x->why = pk_ctx_error(x->ctx)->message;
    }
    int rc;
    while ((rc = pk_chan_get(x->ch, &v)) == 0) {
        x->got.push_back(v);
        if (x->round == 0 && x->got.size() == 2)
            return 0; // the third stays for the next team
    }
    return rc == PK_ECLOSED ? 0 : rc;
}

TEST_P(Chan, BoundRolesFollowTheWorkerIdsAcrossTeams) {
    auto ch = Open(BoundOpts(4));
    ASSERT_NE(ch, nullptr);
    TwoTeams x{ch.get()};
    x.ctx = ctx();
    for (x.round = 0; x.round < 2; x.round++)
        ASSERT_EQ(pk_team(ctx(), 2, nullptr, TwoTeamsWorker, &x), 0) << ErrorString();
    EXPECT_EQ(x.got, std::vector<int64_t>({0, 1, 2, 10, 11, 12}));
    EXPECT_EQ(x.wrong_rc, PK_EINVAL);
    EXPECT_EQ(x.why, "worker 1 is not a putter of this channel");
}

INSTANTIATE_TEST_SUITE_P(Pools, Chan, testing::ValuesIn(AllPools()), PoolName);

} // namespace
