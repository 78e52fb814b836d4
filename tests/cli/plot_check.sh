#!/bin/sh
# --plot: a program run with a sweep writes an SVG picture of it: well-formed
# enough to open (the XML header, the svg element closed), three panels, one
# point per row in each, the ideal lines, the command line in its title; and
# nothing but the picture is left in the folder.
#   plot_check.sh ROWS DIR LAUNCH... -- PROGRAM ARGS...   (--plot DIR/p.svg added)
set -eu
rows=$1 dir=$2
shift 2
rm -rf "$dir" && mkdir -p "$dir"
"$@" --plot "$dir/p.svg" >"$dir.out" 2>&1 || { echo "the run failed:"; cat "$dir.out"; exit 1; }
svg="$dir/p.svg"
fail() { echo "$svg: $*"; exit 1; }
[ -s "$svg" ] || fail "missing or empty"
head -n 1 "$svg" | grep -q '^<?xml' || fail "no XML header"
tail -n 1 "$svg" | grep -q '^</svg>$' || fail "not closed"
[ "$(grep -c 'class="panel"' "$svg")" = 3 ] || fail "not three panels"
[ "$(grep -c '<circle' "$svg")" = $((3 * rows)) ] || fail "not $rows points per panel"
[ "$(grep -c 'class="ideal"' "$svg")" = 2 ] || fail "no ideal lines"
name=$(basename "$(for a in "$@"; do case "$a" in */bin/*) echo "$a";; esac; done | tail -n 1)")
grep -q ">$name " "$svg" || fail "the title does not name $name"
[ "$(ls -A "$dir")" = "p.svg" ] || fail "other files left: $(ls -A "$dir")"
echo "$svg: $rows rows in three panels"
