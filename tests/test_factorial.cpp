// The factorial kernels against GMP's mpz_fac_ui on every pool: small values,
// the 64-bit boundary, the boundaries of the leaf chunks (found from the plan
// itself), primes, powers of two and 10^5; the range kernels and their tables;
// the 64-bit overflow error and its origin; exact digit counts at the 10^k
// boundaries; the mpz reducer; fault injection and argument errors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

extern "C" {
#include "../kernels/src/factorial_plan.h"
#include "../kernels/src/mpz_mul.h"
}

namespace {

// An mpz_t that frees itself.
struct Mpz {
    mpz_t v;
    Mpz() { mpz_init(v); }
    explicit Mpz(unsigned long x) { mpz_init_set_ui(v, x); }
    ~Mpz() { mpz_clear(v); }
    Mpz(const Mpz &) = delete;
    Mpz &operator=(const Mpz &) = delete;
};

// b - a + 1 initialized mpz_t.
struct MpzArray {
    std::vector<__mpz_struct> v;
    explicit MpzArray(size_t n) : v(n) {
        for (auto &x : v)
            mpz_init(&x);
    }
    ~MpzArray() {
        for (auto &x : v)
            mpz_clear(&x);
    }
    mpz_t *data() { return reinterpret_cast<mpz_t *>(v.data()); }
    mpz_srcptr at(size_t i) const { return &v[i]; }
};

std::string Dec(mpz_srcptr x) {
    char *s = mpz_get_str(nullptr, 10, x);
    std::string out(s);
    void (*release)(void *, size_t);
    mp_get_memory_functions(nullptr, nullptr, &release);
    release(s, out.size() + 1);
    return out;
}

// 0! .. 20!, written out (20! is the last below 2^64).
// clang-format off
const uint64_t kKnown[21] = {
    1ULL, 1ULL, 2ULL, 6ULL, 24ULL, 120ULL, 720ULL, 5040ULL, 40320ULL, 362880ULL, 3628800ULL,
    39916800ULL, 479001600ULL, 6227020800ULL, 87178291200ULL, 1307674368000ULL,
    20922789888000ULL, 355687428096000ULL, 6402373705728000ULL, 121645100408832000ULL,
    2432902008176640000ULL};
// clang-format on

// Values of n on both sides of the first changes in the leaf chunking: where
// the chunk count, or the segment count, changes from n - 1 to n. Computed once.
std::vector<uint64_t> FindChunkBoundaries(uint64_t limit, size_t max_count) {
    std::vector<uint64_t> out;
    pk__fact_plan prev;
    EXPECT_EQ(pk__fact_plan_build(&prev, 21), 0);
    for (uint64_t n = 22; n <= limit && out.size() < max_count; n++) {
        pk__fact_plan cur;
        EXPECT_EQ(pk__fact_plan_build(&cur, n), 0);
        if (cur.nchunks != prev.nchunks || cur.nseg != prev.nseg) {
            out.push_back(n - 1);
            out.push_back(n);
        }
        pk__fact_plan_free(&prev);
        prev = cur;
    }
    pk__fact_plan_free(&prev);
    return out;
}

const std::vector<uint64_t> &ChunkBoundaries() {
    static const std::vector<uint64_t> ns = FindChunkBoundaries(40000, 40);
    return ns;
}

class Factorial : public PoolTest {
  protected:
    void ExpectMatchesGmp(uint64_t n) {
        Mpz got, want;
        mpz_set_ui(got.v, 12345); // anything but the answer
        ASSERT_EQ(pk_factorial(ctx(), n, got.v), 0) << "n = " << n << ": " << ErrorString();
        mpz_fac_ui(want.v, static_cast<unsigned long>(n));
        EXPECT_EQ(mpz_cmp(got.v, want.v), 0) << "n = " << n;
    }
};

TEST_P(Factorial, SmallValuesAndThe64BitBoundary) {
    for (uint64_t n = 0; n <= 64; n++)
        ExpectMatchesGmp(n);
    Mpz x;
    for (uint64_t n = 0; n <= 20; n++) {
        ASSERT_EQ(pk_factorial(ctx(), n, x.v), 0);
        EXPECT_EQ(mpz_get_ui(x.v), kKnown[n]) << n;
    }
}

TEST_P(Factorial, DenseUpTo600) {
    for (uint64_t n = 65; n <= 600; n++)
        ExpectMatchesGmp(n);
}

TEST_P(Factorial, ChunkBoundaries) {
    const std::vector<uint64_t> &ns = ChunkBoundaries();
    ASSERT_GE(ns.size(), 10u) << "the chunking should change below 40000";
    for (uint64_t n : ns)
        ExpectMatchesGmp(n);
}

TEST_P(Factorial, PrimesPowersOfTwoAndLarger) {
    for (uint64_t n : {97, 997, 7919, 65521, 99991}) // primes
        ExpectMatchesGmp(n);
    for (uint64_t n : {128, 1024, 1023, 1025, 8192, 65535, 65536}) // powers of two and neighbours
        ExpectMatchesGmp(n);
    for (uint64_t n : {12345, 54321, 100000})
        ExpectMatchesGmp(n);
}

TEST_P(Factorial, RepeatedCallsReuseTheResult) {
    Mpz x, want;
    for (uint64_t n : {30000, 25, 30000, 0}) {
        ASSERT_EQ(pk_factorial(ctx(), n, x.v), 0);
        mpz_fac_ui(want.v, static_cast<unsigned long>(n));
        EXPECT_EQ(mpz_cmp(x.v, want.v), 0) << n;
    }
}

TEST_P(Factorial, DigitsOf100000Factorial) {
    Mpz x;
    ASSERT_EQ(pk_factorial(ctx(), 100000, x.v), 0);
    uint64_t digits = 0;
    char lead[11];
    ASSERT_EQ(pk_mpz_digits(x.v, &digits, lead, sizeof lead), 0);
    EXPECT_EQ(digits, 456574u);
    EXPECT_EQ(Dec(x.v).substr(0, 10), std::string(lead));
}

TEST_P(Factorial, EachMatchesGmp) {
    const uint64_t a = 0, b = 300;
    MpzArray r(b - a + 1);
    ASSERT_EQ(pk_factorial_each(ctx(), a, b, r.data()), 0) << ErrorString();
    Mpz want;
    for (uint64_t k = a; k <= b; k++) {
        mpz_fac_ui(want.v, static_cast<unsigned long>(k));
        EXPECT_EQ(mpz_cmp(r.at(k - a), want.v), 0) << k;
    }
}

TEST_P(Factorial, EachUnequalTasks) {
    const uint64_t a = 4990, b = 5030;
    MpzArray r(b - a + 1);
    ASSERT_EQ(pk_factorial_each(ctx(), a, b, r.data()), 0) << ErrorString();
    Mpz want;
    for (uint64_t k = a; k <= b; k++) {
        mpz_fac_ui(want.v, static_cast<unsigned long>(k));
        EXPECT_EQ(mpz_cmp(r.at(k - a), want.v), 0) << k;
    }
}

TEST_P(Factorial, EachTableOneToTen) {
    MpzArray r(10);
    ASSERT_EQ(pk_factorial_each(ctx(), 1, 10, r.data()), 0);
    std::string table;
    for (int k = 1; k <= 10; k++)
        table += "Factorial of " + std::to_string(k) + " is " + Dec(r.at(k - 1)) + "\n";
    EXPECT_EQ(table, "Factorial of 1 is 1\nFactorial of 2 is 2\nFactorial of 3 is 6\n"
                     "Factorial of 4 is 24\nFactorial of 5 is 120\nFactorial of 6 is 720\n"
                     "Factorial of 7 is 5040\nFactorial of 8 is 40320\n"
                     "Factorial of 9 is 362880\nFactorial of 10 is 3628800\n");
}

TEST_P(Factorial, EachSingleValue) {
    MpzArray r(1);
    ASSERT_EQ(pk_factorial_each(ctx(), 777, 777, r.data()), 0);
    Mpz want;
    mpz_fac_ui(want.v, 777);
    EXPECT_EQ(mpz_cmp(r.at(0), want.v), 0);
}

TEST_P(Factorial, U64KnownValues) {
    std::vector<uint64_t> r(21, 0);
    ASSERT_EQ(pk_factorial_each_u64(ctx(), 0, 20, r.data()), 0) << ErrorString();
    for (int k = 0; k <= 20; k++)
        EXPECT_EQ(r[static_cast<size_t>(k)], kKnown[k]) << k;
    std::vector<uint64_t> mid(5, 0);
    ASSERT_EQ(pk_factorial_each_u64(ctx(), 16, 20, mid.data()), 0);
    for (int k = 16; k <= 20; k++)
        EXPECT_EQ(mid[static_cast<size_t>(k - 16)], kKnown[k]) << k;
}

// The error names the first k > 20 of the range and its task, whatever the
// schedule; repeated to give the schedule a chance to differ.
TEST_P(Factorial, U64OverflowNamesTheFirstTooBigValue) {
    struct Case {
        uint64_t a, b, bad;
    };
    for (Case c : {Case{1, 25, 21}, Case{15, 21, 21}, Case{21, 21, 21}, Case{0, 100, 21},
                   Case{30, 40, 30}}) {
        for (int rep = 0; rep < 5; rep++) {
            std::vector<uint64_t> r(c.b - c.a + 1, 0);
            int rc = pk_factorial_each_u64(ctx(), c.a, c.b, r.data());
            ASSERT_EQ(rc, PK_EOVERFLOW) << c.a << ".." << c.b;
            const pk_error_info *e = pk_ctx_error(ctx());
            EXPECT_EQ(e->code, PK_EOVERFLOW);
            EXPECT_STREQ(e->kernel, "factorial");
            EXPECT_EQ(e->rank, 0);
            EXPECT_GE(e->thread, 0);
            EXPECT_LT(e->thread, GetParam().threads);
            EXPECT_EQ(e->task, static_cast<int64_t>(c.bad - c.a));
            EXPECT_EQ(std::string(e->message), std::to_string(c.bad) + "! does not fit in 64 bits");
            std::regex shape("factorial: rank 0, thread [0-9]+, task " +
                             std::to_string(c.bad - c.a) + ": " + std::to_string(c.bad) +
                             "! does not fit in 64 bits");
            EXPECT_TRUE(std::regex_match(ErrorString(), shape)) << ErrorString();
        }
    }
}

TEST_P(Factorial, ArgumentErrors) {
    Mpz x;
    MpzArray r(2);
    std::vector<uint64_t> r64(2);
    EXPECT_EQ(pk_factorial_each(ctx(), 5, 4, r.data()), PK_EINVAL);
    EXPECT_NE(std::string(pk_ctx_error(ctx())->message).find("a > b"), std::string::npos);
    EXPECT_EQ(pk_ctx_error(ctx())->task, -1);
    EXPECT_EQ(pk_factorial_each_u64(ctx(), 9, 1, r64.data()), PK_EINVAL);
    EXPECT_EQ(pk_factorial_each(ctx(), 1, 2, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_factorial_each_u64(ctx(), 1, 2, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_factorial_each_u64(ctx(), 0, UINT64_MAX, r64.data()), PK_EINVAL);
    EXPECT_EQ(pk_factorial(ctx(), 4294967296ULL, x.v), PK_ERANGE);
    EXPECT_NE(std::string(pk_ctx_error(ctx())->message).find("4294967296"), std::string::npos);
    EXPECT_EQ(pk_factorial_each(ctx(), 4294967290ULL, 4294967296ULL, r.data()), PK_ERANGE);
    EXPECT_EQ(pk_factorial(ctx(), 10, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_factorial(nullptr, 10, x.v), PK_EINVAL);
    // The context stays usable.
    ASSERT_EQ(pk_factorial(ctx(), 10, x.v), 0);
    EXPECT_EQ(mpz_get_ui(x.v), 3628800u);
}

TEST_P(Factorial, InjectedFaultInALeafTask) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=factorial,task=2"), 0);
    Mpz x;
    EXPECT_EQ(pk_factorial(ctx(), 100000, x.v), PK_EINJECTED);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_STREQ(e->kernel, "factorial");
    EXPECT_EQ(e->task, 2);
    EXPECT_TRUE(pk_ctx_fault_fired(ctx()));
    ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
    ASSERT_EQ(pk_factorial(ctx(), 100000, x.v), 0);
    Mpz want;
    mpz_fac_ui(want.v, 100000);
    EXPECT_EQ(mpz_cmp(x.v, want.v), 0);
}

TEST_P(Factorial, InjectedFaultOnThreadOneTaskThree) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "thread=1,task=3"), 0);
    Mpz x;
    if (pk_ctx_threads(ctx()) < 2) { // no thread 1: nothing fires and nothing is lost
        ASSERT_EQ(pk_factorial(ctx(), 100000, x.v), 0);
        Mpz want;
        mpz_fac_ui(want.v, 100000);
        EXPECT_EQ(mpz_cmp(x.v, want.v), 0);
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
        return;
    }
    EXPECT_EQ(pk_factorial(ctx(), 100000, x.v), PK_EINJECTED);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(e->thread, 1);
    EXPECT_EQ(e->task, 3);
    EXPECT_EQ(ErrorString(), "factorial: rank 0, thread 1, task 3: injected fault");

    MpzArray r(30);
    EXPECT_EQ(pk_factorial_each(ctx(), 100, 129, r.data()), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx())->thread, 1);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 3);

    std::vector<uint64_t> r64(20);
    EXPECT_EQ(pk_factorial_each_u64(ctx(), 1, 20, r64.data()), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx())->thread, 1);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 3);
}

TEST_P(Factorial, MpzProductReducer) {
    // 2000! as a map-reduce: each chunk multiplies its own numbers.
    auto body = [](void *, int64_t begin, int64_t end, void *, void *acc, pk_worker *) -> int {
        for (int64_t i = begin; i < end; i++)
            mpz_mul_ui(static_cast<mpz_ptr>(acc), static_cast<mpz_ptr>(acc),
                       static_cast<unsigned long>(i + 1));
        return 0;
    };
    Mpz result(1), want;
    pk_opts o{};
    o.chunk = 7;
    ASSERT_EQ(pk_map_reduce(ctx(), 2000, &o, body, nullptr, 0, nullptr, &pk_mpz_product, result.v),
              0);
    mpz_fac_ui(want.v, 2000);
    EXPECT_EQ(mpz_cmp(result.v, want.v), 0);
}

INSTANTIATE_TEST_SUITE_P(AllPools, Factorial, testing::ValuesIn(AllPools()), PoolName);

// Every pool gives the same integer as the serial backend, call after call.
TEST(FactorialDeterminism, SameResultOnEveryPool) {
    Mpz ref;
    CtxPtr serial = MakeCtx({"serial", 1});
    ASSERT_EQ(pk_factorial(serial.get(), 77777, ref.v), 0);
    for (const Pool &p : AllPools()) {
        CtxPtr c = MakeCtx(p);
        for (int rep = 0; rep < 2; rep++) {
            Mpz x;
            ASSERT_EQ(pk_factorial(c.get(), 77777, x.v), 0) << p;
            EXPECT_EQ(mpz_cmp(x.v, ref.v), 0) << p;
        }
    }
}

// n! big enough that the chain's squares and products reach the FFT sizes of
// mpz_mul.c (with FLINT) and the split of unbalanced products over threads.
TEST(FactorialLarge, OneMillionOnOneAndTwoThreads) {
    pk_ctx *probe = nullptr;
    if (pk_ctx_new(&probe, "omp") != 0)
        GTEST_SKIP() << "built without OpenMP";
    pk_ctx_free(probe);
    Mpz want;
    mpz_fac_ui(want.v, 1000000);
    for (int threads : {1, 2}) {
        CtxPtr c = MakeCtx({"omp", threads});
        Mpz x;
        ASSERT_EQ(pk_factorial(c.get(), 1000000, x.v), 0) << threads << " threads";
        EXPECT_EQ(mpz_cmp(x.v, want.v), 0) << threads << " threads";
    }
}

// ---- the chain: every fold of the low bits gives n! ----

// The segment products of n! (from its plan), as pk_factorial's chain gets them.
std::vector<Mpz> SegmentProducts(uint64_t n) {
    pk__fact_plan plan;
    EXPECT_EQ(pk__fact_plan_build(&plan, n), 0);
    std::vector<Mpz> seg(static_cast<size_t>(plan.nseg));
    for (int j = 0; j < plan.nseg; j++)
        pk__prod_limbs(seg[static_cast<size_t>(j)].v, plan.limbs + plan.seg_limb[j],
                       plan.seg_limb[j + 1] - plan.seg_limb[j]);
    pk__fact_plan_free(&plan);
    return seg;
}

std::vector<mpz_t> Raw(std::vector<Mpz> &v) {
    std::vector<mpz_t> raw(v.size());
    for (size_t i = 0; i < v.size(); i++)
        raw[i][0] = v[i].v[0]; // shallow: the chain takes them over
    return raw;
}

// 300000!: its top products reach the FFT sizes. Every m from plain Horner (1)
// to the top, on the calling thread, on one thread of a pool and on two (the
// two chains side by side, on FLINT's pool when built with it).
TEST(FactorialChain, EveryFoldGivesTheFactorial) {
    const uint64_t n = 300000;
    Mpz want;
    mpz_fac_ui(want.v, n);
    std::vector<CtxPtr> ctxs;
    ctxs.push_back(MakeCtx({"serial", 1}));
    pk_ctx *probe = nullptr;
    if (pk_ctx_new(&probe, "omp") == 0) {
        pk_ctx_free(probe);
        ctxs.push_back(MakeCtx({"omp", 2}));
    }
    for (size_t k = 0; k <= ctxs.size(); k++) {
        pk_ctx *c = k < ctxs.size() ? ctxs[k].get() : nullptr;
        int nseg = static_cast<int>(SegmentProducts(n).size());
        ASSERT_GT(nseg, 8);
        for (int m = 1; m <= 9; m++) {
            std::vector<Mpz> seg = SegmentProducts(n);
            std::vector<mpz_t> raw = Raw(seg);
            Mpz r;
            ASSERT_EQ(pk__fact_chain(c, r.v, raw.data(), nseg, pk__fact_twos(n), m), 0);
            EXPECT_EQ(mpz_cmp(r.v, want.v), 0) << "m = " << m << ", context " << k;
            for (size_t i = 0; i < seg.size(); i++)
                seg[i].v[0] = raw[i][0]; // what the chain left, freed by Mpz
        }
    }
}

// The model folds nothing below 32768 limbs, and 2 to 8 bits for 10^6!, whose
// last unbalanced products are in the FFT's range.
TEST(FactorialChain, FoldsOnlyBigProducts) {
    std::vector<Mpz> small = SegmentProducts(100000), big = SegmentProducts(1000000);
    std::vector<mpz_t> s = Raw(small), b = Raw(big);
    for (int threads : {1, 2, 4}) {
        EXPECT_EQ(pk__fact_fold_bits(s.data(), static_cast<int>(s.size()), threads), 1);
        int m = pk__fact_fold_bits(b.data(), static_cast<int>(b.size()), threads);
        EXPECT_GE(m, 2) << threads << " threads";
        EXPECT_LE(m, 8) << threads << " threads";
    }
}

// ---- pk__mul_tasks: the tasks of the chain on FLINT's pool ----

class MulTasks : public testing::Test {
  protected:
    void SetUp() override {
        if (!pk__mul_fft_available())
            GTEST_SKIP() << "built without FLINT";
    }
};

struct TaskTally {
    std::vector<std::atomic<int>> runs;
    int64_t fail_at = -1;
    explicit TaskTally(size_t n) : runs(n) {}
};

int TallyTask(void *arg, int64_t t, void *result, pk_worker *w) {
    EXPECT_EQ(result, nullptr);
    EXPECT_EQ(w, nullptr);
    auto *tally = static_cast<TaskTally *>(arg);
    tally->runs[static_cast<size_t>(t)]++;
    return t == tally->fail_at ? PK_EINVAL : 0;
}

TEST_F(MulTasks, EveryTaskRunsOnceAndTheFirstErrorComesBack) {
    for (int threads : {1, 2, 3, 8})
        for (int64_t n : {0, 1, 2, 5, 100}) {
            TaskTally tally(static_cast<size_t>(n));
            tally.fail_at = n / 2;
            int rc = pk__mul_tasks(threads, n, TallyTask, &tally);
            EXPECT_EQ(rc, n > 0 ? PK_EINVAL : 0) << threads << " threads, " << n << " tasks";
            for (int64_t t = 0; t < n; t++)
                EXPECT_EQ(tally.runs[static_cast<size_t>(t)].load(), 1)
                    << "task " << t << " of " << n << ", " << threads << " threads";
        }
}

// Two tasks that each wait (2 s at most) for the other to start: done only if
// two threads run them at once.
struct Meeting {
    std::atomic<int> arrived{0};
    std::atomic<int> met{0};
};

int MeetTask(void *arg, int64_t, void *, pk_worker *) {
    auto *m = static_cast<Meeting *>(arg);
    m->arrived++;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (m->arrived.load() < 2 && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
    if (m->arrived.load() >= 2)
        m->met++;
    return 0;
}

TEST_F(MulTasks, TwoThreadsRunTwoTasksAtOnce) {
    for (int rep = 0; rep < 3; rep++) {
        Meeting m;
        ASSERT_EQ(pk__mul_tasks(2, 2, MeetTask, &m), 0);
        EXPECT_EQ(m.met.load(), 2) << "call " << rep;
    }
}

// A task that calls pk__mul_tasks again (the pool is busy): its tasks run on
// its own thread, all of them, and nothing waits for the pool.
int NestedTask(void *arg, int64_t, void *, pk_worker *) {
    TaskTally inner(10);
    int rc = pk__mul_tasks(2, 10, TallyTask, &inner);
    int wrong = 0;
    for (auto &r : inner.runs)
        wrong += r.load() != 1;
    static_cast<std::atomic<int> *>(arg)->fetch_add(wrong + (rc != 0));
    return 0;
}

TEST_F(MulTasks, ANestedCallRunsOnItsThread) {
    std::atomic<int> wrong{0};
    ASSERT_EQ(pk__mul_tasks(2, 4, NestedTask, &wrong), 0);
    EXPECT_EQ(wrong.load(), 0);
}

// ---- the FFT products of mpz_mul.c against mpz_mul ----

// Random operands with long runs of zero and one bits (mpz_rrandomb), which
// reach the carries that uniform bits rarely do.
void RandomLimbs(mpz_t x, gmp_randstate_t rs, size_t limbs, bool negative) {
    mpz_rrandomb(x, rs, static_cast<mp_bitcnt_t>(limbs) * GMP_NUMB_BITS);
    if (negative)
        mpz_neg(x, x);
}

class MulFft : public testing::TestWithParam<int> {
  protected:
    void SetUp() override {
        if (!pk__mul_fft_available())
            GTEST_SKIP() << "built without FLINT";
    }
    // a * b by pk__mul_fft into a fresh result, into a, and into b.
    void ExpectProduct(mpz_srcptr a, mpz_srcptr b, const std::string &what) {
        Mpz want, got, ra, rb;
        mpz_mul(want.v, a, b);
        mpz_set_ui(got.v, 7);
        ASSERT_EQ(pk__mul_fft(got.v, a, b, GetParam()), 0);
        EXPECT_EQ(mpz_cmp(got.v, want.v), 0) << what;
        mpz_set(ra.v, a);
        mpz_set(rb.v, b);
        ASSERT_EQ(pk__mul_fft(ra.v, ra.v, b, GetParam()), 0);
        EXPECT_EQ(mpz_cmp(ra.v, want.v), 0) << what << ", into a";
        ASSERT_EQ(pk__mul_fft(rb.v, a, rb.v, GetParam()), 0);
        EXPECT_EQ(mpz_cmp(rb.v, want.v), 0) << what << ", into b";
    }
};

TEST_P(MulFft, ManySizesBalancedAndNot) {
    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 20240611u + static_cast<unsigned>(GetParam()));
    const size_t sizes[] = {1, 2, 3, 17, 64, 333, 1000, 4097, 20000, 70001, 150000};
    int k = 0;
    for (size_t na : sizes)
        for (size_t nb : sizes) {
            if (nb > na || na * nb > 3000000000u)
                continue;
            Mpz a, b;
            RandomLimbs(a.v, rs, na, k % 3 == 1);
            RandomLimbs(b.v, rs, nb, k % 5 == 2);
            k++;
            ExpectProduct(a.v, b.v, std::to_string(na) + " x " + std::to_string(nb) + " limbs");
            ExpectProduct(b.v, a.v, std::to_string(nb) + " x " + std::to_string(na) + " limbs");
        }
    gmp_randclear(rs);
}

TEST_P(MulFft, SquaresAndZero) {
    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 99u);
    for (size_t n : {1u, 2u, 5u, 1000u, 30000u, 100000u}) {
        Mpz a, want;
        RandomLimbs(a.v, rs, n, n == 5u);
        mpz_mul(want.v, a.v, a.v);
        ASSERT_EQ(pk__mul_fft(a.v, a.v, a.v, GetParam()), 0);
        EXPECT_EQ(mpz_cmp(a.v, want.v), 0) << n << " limbs squared in place";
    }
    Mpz zero, x(12345), r(1);
    ASSERT_EQ(pk__mul_fft(r.v, zero.v, x.v, GetParam()), 0);
    EXPECT_EQ(mpz_sgn(r.v), 0);
    ASSERT_EQ(pk__mul_fft(r.v, x.v, zero.v, GetParam()), 0);
    EXPECT_EQ(mpz_sgn(r.v), 0);
    ASSERT_EQ(pk__mul_fft(r.v, zero.v, zero.v, GetParam()), 0);
    EXPECT_EQ(mpz_sgn(r.v), 0);
    gmp_randclear(rs);
}

INSTANTIATE_TEST_SUITE_P(Threads, MulFft, testing::Values(1, 2));

TEST(MulFftChoice, NeverWithoutFlintAndNotForSmallOperands) {
    if (!pk__mul_fft_available()) {
        EXPECT_EQ(pk__mul_fft_pays(1u << 24, 1u << 24, 0, 2), 0);
        Mpz r(5), a(3);
        EXPECT_EQ(pk__mul_fft(r.v, a.v, a.v, 1), PK_ENOTSUP);
        EXPECT_EQ(mpz_cmp_ui(r.v, 5), 0);
    }
    EXPECT_EQ(pk__mul_fft_pays(1u << 24, 1, 0, 2), 0);
    EXPECT_EQ(pk__mul_fft_pays(100, 100, 1, 1), 0);
}

// ---- pk_mpz_digits ----

struct Digits {
    uint64_t count = 0;
    std::string lead;
};

Digits DigitsOf(mpz_srcptr x, size_t nlead = 40) {
    Digits d;
    std::vector<char> buf(nlead + 1, 'x');
    EXPECT_EQ(pk_mpz_digits(x, &d.count, buf.data(), nlead), 0);
    d.lead = nlead > 0 ? std::string(buf.data()) : "";
    return d;
}

TEST(MpzDigits, PowersOfTenAndTheirPredecessors) {
    Mpz p, m;
    std::vector<unsigned long> ks;
    for (unsigned long k = 1; k <= 120; k++)
        ks.push_back(k);
    for (unsigned long k : {1000UL, 4999UL, 20000UL, 100003UL})
        ks.push_back(k);
    for (unsigned long k : ks) {
        mpz_ui_pow_ui(p.v, 10, k);
        mpz_sub_ui(m.v, p.v, 1);
        Digits dp = DigitsOf(p.v), dm = DigitsOf(m.v);
        EXPECT_EQ(dp.count, k + 1) << "10^" << k;
        EXPECT_EQ(dm.count, k) << "10^" << k << " - 1";
        std::string ones = "1" + std::string(std::min<size_t>(k, 38), '0');
        EXPECT_EQ(dp.lead, ones.substr(0, 39)) << k;
        EXPECT_EQ(dm.lead, std::string(std::min<size_t>(k, 39), '9')) << k;
    }
}

TEST(MpzDigits, AgreesWithTheDecimalText) {
    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 12345);
    Mpz x;
    for (int i = 0; i < 400; i++) {
        mpz_urandomb(x.v, rs, static_cast<mp_bitcnt_t>(1 + (i * 997) % 60000));
        if (i % 3 == 0)
            mpz_neg(x.v, x.v);
        std::string text = Dec(x.v);
        if (text[0] == '-')
            text.erase(0, 1);
        Digits d = DigitsOf(x.v, 30);
        EXPECT_EQ(d.count, text.size()) << i;
        EXPECT_EQ(d.lead, text.substr(0, 29)) << i;
    }
    gmp_randclear(rs);
}

TEST(MpzDigits, ZeroSmallAndBufferSizes) {
    Mpz zero, seven(7), big;
    Digits d = DigitsOf(zero.v);
    EXPECT_EQ(d.count, 1u);
    EXPECT_EQ(d.lead, "0");
    d = DigitsOf(seven.v, 1); // room for the terminator only
    EXPECT_EQ(d.count, 1u);
    EXPECT_EQ(d.lead, "");
    mpz_fac_ui(big.v, 1000); // 2568 digits, starts 402387260077...
    uint64_t count = 0;
    EXPECT_EQ(pk_mpz_digits(big.v, &count, nullptr, 0), 0);
    EXPECT_EQ(count, 2568u);
    d = DigitsOf(big.v, 6);
    EXPECT_EQ(d.lead, "40238");
    EXPECT_EQ(pk_mpz_digits(nullptr, &count, nullptr, 0), PK_EINVAL);
}

TEST(MpzDigits, FactorialOf100000From_mpz_fac_ui) {
    Mpz x;
    mpz_fac_ui(x.v, 100000);
    EXPECT_EQ(DigitsOf(x.v).count, 456574u);
}

// ---- the mpz type's pack and unpack (what the MPI backend moves) ----

TEST(MpzType, PackUnpackRoundTrip) {
    const pk_type &t = pk_mpz_product.type;
    ASSERT_EQ(t.size, sizeof(mpz_t));
    ASSERT_EQ(pk_mpz_product.heavy, 1);
    Mpz big;
    mpz_fac_ui(big.v, 3000);
    Mpz neg;
    mpz_set_si(neg.v, -123456789);
    Mpz zero;
    for (mpz_srcptr x : {static_cast<mpz_srcptr>(big.v), static_cast<mpz_srcptr>(neg.v),
                         static_cast<mpz_srcptr>(zero.v)}) {
        void *buf = nullptr;
        size_t len = 0;
        ASSERT_EQ(t.pack(x, &buf, &len, t.arg), 0);
        Mpz back(99);
        ASSERT_EQ(t.unpack(back.v, buf, len, t.arg), 0);
        EXPECT_EQ(mpz_cmp(back.v, x), 0);
        EXPECT_EQ(t.unpack(back.v, buf, len - 1, t.arg), PK_EINVAL);
        free(buf);
    }
    // A new value is the identity of the product.
    mpz_t v;
    ASSERT_EQ(t.init(v, t.arg), 0);
    EXPECT_EQ(mpz_cmp_ui(v, 1), 0);
    t.destroy(v, t.arg);
}

} // namespace
