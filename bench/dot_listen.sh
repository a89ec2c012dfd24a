#!/bin/bash
# bench/dot_listen.sh -- server CPU per cache hit over DNS over TLS: stubresd's
# tls:// listener against unbound's DoT service, same names, same client.
#
#   bench/dot_listen.sh [-l SECONDS] [-r REPS] [STUBRESD]
#
# nsd serves 1000 names; stubresd (cache on, 1 thread, `listen = tls://...`)
# and unbound (1 thread, tls-port, the names stubbed to nsd) run pinned to
# CPU 0 with the same self-signed certificate, dnsperf -m dot (-c 2 -q 100:
# two persistent TLS connections, 100 queries in flight) to CPU 1. Both are
# warmed (every name once), then REPS rounds (default 3) of SECONDS
# (default 10), the order rotated every round. Prints per round and the
# median: CPU µs per answered query (utime+stime from /proc/PID/stat), QPS,
# and stubresd's CPU per query as a ratio of unbound's.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
SECS=10
REPS=3
while [ $# -gt 0 ]; do
    case $1 in
        -l) SECS=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        -h) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
SR_BIN=$(cd "$(dirname "${1:-$TOP/build/stubresd}")" && pwd)/$(basename "${1:-stubresd}")

# shellcheck disable=SC2034 # read by lib.sh
IT_TIMEOUT=$((120 + (SECS + 5) * REPS * 2))
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=60
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
skip_unless nsd unbound dnsperf openssl taskset
# shellcheck disable=SC2034 # read by ab_lib.sh
LIB=$BENCH_DIR/compare_lib.py
PIN0="taskset -c 0"
PIN1="taskset -c 1"

start_bench_nsd 1000
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/key.pem" -out "$T/cert.pem" -days 30 -subj "/CN=bench.test" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1

declare -A PORT
sp=$(free_port)
PORT[stubresd]=$(free_port)
cat >"$T/stubresd.conf" <<EOF
listen = 127.0.0.1:$sp, tls://127.0.0.1:${PORT[stubresd]}
control = $T/stubresd.sock
state_file = $T/stubresd.state
resolv_conf = $T/resolv.conf
log_level = warning
servers = udp://127.0.0.1:$np
cache_size = 256M
tls_cert = $T/cert.pem
tls_key = $T/key.pem
EOF
start_bg stubresd $PIN0 "$SR_BIN" -f -c "$T/stubresd.conf"
wait_tcp 127.0.0.1 "${PORT[stubresd]}" stubresd

up=$(free_port)
PORT[unbound]=$(free_port)
mkdir -p "$T/unbound"
cat >"$T/unbound/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$up
    interface: 127.0.0.1@${PORT[unbound]}
    port: $up
    tls-port: ${PORT[unbound]}
    tls-service-key: "$T/key.pem"
    tls-service-pem: "$T/cert.pem"
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    incoming-num-tcp: 100
    username: ""
    chroot: ""
    directory: "$T/unbound"
    pidfile: "$T/unbound/unbound.pid"
    use-syslog: no
    verbosity: 0
    module-config: "iterator"
    do-not-query-localhost: no
    msg-cache-size: 64m
    rrset-cache-size: 128m
    local-zone: "test." nodefault
remote-control:
    control-enable: no
stub-zone:
    name: "bench.test."
    stub-addr: 127.0.0.1@$np
EOF
start_bg unbound $PIN0 unbound -d -p -c "$T/unbound/unbound.conf"
wait_tcp 127.0.0.1 "${PORT[unbound]}" unbound

NAMES="stubresd unbound"
for n in $NAMES; do
    timeout 120 $PIN1 dnsperf -m dot -s 127.0.0.1 -p "${PORT[$n]}" -d "$T/q.txt" -n 1 -q 20 \
        >"$T/warm.$n" 2>&1 || true
    grep -q 'Queries completed: *1000 ' "$T/warm.$n" ||
        { cat "$T/warm.$n" >&2; fail "$n did not answer the 1000 names over DoT"; }
done

declare -A CPU
read -ra ALL <<<"$NAMES"
k=${#ALL[@]}
echo "dnsperf -m dot -c 2 -q 100 -l $SECS, 1000 cached names; server on CPU 0, client on CPU 1"
for rep in $(seq 1 "$REPS"); do
    line="round $rep (load $(cut -d' ' -f1 /proc/loadavg)):"
    for ((i = 0; i < k; i++)); do
        n=${ALL[$(((i + rep) % k))]}
        pid=$(pid_of "$n")
        c0=$(ticks "$pid")
        timeout $((SECS + 30)) $PIN1 dnsperf -m dot -s 127.0.0.1 -p "${PORT[$n]}" -d "$T/q.txt" \
            -l "$SECS" -c 2 -q 100 -t 5 >"$T/dp.out" 2>&1 || true
        c1=$(ticks "$pid")
        q=$(awk '/Queries completed:/ { print $3 }' "$T/dp.out")
        qps=$(awk '/Queries per second:/ { printf "%d", $4 }' "$T/dp.out")
        us=$(awk -v t=$((c1 - c0)) -v q="${q:-0}" -v hz="$(getconf CLK_TCK)" \
            'BEGIN { if (q > 0) printf "%.3f", t * 1000000 / hz / q; else print "nan" }')
        CPU[$n,$rep]=$us
        line="$line $n ${us}µs/${qps}qps"
    done
    echo "$line"
done
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "median CPU µs per DoT cache hit:"
for n in $NAMES; do
    vals=""
    for rep in $(seq 1 "$REPS"); do
        vals="$vals ${CPU[$n,$rep]}"
    done
    printf '  %-10s %s µs   (rounds:%s)\n' "$n" "$(echo "$vals" | med)" "$vals"
done
ratios=""
for rep in $(seq 1 "$REPS"); do
    ratios="$ratios $(awk -v a="${CPU[stubresd,$rep]}" -v b="${CPU[unbound,$rep]}" 'BEGIN { printf "%.3f", a / b }')"
done
echo "stubresd / unbound CPU per query: x$(echo "$ratios" | med) (rounds:$ratios)"
