#!/bin/bash
# test_harness.sh -- the integration harness works with real clients.
#
# Starts nsd (the test zones), unbound in front of it (UDP, TCP, DoT, DoH)
# and fakedns (servers/fakedns.py), then checks with dig, kdig and curl
# what a user would check: answers, the TC bit, NXDOMAIN, DoT and DoH with
# the test CA, the JSON API, fault modes, wrong certificates, and that
# nsd/unbound and fakedns serve the same zone data. No stubresd code is
# involved: when this test fails, the harness or a peer is broken.
# $DIG_OPTS, $KDIG_OPTS and the command prefixes below split on purpose.
# shellcheck disable=SC2086,SC2119
set -eu
. "$(dirname "$0")/lib.sh"

skip_unless nsd unbound dig kdig curl openssl
start_nsd
start_unbound
start_fakedns fake

U="dig $DIG_OPTS @127.0.0.1 -p $UNBOUND_PORT"
F="dig $DIG_OPTS @127.0.0.1 -p $FAKE_PORT"
KTLS="kdig $KDIG_OPTS +tls-ca=$CA_FILE +tls-hostname=$TLS_NAME"
CURL="curl -sS --max-time 5 --cacert $CA_FILE"

# --- unbound over UDP and TCP -----------------------------------------------
out=$($U mx.example.test MX +short | sort)
assert_eq "10 mail.example.test.
20 mail2.example.test." "$out" "unbound over UDP: mx.example.test MX is 10 mail, 20 mail2"

out=$($U big.example.test A +noedns +ignore)
assert_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" \
    "unbound over UDP without EDNS: big.example.test sets TC (answer over 512 bytes)"
assert_match 'ANSWER: 0,' "$out" "the truncated UDP answer carries no records"
out=$($U big.example.test A +tcp +short | wc -l)
assert_eq 40 "$out" "unbound over TCP: big.example.test has all 40 A records"
out=$($U huge.example.test A +ignore)
assert_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" \
    "unbound over UDP with EDNS 1232: huge.example.test sets TC"

out=$($U nxdomain.example.test A)
assert_match 'status: NXDOMAIN' "$out" "unbound: nxdomain.example.test is NXDOMAIN"
# (unbound counts the TTL down from its negative cache: 60 or a bit less)
assert_match '^example\.test\.[[:space:]]+([1-5]?[0-9]|60)[[:space:]]+IN[[:space:]]+SOA' "$out" \
    "unbound: the NXDOMAIN carries the zone's SOA in the authority section"
out=$(dig $DIG_OPTS @127.0.0.1 -p "$NSD_PORT" nxdomain.example.test A +noall +authority)
assert_match '^example\.test\.[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA' "$out" \
    "nsd: the NXDOMAIN's SOA has TTL 60 (SOA MINIMUM, RFC 2308)"
out=$($U nodata.example.test A)
assert_match 'status: NOERROR.*' "$out" "unbound: nodata.example.test A is NOERROR"
assert_match 'ANSWER: 0,' "$out" "unbound: nodata.example.test A has no answer (NODATA)"

out=$($U chain1.example.test A +short | tail -n 1)
assert_eq 10.0.0.1 "$out" "unbound chases chain1 -> chain2 -> chain3 -> www"
out=$($U -x 10.0.0.1 +short)
assert_eq www.example.test. "$out" "unbound: reverse lookup of 10.0.0.1"
out=$($U -x 2001:db8::1 +short)
assert_eq www.example.test. "$out" "unbound: reverse lookup of 2001:db8::1"
out=$($U www.example.com A)
assert_match 'status: REFUSED' "$out" "unbound refuses names outside the test zones (nothing leaves loopback)"
if [ "$HAVE_IPV6" = 1 ]; then
    out=$(dig $DIG_OPTS @::1 -p "$UNBOUND_PORT" www.example.test AAAA +short)
    assert_eq 2001:db8::1 "$out" "unbound on ::1: www.example.test AAAA"
fi

# --- unbound over DoT and DoH -------------------------------------------------
out=$($KTLS @127.0.0.1 -p "$UNBOUND_TLS_PORT" mx.example.test MX +short | sort)
assert_eq "10 mail.example.test.
20 mail2.example.test." "$out" "kdig over DoT to unbound with the test CA and name $TLS_NAME"
if out=$(kdig $KDIG_OPTS +tls-ca="$CA_FILE" +tls-hostname="$WRONG_TLS_NAME" \
    @127.0.0.1 -p "$UNBOUND_TLS_PORT" www.example.test 2>&1); then
    fail "kdig accepted unbound's certificate for the wrong name $WRONG_TLS_NAME"
fi
assert_match 'handshake failed \(Error in the certificate' "$out" \
    "kdig over DoT rejects unbound's certificate when asked for $WRONG_TLS_NAME"
out=$($KTLS @127.0.0.1 -p "$UNBOUND_HTTPS_PORT" +https=/dns-query mx.example.test MX +short | sort)
assert_eq "10 mail.example.test.
20 mail2.example.test." "$out" "kdig over DoH (HTTP/2, POST) to unbound $UNBOUND_DOH_URL"
out=$($KTLS @127.0.0.1 -p "$UNBOUND_HTTPS_PORT" +https=/dns-query +https-get www.example.test A +short)
assert_eq 10.0.0.1 "$out" "kdig over DoH (HTTP/2, GET) to unbound"

# --- the same data from nsd/unbound and fakedns --------------------------------
# Every record type of the class reference, through unbound (nsd's parser)
# and from fakedns (dnspython's parser): the same RRsets.
for nt in a:A example.test:NS md:MD mf:MF cname:CNAME example.test:SOA mb:MB \
    mg:MG mr:MR null:NULL wks:WKS ptr:PTR hinfo:HINFO minfo:MINFO mx:MX \
    txt:TXT txt-multi:TXT txt-escapes:TXT txt-empty:TXT rp:RP afsdb:AFSDB \
    x25:X25 isdn:ISDN isdn-sa:ISDN rt:RT aaaa:AAAA _sip._tcp:SRV srv:SRV \
    naptr:NAPTR cert:CERT unknown:TYPE65280 ttl3:A; do
    name=${nt%%:*}
    [ "$name" = example.test ] || name=$name.example.test
    type=${nt#*:}
    a=$($U "$name" "$type" +noall +answer +nottlid | sort)
    b=$($F "$name" "$type" +noall +answer +nottlid | sort)
    [ -n "$a" ] || fail "unbound/nsd has no $type record for $name (is zone/example.test.zone loaded? see nsd.log)"
    [ "$a" = "$b" ] || fail "$name $type differs between unbound/nsd and fakedns:
  unbound: $a
  fakedns: $b"
done
ok "nsd (through unbound) and fakedns serve the same RRsets for every record type"

# --- fakedns: UDP, TCP, DoT, JSON API -------------------------------------------
out=$($F huge.example.test A +ignore)
assert_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" "fakedns over UDP: huge.example.test sets TC"
out=$($F huge.example.test A +tcp +short | wc -l)
assert_eq 100 "$out" "fakedns over TCP: huge.example.test has all 100 A records"
out=$($KTLS @127.0.0.1 -p "$FAKE_TLS_PORT" www.example.test A +short)
assert_eq 10.0.0.1 "$out" "kdig over DoT to fakedns"
assert_eq 1 "$(fakedns_stat fake queries tls)" "fakedns counted one DoT query"
assert_eq 1 "$(fakedns_stat fake tls handshakes)" "fakedns counted one TLS handshake"
assert_eq 128 "$(json_get "$FAKE_STATS" recent -1 len)" \
    "kdig's DoT query reached fakedns padded to 128 bytes (RFC 8467 block padding)"

out=$($CURL -H 'accept: application/dns-json' "$FAKE_JSON_URL?name=mx.example.test&type=MX")
echo "$out" >"$T/resolve-mx.json"
assert_eq 0 "$(json_get "$T/resolve-mx.json" Status)" "JSON API: mx.example.test MX has Status 0"
assert_eq "10 mail.example.test." "$(json_get "$T/resolve-mx.json" Answer 0 data)" \
    "JSON API: the first MX is \"10 mail.example.test.\" (presentation form)"
assert_eq 15 "$(json_get "$T/resolve-mx.json" Answer 0 type)" "JSON API: the answer type is 15 (MX)"
out=$($CURL -H 'accept: application/dns-json' "$FAKE_JSON_URL?name=nxdomain.example.test&type=A")
echo "$out" >"$T/resolve-nx.json"
assert_eq 3 "$(json_get "$T/resolve-nx.json" Status)" "JSON API: nxdomain.example.test has Status 3 (NXDOMAIN)"

# --- fakedns fault modes ----------------------------------------------------------
fakedns_mode fake servfail
out=$($F www.example.test A)
assert_match 'status: SERVFAIL' "$out" "fakedns mode servfail: dig sees SERVFAIL"

fakedns_mode fake tc
fakedns_reset fake
out=$($F www.example.test A +ignore)
assert_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" "fakedns mode tc: dig sees the tc flag over UDP"
assert_match 'ANSWER: 0,' "$out" "fakedns mode tc: no records over UDP"
out=$($F www.example.test A +short)
assert_eq 10.0.0.1 "$out" "fakedns mode tc: dig retries over TCP and gets the answer"
assert_eq 2 "$(fakedns_stat fake queries udp)" "fakedns mode tc: two queries over UDP"
assert_eq 1 "$(fakedns_stat fake queries tcp)" "fakedns mode tc: one query over TCP"

fakedns_mode fake http500
out=$($CURL -o /dev/null -w '%{http_code}' -H 'accept: application/dns-json' \
    "$FAKE_JSON_URL?name=www.example.test&type=A")
assert_eq 500 "$out" "fakedns mode http500: curl sees HTTP status 500"

fakedns_mode fake servfail count=1
out=$($F www.example.test A)
assert_match 'status: SERVFAIL' "$out" "fakedns count=1: the first query gets the fault"
out=$($F www.example.test A +short)
assert_eq 10.0.0.1 "$out" "fakedns count=1: the next query is answered"
fakedns_mode fake good

# --- wrong certificates -------------------------------------------------------------
for c in wrongname expired selfsigned; do
    # what curl says about each (its exit status is 60 for all)
    case $c in
        wrongname) want="no alternative certificate subject name matches" ;;
        expired) want="certificate has expired" ;;
        selfsigned) want="self-signed certificate" ;;
    esac
    start_fakedns "bad_$c" --cert "$CERT_DIR/$c.pem" --key "$CERT_DIR/$c.key"
    if out=$($KTLS @127.0.0.1 -p "$FAKEDNS_TLS_PORT" www.example.test 2>&1); then
        fail "kdig accepted fakedns's $c certificate"
    fi
    assert_match 'handshake failed \(Error in the certificate' "$out" \
        "kdig over DoT rejects the $c certificate"
    fakedns_wait_stat "bad_$c" 1 tls failures
    ok "fakedns bad_$c counted the failed handshake of kdig"
    rc=0
    out=$($CURL -o /dev/null "$FAKEDNS_JSON_URL?name=www.example.test&type=A" 2>&1) || rc=$?
    assert_eq 60 "$rc" "curl rejects the $c certificate (exit status 60)"
    assert_match "$want" "$out" "curl says why: $want"
done
