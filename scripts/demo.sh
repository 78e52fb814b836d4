#!/usr/bin/env bash
# The main job: set up and build, then run each of the four programs on the
# OpenMP backend with a thread sweep and print their reports.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
./scripts/setup.sh
bin=build/bin
threads=1,2
run() {
    echo
    echo "\$ $*"
    "$@"
}
run $bin/squares 1e8 --threads $threads
run $bin/sieve 1e9 --threads $threads
run $bin/factorial 1e6 --threads $threads
run $bin/factorial --each 1..10 --threads $threads --quiet
run $bin/prodcons --producers 2 --consumers 2 --items 1e7 --capacity 1024
