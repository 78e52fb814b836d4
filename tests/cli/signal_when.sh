#!/bin/sh
# signal_when.sh SIG REGEX LIMIT COMMAND [ARG]...
# Runs COMMAND in a session of its own with its stderr in a temporary file,
# sends it SIG (INT or TERM) once that stderr matches REGEX (grep -E), waits for
# it to end, then copies its stderr to ours and exits with its status (128 + the
# signal when it died of one), or with 124 when a live process of its session
# is still there (a rank left behind). A command that ends before REGEX shows is
# not signalled; one still running LIMIT seconds after the start is killed (the
# test then fails on its status, or on the runner's timeout).
sig=$1
when=$2
limit=$3
shift 3
err=$(mktemp) || exit 125
# Started in the background by a shell without job control, the command is no
# process group leader, so setsid makes its session without a fork: $! is the
# command and the session's number.
setsid "$@" 2>"$err" &
pid=$!
# The watchdog holds none of our streams (the runner reads them to their end)
# and takes its sleep with it when stopped.
(
    sleep "$limit" &
    nap=$!
    trap 'kill "$nap"; exit 0' TERM
    wait "$nap" && kill -KILL "$pid"
) </dev/null >/dev/null 2>&1 &
watchdog=$!
# kill -0 also finds a child that ended and is not yet waited for: the grep
# decides, or the watchdog ends the wait.
while kill -0 "$pid" 2>/dev/null && ! grep -Eq -- "$when" "$err"; do
    sleep 0.1
done
kill -"$sig" "$pid" 2>/dev/null
wait "$pid"
status=$?
kill "$watchdog" 2>/dev/null
cat "$err" >&2
rm -f "$err"
# Zombies are dead: only their reaping (by whoever inherited them) is pending.
left=$(ps -e -o sid=,stat=,pid=,args= | awk -v s="$pid" '$1 == s && $2 !~ /^Z/')
if [ -n "$left" ]; then
    printf 'signal_when.sh: left behind:\n%s\n' "$left" >&2
    exit 124
fi
exit "$status"
