#!/bin/bash
# bench/redis.sh -- shared_cache: stubresd instances sharing one
# redis-server, all on loopback, nsd as the upstream:
#
#   bench/redis.sh [-n NAMES] [STUBRESD]
#
# 1. Latency (one query at a time, a Python client timing each; p50 and
#    p90 in microseconds): a local hit; a Redis hit (names a asked, asked
#    of b: the answer comes from Redis); a plain miss (an instance without
#    shared_cache); a Redis miss (names nobody asked: GET, nil, upstream).
#    The added latencies are the differences of the p50s.
# 2. N = 1, 2, 4 instances replaying the same NAMES names at once, Redis
#    emptied first: upstream queries of all instances together; once in
#    the same order (lockstep, the worst case: every instance may miss a
#    name within one upstream round trip of another) and once each in its
#    own order (a shuffle seeded by the instance, as a fleet's clients
#    would ask).
# 3. Redis killed under load: a client sending 200 queries a second of
#    names asked before and new ones for 6 s; redis-server killed at 2 s
#    and started again at 3 s: queries without an answer or with
#    SERVFAIL, and the time from the restart until stats says connected.
# 4. Bytes per entry in Redis: used_memory (INFO memory) growth over the
#    keys stored, and MEMORY USAGE of one key.
# Ports from free_port, programs stopped by PID.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
N=2000
while [ $# -gt 0 ]; do
    case $1 in
        -n) N=$2; shift 2 ;;
        *) break ;;
    esac
done
STUBRESD=${1:-$TOP/build/stubresd}
STUBRESD=$(cd "$(dirname "$STUBRESD")" && pwd)/$(basename "$STUBRESD")
[ -x "$STUBRESD" ] || { echo "redis.sh: no $STUBRESD" >&2; exit 1; }

IT_TIMEOUT=900
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=30
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
LIB=$BENCH_DIR/compare_lib.py
CTL=$(dirname "$STUBRESD")/stubresctl

start_bench_nsd $((N * 4))
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
RP=$(free_port)
start_bg redis redis-server --save '' --appendonly no --port "$RP" --bind 127.0.0.1 --dir "$T"
for _ in $(seq 1 100); do
    [ "$(redis-cli -p "$RP" PING 2>/dev/null)" = PONG ] && break
    sleep 0.1
done
rcli() { redis-cli -p "$RP" "$@"; }

# sr NAME [LINE...]: a stubresd forwarding to nsd; its port in PORT_NAME.
sr() {
    local name=$1 port
    shift
    port=$(free_port)
    cat >"$T/$name.conf" <<EOC
listen = 127.0.0.1:$port
control = $T/$name.sock
state_file = $T/$name.state
resolv_conf = $T/resolv.conf
servers = udp://127.0.0.1:$np
log_level = notice
EOC
    printf '%s\n' "$@" >>"$T/$name.conf"
    start_bg "$name" "$STUBRESD" -f -c "$T/$name.conf"
    wait_udp 127.0.0.1 "$port" "$name"
    eval "PORT_$name=$port"
}
stat() { # NAME KEY...
    local name=$1
    shift
    "$CTL" -s "$T/$name.sock" --json stats >"$T/stats.json"
    json_get "$T/stats.json" "$@"
}
wait_connected() {
    for _ in $(seq 1 200); do
        [ "$(stat "$1" shared_cache connected)" = true ] && return 0
        sleep 0.05
    done
    fail "$1 never connected to Redis"
}
# names FROM COUNT: a file of names n<FROM>.. (bench.test, A).
names() { "$PY" "$LIB" names "$T/n$1.txt" bench.test "$1" "$2"; echo "$T/n$1.txt"; }

# lat PORT FILE: one query at a time for each name of FILE: "p50 p90" (µs).
lat() {
    "$PY" - "$1" "$2" <<'PYEOF'
import socket, struct, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
names = [l.split()[0] for l in open(path) if l.strip()]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("127.0.0.1", port))
ts = []
for i, n in enumerate(names):
    q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in n.rstrip(".").split(".")) + b"\0"
    q += struct.pack(">HH", 1, 1)
    t0 = time.perf_counter_ns()
    s.send(q)
    r = s.recv(4096)
    ts.append((time.perf_counter_ns() - t0) / 1000)
ts.sort()
print("%.0f %.0f" % (ts[len(ts) // 2], ts[len(ts) * 9 // 10]))
PYEOF
}

echo "# shared_cache bench: $N names, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "# redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), stubresd $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')"

# --- 1. latency -------------------------------------------------------------
sr a "shared_cache = redis://127.0.0.1:$RP"
sr b "shared_cache = redis://127.0.0.1:$RP"
sr plain
wait_connected a
wait_connected b
f1=$(names 0 "$N")
lat "$PORT_a" "$f1" >/dev/null # a: misses, stored in Redis
sleep 1
keys=$(rcli DBSIZE)
read -r lh lh90 <<<"$(lat "$PORT_a" "$f1")"   # a again: local hits
read -r rh rh90 <<<"$(lat "$PORT_b" "$f1")"   # b: Redis hits
f2=$(names "$N" "$N")
read -r pm pm90 <<<"$(lat "$PORT_plain" "$f2")" # plain: misses
f3=$(names $((2 * N)) "$N")
read -r rm rm90 <<<"$(lat "$PORT_b" "$f3")"   # b: Redis misses
echo
echo "| path | p50 µs | p90 µs |"
echo "| --- | ---: | ---: |"
echo "| local hit (a) | $lh | $lh90 |"
echo "| Redis hit (b, asked of a before) | $rh | $rh90 |"
echo "| plain miss (no shared_cache) | $pm | $pm90 |"
echo "| Redis miss (b, nobody asked) | $rm | $rm90 |"
echo
echo "added p50: Redis hit over local hit $((rh - lh)) µs; Redis miss over plain miss $((rm - pm)) µs"
echo "b: shared_cache hits $(stat b shared_cache hits), misses $(stat b shared_cache misses), timeouts $(stat b shared_cache timeouts), errors $(stat b shared_cache errors)"

# --- 4. bytes per entry -------------------------------------------------------
used_before=$(rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
rcli FLUSHALL >/dev/null
used_empty=$(rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
echo
echo "Redis: $keys keys after $N names asked of a: used_memory $used_before B, $used_empty B empty:" \
    "$(((used_before - used_empty) / keys)) B per entry"
lat "$PORT_a" "$(names $((3 * N)) 1)" >/dev/null
sleep 0.5
k=$(rcli --scan --pattern 'stubres:*' | head -1)
echo "MEMORY USAGE $k: $(rcli MEMORY USAGE "$k") B (value $(rcli STRLEN "$k") B)"
stop_bg plain

# --- 2. N instances, the same names ---------------------------------------------
echo
echo "| instances | order | upstream queries, all together | per name |"
echo "| ---: | --- | ---: | ---: |"
for run in "1 same" "2 same" "4 same" "2 own" "4 own"; do
    read -r inst order <<<"$run"
    rcli FLUSHALL >/dev/null
    for i in $(seq 1 "$inst"); do
        sr "r$inst$i" "shared_cache = redis://127.0.0.1:$RP"
        wait_connected "r$inst$i"
    done
    f=$(names $((3 * N + 10)) "$N")
    for i in $(seq 1 "$inst"); do
        if [ "$order" = own ]; then
            shuf --random-source=<(yes "$i") "$f" >"$f.$i"
        else
            cp "$f" "$f.$i"
        fi
    done
    base=0
    for i in $(seq 1 "$inst"); do base=$((base + $(stat "r$inst$i" upstream_queries))); done
    pids=()
    for i in $(seq 1 "$inst"); do
        port_var=PORT_r$inst$i
        lat "${!port_var}" "$f.$i" >/dev/null &
        pids+=($!)
    done
    wait "${pids[@]}"
    total=0
    for i in $(seq 1 "$inst"); do total=$((total + $(stat "r$inst$i" upstream_queries))); done
    total=$((total - base))
    echo "| $inst | $order | $total | $(awk "BEGIN { printf \"%.2f\", $total / $N }") |"
    for i in $(seq 1 "$inst"); do stop_bg "r$inst$i"; done
done

# --- 3. Redis killed under load --------------------------------------------------
f4=$(names $((3 * N + 20)) 1200)
"$PY" - "$PORT_a" "$f1" "$f4" >"$T/load.out" <<'PYEOF' &
import socket, struct, sys, time
port = int(sys.argv[1])
old = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
new = [l.split()[0] for l in open(sys.argv[3]) if l.strip()]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("127.0.0.1", port))
sent = failed = servfail = 0
t_end = time.time() + 6
i = 0
while time.time() < t_end:
    n = (new[i // 2 % len(new)] if i % 2 else old[i // 2 % len(old)])
    q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in n.rstrip(".").split(".")) + b"\0"
    q += struct.pack(">HH", 1, 1)
    sent += 1
    s.send(q)
    try:
        while True:
            r = s.recv(4096)
            if struct.unpack(">H", r[:2])[0] == i & 0xFFFF:
                break
        if r[3] & 0xF == 2:
            servfail += 1
    except socket.timeout:
        failed += 1
    i += 1
    time.sleep(0.005)
print(sent, failed, servfail)
PYEOF
load=$!
sleep 2
stop_bg redis
sleep 1
start_bg redis2 redis-server --save '' --appendonly no --port "$RP" --bind 127.0.0.1 --dir "$T"
t0=$(date +%s%N)
while [ "$(stat a shared_cache connected)" != true ]; do
    sleep 0.02
    [ $(($(date +%s%N) - t0)) -lt 30000000000 ] || break
done
t1=$(date +%s%N)
wait "$load"
read -r sent failed servfail <"$T/load.out"
echo
echo "Redis killed under load: $sent queries, $failed unanswered, $servfail SERVFAIL;" \
    "reconnected $(((t1 - t0) / 1000000)) ms after redis-server was started again" \
    "(errors $(stat a shared_cache errors), timeouts $(stat a shared_cache timeouts))"
