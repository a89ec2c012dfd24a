#!/usr/bin/python3
"""Seed corpus of fuzz_dohserv: what an HTTP/2 client sends to stubresd's
DoH server, frames built by hand (RFC 9113 4.1; header blocks as HPACK
literals without indexing, RFC 7541 6.2.2, so no table or Huffman code is
needed), after two option bytes (fuzz_dohserv.c says what they do).

    cd tests/fuzz && /usr/bin/python3 make-dohserv-corpus.py

Writes corpus/dohserv/seed-*; leaves every other file alone.
"""

import base64
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "dohserv")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST, SETTINGS, PING, GOAWAY, WINDOW, CONT = 0, 1, 2, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(ftype, flags, stream, payload):
    return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack("!I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack(headers):
    block = b""
    for name, value in headers:
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        block += b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value
    return block


def request(stream, method, path, extra=(), end=True):
    hdrs = [(":method", method), (":scheme", "https"), (":authority", "dns.test"),
            (":path", path)] + list(extra)
    return frame(HEADERS, END_HEADERS | (END_STREAM if end else 0), stream, hpack(hdrs))


def qname(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def query(name, qid=0, qtype=1, pad=False):
    """A DNS query; its ID tells the fake forwarder what to do: bit 1
    hold, else bit 2 drop, else answer at once."""
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if pad else 0) + qname(name) + \
        struct.pack("!HH", qtype, 1)
    if pad:
        padding = (128 - (len(q) + 11 + 4) % 128) % 128
        opt = struct.pack("!HH", 12, padding) + b"\x00" * padding
        q += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(opt)) + opt
    return q


def b64(q):
    return base64.urlsafe_b64encode(q).rstrip(b"=").decode()


def client(*frames):
    return PREFACE + frame(SETTINGS, 0, 0, b"") + frame(SETTINGS, ACK, 0, b"") + b"".join(frames)


CT = ("content-type", "application/dns-message")


def seeds():
    q = query("www.example.test")
    yield "get", b"\x00\x00", client(request(1, "GET", "/dns-query?dns=" + b64(q)))
    yield "post", b"\x00\x00", client(
        request(1, "POST", "/dns-query", [CT], end=False), frame(DATA, END_STREAM, 1, q))
    yield "post-split", b"\x00\x00", client(
        request(1, "POST", "/dns-query", [CT, ("content-length", str(len(q)))], end=False),
        frame(DATA, 0, 1, q[:7]), frame(DATA, END_STREAM, 1, q[7:]))
    yield "json", b"\x00\x00", client(request(1, "GET", "/resolve?name=www.example.test&type=MX"))
    yield "json-accept", b"\x00\x00", client(
        request(1, "GET", "/dns-query?name=b%C3%BCcher.test&type=28&do=1&cd=true",
                [("accept", "application/dns-message, application/dns-json")]))
    yield "json-idn", b"\x00\x00", client(request(1, "GET", "/resolve?name=%E4%BE%8B.test"))
    yield "padded", b"\x00\x00", client(
        request(1, "POST", "/dns-query", [CT], end=False),
        frame(DATA, END_STREAM, 1, query("pad.example.test", pad=True)))
    # Held queries let go in order, out of order, after the session.
    held = [query("h%d.example.test" % i, qid=2 + 8 * i) for i in range(4)]
    reqs = [request(1 + 2 * i, "GET", "/dns-query?dns=" + b64(h)) for i, h in enumerate(held)]
    yield "held-fifo", b"\x01\x00", client(*reqs)
    yield "held-lifo-chunked", b"\x03\x40", client(*reqs)
    yield "held-freed", b"\x08\x00", client(*reqs)
    yield "held-reset", b"\x01\x00", client(
        *reqs, *[frame(RST, 0, 1 + 2 * i, struct.pack("!I", 8)) for i in range(4)])
    yield "held-noanswer", b"\x01\x00", client(
        request(1, "GET", "/dns-query?dns=" + b64(query("x.test", qid=2 | 0x0800))))
    yield "dropped", b"\x00\x00", client(
        request(1, "GET", "/dns-query?dns=" + b64(query("d.test", qid=4))))
    yield "errors", b"\x00\x00", client(
        request(1, "GET", "/dns-query"),
        request(3, "GET", "/dns-query?dns=AA*A"),
        request(5, "GET", "/other?dns=" + b64(q)),
        request(7, "PUT", "/dns-query?dns=" + b64(q)),
        request(9, "POST", "/resolve?name=x.test", [CT], end=False), frame(DATA, END_STREAM, 9, q),
        request(11, "POST", "/dns-query", [("content-type", "text/plain")], end=False),
        frame(DATA, END_STREAM, 11, q),
        request(13, "POST", "/dns-query", [CT, ("content-length", "70000")], end=False),
        request(15, "GET", "/resolve?type=A"),
        request(17, "GET", "/resolve?name=x.test&type=BOGUS"),
        request(19, "GET", "/dns-query?dns=" + b64(q) + "&dns=" + b64(q)),
        request(21, "GET", "/resolve?name=x%2"),
        request(23, "GET", "/dns-query?dns=" + b64(q[:11])))
    yield "big-header", b"\x00\x00", client(
        request(1, "GET", "/dns-query?dns=" + b64(q), [("x-filler", "a" * 9000)]))
    block = hpack([(":method", "GET"), (":scheme", "https"), (":authority", "dns.test"),
                   (":path", "/dns-query?dns=" + b64(q))])
    yield "continuation", b"\x00\x00", client(
        frame(HEADERS, END_STREAM, 1, block[:10]), frame(CONT, 0, 1, block[10:20]),
        frame(CONT, END_HEADERS, 1, block[20:]))
    yield "big-body", b"\x00\x00", client(
        request(1, "POST", "/dns-query", [CT], end=False),
        *[frame(DATA, 0, 1, b"\x00" * 16384) for _ in range(3)],
        frame(WINDOW, 0, 0, struct.pack("!I", 1 << 20)),
        frame(DATA, END_STREAM, 1, b"\x00" * 16384))
    yield "control-frames", b"\x00\x01", client(
        frame(PING, 0, 0, b"12345678"), frame(WINDOW, 0, 0, struct.pack("!I", 1000)),
        frame(PRIORITY, 0, 1, struct.pack("!IB", 0, 16)), frame(0xfa, 0, 0, b"unknown"),
        request(1, "GET", "/dns-query?dns=" + b64(q)),
        frame(GOAWAY, 0, 0, struct.pack("!II", 1, 0)))
    yield "path-q", b"\x40\x00", client(request(1, "GET", "/q?dns=" + b64(q)),
                                        request(3, "GET", "/dns-query?dns=" + b64(q)))
    flood = []
    for i in range(12):
        flood.append(request(1 + 2 * i, "GET", "/dns-query?dns=" + b64(query("f.test", qid=2))))
        flood.append(frame(RST, 0, 1 + 2 * i, struct.pack("!I", 8)))
    yield "rst-flood-4-streams", b"\x85\x20", client(*flood)
    yield "bad-preface", b"\x00\x00", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in glob.glob(os.path.join(OUT, "seed-*")):
        os.remove(old)
    for name, opts, data in seeds():
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(opts + data)


if __name__ == "__main__":
    main()
