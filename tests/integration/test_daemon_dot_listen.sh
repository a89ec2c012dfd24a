#!/bin/bash
# test_daemon_dot_listen.sh -- stubresd serves DNS over TLS to clients
# (listen = tls://...): kdig +tls with the certificate as its CA; unbound
# as a DoT forwarder pointed at it; queries pipelined on one connection
# answered out of order (a cached answer overtakes a slow one); 40
# queries in 40 TLS records in one segment all answered, with a few read()
# calls (read-ahead, nothing left inside OpenSSL); padded
# queries get answers padded to 468 bytes (RFC 8467); stats count `tls`;
# tls_max_clients holds; an idle connection is closed; SIGHUP loads a
# renewed certificate while an open connection keeps working; `allow`
# closes outsiders before the handshake; 1,000 idle TLS connections and 200
# half-open handshakes while plain UDP is still answered; stubresd -t says
# what to write when the certificate is missing.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig kdig openssl

# Two self-signed certificates for dns.example.test and 127.0.0.1: the
# first served at start, the second after the reload.
mkdir -p "$T/tls"
for n in 1 2; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/tls/key$n.pem" -out "$T/tls/cert$n.pem" -days 30 \
        -subj "/CN=$TLS_NAME/O=stubresd test $n" \
        -addext "subjectAltName=DNS:$TLS_NAME,IP:127.0.0.1" >"$T/tls/openssl.log" 2>&1 ||
        { cat "$T/tls/openssl.log" >&2; fail "openssl could not make a certificate"; }
done
cp "$T/tls/cert1.pem" "$T/tls/cert.pem"
cp "$T/tls/key1.pem" "$T/tls/key.pem"
cat "$T/tls/cert1.pem" "$T/tls/cert2.pem" >"$T/tls/both.pem"

# --- stubresd -t: a tls:// listener without a certificate ----------------------
DOT_PORT=$(free_port)
write_stubresd_conf bad "$(free_port)" "listen = 127.0.0.1:$(free_port), tls://127.0.0.1:$DOT_PORT" \
    "servers = udp://127.0.0.1:9"
rc=0
"$STUBRESD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "stubresd -t accepts a tls:// listener without tls_cert"
assert_match 'tls_cert: listen has tls://127\.0\.0\.1:[0-9]+, which needs a certificate: write tls_cert = ' \
    "$(cat "$T/bad.out")" "stubresd -t: a tls:// listener without tls_cert says what to write"
assert_match 'tls_key: .*write tls_key = ' "$(cat "$T/bad.out")" "... and tls_key alike"
echo "tls_cert = $T/tls/nothere.pem" >>"$T/bad.conf"
echo "tls_key = $T/tls/key.pem" >>"$T/bad.conf"
rc=0
"$STUBRESD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "stubresd -t accepts an unreadable tls_cert"
assert_match "tls_cert: $T/tls/nothere.pem cannot be read" "$(cat "$T/bad.out")" \
    "stubresd -t: an unreadable tls_cert is named"
echo "not a certificate" >"$T/tls/garbage.pem"
sed -i "s|^tls_cert = .*|tls_cert = $T/tls/garbage.pem|" "$T/bad.conf"
rc=0
"$STUBRESD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "stubresd -t accepts a tls_cert that is no certificate"
assert_match "tls_cert: $T/tls/garbage.pem: not a readable PEM certificate chain" \
    "$(cat "$T/bad.out")" "stubresd -t: a tls_cert that is no PEM chain is named"
sed -i "s|^tls_cert = .*|tls_cert = $T/tls/cert2.pem|" "$T/bad.conf"
rc=0
"$STUBRESD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "stubresd -t accepts a key of another certificate"
assert_match "tls_key: $T/tls/key.pem is not the key of the certificate" "$(cat "$T/bad.out")" \
    "stubresd -t: a key that does not match the certificate is named"

# --- the daemon -------------------------------------------------------------------
# The flood below holds 1,000 idle TLS connections and 200 half-open
# handshakes: stubresd and the client each need more descriptors than a
# shell's usual soft limit of 1,024. Where the hard limit is too low for
# that, the flood is 200 and 200.
FLOOD_IDLE=1000
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 1400 ]; then
    ulimit -Sn 1400
else
    FLOOD_IDLE=200
fi
start_fakedns up1
# (A second listen line in a file adds to the first.) The default
# tls_idle_timeout is 30 s: 5 here, so the idle check ends sooner.
MPORT=$(free_port)
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 4" "metrics = 127.0.0.1:$MPORT" \
    "listen = tls://127.0.0.1:$DOT_PORT" "tls_cert = $T/tls/cert.pem" "tls_key = $T/tls/key.pem" \
    "tls_idle_timeout = 5" "query_log = $T/sr.queries"
wait_tcp 127.0.0.1 "$DOT_PORT" sr
KDIG_TLS="kdig $KDIG_OPTS @127.0.0.1 -p $DOT_PORT +tls-ca=$T/tls/cert1.pem +tls-hostname=$TLS_NAME"

udp_before=$(sr_stat queries udp)
out=$($KDIG_TLS www.$ZONE A +short)
assert_eq 10.0.0.1 "$out" "kdig +tls (certificate checked) gets the answer over DoT"
assert_eq 1 "$(sr_stat queries tls)" "stats: the query counts as tls"
assert_eq "$udp_before" "$(sr_stat queries udp)" "... not as udp"
assert_match ' tls ' "$(cat "$T/sr.queries")" "the query log names the transport tls"
assert_match '^queries: .*tls 1, https 0\)$' "$($SR_CTL stats)" "stubresctl stats shows tls"
out=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics")
assert_match '^stubresd_queries_total\{transport="tls"\} 1$' "$out" "metrics: the query counts as tls"
assert_match '^stubresd_tls_connections [0-9]+$' "$out" "metrics: open TLS connections"

# Padding: kdig +padding pads its query (RFC 8467 block 128; kdig's default
# over TLS); the answer
# comes padded to a multiple of 468 bytes.
out=$($KDIG_TLS www.$ZONE A +padding)
assert_match '^;; PADDING: [0-9]+ B$' "$out" "a padded query gets a padded answer"
assert_match '^;; Received 468 B$' "$out" "... of 468 bytes (RFC 8467 4.1)"
out=$($KDIG_TLS www.$ZONE A +nopadding)
assert_no_match '^;; PADDING' "$out" "an unpadded query (kdig +nopadding) gets an unpadded answer"

# unbound as a DoT forwarder pointed at stubresd's listener.
if command -v unbound >/dev/null 2>&1; then
    UB_PORT=$(free_port)
    mkdir -p "$T/ubfwd"
    cat >"$T/ubfwd/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$UB_PORT
    port: $UB_PORT
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$T/ubfwd"
    pidfile: "$T/ubfwd/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "iterator"
    do-not-query-localhost: no
    tls-cert-bundle: "$T/tls/cert1.pem"
    outgoing-interface: 127.0.0.1
    outgoing-port-avoid: 0-32767
    local-zone: "test." nodefault
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-tls-upstream: yes
    forward-addr: 127.0.0.1@$DOT_PORT#$TLS_NAME
EOF
    start_bg ubfwd unbound -d -p -c "$T/ubfwd/unbound.conf"
    wait_udp 127.0.0.1 "$UB_PORT" ubfwd
    before=$(sr_stat queries tls)
    out=$(dig $DIG_OPTS @127.0.0.1 -p "$UB_PORT" aaaa.$ZONE AAAA +short)
    assert_eq "2001:db8::1" "$out" "unbound forwarding over DoT to stubresd gets the answer"
    [ "$(sr_stat queries tls)" -gt "$before" ] || fail "unbound's query did not come over tls"
    ok "... over stubresd's DoT listener"
    stop_bg ubfwd
else
    note "unbound missing: the DoT forwarder check is skipped"
fi

# The DoT client of the rest of the test.
cat >"$T/dot.py" <<'PYEOF'
import os, socket, ssl, struct, sys, time
import dns.message

PORT = int(os.environ["DOT_PORT"])
WAIT = float(os.environ.get("IT_WAIT", "10"))

def tls(ca, src="127.0.0.1"):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the certificates name 127.0.0.1; the CA file is the check
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT, source_address=(src, 0))
    return ctx.wrap_socket(raw)

def send(s, name, qid, typ="A"):
    w = dns.message.make_query(name, typ)
    w.id = qid
    w = w.to_wire()
    s.sendall(struct.pack(">H", len(w)) + w)

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b

def recv(s):
    h = recvn(s, 2)
    if h is None:
        return None
    d = recvn(s, struct.unpack(">H", h)[0])
    return dns.message.from_wire(d) if d is not None else None

def closed(s):
    """True when the server closes s within WAIT seconds."""
    s.settimeout(WAIT)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False

def serial(s):
    return s.getpeercert()["subject"]

cmd = sys.argv[1]
if cmd == "pipeline":
    s = tls(sys.argv[2])
    send(s, "slow1.example.test", 1)
    send(s, "www.example.test", 2)
    send(s, "slow2.example.test", 3)
    print("order", [recv(s).id for _ in range(3)])
elif cmd == "resume":
    ver = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[sys.argv[3]]
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    ctx.check_hostname = False
    ctx.minimum_version = ctx.maximum_version = ver
    ctx.set_alpn_protocols(["dot"])
    def once(sess=None):
        raw = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
        s = ctx.wrap_socket(raw, session=sess)
        send(s, "www.example.test", 4)
        recv(s)  # the TLS 1.3 ticket comes before the answer
        return s
    s = once()
    print("version", s.version(), "alpn", s.selected_alpn_protocol())
    n = once(s.session)
    print("resumed", n.session_reused)
elif cmd == "burst":
    # n queries, each in its own TLS record, all in one write; every one
    # must be answered, and the server's read() calls for them are counted
    # (syscr of /proc/PID/io, all its threads).
    n, pid = int(sys.argv[3]), sys.argv[4]
    def syscr():
        with open("/proc/%s/io" % pid) as f:
            return int([l for l in f if l.startswith("syscr:")][0].split()[1])
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb)
    def pump():
        raw.sendall(outb.read())
        d = raw.recv(65536)
        if not d:
            raise EOFError("closed by the server")
        inb.write(d)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump()
    buf = b""
    def answers(k):
        global buf
        got = []
        while len(got) < k:
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                m = struct.unpack(">H", buf[:2])[0]
                got.append(dns.message.from_wire(buf[2:2 + m]).id)
                buf = buf[2 + m:]
            if len(got) >= k:
                break
            try:
                buf += obj.read(65536)
            except ssl.SSLWantReadError:
                pump()
        return got
    def query(qid):
        w = dns.message.make_query("www.example.test", "A")
        w.id = qid
        w = w.to_wire()
        obj.write(struct.pack(">H", len(w)) + w)
    query(100)
    answers(1)  # the session is up, the name cached
    before = syscr()
    for i in range(n):
        query(1000 + i)
    raw.sendall(outb.read())
    got = answers(n)
    print("burst answered", len(set(got)), "reads", syscr() - before)
elif cmd == "idle":
    s = tls(sys.argv[2])
    send(s, "www.example.test", 5)
    print("answered", recv(s).id)
    print("idle closed", closed(s))
elif cmd == "cap":
    # tls_max_clients = 3: four idle connections, the oldest goes
    conns = []
    for i in range(4):
        c = tls(sys.argv[2])
        send(c, "www.example.test", 10 + i)
        print("cap answered", recv(c).id)
        conns.append(c)
    print("cap oldest closed", closed(conns[0]))
    send(conns[3], "www.example.test", 20)
    print("cap newest answered", recv(conns[3]).id)
elif cmd == "reload":
    # an open connection through a certificate change
    ready, go = sys.argv[3], sys.argv[4]
    s = tls(sys.argv[2])
    send(s, "www.example.test", 30)
    print("before", recv(s).id, serial(s))
    open(ready, "w").close()
    t = time.monotonic() + WAIT
    while not os.path.exists(go) and time.monotonic() < t:
        time.sleep(0.05)
    send(s, "www.example.test", 31)
    r = recv(s)
    print("old connection answered", r.id if r else None)
    n = tls(sys.argv[2])
    print("new connection cert", serial(n) != serial(s), serial(n))
elif cmd == "from":
    s = tls(sys.argv[2], sys.argv[3])
    send(s, "www.example.test", 40)
    r = recv(s)
    print("from answered", r.id if r else None)
elif cmd == "flood":
    # n idle TLS connections and h half-open handshakes, held until go
    n, h, ready, go = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    held = []
    for i in range(n):
        c = tls(sys.argv[2])
        held.append(c)
    for i in range(h):
        r = socket.create_connection(("127.0.0.1", PORT), timeout=WAIT)
        # the first bytes of a TLS record header: a ClientHello that never ends
        r.sendall(b"\x16\x03\x01")
        held.append(r)
    print("flood open", len(held))
    sys.stdout.flush()
    open(ready, "w").close()
    t = time.monotonic() + 3 * WAIT
    while not os.path.exists(go) and time.monotonic() < t:
        time.sleep(0.05)
    c = held[0]
    send(c, "www.example.test", 50)
    r = recv(c)
    print("flood first still answered", r.id if r else None)
PYEOF
export DOT_PORT
dot() { "$PY" "$T/dot.py" "$@"; }

# TLS 1.2 and 1.3 with session tickets (a second connection resumes) and
# ALPN dot.
for v in 1.3 1.2; do
    out=$(dot resume "$T/tls/cert1.pem" "$v")
    assert_match "^version TLSv$v alpn dot$" "$out" "TLS $v: ALPN dot is agreed"
    assert_match '^resumed True$' "$out" "TLS $v: a second connection resumes with the session ticket"
done


# Pipelining out of order: www is cached, the slow names wait 2 s upstream.
fakedns_mode up1 delay delay=2
out=$(dot pipeline "$T/tls/cert1.pem")
assert_match '^order \[2, ' "$out" "pipelined over DoT: the cached answer overtakes the slow ones"
assert_match '^order \[2, (1, 3|3, 1)\]$' "$out" "... and the slow ones are answered too"
fakedns_mode up1 good

# A burst of 40 queries, each in its own TLS record, in one TCP segment:
# all answered (none left unread inside OpenSSL's buffer), and read with a
# few read() calls, not two per record (a record's header, then its body).
out=$(dot burst "$T/tls/cert1.pem" 40 "$(pid_of sr)")
assert_match '^burst answered 40 ' "$out" "40 queries in 40 TLS records in one segment: all answered"
reads=$(echo "$out" | sed -n 's/^burst answered .* reads \([0-9]*\)$/\1/p')
[ -n "$reads" ] && [ "$reads" -le 10 ] || fail "stubresd made $reads read() calls for 40 TLS records"
ok "... with $reads read() calls for the 40 records"

# Idle timeout (5 s here): the server closes an idle connection.
out=$(dot idle "$T/tls/cert1.pem")
assert_match '^answered 5$' "$out" "a DoT connection is answered"
assert_match '^idle closed True$' "$out" "... and closed by stubresd once idle for tls_idle_timeout"

# Certificate reload: an open connection keeps working, new ones get the
# new certificate.
cp "$T/tls/cert2.pem" "$T/tls/cert.pem.new" && cp "$T/tls/key2.pem" "$T/tls/key.pem.new"
dot reload "$T/tls/both.pem" "$T/ready" "$T/go" >"$T/reload.out" 2>&1 &
RELOAD_PID=$!
for _ in $(seq 1 100); do
    [ -e "$T/ready" ] && break
    sleep 0.1
done
[ -e "$T/ready" ] || fail "the DoT client did not connect"
mv "$T/tls/cert.pem.new" "$T/tls/cert.pem"
mv "$T/tls/key.pem.new" "$T/tls/key.pem"
kill -HUP "$(pid_of sr)"
wait_log sr 'reloaded'
touch "$T/go"
wait "$RELOAD_PID" || fail "the reload client failed: $(cat "$T/reload.out")"
out=$(cat "$T/reload.out")
assert_match '^old connection answered 31$' "$out" "SIGHUP: a connection opened before the reload is still answered"
assert_match '^new connection cert True ' "$out" "... and a new connection gets the new certificate"
out=$(kdig $KDIG_OPTS @127.0.0.1 -p $DOT_PORT +tls-ca="$T/tls/cert2.pem" +tls-hostname=$TLS_NAME www.$ZONE A +short)
assert_eq 10.0.0.1 "$out" "kdig trusting only the new certificate is answered after the reload"
out=$(kdig $KDIG_OPTS @127.0.0.1 -p $DOT_PORT +tls-ca="$T/tls/cert1.pem" +tls-hostname=$TLS_NAME www.$ZONE A +short 2>&1 || true)
assert_no_match '^10\.0\.0\.1$' "$out" "kdig trusting only the old certificate is not"

# tls_max_clients: at the cap the longest-idle connection makes room.
$SR_CTL config tls_max_clients=3 >/dev/null
out=$(dot cap "$T/tls/both.pem")
assert_match '^cap oldest closed True$' "$out" "tls_max_clients 3: a fourth connection closes the longest idle"
assert_match '^cap newest answered 20$' "$out" "... and the newcomer is served"
[ "$(sr_stat tls refused)" -ge 1 ] || fail "stats: tls refused $(sr_stat tls refused)"
ok "stats: tls refused $(sr_stat tls refused)"
$SR_CTL config tls_max_clients=1000 >/dev/null

# allow: outsiders are closed before the handshake; insiders served.
$SR_CTL config allow=127.0.0.2/32 >/dev/null
out=$(dot from "$T/tls/both.pem" 127.0.0.1 2>&1 || true)
assert_no_match '^from answered 40$' "$out" "allow: a DoT client outside allow gets no answer"
assert_match '(EOF|reset|closed|Connection)' "$out" "... its connection is closed"
out=$(dot from "$T/tls/both.pem" 127.0.0.2)
assert_match '^from answered 40$' "$out" "... while one inside allow is answered"
$SR_CTL config allow=127.0.0.0/8 >/dev/null

# 1,000 idle TLS connections and 200 half-open handshakes (tls_max_clients
# raised to hold them all): UDP still answered.
$SR_CTL config tls_idle_timeout=60 >/dev/null
$SR_CTL config tls_max_clients=1500 >/dev/null
dot flood "$T/tls/both.pem" "$FLOOD_IDLE" 200 "$T/fready" "$T/fgo" >"$T/flood.out" 2>&1 &
FLOOD_PID=$!
for _ in $(seq 1 600); do
    [ -e "$T/fready" ] && break
    sleep 0.1
done
[ -e "$T/fready" ] || fail "the flood did not open its connections: $(cat "$T/flood.out")"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" \
    "with $FLOOD_IDLE idle TLS connections and 200 half-open handshakes, UDP is answered"
assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "... a cache miss over UDP too"
conns=$(sr_stat tls connections)
[ "$conns" -ge $((FLOOD_IDLE + 200)) ] || fail "stats: tls connections $conns, expected $((FLOOD_IDLE + 200))"
ok "stats: tls connections $conns"
touch "$T/fgo"
wait "$FLOOD_PID" || fail "the flood client failed: $(cat "$T/flood.out")"
assert_match '^flood first still answered 50$' "$(cat "$T/flood.out")" "... and the idle TLS connections are still served"

stop_stubresd sr
