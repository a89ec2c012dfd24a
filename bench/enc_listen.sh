#!/bin/bash
# bench/enc_listen.sh -- stubresd's DoT and DoH listeners against unbound,
# dnsdist and knot-resolver, all in one run on the same cached names.
#
#   bench/enc_listen.sh [-l SECONDS] [-r REPS] [-k CONNS] [-i IDLE] [-s SERVERS] [STUBRESD]
#
# nsd serves 1000 names (bench.test); stubresd (1 thread, cache on),
# unbound (1 thread, stub-zone to nsd), dnsdist (packet cache, nsd as its
# backend; security poll off: it would ask the system's resolver) and kresd
# (1 process, every query policy.STUB to nsd, priming and time-skew check
# off) each serve DoT and DoH (HTTP/2, /dns-query) on 127.0.0.1 with the
# same self-signed P-256 certificate, pinned to CPU 0; clients run on CPU 1. Every server is
# warmed over DoT (each name once). Then, REPS rounds (default 3), the
# order of the servers rotated every round:
#   persistent  dnsperf -m dot and -m doh (POST), -c 2 -q 100 -l SECONDS
#               (default 5): two persistent connections, 100 in flight;
#               server CPU µs per answered query (utime+stime, all
#               threads, /proc/PID/stat) and QPS; a server losing more
#               than 1% of the queries is shown as nan;
#   handshake   bench/enc_client.py: CONNS (default 600) connections one
#               after another, each a full TLS handshake (no resumption)
#               and 10 queries, at most SECONDS*2 s; handshakes per second
#               (the Python client on its core is the limit) and server CPU
#               per connection (handshake + 10 hits).
# Then once: VmRSS growth per idle connection, IDLE (default 500) DoT and
# then HTTP/2 connections held open after the handshake (and SETTINGS).
# Prints the medians and stubresd's ratio to each peer and to the best peer.
# SERVERS (-s) picks a subset, e.g. -s stubresd,unbound. STRACE=1 prints
# each server's system calls per query over DoT and DoH instead (strace -c
# of a 3 s dnsperf run; needs ptrace rights) and stops.
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
SECS=5
REPS=3
CONNS=600
IDLE=500
SERVERS="stubresd unbound dnsdist kresd"
while [ $# -gt 0 ]; do
    case $1 in
        -l) SECS=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        -k) CONNS=$2; shift 2 ;;
        -i) IDLE=$2; shift 2 ;;
        -s) SERVERS=${2//,/ }; shift 2 ;;
        -h) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
SR_BIN=$(cd "$(dirname "${1:-$TOP/build/stubresd}")" && pwd)/$(basename "${1:-stubresd}")

# shellcheck disable=SC2034 # read by lib.sh
IT_TIMEOUT=$((180 + (SECS * 3 + 10) * REPS * 8 + 120))
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=60
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
skip_unless nsd dnsperf openssl taskset
# shellcheck disable=SC2034 # read by ab_lib.sh
LIB=$BENCH_DIR/compare_lib.py
CLIENT=$BENCH_DIR/enc_client.py
PIN0="taskset -c 0"
PIN1="taskset -c 1"

start_bench_nsd 1000
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/key.pem" -out "$T/cert.pem" -days 30 -subj "/CN=bench.test" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1

declare -A DOT DOH
start_stubresd_bench() {
    local sp
    sp=$(free_port)
    DOT[stubresd]=$(free_port)
    DOH[stubresd]=$(free_port)
    cat >"$T/stubresd.conf" <<EOF
listen = 127.0.0.1:$sp, tls://127.0.0.1:${DOT[stubresd]}, https://127.0.0.1:${DOH[stubresd]}/dns-query
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
    wait_tcp 127.0.0.1 "${DOH[stubresd]}" stubresd
}

start_unbound_bench() {
    local up
    up=$(free_port)
    DOT[unbound]=$(free_port)
    DOH[unbound]=$(free_port)
    mkdir -p "$T/unbound"
    cat >"$T/unbound/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$up
    interface: 127.0.0.1@${DOT[unbound]}
    interface: 127.0.0.1@${DOH[unbound]}
    port: $up
    tls-port: ${DOT[unbound]}
    https-port: ${DOH[unbound]}
    http-endpoint: "/dns-query"
    tls-service-key: "$T/key.pem"
    tls-service-pem: "$T/cert.pem"
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    so-reuseport: no
    incoming-num-tcp: 1000
    username: ""
    chroot: ""
    directory: "$T/unbound"
    pidfile: ""
    use-syslog: no
    logfile: ""
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
    wait_tcp 127.0.0.1 "${DOH[unbound]}" unbound
}

start_dnsdist_bench() {
    local up
    up=$(free_port)
    DOT[dnsdist]=$(free_port)
    DOH[dnsdist]=$(free_port)
    mkdir -p "$T/dnsdist"
    # One UDP listener thread, the default TCP worker pool (DoT), one DoH
    # frontend thread; the packet cache answers every name after the warm-up.
    cat >"$T/dnsdist/dnsdist.conf" <<EOF
setLocal('127.0.0.1:$up')
setSecurityPollSuffix('')
setACL({'127.0.0.0/8'})
addTLSLocal('127.0.0.1:${DOT[dnsdist]}', '$T/cert.pem', '$T/key.pem')
addDOHLocal('127.0.0.1:${DOH[dnsdist]}', '$T/cert.pem', '$T/key.pem', '/dns-query')
newServer({address='127.0.0.1:$np', checkName='n000000.bench.test.'})
pc = newPacketCache(100000, {maxTTL=86400})
getPool(''):setCache(pc)
EOF
    start_bg dnsdist $PIN0 dnsdist --supervised --disable-syslog -C "$T/dnsdist/dnsdist.conf"
    wait_tcp 127.0.0.1 "${DOH[dnsdist]}" dnsdist
}

start_kresd_bench() {
    DOT[kresd]=$(free_port)
    DOH[kresd]=$(free_port)
    mkdir -p "$T/kresd/run"
    cat >"$T/kresd/kresd.conf" <<EOF
net.listen('127.0.0.1', ${DOT[kresd]}, { kind = 'tls' })
net.listen('127.0.0.1', ${DOH[kresd]}, { kind = 'doh2' })
net.tls('$T/cert.pem', '$T/key.pem')
cache.open(256 * MB, 'lmdb://$T/kresd/cache')
trust_anchors.remove('.')
modules.unload('priming')
modules.unload('detect_time_skew')
policy.add(policy.all(policy.STUB({'127.0.0.1@$np'})))
EOF
    start_bg kresd $PIN0 kresd -n -q -c "$T/kresd/kresd.conf" "$T/kresd/run"
    wait_tcp 127.0.0.1 "${DOH[kresd]}" kresd
}

STARTED=""
for n in $SERVERS; do
    case $n in
        stubresd) ;;
        *) command -v "$n" >/dev/null || { echo "# $n: not installed, left out"; continue; } ;;
    esac
    if "start_${n}_bench"; then
        STARTED="$STARTED $n"
    else
        echo "# $n: did not start, left out"
    fi
done

# Warm: every name once over DoT.
NAMES=""
for n in $STARTED; do
    timeout 120 $PIN1 dnsperf -m dot -s 127.0.0.1 -p "${DOT[$n]}" -d "$T/q.txt" -n 1 -q 20 \
        >"$T/warm.$n" 2>&1 || true
    if grep -q 'Queries completed: *1000 ' "$T/warm.$n"; then
        NAMES="$NAMES $n"
    else
        echo "# $n did not answer the 1000 names over DoT, left out:"
        sed 's/^/#   /' "$T/warm.$n" | tail -5
    fi
done
[ -n "$NAMES" ] || fail "no server answered"
read -ra ALL <<<"$NAMES"
k=${#ALL[@]}
HZ=$(getconf CLK_TCK)
declare -A CPU QPS

# run_one MODE NAME REP: one measurement, into CPU[MODE,NAME,REP] (µs per
# query, or per connection for the hs modes) and QPS[...] (queries, or
# handshakes, per second).
run_one() {
    local mode=$1 n=$2 rep=$3 pid c0 c1 q qps out
    pid=$(pid_of "$n")
    c0=$(ticks "$pid")
    case $mode in
        dot) timeout $((SECS + 30)) $PIN1 dnsperf -m dot -s 127.0.0.1 -p "${DOT[$n]}" \
            -d "$T/q.txt" -l "$SECS" -c 2 -q 100 -t 5 >"$T/dp.$mode.$n.$rep" 2>&1 || true ;;
        doh) timeout $((SECS + 30)) $PIN1 dnsperf -m doh -s 127.0.0.1 -p "${DOH[$n]}" \
            -O "doh-uri=https://127.0.0.1:${DOH[$n]}/dns-query" -O doh-method=POST \
            -d "$T/q.txt" -l "$SECS" -c 2 -q 100 -t 5 >"$T/dp.$mode.$n.$rep" 2>&1 || true ;;
        hs-dot | hs-doh)
            local port=${DOT[$n]}
            [ "$mode" = hs-dot ] || port=${DOH[$n]}
            out=$(timeout $((SECS * 2 + 30)) $PIN1 "$PY" "$CLIENT" hs "${mode#hs-}" "$port" \
                "$T/q.txt" "$CONNS" 10 $((SECS * 2)) 2>&1) || true ;;
    esac
    c1=$(ticks "$pid")
    case $mode in
        dot | doh)
            q=$(awk '/Queries completed:/ { print $3 }' "$T/dp.$mode.$n.$rep")
            qps=$(awk '/Queries per second:/ { printf "%d", $4 }' "$T/dp.$mode.$n.$rep")
            # more than 1% lost: the figure would be the timeouts', not the server's
            awk '/Queries sent:/ { s = $3 } /Queries lost:/ { l = $3 }
                END { exit !(s > 0 && l * 100 <= s) }' "$T/dp.$mode.$n.$rep" || q=0 ;;
        *)
            # shellcheck disable=SC2086
            set -- $out
            echo "$out" >"$T/hs.$mode.$n.$rep"
            [ "${1:-}" = conns ] || { echo "# $n $mode: $out" >&2; set -- conns 0 queries 0 answers 0 failed 0 seconds 1; }
            # count a connection only when all 10 answers came
            q=$(( $2 - $8 ))
            [ "$6" -ge $(( q * 10 )) ] || q=$(( $6 / 10 ))
            qps=$(awk -v c="$q" -v s="${10}" 'BEGIN { printf "%d", c / s }') ;;
    esac
    CPU[$mode,$n,$rep]=$(awk -v t=$((c1 - c0)) -v q="${q:-0}" -v hz="$HZ" \
        'BEGIN { if (q > 0) printf "%.3f", t * 1000000 / hz / q; else print "nan" }')
    QPS[$mode,$n,$rep]=${qps:-0}
}

med() { tr ' ' '\n' | grep -v '^$' | grep -v nan | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }

if [ "${STRACE:-0}" = 1 ]; then
    # Diagnosis only (strace slows every server): system calls per query
    # over DoT and DoH, one 3 s dnsperf run each, then exit.
    skip_unless strace
    for mode in dot doh; do
        for n in $NAMES; do
            port=${DOT[$n]}
            [ "$mode" = dot ] || port=${DOH[$n]}
            strace -c -f -q -o "$T/strace.$mode.$n" -p "$(pid_of "$n")" &
            spid=$!
            sleep 1
            timeout 40 $PIN1 dnsperf -m "$mode" -s 127.0.0.1 -p "$port" \
                -O "doh-uri=https://127.0.0.1:$port/dns-query" -O doh-method=POST \
                -d "$T/q.txt" -l 3 -c 2 -q 100 -t 5 >"$T/dp.strace" 2>&1 || true
            kill -INT "$spid"
            wait "$spid" || true
            q=$(awk '/Queries completed:/ { print $3 }' "$T/dp.strace")
            echo "$mode $n: system calls per query ($q queries under strace):"
            awk -v q="${q:-0}" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && q > 0 && $4 / q >= 0.01 {
                printf "    %-16s %.2f\n", $NF, $4 / q }' "$T/strace.$mode.$n"
        done
    done
    exit 0
fi

echo "servers on CPU 0, clients on CPU 1; 1000 cached names; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in dot doh hs-dot hs-doh; do
    case $mode in
        dot | doh) echo "== $mode: dnsperf -m $mode -c 2 -q 100 -l $SECS (persistent), CPU µs per query / QPS" ;;
        *) echo "== $mode: enc_client.py hs ${mode#hs-}: $CONNS connections x 10 queries, new full handshake each, at most $((SECS * 2)) s; CPU µs per connection / handshakes per second" ;;
    esac
    for rep in $(seq 1 "$REPS"); do
        line="round $rep (load $(cut -d' ' -f1 /proc/loadavg)):"
        for ((i = 0; i < k; i++)); do
            n=${ALL[$(((i + rep) % k))]}
            run_one "$mode" "$n" "$rep"
            line="$line $n ${CPU[$mode,$n,$rep]}µs/${QPS[$mode,$n,$rep]}"
        done
        echo "$line"
    done
    best=""
    bestv=""
    for n in $NAMES; do
        cv=""
        qv=""
        for rep in $(seq 1 "$REPS"); do
            cv="$cv ${CPU[$mode,$n,$rep]}"
            qv="$qv ${QPS[$mode,$n,$rep]}"
        done
        CPU[$mode,$n]=$(echo "$cv" | med)
        QPS[$mode,$n]=$(echo "$qv" | med)
        printf '  %-9s median %s µs, %s/s   (CPU rounds:%s)\n' "$n" "${CPU[$mode,$n]}" "${QPS[$mode,$n]}" "$cv"
        if [ "$n" != stubresd ] && [ "${CPU[$mode,$n]}" != nan ]; then
            if [ -z "$bestv" ] || awk -v a="${CPU[$mode,$n]}" -v b="$bestv" 'BEGIN { exit !(a < b) }'; then
                best=$n
                bestv=${CPU[$mode,$n]}
            fi
        fi
    done
    case " $NAMES " in *" stubresd "*) ;; *) continue ;; esac
    for n in $NAMES; do
        [ "$n" != stubresd ] || continue
        # ratio of the medians, and the per-round ratios beside it
        rr=""
        for rep in $(seq 1 "$REPS"); do
            rr="$rr $(awk -v a="${CPU[$mode,stubresd,$rep]}" -v b="${CPU[$mode,$n,$rep]}" \
                'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.2f", a / b }')"
        done
        printf '  stubresd / %-9s CPU x%s (rounds:%s), QPS x%s\n' "$n" \
            "$(awk -v a="${CPU[$mode,stubresd]}" -v b="${CPU[$mode,$n]}" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "nan" }')" \
            "$rr" \
            "$(awk -v a="${QPS[$mode,stubresd]}" -v b="${QPS[$mode,$n]}" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "nan" }')"
    done
    [ -z "$best" ] || printf '  best peer by CPU: %s; stubresd / best = x%s\n' "$best" \
        "$(awk -v a="${CPU[$mode,stubresd]}" -v b="$bestv" 'BEGIN { printf "%.2f", a / b }')"
done

if [ "$IDLE" -gt 0 ]; then
    echo "== idle: $IDLE connections held open after the handshake (DoH: and HTTP/2 SETTINGS), VmRSS growth"
    for mode in dot doh; do
        for n in $NAMES; do
            port=${DOT[$n]}
            [ "$mode" = dot ] || port=${DOH[$n]}
            out=$(timeout 120 $PIN1 "$PY" "$CLIENT" idle "$mode" "$port" "$(pid_of "$n")" "$IDLE" 2>&1) || true
            # shellcheck disable=SC2086
            set -- $out
            if [ "${1:-}" = before ] && [ "$6" -gt 0 ]; then
                printf '  %-4s %-9s %s kB -> %s kB with %s open: %s kB per connection\n' "$mode" "$n" "$2" "$4" "$6" \
                    "$(awk -v a="$2" -v b="$4" -v c="$6" 'BEGIN { printf "%.1f", (b - a) / c }')"
            else
                echo "  $mode $n: $out"
            fi
            sleep 1
        done
    done
fi
