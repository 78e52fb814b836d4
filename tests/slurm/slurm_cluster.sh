#!/usr/bin/env bash
# A real Slurm cluster on this machine for the batch scripts in scripts/slurm:
# munged with its own key and socket, slurmctld and slurmd on loopback with
# free ports, a private slurm.conf and private state, all in a fresh directory
# under PARENT. One node of 8 schedulable CPUs (config_overrides), whatever the
# cores.
#
# Usage: slurm_cluster.sh test SRC BIN PARENT
#          start a cluster, submit openmp.sbatch, mpi.sbatch and hybrid.sbatch
#          from SRC with PARKIT_BIN=BIN, wait for each job, check its state, its
#          job output and its CSV and JSON reports; check that a job whose
#          program fails ends FAILED; run `srun -n 4` of a program; stop the
#          cluster whatever happened (trap) and check that nothing of it runs.
#        slurm_cluster.sh down PARENT
#          stop every cluster left under PARENT (after a killed test).
# Exit status: 0 passed, 1 failed, 77 skipped (not root, or no slurm-wlm and
# munge: scripts/test.sh installs them), 2 usage.
set -euo pipefail

skip=77
limit=180 # seconds for starting and the jobs; srun, stopping: 80 more, below the ctest TIMEOUT

say() { echo "slurm_cluster: $*"; }
fail() {
    say "FAILED: $*" >&2
    exit 1
}

# The pids of the processes that belong to the cluster in $1: those started
# with PARKIT_SLURM_CLUSTER=$1 in their environment (the daemons and the
# programs of the jobs; never this script, which does not export it) and
# those working in $1 (slurmstepd, which gets a clean environment and the
# folder of slurmd).
cluster_pids() {
    { grep -lzxF "PARKIT_SLURM_CLUSTER=$1" /proc/[0-9]*/environ 2>/dev/null || true; } |
        sed 's|^/proc/\([0-9]*\)/environ$|\1|'
    { find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$1" -o -lname "$1/*" -o -lname "$1 (deleted)" \) \
        2>/dev/null || true; } | sed 's|^/proc/\([0-9]*\)/cwd$|\1|'
}

# Ends the processes $2... of the cluster in $1 that are still there: SIGTERM,
# then SIGKILL after 3 s.
end_pids() {
    local dir=$1 k pids
    shift
    for k in $(seq 10); do
        pids=$(cluster_pids "$dir" | grep -xF -f <(printf '%s\n' "$@") || true)
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086 # one pid a word
        if [ "$k" -le 6 ]; then kill -TERM $pids 2>/dev/null || true; else kill -KILL $pids 2>/dev/null || true; fi
        sleep 0.5
    done
}

# Stops the cluster in $1: cancels its jobs, asks slurmctld and slurmd to stop,
# ends whatever of it is left but munged (by pid), then munged. Fails if
# something survives.
stop_cluster() {
    local dir=$1 munged pids k
    munged=$(cat "$dir/munge/munged.pid" 2>/dev/null || echo none)
    if [ -f "$dir/slurm.conf" ] && [ -S "$dir/munge/socket" ]; then
        SLURM_CONF=$dir/slurm.conf timeout 10 scancel --quiet --user=root 2>/dev/null || true
        SLURM_CONF=$dir/slurm.conf timeout 10 scontrol shutdown 2>/dev/null || true
    fi
    for k in $(seq 20); do # up to 5 s to stop on their own
        [ -n "$(cluster_pids "$dir" | grep -vxF "$munged" || true)" ] || break
        sleep 0.25
    done
    # shellcheck disable=SC2046 # one pid a word
    end_pids "$dir" $(cluster_pids "$dir" | grep -vxF "$munged" || true)
    # shellcheck disable=SC2046
    end_pids "$dir" $(cluster_pids "$dir")
    pids=$(cluster_pids "$dir")
    if [ -n "$pids" ]; then
        say "still running after stop: $(echo "$pids" | tr "\n" " ")" >&2
        return 1
    fi
}

# A TCP port nobody listens on, from a range chosen at random.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && [ "$p" != "${1:-}" ] && break
    done
    echo "$p"
}

write_conf() {
    local dir=$1 node=$2 ctld_port=$3 d_port=$4
    # Job ids of their own too, for what else is named after them.
    local first_job=$((1000 + (RANDOM % 30000) * 1000))
    cat >"$dir/slurm.conf" <<EOF
ClusterName=parkit
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
FirstJobId=$first_job
TmpFS=$dir/tmp
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=parkit Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    # The PMIx plug-in's folders are named by job and step: another cluster on
    # this machine must not share them.
    echo "PMIxCliTmpDirBase=$dir/tmp" >"$dir/mpi.conf"
    mkdir -p "$dir/tmp"
}

start_munge() {
    local dir=$1 k
    mkdir -p "$dir/munge"
    chown munge:munge "$dir/munge"
    chmod 755 "$dir/munge" # munged wants its socket's folder open to all
    runuser -u munge -- mungekey --create --keyfile="$dir/munge/munge.key"
    runuser -u munge -- env PARKIT_SLURM_CLUSTER="$dir" /usr/sbin/munged --socket="$dir/munge/socket" \
        --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
    for k in $(seq 50); do
        munge -S "$dir/munge/socket" -n 2>/dev/null | unmunge -S "$dir/munge/socket" >/dev/null 2>&1 &&
            return 0
        sleep 0.2
    done
    fail "munged did not answer: $(cat "$dir/munge/munged.log" 2>/dev/null)"
}

# Starts slurmctld and slurmd; true once the node is idle, false when the
# daemons did not come up (a port taken meanwhile, say).
start_slurm() {
    local dir=$1 node=$2 k
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    PARKIT_SLURM_CLUSTER=$dir slurmctld -f "$dir/slurm.conf" -c -i
    PARKIT_SLURM_CLUSTER=$dir slurmd -f "$dir/slurm.conf" -N "$node"
    for k in $(seq 60); do
        [ "$(sinfo -h -n "$node" -o %T 2>/dev/null || true)" = idle ] && return 0
        sleep 0.5
    done
    return 1
}

# JobState of job $1 once it has ended; fails after the deadline.
wait_job() {
    local id=$1 state
    while :; do
        state=$(scontrol show job -o "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
        state=${state#JobState=}
        case "$state" in
            "" | PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED) ;;
            *)
                echo "$state"
                return 0
                ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "TIMEOUT($state)"
            return 0
        fi
        sleep 0.5
    done
}

problems=0
job_openmp="" job_mpi="" job_hybrid="" job_fault="" job_unbound=""
problem() {
    say "problem: $*" >&2
    problems=$((problems + 1))
}

# Submits a script from SRC: submit NAME SCRIPT [sbatch options...] -- [program args...]
# Sets job_<NAME> to the job id. The job gets PARKIT_BIN=$submit_bin (default
# BIN) and the variables in $submit_export (VAR=value,...).
submit() {
    local name=$1 script=$2 id
    shift 2
    local opts=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    [ "$#" -gt 0 ] && shift
    id=$(cd "$src" && sbatch --parsable --job-name="pk-$name" --output="$dir/out/$name-%j.out" \
        --export=ALL,PARKIT_BIN="${submit_bin:-$bin}",PARKIT_SLURM_CLUSTER="$dir"${submit_export:+,$submit_export} "${opts[@]}" "$script" "$@") || fail "sbatch $script"
    id=${id%%;*}
    printf -v "job_$name" %s "$id"
    say "submitted $script ${opts[*]} $* as job $id"
}

# Checks the job and reports of job $2 (named $1): ended COMPLETED with exit
# 0, its output has the validation line and the lines matching the other
# arguments, the CSV and JSON reports exist and validate.
check_job() {
    local name=$1 id=$2 state out base re
    shift 2
    state=$(wait_job "$id")
    out=$dir/out/$name-$id.out
    base=${out%.out}
    say "job $name ($id): $state"
    if [ "$state" != COMPLETED ]; then
        problem "job $name ($id) ended $state, not COMPLETED"
        [ "${state#TIMEOUT}" = "$state" ] || return 0 # nothing to check yet
    fi
    grep -q '^# Validation: PASSED$' "$out" 2>/dev/null || problem "$out: no '# Validation: PASSED'"
    for re in "$@"; do
        grep -Eq "$re" "$out" 2>/dev/null || problem "$out: no line matching '$re'"
    done
    grep -q '^program,ranks,threads,' "$base.csv" 2>/dev/null || problem "$base.csv: no CSV header"
    grep -q '^# Validation: PASSED$' "$base.csv" 2>/dev/null || problem "$base.csv: not validated"
    grep -q '"validation": "PASSED"' "$base.json" 2>/dev/null || problem "$base.json: not validated"
}

show_logs() {
    local f
    for f in "$dir"/out/*.out "$dir"/log/slurmctld.log "$dir"/log/slurmd.log; do
        [ -f "$f" ] || continue
        echo "---- $f (last 40 lines)"
        tail -n 40 "$f"
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$rc" -eq 0 ] || show_logs
    if ! stop_cluster "$dir"; then
        rc=1
    elif [ -z "${PARKIT_SLURM_KEEP:-}" ]; then
        rm -rf "$dir"
    fi
    say "cluster stopped, exit $rc"
    exit "$rc"
}

cmd_test() {
    src=$(cd "$1" && pwd)
    bin=$(cd "$2" && pwd)
    local parent=$3 node ctld_port d_port attempt
    if [ "$(id -u)" -ne 0 ]; then
        say "skipped: needs root (munged and slurmd run as root here)"
        exit $skip
    fi
    for c in munged mungekey slurmctld slurmd sbatch srun scontrol sinfo; do
        if ! command -v "$c" >/dev/null && [ ! -x "/usr/sbin/$c" ]; then
            say "skipped: no $c (install slurm-wlm and munge; scripts/test.sh does)"
            exit $skip
        fi
    done
    deadline=$((SECONDS + limit))
    mkdir -p "$parent"
    dir=$(mktemp -d "$(cd "$parent" && pwd)/cluster.XXXXXX")
    chmod 755 "$dir"
    mkdir "$dir/out"
    trap cleanup EXIT
    trap 'exit 1' INT TERM
    export SLURM_CONF=$dir/slurm.conf
    node=$(hostname -s)
    start_munge "$dir"
    for attempt in 1 2 3; do
        ctld_port=$(free_port)
        d_port=$(free_port "$ctld_port")
        write_conf "$dir" "$node" "$ctld_port" "$d_port"
        start_slurm "$dir" "$node" && break
        say "slurm did not come up on ports $ctld_port and $d_port (attempt $attempt)"
        stop_cluster_daemons "$dir"
        [ "$attempt" -lt 3 ] || fail "slurm did not come up"
    done
    say "cluster up in $dir: node $node, ports $ctld_port and $d_port"

    # openmp.sbatch and mpi.sbatch with a program and a sweep given on the
    # command line, hybrid.sbatch with none: its default program and sweep.
    submit openmp scripts/slurm/openmp.sbatch --cpus-per-task=4 -- squares 1e7 --threads 1,2,4
    submit mpi scripts/slurm/mpi.sbatch --ntasks=4 -- squares 1e7 --ranks 1,2,4
    submit hybrid scripts/slurm/hybrid.sbatch --ntasks=2 --cpus-per-task=2 --
    # A program that fails must fail the job.
    submit fault scripts/slurm/mpi.sbatch --ntasks=2 -- sieve 1e8 --inject-fault rank=1,task=0
    # Binding asked for where Slurm does not bind (task/none): the threads
    # must stay unbound. A squares that shows what each task got runs it.
    mkdir "$dir/bin"
    # shellcheck disable=SC2016 # expanded by that script
    printf '#!/bin/sh\n%s\nexec %q "$@"\n' \
        'echo "task $SLURM_PROCID: OMP_PROC_BIND=${OMP_PROC_BIND-unset} OMP_PLACES=${OMP_PLACES-unset}" >&2' \
        "$bin/squares" >"$dir/bin/squares"
    chmod +x "$dir/bin/squares"
    submit_bin=$dir/bin submit_export=PARKIT_CPU_BIND=cores \
        submit unbound scripts/slurm/hybrid.sbatch --ntasks=2 --cpus-per-task=2 -- squares 1e6

    check_job openmp "$job_openmp" '^# backend += omp$' '^# threads obtained += 4$' \
        '^squares,1,1,1,1,' '^squares,1,4,4,4,'
    check_job mpi "$job_mpi" '^# backend += mpi$' '^# ranks += 4$' '^squares,1,1,1,1,' \
        '^squares,4,1,1,4,'
    check_job hybrid "$job_hybrid" '^# backend += mpi$' '^# ranks += 2$' \
        '^# threads obtained += 2$' '^squares,1,2,2,2,' '^squares,2,2,2,4,'
    local state
    state=$(wait_job "$job_fault")
    [ "$state" = FAILED ] || problem "job fault ($job_fault) ended $state, not FAILED"
    grep -q 'injected fault' "$dir/out/fault-$job_fault.out" ||
        problem "job fault: no 'injected fault' in its output"
    if grep -q 'Validation: PASSED' "$dir/out/fault-$job_fault.out"; then
        problem "job fault: validated"
    fi
    say "job fault ($job_fault): $state"
    check_job unbound "$job_unbound" '^task 1: OMP_PROC_BIND=unset OMP_PLACES=unset$'
    if grep -q 'OMP_PROC_BIND=[^u]' "$dir/out/unbound-$job_unbound.out"; then
        problem "job unbound: threads bound in tasks Slurm did not bind"
    fi

    # srun -n 4 outside any batch script.
    local out
    out=$(PARKIT_SLURM_CLUSTER=$dir timeout -k 5 60 srun --mpi=pmix -n 4 "$bin/sieve" 1e8 2>&1) || problem "srun -n 4 sieve failed"
    echo "$out" | grep -Eq '^ranks += 4$' || problem "srun -n 4 sieve: not 4 ranks"
    echo "$out" | grep -q '^Validation: PASSED$' || problem "srun -n 4 sieve: not validated"
    say "srun -n 4 sieve: done"

    [ "$problems" -eq 0 ] || fail "$problems problem(s)"
    say "passed in $SECONDS s"
}

# Stops the daemons of a cluster that did not come up, keeping munged.
stop_cluster_daemons() {
    local dir=$1 munged
    munged=$(cat "$dir/munge/munged.pid" 2>/dev/null || echo none)
    # shellcheck disable=SC2046 # one pid a word
    end_pids "$dir" $(cluster_pids "$dir" | grep -vxF "$munged" || true)
    rm -rf "$dir/state" "$dir/spool" "$dir/slurmctld.pid" "$dir/slurmd.pid"
}

cmd_down() {
    local parent d rc=0
    [ -d "$1" ] || return 0
    parent=$(cd "$1" && pwd)
    for d in "$parent"/cluster.*/; do
        [ -d "$d" ] || continue
        d=${d%/}
        if stop_cluster "$d"; then rm -rf "$d"; else rc=1; fi
    done
    return $rc
}

case "${1:-}" in
    test) [ "$#" -eq 4 ] || { echo "usage: $0 test SRC BIN PARENT" >&2; exit 2; }
          cmd_test "$2" "$3" "$4" ;;
    down) [ "$#" -eq 2 ] || { echo "usage: $0 down PARENT" >&2; exit 2; }
          cmd_down "$2" ;;
    *) echo "usage: $0 test SRC BIN PARENT | down PARENT" >&2; exit 2 ;;
esac
