#!/bin/bash
# test_hard_tcp_readers.sh -- TCP clients that do not read their answers:
#  1. eight clients each pipeline 60 queries for a 61 KB answer
#     (NAME.fill.example.test TXT from fakedns, held 1 s upstream so that
#     all would be in flight at once) and read nothing: stubresd's VmRSS
#     grows by at most 10 MiB (a connection's own cap, 256 KiB plus one
#     answer, eight times, the thread's shared 4 MiB, and 2 MiB of
#     slack), not by the 3.7 MB each asked for; once they read, every one
#     of the 480 answers arrives.
#  2. with tcp_max_clients = 4 and tcp_idle_timeout = 2, four clients that
#     pipeline 20 such queries and then read 2 KB every 0.1 s (enough to
#     keep each write making progress, far too slow to drain 1.2 MB): a
#     newcomer still gets its TCP answer (a connection whose output is not
#     being drained is closed for it), and every slow reader is closed
#     although it keeps reading (output must drain within
#     tcp_idle_timeout).
# Every client asks for a small MSS (536) and a small receive buffer, so
# the kernel's socket buffers hold little and what is queued is
# stubresd's own memory.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig
ASAN=0
grep -q __asan_init "$STUBRESD" && ASAN=1

CLIENT_PY=$T/readers.py
cat >"$CLIENT_PY" <<'PYEOF'
import json, socket, struct, subprocess, sys, threading, time
import dns.message, dns.rcode, dns.rdatatype

mode, port = sys.argv[1], int(sys.argv[2])


def conn(small=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if small:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    return s


def frame(name, qid, typ="TXT"):
    m = dns.message.make_query(name, typ)
    m.id = qid
    w = m.to_wire()
    return struct.pack(">H", len(w)) + w


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += c
    return buf


def recv_msg(s):
    n = struct.unpack(">H", recv_exact(s, 2))[0]
    return dns.message.from_wire(recv_exact(s, n))


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stats(ctl):
    return json.loads(subprocess.run(ctl + ["--json", "stats"], check=True,
                                     capture_output=True, text=True).stdout)


def fake_asked(path, name):
    try:
        with open(path) as f:
            return json.load(f)["qnames"].get(name, 0)
    except (OSError, ValueError):
        return 0


if mode == "memory":
    pid, fake_stats, ctl = int(sys.argv[3]), sys.argv[4], sys.argv[5].split()
    nconn, nq = 8, 60
    # warm up: one big answer through, so buffers and the cache exist
    s = conn(small=False)
    s.sendall(frame("warm.fill.example.test", 1))
    recv_msg(s)
    s.close()
    rss0 = rss(pid)
    socks = []
    for k in range(nconn):
        s = conn()
        s.sendall(b"".join(frame("c%d.fill.example.test" % k, i + 1) for i in range(nq)))
        socks.append(s)
    # until the upstream answered every name and no client waits
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if all(fake_asked(fake_stats, "c%d.fill.example.test." % k) >= 1 for k in range(nconn)):
            st = stats(ctl)
            if st["inflight"]["upstream"] == 0 and st["inflight"]["clients"] == 0:
                break
        time.sleep(0.1)
    else:
        print("never settled")
    peak = 0
    for _ in range(5):
        peak = max(peak, rss(pid))
        time.sleep(0.1)
    print("rss before %d peak %d growth %d" % (rss0, peak, peak - rss0))
    print("queries read while nobody read %d" % stats(ctl)["queries"]["tcp"])
    # now read: every answer arrives, each whole
    good = 0
    for k, s in enumerate(socks):
        ids = set()
        try:
            for _ in range(nq):
                r = recv_msg(s)
                if (r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
                        and len(r.answer[0]) == 230
                        and r.answer[0].rdtype == dns.rdatatype.TXT):
                    ids.add(r.id)
        except (OSError, EOFError) as e:
            print("conn %d: %s" % (k, e))
        good += len(ids)
        s.close()
    print("answers %d of %d" % (good, nconn * nq))

elif mode == "slow":
    nconn, nq = 4, 20
    res = [None] * nconn
    got = [0] * nconn

    def reader(k, s):
        t0 = time.monotonic()
        s.settimeout(1)
        while time.monotonic() - t0 < 25:
            try:
                c = s.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                res[k] = ("reset", time.monotonic() - t0)
                return
            if not c:
                res[k] = ("closed", time.monotonic() - t0)
                return
            got[k] += len(c)
            time.sleep(0.1)
        res[k] = ("open", time.monotonic() - t0)

    threads = []
    for k in range(nconn):
        s = conn()
        s.sendall(b"".join(frame("s%d.fill.example.test" % k, i + 1) for i in range(nq)))
        t = threading.Thread(target=reader, args=(k, s))
        t.start()
        threads.append(t)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and min(got) == 0:
        time.sleep(0.05)
    print("slow readers receiving", min(got) > 0)
    # a newcomer while the four slots are held
    try:
        s = conn(small=False)
        s.settimeout(3)
        s.sendall(frame("www.example.test", 7, "A"))
        r = recv_msg(s)
        print("newcomer", dns.rcode.to_text(r.rcode()),
              " ".join(rd.to_text() for rrs in r.answer for rd in rrs))
        s.close()
    except (OSError, EOFError) as e:
        print("newcomer failed: %s" % e)
    for t in threads:
        t.join()
    for k in range(nconn):
        print("reader %d %s after %.1f s, %d of %d bytes" % (k, res[k][0], res[k][1], got[k],
                                                           nq * 61680))
PYEOF

# --- 1. clients that never read: memory --------------------------------------------------
start_fakedns up1
start_stubresd sr "servers = tcp://127.0.0.1:$UP1_PORT" "timeout = 5" \
    "tcp_idle_timeout = 30" "tcp_max_clients = 8"
fakedns_mode up1 delay delay=1
out=$("$PY" "$CLIENT_PY" memory "$SR_PORT" "$(pid_of sr)" "$T/up1.stats.json" "$SR_CTL")
note "$out"
assert_no_match 'never settled' "$out" "the upstream answered and no client is left waiting"
growth=$(echo "$out" | sed -n 's/^rss before .* growth \(-*[0-9]*\)$/\1/p')
read_q=$(echo "$out" | sed -n 's/^queries read while nobody read \([0-9]*\)$/\1/p')
if [ "$ASAN" = 1 ]; then
    note "ASan build: RSS not asserted (quarantine); growth $growth kB"
else
    [ "$growth" -le 10240 ] ||
        fail "VmRSS grew by $growth kB for 8 connections that do not read (bound 10 MiB); $read_q queries read"
    ok "VmRSS grew by $growth kB for 8 clients that pipelined 60 queries for 61 KB answers and read nothing ($read_q queries read)"
fi
assert_match '^answers 480 of 480$' "$out" "once the clients read, all 480 answers arrive whole"
fakedns_mode up1 good
stop_stubresd sr

# --- 2. slow readers at the connection cap ------------------------------------------
start_stubresd sr2 "servers = tcp://127.0.0.1:$UP1_PORT" "timeout = 5" \
    "tcp_idle_timeout = 2" "tcp_max_clients = 4"
out=$("$PY" "$CLIENT_PY" slow "$SR_PORT")
note "$out"
assert_match '^slow readers receiving True$' "$out" "four slow readers hold the four slots and get bytes"
assert_match '^newcomer NOERROR 10\.0\.0\.1$' "$out" \
    "a newcomer gets its TCP answer while four slow readers hold every slot"
assert_no_match '^reader [0-9] open' "$out" \
    "every slow reader is closed although it keeps reading (output must drain within tcp_idle_timeout)"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +tcp +short)" "TCP service afterwards"
stop_stubresd sr2
