#!/bin/bash
# test_daemon_cache.sh -- stubresd's cache seen from outside, with fakedns
# counting what reaches the upstream: a repeated query is answered from the
# cache (the upstream saw it once) with a lower TTL; an entry expires after
# its TTL; TTL 0 is never cached; NXDOMAIN and NODATA are cached; 50
# identical concurrent queries become one upstream query; names differing
# only in case share an entry; cache flush and dump work; serve_stale
# answers from an expired entry when the upstream fails; min/max/negative
# TTL limits apply to the first answer too.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"
seen() { fakedns_stat up1 qnames "$1"; }
ttl_of() { $SR_DIG "$1" "${2:-A}" +noall +answer | awk 'NR == 1 { print $2 }'; }

# --- a repeated query comes from the cache, TTL counted down ---------------------
t1=$(ttl_of www.$ZONE)
assert_eq 300 "$t1" "first answer: the zone's TTL (300)"
sleep 2.1
t2=$(ttl_of www.$ZONE)
[ "$t2" -lt 300 ] && [ "$t2" -ge 290 ] || fail "second answer TTL $t2, expected 290..299"
ok "the cached answer's TTL went down ($t1 -> $t2)"
assert_eq 1 "$(seen www.$ZONE.)" "the upstream saw www.example.test once"
for i in 1 2 3 4 5; do $SR_DIG www.$ZONE A +short >/dev/null; done
$SR_DIG www.$ZONE A +tcp +short >/dev/null
assert_eq 1 "$(seen www.$ZONE.)" "... and still once after 6 more queries (UDP and TCP)"

# --- expiry after the TTL; TTL 0 never cached --------------------------------------
assert_eq 10.0.0.3 "$($SR_DIG ttl3.$ZONE A +short)" "ttl3 (TTL 3) answered"
assert_eq 10.0.0.3 "$($SR_DIG ttl3.$ZONE A +short)" "ttl3 again, from the cache"
assert_eq 1 "$(seen ttl3.$ZONE.)" "the upstream saw ttl3 once"
sleep 3.5
assert_eq 10.0.0.3 "$($SR_DIG ttl3.$ZONE A +short)" "ttl3 after its TTL"
assert_eq 2 "$(seen ttl3.$ZONE.)" "expired: the upstream was asked again"
$SR_DIG ttl0.$ZONE A +short >/dev/null
$SR_DIG ttl0.$ZONE A +short >/dev/null
assert_eq 2 "$(seen ttl0.$ZONE.)" "TTL 0: every query goes upstream"

# --- negative answers are cached (RFC 2308) ------------------------------------------
out=$($SR_DIG nxdomain.$ZONE A)
assert_match 'status: NXDOMAIN' "$out" "NXDOMAIN"
sleep 1.1
out=$($SR_DIG nxdomain.$ZONE A +noall +comments +authority)
assert_match 'status: NXDOMAIN' "$out" "NXDOMAIN again"
soa_ttl=$(printf '%s\n' "$out" | awk '$4 == "SOA" { print $2 }')
[ -n "$soa_ttl" ] && [ "$soa_ttl" -lt 60 ] || fail "cached NXDOMAIN: SOA TTL '$soa_ttl', expected < 60"
ok "the cached NXDOMAIN's SOA TTL counts down ($soa_ttl)"
assert_eq 1 "$(seen nxdomain.$ZONE.)" "the upstream saw the NXDOMAIN name once"
$SR_DIG nodata.$ZONE A >/dev/null
out=$($SR_DIG nodata.$ZONE A)
assert_match 'ANSWER: 0, AUTHORITY: 1' "$out" "NODATA from the cache: no answer, the SOA"
assert_eq 1 "$(fakedns_stat up1 questions "nodata.$ZONE. A")" "the upstream saw nodata A once"

# --- case: one entry, each client its own spelling --------------------------------------
$SR_DIG MiXeD.$ZONE A >/dev/null
out=$($SR_DIG mIxEd.$ZONE A +noall +question +answer)
assert_match '^;mIxEd\.example\.test\.' "$out" "the question in the client's case"
assert_eq 1 "$(seen mixed.$ZONE.)" "MiXeD and mIxEd share one upstream query"

# --- coalescing: 50 identical queries at once, one upstream query ---------------------
fakedns_mode up1 delay delay=0.5 # well inside timeout = 1
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import sys, threading, dns.message, dns.query
port, res = int(sys.argv[1]), []
def ask():
    try:
        r = dns.query.udp(dns.message.make_query("a.example.test", "A"), "127.0.0.1",
                          port=port, timeout=5)
        res.append(r.answer[0][0].to_text() if r.answer else "empty")
    except Exception as e:
        res.append(repr(e))
ts = [threading.Thread(target=ask) for _ in range(50)]
for t in ts: t.start()
for t in ts: t.join()
print(len(res), sorted(set(res)))
PYEOF
)
fakedns_mode up1 good
assert_eq "50 ['10.0.0.1']" "$out" "50 concurrent clients all got a.example.test"
assert_eq 1 "$(seen a.$ZONE.)" "the upstream saw a.example.test once"
assert_eq 49 "$(sr_stat coalesced)" "stats: 49 queries joined the one in flight"

# --- flush and dump --------------------------------------------------------------------
out=$($SR_CTL cache dump)
assert_match '^www\.example\.test\. [0-9]+ IN A 10\.0\.0\.1$' "$out" \
    "cache dump lists www.example.test (master-file line)"
out=$($SR_CTL --json cache dump)
assert_match '"www\.example\.test A IN NOERROR [0-9]+ www\.example\.test [0-9]+ A 10\.0\.0\.1"' "$out" \
    "cache dump --json: entries, one line per entry"
out=$($SR_CTL --json cache dump)
assert_match '^\{"ok":true,"entries":\[' "$out" "cache dump --json: the entries array"
out=$($SR_CTL cache flush www.$ZONE)
assert_match '^[1-9][0-9]* entries flushed$' "$out" "cache flush www.example.test"
$SR_DIG www.$ZONE A +short >/dev/null
assert_eq 2 "$(seen www.$ZONE.)" "after the flush the upstream is asked again"
$SR_DIG mx.$ZONE MX +short >/dev/null
$SR_CTL cache flush >/dev/null
$SR_DIG mx.$ZONE MX +short >/dev/null
assert_eq 2 "$(seen mx.$ZONE.)" "cache flush (all): mx asked again"
n=$(sr_stat cache entries)
[ "$n" -ge 1 ] && [ "$n" -le 3 ] || fail "cache entries after a flush: $n"
ok "stats: cache entries ($n) and bytes ($(sr_stat cache bytes))"
[ "$(sr_stat cache hits)" -gt 10 ] || fail "stats: cache hits $(sr_stat cache hits)"
ok "stats: cache hits ($(sr_stat cache hits)) and misses ($(sr_stat cache misses))"

# --- serve_stale: expired data when the upstream fails --------------------------------
$SR_CTL config serve_stale=true >/dev/null
$SR_CTL config timeout=0.5 >/dev/null
assert_eq 10.0.0.3 "$($SR_DIG ttl3.$ZONE A +short)" "ttl3 cached again"
sleep 3.5
fakedns_mode up1 servfail
out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$SR_PORT" ttl3.$ZONE A +noall +answer)
assert_match '^ttl3\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.0\.0\.3$' "$out" \
    "serve_stale: the expired answer with TTL 30 (RFC 8767) while the upstream fails"
out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$SR_PORT" www2.$ZONE A)
assert_match 'status: SERVFAIL' "$out" "nothing stale to serve: SERVFAIL"
fakedns_mode up1 good

stop_stubresd sr

# --- the TTL limits apply from the first answer on ------------------------------------
# (as in unbound and dnsmasq: a client never sees a TTL the cache would not give)
start_stubresd srl "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" "max_ttl = 10" "negative_ttl = 5"
before=$(seen www.$ZONE.)
assert_eq 10 "$(ttl_of www.$ZONE)" "max_ttl = 10: the first answer says 10, not the zone's 300"
assert_eq $((before + 1)) "$(seen www.$ZONE.)" "(it came from the upstream)"
out=$($SR_DIG nxfirst.$ZONE A +noall +comments +authority)
assert_match 'status: NXDOMAIN' "$out" "a first NXDOMAIN"
soa_ttl=$(printf '%s\n' "$out" | awk '$4 == "SOA" { print $2 }')
assert_eq 5 "$soa_ttl" "negative_ttl = 5: its SOA TTL is 5 (the zone's SOA TTL is 300, its MINIMUM 60)"
stop_stubresd srl
