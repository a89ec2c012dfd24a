#!/bin/bash
# test_doh.sh -- DNS-over-HTTPS in libstubres (src/lib/doh.c) against real
# servers: unbound's DoH (HTTP/2, POST and GET) and fakedns (HTTP/1.1:
# POST, GET and the JSON API at /resolve, and its fault modes).
#
# The client is tests/integration/doh_client, which drives one upstream of
# the library and prints every record field. Checked: every record type of
# the test zone by every method, 200 concurrent queries over one HTTP/2
# connection and one TLS handshake, the bootstrap lookup of a DoH host name
# (never the system resolver), certificate verdicts and their class errors,
# HTTP faults, and that no failing query outlives its timeout.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"

skip_unless nsd unbound openssl
DC=$BUILD_DIR/tests/integration/doh_client
[ -x "$DC" ] || fail "$DC is not built (make check builds it)"

start_nsd
start_unbound
start_fakedns fake

# The library may only ever use our own resolv.conf (loopback, nothing
# listening on port 53 there is ever asked: every test gives an address
# or a bootstrap server).
export STUBRES_RESOLV_CONF=$T/resolv.conf
echo "nameserver 127.0.0.1" >"$STUBRES_RESOLV_CONF"

CA="-c $CA_FILE -n $TLS_NAME"

# run_dc OUTFILE ARGS...: run doh_client, stdout to OUTFILE, stderr to
# OUTFILE.err; never fails (the exit status is in $DC_RC).
run_dc() {
    local out=$1
    shift
    DC_RC=0
    "$DC" "$@" >"$out" 2>"$out.err" || DC_RC=$?
}

# stat_of FILE KEY: a number from the stats line of doh_client's output.
stat_of() {
    sed -n "s/^stats .*\\b$2=\\([0-9]*\\).*/\\1/p" "$1"
}

# --- every record type, every method -----------------------------------------
QUERIES="a.example.test/A example.test/NS md.example.test/MD mf.example.test/MF
cname.example.test/CNAME example.test/SOA mb.example.test/MB mg.example.test/MG
mr.example.test/MR null.example.test/NULL wks.example.test/WKS
ptr.example.test/PTR hinfo.example.test/HINFO minfo.example.test/MINFO
mx.example.test/MX txt.example.test/TXT txt-multi.example.test/TXT
txt-escapes.example.test/TXT txt-empty.example.test/TXT rp.example.test/RP
afsdb.example.test/AFSDB x25.example.test/X25 isdn.example.test/ISDN
isdn-sa.example.test/ISDN rt.example.test/RT aaaa.example.test/AAAA
_sip._tcp.example.test/SRV srv.example.test/SRV naptr.example.test/NAPTR
cert.example.test/CERT unknown.example.test/TYPE65280"
NQUERIES=$(echo $QUERIES | wc -w)

# The answers as doh_client prints them (TTL masked: unbound counts down).
cat >"$T/expected" <<'EOF'
rr answer a.example.test A T ADDRESS=10.0.0.1
rr answer example.test NS T DNAME=ns1.example.test
rr answer example.test NS T DNAME=ns2.example.test
rr answer md.example.test MD T MADNAME=mailhost.example.test
rr answer mf.example.test MF T MADNAME=mailhost.example.test
rr answer cname.example.test CNAME T CNAME=www.example.test
rr answer example.test SOA T MNAME=ns1.example.test RNAME=hostmaster.example.test SERIAL=2024010101 REFRESH=3600 RETRY=900 EXPIRE=604800 MINIMUM=60
rr answer mb.example.test MB T MADNAME=mailhost.example.test
rr answer mg.example.test MG T MGMNAME=member.example.test
rr answer mr.example.test MR T NEWNAME=renamed.example.test
rr answer null.example.test NULL T NULL=deadbeef00ff
rr answer wks.example.test WKS T ADDRESS=10.0.0.1 PROTOCOL=6 SERVICEMAP=25 80
rr answer ptr.example.test PTR T PTRDNAME=www.example.test
rr answer hinfo.example.test HINFO T CPU=INTEL-386 OS=Linux
rr answer minfo.example.test MINFO T RMAILBX=rmail.example.test EMAILBX=email.example.test
rr answer mx.example.test MX T PREFERENCE=10 EXCHANGE=mail.example.test
rr answer mx.example.test MX T PREFERENCE=20 EXCHANGE=mail2.example.test
rr answer txt.example.test TXT T TXT=v=spf1 -all
rr answer txt-multi.example.test TXT T TXT=firstsecondthird
rr answer txt-escapes.example.test TXT T TXT=say "hi"back\\slashcaf\195\169\000\255
rr answer txt-empty.example.test TXT T TXT=
rr answer rp.example.test RP T MBOXDNAME=admin.example.test TXTDNAME=info.example.test
rr answer afsdb.example.test AFSDB T SUBTYPE=1 HOSTNAME=afsdb-host.example.test
rr answer x25.example.test X25 T PSDNADDRESS=311061700956
rr answer isdn.example.test ISDN T ISDNADDRESS=150862028003217
rr answer isdn-sa.example.test ISDN T ISDNADDRESS=150862028003217 SA=004
rr answer rt.example.test RT T PREFERENCE=10 INTERMEDIATE=relay.example.test
rr answer aaaa.example.test AAAA T ADDRESS=2001:db8::1
rr answer _sip._tcp.example.test SRV T PRIORITY=10 WEIGHT=60 PORT=5060 TARGET=sip.example.test
rr answer srv.example.test SRV T PRIORITY=0 WEIGHT=5 PORT=443 TARGET=www.example.test
rr answer naptr.example.test NAPTR T ORDER=100 PRIORITY=10 FLAGS=u SERVICES=E2U+sip REGEXP=!^.*$!sip:info@example.test! REPLACEMENT=.
rr answer cert.example.test CERT T TYPE=1 KEYTAG=12345 ALGORITHM=8 CERTIFICATE=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
rr answer unknown.example.test TYPE65280 T RDATA=\# 4 0a000001
EOF
sort "$T/expected" >"$T/expected.sorted"

# check_all_types WHAT METHOD URL: every query answered with NOERROR and
# exactly the expected answer records.
check_all_types() {
    local what=$1 method=$2 url=$3 f
    f=$T/types-$(echo "$what" | tr -c 'a-zA-Z0-9\n' '_')
    run_dc "$f" -m "$method" $CA "$url" $QUERIES
    [ "$DC_RC" = 0 ] || { cat "$f" "$f.err" >&2; fail "$what: doh_client exit status $DC_RC"; }
    assert_eq "$NQUERIES" "$(grep -c '^query .*: status=0 rcode=NOERROR ' "$f")" \
        "$what: all $NQUERIES queries answered NOERROR"
    awk '$1 == "rr" && $2 == "answer" { $5 = "T"; print }' "$f" | sort >"$f.answers"
    if ! diff -u "$T/expected.sorted" "$f.answers" >"$f.diff"; then
        cat "$f.diff" >&2
        fail "$what: the records differ from the zone"
    fi
    ok "$what: every record type of the class reference, field by field"
}

check_all_types "unbound DoH POST (HTTP/2)" post "$UNBOUND_DOH_URL"
check_all_types "unbound DoH GET (HTTP/2)" get "$UNBOUND_DOH_URL"
check_all_types "fakedns DoH POST (HTTP/1.1)" post "$FAKE_URL"
check_all_types "fakedns DoH GET (HTTP/1.1)" get "$FAKE_URL"
check_all_types "fakedns JSON API" json "$FAKE_JSON_URL"

# What went over the wire to fakedns: the right media types and methods,
# padded wire queries with ID 0 (RFC 8484 4.1), and one connection each.
assert_eq "$NQUERIES" "$(fakedns_stat fake http methods POST)" "fakedns saw $NQUERIES POST requests"
assert_eq $((2 * NQUERIES)) "$(fakedns_stat fake http methods GET)" "fakedns saw $((2 * NQUERIES)) GET requests (wire and JSON)"
assert_eq $((2 * NQUERIES)) "$(fakedns_stat fake http accept application/dns-message)" \
    "wire requests carry Accept: application/dns-message"
assert_eq "$NQUERIES" "$(fakedns_stat fake http accept application/dns-json)" \
    "JSON requests carry Accept: application/dns-json"
assert_eq "$NQUERIES" "$(fakedns_stat fake http content_types application/dns-message)" \
    "POST bodies are application/dns-message"
assert_eq 3 "$(fakedns_stat fake connections https)" \
    "fakedns: one HTTP/1.1 connection per run, kept alive across its queries"
sizes=$(json_get "$FAKE_STATS" padding sizes | tr -d '{}" ' | tr ',' '\n' | cut -d: -f1 | sort -u | tr '\n' ' ')
for s in $sizes; do
    [ $((s % 128)) = 0 ] || fail "a wire query of $s bytes is not padded to 128-byte blocks (RFC 8467)"
done
ok "wire queries are padded to 128-byte blocks (sizes: $sizes)"
ids=$(json_get "$FAKE_STATS" recent | tr ',' '\n' | grep -c '"id": 0' || true)
[ "$ids" -gt 0 ] || fail "no query reached fakedns with ID 0"
assert_eq 0 "$(json_get "$FAKE_STATS" recent | tr ',' '\n' | grep '"id": ' | grep -vc '"id": 0' || true)" \
    "every DoH query went out with ID 0 (RFC 8484 4.1)"

# NXDOMAIN with the SOA in the authority section, over every method.
for m in post get; do
    run_dc "$T/nx-$m" -m $m $CA "$UNBOUND_DOH_URL" nxdomain.example.test/A
    assert_match '^query nxdomain.example.test A: status=0 rcode=NXDOMAIN http=200 ' "$(cat "$T/nx-$m")" \
        "unbound $m: nxdomain.example.test is NXDOMAIN"
    assert_match '^rr authority example.test SOA [0-9]+ MNAME=ns1.example.test RNAME=hostmaster.example.test SERIAL=2024010101 ' \
        "$(cat "$T/nx-$m")" "unbound $m: the SOA is in the authority section"
done
run_dc "$T/nx-json" -m json $CA "$FAKE_JSON_URL" nxdomain.example.test/A
assert_match '^query nxdomain.example.test A: status=0 rcode=NXDOMAIN http=200 ' "$(cat "$T/nx-json")" \
    "JSON: Status 3 is NXDOMAIN"
assert_match '^rr authority example.test SOA 60 MNAME=ns1.example.test ' "$(cat "$T/nx-json")" \
    "JSON: the SOA of the Authority array is in the authority section"

# SNI (RFC 6066 3): tls_name, like DoT, even when the URL has an address;
# none without tls_name for an address (curl's rule for literals).
fakedns_reset fake
run_dc "$T/sni" $CA "$FAKE_URL" www.example.test/A
assert_eq 1 "$(fakedns_stat fake tls sni "$TLS_NAME")" "SNI is tls_name ($TLS_NAME) for https://127.0.0.1:..."
run_dc "$T/sni-none" -c "$CA_FILE" -k "$FAKE_URL" www.example.test/A
assert_eq 1 "$(fakedns_stat fake tls sni none)" "no SNI for an address URL without tls_name"

# JSON flags: CD goes out as cd=1 and comes back in the header.
run_dc "$T/json-cd" -m json -D $CA "$FAKE_JSON_URL" www.example.test/A
assert_match '^query www.example.test A: status=0 rcode=NOERROR http=200 flags=qr rd ra cd$' \
    "$(cat "$T/json-cd")" "JSON: CD=1 asked (cd=1) and reported"

# --- HTTP/2 multiplexing: 200 queries, 1 connection, 1 handshake ---------------
run_dc "$T/many" -s $CA -r 40 "$UNBOUND_DOH_URL" www.example.test/A mx.example.test/MX \
    txt.example.test/TXT aaaa.example.test/AAAA a.example.test/A
[ "$DC_RC" = 0 ] || { cat "$T/many" "$T/many.err" >&2; fail "200 concurrent queries: exit status $DC_RC"; }
assert_eq 200 "$(stat_of "$T/many" responses)" "200 concurrent POST queries to unbound all answered"
assert_eq 1 "$(stat_of "$T/many" connections)" "... over one connection (HTTP/2 streams)"
assert_eq 1 "$(stat_of "$T/many" handshakes)" "... with one TLS handshake"
run_dc "$T/many-get" -s -m get $CA -r 200 "$UNBOUND_DOH_URL" www.example.test/A
assert_eq "200 1 1" "$(stat_of "$T/many-get" responses) $(stat_of "$T/many-get" connections) $(stat_of "$T/many-get" handshakes)" \
    "200 concurrent GET queries: all answered, 1 connection, 1 handshake"
run_dc "$T/many-json" -s -m json $CA -r 50 "$FAKE_JSON_URL" www.example.test/A
assert_eq "50 1" "$(stat_of "$T/many-json" responses) $(stat_of "$T/many-json" connections)" \
    "50 concurrent JSON queries over HTTP/1.1: all answered, one kept-alive connection"

# --- re-entrancy: cancels and frees from callbacks (ASan build: no UAF, no leak) ---
run_dc "$T/cancel" -s -C $CA -r 100 "$UNBOUND_DOH_URL" www.example.test/A
assert_eq "0 50 1" "$DC_RC $(stat_of "$T/cancel" responses) $(stat_of "$T/cancel" connections)" \
    "50 of 100 multiplexed queries cancelled in flight: the others answered on the same connection"
run_dc "$T/free-mid" -F 50 -m get $CA -r 100 "$UNBOUND_DOH_URL" www.example.test/A
assert_eq "0 50" "$DC_RC $(grep -c ': status=0 ' "$T/free-mid")" \
    "the upstream freed inside the 50th answer's callback: the rest dropped, nothing else runs"
run_dc "$T/free-auth" -Z $CA -r 20 "$UNBOUND_DOH_URL" www.example.test/A
assert_eq "0 20" "$DC_RC $(grep -c ': dropped' "$T/free-auth")" \
    "the upstream freed inside on_ssl_server_authentication (inside libcurl): every query dropped"
run_dc "$T/free-json" -F 3 -l 3 -m json $CA -r 10 "$FAKE_JSON_URL" www.example.test/A
assert_eq "0 3" "$DC_RC $(grep -c ': status=0 ' "$T/free-json")" \
    "JSON over HTTP/1.1 with debug logging: freed inside the third answer"

# --- logging ---------------------------------------------------------------------
run_dc "$T/log3" -l 3 $CA "$UNBOUND_DOH_URL" www.example.test/A
log=$(cat "$T/log3.err")
assert_match '^log\[1\] Info: POST https://127\.0\.0\.1:[0-9]+/dns-query$' "$log" "level 1 logs the method and URL"
assert_match '^log\[1\] Info: HTTP/2 200, application/dns-message, [0-9]+ bytes$' "$log" "level 1 logs HTTP version, status, media type"
assert_match '^log\[3\] RequestHeaders: POST /dns-query HTTP/2$' "$log" "level 3 logs the request headers"
assert_match '^user-agent: stubresd/' "$log" "... with User-Agent stubresd/VERSION"
assert_match '^log\[3\] RequestBody: [0-9a-f]+ \(128 bytes\)$' "$log" "level 3 logs the request body (hex, padded to 128)"
assert_match '^log\[3\] ResponseHeaders: (HTTP/2 200|content-type: application/dns-message)' "$log" "level 3 logs the response headers"
assert_match '^log\[3\] ResponseBody: 0000' "$log" "level 3 logs the response body (ID 0 on the wire)"
assert_match '^ssl 127\.0\.0\.1#[0-9]+: handshake complete: TLSv1\.[23], .*ALPN h2' "$log" "on_ssl_status reports the handshake and ALPN h2"
assert_match '^auth 127\.0\.0\.1#[0-9]+: status=OK accept=1 subject=CN=dns\.example\.test$' "$log" \
    "on_ssl_server_authentication fires once with status OK"

# --- a DoH host name goes through the bootstrap server, never the system ------------
fakedns_reset fake
url="https://ns1.example.test:$UNBOUND_HTTPS_PORT/dns-query"
run_dc "$T/boot" $CA -b "127.0.0.1:$FAKE_PORT" "$url" www.example.test/A
assert_match '^rr answer www.example.test A [0-9]+ ADDRESS=10.0.0.1$' "$(cat "$T/boot")" \
    "DoH to $url: ns1.example.test resolved through the bootstrap server"
[ "$(fakedns_stat fake qnames ns1.example.test.)" -ge 1 ] ||
    fail "the bootstrap server (fakedns) was never asked for ns1.example.test"
ok "the bootstrap server was asked for the DoH host name"
run_dc "$T/boot-nx" $CA -t 3000 -b "127.0.0.1:$FAKE_PORT" \
    "https://nowhere.example.test:$UNBOUND_HTTPS_PORT/dns-query" www.example.test/A
assert_match '^query www.example.test A: error=11001 ' "$(cat "$T/boot-nx")" \
    "a DoH host name that does not resolve: error 11001 (host not found)"
# Without -n the certificate (dns.example.test) must match the URL's host.
run_dc "$T/boot-name" -c "$CA_FILE" -b "127.0.0.1:$FAKE_PORT" "$url" www.example.test/A
assert_match '^query www.example.test A: error=280 ' "$(cat "$T/boot-name")" \
    "the certificate is checked against the URL's host name by default (280)"

# --- IPv6 -------------------------------------------------------------------------
if [ "$HAVE_IPV6" = 1 ]; then
    run_dc "$T/v6" $CA "https://[::1]:$UNBOUND_HTTPS_PORT/dns-query" aaaa.example.test/AAAA
    assert_match '^rr answer aaaa.example.test AAAA [0-9]+ ADDRESS=2001:db8::1$' "$(cat "$T/v6")" \
        "DoH to unbound on [::1]"
fi

# --- faults: the right class error, never past the timeout ----------------------------
TMO=2000
# expect_error WHAT CODE DETAIL ARGS...: the query fails with CODE (an
# ERE) and a detail that DETAIL (an ERE) matches from its start, within
# TMO + 1.5 s.
expect_error() {
    local what=$1 code=$2 detail=$3 t0 t1 ms
    shift 3
    t0=$(date +%s%N)
    run_dc "$T/fault" -t "$TMO" "$@"
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    assert_match "^query [^ ]+ [A-Z0-9]+: error=($code) http=[0-9]+ detail=$detail" "$(cat "$T/fault")" "$what"
    [ "$ms" -le $((TMO + 1500)) ] || fail "$what: took $ms ms, the timeout is $TMO ms"
}

for m in http500 http404 http415; do
    fakedns_mode fake "$m"
    for meth in post get; do
        expect_error "fakedns $m, $meth: error 11003 with detail HTTP ${m#http}" 11003 "HTTP ${m#http}\$" \
            -m $meth $CA "$FAKE_URL" www.example.test/A
    done
    expect_error "fakedns $m, JSON: error 11003 with detail HTTP ${m#http}" 11003 "HTTP ${m#http}\$" \
        -m json $CA "$FAKE_JSON_URL" www.example.test/A
done
fakedns_mode fake http500
run_dc "$T/h500" $CA "$FAKE_URL" www.example.test/A
assert_match ': error=11003 http=500 ' "$(cat "$T/h500")" \
    "the HTTP status reaches the caller (sr_xfer_info_t.http_status)"

fakedns_mode fake redirect
expect_error "redirect: not followed, error 11003 HTTP 302" 11003 "HTTP 302 \\(redirect to https://.* not followed\\)" \
    $CA "$FAKE_URL" www.example.test/A
expect_error "redirect (JSON): not followed" 11003 "HTTP 302" -m json $CA "$FAKE_JSON_URL" www.example.test/A

fakedns_mode fake badctype
expect_error "Content-Type text/html for wire DoH: error 11003" 11003 "Content-Type text/html" \
    $CA "$FAKE_URL" www.example.test/A
expect_error "Content-Type text/html for JSON: error 11003" 11003 "Content-Type text/html.* is not JSON" \
    -m json $CA "$FAKE_JSON_URL" www.example.test/A

fakedns_mode fake jsonmissing
expect_error "JSON without Status: error 11003 (FORMERR class)" 11003 "JSON: no Status" \
    -m json $CA "$FAKE_JSON_URL" www.example.test/A
fakedns_mode fake truncated-json
expect_error "truncated JSON: error 11003 (FORMERR class)" 11003 "JSON: not JSON" \
    -m json $CA "$FAKE_JSON_URL" www.example.test/A

fakedns_mode fake wrongid
expect_error "a reply with another ID: error 11003, ignored and counted" 11003 "response does not match" \
    $CA "$FAKE_URL" www.example.test/A
fakedns_mode fake wrongquestion
expect_error "a reply for another question: error 11003" 11003 "response does not match" \
    $CA "$FAKE_URL" www.example.test/A
expect_error "a JSON answer for another question: error 11003" 11003 "JSON: Question name decoy" \
    -m json $CA "$FAKE_JSON_URL" www.example.test/A
fakedns_mode fake garbage
expect_error "a random body: error 119 or 11003" '119|11003' "" $CA "$FAKE_URL" www.example.test/A
expect_error "a random JSON body: error 11003" 11003 "JSON: not JSON" -m json $CA "$FAKE_JSON_URL" www.example.test/A
fakedns_mode fake closemid
expect_error "half a body, then close: a connection error" '10053|10054' "" $CA "$FAKE_URL" www.example.test/A
fakedns_mode fake drop
expect_error "no response at all: error 10060 at the timeout" 10060 "" $CA "$FAKE_URL" www.example.test/A
expect_error "no response at all (absolute timeout): error 10060" 10060 "" -a $CA "$FAKE_URL" www.example.test/A
fakedns_mode fake servfail
run_dc "$T/servfail" $CA "$FAKE_URL" www.example.test/A
assert_match '^query www.example.test A: status=0 rcode=SERVFAIL http=200 ' "$(cat "$T/servfail")" \
    "SERVFAIL is an answer, not a transport error"
fakedns_mode fake good

port=$(free_port)
expect_error "nothing listening: error 10061" 10061 "" $CA "https://127.0.0.1:$port/dns-query" www.example.test/A

# --- certificates ---------------------------------------------------------------------
start_fakedns wrongname --cert "$CERT_DIR/wrongname.pem" --key "$CERT_DIR/wrongname.key"
expect_error "a certificate for another name: error 280" 280 "the server's certificate was not accepted" \
    $CA "$WRONGNAME_URL" www.example.test/A
assert_match 'status=certificate name mismatch accept=0' "$(cat "$T/fault.err")" \
    "on_ssl_server_authentication sees the name mismatch"
assert_eq 0 "$(fakedns_stat wrongname http requests)" "no HTTP request went to the server that failed authentication"
run_dc "$T/wn-accept" $CA -x accept "$WRONGNAME_URL" www.example.test/A
assert_match '^rr answer www.example.test A [0-9]+ ADDRESS=10.0.0.1$' "$(cat "$T/wn-accept")" \
    "an on_ssl_server_authentication handler may accept it anyway"
run_dc "$T/wn-name" -c "$CA_FILE" -n "$WRONG_TLS_NAME" "$WRONGNAME_URL" www.example.test/A
assert_match '^rr answer www.example.test A ' "$(cat "$T/wn-name")" \
    "tls_name $WRONG_TLS_NAME matches that certificate"
run_dc "$T/reject" $CA -x reject "$UNBOUND_DOH_URL" www.example.test/A www.example.test/AAAA a.example.test/A
assert_eq 3 "$(grep -c ': error=280 ' "$T/reject")" \
    "a handler that rejects a good certificate fails every query with 280"
assert_eq "1 1 1" "$(grep -c '^auth ' "$T/reject.err") $(stat_of "$T/reject" connections) $(stat_of "$T/reject" handshakes)" \
    "queries waiting for the rejected connection share its verdict (one event, one connection)"
run_dc "$T/reject-seq" $CA -x reject -j 1 "$UNBOUND_DOH_URL" www.example.test/A www.example.test/AAAA
assert_eq "2 2 2" "$(grep -c '^auth ' "$T/reject-seq.err") $(stat_of "$T/reject-seq" connections) $(grep -c ': error=280 ' "$T/reject-seq")" \
    "a rejected connection is not reused: the next query connects and asks again"

start_fakedns selfsigned --cert "$CERT_DIR/selfsigned.pem" --key "$CERT_DIR/selfsigned.key"
expect_error "a self-signed certificate: error 275 (chain)" 275 "the server's certificate was not accepted" \
    $CA "$SELFSIGNED_URL" www.example.test/A
run_dc "$T/ss-insecure" -k -n "$TLS_NAME" "$SELFSIGNED_URL" www.example.test/A
assert_match '^rr answer www.example.test A ' "$(cat "$T/ss-insecure")" "insecure accepts the self-signed certificate"
pin=$(openssl x509 -in "$CERT_DIR/selfsigned.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A)
run_dc "$T/ss-pin" -P "$pin" "$SELFSIGNED_URL" www.example.test/A
assert_match '^rr answer www.example.test A ' "$(cat "$T/ss-pin")" "a matching SPKI pin authenticates the self-signed server"
expect_error "a pin that does not match: error 280" 280 "" \
    -P "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" $CA "$UNBOUND_DOH_URL" www.example.test/A

start_fakedns expired --cert "$CERT_DIR/expired.pem" --key "$CERT_DIR/expired.key"
expect_error "an expired certificate: error 275/280" '275|280' "the server's certificate was not accepted" \
    $CA "$EXPIRED_URL" www.example.test/A

run_dc "$T/noca" -c "$T/does-not-exist.pem" "$UNBOUND_DOH_URL" www.example.test/A
assert_match '^upstream: error=271 ' "$(cat "$T/noca")" "an unreadable ca_file: error 271 from sr_upstream_new"
run_dc "$T/http" -c "$CA_FILE" "http://127.0.0.1:$UNBOUND_HTTPS_PORT/dns-query" www.example.test/A
assert_match '^upstream: error=' "$(cat "$T/http")" "a plain http:// URL is refused"
