// The other kernels on ranks, through their public calls only: each was written
// on the pool API alone and must work on the MPI backend unchanged. Small sizes,
// checked against independent answers (GMP's factorial, known prime counts, the
// exactly-once tallies of producer/consumer).
#include <gmp.h>

#include <vector>

#include "mpi_test_util.h"

TEST(MpiKernels, FactorialMatchesGmp) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    mpz_t got, want;
    mpz_inits(got, want, nullptr);
    mpz_fac_ui(want, 5000);
    ASSERT_EQ(pk_factorial(ctx.get(), 5000, got), 0) << ErrorText(ctx.get());
    if (WorldRank() == 0)
        EXPECT_EQ(mpz_cmp(got, want), 0);
    mpz_clears(got, want, nullptr);
}

// Big enough that the chain's last unbalanced products are cut into pieces
// for every rank (their operands broadcast, the pieces gathered on rank 0).
TEST(MpiKernels, FactorialWithProductsOverTheRanks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    mpz_t got, want;
    mpz_inits(got, want, nullptr);
    mpz_fac_ui(want, 300000);
    for (int rep = 0; rep < 2; rep++) {
        ASSERT_EQ(pk_factorial(ctx.get(), 300000, got), 0) << ErrorText(ctx.get());
        if (WorldRank() == 0)
            EXPECT_EQ(mpz_cmp(got, want), 0) << "call " << rep;
        else
            EXPECT_EQ(mpz_sgn(got), 0);
    }
    mpz_clears(got, want, nullptr);
}

TEST(MpiKernels, FactorialEachLandsOnRankZeroInOrder) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const uint64_t a = 1, b = 300;
    std::vector<mpz_t> r(WorldRank() == 0 ? b - a + 1 : 0);
    for (auto &x : r)
        mpz_init(x);
    ASSERT_EQ(pk_factorial_each(ctx.get(), a, b, r.empty() ? nullptr : r.data()), 0)
        << ErrorText(ctx.get());
    mpz_t want;
    mpz_init(want);
    int64_t bad = 0;
    for (uint64_t k = a; k <= b && !r.empty(); k++) {
        mpz_fac_ui(want, k);
        bad += mpz_cmp(r[k - a], want) != 0;
    }
    EXPECT_EQ(bad, 0);
    mpz_clear(want);
    for (auto &x : r)
        mpz_clear(x);
}

TEST(MpiKernels, SieveCountsPrimes) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    uint64_t count = 0;
    ASSERT_EQ(pk_sieve_count(ctx.get(), 0, 10000000, &count), 0) << ErrorText(ctx.get());
    EXPECT_EQ(count, 664579u) << "on every rank";
    ASSERT_EQ(pk_sieve_count(ctx.get(), 1000000, 2000000, &count), 0);
    EXPECT_EQ(count, 148933u - 78498u);
}

// What pk_sieve_primes gave this rank: how many, the first and the last, and
// how many came out of order.
struct SeenPrimes {
    uint64_t count = 0, first = 0, last = 0;
    int64_t disorder = 0;
    static int Emit(void *arg, const uint64_t *p, size_t n) {
        auto *s = static_cast<SeenPrimes *>(arg);
        for (size_t i = 0; i < n; i++) {
            if (s->count + i == 0)
                s->first = p[i];
            s->disorder += p[i] <= s->last;
            s->last = p[i];
        }
        s->count += n;
        return 0;
    }
};

// Lists [lo, hi]: every rank gets the count, rank 0 alone the primes, in order.
static void ExpectListedOnRankZero(pk_ctx *ctx, uint64_t lo, uint64_t hi, uint64_t want,
                                   uint64_t first, uint64_t last) {
    SeenPrimes seen;
    uint64_t count = 0;
    ASSERT_EQ(pk_sieve_primes(ctx, lo, hi, SeenPrimes::Emit, &seen, &count), 0) << ErrorText(ctx);
    EXPECT_EQ(count, want);
    if (WorldRank() == 0) {
        EXPECT_EQ(seen.count, want);
        EXPECT_EQ(seen.disorder, 0);
        EXPECT_EQ(seen.first, first);
        EXPECT_EQ(seen.last, last);
    } else {
        EXPECT_EQ(seen.count, 0u) << "only rank 0 gets the primes";
    }
}

TEST(MpiKernels, SievePrimesArriveInOrderOnRankZero) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    ExpectListedOnRankZero(ctx.get(), 0, 3000000, 216816u, 2u, 2999999u);
}

// From 10^12 up each worker takes a block of chunks and carries its sieving
// primes from one chunk to the next (sieve.c, CARRY_SQRT; on ranks a rank's
// block runs in parts). The counts are primesieve's, the listing comes to rank
// 0 in order, whatever the ranks and threads.
TEST(MpiKernels, SieveHighUpWhereWorkersTakeBlocks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    uint64_t count = 0;
    ASSERT_EQ(pk_sieve_count(ctx.get(), 1000000000000ull, 1000300000000ull, &count), 0)
        << ErrorText(ctx.get());
    EXPECT_EQ(count, 10858588u) << "[1e12, 1e12 + 3e8], 1 MiB segments";
    ASSERT_EQ(pk_sieve_count(ctx.get(), 100000000000000ull, 100000100000000ull, &count), 0)
        << ErrorText(ctx.get());
    EXPECT_EQ(count, 3102679u) << "[1e14, 1e14 + 1e8]";
    ExpectListedOnRankZero(ctx.get(), 1000000000000ull, 1000030000000ull, 1085227u, 1000000000039u,
                           1000029999949u);
    // From (30 * 2^16)^2 = 3865470566400 on, the sieving primes pass the
    // medium primes' end and the first ones go to the buckets.
    ASSERT_EQ(pk_sieve_count(ctx.get(), 3865470566400ull, 3865870566400ull, &count), 0)
        << ErrorText(ctx.get());
    EXPECT_EQ(count, 13796658u) << "[3865470566400, +4e8], across the medium primes' end";
    ExpectListedOnRankZero(ctx.get(), 3865470566400ull, 3865500566400ull, 1034550u, 3865470566411u,
                           3865500566393u);
}

TEST(MpiKernels, ProdconsMovesEveryItemOnce) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_prodcons_opts o = {};
    o.producers = WorldSize() / 2;
    o.consumers = WorldSize() - o.producers;
    o.capacity = 16;
    o.items = 20000;
    o.batch = 8;
    pk_prodcons_result r;
    ASSERT_EQ(pk_prodcons(ctx.get(), &o, &r), 0) << ErrorText(ctx.get());
    EXPECT_EQ(r.produced, o.items);
    EXPECT_EQ(r.consumed, o.items);
    EXPECT_EQ(r.sum_produced, r.sum_consumed);
    EXPECT_EQ(r.xor_produced, r.xor_consumed);
    EXPECT_LE(r.max_depth, o.capacity);
}
