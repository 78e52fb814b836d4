// Shared test helpers: a context per (backend, threads) parameter, and a
// printable name for each, so every kernel test runs on every backend.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "parkit/factorial.h"
#include "parkit/parkit.h"
#include "parkit/prodcons.h"
#include "parkit/sieve.h"
#include "parkit/squares.h"

struct Pool {
    std::string backend;
    int threads;
};

inline std::ostream &operator<<(std::ostream &os, const Pool &p) {
    return os << p.backend << "_" << p.threads;
}

// serial (1 thread) and, when built, omp at 1..4 threads.
inline std::vector<Pool> AllPools() {
    std::vector<Pool> pools{{"serial", 1}};
#if PARKIT_WITH_OPENMP
    for (int t = 1; t <= 4; t++)
        pools.push_back({"omp", t});
#endif
    return pools;
}

inline std::string PoolName(const testing::TestParamInfo<Pool> &info) {
    return info.param.backend + "_" + std::to_string(info.param.threads);
}

struct CtxDeleter {
    void operator()(pk_ctx *c) const { pk_ctx_free(c); }
};
using CtxPtr = std::unique_ptr<pk_ctx, CtxDeleter>;

inline CtxPtr MakeCtx(const Pool &p) {
    pk_ctx *c = nullptr;
    EXPECT_EQ(pk_ctx_new(&c, p.backend.c_str()), 0) << p.backend;
    if (c != nullptr)
        EXPECT_EQ(pk_ctx_set_threads(c, p.threads), 0);
    return CtxPtr(c);
}

// Fixture base: a context for the parameter.
class PoolTest : public testing::TestWithParam<Pool> {
  protected:
    void SetUp() override {
        ctx_ = MakeCtx(GetParam());
        ASSERT_NE(ctx_, nullptr);
    }
    pk_ctx *ctx() { return ctx_.get(); }
    std::string ErrorString() {
        char buf[512];
        pk_ctx_error_string(ctx(), buf, sizeof buf);
        return buf;
    }

  private:
    CtxPtr ctx_;
};
