#!/usr/bin/python3
"""Wire test vectors for the libstubres codec, made by real DNS software.

Every .bin file here is a DNS message built by dnspython (dns.message
.to_wire, which compresses names) or, with --nsd, a raw answer of nsd
serving tests/unit/data/nsd/example.test.zone. Each gets a .txt sidecar
with what a correct parser must report: header, question, EDNS, and for
every record its section, owner, type, type name, class, TTL, RDATA bytes
and the text of every field per stubres-query(1) OUTPUT.

The sidecar is computed from dnspython's own parse of the message
(dns.name.from_wire, dns.rdata.from_wire), never from libstubres, and is
cross-checked against dnspython's presentation form wherever the two
conventions coincide (plain names, numbers, addresses, plain strings).

Regenerate (from this directory, with Debian's python3-dnspython and nsd):

    /usr/bin/python3 make-vectors.py          # dnspython vectors
    /usr/bin/python3 make-vectors.py --nsd    # also capture nsd answers

Sidecar format, one item per line:
    id N | flags N | rcode N | qdcount N
    question NAME TYPE CLASS
    edns UDPSIZE EXTRCODE VERSION FLAGS NOPTS | edns none
    opt CODE HEX|-
    count SECTION N
    rr SECTION OWNER TYPE TYPENAME CLASS TTL RDATAHEX|- NFIELDS
    field NAME VALUE...        (VALUE is the rest of the line, maybe empty)
    text PRESENTATION          (dnspython's master-file form of the RDATA)
    wire HEX                   (its uncompressed wire form, maybe empty)
"""

import base64
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
IN = dns.rdataclass.IN

# ---------------------------------------------------------------------------
# Expected texts per stubres-query(1) OUTPUT


def name_text(name):
    """Presentation form: no trailing dot, root '.', '.' and '\\' escaped,
    bytes outside 0x21-0x7E as \\DDD."""
    labels = [l for l in name.labels if l != b""]
    if not labels:
        return "."
    out = []
    for label in labels:
        s = ""
        for b in label:
            if 0x21 <= b <= 0x7E:
                s += ("\\" + chr(b)) if chr(b) in ".\\" else chr(b)
            else:
                s += "\\%03d" % b
        out.append(s)
    return ".".join(out)


def string_text(data):
    """Character-string: '\\' as '\\\\', bytes outside 0x20-0x7E as \\DDD."""
    s = ""
    for b in data:
        if 0x20 <= b <= 0x7E:
            s += "\\\\" if b == 0x5C else chr(b)
        else:
            s += "\\%03d" % b
    return s


def quoted_text(data):
    """A quoted string: '"' and '\\' escaped, bytes outside 0x20-0x7E as \\DDD."""
    s = '"'
    for b in data:
        if b in (0x22, 0x5C):
            s += "\\" + chr(b)
        elif 0x20 <= b <= 0x7E:
            s += chr(b)
        else:
            s += "\\%03d" % b
    return s + '"'


def b64(data):
    return base64.b64encode(data).decode()


def types_text(windows):
    """An NSEC/NSEC3 type bit map as mnemonics between blanks."""
    out = []
    for window, bitmap in windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.append(dns.rdatatype.to_text(window * 256 + i * 8 + bit))
    return " ".join(out)


def loc_angle(value, hemi):
    """RFC 1876 angle from the wire value (thousandths of arc seconds off
    2^31), as dig prints it."""
    off = value - 2 ** 31
    h = hemi[0] if off >= 0 else hemi[1]
    off = abs(off)
    return "%d %d %d.%03d %s" % (off // 3600000, off // 60000 % 60, off // 1000 % 60,
                                 off % 1000, h)


def loc_size(byte):
    """Size/precision byte: whole metres from 10^2 cm up, else 2 decimals."""
    mant, exp = byte >> 4, byte & 0xF
    if exp >= 2 and mant:
        return "%dm" % (mant * 10 ** (exp - 2))
    cm = mant * 10 ** exp
    return "%d.%02dm" % (cm // 100, cm % 100)


SVC_KEYS = ["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech",
            "ipv6hint", "dohpath", "ohttp"]


def svc_key(k):
    return SVC_KEYS[k] if k < len(SVC_KEYS) else "key%d" % k


def svc_params_text(data):
    """RFC 9460 presentation of the SvcParams of the wire form: known keys
    in their own form, others (and known keys whose value does not fit it)
    as keyNNNNN="bytes"."""
    out, off = [], 0
    while off < len(data):
        key, n = struct.unpack("!HH", data[off:off + 4])
        v = data[off + 4:off + 4 + n]
        off += 4 + n
        text = None
        if key == 0 and n and n % 2 == 0:
            keys = [struct.unpack("!H", v[i:i + 2])[0] for i in range(0, n, 2)]
            if 0 not in keys and keys == sorted(set(keys)):
                text = "mandatory=" + ",".join(svc_key(k) for k in keys)
        elif key == 1 and n:
            ids, i = [], 0
            while i < n and v[i] and v[i] <= n - i - 1:
                ids.append(v[i + 1:i + 1 + v[i]])
                i += 1 + v[i]
            if i == n:
                items = []
                for a in ids:
                    item = ""
                    for b in a:
                        if b == 0x2C:
                            item += "\\\\,"
                        elif b == 0x5C:
                            item += "\\" * 4
                        else:
                            item += quoted_text(bytes([b]))[1:-1]
                    items.append(item)
                text = 'alpn="%s"' % ",".join(items)
        elif key in (2, 8) and n == 0:
            text = SVC_KEYS[key]
        elif key == 3 and n == 2:
            text = "port=%d" % struct.unpack("!H", v)[0]
        elif key == 4 and n and n % 4 == 0:
            text = "ipv4hint=" + ",".join(socket.inet_ntop(socket.AF_INET, v[i:i + 4])
                                          for i in range(0, n, 4))
        elif key == 5 and n:
            text = "ech=" + b64(v)
        elif key == 6 and n and n % 16 == 0:
            text = "ipv6hint=" + ",".join(socket.inet_ntop(socket.AF_INET6, v[i:i + 16])
                                          for i in range(0, n, 16))
        elif key == 7 and n:
            text = "dohpath=" + quoted_text(v)
        if text is None:
            text = "key%d" % key + ("=" + quoted_text(v) if n else "")
        out.append(text)
    return " ".join(out)


def generic_text(data):
    return "\\# %d" % len(data) + (" " + data.hex() if data else "")


# Field names of the class reference (plus CERT), as libstubres gives them.
FIELDS = {
    "A": ["ADDRESS"], "NS": ["DNAME"], "MD": ["MADNAME"], "MF": ["MADNAME"],
    "CNAME": ["CNAME"],
    "SOA": ["MNAME", "RNAME", "SERIAL", "REFRESH", "RETRY", "EXPIRE", "MINIMUM"],
    "MB": ["MADNAME"], "MG": ["MGMNAME"], "MR": ["NEWNAME"], "NULL": ["NULL"],
    "WKS": ["ADDRESS", "PROTOCOL", "SERVICEMAP"], "PTR": ["PTRDNAME"],
    "HINFO": ["CPU", "OS"], "MINFO": ["RMAILBX", "EMAILBX"],
    "MX": ["PREFERENCE", "EXCHANGE"], "TXT": ["TXT"],
    "RP": ["MBOXDNAME", "TXTDNAME"], "AFSDB": ["SUBTYPE", "HOSTNAME"],
    "X25": ["PSDNADDRESS"], "ISDN": ["ISDNADDRESS", "SA"],
    "RT": ["PREFERENCE", "INTERMEDIATE"], "AAAA": ["ADDRESS"],
    "SRV": ["PRIORITY", "WEIGHT", "PORT", "TARGET"],
    "NAPTR": ["ORDER", "PRIORITY", "FLAGS", "SERVICES", "REGEXP", "REPLACEMENT"],
    "CERT": ["TYPE", "KEYTAG", "ALGORITHM", "CERTIFICATE"],
    # The types after the reference, named after their RFCs' fields.
    "LOC": ["LATITUDE", "LONGITUDE", "ALTITUDE", "SIZE", "HORIZPRE", "VERTPRE"],
    "DNAME": ["TARGET"],
    "DS": ["KEYTAG", "ALGORITHM", "DIGESTTYPE", "DIGEST"],
    "CDS": ["KEYTAG", "ALGORITHM", "DIGESTTYPE", "DIGEST"],
    "SSHFP": ["ALGORITHM", "FPTYPE", "FINGERPRINT"],
    "RRSIG": ["TYPECOVERED", "ALGORITHM", "LABELS", "ORIGINALTTL", "EXPIRATION",
              "INCEPTION", "KEYTAG", "SIGNER", "SIGNATURE"],
    "NSEC": ["NEXT", "TYPES"],
    "DNSKEY": ["FLAGS", "PROTOCOL", "ALGORITHM", "PUBLICKEY"],
    "CDNSKEY": ["FLAGS", "PROTOCOL", "ALGORITHM", "PUBLICKEY"],
    "NSEC3": ["ALGORITHM", "FLAGS", "ITERATIONS", "SALT", "NEXT", "TYPES"],
    "NSEC3PARAM": ["ALGORITHM", "FLAGS", "ITERATIONS", "SALT"],
    "TLSA": ["USAGE", "SELECTOR", "MATCHINGTYPE", "DATA"],
    "OPENPGPKEY": ["PUBLICKEY"],
    "ZONEMD": ["SERIAL", "SCHEME", "HASHALGORITHM", "DIGEST"],
    "SVCB": ["PRIORITY", "TARGET", "PARAMS"],
    "HTTPS": ["PRIORITY", "TARGET", "PARAMS"],
    "URI": ["PRIORITY", "WEIGHT", "TARGET"],
    "CAA": ["FLAGS", "TAG", "VALUE"],
}
IN_ONLY = {"A", "AAAA", "WKS", "SRV", "NAPTR"}


def plain(text):
    """True when dnspython and stubres-query(1) write this value the same way."""
    return all(c.isalnum() or c in "-_*:/" for c in text)


def check_same(ours, theirs, what):
    """Cross-check against dnspython's presentation where they coincide."""
    if theirs.endswith(".") and theirs != ".":
        theirs = theirs[:-1]
    if theirs.startswith('"') and theirs.endswith('"'):
        theirs = theirs[1:-1]
    if plain(ours) or plain(theirs):
        if ours != theirs:
            raise SystemExit("%s: documented text %r != dnspython %r" % (what, ours, theirs))


def expected_fields(wire, rtype, rclass, rdoff, rdlen):
    tname = dns.rdatatype.to_text(rtype)
    rdata = wire[rdoff:rdoff + rdlen]
    decoded = tname in FIELDS and (rclass == IN or (tname not in IN_ONLY and rclass not in (254, 255)))
    if not decoded:
        return [("RDATA", generic_text(rdata))]
    rd = dns.rdata.from_wire(rclass, rtype, wire, rdoff, rdlen)
    names = FIELDS[tname]
    if tname in ("MD", "MF", "MB", "MG", "MR", "MINFO", "NULL"):
        # dnspython has no class for these: it keeps the bytes, and we read
        # the (maybe compressed) names with its decompressor.
        if tname == "NULL":
            return [("NULL", rd.data.hex())]
        vals, off = [], rdoff
        for _ in names:
            n, used = dns.name.from_wire(wire, off)
            vals.append(name_text(n))
            off += used
        assert off == rdoff + rdlen
        return list(zip(names, vals))
    if tname == "A" or tname == "AAAA":
        vals = [rd.address]
        if tname == "AAAA":
            assert rd.address == socket.inet_ntop(socket.AF_INET6, rdata)
    elif tname in ("NS", "CNAME", "PTR"):
        vals = [name_text(rd.target)]
    elif tname == "SOA":
        vals = [name_text(rd.mname), name_text(rd.rname)] + [
            str(v) for v in (rd.serial, rd.refresh, rd.retry, rd.expire, rd.minimum)]
    elif tname == "WKS":
        ports = [str(i * 8 + b) for i, byte in enumerate(rd.bitmap)
                 for b in range(8) if byte & (0x80 >> b)]
        vals = [rd.address, str(rd.protocol), " ".join(ports)]
    elif tname == "HINFO":
        vals = [string_text(rd.cpu), string_text(rd.os)]
    elif tname == "MX":
        vals = [str(rd.preference), name_text(rd.exchange)]
    elif tname == "TXT":
        vals = ["".join(string_text(s) for s in rd.strings)]
    elif tname == "RP":
        vals = [name_text(rd.mbox), name_text(rd.txt)]
    elif tname == "AFSDB":
        vals = [str(rd.subtype), name_text(rd.hostname)]
    elif tname == "X25":
        vals = [string_text(rd.address)]
    elif tname == "ISDN":
        vals = [string_text(rd.address)]
        # The sub-address is present when bytes follow the first string
        # (dnspython cannot tell an empty one from none).
        if rdlen > 1 + rdata[0]:
            vals.append(string_text(rd.subaddress))
        names = names[:len(vals)]
    elif tname == "RT":
        vals = [str(rd.preference), name_text(rd.exchange)]
    elif tname == "SRV":
        vals = [str(rd.priority), str(rd.weight), str(rd.port), name_text(rd.target)]
    elif tname == "NAPTR":
        vals = [str(rd.order), str(rd.preference), string_text(rd.flags),
                string_text(rd.service), string_text(rd.regexp),
                name_text(rd.replacement)]
    elif tname == "CERT":
        vals = [str(rd.certificate_type), str(rd.key_tag), str(rd.algorithm),
                base64.b64encode(rd.certificate).decode()]
    elif tname == "LOC":
        lat, lon, alt = struct.unpack("!III", rdata[4:16])
        a = alt - 10000000
        vals = [loc_angle(lat, "NS"), loc_angle(lon, "EW"),
                "%s%d.%02dm" % ("-" if a < 0 else "", abs(a) // 100, abs(a) % 100)]
        vals += [loc_size(b) for b in rdata[1:4]]
    elif tname == "DNAME":
        vals = [name_text(rd.target)]
    elif tname in ("DS", "CDS"):
        vals = [str(rd.key_tag), str(rd.algorithm), str(rd.digest_type),
                rd.digest.hex().upper()]
    elif tname == "SSHFP":
        vals = [str(rd.algorithm), str(rd.fp_type), rd.fingerprint.hex().upper()]
    elif tname == "RRSIG":
        vals = [dns.rdatatype.to_text(rd.type_covered), str(rd.algorithm), str(rd.labels),
                str(rd.original_ttl),
                time.strftime("%Y%m%d%H%M%S", time.gmtime(rd.expiration)),
                time.strftime("%Y%m%d%H%M%S", time.gmtime(rd.inception)),
                str(rd.key_tag), name_text(rd.signer), b64(rd.signature)]
    elif tname == "NSEC":
        vals = [name_text(rd.next), types_text(rd.windows)]
    elif tname in ("DNSKEY", "CDNSKEY"):
        vals = [str(rd.flags), str(rd.protocol), str(rd.algorithm), b64(rd.key)]
    elif tname in ("NSEC3", "NSEC3PARAM"):
        vals = [str(rd.algorithm), str(rd.flags), str(rd.iterations),
                rd.salt.hex().upper() or "-"]
        if tname == "NSEC3":
            vals += [base64.b32hexencode(rd.next).decode().rstrip("="),
                     types_text(rd.windows)]
    elif tname == "TLSA":
        vals = [str(rd.usage), str(rd.selector), str(rd.mtype), rd.cert.hex().upper()]
    elif tname == "OPENPGPKEY":
        vals = [b64(rd.key)]
    elif tname == "ZONEMD":
        vals = [str(rd.serial), str(rd.scheme), str(rd.hash_algorithm),
                rd.digest.hex().upper()]
    elif tname in ("SVCB", "HTTPS"):
        tlen = len(rd.target.to_wire())
        vals = [str(rd.priority), name_text(rd.target), svc_params_text(rdata[2 + tlen:])]
    elif tname == "URI":
        vals = [str(rd.priority), str(rd.weight), quoted_text(rd.target)]
    elif tname == "CAA":
        vals = [str(rd.flags), rd.tag.decode(), quoted_text(rd.value)]
    else:
        raise SystemExit("no rule for " + tname)
    # Token by token against dnspython's text where there is one token per
    # field (strings with blanks, WKS and CERT mnemonics are left out).
    if tname in ("TXT", "WKS", "CERT", "HINFO") or tname in FIELDS and FIELDS[tname][-1] in (
            "DIGEST", "FINGERPRINT", "DATA", "SIGNATURE", "PUBLICKEY", "TYPES", "PARAMS",
            "VERTPRE", "VALUE", "TARGET", "SALT"):
        pass  # several tokens per field, or another case or quoting
    else:
        toks = rd.to_text(relativize=False).split(" ")
        if len(toks) == len(vals):
            for v, t in zip(vals, toks):
                check_same(v, t, tname)
    return list(zip(names, vals))


def presentation(wire, rtype, rclass, rdoff, rdlen):
    """dnspython's master-file text of the RDATA and its uncompressed wire
    form, for the text -> wire round trip. Left out for other classes
    (sr_rdata_from_text() is for class IN) and for name-carrying types that
    dnspython keeps as raw bytes, whose compression pointers would be
    meaningless outside the message."""
    rd = dns.rdata.from_wire(rclass, rtype, wire, rdoff, rdlen)
    tname = dns.rdatatype.to_text(rtype)
    if rclass != IN or (isinstance(rd, dns.rdata.GenericRdata) and
                        tname in FIELDS and tname != "NULL"):
        return []
    if tname not in FIELDS:
        # No presentation parser for it in libstubres: RFC 3597 form.
        rd = dns.rdata.GenericRdata(rclass, rtype, rd.to_wire())
    return ["text " + rd.to_text(relativize=False),
            "wire " + (rd.to_wire() or b"").hex()]


def describe(wire):
    """The sidecar lines of one message."""
    dns.message.from_wire(wire)  # dnspython must accept it as a whole
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    lines = ["id %d" % ident, "flags %d" % flags]
    off = 12
    questions = []
    for _ in range(qd):
        n, used = dns.name.from_wire(wire, off)
        off += used
        qtype, qclass = struct.unpack("!HH", wire[off:off + 4])
        off += 4
        questions.append("question %s %d %d" % (name_text(n), qtype, qclass))
    rrs, edns, counts = [], None, {}
    for sect, count in (("answer", an), ("authority", ns), ("additional", ar)):
        counts[sect] = 0
        for _ in range(count):
            n, used = dns.name.from_wire(wire, off)
            off += used
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", wire[off:off + 10])
            off += 10
            rdoff = off
            off += rdlen
            if rtype == dns.rdatatype.OPT:
                opts, o = [], rdoff
                while o < rdoff + rdlen:
                    code, olen = struct.unpack("!HH", wire[o:o + 4])
                    opts.append("opt %d %s" % (code, wire[o + 4:o + 4 + olen].hex() or "-"))
                    o += 4 + olen
                edns = ["edns %d %d %d %d %d" % (rclass, ttl >> 24, (ttl >> 16) & 0xFF,
                                                 ttl & 0xFFFF, len(opts))] + opts
                ext = ttl >> 24
                continue
            counts[sect] += 1
            fields = expected_fields(wire, rtype, rclass, rdoff, rdlen)
            rrs.append("rr %s %s %d %s %d %d %s %d" % (
                sect, name_text(n), rtype, dns.rdatatype.to_text(rtype), rclass,
                ttl, wire[rdoff:off].hex() or "-", len(fields)))
            rrs += ["field %s %s" % f for f in fields]
            rrs += presentation(wire, rtype, rclass, rdoff, rdlen)
    rcode = (flags & 0xF) | ((ext << 4) if edns else 0)
    m = dns.message.from_wire(wire)
    assert m.rcode() == rcode
    lines += ["rcode %d" % rcode, "qdcount %d" % qd] + questions
    lines += edns if edns else ["edns none"]
    lines += ["count %s %d" % (s, counts[s]) for s in ("answer", "authority", "additional")]
    return "\n".join(lines + rrs) + "\n"


def write(name, wire):
    with open(os.path.join(HERE, name + ".bin"), "wb") as f:
        f.write(wire)
    with open(os.path.join(HERE, name + ".txt"), "w") as f:
        f.write(describe(wire))
    print("%-22s %5d bytes" % (name, len(wire)))


# ---------------------------------------------------------------------------
# Messages built by dnspython


def rrset(owner, ttl, rtype, *texts, rdclass="IN"):
    return dns.rrset.from_text(owner, ttl, rdclass, rtype, *texts)


def generic(owner, ttl, rtype, data):
    rd = dns.rdata.GenericRdata(IN, dns.rdatatype.from_text(rtype), data)
    return dns.rrset.from_rdata(owner, ttl, rd)


def wire_name(text):
    return dns.name.from_text(text).to_wire()


def response(qname, qtype, ident, edns=True, rcode=dns.rcode.NOERROR, options=()):
    q = dns.message.make_query(qname, qtype)
    q.id = ident
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    if edns:
        r.use_edns(0, dns.flags.DO, 1232, options=list(options))
    else:
        r.use_edns(False)
    r.set_rcode(rcode)
    return r


def build_dnspython():
    # The benchmark's message: one question, a CNAME and 4 A records, all
    # names compressed.
    r = response("www.example.com.", "A", 0x1234, edns=False)
    r.answer.append(rrset("www.example.com.", 300, "CNAME", "web.example.com."))
    r.answer.append(rrset("web.example.com.", 60, "A", "192.0.2.1", "192.0.2.2",
                          "192.0.2.3", "198.51.100.4"))
    write("cname-4a", r.to_wire())

    # Sections, EDNS with DO and an option, upper case, glue.
    r = response("WWW.Example.COM.", "A", 0xBEEF,
                 options=[dns.edns.GenericOption(10, bytes.fromhex("0102030405060708"))])
    r.answer.append(rrset("WWW.Example.COM.", 3600, "CNAME", "Host.Example.COM."))
    r.answer.append(rrset("Host.Example.COM.", 3600, "A", "192.0.2.10"))
    r.answer.append(rrset("Host.Example.COM.", 3600, "AAAA", "2001:db8::10",
                          "2001:db8:0:1:2:3:4:5", "::ffff:192.0.2.1", "::"))
    r.authority.append(rrset("Example.COM.", 86400, "NS", "ns1.Example.COM.",
                             "ns2.example.net."))
    r.additional.append(rrset("ns1.Example.COM.", 86400, "A", "192.0.2.53"))
    r.additional.append(rrset("ns1.Example.COM.", 86400, "AAAA", "2001:db8::53"))
    write("sections", r.to_wire())

    # NXDOMAIN with the SOA in the authority section.
    r = response("nope.example.com.", "MX", 7, rcode=dns.rcode.NXDOMAIN)
    r.authority.append(rrset("example.com.", 900, "SOA",
                             "ns1.example.com. hostmaster.example.com. "
                             "2024010101 7200 3600 1209600 300"))
    write("nxdomain-soa", r.to_wire())

    # The mail and routing types; MD/MF/MB/MG/MR/MINFO have no class in
    # dnspython, so their RDATA is dnspython's wire form of the names.
    r = response("example.com.", "ANY", 99, edns=False)
    r.answer.append(rrset("example.com.", 300, "MX", "10 mail.example.com.",
                          "20 backup.example.net."))
    r.answer.append(generic("md.example.com.", 300, "MD", wire_name("mail.example.com.")))
    r.answer.append(generic("mf.example.com.", 300, "MF", wire_name("mail.example.com.")))
    r.answer.append(generic("mb.example.com.", 300, "MB", wire_name("Mail.Example.com.")))
    r.answer.append(generic("mg.example.com.", 300, "MG", wire_name("group.example.com.")))
    r.answer.append(generic("mr.example.com.", 300, "MR", wire_name("new.example.com.")))
    r.answer.append(generic("minfo.example.com.", 300, "MINFO",
                            wire_name("admin.example.com.") + wire_name("errors.example.com.")))
    r.answer.append(rrset("example.com.", 300, "RP",
                          "admin.example.com. txt.example.com.", ". ."))
    r.answer.append(rrset("example.com.", 300, "AFSDB", "1 afs.example.com."))
    r.answer.append(rrset("example.com.", 300, "RT", "10 relay.example.com."))
    r.answer.append(rrset("1.2.0.192.in-addr.arpa.", 300, "PTR", "host.example.com."))
    r.answer.append(rrset("_sip._udp.example.com.", 300, "SRV",
                          "10 60 5060 sip.example.com.", "0 0 0 ."))
    write("mail-routing", r.to_wire())

    # Character-strings: escapes, empty strings, multi-string TXT, ISDN
    # with and without sub-address, NAPTR.
    r = response("strings.example.com.", "TXT", 1000)
    r.answer.append(rrset("strings.example.com.", 60, "TXT",
                          r'"hello world" "a\"b" "back\\slash" "\010\255\000" ""',
                          r'"v=spf1 -all"', r'""'))
    r.answer.append(rrset("strings.example.com.", 60, "HINFO",
                          r'"x86 64" "Linux\0095.10"', r'"" ""'))
    r.answer.append(rrset("strings.example.com.", 60, "X25", '"311061700956"'))
    r.answer.append(rrset("strings.example.com.", 60, "ISDN",
                          '"150862028003217" "004"', '"150862028003218"'))
    r.answer.append(rrset("strings.example.com.", 60, "NAPTR",
                          r'100 10 "S" "SIP+D2U" "" _sip._udp.example.com.',
                          r'102 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'))
    write("strings", r.to_wire())

    # WKS, CERT (base64 with 2, 1 and 0 padding chars), NULL, unknown types,
    # a type we know by name but decode generically (EUI48), DS.
    r = response("misc.example.com.", "ANY", 4242)
    r.answer.append(rrset("misc.example.com.", 60, "WKS",
                          "192.0.2.2 6 0 21 25 80 1023", "192.0.2.3 17 53"))
    r.answer.append(rrset("misc.example.com.", 60, "CERT",
                          "PGP 0 0 AAECAwQFBgcICQ==",
                          "1 12345 8 AAECAwQFBgcICQo=",
                          "65535 65535 255 AAECAwQFBgcICQoL"))
    r.answer.append(generic("misc.example.com.", 60, "NULL", bytes.fromhex("deadbeef00")))
    r.answer.append(generic("empty.example.com.", 60, "NULL", b""))
    r.answer.append(generic("misc.example.com.", 60, "TYPE65280", bytes.fromhex("0a000001")))
    r.answer.append(generic("empty.example.com.", 60, "TYPE65281", b""))
    r.answer.append(rrset("misc.example.com.", 60, "DS",
                          "12345 8 2 " + "ab" * 32))
    r.answer.append(rrset("misc.example.com.", 60, "EUI48", "01-23-45-67-89-ab"))
    write("misc", r.to_wire())

    # The types after the reference (stubres-query(1) OUTPUT), from dig's
    # and the RFCs' examples; real DNSSEC records of an ldns-signzone run.
    r = response("modern.example.com.", "ANY", 2025)
    m = "modern.example.com."
    for rtype, texts in (
        ("CAA", ['0 issue "letsencrypt.org"', '128 iodef "mailto:security@example.com"',
                 '0 tbs "say \\"hi\\" back\\\\slash \\000x"', '0 issue ""']),
        ("SVCB", ['1 svc.example.com. alpn="h2,h3" port=8443 ipv4hint=192.0.2.1,192.0.2.2 '
                  'ech=AEn+DQBFKwAgACABWIHUGj4u+PIggYXcR5JF0gYk3dCRioBW8uJq9H4mKAAIAAEAAQAB'
                  'AANAEnB1YmxpYy50bHMtZWNoLmRldgAA ipv6hint=2001:db8::1,2001:db8::2',
                  '2 . key65000="a b" key65001', '3 . alpn="a\\\\,b,c\\\\\\\\d"',
                  '0 www.example.com.']),
        ("HTTPS", ['1 . alpn=h2 no-default-alpn mandatory=alpn,port port=443']),
        ("DS", ["60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
                "12345 13 2 3490A6806D47F17A34C29E2CE80E8A999FFBE4BE01F3A6D5E3C5F4E1E9C6B1E0"]),
        ("CDS", ["12345 13 2 3490A6806D47F17A34C29E2CE80E8A999FFBE4BE01F3A6D5E3C5F4E1E9C6B1E0"]),
        ("DNSKEY", ["256 3 15 H8A/LG1oy+Za9601G75MQIdOXVUfgNnwVGhC5EKL/Ok=",
                    "257 3 8 AwEAAciNMUt3N6pvHswtKBs2aPMwePVeUB4sg4N2DiGmY2wnPZyNppXnY1pk"
                    "PLQXp8IN0JbrjQGRxk/s5T50KADCfZ1cTehl1xgcRGP5WmqGYj85PWaFGrdTQSzXuw3sh"
                    "BvYAiPrt8h7X3T8fhVw65wK90aehXUTQGNSwFm5/Jmz424f"]),
        ("CDNSKEY", ["0 3 0 AA=="]),
        ("RRSIG", ["A 15 3 300 20270101000000 20261201000000 49484 sig.test. "
                   "wuTasFK4uBlgnKMpplCLRhKJfCh5mWP+G+KNztMaICRF+LfdOTI3SDKfdHDeJsMkeYj8aBu3"
                   "C8ExqaabdNyfAA=="]),
        ("RRSIG", ["TYPE65280 8 2 60 21060207062815 19700101000000 1 . AA=="]),
        ("NSEC", ["www.example.com. A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA TYPE65280",
                  "a.example.com. NSEC"]),
        ("NSEC3", ["1 1 5 ABCD 07OSUDA6U3F9KUBKVD9NP2RLFDSF2BTO NS SOA RRSIG DNSKEY NSEC3PARAM",
                   "1 0 0 - 07OSUDA6U3F9KUBKVD9NP2RLFDSF2BTO"]),
        ("NSEC3PARAM", ["1 0 5 ABCD", "1 0 0 -"]),
        ("TLSA", ["3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"]),
        ("SSHFP", ["4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789"]),
        ("URI", ['10 1 "ftp://ftp1.example.com/public"']),
        ("LOC", ["52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
                 "42 21 54 N 71 06 18 W -24m 30m", "0 0 0.5 S 180 W 0m 1m 1m 1m",
                 "90 S 0 E 42849672.95m 90000000m 0.5m 9m"]),
        ("DNAME", ["target.example.net."]),
        ("OPENPGPKEY", ["mQENBFVHm5sBCADGt4HIjl4Kd1ha0Ds2cr6a1p4M"]),
        ("ZONEMD", ["2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B6"
                    "41A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE"]),
    ):
        r.answer.append(rrset(m, 300, rtype, *texts))
    write("modern", r.to_wire(max_size=65535))

    # Owner names that need escapes, the root, a 255-byte name.
    long_name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61]) + "."
    r = response(r"a\.b.example.com.", "A", 1)
    r.answer.append(rrset(r"a\.b.example.com.", 1, "A", "192.0.2.1"))
    r.answer.append(rrset(r"\010x.Example.com.", 2, "A", "192.0.2.2"))
    r.answer.append(rrset(r"sp\032ace.example.com.", 3, "A", "192.0.2.3"))
    r.answer.append(rrset(r"back\\slash.example.com.", 4, "CNAME", r"t\.x.example.com."))
    r.answer.append(rrset(r"\255\000\034\(.example.com.", 5, "A", "192.0.2.5"))
    r.answer.append(rrset(long_name, 2147483647, "A", "192.0.2.6"))
    r.authority.append(rrset(".", 518400, "NS", "a.root-servers.net."))
    write("names", r.to_wire())

    # Extended RCODE BADVERS (16): 1 in the OPT TTL, 0 in the header.
    r = response("example.com.", "A", 16, rcode=dns.rcode.BADVERS)
    write("badvers", r.to_wire())

    # Class CH: TXT decodes (class-independent), A does not (RFC 3597 4).
    r = response("version.bind.", "TXT", 5, edns=False)
    r.answer.append(rrset("version.bind.", 0, "TXT", '"9.18.19"', rdclass="CH"))
    r.answer.append(rrset("chaos.example.", 0, "A", "chaos.example. 2001", rdclass="CH"))
    write("chaos", r.to_wire())

    # Queries, to compare sr_query_build() with.
    q = dns.message.make_query("example.com.", "A", use_edns=False)
    q.id = 0x0102
    write("query-plain", q.to_wire())
    q = dns.message.make_query("www.Example.com.", "AAAA", use_edns=0, payload=1232,
                               want_dnssec=True, pad=128)
    q.id = 0xABCD
    write("query-padded", q.to_wire())


# ---------------------------------------------------------------------------
# Answers of nsd serving every type of the class reference

NSD_QUERIES = [
    ("example.test.", "SOA"), ("example.test.", "NS"), ("host.example.test.", "A"),
    ("host.example.test.", "AAAA"), ("www.example.test.", "CNAME"),
    ("md.example.test.", "MD"), ("mf.example.test.", "MF"), ("mb.example.test.", "MB"),
    ("mg.example.test.", "MG"), ("mr.example.test.", "MR"), ("null.example.test.", "NULL"),
    ("wks.example.test.", "WKS"), ("ptr.example.test.", "PTR"),
    ("hinfo.example.test.", "HINFO"), ("minfo.example.test.", "MINFO"),
    ("example.test.", "MX"), ("txt.example.test.", "TXT"), ("rp.example.test.", "RP"),
    ("afsdb.example.test.", "AFSDB"), ("x25.example.test.", "X25"),
    ("isdn.example.test.", "ISDN"), ("rt.example.test.", "RT"),
    ("_sip._udp.example.test.", "SRV"), ("naptr.example.test.", "NAPTR"),
    ("cert.example.test.", "CERT"), ("unk.example.test.", "TYPE65280"),
    ("nothere.example.test.", "A"),
]


def build_nsd():
    tmp = tempfile.mkdtemp(prefix="sr-vectors-")
    port = 20000 + os.getpid() % 20000
    shutil.copy(os.path.join(HERE, "nsd", "example.test.zone"), tmp)
    conf = os.path.join(tmp, "nsd.conf")
    with open(conf, "w") as f:
        f.write("""server:
    ip-address: 127.0.0.1@%d
    username: ""
    chroot: ""
    database: ""
    zonelistfile: "%s/zone.list"
    xfrdfile: "%s/xfrd.state"
    pidfile: "%s/nsd.pid"
    logfile: "%s/nsd.log"
    zonesdir: "%s"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: example.test.zone
""" % ((port,) + (tmp,) * 5))
    proc = subprocess.Popen(["nsd", "-d", "-c", conf])
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.5)
        for i, (qname, qtype) in enumerate(NSD_QUERIES):
            q = dns.message.make_query(qname, qtype, use_edns=0, payload=1232)
            q.id = 0x4E00 + i
            for _ in range(40):
                sock.sendto(q.to_wire(), ("127.0.0.1", port))
                try:
                    wire, _ = sock.recvfrom(65535)
                    break
                except socket.timeout:
                    time.sleep(0.1)
            else:
                raise SystemExit("nsd did not answer; see %s/nsd.log" % tmp)
            tname = "nxdomain" if qname.startswith("nothere") else qtype.lower()
            write("nsd-" + tname, wire)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    # dnspython shuffles the records of an RRset on output (want_shuffle):
    # a fixed seed keeps the vectors the same from run to run.
    random.seed(20240101)
    build_dnspython()
    if "--nsd" in sys.argv[1:]:
        build_nsd()
