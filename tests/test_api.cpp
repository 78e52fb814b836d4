// The building blocks for kernels of one's own (parkit/pool.h, parkit/context.h,
// parkit/random.h) on the serial backend and on 1-4 OpenMP threads: pk_agree,
// pk_bcast and pk_rank_barrier without ranks, pk_ctx_fail and the kernel bracket,
// task_base, PK_SCOPE_PROCESS, PK_NO_FAULTS and PK_NO_PROGRESS, pk_ctx_progress,
// worker_begin once per worker, and the counter-based random numbers. The same
// calls on ranks are in tests/mpi/test_mpi_api.cpp.
#include <atomic>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

class Api : public PoolTest {};

int Nothing(void *, int64_t, void *, pk_worker *) {
    return 0;
}

TEST_P(Api, CollectivesAreTheIdentityWithoutRanks) {
    EXPECT_EQ(pk_agree(ctx(), 0), 0);
    EXPECT_EQ(pk_agree(ctx(), PK_ENOMEM), PK_ENOMEM);
    char buf[8] = "abc";
    EXPECT_EQ(pk_bcast(ctx(), buf, sizeof buf), 0);
    EXPECT_STREQ(buf, "abc");
    EXPECT_EQ(pk_bcast(ctx(), nullptr, 4), PK_EINVAL);
    EXPECT_EQ(pk_rank_barrier(ctx()), 0);
    EXPECT_EQ(pk_agree(nullptr, 0), PK_EINVAL);
}

TEST_P(Api, CtxFailNamesTheRunningKernel) {
    pk_kernel_begin(ctx(), "mine");
    EXPECT_EQ(pk_ctx_fail(ctx(), PK_ERANGE, "n = %d is too big", 7), PK_ERANGE);
    pk_kernel_end(ctx());
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(e->code, PK_ERANGE);
    EXPECT_STREQ(e->kernel, "mine");
    EXPECT_EQ(e->rank, -1);
    EXPECT_EQ(e->task, -1);
    EXPECT_EQ(ErrorString(), "mine: n = 7 is too big");
}

int FailAtThree(void *, int64_t t, void *, pk_worker *w) {
    return t == 3 ? pk_fail(w, PK_EIO, "task %lld failed", static_cast<long long>(t)) : 0;
}

TEST_P(Api, TaskBaseShiftsOriginsNotCallbacks) {
    pk_opts o = {};
    o.task_base = 500;
    EXPECT_EQ(pk_tasks(ctx(), 10, &o, FailAtThree, nullptr, nullptr, nullptr), PK_EIO);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 503);
    EXPECT_EQ(std::string(pk_ctx_error(ctx())->message), "task 3 failed"); // the callback's i
    o.task_base = -1;
    EXPECT_EQ(pk_tasks(ctx(), 10, &o, Nothing, nullptr, nullptr, nullptr), PK_EINVAL);
    EXPECT_NE(ErrorString().find("negative task base"), std::string::npos) << ErrorString();
}

TEST_P(Api, TaskBaseFiresFaultsInTheBiggerNumbering) {
    int last = pk_ctx_threads(ctx()) - 1;
    std::string spec = "thread=" + std::to_string(last) + ",task=1005";
    for (int64_t base : {int64_t(0), int64_t(990), int64_t(1000)}) {
        SCOPED_TRACE("base " + std::to_string(base));
        ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
        pk_opts o = {};
        o.task_base = base;
        int rc = pk_tasks(ctx(), 10, &o, Nothing, nullptr, nullptr, nullptr);
        if (base == 1000) { // tasks 1000..1009 hold 1005
            EXPECT_EQ(rc, PK_EINJECTED);
            EXPECT_EQ(pk_ctx_error(ctx())->task, 1005);
            EXPECT_EQ(pk_ctx_error(ctx())->thread, last);
        } else {
            EXPECT_EQ(rc, 0);
            EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
        }
    }
    ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
}

TEST_P(Api, NoFaultsFlagKeepsAnArmedFaultFromFiring) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "task=0"), 0);
    pk_opts o = {};
    o.flags = PK_NO_FAULTS;
    EXPECT_EQ(pk_tasks(ctx(), 5, &o, Nothing, nullptr, nullptr, nullptr), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
    o.flags = 0;
    EXPECT_EQ(pk_tasks(ctx(), 5, &o, Nothing, nullptr, nullptr, nullptr), PK_EINJECTED);
    o.flags = 0x100;
    EXPECT_EQ(pk_tasks(ctx(), 5, &o, Nothing, nullptr, nullptr, nullptr), PK_EINVAL);
    ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
}

struct Progress {
    int calls = 0;
    double last = -1;
};

void CountProgress(void *arg, const char *, double f) {
    auto *p = static_cast<Progress *>(arg);
    p->calls++;
    p->last = f;
}

int SlowChunk(void *, int64_t, int64_t, pk_worker *) {
    volatile double x = 0;
    for (int i = 0; i < 2000; i++)
        x = x + std::sqrt(static_cast<double>(i));
    return 0;
}

TEST_P(Api, NoProgressFlagSilencesTheCall) {
    Progress p;
    pk_ctx_set_progress(ctx(), CountProgress, &p, 1e-9);
    pk_opts o = {};
    o.chunk = 1;
    ASSERT_EQ(pk_for(ctx(), 2000, &o, SlowChunk, nullptr), 0);
    EXPECT_GT(p.calls, 0);
    p.calls = 0;
    o.flags = PK_NO_PROGRESS;
    ASSERT_EQ(pk_for(ctx(), 2000, &o, SlowChunk, nullptr), 0);
    EXPECT_EQ(p.calls, 0);
}

TEST_P(Api, CtxProgressReportsWhenDueAndClamps) {
    Progress p;
    pk_ctx_set_progress(ctx(), CountProgress, &p, 1e-9);
    pk_kernel_begin(ctx(), "chain");
    pk_ctx_progress(ctx(), 0.25);
    EXPECT_EQ(p.calls, 1);
    EXPECT_DOUBLE_EQ(p.last, 0.25);
    pk_ctx_progress(ctx(), 7.0);
    EXPECT_DOUBLE_EQ(p.last, 1.0);
    pk_ctx_set_progress(ctx(), CountProgress, &p, 3600);
    pk_kernel_end(ctx());
    pk_kernel_begin(ctx(), "chain");
    pk_ctx_progress(ctx(), 0.5); // not due for an hour
    pk_kernel_end(ctx());
    EXPECT_EQ(p.calls, 2);
    pk_ctx_set_progress(ctx(), nullptr, nullptr, 0);
    pk_ctx_progress(ctx(), 0.5); // no callback: nothing happens
}

struct Seen {
    std::atomic<int> max_id{-1};
    std::atomic<int> bad{0};
    int nthreads = 0;
};

int ScopeBody(void *arg, int64_t, int64_t, pk_worker *w) {
    auto *s = static_cast<Seen *>(arg);
    if (w->id != w->thread || w->nworkers != w->nthreads || w->nthreads > s->nthreads)
        s->bad++;
    int id = s->max_id.load();
    while (w->id > id && !s->max_id.compare_exchange_weak(id, w->id)) {
    }
    return 0;
}

int SumChunk(void *, int64_t b, int64_t e, void *out, void *acc, pk_worker *) {
    auto *o = static_cast<int64_t *>(out);
    for (int64_t i = b; i < e; i++) {
        o[i - b] = 2 * i;
        *static_cast<int64_t *>(acc) += i;
    }
    return 0;
}

TEST_P(Api, ProcessScopeRunsOnThisProcesssThreads) {
    pk_opts o = {};
    o.scope = PK_SCOPE_PROCESS;
    o.chunk = 10;
    Seen s;
    s.nthreads = pk_ctx_threads(ctx());
    ASSERT_EQ(pk_for(ctx(), 1000, &o, ScopeBody, &s), 0);
    EXPECT_EQ(s.bad.load(), 0);
    EXPECT_LT(s.max_id.load(), s.nthreads);
    std::vector<int64_t> out(1000);
    int64_t sum = 0;
    ASSERT_EQ(pk_map_reduce(ctx(), 1000, &o, SumChunk, nullptr, sizeof(int64_t), out.data(),
                            &pk_sum_i64, &sum),
              0);
    EXPECT_EQ(sum, 999 * 1000 / 2);
    EXPECT_EQ(out[999], 1998);
    o.scope = 5;
    EXPECT_EQ(pk_for(ctx(), 10, &o, ScopeBody, &s), PK_EINVAL);
    EXPECT_NE(ErrorString().find("unknown scope 5"), std::string::npos) << ErrorString();
}

// Without ranks nothing is lent: a solo call runs on the pool's own threads,
// and PK_SOLO asks for process scope.
struct SoloSeen {
    std::atomic<int> calls{0};
    std::atomic<int> bad{0};
    int nthreads = 0;
};

int SoloBody(void *arg, int64_t, int64_t, pk_worker *w) {
    auto *s = static_cast<SoloSeen *>(arg);
    s->calls++;
    if (w->nthreads != s->nthreads || w->nworkers != s->nthreads || w->thread >= s->nthreads)
        s->bad++;
    return 0;
}

TEST_P(Api, SoloThreadsAreThePoolsOwnWithoutRanks) {
    EXPECT_EQ(pk_ctx_solo_threads(ctx()), pk_ctx_threads(ctx()));
    pk_opts o = {};
    o.scope = PK_SCOPE_PROCESS;
    o.flags = PK_SOLO;
    o.chunk = 1;
    SoloSeen s;
    s.nthreads = pk_ctx_threads(ctx());
    ASSERT_EQ(pk_for(ctx(), 64, &o, SoloBody, &s), 0) << ErrorString();
    EXPECT_EQ(s.calls.load(), 64);
    EXPECT_EQ(s.bad.load(), 0);
    o.scope = PK_SCOPE_POOL;
    EXPECT_EQ(pk_for(ctx(), 64, &o, SoloBody, &s), PK_EINVAL);
    EXPECT_NE(ErrorString().find("PK_SOLO is for a call on this process alone"), std::string::npos)
        << ErrorString();
    EXPECT_EQ(s.calls.load(), 64) << "a refused call runs nothing";
    // the waiting side's agreement is pk_agree's identity here
    EXPECT_EQ(pk_agree_solo(ctx(), 0), 0);
    EXPECT_EQ(pk_agree_solo(ctx(), PK_ERANGE), PK_ERANGE);
    EXPECT_EQ(pk_agree_solo(nullptr, 0), PK_EINVAL);
}

struct Hooks {
    std::atomic<int> begins[8];
    std::atomic<int> ends[8];
    Hooks() {
        for (int t = 0; t < 8; t++)
            begins[t] = ends[t] = 0;
    }
};

int Begin(void *arg, pk_worker *w) {
    static_cast<Hooks *>(arg)->begins[w->thread]++;
    return 0;
}

void End(void *arg, pk_worker *w) {
    static_cast<Hooks *>(arg)->ends[w->thread]++;
}

int Idle(void *, int64_t, int64_t, pk_worker *) {
    return 0;
}

TEST_P(Api, WorkerBeginRunsOncePerWorker) {
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        Hooks h;
        pk_opts o = {};
        o.schedule = schedule;
        o.worker_begin = Begin;
        o.worker_end = End;
        ASSERT_EQ(pk_for(ctx(), 100000, &o, Idle, &h), 0);
        for (int t = 0; t < 8; t++) {
            EXPECT_LE(h.begins[t].load(), 1) << "thread " << t;
            EXPECT_EQ(h.ends[t].load(), h.begins[t].load()) << "thread " << t;
        }
    }
}

int AndInit(void *v, void *) {
    *static_cast<uint64_t *>(v) = ~UINT64_C(0);
    return 0;
}

int And(void *into, const void *from, void *) {
    *static_cast<uint64_t *>(into) &= *static_cast<const uint64_t *>(from);
    return 0;
}

TEST_P(Api, CombineWithoutRanksLeavesTheValue) {
    pk_reducer red = {};
    red.type.size = sizeof(uint64_t);
    red.type.init = AndInit;
    red.combine = And;
    uint64_t v = 0xf0f0;
    EXPECT_EQ(pk_combine(ctx(), &red, &v, PK_ON_ALL), 0);
    EXPECT_EQ(v, 0xf0f0u);
}

int ArmedCount(void *arg, int64_t, int64_t, pk_worker *w) {
    if (pk_fault_armed(w))
        static_cast<std::atomic<int> *>(arg)->fetch_add(1);
    return 0;
}

TEST_P(Api, FaultArmedOnlyWhenAFaultMayFire) {
    std::atomic<int> armed{0};
    ASSERT_EQ(pk_for(ctx(), 100, nullptr, ArmedCount, &armed), 0);
    EXPECT_EQ(armed.load(), 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "task=100000"), 0); // armed, never fires here
    ASSERT_EQ(pk_for(ctx(), 100, nullptr, ArmedCount, &armed), 0);
    EXPECT_GT(armed.load(), 0);
    pk_opts o = {};
    o.flags = PK_NO_FAULTS;
    armed = 0;
    ASSERT_EQ(pk_for(ctx(), 100, &o, ArmedCount, &armed), 0);
    EXPECT_EQ(armed.load(), 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
}

TEST_P(Api, ThreadsSettingIsWhatWasSet) {
    int threads = pk_ctx_threads_setting(ctx());
    EXPECT_EQ(threads, GetParam().threads);
    ASSERT_EQ(pk_ctx_set_threads(ctx(), 0), 0);
    EXPECT_EQ(pk_ctx_threads_setting(ctx()), 0);
    EXPECT_GE(pk_ctx_threads(ctx()), 1);
    pk_ctx *sub = nullptr;
    ASSERT_EQ(pk_ctx_subpool(ctx(), &sub, 1), 0);
    EXPECT_EQ(sub, ctx()); // without ranks the whole pool is the only one
    EXPECT_EQ(pk_ctx_subpool(ctx(), &sub, 2), PK_EINVAL);
}

// ---- random numbers -----------------------------------------------------------------

TEST(Random, StreamsAreCounterBased) {
    pk_rng r = pk_rng_at(42, 7);
    std::vector<uint64_t> drawn;
    for (int i = 0; i < 100; i++)
        drawn.push_back(pk_rng_u64(&r));
    pk_rng again = pk_rng_at(42, 7);
    for (uint64_t k = 0; k < 100; k++)
        EXPECT_EQ(pk_rng_nth(&again, k), drawn[k]) << k;
    EXPECT_EQ(std::set<uint64_t>(drawn.begin(), drawn.end()).size(), drawn.size());
    pk_rng zero = pk_rng_at(42, 0);
    EXPECT_EQ(pk_random_u64(42, 3), pk_rng_nth(&zero, 3));
}

TEST(Random, SeedsAndStreamsGiveDifferentNumbers) {
    std::set<uint64_t> firsts;
    for (uint64_t seed = 0; seed < 30; seed++)
        for (uint64_t stream = 0; stream < 30; stream++) {
            pk_rng r = pk_rng_at(seed, stream);
            firsts.insert(pk_rng_u64(&r));
        }
    EXPECT_EQ(firsts.size(), 900u);
}

TEST(Random, DoublesAreUniformInTheUnitInterval) {
    pk_rng r = pk_rng_at(1, 1);
    const int n = 200000, bins = 10;
    int count[bins] = {};
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double x = pk_rng_double(&r);
        ASSERT_GE(x, 0.0);
        ASSERT_LT(x, 1.0);
        count[static_cast<int>(x * bins)]++;
        sum += x;
    }
    EXPECT_NEAR(sum / n, 0.5, 0.005);
    for (int b = 0; b < bins; b++) // expected 20000 each, sd about 134
        EXPECT_NEAR(count[b], n / bins, 800) << "bin " << b;
}

int Darts(void *, int64_t b, int64_t e, void *, void *acc, pk_worker *) {
    pk_rng r = pk_rng_at(2026, static_cast<uint64_t>(b));
    int64_t in = 0;
    for (int64_t i = b; i < e; i++) {
        double x = pk_rng_double(&r), y = pk_rng_double(&r);
        in += x * x + y * y < 1.0;
    }
    *static_cast<int64_t *>(acc) = in;
    return 0;
}

TEST_P(Api, RandomNumbersKeyedToChunksAreTheSameOnEveryPool) {
    static int64_t first = -1; // the first pool's count; every pool must match it
    int64_t in = 0;
    pk_opts o = {};
    o.schedule = PK_DYNAMIC;
    ASSERT_EQ(pk_map_reduce(ctx(), 300000, &o, Darts, nullptr, 0, nullptr, &pk_sum_i64, &in), 0);
    CtxPtr serial = MakeCtx({"serial", 1});
    int64_t alone = 0;
    ASSERT_EQ(pk_map_reduce(serial.get(), 300000, nullptr, Darts, nullptr, 0, nullptr, &pk_sum_i64,
                            &alone),
              0);
    EXPECT_EQ(in, alone);
    if (first < 0)
        first = in;
    EXPECT_EQ(in, first);
}

INSTANTIATE_TEST_SUITE_P(Pools, Api, testing::ValuesIn(AllPools()), PoolName);

} // namespace
