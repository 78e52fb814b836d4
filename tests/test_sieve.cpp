// Tests of the sieve kernel on every pool: known values of pi(10^k), the top of
// the 64-bit range, tiny and random intervals against a Miller-Rabin reference
// written here, the emitted list on every pool against the serial one, a
// callback that stops the sieve, injected faults and argument errors; high up,
// where workers carry the sieving primes' state from chunk to chunk, lists
// checked at every segment boundary and counts against split intervals; and the
// engine itself, carrying its state or starting afresh. The reference is
// independent of the kernel, so every expected count is computed or published,
// never taken from the code under test.
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../kernels/src/sieve_engine.h"
#include "test_util.h"

namespace {

// ---- the reference: deterministic Miller-Rabin for 64-bit numbers ----

uint64_t MulMod(uint64_t a, uint64_t b, uint64_t n) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % n);
}

uint64_t PowMod(uint64_t b, uint64_t e, uint64_t n) {
    uint64_t r = 1;
    for (b %= n; e > 0; e >>= 1) {
        if (e & 1)
            r = MulMod(r, b, n);
        b = MulMod(b, b, n);
    }
    return r;
}

bool IsPrime(uint64_t n) {
    if (n < 2)
        return false;
    for (uint64_t p : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37})
        if (n % p == 0)
            return n == p;
    uint64_t d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    // These twelve bases decide every n < 3.3 * 10^24.
    for (uint64_t a : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}) {
        uint64_t x = PowMod(a, d, n);
        if (x == 1 || x == n - 1)
            continue;
        bool composite = true;
        for (int i = 1; i < s && composite; i++) {
            x = MulMod(x, x, n);
            composite = x != n - 1;
        }
        if (composite)
            return false;
    }
    return true;
}

std::vector<uint64_t> PrimesByTest(uint64_t lo, uint64_t hi) {
    std::vector<uint64_t> v;
    for (uint64_t x = lo;; x++) {
        if (IsPrime(x))
            v.push_back(x);
        if (x == hi)
            return v;
    }
}

// pi(10^k), k = 0..19, as published (OEIS A006880).
const uint64_t kPiPow10[20] = {0,
                               4,
                               25,
                               168,
                               1229,
                               9592,
                               78498,
                               664579,
                               5761455,
                               50847534,
                               455052511,
                               4118054813ull,
                               37607912018ull,
                               346065536839ull,
                               3204941750802ull,
                               29844570422669ull,
                               279238341033925ull,
                               2623557157654233ull,
                               24739954287740860ull,
                               234057667276344607ull};

const uint64_t kTop = UINT64_MAX; // 2^64 - 1

// ---- emit callbacks ----

struct Collected {
    std::vector<uint64_t> primes;
    size_t batches = 0;
    size_t fail_at = 0; // return `code` on this batch (1-based); 0: never
    int code = 0;
};

int Collect(void *arg, const uint64_t *primes, size_t count) {
    auto *c = static_cast<Collected *>(arg);
    c->batches++;
    c->primes.insert(c->primes.end(), primes, primes + count);
    return c->batches == c->fail_at ? c->code : 0;
}

// An order-sensitive digest of a long list, kept instead of the list.
struct Digest {
    uint64_t count = 0, hash = 0, first = 0, last = 0;
    bool increasing = true;
    std::vector<uint64_t> sample; // every 9973rd prime
};

int Digest1(void *arg, const uint64_t *primes, size_t count) {
    auto *d = static_cast<Digest *>(arg);
    for (size_t i = 0; i < count; i++) {
        uint64_t p = primes[i];
        if (d->count == 0)
            d->first = p;
        else if (p <= d->last)
            d->increasing = false;
        if (d->count % 9973 == 0)
            d->sample.push_back(p);
        d->hash = d->hash * 0x100000001b3ull + p;
        d->last = p;
        d->count++;
    }
    return 0;
}

class SieveTest : public PoolTest {
  protected:
    uint64_t Count(uint64_t lo, uint64_t hi) {
        uint64_t n = 0;
        int rc = pk_sieve_count(ctx(), lo, hi, &n);
        EXPECT_EQ(rc, 0) << "[" << lo << ", " << hi << "]: " << ErrorString();
        return n;
    }
    std::vector<uint64_t> List(uint64_t lo, uint64_t hi) {
        Collected c;
        uint64_t n = 0;
        int rc = pk_sieve_primes(ctx(), lo, hi, Collect, &c, &n);
        EXPECT_EQ(rc, 0) << "[" << lo << ", " << hi << "]: " << ErrorString();
        EXPECT_EQ(n, c.primes.size()) << "[" << lo << ", " << hi << "]";
        return c.primes;
    }
};

TEST_P(SieveTest, KnownPowersOfTen) {
    uint64_t x = 1;
    for (int k = 0; k <= 8; k++, x *= 10) {
        EXPECT_EQ(Count(0, x), kPiPow10[k]) << "pi(10^" << k << ")";
        EXPECT_EQ(Count(1, x), kPiPow10[k]) << "pi(10^" << k << ") from 1";
    }
}

TEST_P(SieveTest, OneBillion) {
    // Several dozen chunks: every pool claims them in its own order.
    EXPECT_EQ(Count(0, 1000000000), kPiPow10[9]);
}

TEST_P(SieveTest, TinyIntervals) {
    struct Case {
        uint64_t lo, hi, count;
    } cases[] = {
        {0, 0, 0},
        {0, 1, 0},
        {1, 1, 0},
        {2, 2, 1},
        {0, 2, 1},
        {3, 3, 1},
        {4, 4, 0},
        {5, 5, 1},
        {0, 6, 3},
        {6, 6, 0},
        {7, 7, 1},
        {0, 10, 4},
        {49, 49, 0},
        {173, 173, 1},
        {179, 179, 1},
        {169, 169, 0},
        {0, 30, 10},
        {29, 31, 2},
        {1000000007, 1000000007, 1},
        {1000000008, 1000000008, 0},
        {4294967291u, 4294967291u, 1},
        {4294967296u, 4294967296u, 0},
        {4294967291u, 4294967311u, 2},
    };
    for (const Case &c : cases)
        EXPECT_EQ(Count(c.lo, c.hi), c.count) << "[" << c.lo << ", " << c.hi << "]";
    EXPECT_EQ(List(0, 30), (std::vector<uint64_t>{2, 3, 5, 7, 11, 13, 17, 19, 23, 29}));
    EXPECT_EQ(List(2, 2), std::vector<uint64_t>{2});
    EXPECT_TRUE(List(0, 1).empty());
    EXPECT_TRUE(List(24, 28).empty());
}

TEST_P(SieveTest, RandomIntervalsMatchMillerRabin) {
    std::mt19937_64 rng(20240611 + GetParam().threads);
    for (int i = 0; i < 40; i++) {
        int bits = 4 + static_cast<int>(rng() % 37); // lo below 2^40
        uint64_t lo = rng() & ((uint64_t{1} << bits) - 1);
        uint64_t hi = lo + rng() % 20000;
        std::vector<uint64_t> want = PrimesByTest(lo, hi);
        EXPECT_EQ(Count(lo, hi), want.size()) << "[" << lo << ", " << hi << "]";
        if (i % 4 == 0)
            EXPECT_EQ(List(lo, hi), want) << "[" << lo << ", " << hi << "]";
    }
}

TEST_P(SieveTest, LargeNumbersMatchMillerRabin) {
    // Sieving primes up to 10^6 .. 10^8: medium and bucketed ones; around
    // 3.87 10^12 both sides of the medium primes' end (30 * 2^16 = 1966080).
    for (uint64_t lo : std::vector<uint64_t>{999999995000, 3865470566400, 3870000000000,
                                             123456789012345, 9999999999990000}) {
        uint64_t hi = lo + 30000;
        std::vector<uint64_t> want = PrimesByTest(lo, hi);
        EXPECT_EQ(Count(lo, hi), want.size()) << "[" << lo << ", " << hi << "]";
        EXPECT_EQ(List(lo, hi), want) << "[" << lo << ", " << hi << "]";
    }
}

TEST_P(SieveTest, SplitsAddUp) {
    // Splitting an interval changes every chunk boundary; the counts must add up.
    const uint64_t lo = 900000000, hi = 1100000000;
    uint64_t whole = Count(lo, hi);
    EXPECT_EQ(whole, Count(0, hi) - Count(0, lo - 1));
    for (uint64_t mid :
         std::vector<uint64_t>{lo, lo + 1, lo + 29, lo + 30, lo + 12345677, 1000000000, hi - 1}) {
        uint64_t left = Count(lo, mid), right = mid < hi ? Count(mid + 1, hi) : 0;
        EXPECT_EQ(left + right, whole) << "split at " << mid;
    }
}

TEST_P(SieveTest, ListMatchesSerialAndCount) {
    // 20 chunks: two waves of chunks whatever the pool.
    const uint64_t lo = 10000000000ull, hi = lo + 300000000;
    Digest got, ref;
    uint64_t n = 0, nref = 0;
    ASSERT_EQ(pk_sieve_primes(ctx(), lo, hi, Digest1, &got, &n), 0) << ErrorString();
    CtxPtr serial = MakeCtx({"serial", 1});
    ASSERT_EQ(pk_sieve_primes(serial.get(), lo, hi, Digest1, &ref, &nref), 0);
    EXPECT_TRUE(got.increasing);
    EXPECT_EQ(got.count, n);
    EXPECT_EQ(got.count, ref.count);
    EXPECT_EQ(got.hash, ref.hash);
    EXPECT_EQ(got.count, Count(lo, hi));
    // Against the reference: the ends and a sample through the list.
    EXPECT_EQ(got.first, PrimesByTest(lo, lo + 1000).front());
    EXPECT_EQ(got.last, PrimesByTest(hi - 1000, hi).back());
    for (uint64_t p : got.sample)
        EXPECT_TRUE(IsPrime(p)) << p;
}

TEST_P(SieveTest, CallbackErrorStopsTheSieve) {
    Collected c;
    c.fail_at = 2;
    c.code = 42;
    uint64_t n = 0;
    EXPECT_EQ(pk_sieve_primes(ctx(), 0, 100000000, Collect, &c, &n), 42);
    EXPECT_EQ(c.batches, 2u);
    EXPECT_EQ(pk_ctx_error(ctx())->code, 42);
    EXPECT_NE(ErrorString().find("callback"), std::string::npos) << ErrorString();

    Collected d;
    d.fail_at = 1;
    d.code = PK_EIO;
    EXPECT_EQ(pk_sieve_primes(ctx(), 0, 100000000, Collect, &d, &n), PK_EIO);
    EXPECT_EQ(d.batches, 1u);
    // The context stays usable.
    EXPECT_EQ(Count(0, 1000000), kPiPow10[6]);
}

TEST_P(SieveTest, InjectedFaultNamesThreadAndTask) {
    const int thread = GetParam().threads - 1;
    std::string spec = "kernel=sieve,thread=" + std::to_string(thread) + ",task=3";
    ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
    uint64_t n = 0;
    EXPECT_EQ(pk_sieve_count(ctx(), 0, 1000000000, &n), PK_EINJECTED);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_STREQ(e->kernel, "sieve");
    EXPECT_EQ(e->thread, thread);
    EXPECT_EQ(e->task, 3);
    EXPECT_TRUE(pk_ctx_fault_fired(ctx()));
    std::string want = "thread " + std::to_string(thread) + ", task 3";
    EXPECT_NE(ErrorString().find(want), std::string::npos) << ErrorString();

    // Listing runs waves of chunks; task 20 lies in the second wave and must
    // still be reported as chunk 20, after the first wave's primes came out.
    spec = "kernel=sieve,thread=" + std::to_string(thread) + ",task=20";
    ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0);
    Digest d;
    EXPECT_EQ(pk_sieve_primes(ctx(), 0, 400000000, Digest1, &d, &n), PK_EINJECTED);
    EXPECT_EQ(e->thread, thread);
    EXPECT_EQ(e->task, 20);
    EXPECT_TRUE(d.increasing);
    EXPECT_GT(d.count, 0u);
    EXPECT_LT(d.count, 21336326u); // pi(4 * 10^8): not all of them

    ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
    EXPECT_EQ(Count(0, 100000000), kPiPow10[8]);
}

TEST_P(SieveTest, ArgumentErrors) {
    uint64_t n = 7;
    EXPECT_EQ(pk_sieve_count(ctx(), 10, 9, &n), PK_EINVAL);
    EXPECT_STREQ(pk_ctx_error(ctx())->kernel, "sieve");
    EXPECT_NE(ErrorString().find("above"), std::string::npos) << ErrorString();
    EXPECT_EQ(pk_sieve_count(ctx(), kTop, 0, &n), PK_EINVAL);
    EXPECT_EQ(pk_sieve_count(ctx(), 0, 10, nullptr), PK_EINVAL);
    Collected c;
    EXPECT_EQ(pk_sieve_primes(ctx(), 10, 9, Collect, &c, &n), PK_EINVAL);
    EXPECT_EQ(pk_sieve_primes(ctx(), 0, 10, nullptr, nullptr, &n), PK_EINVAL);
    EXPECT_EQ(c.batches, 0u);
    EXPECT_EQ(pk_sieve_count(nullptr, 0, 10, &n), PK_EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Pools, SieveTest, testing::ValuesIn(AllPools()), PoolName);

// The top of the range costs a second or two per call (every prime below 2^32
// is a sieving prime), so these run on two pools rather than all of them.
class SieveTopTest : public SieveTest {};

TEST_P(SieveTopTest, PrimesBelowTwoToThe64) {
    EXPECT_EQ(List(kTop - 99, kTop), (std::vector<uint64_t>{kTop - 94, kTop - 82, kTop - 58}));
}

TEST_P(SieveTopTest, CountsAtTheTop) {
    if (GetParam().backend == "serial") {
        EXPECT_EQ(Count(kTop, kTop), 0u);
        EXPECT_EQ(Count(kTop - 58, kTop - 58), 1u);
    } else {
        std::vector<uint64_t> want = PrimesByTest(kTop - 20000, kTop);
        EXPECT_EQ(Count(kTop - 20000, kTop), want.size());
    }
}

INSTANTIATE_TEST_SUITE_P(Pools, SieveTopTest,
                         testing::Values(Pool{"serial", 1}
#if PARKIT_WITH_OPENMP
                                         ,
                                         Pool{"omp", 2}
#endif
                                         ),
                         PoolName);

// High up (square roots from 10^6), workers take blocks of chunks and carry the
// sieving primes' state from one to the next. Checked on two pools: the top
// costs a set-up of seconds per worker.
class SieveHighTest : public SieveTest {
  protected:
    // The listed primes of [lo, hi] (given) around every multiple of the
    // engine's segment from the interval's first wheel byte, where chunks and
    // segments end, against Miller-Rabin.
    void CheckAtSegmentEnds(uint64_t lo, uint64_t hi, const std::vector<uint64_t> &got) {
        const uint64_t seg = 30ull << pk__sieve_segment_log(hi), first = lo / 30 * 30;
        for (uint64_t off = seg; off < hi - first - 3000; off += seg) {
            uint64_t edge = first + off, a = edge - 3000, b = edge + 3000;
            std::vector<uint64_t> want = PrimesByTest(a, b), have;
            for (uint64_t p : got)
                if (p >= a && p <= b)
                    have.push_back(p);
            EXPECT_EQ(have, want) << "around " << edge;
        }
    }
};

TEST_P(SieveHighTest, ListsAcrossSegmentsAndChunks) {
    for (uint64_t lo : {uint64_t{1000000000000000000}, kTop - 100000000}) {
        uint64_t hi = lo + 100000000;
        Collected c;
        uint64_t n = 0;
        ASSERT_EQ(pk_sieve_primes(ctx(), lo, hi, Collect, &c, &n), 0) << ErrorString();
        EXPECT_EQ(n, c.primes.size());
        EXPECT_EQ(c.primes.front(), PrimesByTest(lo, lo + 1000).front());
        EXPECT_EQ(c.primes.back(), PrimesByTest(hi - 1000, hi).back());
        CheckAtSegmentEnds(lo, hi, c.primes);
        EXPECT_EQ(Count(lo, hi), n) << "[" << lo << ", " << hi << "]";
    }
}

TEST_P(SieveHighTest, CountsAddUpAcrossChunks) {
    // A counting chunk and a bit, carried from one to the next, against pieces
    // of other lengths that each start afresh.
    const uint64_t lo = 1000000000000000000ull + 12345, hi = lo + 1100000000;
    uint64_t whole = Count(lo, hi);
    uint64_t pieces = 0;
    for (uint64_t a = lo; a <= hi; a += 400000001)
        pieces += Count(a, a + 400000000 < hi ? a + 400000000 : hi);
    EXPECT_EQ(whole, pieces);
    EXPECT_GT(whole, 0u);
}

INSTANTIATE_TEST_SUITE_P(Pools, SieveHighTest,
                         testing::Values(Pool{"serial", 1}
#if PARKIT_WITH_OPENMP
                                         ,
                                         Pool{"omp", 2}
#endif
                                         ),
                         PoolName);

// The engine alone: one engine given consecutive chunks carries its state from
// each to the next; the same chunks after pk__sieve_forget start afresh. Both
// must find the same primes, which Miller-Rabin checks where chunks meet.
struct EngineDeleter {
    void operator()(pk__sieve *s) const { pk__sieve_free(s); }
};

struct ChunkPrimes {
    std::vector<uint64_t> primes;
};

int KeepPrimes(void *arg, const uint8_t *seg, uint64_t byte, size_t len) {
    auto *c = static_cast<ChunkPrimes *>(arg);
    return pk__sieve_extract(
        seg, byte, len,
        [](void *a, uint64_t p) {
            static_cast<ChunkPrimes *>(a)->primes.push_back(p);
            return 0;
        },
        c);
}

// The chunks of [lo, hi] one after the other on s; those before byte keep are
// told that the run ends there (keep_to).
std::vector<uint64_t> SieveChunks(pk__sieve *s, uint64_t lo, uint64_t hi, uint64_t chunk,
                                  bool forget, uint64_t keep = 0) {
    ChunkPrimes c;
    uint64_t b0 = lo / 30, bend = hi / 30 + 1;
    for (uint64_t b = b0; b < bend; b += chunk) {
        pk__sieve_job job{};
        job.lo = lo;
        job.hi = hi;
        job.b0 = b;
        job.b1 = bend - b < chunk ? bend : b + chunk;
        job.keep_to = b < keep ? keep : 0;
        job.on_segment = KeepPrimes;
        job.arg = &c;
        if (forget)
            pk__sieve_forget(s);
        EXPECT_EQ(pk__sieve_chunk(s, &job), 0);
    }
    return c.primes;
}

TEST(SieveEngine, SegmentsGrowWithTheSievingPrimes) {
    // 2^15 while every sieving prime is small (a square root below 2^13); then
    // as many bytes as the largest sieving prime, between 2^18 and 2^20, and
    // 2^20 from there up to 2^64.
    EXPECT_EQ(pk__sieve_segment_log(0), 15u);
    EXPECT_EQ(pk__sieve_segment_log(10000000ull), 15u);             // sqrt 3162
    EXPECT_EQ(pk__sieve_segment_log(67108863ull), 15u);             // sqrt 8191.99
    EXPECT_EQ(pk__sieve_segment_log(67108864ull), 18u);             // sqrt 2^13
    EXPECT_EQ(pk__sieve_segment_log(10000000000ull), 18u);          // sqrt 1e5
    EXPECT_EQ(pk__sieve_segment_log(68720001024ull), 18u);          // sqrt 2^18
    EXPECT_EQ(pk__sieve_segment_log(68720001025ull), 19u);          // sqrt 2^18 + 1
    EXPECT_EQ(pk__sieve_segment_log(100000000000ull), 19u);         // sqrt 3.2e5
    EXPECT_EQ(pk__sieve_segment_log(1000000000000ull), 20u);        // sqrt 1e6
    EXPECT_EQ(pk__sieve_segment_log(17592186044416ull), 20u);       // sqrt 2^22
    EXPECT_EQ(pk__sieve_segment_log(17592194433025ull), 20u);       // sqrt 2^22 + 1
    EXPECT_EQ(pk__sieve_segment_log(18446744073709551615ull), 20u); // near 2^64
    EXPECT_LE(1u << pk__sieve_segment_log(~0ull), static_cast<unsigned>(PK__SIEVE_SEGMENT_MAX));
}

TEST(SieveEngine, CarriedStateMatchesFreshSetUp) {
    struct Case {
        uint64_t lo, hi, chunk; // chunk in wheel bytes
    } cases[] = {
        {0, 300000000, 1u << 18},   // sieving primes added on the way
        {1000, 60000000, 1u << 15}, // segments of 32 KiB, small primes only
        // the ring goes round, with segments of 1 MiB
        {1000000000000ull, 1000200000000ull, 1u << 20},
        {17592196044416ull, 17592346044416ull, 1u << 20},
        {1000000000000000000ull + 7, 1000000000060000000ull, 1u << 20},
        {kTop - 24000000, kTop, 1u << 20}, // every prime below 2^32 sieves
    };
    for (const Case &c : cases) {
        ASSERT_EQ(c.chunk, 1u << pk__sieve_segment_log(c.hi)) << "a chunk of one segment";
        unsigned seg_log = pk__sieve_segment_log(c.hi);
        std::unique_ptr<pk__sieve, EngineDeleter> carry(pk__sieve_new(seg_log)),
            fresh(pk__sieve_new(seg_log));
        ASSERT_TRUE(carry && fresh);
        std::vector<uint64_t> a = SieveChunks(carry.get(), c.lo, c.hi, c.chunk, false);
        std::vector<uint64_t> b = SieveChunks(fresh.get(), c.lo, c.hi, c.chunk, true);
        EXPECT_EQ(pk__sieve_setups(carry.get()), 1u) << "[" << c.lo << ", " << c.hi << "]";
        EXPECT_EQ(pk__sieve_setups(fresh.get()), (c.hi / 30 - c.lo / 30) / c.chunk + 1);
        EXPECT_EQ(a.size(), b.size()) << "[" << c.lo << ", " << c.hi << "]";
        EXPECT_TRUE(a == b) << "[" << c.lo << ", " << c.hi << "]";
        for (uint64_t b0 = c.lo / 30 + c.chunk; b0 <= c.hi / 30; b0 += c.chunk) {
            uint64_t x = 30 * b0, lo = x - 2000 > c.lo ? x - 2000 : c.lo;
            uint64_t hi = c.hi - x > 2000 ? x + 2000 : c.hi;
            std::vector<uint64_t> want = PrimesByTest(lo, hi), have;
            for (uint64_t p : a)
                if (p >= lo && p <= hi)
                    have.push_back(p);
            EXPECT_EQ(have, want) << "where chunks meet at " << x;
        }
    }
}

TEST(SieveEngine, KeptStateEndsWhereTheRunEnds) {
    // keep_to: the chunks that follow on this engine end there, so the state
    // drops every multiple past it, and a chunk past it starts afresh; the
    // primes are those of the plain run.
    const uint64_t lo = 100000000000000ull, hi = lo + 200000000;
    unsigned seg_log = pk__sieve_segment_log(hi);
    const uint64_t seg = 1u << seg_log, b0 = lo / 30, bend = hi / 30 + 1;
    std::unique_ptr<pk__sieve, EngineDeleter> kept(pk__sieve_new(seg_log)),
        plain(pk__sieve_new(seg_log));
    ASSERT_TRUE(kept && plain);
    std::vector<uint64_t> want = SieveChunks(plain.get(), lo, hi, seg, false);
    ASSERT_GT(bend - b0, 5 * seg) << "six chunks at least";
    std::vector<uint64_t> have = SieveChunks(kept.get(), lo, hi, seg, false, b0 + 3 * seg);
    EXPECT_EQ(pk__sieve_setups(plain.get()), 1u);
    EXPECT_EQ(pk__sieve_setups(kept.get()), 2u) << "afresh past keep_to, carried before";
    EXPECT_EQ(have.size(), want.size());
    EXPECT_TRUE(have == want);
}

TEST(SieveEngine, OtherChunksStartAfresh) {
    // Not the successor, another interval, or after a chunk that is not whole
    // segments: a fresh set-up each time, and still the right primes.
    std::unique_ptr<pk__sieve, EngineDeleter> s(pk__sieve_new(18)); // grows to the interval's
    ASSERT_TRUE(s);
    const uint64_t lo = 1000000000000000000ull, hi = lo + 200000000;
    const uint64_t b0 = lo / 30, seg = 1u << pk__sieve_segment_log(hi);
    struct Step {
        uint64_t lo, hi, b0, b1;
    } steps[] = {
        {lo, hi, b0 + seg, b0 + 2 * seg},              // fresh
        {lo, hi, b0, b0 + seg},                        // before it: fresh
        {lo, hi + 30, b0 + seg, b0 + 2 * seg},         // the successor of another interval: fresh
        {lo, hi + 30, b0 + 2 * seg, b0 + 3 * seg - 1}, // carried
        {lo, hi + 30, b0 + 3 * seg - 1, b0 + 4 * seg}, // after a partial segment: fresh
        {lo, hi + 30, b0 + 4 * seg, b0 + 6 * seg},     // longer than the first chunk: fresh
    };
    const uint64_t setups[] = {1, 2, 3, 3, 4, 5};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const Step &st = steps[i];
        ChunkPrimes c;
        pk__sieve_job job{};
        job.lo = st.lo;
        job.hi = st.hi;
        job.b0 = st.b0;
        job.b1 = st.b1;
        job.on_segment = KeepPrimes;
        job.arg = &c;
        ASSERT_EQ(pk__sieve_chunk(s.get(), &job), 0);
        EXPECT_EQ(pk__sieve_setups(s.get()), setups[i]) << "step " << i;
        uint64_t first = 30 * st.b0, last = 30 * st.b1 - 1;
        std::vector<uint64_t> want = PrimesByTest(first, first + 3000);
        std::vector<uint64_t> tail = PrimesByTest(last - 3000, last);
        want.insert(want.end(), tail.begin(), tail.end());
        std::vector<uint64_t> have;
        for (uint64_t p : c.primes)
            if (p <= first + 3000 || p >= last - 3000)
                have.push_back(p);
        EXPECT_EQ(have, want) << "step " << i;
    }
}

TEST(SieveTable, PublishedValues) {
    for (int k = 0; k < 20; k++)
        EXPECT_EQ(pk_prime_pi_pow10(k), kPiPow10[k]) << "k = " << k;
    EXPECT_EQ(pk_prime_pi_pow10(-1), UINT64_MAX);
    EXPECT_EQ(pk_prime_pi_pow10(20), UINT64_MAX);
}

} // namespace
