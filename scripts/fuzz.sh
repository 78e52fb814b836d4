#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (the fuzz preset: clang-14, ASan+UBSan,
# build-fuzz/) and runs each for SECONDS (default 8) on its kept corpus
# fuzz/corpus/<target>/ plus a working corpus in build-fuzz/corpus/<target>/,
# which grows from run to run and is never written back to fuzz/. A crash, a
# sanitizer report or a failed check stops the run: the input is saved in
# build-fuzz/artifacts/, replayed once with its output shown, and the script
# exits 1. Prints the executions and time of each target.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: number fault report_json
#        squares factorial sieve prodcons; default all)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-8}
[ "$#" -gt 0 ] && shift
targets=("$@")
[ "${#targets[@]}" -eq 0 ] && targets=(number fault report_json squares factorial sieve prodcons)
jobs=$(nproc 2>/dev/null || echo 2)

cmake --preset fuzz >/dev/null
cmake --build build-fuzz -j"$jobs" --target "${targets[@]/#/fuzz_}"

mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
    bin=build-fuzz/bin/fuzz_$t
    work=build-fuzz/corpus/$t
    log=build-fuzz/fuzz_$t.log
    mkdir -p "$work"
    rm -f build-fuzz/artifacts/"$t"-*
    # -close_fd_mask=3: the programs' usage and help text would flood the log;
    # sanitizer and libFuzzer reports still get through.
    if timeout -k 10 $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=4096 -close_fd_mask=3 -print_final_stats=1 \
        -artifact_prefix=build-fuzz/artifacts/"$t"- "$work" fuzz/corpus/"$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
        echo "fuzz_$t: ${runs:-?} executions in ${secs:-?} s, no finding"
    else
        status=1
        echo "fuzz_$t: FAILED (log: $log)"
        grep -E "ERROR|runtime error|SUMMARY" "$log" | head -20 || true
        for a in build-fuzz/artifacts/"$t"-*; do
            [ -e "$a" ] || continue
            echo "-- replaying $a"
            "$bin" "$a" 2>&1 | grep -v "^INFO:" | tail -30 || true
        done
    fi
done
exit "$status"
