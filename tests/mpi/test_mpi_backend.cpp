// The MPI backend's context under mpirun: rank and size, its own communicator,
// the start-up helpers of parkit/mpi.h, the default thread count (never more
// threads than cores on a node), contexts on part of the world, and the sweep
// over sub-pools of the first k ranks.
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "mpi_test_util.h"

TEST(MpiBackend, ContextMatchesTheWorld) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    EXPECT_STREQ(pk_ctx_backend(ctx.get()), "mpi");
    EXPECT_EQ(pk_ctx_rank(ctx.get()), WorldRank());
    EXPECT_EQ(pk_ctx_size(ctx.get()), WorldSize());
    MPI_Comm comm = pk_ctx_comm(ctx.get());
    ASSERT_NE(comm, MPI_COMM_NULL);
    int cmp = MPI_UNEQUAL;
    MPI_Comm_compare(comm, MPI_COMM_WORLD, &cmp);
    EXPECT_EQ(cmp, MPI_CONGRUENT) << "a duplicate of the world, not the world itself";
    int eh_is_return = 0;
    MPI_Errhandler eh;
    MPI_Comm_get_errhandler(comm, &eh);
    eh_is_return = eh == MPI_ERRORS_RETURN;
    MPI_Errhandler_free(&eh);
    EXPECT_TRUE(eh_is_return);
}

TEST(MpiBackend, StartUpHelpers) {
    EXPECT_EQ(pk_mpi_launched(), 1) << "run under mpirun";
    int provided = -1;
    EXPECT_EQ(pk_mpi_init(nullptr, nullptr, &provided), 0) << "already initialized: reports";
    EXPECT_GE(provided, MPI_THREAD_FUNNELED);
    EXPECT_STREQ(pk_mpi_thread_level_name(MPI_THREAD_FUNNELED), "MPI_THREAD_FUNNELED");
    EXPECT_STREQ(pk_mpi_thread_level_name(MPI_THREAD_MULTIPLE), "MPI_THREAD_MULTIPLE");
    EXPECT_EQ(pk_mpi_finalize(), 0) << "not ours to finalize: a no-op";
    int finalized = 1;
    MPI_Finalized(&finalized);
    EXPECT_EQ(finalized, 0);
    pk_ctx *serial = nullptr;
    ASSERT_EQ(pk_ctx_new(&serial, "serial"), 0);
    EXPECT_EQ(pk_ctx_comm(serial), MPI_COMM_NULL);
    pk_ctx_free(serial);
}

TEST(MpiBackend, AutoPicksMpiWithSeveralRanks) {
    unsetenv("PARKIT_BACKEND");
    pk_ctx *c = nullptr;
    ASSERT_EQ(pk_ctx_new(&c, "auto"), 0);
    EXPECT_STREQ(pk_ctx_backend(c), WorldSize() > 1      ? "mpi"
                                    : PARKIT_WITH_OPENMP ? "omp"
                                                         : "serial");
    pk_ctx_free(c);
}

static int CoresHere() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
}

static int RanksOnThisNode() {
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int n = 1;
    MPI_Comm_size(node, &n);
    MPI_Comm_free(&node);
    return n;
}

TEST(MpiBackend, DefaultThreadsFollowOmpNumThreads) {
    const char *saved = getenv("OMP_NUM_THREADS");
    std::string keep = saved ? saved : "";
    setenv("OMP_NUM_THREADS", "3", 1);
    MpiCtx three = WorldCtx();
    setenv("OMP_NUM_THREADS", "5,2", 1); // a nested list: the first level
    MpiCtx five = WorldCtx();
    unsetenv("OMP_NUM_THREADS");
    MpiCtx none = WorldCtx();
    if (saved)
        setenv("OMP_NUM_THREADS", keep.c_str(), 1);
    ASSERT_TRUE(three && five && none);
    if (!PARKIT_WITH_OPENMP) { // the serial executor: one thread, whatever is asked
        EXPECT_EQ(pk_ctx_threads(three.get()), 1);
        EXPECT_EQ(pk_ctx_threads(none.get()), 1);
        return;
    }
    EXPECT_EQ(pk_ctx_threads(three.get()), 3);
    EXPECT_EQ(pk_ctx_threads(five.get()), 5);
    // Without OMP_NUM_THREADS: the cores shared among the ranks of the node,
    // never fewer than one, never more threads in all than cores (or ranks).
    int t = pk_ctx_threads(none.get()), node = RanksOnThisNode(), cores = CoresHere();
    EXPECT_GE(t, 1);
    EXPECT_LE(t * node, cores > node ? cores : node);
    EXPECT_EQ(t, cores / node > 0 ? cores / node : 1);
    EXPECT_EQ(pk_ctx_set_threads(none.get(), 2), 0);
    EXPECT_EQ(pk_ctx_threads(none.get()), 2);
}

TEST(MpiBackend, ContextOnPartOfTheWorld) {
    int k = (WorldSize() + 1) / 2;
    MpiCtx part = FirstRanksCtx(k);
    EXPECT_EQ(part != nullptr, WorldRank() < k);
    if (part) {
        EXPECT_EQ(pk_ctx_size(part.get()), k);
        EXPECT_EQ(pk_ctx_rank(part.get()), WorldRank());
    }
    // a pool call on the part only involves its ranks
    int64_t sum = 0;
    if (part) {
        pk_opts o = {};
        o.chunk = 3;
        ASSERT_EQ(pk_map_reduce(
                      part.get(), 100, &o,
                      [](void *, int64_t b, int64_t e, void *, void *acc, pk_worker *) {
                          for (int64_t i = b; i < e; i++)
                              *static_cast<int64_t *>(acc) += i;
                          return 0;
                      },
                      nullptr, 0, nullptr, &pk_sum_i64, &sum),
                  0);
        EXPECT_EQ(sum, 99 * 100 / 2);
    }
    pk_ctx *none = nullptr;
    EXPECT_EQ(pk_ctx_new_mpi(&none, MPI_COMM_NULL), PK_EBACKEND);
    EXPECT_EQ(none, nullptr);
}

struct SweepCount {
    int calls = 0;
    int max_size = 0;
};

static int CountedSquares(pk_ctx *c, void *arg) {
    auto *s = static_cast<SweepCount *>(arg);
    s->calls++;
    if (pk_ctx_size(c) > s->max_size)
        s->max_size = pk_ctx_size(c);
    pk_i128 sum, want;
    int rc = pk_squares(c, 1, 1000003, PK_SQUARES_SUM_ONLY, nullptr, &sum);
    pk_squares_expected(1, 1000003, &want);
    return rc == 0 && !pk_i128_eq(sum, want) ? PK_EVALIDATE : rc;
}

TEST(MpiBackend, SweepOverSubPools) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    std::vector<int> ranks;
    for (int k = 1; k <= WorldSize(); k *= 2)
        ranks.push_back(k);
    if (ranks.back() != WorldSize())
        ranks.push_back(WorldSize());
    int threads[] = {1};
    pk_sweep sw = {};
    sw.threads = threads;
    sw.nthreads = 1;
    sw.ranks = ranks.data();
    sw.nranks = static_cast<int>(ranks.size());
    sw.repeat = 2;
    sw.warmup = 1;
    sw.work = 1;
    std::vector<pk_stats> rows(ranks.size());
    SweepCount count;
    ASSERT_EQ(pk_sweep_run(ctx.get(), &sw, CountedSquares, &count, rows.data()), 0)
        << ErrorText(ctx.get());
    int expected_calls = 0;
    for (size_t i = 0; i < ranks.size(); i++) {
        EXPECT_EQ(rows[i].ranks, ranks[i]);
        EXPECT_EQ(rows[i].runs, 2);
        EXPECT_GT(rows[i].median, 0.0);
        EXPECT_TRUE(SameOnAllRanks(static_cast<int64_t>(rows[i].median * 1e9)))
            << "rank 0's rows are every rank's";
        if (WorldRank() < ranks[i])
            expected_calls += 3;
    }
    EXPECT_EQ(count.calls, expected_calls) << "ranks outside a sub-pool wait";
    EXPECT_EQ(count.max_size, WorldSize());
}

// A deterministic failure on rank 0 of the sub-pool, agreed like any other.
static int FailInSubPool(pk_ctx *c, void *) {
    pk_opts o = {};
    o.label = "subpool";
    return pk_for(
        c, 10, &o,
        [](void *, int64_t, int64_t, pk_worker *w) {
            return w->rank == 0 && w->task == 0 ? pk_fail(w, PK_ERANGE, "sub-pool says no") : 0;
        },
        nullptr);
}

TEST(MpiBackend, SweepErrorReachesRanksOutsideTheSubPool) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int ranks[] = {1};
    pk_sweep sw = {};
    sw.ranks = ranks;
    sw.nranks = 1;
    sw.repeat = 1;
    sw.work = 1;
    pk_stats row;
    int rc = pk_sweep_run(ctx.get(), &sw, FailInSubPool, nullptr, &row);
    EXPECT_EQ(rc, PK_ERANGE);
    EXPECT_EQ(ErrorText(ctx.get()), "subpool: rank 0, thread 0, task 0: sub-pool says no");
    EXPECT_TRUE(SameOnAllRanks(rc));
}
