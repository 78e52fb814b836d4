// Allocation failures injected inside each kernel (pk_ctx_set_fault with
// fail=alloc) on the serial backend and on two threads: the call returns
// PK_ENOMEM, "out of memory (injected): N bytes", with the origin of the worker
// that allocated (rank, thread, task); a spec whose task allocates nothing does
// not fire and the call succeeds; pk_worker_alloc itself records a real
// failure the same way; and the spec field is parsed and refused as documented.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

// A real allocation failure below asks malloc for SIZE_MAX bytes: under
// AddressSanitizer or ThreadSanitizer that must come back NULL rather than
// stop the program.
extern "C" const char *__asan_default_options() {
    return "allocator_may_return_null=1";
}
extern "C" const char *__tsan_default_options() {
    return "allocator_may_return_null=1";
}

namespace {

std::vector<Pool> AllocPools() {
    std::vector<Pool> pools{{"serial", 1}};
#if PARKIT_WITH_OPENMP
    pools.push_back({"omp", 2});
#endif
    return pools;
}

class AllocFault : public PoolTest {
  protected:
    // The last thread of the pool: thread 1 on two threads, 0 on one.
    int LastThread() { return GetParam().threads - 1; }

    void Arm(const std::string &spec) { ASSERT_EQ(pk_ctx_set_fault(ctx(), spec.c_str()), 0); }

    // The call failed with an injected allocation failure at this origin.
    void ExpectInjected(int rc, const char *kernel, int rank, int thread, int64_t task) {
        const pk_error_info *e = pk_ctx_error(ctx());
        EXPECT_EQ(rc, PK_ENOMEM) << ErrorString();
        EXPECT_EQ(e->code, PK_ENOMEM);
        EXPECT_STREQ(e->kernel, kernel);
        EXPECT_EQ(e->rank, rank);
        EXPECT_EQ(e->thread, thread);
        EXPECT_EQ(e->task, task);
        EXPECT_EQ(std::strncmp(e->message, "out of memory (injected): ", 26), 0) << e->message;
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 1);
    }
};

TEST_P(AllocFault, SquaresPartialSumsBuffer) {
    // squares allocates nothing in its chunks: the pool's buffer of partial
    // sums is the rank's allocation (by its thread 0), taken by a spec that
    // names neither thread nor task.
    Arm("kernel=squares,rank=0,fail=alloc");
    pk_i128 sum;
    int rc = pk_squares(ctx(), 1, 1 << 20, PK_SQUARES_SUM_ONLY, nullptr, &sum);
    ExpectInjected(rc, "squares", 0, 0, -1);
    std::string text = ErrorString();
    EXPECT_EQ(text.rfind("squares: rank 0, thread 0: out of memory (injected): ", 0), 0u) << text;
    // Disarmed, the same context computes the sum.
    Arm("");
    ASSERT_EQ(pk_squares(ctx(), 1, 1 << 20, PK_SQUARES_SUM_ONLY, nullptr, &sum), 0);
    pk_i128 want;
    ASSERT_EQ(pk_squares_expected(1, 1 << 20, &want), 0);
    EXPECT_TRUE(pk_i128_eq(sum, want));
}

TEST_P(AllocFault, SquaresTaskNeverAllocates) {
    for (const char *spec :
         {"kernel=squares,task=3,fail=alloc", "kernel=squares,thread=0,fail=alloc"}) {
        Arm(spec);
        pk_i128 sum;
        EXPECT_EQ(pk_squares(ctx(), 1, 1 << 20, PK_SQUARES_SUM_ONLY, nullptr, &sum), 0) << spec;
        EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0) << spec;
    }
}

int CountPrimes(void *arg, const uint64_t *, size_t count) {
    *static_cast<uint64_t *>(arg) += count;
    return 0;
}

TEST_P(AllocFault, SieveChunkBitmap) {
    Arm("kernel=sieve,thread=" + std::to_string(LastThread()) + ",task=3,fail=alloc");
    uint64_t seen = 0, count = 0;
    // 10^8: seven chunks of the listing
    int rc = pk_sieve_primes(ctx(), 0, 100000000, CountPrimes, &seen, &count);
    ExpectInjected(rc, "sieve", 0, LastThread(), 3);
}

TEST_P(AllocFault, SieveEngineOutsideTasks) {
    Arm("kernel=sieve,thread=" + std::to_string(LastThread()) + ",fail=alloc");
    uint64_t count = 0;
    // 10^9: 64 chunks, so that every thread begins a worker
    int rc = pk_sieve_count(ctx(), 0, 1000000000, &count);
    ExpectInjected(rc, "sieve", 0, LastThread(), -1);
    EXPECT_NE(std::strstr(pk_ctx_error(ctx())->message, "262208 bytes"), nullptr);
}

TEST_P(AllocFault, SieveCountingTaskAllocatesNothing) {
    // Counting, a chunk allocates nothing (the engine was made before): the
    // fault does not fire and the count is right.
    Arm("kernel=sieve,thread=" + std::to_string(LastThread()) + ",task=3,fail=alloc");
    uint64_t count = 0;
    ASSERT_EQ(pk_sieve_count(ctx(), 0, 100000000, &count), 0) << ErrorString();
    EXPECT_EQ(count, pk_prime_pi_pow10(8));
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
}

TEST_P(AllocFault, FactorialLeafProduct) {
    Arm("kernel=factorial,thread=" + std::to_string(LastThread()) + ",task=2,fail=alloc");
    mpz_t r;
    mpz_init(r);
    int rc = pk_factorial(ctx(), 200000, r);
    mpz_clear(r);
    ExpectInjected(rc, "factorial", 0, LastThread(), 2);
}

TEST_P(AllocFault, FactorialEachTask) {
    Arm("kernel=factorial,task=3,fail=alloc");
    std::vector<mpz_t> v(8);
    for (auto &x : v)
        mpz_init(x);
    int rc = pk_factorial_each(ctx(), 100, 107, v.data());
    for (auto &x : v)
        mpz_clear(x);
    EXPECT_EQ(rc, PK_ENOMEM);
    EXPECT_EQ(pk_ctx_error(ctx())->task, 3);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 1);
}

TEST_P(AllocFault, ProdconsWorkerBuffer) {
    // Each worker's batch buffer is its item 0's allocation: a consumer's.
    Arm("kernel=prodcons,thread=3,task=0,fail=alloc");
    pk_prodcons_opts o{};
    o.producers = 2;
    o.consumers = 2;
    o.capacity = 4;
    o.items = 100000;
    pk_prodcons_result r;
    int rc = pk_prodcons(ctx(), &o, &r);
    ExpectInjected(rc, "prodcons", 0, 3, 0);
    EXPECT_NE(std::strstr(pk_ctx_error(ctx())->message, ": 8 bytes"), nullptr);
    // the counts up to the abort: the failed consumer took nothing
    EXPECT_LE(r.consumed, r.produced);
    EXPECT_LE(r.produced, o.items);
}

TEST_P(AllocFault, ProdconsLaterItemAllocatesNothing) {
    Arm("kernel=prodcons,thread=3,task=5,fail=alloc");
    pk_prodcons_opts o{};
    o.producers = 2;
    o.consumers = 2;
    o.capacity = 4;
    o.items = 1000;
    pk_prodcons_result r;
    ASSERT_EQ(pk_prodcons(ctx(), &o, &r), 0) << ErrorString();
    EXPECT_EQ(r.consumed, 1000);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
}

// A fail=task fault (the default) is untouched by pk_worker_alloc, and a
// fail=alloc one does not fail tasks at their start.
struct AllocArg {
    size_t bytes;
};

int AllocTask(void *arg, int64_t, void *, pk_worker *w) {
    void *p = pk_worker_alloc(w, static_cast<AllocArg *>(arg)->bytes);
    if (p == nullptr)
        return PK_ENOMEM;
    std::memset(p, 1, static_cast<AllocArg *>(arg)->bytes > 0 ? 1 : 0);
    std::free(p);
    return 0;
}

TEST_P(AllocFault, WorkerAllocInATaskOfYourOwn) {
    pk_opts o{};
    o.label = "mine";
    AllocArg a{100};
    Arm("kernel=mine,task=7,fail=alloc");
    int rc = pk_tasks(ctx(), 16, &o, AllocTask, &a, nullptr, nullptr);
    ExpectInjected(rc, "mine", 0, pk_ctx_error(ctx())->thread, 7);
    EXPECT_STREQ(pk_ctx_error(ctx())->message, "out of memory (injected): 100 bytes");
    Arm("kernel=mine,task=7");
    EXPECT_EQ(pk_tasks(ctx(), 16, &o, AllocTask, &a, nullptr, nullptr), PK_EINJECTED);
    Arm("kernel=mine,task=99,fail=alloc"); // no such task: nothing fires
    EXPECT_EQ(pk_tasks(ctx(), 16, &o, AllocTask, &a, nullptr, nullptr), 0);
    EXPECT_EQ(pk_ctx_fault_fired(ctx()), 0);
}

TEST_P(AllocFault, RealAllocationFailureHasItsOrigin) {
    pk_opts o{};
    o.label = "mine";
    AllocArg a{SIZE_MAX};
    int rc = pk_tasks(ctx(), 4, &o, AllocTask, &a, nullptr, nullptr);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(rc, PK_ENOMEM);
    EXPECT_STREQ(e->kernel, "mine");
    EXPECT_EQ(e->rank, 0);
    EXPECT_GE(e->thread, 0);
    EXPECT_GE(e->task, 0);
    EXPECT_EQ(std::strncmp(e->message, "out of memory: ", 15), 0) << e->message;
}

INSTANTIATE_TEST_SUITE_P(Pools, AllocFault, testing::ValuesIn(AllocPools()), PoolName);

TEST(AllocFaultSpec, ParsesAndRefuses) {
    pk_ctx *c = nullptr;
    ASSERT_EQ(pk_ctx_new(&c, "serial"), 0);
    EXPECT_EQ(pk_ctx_set_fault(c, "kernel=sieve,fail=alloc"), 0);
    EXPECT_EQ(pk_ctx_set_fault(c, "fail=task"), 0);
    EXPECT_EQ(pk_ctx_set_fault(c, "task=1,fail=heap"), PK_EINVAL);
    EXPECT_NE(std::strstr(pk_ctx_error(c)->message, "fail=task or fail=alloc"), nullptr);
    EXPECT_EQ(pk_ctx_set_fault(c, "fail="), PK_EINVAL);
    pk_ctx_free(c);
}

} // namespace
