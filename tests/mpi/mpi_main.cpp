// The GoogleTest main for tests run under mpirun: MPI starts first (the thread
// level parkit asks for), every rank runs the same tests in the same order,
// rank 0 prints the usual report while the other ranks print only their own
// failures, prefixed with their rank, and the result is agreed (MAX) so that
// every rank, and so mpirun, fails when one rank does.
#include <mpi.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

class RankFailures : public testing::EmptyTestEventListener {
  public:
    explicit RankFailures(int rank) : rank_(rank) {}

    void OnTestPartResult(const testing::TestPartResult &r) override {
        if (!r.failed())
            return;
        std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                     r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
    }

    void OnTestEnd(const testing::TestInfo &info) override {
        if (info.result()->Failed())
            std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(),
                         info.name());
    }

  private:
    int rank_;
};

} // namespace

int main(int argc, char **argv) {
    int provided = 0;
    // the level parkit's own programs ask for (pk_mpi_init): SERIALIZED unless
    // PARKIT_MPI_THREADS says funneled or multiple
    const char *level = std::getenv("PARKIT_MPI_THREADS");
    std::string asked = level != nullptr ? level : "";
    int wanted = asked == "multiple"   ? MPI_THREAD_MULTIPLE
                 : asked == "funneled" ? MPI_THREAD_FUNNELED
                                       : MPI_THREAD_SERIALIZED;
    if (MPI_Init_thread(&argc, &argv, wanted, &provided) != MPI_SUCCESS) {
        std::fprintf(stderr, "MPI_Init_thread failed\n");
        return 1;
    }
    testing::InitGoogleTest(&argc, argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) {
        testing::TestEventListeners &listeners = testing::UnitTest::GetInstance()->listeners();
        delete listeners.Release(listeners.default_result_printer());
        listeners.Append(new RankFailures(rank));
    }
    int result = RUN_ALL_TESTS();
    int agreed = result;
    MPI_Allreduce(&result, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return agreed;
}
