#!/bin/sh
# check_run.sh — ctest driver for `trial run` (sim/CMakeLists.txt).
#   same TRIAL FILE EXIT [args...]   run twice: both exit EXIT, the same trace hash, and
#                                    the last line is `trace-hash <hex>`
#   exit TRIAL FILE EXIT [args...]   run once: exit EXIT, last line starts `trace-hash`
#   replay TRIAL FILE DIR [args...]  run with --report-dir DIR (must write a report), then
#                                    `trial replay DIR` must reproduce the same hash
set -u
mode=$1 trial=$2 file=$3 arg=$4
shift 4
tmp=${TMPDIR:-/tmp}/trial-check-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
run() { # out-file args...
    out=$1; shift
    "$trial" run "$file" --report-dir "$tmp/report" "$@" >"$out" 2>"$out.err"
    echo $?
}
fail() { echo "FAIL: $*"; cat "$tmp"/*.out 2>/dev/null | tail -20; exit 1; }
case $mode in
same)
    a=$(run "$tmp/a.out" "$@"); b=$(run "$tmp/b.out" "$@")
    [ "$a" = "$arg" ] || fail "first run exited $a, expected $arg"
    [ "$b" = "$arg" ] || fail "second run exited $b, expected $arg"
    ha=$(tail -n 1 "$tmp/a.out"); hb=$(tail -n 1 "$tmp/b.out")
    case $ha in "trace-hash "*) ;; *) fail "last line is not a trace hash: $ha" ;; esac
    [ "$ha" = "$hb" ] || fail "hashes differ: $ha vs $hb"
    cat "$tmp/a.out"; echo "same hash twice: $ha" ;;
exit)
    a=$(run "$tmp/a.out" "$@")
    cat "$tmp/a.out"
    [ "$a" = "$arg" ] || fail "exited $a, expected $arg"
    case $(tail -n 1 "$tmp/a.out") in "trace-hash "*) ;; *) fail "no trace-hash last line" ;; esac ;;
replay)
    "$trial" run "$file" --report-dir "$arg" "$@" >"$tmp/a.out" 2>&1
    [ -f "$arg/report.txt" ] && [ -f "$arg/report.json" ] && [ -f "$arg/report.html" ] ||
        fail "no report in $arg"
    "$trial" replay "$arg" >"$tmp/b.out" 2>&1
    grep -q "reproduced" "$tmp/b.out" && ! grep -q "NOT reproduced" "$tmp/b.out" ||
        fail "replay did not reproduce"
    [ "$(tail -n 1 "$tmp/a.out")" = "$(tail -n 1 "$tmp/b.out")" ] || fail "replay hash differs"
    cat "$tmp/b.out" ;;
*) echo "usage: check_run.sh same|exit|replay ..."; exit 2 ;;
esac
