// Stress of the producer/consumer path on threads: P producers and C consumers
// for every P and C in 1..8, channels of capacity 1, 2 and 1024, random small
// delays. Every item is checked one by one (a count per item), not by sums:
// - a team of our own over pk_chan (parkit/chan.h) where each producer counts
//   each item it put and each consumer each item it got;
// - the pk_prodcons kernel with its trace, which sees every item go in and out
//   of the channel, against the kernel's own counts, sums and XORs.
// When a consumer (or a producer) fails mid-stream, the call returns its
// error, every blocked worker wakes (the call returns at all, under a
// timeout), and the counts of the abort reconcile item by item: nothing
// consumed twice, nothing consumed that was not produced, consumed <= produced.
//
// The random choices come from one seed, PARKIT_STRESS_SEED when set, else the
// clock; every failure message names it, so a run can be repeated.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

uint64_t Seed() {
    static const uint64_t seed = [] {
        const char *s = std::getenv("PARKIT_STRESS_SEED");
        if (s != nullptr && s[0] != '\0')
            return static_cast<uint64_t>(std::strtoull(s, nullptr, 0));
        return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }();
    return seed;
}

std::string SeedNote() {
    return "PARKIT_STRESS_SEED=" + std::to_string(Seed());
}

void SleepMicros(int us) {
    if (us > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(us));
}

// A small random delay: none most of the time, up to 30 us sometimes.
int RandomDelay(std::mt19937_64 &rng) {
    uint64_t r = rng();
    return r % 8 == 0 ? static_cast<int>((r >> 8) % 30) : 0;
}

// ---- a team of our own over pk_chan ----------------------------------------------

struct Stress {
    pk_chan *ch = nullptr;
    int producers = 0, consumers = 0;
    int64_t items = 0;
    uint64_t seed = 0;
    int64_t fail_after = -1; // a consumer (the first) fails at its item fail_after
    std::vector<std::atomic<int>> produced, consumed;
    std::atomic<int64_t> nproduced{0}, nconsumed{0};
    std::atomic<int> bad_value{0};
    explicit Stress(int64_t n)
        : items(n), produced(static_cast<size_t>(n)), consumed(static_cast<size_t>(n)) {
        for (auto &x : produced)
            x = 0;
        for (auto &x : consumed)
            x = 0;
    }
};

int StressWorker(void *arg, pk_worker *w) {
    auto *s = static_cast<Stress *>(arg);
    std::mt19937_64 rng(s->seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(w->id));
    if (w->id < s->producers) {
        for (int64_t i = w->id; i < s->items; i += s->producers) {
            SleepMicros(RandomDelay(rng));
            int rc = pk_chan_put(s->ch, &i);
            if (rc != 0)
                return rc;
            s->produced[static_cast<size_t>(i)]++; // counted once it went in
            s->nproduced++;
        }
        return pk_chan_close(s->ch);
    }
    int64_t mine = 0, v = 0;
    int rc;
    while ((rc = pk_chan_get(s->ch, &v)) == 0) {
        if (v < 0 || v >= s->items) {
            s->bad_value = 1;
            return pk_fail(w, PK_ERANGE, "item %lld out of range", static_cast<long long>(v));
        }
        if (w->id == s->producers && mine == s->fail_after)
            return pk_fail(w, PK_ERANGE, "consumer fails at its item %lld",
                           static_cast<long long>(mine));
        SleepMicros(RandomDelay(rng));
        s->consumed[static_cast<size_t>(v)]++;
        s->nconsumed++;
        mine++;
    }
    return rc == PK_ECLOSED ? 0 : rc;
}

// Runs one team; returns the team's code. ok is false when an item check failed.
int RunStress(pk_ctx *ctx, Stress &s, size_t capacity) {
    pk_chan_opts co{};
    co.elem_size = sizeof(int64_t);
    co.capacity = capacity;
    co.producers = s.producers;
    co.consumers = s.consumers;
    EXPECT_EQ(pk_chan_open(ctx, &s.ch, &co), 0);
    if (s.ch == nullptr)
        return PK_EINVAL;
    int rc = pk_team(ctx, s.producers + s.consumers, nullptr, StressWorker, &s);
    pk_chan_free(s.ch);
    s.ch = nullptr;
    return rc;
}

std::string What(int p, int c, size_t capacity) {
    return std::to_string(p) + "P" + std::to_string(c) + "C capacity " + std::to_string(capacity) +
           " (" + SeedNote() + ")";
}

class ProdconsStress : public PoolTest {};

TEST_P(ProdconsStress, OwnTeamEveryItemExactlyOnce) {
    std::mt19937_64 rng(Seed());
    for (int p = 1; p <= 8; p++)
        for (int c = 1; c <= 8; c++)
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                Stress s(400 + static_cast<int64_t>(rng() % 400));
                s.producers = p;
                s.consumers = c;
                s.seed = rng();
                int rc = RunStress(ctx(), s, capacity);
                std::string what = What(p, c, capacity);
                ASSERT_EQ(rc, 0) << what << ": " << ErrorString();
                int64_t wrong = 0;
                for (int64_t i = 0; i < s.items; i++)
                    wrong += s.produced[static_cast<size_t>(i)] != 1 ||
                             s.consumed[static_cast<size_t>(i)] != 1;
                ASSERT_EQ(wrong, 0) << what << ": items not put and got exactly once";
                ASSERT_EQ(s.nconsumed.load(), s.items) << what;
            }
}

TEST_P(ProdconsStress, OwnTeamConsumerFailsMidStream) {
    std::mt19937_64 rng(Seed() + 1);
    int fired = 0;
    for (int p : {1, 3, 8})
        for (int c : {1, 2, 8})
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                Stress s(400);
                s.producers = p;
                s.consumers = c;
                s.seed = rng();
                s.fail_after = static_cast<int64_t>(rng() % 20);
                int rc = RunStress(ctx(), s, capacity);
                std::string what = What(p, c, capacity);
                // the others may take every item first: then it never fails
                if (rc == 0) {
                    EXPECT_EQ(s.nconsumed.load(), s.items) << what;
                    continue;
                }
                fired++;
                // the consumer's own error, not the others' "aborted"
                ASSERT_EQ(rc, PK_ERANGE) << what << ": " << ErrorString();
                EXPECT_EQ(pk_ctx_error(ctx())->thread, p) << what;
                int64_t twice = 0, unproduced = 0, nprod = 0, ncons = 0;
                for (int64_t i = 0; i < s.items; i++) {
                    int pr = s.produced[static_cast<size_t>(i)];
                    int co = s.consumed[static_cast<size_t>(i)];
                    twice += pr > 1 || co > 1;
                    unproduced += co > pr;
                    nprod += pr;
                    ncons += co;
                }
                EXPECT_EQ(twice, 0) << what;
                EXPECT_EQ(unproduced, 0) << what;
                EXPECT_EQ(nprod, s.nproduced.load()) << what;
                EXPECT_EQ(ncons, s.nconsumed.load()) << what;
                EXPECT_LE(ncons, nprod) << what;
                EXPECT_EQ(s.bad_value.load(), 0) << what;
            }
    EXPECT_GT(fired, 0) << SeedNote();
}

// ---- the kernel, item by item through its trace --------------------------------------

struct TraceCounts {
    std::mutex mu;
    std::vector<int> added, removed;
    int64_t bad = 0;
    explicit TraceCounts(int64_t n)
        : added(static_cast<size_t>(n) + 1), removed(static_cast<size_t>(n) + 1) {}
};

void Count(void *arg, int event, int64_t value, const int64_t *, size_t) {
    auto *t = static_cast<TraceCounts *>(arg);
    std::lock_guard<std::mutex> lock(t->mu);
    if (value < 1 || value >= static_cast<int64_t>(t->added.size())) {
        t->bad++;
        return;
    }
    (event == PK_PC_ADDED ? t->added : t->removed)[static_cast<size_t>(value)]++;
}

pk_prodcons_opts KernelOpts(int p, int c, size_t capacity, int64_t items, std::mt19937_64 &rng) {
    pk_prodcons_opts o{};
    o.producers = p;
    o.consumers = c;
    o.capacity = capacity;
    o.items = items;
    // random small delays, the same for every item of a run
    o.produce_delay = 1e-6 * static_cast<double>(rng() % 20);
    o.consume_delay = 1e-6 * static_cast<double>(rng() % 20);
    return o;
}

TEST_P(ProdconsStress, KernelEveryItemExactlyOnce) {
    std::mt19937_64 rng(Seed() + 2);
    for (int p = 1; p <= 8; p++)
        for (int c = 1; c <= 8; c++)
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                int64_t n = 200 + static_cast<int64_t>(rng() % 200);
                pk_prodcons_opts o = KernelOpts(p, c, capacity, n, rng);
                TraceCounts t(n);
                o.trace = Count;
                o.trace_arg = &t;
                pk_prodcons_result r;
                std::string what = What(p, c, capacity);
                ASSERT_EQ(pk_prodcons(ctx(), &o, &r), 0) << what << ": " << ErrorString();
                int64_t wrong = 0;
                uint64_t sum = 0, xr = 0;
                for (int64_t v = 1; v <= n; v++) {
                    wrong += t.added[static_cast<size_t>(v)] != 1 ||
                             t.removed[static_cast<size_t>(v)] != 1;
                    sum += static_cast<uint64_t>(v);
                    xr ^= static_cast<uint64_t>(v);
                }
                ASSERT_EQ(wrong + t.bad, 0) << what << ": items not moved exactly once";
                ASSERT_EQ(r.produced, n) << what;
                ASSERT_EQ(r.consumed, n) << what;
                ASSERT_EQ(r.sum_consumed, sum) << what;
                ASSERT_EQ(r.xor_consumed, xr) << what;
                ASSERT_LE(r.max_depth, capacity) << what;
            }
}

// A consumer fails at its item K (an injected fault): the call returns it
// with its origin, and the counts reconcile item by item with the trace: the
// producers' counts are exactly the items that went in, and the consumers'
// are the items that came out but one, the failed consumer's item K, which
// it took and did not finish.
TEST_P(ProdconsStress, KernelConsumerFaultCountsReconcile) {
    std::mt19937_64 rng(Seed() + 3);
    int fired = 0;
    for (int p : {1, 2, 5, 8})
        for (int c : {1, 3, 8})
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                const int64_t n = 2000;
                pk_prodcons_opts o = KernelOpts(p, c, capacity, n, rng);
                o.produce_delay = o.consume_delay = 0;
                TraceCounts t(n);
                o.trace = Count;
                o.trace_arg = &t;
                int consumer = p + static_cast<int>(rng() % static_cast<uint64_t>(c));
                // early enough that this consumer surely reaches it: the first
                // 1/(4C) of the items
                int64_t k = static_cast<int64_t>(rng() % static_cast<uint64_t>(n / (4 * c)));
                std::string spec = "kernel=prodcons,thread=" + std::to_string(consumer) +
                                   ",task=" + std::to_string(k);
                ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
                pk_prodcons_result r;
                int rc = pk_prodcons(ctx(), &o, &r);
                ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
                std::string what = What(p, c, capacity) + " " + spec;
                // k items before it: the consumer may not get k + 1 items when
                // the others take them all; then nothing fired
                if (rc == 0) {
                    EXPECT_EQ(r.consumed, n) << what;
                    continue;
                }
                fired++;
                ASSERT_EQ(rc, PK_EINJECTED) << what << ": " << ErrorString();
                EXPECT_EQ(pk_ctx_error(ctx())->thread, consumer) << what;
                EXPECT_EQ(pk_ctx_error(ctx())->task, k) << what;
                int64_t nadded = 0, nremoved = 0, twice = 0;
                uint64_t sum_added = 0, xor_added = 0, sum_removed = 0, xor_removed = 0;
                for (int64_t v = 1; v <= n; v++) {
                    int a = t.added[static_cast<size_t>(v)], d = t.removed[static_cast<size_t>(v)];
                    twice += a > 1 || d > 1 || d > a;
                    nadded += a;
                    nremoved += d;
                    if (a) {
                        sum_added += static_cast<uint64_t>(v);
                        xor_added ^= static_cast<uint64_t>(v);
                    }
                    if (d) {
                        sum_removed += static_cast<uint64_t>(v);
                        xor_removed ^= static_cast<uint64_t>(v);
                    }
                }
                EXPECT_EQ(twice + t.bad, 0) << what;
                EXPECT_EQ(r.produced, nadded) << what;
                EXPECT_EQ(r.sum_produced, sum_added) << what;
                EXPECT_EQ(r.xor_produced, xor_added) << what;
                EXPECT_LE(r.consumed, r.produced) << what;
                // consumed = removed minus the failed item, one value v
                ASSERT_EQ(r.consumed, nremoved - 1) << what;
                uint64_t v = sum_removed - r.sum_consumed;
                EXPECT_EQ(xor_removed ^ r.xor_consumed, v) << what;
                EXPECT_TRUE(v >= 1 && v <= static_cast<uint64_t>(n) &&
                            t.removed[static_cast<size_t>(v)] == 1)
                    << what << ": the item the consumer failed on, " << v;
            }
    EXPECT_GT(fired, 0) << SeedNote();
}

// A producer fails at its item K: the items that went into the channel are
// exactly the ones counted as produced, and the consumers' counts are exactly
// the items that came out (no consumer failed on one).
TEST_P(ProdconsStress, KernelProducerFaultCountsReconcile) {
    std::mt19937_64 rng(Seed() + 4);
    for (int p : {1, 3, 8})
        for (int c : {1, 2, 8})
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                const int64_t n = 2000;
                pk_prodcons_opts o = KernelOpts(p, c, capacity, n, rng);
                o.produce_delay = o.consume_delay = 0;
                TraceCounts t(n);
                o.trace = Count;
                o.trace_arg = &t;
                int producer = static_cast<int>(rng() % static_cast<uint64_t>(p));
                int64_t k = static_cast<int64_t>(rng() % static_cast<uint64_t>(n / (2 * p)));
                std::string spec = "kernel=prodcons,thread=" + std::to_string(producer) +
                                   ",task=" + std::to_string(k);
                ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
                pk_prodcons_result r;
                int rc = pk_prodcons(ctx(), &o, &r);
                ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
                std::string what = What(p, c, capacity) + " " + spec;
                ASSERT_EQ(rc, PK_EINJECTED) << what << ": " << ErrorString();
                EXPECT_EQ(pk_ctx_error(ctx())->thread, producer) << what;
                EXPECT_EQ(pk_ctx_error(ctx())->task, k) << what;
                int64_t nadded = 0, nremoved = 0, twice = 0;
                uint64_t sum_added = 0, sum_removed = 0, xor_removed = 0;
                for (int64_t v = 1; v <= n; v++) {
                    int a = t.added[static_cast<size_t>(v)], d = t.removed[static_cast<size_t>(v)];
                    twice += a > 1 || d > 1 || d > a;
                    nadded += a;
                    nremoved += d;
                    sum_added += a ? static_cast<uint64_t>(v) : 0;
                    sum_removed += d ? static_cast<uint64_t>(v) : 0;
                    xor_removed ^= d ? static_cast<uint64_t>(v) : 0;
                }
                EXPECT_EQ(twice + t.bad, 0) << what;
                EXPECT_EQ(r.produced, nadded) << what;
                EXPECT_EQ(r.sum_produced, sum_added) << what;
                EXPECT_EQ(r.consumed, nremoved) << what;
                EXPECT_EQ(r.sum_consumed, sum_removed) << what;
                EXPECT_EQ(r.xor_consumed, xor_removed) << what;
                EXPECT_LT(r.produced, n) << what;
            }
}

// Without a trace, batches: a consumer fault mid-stream still reconciles by
// counts and leaves nobody blocked. A lone consumer takes every item, so its
// fault surely fires; one of three may get fewer than 51 items when it starts
// late (the others took them all), and then the run must end whole instead.
TEST_P(ProdconsStress, KernelBatchedConsumerFault) {
    for (int consumers : {1, 3})
        for (size_t batch : {size_t{1}, size_t{7}, size_t{64}}) {
            pk_prodcons_opts o{};
            o.producers = 3;
            o.consumers = consumers;
            o.capacity = 2;
            o.items = 50000;
            o.batch = batch;
            const std::string spec =
                "kernel=prodcons,thread=" + std::to_string(3 + consumers - 1) + ",task=50";
            const std::string what = spec + " consumers " + std::to_string(consumers) + " batch " +
                                     std::to_string(batch);
            ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
            pk_prodcons_result r;
            int rc = pk_prodcons(ctx(), &o, &r);
            const int fired = pk_ctx_fault_fired(ctx());
            ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
            if (consumers > 1 && rc == 0) {
                EXPECT_EQ(fired, 0) << what;
                EXPECT_EQ(r.produced, o.items) << what;
                EXPECT_EQ(r.consumed, o.items) << what;
                EXPECT_EQ(r.sum_consumed, r.sum_produced) << what;
                continue;
            }
            ASSERT_EQ(rc, PK_EINJECTED) << what << ": " << ErrorString();
            EXPECT_EQ(fired, 1) << what;
            EXPECT_EQ(pk_ctx_error(ctx())->thread, 3 + consumers - 1) << what;
            EXPECT_LE(r.consumed, r.produced) << what;
            EXPECT_LE(r.produced, o.items) << what;
            EXPECT_GE(r.consumed, 50) << what; // the failing consumer's 50 at least
            EXPECT_LE(r.sum_consumed, r.sum_produced) << what;
        }
}

std::vector<Pool> StressPools() {
    std::vector<Pool> pools{{"serial", 1}};
#if PARKIT_WITH_OPENMP
    pools.push_back({"omp", 2});
#endif
    return pools;
}

INSTANTIATE_TEST_SUITE_P(Pools, ProdconsStress, testing::ValuesIn(StressPools()), PoolName);

} // namespace
