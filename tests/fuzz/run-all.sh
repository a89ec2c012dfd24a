#!/bin/sh
# CI fuzz step: build the libFuzzer targets in their own build directory
# and run each for SECONDS (default 60) from a copy of its committed
# corpus. Fails when any run leaves a crash, leak, timeout or
# out-of-memory reproducer, or ends badly without one; each reproducer is
# kept and its path printed with the command that replays it.
#
#   tests/fuzz/run-all.sh [SECONDS]
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz at the top of the tree),
# FUZZ_TARGETS (default: all of them), FUZZ_JOBS (targets run at once;
# default the number of CPUs). Needs clang with libFuzzer (Debian 12:
# clang, libclang-rt-14-dev).
set -eu

secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
targets=${FUZZ_TARGETS:-"msg name rdata doh_json transport cache cachefile shcache_value query config control client_query hosts blocklist netlink dohserv"}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

log() { printf 'run-all: %s\n' "$*"; }

case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if [ ! -x "$top/configure" ]; then
    log "autoreconf"
    (cd "$top" && autoreconf -fi)
fi
mkdir -p "$build"
# -nt is not POSIX, but dash and bash have it (quickstart.sh relies on it too).
# shellcheck disable=SC3013
if [ ! -f "$build/Makefile" ] || [ "$top/configure" -nt "$build/Makefile" ]; then
    log "configure $build (CC=clang --enable-fuzzing)"
    (cd "$build" && CC=clang "$top/configure" --enable-fuzzing >configure.out 2>&1) || {
        cat "$build/configure.out"
        exit 1
    }
fi
bins=""
for t in $targets; do
    bins="$bins tests/fuzz/fuzz_$t"
done
log "make$bins"
# shellcheck disable=SC2086
make -C "$build" -j"$jobs" $bins >"$build/fuzz-make.out" 2>&1 || {
    tail -50 "$build/fuzz-make.out"
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/stubresd-run-all.XXXXXX")
keep=$build/fuzz-artifacts
trap 'rm -rf "$work"' EXIT INT TERM
rm -rf "$keep"

# One target: SECONDS from a copy of its corpus; a line of figures, or
# FAIL with the reproducers.
run_one() {
    t=$1
    w=$work/$t
    mkdir -p "$w/corpus" "$w/art"
    cp -R "$here/corpus/$t/." "$w/corpus/"
    dict=""
    [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
    rc=0
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$w/art/" $dict "$w/corpus" >"$w/log" 2>&1 || rc=$?
    if [ -n "$(ls "$w/art")" ] || [ "$rc" -ne 0 ]; then
        mkdir -p "$keep/$t"
        cp "$w/log" "$keep/$t/log"
        echo "FAIL fuzz_$t (exit status $rc; log: $keep/$t/log)"
        grep -E "ERROR|check failed|SUMMARY|Test unit written" "$w/log" | head -8 | sed 's/^/    /'
        for a in "$w/art"/*; do
            [ -e "$a" ] || continue
            cp "$a" "$keep/$t/"
            echo "    reproducer: $keep/$t/$(basename "$a")"
            echo "    replay:     $build/tests/fuzz/fuzz_$t $keep/$t/$(basename "$a")"
        done
        return 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$w/log")
    cov=$(grep -a 'DONE' "$w/log" | tail -1 | sed -n 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/p')
    echo "ok   fuzz_$t: ${secs} s, $runs runs, $rate exec/s, $cov, peak RSS $rss MB"
}

# Targets dealt round-robin to $jobs lanes; each lane runs its share one
# after the other.
log "running each target for $secs s ($jobs at a time)"
lane=0
pids=""
while [ "$lane" -lt "$jobs" ]; do
    (
        i=0
        status=0
        for t in $targets; do
            if [ $((i % jobs)) -eq "$lane" ]; then
                run_one "$t" >"$work/result-$t" || status=1
            fi
            i=$((i + 1))
        done
        exit $status
    ) &
    pids="$pids $!"
    lane=$((lane + 1))
done
failed=0
for pid in $pids; do
    wait "$pid" || failed=1
done
for t in $targets; do
    cat "$work/result-$t" 2>/dev/null || { echo "FAIL fuzz_$t: no result"; failed=1; }
done
if [ "$failed" -ne 0 ]; then
    log "FAILED: reproducers are in $keep (add each, minimised, to tests/fuzz/corpus/<target>/ as regress-*)"
    exit 1
fi
log "all targets ran $secs s without a finding"
