#!/bin/bash
# test_daemon_portal.sh -- the captive-portal pass: with a dead encrypted
# upstream (tls:// to a closed loopback port), the network's nameserver
# (portal_resolv_conf) is never asked without a pass; `portal allow`
# opens one, during which failed queries are answered by it with TTLs of
# at most 30 s and not cached; `portal close` and the pass's time close
# it; an NXDOMAIN from a working encrypted upstream never goes there and
# closes the pass.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

# The hotel's nameserver: it knows portal.example (TTL 300).
cat >"$T/portal.zone" <<ZONE
\$ORIGIN portal.example.
\$TTL 300
@ SOA ns1.portal.example. hostmaster.portal.example. 1 3600 900 604800 60
@ NS ns1.portal.example.
ns1 A 127.0.0.1
login A 10.77.0.1
www A 10.77.0.2
ZONE
start_fakedns hotel --zone "$T/portal.zone"
start_fakedns good # a working DoT upstream (example.test)
DEAD_PORT=$(free_port) # nothing listens: every connection is refused
HOTEL_RESOLV=$T/hotel-resolv.conf
echo "nameserver 127.0.0.1" >"$HOTEL_RESOLV"

hotel_queries() { fakedns_stat hotel queries total; }

start_stubresd sr "servers = tls://127.0.0.1:$DEAD_PORT#$TLS_NAME" "ca_file = $CA_FILE" \
    "timeout = 1" "portal_resolv_conf = $HOTEL_RESOLV" "dns_port = $HOTEL_PORT"

# --- 1. no pass: nothing goes to the network's nameserver ---------------------
assert_match "status: SERVFAIL" "$($SR_DIG login.portal.example)" \
    "no pass: a query the dead upstream cannot answer is SERVFAIL"
assert_eq 0 "$(hotel_queries)" "  and the portal nameserver saw no query"
assert_eq '{"ok":true,"open":false,"remaining_s":0,"names":0}' "$($SR_CTL --json portal)" \
    "portal: closed"

# --- 2. a pass ------------------------------------------------------------------
out=$($SR_CTL --json portal allow 60)
assert_match '"open":true' "$out" "portal allow 60 opens a pass"
assert_match '"remaining_s":(60|59|58|57|56|55)[,}]' "$out" "  for 60 s"
out=$($SR_DIG login.portal.example)
assert_match "^login\.portal\.example\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.77\.0\.1" \
    "$out" "during the pass the portal nameserver answers (though the SERVFAIL was remembered)"
ttl=$(printf '%s\n' "$out" | awk '$1 == "login.portal.example." && $4 == "A" {print $2}')
[ "$ttl" -le 30 ] || fail "the portal answer's TTL $ttl is above 30"
ok "  with TTL $ttl <= 30 (the zone says 300)"
n=$(hotel_queries)
[ "$n" -ge 1 ] || fail "the portal nameserver saw no query"
ok "  the portal nameserver was asked ($n)"
$SR_DIG login.portal.example >/dev/null
[ "$(hotel_queries)" -gt "$n" ] || fail "the second query was answered from the cache"
ok "  the portal answer was not cached: asked again"
out=$($SR_CTL --json portal)
assert_match '"open":true' "$out" "portal: open"
assert_match '"names":2[,}]' "$out" "  names counts the two queries"
assert_match '"portal":\{"open":true,"names":2\}' "$($SR_CTL --json stats)" "stats show the pass"
assert_match '"portal":\{"open":true' "$($SR_CTL --json status)" "status shows the pass"
assert_match "portal pass: login.portal.example asked of the network's nameservers in plaintext" \
    "$(cat "$(log_of sr)")" "each name is logged"

# --- 3. portal close --------------------------------------------------------------
assert_match '"open":false' "$($SR_CTL --json portal close)" "portal close closes it"
n=$(hotel_queries)
assert_match "status: SERVFAIL" "$($SR_DIG www.portal.example)" "after close: SERVFAIL again"
assert_eq "$n" "$(hotel_queries)" "  and no more queries to the portal nameserver"

# --- 4. a pass closes by itself ---------------------------------------------------
$SR_CTL portal allow 1 >/dev/null
for i in $(seq 1 $((IT_WAIT * 10))); do
    $SR_CTL --json portal | grep -q '"open":false' && break
    sleep 0.1
done
assert_match '"open":false' "$($SR_CTL --json portal)" "portal allow 1: closed a moment later"
n=$(hotel_queries)
assert_match "status: SERVFAIL" "$($SR_DIG www.portal.example)" "  then SERVFAIL"
assert_eq "$n" "$(hotel_queries)" "  and no query to the portal nameserver"
assert_match "portal pass closed \(its time is up\)" "$(cat "$(log_of sr)")" "  the log says why"

# --- 5. bad arguments --------------------------------------------------------------
rc=0
$SR_CTL portal allow 0 >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "portal allow 0 was accepted"
rc=0
$SR_CTL portal allow soon >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "portal allow soon was accepted"
ok "portal allow refuses 0 and words"
stop_stubresd sr

# --- 6. an encrypted upstream that answers: never the portal ------------------------
fakedns_reset hotel
start_stubresd sr2 "servers = tls://127.0.0.1:$GOOD_TLS_PORT#$TLS_NAME" "ca_file = $CA_FILE" \
    "timeout = 1" "portal_resolv_conf = $HOTEL_RESOLV" "dns_port = $HOTEL_PORT"
$SR_CTL portal allow 60 >/dev/null
assert_match "status: NXDOMAIN" "$($SR_DIG nxdomain.$ZONE)" \
    "a pass open, NXDOMAIN from the encrypted upstream is the answer"
assert_eq 0 "$(hotel_queries)" "  the portal nameserver was not asked"
assert_match '"open":false' "$($SR_CTL --json portal)" \
    "  and the pass closed: an encrypted upstream answers again"
assert_match "portal pass closed \(an encrypted upstream answers again\)" "$(cat "$(log_of sr2)")" \
    "  the log says why"
stop_stubresd sr2
