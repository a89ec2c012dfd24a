#!/bin/bash
# test_daemon_tcp.sh -- client TCP per RFC 7766: many queries on one
# connection answered as they complete (a cached answer overtakes a slow
# one); a connection is not closed for idleness while its answers are
# still coming, and is closed when idle; a client that half-closes still
# gets its answers; the connection cap closes the longest-idle connection
# to let a new client in; the per-connection pipeline cap delays, never
# drops; garbage closes only that connection.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 3" \
    "tcp_idle_timeout = 1" "tcp_max_clients = 4" "tcp_max_pipeline = 3"
$SR_DIG www.$ZONE A +short >/dev/null # cached
fakedns_mode up1 delay delay=1.5

out=$("$PY" - "$SR_PORT" <<'PYEOF'
import socket, struct, sys, time
import dns.message
port = int(sys.argv[1])

def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)

def send(s, name, qid, typ="A"):
    m = dns.message.make_query(name, typ)
    m.id = qid
    w = m.to_wire()
    s.sendall(struct.pack(">H", len(w)) + w)

def recv(s):
    hdr = b""
    while len(hdr) < 2:
        c = s.recv(2 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack(">H", hdr)[0]
    data = b""
    while len(data) < n:
        c = s.recv(n - len(data))
        if not c:
            return None
        data += c
    return dns.message.from_wire(data)

# 1. Pipelining: two slow (upstream delay 1.5 s), then one cached; the
#    cached answer comes first (RFC 7766 6.2.1.1).
s = conn()
send(s, "slow1.example.test", 1)
send(s, "slow2.example.test", 2)
send(s, "www.example.test", 3)
order = [recv(s).id for _ in range(3)]
print("order", order)
# 2. Not idle while answers are due: the slow answers took 1.5 s > idle 1 s.
print("slow answered", sorted(order[1:]) == [1, 2])
# 3. Idle: closed after about a second.
t = time.monotonic()
s.settimeout(5)
closed = s.recv(1) == b""
print("idle closed", closed, round(time.monotonic() - t))
s.close()
# 4. Half-close: the client says it is done; the answer still comes.
s = conn()
send(s, "www.example.test", 9)
s.shutdown(socket.SHUT_WR)
r = recv(s)
print("half-close", r.id if r else None, recv(s) is None)
s.close()
# 5. The pipeline cap (3) holds back the rest; all 8 get answered.
s = conn()
for i in range(8):
    send(s, "pipe%d.example.test" % i, 100 + i)
ids = sorted(recv(s).id for _ in range(8))
print("pipeline", ids == list(range(100, 108)))
s.close()
# 6. The connection cap (4): six idle connections, the oldest go; a new
#    client is still served.
idle = [conn() for _ in range(6)]
time.sleep(0.2)
s = conn()
send(s, "www.example.test", 77)
r = recv(s)
print("cap served", r.id if r else None)
gone = 0
for c in idle:
    c.settimeout(0.5)
    try:
        gone += c.recv(1) == b""
    except socket.timeout:
        pass
    c.close()
print("cap closed", gone >= 2)
s.close()
# 7. Garbage (a length under 12): that connection is closed ...
g = conn()
g.sendall(b"\x00\x05hello")
g.settimeout(2)
print("garbage closed", g.recv(1) == b"")
g.close()
PYEOF
)
assert_match '^order \[3, ' "$out" "pipelined: the cached answer overtakes two slow ones"
assert_match '^slow answered True$' "$out" "the slow answers arrive although they took longer than the idle timeout"
assert_match '^idle closed True 1$' "$out" "an idle connection is closed after tcp_idle_timeout (1 s)"
assert_match '^half-close 9 True$' "$out" "half-closed by the client: answered, then closed"
assert_match '^pipeline True$' "$out" "8 queries with tcp_max_pipeline 3: all answered"
assert_match '^cap served 77$' "$out" "at tcp_max_clients a new client is served"
assert_match '^cap closed True$' "$out" "... the longest-idle connections made room"
assert_match '^garbage closed True$' "$out" "a message shorter than a header closes its connection"
fakedns_mode up1 good
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +tcp +short)" "... and TCP service goes on"
[ "$(sr_stat tcp refused)" -ge 2 ] || fail "stats: tcp refused $(sr_stat tcp refused)"
ok "stats: tcp accepted $(sr_stat tcp accepted), made room $(sr_stat tcp refused) times"

# --- many clients, one of them greedy: the others are served --------------------------
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import socket, struct, sys, threading, time
import dns.message, dns.query
port = int(sys.argv[1])
w = dns.message.make_query("www.example.test", "A").to_wire()
stop = time.monotonic() + 3
def greedy():
    # a client that floods cached queries and never reads its answers
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    while time.monotonic() < stop:
        try:
            s.send((struct.pack(">H", len(w)) + w) * 64)
        except BlockingIOError:
            time.sleep(0.01)
    s.close()
th = threading.Thread(target=greedy)
th.start()
time.sleep(0.5)
lat = []
for i in range(20):
    t = time.monotonic()
    dns.query.tcp(dns.message.make_query("www.example.test", "A"), "127.0.0.1", port=port, timeout=3)
    lat.append(time.monotonic() - t)
th.join()
print("max latency ms", int(max(lat) * 1000))
PYEOF
)
ms=$(printf '%s\n' "$out" | sed -n 's/^max latency ms //p')
[ -n "$ms" ] && [ "$ms" -lt 500 ] || fail "with a greedy client others waited up to '$ms' ms"
ok "a client flooding without reading does not starve others (worst $ms ms)"

stop_stubresd sr

# --- SIGTERM with a client that reads nothing --------------------------------------------
# Its answers are still queued when the drain ends (timeout 0.5: 3 s), so
# the connection is freed after the table of queries in flight: stubresd
# must still exit 0 (it crashed with SIGSEGV there).
start_stubresd sr2 "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 0.5"
"$PY" - "$SR_PORT" >"$T/nonreader.txt" 2>&1 <<'PYEOF' &
import socket, struct, sys, time
import dns.message
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
wire = dns.message.make_query("big.example.test", "A").to_wire()
sent = 0
try:
    for i in range(5000):
        s.sendall(struct.pack("!H", len(wire)) + wire)
        sent += 1
except OSError as e:
    print("send stopped:", e)
print("sent", sent, flush=True)
time.sleep(12)
PYEOF
nonreader=$!
for i in $(seq 1 100); do
    grep -q "^sent" "$T/nonreader.txt" 2>/dev/null && break
    sleep 0.1
done
ok "a client sent $(sed -n 's/^sent //p' "$T/nonreader.txt") queries over TCP and reads none of the answers"
stop_stubresd sr2
kill "$nonreader" 2>/dev/null || true
wait "$nonreader" 2>/dev/null || true
ok "SIGTERM with that client still connected: the drain ends, stubresd exits 0"
