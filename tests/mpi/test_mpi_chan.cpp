// Channels between ranks: every item put by the producer ranks is got exactly
// once by the consumer ranks, whatever the capacity (also below the number of
// producers) and batch; the channel never holds more than its capacity; the
// non-blocking calls do not block; and a failing worker wakes the peers that
// are blocked on it, so the team returns the failing worker's error everywhere.
// Roles named by lists: worker 0 gets, a rank puts to itself, every rank puts
// and gets on one channel, a two-stage pipeline with worker 0 at both ends,
// lists with gaps; and every refusal with its reason. tests/test_chan.cpp
// runs the same cases on threads. Single items, which a putter keeps and sends
// to a getter together: every team shape that fits the ranks at capacities 1,
// 2 and 1024 with each putter's items in order at each getter, a close right
// after a few kept items, and a kept item that must go out when its putter
// waits for the answer on another channel. Room across ranks: a putter that
// closes with room granted and unused, or with a request for room still
// pending, leaves that room to the later putters (at 2 ranks and up).
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mpi_test_util.h"

namespace {

struct Tally {
    int64_t count = 0;
    uint64_t sum = 0, xr = 0;
    void Add(int64_t v) {
        count++;
        sum += static_cast<uint64_t>(v);
        xr ^= static_cast<uint64_t>(v) * 0x9E3779B97F4A7C15ull;
    }
};

struct Exchange {
    pk_chan *ch;
    int P, C;
    int64_t items;
    size_t batch;
    Tally put, got;
    size_t depth = 0;
    int fault_items = 0; // producers mark each item as a task (fault injection)
};

int Produce(Exchange *x, pk_worker *w) {
    std::vector<int64_t> buf;
    for (int64_t i = w->id; i < x->items; i += x->P) {
        if (x->fault_items) {
            int rc = pk_task_begin(w, static_cast<int64_t>(x->put.count + buf.size()));
            if (rc != 0)
                return rc;
        }
        buf.push_back(i + 1);
        if (buf.size() == x->batch || i + x->P >= x->items) {
            int rc = x->batch == 1 ? pk_chan_put(x->ch, buf.data())
                                   : pk_chan_put_many(x->ch, buf.data(), buf.size());
            if (rc != 0)
                return rc;
            for (int64_t v : buf)
                x->put.Add(v);
            buf.clear();
        }
    }
    return pk_chan_close(x->ch);
}

int Consume(Exchange *x) {
    std::vector<int64_t> buf(x->batch);
    for (;;) {
        size_t got = 0;
        int rc = x->batch == 1 ? pk_chan_get(x->ch, buf.data())
                               : pk_chan_get_many(x->ch, buf.data(), x->batch, &got);
        got = x->batch == 1 ? 1 : got;
        if (rc == PK_ECLOSED)
            break;
        if (rc != 0)
            return rc;
        for (size_t k = 0; k < got; k++)
            x->got.Add(buf[k]);
    }
    x->depth = pk_chan_max_depth(x->ch);
    return 0;
}

int Role(void *arg, pk_worker *w) {
    auto *x = static_cast<Exchange *>(arg);
    if (w->id < x->P)
        return Produce(x, w);
    if (w->id < x->P + x->C)
        return Consume(x);
    return 0;
}

pk_chan *Open(pk_ctx *ctx, int P, int C, size_t capacity) {
    pk_chan_opts co = {};
    co.elem_size = sizeof(int64_t);
    co.capacity = capacity;
    co.producers = P;
    co.consumers = C;
    pk_chan *ch = nullptr;
    EXPECT_EQ(pk_chan_open(ctx, &ch, &co), 0) << ErrorText(ctx);
    return ch;
}

} // namespace

TEST(MpiChan, EveryItemExactlyOnce) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int P = WorldSize() / 2, C = WorldSize() - P;
    for (size_t capacity : {size_t{1}, size_t{3}, size_t{64}}) {
        for (size_t batch : {size_t{1}, size_t{7}}) {
            Exchange x;
            x.P = P;
            x.C = C;
            x.items = capacity == 1 ? 300 : 3000;
            x.batch = batch;
            x.ch = Open(ctx.get(), P, C, capacity);
            ASSERT_NE(x.ch, nullptr);
            int rc = pk_team(ctx.get(), P + C, nullptr, Role, &x);
            EXPECT_EQ(rc, 0) << ErrorText(ctx.get());
            EXPECT_LE(x.depth, capacity);
            pk_chan_free(x.ch);
            int64_t n = x.items;
            EXPECT_EQ(SumOverRanks(x.put.count), n) << "capacity " << capacity;
            EXPECT_EQ(SumOverRanks(x.got.count), n) << "capacity " << capacity;
            EXPECT_EQ(SumOverRanks(static_cast<int64_t>(x.got.sum)), n * (n + 1) / 2);
            uint64_t xr_put = 0, xr_got = 0;
            MPI_Allreduce(&x.put.xr, &xr_put, 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
            MPI_Allreduce(&x.got.xr, &xr_got, 1, MPI_UINT64_T, MPI_BXOR, MPI_COMM_WORLD);
            EXPECT_EQ(xr_put, xr_got);
        }
    }
}

TEST(MpiChan, TryCallsDoNotBlock) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Exchange x;
    x.P = 1;
    x.C = 1;
    x.items = 10;
    x.batch = 1;
    x.ch = Open(ctx.get(), 1, 1, 2);
    ASSERT_NE(x.ch, nullptr);
    int64_t item = 5;
    // nothing can have arrived: the producer holds no credit yet
    if (WorldRank() == 0)
        EXPECT_EQ(pk_chan_try_put(x.ch, &item), PK_EAGAIN);
    if (WorldRank() == 1)
        EXPECT_EQ(pk_chan_try_get(x.ch, &item), PK_EAGAIN);
    // wrong roles are refused
    if (WorldRank() == 0)
        EXPECT_EQ(pk_chan_try_get(x.ch, &item), PK_EINVAL);
    if (WorldRank() == 1)
        EXPECT_EQ(pk_chan_put(x.ch, &item), PK_EINVAL);
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, Role, &x), 0) << ErrorText(ctx.get());
    EXPECT_EQ(SumOverRanks(x.got.count), 10);
    if (WorldRank() == 0)
        EXPECT_EQ(pk_chan_put(x.ch, &item), PK_ECLOSED) << "after close";
    pk_chan_free(x.ch);
}

TEST(MpiChan, OpenChecksTheRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_chan_opts co = {};
    co.elem_size = 8;
    co.capacity = 4;
    co.producers = WorldSize();
    co.consumers = 1;
    pk_chan *ch = nullptr;
    int rc = pk_chan_open(ctx.get(), &ch, &co);
    EXPECT_EQ(rc, PK_EINVAL);
    EXPECT_EQ(ch, nullptr);
    EXPECT_TRUE(SameOnAllRanks(rc));
    const int zero[] = {0};
    co.producers = 1;
    co.putters = zero;
    co.getters = zero;
    co.observe = [](void *, pk_chan *, int, const void *) {};
    EXPECT_EQ(pk_chan_open(ctx.get(), &ch, &co), PK_ENOTSUP) << "observers need threads";
}

namespace {

void Sleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
}

struct Failing {
    pk_chan *ch;
    int peer_rc = 1; // what the blocked peer's call returned
};

// Rank 0 produces, rank 1 consumes; one of them fails while the other waits.
int ProducerFails(void *arg, pk_worker *w) {
    auto *f = static_cast<Failing *>(arg);
    if (w->id == 0) {
        Sleep(100);
        return pk_fail(w, PK_ERANGE, "producer gave up");
    }
    int64_t item;
    f->peer_rc = pk_chan_get(f->ch, &item); // blocks: nothing ever comes
    return f->peer_rc;
}

int ConsumerFails(void *arg, pk_worker *w) {
    auto *f = static_cast<Failing *>(arg);
    if (w->id == 1) {
        Sleep(100);
        return pk_fail(w, PK_EIO, "consumer gave up");
    }
    int64_t item = 1;
    for (int i = 0; i < 1000; i++) { // blocks once the capacity is used
        f->peer_rc = pk_chan_put(f->ch, &item);
        if (f->peer_rc != 0)
            return f->peer_rc;
    }
    return 0;
}

} // namespace

TEST(MpiChan, BlockedConsumerIsWokenByAFailingProducer) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Failing f;
    f.ch = Open(ctx.get(), 1, 1, 4);
    ASSERT_NE(f.ch, nullptr);
    int rc = pk_team(ctx.get(), 2, nullptr, ProducerFails, &f);
    EXPECT_EQ(rc, PK_ERANGE);
    EXPECT_EQ(ErrorText(ctx.get()), "pool: rank 0, thread 0: producer gave up");
    if (WorldRank() == 1)
        EXPECT_EQ(f.peer_rc, PK_EABORTED);
    EXPECT_TRUE(SameOnAllRanks(rc));
    pk_chan_free(f.ch);
}

TEST(MpiChan, BlockedProducerIsWokenByAFailingConsumer) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Failing f;
    f.ch = Open(ctx.get(), 1, 1, 1);
    ASSERT_NE(f.ch, nullptr);
    int rc = pk_team(ctx.get(), 2, nullptr, ConsumerFails, &f);
    EXPECT_EQ(rc, PK_EIO);
    EXPECT_EQ(ErrorText(ctx.get()), "pool: rank 1, thread 0: consumer gave up");
    if (WorldRank() == 0)
        EXPECT_EQ(f.peer_rc, PK_EABORTED);
    EXPECT_TRUE(SameOnAllRanks(rc));
    pk_chan_free(f.ch);
}

TEST(MpiChan, InjectedFaultInAProducerReachesEveryRank) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int P = WorldSize() / 2, C = WorldSize() - P;
    std::string spec = "rank=" + std::to_string(P - 1) + ",task=10";
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    Exchange x;
    x.P = P;
    x.C = C;
    x.items = 2000;
    x.batch = 1;
    x.fault_items = 1;
    x.ch = Open(ctx.get(), P, C, 8);
    ASSERT_NE(x.ch, nullptr);
    int rc = pk_team(ctx.get(), P + C, nullptr, Role, &x);
    EXPECT_EQ(rc, PK_EINJECTED);
    EXPECT_EQ(ErrorText(ctx.get()),
              "pool: rank " + std::to_string(P - 1) + ", thread 0, task 10: injected fault");
    EXPECT_TRUE(SameOnAllRanks(rc));
    pk_chan_free(x.ch);
    pk_ctx_set_fault(ctx.get(), nullptr);
}

// ---- roles named by lists ---------------------------------------------------------

namespace {

std::vector<int> Ids(int first, int end) {
    std::vector<int> v;
    for (int i = first; i < end; i++)
        v.push_back(i);
    return v;
}

bool In(const std::vector<int> &ids, int id) {
    for (int i : ids)
        if (i == id)
            return true;
    return false;
}

int64_t Item(int id, int64_t j) {
    return (id + 1) * 100000 + j;
}

pk_chan *OpenRoles(pk_ctx *ctx, const std::vector<int> &putters, const std::vector<int> &getters,
                   size_t capacity) {
    pk_chan_opts co = {};
    co.elem_size = sizeof(int64_t);
    co.capacity = capacity;
    co.producers = static_cast<int>(putters.size());
    co.consumers = static_cast<int>(getters.size());
    co.putters = putters.data();
    co.getters = getters.data();
    pk_chan *ch = nullptr;
    EXPECT_EQ(pk_chan_open(ctx, &ch, &co), 0) << ErrorText(ctx);
    return ch;
}

// Gets until the channel ends into t; 0 or the failing code.
int Drain(pk_chan *ch, Tally *t) {
    int64_t v = 0;
    int rc;
    while ((rc = pk_chan_get(ch, &v)) == 0)
        t->Add(v);
    return rc == PK_ECLOSED ? 0 : rc;
}

struct Roles {
    pk_chan *ch = nullptr;
    std::vector<int> putters;
    int64_t per_putter = 0;
    Tally put, got;
};

// Putters put per_putter items (odd ids in batches of 5), then close; worker 0
// gets until the end.
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
                r->put.Add(items[k]);
            j += n;
        }
        int rc = pk_chan_close(r->ch);
        if (rc != 0)
            return rc;
    }
    return w->id == 0 ? Drain(r->ch, &r->got) : 0;
}

// The sum of Item(id, j) over the ids and j < per.
int64_t SumOfItems(const std::vector<int> &ids, int64_t per) {
    int64_t s = 0;
    for (int id : ids)
        for (int64_t j = 0; j < per; j++)
            s += Item(id, j);
    return s;
}

} // namespace

TEST(MpiChan, WorkerZeroGetsWhileTheOthersPut) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int n = WorldSize();
    Roles r;
    r.putters = n == 1 ? Ids(0, 1) : Ids(1, n);
    r.per_putter = 120;
    int64_t total = r.per_putter * static_cast<int64_t>(r.putters.size());
    r.ch = OpenRoles(ctx.get(), r.putters, {0}, n == 1 ? static_cast<size_t>(total) : 4);
    ASSERT_NE(r.ch, nullptr);
    EXPECT_EQ(pk_team(ctx.get(), n, nullptr, PutThenWorkerZeroGets, &r), 0) << ErrorText(ctx.get());
    pk_chan_free(r.ch);
    if (WorldRank() != 0)
        EXPECT_EQ(r.got.count, 0);
    EXPECT_EQ(SumOverRanks(r.got.count), total);
    EXPECT_EQ(SumOverRanks(static_cast<int64_t>(r.got.sum)), SumOfItems(r.putters, r.per_putter));
    EXPECT_EQ(SumOverRanks(static_cast<int64_t>(r.put.sum)), SumOfItems(r.putters, r.per_putter));
}

namespace {

struct Self {
    pk_chan *ch = nullptr;
    std::vector<int64_t> seen;
    int end_rc = 1;
};

// Worker 0 alone puts to itself, with blocking calls, and gets its items back
// in order: put 1, put 2, get, put 3, get, get, close, get (closed).
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

struct Both {
    pk_chan *ch = nullptr;
    int64_t per_worker = 0;
    Tally put, got;
};

// Every worker puts and gets on one channel: a try_put that finds no room
// gives way to a try_get; after its close the worker gets until the end.
int PutAndGet(void *arg, pk_worker *w) {
    auto *x = static_cast<Both *>(arg);
    int64_t v = 0;
    for (int64_t j = 0; j < x->per_worker;) {
        int64_t item = Item(w->id, j);
        int rc = pk_chan_try_put(x->ch, &item);
        if (rc == 0) {
            x->put.Add(item);
            j++;
            continue;
        }
        if (rc != PK_EAGAIN)
            return rc;
        rc = pk_chan_try_get(x->ch, &v);
        if (rc == 0)
            x->got.Add(v);
        else if (rc == PK_EAGAIN)
            sched_yield();
        else
            return rc;
    }
    int rc = pk_chan_close(x->ch);
    return rc != 0 ? rc : Drain(x->ch, &x->got);
}

} // namespace

TEST(MpiChan, ARankPutsToItself) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Self x;
    x.ch = OpenRoles(ctx.get(), {0}, {0}, 2);
    ASSERT_NE(x.ch, nullptr);
    EXPECT_EQ(pk_team(ctx.get(), 0, nullptr, PutToItself, &x), 0) << ErrorText(ctx.get());
    pk_chan_free(x.ch);
    if (WorldRank() == 0) {
        EXPECT_EQ(x.seen, (std::vector<int64_t>{1, 2, 3}));
        EXPECT_EQ(x.end_rc, PK_ECLOSED);
    }
}

TEST(MpiChan, EveryRankPutsAndGetsOnOneChannel) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int n = WorldSize();
    for (size_t capacity : {size_t{1}, size_t{5}}) {
        Both x;
        x.per_worker = 60;
        x.ch = OpenRoles(ctx.get(), Ids(0, n), Ids(0, n), capacity);
        ASSERT_NE(x.ch, nullptr);
        EXPECT_EQ(pk_team(ctx.get(), n, nullptr, PutAndGet, &x), 0) << ErrorText(ctx.get());
        EXPECT_LE(pk_chan_max_depth(x.ch), capacity);
        pk_chan_free(x.ch);
        int64_t total = x.per_worker * n;
        EXPECT_EQ(SumOverRanks(x.got.count), total) << "capacity " << capacity;
        EXPECT_EQ(SumOverRanks(static_cast<int64_t>(x.got.sum)),
                  SumOfItems(Ids(0, n), x.per_worker));
        EXPECT_EQ(SumOverRanks(static_cast<int64_t>(x.put.sum)),
                  SumOfItems(Ids(0, n), x.per_worker));
    }
}

namespace {

// Stage A puts into ch1; stage B gets from ch1 and puts 2v + 1 into ch2;
// worker 0 gets from ch2. Worker 0 is in A too, so while it waits to put into
// ch1 it must still take in what B puts into ch2.
struct Pipe {
    pk_chan *ch1 = nullptr, *ch2 = nullptr;
    std::vector<int> a, b;
    int64_t per_a = 0, forwarded = 0;
    Tally got;
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
    if (rc == 0 && w->id == 0)
        rc = Drain(p->ch2, &p->got);
    return rc;
}

// The stages for a team of n: A the even workers, B the odd ones (worker 0
// alone does all three with one worker); ch1 small, ch2 holds everything so
// that B never waits for worker 0 to finish stage A.
void PipeRoles(Pipe *p, int n) {
    for (int i = 0; i < n; i++)
        (i % 2 == 0 ? p->a : p->b).push_back(i);
    if (n == 1)
        p->b = {0};
}

int64_t PipeSum(const Pipe &p) {
    int64_t s = 0;
    for (int id : p.a)
        for (int64_t j = 0; j < p.per_a; j++)
            s += 2 * Item(id, j) + 1;
    return s;
}

} // namespace

TEST(MpiChan, TwoStagePipelineWithWorkerZeroAtBothEnds) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int n = WorldSize();
    Pipe p;
    PipeRoles(&p, n);
    p.per_a = 80;
    int64_t total = p.per_a * static_cast<int64_t>(p.a.size());
    p.ch1 = OpenRoles(ctx.get(), p.a, p.b, n == 1 ? static_cast<size_t>(total) : 3);
    p.ch2 = OpenRoles(ctx.get(), p.b, {0}, static_cast<size_t>(total));
    ASSERT_NE(p.ch1, nullptr);
    ASSERT_NE(p.ch2, nullptr);
    EXPECT_EQ(pk_team(ctx.get(), n, nullptr, PipeStage, &p), 0) << ErrorText(ctx.get());
    pk_chan_free(p.ch2);
    pk_chan_free(p.ch1);
    EXPECT_EQ(SumOverRanks(p.forwarded), total);
    EXPECT_EQ(SumOverRanks(p.got.count), total);
    EXPECT_EQ(SumOverRanks(static_cast<int64_t>(p.got.sum)), PipeSum(p));
}

namespace {

struct Gaps {
    pk_ctx *ctx = nullptr;
    pk_chan *ch = nullptr;
    Tally got;
    int wrong_rc = 0;
    std::string wrong_msg;
};

// Keeps a refused call's code and the reason it left in the context.
void Refused(Gaps *g, int rc) {
    g->wrong_rc = rc;
    g->wrong_msg = pk_ctx_error(g->ctx)->message;
}

// Putters {2, 0}, getter {1}: worker 1 also tries to put and worker 0 to get,
// and both are refused with the reason; a worker with no role may not close.
int GapWorker(void *arg, pk_worker *w) {
    auto *g = static_cast<Gaps *>(arg);
    int64_t v = 0;
    if (w->id == 1) {
        Refused(g, pk_chan_try_put(g->ch, &v));
        return Drain(g->ch, &g->got);
    }
    if (w->id >= 3) {
        Refused(g, pk_chan_close(g->ch));
        return 0;
    }
    if (w->id == 0)
        Refused(g, pk_chan_try_get(g->ch, &v));
    for (int64_t j = 0; j < 50; j++) {
        v = Item(w->id, j);
        int rc = pk_chan_put(g->ch, &v);
        if (rc != 0)
            return rc;
    }
    return pk_chan_close(g->ch);
}

} // namespace

TEST(MpiChan, ListsWithGaps) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int n = WorldSize();
    const int putters[] = {2, 0}, getters[] = {1};
    pk_chan_opts co = {};
    co.elem_size = sizeof(int64_t);
    co.capacity = 3;
    co.producers = 2;
    co.consumers = 1;
    co.putters = putters;
    co.getters = getters;
    Gaps g;
    int rc = pk_chan_open(ctx.get(), &g.ch, &co);
    EXPECT_TRUE(SameOnAllRanks(rc));
    if (n < 3) {
        EXPECT_EQ(rc, PK_EINVAL);
        EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
                  "putter id 2 is outside the team of " + std::to_string(n) + " workers");
        return;
    }
    ASSERT_EQ(rc, 0) << ErrorText(ctx.get());
    g.ctx = ctx.get();
    EXPECT_EQ(pk_team(ctx.get(), n, nullptr, GapWorker, &g), 0) << ErrorText(ctx.get());
    pk_chan_free(g.ch);
    int me = WorldRank();
    EXPECT_EQ(g.got.count, me == 1 ? 100 : 0);
    if (me == 1)
        EXPECT_EQ(static_cast<int64_t>(g.got.sum), SumOfItems({0, 2}, 50));
    const char *want[] = {"worker 0 is not a getter of this channel",
                          "worker 1 is not a putter of this channel", ""};
    if (me == 2) {
        EXPECT_EQ(g.wrong_rc, 0);
    } else {
        EXPECT_EQ(g.wrong_rc, PK_EINVAL) << "worker " << me;
        EXPECT_EQ(g.wrong_msg,
                  me < 2 ? std::string(want[me])
                         : "worker " + std::to_string(me) + " is not a putter of this channel");
    }
}

namespace {

// Opens with the lists and the team size, expecting a refusal with this
// message, the same on every rank.
void ExpectRefused(pk_ctx *ctx, std::vector<int> putters, std::vector<int> getters, int workers,
                   const std::string &why) {
    pk_chan_opts co = {};
    co.elem_size = sizeof(int64_t);
    co.capacity = 4;
    co.producers = static_cast<int>(putters.size());
    co.consumers = static_cast<int>(getters.size());
    co.putters = putters.data();
    co.getters = getters.data();
    co.workers = workers;
    pk_chan *ch = nullptr;
    int rc = pk_chan_open(ctx, &ch, &co);
    EXPECT_EQ(rc, PK_EINVAL) << why;
    EXPECT_EQ(ch, nullptr);
    EXPECT_TRUE(SameOnAllRanks(rc));
    EXPECT_EQ(std::string(pk_ctx_error(ctx)->message), why);
}

} // namespace

TEST(MpiChan, RefusalsNameTheirReason) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int n = WorldSize();
    std::string N = std::to_string(n);
    ExpectRefused(ctx.get(), {0, n}, {0}, 0,
                  "putter id " + N + " is outside the team of " + N + " workers");
    ExpectRefused(ctx.get(), {0}, {-1}, 0, "getter id -1 is outside the team of " + N + " workers");
    ExpectRefused(ctx.get(), {0}, {0, 0}, 0, "worker 0 is named twice as a getter");
    ExpectRefused(ctx.get(), {n - 1, 0, n - 1}, {0}, 0,
                  "worker " + std::to_string(n - 1) + " is named twice as a putter");
    ExpectRefused(ctx.get(), {0}, {0}, n + 1,
                  "a team of " + std::to_string(n + 1) + " workers needs " + std::to_string(n + 1) +
                      " ranks, one each; this pool has " + N);
    // default roles: 0..n-1 put, n gets
    pk_chan_opts co = {};
    co.elem_size = 8;
    co.capacity = 4;
    co.producers = n;
    co.consumers = 1;
    pk_chan *ch = nullptr;
    EXPECT_EQ(pk_chan_open(ctx.get(), &ch, &co), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
              "a channel between " + N + " putters and 1 getters needs " + std::to_string(n + 1) +
                  " ranks; this pool has " + N);
    // calls in a role the rank was not given, outside a team as well
    ch = OpenRoles(ctx.get(), {0}, {0}, 2);
    ASSERT_NE(ch, nullptr);
    int64_t v = 1;
    if (WorldRank() > 0) {
        std::string me = std::to_string(WorldRank());
        EXPECT_EQ(pk_chan_put(ch, &v), PK_EINVAL);
        EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
                  "worker " + me + " is not a putter of this channel");
        EXPECT_EQ(pk_chan_get(ch, &v), PK_EINVAL);
        EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
                  "worker " + me + " is not a getter of this channel");
        EXPECT_EQ(pk_chan_close(ch), PK_EINVAL);
        EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
                  "worker " + me + " is not a putter of this channel");
    }
    EXPECT_EQ(pk_chan_put(ch, nullptr), PK_EINVAL);
    EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
              "pk_chan_put needs a buffer for the items");
    pk_chan_free(ch);
}

namespace {

// Worker 0 puts one item into ch and then waits for worker 1, which puts the
// three items that fill ch while its getter, worker 2, waits for a token and
// takes nothing yet. On threads the four items fit; across ranks the room
// worker 0 was granted and did not use must go back while it waits, or worker
// 1 never gets room for its third item.
struct Lend {
    pk_chan *ch = nullptr, *go = nullptr, *done = nullptr, *token = nullptr;
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
    } else if (w->id == 2) {
        Tally t;
        rc = pk_chan_get(l->token, &v);
        rc = rc != 0 ? rc : Drain(l->ch, &t);
        l->got = t.count;
    }
    return rc;
}

} // namespace

TEST(MpiChan, ARankWaitingGivesBackTheRoomItHolds) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (WorldSize() < 3)
        return; // three workers, one rank each
    Lend l;
    l.ch = OpenRoles(ctx.get(), {0, 1}, {2}, 4);
    l.go = OpenRoles(ctx.get(), {0}, {1}, 1);
    l.done = OpenRoles(ctx.get(), {1}, {0}, 1);
    l.token = OpenRoles(ctx.get(), {1}, {2}, 1);
    EXPECT_EQ(pk_team(ctx.get(), 3, nullptr, LendWorker, &l), 0) << ErrorText(ctx.get());
    for (pk_chan *c : {l.token, l.done, l.go, l.ch})
        pk_chan_free(c);
    EXPECT_EQ(SumOverRanks(l.got), 4);
}

namespace {

// Putters {0, 1}, getter {1}, capacity 1. Worker 0 puts one item; the getter
// takes it and, the slot free again, grants worker 0 the room it asked for
// ahead. Worker 0 never uses that room: it closes without waiting anywhere
// (waiting would give the room back). The getter must count the room of a
// closed putter as free, or worker 1, the later putter, never gets any: its
// non-blocking puts fail for 20 seconds and the test fails with that reason.
struct Unused {
    pk_chan *ch = nullptr, *ack = nullptr;
    std::vector<int64_t> seen;
    int end_rc = 1;
};

// Calls try(ch, &v) until it gives something else than PK_EAGAIN, or 20 s.
template <class Try> int Retry(Try attempt) {
    double until = MPI_Wtime() + 20;
    int rc;
    while ((rc = attempt()) == PK_EAGAIN && MPI_Wtime() < until)
        sched_yield();
    return rc;
}

int UnusedRoomWorker(void *arg, pk_worker *w) {
    auto *u = static_cast<Unused *>(arg);
    int64_t v = 1;
    if (w->id == 0) {
        int rc = pk_chan_put(u->ch, &v);
        // no blocking call here: a rank that waits gives back its room
        rc = rc != 0 ? rc : Retry([&] { return pk_chan_try_get(u->ack, &v); });
        return rc != 0 ? rc : pk_chan_close(u->ch);
    }
    if (w->id != 1)
        return 0;
    int rc = pk_chan_get(u->ch, &v);
    if (rc != 0)
        return rc;
    u->seen.push_back(v);
    // a while of calls that take in worker 0's request for room and grant it
    for (double until = MPI_Wtime() + 0.05; rc == 0 && MPI_Wtime() < until;) {
        rc = pk_chan_try_get(u->ch, &v);
        rc = rc == PK_EAGAIN ? 0 : (rc == 0 ? PK_EBACKEND : rc);
    }
    rc = rc != 0 ? rc : pk_chan_put(u->ack, &v);
    rc = rc != 0 ? rc : pk_chan_close(u->ack);
    if (rc != 0)
        return rc;
    v = 2;
    rc = Retry([&] { return pk_chan_try_put(u->ch, &v); });
    if (rc == PK_EAGAIN)
        return pk_fail(w, PK_ETIMEDOUT,
                       "worker 1 got no room in 20 s: the room granted to worker 0, "
                       "which closed without using it, never came back");
    rc = rc != 0 ? rc : pk_chan_close(u->ch);
    while (rc == 0 && (rc = pk_chan_get(u->ch, &v)) == 0)
        u->seen.push_back(v);
    u->end_rc = rc;
    return rc == PK_ECLOSED ? 0 : rc;
}

} // namespace

TEST(MpiChan, ThePutterThatClosesWithUnusedRoomLeavesItToTheOthers) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (WorldSize() < 2)
        return; // two workers, one rank each
    Unused u;
    u.ch = OpenRoles(ctx.get(), {0, 1}, {1}, 1);
    u.ack = OpenRoles(ctx.get(), {1}, {0}, 1);
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, UnusedRoomWorker, &u), 0) << ErrorText(ctx.get());
    pk_chan_free(u.ack);
    pk_chan_free(u.ch);
    if (WorldRank() == 1) {
        EXPECT_EQ(u.seen, (std::vector<int64_t>{1, 2}));
        EXPECT_EQ(u.end_rc, PK_ECLOSED);
    }
}

namespace {

// Putters {0, 1}, getter {1}, capacity 1. Worker 0 asks for room (a try_put
// that finds none) and closes at once; only then, told by a plain message on
// MPI_COMM_WORLD, does worker 1 look at the channel, so that the request and
// the close come in together. The getter must not grant room to a putter that
// has closed, or that room is lost for good and worker 1's own puts never get
// any: they fail for 20 seconds and the test fails with that reason.
struct Asked {
    pk_chan *ch = nullptr;
    int first_rc = 1;
    std::vector<int64_t> seen;
    int end_rc = 1;
};

int AskThenCloseWorker(void *arg, pk_worker *w) {
    auto *a = static_cast<Asked *>(arg);
    int64_t v = 1;
    int token = 0;
    if (w->id == 0) {
        a->first_rc = pk_chan_try_put(a->ch, &v); // no room yet: asks for some
        int rc = pk_chan_close(a->ch);
        MPI_Send(&token, 1, MPI_INT, 1, 77, MPI_COMM_WORLD);
        return rc;
    }
    if (w->id != 1)
        return 0;
    MPI_Recv(&token, 1, MPI_INT, 0, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    Sleep(50); // the request and the close are in by now
    v = 2;
    int rc = Retry([&] { return pk_chan_try_put(a->ch, &v); });
    if (rc == PK_EAGAIN)
        return pk_fail(w, PK_ETIMEDOUT,
                       "worker 1 got no room in 20 s: the room worker 0 asked for before "
                       "it closed went to worker 0 and never came back");
    rc = rc != 0 ? rc : pk_chan_close(a->ch);
    while (rc == 0 && (rc = pk_chan_get(a->ch, &v)) == 0)
        a->seen.push_back(v);
    a->end_rc = rc;
    return rc == PK_ECLOSED ? 0 : rc;
}

} // namespace

TEST(MpiChan, RoomAskedForByAPutterThatClosedGoesToTheOthers) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (WorldSize() < 2)
        return; // two workers, one rank each
    Asked a;
    a.ch = OpenRoles(ctx.get(), {0, 1}, {1}, 1);
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, AskThenCloseWorker, &a), 0) << ErrorText(ctx.get());
    pk_chan_free(a.ch);
    if (WorldRank() == 0)
        EXPECT_EQ(a.first_rc, PK_EAGAIN);
    if (WorldRank() == 1) {
        EXPECT_EQ(a.seen, (std::vector<int64_t>{2}));
        EXPECT_EQ(a.end_rc, PK_ECLOSED);
    }
}

namespace {

// Single puts and gets for every team shape that fits the ranks: each getter
// checks that a putter's items come in the order they were put (a putter keeps
// single items for a getter and sends them as one message).
struct Shape {
    pk_chan *ch;
    int P, C;
    int64_t items;
    Tally got;
    int64_t out_of_order = 0;
};

int ShapeRole(void *arg, pk_worker *w) {
    auto *x = static_cast<Shape *>(arg);
    if (w->id < x->P) {
        for (int64_t i = w->id; i < x->items; i += x->P) {
            int rc = pk_chan_put(x->ch, &i);
            if (rc != 0)
                return rc;
        }
        return pk_chan_close(x->ch);
    }
    if (w->id >= x->P + x->C)
        return 0;
    std::vector<int64_t> last(static_cast<size_t>(x->P), -1);
    int64_t v = 0;
    int rc;
    while ((rc = pk_chan_get(x->ch, &v)) == 0) {
        int64_t &prev = last[static_cast<size_t>(v % x->P)];
        x->out_of_order += v <= prev;
        prev = v;
        x->got.Add(v + 1);
    }
    return rc == PK_ECLOSED ? 0 : rc;
}

// Rank 0 puts one item into ch and waits for the answer on back; rank 1 answers
// each item with twice its value. The item rank 0 keeps for its getter must go
// out when rank 0 waits in the other channel, or this never ends.
struct PingPong {
    pk_chan *ch, *back;
    int64_t rounds, wrong = 0;
};

int PingPongRole(void *arg, pk_worker *w) {
    auto *p = static_cast<PingPong *>(arg);
    int64_t v = 0;
    int rc = 0;
    for (int64_t i = 1; rc == 0 && i <= p->rounds && w->id < 2; i++) {
        if (w->id == 0) {
            rc = pk_chan_put(p->ch, &i);
            rc = rc != 0 ? rc : pk_chan_get(p->back, &v);
            p->wrong += rc == 0 && v != 2 * i;
        } else {
            rc = pk_chan_get(p->ch, &v);
            v *= 2;
            rc = rc != 0 ? rc : pk_chan_put(p->back, &v);
        }
    }
    if (rc == 0 && w->id < 2)
        rc = pk_chan_close(w->id == 0 ? p->ch : p->back);
    return rc;
}

pk_chan *OpenRoles(pk_ctx *ctx, int putter, int getter, size_t capacity) {
    pk_chan_opts co = {};
    co.elem_size = sizeof(int64_t);
    co.capacity = capacity;
    co.producers = 1;
    co.consumers = 1;
    co.putters = &putter;
    co.getters = &getter;
    pk_chan *ch = nullptr;
    EXPECT_EQ(pk_chan_open(ctx, &ch, &co), 0) << ErrorText(ctx);
    return ch;
}

} // namespace

TEST(MpiChan, EveryTeamShapeGetsEachSingleItemOnceAndInOrderPerPutter) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    for (int P = 1; P <= 4; P++) {
        for (int C = 1; C <= 4 && P + C <= WorldSize(); C++) {
            for (size_t capacity : {size_t{1}, size_t{2}, size_t{1024}}) {
                Shape x{Open(ctx.get(), P, C, capacity), P, C, 1000, {}, 0};
                ASSERT_NE(x.ch, nullptr);
                int rc = pk_team(ctx.get(), P + C, nullptr, ShapeRole, &x);
                EXPECT_EQ(rc, 0) << ErrorText(ctx.get());
                pk_chan_free(x.ch);
                int64_t n = x.items;
                EXPECT_EQ(SumOverRanks(x.out_of_order), 0)
                    << P << "P" << C << "C capacity " << capacity;
                EXPECT_EQ(SumOverRanks(x.got.count), n)
                    << P << "P" << C << "C capacity " << capacity;
                EXPECT_EQ(SumOverRanks(static_cast<int64_t>(x.got.sum)), n * (n + 1) / 2)
                    << P << "P" << C << "C capacity " << capacity;
            }
        }
    }
}

// A putter closes right after a few single items, which it still keeps: the
// getter gets them all, in order, then PK_ECLOSED.
TEST(MpiChan, CloseSendsTheItemsAPutterStillKeeps) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    struct Few {
        pk_chan *ch;
        std::vector<int64_t> seen;
        int end_rc = 1;
    } f{Open(ctx.get(), 1, 1, 1024), {}, 1};
    ASSERT_NE(f.ch, nullptr);
    pk_team_fn fn = [](void *arg, pk_worker *w) {
        auto *x = static_cast<Few *>(arg);
        int64_t v = 0;
        if (w->id == 0) {
            int rc = 0;
            for (v = 1; rc == 0 && v <= 3; v++)
                rc = pk_chan_put(x->ch, &v);
            return rc != 0 ? rc : pk_chan_close(x->ch);
        }
        if (w->id == 1) {
            while ((x->end_rc = pk_chan_get(x->ch, &v)) == 0)
                x->seen.push_back(v);
            return x->end_rc == PK_ECLOSED ? 0 : x->end_rc;
        }
        return 0;
    };
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, fn, &f), 0) << ErrorText(ctx.get());
    if (WorldRank() == 1) {
        EXPECT_EQ(f.seen, (std::vector<int64_t>{1, 2, 3}));
        EXPECT_EQ(f.end_rc, PK_ECLOSED);
    }
    pk_chan_free(f.ch);
}

TEST(MpiChan, AnItemKeptByAPutterGoesOutWhenItWaitsElsewhere) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    PingPong p{OpenRoles(ctx.get(), 0, 1, 1024), OpenRoles(ctx.get(), 1, 0, 1024), 200};
    ASSERT_TRUE(p.ch != nullptr && p.back != nullptr);
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, PingPongRole, &p), 0) << ErrorText(ctx.get());
    EXPECT_EQ(p.wrong, 0);
    pk_chan_free(p.back);
    pk_chan_free(p.ch);
}

// Rank 0 puts an item and waits at a barrier; rank 1 gets it before it comes to
// the barrier. The kept item must go out when rank 0 waits at the barrier.
TEST(MpiChan, AnItemKeptByAPutterGoesOutWhenItWaitsAtABarrier) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    struct AtBarrier {
        pk_chan *ch;
        pk_barrier *barrier = nullptr;
        int64_t got = 0;
    } b{Open(ctx.get(), 1, 1, 1024)};
    ASSERT_NE(b.ch, nullptr);
    ASSERT_EQ(pk_barrier_new(ctx.get(), &b.barrier, 2), 0) << ErrorText(ctx.get());
    pk_team_fn fn = [](void *arg, pk_worker *w) {
        auto *x = static_cast<AtBarrier *>(arg);
        int64_t v = 42;
        int rc = 0;
        if (w->id == 0) {
            rc = pk_chan_put(x->ch, &v);
            rc = rc != 0 ? rc : std::min(pk_barrier_wait(x->barrier, w), 0); // 1: the last
            return rc != 0 ? rc : pk_chan_close(x->ch);
        }
        if (w->id == 1) {
            rc = pk_chan_get(x->ch, &x->got);
            rc = rc != 0 ? rc : std::min(pk_barrier_wait(x->barrier, w), 0); // 1: the last
            rc = rc != 0 ? rc : pk_chan_get(x->ch, &v);
            return rc == PK_ECLOSED ? 0 : (rc == 0 ? PK_EBACKEND : rc);
        }
        return 0;
    };
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, fn, &b), 0) << ErrorText(ctx.get());
    if (WorldRank() == 1)
        EXPECT_EQ(b.got, 42);
    pk_barrier_free(b.barrier);
    pk_chan_free(b.ch);
}

// bind_roles, which binds the roles on threads, changes nothing across ranks,
// where they always bind: one putter and one getter move single items in
// order, and a call in the wrong role is refused with its reason. On one rank
// the rank holds both roles.
TEST(MpiChan, BindRolesIsAcceptedAndTheRolesBind) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int getter = WorldSize() > 1 ? 1 : 0;
    pk_chan_opts co = {};
    co.elem_size = sizeof(int64_t);
    co.capacity = 8;
    co.producers = 1;
    co.consumers = 1;
    const int putter = 0;
    co.putters = &putter;
    co.getters = &getter;
    co.bind_roles = 1;
    struct Bound {
        pk_ctx *ctx = nullptr;
        pk_chan *ch = nullptr;
        int getter = 0;
        int64_t items = 2000, got = 0, out_of_order = 0;
        int wrong_role_rc = 0;
        std::string why;
    } b;
    b.getter = getter;
    b.ctx = ctx.get();
    ASSERT_EQ(pk_chan_open(ctx.get(), &b.ch, &co), 0) << ErrorText(ctx.get());
    pk_team_fn fn = [](void *arg, pk_worker *w) {
        auto *x = static_cast<Bound *>(arg);
        int rc = 0;
        int64_t v = 0;
        if (w->id == x->getter && x->getter != 0) {
            v = 1;
            x->wrong_role_rc = pk_chan_put(x->ch, &v);
            x->why = pk_ctx_error(x->ctx)->message;
        }
        if (w->id == 0) {
            for (int64_t i = 0; rc == 0 && i < x->items; i++) {
                rc = pk_chan_put(x->ch, &i);
                if (rc == 0 && x->getter == 0 && (rc = pk_chan_get(x->ch, &v)) == 0) {
                    x->out_of_order += v != x->got;
                    x->got++;
                }
            }
            rc = rc != 0 ? rc : pk_chan_close(x->ch);
        }
        if (w->id == x->getter) {
            while (rc == 0 && (rc = pk_chan_get(x->ch, &v)) == 0) {
                x->out_of_order += v != x->got;
                x->got++;
            }
            rc = rc == PK_ECLOSED ? 0 : rc;
        }
        return rc;
    };
    EXPECT_EQ(pk_team(ctx.get(), getter + 1, nullptr, fn, &b), 0) << ErrorText(ctx.get());
    pk_chan_free(b.ch);
    if (WorldRank() == getter) {
        EXPECT_EQ(b.got, b.items);
        EXPECT_EQ(b.out_of_order, 0);
    }
    if (getter == 1 && WorldRank() == 1) {
        EXPECT_EQ(b.wrong_role_rc, PK_EINVAL);
        EXPECT_EQ(b.why, "worker 1 is not a putter of this channel");
    }
}
