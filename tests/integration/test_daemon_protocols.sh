#!/bin/bash
# test_daemon_protocols.sh -- stubresd forwarding over each transport:
# unbound over UDP, TCP, DoT and DoH (HTTP/2), fakedns over DoH's JSON API
# (HTTP/1.1); DoT queries padded to 128-byte blocks (RFC 8467) and carried
# on few connections; an encrypted upstream that fails (wrong certificate)
# gives SERVFAIL and never a plaintext query; `server` switches transports
# at run time.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless nsd unbound dig kdig

start_unbound
start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UNBOUND_PORT" "ca_file = $CA_FILE" "timeout = 2"

check_all() {
    local what=$1 out
    $SR_CTL cache flush >/dev/null
    out=$($SR_DIG www.$ZONE A +short)
    assert_eq 10.0.0.1 "$out" "$what: www.example.test A"
    out=$($SR_DIG mx.$ZONE MX +short | sort)
    assert_eq "10 mail.example.test.
20 mail2.example.test." "$out" "$what: mx.example.test MX"
    out=$($SR_DIG nxdomain.$ZONE A)
    assert_match 'status: NXDOMAIN' "$out" "$what: NXDOMAIN"
    out=$($SR_DIG huge.$ZONE A +tcp +short | wc -l)
    assert_eq 100 "$out" "$what: huge.example.test (100 A) over TCP to the client"
    out=$(kdig $KDIG_OPTS @127.0.0.1 -p "$SR_PORT" txt-escapes.$ZONE TXT +short)
    assert_eq '"say \"hi\"" "back\\slash" "caf\195\169" "\000\255"' "$out" \
        "$what: kdig TXT with escapes and bytes outside ASCII"
}

check_all "udp"
$SR_CTL server "tcp://127.0.0.1:$UNBOUND_PORT" >/dev/null
check_all "tcp"
$SR_CTL server "tls://127.0.0.1:$UNBOUND_TLS_PORT#$TLS_NAME" >/dev/null
check_all "tls (DoT)"
out=$($SR_CTL --json status)
assert_match '"encrypted":true' "$out" "status: the pool is encrypted"
$SR_CTL server "$UNBOUND_DOH_URL" >/dev/null
$SR_CTL config doh_method=post >/dev/null
check_all "https POST (DoH, HTTP/2)"
$SR_CTL config DoHMethod=1 >/dev/null
check_all "https GET (DoH, HTTP/2)"
# The JSON API (fakedns): names and types as text, answers rebuilt.
$SR_CTL server "$UP1_JSON_URL" >/dev/null
$SR_CTL config doh_method=json >/dev/null
check_all "https JSON API"
assert_match '^[1-9]' "$(fakedns_stat up1 http paths /resolve)" "fakedns saw /resolve requests"

# --- an upstream by host name, resolved through bootstrap (never the system) ---
$SR_CTL config "bootstrap=127.0.0.1:$UNBOUND_PORT" >/dev/null
$SR_CTL server "tls://ns1.$ZONE:$UNBOUND_TLS_PORT#$TLS_NAME" >/dev/null
check_all "tls to a host name (ns1.example.test via bootstrap)"
out=$($SR_CTL --json status)
assert_match "\"server\":\"tls://ns1.example.test:$UNBOUND_TLS_PORT#$TLS_NAME\",[^}]*\"healthy\":true" \
    "$out" "status: the named upstream is healthy"

# --- a bootstrap answer with an unrelated address first: not the host's -----------
# fakedns (up1) answers ns1.example.test A with unrelated.example.test. A
# 127.0.0.2 before ns1's own 127.0.0.1; only ns1's is the upstream's, and
# nothing answers DNS on 127.0.0.2.
fakedns_mode up1 unrelated
fakedns_reset up1
$SR_CTL config "bootstrap=127.0.0.1:$UP1_PORT" >/dev/null
$SR_CTL server "udp://ns1.$ZONE:$UNBOUND_PORT" >/dev/null
$SR_CTL cache flush >/dev/null
out=$($SR_DIG www.$ZONE A +short || true) # 127.0.0.2 would leave dig no answer
assert_eq 10.0.0.1 "$out" "udp to a host name whose bootstrap answer has an unrelated A first"
assert_match '^[1-9]' "$(fakedns_stat up1 questions 'ns1.example.test. A')" \
    "the bootstrap server (fakedns, mode unrelated) was asked for ns1.example.test A"
assert_match '^[1-9]' "$(fakedns_stat up1 modes unrelated)" "... and put the unrelated A first"
out=$($SR_CTL --json status)
assert_match "\"server\":\"udp://ns1.example.test:$UNBOUND_PORT\",[^}]*\"healthy\":true" \
    "$out" "status: the named upstream is healthy"
fakedns_mode up1 good

# --- DoT: padded (RFC 8467), few connections ---------------------------------------
$SR_CTL server "tls://127.0.0.1:$UP1_TLS_PORT#$TLS_NAME" >/dev/null
fakedns_reset up1
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import sys, concurrent.futures, dns.message, dns.query
port = int(sys.argv[1])
def ask(i):
    r = dns.query.udp(dns.message.make_query("pad%d.example.test" % i, "A"), "127.0.0.1",
                      port=port, timeout=5)
    return int(r.rcode())
with concurrent.futures.ThreadPoolExecutor(20) as ex:
    print(sorted(set(ex.map(ask, range(200)))))
PYEOF
)
assert_eq "[3]" "$out" "200 queries over DoT: all answered (NXDOMAIN)"
assert_eq 200 "$(fakedns_stat up1 queries tls)" "fakedns got 200 DoT queries"
assert_eq 0 "$(fakedns_stat up1 padding unpadded)" "every DoT query padded"
sizes=$(json_get "$UP1_STATS" padding sizes)
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d and all(int(k) % 128 == 0 for k in d) else 1)' "$sizes" ||
    fail "padded sizes not multiples of 128: $sizes"
ok "padded to 128-byte blocks: $sizes"
conns=$(fakedns_stat up1 connections tls)
[ "$conns" -le 4 ] || fail "200 DoT queries used $conns connections"
ok "200 DoT queries on $conns connection(s) (kept open, pipelined)"

# --- an encrypted upstream that fails: SERVFAIL, never plaintext ---------------------
start_fakedns bad --cert "$CERT_DIR/wrongname.pem" --key "$CERT_DIR/wrongname.key"
fakedns_reset bad
$SR_CTL server "tls://127.0.0.1:$BAD_TLS_PORT#$TLS_NAME" >/dev/null
$SR_CTL cache flush >/dev/null
out=$(dig +time=8 +tries=1 @127.0.0.1 -p "$SR_PORT" www.$ZONE A)
assert_match 'status: SERVFAIL' "$out" "DoT with a wrong certificate: SERVFAIL"
assert_eq 0 "$(fakedns_stat bad queries total)" "no query reached the wrongly certified server"
assert_eq 0 "$(fakedns_stat bad queries udp)" "and nothing went out in plaintext"
tries=$(($(fakedns_stat bad tls handshakes) + $(fakedns_stat bad tls failures)))
[ "$tries" -ge 1 ] || fail "stubresd never tried the DoT server"
ok "stubresd connected over TLS ($tries time(s)) and refused the certificate"
# A plaintext upstream cannot join an encrypted list.
rc=0
out=$($SR_CTL server "tls://127.0.0.1:$BAD_TLS_PORT#$TLS_NAME" "udp://127.0.0.1:$UP1_PORT" 2>&1) || rc=$?
assert_eq 1 "$rc" "server tls:// udp://: refused (exit 1)"
assert_match 'cannot be mixed' "$out" "... because encrypted and plaintext cannot be mixed"
out=$($SR_CTL --json status)
assert_match "\"server\":\"tls://127.0.0.1:$BAD_TLS_PORT#$TLS_NAME\"" "$out" "the list did not change"

stop_stubresd sr
