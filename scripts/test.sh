#!/usr/bin/env bash
# The whole test suite: set up and build (warnings are errors), run every test
# with ctest, then build and test the configuration without MPI and OpenMP.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
./scripts/setup.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== full build: serial, OpenMP and MPI backends"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 600)

echo "== minimal build: no MPI, no OpenMP"
cmake -S . -B build-minimal -DCMAKE_BUILD_TYPE=Release -DPARKIT_WERROR=ON \
    -DPARKIT_WITH_MPI=OFF -DPARKIT_WITH_OPENMP=OFF -DPARKIT_BUILD_BENCH=OFF >/dev/null
cmake --build build-minimal -j"$jobs"
(cd build-minimal && ctest -j"$jobs" --output-on-failure --timeout 600)
