#!/bin/sh
# under_valgrind.sh VALGRIND KIND WANT PROG [ARGS...]: runs PROG under
# valgrind's memcheck (any error it reports makes the exit status 3) and wants
# exit 0 and a line matching the extended regex WANT in what it printed; KIND
# "program" also wants the line "Validation: PASSED" (the program checked its
# own result), KIND "gtest" nothing more. Prints everything when something is
# wrong, and what the program printed otherwise.
vg=$1 kind=$2 want=$3
shift 3
out=$("$vg" --error-exitcode=3 -q "$@" 2>&1)
rc=$?
fail() {
    echo "under_valgrind: $1"
    echo "command: $vg --error-exitcode=3 -q $*"
    echo "---- output"
    echo "$out"
    exit 1
}
[ "$rc" -eq 0 ] || fail "exit status $rc (3: valgrind found errors)"
[ "$kind" != program ] || echo "$out" | grep -q '^Validation: PASSED' || fail "no 'Validation: PASSED'"
echo "$out" | grep -Eq -- "$want" || fail "no line matches '$want'"
echo "$out"
