# scripts/common.sh — helpers shared by scripts/run, scripts/test, scripts/coverage,
# scripts/memcheck and scripts/build. Sourced, not run: `source "$(dirname "$0")/common.sh"`.
# Sets TRIAL_ROOT (the repository root, whatever the caller's cwd) and JOBS.

TRIAL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export CTEST_OUTPUT_ON_FAILURE=1

# The build directory of a CMake preset (CMakePresets.json keeps the canonical list).
trial_build_dir() {
    case "$1" in
    default) echo "$TRIAL_ROOT/build" ;;
    release) echo "$TRIAL_ROOT/build-release" ;;
    asan) echo "$TRIAL_ROOT/build-asan" ;;
    coverage) echo "$TRIAL_ROOT/build-cov" ;;
    *) echo "unknown preset $1" >&2; return 2 ;;
    esac
}

# trial_build PRESET [TARGET...]: configure (idempotent) and build; all targets by default.
trial_build() {
    local preset=$1
    shift
    (cd "$TRIAL_ROOT" && cmake --preset "$preset" >/dev/null) || {
        echo "build: configuring preset $preset failed; rerun: cd $TRIAL_ROOT && cmake --preset $preset" >&2
        return 1
    }
    local targets=() native=()
    for t in "$@"; do targets+=(--target "$t"); done
    # With KEEP_GOING=1 a Makefile build continues past a failing target, so the tests of
    # the parts that do compile still run (and the broken part shows up as failed).
    if [[ "${KEEP_GOING:-0}" == 1 ]] &&
        grep -q '^CMAKE_GENERATOR:INTERNAL=Unix Makefiles' "$(trial_build_dir "$preset")/CMakeCache.txt"; then
        native=(-- -k)
    fi
    (cd "$TRIAL_ROOT" && cmake --build --preset "$preset" -j "$JOBS" "${targets[@]}" "${native[@]}")
}

# True if the configured build in DIR defines TARGET (Makefile or Ninja generators).
trial_has_target() {
    local dir=$1 target=$2
    # No `grep -q` on the pipe: it would exit at the first match, and under pipefail the
    # writer's SIGPIPE would turn a found target into "not found".
    local targets
    targets=$(cmake --build "$dir" --target help 2>/dev/null) || return 1
    grep -Eq "(^|[ .:])$target(:| |$)" <<<"$targets"
}

# Prints the path of the `trial` simulator binary in build dir DIR, if it was built.
trial_binary() {
    local dir=$1 c
    for c in "$dir/trial" "$dir/sim/trial" "$dir/bin/trial"; do
        [[ -x "$c" && -f "$c" ]] && { echo "$c"; return 0; }
    done
    c=$(find "$dir" -maxdepth 3 -type f -name trial -perm -u+x 2>/dev/null | sort | head -1)
    [[ -n "$c" ]] && { echo "$c"; return 0; }
    return 1
}
