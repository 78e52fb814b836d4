// The pool's building blocks for kernels of one's own, on ranks (hybrid when
// OMP_NUM_THREADS > 1): worker_begin/worker_end once per worker whatever the
// schedule, pk_combine starting from rank 0's value (a reducer whose identity
// is not zero bytes), pk_agree and pk_bcast, task_base in error origins and
// injected faults, PK_SCOPE_PROCESS on one rank alone (with PK_SOLO on the
// threads the node lends it), and random numbers that are the same on every
// pool.
#include <sched.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mpi_test_util.h"
#include "run_end_check.h"

namespace {

constexpr int kMaxThreads = 64;

struct Hooks {
    std::atomic<int> begins[kMaxThreads];
    std::atomic<int> ends[kMaxThreads];
    std::atomic<int> chunks_without_begin{0};
    Hooks() {
        for (int t = 0; t < kMaxThreads; t++) {
            begins[t] = 0;
            ends[t] = 0;
        }
    }
};

int Begin(void *arg, pk_worker *w) {
    auto *h = static_cast<Hooks *>(arg);
    h->begins[w->thread]++;
    w->local = &h->begins[w->thread];
    return 0;
}

void End(void *arg, pk_worker *w) {
    static_cast<Hooks *>(arg)->ends[w->thread]++;
}

int Body(void *arg, int64_t, int64_t, pk_worker *w) {
    if (w->local == nullptr)
        static_cast<Hooks *>(arg)->chunks_without_begin++;
    return 0;
}

} // namespace

TEST(MpiApi, WorkerBeginRunsOncePerWorker) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    struct Case {
        int schedule;
        int64_t chunk;
    };
    for (Case c : {Case{PK_SCHEDULE_DEFAULT, 0}, Case{PK_STATIC, 7}, Case{PK_DYNAMIC, 1},
                   Case{PK_DYNAMIC, 13}}) {
        SCOPED_TRACE("schedule " + std::to_string(c.schedule) + " chunk " +
                     std::to_string(c.chunk));
        Hooks h;
        pk_opts o = {};
        o.schedule = c.schedule;
        o.chunk = c.chunk;
        o.worker_begin = Begin;
        o.worker_end = End;
        ASSERT_EQ(pk_for(ctx.get(), 200000, &o, Body, &h), 0) << ErrorText(ctx.get());
        int threads = pk_ctx_threads(ctx.get());
        ASSERT_LE(threads, kMaxThreads);
        int begun = 0;
        for (int t = 0; t < kMaxThreads; t++) {
            EXPECT_LE(h.begins[t].load(), 1) << "thread " << t << " began more than once";
            EXPECT_EQ(h.ends[t].load(), h.begins[t].load()) << "thread " << t;
            begun += h.begins[t].load();
        }
        EXPECT_GE(begun, 1);
        EXPECT_LE(begun, threads);
        EXPECT_EQ(h.chunks_without_begin.load(), 0);
    }
}

namespace {

// A logical AND over 64-bit masks: its identity is all ones, not zero bytes.
int AndInit(void *v, void *) {
    *static_cast<uint64_t *>(v) = ~UINT64_C(0);
    return 0;
}

int And(void *into, const void *from, void *) {
    *static_cast<uint64_t *>(into) &= *static_cast<const uint64_t *>(from);
    return 0;
}

} // namespace

TEST(MpiApi, CombineStartsFromRankZerosValue) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int rank = pk_ctx_rank(ctx.get()), size = pk_ctx_size(ctx.get());
    uint64_t want = ~UINT64_C(0);
    for (int r = 0; r < size; r++)
        want &= ~(UINT64_C(1) << r);
    // zero bytes as the initial value (no init) and an all-ones initial value:
    // neither may be mixed into the combination
    pk_reducer zero_init = {};
    zero_init.type.size = sizeof(uint64_t);
    zero_init.combine = And;
    pk_reducer ones_init = zero_init;
    ones_init.type.init = AndInit;
    for (const pk_reducer *red : {&zero_init, &ones_init}) {
        for (int where : {PK_ON_ROOT, PK_ON_ALL}) {
            uint64_t v = ~(UINT64_C(1) << rank);
            ASSERT_EQ(pk_combine(ctx.get(), red, &v, where), 0) << ErrorText(ctx.get());
            if (size == 1)
                EXPECT_EQ(v, ~UINT64_C(1));
            else if (rank == 0 || where == PK_ON_ALL)
                EXPECT_EQ(v, want) << "where " << where;
        }
    }
}

TEST(MpiApi, AgreeAndBcastReachEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int rank = pk_ctx_rank(ctx.get()), size = pk_ctx_size(ctx.get());
    EXPECT_EQ(pk_agree(ctx.get(), 0), 0);
    int last = size - 1;
    int rc = rank == last ? pk_ctx_fail(ctx.get(), PK_ENOMEM, "rank %d ran out", rank) : 0;
    EXPECT_EQ(pk_agree(ctx.get(), rc), PK_ENOMEM);
    EXPECT_EQ(std::string(pk_ctx_error(ctx.get())->message),
              "rank " + std::to_string(last) + " ran out");
    char buf[32] = {};
    if (rank == 0)
        std::snprintf(buf, sizeof buf, "from rank 0 of %d", size);
    ASSERT_EQ(pk_bcast(ctx.get(), buf, sizeof buf), 0);
    EXPECT_EQ(std::string(buf), "from rank 0 of " + std::to_string(size));
    EXPECT_EQ(pk_rank_barrier(ctx.get()), 0);
}

namespace {

int Nothing(void *, int64_t, void *, pk_worker *) {
    return 0;
}

} // namespace

TEST(MpiApi, TaskBaseNumbersFaultsAndOrigins) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int last = pk_ctx_size(ctx.get()) - 1;
    std::string spec = "rank=" + std::to_string(last) + ",thread=0,task=1005";
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    pk_opts o = {};
    o.task_base = 1000; // tasks 1000..1009
    EXPECT_EQ(pk_tasks(ctx.get(), 10, &o, Nothing, nullptr, nullptr, nullptr), PK_EINJECTED);
    const pk_error_info *e = pk_ctx_error(ctx.get());
    EXPECT_EQ(e->task, 1005);
    EXPECT_EQ(e->rank, last);
    // a window that does not hold task 1005 runs clean
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    o.task_base = 0;
    EXPECT_EQ(pk_tasks(ctx.get(), 10, &o, Nothing, nullptr, nullptr, nullptr), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx.get()), 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), nullptr), 0);
}

namespace {

int RankTask(void *, int64_t t, void *result, pk_worker *w) {
    *static_cast<int64_t *>(result) = t * 10 + w->rank;
    return 0;
}

} // namespace

TEST(MpiApi, ProcessScopeRunsOnOneRankAlone) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int rank = pk_ctx_rank(ctx.get());
    int rc = 0;
    if (rank == 0) { // the other ranks do not call it, and nobody waits
        pk_opts o = {};
        o.scope = PK_SCOPE_PROCESS;
        int64_t results[50] = {};
        pk_type t = {};
        t.size = sizeof(int64_t);
        rc = pk_tasks(ctx.get(), 50, &o, RankTask, nullptr, &t, results);
        for (int64_t i = 0; rc == 0 && i < 50; i++)
            if (results[i] != i * 10)
                rc = pk_ctx_fail(ctx.get(), PK_EINVAL, "task %lld gave %lld", (long long)i,
                                 (long long)results[i]);
    }
    EXPECT_EQ(pk_agree(ctx.get(), rc), 0) << ErrorText(ctx.get());
}

namespace {

// The CPUs this process may use, and how many ranks of its node may use exactly
// the same ones (the ranks that lend it their threads).
int UsableCpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

int RanksSharingMyCpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int n = 0;
    MPI_Comm_size(node, &n);
    std::vector<cpu_set_t> all(static_cast<size_t>(n));
    MPI_Allgather(&set, sizeof set, MPI_BYTE, all.data(), sizeof set, MPI_BYTE, node);
    MPI_Comm_free(&node);
    int same = 0;
    for (const cpu_set_t &other : all)
        same += CPU_EQUAL(&other, &set) ? 1 : 0;
    return same;
}

struct SoloSeen {
    std::atomic<int> calls{0};
    std::atomic<int> bad{0};
    std::atomic<int> max_thread{-1};
    int nthreads = 0;
};

int SoloBody(void *arg, int64_t, int64_t, pk_worker *w) {
    auto *s = static_cast<SoloSeen *>(arg);
    s->calls++;
    if (w->nthreads != s->nthreads || w->rank != 0 || w->nranks != 1)
        s->bad++;
    int t = s->max_thread.load();
    while (w->thread > t && !s->max_thread.compare_exchange_weak(t, w->thread)) {
    }
    // long enough for every thread to take a task
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return 0;
}

} // namespace

// Rank 0 runs a step alone while the others wait in pk_agree_solo: it may run the
// threads of every rank that shares its CPUs, as many as those CPUs take.
TEST(MpiApi, SoloStepRunsOnTheThreadsTheNodeLends) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int own = pk_ctx_threads(ctx.get()), cpus = UsableCpus();
    int lent = RanksSharingMyCpus() * own, most = cpus > own ? cpus : own;
    int solo = pk_ctx_solo_threads(ctx.get());
    EXPECT_EQ(solo, lent < most ? lent : most)
        << "own " << own << ", cpus " << cpus << ", ranks lending " << lent / own;
    EXPECT_GE(solo, own);
    int rc = 0;
    if (pk_ctx_rank(ctx.get()) == 0) {
        pk_opts o = {};
        o.scope = PK_SCOPE_PROCESS;
        o.flags = PK_SOLO;
        o.chunk = 1;
        SoloSeen s;
        s.nthreads = solo;
        rc = pk_for(ctx.get(), 8 * solo, &o, SoloBody, &s);
        EXPECT_EQ(rc, 0) << ErrorText(ctx.get());
        EXPECT_EQ(s.calls.load(), 8 * solo);
        EXPECT_EQ(s.bad.load(), 0);
        EXPECT_EQ(s.max_thread.load(), solo - 1) << "every lent thread took part";
        EXPECT_EQ(pk_ctx_threads_obtained(ctx.get()), own) << "a solo step is not the pool's";
    }
    EXPECT_EQ(pk_agree_solo(ctx.get(), rc), 0);
    // and it agrees like pk_agree: a failure on the last rank reaches everyone
    int last = pk_ctx_size(ctx.get()) - 1;
    rc = pk_ctx_rank(ctx.get()) == last ? pk_ctx_fail(ctx.get(), PK_ERANGE, "solo step failed") : 0;
    EXPECT_EQ(pk_agree_solo(ctx.get(), rc), PK_ERANGE);
    EXPECT_NE(std::string(pk_ctx_error(ctx.get())->message).find("solo step failed"),
              std::string::npos);
    pk_ctx_clear_error(ctx.get());
}

double ProcessCpuSeconds() {
    timespec ts = {};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The ranks that wait in pk_agree_solo leave their cores: over a 300 ms step on
// rank 0 they use a small part of that in processor time (MPI's own blocking
// wait polls, and would use about all of it).
TEST(MpiApi, RanksWaitingInAgreeSoloLeaveTheirCores) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    ASSERT_EQ(pk_agree(ctx.get(), 0), 0);
    double wall = pk_time_now(), cpu = ProcessCpuSeconds();
    if (pk_ctx_rank(ctx.get()) == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(pk_agree_solo(ctx.get(), 0), 0);
    wall = pk_time_now() - wall;
    cpu = ProcessCpuSeconds() - cpu;
    if (pk_ctx_rank(ctx.get()) != 0) {
        EXPECT_GE(wall, 0.25);
        EXPECT_LT(cpu, 0.25 * wall) << "waited " << wall << " s using " << cpu << " s of CPU";
    }
}

namespace {

constexpr uint64_t kSeed = 2026;

int Darts(void *, int64_t b, int64_t e, void *, void *acc, pk_worker *) {
    pk_rng r = pk_rng_at(kSeed, static_cast<uint64_t>(b));
    int64_t in = 0;
    for (int64_t i = b; i < e; i++) {
        double x = pk_rng_double(&r), y = pk_rng_double(&r);
        in += x * x + y * y < 1.0;
    }
    *static_cast<int64_t *>(acc) = in;
    return 0;
}

} // namespace

TEST(MpiApi, RandomNumbersKeyedToChunksAreTheSameOnEveryPool) {
    MpiCtx ctx = WorldCtx();
    MpiCtx serial = SerialCtx();
    ASSERT_NE(ctx, nullptr);
    ASSERT_NE(serial, nullptr);
    int64_t on_pool = 0, alone = 0;
    pk_opts o = {};
    o.schedule = PK_DYNAMIC;
    o.where = PK_ON_ALL;
    ASSERT_EQ(
        pk_map_reduce(ctx.get(), 300000, &o, Darts, nullptr, 0, nullptr, &pk_sum_i64, &on_pool), 0);
    ASSERT_EQ(pk_map_reduce(serial.get(), 300000, nullptr, Darts, nullptr, 0, nullptr, &pk_sum_i64,
                            &alone),
              0);
    EXPECT_EQ(on_pool, alone);
    EXPECT_GT(alone, 300000 * 3 / 4); // pi/4 of the darts, about 235600
    EXPECT_LT(alone, 300000 * 4 / 5);
}

namespace {

int Ones(void *, int64_t b, int64_t e, void *, void *acc, pk_worker *) {
    *static_cast<int64_t *>(acc) = e - b;
    return 0;
}

} // namespace

// pk_map_reduce's rule is the same on ranks as on threads: the reduction is
// combined into the caller's value (result (+)= reduction), so calls accumulate.
TEST(MpiApi, MapReduceCombinesIntoTheCallersValue) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    for (int where : {PK_ON_ROOT, PK_ON_ALL}) {
        for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
            pk_opts o = {};
            o.where = where;
            o.schedule = schedule;
            int64_t acc = 1000;
            ASSERT_EQ(
                pk_map_reduce(ctx.get(), 5000, &o, Ones, nullptr, 0, nullptr, &pk_sum_i64, &acc),
                0);
            ASSERT_EQ(
                pk_map_reduce(ctx.get(), 70, &o, Ones, nullptr, 0, nullptr, &pk_sum_i64, &acc), 0);
            if (pk_ctx_rank(ctx.get()) == 0 || where == PK_ON_ALL)
                EXPECT_EQ(acc, 6070) << "where " << where << " schedule " << schedule;
            int64_t untouched = 42;
            ASSERT_EQ(
                pk_map_reduce(ctx.get(), 0, &o, Ones, nullptr, 0, nullptr, &pk_sum_i64, &untouched),
                0);
            EXPECT_EQ(untouched, 42);
        }
    }
}

// ---- the rest of the building blocks on ranks, as tests/test_api.cpp has them on
// threads: the flags, pk_ctx_progress, pk_fault_armed, pk_ctx_threads_setting and
// sub-pools.

namespace {

struct Progress {
    int calls = 0;
    double last = -1;
};

void CountProgress(void *arg, const char *, double f) {
    auto *p = static_cast<Progress *>(arg);
    p->calls++;
    p->last = f;
}

int Busy(void *, int64_t, int64_t, pk_worker *) {
    volatile double x = 0;
    for (int i = 0; i < 20000; i++)
        x = x + 1.0 / (i + 1);
    return 0;
}

int FailAtThree(void *, int64_t t, void *, pk_worker *w) {
    return t == 3 ? pk_fail(w, PK_EIO, "task 3 failed") : 0;
}

int ArmedCount(void *arg, int64_t, int64_t, pk_worker *w) {
    if (pk_fault_armed(w))
        __atomic_add_fetch(static_cast<int *>(arg), 1, __ATOMIC_RELAXED);
    return 0;
}

} // namespace

TEST(MpiApi, FlagsKeepFaultsAndProgressOut) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int last = pk_ctx_size(ctx.get()) - 1;
    std::string spec = "rank=" + std::to_string(last) + ",task=2";
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    pk_opts o = {};
    o.flags = PK_NO_FAULTS;
    EXPECT_EQ(pk_tasks(ctx.get(), 8, &o, Nothing, nullptr, nullptr, nullptr), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx.get()), 0);
    o.flags = 0;
    EXPECT_EQ(pk_tasks(ctx.get(), 8, &o, Nothing, nullptr, nullptr, nullptr), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx.get())->rank, last);
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), nullptr), 0);

    Progress p;
    pk_ctx_set_progress(ctx.get(), CountProgress, &p, 1e-9);
    pk_opts q = {};
    q.chunk = 1;
    q.flags = PK_NO_PROGRESS;
    ASSERT_EQ(pk_for(ctx.get(), 400, &q, Busy, nullptr), 0);
    EXPECT_EQ(p.calls, 0);
    q.flags = 0;
    ASSERT_EQ(pk_for(ctx.get(), 400, &q, Busy, nullptr), 0);
    if (pk_ctx_rank(ctx.get()) == 0)
        EXPECT_GT(p.calls, 0);
    else
        EXPECT_EQ(p.calls, 0) << "progress is reported on rank 0 only";
    pk_ctx_set_progress(ctx.get(), nullptr, nullptr, 0);
}

// pk_worker_run_end on ranks, checked as on threads: 100 chunks make several
// parts of each rank's share, which one thread per rank runs as one run.
TEST(MpiApi, WorkerRunEndIsWhereTheWorkersConsecutiveChunksStop) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        SCOPED_TRACE("schedule " + std::to_string(schedule));
        RunEnds r;
        pk_opts o = {};
        o.schedule = schedule;
        o.chunk = 2;
        ASSERT_EQ(pk_for(ctx.get(), 200, &o, RecordRunEnd, &r), 0);
        ExpectRunEnds(r, 200, schedule);
    }
}

// Calls far shorter than a quarter of the interval, one after the other for
// several intervals: rank 0 still reports, as on threads.
TEST(MpiApi, ProgressCarriesAcrossCallsShorterThanTheInterval) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Progress p;
    pk_ctx_set_progress(ctx.get(), CountProgress, &p, 0.02);
    auto brief = [](void *, int64_t, int64_t, pk_worker *) -> int {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        return 0;
    };
    pk_opts o = {};
    o.schedule = PK_STATIC; // thread 0 of rank 0, which reports, surely runs chunks
    o.chunk = 1;
    int n = 2 * pk_ctx_size(ctx.get());    // a call lasts 200 us at least
    for (int call = 0; call < 300; call++) // 60 ms at least: three intervals
        ASSERT_EQ(pk_for(ctx.get(), n, &o, brief, nullptr), 0);
    pk_ctx_set_progress(ctx.get(), nullptr, nullptr, 0);
    if (pk_ctx_rank(ctx.get()) == 0)
        EXPECT_GE(p.calls, 2);
    else
        EXPECT_EQ(p.calls, 0) << "progress is reported on rank 0 only";
    EXPECT_LE(p.last, 1.0);
}

// One rank sleeps through each of its chunks; the others compute theirs in a
// few microseconds. The slow rank sleeps rather than computes so that, with
// more ranks than cores, it does not take the CPU from rank 0: rank 0 would
// have to be held off for 200 ms times a fifth of the slow block before a
// check below could see the wrong thing. Its whole block takes about 200 ms.
struct SlowRank {
    int rank;
    int ranks;
};

int SlowOnOneRank(void *arg, int64_t, int64_t, pk_worker *w) {
    const SlowRank *s = static_cast<SlowRank *>(arg);
    if (w->rank == s->rank) {
        std::this_thread::sleep_for(std::chrono::microseconds(1000 * s->ranks));
        return 0;
    }
    volatile double x = 0;
    for (int i = 0; i < 2000; i++)
        x = x + 1.0 / (i + 1);
    return 0;
}

// Rank 0 shows the progress of the whole pool: every rank counts its chunks in
// (a static schedule gives rank 0 its own block, 1/R of them). With rank 0 the
// slowest, its last reports see the other blocks done too; with rank 0 the
// fastest, they see the others' blocks still mostly to do.
TEST(MpiApi, ProgressOnRankZeroCountsEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int ranks = pk_ctx_size(ctx.get());
    for (int slow : {0, ranks - 1}) {
        Progress p;
        pk_ctx_set_progress(ctx.get(), CountProgress, &p, 1e-9);
        pk_opts q = {};
        q.chunk = 1;
        q.schedule = PK_STATIC;
        SlowRank arg = {slow, ranks};
        ASSERT_EQ(pk_for(ctx.get(), 200, &q, SlowOnOneRank, &arg), 0);
        pk_ctx_set_progress(ctx.get(), nullptr, nullptr, 0);
        if (pk_ctx_rank(ctx.get()) != 0) {
            EXPECT_EQ(p.calls, 0);
            continue;
        }
        ASSERT_GT(p.calls, 0);
        EXPECT_LE(p.last, 1.0);
        if (ranks > 1 && slow == 0)
            EXPECT_GT(p.last, 1.0 / ranks + 0.25) << "the others' blocks are done";
        if (ranks > 1 && slow != 0)
            EXPECT_LT(p.last, 0.9) << "rank 0's block is done, not the slow rank's";
    }
}

TEST(MpiApi, CtxProgressIsReportedOnRankZeroOnly) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Progress p;
    pk_ctx_set_progress(ctx.get(), CountProgress, &p, 1e-9);
    pk_kernel_begin(ctx.get(), "chain");
    pk_ctx_progress(ctx.get(), 0.5);
    pk_ctx_progress(ctx.get(), 3.0);
    pk_kernel_end(ctx.get());
    pk_ctx_set_progress(ctx.get(), nullptr, nullptr, 0);
    if (pk_ctx_rank(ctx.get()) == 0) {
        EXPECT_EQ(p.calls, 2);
        EXPECT_DOUBLE_EQ(p.last, 1.0);
    } else {
        EXPECT_EQ(p.calls, 0);
    }
}

TEST(MpiApi, FaultArmedOnlyWhenAFaultMayFire) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int armed = 0;
    ASSERT_EQ(pk_for(ctx.get(), 100, nullptr, ArmedCount, &armed), 0);
    EXPECT_EQ(armed, 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), "task=100000"), 0); // armed, never fires here
    ASSERT_EQ(pk_for(ctx.get(), 100, nullptr, ArmedCount, &armed), 0);
    int64_t total = armed;
    ASSERT_EQ(pk_combine(ctx.get(), &pk_sum_i64, &total, PK_ON_ALL), 0);
    EXPECT_GT(total, 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), nullptr), 0);
}

TEST(MpiApi, SubpoolsOfTheFirstRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int size = pk_ctx_size(ctx.get()), rank = pk_ctx_rank(ctx.get());
    ASSERT_EQ(pk_ctx_set_threads(ctx.get(), 1), 0);
    EXPECT_EQ(pk_ctx_threads_setting(ctx.get()), 1);
    pk_ctx *whole = nullptr;
    ASSERT_EQ(pk_ctx_subpool(ctx.get(), &whole, size), 0);
    EXPECT_EQ(whole, ctx.get()); // the whole pool is the context itself
    pk_ctx *sub = nullptr;
    int k = size > 1 ? size - 1 : 1;
    ASSERT_EQ(pk_ctx_subpool(ctx.get(), &sub, k), 0) << ErrorText(ctx.get());
    if (rank < k) {
        ASSERT_NE(sub, nullptr);
        EXPECT_EQ(pk_ctx_size(sub), k);
        EXPECT_EQ(pk_ctx_threads_setting(sub), 1);
        if (sub != ctx.get()) {
            EXPECT_EQ(pk_tasks(sub, 4, nullptr, FailAtThree, nullptr, nullptr, nullptr), PK_EIO);
            pk_ctx_subpool_done(ctx.get(), sub);
            EXPECT_EQ(pk_ctx_error(ctx.get())->code, PK_EIO);
            pk_ctx_free(sub);
        }
    } else {
        EXPECT_EQ(sub, nullptr);
    }
    EXPECT_EQ(pk_ctx_subpool(ctx.get(), &sub, size + 1), PK_EINVAL);
    ASSERT_EQ(pk_ctx_set_threads(ctx.get(), 0), 0);
    EXPECT_EQ(pk_ctx_threads_setting(ctx.get()), 0);
}
