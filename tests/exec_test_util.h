// Checks of the executor shared by test_exec (threads, serial) and
// test_mpi_exec (ranks, hybrid).
#ifndef PARKIT_TESTS_EXEC_TEST_UTIL_H
#define PARKIT_TESTS_EXEC_TEST_UTIL_H

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

#include "parkit/exec.h"
#include "parkit/parkit.h"

// pk_exec_submit and pk_exec_map of `name` (a task taking one int64) from a
// thread other than the submitter: both refused with PK_EPERM, before anything
// reaches the workers or MPI, and nothing handed out.
inline void ExpectRefusedFromAnotherThread(pk_exec *ex, const char *name) {
    int64_t x = 3, xs[4] = {1, 2, 3, 4};
    int submit_rc = 0, map_rc = 0;
    pk_future *f = nullptr;
    pk_map_iter *it = nullptr;
    std::thread other([&] {
        submit_rc = pk_exec_submit(ex, name, &x, sizeof x, &f);
        map_rc = pk_exec_map(ex, name, xs, sizeof xs[0], 4, 0, 0, &it);
    });
    other.join();
    EXPECT_EQ(submit_rc, PK_EPERM) << "pk_exec_submit from another thread";
    EXPECT_EQ(f, nullptr);
    EXPECT_EQ(map_rc, PK_EPERM) << "pk_exec_map from another thread";
    EXPECT_EQ(it, nullptr);
}

#endif
