#!/usr/bin/python3
"""recovery_probe.py -- time from a network change to the first answered query.

    recovery_probe.py --port P [--down CMD] [--outage S] --change CMD [--timeout S]

Sends one UDP query (a fresh name, q<N>-<RUN>.example.test A, so that no
cache answers it) to 127.0.0.1:P every 20 ms. Once the first answer
arrives (a warm-up of at most 10 s), 1 s of steady queries; then --down CMD
(if given) and --outage seconds of queries; then --change CMD. t0 is when
that command has returned. Prints one line: the milliseconds from t0 to the
first NOERROR answer with an A record to a query sent at or after t0, or
"timeout" after --timeout seconds. Every loop is bounded in time.
"""
import argparse
import os
import select
import socket
import struct
import subprocess
import sys
import time


def query(qid, name):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + struct.pack(">HH", 1, 1)


def answered(data):
    """(id, ok): ok when NOERROR with at least one answer record."""
    if len(data) < 12:
        return None, False
    qid, flags, _, ancount = struct.unpack(">HHHH", data[:8])
    return qid, (flags & 0x8000) != 0 and (flags & 0xF) == 0 and ancount > 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--down")
    ap.add_argument("--outage", type=float, default=0.0)
    ap.add_argument("--change", required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=0.02)
    a = ap.parse_args()

    run = "%x%x" % (os.getpid(), int(time.time()) & 0xFFFF)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", a.port))
    sent = {}  # id -> send time
    n = 0

    def send():
        nonlocal n
        n += 1
        qid = n & 0xFFFF
        sent[qid] = time.monotonic()
        try:
            s.send(query(qid, "q%d-%s.example.test" % (n, run)))
        except OSError:
            pass

    def pump(until, t0=None):
        """Send every interval until `until`; with t0, return the receive
        time of the first good answer to a query sent at or after t0."""
        nxt = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= until:
                return None
            if now >= nxt:
                send()
                nxt += a.interval
            r, _, _ = select.select([s], [], [], max(0.0, min(nxt, until) - time.monotonic()))
            if not r:
                continue
            try:
                data = s.recv(4096)
            except OSError:
                continue
            got = time.monotonic()
            qid, ok = answered(data)
            if t0 is not None and ok and qid in sent and sent[qid] >= t0:
                return got

    # Warm-up: the first answer (a TLS connection up), at most 10 s.
    deadline = time.monotonic() + 10
    got = None
    while got is None and time.monotonic() < deadline:
        got = pump(min(deadline, time.monotonic() + 0.5), t0=0.0)
    if got is None:
        print("no-answer-before-change")
        return 1
    pump(time.monotonic() + 1.0)
    if a.down:
        subprocess.run(a.down, shell=True, check=True)
        pump(time.monotonic() + a.outage)
    subprocess.run(a.change, shell=True, check=True)
    t0 = time.monotonic()
    got = pump(t0 + a.timeout, t0=t0)
    print("timeout" if got is None else "%d" % round((got - t0) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
