// Error agreement across ranks: a fault injected on the first, a middle or the
// last rank, in the first or the last task, of pk_for, pk_map_reduce and pk_tasks
// under both schedules, comes back from every rank with the same code, the
// same text and the origin it was injected at, and the other ranks stop early;
// when several ranks fail at once exactly one error is reported, the lowest
// rank's, and a first-hand error beats an "aborted" consequence.
#include <time.h>

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "mpi_test_util.h"

namespace {

enum Call { FOR_STATIC, FOR_DYNAMIC, MAP_STATIC, MAP_DYNAMIC, TASKS };

const char *CallName(Call c) {
    static const char *const names[] = {"pk_for static", "pk_for dynamic", "map static",
                                        "map dynamic", "tasks"};
    return names[c];
}

struct Work {
    std::atomic<int64_t> ran{0};
};

int CountFor(void *arg, int64_t, int64_t, pk_worker *) {
    static_cast<Work *>(arg)->ran++;
    return 0;
}

int CountMap(void *arg, int64_t b, int64_t e, void *out, void *acc, pk_worker *) {
    static_cast<Work *>(arg)->ran++;
    for (int64_t i = b; i < e; i++)
        static_cast<int64_t *>(out)[i - b] = i;
    *static_cast<int64_t *>(acc) = e - b;
    return 0;
}

int CountTask(void *arg, int64_t t, void *result, pk_worker *) {
    static_cast<Work *>(arg)->ran++;
    *static_cast<int64_t *>(result) = t;
    return 0;
}

const int64_t kChunks = 64; // chunk 1: chunk = task for every call

// Runs one call with the context's fault armed; returns its code, and in *bad
// how many results on this rank are wrong after a success.
int RunCall(pk_ctx *ctx, Call c, Work *w, int64_t *bad) {
    pk_opts o = {};
    o.chunk = 1;
    o.schedule = c == FOR_DYNAMIC || c == MAP_DYNAMIC || c == TASKS ? PK_DYNAMIC : PK_STATIC;
    o.label = "probe";
    std::vector<int64_t> out(WorldRank() == 0 ? kChunks : 0);
    int64_t *outp = out.empty() ? nullptr : out.data();
    pk_type plain = {sizeof(int64_t), nullptr, nullptr, nullptr, nullptr, nullptr};
    int64_t sum = 0;
    int rc = PK_EINVAL;
    *bad = 0;
    switch (c) {
    case FOR_STATIC:
    case FOR_DYNAMIC:
        return pk_for(ctx, kChunks, &o, CountFor, w);
    case MAP_STATIC:
    case MAP_DYNAMIC:
        rc = pk_map_reduce(ctx, kChunks, &o, CountMap, w, sizeof(int64_t), outp, &pk_sum_i64, &sum);
        *bad += rc == 0 && sum != kChunks;
        break;
    case TASKS:
        rc = pk_tasks(ctx, kChunks, &o, CountTask, w, &plain, outp);
        break;
    }
    for (int64_t i = 0; rc == 0 && i < static_cast<int64_t>(out.size()); i++)
        *bad += out[static_cast<size_t>(i)] != i;
    return rc;
}

void ExpectSameEverywhere(pk_ctx *ctx, int rc) {
    EXPECT_TRUE(SameOnAllRanks(rc));
    auto texts = AllTexts(ErrorText(ctx));
    for (size_t r = 1; r < texts.size(); r++)
        EXPECT_EQ(texts[r], texts[0]) << "rank " << r << " reports another error";
}

} // namespace

TEST(MpiFaults, InjectedFaultIsAgreedWithItsOrigin) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int p = WorldSize();
    std::set<int> ranks = {0, p / 2, p - 1};
    for (int r : ranks) {
        for (int64_t task : {int64_t{0}, kChunks - 1}) {
            for (Call c : {FOR_STATIC, FOR_DYNAMIC, MAP_STATIC, MAP_DYNAMIC, TASKS}) {
                std::string spec =
                    "kernel=probe,rank=" + std::to_string(r) + ",task=" + std::to_string(task);
                ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
                Work w;
                int64_t bad = 0;
                int rc = RunCall(ctx.get(), c, &w, &bad);
                const pk_error_info *e = pk_ctx_error(ctx.get());
                EXPECT_EQ(rc, PK_EINJECTED) << spec << " " << CallName(c);
                EXPECT_EQ(e->rank, r) << spec << " " << CallName(c);
                EXPECT_EQ(e->task, task) << spec << " " << CallName(c);
                EXPECT_STREQ(e->kernel, "probe");
                EXPECT_EQ(pk_ctx_fault_fired(ctx.get()), 1);
                ExpectSameEverywhere(ctx.get(), rc);
            }
        }
    }
    pk_ctx_set_fault(ctx.get(), nullptr);
}

TEST(MpiFaults, FaultOnANamedThreadFiresWhereThatThreadExists) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int r = WorldSize() - 1;
    std::string spec = "kernel=probe,rank=" + std::to_string(r) + ",thread=1,task=5";
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    // rank r decides; OMP_NUM_THREADS is the same everywhere in these runs
    int64_t threads = pk_ctx_threads(ctx.get());
    ASSERT_TRUE(SameOnAllRanks(threads));
    for (Call c : {FOR_STATIC, MAP_DYNAMIC, TASKS}) {
        Work w;
        int64_t bad = 0;
        int rc = RunCall(ctx.get(), c, &w, &bad);
        if (threads >= 2) {
            EXPECT_EQ(rc, PK_EINJECTED) << CallName(c);
            EXPECT_EQ(ErrorText(ctx.get()),
                      "probe: rank " + std::to_string(r) + ", thread 1, task 5: injected fault");
        } else { // no thread 1: nothing fires, and the moved chunk still counts
            EXPECT_EQ(rc, 0) << CallName(c) << ": " << ErrorText(ctx.get());
            EXPECT_EQ(pk_ctx_fault_fired(ctx.get()), 0);
            EXPECT_EQ(SumOverRanks(w.ran.load()), kChunks);
            EXPECT_EQ(bad, 0) << CallName(c) << ": results of the moved chunk are in place";
        }
        ExpectSameEverywhere(ctx.get(), rc);
    }
    pk_ctx_set_fault(ctx.get(), nullptr);
}

TEST(MpiFaults, FaultOnARankWithoutATaskFiresInThatRanksBlock) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int r = WorldSize() / 2;
    std::string spec = "kernel=probe,rank=" + std::to_string(r);
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    Work w;
    int64_t bad = 0;
    int rc = RunCall(ctx.get(), FOR_STATIC, &w, &bad);
    EXPECT_EQ(rc, PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx.get())->rank, r);
    pk_opts o = {};
    o.chunk = 1;
    int64_t b = 0, e = 0;
    pk_local_range(ctx.get(), kChunks, &o, &b, &e);
    int64_t task = pk_ctx_error(ctx.get())->task;
    int64_t mine = WorldRank() == r ? (task >= b && task < e) : 0;
    EXPECT_EQ(SumOverRanks(mine), 1) << "task " << task << " is rank " << r << "'s";
    ExpectSameEverywhere(ctx.get(), rc);
    pk_ctx_set_fault(ctx.get(), nullptr);
}

static int SlowChunk(void *arg, int64_t, int64_t, pk_worker *) {
    static_cast<Work *>(arg)->ran++;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, nullptr);
    return 0;
}

TEST(MpiFaults, OtherRanksStopEarly) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int64_t n = 400; // 5 ms each: 2 s of work in all
    std::string spec = "kernel=slow,rank=" + std::to_string(WorldSize() - 1) + ",task=0";
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        pk_opts o = {};
        o.chunk = 1;
        o.schedule = schedule;
        o.label = "slow";
        Work w;
        MPI_Barrier(MPI_COMM_WORLD);
        EXPECT_EQ(pk_for(ctx.get(), n, &o, SlowChunk, &w), PK_EINJECTED);
        EXPECT_LT(SumOverRanks(w.ran.load()), n / 2) << "schedule " << schedule;
    }
    pk_ctx_set_fault(ctx.get(), nullptr);
}

TEST(MpiFaults, LowestFailingRankWins) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_opts o = {};
    o.label = "many";
    int rc = pk_for(
        ctx.get(), 1000, &o,
        [](void *, int64_t, int64_t, pk_worker *w) {
            return w->rank % 2 == 1 ? pk_fail(w, PK_ERANGE, "rank %d refuses", w->rank) : 0;
        },
        nullptr);
    if (WorldSize() == 1) {
        EXPECT_EQ(rc, 0);
        return;
    }
    EXPECT_EQ(rc, PK_ERANGE);
    EXPECT_EQ(pk_ctx_error(ctx.get())->rank, 1);
    EXPECT_STREQ(pk_ctx_error(ctx.get())->message, "rank 1 refuses");
    ExpectSameEverywhere(ctx.get(), rc);
}

TEST(MpiFaults, FirstHandErrorBeatsAnAbort) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_opts o = {};
    o.label = "mixed";
    int last = WorldSize() - 1;
    int rc = pk_for(
        ctx.get(), 1000, &o,
        [](void *arg, int64_t, int64_t, pk_worker *w) {
            int last_rank = *static_cast<int *>(arg);
            if (w->rank == last_rank && w->rank > 0)
                return pk_fail(w, PK_EOVERFLOW, "the real cause");
            if (w->rank == 0)
                return pk_fail(w, PK_EABORTED, "a consequence");
            return 0;
        },
        &last);
    if (WorldSize() == 1) {
        EXPECT_EQ(rc, PK_EABORTED);
        return;
    }
    EXPECT_EQ(rc, PK_EOVERFLOW);
    EXPECT_EQ(pk_ctx_error(ctx.get())->rank, last);
    EXPECT_STREQ(pk_ctx_error(ctx.get())->message, "the real cause");
    ExpectSameEverywhere(ctx.get(), rc);
}

TEST(MpiFaults, ArgumentErrorsAreTheSameEverywhere) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int rc = pk_for(ctx.get(), -5, nullptr, CountFor, nullptr);
    EXPECT_EQ(rc, PK_EINVAL);
    ExpectSameEverywhere(ctx.get(), rc);
    pk_i128 sum;
    rc = pk_squares(ctx.get(), INT64_C(3037000400), 1000, PK_ON_ROOT, nullptr, &sum);
    EXPECT_EQ(rc, PK_EOVERFLOW);
    EXPECT_NE(ErrorText(ctx.get()).find("3037000500 squared"), std::string::npos)
        << ErrorText(ctx.get());
    ExpectSameEverywhere(ctx.get(), rc);
}

TEST(MpiFaults, ErrorCallbackRunsOnceOnRankZero) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), "kernel=cb,task=3"), 0);
    struct Seen {
        int calls = 0;
        int code = 0;
    } seen;
    pk_opts o = {};
    o.label = "cb";
    o.chunk = 1;
    o.on_error = [](void *arg, const pk_error_info *e) {
        auto *s = static_cast<Seen *>(arg);
        s->calls++;
        s->code = e->code;
    };
    int rc = pk_for(
        ctx.get(), 10, &o, [](void *, int64_t, int64_t, pk_worker *) { return 0; }, &seen);
    EXPECT_EQ(rc, PK_EINJECTED);
    EXPECT_EQ(seen.calls, WorldRank() == 0 ? 1 : 0);
    EXPECT_EQ(SumOverRanks(seen.calls), 1);
    pk_ctx_set_fault(ctx.get(), nullptr);
}

// ---- allocation failures (fail=alloc) inside each kernel, on a named rank ----

namespace {

// The call failed on every rank with the injected allocation failure of rank
// r's thread `thread` in `task` (collective).
void ExpectAllocFault(pk_ctx *ctx, int rc, const char *kernel, int r, int thread, int64_t task) {
    const pk_error_info *e = pk_ctx_error(ctx);
    EXPECT_EQ(rc, PK_ENOMEM) << kernel << ": " << ErrorText(ctx);
    EXPECT_STREQ(e->kernel, kernel);
    EXPECT_EQ(e->rank, r) << kernel;
    EXPECT_EQ(e->thread, thread) << kernel;
    EXPECT_EQ(e->task, task) << kernel;
    EXPECT_EQ(std::string(e->message).rfind("out of memory (injected): ", 0), 0u) << e->message;
    EXPECT_EQ(pk_ctx_fault_fired(ctx), 1) << kernel;
    ExpectSameEverywhere(ctx, rc);
}

int CountListed(void *arg, const uint64_t *, size_t count) {
    *static_cast<uint64_t *>(arg) += count;
    return 0;
}

} // namespace

TEST(MpiFaults, AllocationFailureInEachKernelOnTheLastRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_ctx *c = ctx.get();
    const int r = WorldSize() - 1;
    const std::string rank = "rank=" + std::to_string(r);

    // squares: the rank's buffer of partial sums (no thread nor task named)
    ASSERT_EQ(pk_ctx_set_fault(c, ("kernel=squares," + rank + ",fail=alloc").c_str()), 0);
    pk_i128 sum;
    ExpectAllocFault(c, pk_squares(c, 1, 1 << 22, PK_SQUARES_SUM_ONLY, nullptr, &sum), "squares", r,
                     0, -1);

    // sieve: the engine of the rank's thread 0, then a listing chunk's bitmap
    ASSERT_EQ(pk_ctx_set_fault(c, ("kernel=sieve," + rank + ",thread=0,fail=alloc").c_str()), 0);
    uint64_t count = 0, listed = 0;
    ExpectAllocFault(c, pk_sieve_count(c, 0, 1000000000, &count), "sieve", r, 0, -1);
    ASSERT_EQ(pk_ctx_set_fault(c, ("kernel=sieve," + rank + ",thread=0,task=3,fail=alloc").c_str()),
              0);
    ExpectAllocFault(c, pk_sieve_primes(c, 0, 100000000, CountListed, &listed, &count), "sieve", r,
                     0, 3);

    // factorial: a leaf's product
    ASSERT_EQ(
        pk_ctx_set_fault(c, ("kernel=factorial," + rank + ",thread=0,task=2,fail=alloc").c_str()),
        0);
    mpz_t f;
    mpz_init(f);
    ExpectAllocFault(c, pk_factorial(c, 200000, f), "factorial", r, 0, 2);
    mpz_clear(f);

    // prodcons: the batch buffer of the last rank's worker (a consumer)
    if (WorldSize() >= 2) {
        ASSERT_EQ(pk_ctx_set_fault(c, ("kernel=prodcons," + rank + ",task=0,fail=alloc").c_str()),
                  0);
        pk_prodcons_opts o{};
        o.producers = 1;
        o.consumers = WorldSize() - 1;
        o.capacity = 4;
        o.items = 10000;
        pk_prodcons_result res;
        ExpectAllocFault(c, pk_prodcons(c, &o, &res), "prodcons", r, 0, 0);
        EXPECT_LE(res.consumed, res.produced);
        EXPECT_TRUE(SameOnAllRanks(res.produced) && SameOnAllRanks(res.consumed));
    }

    // a task that allocates nothing: no fault, the right count
    ASSERT_EQ(pk_ctx_set_fault(c, ("kernel=sieve," + rank + ",thread=0,task=3,fail=alloc").c_str()),
              0);
    EXPECT_EQ(pk_sieve_count(c, 0, 100000000, &count), 0) << ErrorText(c);
    EXPECT_EQ(count, pk_prime_pi_pow10(8));
    EXPECT_EQ(pk_ctx_fault_fired(c), 0);
    pk_ctx_set_fault(c, nullptr);
}
