#!/usr/bin/env bash
# The ThreadSanitizer stage of scripts/test.sh: builds the tsan preset
# (build-tsan/: clang-14, LLVM's OpenMP with its Archer tool, Open MPI) and runs
# every test that starts threads, then the MPI tests at 2 ranks (1 and 2
# threads per rank), with the suppressions of tests/tsan.supp (libraries parkit
# does not build, never its own code). A report fails its test (halt_on_error).
# docs/RELIABILITY.md says what runs, how long it takes and why each exclusion
# below is there.
# Usage: scripts/tsan.sh [--no-build]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

if [ "${1:-}" != "--no-build" ]; then
    cmake --preset tsan >/dev/null
    cmake --build build-tsan -j"$jobs"
fi
# The same options as the tsan test preset (CMakePresets.json).
# ignore_noninstrumented_modules: calls into TSan made from libraries that are
# not instrumented (libomp, Open MPI, GMP, FLINT) keep their synchronization
# but are not checked; Archer asks for it (tests/tsan.supp says what it hides).
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=1 second_deadlock_stack=1"
TSAN_OPTIONS+=" suppressions=$top/tests/tsan.supp"

# What is left out of the threads run, each for its reason.
skip=(
    'layering\.'       # compiles probes; no program runs
    'fuzz\.'           # the corpus replays parse on one thread (run under ASan+UBSan)
    'SieveEngine\.'    # the sieve engine alone, on one thread: 4.5 min under TSan
    'Pools/SieveHighTest\.'  # sieving near 10^18 and 2^64: about 2 min per test under
                             # TSan, nearly all of it the engine's own arithmetic; the
                             # threads take blocks of chunks the same way in SieveTest
    'Pools/Sieve(Top)?Test\..*/serial_1( |$)'  # the serial sieve starts no thread: 2 min
    'cli\.prodcons\.validates$'  # 10^7 items through the channel: 2 min under TSan, past
                                 # its timeout on a busy machine; the other prodcons tests
                                 # move 10^4 to 10^6 items through the same team and channel
    'cli\.sieve\.top_of_range$'  # every prime below 2^32 sieves: 2 min, past its timeout
                                 # under TSan; SieveTopTest covers the top on threads
)
exclude=$(IFS='|'; echo "^(${skip[*]})")

echo "-- threads: the unit tests on every pool, the programs and examples on threads"
(cd build-tsan && ctest -j"$jobs" --output-on-failure --timeout 900 \
    -LE '^(mpi|multihost)$' -E "$exclude")

# MPI at 2 ranks: the MPI suite at 1 and 2 ranks (2 threads per rank: hybrid
# 2x2), the one-sided sharing engine at 2x2 under the default
# MPI_THREAD_SERIALIZED (every thread's calls under parkit's serial lock),
# under MPI_THREAD_MULTIPLE (with its progress thread) and under FUNNELED,
# and the CLI tests launched on 2 ranks.
# More ranks are left to the other stages: each TSan rank is several times
# slower and the 3, 4 and 8-rank runs oversubscribe 2 cores further. The
# multihost tests need network namespaces and run in the full build.
mpi2='test_mpi_np[12]|test_mpi_sync_onesided_((serialized|multiple)_np2x2|funneled)'
mpi2+='|cli\.mpirun\.(.*_hybrid|factorial_output.*|squares_usage_error_once|squares_progress_over_short_runs)'
mpi2+='|cli\.signals\.mpirun_.*'
mpi2+='|cli\.squares\.(plot_ranks_grid|default_threads_follow_binding|unequal_threads_pool)'
echo "-- MPI at 2 ranks"
(cd build-tsan && ctest -j"$jobs" --output-on-failure --timeout 900 \
    -L '^mpi$' -LE '^multihost$' -R "^($mpi2)\$")
