#!/bin/bash
# test_query.sh -- stubres-query against real servers on loopback.
#
# Every record type of the test zone through unbound (in front of nsd) over
# UDP, TCP, DoT (test CA) and DoH (POST, GET), and from fakedns over the
# same plus the DoH JSON API: every protocol must give the same records and
# fields, and the fields must say what dig says. Then the contract of
# the man pages: NXDOMAIN exits 0 with its status, a silent server gives
# [10060], a certificate for another name [280], a Windows-only setting its
# "not supported on this platform" text, RevLookup keeps the address and
# 100. The machine's resolv.conf is never read: STUBRES_RESOLV_CONF points
# at a file of the test.
set -eu
# a few hundred runs of the tool: more than the default 120 s under ASan
IT_TIMEOUT=${IT_TIMEOUT:-600}
. "$(dirname "$0")/lib.sh"

skip_unless nsd unbound dig openssl
Q=$(sr_tool stubres-query)
[ -x "$Q" ] || fail "$Q is missing: build it first"

printf 'nameserver 127.0.0.1\n' >"$T/resolv.conf"
export STUBRES_RESOLV_CONF=$T/resolv.conf

start_unbound
start_fakedns fk

# name:TYPE of every type in the zone (comments in zone/example.test.zone)
CASES="a:A example.test:NS md:MD mf:MF cname:CNAME example.test:SOA mb:MB
mg:MG mr:MR null:NULL wks:WKS ptr:PTR hinfo:HINFO minfo:MINFO mx:MX txt:TXT
txt-multi:TXT txt-escapes:TXT txt-empty:TXT rp:RP afsdb:AFSDB x25:X25
isdn:ISDN isdn-sa:ISDN rt:RT aaaa:AAAA _sip._tcp:SRV srv:SRV naptr:NAPTR
cert:CERT unknown:TYPE65280"
# The modern types: their decoding does not depend on the transport, so
# they go over UDP (the wire path) and the JSON API (the text path) only,
# which keeps this test's ~600 runs of stubres-query to ~400 (it is one of
# the slowest under AddressSanitizer).
MODERN="caa:CAA caa-escapes:CAA svcb:SVCB svcb-keys:SVCB
https:HTTPS https-alias:HTTPS ds:DS cds:CDS dnskey:DNSKEY cdnskey:CDNSKEY
rrsig:RRSIG nsec:NSEC nsec3param:NSEC3PARAM _443._tcp.tlsa:TLSA sshfp:SSHFP
uri:URI loc:LOC loc-short:LOC dname:DNAME openpgpkey:OPENPGPKEY zonemd:ZONEMD"

# Each way to reach a server: a label and the flags of stubres-query.
U="-s 127.0.0.1"
ROUTES_UNBOUND="
udp|$U -p $UNBOUND_PORT -P udp
tcp|$U -p $UNBOUND_PORT -P tcp
tls|$U -p $UNBOUND_TLS_PORT -P tls --ca-file $CA_FILE --tls-name $TLS_NAME
https-post|-s $UNBOUND_DOH_URL -P https --doh-method post --ca-file $CA_FILE
https-get|-s $UNBOUND_DOH_URL -P https --doh-method get --ca-file $CA_FILE"
ROUTES_FAKE="
udp|$U -p $FK_PORT -P 0
tcp|$U -p $FK_PORT -P 1
tls|$U -p $FK_TLS_PORT -P 2 --ca-file $CA_FILE
https-post|-s $FK_URL -P 3 --doh-method 0 --ca-file $CA_FILE
https-get|-s $FK_URL -P 3 --doh-method 1 --ca-file $CA_FILE
https-json|-s $FK_JSON_URL -P 3 --doh-method json --ca-file $CA_FILE"

# run_routes DIR ROUTES: every case over every route, JSON into
# DIR/LABEL/NAME-TYPE.json; any exit status but 0 fails the test.
run_routes() {
    local dir=$1 routes=$2 line label flags nt name type cases
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        label=${line%%|*}
        flags=${line#*|}
        mkdir -p "$dir/$label"
        cases=$CASES
        case $label in udp | https-json) cases="$CASES $MODERN" ;; esac
        for nt in $cases; do
            name=${nt%%:*}.example.test
            [ "${nt%%:*}" = example.test ] && name=example.test
            type=${nt#*:}
            # shellcheck disable=SC2086
            "$Q" --json --timeout 5 $flags -t "$type" "$name" \
                >"$dir/$label/$name-$type.json" 2>"$dir/$label/$name-$type.err" ||
                fail "$label: stubres-query $flags -t $type $name: $(cat "$dir/$label/$name-$type.err")"
        done
        ok "$label: stubres-query --json answered all $(echo $cases | wc -w) record types"
    done <<<"$routes"
}

run_routes "$T/unbound" "$ROUTES_UNBOUND"
run_routes "$T/fake" "$ROUTES_FAKE"

# --- the same records over every protocol ---------------------------------------
# compare.py DIR REF LABEL... [-- KEYS]: each case's JSON under DIR/LABEL
# equals DIR/REF: status, flags and records (section, domain, type,
# type_name, fields, and data unless told to skip it), in any order within
# a section. TTLs are left out: unbound counts them down between the runs.
cat >"$T/compare.py" <<'EOF'
import json, os, sys
d, ref, labels, skip = sys.argv[1], sys.argv[2], sys.argv[3:], set()
if "--" in labels:
    i = labels.index("--")
    labels, skip = labels[:i], set(labels[i + 1:])
def view(path, answer_only):
    with open(path) as f:
        j = json.load(f)
    for k in ("request_id", "domain", "query_type", "status_code", "status",
              "authoritative", "truncated", "records"):
        if k not in j:
            sys.exit("%s: no key %s" % (path, k))
    recs = []
    for r in j["records"]:
        if answer_only and r["section"] != "answer":
            continue
        recs.append({k: v for k, v in r.items() if k != "ttl" and k not in skip})
    # unbound rotates the records of an RRset (rrset-roundrobin): compare
    # each section as a set, the sections in their order
    order = {"answer": 0, "authority": 1, "additional": 2}
    recs.sort(key=lambda r: (order[r["section"]], json.dumps(r, sort_keys=True)))
    return {"status_code": j["status_code"], "status": j["status"],
            "truncated": j["truncated"], "records": recs}
bad = 0
for case in sorted(os.listdir(os.path.join(d, ref))):
    if not case.endswith(".json"):
        continue
    want = view(os.path.join(d, ref, case), "answer-only" in skip)
    if not want["records"]:
        print("%s/%s: no records" % (ref, case)); bad += 1
    for label in labels:
        if not os.path.exists(os.path.join(d, label, case)):
            continue  # a modern type, asked over UDP and the JSON API only
        got = view(os.path.join(d, label, case), "answer-only" in skip)
        if got != want:
            print("%s differs between %s and %s:\n  %s\n  %s" % (case, ref, label, want, got))
            bad += 1
sys.exit(1 if bad else 0)
EOF
out=$("$PY" "$T/compare.py" "$T/unbound" udp tcp tls https-post https-get 2>&1) ||
    fail "unbound: records differ between protocols: $out"
ok "unbound: UDP, TCP, DoT, DoH POST and DoH GET give identical records, fields and data"
out=$("$PY" "$T/compare.py" "$T/fake" udp tcp tls https-post https-get 2>&1) ||
    fail "fakedns: records differ between protocols: $out"
ok "fakedns: UDP, TCP, DoT, DoH POST and DoH GET give identical records, fields and data"
# The JSON API has no RDATA bytes (data is rebuilt from presentation text,
# uncompressed) and no additional section.
out=$("$PY" "$T/compare.py" "$T/fake" udp https-json -- data answer-only 2>&1) ||
    fail "fakedns: the DoH JSON API gives other records than UDP: $out"
ok "fakedns: the DoH JSON API gives the same answer records and fields as UDP"
# unbound (nsd's zone parser) and fakedns (dnspython's): the same answers
mkdir -p "$T/cross/unbound" "$T/cross/fake"
cp "$T/unbound/udp/"*.json "$T/cross/unbound/"
cp "$T/fake/udp/"*.json "$T/cross/fake/"
out=$("$PY" "$T/compare.py" "$T/cross" unbound fake -- data answer-only 2>&1) ||
    fail "unbound and fakedns answer differently: $out"
ok "unbound and fakedns give the same answer records and fields"

# --- fields as dig sees them ----------------------------------------------------
# dig.py JSON DIG_SHORT: the answer's fields against dig +short, record by
# record (both sorted): names lose dig's trailing dot, TXT strings are
# concatenated with \" unescaped, NULL and unknown types compare as hex,
# CERT's mnemonics become numbers. The later types (stubres-query(1)
# OUTPUT) print as dig does: their fields joined by blanks are dig's line
# (unsplit: +split=0) without the names' trailing dots.
cat >"$T/dig.py" <<'EOF'
import json, re, shlex, sys
LATER = {"CAA", "SVCB", "HTTPS", "DS", "CDS", "DNSKEY", "CDNSKEY", "RRSIG", "NSEC",
         "NSEC3PARAM", "TLSA", "SSHFP", "URI", "LOC", "DNAME", "OPENPGPKEY", "ZONEMD"}
CERT_TYPES = {"PKIX": "1", "SPKI": "2", "PGP": "3"}
ALGS = {"RSASHA1": "5", "RSASHA256": "8", "RSASHA512": "10"}
def fields_of_dig(line, tname):
    if tname in LATER:
        return re.sub(r'(?<=[^\s"])\.(?=\s|$)', "", line)
    if line.startswith("\\# "):
        parts = line.split()
        return ["\\# %s %s" % (parts[1], "".join(parts[2:]).lower())]
    toks = shlex.split(line.replace("\\\\", "\x00").replace('\\"', "\x01"), posix=True) \
        if tname in ("TXT", "HINFO", "X25", "ISDN", "NAPTR") else line.split()
    toks = [t.replace("\x00", "\\\\").replace("\x01", '"') for t in toks]
    if tname == "TXT":
        return ["".join(toks)]
    if tname == "WKS":
        return [toks[0], toks[1], " ".join(toks[2:])]
    if tname == "CERT":
        return [CERT_TYPES.get(toks[0], toks[0]), toks[1], ALGS.get(toks[2], toks[2]),
                "".join(toks[3:])]
    return [t[:-1] if t.endswith(".") and t != "." else t for t in toks]
with open(sys.argv[1]) as f:
    j = json.load(f)
ours = sorted([[fl["value"] for fl in r["fields"]] for r in j["records"]
               if r["section"] == "answer" and r["type_name"] == sys.argv[3]])
if sys.argv[3] in LATER:
    ours = [" ".join(o).rstrip() for o in ours]
theirs = sorted(fields_of_dig(l, sys.argv[3]) for l in sys.argv[2].splitlines() if l)
if [o if sys.argv[3] != "NULL" else ["\\# %d %s" % (len(o[0]) // 2, o[0])] for o in ours] != theirs:
    sys.exit("ours %s, dig %s" % (ours, theirs))
EOF
for nt in $CASES $MODERN; do
    name=${nt%%:*}.example.test
    [ "${nt%%:*}" = example.test ] && name=example.test
    type=${nt#*:}
    # the CNAME of a chased type would be dig's first line: ask for the type only
    short=$(dig $DIG_OPTS @127.0.0.1 -p "$UNBOUND_PORT" "$name" "$type" +short +split=0)
    tname=$(json_get "$T/unbound/udp/$name-$type.json" records 0 type_name)
    out=$("$PY" "$T/dig.py" "$T/unbound/udp/$name-$type.json" "$short" "$tname" 2>&1) ||
        fail "$name $type: fields differ from dig: $out"
done
ok "the fields of every record type agree with dig +short"

# A few values spelled out (stubres-query(1) OUTPUT).
field() { # FILE NAME: the value of field NAME in the first answer record
    "$PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
r=[r for r in j["records"] if r["section"]=="answer"][int(sys.argv[3]) if len(sys.argv)>3 else 0]
print([f["value"] for f in r["fields"] if f["name"]==sys.argv[2]][0])' "$@"
}
D=$T/unbound/udp
assert_eq 'say "hi"back\\slashcaf\195\169\000\255' "$(field "$D/txt-escapes.example.test-TXT.json" TXT)" \
    "TXT: strings concatenated, \\\\ and \\DDD escapes"
assert_eq firstsecondthird "$(field "$D/txt-multi.example.test-TXT.json" TXT)" "TXT of three strings"
assert_eq "25 80" "$(field "$D/wks.example.test-WKS.json" SERVICEMAP)" "WKS SERVICEMAP"
assert_eq 004 "$(field "$D/isdn-sa.example.test-ISDN.json" SA)" "ISDN sub-address field SA"
assert_eq deadbeef00ff "$(field "$D/null.example.test-NULL.json" NULL)" "NULL as hex"
assert_eq '\# 4 0a000001' "$(field "$D/unknown.example.test-TYPE65280.json" RDATA)" \
    "an unknown type as RFC 3597 RDATA"
assert_eq TYPE65280 "$(json_get "$D/unknown.example.test-TYPE65280.json" records 0 type_name)" \
    "type_name TYPE65280"
assert_eq . "$(field "$D/naptr.example.test-NAPTR.json" REPLACEMENT)" "NAPTR REPLACEMENT of the root"
assert_eq 2024010101 "$(field "$D/example.test-SOA.json" SERIAL)" "SOA SERIAL"
assert_eq hostmaster.example.test "$(field "$D/example.test-SOA.json" RNAME)" "SOA RNAME without the trailing dot"
assert_eq 12345 "$(field "$D/cert.example.test-CERT.json" KEYTAG)" "CERT KEYTAG"
assert_eq 20270101000000 "$(field "$D/rrsig.example.test-RRSIG.json" EXPIRATION)" \
    "RRSIG EXPIRATION as YYYYMMDDHHmmSS"
assert_eq sig.test "$(field "$D/rrsig.example.test-RRSIG.json" SIGNER)" "RRSIG SIGNER without the dot"
assert_eq "A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA TYPE65280" \
    "$(field "$D/nsec.example.test-NSEC.json" TYPES)" "NSEC TYPES as mnemonics"
assert_eq 'mandatory=alpn,port alpn="h2" no-default-alpn port=443' \
    "$(field "$D/https.example.test-HTTPS.json" PARAMS)" "HTTPS PARAMS in RFC 9460 form"
assert_eq '"say \"hi\" back\\slash \000x"' "$(field "$D/caa-escapes.example.test-CAA.json" VALUE)" \
    "CAA VALUE quoted, with escapes"
assert_eq 2BB183AF5F22588179A53B0A98631FAD1A292118 "$(field "$D/ds.example.test-DS.json" DIGEST)" \
    "DS DIGEST in uppercase hex"
assert_eq "52 22 23.000 N" "$(field "$D/loc.example.test-LOC.json" LATITUDE)" "LOC LATITUDE"
# data: the RDATA bytes as received, lowercase hex. The same query sent
# with dnspython to the same server, its RDATA cut out of the raw reply.
cat >"$T/rawrdata.py" <<'EOF2'
import socket, struct, sys
import dns.message, dns.rdatatype
q = dns.message.make_query(sys.argv[3], sys.argv[4], use_edns=0, payload=1232)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q.to_wire(), (sys.argv[1], int(sys.argv[2])))
w = s.recv(65535)
def skip_name(o):
    while True:
        n = w[o]
        if n >= 0xC0:
            return o + 2
        o += n + 1
        if n == 0:
            return o
qd, an = struct.unpack("!HH", w[4:8])
o = 12
for _ in range(qd):
    o = skip_name(o) + 4
for _ in range(an):
    o = skip_name(o)
    rtype, _, _, rdlen = struct.unpack("!HHIH", w[o:o + 10])
    o += 10
    if rtype == dns.rdatatype.from_text(sys.argv[4]):
        print(w[o:o + rdlen].hex())
    o += rdlen
EOF2
want=$("$PY" "$T/rawrdata.py" 127.0.0.1 "$FK_PORT" mx.example.test MX | sort)
got=$("$PY" -c 'import json,sys
print("\n".join(sorted(r["data"] for r in json.load(open(sys.argv[1]))["records"] if r["section"]=="answer")))' \
    "$T/fake/udp/mx.example.test-MX.json")
assert_eq "$want" "$got" "MX data: the RDATA bytes as received (compression pointers included), lowercase hex"
# the JSON API has no RDATA: data is the presentation form encoded, names
# uncompressed, as in stubres-query(1)'s example
assert_eq 000a046d61696c076578616d706c65047465737400 \
    "$("$PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
print([r["data"] for r in j["records"] if r["section"]=="answer" and r["fields"][0]["value"]=="10"][0])' \
    "$T/fake/https-json/mx.example.test-MX.json")" \
    "DoH JSON: MX data 000a046d61696c076578616d706c65047465737400 (stubres-query(1)'s example)"

# --- the JSON object of stubres-query(1) ----------------------------------------------------
out=$("$Q" --json $U -p "$UNBOUND_PORT" --id 7 -t MX mx.example.test)
printf '%s\n' "$out" >"$T/mx.json"
assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "--json prints one line"
assert_eq 7 "$(json_get "$T/mx.json" request_id)" "--id 7: request_id 7"
assert_eq mx.example.test "$(json_get "$T/mx.json" domain)" "domain"
assert_eq 15 "$(json_get "$T/mx.json" query_type)" "query_type"
assert_eq "0 NOERROR false false" "$(json_get "$T/mx.json" status_code) $(json_get "$T/mx.json" status) $(json_get "$T/mx.json" authoritative) $(json_get "$T/mx.json" truncated)" \
    "status_code, status, authoritative (unbound is not), truncated"
assert_eq '["section", "domain", "type", "type_name", "ttl", "fields", "data"]' \
    "$("$PY" -c 'import json,sys; print(json.dumps(list(json.load(open(sys.argv[1]))["records"][0])))' "$T/mx.json")" \
    "record keys in stubres-query(1)'s order"
out=$("$Q" --json $U -p "$FK_PORT" -t MX mx.example.test)
printf '%s\n' "$out" >"$T/mx-fake.json"
assert_eq true "$(json_get "$T/mx-fake.json" authoritative)" "fakedns answers authoritatively"
# a CNAME to a missing name: NXDOMAIN with the CNAME in the answer and the
# SOA in the authority section, listed in wire order
out=$("$Q" --json $U -p "$FK_PORT" dangling.example.test)
printf '%s\n' "$out" >"$T/dangling.json"
assert_eq "NXDOMAIN answer:CNAME authority:SOA" \
    "$("$PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
print(j["status"], " ".join(r["section"]+":"+r["type_name"] for r in j["records"]))' "$T/dangling.json")" \
    "records of every section in wire order"

# default output: dig-like text
out=$("$Q" $U -p "$UNBOUND_PORT" -t MX mx.example.test)
assert_match '^;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: [0-9]+$' "$out" "text: header line"
assert_match '^;; flags: qr rd ra; QUERY: 1, ANSWER: 2,' "$out" "text: flags and counts"
assert_match '^;; ANSWER SECTION:$' "$out" "text: answer section"
assert_match '^mx\.example\.test	[0-9]+	IN	MX	10 mail\.example\.test$' "$out" \
    "text: name ttl IN TYPE fields"

# dns_server from STUBRES_RESOLV_CONF, port 53 replaced by -p
out=$("$Q" --json -p "$UNBOUND_PORT" a.example.test) || fail "no -s: $out"
printf '%s\n' "$out" >"$T/noserver.json"
assert_eq 10.0.0.1 "$(field "$T/noserver.json" ADDRESS)" "without -s: the nameserver of \$STUBRES_RESOLV_CONF"

# timeout 0: the class returns at once, the tool runs do_events until done
out=$("$Q" --json --timeout 0 $U -p "$UNBOUND_PORT" a.example.test) || fail "--timeout 0: $out"
printf '%s\n' "$out" >"$T/async.json"
assert_eq 10.0.0.1 "$(field "$T/async.json" ADDRESS)" "--timeout 0 (asynchronous, do_events) answers"
# protocol 3 with a plain host: https://HOST:PORT/dns-query
out=$("$Q" --json -P https $U -p "$UNBOUND_HTTPS_PORT" --ca-file "$CA_FILE" a.example.test) ||
    fail "-P https with a plain host: $out"
printf '%s\n' "$out" >"$T/dohhost.json"
assert_eq 10.0.0.1 "$(field "$T/dohhost.json" ADDRESS)" "-P https with a plain host and -p: https://127.0.0.1:PORT/dns-query"

# --- NXDOMAIN, truncation ----------------------------------------------------------------
out=$("$Q" --json $U -p "$UNBOUND_PORT" nxdomain.example.test) ||
    fail "NXDOMAIN must exit 0: $out"
printf '%s\n' "$out" >"$T/nx.json"
assert_eq "3 NXDOMAIN" "$(json_get "$T/nx.json" status_code) $(json_get "$T/nx.json" status)" \
    "NXDOMAIN: exit 0, status_code 3, status NXDOMAIN"
assert_eq "authority SOA" "$(json_get "$T/nx.json" records 0 section) $(json_get "$T/nx.json" records 0 type_name)" \
    "NXDOMAIN: the SOA in the authority section"

out=$("$Q" --json $U -p "$UNBOUND_PORT" -c UseEDNS=false --ignore-tc big.example.test)
printf '%s\n' "$out" >"$T/big.json"
assert_eq "true 0" "$(json_get "$T/big.json" truncated) $("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["records"]))' "$T/big.json")" \
    "UDP without EDNS, --ignore-tc: big.example.test is truncated (ResponseTruncated), no records"
out=$("$Q" --json $U -p "$UNBOUND_PORT" -c UseEDNS=false big.example.test)
printf '%s\n' "$out" >"$T/big-tcp.json"
assert_eq "false 40" "$(json_get "$T/big-tcp.json" truncated) $("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["records"]))' "$T/big-tcp.json")" \
    "by default (TCPFallback=true) the retry over TCP has all 40 records"

# --- RevLookup ------------------------------------------------------------------------------
for addr in 10.0.0.1 2001:db8::1; do
    out=$("$Q" --json $U -p "$UNBOUND_PORT" -t REVLOOKUP "$addr")
    printf '%s\n' "$out" >"$T/rev.json"
    assert_eq "$addr 100 PTR www.example.test" \
        "$(json_get "$T/rev.json" domain) $(json_get "$T/rev.json" query_type) $(json_get "$T/rev.json" records 0 type_name) $(field "$T/rev.json" PTRDNAME)" \
        "RevLookup $addr: domain and query_type as given, PTR www.example.test"
done
assert_eq 1.0.0.10.in-addr.arpa "$("$Q" --json $U -p "$UNBOUND_PORT" -t 100 10.0.0.1 >"$T/rev4.json"; json_get "$T/rev4.json" records 0 domain)" \
    "RevLookup -t 100: the record carries the in-addr.arpa name"

# --- errors: [CODE] message on stderr, exit 1 ----------------------------------------------
expect_fail() { # CODE-REGEX WHAT ARGS...
    local re=$1 what=$2 rc=0 err
    shift 2
    "$Q" "$@" >"$T/out.txt" 2>"$T/err.txt" || rc=$?
    err=$(cat "$T/err.txt")
    assert_eq 1 "$rc" "$what: exit status 1"
    assert_match "$re" "$err" "$what: $err"
}
start_fakedns fdrop --mode drop
expect_fail '^stubres-query: \[10060\] ' "silent server (fakedns drop)" \
    --timeout 1 $U -p "$FDROP_PORT" www.example.test
expect_fail '^stubres-query: \[280\] ' "DoT certificate for another name" \
    $U -p "$UNBOUND_TLS_PORT" -P tls --ca-file "$CA_FILE" --tls-name "$WRONG_TLS_NAME" www.example.test
out=$("$Q" --json $U -p "$UNBOUND_TLS_PORT" -P tls --insecure --tls-name "$WRONG_TLS_NAME" a.example.test) ||
    fail "--insecure did not accept the certificate: $out"
ok "--insecure accepts the certificate for another name"
expect_fail '^stubres-query: \[10045\] UseDNSAPIDLL: not supported on this platform$' \
    "Windows-only setting" -c UseDNSAPIDLL=true $U -p "$UNBOUND_PORT" www.example.test
expect_fail '^stubres-query: \[10022\] MaxPacketSize: ' "bad setting value" \
    -c MaxPacketSize=1 $U -p "$UNBOUND_PORT" www.example.test
expect_fail '^stubres-query: \[10022\] request_id: ' "--id 0" \
    --id 0 $U -p "$UNBOUND_PORT" www.example.test
expect_fail '^stubres-query: \[223\] ' "unknown type" -t NOSUCHTYPE $U -p "$UNBOUND_PORT" www.example.test
expect_fail '^stubres-query: \[225\] ' "RevLookup of a name" -t 100 $U -p "$UNBOUND_PORT" www.example.test
expect_fail '^stubres-query: \[10022\] non-ASCII name: set UseIDNs=true$' "non-ASCII name" \
    $U -p "$UNBOUND_PORT" "bücher.example.test"
out=$("$Q" --json -c UseIDNs=true $U -p "$FK_PORT" "bücher.example.test") ||
    fail "UseIDNs=true: $out"
printf '%s\n' "$out" >"$T/idn.json"
assert_eq "bücher.example.test NXDOMAIN" "$(json_get "$T/idn.json" domain) $(json_get "$T/idn.json" status)" \
    "UseIDNs=true: the query is sent as punycode (NXDOMAIN in the zone, exit 0)"
assert_match '"xn--bcher-kva\.example\.test\. A"' "$(cat "$FK_STATS")" "fakedns saw xn--bcher-kva.example.test"
out=$("$Q" --version)
assert_match '^stubres-query .*[0-9]+\.[0-9]+' "$out" "--version"
"$Q" --help | grep -q -- '--doh-method' || fail "--help lacks --doh-method"
ok "--help lists the options"
