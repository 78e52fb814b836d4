#!/usr/bin/env bash
# The whole test suite: set up and build (warnings are errors) and run every test
# with ctest; then the configuration without MPI, OpenMP and FLINT (the
# factorial's GMP-only products); then the suite again
# under AddressSanitizer + UndefinedBehaviorSanitizer; then every test that
# starts threads, and the MPI tests at 2 ranks, under ThreadSanitizer
# (scripts/tsan.sh: clang-14 with LLVM's OpenMP, whose Archer tool makes OpenMP
# visible to it);
# last, each libFuzzer target of fuzz/ for a few seconds (scripts/fuzz.sh).
# The full build's tests include `ctest -L slurm`, which starts a Slurm cluster on
# this machine, and `ctest -L valgrind`, which runs the portable build under
# valgrind: slurm-wlm, munge and valgrind are installed here when missing (not
# by setup.sh, which installs only what building needs), as root or with sudo.
# Usage: scripts/test.sh [--quick]   (--quick: the full build's tests only)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
./scripts/setup.sh

# Installs the Debian packages given that are missing; apt-get runs only then.
install_missing() {
    local p missing=() sudo=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    echo "test: installing ${missing[*]}"
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_missing slurm-wlm munge # the slurm tests' cluster
install_missing valgrind        # the valgrind tests: the portable build under memcheck
jobs=$(nproc 2>/dev/null || echo 2)

echo "== full build: serial, OpenMP and MPI backends"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 600)
[ "${1:-}" = "--quick" ] && exit 0

echo "== minimal build: no MPI, no OpenMP, no FLINT"
cmake -S . -B build-minimal -DCMAKE_BUILD_TYPE=Release -DPARKIT_WERROR=ON \
    -DPARKIT_WITH_MPI=OFF -DPARKIT_WITH_OPENMP=OFF -DPARKIT_WITH_FLINT=OFF \
    -DPARKIT_BUILD_BENCH=OFF >/dev/null
cmake --build build-minimal -j"$jobs"
(cd build-minimal && ctest -j"$jobs" --output-on-failure --timeout 600)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake --preset asan-ubsan >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ctest -j"$jobs" --output-on-failure --timeout 900)

echo "== ThreadSanitizer build: every threaded test, and the MPI tests at 2 ranks"
./scripts/tsan.sh

echo "== fuzzing: each libFuzzer target for ${PARKIT_FUZZ_SECONDS:-8} s (clang-14, ASan+UBSan)"
./scripts/fuzz.sh "${PARKIT_FUZZ_SECONDS:-8}"
