// Stress of the producer/consumer path across ranks (run at 2, 3 and 4 ranks):
// every split of the ranks into P producers and C consumers (P + C <= ranks,
// one worker per rank), channels of capacity 1, 2 and 1024, random small
// delays. Items are checked one by one: each rank counts, per item, what its
// producer put and what its consumer got, and the counts summed over ranks
// must be exactly 1 for every item. The pk_prodcons kernel runs the same grid
// and its counts, sums and XORs are checked against the values 1..N. When a
// consumer fails mid-stream (its own error, or an injected fault in the
// kernel; a producer too, in the kernel), every rank returns that error (nobody stays blocked: the
// test has a timeout), and the counts up to the abort reconcile: no item consumed twice or without
// being produced, consumed <= produced, the same on every rank.
//
// The seed is rank 0's PARKIT_STRESS_SEED when set, else its clock; every
// failure message names it.
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mpi_test_util.h"

namespace {

uint64_t Seed() {
    static const uint64_t seed = [] {
        uint64_t s = 0;
        const char *env = std::getenv("PARKIT_STRESS_SEED");
        if (env != nullptr && env[0] != '\0')
            s = static_cast<uint64_t>(std::strtoull(env, nullptr, 0));
        else
            s = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        MPI_Bcast(&s, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        return s;
    }();
    return seed;
}

std::string SeedNote() {
    return "PARKIT_STRESS_SEED=" + std::to_string(Seed());
}

void SleepMicros(int us) {
    if (us <= 0)
        return;
    struct timespec ts = {0, 1000L * us};
    nanosleep(&ts, nullptr);
}

int RandomDelay(std::mt19937_64 &rng) {
    uint64_t r = rng();
    return r % 8 == 0 ? static_cast<int>((r >> 8) % 30) : 0;
}

// Every (P, C) with P + C <= ranks.
std::vector<std::pair<int, int>> Splits(int ranks) {
    std::vector<std::pair<int, int>> out;
    for (int p = 1; p < ranks; p++)
        for (int c = 1; p + c <= ranks; c++)
            out.emplace_back(p, c);
    return out;
}

struct Stress {
    pk_chan *ch = nullptr;
    int producers = 0;
    int64_t items = 0;
    uint64_t seed = 0;
    int fail_rank = -1;                      // this consumer fails...
    int64_t fail_after = -1;                 // ...at its item fail_after
    std::vector<int64_t> produced, consumed; // this rank's counts per item
    int64_t bad_value = 0;
};

int StressWorker(void *arg, pk_worker *w) {
    auto *s = static_cast<Stress *>(arg);
    std::mt19937_64 rng(s->seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(w->id));
    if (w->id < s->producers) {
        for (int64_t i = w->id; i < s->items; i += s->producers) {
            SleepMicros(RandomDelay(rng));
            int rc = pk_chan_put(s->ch, &i);
            if (rc != 0)
                return rc;
            s->produced[static_cast<size_t>(i)]++;
        }
        return pk_chan_close(s->ch);
    }
    int64_t mine = 0, v = 0;
    int rc;
    while ((rc = pk_chan_get(s->ch, &v)) == 0) {
        if (v < 0 || v >= s->items) {
            s->bad_value++;
            return pk_fail(w, PK_ERANGE, "item %lld out of range", static_cast<long long>(v));
        }
        if (w->id == s->fail_rank && mine == s->fail_after)
            return pk_fail(w, PK_ERANGE, "consumer fails at its item %lld",
                           static_cast<long long>(mine));
        SleepMicros(RandomDelay(rng));
        s->consumed[static_cast<size_t>(v)]++;
        mine++;
    }
    return rc == PK_ECLOSED ? 0 : rc;
}

// One team over a channel (collective); the per-item counts summed over ranks.
int RunStress(pk_ctx *ctx, Stress &s, int consumers, size_t capacity) {
    s.produced.assign(static_cast<size_t>(s.items), 0);
    s.consumed.assign(static_cast<size_t>(s.items), 0);
    pk_chan_opts co{};
    co.elem_size = sizeof(int64_t);
    co.capacity = capacity;
    co.producers = s.producers;
    co.consumers = consumers;
    int rc = pk_chan_open(ctx, &s.ch, &co);
    EXPECT_EQ(rc, 0) << ErrorText(ctx);
    if (rc == 0)
        rc = pk_team(ctx, s.producers + consumers, nullptr, StressWorker, &s);
    pk_chan_free(s.ch);
    s.ch = nullptr;
    MPI_Allreduce(MPI_IN_PLACE, s.produced.data(), static_cast<int>(s.items), MPI_INT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, s.consumed.data(), static_cast<int>(s.items), MPI_INT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    s.bad_value = SumOverRanks(s.bad_value);
    return rc;
}

std::string What(int p, int c, size_t capacity) {
    return std::to_string(p) + "P" + std::to_string(c) + "C capacity " + std::to_string(capacity) +
           " at " + std::to_string(WorldSize()) + " ranks (" + SeedNote() + ")";
}

const size_t kCapacities[] = {1, 2, 1024};

} // namespace

TEST(MpiProdconsStress, OwnTeamEveryItemExactlyOnce) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    std::mt19937_64 rng(Seed());
    for (auto [p, c] : Splits(WorldSize()))
        for (size_t capacity : kCapacities) {
            Stress s;
            s.producers = p;
            s.items = 200 + static_cast<int64_t>(rng() % 200);
            s.seed = rng();
            int rc = RunStress(ctx.get(), s, c, capacity);
            std::string what = What(p, c, capacity);
            ASSERT_TRUE(SameOnAllRanks(rc)) << what;
            ASSERT_EQ(rc, 0) << what << ": " << ErrorText(ctx.get());
            int64_t wrong = 0;
            for (int64_t i = 0; i < s.items; i++)
                wrong += s.produced[static_cast<size_t>(i)] != 1 ||
                         s.consumed[static_cast<size_t>(i)] != 1;
            ASSERT_EQ(wrong + s.bad_value, 0) << what << ": items not put and got exactly once";
        }
}

TEST(MpiProdconsStress, OwnTeamConsumerFailsMidStream) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    std::mt19937_64 rng(Seed() + 1);
    int fired = 0;
    for (auto [p, c] : Splits(WorldSize()))
        for (size_t capacity : kCapacities) {
            Stress s;
            s.producers = p;
            s.items = 400;
            s.seed = rng();
            s.fail_rank = p + static_cast<int>(rng() % static_cast<uint64_t>(c));
            s.fail_after = static_cast<int64_t>(rng() % 20);
            int rc = RunStress(ctx.get(), s, c, capacity);
            std::string what = What(p, c, capacity) + " consumer " + std::to_string(s.fail_rank) +
                               " at item " + std::to_string(s.fail_after);
            ASSERT_TRUE(SameOnAllRanks(rc)) << what;
            int64_t twice = 0, unproduced = 0, nprod = 0, ncons = 0;
            for (int64_t i = 0; i < s.items; i++) {
                int64_t pr = s.produced[static_cast<size_t>(i)];
                int64_t co = s.consumed[static_cast<size_t>(i)];
                twice += pr > 1 || co > 1;
                unproduced += co > pr;
                nprod += pr;
                ncons += co;
            }
            EXPECT_EQ(twice + unproduced + s.bad_value, 0) << what;
            EXPECT_LE(ncons, nprod) << what;
            if (rc == 0) { // the others took every item before it reached its own
                EXPECT_EQ(ncons, s.items) << what;
                continue;
            }
            fired++;
            ASSERT_EQ(rc, PK_ERANGE) << what << ": " << ErrorText(ctx.get());
            EXPECT_EQ(pk_ctx_error(ctx.get())->rank, s.fail_rank) << what;
            EXPECT_LT(ncons, s.items) << what;
        }
    EXPECT_GT(fired, 0) << SeedNote();
}

TEST(MpiProdconsStress, KernelEveryItemExactlyOnce) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    std::mt19937_64 rng(Seed() + 2);
    for (auto [p, c] : Splits(WorldSize()))
        for (size_t capacity : kCapacities)
            for (size_t batch : {size_t{1}, size_t{16}}) {
                pk_prodcons_opts o{};
                o.producers = p;
                o.consumers = c;
                o.capacity = capacity;
                o.items = 1000 + static_cast<int64_t>(rng() % 1000);
                o.batch = batch;
                o.produce_delay = 1e-6 * static_cast<double>(rng() % 10);
                o.consume_delay = 1e-6 * static_cast<double>(rng() % 10);
                pk_prodcons_result r;
                int rc = pk_prodcons(ctx.get(), &o, &r);
                std::string what = What(p, c, capacity) + " batch " + std::to_string(batch);
                ASSERT_TRUE(SameOnAllRanks(rc)) << what;
                ASSERT_EQ(rc, 0) << what << ": " << ErrorText(ctx.get());
                uint64_t sum = 0, xr = 0;
                for (int64_t v = 1; v <= o.items; v++) {
                    sum += static_cast<uint64_t>(v);
                    xr ^= static_cast<uint64_t>(v);
                }
                EXPECT_EQ(r.produced, o.items) << what;
                EXPECT_EQ(r.consumed, o.items) << what;
                EXPECT_EQ(r.sum_produced, sum) << what;
                EXPECT_EQ(r.sum_consumed, sum) << what;
                EXPECT_EQ(r.xor_produced, xr) << what;
                EXPECT_EQ(r.xor_consumed, xr) << what;
                EXPECT_TRUE(SameOnAllRanks(r.consumed) && SameOnAllRanks(r.sum_consumed)) << what;
            }
}

// A consumer rank fails at its item K (an injected fault): every rank returns
// PK_EINJECTED with that origin, and the counts of the abort (summed over
// ranks, the same everywhere) reconcile.
TEST(MpiProdconsStress, KernelConsumerFaultReportsCountsThatReconcile) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    std::mt19937_64 rng(Seed() + 3);
    int fired = 0;
    for (auto [p, c] : Splits(WorldSize()))
        for (size_t capacity : kCapacities) {
            pk_prodcons_opts o{};
            o.producers = p;
            o.consumers = c;
            o.capacity = capacity;
            o.items = 4000;
            o.batch = 1;
            int consumer = p + static_cast<int>(rng() % static_cast<uint64_t>(c));
            int64_t k = static_cast<int64_t>(rng() % 50);
            std::string spec =
                "kernel=prodcons,rank=" + std::to_string(consumer) + ",task=" + std::to_string(k);
            ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
            pk_prodcons_result r;
            int rc = pk_prodcons(ctx.get(), &o, &r);
            ASSERT_EQ(pk_ctx_set_fault(ctx.get(), nullptr), 0);
            std::string what = What(p, c, capacity) + " " + spec;
            ASSERT_TRUE(SameOnAllRanks(rc)) << what;
            EXPECT_TRUE(SameOnAllRanks(r.produced) && SameOnAllRanks(r.consumed)) << what;
            EXPECT_LE(r.consumed, r.produced) << what;
            EXPECT_LE(r.produced, o.items) << what;
            EXPECT_LE(r.sum_consumed, r.sum_produced) << what;
            if (rc == 0) {
                EXPECT_EQ(r.consumed, o.items) << what;
                continue;
            }
            fired++;
            ASSERT_EQ(rc, PK_EINJECTED) << what << ": " << ErrorText(ctx.get());
            EXPECT_EQ(pk_ctx_error(ctx.get())->rank, consumer) << what;
            EXPECT_EQ(pk_ctx_error(ctx.get())->task, k) << what;
            EXPECT_GE(r.consumed, k) << what; // the failed consumer's own k at least
            EXPECT_LT(r.consumed, o.items) << what;
        }
    EXPECT_GT(fired, 0) << SeedNote();
}

// A producer rank fails at its item K: every rank returns the fault, and the
// counts reconcile (what a producer put but had not sent yet counts as
// produced and is never consumed).
TEST(MpiProdconsStress, KernelProducerFaultReportsCountsThatReconcile) {
    if (WorldSize() < 2)
        return ExpectTwoRolesRefusedOnOneRank();
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    std::mt19937_64 rng(Seed() + 4);
    for (auto [p, c] : Splits(WorldSize()))
        for (size_t capacity : kCapacities) {
            pk_prodcons_opts o{};
            o.producers = p;
            o.consumers = c;
            o.capacity = capacity;
            o.items = 4000;
            o.batch = 1;
            int producer = static_cast<int>(rng() % static_cast<uint64_t>(p));
            int64_t k = static_cast<int64_t>(rng() % static_cast<uint64_t>(o.items / (2 * p)));
            std::string spec =
                "kernel=prodcons,rank=" + std::to_string(producer) + ",task=" + std::to_string(k);
            ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
            pk_prodcons_result r;
            int rc = pk_prodcons(ctx.get(), &o, &r);
            ASSERT_EQ(pk_ctx_set_fault(ctx.get(), nullptr), 0);
            std::string what = What(p, c, capacity) + " " + spec;
            ASSERT_TRUE(SameOnAllRanks(rc)) << what;
            ASSERT_EQ(rc, PK_EINJECTED) << what << ": " << ErrorText(ctx.get());
            EXPECT_EQ(pk_ctx_error(ctx.get())->rank, producer) << what;
            EXPECT_EQ(pk_ctx_error(ctx.get())->task, k) << what;
            EXPECT_TRUE(SameOnAllRanks(r.produced) && SameOnAllRanks(r.consumed)) << what;
            EXPECT_LE(r.consumed, r.produced) << what;
            EXPECT_LT(r.produced, o.items) << what;
            EXPECT_LE(r.sum_consumed, r.sum_produced) << what;
        }
}
