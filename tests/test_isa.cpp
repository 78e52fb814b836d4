// Tests of the run-time choice of instruction set (kernels/src/isa.h): every
// version of the hot loops that this processor can run (the level capped at
// 0, 1, ... up to the detected one) gives what a plain reference written here
// gives: the bit count of random arrays at every length and alignment, the
// pre-sieve of segments anywhere against trial division by the pre-sieved
// primes, the squares kernel's values and sum, and the sieve's counts. In a
// build that compiles the loops once (PARKIT_NATIVE) the levels all run that
// one version, and the tests still hold.
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../kernels/src/isa.h"
#include "../kernels/src/sieve_engine.h"
#include "test_util.h"

namespace {

// The levels this processor runs, 0 .. detected.
std::vector<int> Levels() {
    std::vector<int> v;
    for (int l = 0; l <= pk__isa_detected(); l++)
        v.push_back(l);
    return v;
}

// Runs f at each level, the cap removed afterwards whatever happens.
template <class F> void AtEveryLevel(F f) {
    struct Uncap {
        ~Uncap() { pk__isa_cap(-1); }
    } uncap;
    for (int l : Levels()) {
        ASSERT_EQ(pk__isa_cap(l), l);
        SCOPED_TRACE("level " + std::to_string(l));
        f(l);
    }
}

uint64_t BitsByHand(const uint8_t *p, size_t n) {
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            c += (p[i] >> b) & 1u;
    return c;
}

TEST(Isa, LevelsAndCap) {
    int d = pk__isa_detected();
    EXPECT_GE(d, 0);
    EXPECT_LE(d, 3);
    EXPECT_EQ(pk__isa_level(), d);
    EXPECT_EQ(pk__isa_cap(0), 0);
    EXPECT_EQ(pk__isa_level(), 0);
    EXPECT_EQ(pk__isa_cap(99), d); // a cap above the processor changes nothing
    EXPECT_EQ(pk__isa_cap(-1), d);
    EXPECT_EQ(pk__isa_level(), d);
#if defined(__x86_64__) && !defined(__AVX2__)
    // A portable x86-64 build compiles the versions; every x86-64 processor
    // that is not ancient has POPCNT and SSE4.2.
    EXPECT_EQ(pk__isa_dispatching(), 1);
#endif
    std::printf("detected level %d, dispatching %d\n", d, pk__isa_dispatching());
}

TEST(Isa, PopcountMatchesReference) {
    std::mt19937_64 rng(12);
    std::vector<uint8_t> buf((1 << 18) + 64);
    for (auto &b : buf)
        b = static_cast<uint8_t>(rng());
    // Sparse and full words too: the loop's tail and the vector lanes.
    for (size_t i = 0; i < 4096; i++)
        buf[i] = i % 7 == 0 ? 0xff : (i % 5 == 0 ? 0 : buf[i]);
    AtEveryLevel([&](int) {
        for (size_t off = 0; off < 8; off++)
            for (size_t n = 0; n <= 300; n++)
                ASSERT_EQ(pk__sieve_popcount(buf.data() + off, n), BitsByHand(buf.data() + off, n))
                    << "offset " << off << ", " << n << " bytes";
        const size_t sizes[] = {4095, 4096, 32768, 1 << 18};
        for (size_t n : sizes)
            EXPECT_EQ(pk__sieve_popcount(buf.data() + 3, n), BitsByHand(buf.data() + 3, n)) << n;
    });
}

// The pre-sieved primes: 7 .. 173.
bool HasPresievedFactor(uint64_t n) {
    static const unsigned primes[] = {
        7,  11, 13, 17,  19,  23,  29,  31,  37,  41,  43,  47,  53,  59,  61,  67,  71,  73, 79,
        83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173};
    for (unsigned p : primes)
        if (n % p == 0)
            return true;
    return false;
}

TEST(Isa, PresieveMatchesTrialDivision) {
    struct Case {
        uint64_t byte;
        size_t len;
    } cases[] = {
        {0, 1000},                        // the start: 1 kept, the primes crossed off
        {12345, 32768},                   // an L1 block
        {33333333333ull, 4099},           // odd lengths: the runs' tails
        {(UINT64_MAX / 30) - 3000, 3000}, // the top of the range
        {1000000000000000000ull / 30, 7},
    };
    AtEveryLevel([&](int) {
        for (const Case &c : cases) {
            std::vector<uint8_t> seg(c.len + 16, 0x5a);
            pk__sieve_presieve(seg.data() + 1, c.byte, c.len); // unaligned on purpose
            EXPECT_EQ(seg[0], 0x5a) << "wrote before the segment";
            EXPECT_EQ(seg[c.len + 1], 0x5a) << "wrote past the segment";
            for (size_t b = 0; b < c.len; b++) {
                uint8_t want = 0;
                for (int k = 0; k < 8; k++)
                    if (!HasPresievedFactor(30 * (c.byte + b) + pk__wheel[k]))
                        want = static_cast<uint8_t>(want | 1u << k);
                ASSERT_EQ(seg[b + 1], want) << "byte " << c.byte + b;
            }
        }
    });
}

TEST(Isa, SquaresMatchAtEveryLevel) {
    CtxPtr ctx = MakeCtx({"serial", 1});
    ASSERT_NE(ctx, nullptr);
    struct Case {
        int64_t first, count;
    } cases[] = {{-50001, 100003}, {1, 7},   {PK_SQUARES_MAX_ABS - 4096, 4097},
                 {0, 1},           {-3, 15}, {-PK_SQUARES_MAX_ABS, 4099}};
    AtEveryLevel([&](int) {
        for (const Case &c : cases) {
            std::vector<int64_t> out(static_cast<size_t>(c.count));
            pk_i128 sum, want, only;
            ASSERT_EQ(pk_squares(ctx.get(), c.first, c.count, PK_ON_ROOT, out.data(), &sum), 0);
            ASSERT_EQ(pk_squares_expected(c.first, c.count, &want), 0);
            EXPECT_TRUE(pk_i128_eq(sum, want)) << c.first << " + " << c.count;
            for (int64_t i = 0; i < c.count; i++) {
                int64_t x = c.first + i;
                ASSERT_EQ(out[static_cast<size_t>(i)], x * x) << "x = " << x;
            }
            ASSERT_EQ(pk_squares(ctx.get(), c.first, c.count, PK_SQUARES_SUM_ONLY, nullptr, &only),
                      0);
            EXPECT_TRUE(pk_i128_eq(only, want)) << c.first << " + " << c.count << ", sum only";
        }
    });
}

TEST(Isa, SieveCountsMatchAtEveryLevel) {
    // pi(10^9) from the published table; high up, where the sieving primes'
    // placement (its vectorized quotients) does most of the work, the count of
    // the plain version (level 0).
    CtxPtr ctx = MakeCtx({"serial", 1});
    ASSERT_NE(ctx, nullptr);
    const uint64_t lo = 100000000000000000ull, hi = lo + 20000000;
    uint64_t high0 = 0;
    AtEveryLevel([&](int l) {
        uint64_t n = 0;
        ASSERT_EQ(pk_sieve_count(ctx.get(), 0, 1000000000, &n), 0);
        EXPECT_EQ(n, pk_prime_pi_pow10(9));
        ASSERT_EQ(pk_sieve_count(ctx.get(), lo, hi, &n), 0);
        if (l == 0)
            high0 = n;
        EXPECT_EQ(n, high0) << "[1e17, 1e17 + 2e7]";
    });
}

} // namespace
