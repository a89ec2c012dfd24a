#!/bin/bash
# bench/block.sh -- a block list of N names (default 1,000,000) in
# stubresd, dnsmasq and unbound, in the same run:
#
#   bench/block.sh [-n NAMES] [-l SECONDS] [-r REPS] [STUBRESD]
#
# The list is generated (hosts format, "0.0.0.0 NAME", names of 2-4 labels,
# 24 characters on average) and given to each server in its own form:
# stubresd `block = FILE`, dnsmasq `address=/NAME/0.0.0.0` lines (a
# conf-file), unbound `local-zone: "NAME." always_null`. For each server,
# started once without the list and once with it, each forwarding to nsd
# on loopback: the time from exec to the first answer of a listed name
# (the list's last one) as blocked, and VmRSS after it, against the same
# server without the list (growth, and bytes per name), and the CPU time
# the server had used by then (on a shared machine the wall time is
# mostly waiting for a core). Then the cost of a cache hit of stubresd with
# the list loaded and without it: CPU per hit at full rate
# (bench/hit_cpu.sh, CONF_list), and callgrind instructions per hit
# (bench/hit_ir.sh; with the first IR_NAMES names of the list, default
# 100,000, as loading a million names under callgrind outlasts its
# start-up wait: the instructions of a lookup do not depend on the list's
# size). Everything on loopback, ports from free_port, programs stopped by
# PID. STUBRESD defaults to build/stubresd.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
N=1000000
SECS=8
REPS=3
while [ $# -gt 0 ]; do
    case $1 in
        -n) N=$2; shift 2 ;;
        -l) SECS=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        *) break ;;
    esac
done
STUBRESD=${1:-$TOP/build/stubresd}
STUBRESD=$(cd "$(dirname "$STUBRESD")" && pwd)/$(basename "$STUBRESD")
[ -x "$STUBRESD" ] || { echo "block.sh: no $STUBRESD" >&2; exit 1; }

IT_TIMEOUT=1800
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=60
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
LIB=$BENCH_DIR/compare_lib.py
# How long a server may take to answer its first blocked query.
READY_MAX=300

start_bench_nsd 1000
echo "nameserver 127.0.0.1" >"$T/resolv.conf"

"$PY" - "$N" "$T" <<'PYEOF'
import hashlib, sys
n, t = int(sys.argv[1]), sys.argv[2]
tlds = ["com", "net", "org", "io", "info", "xyz", "de", "co.uk"]
with open(t + "/list.hosts", "w") as h, open(t + "/dnsmasq.list", "w") as d, \
        open(t + "/unbound.list", "w") as u:
    h.write("# generated block list, hosts format\n127.0.0.1 localhost\n")
    for i in range(n):
        x = hashlib.blake2b(i.to_bytes(8, "little"), digest_size=8).hexdigest()
        name = "%s-ads%d.%s" % (x[: 4 + i % 8], i % 97, tlds[i % len(tlds)])
        if i % 3 == 0:
            name = "px%d.%s" % (i % 13, name)
        h.write("0.0.0.0 %s\n" % name)
        d.write("address=/%s/0.0.0.0\n" % name)
        u.write('local-zone: "%s." always_null\n' % name)
    open(t + "/last", "w").write(name + "\n")
PYEOF
LAST=$(cat "$T/last")
echo "list: $N names, $(stat -c %s "$T/list.hosts") bytes (hosts format); last name $LAST"

now() { date +%s.%N; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# until_blocked NAME PORT: seconds from now until PORT answers $LAST with
# 0.0.0.0 (or "timeout").
until_blocked() {
    local t0=$1 port=$2 i out
    for i in $(seq 1 $((READY_MAX * 20))); do
        out=$(dig +time=1 +tries=1 @127.0.0.1 -p "$port" "$LAST" A +short 2>/dev/null || true)
        if [ "$out" = 0.0.0.0 ]; then
            awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
            return 0
        fi
        sleep 0.05
    done
    echo timeout
}

# until_answer T0 PORT: seconds until PORT answers anything.
until_answer() {
    local t0=$1 port=$2 i
    for i in $(seq 1 $((READY_MAX * 20))); do
        if dig +time=1 +tries=1 @127.0.0.1 -p "$port" host1.bench.test A +short >/dev/null 2>&1; then
            awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
            return 0
        fi
        sleep 0.05
    done
    echo timeout
}

start_server() { # KIND NAME WITHLIST -> sets SPORT, STARTED
    local kind=$1 name=$2 with=$3 p
    p=$(free_port)
    SPORT=$p
    case $kind in
    stubresd)
        {
            echo "listen = 127.0.0.1:$p"
            echo "control = $T/$name.sock"
            echo "state_file = $T/$name.state"
            echo "resolv_conf = $T/resolv.conf"
            echo "log_level = notice"
            echo "servers = udp://127.0.0.1:$np"
            [ "$with" = 1 ] && echo "block = $T/list.hosts"
        } >"$T/$name.conf"
        STARTED=$(now)
        start_bg "$name" "$STUBRESD" -f -c "$T/$name.conf"
        ;;
    dnsmasq)
        : >"$T/$name.extra"
        [ "$with" = 1 ] && cp "$T/dnsmasq.list" "$T/$name.extra"
        STARTED=$(now)
        start_bg "$name" dnsmasq -k -u root -p "$p" --listen-address=127.0.0.1 --bind-interfaces \
            --no-resolv --no-hosts --server="127.0.0.1#$np" --cache-size=10000 \
            --pid-file= -C "$T/$name.extra" --log-facility=-
        ;;
    unbound)
        {
            echo "server:"
            echo "    interface: 127.0.0.1@$p"
            echo "    port: $p"
            echo "    num-threads: 1"
            echo "    username: \"\""
            echo "    chroot: \"\""
            echo "    directory: \"$T\""
            echo "    pidfile: \"\""
            echo "    use-syslog: no"
            echo "    do-not-query-localhost: no"
            echo "    access-control: 127.0.0.0/8 allow"
            [ "$with" = 1 ] && echo "    include: \"$T/unbound.list\""
            echo "forward-zone:"
            echo "    name: \".\""
            echo "    forward-addr: 127.0.0.1@$np"
            echo "remote-control:"
            echo "    control-enable: no"
        } >"$T/$name.conf"
        STARTED=$(now)
        start_bg "$name" unbound -d -c "$T/$name.conf"
        ;;
    esac
}

for kind in stubresd dnsmasq unbound; do
    command -v "$kind" >/dev/null 2>&1 || [ "$kind" = stubresd ] || { echo "$kind: not installed"; continue; }
    start_server "$kind" "$kind-none" 0
    a=$(until_answer "$STARTED" "$SPORT")
    base=$(rss_kb "$(pid_of "$kind-none")")
    stop_bg "$kind-none" >/dev/null 2>&1 || true
    start_server "$kind" "$kind-list" 1
    t=$(until_blocked "$STARTED" "$SPORT")
    rss=$(rss_kb "$(pid_of "$kind-list")")
    cpu=$(awk -v t="$(ticks "$(pid_of "$kind-list")")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
    stop_bg "$kind-list" >/dev/null 2>&1 || true
    growth=$((rss - base))
    bpn=$(awk -v g="$growth" -v n="$N" 'BEGIN { printf "%.1f", g * 1024 / n }')
    printf '%-8s start to first blocked answer %ss wall, %ss CPU (without the list: first answer %ss); VmRSS %d kB without, %d kB with: +%d kB, %s bytes a name\n' \
        "$kind" "$t" "$cpu" "$a" "$base" "$rss" "$growth" "$bpn"
done

echo "CPU per cache hit, stubresd with the list loaded (list) and without (none):"
CONF_list="block = $T/list.hosts" KEEP_T="" "$BENCH_DIR/hit_cpu.sh" -l "$SECS" -r "$REPS" \
    none="$STUBRESD" list="$STUBRESD"
if command -v valgrind >/dev/null 2>&1; then
    head -n $((${IR_NAMES:-100000} + 2)) "$T/list.hosts" >"$T/list-ir.hosts"
    for with in none list; do
        extra=""
        [ "$with" = list ] && extra="block = $T/list-ir.hosts"
        ir=$(EXTRA_CONF="$extra" KEEP_T="" TOP_N=0 "$BENCH_DIR/hit_ir.sh" "$STUBRESD" 1000 2>/dev/null |
            sed -n 's/^Ir per hit: \([0-9.]*\).*/\1/p')
        echo "callgrind instructions per cache hit, $with: $ir"
    done
fi
