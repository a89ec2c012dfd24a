#!/usr/bin/python3
"""faults.py -- the upstream fault matrix of test_faults_*.sh, table-driven.

For every (transport, fault) row of TABLE below, against a running stubresd
(control socket SR_SOCK, DNS on 127.0.0.1:SR_PORT) and fakedns servers
(stats files and control files under T):

  1. failover: servers = up1 (faulty), up2 (good), cache flushed. A client
     asks www.example.test A and must get 10.0.0.1 within the bound; the
     table says who answered (up1 itself after ignoring a forgery or after
     the TCP retry, or up2 after failover) and which counter of up1 in
     `stats` moved (errors, timeouts, or none).
  2. single: servers = up1 alone, cache flushed. The client gets what the
     table says: SERVFAIL (the fault is an error) or the right answer;
     `stats` responses.SERVFAIL moves with it.
  3. the cache: after late replies had time to land, `cache dump` holds no
     forged record (decoy.example.test, 10.66.66.66, anything for www but
     10.0.0.1).
  4. recovery: up1 good again, the same question without a flush gets
     10.0.0.1 (nothing wrong was cached, nothing negative kept).

The stubresd process must be alive after every row. Prints one "ok - ..."
line per assertion; exits 1 at the first failure.

    faults.py PROTO... (udp tcp tls post get json)
Environment: SR_PORT SR_SOCK T SR_PID SR_TIMEOUT (stubresd's timeout) and,
for each fakedns NAME (up1 up2 badname expired unknownca), NAME_PORT
NAME_TLS_PORT NAME_HTTPS_PORT; FAULT_ONLY="f1 f2": only those faults.
"""

import json
import os
import socket
import sys
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

T = os.environ["T"]
SR_PORT = int(os.environ["SR_PORT"])
SR_SOCK = os.environ["SR_SOCK"]
SR_PID = int(os.environ["SR_PID"])
TLS_NAME = os.environ.get("TLS_NAME", "dns.example.test")
TIMEOUT = float(os.environ.get("SR_TIMEOUT", "1"))  # stubresd's timeout
DELAY = 2 * TIMEOUT           # "answers after the timeout"
# A client waits at most this long (dig's default is 5 s): one upstream is
# tried twice at most before SERVFAIL, two are tried once each.
BOUND = 2 * TIMEOUT + 1.5
CLIENT_WAIT = BOUND + 3       # the test client's own timeout
QNAME = "www.example.test"
RIGHT = "10.0.0.1"
FORGED = ("10.66.66.66", "decoy")

# Who answers in the failover phase: up1 (the fault was ignored or worked
# around on up1) or up2 (up1 failed, the next upstream answered).
# counter: the up1 counter of `stats` that must grow (errors, timeouts, or
# servfails: an upstream's SERVFAIL or REFUSED answers),
# or None when up1 must not be counted as failed.
# single: what the client gets with up1 alone: "answer" or "SERVFAIL".
# extra: more checks (tcp: the answer came over TCP after TC=1).
ANSWER, SERVFAIL = "answer", "SERVFAIL"
ROWS = {
    # fault          failover  counter     single    note
    "drop":          ("up2", "timeouts", SERVFAIL, "never answers: timeout, next upstream"),
    "delay":         ("up2", "timeouts", SERVFAIL, "answers after the timeout: too late, next upstream"),
    "refused":       ("up2", "servfails", SERVFAIL, "REFUSED: next upstream"),
    "servfail":      ("up2", "servfails", SERVFAIL, "SERVFAIL: next upstream"),
    "garbage":       ("up2", None, SERVFAIL, "random bytes: not an answer"),
    "wrongid":       ("up1", None, ANSWER, "a reply with the wrong ID is ignored, the right one taken"),
    "wrongquestion": ("up1", None, ANSWER, "a reply for another question is ignored, the right one taken"),
    "loop":          ("up2", None, SERVFAIL, "a compression loop: malformed, not an answer"),
    "closemid":      ("up2", "errors", SERVFAIL, "half a reply: not an answer"),
}
# Per transport: the faults that apply, with overrides of ROWS.
UDP_ONLY = {
    "tc":        ("up1", None, ANSWER, "TC=1 over UDP: retried over TCP on the same upstream"),
    "otherport": ("up2", "timeouts", SERVFAIL, "a reply from another source port is ignored: timeout"),
}
HTTP_ROWS = {
    "http500":  ("up2", "errors", SERVFAIL, "HTTP 500: next upstream"),
    "http404":  ("up2", "errors", SERVFAIL, "HTTP 404: next upstream"),
    "http415":  ("up2", "errors", SERVFAIL, "HTTP 415: next upstream"),
    "redirect": ("up2", "errors", SERVFAIL, "a 302 redirect is not followed: next upstream"),
    "badctype": ("up2", "errors", SERVFAIL, "200 text/html: not DNS, next upstream"),
}
CERT_ROWS = {
    "cert:badname":   ("up2", "errors", SERVFAIL, "certificate for another name: rejected"),
    "cert:expired":   ("up2", "errors", SERVFAIL, "expired certificate: rejected"),
    "cert:unknownca": ("up2", "errors", SERVFAIL, "certificate from an unknown CA: rejected"),
}


def table(proto):
    base = dict(ROWS)
    if proto == "udp":
        base.update(UDP_ONLY)
        # A UDP reply that does not parse (or does not match) may be a
        # forgery: it is dropped and the real one awaited (RFC 5452 9.1),
        # so the upstream ends up counted as a timeout.
        for f in ("garbage", "loop", "closemid"):
            base[f] = ("up2", "timeouts", SERVFAIL, base[f][3] + " (ignored over UDP: timeout)")
    elif proto in ("tcp", "tls"):
        for f in ("garbage", "loop"):
            base[f] = ("up2", "errors", SERVFAIL, base[f][3] + " (the stream is broken: error)")
    if proto in ("tls", "post", "get", "json"):
        base.update(CERT_ROWS)
    if proto in ("post", "get", "json"):
        base.update(HTTP_ROWS)
        # One HTTP response carries one message: a wrong one is the answer
        # to this request, so it is an error (no second reply follows).
        base["wrongid"] = ("up2", "errors", SERVFAIL, "DoH reply with another ID: error")
        base["wrongquestion"] = ("up2", "errors", SERVFAIL, "DoH reply for another question: error")
        base["garbage"] = ("up2", "errors", SERVFAIL, "200 with random bytes: error")
        base["loop"] = ("up2", "errors", SERVFAIL, "compression loop: error")
    if proto == "json":
        del base["wrongid"]  # the JSON API has no ID
        del base["loop"]     # nor compression
        base["jsonmissing"] = ("up2", "errors", SERVFAIL, "JSON without Status and Answer: error")
        base["truncated-json"] = ("up2", "errors", SERVFAIL, "half a JSON text: error")
    return base


def fail(msg):
    print("faults.py: FAIL: %s" % msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("ok - %s" % msg, flush=True)


def ctl(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SR_SOCK)
    s.sendall(cmd.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        buf += c
    s.close()
    r = json.loads(buf)
    if not r.get("ok"):
        fail("stubresctl %s: %s" % (cmd, r))
    return r


def env_port(name, kind):
    return int(os.environ["%s_%s" % (name.upper(), kind)])


def spec(proto, name):
    if proto == "udp":
        return "udp://127.0.0.1:%d" % env_port(name, "PORT")
    if proto == "tcp":
        return "tcp://127.0.0.1:%d" % env_port(name, "PORT")
    if proto == "tls":
        return "tls://127.0.0.1:%d#%s" % (env_port(name, "TLS_PORT"), TLS_NAME)
    path = "/resolve" if proto == "json" else "/dns-query"
    return "https://127.0.0.1:%d%s" % (env_port(name, "HTTPS_PORT"), path)


def fakedns_stats(name):
    with open(os.path.join(T, name + ".stats.json")) as f:
        return json.load(f)


def asked(name):
    return fakedns_stats(name)["questions"].get("www.example.test. A", 0)


def set_mode(name, line):
    p = os.path.join(T, name + ".mode")
    with open(p + ".tmp", "w") as f:
        f.write(line + "\n")
    os.replace(p + ".tmp", p)


def up_counters(s):
    for u in ctl("stats")["upstreams"]:
        if u["server"] == s:
            return u
    return {"errors": 0, "timeouts": 0, "queries": 0}


def query():
    """(rcode text, [A addresses], seconds) of www.example.test A."""
    q = dns.message.make_query(QNAME, "A")
    t = time.monotonic()
    try:
        r = dns.query.udp(q, "127.0.0.1", port=SR_PORT, timeout=CLIENT_WAIT)
    except dns.exception.Timeout:
        return "TIMEOUT", [], time.monotonic() - t
    took = time.monotonic() - t
    addrs = [rd.address for rrs in r.answer if rrs.rdtype == dns.rdatatype.A for rd in rrs]
    return dns.rcode.to_text(r.rcode()), addrs, took


def alive():
    try:
        os.kill(SR_PID, 0)
    except OSError:
        fail("stubresd (PID %d) is gone" % SR_PID)


def servfails():
    return ctl("stats")["responses"].get("SERVFAIL", 0)


def run_row(proto, fault, row):
    who, counter, single, note = row
    tag = "%s %s" % (proto, fault)
    cert = fault.startswith("cert:")
    bad = fault[5:] if cert else "up1"
    up1, up2 = spec(proto, bad), spec(proto, "up2")
    if not cert:
        set_mode("up1", "%s delay=%s" % (fault, DELAY))

    # 1. failover
    before = up_counters(up1)
    a1, a2 = asked(bad), asked("up2")
    tcp_before = fakedns_stats(bad)["queries"]["tcp"]
    http_before = fakedns_stats(bad)["http"]["requests"]
    ctl("server %s %s" % (up1, up2))
    ctl("cache flush")
    rc, addrs, took = query()
    if (rc, addrs) != ("NOERROR", [RIGHT]):
        fail("%s: with a good second upstream the client got %s %s (%.2f s); %s"
             % (tag, rc, addrs, took, note))
    if took > BOUND:
        fail("%s: the answer took %.2f s (bound %.1f s)" % (tag, took, BOUND))
    d1, d2 = asked(bad) - a1, asked("up2") - a2
    if fault in HTTP_ROWS:
        # fakedns answers these before it reads the DNS question
        d1 = fakedns_stats(bad)["http"]["requests"] - http_before
    if cert:
        d1 = 1  # the query never reaches a server whose certificate is refused
        if asked(bad) != a1:
            fail("%s: a query reached the server whose certificate is wrong" % tag)
    if who == "up2" and not (d1 >= 1 and d2 >= 1):
        fail("%s: expected failover (up1 asked %d, up2 asked %d); %s" % (tag, d1, d2, note))
    if who == "up1" and not (d1 >= 1 and d2 == 0):
        fail("%s: expected up1 to answer (up1 asked %d, up2 asked %d); %s" % (tag, d1, d2, note))
    if fault == "tc" and fakedns_stats(bad)["queries"]["tcp"] <= tcp_before:
        fail("%s: TC=1 but up1 was not asked over TCP" % tag)
    after = up_counters(up1)
    grew = {k: after[k] - before.get(k, 0) for k in ("errors", "timeouts", "servfails")}
    if counter is not None and grew[counter] < 1:
        fail("%s: stats: up1 %s did not grow (%s); %s" % (tag, counter, grew, note))
    if counter is None and who == "up1" and any(grew.values()):
        fail("%s: stats: up1 counted as failed (%s) though it answered" % (tag, grew))
    ok("%s: %s -> answer %s from %s in %.2f s; stats up1 %s" % (
        tag, note, RIGHT, who, took, counter or "no error"))

    # 2. the faulty upstream alone
    sf = servfails()
    ctl("server %s" % up1)
    ctl("cache flush")
    rc, addrs, took = query()
    if took > BOUND:
        fail("%s alone: the client waited %.2f s (bound %.1f s)" % (tag, took, BOUND))
    if single == SERVFAIL:
        if rc != "SERVFAIL" or addrs:
            fail("%s alone: expected SERVFAIL, got %s %s" % (tag, rc, addrs))
        if servfails() - sf != 1:
            fail("%s alone: stats responses.SERVFAIL grew by %d, expected 1" % (tag, servfails() - sf))
    elif (rc, addrs) != ("NOERROR", [RIGHT]):
        fail("%s alone: expected %s, got %s %s" % (tag, RIGHT, rc, addrs))
    ok("%s alone: %s in %.2f s%s" % (tag, rc if single == SERVFAIL else "answer " + RIGHT, took,
                                      "; stats SERVFAIL +1" if single == SERVFAIL else ""))

    # 3. nothing forged in the cache, also once late replies have landed
    if fault == "delay":
        time.sleep(DELAY + 0.3)
    dump = ctl("cache dump").get("entries", [])
    for line in dump:
        if any(f in line for f in FORGED):
            fail("%s: forged record in the cache: %s" % (tag, line))
        # NAME TYPE CLASS RCODE TTL, then per answer record NAME TTL TYPE FIELDS
        w = line.split()
        if w[:2] == ["www.example.test", "A"]:
            addrs = [v for v in w[5:] if v.count(".") == 3 and v.replace(".", "").isdigit()]
            if w[3] != "NOERROR" or addrs != [RIGHT]:
                fail("%s: wrong www entry in the cache: %s" % (tag, line))
    alive()

    # 4. the upstream is good again: the right answer, nothing wrong kept
    if cert:
        ctl("server %s" % spec(proto, "up1"))
    set_mode("up1", "good")
    rc, addrs, took = query()
    if (rc, addrs) != ("NOERROR", [RIGHT]):
        fail("%s: once up1 is good again the client got %s %s" % (tag, rc, addrs))
    ok("%s: cache clean (%d entries, no forged record); up1 good again: %s" % (
        tag, len(dump), RIGHT))
    alive()


def main():
    protos = sys.argv[1:]
    t0 = time.monotonic()
    n = 0
    for proto in protos:
        if proto in ("post", "get", "json"):
            ctl("config doh_method=%s" % proto)
        only = os.environ.get("FAULT_ONLY", "").split()
        for fault, row in table(proto).items():
            if only and fault not in only:
                continue
            run_row(proto, fault, row)
            n += 1
    ok("%d fault rows over %s in %.0f s; stubresd alive" % (n, " ".join(protos),
                                                              time.monotonic() - t0))


if __name__ == "__main__":
    main()
