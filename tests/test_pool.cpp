// Tests of the public pool API (parkit/pool.h) on every pool of AllPools():
// pk_for coverage and chunking, pk_map_reduce outputs and reductions in a fixed
// order, pk_tasks, pk_team, first-error-wins propagation with its origin, early
// stop, worker set-up and tear-down, fault injection, argument errors and the
// context accessors. Expected values come from direct loops in this file.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "run_end_check.h"
#include "test_util.h"

namespace {

__extension__ typedef __int128 i128;

i128 ToI128(pk_i128 v) {
    return static_cast<i128>((static_cast<unsigned __int128>(static_cast<uint64_t>(v.hi)) << 64) |
                             v.lo);
}

pk_i128 FromI128(i128 v) {
    pk_i128 r;
    r.lo = static_cast<uint64_t>(v);
    r.hi = static_cast<int64_t>(static_cast<uint64_t>(static_cast<unsigned __int128>(v) >> 64));
    return r;
}

// Spins (yielding) until pred() holds or the timeout passes; false on timeout.
// Used where a test needs workers to be alive at the same time: a pool that
// serialized them would time out instead of hanging.
template <class Pred> bool WaitFor(Pred pred, double seconds = 20.0) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::yield();
    }
    return true;
}

void SleepMicros(int us) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
}

pk_opts Opts(int schedule = PK_SCHEDULE_DEFAULT, int64_t chunk = 0) {
    pk_opts o{};
    o.schedule = schedule;
    o.chunk = chunk;
    return o;
}

class PoolApi : public PoolTest {
  protected:
    int Threads() { return pk_ctx_threads(ctx()); }
    bool Threaded() { return GetParam().backend != "serial"; }
};

// ---- pk_for: every index exactly once ------------------------------------------------

struct ChunkRecord {
    int64_t begin, end, task;
    int thread;
};

struct Coverage {
    explicit Coverage(int64_t n) : hits(static_cast<size_t>(n)) {}
    std::vector<std::atomic<int>> hits;
    std::mutex mu;
    std::vector<ChunkRecord> chunks;
    std::atomic<int> bad_worker{0};
};

int CoverBody(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    Coverage *c = static_cast<Coverage *>(arg);
    for (int64_t i = begin; i < end; i++)
        c->hits[static_cast<size_t>(i)]++;
    if (w->rank != 0 || w->nranks != 1 || w->thread < 0 || w->thread >= w->nthreads ||
        w->id != w->thread || w->nworkers != w->nthreads)
        c->bad_worker++;
    std::lock_guard<std::mutex> lock(c->mu);
    c->chunks.push_back({begin, end, w->task, w->thread});
    return 0;
}

struct ForCase {
    int64_t n, chunk;
    int schedule;
};

std::string Describe(const ForCase &c) {
    return "n=" + std::to_string(c.n) + " chunk=" + std::to_string(c.chunk) +
           (c.schedule == PK_DYNAMIC ? " dynamic" : " static");
}

// Runs pk_for over case c and checks coverage and chunk shapes; returns the chunks
// sorted by begin.
std::vector<ChunkRecord> CheckFor(pk_ctx *ctx, const ForCase &c) {
    Coverage cov(c.n);
    pk_opts o = Opts(c.schedule, c.chunk);
    EXPECT_EQ(pk_for(ctx, c.n, &o, CoverBody, &cov), 0);
    for (int64_t i = 0; i < c.n; i++)
        if (cov.hits[static_cast<size_t>(i)] != 1) {
            ADD_FAILURE() << "index " << i << " ran " << cov.hits[static_cast<size_t>(i)]
                          << " times";
            break;
        }
    EXPECT_EQ(cov.bad_worker, 0) << "worker fields out of range";
    std::vector<ChunkRecord> chunks = cov.chunks;
    std::sort(chunks.begin(), chunks.end(),
              [](const ChunkRecord &a, const ChunkRecord &b) { return a.begin < b.begin; });
    int64_t size = chunks.empty() ? 0 : chunks[0].end - chunks[0].begin;
    for (size_t k = 0; k < chunks.size(); k++) {
        const ChunkRecord &r = chunks[k];
        EXPECT_EQ(r.task, static_cast<int64_t>(k)) << "task = chunk number";
        EXPECT_LT(r.begin, r.end);
        if (k + 1 < chunks.size())
            EXPECT_EQ(r.end - r.begin, size) << "all chunks but the last have one size";
        else
            EXPECT_LE(r.end - r.begin, size);
        if (c.chunk > 0)
            EXPECT_EQ(size, std::min(c.chunk, c.n));
    }
    return chunks;
}

TEST_P(PoolApi, ForCoversEveryIndexOnce) {
    const ForCase cases[] = {
        {0, 0, PK_STATIC},
        {1, 0, PK_STATIC},
        {1, 0, PK_DYNAMIC},
        {2, 0, PK_STATIC},
        {3, 1, PK_DYNAMIC},
        {1000, 0, PK_STATIC},
        {1000, 0, PK_DYNAMIC},
        {1000, 7, PK_STATIC},
        {1000, 7, PK_DYNAMIC},
        {1000, 1000, PK_STATIC},
        {1001, 1000, PK_DYNAMIC},
        {100003, 0, PK_STATIC},
        {100003, 0, PK_DYNAMIC},
        {1000, int64_t(1) << 40, PK_STATIC},
        {1000, INT64_MAX, PK_DYNAMIC},
        {5000, 1, PK_DYNAMIC},
        {5000, 1, PK_STATIC},
        {3, 0, PK_SCHEDULE_DEFAULT},
    };
    for (const ForCase &c : cases) {
        SCOPED_TRACE(Describe(c));
        CheckFor(ctx(), c);
    }
}

TEST_P(PoolApi, ForWithZeroIndicesCallsNothing) {
    Coverage cov(0);
    EXPECT_EQ(pk_for(ctx(), 0, nullptr, CoverBody, &cov), 0);
    EXPECT_TRUE(cov.chunks.empty());
}

TEST_P(PoolApi, DefaultChunkDependsOnNAlone) {
    // The same n gives the same chunks on every pool (chunk numbers are task
    // numbers in error origins, so they must mean the same thing everywhere).
    CtxPtr serial = MakeCtx({"serial", 1});
    for (int64_t n : {int64_t(1), int64_t(999), int64_t(5000), int64_t(1) << 20}) {
        SCOPED_TRACE(n);
        std::vector<ChunkRecord> here = CheckFor(ctx(), {n, 0, PK_DYNAMIC});
        std::vector<ChunkRecord> ref = CheckFor(serial.get(), {n, 0, PK_STATIC});
        ASSERT_EQ(here.size(), ref.size());
        for (size_t k = 0; k < here.size(); k++) {
            EXPECT_EQ(here[k].begin, ref[k].begin);
            EXPECT_EQ(here[k].end, ref[k].end);
        }
    }
}

TEST_P(PoolApi, StaticScheduleGivesEachThreadOneBlock) {
    std::vector<ChunkRecord> chunks = CheckFor(ctx(), {1000, 10, PK_STATIC});
    int obtained = pk_ctx_threads_obtained(ctx());
    EXPECT_EQ(obtained, std::min(Threads(), 100));
    std::set<int> seen;
    for (size_t k = 1; k < chunks.size(); k++)
        EXPECT_LE(chunks[k - 1].thread, chunks[k].thread) << "chunk " << k;
    for (const ChunkRecord &r : chunks)
        seen.insert(r.thread);
    EXPECT_EQ(static_cast<int>(seen.size()), obtained);
}

TEST_P(PoolApi, MoreWorkersThanWorkUsesOnlyWhatIsNeeded) {
    std::vector<ChunkRecord> chunks = CheckFor(ctx(), {2, 1, PK_STATIC});
    EXPECT_EQ(chunks.size(), 2u);
    EXPECT_LE(pk_ctx_threads_obtained(ctx()), 2);
}

// Records ranges without touching the indices, so n can be the largest int64.
struct RangeLog {
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> ranges;
};

int LogRange(void *arg, int64_t begin, int64_t end, pk_worker *) {
    RangeLog *l = static_cast<RangeLog *>(arg);
    std::lock_guard<std::mutex> lock(l->mu);
    l->ranges.emplace_back(begin, end);
    return 0;
}

TEST_P(PoolApi, HugeRangesTileWithoutOverflow) {
    for (int64_t chunk : {int64_t(1) << 60, INT64_MAX, int64_t(0), INT64_MAX / 3}) {
        SCOPED_TRACE(chunk);
        RangeLog log;
        pk_opts o = Opts(PK_STATIC, chunk);
        ASSERT_EQ(pk_for(ctx(), INT64_MAX, &o, LogRange, &log), 0);
        std::sort(log.ranges.begin(), log.ranges.end());
        ASSERT_FALSE(log.ranges.empty());
        EXPECT_EQ(log.ranges.front().first, 0);
        EXPECT_EQ(log.ranges.back().second, INT64_MAX);
        for (size_t k = 1; k < log.ranges.size(); k++)
            ASSERT_EQ(log.ranges[k - 1].second, log.ranges[k].first);
        if (chunk > 0)
            EXPECT_EQ(log.ranges.size(), static_cast<size_t>((INT64_MAX - 1) / chunk + 1));
    }
}

// ---- pk_map_reduce ---------------------------------------------------------------------

int64_t Mix(int64_t i) {
    // A fixed scramble of i: values spread over the whole int64 range.
    uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15u;
    x ^= x >> 29;
    return static_cast<int64_t>(x * 0xBF58476D1CE4E5B9u);
}

struct MapArg {
    int64_t *base; // the output array, to check the pointer each chunk gets
    std::atomic<int> bad_out{0};
};

int MapCube(void *arg, int64_t begin, int64_t end, void *out, void *acc, pk_worker *) {
    MapArg *a = static_cast<MapArg *>(arg);
    int64_t *o = static_cast<int64_t *>(out);
    if (o != a->base + begin)
        a->bad_out++;
    i128 s = 0;
    for (int64_t i = begin; i < end; i++) {
        o[i - begin] = i * i * i;
        s += static_cast<i128>(i * i * i);
    }
    *static_cast<pk_i128 *>(acc) = FromI128(s);
    return 0;
}

TEST_P(PoolApi, MapFillsTheOutputArrayAndReduces) {
    for (int where : {PK_ON_ROOT, PK_ON_ALL, PK_DISTRIBUTED}) {
        SCOPED_TRACE(where);
        const int64_t n = 200003;
        std::vector<int64_t> out(n, -1);
        MapArg a;
        a.base = out.data();
        pk_i128 sum{0, 0};
        pk_opts o = Opts(PK_DYNAMIC, 0);
        o.where = where;
        ASSERT_EQ(pk_map_reduce(ctx(), n, &o, MapCube, &a, sizeof(int64_t), out.data(),
                                &pk_sum_i128, &sum),
                  0)
            << ErrorString();
        EXPECT_EQ(a.bad_out, 0) << "out must point at element begin of the array";
        i128 want = 0;
        for (int64_t i = 0; i < n; i++) {
            ASSERT_EQ(out[static_cast<size_t>(i)], i * i * i) << i;
            want += static_cast<i128>(i * i * i);
        }
        EXPECT_TRUE(ToI128(sum) == want);
        int64_t b = -1, e = -1;
        ASSERT_EQ(pk_local_range(ctx(), n, &o, &b, &e), 0);
        EXPECT_EQ(b, 0);
        EXPECT_EQ(e, n);
    }
}

struct SumArg {
    int kind; // 0 i64, 1 u64, 2 f64 (1/(i+1)), 3 min, 4 max, 5 xor
};

int SumBody(void *arg, int64_t begin, int64_t end, void *, void *acc, pk_worker *) {
    const SumArg *a = static_cast<const SumArg *>(arg);
    for (int64_t i = begin; i < end; i++) {
        switch (a->kind) {
        case 0:
            *static_cast<int64_t *>(acc) += Mix(i) >> 20;
            break;
        case 1:
            *static_cast<uint64_t *>(acc) += static_cast<uint64_t>(Mix(i));
            break;
        case 3: {
            int64_t *m = static_cast<int64_t *>(acc);
            *m = std::min(*m, Mix(i));
            break;
        }
        case 4: {
            int64_t *m = static_cast<int64_t *>(acc);
            *m = std::max(*m, Mix(i));
            break;
        }
        case 5:
            *static_cast<uint64_t *>(acc) ^= static_cast<uint64_t>(Mix(i));
            break;
        }
    }
    return 0;
}

TEST_P(PoolApi, ReadyMadeReducers) {
    const int64_t n = 300007;
    int64_t s64 = 0, mn = INT64_MAX, mx = INT64_MIN;
    uint64_t u64 = 0, x = 0;
    for (int64_t i = 0; i < n; i++) {
        s64 += Mix(i) >> 20;
        u64 += static_cast<uint64_t>(Mix(i)); // wraps, as pk_sum_u64 documents
        mn = std::min(mn, Mix(i));
        mx = std::max(mx, Mix(i));
        x ^= static_cast<uint64_t>(Mix(i));
    }
    pk_opts o = Opts(PK_DYNAMIC, 1000);
    SumArg a{0};
    int64_t got_i = 0;
    ASSERT_EQ(pk_map_reduce(ctx(), n, &o, SumBody, &a, 0, nullptr, &pk_sum_i64, &got_i), 0);
    EXPECT_EQ(got_i, s64);
    a.kind = 1;
    uint64_t got_u = 0;
    ASSERT_EQ(pk_map_reduce(ctx(), n, &o, SumBody, &a, 0, nullptr, &pk_sum_u64, &got_u), 0);
    EXPECT_EQ(got_u, u64);
    a.kind = 3;
    int64_t got_min = INT64_MAX;
    ASSERT_EQ(pk_map_reduce(ctx(), n, &o, SumBody, &a, 0, nullptr, &pk_min_i64, &got_min), 0);
    EXPECT_EQ(got_min, mn);
    a.kind = 4;
    int64_t got_max = INT64_MIN;
    ASSERT_EQ(pk_map_reduce(ctx(), n, &o, SumBody, &a, 0, nullptr, &pk_max_i64, &got_max), 0);
    EXPECT_EQ(got_max, mx);
    a.kind = 5;
    uint64_t got_x = 0;
    ASSERT_EQ(pk_map_reduce(ctx(), n, &o, SumBody, &a, 0, nullptr, &pk_xor_u64, &got_x), 0);
    EXPECT_EQ(got_x, x);
}

TEST_P(PoolApi, ResultIsCombinedIntoTheCallersValue) {
    // The result takes in the partials (result (+)= reduction), so a caller can
    // accumulate over several calls.
    SumArg a{0};
    int64_t acc = 1000;
    int64_t want = 1000;
    for (int64_t i = 0; i < 5000; i++)
        want += Mix(i) >> 20;
    ASSERT_EQ(pk_map_reduce(ctx(), 5000, nullptr, SumBody, &a, 0, nullptr, &pk_sum_i64, &acc), 0);
    EXPECT_EQ(acc, want);
}

int ChunkOfMax(void *, int64_t, int64_t, void *, void *acc, pk_worker *) {
    *static_cast<int64_t *>(acc) = INT64_MAX;
    return 0;
}

TEST_P(PoolApi, SumI64OverflowIsAnError) {
    pk_opts o = Opts(PK_STATIC, 1);
    int64_t sum = 0;
    EXPECT_EQ(pk_map_reduce(ctx(), 2, &o, ChunkOfMax, nullptr, 0, nullptr, &pk_sum_i64, &sum),
              PK_EOVERFLOW);
    EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EOVERFLOW);
    EXPECT_NE(ErrorString().find("combining"), std::string::npos) << ErrorString();
}

// f64: the tree over chunk numbers fixes the rounding, whatever the pool.
double Term(int64_t i) {
    double mag = std::pow(10.0, static_cast<double>(i % 13) - 6.0);
    return (i % 3 == 0 ? -1.0 : 1.0) * mag / static_cast<double>(i + 1);
}

int F64Body(void *, int64_t begin, int64_t end, void *, void *acc, pk_worker *) {
    double s = 0;
    for (int64_t i = begin; i < end; i++)
        s += Term(i);
    *static_cast<double *>(acc) = s;
    return 0;
}

// The documented tree: at level s = 1, 2, 4, ..., partial i (a multiple of 2s)
// takes in partial i + s; then result += partial 0.
double TreeSum(int64_t n, int64_t chunk) {
    int64_t nchunks = (n + chunk - 1) / chunk;
    std::vector<double> p(static_cast<size_t>(nchunks), 0.0);
    for (int64_t c = 0; c < nchunks; c++) {
        double s = 0;
        for (int64_t i = c * chunk; i < std::min(n, (c + 1) * chunk); i++)
            s += Term(i);
        p[static_cast<size_t>(c)] = s;
    }
    for (int64_t s = 1; s < nchunks; s *= 2)
        for (int64_t i = 0; i + s < nchunks; i += 2 * s)
            p[static_cast<size_t>(i)] += p[static_cast<size_t>(i + s)];
    double result = 0.0;
    result += p[0];
    return result;
}

TEST_P(PoolApi, DoubleSumsAreBitIdenticalOnEveryPool) {
    const int64_t n = 1000003, chunk = 777;
    double naive = 0;
    for (int64_t i = 0; i < n; i++)
        naive += Term(i);
    double tree = TreeSum(n, chunk);
    ASSERT_NE(std::memcmp(&naive, &tree, sizeof tree), 0)
        << "the data must be such that the summation order shows in the bits";
    CtxPtr serial = MakeCtx({"serial", 1});
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        pk_opts o = Opts(schedule, chunk);
        double here = 0, ref = 0;
        ASSERT_EQ(pk_map_reduce(ctx(), n, &o, F64Body, nullptr, 0, nullptr, &pk_sum_f64, &here), 0);
        ASSERT_EQ(
            pk_map_reduce(serial.get(), n, &o, F64Body, nullptr, 0, nullptr, &pk_sum_f64, &ref), 0);
        EXPECT_EQ(std::memcmp(&here, &tree, sizeof here), 0) << here << " vs " << tree;
        EXPECT_EQ(std::memcmp(&here, &ref, sizeof here), 0);
    }
}

// A non-commutative reduction: 2x2 matrix products modulo 2^64 (associative, not
// commutative), so a pool that combined out of index order gives another matrix.
struct Mat {
    uint64_t a, b, c, d;
};

Mat Mul(const Mat &x, const Mat &y) {
    return {x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.d, x.c * y.a + x.d * y.c,
            x.c * y.b + x.d * y.d};
}

bool operator==(const Mat &x, const Mat &y) {
    return x.a == y.a && x.b == y.b && x.c == y.c && x.d == y.d;
}

Mat MatOf(int64_t i) {
    uint64_t u = static_cast<uint64_t>(i);
    return {u + 1, 1, 1, u * 3};
}

struct MatCounters {
    std::atomic<int64_t> combines{0};
};

int MatInit(void *v, void *) {
    *static_cast<Mat *>(v) = {1, 0, 0, 1};
    return 0;
}

int MatCombine(void *into, const void *from, void *arg) {
    Mat *m = static_cast<Mat *>(into);
    *m = Mul(*m, *static_cast<const Mat *>(from));
    static_cast<MatCounters *>(arg)->combines++;
    return 0;
}

int MatBody(void *, int64_t begin, int64_t end, void *, void *acc, pk_worker *) {
    Mat *m = static_cast<Mat *>(acc);
    for (int64_t i = begin; i < end; i++)
        *m = Mul(*m, MatOf(i));
    return 0;
}

TEST_P(PoolApi, NonCommutativeReductionKeepsIndexOrder) {
    const int64_t n = 20000;
    Mat want{1, 0, 0, 1}, reversed{1, 0, 0, 1};
    for (int64_t i = 0; i < n; i++) {
        want = Mul(want, MatOf(i));
        reversed = Mul(MatOf(i), reversed);
    }
    ASSERT_FALSE(want == reversed) << "the product must depend on the order";
    for (int heavy : {0, 1}) {
        for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
            SCOPED_TRACE(std::to_string(heavy) + " " + std::to_string(schedule));
            MatCounters counters;
            pk_reducer red{};
            red.type.size = sizeof(Mat);
            red.type.init = MatInit;
            red.type.arg = &counters;
            red.combine = MatCombine;
            red.heavy = heavy;
            pk_opts o = Opts(schedule, 100);
            Mat got;
            MatInit(&got, nullptr);
            ASSERT_EQ(pk_map_reduce(ctx(), n, &o, MatBody, nullptr, 0, nullptr, &red, &got), 0)
                << ErrorString();
            EXPECT_TRUE(got == want);
            // n/100 partials: nchunks - 1 combines in the tree, one into the result.
            EXPECT_EQ(counters.combines, n / 100);
        }
    }
}

// Concatenation of chunk numbers: a value type with heap storage (init and
// destroy), whose result spells out the combination order.
struct SeqCounters {
    std::atomic<int64_t> live{0};
};

struct Seq {
    std::vector<int64_t> *items;
};

int SeqInit(void *v, void *arg) {
    static_cast<Seq *>(v)->items = new std::vector<int64_t>();
    static_cast<SeqCounters *>(arg)->live++;
    return 0;
}

void SeqDestroy(void *v, void *arg) {
    delete static_cast<Seq *>(v)->items;
    static_cast<SeqCounters *>(arg)->live--;
}

int SeqCombine(void *into, const void *from, void *) {
    std::vector<int64_t> *a = static_cast<Seq *>(into)->items;
    const std::vector<int64_t> *b = static_cast<const Seq *>(from)->items;
    a->insert(a->end(), b->begin(), b->end());
    return 0;
}

int SeqBody(void *, int64_t, int64_t, void *, void *acc, pk_worker *w) {
    static_cast<Seq *>(acc)->items->push_back(w->task);
    return 0;
}

TEST_P(PoolApi, ConcatenationOfChunkNumbersComesOutInOrder) {
    for (int heavy : {0, 1}) {
        SCOPED_TRACE(heavy);
        SeqCounters counters;
        pk_reducer red{};
        red.type.size = sizeof(Seq);
        red.type.init = SeqInit;
        red.type.destroy = SeqDestroy;
        red.type.arg = &counters;
        red.combine = SeqCombine;
        red.heavy = heavy;
        void *result = nullptr;
        ASSERT_EQ(pk_values_new(&result, &red.type, 1), 0);
        EXPECT_EQ(counters.live, 1);
        pk_opts o = Opts(PK_DYNAMIC, 3);
        ASSERT_EQ(pk_map_reduce(ctx(), 3001, &o, SeqBody, nullptr, 0, nullptr, &red, result), 0);
        EXPECT_EQ(counters.live, 1) << "every partial the pool made is destroyed";
        const std::vector<int64_t> &got = *static_cast<Seq *>(result)->items;
        ASSERT_EQ(got.size(), 1001u);
        for (size_t k = 0; k < got.size(); k++)
            ASSERT_EQ(got[k], static_cast<int64_t>(k));
        pk_values_free(&red.type, 1, result);
        EXPECT_EQ(counters.live, 0);
    }
}

int FailingCombine(void *, const void *, void *) {
    return PK_ERANGE;
}

int NoOpChunk(void *, int64_t, int64_t, void *, void *, pk_worker *) {
    return 0;
}

TEST_P(PoolApi, FailingCombineIsReported) {
    for (int heavy : {0, 1}) {
        pk_reducer red{};
        red.type.size = sizeof(int64_t);
        red.combine = FailingCombine;
        red.heavy = heavy;
        int64_t result = 0;
        pk_opts o = Opts(PK_STATIC, 1);
        EXPECT_EQ(pk_map_reduce(ctx(), 8, &o, NoOpChunk, nullptr, 0, nullptr, &red, &result),
                  PK_ERANGE)
            << heavy;
    }
}

TEST_P(PoolApi, MapReduceOfNothingLeavesTheResult) {
    int64_t result = 42;
    EXPECT_EQ(pk_map_reduce(ctx(), 0, nullptr, SumBody, nullptr, 0, nullptr, &pk_sum_i64, &result),
              0);
    EXPECT_EQ(result, 42);
}

// ---- pk_tasks ---------------------------------------------------------------------------

struct TaskLog {
    explicit TaskLog(int64_t n) : runs(static_cast<size_t>(n)) {}
    std::vector<std::atomic<int>> runs;
    std::atomic<int> wrong_task{0};
};

int SquareTask(void *arg, int64_t task, void *result, pk_worker *w) {
    TaskLog *l = static_cast<TaskLog *>(arg);
    l->runs[static_cast<size_t>(task)]++;
    if (w->task != task)
        l->wrong_task++;
    *static_cast<int64_t *>(result) = task * task + 1;
    return 0;
}

TEST_P(PoolApi, TasksResultsLandInTaskOrder) {
    for (int64_t chunk : {int64_t(0), int64_t(1), int64_t(3), int64_t(1000)}) {
        for (int schedule : {PK_SCHEDULE_DEFAULT, PK_STATIC, PK_DYNAMIC}) {
            SCOPED_TRACE(std::to_string(chunk) + " " + std::to_string(schedule));
            const int64_t n = 1001;
            TaskLog log(n);
            std::vector<int64_t> results(n, -1);
            pk_type t{};
            t.size = sizeof(int64_t);
            pk_opts o = Opts(schedule, chunk);
            ASSERT_EQ(pk_tasks(ctx(), n, &o, SquareTask, &log, &t, results.data()), 0);
            for (int64_t i = 0; i < n; i++) {
                ASSERT_EQ(log.runs[static_cast<size_t>(i)], 1) << i;
                ASSERT_EQ(results[static_cast<size_t>(i)], i * i + 1) << i;
            }
            EXPECT_EQ(log.wrong_task, 0) << "w->task is the task, not the chunk";
        }
    }
}

TEST_P(PoolApi, TasksWithoutResults) {
    TaskLog log(10);
    // No result type: the callback gets NULL.
    auto fn = [](void *arg, int64_t task, void *result, pk_worker *) -> int {
        static_cast<TaskLog *>(arg)->runs[static_cast<size_t>(task)]++;
        return result == nullptr ? 0 : PK_EINVAL;
    };
    ASSERT_EQ(pk_tasks(ctx(), 10, nullptr, fn, &log, nullptr, nullptr), 0);
    for (auto &r : log.runs)
        EXPECT_EQ(r, 1);
    EXPECT_EQ(pk_tasks(ctx(), 0, nullptr, fn, &log, nullptr, nullptr), 0);
}

// Task 0 waits until every other task is done: it only finishes if the other
// workers claim the rest while it waits, i.e. if claiming is dynamic.
struct BlockingTasks {
    int64_t n;
    std::atomic<int64_t> done{0};
    std::atomic<int> timed_out{0};
};

int BlockFirstTask(void *arg, int64_t task, void *, pk_worker *) {
    BlockingTasks *b = static_cast<BlockingTasks *>(arg);
    if (task == 0) {
        if (!WaitFor([b] { return b->done == b->n - 1; }, 20.0))
            b->timed_out = 1;
        return 0;
    }
    b->done++;
    return 0;
}

int RecordOrder(void *arg, int64_t task, void *, pk_worker *) {
    static_cast<std::vector<int64_t> *>(arg)->push_back(task);
    return 0;
}

TEST_P(PoolApi, TasksAreClaimedDynamically) {
    if (Threads() < 2) { // one worker claims the tasks one after the other, in order
        std::vector<int64_t> order;
        ASSERT_EQ(pk_tasks(ctx(), 50, nullptr, RecordOrder, &order, nullptr, nullptr), 0);
        ASSERT_EQ(order.size(), 50u);
        for (int64_t i = 0; i < 50; i++)
            EXPECT_EQ(order[static_cast<size_t>(i)], i);
        return;
    }
    for (bool explicit_dynamic : {false, true}) {
        BlockingTasks b;
        b.n = 200;
        pk_opts o = Opts(explicit_dynamic ? PK_DYNAMIC : PK_SCHEDULE_DEFAULT, 0);
        ASSERT_EQ(pk_tasks(ctx(), b.n, explicit_dynamic ? &o : nullptr, BlockFirstTask, &b, nullptr,
                           nullptr),
                  0);
        EXPECT_EQ(b.timed_out, 0) << "the other tasks were not claimed while task 0 waited";
        EXPECT_EQ(b.done, b.n - 1);
    }
}

struct Pair {
    int64_t x, y;
    char pad[16]; // the stride is the element size, not a multiple of anything
};

int MultiplyPair(void *arg, int64_t, void *result, pk_worker *) {
    const Pair *p = static_cast<const Pair *>(arg);
    *static_cast<int64_t *>(result) = p->x * p->y;
    return 0;
}

TEST_P(PoolApi, StarmapWithArgStride) {
    const int64_t n = 513;
    std::vector<Pair> pairs(n);
    for (int64_t i = 0; i < n; i++)
        pairs[static_cast<size_t>(i)] = {i, 3 * i + 1, {}};
    std::vector<int64_t> results(n, -1);
    pk_type t{};
    t.size = sizeof(int64_t);
    pk_opts o = Opts(PK_DYNAMIC, 4);
    o.arg_stride = sizeof(Pair);
    ASSERT_EQ(pk_tasks(ctx(), n, &o, MultiplyPair, pairs.data(), &t, results.data()), 0);
    for (int64_t i = 0; i < n; i++)
        ASSERT_EQ(results[static_cast<size_t>(i)], i * (3 * i + 1)) << i;
}

TEST_P(PoolApi, ValuesNewAndFree) {
    SeqCounters counters;
    pk_type t{};
    t.size = sizeof(Seq);
    t.init = SeqInit;
    t.destroy = SeqDestroy;
    t.arg = &counters;
    void *values = nullptr;
    ASSERT_EQ(pk_values_new(&values, &t, 17), 0);
    EXPECT_EQ(counters.live, 17);
    pk_values_free(&t, 17, values);
    EXPECT_EQ(counters.live, 0);
    pk_type plain{};
    plain.size = 8;
    ASSERT_EQ(pk_values_new(&values, &plain, 4), 0);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(static_cast<int64_t *>(values)[i], 0) << "plain values start zeroed";
    pk_values_free(&plain, 4, values);
    pk_values_free(&plain, 4, nullptr);
    EXPECT_EQ(pk_values_new(&values, nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_values_new(&values, &plain, -1), PK_EINVAL);
    EXPECT_EQ(pk_values_new(nullptr, &plain, 1), PK_EINVAL);
    pk_type empty{};
    EXPECT_EQ(pk_values_new(&values, &empty, 1), PK_EINVAL);
}

// ---- pk_team -------------------------------------------------------------------------------

struct TeamState {
    int n;
    std::atomic<int> arrived{0};
    std::atomic<int> timed_out{0};
    std::atomic<int> bad{0};
    std::mutex mu;
    std::multiset<int> ids;
};

int TeamBody(void *arg, pk_worker *w) {
    TeamState *s = static_cast<TeamState *>(arg);
    {
        std::lock_guard<std::mutex> lock(s->mu);
        s->ids.insert(w->id);
    }
    if (w->nworkers != s->n || w->id < 0 || w->id >= s->n || w->rank != 0)
        s->bad++;
    // A barrier: it completes only if all n members are alive at once.
    s->arrived++;
    if (!WaitFor([s] { return s->arrived == s->n; }, 20.0))
        s->timed_out = 1;
    return 0;
}

TEST_P(PoolApi, TeamMembersAllRunAtOnce) {
    for (int n : {1, 2, Threads(), Threads() + 3}) {
        SCOPED_TRACE(n);
        TeamState s;
        s.n = n;
        ASSERT_EQ(pk_team(ctx(), n, nullptr, TeamBody, &s), 0) << ErrorString();
        EXPECT_EQ(s.timed_out, 0) << "not every member was running at the same time";
        EXPECT_EQ(s.bad, 0);
        std::multiset<int> want;
        for (int i = 0; i < n; i++)
            want.insert(i);
        EXPECT_EQ(s.ids, want);
    }
}

TEST_P(PoolApi, TeamOfZeroIsThePoolSize) {
    TeamState s;
    s.n = Threads();
    ASSERT_EQ(pk_team(ctx(), 0, nullptr, TeamBody, &s), 0) << ErrorString();
    EXPECT_EQ(static_cast<int>(s.ids.size()), Threads());
    EXPECT_EQ(s.bad, 0);
}

// ---- errors: first error wins, with its origin ----------------------------------------------

struct FailAt {
    int64_t chunk;
    std::atomic<int> failing_thread{-1};
};

int FailAtChunk(void *arg, int64_t begin, int64_t, pk_worker *w) {
    FailAt *f = static_cast<FailAt *>(arg);
    if (w->task != f->chunk)
        return 0;
    f->failing_thread = w->thread;
    return pk_fail(w, PK_ECALLBACK, "chunk at %lld refused", static_cast<long long>(begin));
}

TEST_P(PoolApi, ErrorFromFirstAndLastChunkWithOrigin) {
    const int64_t n = 1000, chunk = 10;
    for (int64_t failing : {int64_t(0), n / chunk - 1}) {
        for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
            SCOPED_TRACE(std::to_string(failing) + " " + std::to_string(schedule));
            pk_ctx_clear_error(ctx());
            FailAt f;
            f.chunk = failing;
            pk_opts o = Opts(schedule, chunk);
            o.label = "mykernel";
            ASSERT_EQ(pk_for(ctx(), n, &o, FailAtChunk, &f), PK_ECALLBACK);
            const pk_error_info *e = pk_ctx_error(ctx());
            EXPECT_EQ(e->code, PK_ECALLBACK);
            EXPECT_STREQ(e->kernel, "mykernel");
            EXPECT_EQ(e->rank, 0);
            EXPECT_EQ(e->thread, f.failing_thread.load());
            EXPECT_EQ(e->task, failing);
            std::string msg = "chunk at " + std::to_string(failing * chunk) + " refused";
            EXPECT_EQ(e->message, msg);
            EXPECT_EQ(ErrorString(), "mykernel: rank 0, thread " +
                                         std::to_string(f.failing_thread.load()) + ", task " +
                                         std::to_string(failing) + ": " + msg);
        }
    }
}

int FailFromMapReduce(void *arg, int64_t begin, int64_t end, void *, void *, pk_worker *w) {
    return FailAtChunk(arg, begin, end, w);
}

int FailFromTask(void *arg, int64_t task, void *, pk_worker *w) {
    FailAt *f = static_cast<FailAt *>(arg);
    if (task != f->chunk)
        return 0;
    f->failing_thread = w->thread;
    return pk_fail(w, PK_EOVERFLOW, "task %lld overflowed", static_cast<long long>(task));
}

TEST_P(PoolApi, ErrorsFromMapReduceAndTasksCarryTheirOrigin) {
    FailAt f;
    f.chunk = 17;
    pk_opts o = Opts(PK_DYNAMIC, 5);
    int64_t sum = 0;
    ASSERT_EQ(pk_map_reduce(ctx(), 1000, &o, FailFromMapReduce, &f, 0, nullptr, &pk_sum_i64, &sum),
              PK_ECALLBACK);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 17);
    EXPECT_STREQ(pk_ctx_error(ctx())->kernel, "pool");

    FailAt g;
    g.chunk = 23;
    pk_opts t = Opts(PK_DYNAMIC, 4); // tasks in chunks of 4: the origin is still the task
    ASSERT_EQ(pk_tasks(ctx(), 100, &t, FailFromTask, &g, nullptr, nullptr), PK_EOVERFLOW);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 23);
    EXPECT_EQ(pk_ctx_error(ctx())->thread, g.failing_thread.load());
    EXPECT_STREQ(pk_ctx_error(ctx())->message, "task 23 overflowed");
}

int ReturnCodeOnly(void *, int64_t begin, int64_t, pk_worker *) {
    return begin == 5 ? PK_EIO : 0;
}

TEST_P(PoolApi, ErrorWithoutAMessageUsesTheCodeText) {
    pk_opts o = Opts(PK_STATIC, 1);
    ASSERT_EQ(pk_for(ctx(), 10, &o, ReturnCodeOnly, nullptr), PK_EIO);
    EXPECT_STREQ(pk_ctx_error(ctx())->message, pk_strerror(PK_EIO));
    EXPECT_EQ(pk_ctx_error(ctx())->task, 5);
}

// Every worker fails at the same moment: exactly one error comes back, whole
// (its message matches its origin), never a mix of two.
struct AllFail {
    int n;
    std::atomic<int> arrived{0};
    std::atomic<int> timed_out{0};
};

int FailTogether(void *arg, int64_t begin, int64_t, pk_worker *w) {
    AllFail *a = static_cast<AllFail *>(arg);
    a->arrived++;
    if (!WaitFor([a] { return a->arrived == a->n; }, 20.0))
        a->timed_out = 1;
    return pk_fail(w, PK_ECALLBACK - w->thread % 2, "thread %d task %lld", w->thread,
                   static_cast<long long>(begin));
}

TEST_P(PoolApi, SeveralWorkersFailingAtOnceReportOneWholeError) {
    for (int round = 0; round < 20; round++) {
        AllFail a;
        a.n = Threads();
        pk_opts o = Opts(PK_STATIC, 1);
        int rc = pk_for(ctx(), Threads(), &o, FailTogether, &a);
        ASSERT_EQ(a.timed_out, 0);
        const pk_error_info *e = pk_ctx_error(ctx());
        ASSERT_EQ(rc, e->code);
        ASSERT_GE(e->thread, 0);
        EXPECT_EQ(e->code, PK_ECALLBACK - e->thread % 2);
        EXPECT_EQ(std::string(e->message),
                  "thread " + std::to_string(e->thread) + " task " + std::to_string(e->task));
    }
}

// After a failure the other workers stop at their next chunk boundary: each may
// finish the chunk it is in, and start at most one that it claimed just before
// seeing the flag.
struct StopEarly {
    int64_t failing;
    std::atomic<int> failed{0};
    std::atomic<int64_t> ran{0};
    std::atomic<int64_t> started_after{0};
};

int SlowChunksOneFails(void *arg, int64_t, int64_t, pk_worker *w) {
    StopEarly *s = static_cast<StopEarly *>(arg);
    s->ran++;
    if (w->task == s->failing) {
        int rc = pk_fail(w, PK_ECALLBACK, "stop");
        s->failed = 1; // after pk_fail has raised the pool's stop flag
        return rc;
    }
    if (s->failed)
        s->started_after++;
    SleepMicros(200);
    return 0;
}

TEST_P(PoolApi, OtherWorkersStopEarly) {
    const int64_t n = 2000;
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        for (int64_t failing : {int64_t(0), int64_t(40)}) {
            SCOPED_TRACE(std::to_string(schedule) + " " + std::to_string(failing));
            StopEarly s;
            s.failing = failing;
            pk_opts o = Opts(schedule, 1);
            ASSERT_EQ(pk_for(ctx(), n, &o, SlowChunksOneFails, &s), PK_ECALLBACK);
            EXPECT_LE(s.started_after, Threads() - 1);
            // 2000 chunks of 200 us would take 0.4 s per thread; a stopped pool runs
            // a small fraction of them.
            EXPECT_LT(s.ran, n / 2);
        }
    }
}

// worker_begin and worker_end: once per worker, end also after an error, and
// w->local carries what begin set up.
struct Lifecycle {
    std::mutex mu;
    std::map<int, int> begins, ends;
    std::atomic<int> local_wrong{0};
    int fail_begin_thread = -1;
    int64_t fail_chunk = -1;
};

int OnBegin(void *arg, pk_worker *w) {
    Lifecycle *l = static_cast<Lifecycle *>(arg);
    {
        std::lock_guard<std::mutex> lock(l->mu);
        l->begins[w->thread]++;
    }
    if (w->thread == l->fail_begin_thread)
        return pk_fail(w, PK_ENOMEM, "set-up of thread %d failed", w->thread);
    w->local = new int(w->thread);
    return 0;
}

void OnEnd(void *arg, pk_worker *w) {
    Lifecycle *l = static_cast<Lifecycle *>(arg);
    std::lock_guard<std::mutex> lock(l->mu);
    l->ends[w->thread]++;
    if (w->local == nullptr || *static_cast<int *>(w->local) != w->thread)
        l->local_wrong++;
    delete static_cast<int *>(w->local);
    w->local = nullptr;
}

int UsesLocal(void *arg, int64_t, int64_t, pk_worker *w) {
    Lifecycle *l = static_cast<Lifecycle *>(arg);
    if (w->local == nullptr || *static_cast<int *>(w->local) != w->thread)
        l->local_wrong++;
    if (w->task == l->fail_chunk)
        return pk_fail(w, PK_ECALLBACK, "body failed");
    return 0;
}

TEST_P(PoolApi, WorkerBeginAndEndOncePerWorker) {
    for (int64_t fail_chunk : {int64_t(-1), int64_t(3)}) {
        SCOPED_TRACE(fail_chunk);
        Lifecycle l;
        l.fail_chunk = fail_chunk;
        pk_opts o = Opts(PK_DYNAMIC, 1);
        o.worker_begin = OnBegin;
        o.worker_end = OnEnd;
        int rc = pk_for(ctx(), 100, &o, UsesLocal, &l);
        EXPECT_EQ(rc, fail_chunk < 0 ? 0 : PK_ECALLBACK);
        int obtained = pk_ctx_threads_obtained(ctx());
        EXPECT_EQ(static_cast<int>(l.begins.size()), obtained);
        for (auto &b : l.begins) {
            EXPECT_EQ(b.second, 1) << "begin on thread " << b.first;
            EXPECT_EQ(l.ends[b.first], 1) << "end on thread " << b.first;
        }
        EXPECT_EQ(l.begins.size(), l.ends.size());
        EXPECT_EQ(l.local_wrong, 0);
    }
}

TEST_P(PoolApi, FailingWorkerBeginIsReportedAndSkipsItsEnd) {
    Lifecycle l;
    l.fail_begin_thread = Threads() - 1;
    pk_opts o = Opts(PK_DYNAMIC, 1);
    o.worker_begin = OnBegin;
    o.worker_end = OnEnd;
    o.label = "setup";
    ASSERT_EQ(pk_for(ctx(), 1000, &o, UsesLocal, &l), PK_ENOMEM);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(e->thread, Threads() - 1);
    EXPECT_EQ(e->task, -1) << "no task was running";
    EXPECT_STREQ(e->message,
                 ("set-up of thread " + std::to_string(Threads() - 1) + " failed").c_str());
    EXPECT_EQ(l.ends.count(Threads() - 1), 0u) << "no tear-down without a set-up";
    EXPECT_EQ(l.local_wrong, 0) << "the failed worker ran no chunk";
}

TEST_P(PoolApi, TeamWorkerBeginAndEnd) {
    Lifecycle l;
    pk_opts o{};
    o.worker_begin = OnBegin;
    o.worker_end = OnEnd;
    auto body = [](void *arg, pk_worker *w) -> int {
        Lifecycle *lc = static_cast<Lifecycle *>(arg);
        if (w->local == nullptr || *static_cast<int *>(w->local) != w->thread)
            lc->local_wrong++;
        return 0;
    };
    ASSERT_EQ(pk_team(ctx(), 3, &o, body, &l), 0);
    EXPECT_EQ(l.begins.size(), 3u);
    EXPECT_EQ(l.ends.size(), 3u);
    EXPECT_EQ(l.local_wrong, 0);
}

int TeamMemberFails(void *, pk_worker *w) {
    if (w->id == 2)
        return pk_fail(w, PK_EIO, "member %d gave up", w->id);
    return 0;
}

TEST_P(PoolApi, TeamErrorNamesTheMember) {
    pk_opts o{};
    o.label = "crew";
    ASSERT_EQ(pk_team(ctx(), 4, &o, TeamMemberFails, nullptr), PK_EIO);
    EXPECT_EQ(ErrorString(), "crew: rank 0, thread 2: member 2 gave up");
}

// on_error (Pool's error_callback): once, with the error the call returns.
struct ErrorSink {
    std::atomic<int> calls{0};
    pk_error_info seen{};
    FailAt fail;
};

void RecordError(void *arg, const pk_error_info *e) {
    ErrorSink *s = static_cast<ErrorSink *>(arg);
    s->calls++;
    s->seen = *e;
}

int SinkFor(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    return FailAtChunk(&static_cast<ErrorSink *>(arg)->fail, begin, end, w);
}

int SinkChunk(void *arg, int64_t begin, int64_t end, void *, void *, pk_worker *w) {
    return SinkFor(arg, begin, end, w);
}

int SinkTask(void *arg, int64_t task, void *, pk_worker *w) {
    return FailFromTask(&static_cast<ErrorSink *>(arg)->fail, task, nullptr, w);
}

int SinkTeam(void *, pk_worker *w) {
    return w->id == 1 ? pk_fail(w, PK_EIO, "member failed") : 0;
}

void ExpectSeenOnce(pk_ctx *ctx, int rc, const ErrorSink &s, int code, const char *what) {
    EXPECT_EQ(rc, code) << what;
    EXPECT_EQ(s.calls, 1) << what;
    const pk_error_info *e = pk_ctx_error(ctx);
    EXPECT_EQ(s.seen.code, e->code) << what;
    EXPECT_EQ(s.seen.thread, e->thread) << what;
    EXPECT_EQ(s.seen.task, e->task) << what;
    EXPECT_STREQ(s.seen.message, e->message) << what;
    EXPECT_STREQ(s.seen.kernel, "watched") << what;
}

TEST_P(PoolApi, ErrorCallbackOncePerFailedCall) {
    pk_opts o = Opts(PK_DYNAMIC, 1);
    o.on_error = RecordError;
    o.label = "watched";
    {
        ErrorSink s;
        s.fail.chunk = 9;
        ExpectSeenOnce(ctx(), pk_for(ctx(), 50, &o, SinkFor, &s), s, PK_ECALLBACK, "for");
        EXPECT_EQ(s.seen.task, 9);
    }
    {
        ErrorSink s;
        s.fail.chunk = 3;
        int64_t sum = 0;
        ExpectSeenOnce(ctx(),
                       pk_map_reduce(ctx(), 50, &o, SinkChunk, &s, 0, nullptr, &pk_sum_i64, &sum),
                       s, PK_ECALLBACK, "map_reduce");
    }
    {
        ErrorSink s;
        s.fail.chunk = 11;
        ExpectSeenOnce(ctx(), pk_tasks(ctx(), 50, &o, SinkTask, &s, nullptr, nullptr), s,
                       PK_EOVERFLOW, "tasks");
    }
    {
        ErrorSink s;
        ExpectSeenOnce(ctx(), pk_team(ctx(), 2, &o, SinkTeam, &s), s, PK_EIO, "team");
    }
    {
        ErrorSink s;
        s.fail.chunk = -1; // nothing fails
        EXPECT_EQ(pk_for(ctx(), 50, &o, SinkFor, &s), 0);
        EXPECT_EQ(s.calls, 0) << "no callback for a call that succeeded";
    }
}

// pk_combine: one value per process combined in rank order; with one process
// the value is already the combination.
TEST_P(PoolApi, CombineWithOneProcessKeepsTheValue) {
    int64_t v = 1234;
    EXPECT_EQ(pk_combine(ctx(), &pk_sum_i64, &v, PK_ON_ROOT), 0);
    EXPECT_EQ(v, 1234);
    EXPECT_EQ(pk_combine(ctx(), &pk_sum_i64, &v, PK_ON_ALL), 0);
    EXPECT_EQ(v, 1234);
    Mat m = MatOf(5);
    MatCounters counters;
    pk_reducer red{};
    red.type.size = sizeof(Mat);
    red.type.init = MatInit;
    red.type.arg = &counters;
    red.combine = MatCombine;
    EXPECT_EQ(pk_combine(ctx(), &red, &m, PK_ON_ALL), 0);
    EXPECT_TRUE(m == MatOf(5));
}

TEST_P(PoolApi, CombineArgumentErrors) {
    int64_t v = 1;
    EXPECT_EQ(pk_combine(nullptr, &pk_sum_i64, &v, PK_ON_ROOT), PK_EINVAL);
    EXPECT_EQ(pk_combine(ctx(), nullptr, &v, PK_ON_ROOT), PK_EINVAL);
    EXPECT_EQ(pk_combine(ctx(), &pk_sum_i64, nullptr, PK_ON_ROOT), PK_EINVAL);
    EXPECT_EQ(pk_combine(ctx(), &pk_sum_i64, &v, PK_DISTRIBUTED), PK_EINVAL);
    EXPECT_EQ(pk_combine(ctx(), &pk_sum_i64, &v, 7), PK_EINVAL);
    pk_reducer no_combine{};
    no_combine.type.size = 8;
    EXPECT_EQ(pk_combine(ctx(), &no_combine, &v, PK_ON_ROOT), PK_EINVAL);
    EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EINVAL);
    EXPECT_EQ(v, 1);
}

// ---- fault injection ------------------------------------------------------------------------

struct FaultRun {
    explicit FaultRun(int64_t n) : ran(static_cast<size_t>(n)) {}
    std::vector<std::atomic<int>> ran;
};

int MarkChunk(void *arg, int64_t, int64_t, pk_worker *w) {
    static_cast<FaultRun *>(arg)->ran[static_cast<size_t>(w->task)]++;
    return 0;
}

TEST_P(PoolApi, FaultOnATaskAlone) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "task=37"), 0);
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        FaultRun r(100);
        pk_opts o = Opts(schedule, 1);
        ASSERT_EQ(pk_for(ctx(), 100, &o, MarkChunk, &r), PK_EINJECTED);
        const pk_error_info *e = pk_ctx_error(ctx());
        EXPECT_EQ(e->task, 37);
        EXPECT_STREQ(e->kernel, "pool");
        EXPECT_STREQ(e->message, "injected fault");
        EXPECT_GE(e->thread, 0);
        EXPECT_EQ(r.ran[37], 0) << "the faulty task's callback never runs";
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 1);
    }
}

TEST_P(PoolApi, FaultOnAThreadAndTaskFiresOnThatThread) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "thread=1,task=0"), 0);
    if (Threads() < 2) {
        // Thread 1 does not exist in this pool: nothing fires.
        FaultRun r(50);
        EXPECT_EQ(pk_for(ctx(), 50, nullptr, MarkChunk, &r), 0);
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
        return;
    }
    for (int64_t task : {int64_t(0), int64_t(5), int64_t(199)}) {
        std::string spec = "thread=1,task=" + std::to_string(task);
        ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
        for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
            for (int round = 0; round < 5; round++) {
                SCOPED_TRACE(spec + " schedule " + std::to_string(schedule));
                FaultRun r(200);
                pk_opts o = Opts(schedule, 1);
                ASSERT_EQ(pk_for(ctx(), 200, &o, MarkChunk, &r), PK_EINJECTED);
                EXPECT_EQ(pk_ctx_error(ctx())->thread, 1);
                EXPECT_EQ(pk_ctx_error(ctx())->task, task);
                EXPECT_EQ(ErrorString(), "pool: rank 0, thread 1, task " + std::to_string(task) +
                                             ": injected fault");
            }
        }
    }
}

TEST_P(PoolApi, FaultInTasksAndMapReduce) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "task=7"), 0);
    pk_opts o = Opts(PK_DYNAMIC, 3);
    TaskLog log(20);
    std::vector<int64_t> results(20);
    pk_type t{};
    t.size = sizeof(int64_t);
    ASSERT_EQ(pk_tasks(ctx(), 20, &o, SquareTask, &log, &t, results.data()), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 7) << "the task, not the chunk of 3 holding it";
    EXPECT_EQ(log.runs[7], 0);
    int64_t sum = 0;
    SumArg a{0};
    ASSERT_EQ(pk_map_reduce(ctx(), 100, &o, SumBody, &a, 0, nullptr, &pk_sum_i64, &sum),
              PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 7);
    if (Threads() >= 2) {
        ASSERT_EQ(pk_ctx_set_fault(ctx(), "thread=1,task=7"), 0);
        ASSERT_EQ(pk_tasks(ctx(), 20, &o, SquareTask, &log, &t, results.data()), PK_EINJECTED);
        EXPECT_EQ(pk_ctx_error(ctx())->thread, 1);
        EXPECT_EQ(pk_ctx_error(ctx())->task, 7);
    }
}

TEST_P(PoolApi, FaultForAnotherKernelDoesNotFire) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=other,task=3"), 0);
    FaultRun r(10);
    pk_opts o = Opts(PK_STATIC, 1);
    EXPECT_EQ(pk_for(ctx(), 10, &o, MarkChunk, &r), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
    EXPECT_EQ(r.ran[3], 1);
    // The same spec fires for a pool call labelled "other".
    o.label = "other";
    EXPECT_EQ(pk_for(ctx(), 10, &o, MarkChunk, &r), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 1);
    EXPECT_STREQ(pk_ctx_error(ctx())->kernel, "other");
    // A kernel alone fires on the first task that runs.
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=pool"), 0);
    EXPECT_EQ(pk_for(ctx(), 10, nullptr, MarkChunk, &r), PK_EINJECTED);
}

TEST_P(PoolApi, FaultOnAnotherRankDoesNotFire) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "rank=1,task=0"), 0);
    FaultRun r(10);
    EXPECT_EQ(pk_for(ctx(), 10, nullptr, MarkChunk, &r), 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "rank=0,task=0"), 0);
    EXPECT_EQ(pk_for(ctx(), 10, nullptr, MarkChunk, &r), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx())->rank, 0);
}

TEST_P(PoolApi, FaultFiredReportsTheMostRecentCall) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "task=5"), 0);
    FaultRun r(10);
    pk_opts o = Opts(PK_STATIC, 1);
    ASSERT_EQ(pk_for(ctx(), 10, &o, MarkChunk, &r), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 1);
    // The same spec, but this call has no task 5.
    ASSERT_EQ(pk_for(ctx(), 3, &o, MarkChunk, &r), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
}

TEST_P(PoolApi, FaultInATeamRole) {
    // A team member that runs its own loop marks its tasks with pk_task_begin.
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "thread=1,task=4"), 0);
    auto body = [](void *, pk_worker *w) -> int {
        for (int64_t t = 0; t < 10; t++) {
            int rc = pk_task_begin(w, t);
            if (rc != 0)
                return rc;
        }
        return 0;
    };
    ASSERT_EQ(pk_team(ctx(), 2, nullptr, body, nullptr), PK_EINJECTED);
    EXPECT_EQ(ErrorString(), "pool: rank 0, thread 1, task 4: injected fault");
}

TEST_P(PoolApi, DisarmedFaultDoesNothing) {
    FaultRun r(10);
    for (const char *off : {"", static_cast<const char *>(nullptr)}) {
        ASSERT_EQ(pk_ctx_set_fault(ctx(), "task=2"), 0);
        ASSERT_EQ(pk_ctx_set_fault(ctx(), off), 0);
        EXPECT_EQ(pk_for(ctx(), 10, nullptr, MarkChunk, &r), 0);
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
    }
}

TEST_P(PoolApi, MalformedFaultSpecsAreRejected) {
    for (const char *bad :
         {"foo", "task", "task=", "task=-1", "task=x", "task=3x", "thread=1.5", "bogus=1",
          "kernel=", "kernel=a_kernel_name_that_is_far_too_long_to_fit", "task=1,,thread=0", "=3",
          "rank=99999999999", "task=1,thread"}) {
        SCOPED_TRACE(bad);
        pk_ctx_clear_error(ctx());
        EXPECT_EQ(pk_ctx_set_fault(ctx(), bad), PK_EINVAL);
        EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EINVAL);
        EXPECT_NE(std::string(pk_ctx_error(ctx())->message).find("fault spec"), std::string::npos)
            << pk_ctx_error(ctx())->message;
    }
}

// ---- argument errors -------------------------------------------------------------------------

struct Called {
    std::atomic<int> count{0};
};

int CountFor(void *arg, int64_t, int64_t, pk_worker *) {
    static_cast<Called *>(arg)->count++;
    return 0;
}

int CountChunk(void *arg, int64_t, int64_t, void *, void *, pk_worker *) {
    static_cast<Called *>(arg)->count++;
    return 0;
}

int CountTask(void *arg, int64_t, void *, pk_worker *) {
    static_cast<Called *>(arg)->count++;
    return 0;
}

int CountTeam(void *arg, pk_worker *) {
    static_cast<Called *>(arg)->count++;
    return 0;
}

TEST_P(PoolApi, NullContextIsRejected) {
    Called c;
    int64_t b, e, sum = 0;
    EXPECT_EQ(pk_for(nullptr, 10, nullptr, CountFor, &c), PK_EINVAL);
    EXPECT_EQ(pk_map_reduce(nullptr, 10, nullptr, CountChunk, &c, 0, nullptr, &pk_sum_i64, &sum),
              PK_EINVAL);
    EXPECT_EQ(pk_tasks(nullptr, 10, nullptr, CountTask, &c, nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_team(nullptr, 2, nullptr, CountTeam, &c), PK_EINVAL);
    EXPECT_EQ(pk_local_range(nullptr, 10, nullptr, &b, &e), PK_EINVAL);
    EXPECT_EQ(c.count, 0);
}

// Checks that rc is PK_EINVAL with a message, and that no callback ran.
void ExpectArgError(pk_ctx *ctx, int rc, const Called &c, const char *what) {
    EXPECT_EQ(rc, PK_EINVAL) << what;
    EXPECT_EQ(pk_ctx_error(ctx)->code, PK_EINVAL) << what;
    EXPECT_GT(std::strlen(pk_ctx_error(ctx)->message), 0u) << what;
    EXPECT_EQ(pk_ctx_error(ctx)->thread, -1) << what;
    EXPECT_EQ(c.count, 0) << what;
}

TEST_P(PoolApi, ForArgumentErrors) {
    Called c;
    pk_opts o{};
    ExpectArgError(ctx(), pk_for(ctx(), -1, nullptr, CountFor, &c), c, "negative n");
    ExpectArgError(ctx(), pk_for(ctx(), 10, nullptr, nullptr, &c), c, "NULL body");
    o.schedule = 3;
    ExpectArgError(ctx(), pk_for(ctx(), 10, &o, CountFor, &c), c, "schedule 3");
    o.schedule = -1;
    ExpectArgError(ctx(), pk_for(ctx(), 10, &o, CountFor, &c), c, "schedule -1");
    o = pk_opts{};
    o.where = 3;
    ExpectArgError(ctx(), pk_for(ctx(), 10, &o, CountFor, &c), c, "where 3");
    o.where = -1;
    ExpectArgError(ctx(), pk_for(ctx(), 10, &o, CountFor, &c), c, "where -1");
    o = pk_opts{};
    o.chunk = -5;
    ExpectArgError(ctx(), pk_for(ctx(), 10, &o, CountFor, &c), c, "negative chunk");
    EXPECT_NE(ErrorString().find("-5"), std::string::npos) << ErrorString();
}

TEST_P(PoolApi, MapReduceArgumentErrors) {
    Called c;
    int64_t sum = 0;
    std::vector<int64_t> out(10);
    ExpectArgError(ctx(),
                   pk_map_reduce(ctx(), -1, nullptr, CountChunk, &c, 0, nullptr, nullptr, nullptr),
                   c, "negative n");
    ExpectArgError(ctx(),
                   pk_map_reduce(ctx(), 10, nullptr, nullptr, &c, 0, nullptr, &pk_sum_i64, &sum), c,
                   "NULL body");
    ExpectArgError(
        ctx(), pk_map_reduce(ctx(), 10, nullptr, CountChunk, &c, 0, nullptr, &pk_sum_i64, nullptr),
        c, "reducer without result");
    ExpectArgError(ctx(),
                   pk_map_reduce(ctx(), 10, nullptr, CountChunk, &c, 8, nullptr, nullptr, nullptr),
                   c, "element size without output");
    pk_reducer no_combine{};
    no_combine.type.size = 8;
    ExpectArgError(ctx(),
                   pk_map_reduce(ctx(), 10, nullptr, CountChunk, &c, 0, nullptr, &no_combine, &sum),
                   c, "reducer without combine");
    pk_reducer no_size = pk_sum_i64;
    no_size.type.size = 0;
    ExpectArgError(ctx(),
                   pk_map_reduce(ctx(), 10, nullptr, CountChunk, &c, 0, nullptr, &no_size, &sum), c,
                   "reducer of size 0");
    pk_opts o{};
    o.schedule = 7;
    ExpectArgError(ctx(),
                   pk_map_reduce(ctx(), 10, &o, CountChunk, &c, 8, out.data(), nullptr, nullptr), c,
                   "bad schedule");
    // Neither output nor reducer is allowed: the body runs for its side effects.
    EXPECT_EQ(pk_map_reduce(ctx(), 10, nullptr, CountChunk, &c, 0, nullptr, nullptr, nullptr), 0);
    EXPECT_GT(c.count, 0);
}

TEST_P(PoolApi, TasksArgumentErrors) {
    Called c;
    pk_type t{};
    t.size = 8;
    std::vector<int64_t> results(10);
    ExpectArgError(ctx(), pk_tasks(ctx(), -1, nullptr, CountTask, &c, nullptr, nullptr), c,
                   "negative n");
    ExpectArgError(ctx(), pk_tasks(ctx(), 10, nullptr, nullptr, &c, nullptr, nullptr), c,
                   "NULL fn");
    ExpectArgError(ctx(), pk_tasks(ctx(), 10, nullptr, CountTask, &c, &t, nullptr), c,
                   "result type without results");
    pk_type empty{};
    ExpectArgError(ctx(), pk_tasks(ctx(), 10, nullptr, CountTask, &c, &empty, results.data()), c,
                   "result type of size 0");
    pk_opts o{};
    o.where = 9;
    ExpectArgError(ctx(), pk_tasks(ctx(), 10, &o, CountTask, &c, &t, results.data()), c,
                   "bad where");
}

TEST_P(PoolApi, TeamAndLocalRangeArgumentErrors) {
    Called c;
    ExpectArgError(ctx(), pk_team(ctx(), -1, nullptr, CountTeam, &c), c, "negative team");
    ExpectArgError(ctx(), pk_team(ctx(), 2, nullptr, nullptr, &c), c, "NULL fn");
    int64_t b = 0, e = 0;
    ExpectArgError(ctx(), pk_local_range(ctx(), -1, nullptr, &b, &e), c, "negative n");
    ExpectArgError(ctx(), pk_local_range(ctx(), 10, nullptr, nullptr, &e), c, "NULL begin");
    ExpectArgError(ctx(), pk_local_range(ctx(), 10, nullptr, &b, nullptr), c, "NULL end");
    ASSERT_EQ(pk_local_range(ctx(), 0, nullptr, &b, &e), 0);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 0);
}

// ---- context accessors
// ---------------------------------------------------------------------------

TEST_P(PoolApi, ThreadsSetAndRestore) {
    const int want = Threaded() ? 3 : 1;
    ASSERT_EQ(pk_ctx_set_threads(ctx(), 3), 0);
    EXPECT_EQ(pk_ctx_threads(ctx()), want);
    EXPECT_EQ(pk_ctx_set_threads(ctx(), -1), PK_EINVAL);
    EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EINVAL);
    EXPECT_EQ(pk_ctx_threads(ctx()), want) << "a refused setting changes nothing";
    ASSERT_EQ(pk_ctx_set_threads(ctx(), 0), 0);
    int def = pk_ctx_threads(ctx());
    EXPECT_GE(def, 1);
    if (!Threaded()) {
        EXPECT_EQ(def, 1);
    } else if (const char *env = std::getenv("OMP_NUM_THREADS")) {
        if (std::atoi(env) > 0 && std::strchr(env, ',') == nullptr)
            EXPECT_EQ(def, std::atoi(env)) << "the default follows OMP_NUM_THREADS";
    }
}

TEST_P(PoolApi, ThreadsObtainedAfterACall) {
    Coverage cov(4000);
    pk_opts o = Opts(PK_STATIC, 10);
    ASSERT_EQ(pk_for(ctx(), 4000, &o, CoverBody, &cov), 0);
    EXPECT_EQ(pk_ctx_threads_obtained(ctx()), GetParam().threads);
    std::set<int> threads;
    for (const ChunkRecord &r : cov.chunks)
        threads.insert(r.thread);
    EXPECT_EQ(static_cast<int>(threads.size()), GetParam().threads);
}

TEST_P(PoolApi, BackendNameRankAndSize) {
    EXPECT_EQ(pk_ctx_backend(ctx()), GetParam().backend);
    EXPECT_EQ(pk_ctx_rank(ctx()), 0);
    EXPECT_EQ(pk_ctx_size(ctx()), 1);
}

// pk_worker_run_end: with PK_STATIC, each chunk's run end is where the chunks
// this worker then takes one after the other stop: its next chunks are the
// ones up to it, in order, and the chunk starting there is not its next one.
// With PK_DYNAMIC it is the chunk's own end. -1 outside a chunk.
TEST_P(PoolApi, WorkerRunEndIsWhereTheWorkersConsecutiveChunksStop) {
    EXPECT_EQ(pk_worker_run_end(nullptr), -1);
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        for (int64_t chunk : {1, 3}) {
            SCOPED_TRACE("schedule " + std::to_string(schedule) + ", chunk " +
                         std::to_string(chunk));
            RunEnds r;
            pk_opts o = Opts(schedule, chunk);
            ASSERT_EQ(pk_for(ctx(), 100, &o, RecordRunEnd, &r), 0);
            ASSERT_FALSE(r.by_thread.empty());
            ExpectRunEnds(r, 100, schedule);
        }
    }
}

// Calls far shorter than a quarter of the interval, one after the other for
// several intervals: the report due carries from call to call, so some come.
TEST_P(PoolApi, ProgressCarriesAcrossCallsShorterThanTheInterval) {
    std::atomic<int> reports{0};
    auto fn = [](void *arg, const char *, double fraction) {
        EXPECT_GE(fraction, 0.0);
        EXPECT_LE(fraction, 1.0);
        static_cast<std::atomic<int> *>(arg)->fetch_add(1);
    };
    pk_ctx_set_progress(ctx(), fn, &reports, 0.02);
    auto brief = [](void *, int64_t, int64_t, pk_worker *) -> int {
        SleepMicros(50);
        return 0;
    };
    pk_opts o = Opts(PK_STATIC, 1);
    auto start = std::chrono::steady_clock::now();
    int calls = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(120)) {
        ASSERT_EQ(pk_for(ctx(), 2, &o, brief, nullptr), 0);
        calls++;
    }
    pk_ctx_set_progress(ctx(), nullptr, nullptr, 0);
    EXPECT_GE(reports.load(), 2) << "over " << calls << " calls in 120 ms";
}

TEST_P(PoolApi, ProgressIsReportedWithTheLabel) {
    struct Seen {
        std::mutex mu;
        std::vector<double> fractions;
        std::set<std::string> labels;
    } seen;
    auto fn = [](void *arg, const char *kernel, double fraction) {
        Seen *s = static_cast<Seen *>(arg);
        std::lock_guard<std::mutex> lock(s->mu);
        s->fractions.push_back(fraction);
        s->labels.insert(kernel);
    };
    pk_ctx_set_progress(ctx(), fn, &seen, 1e-6);
    auto slow = [](void *, int64_t, int64_t, pk_worker *) -> int {
        SleepMicros(100);
        return 0;
    };
    pk_opts o = Opts(PK_STATIC, 1); // static: thread 0, which reports, surely runs chunks
    o.label = "walk";
    ASSERT_EQ(pk_for(ctx(), 200, &o, slow, nullptr), 0);
    pk_ctx_set_progress(ctx(), nullptr, nullptr, 0);
    ASSERT_FALSE(seen.fractions.empty());
    EXPECT_EQ(seen.labels, std::set<std::string>{"walk"});
    for (size_t k = 0; k < seen.fractions.size(); k++) {
        EXPECT_GE(seen.fractions[k], 0.0);
        EXPECT_LE(seen.fractions[k], 1.0);
        if (k > 0)
            EXPECT_GE(seen.fractions[k], seen.fractions[k - 1]);
    }
}

// ---- interruption (pk_ctx_set_interrupt) ------------------------------------------------

// Says "stop" from its (after + 1)-th poll on; counts the polls.
struct Interrupt {
    explicit Interrupt(int64_t n) : after(n) {}
    int64_t after;
    std::atomic<int64_t> polls{0};
};

int InterruptAfter(void *arg) {
    auto *in = static_cast<Interrupt *>(arg);
    return in->polls.fetch_add(1) >= in->after;
}

int CountRange(void *arg, int64_t b, int64_t e, pk_worker *) {
    static_cast<std::atomic<int64_t> *>(arg)->fetch_add(e - b);
    return 0;
}

int CountInterruptedTask(void *arg, int64_t, void *, pk_worker *) {
    static_cast<std::atomic<int64_t> *>(arg)->fetch_add(1);
    return 0;
}

TEST_P(PoolApi, InterruptStopsEveryWorkerBeforeItsNextChunk) {
    for (int schedule : {PK_STATIC, PK_DYNAMIC}) {
        Interrupt in(5);
        pk_ctx_set_interrupt(ctx(), InterruptAfter, &in);
        std::atomic<int64_t> ran{0};
        pk_opts o = Opts(schedule, 1);
        EXPECT_EQ(pk_for(ctx(), 1000, &o, CountRange, &ran), PK_EINTR);
        // A chunk runs only after a poll that said "go on": five of them.
        EXPECT_LE(ran.load(), 5) << "schedule " << schedule;
        EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EINTR);
        EXPECT_STREQ(pk_ctx_error(ctx())->message, "interrupted");
        pk_ctx_set_interrupt(ctx(), nullptr, nullptr);
        ran = 0;
        EXPECT_EQ(pk_for(ctx(), 1000, &o, CountRange, &ran), 0) << ErrorString();
        EXPECT_EQ(ran.load(), 1000);
    }
}

TEST_P(PoolApi, InterruptStopsTasksInsideAChunk) {
    Interrupt in(3);
    pk_ctx_set_interrupt(ctx(), InterruptAfter, &in);
    std::atomic<int64_t> ran{0};
    pk_opts o = Opts(PK_DYNAMIC, 100); // 100 tasks a chunk, polled between them
    EXPECT_EQ(pk_tasks(ctx(), 1000, &o, CountInterruptedTask, &ran, nullptr, nullptr), PK_EINTR);
    EXPECT_LE(ran.load(), 3 + Threads()); // each worker may finish the task it began
    pk_ctx_set_interrupt(ctx(), nullptr, nullptr);
}

TEST_P(PoolApi, InterruptReachesTeamRolesAndLongSteps) {
    Interrupt in(0); // fired from the first poll
    pk_ctx_set_interrupt(ctx(), InterruptAfter, &in);
    auto body = [](void *, pk_worker *w) -> int {
        for (int64_t t = 0; t < 1000000000; t++) {
            int rc = pk_interrupt_check(w);
            if (rc != 0)
                return rc;
        }
        return 0;
    };
    EXPECT_EQ(pk_team(ctx(), 2, nullptr, body, nullptr), PK_EINTR);
    EXPECT_EQ(pk_ctx_interrupted(ctx()), PK_EINTR);
    EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EINTR);
    pk_ctx_set_interrupt(ctx(), nullptr, nullptr);
    EXPECT_EQ(pk_ctx_interrupted(ctx()), 0);
    EXPECT_EQ(pk_ctx_interrupted(nullptr), 0);
    EXPECT_STREQ(pk_strerror(PK_EINTR), "interrupted");
    EXPECT_STREQ(pk_err_name(PK_EINTR), "PK_EINTR");
}

INSTANTIATE_TEST_SUITE_P(Pools, PoolApi, testing::ValuesIn(AllPools()), PoolName);

// ---- backends by name
// -------------------------------------------------------------------------------

TEST(Backends, CompiledInListIsNullTerminatedAndUnique) {
    std::set<std::string> names;
    const char *const *b = pk_backends();
    ASSERT_NE(b, nullptr);
    for (; *b != nullptr; b++)
        EXPECT_TRUE(names.insert(*b).second) << *b;
    EXPECT_EQ(names.count("serial"), 1u);
    EXPECT_EQ(names.count("omp"), PARKIT_WITH_OPENMP ? 1u : 0u);
    EXPECT_EQ(names.count("mpi"), PARKIT_WITH_MPI ? 1u : 0u);
    EXPECT_EQ(names.size(), 1u + PARKIT_WITH_OPENMP + PARKIT_WITH_MPI);
}

// Sets an environment variable for one scope and restores it after.
class ScopedEnv {
  public:
    ScopedEnv(const char *name, const char *value) : name_(name) {
        const char *old = std::getenv(name);
        had_ = old != nullptr;
        if (had_)
            old_ = old;
        if (value != nullptr)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv() {
        if (had_)
            setenv(name_, old_.c_str(), 1);
        else
            unsetenv(name_);
    }

  private:
    const char *name_;
    bool had_;
    std::string old_;
};

std::string BackendOf(const char *name, int *rc) {
    static int dummy;
    pk_ctx *c = reinterpret_cast<pk_ctx *>(&dummy); // must be overwritten
    *rc = pk_ctx_new(&c, name);
    if (*rc != 0) {
        EXPECT_EQ(c, nullptr) << "a failed pk_ctx_new leaves NULL";
        return "";
    }
    std::string b = pk_ctx_backend(c);
    pk_ctx_free(c);
    return b;
}

TEST(Backends, ByNameAndUnknown) {
    ScopedEnv env("PARKIT_BACKEND", nullptr);
    int rc;
    EXPECT_EQ(BackendOf("serial", &rc), "serial");
    EXPECT_EQ(rc, 0);
#if PARKIT_WITH_OPENMP
    EXPECT_EQ(BackendOf("omp", &rc), "omp");
    EXPECT_EQ(BackendOf("auto", &rc), "omp");
    EXPECT_EQ(BackendOf(nullptr, &rc), "omp");
#else
    EXPECT_EQ(BackendOf("auto", &rc), "serial");
    BackendOf("omp", &rc);
    EXPECT_EQ(rc, PK_ENOENT);
#endif
    for (const char *bad : {"nosuch", "SERIAL", "omp ", "mpix"}) {
        BackendOf(bad, &rc);
        EXPECT_EQ(rc, PK_ENOENT) << bad;
    }
    EXPECT_EQ(pk_ctx_new(nullptr, "serial"), PK_EINVAL);
    pk_ctx_free(nullptr);
}

TEST(Backends, EnvironmentChoosesWhenNoNameIsGiven) {
    int rc;
    {
        ScopedEnv env("PARKIT_BACKEND", "serial");
        EXPECT_EQ(BackendOf(nullptr, &rc), "serial");
        EXPECT_EQ(BackendOf("", &rc), "serial");
#if PARKIT_WITH_OPENMP
        EXPECT_EQ(BackendOf("omp", &rc), "omp") << "an explicit name wins over the environment";
#endif
    }
    {
        ScopedEnv env("PARKIT_BACKEND", "nosuch");
        BackendOf(nullptr, &rc);
        EXPECT_EQ(rc, PK_ENOENT);
        EXPECT_EQ(BackendOf("serial", &rc), "serial");
    }
}

#if PARKIT_WITH_OPENMP && defined(__linux__)
// The threads backend binds its workers, not the caller, to CPUs of their own
// when nothing else binds them (omp/src/omp_backend.c, "where the workers run").
struct Masks {
    std::mutex m;
    std::map<int, cpu_set_t> of; // by worker id
};

static int RecordMask(void *arg, pk_worker *w) {
    Masks *s = static_cast<Masks *>(arg);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return pk_fail(w, PK_EIO, "sched_getaffinity failed");
    std::lock_guard<std::mutex> lock(s->m);
    s->of[w->id] = set;
    return 0;
}

static bool SameSet(const cpu_set_t &a, const cpu_set_t &b) {
    return CPU_EQUAL(&a, &b) != 0;
}

// The CPU set of each worker of a team of n on ctx, by worker id.
static std::map<int, cpu_set_t> TeamMasks(pk_ctx *ctx, int n) {
    Masks s;
    EXPECT_EQ(pk_team(ctx, n, nullptr, RecordMask, &s), 0);
    EXPECT_EQ(s.of.size(), static_cast<size_t>(n));
    return s.of;
}

TEST(OmpPlacement, WorkersGetACpuEachAndTheCallerKeepsItsSet) {
    for (const char *v : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"})
        if (std::getenv(v) != nullptr)
            GTEST_SKIP() << v << " is set: the OpenMP runtime's binding applies";
    cpu_set_t all;
    ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
    const int ncpu = CPU_COUNT(&all);
    if (ncpu < 2)
        GTEST_SKIP() << "one CPU: nothing to place";
    pk_ctx *ctx = nullptr;
    ASSERT_EQ(pk_ctx_new(&ctx, "omp"), 0);
    std::map<int, cpu_set_t> two = TeamMasks(ctx, 2);
    EXPECT_TRUE(SameSet(two[0], all)) << "the calling thread is never bound";
    EXPECT_EQ(CPU_COUNT(&two[1]), 1) << "worker 1 runs on one CPU";
    cpu_set_t inside;
    CPU_AND(&inside, &two[1], &all);
    EXPECT_EQ(CPU_COUNT(&inside), 1) << "a CPU of the process's set";
    // A team larger than the CPUs is left to the scheduler: worker 1 is free again.
    for (auto &kv : TeamMasks(ctx, ncpu + 1))
        EXPECT_TRUE(SameSet(kv.second, all)) << "worker " << kv.first;
    cpu_set_t after;
    ASSERT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
    EXPECT_TRUE(SameSet(after, all));
    pk_ctx_free(ctx);
}

TEST(OmpPlacement, NothingIsBoundWhenTheUserSetsABinding) {
    // OMP_PROC_BIND=false, the documented way out: the runtime binds nothing
    // either (LLVM's reads OMP_PLACES at its first region and would bind the
    // team itself), and parkit reads the variable at each call.
    ScopedEnv env("OMP_PROC_BIND", "false");
    cpu_set_t all;
    ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
    if (CPU_COUNT(&all) < 2)
        GTEST_SKIP() << "one CPU: nothing to place";
    pk_ctx *ctx = nullptr;
    ASSERT_EQ(pk_ctx_new(&ctx, "omp"), 0);
    for (auto &kv : TeamMasks(ctx, 2))
        EXPECT_TRUE(SameSet(kv.second, all)) << "worker " << kv.first;
    pk_ctx_free(ctx);
}
#endif

} // namespace
