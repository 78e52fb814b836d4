// Tests of the squares kernel on every pool of AllPools(): sums of positive,
// negative and mixed ranges against the closed form and against a direct 128-bit
// loop written here, the stored values for each placement, the overflow boundary
// at |x| = 3037000499, ranges that pass INT64_MAX, the decimal printer of 128-bit
// integers, and an injected fault naming its thread and task.
#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

i128 ToI128(pk_i128 v) {
    return static_cast<i128>((static_cast<u128>(static_cast<uint64_t>(v.hi)) << 64) | v.lo);
}

pk_i128 FromI128(i128 v) {
    pk_i128 r;
    r.lo = static_cast<uint64_t>(v);
    r.hi = static_cast<int64_t>(static_cast<uint64_t>(static_cast<u128>(v) >> 64));
    return r;
}

// Decimal text of a 128-bit integer, written independently of the library's.
std::string Decimal(i128 v) {
    if (v == 0)
        return "0";
    bool neg = v < 0;
    u128 u = neg ? static_cast<u128>(0) - static_cast<u128>(v) : static_cast<u128>(v);
    std::string s;
    while (u != 0) {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
        u /= 10;
    }
    return neg ? "-" + s : s;
}

// The oracle: a plain loop over the range in 128-bit arithmetic.
i128 LoopSum(int64_t first, int64_t count) {
    i128 s = 0;
    for (int64_t i = 0; i < count; i++) {
        i128 x = static_cast<i128>(first) + i;
        s += x * x;
    }
    return s;
}

std::string Str(pk_i128 v) {
    char buf[48];
    size_t n = pk_i128_to_string(v, buf, sizeof buf);
    EXPECT_EQ(n, std::string(buf).size());
    return buf;
}

class Squares : public PoolTest {
  protected:
    // Runs the kernel and checks the sum against both oracles and, when stored,
    // every value. Returns the kernel's code.
    int RunAndCheck(int64_t first, int64_t count, int where) {
        std::vector<int64_t> out(static_cast<size_t>(count > 0 ? count : 1), -7);
        pk_i128 sum{123, 456};
        int64_t *p = where == PK_SQUARES_SUM_ONLY ? nullptr : out.data();
        int rc = pk_squares(ctx(), first, count, where, p, &sum);
        if (rc != 0)
            return rc;
        i128 want = LoopSum(first, count);
        pk_i128 closed{0, 0};
        EXPECT_EQ(pk_squares_expected(first, count, &closed), 0);
        EXPECT_TRUE(ToI128(sum) == want) << Str(sum) << " vs loop " << Decimal(want);
        EXPECT_TRUE(ToI128(closed) == want) << Str(closed) << " vs loop " << Decimal(want);
        EXPECT_TRUE(pk_i128_eq(sum, closed));
        if (where != PK_SQUARES_SUM_ONLY) {
            for (int64_t i = 0; i < count; i++) {
                int64_t x = first + i;
                if (out[static_cast<size_t>(i)] != x * x) {
                    ADD_FAILURE() << "value " << i << " (x = " << x << ") is "
                                  << out[static_cast<size_t>(i)];
                    break;
                }
            }
        }
        return rc;
    }
    std::string Message() { return pk_ctx_error(ctx())->message; }
};

TEST_P(Squares, PositiveRanges) {
    EXPECT_EQ(RunAndCheck(1, 10, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(1, 1000003, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(0, 65537, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(1000000, 3 * PK_SQUARES_CHUNK + 5, PK_ON_ROOT), 0);
}

TEST_P(Squares, KnownSmallSum) {
    // 1^2 + ... + 10^2 = 385, and -5..5 gives 2 * 55 = 110.
    pk_i128 sum;
    ASSERT_EQ(pk_squares(ctx(), 1, 10, PK_SQUARES_SUM_ONLY, nullptr, &sum), 0);
    EXPECT_EQ(Str(sum), "385");
    ASSERT_EQ(pk_squares(ctx(), -5, 11, PK_SQUARES_SUM_ONLY, nullptr, &sum), 0);
    EXPECT_EQ(Str(sum), "110");
}

TEST_P(Squares, NegativeAndMixedRanges) {
    EXPECT_EQ(RunAndCheck(-1000, 2001, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(-500000, 300000, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(-300000, 700001, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(-1, 3, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(-10, 10, PK_ON_ROOT), 0); // ends at -1
}

TEST_P(Squares, EveryPlacementStoresEveryValue) {
    for (int where :
         {int(PK_ON_ROOT), int(PK_ON_ALL), int(PK_DISTRIBUTED), int(PK_SQUARES_SUM_ONLY)}) {
        SCOPED_TRACE(where);
        EXPECT_EQ(RunAndCheck(-77777, 400001, where), 0);
    }
    int64_t b = -1, e = -1;
    ASSERT_EQ(pk_squares_local_range(ctx(), 400001, &b, &e), 0);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 400001) << "one process holds the whole distributed array";
}

TEST_P(Squares, SumOnlyLeavesTheArrayAlone) {
    std::vector<int64_t> out(100, -7);
    pk_i128 sum;
    ASSERT_EQ(pk_squares(ctx(), 1, 100, PK_SQUARES_SUM_ONLY, out.data(), &sum), 0);
    for (int64_t v : out)
        ASSERT_EQ(v, -7);
    EXPECT_EQ(Str(sum), "338350");
}

TEST_P(Squares, CountZeroAndOne) {
    std::vector<int64_t> out(1, -7);
    pk_i128 sum{5, 5};
    ASSERT_EQ(pk_squares(ctx(), 42, 0, PK_ON_ROOT, out.data(), &sum), 0);
    EXPECT_EQ(sum.lo, 0u);
    EXPECT_EQ(sum.hi, 0);
    EXPECT_EQ(out[0], -7) << "nothing stored for an empty range";
    // An empty range is fine anywhere, even where a value would overflow.
    ASSERT_EQ(pk_squares(ctx(), INT64_MAX, 0, PK_ON_ROOT, out.data(), &sum), 0);
    ASSERT_EQ(pk_squares(ctx(), -7, 1, PK_ON_ROOT, out.data(), &sum), 0);
    EXPECT_EQ(out[0], 49);
    EXPECT_EQ(Str(sum), "49");
}

TEST_P(Squares, LargestValuesAtTheOverflowBoundary) {
    const int64_t max = PK_SQUARES_MAX_ABS;
    EXPECT_EQ(max, INT64_C(3037000499));
    EXPECT_EQ(RunAndCheck(max, 1, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(-max, 1, PK_ON_ROOT), 0);
    // The top of the range: sums far beyond 64 bits, still exact.
    EXPECT_EQ(RunAndCheck(max - 300000 + 1, 300000, PK_ON_ROOT), 0);
    EXPECT_EQ(RunAndCheck(-max, 200000, PK_SQUARES_SUM_ONLY), 0);
    pk_i128 sum;
    ASSERT_EQ(pk_squares(ctx(), max, 1, PK_SQUARES_SUM_ONLY, nullptr, &sum), 0);
    EXPECT_EQ(Str(sum), "9223372030926249001");
}

TEST_P(Squares, OverflowIsRefusedNamingTheValue) {
    pk_i128 sum;
    std::vector<int64_t> out(16);
    struct Case {
        int64_t first, count;
        const char *value;
    };
    const Case cases[] = {
        {3037000500, 1, "3037000500"},
        {3037000490, 11, "3037000500"}, // the range's last value is the first too big
        {3037000490, 16, "3037000500"},
        {-3037000500, 1, "-3037000500"},
        {-3037000500, 10, "-3037000500"},
        {INT64_MAX, 1, "9223372036854775807"},
        {INT64_MIN, 1, "-9223372036854775808"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(std::to_string(c.first) + " count " + std::to_string(c.count));
        EXPECT_EQ(pk_squares(ctx(), c.first, c.count, PK_ON_ROOT, out.data(), &sum), PK_EOVERFLOW);
        EXPECT_EQ(pk_ctx_error(ctx())->code, PK_EOVERFLOW);
        EXPECT_EQ(Message(), std::string(c.value) + " squared does not fit in 64 bits");
        EXPECT_EQ(ErrorString(), "squares: " + Message());
        pk_i128 closed;
        EXPECT_EQ(pk_squares_expected(c.first, c.count, &closed), PK_EOVERFLOW);
    }
    // One below the boundary on either side is fine.
    EXPECT_EQ(pk_squares(ctx(), 3037000490, 10, PK_ON_ROOT, out.data(), &sum), 0);
    EXPECT_EQ(pk_squares(ctx(), -3037000499, 10, PK_ON_ROOT, out.data(), &sum), 0);
}

TEST_P(Squares, RangePassingInt64MaxIsRefused) {
    pk_i128 sum;
    EXPECT_EQ(pk_squares(ctx(), INT64_MAX, 2, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EINVAL);
    EXPECT_NE(Message().find("passes 2^63-1"), std::string::npos) << Message();
    EXPECT_EQ(pk_squares(ctx(), INT64_MAX - 5, 7, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EINVAL);
    EXPECT_EQ(pk_squares(ctx(), 2, INT64_MAX, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EINVAL);
    // [1, INT64_MAX] ends at INT64_MAX without passing it: an overflow, not a bad range.
    EXPECT_EQ(pk_squares(ctx(), 1, INT64_MAX, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EOVERFLOW);
    pk_i128 closed;
    EXPECT_EQ(pk_squares_expected(INT64_MAX, 2, &closed), PK_EINVAL);
    EXPECT_EQ(pk_squares_expected(2, INT64_MAX, &closed), PK_EINVAL);
}

TEST_P(Squares, ArgumentErrors) {
    pk_i128 sum;
    std::vector<int64_t> out(4);
    EXPECT_EQ(pk_squares(ctx(), 1, -1, PK_ON_ROOT, out.data(), &sum), PK_EINVAL);
    EXPECT_EQ(Message(), "negative count -1");
    EXPECT_EQ(pk_squares(ctx(), 1, 4, PK_ON_ROOT, out.data(), nullptr), PK_EINVAL);
    EXPECT_EQ(pk_squares(ctx(), 1, 4, 7, out.data(), &sum), PK_EINVAL);
    EXPECT_EQ(pk_squares(ctx(), 1, 4, -2, out.data(), &sum), PK_EINVAL);
    EXPECT_EQ(pk_squares(nullptr, 1, 4, PK_ON_ROOT, out.data(), &sum), PK_EINVAL);
    EXPECT_EQ(pk_squares_expected(1, -1, &sum), PK_EINVAL);
    EXPECT_EQ(pk_squares_expected(1, 1, nullptr), PK_EINVAL);
}

TEST_P(Squares, InjectedFaultNamesThreadAndTask) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=squares,thread=1,task=3"), 0);
    const int64_t count = 16 * PK_SQUARES_CHUNK;
    std::vector<int64_t> out(count);
    pk_i128 sum;
    if (pk_ctx_threads(ctx()) < 2) { // no thread 1: nothing fires and nothing is lost
        pk_i128 want;
        ASSERT_EQ(pk_squares_expected(1, count, &want), 0);
        EXPECT_EQ(pk_squares(ctx(), 1, count, PK_ON_ROOT, out.data(), &sum), 0);
        EXPECT_TRUE(pk_i128_eq(sum, want));
        const int64_t x = int64_t{3} * PK_SQUARES_CHUNK + 1;
        EXPECT_EQ(out[3 * PK_SQUARES_CHUNK], x * x);
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
        return;
    }
    EXPECT_EQ(pk_squares(ctx(), 1, count, PK_ON_ROOT, out.data(), &sum), PK_EINJECTED);
    EXPECT_EQ(ErrorString(), "squares: rank 0, thread 1, task 3: injected fault");
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 1);
    // The next call fires again (a fault is per call), and one disarmed runs clean.
    EXPECT_EQ(pk_squares(ctx(), 1, count, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EINJECTED);
    ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
    EXPECT_EQ(pk_squares(ctx(), 1, count, PK_ON_ROOT, out.data(), &sum), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
}

TEST_P(Squares, FaultForAnotherKernelDoesNotFire) {
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=sieve,task=0"), 0);
    pk_i128 sum;
    EXPECT_EQ(pk_squares(ctx(), 1, 1000, PK_SQUARES_SUM_ONLY, nullptr, &sum), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
    ASSERT_EQ(pk_ctx_set_fault(ctx(), "kernel=squares,task=0"), 0);
    EXPECT_EQ(pk_squares(ctx(), 1, 1000, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EINJECTED);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 0);
}

INSTANTIATE_TEST_SUITE_P(Pools, Squares, testing::ValuesIn(AllPools()), PoolName);

// ---- the helpers, independent of the pool ------------------------------------------

TEST(I128ToString, ZeroNegativesAndExtremes) {
    EXPECT_EQ(Str(pk_i128{0, 0}), "0");
    EXPECT_EQ(Str(FromI128(-1)), "-1");
    EXPECT_EQ(Str(FromI128(7)), "7");
    EXPECT_EQ(Str(FromI128(-1234567890123LL)), "-1234567890123");
    EXPECT_EQ(Str(FromI128(static_cast<i128>(UINT64_MAX))), "18446744073709551615");
    EXPECT_EQ(Str(FromI128(static_cast<i128>(UINT64_MAX) + 1)), "18446744073709551616");
    // 2^127 - 1 and -2^127, the ends of the type.
    EXPECT_EQ(Str(pk_i128{UINT64_MAX, INT64_MAX}), "170141183460469231731687303715884105727");
    EXPECT_EQ(Str(pk_i128{0, INT64_MIN}), "-170141183460469231731687303715884105728");
    // A spread of values against the independent printer.
    i128 v = 1;
    for (int k = 0; k < 75; k++, v = v * 3 + k) {
        EXPECT_EQ(Str(FromI128(v)), Decimal(v));
        EXPECT_EQ(Str(FromI128(-v)), Decimal(-v));
    }
}

TEST(I128ToString, ShortBuffersAreTruncatedAndTheLengthReported) {
    pk_i128 v = FromI128(-1234567);
    char buf[5] = {'x', 'x', 'x', 'x', 'x'};
    EXPECT_EQ(pk_i128_to_string(v, buf, sizeof buf), 8u);
    EXPECT_EQ(std::string(buf), "-123");
    char none = 'x';
    EXPECT_EQ(pk_i128_to_string(v, &none, 0), 8u);
    EXPECT_EQ(none, 'x') << "len 0 writes nothing";
    char one[1] = {'x'};
    EXPECT_EQ(pk_i128_to_string(v, one, 1), 8u);
    EXPECT_EQ(one[0], '\0');
}

TEST(I128Eq, ComparesBothHalves) {
    EXPECT_TRUE(pk_i128_eq(pk_i128{1, 2}, pk_i128{1, 2}));
    EXPECT_FALSE(pk_i128_eq(pk_i128{1, 2}, pk_i128{1, 3}));
    EXPECT_FALSE(pk_i128_eq(pk_i128{1, 2}, pk_i128{0, 2}));
}

TEST(SquaresExpected, ClosedFormAgainstTheLoop) {
    const int64_t firsts[] = {0, 1, -1, -17, 1000, -1000, 3037000499 - 50, -3037000499};
    for (int64_t first : firsts)
        for (int64_t count : {0, 1, 2, 51, 1000}) {
            pk_i128 got;
            int rc = pk_squares_expected(first, count, &got);
            int64_t last = first + count - 1;
            if (count > 0 && (last > PK_SQUARES_MAX_ABS || first < -PK_SQUARES_MAX_ABS)) {
                EXPECT_EQ(rc, PK_EOVERFLOW) << first << " " << count;
                continue;
            }
            ASSERT_EQ(rc, 0) << first << " " << count;
            EXPECT_TRUE(ToI128(got) == LoopSum(first, count)) << first << " " << count;
        }
}

} // namespace
