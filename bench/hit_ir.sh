#!/bin/bash
# bench/hit_ir.sh -- callgrind instructions per cache hit of stubresd alone,
# the same measurement as compare.sh's "instructions" scenario, in about
# half a minute: for checking one optimisation at a time.
#
#   bench/hit_ir.sh [STUBRESD] [N]     default bench/build-release/stubresd, 1000
#
# nsd (N names) on loopback as the upstream; stubresd under callgrind,
# pinned to CPU 0; the N names asked twice (warm), then callgrind_control
# --zero, `dnsperf -n 1 -q 1` (one query at a time), --dump. Prints Ir per
# hit and the top of callgrind_annotate (self and inclusive). Set
# EXTRA_CONF to add config lines (e.g. "threads = 2"); KEEP_T=1 keeps the
# temp dir with the dump.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
STUBRESD=${1:-$BENCH_DIR/build-release/stubresd}
N=${2:-1000}
[ -x "$STUBRESD" ] || { echo "hit_ir.sh: no $STUBRESD (build bench/build-release first)" >&2; exit 1; }
STUBRESD=$(cd "$(dirname "$STUBRESD")" && pwd)/$(basename "$STUBRESD")

IT_TIMEOUT=300
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=60
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
LIB=$BENCH_DIR/compare_lib.py
PIN0=""
PIN1=""
if [ "$(nproc)" -ge 2 ]; then
    PIN0="taskset -c 0"
    PIN1="taskset -c 1"
fi

start_bench_nsd "$N"

sp=$(free_port)
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
{
    echo "listen = 127.0.0.1:$sp"
    echo "control = $T/sr.sock"
    echo "state_file = $T/sr.state"
    echo "resolv_conf = $T/resolv.conf"
    echo "log_level = warning"
    echo "servers = udp://127.0.0.1:$np"
    echo "cache_size = 256M"
    printf '%s\n' "${EXTRA_CONF:-}"
} >"$T/sr.conf"
mkdir -p "$T/cg"
# shellcheck disable=SC2086
start_bg sr $PIN0 valgrind --tool=callgrind --dump-instr=no \
    --callgrind-out-file="$T/cg/sr.out" "$STUBRESD" -f -c "$T/sr.conf"
wait_udp 127.0.0.1 "$sp" sr
pid=$(pid_of sr)
# shellcheck disable=SC2086
# warm with 20 outstanding: with -q 1 dnsperf waits tens of ms after each
# answer that is not immediate (the misses), past the 120 s cap
timeout 120 $PIN1 dnsperf -s 127.0.0.1 -p "$sp" -d "$T/q.txt" -n 2 -q 20 -t 5 >"$T/warm.out" 2>&1
timeout 30 callgrind_control -z "$pid" >/dev/null
# shellcheck disable=SC2086
timeout 120 $PIN1 dnsperf -s 127.0.0.1 -p "$sp" -d "$T/q.txt" -n 1 -q 1 -t 5 >"$T/run.out" 2>&1
timeout 30 callgrind_control -d "$pid" >/dev/null
dump=""
for _ in $(seq 1 50); do
    dump=$(ls -t "$T/cg/sr.out".* 2>/dev/null | head -1)
    [ -n "$dump" ] && break
    sleep 0.1
done
[ -n "$dump" ] || fail "no callgrind dump"
q=$(awk '/Queries completed:/ { print $3 }' "$T/run.out")
ir=$("$PY" "$LIB" cgtotal "$dump")
echo "Ir per hit: $(awk -v a="$ir" -v b="$q" 'BEGIN { printf "%.1f", a / b }') ($ir Ir, $q queries)"
callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
    sed -n '/file:function/,$p' | grep -E '^ *[0-9,]+ ' |
    awk '{ p = $2; gsub(/[()%]/, "", p); if (p + 0 < 99) print }' | head -${TOP_N:-30}
echo "--- inclusive"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null |
    sed -n '/file:function/,$p' | grep -E '^ *[0-9,]+ ' | head -${TOP_N:-30}
[ -n "${KEEP_T:-}" ] && cp "$dump" "$T/last.cg"
exit 0
