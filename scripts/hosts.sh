#!/usr/bin/env bash
# Test hosts on one machine, to run MPI programs across "several hosts".
#
# Each host pk-h1..pk-hN is a Linux network namespace with one interface (eth0,
# a veth pair whose other end is in a bridge held by the namespace pk-hub), an
# IPv4 address in a private /24 used only there (10.213.7.I for pk-hI; the root
# namespace gets no address, so the traffic stays among the hosts), IPv6 off,
# and an /etc/hosts of its own (/etc/netns/pk-hI/hosts) naming every host.
# mpirun starts in pk-h1; Open MPI's rsh launcher is hosts-rsh.sh (next to this
# script), which runs each remote daemon in its host's namespace under that
# host's own host name (a UTS namespace: ranks of one host name are taken to
# share a node and its memory). Only for tests: it needs root.
#
# Run `scripts/hosts.sh --help` for the commands.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
agent=$here/hosts-rsh.sh
prefix=pk-h          # hosts are pk-h1, pk-h2, ...
hub=pk-hub           # the namespace holding the bridge
net=${PK_HOSTS_NET:-10.213.7} # the first three bytes of the hosts' /24
max_hosts=32
skip_status=77       # check: this machine cannot make the hosts

usage() {
    cat <<EOF
Usage: $prog COMMAND [ARGUMENT]...
Make test hosts out of network namespaces on this machine and run mpirun
across them over TCP, as on a cluster. Needs root, ip (iproute2), unshare
and Open MPI's mpirun.

Commands:
  up N            create the hosts pk-h1..pk-hN (N from 1 to $max_hosts), after
                  removing whatever an earlier up left
  down            remove the hosts and everything up made; never fails
  run ARG...      run mpirun ARG... in pk-h1 across the hosts (see below)
  mpirun ARG...   the same as run
  local ARG...    run mpirun ARG... on this machine alone (no hosts), with the
                  settings of scripts/mpi-env.sh under the caller's, and the
                  same timeouts: the one-host reference for a run
  with N CMD...   up N, run CMD, then down whatever happens, and exit with
                  CMD's status; CMD is "run ARG..." (as above) or any command
  status          list the hosts that are up with their addresses
  check           exit 0 if this machine can make the hosts, else say why on
                  stderr and exit $skip_status
  -h, --help      show this help and exit

run: mpirun gets the settings of scripts/mpi-env.sh (root, oversubscription,
ob1 over self,vader,tcp, ...), except those the caller set in the environment
(OMPI_MCA_osc=pt2pt, say), with TCP restricted to the hosts' subnet and to IPv4
whatever the caller set. Each remote daemon starts with a clean environment, as over ssh: other
variables reach the ranks on other hosts only through mpirun -x, and run adds
-x for every OMP_*, PARKIT_*, GTEST_* and *SAN_OPTIONS variable that is set.
Without --host, -H or a hostfile option, run adds --host listing every host
(one slot each; more ranks than slots is allowed). Open MPI ends a job still
running after MPIEXEC_TIMEOUT seconds (default 300); mpirun is killed if it
is still there 15 s later.

Examples:
  $prog up 3
  $prog run --host pk-h1:2,pk-h2:1,pk-h3:1 build/bin/sieve 1e9
  $prog run --hostfile my-hosts -n 6 build/bin/squares 1e7
  $prog down
  $prog with 3 run -n 4 build/bin/factorial 1e5     (all three in one)
  scripts/hosts-rsh.sh pk-h2 ip addr                 (a command on one host)

Environment: PK_HOSTS_NET the first three bytes of the subnet for up
(default 10.213.7), PK_HOSTS_MPIRUN the launcher (default mpirun),
MPIEXEC_TIMEOUT as above.

Exit status: run, local and with give the status of mpirun or CMD (124 when
the timeout stopped mpirun, 137 when it had to kill it, 128 + N after signal
N); check and with exit $skip_status when the hosts cannot be made here; 2 on a
usage error, 1 on any other failure.
EOF
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage_error() {
    echo "$prog: $*" >&2
    echo "Try '$prog --help' for more information." >&2
    exit 2
}

# The namespaces this script made (hosts, hub, check's probes), one a line.
our_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' |
        grep -E "^(${prefix}[0-9]+|$hub|$prefix-probe-[0-9]+)\$" || true
}

# The hosts that are up, in order pk-h1, pk-h2, ...
up_hosts() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}[0-9]+\$" | sort -V || true
}

# The processes in namespace $1 (but this script), one a line.
ns_pids() {
    ip netns pids "$1" 2>/dev/null | grep -vx -e "$$" -e "$BASHPID" || true
}

# Ends the processes left in namespace $1: TERM, then KILL after 3 s.
end_processes() {
    local ns=$1 pids sig i
    for sig in TERM KILL; do
        pids=$(ns_pids "$ns")
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086 # one pid a word
        kill -s "$sig" $pids 2>/dev/null || true
        for ((i = 0; i < 15; i++)); do
            sleep 0.2
            [ -n "$(ns_pids "$ns")" ] || return 0
        done
    done
}

cmd_down() {
    local ns
    for ns in $(our_namespaces); do
        end_processes "$ns"
        ip netns delete "$ns" 2>/dev/null || echo "$prog: could not delete namespace $ns" >&2
    done
    rm -rf /etc/netns/"$prefix"[0-9]* /etc/netns/"$hub" 2>/dev/null || true
    rmdir /etc/netns 2>/dev/null || true # only if nothing else is there
    return 0
}

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
}

cmd_up() {
    [ $# -eq 1 ] || usage_error "up needs the number of hosts"
    local n=$1 i h hosts_text
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || [ "$n" -gt $max_hosts ]; then
        usage_error "invalid number of hosts '$n' (1 to $max_hosts)"
    fi
    [[ $net =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage_error "invalid PK_HOSTS_NET '$net'"
    need_root
    cmd_down
    # From here on a failure or a signal removes what was made.
    trap 'cmd_down; echo "$prog: up failed, nothing left behind" >&2' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    hosts_text="127.0.0.1 localhost"$'\n'
    for ((i = 1; i <= n; i++)); do
        hosts_text+="$net.$i $prefix$i"$'\n'
    done
    ip netns add "$hub"
    ip netns exec "$hub" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    ip -n "$hub" link set lo up
    ip -n "$hub" link add br0 type bridge
    ip -n "$hub" link set br0 up
    for ((i = 1; i <= n; i++)); do
        h=$prefix$i
        ip netns add "$h"
        ip netns exec "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
        ip -n "$hub" link add "v$i" type veth peer name eth0 netns "$h"
        ip -n "$hub" link set "v$i" master br0 up
        ip -n "$h" link set lo up
        ip -n "$h" addr add "$net.$i/24" dev eth0
        ip -n "$h" link set eth0 up
        mkdir -p "/etc/netns/$h"
        printf '%s' "$hosts_text" >"/etc/netns/$h/hosts"
    done
    trap - EXIT INT TERM
}

cmd_status() {
    local h addr
    for h in $(up_hosts); do
        addr=$(ip -n "$h" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')
        echo "$h ${addr:-no address}"
    done
}

skip() {
    echo "$prog: cannot make test hosts here: $*" >&2
    exit $skip_status
}

cmd_check() {
    local tool probe=$prefix-probe-$$
    for tool in ip unshare timeout "${PK_HOSTS_MPIRUN:-mpirun}"; do
        command -v "$tool" >/dev/null 2>&1 || skip "no $tool"
    done
    [ "$(id -u)" = 0 ] || skip "not root"
    ip netns list >/dev/null 2>&1 || skip "'ip netns' does not work"
    ip netns add "$probe" 2>/dev/null || skip "cannot create a network namespace"
    trap 'ip netns delete "$probe" 2>/dev/null || true' EXIT
    ip -n "$probe" link add br0 type bridge 2>/dev/null || skip "no bridge devices"
    ip -n "$probe" link add va type veth peer name vb 2>/dev/null || skip "no veth devices"
    ip netns exec "$probe" unshare --uts sh -c "hostname $probe" 2>/dev/null ||
        skip "cannot set a host name in a UTS namespace"
    if ! mkdir -p /etc/netns 2>/dev/null || [ ! -w /etc/netns ]; then
        skip "/etc/netns is not writable"
    fi
    ip netns delete "$probe"
    trap - EXIT
    rmdir /etc/netns 2>/dev/null || true
}

# Runs "$@" in the background and waits for it, passing INT, TERM and HUP on as
# TERM (timeout, which runs mpirun in a process group of its own, does not get
# the terminal's signals). Returns its status, or 128 + the signal's number
# when one came.
run_child() {
    local pid rc signalled=0
    "$@" &
    pid=$!
    trap 'signalled=130; kill -TERM $pid 2>/dev/null || true' INT
    trap 'signalled=143; kill -TERM $pid 2>/dev/null || true' TERM
    trap 'signalled=129; kill -TERM $pid 2>/dev/null || true' HUP
    while :; do
        rc=0
        wait "$pid" || rc=$?
        # wait also returns when a trapped signal interrupts it
        kill -0 "$pid" 2>/dev/null || break
    done
    trap - INT TERM HUP
    [ "$signalled" = 0 ] || rc=$signalled
    return "$rc"
}

# The Open MPI settings of scripts/mpi-env.sh, under those the caller set
# (OMPI_* and PMIX_MCA_* already in the environment win), and the time limits.
mpi_settings() {
    local v
    local -A caller=()
    for v in $(compgen -e); do
        case $v in
        OMPI_* | PMIX_MCA_*) caller[$v]=${!v} ;;
        esac
    done
    # shellcheck source=scripts/mpi-env.sh
    . "$here/mpi-env.sh"
    for v in "${!caller[@]}"; do
        export "$v=${caller[$v]}"
    done
    [[ $MPIEXEC_TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage_error "invalid MPIEXEC_TIMEOUT '$MPIEXEC_TIMEOUT'"
    kill_after=$((MPIEXEC_TIMEOUT + 15))
    mpirun=${PK_HOSTS_MPIRUN:-mpirun}
}

cmd_local() {
    [ $# -gt 0 ] || usage_error "local needs mpirun's arguments"
    [ "$1" != mpirun ] || shift
    mpi_settings
    local rc=0
    run_child timeout -k 5 "$kill_after" "$mpirun" "$@" || rc=$?
    return "$rc"
}

cmd_run() {
    [ $# -gt 0 ] || usage_error "run needs mpirun's arguments"
    [ "$1" != mpirun ] || shift
    local hosts first addr subnet v arg has_hosts=no rc=0
    local -a extra=()
    hosts=$(up_hosts)
    [ -n "$hosts" ] || die "no hosts are up (run '$prog up N' first)"
    first=${hosts%%$'\n'*}
    addr=$(ip -n "$first" -4 -o addr show dev eth0 | awk '{print $4}')
    [[ $addr =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.[0-9]+/24$ ]] || die "$first has no address"
    subnet=${BASH_REMATCH[1]}.0/24
    mpi_settings
    export OMPI_MCA_btl_tcp_if_include=$subnet OMPI_MCA_oob_tcp_if_include=$subnet
    export OMPI_MCA_btl_tcp_disable_family=6 OMPI_MCA_oob_tcp_disable_ipv6_family=1
    export OMPI_MCA_plm_rsh_agent=$agent OMPI_MCA_plm_rsh_no_tree_spawn=1
    for v in $(compgen -e); do
        case $v in
        OMP_* | PARKIT_* | GTEST_* | *SAN_OPTIONS) extra+=(-x "$v") ;;
        esac
    done
    for arg in "$@"; do
        case $arg in
        --host | -host | -H | --host=* | --hostfile | -hostfile | --hostfile=* | \
            --machinefile | -machinefile | --default-hostfile | -default-hostfile)
            has_hosts=yes
            ;;
        esac
    done
    if [ $has_hosts = no ]; then
        extra+=(--host "$(echo "$hosts" | paste -sd, -)")
    fi
    # mpirun runs in the first host under that host's name.
    # shellcheck disable=SC2016 # expanded by that sh
    run_child timeout -k 5 "$kill_after" \
        ip netns exec "$first" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$first" \
        "$mpirun" "${extra[@]}" "$@" || rc=$?
    return "$rc"
}

cmd_with() {
    [ $# -ge 2 ] || usage_error "with needs the number of hosts and a command"
    local n=$1 rc=0
    shift
    (cmd_check) || exit $?
    cmd_up "$n"
    trap 'cmd_down' EXIT
    if [ "$1" = run ] || [ "$1" = mpirun ]; then
        shift
        run_child cmd_run "$@" || rc=$?
    else
        run_child "$@" || rc=$?
    fi
    cmd_down
    trap - EXIT
    return "$rc"
}

[ $# -gt 0 ] || usage_error "no command"
command=$1
shift
case $command in
up) cmd_up "$@" ;;
down) cmd_down ;;
run | mpirun) cmd_run "$@" ;;
local) cmd_local "$@" ;;
with) cmd_with "$@" ;;
status) cmd_status ;;
check) cmd_check ;;
-h | --help | help) usage ;;
*) usage_error "unknown command '$command'" ;;
esac
