#!/usr/bin/env bash
# Repeatability: a program given the same input prints the same bytes on every
# backend, thread count and rank count: the counts and exact sums, the whole
# factorial, the values and primes in --print order. Runs the program on the
# serial backend, on 1, 2 and 4 threads, on 2, 3 and 4 ranks and on 2 ranks x 2
# threads, and compares a hash of each run's output with the serial one (for
# prodcons, its results: the counts and sums the consumers saw).
#
#   repeatability.sh PROGRAM [MPIEXEC]
set -uo pipefail
prog=$1 mpiexec=${2:-}
name=$(basename "$prog")
case "$name" in
squares) args=(--first -1000 300001 --print) ;;
sieve) args=(1e9 1e9+2e6 --print) ;;
factorial) args=(20000 --print) ;;
prodcons) args=(--items 200000 --capacity 16) ;;
*) echo "repeatability.sh: no input for $name" >&2; exit 2 ;;
esac
common=(--quiet --repeat 1 --warmup 0 --no-progress)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

runs=("serial|--backend serial|1|" "omp1|--backend omp --threads 1|1|" "omp2|--backend omp --threads 2|2|"
      "omp4|--backend omp --threads 4|4|")
if [ -n "$mpiexec" ]; then
    runs+=("mpi2||1|2" "mpi3||1|3" "mpi4||1|4" "hybrid2x2|--threads 2|2|2")
fi

failures=0
ref=""
for r in "${runs[@]}"; do
    IFS='|' read -r tag pool threads ranks <<<"$r"
    launch=()
    [ -n "$ranks" ] && launch=("$mpiexec" -n "$ranks")
    # shellcheck disable=SC2086 # pool: words on purpose
    if ! env -u PARKIT_BACKEND -u PARKIT_INJECT OMP_NUM_THREADS="$threads" timeout -k 5 240 \
        "${launch[@]}" "$prog" "${args[@]}" "${common[@]}" $pool >"$tmp/$tag.out" 2>"$tmp/$tag.err"; then
        echo "FAIL: $tag: the run failed"; sed 's/^/    | /' "$tmp/$tag.err" | head -20
        failures=$((failures + 1)); continue
    fi
    # (exit 0 means the run validated.) prodcons also reports how its run went
    # (the rate, the channel's high-water mark): not results, left out
    if [ "$name" = prodcons ]; then
        grep -v -E '^(items/s|max depth) ' "$tmp/$tag.out" >"$tmp/$tag.res"
        mv "$tmp/$tag.res" "$tmp/$tag.out"
    fi
    sum=$(sha256sum <"$tmp/$tag.out" | cut -c1-16)
    lines=$(wc -l <"$tmp/$tag.out")
    echo "$tag: $lines lines, sha256 $sum"
    if [ -z "$ref" ]; then
        ref=$sum reftag=$tag
    elif [ "$sum" != "$ref" ]; then
        echo "FAIL: $tag's output differs from $reftag's:"
        diff "$tmp/$reftag.out" "$tmp/$tag.out" | head -10 | sed 's/^/    | /'
        failures=$((failures + 1))
    fi
done
[ "$failures" = 0 ] && echo "$name: the same bytes on all ${#runs[@]} pools"
exit $((failures > 0))
