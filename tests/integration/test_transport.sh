#!/bin/bash
# test_transport.sh -- the query engine (sr_upstream) against unbound over
# UDP, TCP and DoT: answers, TC=1 fallback to TCP, certificate checks, 1000
# concurrent queries per transport, and DoT connection reuse (at most 2
# TLS handshakes for 1000 queries, the size of the connection pool).
set -eu
. "$(dirname "$0")/lib.sh"

skip_unless nsd unbound
CLIENT=$BUILD_DIR/tests/integration/xport_client
[ -x "$CLIENT" ] || skip "$CLIENT is not built (make first)"
# Never the machine's resolv.conf (only host names would use it).
export STUBRES_RESOLV_CONF=$T/resolv.conf
echo "nameserver 127.0.0.1" >"$STUBRES_RESOLV_CONF"

start_unbound
A="-s 127.0.0.1 -p $UNBOUND_PORT"
TLS="-s 127.0.0.1 -p $UNBOUND_TLS_PORT --ca $CA_FILE --tls-name $TLS_NAME"

# field NAME LINE: the value of NAME=VALUE in a summary line
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }

# --- one query per transport ----------------------------------------------
for p in udp tcp; do
    out=$("$CLIENT" -P $p $A www.example.test)
    assert_match '^rcode=0 proto='$p' tc=0 answers=1$' "$out" "$p: www.example.test answered"
    assert_match '^10\.0\.0\.1$' "$out" "$p: www.example.test A is 10.0.0.1"
done
out=$("$CLIENT" -P tls $TLS www.example.test)
assert_match '^rcode=0 proto=tls tc=0 answers=1$' "$out" "tls: www.example.test answered"
assert_match '^10\.0\.0\.1$' "$out" "tls: www.example.test A is 10.0.0.1"
assert_match 'handshakes=1 ' "$out" "tls: one full handshake"
out=$("$CLIENT" -P udp $A -t AAAA www.example.test)
assert_match '^2001:db8::1$' "$out" "udp: www.example.test AAAA is 2001:db8::1"

# --- truncation -------------------------------------------------------------
# big.example.test: 40 A records, over 512 bytes without EDNS.
out=$("$CLIENT" -P udp $A --edns 0 big.example.test)
assert_match '^rcode=0 proto=udp tc=1 answers=0$' "$out" \
    "udp without EDNS: big.example.test is truncated"
out=$("$CLIENT" -P udp $A --edns 0 --fallback big.example.test)
assert_match '^rcode=0 proto=tcp tc=0 answers=40$' "$out" \
    "udp with fallback: big.example.test comes whole over TCP"
assert_match 'connections=1 ' "$out" "udp with fallback: one TCP connection"
out=$("$CLIENT" -P tcp $A big.example.test)
assert_match '^rcode=0 proto=tcp tc=0 answers=40$' "$out" "tcp: big.example.test has 40 A"

# --- certificates -------------------------------------------------------------
if out=$("$CLIENT" -P tls -s 127.0.0.1 -p "$UNBOUND_TLS_PORT" --ca "$CA_FILE" \
    --tls-name "$WRONG_TLS_NAME" www.example.test 2>&1); then
    fail "tls: a wrong authentication name was accepted: $out"
fi
assert_match '\[280\]' "$out" "tls: wrong name rejected with 280"
if out=$("$CLIENT" -P tls -s 127.0.0.1 -p "$UNBOUND_TLS_PORT" --ca "$CERT_DIR/selfsigned.pem" \
    --tls-name "$TLS_NAME" www.example.test 2>&1); then
    fail "tls: a certificate from an untrusted CA was accepted: $out"
fi
assert_match '\[275\]' "$out" "tls: untrusted chain rejected with 275"

# --- 1000 concurrent queries per transport --------------------------------
for p in udp tcp tls; do
    case $p in tls) args=$TLS ;; *) args=$A ;; esac
    # shellcheck disable=SC2086
    out=$("$CLIENT" -P $p $args -n 1000 -c 1000 --expect 10.0.0.1 --timeout 10000 \
        www.example.test) || fail "$p: 1000 concurrent queries: $out"
    assert_eq 1000 "$(field ok "$out")" "$p: 1000 concurrent queries all answered"
    case $p in
        udp) assert_eq 0 "$(field connections "$out")" "udp: no connections" ;;
        tcp) assert_match 'connections=[12] ' "$out" "tcp: at most 2 connections (the pool)" ;;
        tls)
            h=$(field handshakes "$out")
            r=$(field resumed "$out")
            [ $((h + r)) -le 2 ] || fail "tls: $h full + $r resumed handshakes for 1000 queries"
            ok "tls: $h full + $r resumed handshakes for 1000 queries (connection reuse)"
            ;;
    esac
done

# --- sustained pipelining: 5000 queries, 100 in flight, one pool ------------
out=$("$CLIENT" -P tls $TLS -n 5000 -c 100 --expect 10.0.0.1 www.example.test) ||
    fail "tls: 5000 queries: $out"
assert_eq 5000 "$(field ok "$out")" "tls: 5000 queries with 100 in flight"
assert_eq 1 "$(field handshakes "$out")" "tls: over one TLS connection"
