#!/usr/bin/env bash
# One benchmark command: each of parkit's kernels next to the best tool of its
# kind, on this machine, in one run. For every row, parkit's program and its
# anchor run alternately (a warm-up pair, then --pairs pairs), each timing its
# own work; the row's figure is the median of the per-pair ratios, with their
# minimum and maximum. Then the in-process benchmarks of the channel (bench_prodcons,
# which alternates parkit's channel with its ring anchors inside one process).
#
#   scripts/bench.sh [--quick] [--pairs N] [--json FILE] [--only REGEX]
#                    [--no-build] [--build-dir DIR] [--against DIR]
#
#   --quick      small sizes (seconds in all), for a smoke test
#   --pairs N    alternating pairs per row after the warm-up (default 5)
#   --json FILE  where the JSON goes (default bench-results.json)
#   --only RE    only the rows whose name matches the extended regex RE
#   --no-build   use the build found in --build-dir (default: scripts/setup.sh
#                installs what is missing and builds in Release into build/,
#                the default build: portable, hot loops chosen at run time)
#   --against D  also rows of parkit against parkit: this build's programs
#                alternately with those of the build in D, e.g. a
#                -DPARKIT_NATIVE=ON one (cmake --preset native; cmake --build
#                --preset native) for "... vs build-native"; --only 'vs build-'
#                runs just those
#
# Ratios: for time rows, parkit's time / the anchor's (below 1: parkit faster);
# for bandwidth rows (squares), the anchor's time / parkit's (parkit's share of
# the fill bandwidth). The goal column says which way each row must go. Ratios
# are never asserted: a slow machine prints a slow table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

quick=0 pairs=5 json=bench-results.json only="" build=1 bdir="$top/build" against=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --pairs) pairs=$2; shift ;;
    --json) json=$2; shift ;;
    --only) only=$2; shift ;;
    --no-build) build=0 ;;
    --build-dir) bdir=$2; shift ;;
    --against) against=$2; shift ;;
    -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$pairs" in '' | *[!0-9]* | 0) echo "bench.sh: --pairs needs a positive number" >&2; exit 2 ;; esac

if [ "$build" = 1 ]; then
    ./scripts/setup.sh >&2
    bdir="$top/build"
fi
bin="$bdir/bin"
for p in sieve factorial squares prodcons bench_anchor bench_prodcons; do
    [ -x "$bin/$p" ] || { echo "bench.sh: $bin/$p is missing (build first, or drop --no-build)" >&2; exit 1; }
done
bdir=$(cd "$bdir" && pwd) || { echo "bench.sh: no folder $bdir" >&2; exit 1; }
if [ -n "$against" ]; then
    against=$(cd "$against" && pwd) || { echo "bench.sh: no folder $against" >&2; exit 1; }
    for p in sieve factorial squares; do
        [ -x "$against/bin/$p" ] || { echo "bench.sh: $against/bin/$p is missing" >&2; exit 1; }
    done
fi

# Which build: PARKIT_NATIVE from its CMake cache (the default, off, is the
# portable build whose hot loops pick their instruction set at run time).
build_kind() { # dir
    case "$(sed -n 's/^PARKIT_NATIVE:BOOL=//p' "$1/CMakeCache.txt" 2>/dev/null)" in
    ON) echo "native (-march=native)" ;;
    OFF) echo "portable (x86-64, hot loops chosen at run time)" ;;
    *) echo "unknown kind" ;;
    esac
}

# shellcheck source=scripts/mpi-env.sh
. "$top/scripts/mpi-env.sh"
have_mpi=0
command -v mpirun >/dev/null 2>&1 && have_mpi=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- one measurement -------------------------------------------------------------

# parkit's own time of the work: one timed run (after `warm` untimed ones) of a
# program with --format csv; the median column of its row. Fails when the run
# did not validate.
pk_time() { # warm cmd...
    local warm=$1; shift
    local out="$tmp/out"
    if ! "$@" --repeat 1 --warmup "$warm" --format csv >"$out" 2>"$tmp/err"; then
        echo "bench.sh: failed: $* (see below)" >&2; cat "$tmp/err" "$out" >&2; return 1
    fi
    grep -q '^# Validation: PASSED' "$out" || { echo "bench.sh: no validation: $*" >&2; cat "$out" >&2; return 1; }
    tail -n 1 "$out" | awk -F, '{print $8}'
}

# The anchor's own time: "seconds=S" from bench_anchor.
anchor_time() { # args of bench_anchor...
    local line
    line=$("$bin/bench_anchor" "$@") || { echo "bench.sh: failed: bench_anchor $*" >&2; return 1; }
    echo "$line" | sed -n 's/^seconds=\([^ ]*\).*/\1/p'
}

mpi2() { mpirun -n 2 "$@"; }

# ---- the rows --------------------------------------------------------------------

# name | kind (time: parkit/anchor, speed: anchor/parkit) | goal (e.g. "<= 1.0")
# | parkit command | anchor command (a function call line)
rows=()
row() { rows+=("$1|$2|$3|$4|$5"); }

if [ "$quick" = 1 ]; then
    W=1e8 FAC1=1e5 FAC2=3e5 SQ=1e7
else
    W=1e10 FAC1=1e6 FAC2=1e7 SQ=1e8
fi
S="$bin/sieve" F="$bin/factorial" Q="$bin/squares"
row "sieve pi($W), 1 thread vs primesieve" time "<= 1.0" \
    "pk_time 0 $S $W --threads 1" "anchor_time primesieve 0 $W 1"
row "sieve pi($W), 2 threads vs primesieve" time "<= 1.0" \
    "pk_time 0 $S $W --threads 2" "anchor_time primesieve 0 $W 2"
row "sieve [1e12, 1e12+$W], 1 thread" time "<= 1.0" \
    "pk_time 0 $S 1e12 1e12+$W --threads 1" "anchor_time primesieve 1e12 1e12+$W 1"
row "sieve [1e12, 1e12+$W], 2 threads" time "<= 1.0" \
    "pk_time 0 $S 1e12 1e12+$W --threads 2" "anchor_time primesieve 1e12 1e12+$W 2"
row "sieve [1e18, 1e18+$W], 2 threads" time "<= 1.0" \
    "pk_time 0 $S 1e18 1e18+$W --threads 2" "anchor_time primesieve 1e18 1e18+$W 2"
row "sieve [2^64-$W, 2^64-1], 2 threads" time "<= 1.0" \
    "pk_time 0 $S 2^64-$W 2^64-1 --threads 2" "anchor_time primesieve 2^64-$W 2^64-1 2"
row "factorial $FAC1, 1 thread vs mpz_fac_ui" time "<= 1.0" \
    "pk_time 0 $F $FAC1 --threads 1" "anchor_time fac $FAC1"
row "factorial $FAC1, 2 threads vs mpz_fac_ui" time "<= 0.65" \
    "pk_time 0 $F $FAC1 --threads 2" "anchor_time fac $FAC1"
row "factorial $FAC2, 1 thread vs mpz_fac_ui" time "<= 1.0" \
    "pk_time 0 $F $FAC2 --threads 1" "anchor_time fac $FAC2"
row "factorial $FAC2, 2 threads vs mpz_fac_ui" time "<= 0.60" \
    "pk_time 0 $F $FAC2 --threads 2" "anchor_time fac $FAC2"
row "squares $SQ stored, 1 thread vs fill bandwidth" speed ">= 0.95" \
    "pk_time 1 $Q $SQ --threads 1" "anchor_time fill $SQ 1"
row "squares $SQ stored, 2 threads vs fill bandwidth" speed ">= 0.95" \
    "pk_time 1 $Q $SQ --threads 2" "anchor_time fill $SQ 2"
if [ -n "$against" ]; then # this build / the other, alternately: below 1, this one faster
    A=$(basename "$against")
    row "sieve pi($W), 1 thread, vs $A" time "<= 1.03" \
        "pk_time 0 $S $W --threads 1" "pk_time 0 $against/bin/sieve $W --threads 1"
    row "sieve pi($W), 2 threads, vs $A" time "<= 1.03" \
        "pk_time 0 $S $W --threads 2" "pk_time 0 $against/bin/sieve $W --threads 2"
    row "sieve [1e12, 1e12+$W], 2 threads, vs $A" time "<= 1.03" \
        "pk_time 0 $S 1e12 1e12+$W --threads 2" "pk_time 0 $against/bin/sieve 1e12 1e12+$W --threads 2"
    row "sieve [1e18, 1e18+$W], 2 threads, vs $A" time "<= 1.03" \
        "pk_time 0 $S 1e18 1e18+$W --threads 2" "pk_time 0 $against/bin/sieve 1e18 1e18+$W --threads 2"
    row "squares $SQ stored, 2 threads, vs $A" time "<= 1.03" \
        "pk_time 1 $Q $SQ --threads 2" "pk_time 1 $against/bin/squares $SQ --threads 2"
    row "factorial $FAC1, 2 threads, vs $A" time "<= 1.03" \
        "pk_time 0 $F $FAC1 --threads 2" "pk_time 0 $against/bin/factorial $FAC1 --threads 2"
fi
if [ "$have_mpi" = 1 ]; then
    row "sieve pi($W), mpirun -n 2 vs primesieve 2 threads" time "<= 1.0" \
        "pk_time 0 mpi2 $S $W" "anchor_time primesieve 0 $W 2"
    row "sieve pi($W), mpirun -n 2 vs --threads 2" time "<= 1.05" \
        "pk_time 0 mpi2 $S $W" "pk_time 0 $S $W --threads 2"
    row "sieve [1e18, 1e18+$W], mpirun -n 2 vs --threads 2" time "<= 1.05" \
        "pk_time 0 mpi2 $S 1e18 1e18+$W" "pk_time 0 $S 1e18 1e18+$W --threads 2"
    row "factorial $FAC2, mpirun -n 2 vs --threads 2" time "<= 1.05" \
        "pk_time 0 mpi2 $F $FAC2" "pk_time 0 $F $FAC2 --threads 2"
    row "squares $SQ, mpirun -n 2, result on rank 0, vs fill at 2 threads" speed ">= 0.90" \
        "pk_time 1 mpi2 $Q $SQ" "anchor_time fill $SQ 2"
fi

# ---- running them ----------------------------------------------------------------

stats() { # numbers on stdin -> "median min max"
    sort -g | awk '{v[NR]=$1} END {
        if (NR == 0) { print "nan nan nan"; exit }
        m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
        printf "%.4g %.4g %.4g\n", m, v[1], v[NR] }'
}

meets() { # ratio goal -> yes/no
    awk -v r="$1" -v g="$2" 'BEGIN { split(g, a, " ");
        ok = a[1] == "<=" ? r <= a[2] : r >= a[2]; print ok ? "yes" : "no" }'
}

json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

host=$(uname -n) cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
cores=$(nproc 2>/dev/null || echo 1)
echo "parkit benchmarks on $host: $cpu, $cores cores; $([ "$quick" = 1 ] && echo quick sizes || echo full sizes), warm-up pair + $pairs pairs per row"
echo "build measured: $bdir, $(build_kind "$bdir")"
[ -z "$against" ] || echo "against: $against, $(build_kind "$against")"
printf '%-62s %10s %10s %8s %8s %8s  %-8s %s\n' "row" "parkit(s)" "anchor(s)" "ratio" "min" "max" "goal" "met"
jrows=()
failed=0
for r in "${rows[@]}"; do
    IFS='|' read -r name kind goal pcmd acmd <<<"$r"
    if [ -n "$only" ] && ! echo "$name" | grep -Eq -- "$only"; then continue; fi
    : >"$tmp/ratios"; : >"$tmp/pt"; : >"$tmp/at"
    ok=1
    for i in $(seq 0 "$pairs"); do # pair 0: the warm-up
        p=$($pcmd) || { ok=0; break; }
        a=$($acmd) || { ok=0; break; }
        [ "$i" = 0 ] && continue
        echo "$p" >>"$tmp/pt"; echo "$a" >>"$tmp/at"
        awk -v p="$p" -v a="$a" -v k="$kind" 'BEGIN { print (k == "time" ? p / a : a / p) }' >>"$tmp/ratios"
    done
    if [ "$ok" = 0 ]; then
        printf '%-62s %s\n' "$name" "FAILED"
        failed=1
        jrows+=("{\"row\": $(json_str "$name"), \"failed\": true}")
        continue
    fi
    read -r rmed rmin rmax < <(stats <"$tmp/ratios")
    read -r pmed _ _ < <(stats <"$tmp/pt")
    read -r amed _ _ < <(stats <"$tmp/at")
    met=$(meets "$rmed" "$goal")
    printf '%-62s %10s %10s %8s %8s %8s  %-8s %s\n' "$name" "$pmed" "$amed" "$rmed" "$rmin" "$rmax" "$goal" "$met"
    jrows+=("{\"row\": $(json_str "$name"), \"kind\": \"$kind\", \"parkit_s\": $pmed, \"anchor_s\": $amed, \"ratio\": $rmed, \"ratio_min\": $rmin, \"ratio_max\": $rmax, \"goal\": $(json_str "$goal"), \"met\": $([ "$met" = yes ] && echo true || echo false), \"pairs\": $pairs}")
done

# ---- in-process benchmarks ----------------------------------------------------------
extra=""
if [ -z "$only" ] || echo "prodcons" | grep -Eq -- "$only"; then
    items=$([ "$quick" = 1 ] && echo 2000000 || echo 50000000)
    echo
    echo "== prodcons: the channel against its ring anchors (bench_prodcons $items)"
    if "$bin/bench_prodcons" "$items" >"$tmp/pc" 2>&1; then cat "$tmp/pc"; else cat "$tmp/pc"; failed=1; fi
    extra=$(sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/ /g' "$tmp/pc" | awk '{printf "%s\\n", $0}')
fi

{
    echo "{"
    echo "  \"host\": $(json_str "$host"), \"cpu\": $(json_str "$cpu"), \"cores\": $cores,"
    echo "  \"build\": $(json_str "$bdir"), \"build_kind\": $(json_str "$(build_kind "$bdir")"),"
    [ -z "$against" ] || echo "  \"against\": $(json_str "$against"), \"against_kind\": $(json_str "$(build_kind "$against")"),"
    echo "  \"quick\": $([ "$quick" = 1 ] && echo true || echo false), \"pairs\": $pairs,"
    echo "  \"rows\": ["
    n=${#jrows[@]}
    for i in "${!jrows[@]}"; do
        sep=","; [ "$i" = $((n - 1)) ] && sep=""
        echo "    ${jrows[$i]}$sep"
    done
    echo "  ],"
    echo "  \"prodcons\": \"$extra\""
    echo "}"
} >"$json"
echo
echo "JSON: $json"
exit "$failed"
