#!/usr/bin/env bash
# One row of the fault matrix: a program on one backend, a fault injected at
# each place in turn (the first, a middle and the last task; thread 0 and the
# last thread; rank 0, a middle rank and the last rank). Every run must exit 1
# within LIMIT seconds with exactly one message, naming the injected origin, and
# leave no process behind.
#
#   fault_matrix.sh PROGRAM BACKEND [MPIEXEC]
#   BACKEND: serial | omp:T | mpi:R | hybrid:RxT
#
# The last task is found, not assumed: task numbers do not depend on the pool,
# so a bisection over task=I on the serial backend (a fault that does not fire
# leaves the run to succeed with a warning) finds the highest that fires. For
# prodcons a task is an item's ordinal in its worker, so the last is the last
# item of a producer.
set -uo pipefail
prog=$1 backend=$2 mpiexec=${3:-mpirun}
name=$(basename "$prog")
limit=${FAULT_LIMIT:-30}
marker="PARKIT_FAULT_MATRIX=$$.$RANDOM"

case "$name" in
squares) args=(786432) ;;
sieve) args=(1e8) ;;
factorial) args=(30000) ;;
prodcons) args=(--items 20000 --capacity 4) ;;
*) echo "fault_matrix.sh: no inputs for $name" >&2; exit 2 ;;
esac
common=(--repeat 1 --warmup 0 --no-progress)

ranks=1 threads=1
launch=() env_threads=1 pool=()
case "$backend" in
serial) pool=(--backend serial) ;;
omp:*) threads=${backend#omp:}; pool=(--backend omp --threads "$threads"); env_threads=$threads ;;
mpi:*) ranks=${backend#mpi:}; launch=("$mpiexec" -n "$ranks") ;;
hybrid:*)
    spec=${backend#hybrid:}; ranks=${spec%x*}; threads=${spec#*x}
    launch=("$mpiexec" -n "$ranks"); pool=(--threads "$threads"); env_threads=$threads ;;
*) echo "fault_matrix.sh: unknown backend $backend" >&2; exit 2 ;;
esac

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Processes still carrying this run's marker in their environment.
survivors() {
    grep -l -s -z -x -F "$marker" /proc/[0-9]*/environ 2>/dev/null |
        sed 's|/proc/\([0-9]*\)/environ|\1|' | grep -vx "$$" | tr '\n' ' '
}

# run SPEC -> sets rc, err, secs
run() {
    local t0 t1
    t0=$(date +%s.%N)
    err=$(env -u PARKIT_BACKEND -u PARKIT_INJECT "$marker" OMP_NUM_THREADS="$env_threads" \
        timeout -k 5 "$((limit + 30))" "${launch[@]}" "$prog" "${args[@]}" "${common[@]}" \
        "${pool[@]}" --inject-fault "$1" 2>&1 >/dev/null)
    rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

# The highest task number that fires on the serial backend.
last_task() {
    if [ "$name" = prodcons ]; then
        local p=$(( (ranks > 1 ? ranks : threads) / 2 )); [ "$p" -lt 1 ] && p=1
        echo $(( ${args[1]} / p - 1 ))
        return
    fi
    local lo=0 hi=1 saved=("${launch[@]}") savedp=("${pool[@]}") savedt=$env_threads
    launch=() pool=(--backend serial) env_threads=1
    run "task=0"
    if [ "$rc" != 1 ]; then echo -1; launch=("${saved[@]}"); pool=("${savedp[@]}"); return; fi
    while run "task=$hi" && [ "$rc" = 1 ]; do lo=$hi; hi=$((hi * 2)); [ "$hi" -gt 1048576 ] && break; done
    while [ $((hi - lo)) -gt 1 ]; do
        local mid=$(( (lo + hi) / 2 ))
        run "task=$mid"
        if [ "$rc" = 1 ]; then lo=$mid; else hi=$mid; fi
    done
    launch=("${saved[@]}"); pool=("${savedp[@]}"); env_threads=$savedt
    echo "$lo"
}

last=$(last_task)
if [ "$last" -lt 0 ]; then
    echo "FAIL: $name: a fault at task 0 does not fire on the serial backend"; exit 1
fi
mid=$((last / 2))
workers_rank_last=$((ranks - 1))
if [ "$name" = prodcons ] && [ "$ranks" -gt 1 ]; then
    # the team is P + C ranks: the last rank of the team is the last worker
    p=$((ranks / 2)); workers_rank_last=$((2 * p - 1))
fi
tlast=$((threads - 1))
if [ "$name" = prodcons ]; then # one worker per rank under MPI, else P + C threads
    p=$((threads / 2)); [ "$p" -lt 1 ] && p=1; tlast=$((2 * p - 1))
    [ "$ranks" -gt 1 ] && tlast=0
fi
echo "$name on $backend: tasks 0..$last fire; places below"

# The task to fail on worker w: the middle one, but for a prodcons consumer
# (workers P..2P-1) its first, since how many items each consumer takes varies.
is_consumer() { # worker index
    [ "$name" = prodcons ] || return 1
    local p=$(( (ranks > 1 ? ranks : threads) / 2 )); [ "$p" -lt 1 ] && p=1
    [ "$1" -ge "$p" ]
}
task_on() { # worker index
    if is_consumer "$1"; then echo 0; else echo "$mid"; fi
}

# place: spec, the expected rank and thread ("" = any), and "c" when the place
# is a prodcons consumer.
places=("task=0|||" "task=$mid|||" "task=$last|||")
if [ "$tlast" -gt 0 ]; then
    wt=$mid wc=
    [ "$ranks" = 1 ] && is_consumer "$tlast" && wt=0 wc=c
    places+=("thread=0,task=$mid||0|" "thread=$tlast,task=$wt||$tlast|$wc")
fi
if [ "$ranks" -gt 1 ]; then
    rm=$((ranks / 2))
    rc_=$(is_consumer "$rm" && echo c)
    places+=("rank=0,task=$mid|0||" "rank=$rm,task=$(task_on $rm)|$rm||$rc_")
    rc_=$(is_consumer "$workers_rank_last" && echo c)
    [ "$workers_rank_last" != "$rm" ] &&
        places+=("rank=$workers_rank_last,task=$(task_on "$workers_rank_last")|$workers_rank_last||$rc_")
    [ "$tlast" -gt 0 ] && places+=("rank=$((ranks - 1)),thread=$tlast,task=$mid|$((ranks - 1))|$tlast|")
fi

# A consumer takes what the others leave it: on a loaded machine one that
# starts late may find every item taken and never reach its task 0. Such a run
# must say that the fault did not fire and succeed; it is then run again, up
# to TRIES times, and the fault must fire in one of them.
tries=${FAULT_TRIES:-8}
for place in "${places[@]}"; do
    IFS='|' read -r spec want_rank want_thread consumer <<<"$place"
    task=${spec##*task=}
    run "$spec"
    try=1
    while [ -n "$consumer" ] && [ "$rc" = 0 ] && [ "$try" -lt "$tries" ]; do
        printf '%s\n' "$err" | grep -q "did not fire" ||
            { fail "$name $backend --inject-fault $spec: exit 0 without saying the fault did not fire"; break; }
        echo "  $spec: the consumer took no item (try $try); again"
        try=$((try + 1))
        run "$spec"
    done
    r=${want_rank:-[0-9]+} t=${want_thread:-[0-9]+}
    want="^$name: rank $r, thread $t, task $task: injected fault\$"
    lines=$(printf '%s\n' "$err" | grep -c "injected fault")
    what="$name $backend --inject-fault $spec"
    [ "$rc" = 1 ] || fail "$what: exit $rc, not 1"
    [ "$lines" = 1 ] || fail "$what: $lines messages about the fault, not 1"
    printf '%s\n' "$err" | grep "injected fault" | grep -Eq "$want" || fail "$what: no line like '$want'"
    awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s <= l) }' || fail "$what: took $secs s (limit $limit)"
    sleep 0.2
    left=$(survivors)
    if [ -n "$left" ]; then
        fail "$what: processes left:$left"
        kill -9 $left 2>/dev/null
    fi
    echo "  $spec: exit $rc in $secs s"
    [ "$rc" = 1 ] && [ "$lines" = 1 ] || printf '%s\n' "$err" | sed 's/^/    | /'
done
[ "$failures" = 0 ] && echo "all ${#places[@]} places came back right"
exit $((failures > 0))
