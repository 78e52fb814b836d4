// Helpers for the tests that run under mpirun: the world's rank and size, a
// context on the mpi backend (the whole world, or the first k ranks), and
// checks that a value or a text is the same on every rank. Every helper is
// collective where it says so: call it on every rank, never after an ASSERT
// that may fail on some ranks only.
#pragma once

#include <mpi.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "parkit/factorial.h"
#include "parkit/mpi.h"
#include "parkit/parkit.h"
#include "parkit/prodcons.h"
#include "parkit/sieve.h"
#include "parkit/squares.h"

inline int WorldRank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

inline int WorldSize() {
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

struct MpiCtxDeleter {
    void operator()(pk_ctx *c) const { pk_ctx_free(c); }
};
using MpiCtx = std::unique_ptr<pk_ctx, MpiCtxDeleter>;

// A context on every rank of MPI_COMM_WORLD (collective).
inline MpiCtx WorldCtx() {
    pk_ctx *c = nullptr;
    EXPECT_EQ(pk_ctx_new(&c, "mpi"), 0);
    return MpiCtx(c);
}

// A context on the first k ranks; empty on the others (collective).
inline MpiCtx FirstRanksCtx(int k) {
    MPI_Comm part = MPI_COMM_NULL;
    MPI_Comm_split(MPI_COMM_WORLD, WorldRank() < k ? 0 : MPI_UNDEFINED, WorldRank(), &part);
    if (part == MPI_COMM_NULL)
        return MpiCtx();
    pk_ctx *c = nullptr;
    EXPECT_EQ(pk_ctx_new_mpi(&c, part), 0);
    MPI_Comm_free(&part);
    return MpiCtx(c);
}

inline MpiCtx SerialCtx() {
    pk_ctx *c = nullptr;
    EXPECT_EQ(pk_ctx_new(&c, "serial"), 0);
    return MpiCtx(c);
}

// 1 on every rank when every rank passed the same value (collective).
inline bool SameOnAllRanks(int64_t v) {
    int64_t lo = v, hi = v;
    MPI_Allreduce(&v, &lo, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&v, &hi, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

// Every rank's text, in rank order (collective).
inline std::vector<std::string> AllTexts(const std::string &s) {
    enum { LEN = 512 };
    char mine[LEN] = {0};
    std::strncpy(mine, s.c_str(), LEN - 1);
    std::vector<char> all(static_cast<size_t>(LEN) * static_cast<size_t>(WorldSize()));
    MPI_Allgather(mine, LEN, MPI_CHAR, all.data(), LEN, MPI_CHAR, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (int r = 0; r < WorldSize(); r++)
        out.emplace_back(&all[static_cast<size_t>(r) * LEN]);
    return out;
}

// Sum over ranks (collective).
inline int64_t SumOverRanks(int64_t v) {
    int64_t s = 0;
    MPI_Allreduce(&v, &s, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    return s;
}

inline std::string ErrorText(pk_ctx *c) {
    char buf[512];
    pk_ctx_error_string(c, buf, sizeof buf);
    return buf;
}

// On one rank the default roles (workers 0..P-1 put, the next C get) need two
// ranks: a channel or a team of two is refused with PK_EINVAL, never left
// waiting. (Named lists may give one rank both roles: see test_mpi_chan.cpp.)
inline void ExpectTwoRolesRefusedOnOneRank() {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk_chan_opts o = {};
    o.elem_size = sizeof(int64_t);
    o.capacity = 4;
    o.producers = 1;
    o.consumers = 1;
    pk_chan *ch = nullptr;
    EXPECT_EQ(pk_chan_open(ctx.get(), &ch, &o), PK_EINVAL);
    EXPECT_EQ(ch, nullptr);
    pk_team_fn nothing = [](void *, pk_worker *) { return 0; };
    EXPECT_EQ(pk_team(ctx.get(), 2, nullptr, nothing, nullptr), PK_EINVAL);
}
