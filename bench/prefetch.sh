#!/bin/bash
# bench/prefetch.sh -- how many client queries wait for an upstream with
# prefetch off, `prefetch = true` (refresh on a hit in the last tenth of
# the TTL, unbound's rule) and `prefetch_popular = N` (with prefetch), and
# how many upstream queries each costs.
#
#   bench/prefetch.sh [STUBRESD]     default bench/build-release/stubresd
#
# A Zipf trace (exponent 1, NAMES names, RATE queries a second, the same
# for every run) from bench/prefetch_lib.py replay, against a fake upstream
# (prefetch_lib.py upstream) that answers any nINDEX.bench.test A with a
# TTL of 5..300 s given by the name. Each setting gets a fresh stubresd and
# upstream: WARM seconds of the trace to fill the cache, then RUN seconds
# measured: waited = cache misses / queries (stubresd's stats: a miss is
# a query that waited for an upstream, coalesced ones included), upstream
# = upstream queries stubresd started during RUN (misses, prefetches and
# popular refreshes). Environment: NAMES (20000),
# RATE (200), WARM (60), RUN (120), POPULAR (N, 2000), PREFETCH_RATE (50).
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
STUBRESD=${1:-$BENCH_DIR/build-release/stubresd}
[ -x "$STUBRESD" ] || { echo "prefetch.sh: no $STUBRESD (build bench/build-release first)" >&2; exit 1; }
STUBRESD=$(cd "$(dirname "$STUBRESD")" && pwd)/$(basename "$STUBRESD")
STUBRESCTL=$(dirname "$STUBRESD")/stubresctl
[ -x "$STUBRESCTL" ] || STUBRESCTL=$TOP/build/stubresctl
NAMES=${NAMES:-20000}
RATE=${RATE:-200}
WARM=${WARM:-60}
RUN=${RUN:-120}
POPULAR=${POPULAR:-2000}
PREFETCH_RATE=${PREFETCH_RATE:-50}

IT_TIMEOUT=$((3 * (WARM + RUN + 60)))
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=30
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
LIB=$BENCH_DIR/prefetch_lib.py

# jnum FILE KEY...: a number of a stats JSON file.
jnum() { json_get "$@"; }

# one LABEL CONFIG-LINE...: a run; prints a table row.
one() {
    local label=$1 up sp
    shift
    up=$(free_port)
    start_bg "up-$label" "$PY" "$LIB" upstream "$up" "$T/up-$label.json"
    wait_udp 127.0.0.1 "$up" "up-$label"
    sp=$(free_port)
    {
        echo "listen = 127.0.0.1:$sp"
        echo "control = $T/$label.sock"
        echo "state_file = $T/$label.state"
        echo "resolv_conf = $T/resolv.conf"
        echo "log_level = warning"
        echo "servers = udp://127.0.0.1:$up"
        echo "cache_size = 64M"
        printf '%s\n' "$@"
    } >"$T/$label.conf"
    start_bg "sr-$label" "$STUBRESD" -f -c "$T/$label.conf"
    wait_udp 127.0.0.1 "$sp" "sr-$label"
    "$PY" "$LIB" replay "$sp" "$WARM" "$RATE" "$NAMES" 1 "$T/warm-$label.json"
    "$STUBRESCTL" -s "$T/$label.sock" --json stats >"$T/s0-$label.json"
    "$PY" "$LIB" replay "$sp" "$RUN" "$RATE" "$NAMES" 2 "$T/run-$label.json"
    "$STUBRESCTL" -s "$T/$label.sock" --json stats >"$T/s1-$label.json"
    stop_bg "sr-$label"
    stop_bg "up-$label"
    local q m u pp pr an
    q=$(($(jnum "$T/s1-$label.json" queries total) - $(jnum "$T/s0-$label.json" queries total)))
    m=$(($(jnum "$T/s1-$label.json" cache misses) - $(jnum "$T/s0-$label.json" cache misses)))
    u=$(($(jnum "$T/s1-$label.json" upstream_queries) - $(jnum "$T/s0-$label.json" upstream_queries)))
    pp=$(($(jnum "$T/s1-$label.json" cache prefetches) - $(jnum "$T/s0-$label.json" cache prefetches)))
    pr=$(($(jnum "$T/s1-$label.json" cache popular_prefetches) - $(jnum "$T/s0-$label.json" cache popular_prefetches)))
    an=$(jnum "$T/run-$label.json" answered)
    echo "$label $q $m $u $pp $pr $an" >>"$T/rows"
}

echo "nameserver 127.0.0.1" >"$T/resolv.conf"
: >"$T/rows"
one off "prefetch = false"
one prefetch "prefetch = true"
one popular "prefetch = true" "prefetch_popular = $POPULAR" "prefetch_rate = $PREFETCH_RATE"

echo "trace: Zipf s=1 over $NAMES names, $RATE queries/s, TTLs 5..300 s by name; $WARM s warm-up, $RUN s measured; prefetch_popular = $POPULAR, prefetch_rate = $PREFETCH_RATE"
echo
echo "| setting | queries | waited (misses) | waited fraction | vs prefetch | upstream queries | vs prefetch | prefetches | popular refreshes | answered |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
awk '
    { l[NR] = $1; q[NR] = $2; m[NR] = $3; u[NR] = $4; pp[NR] = $5; pr[NR] = $6; an[NR] = $7
      if ($1 == "prefetch") { bw = $3 / $2; bu = $4 } }
    END { for (i = 1; i <= NR; i++)
        printf "| %s | %d | %d | %.4f | %.2fx | %d | %.2fx | %d | %d | %d |\n", l[i], q[i], m[i],
               m[i] / q[i], (m[i] / q[i]) / bw, u[i], u[i] / bu, pp[i], pr[i], an[i] }' "$T/rows"
echo
echo "first asks and asks more than two TTLs after the previous one (no refresh under prefetch_popular's rule can answer them): $("$PY" "$LIB" bound "$WARM" "$RUN" "$RATE" "$NAMES") of the measured queries"
