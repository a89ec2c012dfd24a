#!/bin/bash
# bench/enc_ab.sh -- DoT/DoH forwarding of stubresd builds against dnsperf's
# own DoT/DoH to the same upstream, the measurement of compare.sh's
# "encrypted" scenario without the rest, for A/B runs.
#
#   bench/enc_ab.sh [-l SECONDS] [-r REPS] [-p dot,doh] NAME=STUBRESD [NAME=STUBRESD...]
#   (-p may also name tcp and udp: the same with plain upstreams)
#
# unbound (1 thread, not pinned, warm cache, 1000 names from nsd) serves
# DoT and DoH (HTTP/2) with the test CA; each stubresd (cache_size = 0,
# pinned to CPU 0) forwards to it, dnsperf (-c 2 -q 100, CPU 1) asks over
# UDP; dnsperf -m dot / -m doh (POST) straight at unbound is the
# reference. Prints QPS, CPU µs per query of stubresd and of unbound, and
# the ratio to dnsperf's own QPS of the same round. EXTRA_CONF adds config
# lines to every stubresd; SYSCALLS=1 adds stubresd's system calls and
# context switches per query (perf stat); PERF=1 writes a perf record of
# each stubresd's first run to $T (with KEEP_T=1 it stays) and prints its
# top; STRACE=1 prints `strace -c` of each stubresd's first run (slows it);
# CG=1 runs each stubresd under callgrind and measures 2000 queries (10
# outstanding) instead of SECONDS, printing the inclusive profile.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
SECS=5
REPS=2
PROTOS="dot doh"
while [ $# -gt 0 ]; do
    case $1 in
        -l) SECS=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        -p) PROTOS=${2//,/ }; shift 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

IT_TIMEOUT=$((90 + (SECS + 4) * REPS * ($# + 1) * 2 + 20 * $#))
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

mkdir -p "$T/up"
start_bench_nsd 1000

_it_need_ca
up=$(free_port)
TLSP=$(free_port)
HTTPSP=$(free_port)
cat >"$T/up/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$up
    interface: 127.0.0.1@$TLSP
    interface: 127.0.0.1@$HTTPSP
    port: $up
    tls-port: $TLSP
    https-port: $HTTPSP
    tls-service-key: "$CERT_DIR/server.key"
    tls-service-pem: "$CERT_DIR/server.pem"
    http-endpoint: "/dns-query"
    http-notls-downstream: no
    incoming-num-tcp: 1000
    do-ip4: yes
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$T/up"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    module-config: "iterator"
    qname-minimisation: no
    do-not-query-localhost: no
    msg-cache-size: 64m
    rrset-cache-size: 64m
    prefetch: no
    local-zone: "test." nodefault
    local-zone: "." refuse
    local-zone: "bench.test." transparent
remote-control:
    control-enable: no
stub-zone:
    name: "bench.test."
    stub-addr: 127.0.0.1@$np
EOF
unbound-checkconf "$T/up/unbound.conf" >/dev/null || fail "unbound-checkconf"
start_bg up unbound -d -p -c "$T/up/unbound.conf"
wait_udp 127.0.0.1 "$up" up
wait_tcp 127.0.0.1 "$TLSP" up
wait_tcp 127.0.0.1 "$HTTPSP" up
timeout 60 $PIN1 dnsperf -s 127.0.0.1 -p "$up" -d "$T/q.txt" -n 1 -q 20 >/dev/null 2>&1 || true
echo "nameserver 127.0.0.1" >"$T/resolv.conf"

declare -A PORT
KINDS=""
for proto in $PROTOS; do
    KINDS="$KINDS dnsperf-$proto"
    for arg in "$@"; do
        n=${arg%%=*}-$proto
        bin=${arg#*=}
        p=$(free_port)
        {
            echo "listen = 127.0.0.1:$p"
            echo "control = $T/$n.sock"
            echo "state_file = $T/$n.state"
            echo "resolv_conf = $T/resolv.conf"
            echo "log_level = warning"
            echo "cache_size = 0"
            echo "ca_file = $CA_FILE"
            if [ "$proto" = dot ]; then
                echo "servers = tls://127.0.0.1:$TLSP#$TLS_NAME"
            elif [ "$proto" = tcp ]; then
                echo "servers = tcp://127.0.0.1:$up"
            elif [ "$proto" = udp ]; then
                echo "servers = udp://127.0.0.1:$up"
            else
                echo "servers = https://127.0.0.1:$HTTPSP/dns-query"
                echo "doh_method = post"
            fi
            printf '%s\n' "${EXTRA_CONF:-}"
        } >"$T/$n.conf"
        vg=""
        [ -n "${CG:-}" ] && vg="valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$T/cg-$n.out"
        # shellcheck disable=SC2086
        start_bg "$n" $PIN0 $vg "$bin" -f -c "$T/$n.conf"
        PORT[$n]=$p
        wait_udp 127.0.0.1 "$p" "$n"
        KINDS="$KINDS $n"
    done
done

declare -A QPS
upid=$(pid_of up)
for rep in $(seq 1 "$REPS"); do
    for proto in $PROTOS; do
        line="round $rep $proto:"
        for kind in $KINDS; do
            case $kind in *-"$proto") ;; *) continue ;; esac
            u0=$(ticks "$upid")
            spid=""
            pp=""
            case $kind in
                dnsperf-dot) args="-m dot -p $TLSP" ;;
                dnsperf-tcp) args="-m tcp -p $up" ;;
                dnsperf-udp) args="-p $up" ;;
                dnsperf-doh) args="-m doh -p $HTTPSP -O doh-uri=https://127.0.0.1:$HTTPSP/dns-query -O doh-method=POST" ;;
                *)
                    args="-p ${PORT[$kind]}"
                    spid=$(pid_of "$kind")
                    s0=$(ticks "$spid")
                    if [ -n "${STRACE:-}" ] && [ "$rep" = 1 ]; then
                        strace -c -f -p "$spid" -o "$T/strace-$kind.txt" 2>/dev/null &
                        pp=$!
                    elif [ -n "${SYSCALLS:-}" ]; then
                        perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$spid" -o "$T/ps.out" &
                        pp=$!
                    elif [ -n "${PERF:-}" ] && [ "$rep" = 1 ]; then
                        perf record -o "$T/perf-$kind.data" -p "$spid" >/dev/null 2>&1 &
                        pp=$!
                    fi
                    ;;
            esac
            if [ -n "${CG:-}" ] && [ -n "$spid" ]; then
                # callgrind: a fixed 2000 queries, 10 outstanding, after
                # 1000 to warm up
                # shellcheck disable=SC2086
                timeout 120 $PIN1 dnsperf -s 127.0.0.1 $args -d "$T/q.txt" -n 1 -q 10 >/dev/null 2>&1 || true
                timeout 30 callgrind_control -z "$spid" >/dev/null 2>&1 || true
                # shellcheck disable=SC2086
                timeout 120 $PIN1 dnsperf -s 127.0.0.1 $args -d "$T/q.txt" -n 2 -q 10 >"$T/dp.out" 2>&1 || true
                timeout 30 callgrind_control -d "$spid" >/dev/null 2>&1 || true
            else
            # shellcheck disable=SC2086
            timeout $((SECS + 20)) $PIN1 dnsperf -s 127.0.0.1 $args -d "$T/q.txt" -l "$SECS" \
                -c 2 -q 100 -t 2 >"$T/dp.out" 2>&1 || true
            fi
            u1=$(ticks "$upid")
            if [ -n "$pp" ]; then
                kill -INT "$pp" 2>/dev/null || true
                wait "$pp" 2>/dev/null || true
            fi
            q=$(awk '/Queries completed:/ { print $3 }' "$T/dp.out")
            qps=$(awk '/Queries per second:/ { printf "%d", $4 }' "$T/dp.out")
            QPS[$kind,$rep]=${qps:-0}
            hz=$(getconf CLK_TCK)
            extra=" up $(awk -v t=$((u1 - u0)) -v q="${q:-0}" -v hz="$hz" 'BEGIN { if (q > 0) printf "%.1f", t * 1e6 / hz / q }')µs/q"
            if [ -n "$spid" ]; then
                s1=$(ticks "$spid")
                extra="$extra sr $(awk -v t=$((s1 - s0)) -v q="${q:-0}" -v hz="$hz" 'BEGIN { if (q > 0) printf "%.1f", t * 1e6 / hz / q }')µs/q"
                extra="$extra x$(awk -v a="$qps" -v b="${QPS[dnsperf-$proto,$rep]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
                if [ -n "${SYSCALLS:-}" ]; then
                    extra="$extra$(awk -F, -v q="${q:-0}" '$3 == "raw_syscalls:sys_enter" { s = $1 } $3 == "context-switches" { c = $1 }
                        END { if (q > 0) printf " %.2fsys/q %.3fcs/q", s / q, c / q }' "$T/ps.out")"
                fi
            fi
            line="$line  $kind ${qps}qps$extra"
            if [ -n "$spid" ] && [ -n "${STATS:-}" ]; then
                "$BENCH_DIR/build-release/stubresctl" -s "$T/$kind.sock" --json stats >"$T/stats-$kind-$rep.json" 2>&1 || true
            fi
        done
        echo "$line"
    done
done
if [ -n "${CG:-}" ]; then
    sleep 1
    for f in "$T"/cg-*.out.*; do
        [ -f "$f" ] || continue
        echo "--- $f: $(awk '/^summary:|^totals:/ { print $2; exit }' "$f") Ir"
        callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '/file:function/,$p' |
            grep -E '^ *[0-9,]+ ' | head -${TOP_N:-60}
    done
fi
if [ -n "${STATS:-}" ]; then
    for f in "$T"/stats-*.json; do
        echo "--- $f"
        "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d.get("upstreams", d), indent=None)[:1500])' "$f"
    done
fi
if [ -n "${STRACE:-}" ]; then
    for f in "$T"/strace-*.txt; do
        echo "--- $f"
        head -25 "$f"
    done
fi
if [ -n "${PERF:-}" ]; then
    for f in "$T"/perf-*.data; do
        [ -f "$f" ] || continue
        echo "--- $f"
        perf report -i "$f" --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
        perf report -i "$f" --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | grep -v kernel | head -40
    done
fi
