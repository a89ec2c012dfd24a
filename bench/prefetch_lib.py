#!/usr/bin/python3
"""bench/prefetch_lib.py -- the two programs of bench/prefetch.sh.

  prefetch_lib.py upstream PORT STATS
      a UDP server on 127.0.0.1:PORT answering any A query for
      nINDEX.bench.test. with 10.x.y.z and a TTL that the name gives
      (ttl_of: 5..300 s, the same for every run); it counts the queries it
      answers in STATS (rewritten once a second and on SIGTERM).

  prefetch_lib.py replay PORT SECONDS RATE NAMES SEED OUT
      asks stubresd at 127.0.0.1:PORT for RATE names a second for SECONDS,
      each drawn from a Zipf distribution (exponent ZIPF_S) over NAMES
      names by a generator seeded with SEED (the same trace for every
      run); writes {"sent", "answered"} to OUT.

  prefetch_lib.py bound WARM RUN RATE NAMES
      from the same two traces (seeds 1 and 2), the fraction of the RUN
      part's queries that no refresh allowed by prefetch_popular's rule
      could have answered from the cache: the first ask of a name, or one
      more than two TTLs after the previous ask (an entry stored at an ask
      is refreshed at most once unasked, so it lasts at most two TTLs).

Loopback only.
"""
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

ZIPF_S = 1.0
ZONE = "bench.test"


def ttl_of(index):
    """A TTL of 5..300 s spread evenly over the names (not by rank: the
    Zipf rank of nINDEX is INDEX, and a hash decouples TTL from it)."""
    return 5 + (index * 2654435761 % 4294967296) % 296


def qname_index(wire):
    """The INDEX of a query for nINDEX.bench.test. and the question's end,
    or (None, end)."""
    off, labels = 12, []
    while off < len(wire):
        n = wire[off]
        if n == 0 or n > 63:
            off += 1
            break
        labels.append(wire[off + 1:off + 1 + n])
        off += 1 + n
    end = off + 4
    # Case-insensitively: stubresd mixes the case of the names it asks
    # upstream (0x20), so half its queries for n7 ask for N7.
    if end > len(wire) or not labels or labels[0][:1].lower() != b"n":
        return None, end
    try:
        return int(labels[0][1:]), end
    except ValueError:
        return None, end


def upstream(port, stats_path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    count = {"queries": 0, "answered": 0}
    done = []

    def write():
        tmp = stats_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(count, f)
        os.replace(tmp, stats_path)

    signal.signal(signal.SIGTERM, lambda *_: done.append(1))
    last = time.monotonic()
    write()
    while not done:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            try:
                wire, peer = s.recvfrom(4096)
            except InterruptedError:
                continue
            if len(wire) < 17:
                continue
            count["queries"] += 1
            idx, end = qname_index(wire)
            qtype = struct.unpack("!H", wire[end - 4:end - 2])[0] if end <= len(wire) else 0
            flags = 0x8400 | (struct.unpack("!H", wire[2:4])[0] & 0x0100)
            if idx is None or qtype != 1:
                hdr = wire[:2] + struct.pack("!HHHHH", flags | 3, 1, 0, 0, 0)
                s.sendto(hdr + wire[12:end], peer)
                continue
            hdr = wire[:2] + struct.pack("!HHHHH", flags, 1, 1, 0, 0)
            ans = struct.pack("!HHHIH", 0xC00C, 1, 1, ttl_of(idx), 4)
            ans += bytes([10, (idx >> 16) & 255, (idx >> 8) & 255, idx & 255])
            s.sendto(hdr + wire[12:end] + ans, peer)
            count["answered"] += 1
        if time.monotonic() - last >= 1:
            write()
            last = time.monotonic()
    write()


def query(qid, index):
    name = b"".join(bytes([len(l)]) + l for l in ("n%d" % index).encode().split(b".")
                    + [x.encode() for x in ZONE.split(".")]) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)


def make_trace(seconds, rate, names, seed):
    rnd = random.Random(seed)
    weights = [1.0 / (k ** ZIPF_S) for k in range(1, names + 1)]
    cum, acc = [], 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return rnd.choices(range(names), cum_weights=cum, k=int(seconds * rate))


def timed_trace(warm, run, rate, names):
    """The bench's whole trace as (seconds, INDEX): the warm-up (seed 1)
    then the measured part (seed 2), as prefetch.sh replays them."""
    trace = [(j / rate, n) for j, n in enumerate(make_trace(warm, rate, names, 1))]
    trace += [(warm + j / rate, n) for j, n in enumerate(make_trace(run, rate, names, 2))]
    return trace


def bound(warm, run, rate, names):
    last, unavoidable = {}, 0
    trace = timed_trace(warm, run, rate, names)
    for t, n in trace:
        if t >= warm and (n not in last or t - last[n] > 2 * ttl_of(n)):
            unavoidable += 1
        last[n] = t
    print("%.4f" % (unavoidable / int(run * rate)))


def replay(port, seconds, rate, names, seed, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    total = int(seconds * rate)
    # The whole trace first, so that drawing never delays sending.
    trace = make_trace(seconds, rate, names, seed)
    sent = answered = 0
    start = time.monotonic()
    while sent < total or time.monotonic() - start < seconds + 2:
        now = time.monotonic()
        due = min(total, int((now - start) * rate) + 1)
        while sent < due:
            try:
                s.send(query(sent & 0xFFFF, trace[sent]))
            except BlockingIOError:
                pass
            sent += 1
        r, _, _ = select.select([s], [], [], 0.005)
        while r:
            try:
                s.recv(4096)
                answered += 1
            except (BlockingIOError, ConnectionRefusedError):
                break
        if sent >= total and answered >= total:
            break
    with open(out, "w") as f:
        json.dump({"sent": sent, "answered": answered}, f)


if __name__ == "__main__":
    if sys.argv[1] == "upstream":
        upstream(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "bound":
        bound(float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "replay":
        replay(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]),
               int(sys.argv[6]), sys.argv[7])
    else:
        sys.exit("usage: prefetch_lib.py upstream PORT STATS | replay PORT SECONDS RATE NAMES SEED OUT"
                 " | bound WARM RUN RATE NAMES")
