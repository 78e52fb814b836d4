// Tests of pk_prodcons on every pool of AllPools(): every item consumed exactly
// once for 1..4 producers and consumers and several capacities (1 included),
// no items, fewer items than producers, batches, delays, the trace (each listing
// checked against a model built from the events alone), fault injection on a
// producer and on a consumer (the call returns the first error with its origin,
// and nobody stays blocked) and the argument errors. Expected sums and XORs are
// computed here by direct loops over the values 1..N.
#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

struct Expected {
    int64_t count = 0;
    uint64_t sum = 0, xr = 0;
};

// The values 1..n, added and XORed one by one.
Expected ExpectedFor(int64_t n) {
    Expected e;
    for (int64_t v = 1; v <= n; v++) {
        e.count++;
        e.sum += static_cast<uint64_t>(v);
        e.xr ^= static_cast<uint64_t>(v);
    }
    return e;
}

pk_prodcons_opts Opts(int producers, int consumers, size_t capacity, int64_t items,
                      size_t batch = 1) {
    pk_prodcons_opts o{};
    o.producers = producers;
    o.consumers = consumers;
    o.capacity = capacity;
    o.items = items;
    o.batch = batch;
    return o;
}

class Prodcons : public PoolTest {
  protected:
    // Runs the kernel and checks both sides against the values 1..N.
    void ExpectExactlyOnce(const pk_prodcons_opts &o) {
        pk_prodcons_result r;
        ASSERT_EQ(pk_prodcons(ctx(), &o, &r), 0) << ErrorString();
        Expected e = ExpectedFor(o.items);
        std::string what = std::to_string(o.producers) + "P" + std::to_string(o.consumers) +
                           "C capacity " + std::to_string(o.capacity) + " batch " +
                           std::to_string(o.batch) + " N " + std::to_string(o.items);
        EXPECT_EQ(r.produced, e.count) << what;
        EXPECT_EQ(r.consumed, e.count) << what;
        EXPECT_EQ(r.sum_produced, e.sum) << what;
        EXPECT_EQ(r.sum_consumed, e.sum) << what;
        EXPECT_EQ(r.xor_produced, e.xr) << what;
        EXPECT_EQ(r.xor_consumed, e.xr) << what;
        EXPECT_LE(r.max_depth, o.capacity) << what;
        if (o.items > 0)
            EXPECT_GE(r.max_depth, 1u) << what;
        else
            EXPECT_EQ(r.max_depth, 0u) << what;
    }
};

TEST_P(Prodcons, EveryItemExactlyOnceForOneToFourProducersAndConsumers) {
    for (int p = 1; p <= 4; p++)
        for (int c = 1; c <= 4; c++)
            for (size_t k : {1u, 2u, 7u, 1024u})
                ExpectExactlyOnce(Opts(p, c, k, 5000));
}

TEST_P(Prodcons, ManyItemsThroughASmallChannel) {
    ExpectExactlyOnce(Opts(2, 2, 16, 300000));
    ExpectExactlyOnce(Opts(1, 1, 1024, 300000));
}

TEST_P(Prodcons, NoItems) {
    ExpectExactlyOnce(Opts(1, 1, 4, 0));
    ExpectExactlyOnce(Opts(3, 2, 1, 0));
}

TEST_P(Prodcons, FewerItemsThanProducers) {
    ExpectExactlyOnce(Opts(4, 2, 2, 3));
    ExpectExactlyOnce(Opts(4, 1, 1, 1));
}

TEST_P(Prodcons, BatchesMoveEveryItemOnce) {
    for (size_t b : {2u, 7u, 64u, 1000u}) { // 1000: batches larger than the channel
        ExpectExactlyOnce(Opts(1, 1, 16, 20000, b));
        ExpectExactlyOnce(Opts(3, 2, 16, 20001, b));
        ExpectExactlyOnce(Opts(2, 4, 5, 999, b));
    }
}

TEST_P(Prodcons, FillsTheChannelWhenConsumersAreSlow) {
    pk_prodcons_opts o = Opts(1, 1, 4, 20);
    o.consume_delay = 0.01;
    pk_prodcons_result r;
    ASSERT_EQ(pk_prodcons(ctx(), &o, &r), 0) << ErrorString();
    EXPECT_EQ(r.consumed, 20);
    // 200 ms of consuming against a producer with nothing to wait for: it fills up.
    EXPECT_EQ(r.max_depth, 4u);
}

TEST_P(Prodcons, DelaysAreSleptPerItem) {
    pk_prodcons_opts o = Opts(2, 2, 3, 40);
    o.produce_delay = 0.002;
    o.consume_delay = 0.001;
    auto t0 = std::chrono::steady_clock::now();
    ExpectExactlyOnce(o);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Each producer sleeps before each of its 20 items: at least 40 ms in all.
    EXPECT_GE(took, 20 * o.produce_delay);
}

// ---- the trace ------------------------------------------------------------------------

struct Trace {
    std::mutex mu; // the channel lock already serializes calls; this is for the checker
    std::deque<int64_t> model;
    std::set<int64_t> added, removed;
    std::vector<int64_t> added_order;
    int64_t events = 0, bad = 0;
    size_t max_depth = 0, capacity = 0;
};

void OnTrace(void *arg, int event, int64_t value, const int64_t *contents, size_t depth) {
    auto *t = static_cast<Trace *>(arg);
    std::lock_guard<std::mutex> lock(t->mu);
    t->events++;
    if (event == PK_PC_ADDED) {
        if (!t->added.insert(value).second)
            t->bad++; // added twice
        t->model.push_back(value);
        t->added_order.push_back(value);
    } else if (event == PK_PC_REMOVED) {
        if (!t->removed.insert(value).second || t->model.empty() || t->model.front() != value)
            t->bad++; // removed twice, or not the oldest
        else
            t->model.pop_front();
    } else {
        t->bad++;
    }
    if (depth != t->model.size() || depth > t->capacity)
        t->bad++;
    else
        for (size_t i = 0; i < depth; i++)
            if (contents[i] != t->model[i])
                t->bad++;
    t->max_depth = std::max(t->max_depth, depth);
}

TEST_P(Prodcons, TraceSeesEveryEventWithTheExactList) {
    for (size_t batch : {1u, 4u}) {
        Trace t;
        t.capacity = 3;
        pk_prodcons_opts o = Opts(2, 2, 3, 300, batch);
        o.trace = OnTrace;
        o.trace_arg = &t;
        pk_prodcons_result r;
        ASSERT_EQ(pk_prodcons(ctx(), &o, &r), 0) << ErrorString();
        EXPECT_EQ(t.events, 600);
        EXPECT_EQ(t.bad, 0);
        EXPECT_TRUE(t.model.empty());
        EXPECT_EQ(t.added.size(), 300u);
        EXPECT_EQ(t.removed.size(), 300u);
        EXPECT_EQ(*t.added.begin(), 1);
        EXPECT_EQ(*t.added.rbegin(), 300);
        EXPECT_EQ(r.max_depth, t.max_depth);
        EXPECT_EQ(r.consumed, 300);
    }
}

TEST_P(Prodcons, TraceOfOneProducerListsTheValuesInOrder) {
    Trace t;
    t.capacity = 10;
    pk_prodcons_opts o = Opts(1, 1, 10, 10);
    o.trace = OnTrace;
    o.trace_arg = &t;
    o.consume_delay = 0.001;
    pk_prodcons_result r;
    ASSERT_EQ(pk_prodcons(ctx(), &o, &r), 0) << ErrorString();
    EXPECT_EQ(t.bad, 0); // and so removed in the same order (FIFO, checked by the model)
    EXPECT_EQ(t.added_order, std::vector<int64_t>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_EQ(t.removed.size(), 10u);
}

// ---- fault injection ---------------------------------------------------------------------

class ProdconsFault : public Prodcons {
  protected:
    // Runs a long job with a fault armed; the call must come back with the fault.
    void ExpectFault(const pk_prodcons_opts &o, const std::string &spec, int thread, int64_t task) {
        ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0) << spec;
        pk_prodcons_result r;
        EXPECT_EQ(pk_prodcons(ctx(), &o, &r), PK_EINJECTED) << spec;
        EXPECT_TRUE(pk_ctx_fault_fired(ctx()));
        const pk_error_info *e = pk_ctx_error(ctx());
        EXPECT_EQ(e->code, PK_EINJECTED);
        EXPECT_STREQ(e->kernel, "prodcons");
        EXPECT_EQ(e->thread, thread);
        EXPECT_EQ(e->task, task);
        EXPECT_NE(ErrorString().find("prodcons"), std::string::npos) << ErrorString();
        // The context stays usable, and the next call runs clean.
        ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
        ExpectExactlyOnce(Opts(o.producers, o.consumers, o.capacity, 1000));
    }
};

TEST_P(ProdconsFault, OnAProducerConsumersAreNotLeftWaiting) {
    // Consumers wait on an empty channel for an item that never comes.
    ExpectFault(Opts(1, 3, 8, 20000000), "kernel=prodcons,thread=0,task=500", 0, 500);
    ExpectFault(Opts(2, 2, 1, 20000000), "thread=1,task=0", 1, 0);
}

TEST_P(ProdconsFault, OnAConsumerProducersAreNotLeftWaiting) {
    // Producers fill the small channel and wait for room that never comes.
    ExpectFault(Opts(3, 1, 2, 20000000), "kernel=prodcons,thread=3,task=10", 3, 10);
    ExpectFault(Opts(2, 2, 4, 20000000, 16), "thread=2,task=100", 2, 100);
}

TEST_P(ProdconsFault, OnAProducerSleepingBetweenItems) {
    pk_prodcons_opts o = Opts(2, 2, 4, 1000000);
    o.produce_delay = 0.0005;
    ExpectFault(o, "thread=1,task=5", 1, 5);
}

TEST_P(ProdconsFault, NotFiredWhenNoWorkerHasThatTask) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=prodcons,thread=0,task=5000"), 0);
    ExpectExactlyOnce(Opts(2, 2, 8, 1000)); // producer 0 handles 500 items
    EXPECT_FALSE(pk_ctx_fault_fired(ctx()));
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=squares"), 0);
    ExpectExactlyOnce(Opts(2, 2, 8, 1000));
    EXPECT_FALSE(pk_ctx_fault_fired(ctx()));
}

// ---- argument errors ---------------------------------------------------------------------

TEST_P(Prodcons, ArgumentErrorsAreRefusedUpFront) {
    std::vector<pk_prodcons_opts> bad;
    bad.push_back(Opts(0, 1, 4, 10));
    bad.push_back(Opts(1, 0, 4, 10));
    bad.push_back(Opts(-1, 1, 4, 10));
    bad.push_back(Opts(1, 1, 0, 10));
    bad.push_back(Opts(1, 1, 4, -1));
    bad.push_back(Opts(PK_PRODCONS_MAX_WORKERS, 1, 4, 10));
    bad.push_back(Opts(1, std::numeric_limits<int>::max(), 4, 10));
    bad.push_back(Opts(1, 1, 4, 10, PK_PRODCONS_MAX_BATCH + 1));
    pk_prodcons_opts d = Opts(1, 1, 4, 10);
    d.produce_delay = -0.001;
    bad.push_back(d);
    d = Opts(1, 1, 4, 10);
    d.consume_delay = std::nan("");
    bad.push_back(d);
    d = Opts(1, 1, 4, 10);
    d.consume_delay = 1e9;
    bad.push_back(d);
    for (size_t i = 0; i < bad.size(); i++) {
        pk_ctx_clear_error(ctx());
        pk_prodcons_result r;
        r.produced = 77;
        EXPECT_EQ(pk_prodcons(ctx(), &bad[i], &r), PK_EINVAL) << "case " << i;
        EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EINVAL) << "case " << i;
        EXPECT_NE(std::string(pk_ctx_error(ctx())->message), "") << "case " << i;
        EXPECT_EQ(pk_ctx_error(ctx())->thread, -1) << "case " << i;
        EXPECT_EQ(r.produced, 0) << "case " << i;
    }
    pk_prodcons_opts o = Opts(1, 1, 4, 10);
    pk_prodcons_result r;
    EXPECT_EQ(pk_prodcons(ctx(), nullptr, &r), PK_EINVAL);
    EXPECT_EQ(pk_prodcons(ctx(), &o, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_prodcons(nullptr, &o, &r), PK_EINVAL);
    // The largest team allowed is accepted.
    ExpectExactlyOnce(Opts(PK_PRODCONS_MAX_WORKERS / 2, PK_PRODCONS_MAX_WORKERS / 2, 4, 2000));
}

INSTANTIATE_TEST_SUITE_P(Pools, Prodcons, testing::ValuesIn(AllPools()), PoolName);
INSTANTIATE_TEST_SUITE_P(Pools, ProdconsFault, testing::ValuesIn(AllPools()), PoolName);

} // namespace
