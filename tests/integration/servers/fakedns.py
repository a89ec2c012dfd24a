#!/usr/bin/python3
"""fakedns.py -- a DNS server of the integration tests, good or faulty on demand.

Serves the test zone (tests/integration/zone/*.zone) on loopback over UDP,
TCP, DNS-over-TLS (RFC 7858) and DNS-over-HTTPS with HTTP/1.1 (RFC 8484 POST
and GET at /dns-query, and the JSON API at /resolve?name=&type= that public
resolvers serve). Runs with Debian's /usr/bin/python3 and python3-dnspython;
no other packages.

    fakedns.py --listen 127.0.0.1 --udp-port 20053 --tcp-port 20053 \\
               --tls-port 20853 --https-port 20443 --cert C --key K \\
               --zone example.test.zone --stats stats.json \\
               --control-file mode --mode good

Every --listen address must be a loopback address (127.0.0.0/8, ::1); the
server refuses anything else. --listen may be repeated (e.g. 127.0.0.1 and
::1): each address gets every enabled port. When all sockets listen it
prints "fakedns: ready ..." on stderr.

Good answers are authoritative (AA, and RA so that stub resolvers accept
them): the records of the zone, CNAMEs chased inside the zone, NXDOMAIN or
NODATA with the SOA in the authority section (TTL min(SOA TTL, MINIMUM)),
REFUSED outside the zones (and for classes other than IN), NOTIMP for
opcodes other than QUERY and for AXFR/IXFR, FORMERR for a query that does
not parse (when its header does); a message with QR set gets nothing.
UDP answers larger than 512 bytes (or the EDNS
payload size of the query) are sent with TC=1 and only the question. A query
carrying EDNS gets EDNS back; a query carrying an EDNS padding option gets a
padded answer (468-byte blocks, RFC 8467).

MODES (--mode, or the control file at run time)

  good            answer from the zone
  drop            never answer (UDP: nothing; TCP/TLS: read, keep the
                  connection open, say nothing; HTTPS: hold the request,
                  then close without a response after --hold seconds)
  delay           answer like good after --delay seconds (every transport)
  refused         RCODE REFUSED, no records (JSON: "Status": 5)
  servfail        RCODE SERVFAIL, no records (JSON: "Status": 2)
  tc              UDP: TC=1, question only, no records. TCP, TLS and HTTPS
                  answer like good, so a client that retries over TCP wins
  garbage         random bytes (UDP: a datagram of 1-100 random bytes;
                  TCP/TLS: a length prefix and that many random bytes;
                  HTTPS: a 200 application/dns-message (or dns-json) body
                  of random bytes)
  wrongid         UDP/TCP/TLS: a good reply with another ID, then the right
                  one. HTTPS wire format: only the reply with the wrong ID
                  (one HTTP response carries one message); JSON: good
  wrongquestion   UDP/TCP/TLS: a reply with the right ID for another
                  question (decoy.example.test. A 10.66.66.66, a record no
                  client may cache), then the right reply. HTTPS: only the
                  decoy reply (JSON too)
  loop            a reply whose answer owner name is a compression pointer
                  to itself (a loop a decoder must refuse). JSON: good
  unrelated       the good reply with an address record of another owner
                  first in the answer section (unrelated.example.test. A
                  127.0.0.2, a loopback address nothing of the tests
                  serves): a client that takes the first address of an
                  answer, whatever its owner, goes there
  otherport       UDP: the good reply is sent from another source port (a
                  fresh socket), then nothing. TCP/TLS/HTTPS: good
  closemid        TCP/TLS: the length prefix and half the reply, then the
                  connection is closed. UDP: a datagram with the first half
                  of the reply. HTTPS: headers with the full Content-Length,
                  half the body, then close
  http500         HTTPS: status 500 (plain text body). Other transports: good
  http404         HTTPS: status 404. Other transports: good
  http415         HTTPS: status 415. Other transports: good
  redirect        HTTPS: 302 with Location: the same path + "-redirected"
                  and the same query string; /dns-query-redirected and
                  /resolve-redirected answer like good. Others: good
  badctype        HTTPS: 200 with Content-Type text/html and an HTML body.
                  Others: good
  jsonmissing     JSON API: 200 application/dns-json whose object lacks
                  "Status" and "Answer". Wire DoH and others: good
  truncated-json  JSON API: 200 application/dns-json with the first half of
                  the good JSON text (invalid JSON). Wire DoH and others: good
  formerr-edns    a query with an OPT record: FORMERR without OPT (no
                  records), as a server or middlebox that does not know EDNS
                  answers; a query without OPT: good. JSON: good
  notimp-edns     the same with NOTIMP
  cookie          a server that does DNS Cookies (RFC 7873): like good, and
                  a query with a COOKIE option gets back its client cookie
                  and a 16-byte server cookie (RFC 9018 layout: version 1,
                  reserved, timestamp, hash)
  wrongcookie     UDP: like cookie, but first two forgeries with the right
                  ID and question (decoy.example.test.'s address as the
                  answer): one with another client cookie, one with no
                  cookie at all; then the good reply. Others: cookie
  lowercase       a server that does not preserve the case of questions:
                  like cookie, but the question (and the names compressed to
                  it) comes back in lower case (0x20 fallback tests)
  formerr         FORMERR without OPT to every query (JSON: "Status": 1)

  Besides the zones: NAME.fill.example.test. TXT is 230 TXT records of 255
  bytes (about 61 KB, TTL 300), for tests of large answers over TCP (over
  UDP it is TC=1, as any answer too big for the query's size).

  HTTPS always (whatever the mode): 404 for an unknown path, 400 for a GET
  without ?dns= or a bad base64url, 415 for a POST whose Content-Type is not
  application/dns-message, 400 for /resolve without name=.

CHANGING THE MODE AT RUN TIME

  --control-file PATH is re-read (when its mtime or size changed) before
  every query. Its first non-comment line is
      MODE [delay=SECONDS] [count=N] [only=PROTO,PROTO...]
  delay=  overrides --delay; count=N applies the fault to the next N
  queries, after which the server answers like good (until the file
  changes); only= restricts the fault to some transports (udp, tcp, tls,
  https), the others answer like good. A missing or empty file means the
  --mode of the command line. Write it atomically (write a temp file, mv).
  SIGUSR1 re-reads the control file now; SIGUSR2 resets all counters.
  SIGTERM/SIGINT exit with status 0.

STATS (--stats FILE)

  A JSON object, rewritten atomically (temp file + rename) after every
  query, before the reply is sent, and after every TLS handshake:
    queries      {"total", "udp", "tcp", "tls", "https"}: DNS messages received
                 (an HTTP request counts when it carried a DNS question)
    malformed    queries that did not parse (answered FORMERR when the
                 header did)
    qnames       {"www.example.test.": N}: per question name, lowercased
    questions    {"www.example.test. A": N}: per name and type
    modes        {"good": N, "servfail": N, ...}: how each query was treated
    connections  {"tcp", "tls", "https"}: accepted connections
    tls          {"handshakes", "failures", "resumed", "versions": {...},
                  "alpn": {...}, "sni": {...}, "by_proto": {"tls": {...},
                  "https": {...}}}: DoT and HTTPS together, then apart
                  (resumed = TLS session resumption, tickets or IDs)
    http         {"requests", "methods": {...}, "paths": {...},
                  "accept": {...}, "content_types": {...}}
    edns         {"with_edns", "without_edns", "do_bit"}
    cookies      {"none", "client_only", "with_server_cookie"}: queries by
                 the COOKIE option they carried
    case         {"lower", "mixed"}: queries by the case of their question
                 (mixed: some letter in upper case, as 0x20 sends)
    padding      {"padded", "unpadded", "sizes": {"128": N},
                  "lengths": {"87": N}}: sizes = total length of padded
                  queries (DNS message only, without the TCP length
                  prefix), lengths = length of their padding option data
    resets       how many times SIGUSR2 reset the counters
    recent       the last 200 queries: {"t", "proto", "peer", "id",
                  "qname", "qname_sent" (in the case received), "qtype",
                  "len", "edns", "payload", "do",
                  "padding", "rd", "mode"} (padding null when absent)
"""

import argparse
import base64
import http.server
import ipaddress
import json
import os
import queue
import random
import select
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import types
import urllib.parse

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.RP
import dns.rdtypes.nsbase
import dns.rrset
import dns.zone

MODES = (
    "good", "drop", "delay", "refused", "servfail", "tc", "garbage",
    "wrongid", "wrongquestion", "loop", "unrelated", "otherport", "closemid",
    "http500", "http404", "http415", "redirect", "badctype",
    "jsonmissing", "truncated-json", "formerr-edns", "notimp-edns", "formerr",
    "cookie", "wrongcookie", "lowercase",
)
PROTOS = ("udp", "tcp", "tls", "https")
HTTP_ONLY = {"http500", "http404", "http415", "redirect", "badctype",
             "jsonmissing", "truncated-json"}
DECOY_NAME = dns.name.from_text("decoy.example.test.")
DECOY_ADDR = "10.66.66.66"
UNRELATED_NAME = dns.name.from_text("unrelated.example.test.")
UNRELATED_ADDR = "127.0.0.2"
MAX_CNAME_HOPS = 16
# NAME.fill.example.test. TXT: about 61 KB of TXT (not in the zone files),
# for tests of large TCP answers; other types: NODATA.
FILL_NAME = dns.name.from_text("fill.example.test.")
FILL_RRS = 230
_FILL_RDATAS = []


def fill_rrset(name):
    if not _FILL_RDATAS:
        for i in range(FILL_RRS):
            _FILL_RDATAS.append(dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.TXT,
                '"%03d%s"' % (i, "x" * 252)))
    rrs = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.TXT)
    rrs.update_ttl(300)
    for rd in _FILL_RDATAS:
        rrs.add(rd)
    return rrs
RECENT_MAX = 200
DOH_PATH = "/dns-query"
JSON_PATH = "/resolve"
REDIRECT_SUFFIX = "-redirected"


def log(msg):
    sys.stderr.write("fakedns: %s\n" % msg)
    sys.stderr.flush()


# --- RFC 1035 types dnspython 2.3 cannot parse from a zone file -----------
# MD, MF, MB, MG, MR carry one domain name, MINFO two (RFC 1035 3.3). nsd
# parses them; teach dnspython the same so one zone file serves both.
def _register_rfc1035_types():
    for code, mnemonic in ((3, "MD"), (4, "MF"), (7, "MB"), (8, "MG"),
                           (9, "MR")):
        cls = type(mnemonic, (dns.rdtypes.nsbase.NSBase,), {"__slots__": []})
        try:
            dns.rdata.register_type(types.SimpleNamespace(**{mnemonic: cls}),
                                    code, mnemonic)
        except dns.rdata.RdatatypeExists:
            pass  # a newer dnspython knows it
    cls = type("MINFO", (dns.rdtypes.ANY.RP.RP,), {"__slots__": []})
    try:
        dns.rdata.register_type(types.SimpleNamespace(MINFO=cls), 14, "MINFO")
    except dns.rdata.RdatatypeExists:
        pass


_register_rfc1035_types()


# --- stats ------------------------------------------------------------------
class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.resets = -1
        self.reset()

    def reset(self):
        self.resets += 1
        self.d = {
            "resets": self.resets,
            "queries": {"total": 0, "udp": 0, "tcp": 0, "tls": 0, "https": 0},
            "malformed": 0,
            "qnames": {},
            "questions": {},
            "modes": {},
            "connections": {"tcp": 0, "tls": 0, "https": 0},
            "tls": {"handshakes": 0, "failures": 0, "resumed": 0,
                    "versions": {}, "alpn": {}, "sni": {},
                    "by_proto": {
                        p: {"handshakes": 0, "failures": 0, "resumed": 0}
                        for p in ("tls", "https")}},
            "http": {"requests": 0, "methods": {}, "paths": {}, "accept": {},
                     "content_types": {}},
            "edns": {"with_edns": 0, "without_edns": 0, "do_bit": 0},
            "cookies": {"none": 0, "client_only": 0, "with_server_cookie": 0},
            "case": {"lower": 0, "mixed": 0},
            "padding": {"padded": 0, "unpadded": 0, "sizes": {},
                        "lengths": {}},
            "recent": [],
        }

    @staticmethod
    def _inc(dct, key, n=1):
        dct[key] = dct.get(key, 0) + n

    def update(self, fn):
        """Apply fn(dict) under the lock, then write the file."""
        with self.lock:
            fn(self.d)
            self._write()

    def _write(self):
        if not self.path:
            return
        tmp = "%s.tmp.%d" % (self.path, os.getpid())
        with open(tmp, "w") as f:
            json.dump(self.d, f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.path)

    def query(self, proto, peer, msg, wire_len, mode):
        q = msg.question[0] if msg.question else None
        qname = "" if q is None else q.name.to_text().lower()
        qtype = "" if q is None else dns.rdatatype.to_text(q.rdtype)
        pad = None
        cookie = "none"
        for opt in msg.options:
            if opt.otype == 12:  # RFC 7830 padding
                pad = len(opt.to_wire())
            if opt.otype == 10:  # RFC 7873 cookie
                cookie = "client_only" if len(opt.to_wire()) == 8 else "with_server_cookie"
        qcase = "" if q is None else ("mixed" if q.name.to_text() != qname else "lower")

        def fn(d):
            inc = self._inc
            inc(d["queries"], "total")
            inc(d["queries"], proto)
            if q is not None:
                inc(d["qnames"], qname)
                inc(d["questions"], "%s %s" % (qname, qtype))
            inc(d["modes"], mode)
            inc(d["cookies"], cookie)
            if qcase:
                inc(d["case"], qcase)
            if msg.edns >= 0:
                inc(d["edns"], "with_edns")
                if msg.ednsflags & dns.flags.DO:
                    inc(d["edns"], "do_bit")
            else:
                inc(d["edns"], "without_edns")
            if pad is None:
                inc(d["padding"], "unpadded")
            else:
                inc(d["padding"], "padded")
                inc(d["padding"]["sizes"], str(wire_len))
                inc(d["padding"]["lengths"], str(pad))
            d["recent"].append({
                "t": round(time.time(), 3), "proto": proto, "peer": peer,
                "id": msg.id, "qname": qname, "qtype": qtype, "len": wire_len,
                "qname_sent": "" if q is None else q.name.to_text(),
                "edns": msg.edns >= 0,
                "payload": msg.payload if msg.edns >= 0 else None,
                "do": bool(msg.ednsflags & dns.flags.DO),
                "padding": pad, "rd": bool(msg.flags & dns.flags.RD),
                "mode": mode})
            del d["recent"][:-RECENT_MAX]
        self.update(fn)
        return pad


# --- mode control -------------------------------------------------------------
class Control:
    def __init__(self, mode, delay, path):
        self.base = (mode, delay)
        self.path = path
        self.lock = threading.Lock()
        self.sig = None
        self.spec = {"mode": mode, "delay": delay, "count": None,
                     "only": None}
        self.left = None

    def _parse(self, text):
        spec = {"mode": self.base[0], "delay": self.base[1], "count": None,
                "only": None}
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] not in MODES:
                log("control file: unknown mode %r, keeping %s"
                    % (words[0], spec["mode"]))
                return spec
            spec["mode"] = words[0]
            for w in words[1:]:
                k, _, v = w.partition("=")
                try:
                    if k == "delay":
                        spec["delay"] = float(v)
                    elif k == "count":
                        spec["count"] = int(v)
                    elif k == "only":
                        spec["only"] = set(p for p in v.split(",") if p)
                        for p in spec["only"] - set(PROTOS):
                            log("control file: only=%s: no transport %r "
                                "(udp, tcp, tls, https)" % (v, p))
                    else:
                        log("control file: unknown word %r ignored" % w)
                except ValueError:
                    log("control file: bad value %r ignored" % w)
            break
        return spec

    def reload(self, force=False):
        """Re-read the control file when it changed (call under the lock)."""
        if not self.path:
            return
        try:
            st = os.stat(self.path)
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            sig = None
        if sig == self.sig and not force:
            return
        self.sig = sig
        text = ""
        if sig is not None:
            try:
                with open(self.path) as f:
                    text = f.read()
            except OSError as e:
                log("control file: %s" % e)
        self.spec = self._parse(text)
        self.left = self.spec["count"]
        log("mode %s delay=%s count=%s only=%s" % (
            self.spec["mode"], self.spec["delay"], self.spec["count"],
            ",".join(sorted(self.spec["only"])) if self.spec["only"] else "all"))

    def take(self, proto):
        """The (mode, delay) for the next query arriving over proto."""
        with self.lock:
            self.reload()
            s = self.spec
            if s["mode"] == "good":
                return "good", s["delay"]
            if s["only"] is not None and proto not in s["only"]:
                return "good", s["delay"]
            if self.left is not None:
                if self.left <= 0:
                    return "good", s["delay"]
                self.left -= 1
            return s["mode"], s["delay"]


def skeleton(query):
    """An empty response to query: QR, RD copied, RA; EDNS (1232) if asked."""
    return dns.message.make_response(query, recursion_available=True,
                                     our_payload=1232)


# --- the zone data --------------------------------------------------------------
class Zones:
    def __init__(self, files):
        self.zones = []
        for f in files:
            z = dns.zone.from_file(f, relativize=False)
            self.zones.append(z)
            log("zone %s from %s (%d names)" % (z.origin, f, len(z.nodes)))
        # longest origin first, so a child zone wins over its parent
        self.zones.sort(key=lambda z: -len(z.origin.labels))

    def find(self, name):
        for z in self.zones:
            if name.is_subdomain(z.origin):
                return z
        return None

    @staticmethod
    def _soa_rrset(z):
        soa = z.find_rdataset(z.origin, dns.rdatatype.SOA)
        rrs = dns.rrset.RRset(z.origin, dns.rdataclass.IN, dns.rdatatype.SOA)
        rrs.update(soa)
        rrs.ttl = min(soa.ttl, soa[0].minimum)  # RFC 2308 section 3
        return rrs

    @staticmethod
    def _is_ent(z, name):
        # an empty non-terminal (_tcp.example.test.) exists: NODATA
        for n in z.nodes:
            if n != name and n.is_subdomain(name):
                return True
        return False

    def answer(self, query):
        """A good authoritative response to query (a dns.message.Message)."""
        resp = skeleton(query)
        if query.opcode() != dns.opcode.QUERY:
            resp.set_rcode(dns.rcode.NOTIMP)
            return resp
        if len(query.question) != 1:
            resp.set_rcode(dns.rcode.FORMERR)
            return resp
        q = query.question[0]
        if q.rdclass != dns.rdataclass.IN:
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        if q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            resp.set_rcode(dns.rcode.NOTIMP)
            return resp
        if q.name.is_subdomain(FILL_NAME) and q.name != FILL_NAME:
            resp.flags |= dns.flags.AA
            if q.rdtype == dns.rdatatype.TXT:
                resp.answer.append(fill_rrset(q.name))
            return resp
        z = self.find(q.name)
        if z is None:
            resp.set_rcode(dns.rcode.REFUSED)
            return resp
        resp.flags |= dns.flags.AA
        name, seen = q.name, set()
        for _hop in range(MAX_CNAME_HOPS):
            seen.add(name)
            node = z.get_node(name)
            if node is None:
                if not self._is_ent(z, name):
                    resp.set_rcode(dns.rcode.NXDOMAIN)
                resp.authority.append(self._soa_rrset(z))
                break
            if q.rdtype == dns.rdatatype.ANY:
                for rds in node.rdatasets:
                    rrs = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
                    rrs.update(rds)
                    resp.answer.append(rrs)
                break
            # dnspython files signatures by the type they cover: a query
            # for RRSIG gets them all, as nsd answers it
            sigs = [rds for rds in node.rdatasets if rds.rdtype == dns.rdatatype.RRSIG]
            if q.rdtype == dns.rdatatype.RRSIG and sigs:
                for rds in sigs:
                    rrs = dns.rrset.RRset(name, rds.rdclass, rds.rdtype, rds.covers)
                    rrs.update(rds)
                    resp.answer.append(rrs)
                break
            rds = node.get_rdataset(dns.rdataclass.IN, q.rdtype)
            if rds is not None:
                rrs = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
                rrs.update(rds)
                resp.answer.append(rrs)
                break
            cn = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cn is not None:
                rrs = dns.rrset.RRset(name, cn.rdclass, cn.rdtype)
                rrs.update(cn)
                resp.answer.append(rrs)
                target = cn[0].target
                if target in seen or not target.is_subdomain(z.origin):
                    break
                name = target
                continue
            resp.authority.append(self._soa_rrset(z))  # NODATA
            break
        return resp


# --- the DNS behaviour shared by every transport ----------------------------
class Engine:
    def __init__(self, args, zones, stats, control):
        self.args = args
        self.zones = zones
        self.stats = stats
        self.control = control

    def parse(self, wire, proto, peer):
        """(query message, None) or (None, FORMERR reply bytes or None)."""
        try:
            msg = dns.message.from_wire(wire)
            if msg.flags & dns.flags.QR:
                log("%s %s: a response, not a query; ignored" % (proto, peer))
                return None, None
            return msg, None
        except Exception as e:  # anything a client can send
            self.stats.update(lambda d: d.__setitem__("malformed",
                                                      d["malformed"] + 1))
            log("%s %s: malformed query (%s: %s)" % (proto, peer,
                                                     type(e).__name__, e))
            if len(wire) < 12:
                return None, None
            qid, flags = struct.unpack("!HH", wire[:4])
            if flags & 0x8000:
                return None, None  # a response: never answer it
            hdr = struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x7900)
                              | dns.rcode.FORMERR, 0, 0, 0, 0)
            return None, hdr

    def good(self, query):
        resp = self.zones.answer(query)
        if query.edns >= 0:
            pad = 468 if any(o.otype == 12 for o in query.options) else 0
            resp.use_edns(0, 0, 1232, query.payload, pad=pad)
        return resp

    def cookie_good(self, query):
        """good, and the cookies of a server that does them (RFC 7873)."""
        resp = self.good(query)
        client = client_cookie(query)
        if client is not None:
            resp.use_edns(0, 0, 1232, options=[
                dns.edns.GenericOption(10, client + server_cookie(query))])
        return resp

    @staticmethod
    def udp_limit(query):
        return max(512, query.payload) if query.edns >= 0 else 512

    def render(self, resp, query, proto):
        """Wire form; over UDP too big means TC=1 with the question only."""
        limit = self.udp_limit(query) if proto == "udp" else 65535
        try:
            return resp.to_wire(max_size=limit)
        except dns.exception.TooBig:
            tc = skeleton(query)
            tc.flags = resp.flags | dns.flags.TC
            tc.set_rcode(resp.rcode())
            if query.edns >= 0:
                tc.use_edns(0, 0, 1232, query.payload)
            return tc.to_wire()

    def decoy(self, query):
        """A reply with the query's ID for another question."""
        name = DECOY_NAME
        if query.question and query.question[0].name == name:
            name = dns.name.from_text("decoy2.example.test.")
        fake = dns.message.make_query(name, dns.rdatatype.A)
        fake.id = query.id
        fake.flags = query.flags
        resp = skeleton(fake)
        resp.flags |= dns.flags.AA
        resp.answer.append(dns.rrset.from_text(name, 300, "IN", "A",
                                               DECOY_ADDR))
        return resp

    @staticmethod
    def loop_reply(query):
        """Header, the question, and an answer whose owner points at itself."""
        qwire = b""
        if query.question:
            q = query.question[0]
            qwire = q.name.to_wire() + struct.pack("!HH", q.rdtype, q.rdclass)
        hdr = struct.pack("!HHHHHH", query.id,
                          0x8000 | 0x0400 | 0x0080 | (query.flags & 0x0100),
                          1 if qwire else 0, 1, 0, 0)
        off = len(hdr) + len(qwire)
        rr = struct.pack("!H", 0xC000 | off)  # pointer to its own offset
        rr += struct.pack("!HHIH", dns.rdatatype.A, dns.rdataclass.IN, 300, 4)
        rr += socket.inet_aton("10.0.0.1")
        return hdr + qwire + rr

    def handle(self, wire, proto, peer, decided=None):
        """Decide what to send for one DNS message received over proto.

        decided is the (mode, delay) the HTTPS handler already took from
        the control (None: take it here). Returns (mode, actions, query);
        actions is a list of ("send", bytes) / ("half", bytes) /
        ("otherport", bytes) / ("drop", None). HTTP-only modes answer like
        good at the DNS level; the HTTPS handler applies them.
        """
        query, formerr = self.parse(wire, proto, peer)
        if query is None:
            return "malformed", ([("send", formerr)] if formerr else []), None
        mode, delay = decided or self.control.take(proto)
        self.stats.query(proto, peer, query, len(wire), mode)
        q = query.question[0] if query.question else None
        log("%s %s id=%d %s %s len=%d mode=%s" % (
            proto, peer, query.id, "-" if q is None else q.name,
            "-" if q is None else dns.rdatatype.to_text(q.rdtype),
            len(wire), mode))
        if mode in HTTP_ONLY:
            mode = "good"

        if mode == "drop":
            return mode, [("drop", None)], query
        if mode == "delay":
            time.sleep(max(0.0, delay))
        if mode == "garbage":
            return mode, [("send", os.urandom(random.randint(1, 100)))], query
        if mode == "loop":
            return mode, [("send", self.loop_reply(query))], query
        if mode in ("refused", "servfail"):
            resp = skeleton(query)
            resp.set_rcode(dns.rcode.REFUSED if mode == "refused"
                           else dns.rcode.SERVFAIL)
            return mode, [("send", resp.to_wire())], query
        if mode == "formerr" or (mode in ("formerr-edns", "notimp-edns")
                                 and query.edns >= 0):
            resp = dns.message.make_response(query)
            resp.use_edns(False)  # a server that knows no EDNS sends no OPT
            resp.set_rcode(dns.rcode.NOTIMP if mode == "notimp-edns"
                           else dns.rcode.FORMERR)
            return mode, [("send", resp.to_wire())], query
        if mode == "tc" and proto == "udp":
            resp = skeleton(query)
            resp.flags |= dns.flags.TC | dns.flags.AA
            return mode, [("send", resp.to_wire())], query

        if mode in ("cookie", "wrongcookie"):
            good = self.render(self.cookie_good(query), query, proto)
            client = client_cookie(query)
            if mode == "cookie" or proto != "udp" or client is None:
                return mode, [("send", good)], query
            forged = []
            for other in (bytes(b ^ 0xFF for b in client), None):
                fake = self.good(query)
                fake.answer = [dns.rrset.from_text(
                    query.question[0].name, 300, "IN", "A", DECOY_ADDR)]
                fake.use_edns(0, 0, 1232, options=[] if other is None else [
                    dns.edns.GenericOption(10, other + server_cookie(query))])
                forged.append(("send", fake.to_wire()))
            return mode, forged + [("send", good)], query
        if mode == "lowercase" and query.question:
            good = self.render(self.cookie_good(query), query, proto)
            n = len(query.question[0].name.to_wire())
            return mode, [("send", good[:12] + good[12:12 + n].lower()
                           + good[12 + n:])], query

        if mode == "unrelated":
            resp = self.good(query)
            resp.answer.insert(0, dns.rrset.from_text(
                UNRELATED_NAME, 300, "IN", "A", UNRELATED_ADDR))
            return mode, [("send", self.render(resp, query, proto))], query
        good = self.render(self.good(query), query, proto)
        if mode == "wrongid":
            bad = bytearray(good)
            struct.pack_into("!H", bad, 0, query.id ^ 0x5A5A)
            return mode, [("send", bytes(bad)), ("send", good)], query
        if mode == "wrongquestion":
            return mode, [("send", self.decoy(query).to_wire()),
                          ("send", good)], query
        if mode == "otherport" and proto == "udp":
            return mode, [("otherport", good)], query
        if mode == "closemid":
            return mode, [("half", good)], query
        return mode, [("send", good)], query


def client_cookie(query):
    for opt in query.options:
        if opt.otype == 10 and len(opt.to_wire()) >= 8:
            return opt.to_wire()[:8]
    return None


def server_cookie(query):
    """A 16-byte server cookie laid out as RFC 9018 4 says (version 1,
    reserved, timestamp, hash); the hash here is of the client cookie
    only, which is all a test needs."""
    client = client_cookie(query) or bytes(8)
    return (b"\x01\x00\x00\x00" + struct.pack("!I", int(time.time()))
            + bytes((b * 7 + 3) & 0xFF for b in client))


# --- UDP ----------------------------------------------------------------------
class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        wire, sock = self.request
        peer = "%s#%d" % self.client_address[:2]
        engine = self.server.engine
        _mode, actions, _q = engine.handle(wire, "udp", peer)
        for kind, data in actions:
            if kind == "send":
                sock.sendto(data, self.client_address)
            elif kind == "half":
                sock.sendto(data[:len(data) // 2], self.client_address)
            elif kind == "otherport":
                fam = sock.family
                with socket.socket(fam, socket.SOCK_DGRAM) as other:
                    other.bind((self.server.server_address[0], 0))
                    other.sendto(data, self.client_address)


# --- TCP and TLS ----------------------------------------------------------------
class StreamHandler(socketserver.BaseRequestHandler):
    """RFC 7766 framing over TCP or TLS.

    This thread alone reads and writes the socket (an OpenSSL connection
    must not be used by two threads at once); each query is answered by a
    worker thread that hands its reply back through a queue, so replies can
    leave out of order (a delayed query does not hold the others).
    """

    def handle(self):
        srv = self.server
        proto, sock = srv.proto, self.request
        peer = "%s#%d" % self.client_address[:2]
        idle = srv.engine.args.idle_timeout
        outq = queue.Queue()
        wake_r, wake_w = socket.socketpair()
        busy, buf, eof = 0, b"", False
        last = time.monotonic()
        eof_deadline = None
        sock.setblocking(False)
        try:
            while True:
                # replies the workers finished
                while True:
                    try:
                        kind, data = outq.get_nowait()
                    except queue.Empty:
                        break
                    if kind == "done":
                        busy -= 1
                    elif kind in ("send", "half"):
                        frame = struct.pack("!H", len(data)) + (
                            data[:len(data) // 2] if kind == "half" else data)
                        self._write(sock, frame)
                        last = time.monotonic()
                        if kind == "half":  # closemid
                            sock.shutdown(socket.SHUT_RDWR)
                            return
                now = time.monotonic()
                if eof:
                    if busy == 0 or now >= eof_deadline:
                        return
                    select.select([wake_r], [], [], eof_deadline - now)
                    self._drain(wake_r)
                    continue
                if busy == 0 and now - last >= idle:
                    return  # idle connection
                if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    wait = idle - (now - last) if busy == 0 else idle
                    rl, _, _ = select.select([sock, wake_r], [], [],
                                             max(0.0, wait))
                    if wake_r in rl:
                        self._drain(wake_r)
                    if sock not in rl:
                        continue
                try:
                    chunk = sock.recv(65535)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                        BlockingIOError):
                    continue
                if not chunk:
                    # the client closed (or half-closed): answers in flight
                    # still go out, for a bounded time
                    eof = True
                    eof_deadline = time.monotonic() + srv.engine.args.delay + 5
                    continue
                last = time.monotonic()
                buf += chunk
                while len(buf) >= 2:
                    (n,) = struct.unpack("!H", buf[:2])
                    if len(buf) < 2 + n:
                        break
                    wire, buf = buf[2:2 + n], buf[2 + n:]
                    busy += 1
                    threading.Thread(target=self._work, daemon=True, args=(
                        wire, proto, peer, outq, wake_w)).start()
        except (OSError, ssl.SSLError):
            pass  # reset, TLS alert, write timeout: the connection is over
        finally:
            wake_r.close()
            wake_w.close()

    def _work(self, wire, proto, peer, outq, wake_w):
        try:
            _mode, actions, _q = self.server.engine.handle(wire, proto, peer)
            for action in actions:
                outq.put(action)  # ("drop", None) is just ignored
        finally:
            outq.put(("done", None))
            try:
                wake_w.send(b"!")
            except OSError:
                pass  # the connection is gone

    @staticmethod
    def _drain(wake_r):
        try:
            wake_r.setblocking(False)
            while wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    @staticmethod
    def _write(sock, frame):
        sock.settimeout(10)
        try:
            sock.sendall(frame)
        finally:
            sock.setblocking(False)


def tls_accept(server, request):
    """Wrap an accepted socket in TLS and count the handshake."""
    stats = server.engine.stats
    request.settimeout(10)
    try:
        tsock = server.ssl_ctx.wrap_socket(request, server_side=True,
                                           do_handshake_on_connect=False)
        tsock.do_handshake()
    except (OSError, ssl.SSLError) as e:
        log("%s handshake failed: %s" % (server.proto, e))
        def failed(d):
            d["tls"]["failures"] += 1
            d["tls"]["by_proto"][server.proto]["failures"] += 1
        stats.update(failed)
        try:
            request.close()
        except OSError:
            pass
        return None
    version = tsock.version() or "?"
    alpn = tsock.selected_alpn_protocol() or "none"
    resumed = tsock.session_reused
    sni = getattr(tsock, "fakedns_sni", None) or "none"

    def fn(d):
        t = d["tls"]
        t["handshakes"] += 1
        t["resumed"] += 1 if resumed else 0
        t["by_proto"][server.proto]["handshakes"] += 1
        t["by_proto"][server.proto]["resumed"] += 1 if resumed else 0
        Stats._inc(t["versions"], version)
        Stats._inc(t["alpn"], alpn)
        Stats._inc(t["sni"], sni)
    stats.update(fn)
    return tsock


class AcceptMixin:
    """Stream servers: count the connection, then TLS if the server has a
    context; runs in the connection's own thread, so a slow handshake
    blocks no one."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def finish_request(self, request, client_address):
        self.engine.stats.update(lambda d: Stats._inc(d["connections"],
                                                      self.proto))
        if self.ssl_ctx is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        tsock = tls_accept(self, request)
        if tsock is not None:
            try:
                self.RequestHandlerClass(tsock, client_address, self)
            finally:
                tsock.close()


class StreamServer(AcceptMixin, socketserver.ThreadingTCPServer):
    pass


class DatagramServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True
    max_packet_size = 65535


# --- HTTPS (HTTP/1.1) -----------------------------------------------------------
def b64url_decode(s):
    s = s.strip()
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rdtype_from_param(s):
    try:
        return int(s) if s.isdigit() else dns.rdatatype.from_text(s.upper())
    except Exception:
        return None


def json_answer(resp, query, decoy=False):
    def rrs(section):
        out = []
        for rrset in section:
            for rd in rrset:
                out.append({"name": rrset.name.to_text(),
                            "type": int(rrset.rdtype), "TTL": rrset.ttl,
                            "data": rd.to_text()})
        return out
    q = resp.question[0] if decoy else query.question[0]
    obj = {"Status": resp.rcode(),
           "TC": bool(resp.flags & dns.flags.TC),
           "RD": bool(query.flags & dns.flags.RD),
           "RA": True, "AD": False,
           "CD": bool(query.flags & dns.flags.CD),
           "Question": [{"name": q.name.to_text(), "type": int(q.rdtype)}]}
    if resp.answer:
        obj["Answer"] = rrs(resp.answer)
    if resp.authority:
        obj["Authority"] = rrs(resp.authority)
    return obj


class HTTPSHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakedns"
    sys_version = ""

    def log_message(self, fmt, *args):
        log("https %s %s" % (self.address_string(), fmt % args))

    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.engine.args.idle_timeout)

    def _count(self, path):
        accept = self.headers.get("Accept", "none")
        ctype = self.headers.get("Content-Type", "none")

        def fn(d):
            h = d["http"]
            h["requests"] += 1
            Stats._inc(h["methods"], self.command)
            Stats._inc(h["paths"], path)
            Stats._inc(h["accept"], accept)
            Stats._inc(h["content_types"], ctype)
        self.server.engine.stats.update(fn)

    def _send(self, code, ctype, body, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _error(self, code, text):
        self._send(code, "text/plain; charset=utf-8",
                   (text + "\n").encode())

    def _send_half(self, ctype, body):
        """Full Content-Length, half the body, then close (closemid)."""
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _hold(self):
        """drop: say nothing for --hold seconds, then close."""
        end = time.monotonic() + self.server.engine.args.hold
        while time.monotonic() < end:
            time.sleep(0.2)
        self.close_connection = True

    def do_GET(self):
        self._dispatch(None)

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > 65535:
            self._count(urllib.parse.urlsplit(self.path).path)
            self.close_connection = True
            return self._error(400, "bad Content-Length")
        self._dispatch(self.rfile.read(n))

    def _dispatch(self, body):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        self._count(path)
        params = urllib.parse.parse_qs(url.query)
        base = path[:-len(REDIRECT_SUFFIX)] if path.endswith(
            REDIRECT_SUFFIX) else path
        if base not in (DOH_PATH, JSON_PATH) or (
                base == JSON_PATH and body is not None):
            return self._error(404, "no such path: " + path)
        engine = self.server.engine
        decided = engine.control.take("https")
        mode = decided[0]
        if path != base and mode == "redirect":
            decided = ("good", decided[1])  # the target of the redirect
            mode = "good"
        if mode in ("jsonmissing", "truncated-json") and base != JSON_PATH:
            decided = ("good", decided[1])  # they concern the JSON API only
            mode = "good"
        if mode in HTTP_ONLY - {"jsonmissing", "truncated-json"}:
            engine.stats.update(lambda d: Stats._inc(d["modes"], mode))
            log("https %s %s mode=%s" % (self.command, self.path, mode))
            if mode == "http500":
                return self._error(500, "internal server error (fakedns)")
            if mode == "http404":
                return self._error(404, "not found (fakedns)")
            if mode == "http415":
                return self._error(415, "unsupported media type (fakedns)")
            if mode == "redirect":
                loc = path + REDIRECT_SUFFIX + (
                    "?" + url.query if url.query else "")
                self.send_response(302)
                self.send_header("Location", loc)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            # badctype
            return self._send(200, "text/html; charset=utf-8",
                              b"<html><body>not DNS</body></html>\n")
        if base == JSON_PATH:
            return self._json(params, decided)
        if body is None:
            vals = params.get("dns")
            if not vals:
                return self._error(400, "missing ?dns=")
            try:
                wire = b64url_decode(vals[0])
            except (ValueError, TypeError):
                return self._error(400, "bad base64url in ?dns=")
        else:
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype.lower() != "application/dns-message":
                return self._error(415, "Content-Type must be "
                                   "application/dns-message")
            wire = body
        peer = "%s#%d" % self.client_address[:2]
        _mode, actions, _query = engine.handle(wire, "https", peer, decided)
        ctype = "application/dns-message"
        for kind, data in actions:
            if kind == "drop":
                return self._hold()
            if kind == "half":
                return self._send_half(ctype, data)
            # one HTTP response carries one message: the first (for wrongid
            # and wrongquestion that is the bad one)
            extra = {"Cache-Control": "max-age=%d" % self._min_ttl(data)}
            return self._send(200, ctype, data, extra)
        return self._error(400, "malformed DNS message")

    @staticmethod
    def _min_ttl(wire):
        try:
            m = dns.message.from_wire(wire)
            ttls = [r.ttl for r in m.answer + m.authority]
            return min(ttls) if ttls else 0
        except Exception:
            return 0

    def _json(self, params, decided):
        name = (params.get("name") or [""])[0]
        rdtype = rdtype_from_param((params.get("type") or ["A"])[0])
        if not name or rdtype is None:
            return self._send(400, "application/dns-json",
                              b'{"error": "name= and a valid type= are '
                              b'required"}\n')
        try:
            query = dns.message.make_query(name, rdtype)
        except Exception as e:
            return self._send(400, "application/dns-json", json.dumps(
                {"error": "bad name: %s" % e}).encode() + b"\n")
        if (params.get("cd") or ["0"])[0] in ("1", "true"):
            query.flags |= dns.flags.CD
        query.id = 0
        peer = "%s#%d" % self.client_address[:2]
        engine = self.server.engine
        mode, actions, _q = engine.handle(query.to_wire(), "https", peer,
                                          decided)
        http_mode = decided[0]
        ctype = "application/dns-json"
        if mode == "drop":
            return self._hold()
        if mode == "garbage":
            return self._send(200, ctype, os.urandom(random.randint(1, 100)))
        if mode == "wrongquestion":
            obj = json_answer(engine.decoy(query), query, decoy=True)
        elif mode in ("refused", "servfail", "formerr", "unrelated"):
            obj = json_answer(dns.message.from_wire(actions[0][1]), query)
        else:
            obj = json_answer(engine.good(query), query)
        if http_mode == "jsonmissing":
            obj.pop("Status", None)
            obj.pop("Answer", None)
        body = json.dumps(obj).encode()
        if http_mode == "truncated-json":
            body = body[:len(body) // 2]
        if mode == "closemid":
            return self._send_half(ctype, body)
        return self._send(200, ctype, body)


class HTTPSServer(AcceptMixin, http.server.ThreadingHTTPServer):
    def server_bind(self):
        # not HTTPServer.server_bind: its socket.getfqdn() may send a DNS
        # query to the system resolver; tests talk to loopback only
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


# --- main ---------------------------------------------------------------------
def tls_context(cert, key, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(alpn)

    def sni_cb(sslobj, server_name, _ctx):
        sslobj.fakedns_sni = server_name  # read back by tls_accept
        return None
    ctx.sni_callback = sni_cb
    return ctx


def make_server(base, addr, port, handler, engine, proto, ssl_ctx):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    cls = type(base.__name__, (base,), {"address_family": fam})
    srv = cls((addr, port), handler, bind_and_activate=False)
    if fam == socket.AF_INET6:
        srv.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    srv.server_bind()
    srv.server_activate()
    srv.engine, srv.proto, srv.ssl_ctx = engine, proto, ssl_ctx
    return srv


def main():
    ap = argparse.ArgumentParser(
        description="DNS server of the integration tests; modes and stats "
        "in the header of this file.")
    ap.add_argument("--listen", action="append", default=None,
                    help="loopback address to listen on (repeatable; "
                    "default 127.0.0.1)")
    ap.add_argument("--udp-port", type=int)
    ap.add_argument("--tcp-port", type=int)
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--https-port", type=int)
    ap.add_argument("--cert", help="PEM certificate (chain) for TLS/HTTPS")
    ap.add_argument("--key", help="PEM private key for TLS/HTTPS")
    ap.add_argument("--zone", action="append", default=[],
                    help="zone file with $ORIGIN (repeatable)")
    ap.add_argument("--mode", default="good", choices=MODES)
    ap.add_argument("--delay", type=float, default=1.0,
                    help="seconds, for mode delay (default 1)")
    ap.add_argument("--hold", type=float, default=30.0,
                    help="seconds an HTTPS request is held in mode drop")
    ap.add_argument("--idle-timeout", type=float, default=30.0,
                    help="seconds before an idle TCP/TLS/HTTPS connection "
                    "is closed")
    ap.add_argument("--stats", help="JSON file of counters")
    ap.add_argument("--control-file", help="mode file re-read on each query")
    args = ap.parse_args()

    listen = args.listen or ["127.0.0.1"]
    for a in listen:
        if not ipaddress.ip_address(a).is_loopback:
            ap.error("--listen %s: tests listen on loopback only" % a)
    if args.tls_port is not None or args.https_port is not None:
        if not (args.cert and args.key):
            ap.error("--tls-port/--https-port need --cert and --key")
    if not args.zone:
        ap.error("at least one --zone is needed")
    if all(p is None for p in (args.udp_port, args.tcp_port, args.tls_port,
                               args.https_port)):
        ap.error("no port: give --udp-port, --tcp-port, --tls-port or "
                 "--https-port")

    stats = Stats(args.stats)
    control = Control(args.mode, args.delay, args.control_file)
    with control.lock:
        control.reload(force=True)
    engine = Engine(args, Zones(args.zone), stats, control)
    stats.update(lambda d: None)  # the file exists from the start

    servers = []
    for addr in listen:
        if args.udp_port is not None:
            servers.append(make_server(DatagramServer, addr, args.udp_port,
                                       UDPHandler, engine, "udp", None))
        if args.tcp_port is not None:
            servers.append(make_server(StreamServer, addr, args.tcp_port,
                                       StreamHandler, engine, "tcp", None))
        if args.tls_port is not None:
            servers.append(make_server(
                StreamServer, addr, args.tls_port, StreamHandler, engine,
                "tls", tls_context(args.cert, args.key, ["dot"])))
        if args.https_port is not None:
            servers.append(make_server(
                HTTPSServer, addr, args.https_port, HTTPSHandler, engine,
                "https", tls_context(args.cert, args.key, ["http/1.1"])))
    for srv in servers:
        threading.Thread(target=srv.serve_forever, kwargs={
            "poll_interval": 0.2}, daemon=True).start()

    stop = threading.Event()

    def on_term(_sig, _frm):
        stop.set()

    def on_usr1(_sig, _frm):
        with control.lock:
            control.reload(force=True)

    def on_usr2(_sig, _frm):
        with stats.lock:
            stats.reset()
            stats._write()
        log("counters reset")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)

    log("ready pid=%d listen=%s udp=%s tcp=%s tls=%s https=%s mode=%s" % (
        os.getpid(), ",".join(listen), args.udp_port, args.tcp_port,
        args.tls_port, args.https_port, control.spec["mode"]))
    while not stop.is_set():
        stop.wait(1.0)
    log("exiting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
