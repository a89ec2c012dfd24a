#!/bin/bash
# test_daemon_conformance.sh -- the cases of ISC's DNS compliance tester
# (genreport, DNS-Compliance-Testing, run as against a recursive server:
# RD set in every query) and of RFC 8906 section 8, each as one crafted
# query to stubresd and the exact answer owed: header bits, RCODE (with the
# extended bits of the OPT), the OPT record and what it carries. genreport
# is packaged nowhere, so its judgement is written out here: a case passes
# when every tag genreport would add is absent. ANY (RFC 8482) is at the
# end: one upstream query per ANY, whatever the client does.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"

out=$("$PY" - "$SR_PORT" <<'PYEOF'
import socket, struct, sys
port = int(sys.argv[1])
ZONE = b"\x07example\x04test\x00"
QR, AA, TC, RD, RA, Z, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010
BITS = ((QR, "qr"), (AA, "aa"), (TC, "tc"), (RD, "rd"), (RA, "ra"), (Z, "z"), (AD, "ad"), (CD, "cd"))
NSID = b"\x00\x03\x00\x00"
ECS = b"\x00\x08\x00\x04\x00\x01\x00\x00"
EXPIRE = b"\x00\x09\x00\x00"
COOKIE = b"\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08"
OPT100 = b"\x00\x64\x00\x00"

def query(qid, flags=RD, opcode=0, qtype=6, qclass=1, name=ZONE, edns=None, question=True):
    """edns: None, or (udp size, version, flags, option bytes)."""
    flags |= opcode << 11
    w = struct.pack(">HHHHHH", qid, flags, 1 if question else 0, 0, 0, 1 if edns else 0)
    if question:
        w += name + struct.pack(">HH", qtype, qclass)
    if edns:
        size, version, eflags, opts = edns
        w += b"\x00" + struct.pack(">HHBBHH", 41, size, 0, version, eflags, len(opts)) + opts
    return w

def ask(w, tcp=False):
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(struct.pack(">H", len(w)) + w)
        b = b""
        while len(b) < 2 or len(b) < 2 + struct.unpack(">H", b[:2])[0]:
            c = s.recv(65535)
            if not c:
                break
            b += c
        s.close()
        return b[2:]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(w, ("127.0.0.1", port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None

def skip_name(r, o):
    while True:
        n = r[o]
        if n == 0:
            return o + 1
        if n & 0xC0 == 0xC0:
            return o + 2
        o += 1 + n

def parse(r):
    """The reply by hand (dnspython refuses some replies judged here)."""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", r[:12])
    o = 12
    for _ in range(qd):
        o = skip_name(r, o) + 4
    types = {"an": [], "ns": [], "ar": []}
    opt = None
    for sec, cnt in (("an", an), ("ns", ns), ("ar", ar)):
        for _ in range(cnt):
            o = skip_name(r, o)
            t, c, ttl, rdlen = struct.unpack(">HHIH", r[o:o + 10])
            rd = r[o + 10:o + 10 + rdlen]
            o += 10 + rdlen
            types[sec].append(t)
            if t == 41:
                codes = []
                i = 0
                while i + 4 <= len(rd):
                    code, ln = struct.unpack(">HH", rd[i:i + 4])
                    codes.append(code)
                    i += 4 + ln
                opt = {"size": c, "ercode": ttl >> 24, "version": (ttl >> 16) & 0xFF,
                       "flags": ttl & 0xFFFF, "codes": codes}
    assert o == len(r), "trailing bytes"
    rcode = (flags & 0xF) | ((opt["ercode"] << 4) if opt else 0)
    return qid, flags, (qd, an, ns, ar), rcode, opt, types

def show(name, r):
    if r is None:
        print(name, "no-reply")
        return
    qid, flags, counts, rcode, opt, types = parse(r)
    bits = ",".join(n for b, n in BITS if flags & b) or "-"
    o = "noopt"
    if opt:
        o = "opt=v%d,flags=%04x,codes=%s" % (opt["version"], opt["flags"],
                                             "+".join(str(c) for c in opt["codes"]) or "-")
    soa = "soa" if 6 in types["an"] else "nosoa"
    print(name, "opcode=%d" % ((flags >> 11) & 0xF), "bits=" + bits, "rcode=%d" % rcode,
          "counts=%d/%d/%d/%d" % counts, o, soa, "len=%d" % len(r))

E0 = (4096, 0, 0, b"")
# genreport's table (name: query); RD is set in all of them (recursive).
cases = [
    ("dns", query(1)),
    ("aa", query(2, RD | AA)),
    ("ad", query(3, RD | AD)),
    ("cd", query(4, RD | CD)),
    ("ra", query(5, RD | RA)),
    ("rd", query(6, RD)),
    ("tc", query(7, RD | TC)),
    ("zflag", query(8, RD | Z)),
    ("opcode", query(9, RD, opcode=15, question=False)),
    ("opcodeflg", query(10, RD | TC | RA | CD | AD | AA | Z, opcode=15, question=False)),
    ("type666", query(11, qtype=666)),
    ("edns", query(12, edns=E0)),
    ("edns1", query(13, edns=(4096, 1, 0, b""))),
    ("edns512", query(14, qtype=48, edns=(512, 0, 0x8000, b""))),
    ("ednsopt", query(15, edns=(4096, 0, 0, OPT100))),
    ("edns1opt", query(16, edns=(4096, 1, 0, OPT100))),
    ("do", query(17, edns=(4096, 0, 0x8000, b""))),
    ("docd", query(18, RD | CD, edns=(4096, 0, 0x8000, b""))),
    ("edns1do", query(19, edns=(4096, 1, 0x8000, b""))),
    ("ednsflags", query(20, edns=(4096, 0, 0x0080, b""))),
    ("optlist", query(21, edns=(4096, 0, 0, NSID + ECS + EXPIRE + COOKIE))),
    ("ednsnsid", query(22, edns=(4096, 0, 0, NSID))),
    ("ednscookie", query(23, edns=(4096, 0, 0, COOKIE))),
    ("ednsexpire", query(24, edns=(4096, 0, 0, EXPIRE))),
    ("ednssubnet", query(25, edns=(4096, 0, 0, ECS))),
    ("edns1nsid", query(26, edns=(4096, 1, 0, NSID))),
    ("edns1cookie", query(27, edns=(4096, 1, 0, COOKIE))),
    ("edns1expire", query(28, edns=(4096, 1, 0, EXPIRE))),
    ("edns1subnet", query(29, edns=(4096, 1, 0, ECS))),
    # RFC 8906 8.2: a version and a flag / an option unknown at once
    ("edns1flags", query(30, edns=(4096, 1, 0x0080, b""))),
    # RFC 8906 8.1, unknown classes: passed on; the upstream here refuses
    # it, so no upstream can answer: SERVFAIL, at once
    ("class666", query(31, qclass=666)),
]
for name, w in cases:
    show(name, ask(w))
show("tcp", ask(query(40), tcp=True))
show("ednstcp", ask(query(41, qtype=48, edns=(512, 0, 0x8000, b"")), tcp=True))
show("edns1tcp", ask(query(42, edns=(4096, 1, 0, b"")), tcp=True))
PYEOF
)
printf '%s\n' "$out" >"$T/conformance.txt"

# check NAME REGEX WHY: the reply to case NAME matches REGEX exactly.
check() {
    assert_match "^$1 $2\$" "$out" "$1: $3"
}
# A QUERY answered from the zone: QR, RD copied (RFC 1035 4.1.1), RA (a
# recursive service), no AA (not authoritative, genreport -R "aa"), no TC,
# no Z (RFC 1035 4.1.1: zero in all replies), no AD (RFC 6840 5.8: only to
# a client that set AD or DO), no CD unless asked; NOERROR; the SOA.
NOOPT='noopt soa len=[0-9]+'
check dns 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'plain QUERY (RFC 1035 4.1.1)'
check aa 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'AA in a query is ignored, no AA back (RFC 1035 4.1.1; RFC 8906 8.1, header bits)'
check ad 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'AD in a query: no AD back without validated data (RFC 6840 5.7; RFC 8906 8.1, header bits)'
check cd 'opcode=0 bits=qr,rd,ra,cd rcode=0 counts=1/1/0/0 '"$NOOPT" 'CD copied (RFC 4035 3.2.2; RFC 8906 8.1, header bits)'
check ra 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'RA in a query is ignored (RFC 1035 4.1.1)'
check rd 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'RD copied (RFC 1035 4.1.1; RFC 8906 8.1, header bits)'
check tc 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'TC in a query: answered, not FORMERR, no TC back (RFC 1035 4.1.1)'
check zflag 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'Z in a query: answered, Z zero in the reply (RFC 1035 4.1.1; RFC 8906 8.1, header bits)'
# Opcode 15, header only: NOTIMP, the opcode echoed, every section empty,
# and none of RA, RD, CD, AD, AA, TC, Z (defined for QUERY only).
check opcode 'opcode=15 bits=qr rcode=4 counts=0/0/0/0 noopt nosoa len=12' 'unknown opcode: NOTIMP, header only (RFC 1035 4.1.1; RFC 8906 8.1, unknown opcodes)'
check opcodeflg 'opcode=15 bits=qr rcode=4 counts=0/0/0/0 noopt nosoa len=12' 'unknown opcode with every flag set: NOTIMP, no QUERY flag copied'
check type666 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/0/1/0 noopt nosoa len=[0-9]+' 'unknown type: NODATA from upstream, not dropped (RFC 3597; RFC 8906 8.1, unknown types and classes)'
# EDNS version 0: NOERROR, an OPT of version 0, no flag but DO (RFC 6891
# 6.1.4: "MUST be zero"), no option it does not implement (none echoed).
check edns 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/1 opt=v0,flags=0000,codes=- soa len=[0-9]+' 'EDNS (RFC 6891 7; RFC 8906 8.2, minimal EDNS)'
check ednsopt 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/1 opt=v0,flags=0000,codes=- soa len=[0-9]+' 'unknown option ignored, not echoed (RFC 6891 6.1.2; RFC 8906 8.2, unknown options)'
check ednsflags 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/1 opt=v0,flags=0000,codes=- soa len=[0-9]+' 'unknown EDNS flag ignored, cleared (RFC 6891 6.1.4; RFC 8906 8.2, unknown flags)'
check do 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/1 opt=v0,flags=8000,codes=- soa len=[0-9]+' 'DO copied (RFC 3225 3; RFC 8906 8.2, DO=1)'
check docd 'opcode=0 bits=qr,rd,ra,cd rcode=0 counts=1/1/0/1 opt=v0,flags=8000,codes=- soa len=[0-9]+' 'DO and CD (RFC 4035 3.2.2)'
for c in optlist ednsnsid ednscookie ednsexpire ednssubnet; do
    check $c 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/1 opt=v0,flags=0000,codes=- soa len=[0-9]+' 'defined options stubresd does not implement: ignored (RFC 6891 6.1.2; RFC 8906 8.2, several options)'
done
check edns512 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/0/1/1 opt=v0,flags=8000,codes=- nosoa len=([0-9]|[1-9][0-9]|[1-4][0-9][0-9]|50[0-9]|51[0-2])' 'within the 512-byte UDP size asked (RFC 6891 6.2.5)'
# Unknown EDNS version: BADVERS (16: 1 in the OPT's extended RCODE, 0 in
# the header) with an OPT of the highest version known (0), no answer.
for c in edns1 edns1opt edns1nsid edns1cookie edns1expire edns1subnet edns1flags; do
    check $c 'opcode=0 bits=qr,rd,ra rcode=16 counts=1/0/0/1 opt=v0,flags=0000,codes=- nosoa len=[0-9]+' 'EDNS version 1: BADVERS, OPT version 0 (RFC 6891 6.1.3; RFC 8906 8.2, version negotiation, with an unknown flag or option)'
done
check edns1do 'opcode=0 bits=qr,rd,ra rcode=16 counts=1/0/0/1 opt=v0,flags=8000,codes=- nosoa len=[0-9]+' 'EDNS version 1 with DO: BADVERS, DO copied (RFC 6891 6.1.3; RFC 8906 8.2, version negotiation with DO=1)'
check class666 'opcode=0 bits=qr,rd,ra rcode=2 counts=1/0/0/0 noopt nosoa len=[0-9]+' 'unknown class: an answer, never silence (RFC 8906 8.1, unknown types and classes)'
check tcp 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/1/0/0 '"$NOOPT" 'over TCP (RFC 7766 5; RFC 8906 8.1, TCP)'
check ednstcp 'opcode=0 bits=qr,rd,ra rcode=0 counts=1/0/1/1 opt=v0,flags=8000,codes=- nosoa len=[0-9]+' 'EDNS over TCP (RFC 8906 8.2, EDNS over TCP)'
check edns1tcp 'opcode=0 bits=qr,rd,ra rcode=16 counts=1/0/0/1 opt=v0,flags=0000,codes=- nosoa len=[0-9]+' 'BADVERS over TCP too'

# --- RFC 8482: ANY --------------------------------------------------------------
# A forwarder has no authority to make a minimal answer up: ANY goes to the
# upstream like any type (one query), its answer is cached, and a second
# ANY is answered from the cache (no second upstream query).
fakedns_reset up1
n0=$(sr_stat upstream_queries)
a1=$($SR_DIG www.$ZONE ANY +noall +answer | wc -l)
a2=$($SR_DIG www.$ZONE ANY +noall +answer | wc -l)
[ "$a1" -ge 1 ] || fail "ANY: no answer"
assert_eq "$a1" "$a2" "ANY answered alike from the cache"
assert_eq 1 "$(fakedns_stat up1 questions "www.$ZONE. ANY")" "ANY: exactly one upstream query for two client queries (RFC 8482 4)"
assert_eq $((n0 + 1)) "$(sr_stat upstream_queries)" "stats: one upstream query for the two ANY"

stop_stubresd sr
