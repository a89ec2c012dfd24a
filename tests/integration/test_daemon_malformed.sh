#!/bin/bash
# test_daemon_malformed.sh -- every network byte is hostile: 10,000
# malformed packets over UDP (random bytes, and crafted ones: short,
# responses, bad counts, compression pointers, bad labels, duplicate OPT,
# truncated records) plus garbage over TCP leave stubresd answering; the
# replies it owes are right: FORMERR when a header can be read, nothing
# when it cannot or when the packet is a response, NOTIMP for other
# opcodes, REFUSED for zone transfers, BADVERS for EDNS version 1.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"

out=$("$PY" - "$SR_PORT" <<'PYEOF'
import random, socket, struct, sys, time
port = int(sys.argv[1])
rnd = random.Random(7)
q = bytes([3]) + b"www" + bytes([7]) + b"example" + bytes([4]) + b"test" + bytes([0]) + b"\x00\x01\x00\x01"
opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
def hdr(flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", rnd.randrange(65536), flags, qd, an, ns, ar)
crafted = [
    b"", b"\x00", hdr()[:11],                         # no header
    hdr(0x8100) + q,                                  # a response
    hdr(qd=0), hdr(qd=2) + q + q, hdr(an=1) + q,      # bad counts
    hdr() + b"\xc0\x0c\x00\x01\x00\x01",              # pointer to itself
    hdr() + b"\xc0\x00\x00\x01\x00\x01",              # pointer to the header
    hdr() + b"\x40abc\x00\x00\x01\x00\x01",           # label type 0x40
    hdr() + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",  # name > 255
    hdr() + q[:-3],                                   # question cut short
    hdr(ar=2) + q + opt + opt,                        # two OPT
    hdr(ar=1) + q + opt[:-1],                         # OPT cut short
    hdr(ar=1) + q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x10",  # RDLENGTH past the end
    hdr(ar=9) + q,                                    # too many additional
    hdr() + q[:-4] + b"\x00\x29\x00\x01",             # a question for OPT
]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for i in range(10000):
    if i % 4 == 0:
        p = crafted[i // 4 % len(crafted)]
    elif i % 4 == 1:
        p = hdr(rnd.randrange(65536) & ~0x8000) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(300)))
    else:
        p = bytes(rnd.randrange(256) for _ in range(rnd.randrange(600)))
    s.sendto(p, ("127.0.0.1", port))
    sent += 1
    if i % 500 == 0:
        time.sleep(0.01)  # let the receive buffer drain a little
# And over TCP: garbage lengths, a short message, random bytes, a half message.
for blob in (b"\x00\x05hello", b"\x00\x00", b"\xff\xff" + b"x" * 100, bytes(rnd.randrange(256) for _ in range(3000)),
             struct.pack(">H", 40) + hdr() + q[:5]):
    t = socket.create_connection(("127.0.0.1", port), timeout=3)
    t.sendall(blob)
    t.close()
print(sent)
PYEOF
)
assert_eq 10000 "$out" "10,000 malformed UDP packets and 5 garbage TCP connections sent"
sleep 0.5
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "stubresd still answers over UDP"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +tcp +short)" "... and over TCP"
[ "$(sr_stat malformed)" -gt 100 ] || fail "stats: malformed $(sr_stat malformed)"
ok "stats: $(sr_stat malformed) malformed, $(sr_stat dropped) dropped"
kill -0 "$(pid_of sr)" || fail "stubresd died"
sanitizer_clean sr

# --- the replies owed ---------------------------------------------------------------
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import socket, struct, sys
import dns.message, dns.opcode, dns.rcode, dns.query, dns.flags, dns.edns
port = int(sys.argv[1])
def raw(p, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(p, ("127.0.0.1", port))
    try:
        return s.recv(4096)
    except socket.timeout:
        return None
q = bytes([3]) + b"www" + bytes([7]) + b"example" + bytes([4]) + b"test" + bytes([0]) + b"\x00\x01\x00\x01"
def show(name, r):
    if r is None:
        print(name, "no reply")
        return
    # The header by hand: dnspython will not read every opcode's reply.
    mid, flags, qd = struct.unpack(">HHH", r[:6])
    print(name, "id=%d" % mid, dns.rcode.to_text(flags & 0xF), "qd=%d" % qd,
          "qr" if flags & 0x8000 else "-", "rd" if flags & 0x0100 else "-")
show("noqd", raw(struct.pack(">HHHHHH", 7, 0x0100, 0, 0, 0, 0)))
show("twoqd", raw(struct.pack(">HHHHHH", 8, 0x0100, 2, 0, 0, 0) + q + q))
show("ptr", raw(struct.pack(">HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"))
show("short", raw(b"\x12\x34\x01"))
show("response", raw(struct.pack(">HHHHHH", 10, 0x8180, 1, 0, 0, 0) + q))
m = dns.message.make_query("www.example.test", "A")
m.set_opcode(dns.opcode.NOTIFY)
show("notify", raw(m.to_wire()))
m = dns.message.make_query("www.example.test", "A")
m.set_opcode(dns.opcode.UPDATE)
show("update", raw(m.to_wire()))
show("axfr", raw(dns.message.make_query("example.test", "AXFR").to_wire()))
w = bytearray(dns.message.make_query("www.example.test", "A", use_edns=0).to_wire())
w[-5] = 1  # the OPT TTL's version byte (RFC 6891 6.1.3)
r = dns.message.from_wire(raw(bytes(w)))
print("badvers", dns.rcode.to_text(r.rcode()), "edns=%d" % r.edns)
PYEOF
)
assert_match '^noqd id=7 FORMERR qd=0 qr rd$' "$out" "QDCOUNT 0: FORMERR, header only, ID and RD kept"
assert_match '^twoqd id=8 FORMERR qd=0 qr rd$' "$out" "QDCOUNT 2: FORMERR, header only"
assert_match '^ptr id=9 FORMERR qd=0 qr rd$' "$out" "a pointer in the question: FORMERR"
assert_match '^short no reply$' "$out" "no header: dropped"
assert_match '^response no reply$' "$out" "a response (QR=1): never answered"
assert_match '^notify id=[0-9]+ NOTIMP qd=1 qr -$' "$out" "NOTIFY: NOTIMP, without RD (defined for QUERY only)"
assert_match '^update id=[0-9]+ NOTIMP qd=1 qr' "$out" "UPDATE: NOTIMP"
assert_match '^axfr id=[0-9]+ REFUSED qd=1 qr rd$' "$out" "AXFR: REFUSED"
assert_match '^badvers BADVERS edns=0$' "$out" "EDNS version 1: BADVERS with an OPT of version 0"

stop_stubresd sr
