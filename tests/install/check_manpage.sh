#!/bin/sh
# Checks a program's manual page against its --help: the page exists, starts
# with its title, renders without a warning (when man is given), and every
# long option of --help appears in the rendered text.
#   check_manpage.sh PROGRAM PAGE [MAN]
set -eu
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
prog=$1 page=$2 man=${3:-}
name=$(basename "$prog")
upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
[ -s "$page" ] || { echo "no page at $page"; exit 1; }
head -n 1 "$page" | grep -q "^\.TH $upper 1 " || { echo "$page does not start with .TH $upper 1"; exit 1; }
if [ -n "$man" ]; then
    text=$(MANWIDTH=200 "$man" --warnings -l -Tutf8 "$page" 2>"$page.warnings" | sed 's/.\x08//g')
    if [ -s "$page.warnings" ]; then
        echo "man warns about $page:"; cat "$page.warnings"; exit 1
    fi
else
    text=$(cat "$page")
fi
missing=0
for opt in $("$prog" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    if ! printf '%s\n' "$text" | grep -q -- "$opt"; then
        echo "$page lacks $opt"
        missing=1
    fi
done
[ "$missing" = 0 ] && echo "$page: every option of $name --help is there"
exit "$missing"
