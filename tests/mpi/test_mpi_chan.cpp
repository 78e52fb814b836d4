// Channels between ranks: every item put by the producer ranks is got exactly
// once by the consumer ranks, whatever the capacity (also below the number of
// producers) and batch; the channel never holds more than its capacity; the
// non-blocking calls do not block; and a failing worker wakes the peers that
// are blocked on it, so the team returns the failing worker's error everywhere.
#include <time.h>

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
    co.producers = 1;
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
