#!/usr/bin/env bash
# Installs what parkit needs from Debian's packages (only what is missing; apt-get
# runs only then) and configures and builds it in Release into build/: the
# portable build (any x86-64; the hot loops choose AVX2 or AVX-512 at run time),
# also when build/ was configured before with PARKIT_NATIVE on.
# Usage: scripts/setup.sh [extra cmake arguments...]   (-DPARKIT_NATIVE=ON: for
# this machine's processor alone)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages=(build-essential cmake pkg-config libgmp-dev openmpi-bin libopenmpi-dev
          googletest libgtest-dev primesieve libprimesieve-dev
          libflint-dev   # optional: threaded FFT for the factorial's biggest products
          clang-14 libomp-14-dev # clang and LLVM's OpenMP: the ThreadSanitizer stage
          libclang-rt-14-dev)    # sanitizer runtimes and libFuzzer (clang-14 only recommends it)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: all packages present"
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPARKIT_WERROR=ON -DPARKIT_NATIVE=OFF "$@" >/dev/null
cmake --build build -j"$jobs"
