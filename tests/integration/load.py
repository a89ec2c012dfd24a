#!/usr/bin/python3
"""load.py -- a steady stream of DNS queries that counts every one lost.

    load.py PORT SECONDS [--names N] [--concurrency C] [--tcp-every K]
            [--timeout T] [--out FILE]

Sends queries to 127.0.0.1#PORT for SECONDS: C workers, each asking
www.example.test, mx.example.test and nameN.example.test (N distinct
never-cached names, so part of the load always goes upstream), every K-th
over TCP. A query is lost when no reply with its ID comes back within T
seconds (no retries: a retry would hide the loss). Prints one line:
"sent=S answered=A lost=L servfail=F" and writes it to FILE too. Exit 0.
"""
import argparse
import itertools
import threading
import time

import dns.message
import dns.query
import dns.rcode

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("seconds", type=float)
ap.add_argument("--names", type=int, default=100000)
ap.add_argument("--concurrency", type=int, default=8)
ap.add_argument("--tcp-every", type=int, default=10)
ap.add_argument("--timeout", type=float, default=4.0)
ap.add_argument("--out")
a = ap.parse_args()

lock = threading.Lock()
counts = {"sent": 0, "answered": 0, "lost": 0, "servfail": 0}
seq = itertools.count()
deadline = time.monotonic() + a.seconds


def worker():
    while time.monotonic() < deadline:
        i = next(seq)
        k = i % 3
        name = ("www.example.test", "mx.example.test",
                "name%d.example.test" % (i % a.names))[k]
        q = dns.message.make_query(name, "MX" if k == 1 else "A")
        try:
            if a.tcp_every and i % a.tcp_every == 0:
                r = dns.query.tcp(q, "127.0.0.1", port=a.port, timeout=a.timeout)
            else:
                r = dns.query.udp(q, "127.0.0.1", port=a.port, timeout=a.timeout)
            ok, sf = r.id == q.id, r.rcode() == dns.rcode.SERVFAIL
        except Exception:
            ok, sf = False, False
        with lock:
            counts["sent"] += 1
            counts["answered" if ok else "lost"] += 1
            counts["servfail"] += 1 if sf else 0


ts = [threading.Thread(target=worker) for _ in range(a.concurrency)]
for t in ts:
    t.start()
for t in ts:
    t.join()
line = "sent=%(sent)d answered=%(answered)d lost=%(lost)d servfail=%(servfail)d" % counts
print(line)
if a.out:
    with open(a.out, "w") as f:
        f.write(line + "\n")
