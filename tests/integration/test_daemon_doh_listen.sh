#!/bin/bash
# test_daemon_doh_listen.sh -- stubresd serves DNS over HTTPS to clients
# (listen = https://...): curl --http2 with the wire format (GET and POST)
# and the JSON API (/resolve, and the path with Accept:
# application/dns-json), kdig +https and dig +https / +https-get, each
# checking the certificate; dnsperf with 20 requests in flight on one
# connection; cache-control max-age no longer than the TTL;
# every HTTP error code; a padded query gets an answer padded to 468 bytes
# (RFC 8467); stats count `https`; a custom path; then a flood of streams,
# of resets (rapid reset) and oversized headers on open connections while
# plain UDP is still answered.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless curl dig kdig openssl

mkdir -p "$T/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" -days 30 \
    -subj "/CN=$TLS_NAME/O=stubresd test" \
    -addext "subjectAltName=DNS:$TLS_NAME,IP:127.0.0.1" >"$T/tls/openssl.log" 2>&1 ||
    { cat "$T/tls/openssl.log" >&2; fail "openssl could not make a certificate"; }

start_fakedns up1
DOH_PORT=$(free_port)
DOH2_PORT=$(free_port)
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 4" \
    "listen = https://127.0.0.1:$DOH_PORT, https://127.0.0.1:$DOH2_PORT/custom/q" \
    "tls_cert = $T/tls/cert.pem" "tls_key = $T/tls/key.pem" "query_log = $T/sr.queries"
wait_tcp 127.0.0.1 "$DOH_PORT" sr
URL="https://127.0.0.1:$DOH_PORT"
CURL="curl -s --http2 --max-time 5 --cacert $T/tls/cert.pem"

# The client side of the wire format: queries in, answers read.
cat >"$T/doh.py" <<'PYEOF'
import base64, sys
import dns.edns, dns.message

cmd = sys.argv[1]
if cmd == "query":  # NAME TYPE FILE: the query (ID 0, RFC 8484 4.1)
    q = dns.message.make_query(sys.argv[2], sys.argv[3])
    q.id = 0
    open(sys.argv[4], "wb").write(q.to_wire())
elif cmd == "b64":  # FILE: its base64url without padding
    print(base64.urlsafe_b64encode(open(sys.argv[2], "rb").read()).rstrip(b"=").decode())
elif cmd == "answer":  # FILE: rcode, id and the answer's records
    m = dns.message.from_wire(open(sys.argv[2], "rb").read())
    print("rcode", dns.rcode.to_text(m.rcode()), "id", m.id)
    for rrset in m.answer:
        for rr in rrset:
            print("rr", rrset.name, dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, rr)
elif cmd == "json":  # FILE: the JSON answer's fields
    import json
    j = json.load(open(sys.argv[2]))
    print("status", j["Status"], "rd", j["RD"], "ra", j["RA"], "tc", j["TC"])
    print("question", j["Question"][0]["name"], j["Question"][0]["type"])
    for a in j.get("Answer", []):
        print("answer", a["name"], a["type"], a["TTL"], a["data"])
    for a in j.get("Authority", []):
        print("authority", a["name"], a["type"])
PYEOF
doh() { "$PY" "$T/doh.py" "$@"; }

# --- wire format: GET and POST ---------------------------------------------------
doh query www.$ZONE A "$T/q.bin"
b64=$(doh b64 "$T/q.bin")
code=$($CURL -o "$T/a.bin" -D "$T/h1" -w '%{http_code} %{http_version}' \
    -H 'accept: application/dns-message' "$URL/dns-query?dns=$b64")
assert_eq "200 2" "$code" "curl --http2 GET ?dns=: 200 over HTTP/2"
out=$(doh answer "$T/a.bin")
assert_match '^rcode NOERROR id 0$' "$out" "... a DNS answer with the query's ID 0"
assert_match "^rr www\\.$ZONE\\. A [0-9]+ 10\\.0\\.0\\.1$" "$out" "... holding www's address"
hdrs=$(tr -d '\r' <"$T/h1")
assert_match '^content-type: application/dns-message$' "$hdrs" "... content-type application/dns-message"
ttl=$(echo "$out" | awk '/^rr /{print $4; exit}')
age=$(echo "$hdrs" | sed -n 's/^cache-control: max-age=\([0-9]*\)$/\1/p')
if [ -z "$age" ] || [ "$age" -gt "$ttl" ]; then
    fail "cache-control max-age '$age' is not <= the TTL $ttl"
fi
ok "... cache-control: max-age=$age, no more than the answer's TTL $ttl (RFC 8484 5.1)"

doh query aaaa.$ZONE AAAA "$T/q6.bin"
code=$($CURL -o "$T/a6.bin" -w '%{http_code}' -H 'content-type: application/dns-message' \
    --data-binary @"$T/q6.bin" "$URL/dns-query")
assert_eq 200 "$code" "curl --http2 POST application/dns-message: 200"
assert_match "^rr aaaa\\.$ZONE\\. AAAA [0-9]+ 2001:db8::1$" "$(doh answer "$T/a6.bin")" "... with the AAAA answer"

# --- the JSON API ------------------------------------------------------------------
code=$($CURL -o "$T/j1.json" -D "$T/hj" -w '%{http_code}' "$URL/resolve?name=www.$ZONE&type=A")
assert_eq 200 "$code" "curl /resolve?name=www.$ZONE&type=A: 200"
out=$(doh json "$T/j1.json")
assert_match '^status 0 rd True ra True tc False$' "$out" "... Status 0, RD, RA in the public resolvers' shape"
assert_match "^question www\\.$ZONE\\. 1$" "$out" "... its Question"
assert_match "^answer www\\.$ZONE\\. 1 [0-9]+ 10\\.0\\.0\\.1$" "$out" "... its Answer with name, type, TTL, data"
assert_match '^content-type: application/dns-json$' "$(tr -d '\r' <"$T/hj")" "... as application/dns-json"
assert_match '^cache-control: max-age=[0-9]+$' "$(tr -d '\r' <"$T/hj")" "... with cache-control"
code=$($CURL -o "$T/j2.json" -w '%{http_code}' -H 'accept: application/dns-json' \
    "$URL/dns-query?name=nxdomain.$ZONE&type=AAAA")
assert_eq 200 "$code" "JSON at /dns-query with Accept: application/dns-json: 200"
out=$(doh json "$T/j2.json")
assert_match '^status 3 ' "$out" "... NXDOMAIN is Status 3"
assert_match "^authority $ZONE\\. 6$" "$out" "... with the zone's SOA under Authority"

# --- kdig and dig ----------------------------------------------------------------
KDIG_DOH="kdig $KDIG_OPTS @127.0.0.1 -p $DOH_PORT +https +tls-ca=$T/tls/cert.pem +tls-hostname=$TLS_NAME"
assert_eq 10.0.0.1 "$($KDIG_DOH www.$ZONE A +short)" "kdig +https (certificate checked) gets the answer"
assert_eq 10.0.0.1 "$($KDIG_DOH +https-get www.$ZONE A +short)" "kdig +https-get too"
DIG_DOH="dig $DIG_OPTS @127.0.0.1 -p $DOH_PORT +tls-ca=$T/tls/cert.pem +tls-hostname=$TLS_NAME"
assert_eq 10.0.0.1 "$($DIG_DOH +https www.$ZONE A +short)" "dig +https (POST) gets the answer"
assert_eq "2001:db8::1" "$($DIG_DOH +https-get aaaa.$ZONE AAAA +short)" "dig +https-get (GET) too"

# Padding: kdig +padding pads its query; the answer comes padded to a
# multiple of 468 bytes (RFC 8467 4.1), and unpadded without.
out=$($KDIG_DOH www.$ZONE A +padding)
assert_match '^;; PADDING: [0-9]+ B$' "$out" "a padded DoH query gets a padded answer"
assert_match '^;; Received 468 B$' "$out" "... of 468 bytes (RFC 8467 4.1)"
out=$($KDIG_DOH www.$ZONE A +nopadding)
assert_no_match '^;; PADDING' "$out" "an unpadded query (kdig +nopadding) gets an unpadded answer"

# dnsperf's DoH client with 20 requests in flight on one connection:
# every query answered. It takes one response from each TLS record it
# reads, so the responses of one loop turn must not share a record.
if command -v dnsperf >/dev/null; then
    for _ in $(seq 1 200); do echo "www.$ZONE A"; done >"$T/perf.txt"
    dnsperf -m doh -s 127.0.0.1 -p "$DOH_PORT" -O "doh-uri=https://127.0.0.1:$DOH_PORT/dns-query" \
        -O doh-method=POST -d "$T/perf.txt" -n 1 -c 1 -q 20 -t 5 >"$T/perf.out" 2>&1 || true
    assert_match 'Queries completed: +200 \(100\.00%\)' "$(cat "$T/perf.out")" \
        "dnsperf over DoH, 20 requests in flight: all 200 answered"
else
    note "dnsperf missing: the pipelined dnsperf check is skipped"
fi

# The listener's own path.
code=$($CURL -o "$T/a2.bin" -w '%{http_code}' "https://127.0.0.1:$DOH2_PORT/custom/q?dns=$b64")
assert_eq 200 "$code" "https://ADDR:PORT/custom/q: the listener's path serves"
code=$($CURL -o /dev/null -w '%{http_code}' "https://127.0.0.1:$DOH2_PORT/dns-query?dns=$b64")
assert_eq 404 "$code" "... and /dns-query there is 404"

# --- every HTTP error ----------------------------------------------------------------
head -c 70000 /dev/zero >"$T/big.bin"
printf 'not dns' >"$T/junk.bin"
code_of() { $CURL -o /dev/null -w '%{http_code}' "$@" || true; }
assert_eq 400 "$(code_of "$URL/dns-query")" "GET without dns=: 400"
assert_eq 400 "$(code_of "$URL/dns-query?dns=not*base64")" "dns= that is not base64url: 400"
assert_eq 400 "$(code_of -H 'content-type: application/dns-message' --data-binary @"$T/junk.bin" "$URL/dns-query")" \
    "POST of 7 bytes that are no DNS message: 400"
assert_eq 400 "$(code_of "$URL/resolve?type=A")" "/resolve without name=: 400"
assert_eq 400 "$(code_of "$URL/resolve?name=www.$ZONE&type=NOSUCH")" "/resolve with an unknown type: 400"
assert_eq 404 "$(code_of "$URL/other?dns=$b64")" "another path: 404"
assert_eq 405 "$(code_of -X PUT "$URL/dns-query?dns=$b64")" "PUT: 405"
assert_eq 405 "$(code_of -X DELETE "$URL/dns-query?dns=$b64")" "DELETE: 405"
assert_eq 413 "$(code_of -H 'content-type: application/dns-message' --data-binary @"$T/big.bin" "$URL/dns-query")" \
    "POST of 70000 bytes: 413"
assert_eq 415 "$(code_of -H 'content-type: text/plain' --data-binary @"$T/q.bin" "$URL/dns-query")" \
    "POST as text/plain: 415"
# A flood of oversized headers is in the abuse part below (curl keeps to
# the server's SETTINGS_MAX_HEADER_LIST_SIZE and would not send them).

# --- stats and the query log ---------------------------------------------------------
n=$(sr_stat queries https)
[ "$n" -ge 10 ] || fail "stats: queries https is $n"
ok "stats: queries https $n"
assert_eq 0 "$(sr_stat queries tcp)" "... none counted as tcp"
assert_match ' https ' "$(cat "$T/sr.queries")" "the query log names the transport https"

# --- abuse: streams, resets, big headers; UDP still answered -------------------------
cat >"$T/h2flood.py" <<'PYEOF'
import base64, os, socket, ssl, struct, sys, time
import dns.message

PORT, CA, NAME = int(sys.argv[1]), sys.argv[2], sys.argv[3]
WAIT = float(os.environ.get("IT_WAIT", "10"))

def frame(t, flags, sid, payload):
    return struct.pack("!I", len(payload))[1:] + bytes([t, flags]) + struct.pack("!I", sid) + payload

def hint(v, bits):
    lim = (1 << bits) - 1
    if v < lim:
        return bytes([v])
    out, v = [lim], v - lim
    while v >= 128:
        out.append(v % 128 + 128)
        v //= 128
    return bytes(out + [v])

def hpack(hdrs):  # literals without indexing (RFC 7541 6.2.2)
    b = b""
    for n, v in hdrs:
        b += b"\x00" + hint(len(n), 7) + n.encode() + hint(len(v), 7) + v.encode()
    return b

def conn():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    s = ctx.wrap_socket(raw, server_hostname=NAME)
    assert s.selected_alpn_protocol() == "h2"
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
    return s

q = dns.message.make_query("www.example.test", "A")
q.id = 0
GET = "/dns-query?dns=" + base64.urlsafe_b64encode(q.to_wire()).rstrip(b"=").decode()

def req(sid, extra=()):
    h = [(":method", "GET"), (":scheme", "https"), (":authority", NAME), (":path", GET)]
    return frame(1, 5, sid, hpack(h + list(extra)))  # END_STREAM | END_HEADERS

pending = [b""]  # bytes read and not yet parsed, kept between calls

def frames(s, until):
    """Read frames until until(type, flags, sid, payload) is true or the
    connection ends; returns what ended it."""
    end = time.monotonic() + WAIT
    s.settimeout(WAIT)
    while time.monotonic() < end:
        buf = pending[0]
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            t, fl, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            p, buf = buf[9:9 + n], buf[9 + n:]
            pending[0] = buf
            try:
                if t == 4 and not fl & 1:
                    s.sendall(frame(4, 1, 0, b""))  # ACK the server's SETTINGS
                if t == 0 and p:  # DATA read: open the flow-control windows again
                    inc = struct.pack("!I", len(p))
                    s.sendall(frame(8, 0, 0, inc) + (frame(8, 0, sid, inc) if not fl & 1 else b""))
            except (OSError, ssl.SSLError):
                pass  # the server closed (after a GOAWAY): read what came
            if until(t, fl, sid, p):
                return "match"
        try:
            d = s.recv(65536)
        except socket.timeout:
            return "timeout"
        except (ConnectionResetError, ssl.SSLError):
            return "closed"
        if not d:
            return "closed"
        pending[0] = buf + d
    return "timeout"

cmd = sys.argv[4]
if cmd == "rst":
    # Rapid reset (CVE-2023-44487): streams opened and reset at once.
    s = conn()
    out = b"".join(req(1 + 2 * i) + frame(3, 0, 1 + 2 * i, struct.pack("!I", 8)) for i in range(2000))
    try:
        s.sendall(out)
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass
    print("rst flood", frames(s, lambda t, fl, sid, p: t == 7))
elif cmd == "streams":
    # 1000 requests at once on one connection: 100 may be open; the rest
    # are refused (RST_STREAM REFUSED_STREAM, RFC 9113 5.1.2) or answered.
    s = conn()
    s.sendall(b"".join(req(1 + 2 * i) for i in range(1000)))
    seen = {"ok": 0, "refused": 0, "goaway": 0}
    def count(t, fl, sid, p):
        if t == 1 and b"\x88" in p[:1]:  # :status 200 (static index 8)
            seen["ok"] += 1
        if t == 3 and p == struct.pack("!I", 7):
            seen["refused"] += 1
        if t == 7:
            seen["goaway"] += 1
            return True
        return seen["ok"] + seen["refused"] >= 1000
    frames(s, count)
    print("streams ok", seen["ok"] > 0, "all", seen["ok"] + seen["refused"] == 1000, seen)
    s.sendall(req(2001))
    status = []
    frames(s, lambda t, fl, sid, p: sid == 2001 and status.append((t, p[:1])) is None)
    print("after flood answered", status[:1] == [(1, b"\x88")])
elif cmd == "headers":
    # 50 requests with 9000-byte headers: 431 each, then a plain one works.
    s = conn()
    got = []
    for i in range(50):
        s.sendall(req(1 + 2 * i, [("x-filler", "a" * 9000)]))
    def status(t, fl, sid, p):
        if t == 1:
            got.append(p)
        return len(got) >= 50
    frames(s, status)
    # The first :status 431 is a literal; later ones may be indexed.
    print("big headers", len(got), b"431" in got[0] and all(p[:1] != b"\x88" for p in got))
    s.sendall(req(101))
    ok = []
    frames(s, lambda t, fl, sid, p: sid == 101 and t == 1 and ok.append(p[:1] == b"\x88") is None)
    print("after big headers answered", ok == [True])
elif cmd == "noread":
    # A client that asks and never reads: big windows (so flow control
    # holds nothing back), 2000 requests for a 61 KB answer in batches of
    # 50 (under the 100 streams), HPACK-indexed (13 bytes each). Without
    # back-pressure stubresd takes them all and queues over 100 MB.
    s = conn()
    s.sendall(frame(4, 0, 0, struct.pack("!HI", 4, 0x7FFFFFFF)) +
              frame(8, 0, 0, struct.pack("!I", 0x7FFFFFFF - 65535)))
    path = "/dns-query?dns=" + base64.urlsafe_b64encode(
        dns.message.make_query(sys.argv[5], "TXT").to_wire()).rstrip(b"=").decode()
    first = b"\x82\x87" + b"\x41" + hint(len(NAME), 7) + NAME.encode() + \
        b"\x44" + hint(len(path), 7) + path.encode()  # both indexed (62, 63)
    sid, sent = 1, 0
    s.settimeout(2)
    try:
        for i in range(40):
            out = b""
            for j in range(50):
                out += frame(1, 5, sid, first if sid == 1 else b"\x82\x87\xbf\xbe")
                sid += 2
            s.sendall(out)
            sent += 50
            time.sleep(0.02)  # pacing, so batches are read one by one
    except (socket.timeout, ssl.SSLError, OSError):
        pass  # the server stopped reading: what back-pressure is for
    print("sent", sent, flush=True)
    time.sleep(WAIT)  # hold the connection, unread, while the others ask
elif cmd == "garbage":
    # Bad HTTP/2 after the preface: the GOAWAY (PROTOCOL_ERROR, RFC 9113
    # 5.4.1) comes before the close.
    s = conn()
    s.sendall(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")  # DATA on stream 0
    code = []
    how = frames(s, lambda t, fl, sid, p: t == 7 and code.append(int.from_bytes(p[4:8], "big")) is None)
    print("garbage goaway", code[:1] == [1], "then", frames(s, lambda *a: False))
PYEOF
h2() { "$PY" "$T/h2flood.py" "$DOH_PORT" "$T/tls/cert.pem" "$TLS_NAME" "$@"; }

h2 rst >"$T/rst.out" 2>&1 &
RST_PID=$!
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "during a reset flood, UDP is answered"
wait "$RST_PID" || fail "the reset flood client failed: $(cat "$T/rst.out")"
assert_match '^rst flood (match|closed)$' "$(cat "$T/rst.out")" "a rapid-reset flood gets GOAWAY (or the connection closed)"

out=$(h2 streams)
assert_match "^streams ok True all True" "$out" "1000 streams at once: answered up to the limit, the rest refused"
assert_match '^after flood answered True$' "$out" "... and the connection serves on"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "... UDP answered after it"

out=$(h2 headers)
assert_match '^big headers 50 True$' "$out" "50 requests with headers over 8 KiB: 431, none answered 200"
assert_match '^after big headers answered True$' "$out" "... and the connection serves on"
assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "UDP (a cache miss) still answered"
assert_eq 10.0.0.1 "$($KDIG_DOH www.$ZONE A +short)" "and a new DoH client too"

# A client that sends and never reads: stubresd stops reading it (and
# queuing answers for it) instead of buffering all it asks; UDP and another
# DoH client are answered meanwhile.
$KDIG_DOH big.fill.$ZONE TXT >/dev/null # in the cache
before=$(sr_stat queries https)
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$(pid_of sr)/status")
start_bg noread "$PY" "$T/h2flood.py" "$DOH_PORT" "$T/tls/cert.pem" "$TLS_NAME" noread "big.fill.$ZONE"
wait_log noread '^sent [0-9]+$'
n=-1
for _ in $(seq 1 $((IT_WAIT * 2))); do # until stubresd takes no more
    m=$(sr_stat queries https)
    [ "$m" = "$n" ] && break
    n=$m
    sleep 0.5
done
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$(pid_of sr)/status")
note "a client that does not read: $(cat "$T/noread.log"), $((n - before)) answered; RSS ${rss0} -> ${rss1} kB"
[ $((n - before)) -lt 500 ] ||
    fail "a client that does not read got $((n - before)) of 2000 61 KB answers queued (RSS ${rss0} -> ${rss1} kB)"
ok "a client that does not read: reading it stops ($((n - before)) of 2000 answers taken)"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "... UDP answered meanwhile"
assert_eq 10.0.0.1 "$($KDIG_DOH a.$ZONE A +short)" "... and another DoH client"
stop_bg noread

out=$(h2 garbage)
assert_match '^garbage goaway True then closed$' "$out" "bad HTTP/2 gets GOAWAY (PROTOCOL_ERROR), then the close"

stop_stubresd sr
