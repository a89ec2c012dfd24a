#!/bin/bash
# bench/warmstart.sh -- the cache file with 100,000 entries: how long
# `stubresctl cache save` takes, how long the start takes to read the file
# back (stubresd's log line "N entries read back in M ms"), and the cache
# hit ratio of the first 10 s after a restart that replays the same names,
# with the cache file and without it.
#
#   cd build && make && ../bench/warmstart.sh [NAMES=100000] [ROUNDS=3]
#
# The upstream is a loopback unbound answering every name under
# example.test with A 192.0.2.1, TTL 3600 (a fake upstream: the cache is
# filled by real answers over the wire, as in use). stubresd gets
# cache_size = 64M and cache_file in the temp dir; dnsperf asks each of the
# NAMES names once (twice over, to make up for UDP losses). The replay is
# a trace of NAMES queries drawn from the same names with a Zipf
# distribution (s = 1, seeded), sent by dnsperf at NAMES/10 queries/s for
# 10 s just after the restart. Hit ratio: stubresd's stats, hits / (hits +
# misses), counted from the restart. Results on stdout.
set -eu
IT_TIMEOUT=${IT_TIMEOUT:-1800}
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/../tests/integration/daemon_lib.sh"

NAMES=${1:-100000}
ROUNDS=${2:-3}
skip_unless unbound dnsperf
export STUBRES_RESOLV_CONF=$T/resolv.conf
: >"$STUBRES_RESOLV_CONF"

# --- the fake upstream ---------------------------------------------------------
UP_PORT=$(free_port)
mkdir -p "$T/up"
cat >"$T/up/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$UP_PORT
    port: $UP_PORT
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$T/up"
    pidfile: "$T/up/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    module-config: "iterator"
    local-zone: "." refuse
    local-zone: "test." nodefault
    local-zone: "example.test." redirect
    local-data: "example.test. 3600 IN A 192.0.2.1"
remote-control:
    control-enable: no
EOF
start_bg upstream unbound -d -p -c "$T/up/unbound.conf"
wait_udp 127.0.0.1 "$UP_PORT" upstream

# --- the names and the replay trace --------------------------------------------
"$PY" - "$NAMES" "$T/names" "$T/trace" <<'EOF'
import random, sys
n = int(sys.argv[1])
names = ["w%d.example.test" % i for i in range(n)]
with open(sys.argv[2], "w") as f:
    f.writelines("%s A\n" % x for x in names)
rng = random.Random(13)
weights = [1.0 / (i + 1) for i in range(n)]
order = names[:]
rng.shuffle(order)  # popularity unrelated to the fill order
with open(sys.argv[3], "w") as f:
    f.writelines("%s A\n" % x for x in rng.choices(order, weights, k=n))
EOF
distinct=$(sort -u "$T/trace" | wc -l)

CF=$T/ws.cache
conf=("servers = udp://127.0.0.1:$UP_PORT" "timeout = 1" "cache_size = 64M"
    "cache_file = $CF" "cache_save_interval = 0")
start_stubresd ws "${conf[@]}"

# --- fill -----------------------------------------------------------------------
for pass in 1 2; do
    dnsperf -s 127.0.0.1 -p "$SR_PORT" -d "$T/names" -n 1 -Q 20000 -q 200 -t 5 \
        >"$T/fill$pass.log" 2>&1 || true
done
entries=$(sr_stat cache entries)
note "filled: $entries cache entries for $NAMES names"
[ "$entries" -ge $((NAMES * 99 / 100)) ] || fail "the cache holds only $entries entries"

# --- save -------------------------------------------------------------------------
echo "cache entries: $entries"
for i in $(seq 1 "$ROUNDS"); do
    t0=$(date +%s%N)
    out=$($SR_CTL cache save)
    t1=$(date +%s%N)
    echo "save $i: $(((t1 - t0) / 1000000)) ms ($out; stubresctl's whole run)"
done
echo "file: $(stat -c %s "$CF") bytes"
cp "$CF" "$T/full.cache"

# --- restarts ------------------------------------------------------------------------
replay() {
    local q=$((NAMES / 10))
    dnsperf -s 127.0.0.1 -p "$SR_PORT" -d "$T/trace" -l 10 -Q "$q" -q 500 -t 2 >"$T/replay.log" 2>&1 || true
    local h m
    h=$(sr_stat cache hits)
    m=$(sr_stat cache misses)
    awk -v h="$h" -v m="$m" -v sent="$(awk '/Queries sent/ { print $3 }' "$T/replay.log")" \
        'BEGIN { printf "hits %d, misses %d, hit ratio %.3f (dnsperf sent %s)", h, m, h / (h + m), sent }'
}
echo "replay: $NAMES queries over $distinct distinct names (Zipf s=1), $((NAMES / 10))/s for 10 s"
for i in $(seq 1 "$ROUNDS"); do
    stop_stubresd ws
    cp "$T/full.cache" "$CF"
    start_stubresd ws
    line=$(grep -E 'cache_file .* entries read back in [0-9]+ ms' "$(log_of ws)" | tail -n 1)
    echo "load $i: ${line##*cache_file }"
    echo "  with the cache file:    $(replay)"
done
for i in $(seq 1 "$ROUNDS"); do
    stop_stubresd ws
    rm -f "$CF"
    start_stubresd ws
    echo "without the cache file $i: $(replay)"
done
stop_stubresd ws
