#!/bin/bash
# test_query_dig.sh -- stubres-query does what a dig or kdig user expects.
#
# The commands of the README and of stubres-query(1) against unbound and
# fakedns on loopback, with dig 9.18 as the anchor: an https:// or tls://
# server names its protocol (and a -P that contradicts it is an error
# naming the flag), a TC=1 answer is retried over TCP (--ignore-tc keeps
# it), dig's tries and fractional timeouts, dig's text (quoted strings,
# header ID as on the wire, OPT pseudo-section with DO and NSID, Query
# time, SERVER, WHEN, MSG SIZE), the added --json keys and the JSON error
# object, -v, the reason of a rejected certificate, --insecure's warning,
# and --help/--version of every program.
set -eu
. "$(dirname "$0")/lib.sh"

skip_unless nsd unbound dig openssl
Q=$(sr_tool stubres-query)
[ -x "$Q" ] || fail "$Q is missing: build it first"

printf 'nameserver 127.0.0.1\n' >"$T/resolv.conf"
export STUBRES_RESOLV_CONF=$T/resolv.conf

start_unbound
start_fakedns fk
start_fakedns fdrop --mode drop
U="-s 127.0.0.1"

# run OUT ARGS...: stubres-query ARGS, stdout in $T/OUT.out, stderr in
# $T/OUT.err, the exit status in $rc.
run() {
    local out=$1
    shift
    rc=0
    "$Q" "$@" >"$T/$out.out" 2>"$T/$out.err" || rc=$?
}

# --- the server's scheme names the protocol (kdig +https, +tls) -------------
# The README's DoH example, with the test CA: no -P needed.
run doh --ca-file "$CA_FILE" -s "$UNBOUND_DOH_URL" --doh-method get --json a.example.test
assert_eq 0 "$rc" "-s https://HOST/dns-query without -P: exit 0 ($(cat "$T/doh.err"))"
assert_eq "HTTPS 10.0.0.1" \
    "$(json_get "$T/doh.out" protocol) $(json_get "$T/doh.out" records 0 fields 0 value)" \
    "-s https://... is DNS over HTTPS (protocol 3): the answer came over HTTPS"
run dot --ca-file "$CA_FILE" -s "tls://127.0.0.1:$UNBOUND_TLS_PORT#$TLS_NAME" a.example.test
assert_eq 0 "$rc" "-s tls://HOST:PORT#NAME without -P: exit 0 ($(cat "$T/dot.err"))"
assert_match "^;; SERVER: 127\.0\.0\.1#$UNBOUND_TLS_PORT\(tls://127\.0\.0\.1:$UNBOUND_TLS_PORT#$TLS_NAME\) \(TLS\)$" \
    "$(cat "$T/dot.out")" "-s tls://... is DNS over TLS: SERVER names TLS"
run contra -s "$UNBOUND_DOH_URL" -P udp a.example.test
assert_eq 1 "$rc" "-s https://... -P udp: exit 1"
assert_match "^stubres-query: \[10022\] -P udp contradicts the server 'https://.*': use -P https or no -P$" \
    "$(cat "$T/contra.err")" "a contradicting -P is an error naming the flag (-P https)"
run agree -s "$UNBOUND_DOH_URL" -P https --ca-file "$CA_FILE" --json a.example.test
assert_eq "0 HTTPS" "$rc $(json_get "$T/agree.out" protocol)" "-s https://... -P https agrees: answered over HTTPS"

# --- TC=1 over UDP: retried over TCP, as dig does ---------------------------
fakedns_mode fk tc
fakedns_reset fk
run tc $U -p "$FK_PORT" a.example.test
assert_eq 0 "$rc" "a TC=1 answer: exit 0"
assert_eq ";; Truncated, retrying in TCP mode." "$(head -n 1 "$T/tc.out")" \
    "the first line says it retries over TCP, as dig's does"
assert_match "^a\.example\.test	300	IN	A	10\.0\.0\.1$" "$(cat "$T/tc.out")" "the TCP answer has the record"
assert_match "^;; SERVER: 127\.0\.0\.1#$FK_PORT\(127\.0\.0\.1\) \(TCP\)$" "$(cat "$T/tc.out")" \
    "SERVER names the transport that answered: TCP"
assert_eq "1 1" "$(fakedns_stat fk queries udp) $(fakedns_stat fk queries tcp)" \
    "fakedns saw the query once over UDP, then once over TCP"
run tcj $U -p "$FK_PORT" --json a.example.test
assert_eq "TCP false" "$(json_get "$T/tcj.out" protocol) $(json_get "$T/tcj.out" truncated)" \
    "--json: protocol TCP, truncated false after the retry"
run ign $U -p "$FK_PORT" --ignore-tc a.example.test
assert_eq 0 "$rc" "--ignore-tc: exit 0"
assert_no_match "Truncated" "$(cat "$T/ign.out")" "--ignore-tc: no retry"
assert_match "^;; flags: qr aa tc rd ra; QUERY: 1, ANSWER: 0," "$(cat "$T/ign.out")" \
    "--ignore-tc: the truncated answer, tc among the flags"
assert_match "^;; SERVER: 127\.0\.0\.1#$FK_PORT\(127\.0\.0\.1\) \(UDP\)$" "$(cat "$T/ign.out")" \
    "--ignore-tc: SERVER names UDP"
fakedns_mode fk good

# --- tries and fractional timeouts, as dig's +tries and +time ---------------
fakedns_reset fdrop
run slow $U -p "$FDROP_PORT" --timeout 0.3 --tries 2 a.example.test
assert_eq 1 "$rc" "a silent server: exit 1"
assert_match '^stubres-query: \[10060\] ' "$(cat "$T/slow.err")" "a silent server: [10060]"
fakedns_wait_stat fdrop 2 queries udp
ok "--timeout 0.3 --tries 2: the query was sent twice over UDP"
fakedns_reset fdrop
run slow3 $U -p "$FDROP_PORT" --timeout 0.2 --tries 3 --json a.example.test
assert_eq 1 "$rc" "--tries 3 --json against a silent server: exit 1"
fakedns_wait_stat fdrop 3 queries udp
ok "--timeout 0.2 --tries 3: three datagrams"
assert_eq '{"error": {"code": 10060, "message": "Connection timed out. (no answer within the timeout)"}}' \
    "$(cat "$T/slow3.out")" "--json: the error is a JSON object on stdout"
run badtmo --timeout 0.5s --json a.example.test
assert_eq 1 "$rc" "--timeout 0.5s: exit 1"
assert_eq 10022 "$(json_get "$T/badtmo.out" error code)" "--timeout 0.5s: error 10022 as JSON"
assert_match "timeout: '0\.5s' is not a number of seconds" "$(json_get "$T/badtmo.out" error message)" \
    "--timeout 0.5s: the message names the option"
run badtries --tries 0 a.example.test
assert_match "^stubres-query: \[10022\] tries: '0' is not a number from 1 to 100$" \
    "$(cat "$T/badtries.err")" "--tries 0 is refused"

# --- dig's text ----------------------------------------------------------------
fakedns_reset fk
run text $U -p "$FK_PORT" -t MX mx.example.test
out=$(cat "$T/text.out")
wire_id=$(json_get "$FK_STATS" recent -1 id)
assert_match "^;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: $wire_id$" "$out" \
    "the header shows the ID the query carried on the wire ($wire_id)"
assert_match '^;; flags: qr aa rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: [0-9]+$' "$out" \
    "flags and counts"
assert_match '^; EDNS: version: 0, flags:; udp: [0-9]+$' "$out" "the OPT pseudo-section"
assert_match '^;; Query time: [0-9]+ msec$' "$out" ";; Query time: N msec"
assert_match "^;; SERVER: 127\.0\.0\.1#$FK_PORT\(127\.0\.0\.1\) \(UDP\)$" "$out" ";; SERVER: ADDR#PORT(NAME) (UDP)"
assert_match '^;; WHEN: [A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [A-Z]+ [0-9]{4}$' "$out" \
    ";; WHEN: in dig's date format"
assert_match '^;; MSG SIZE  rcvd: [0-9]+$' "$out" ";; MSG SIZE  rcvd: N"
# The RDATA of every type with character-strings exactly as dig prints it.
for nt in txt:TXT txt-multi:TXT txt-escapes:TXT txt-empty:TXT hinfo:HINFO x25:X25 isdn:ISDN \
    isdn-sa:ISDN naptr:NAPTR mx:MX; do
    name=${nt%%:*}.example.test
    type=${nt#*:}
    want=$(dig $DIG_OPTS @127.0.0.1 -p "$UNBOUND_PORT" "$name" "$type" +short | sed 's/\.$//' | sort)
    got=$("$Q" $U -p "$UNBOUND_PORT" -t "$type" "$name" |
        awk -F'\t' -v t="$type" '$1 !~ /^;/ && $4 == t { print $5 }' | sed 's/\.$//' | sort)
    [ -n "$want" ] || fail "dig gives nothing for $name $type"
    assert_eq "$want" "$got" "$name $type: the RDATA as dig prints it"
done

# --dnssec sets DO; unbound echoes it
fakedns_reset fk
run dnssec $U -p "$UNBOUND_PORT" --dnssec a.example.test
assert_match '^; EDNS: version: 0, flags: do; udp: [0-9]+$' "$(cat "$T/dnssec.out")" \
    "--dnssec: the answer's OPT has DO (unbound echoes it)"
run dnssec2 $U -p "$FK_PORT" --dnssec a.example.test
assert_eq 1 "$(fakedns_stat fk edns do_bit)" "--dnssec: the query carried DO"
run nodnssec $U -p "$FK_PORT" a.example.test
assert_eq 1 "$(fakedns_stat fk edns do_bit)" "without --dnssec: no DO"

# --nsid: a server that answers NSID (RFC 5001) only to those who ask
NSID_PORT=$(free_port)
cat >"$T/nsid.py" <<'EOF'
import socket, sys
import dns.edns, dns.message, dns.rrset
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("nsid server ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    q = dns.message.from_wire(data)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "10.0.0.1"))
    asked = any(o.otype == dns.edns.NSID for o in q.options)
    r.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(dns.edns.NSID, b"ns-7.test")] if asked else [])
    s.sendto(r.to_wire(), peer)
EOF
start_bg nsid "$PY" "$T/nsid.py" "$NSID_PORT"
wait_log nsid '^nsid server ready'
run nsid $U -p "$NSID_PORT" --nsid a.example.test
assert_match '^; NSID: 6e 73 2d 37 2e 74 65 73 74 \("ns-7\.test"\)$' "$(cat "$T/nsid.out")" \
    "--nsid: dig's NSID line"
run nonsid $U -p "$NSID_PORT" a.example.test
assert_no_match 'NSID' "$(cat "$T/nonsid.out")" "without --nsid the server sends none"

# --- --json: server, protocol, flags, elapsed_ms beside the existing keys --------
run json $U -p "$FK_PORT" -t MX --json mx.example.test
assert_eq '["request_id", "domain", "query_type", "status_code", "status", "authoritative", "truncated", "flags", "server", "protocol", "elapsed_ms", "records"]' \
    "$("$PY" -c 'import json,sys; print(json.dumps(list(json.load(open(sys.argv[1])))))' "$T/json.out")" \
    "--json: the keys of stubres-query(1)"
assert_eq "127.0.0.1#$FK_PORT UDP [\"qr\", \"aa\", \"rd\", \"ra\"]" \
    "$(json_get "$T/json.out" server) $(json_get "$T/json.out" protocol) $(json_get "$T/json.out" flags)" \
    "--json: server, protocol, flags"
assert_match '^[0-9]+$' "$(json_get "$T/json.out" elapsed_ms)" "--json: elapsed_ms is a number"
run jerr -t NOSUCHTYPE --json a.example.test
assert_eq "1 223" "$rc $(json_get "$T/jerr.out" error code)" "--json: a usage error is a JSON object too"

# --- -v, certificates ---------------------------------------------------------------
run verbose -v $U -p "$FK_PORT" a.example.test
assert_match '^;; \[1 Info\] Query 1: a\.example\.test type 1 to udp://127\.0\.0\.1:' "$(cat "$T/verbose.err")" \
    "-v: the class's log lines on stderr"
run quiet $U -p "$FK_PORT" a.example.test
assert_eq "" "$(cat "$T/quiet.err")" "without -v: nothing on stderr"
run wrongname $U -p "$UNBOUND_TLS_PORT" -P tls --ca-file "$CA_FILE" --tls-name "$WRONG_TLS_NAME" a.example.test
assert_match "^stubres-query: \[280\] .*certificate name mismatch" "$(cat "$T/wrongname.err")" \
    "a certificate for another name: [280] says why"
run noca $U -p "$UNBOUND_TLS_PORT" -P tls a.example.test
assert_match "^stubres-query: \[275\] .*unable to get local issuer certificate" "$(cat "$T/noca.err")" \
    "a certificate from an unknown CA: [275] says why"
run insecure $U -p "$UNBOUND_TLS_PORT" -P tls --insecure --tls-name "$WRONG_TLS_NAME" a.example.test
assert_eq 0 "$rc" "--insecure: the answer is accepted"
assert_match '^;; WARNING: --insecure: any certificate is accepted' "$(cat "$T/insecure.err")" \
    "--insecure prints a warning line"

# --- --help and --version of every program -------------------------------------------
for prog in stubres-query stubresctl stubresd; do
    p=$BUILD_DIR/$prog
    for h in -h --help; do
        rc=0
        "$p" "$h" >"$T/help.out" 2>&1 || rc=$?
        assert_eq 0 "$rc" "$prog $h: exit 0"
        assert_match "^usage: $prog " "$(cat "$T/help.out")" "$prog $h: usage"
    done
    rc=0
    "$p" --version >"$T/version.out" 2>&1 || rc=$?
    assert_eq 0 "$rc" "$prog --version: exit 0"
    assert_match "^$prog .*[0-9]+\.[0-9]+\.[0-9]+" "$(cat "$T/version.out")" "$prog --version"
done
rc=0
"$BUILD_DIR/stubresctl" -s "$T/nosuch.sock" frobnicate >"$T/ctl.out" 2>"$T/ctl.err" || rc=$?
assert_eq 2 "$rc" "stubresctl frobnicate: exit 2 (usage)"
assert_match "^stubresctl: unknown command 'frobnicate'$" "$(cat "$T/ctl.err")" "stubresctl frobnicate: unknown command"
assert_match '^  status  ' "$(cat "$T/ctl.err")" \
    "an unknown stubresctl command lists the valid ones"
