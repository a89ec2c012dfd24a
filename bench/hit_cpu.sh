#!/bin/bash
# bench/hit_cpu.sh -- server CPU per cache hit at full rate, for A/B tests of
# stubresd builds against each other and the floor (bench/floor.c), the
# measurement of compare.sh's "hit" scenario without the other peers.
#
#   bench/hit_cpu.sh [-l SECONDS] [-r REPS] NAME=STUBRESD [NAME=STUBRESD...]
#
# nsd serves 1000 names; each stubresd (cache on, 1 thread) and the floor
# run pinned to CPU 0, dnsperf (-c 2 -q 100) to CPU 1; warm, then REPS
# rounds (default 3) of SECONDS (default 10) each, the order rotated every
# round. Prints per round and the median: CPU µs per answered query
# (utime+stime from /proc/PID/stat) and its ratio to the floor's in the
# same round. EXTRA_CONF adds config lines to every stubresd, CONF_NAME
# to the one called NAME (bench/block.sh: with a block list and without). With
# SYSCALLS=1, `perf stat -e raw_syscalls:sys_enter,context-switches` counts
# the server's system calls and wake-ups per query too (the tracepoint
# costs a little CPU per call, for every server alike).
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
SECS=10
REPS=3
while [ $# -gt 0 ]; do
    case $1 in
        -l) SECS=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

IT_TIMEOUT=$((60 + (SECS + 3) * REPS * ($# + 1) + 20 * ($# + 1)))
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=60
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
LIB=$BENCH_DIR/compare_lib.py
PIN0="taskset -c 0"
PIN1="taskset -c 1"
FLOOR=$BENCH_DIR/build-release/bench/floor
if [ ! -x "$FLOOR" ]; then
    mkdir -p "$(dirname "$FLOOR")"
    gcc -O2 -o "$FLOOR" "$BENCH_DIR/floor.c"
fi

start_bench_nsd 1000
echo "nameserver 127.0.0.1" >"$T/resolv.conf"

declare -A PORT
NAMES="floor"
p=$(free_port)
start_bg floor $PIN0 "$FLOOR" 127.0.0.1 "$p"
PORT[floor]=$p
wait_udp 127.0.0.1 "$p" floor
for arg in "$@"; do
    n=${arg%%=*}
    bin=${arg#*=}
    p=$(free_port)
    {
        echo "listen = 127.0.0.1:$p"
        echo "control = $T/$n.sock"
        echo "state_file = $T/$n.state"
        echo "resolv_conf = $T/resolv.conf"
        echo "log_level = warning"
        echo "servers = udp://127.0.0.1:$np"
        echo "cache_size = 256M"
        printf '%s\n' "${EXTRA_CONF:-}"
        v=CONF_$n
        printf '%s\n' "${!v:-}"
    } >"$T/$n.conf"
    # shellcheck disable=SC2086
    start_bg "$n" $PIN0 "$bin" -f -c "$T/$n.conf"
    PORT[$n]=$p
    wait_udp 127.0.0.1 "$p" "$n"
    NAMES="$NAMES $n"
done
for n in $NAMES; do
    timeout 60 $PIN1 dnsperf -s 127.0.0.1 -p "${PORT[$n]}" -d "$T/q.txt" -n 1 -q 20 >/dev/null 2>&1 || true
done

declare -A CPU
read -ra ALL <<<"$NAMES"
k=${#ALL[@]}
for rep in $(seq 1 "$REPS"); do
    line="round $rep (load $(cut -d' ' -f1 /proc/loadavg)):"
    for ((i = 0; i < k; i++)); do
        n=${ALL[$(((i + rep) % k))]}
        pid=$(pid_of "$n")
        c0=$(ticks "$pid")
        pp=""
        if [ -n "${SYSCALLS:-}" ]; then
            perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pid" -o "$T/ps.out" &
            pp=$!
        fi
        timeout $((SECS + 20)) $PIN1 dnsperf -s 127.0.0.1 -p "${PORT[$n]}" -d "$T/q.txt" \
            -l "$SECS" -c 2 -q 100 -t 2 >"$T/dp.out" 2>&1 || true
        c1=$(ticks "$pid")
        sc=""
        if [ -n "$pp" ]; then
            kill -INT "$pp" 2>/dev/null || true
            wait "$pp" 2>/dev/null || true
        fi
        q=$(awk '/Queries completed:/ { print $3 }' "$T/dp.out")
        qps=$(awk '/Queries per second:/ { printf "%d", $4 }' "$T/dp.out")
        us=$(awk -v t=$((c1 - c0)) -v q="${q:-0}" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { if (q > 0) printf "%.3f", t * 1000000 / hz / q; else print "nan" }')
        CPU[$n,$rep]=$us
        if [ -n "$pp" ]; then
            sc=$(awk -F, -v q="${q:-0}" '$3 == "raw_syscalls:sys_enter" { s = $1 } $3 == "context-switches" { c = $1 }
                END { if (q > 0) printf " %.2fsys/q %.3fcs/q", s / q, c / q }' "$T/ps.out")
        fi
        line="$line $n ${us}µs/${qps}qps$sc"
    done
    echo "$line"
done
echo "median CPU µs per hit (ratio to the floor, per round then median):"
for n in $NAMES; do
    vals=""
    ratios=""
    for rep in $(seq 1 "$REPS"); do
        vals="$vals ${CPU[$n,$rep]}"
        ratios="$ratios $(awk -v a="${CPU[$n,$rep]}" -v b="${CPU[floor,$rep]}" 'BEGIN { printf "%.3f", a / b }')"
    done
    med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    printf '  %-12s %s µs  x%s floor   (rounds:%s)\n' "$n" "$(echo "$vals" | med)" "$(echo "$ratios" | med)" "$ratios"
done
