#!/bin/bash
# bench/recovery.sh -- how long after a network change a stub resolver with
# a DNS-over-TLS upstream answers again: stubresd, stubby and unbound (as a
# forwarder with forward-tls-upstream) against the same upstream, in the
# same run.
#
#   cd build && make && sudo ../bench/recovery.sh [ROUNDS=3] [OUTAGE_S=3]
#
# Two network namespaces made here (removed at exit, whatever happens),
# joined by a veth pair: "up" holds the upstream, an unbound serving DoT
# on 10.213.0.1:853 (certificate of tests/integration's make_ca; every
# name under example.test answers A 192.0.2.1), "cl" holds the resolver
# under test on 127.0.0.1 and its link, 10.213.0.2/24. For each resolver
# and round a fresh resolver is started, and bench/recovery_probe.py, in
# "cl", queries it every 20 ms with a fresh name (no cache can answer),
# then makes one change:
#   link  the link goes down for OUTAGE_S seconds (queries go on), then up
#   addr  the address changes (10.213.0.2 -> .3 -> .2 ...: old one
#         deleted, new one added)
# and prints the milliseconds from the end of the change to the first
# answer to a query sent after it (or "timeout" after 30 s).
# Output: one TSV line per trial (resolver, change, round, ms), then the
# medians. Needs root (ip netns), unbound, stubby.
set -eu
IT_TIMEOUT=${IT_TIMEOUT:-1800}
. "$(dirname "$0")/../tests/integration/lib.sh"

ROUNDS=${1:-3}
OUTAGE=${2:-3}
PROBE=$(cd "$(dirname "$0")" && pwd)/recovery_probe.py
STUBRESD_BIN=${STUBRESD:-$BUILD_DIR/stubresd}
skip_unless ip unbound stubby "$STUBRESD_BIN"
[ "$(id -u)" = 0 ] || skip "ip netns needs root"

NS_UP=srrec-up-$$
NS_CL=srrec-cl-$$
UP_ADDR=10.213.0.1
# Namespaces are removed whatever happens; the programs inside are then
# stopped by lib.sh's cleanup (a namespace goes once its last process has).
_rec_cleanup() {
    local rc=$?
    set +e
    ip netns del "$NS_CL" 2>/dev/null
    ip netns del "$NS_UP" 2>/dev/null
    (exit "$rc")
    _it_cleanup
}
trap _rec_cleanup EXIT

ip netns add "$NS_UP"
ip netns add "$NS_CL"
for ns in "$NS_UP" "$NS_CL"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
ip link add srrec-u$$ netns "$NS_UP" type veth peer name vcl netns "$NS_CL"
ip -n "$NS_UP" link set srrec-u$$ name vup
ip -n "$NS_UP" addr add $UP_ADDR/24 dev vup
ip -n "$NS_UP" link set vup up
ip -n "$NS_CL" addr add 10.213.0.2/24 dev vcl
ip -n "$NS_CL" link set vcl up
CL_ADDR=10.213.0.2
in_up() { ip netns exec "$NS_UP" "$@"; }
in_cl() { ip netns exec "$NS_CL" "$@"; }

# --- the upstream: unbound serving DoT in "up" -------------------------------
_it_need_ca
mkdir -p "$T/up"
cat >"$T/up/unbound.conf" <<EOF
server:
    interface: $UP_ADDR@853
    tls-port: 853
    tls-service-key: "$CERT_DIR/server.key"
    tls-service-pem: "$CERT_DIR/server.pem"
    do-ip6: no
    access-control: 10.213.0.0/16 allow
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$T/up"
    pidfile: "$T/up/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "iterator"
    local-zone: "." refuse
    local-zone: "test." nodefault
    local-zone: "example.test." redirect
    local-data: "example.test. 300 IN A 192.0.2.1"
remote-control:
    control-enable: no
EOF
unbound-checkconf "$T/up/unbound.conf" >/dev/null
start_bg upstream ip netns exec "$NS_UP" unbound -d -p -c "$T/up/unbound.conf"
for _ in $(seq 1 50); do
    in_up ss -ltn | grep -q "$UP_ADDR:853" && break
    sleep 0.1
done
in_up ss -ltn | grep -q "$UP_ADDR:853" || fail "the upstream unbound does not listen on $UP_ADDR:853"

# --- the resolvers under test, each on its own port in "cl" ------------------
: >"$T/resolv.conf"
cat >"$T/stubresd.conf" <<EOF
listen = 127.0.0.1:5301
control = $T/stubresd.sock
state_file = $T/stubresd.state
resolv_conf = $T/resolv.conf
servers = tls://$UP_ADDR:853#$TLS_NAME
ca_file = $CA_FILE
log_level = info
EOF
mkdir -p "$T/stubby"
cat >"$T/stubby.yml" <<EOF
resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list:
  - GETDNS_TRANSPORT_TLS
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_query_padding_blocksize: 128
edns_client_subnet_private: 1
idle_timeout: 10000
round_robin_upstreams: 1
appdata_dir: "$T/stubby"
tls_ca_file: "$CA_FILE"
listen_addresses:
  - 127.0.0.1@5302
upstream_recursive_servers:
  - address_data: $UP_ADDR
    tls_port: 853
    tls_auth_name: "$TLS_NAME"
EOF
mkdir -p "$T/fwd"
cat >"$T/fwd/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@5303
    port: 5303
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$T/fwd"
    pidfile: "$T/fwd/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "iterator"
    tls-cert-bundle: "$CA_FILE"
    # test. is one of unbound's default local zones (RFC 6761)
    local-zone: "test." nodefault
forward-zone:
    name: "."
    forward-tls-upstream: yes
    forward-addr: $UP_ADDR@853#$TLS_NAME
remote-control:
    control-enable: no
EOF
unbound-checkconf "$T/fwd/unbound.conf" >/dev/null
"$STUBRESD_BIN" -t -c "$T/stubresd.conf" >/dev/null

start_resolver() {
    case $1 in
        stubresd) start_bg stubresd ip netns exec "$NS_CL" "$STUBRESD_BIN" -f -c "$T/stubresd.conf" ;;
        stubby) start_bg stubby ip netns exec "$NS_CL" stubby -C "$T/stubby.yml" ;;
        unbound) start_bg unbound_fwd ip netns exec "$NS_CL" unbound -d -p -c "$T/fwd/unbound.conf" ;;
    esac
}
stop_resolver() {
    case $1 in
        unbound) stop_bg unbound_fwd ;;
        *) stop_bg "$1" ;;
    esac
}
port_of() {
    case $1 in stubresd) echo 5301 ;; stubby) echo 5302 ;; unbound) echo 5303 ;; esac
}

note "stubresd $("$STUBRESD_BIN" -V 2>&1 | head -n 1), stubby $(stubby -V 2>&1 | head -n 1), unbound $(unbound -V | sed -n 's/^Version //p'); $ROUNDS rounds, link outage $OUTAGE s"
printf 'resolver\tchange\tround\tms\n' >"$T/results.tsv"
for round in $(seq 1 "$ROUNDS"); do
    for r in stubresd stubby unbound; do
        for kind in link addr; do
            start_resolver "$r"
            if [ "$kind" = link ]; then
                args=(--down "ip link set vcl down" --outage "$OUTAGE" --change "ip link set vcl up")
            else
                new=10.213.0.$([ "$CL_ADDR" = 10.213.0.2 ] && echo 3 || echo 2)
                args=(--change "ip addr del $CL_ADDR/24 dev vcl && ip addr add $new/24 dev vcl")
                CL_ADDR=$new
            fi
            ms=$(in_cl "$PY" "$PROBE" --port "$(port_of "$r")" "${args[@]}") || ms="error"
            stop_resolver "$r"
            # the link must be up for the next trial, whatever happened
            ip -n "$NS_CL" link set vcl up
            printf '%s\t%s\t%s\t%s\n' "$r" "$kind" "$round" "$ms" | tee -a "$T/results.tsv"
        done
    done
done

echo
echo "medians (ms from the change to the first answer; timeout = none within 30 s):"
for r in stubresd stubby unbound; do
    for kind in link addr; do
        # no answer within 30 s (or a failed trial) sorts last
        awk -F'\t' -v r="$r" -v k="$kind" '$1 == r && $2 == k {
                print ($4 ~ /^[0-9]+$/ ? $4 : 999999) }' "$T/results.tsv" |
            sort -n | awk -v r="$r" -v k="$kind" '{ v[NR] = $1 == 999999 ? "timeout" : $1 } END {
                printf "%s\t%s\t%s\t(all: ", r, k, NR ? v[int((NR + 1) / 2)] : "-"
                for (i = 1; i <= NR; i++) printf "%s%s", v[i], i < NR ? " " : ")\n" }'
    done
done
