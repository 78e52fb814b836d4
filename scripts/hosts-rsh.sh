#!/bin/sh
# Open MPI's rsh launcher for the test hosts of hosts.sh (plm_rsh_agent), used
# as ssh would be: hosts-rsh.sh [OPTION]... HOST [COMMAND]...
# Runs COMMAND (its words joined by spaces, run by sh, as ssh does; a shell
# when there is none) on HOST, one of pk-h1, pk-h2, ...: in HOST's network
# namespace, under the host name HOST (a UTS namespace of its own), with a
# clean environment like that of an ssh login. Options before HOST are
# ignored. Exits 255 when HOST is not a test host that is up, like ssh.
while [ $# -gt 0 ]; do
    case $1 in
    -*) shift ;;
    *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    echo "usage: ${0##*/} HOST [COMMAND]..." >&2
    exit 255
fi
host=$1
shift
case $host in
pk-h[1-9] | pk-h[1-9][0-9]) ;;
*)
    echo "${0##*/}: '$host' is not a test host (pk-h1, pk-h2, ...)" >&2
    exit 255
    ;;
esac
if ! ip netns list 2>/dev/null | grep -q "^$host\( \|\$\)"; then
    echo "${0##*/}: host $host is not up (scripts/hosts.sh up N)" >&2
    exit 255
fi
command=${*:-sh}
# shellcheck disable=SC2016 # expanded by the inner sh
exec env -i PATH="${PATH:-/usr/bin:/bin}" HOME="${HOME:-/}" USER="${USER:-$(id -un)}" \
    LOGNAME="${LOGNAME:-$(id -un)}" SHELL="${SHELL:-/bin/sh}" LANG="${LANG:-C.UTF-8}" \
    ip netns exec "$host" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$host" "$command"
