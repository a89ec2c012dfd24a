#!/bin/bash
# test_daemon_prefetch_popular.sh -- prefetch_popular: a name asked often is
# refreshed upstream shortly before it expires without any client query (and
# the next client query is a cache hit), a name asked once is not, a name
# nobody asked for during its last TTL stops being refreshed, and
# prefetch_rate (changed at run time, like prefetch_popular) caps the
# refreshes. TTLs are capped at 10 s (max_ttl), so a refresh comes in the
# last 2 s of an entry.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig curl

start_fakedns up1
seen() { fakedns_stat up1 qnames "$1"; }
# wait_seen NAME N: until the upstream has seen NAME N times (at most 15 s:
# a refresh comes up to 10 s after the entry was stored).
wait_seen() {
    local i
    for i in $(seq 1 150); do
        [ "$(seen "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    fail "upstream saw $1 $(seen "$1") times, expected $2"
}
# wait_expired NAME: until `cache dump` shows NAME's A entry expired or gone
# (at most 15 s).
wait_expired() {
    local i ttl
    for i in $(seq 1 150); do
        # The entry's comment line, "; NAME. IN A RCODE, N s left": an
        # NXDOMAIN entry has no record line to read a TTL from.
        ttl=$($SR_CTL cache dump |
            awk -v n="$1." '$1 == ";" && $2 == n && $3 == "IN" && $4 == "A" {print ($9 == "(stale)" ? 0 : $6); exit}')
        [ -z "$ttl" ] || [ "$ttl" = 0 ] && return 0
        sleep 0.1
    done
    fail "$1 still cached with TTL $ttl"
}

MPORT=$(free_port)
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "max_ttl = 10" "prefetch_popular = 2" \
    "metrics = 127.0.0.1:$MPORT"
assert_eq 2 "$($SR_CTL config prefetch_popular)" "prefetch_popular = 2 from the config file"
assert_eq 20 "$($SR_CTL config prefetch_rate)" "prefetch_rate: 20 by default"

# --- a popular name is refreshed before it expires, unasked ----------------------------
for i in 1 2 3 4; do
    assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "www asked ($i)"
done
assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "a asked once"
assert_eq 1 "$(seen www.$ZONE.)" "www went upstream once, then came from the cache"
queries=$(sr_stat queries total)
wait_seen www.$ZONE. 2
ok "www refreshed upstream before it expired"
assert_eq "$queries" "$(sr_stat queries total)" "... while no client asked anything"
assert_eq 1 "$(sr_stat cache popular_prefetches)" "stats: cache.popular_prefetches = 1"
assert_eq 0 "$(sr_stat cache prefetches)" "stats: cache.prefetches (prefetch = false) = 0"
# The refresh came in the last 2 s of the first entry: 3 s later that one has
# expired and the refreshed one answers.
sleep 3
hits=$(sr_stat cache hits)
ttl=$($SR_DIG www.$ZONE A +noall +answer | awk '{print $2}')
[ "$ttl" -ge 1 ] && [ "$ttl" -le 10 ] || fail "www after the first expiry: TTL '$ttl', expected 1..10"
assert_eq 2 "$(seen www.$ZONE.)" "past the first expiry, www is answered from the refreshed entry (TTL $ttl)"
assert_eq $((hits + 1)) "$(sr_stat cache hits)" "... as a cache hit"

# --- asked during its TTL: refreshed again; then nobody asks: no more ------------------
wait_seen www.$ZONE. 3
ok "www, asked during the refreshed entry's TTL, refreshed again"
wait_expired www.$ZONE
assert_eq 3 "$(seen www.$ZONE.)" "www, not asked during its last TTL, expired without another refresh"
assert_eq 2 "$(sr_stat cache popular_prefetches)" "stats: cache.popular_prefetches = 2"
assert_eq 1 "$(seen a.$ZONE.)" "a, asked once, was never refreshed"
out=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics")
assert_match "^stubresd_popular_prefetches_total 2$" "$out" "/metrics: stubresd_popular_prefetches_total 2"

# --- prefetch_rate caps the refreshes (both keys changed at run time) -----------------
# Twenty names (NXDOMAIN: negative answers are refreshed alike), each asked
# three times, all due within a few seconds of each other.
start_s=$(date +%s)
$SR_CTL config prefetch_rate=1 >/dev/null
assert_eq 1 "$($SR_CTL config prefetch_rate)" "config prefetch_rate=1 at run time"
$SR_CTL config prefetch_popular=100 >/dev/null
assert_eq 100 "$($SR_CTL config prefetch_popular)" "config prefetch_popular=100 at run time"
names=$(seq -f "r%g" 1 20)
before=$(sr_stat cache popular_prefetches)
# Asked in one quick burst (dnspython), so that their windows coincide.
out=$("$PY" - "$SR_PORT" "$ZONE" <<'PYEOF'
import sys, dns.message, dns.query
port, zone = int(sys.argv[1]), sys.argv[2]
rcodes = set()
for i in range(1, 21):
    for _ in range(3):
        q = dns.message.make_query("r%d.%s" % (i, zone), "A")
        rcodes.add(int(dns.query.udp(q, "127.0.0.1", port=port, timeout=5).rcode()))
print(sorted(rcodes))
PYEOF
)
assert_eq "[3]" "$out" "20 names asked three times each (NXDOMAIN)"
asked=0
for n in $names; do asked=$((asked + $(seen $n.$ZONE.))); done
assert_eq 20 "$asked" "... which went upstream once each"
for n in $names; do wait_expired $n.$ZONE; done
elapsed=$(($(date +%s) - start_s + 1))
refreshed=0
for n in $names; do refreshed=$((refreshed + $(seen $n.$ZONE.) - 1)); done
started=$(($(sr_stat cache popular_prefetches) - before))
# Every refresh the upstream saw was counted (one sent in an entry's last
# moment may still be on its way on a loaded machine).
[ "$refreshed" -le "$started" ] ||
    fail "the upstream saw $refreshed refreshes, stats count $started"
ok "stats: cache.popular_prefetches counts the $refreshed refreshes the upstream saw ($started started)"
# A token bucket of 1 a second holding one second's worth at most: no more
# than 1 + 1 per second since the change.
[ "$refreshed" -ge 1 ] && [ "$started" -le $((1 + elapsed)) ] && [ "$started" -lt 20 ] ||
    fail "prefetch_rate = 1: $started of 20 due names refreshed in $elapsed s, expected 1..$((1 + elapsed)) and < 20"
ok "prefetch_rate = 1: $started of 20 due names refreshed in $elapsed s"
limited=$(sr_stat cache popular_rate_limited)
[ "$limited" -ge 1 ] || fail "stats: cache.popular_rate_limited is $limited, expected >= 1"
ok "stats: cache.popular_rate_limited = $limited"
assert_match "^  popular_prefetches +[0-9]+$" "$($SR_CTL stats)" "stubresctl stats shows popular_prefetches"

stop_stubresd sr
