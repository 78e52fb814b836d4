// pk_worker_run_end, checked the same way on threads (test_pool.cpp) and on
// ranks (test_mpi_api.cpp): each chunk records its run end, then each
// worker's chunks are walked in the order it ran them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "parkit/parkit.h"

struct RunEnds {
    struct Rec {
        int64_t begin, end, run_end;
    };
    std::mutex mu;
    std::map<int, std::vector<Rec>> by_thread; // this process's workers
};

// A pk_for body: records the chunk and its run end.
inline int RecordRunEnd(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    auto *r = static_cast<RunEnds *>(arg);
    std::lock_guard<std::mutex> lock(r->mu);
    r->by_thread[w->thread].push_back({begin, end, pk_worker_run_end(w)});
    return 0;
}

// With PK_STATIC, a run end past the chunk's end means the worker's next
// chunks are the ones up to it, in order; one at the chunk's end means the
// chunk starting there is not its next. With PK_DYNAMIC, the chunk's end.
inline void ExpectRunEnds(const RunEnds &r, int64_t n, int schedule) {
    for (const auto &[thread, recs] : r.by_thread) {
        for (size_t i = 0; i < recs.size(); i++) {
            const auto &c = recs[i];
            SCOPED_TRACE("thread " + std::to_string(thread) + ", chunk [" +
                         std::to_string(c.begin) + ", " + std::to_string(c.end) + ")");
            EXPECT_GE(c.run_end, c.end);
            EXPECT_LE(c.run_end, n);
            if (schedule == PK_DYNAMIC) {
                EXPECT_EQ(c.run_end, c.end);
            } else if (c.run_end > c.end) {
                ASSERT_LT(i + 1, recs.size()) << "the run stops before its end";
                EXPECT_EQ(recs[i + 1].begin, c.end);
                EXPECT_EQ(recs[i + 1].run_end, c.run_end);
            } else if (i + 1 < recs.size()) {
                EXPECT_NE(recs[i + 1].begin, c.end) << "the run goes on past its end";
            }
        }
    }
}
