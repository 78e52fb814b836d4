#!/bin/sh
# Writes a program's manual page (troff, section 1) from its --help and
# --version, so that the page says what the program says. The build runs it for
# each program (apps/CMakeLists.txt); `cmake --install` installs the pages.
#
#   scripts/manpage.sh PROGRAM OUTPUT
#
# --help's layout: "Usage: NAME ARGS", the summary up to a blank line, then
# sections headed "Title:" on a line of their own, option lines ("  -x, --long
# ARG   text", continued by deeper-indented lines), example lines indented by two
# spaces under "Examples:", and paragraphs.
set -eu
prog=$1 out=$2
name=$(basename "$prog")
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# Programs built with MPI must not try to reach a launcher from here; a
# sanitizer build's leak check has nothing to say about printing the help.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
help=$(env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK "$prog" --help) || {
    echo "manpage.sh: $prog --help failed" >&2
    exit 1
}
version=$("$prog" --version | awk '{ print $NF; exit }')

printf '%s\n' "$help" | awk -v name="$name" -v version="$version" '
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.'"'"']/) s = "\\&" s
    return s
}
function flush_para() { if (para != "") { print ".PP"; print para; para = "" } }
function end_pre() { if (pre) { print ".fi"; print ".RE"; pre = 0 } }
BEGIN {
    print ".TH " toupper(name) " 1 \"\" \"parkit " version "\" \"User Commands\""
    state = "usage"
}
state == "usage" {
    sub(/^Usage: */, "")
    synopsis = $0
    state = "summary"
    next
}
state == "summary" {
    if ($0 == "") {
        print ".SH NAME"
        s = summary
        sub(/\. .*/, "", s); sub(/\.$/, "", s)
        print esc(name) " \\- " esc(s)
        print ".SH SYNOPSIS"
        n = split(synopsis, w, " ")
        line = "\\fB" esc(w[1]) "\\fR"
        for (i = 2; i <= n; i++) line = line " " esc(w[i])
        print line
        print ".SH DESCRIPTION"
        print esc(summary)
        state = "body"
        next
    }
    summary = summary == "" ? $0 : summary " " $0
    next
}
# a section title on a line of its own
/^[A-Z][A-Za-z ,()]*:$/ {
    flush_para(); end_pre()
    t = $0; sub(/:$/, "", t)
    print ".SH " esc(toupper(t))
    examples = (t ~ /^Examples/)
    next
}
# an option: two or six spaces before a dash (deeper: its text continued)
/^(  |      )-/ {
    flush_para(); end_pre()
    line = $0; sub(/^ +/, "", line)
    spec = line; text = ""
    if (match(line, /  +/)) { spec = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH) }
    print ".TP"
    # the option names bold, their argument as given
    n = split(spec, w, " ")
    out = ""
    for (i = 1; i <= n; i++) {
        word = w[i]
        if (word ~ /^-/) { c = ""; if (word ~ /,$/) { c = ","; sub(/,$/, "", word) } ; word = "\\fB" esc(word) "\\fR" c }
        else word = "\\fI" esc(word) "\\fR"
        out = out (i > 1 ? " " : "") word
    }
    print out
    if (text != "") print esc(text)
    inopt = 1
    next
}
# an option text continued
inopt && /^        +[^ ]/ { line = $0; sub(/^ +/, "", line); print esc(line); next }
# an example
examples && /^  [^ ]/ {
    flush_para()
    if (!pre) { print ".RS"; print ".nf"; pre = 1 }
    line = $0; sub(/^  /, "", line); print esc(line)
    next
}
/^$/ { inopt = 0; flush_para(); end_pre(); examples = 0; next }
{
    inopt = 0; end_pre()
    para = para == "" ? esc($0) : para "\n" esc($0)
}
END {
    flush_para(); end_pre()
    print ".SH SEE ALSO"
    print "The parkit README and docs/DESIGN.md; \\fBmpirun\\fR(1)."
}' >"$tmp"
mv "$tmp" "$out"
trap - EXIT
