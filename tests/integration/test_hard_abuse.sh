#!/bin/bash
# test_hard_abuse.sh -- hostile clients, while a well-behaved one (127.0.0.1)
# keeps asking over UDP and TCP and must keep getting answers:
#  1. 10,000 malformed UDP packets and 1,000 malformed TCP streams (lengths
#     under a header, zero lengths, 65,535-byte claims cut short, partial
#     length prefixes, random bytes) from eight sources (127.0.0.2-9): the
#     prober's success rate stays >= 99 %, and stubresd's RSS (VmRSS) comes
#     back to within 2 MiB of where it was.
#  2. 1,000 slow TCP clients, each announcing a 64-byte message and then
#     sending one byte a second (slowloris): stubresd never holds more than
#     tcp_max_clients connections, closes each slow one within
#     tcp_idle_timeout (+ 1.5 s of slack) although it keeps sending, and
#     the prober's UDP and TCP queries keep succeeding.
# (test_daemon_malformed.sh checks the replies owed to malformed queries;
# test_daemon_tcp.sh the connection cap and pipelining with good clients.)
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 2" \
    "tcp_idle_timeout = 2" "tcp_max_clients = 256"
PID=$(pid_of sr)
# Under AddressSanitizer freed memory sits in quarantine and RSS does not
# come back: RSS is reported there, and asserted only in a normal build.
ASAN=0
grep -q __asan_init "$STUBRESD" && ASAN=1
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }

# The prober: from 127.0.0.1, a query over UDP and one over TCP every 50 ms
# (cached www, and a fresh name that goes upstream), until $T/stop-probe
# exists; prints "udp OK/N tcp OK/N" and the slowest answer.
cat >"$T/probe.py" <<'PYEOF'
import os, socket, struct, sys, time
import dns.message, dns.query
port, stop = int(sys.argv[1]), sys.argv[2]
res = {"udp": [0, 0], "tcp": [0, 0]}
worst = 0.0
i = 0
end = time.monotonic() + 120
while not os.path.exists(stop) and time.monotonic() < end:
    i += 1
    for proto, fn in (("udp", dns.query.udp), ("tcp", dns.query.tcp)):
        name = "www.example.test" if i % 2 else "probe%d-%s.example.test" % (i, proto)
        t = time.monotonic()
        res[proto][1] += 1
        try:
            r = fn(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=2,
                   source="127.0.0.1")
            if r.rcode() in (0, 3):
                res[proto][0] += 1
        except Exception:
            pass
        worst = max(worst, time.monotonic() - t)
    time.sleep(0.05)
print("udp %d/%d tcp %d/%d worst %.3f" % (res["udp"][0], res["udp"][1], res["tcp"][0],
                                         res["tcp"][1], worst))
PYEOF
probe_start() {
    rm -f "$T/stop-probe"
    start_bg probe "$PY" "$T/probe.py" "$SR_PORT" "$T/stop-probe"
}
# probe_check WHAT: stop the prober; at least 99 % of its queries answered
# over each transport.
probe_check() {
    touch "$T/stop-probe"
    local i line
    for i in $(seq 1 50); do _it_alive "$(pid_of probe)" || break; sleep 0.1; done
    stop_bg probe >/dev/null 2>&1
    line=$(tail -1 "$(log_of probe)")
    note "prober during $1: $line"
    "$PY" - "$line" <<'PYEOF' || fail "prober during $1: $line (expected >= 99 % answered)"
import sys
w = sys.argv[1].split()
for ok_n in (w[1], w[3]):
    ok, n = map(int, ok_n.split("/"))
    if n < 20 or ok < 0.99 * n:
        sys.exit(1)
PYEOF
    ok "during $1 the prober's queries were answered: $line"
}

# --- 1. malformed UDP and TCP from eight sources ---------------------------------------
for i in $(seq 1 20); do $SR_DIG "warm$i.$ZONE" A >/dev/null; done
sleep 1
rss0=$(rss)
probe_start
sleep 1
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import random, socket, struct, sys, threading, time
port = int(sys.argv[1])
rnd = random.Random(11)
srcs = ["127.0.0.%d" % i for i in range(2, 10)]
q = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"
def hdr(flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", rnd.randrange(65536), flags, qd, an, ns, ar)
crafted = [b"", b"\x00", hdr()[:11], hdr(0x8100) + q, hdr(qd=0), hdr(an=3) + q,
           hdr() + b"\xc0\x0c\x00\x01\x00\x01", hdr() + b"\x40abc\x00\x00\x01\x00\x01",
           hdr() + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01", hdr() + q[:-3],
           hdr(ar=1) + q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x10", hdr(ar=9) + q]
udp = []
for s in srcs:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((s, 0))
    udp.append(u)
sent = 0
for i in range(10000):
    if i % 3 == 0:
        p = crafted[i // 3 % len(crafted)]
    elif i % 3 == 1:
        p = hdr(rnd.randrange(65536) & ~0x8000) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(200)))
    else:
        p = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 1400)))
    udp[i % len(udp)].sendto(p, ("127.0.0.1", port))
    sent += 1
    if i % 200 == 0:
        time.sleep(0.005)
print("udp sent", sent)
# 1,000 TCP streams, 25 at a time
kinds = [
    lambda: b"\x00\x05hello",                                  # length under a header
    lambda: b"\x00\x00",                                        # zero length
    lambda: b"\x00\x00" * 50,                                   # many zero lengths
    lambda: b"\xff\xff" + bytes(rnd.randrange(256) for _ in range(rnd.randrange(2000))),  # 65,535 claimed, cut
    lambda: b"\x00",                                            # half a length prefix
    lambda: struct.pack(">H", 40) + hdr()[:7],                  # partial header
    lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000))),  # random
    lambda: struct.pack(">H", 29) + hdr() + q[:15] + b"\x00\x05hello",  # a good query, then junk
]
stats = {"done": 0, "refused": 0}
lock = threading.Lock()
def worker(k):
    for j in range(40):
        n = k * 40 + j
        try:
            t = socket.create_connection(("127.0.0.1", port), timeout=3,
                                         source_address=(srcs[n % len(srcs)], 0))
            t.sendall(kinds[n % len(kinds)]())
            if n % 4 == 0:
                t.settimeout(3)
                try:
                    while t.recv(4096):   # wait for stubresd to close it
                        pass
                except (socket.timeout, OSError):
                    pass
            t.close()
            with lock:
                stats["done"] += 1
        except OSError:
            with lock:
                stats["refused"] += 1
ths = [threading.Thread(target=worker, args=(k,)) for k in range(25)]
for th in ths:
    th.start()
for th in ths:
    th.join()
print("tcp streams", stats["done"], "refused", stats["refused"])
PYEOF
)
note "$out"
assert_match '^udp sent 10000$' "$out" "10,000 malformed UDP packets sent from 127.0.0.2-9"
assert_match '^tcp streams 1000 refused 0$' "$out" "1,000 malformed TCP streams sent from 127.0.0.2-9, every connection accepted"
rss1=$(rss)
sleep 1
probe_check "the malformed flood"
_it_alive "$PID" || fail "stubresd died"
sanitizer_clean sr
# RSS settles (freed buffers go back to the allocator); 2 MiB of margin.
for i in $(seq 1 30); do
    r=$(rss)
    [ "$r" -le $((rss0 + 2048)) ] && break
    sleep 0.2
done
note "VmRSS: before $rss0 kB, right after $rss1 kB, settled $r kB"
if [ "$ASAN" = 0 ]; then
    [ "$r" -le $((rss0 + 2048)) ] || fail "VmRSS $r kB after the flood, $rss0 kB before (margin 2 MiB)"
    ok "VmRSS back to within 2 MiB: $rss0 kB before, $rss1 kB right after, $r kB settled"
else
    note "ASan build: RSS not asserted (quarantine)"
fi
m=$(sr_stat malformed)
d=$(sr_stat dropped)
[ $((m + d)) -ge 4000 ] || fail "stats: malformed $m, dropped $d: expected thousands"
ok "stats count the abuse: $m malformed, $d dropped"

# --- 2. 1,000 slow TCP clients ---------------------------------------------------------
probe_start
out=$("$PY" - "$SR_PORT" "$SR_SOCK" <<'PYEOF'
import json, resource, socket, sys, time
port, ctl = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
def stat_clients():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ctl)
    s.sendall(b"stats\n")
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        buf += c
    s.close()
    return json.loads(buf)["tcp"]["connections"]
conns = {}
t0 = time.monotonic()
for i in range(1000):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=2,
                                     source_address=("127.0.0.%d" % (2 + i % 8), 0))
    except OSError:
        continue
    c.setblocking(False)
    # a length prefix announcing 64 bytes, then the header byte by byte
    c.send(b"\x00\x40")
    conns[c] = [time.monotonic(), None]
opened = len(conns)
max_clients = 0
while time.monotonic() - t0 < 20 and any(v[1] is None for v in conns.values()):
    for c, v in conns.items():
        if v[1] is not None:
            continue
        try:
            if c.recv(1) == b"":
                v[1] = time.monotonic()
                continue
        except BlockingIOError:
            pass
        except OSError:
            v[1] = time.monotonic()
            continue
        try:
            c.send(b"\x01")
        except OSError:
            v[1] = time.monotonic()
    max_clients = max(max_clients, stat_clients())
    time.sleep(1)
now = time.monotonic()
life = sorted((v[1] or now) - v[0] for v in conns.values())
open_left = sum(1 for v in conns.values() if v[1] is None)
for c in conns:
    c.close()
print("opened %d max_clients %d still_open %d longest %.1f median %.1f ran %.0f" % (
    opened, max_clients, open_left, life[-1], life[len(life) // 2], now - t0))
PYEOF
)
note "$out"
probe_check "1,000 slow clients"
opened=$(printf '%s\n' "$out" | sed -n 's/^opened \([0-9]*\) .*/\1/p')
maxc=$(printf '%s\n' "$out" | sed -n 's/.* max_clients \([0-9]*\) .*/\1/p')
left=$(printf '%s\n' "$out" | sed -n 's/.* still_open \([0-9]*\) .*/\1/p')
longest=$(printf '%s\n' "$out" | sed -n 's/.* longest \([0-9.]*\) .*/\1/p')
assert_eq 1000 "$opened" "1,000 slow clients connected"
[ "$maxc" -le 256 ] || fail "stubresd held $maxc client connections (tcp_max_clients 256)"
ok "stubresd never held more than tcp_max_clients: at most $maxc connections"
assert_eq 0 "$left" "every slow client was disconnected"
# A client sees the close only when a later send fails: up to about two
# of its one-second turns after it (longer when the 1,000 sends of a turn
# are slow on a loaded machine; 4.0 s was seen with the CPU shared). So
# the bound is tcp_idle_timeout plus those turns, 5 s: a connection that
# the timeout did not close lives for the whole run (over 20 s).
"$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 5 else 1)' "$longest" ||
    fail "a client sending a byte a second kept its connection $longest s (tcp_idle_timeout 2 s)"
ok "a client trickling a byte a second is cut off after at most $longest s (tcp_idle_timeout 2 s)"
_it_alive "$PID" || fail "stubresd died"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +tcp +short)" "TCP service afterwards"
stop_stubresd sr
