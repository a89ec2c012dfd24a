#!/bin/bash
# bench/doh.sh -- DoH throughput of libstubres against unbound on loopback.
#
# Starts nsd + unbound (tests/integration/lib.sh) and runs doh_client with
# 100 queries in flight over one upstream (one HTTP/2 connection), for
# POST and GET, reporting queries/s, connections and handshakes, and the
# CPU time per query of the client and of unbound (utime+stime from
# /proc). Run from the top build directory after `make`:
#
#   ../bench/doh.sh [QUERIES_PER_NAME]     (default 10000, x5 names)
#
# On the 2-core test machine unbound and the client share the cores; the
# spread between runs is large, so it runs each method three times.
set -eu
IT_TIMEOUT=900
. "$(dirname "$0")/../tests/integration/lib.sh"
skip_unless nsd unbound
start_unbound
DC=$BUILD_DIR/tests/integration/doh_client
[ -x "$DC" ] || fail "build first: $DC is missing"
export STUBRES_RESOLV_CONF=$T/resolv.conf
echo "nameserver 127.0.0.1" >"$STUBRES_RESOLV_CONF"
n=${1:-10000}
up=$(pid_of unbound)
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for m in post get; do
    for i in 1 2 3; do
        a=$(cpu "$up")
        out=$(/usr/bin/time -f "client_cpu_s=%U+%S" "$DC" -s -m $m -j 100 -r "$n" \
            -c "$CA_FILE" -n "$TLS_NAME" "$UNBOUND_DOH_URL" www.example.test/A \
            mx.example.test/MX txt.example.test/TXT aaaa.example.test/AAAA \
            a.example.test/A 2>&1 | grep -v '^auth')
        b=$(cpu "$up")
        echo "$m run $i: $(echo "$out" | tr '\n' ' ') unbound_cpu_s=$(echo "scale=2; ($b - $a) / $tck" | bc)"
    done
done
