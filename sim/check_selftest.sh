#!/bin/sh
# check_selftest.sh — ctest driver for `trial selftest` properties:
#   check_selftest.sh TRIAL same SEED            two runs of SEED print the same trace-hash
#   check_selftest.sh TRIAL differ SEED1 SEED2   two seeds print different trace-hashes
#   check_selftest.sh TRIAL broken SEED BREAK CONTRACT
#                                                --break BREAK fails, naming CONTRACT and SEED
#   check_selftest.sh TRIAL abort SEED           --break assert aborts and the SIGABRT handler
#                                                prints the seed and the reproduction command
set -u
trial=$1
mode=$2
shift 2
hash_of() {
    out=$("$trial" selftest --seed "$1") || { echo "selftest --seed $1 failed" >&2; exit 1; }
    last=$(printf '%s\n' "$out" | tail -n 1)
    case $last in
        "trace-hash "????????????????) printf '%s\n' "${last#trace-hash }" ;;
        *) echo "last line is not a trace-hash: $last" >&2; exit 1 ;;
    esac
}
case $mode in
same)
    a=$(hash_of "$1") || exit 1
    b=$(hash_of "$1") || exit 1
    echo "seed $1: $a / $b"
    [ "$a" = "$b" ] || { echo "same seed, different hashes" >&2; exit 1; }
    ;;
differ)
    a=$(hash_of "$1") || exit 1
    b=$(hash_of "$2") || exit 1
    echo "seed $1: $a, seed $2: $b"
    [ "$a" != "$b" ] || { echo "different seeds, same hash" >&2; exit 1; }
    ;;
broken)
    seed=$1 brk=$2 contract=$3
    if err=$("$trial" selftest --seed "$seed" --break "$brk" 2>&1 >/dev/null); then
        echo "--break $brk passed: the contract check is blind" >&2
        exit 1
    fi
    echo "$err"
    printf '%s\n' "$err" | grep -q "CONTRACT BROKEN: $contract:" || { echo "wrong contract" >&2; exit 1; }
    printf '%s\n' "$err" | grep -q -- "--seed $seed" || { echo "no reproduction line" >&2; exit 1; }
    ;;
abort)
    seed=$1
    if err=$("$trial" selftest --seed "$seed" --break assert 2>&1 >/dev/null); then
        echo "--break assert did not abort" >&2
        exit 1
    fi
    echo "$err"
    printf '%s\n' "$err" | grep -q "ASSERT failed" || { echo "no ASSERT message" >&2; exit 1; }
    printf '%s\n' "$err" | grep -q "seed $seed" || { echo "no seed" >&2; exit 1; }
    printf '%s\n' "$err" | grep -q "reproduce with: trial selftest --seed $seed --break assert" ||
        { echo "no reproduction command" >&2; exit 1; }
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
