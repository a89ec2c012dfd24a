#!/usr/bin/python3
"""bench/enc_client.py -- the two encrypted-listener measurements dnsperf
cannot make, for bench/enc_listen.sh.

  enc_client.py hs   dot|doh PORT QFILE CONNS PER_CONN SECONDS
      CONNS connections one after another (at most SECONDS), each a new
      TCP connection and a full TLS handshake (no session resumption),
      PER_CONN queries pipelined on it (DoT: 2-byte length prefix; DoH:
      HTTP/2 POST to /dns-query, one stream each), every answer read, then
      closed. Prints "conns N queries Q answers A failed F seconds S".
  enc_client.py idle dot|doh PORT PID CONNS
      VmRSS of PID, then CONNS connections opened and handshaken (DoH: the
      HTTP/2 preface and SETTINGS sent and the server's SETTINGS read),
      nothing asked, VmRSS again; prints "before KB after KB open N".

Names come from QFILE (dnsperf's format: "NAME TYPE" a line), in turn.
Loopback only: the address is always 127.0.0.1. Certificates are not
checked (a self-signed one the script just made).
"""
import socket
import ssl
import struct
import sys
import time


def qwire(name, qid):
    """A DNS query for NAME A, RD set, no EDNS (as dnsperf sends)."""
    out = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00" + struct.pack(">HH", 1, 1)


def context(alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    return ctx


def connect(ctx, port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s, server_hostname="bench.test")


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


# --- HTTP/2, the least a client needs (RFC 9113) ---------------------------
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    # literal header field without indexing, new name, no Huffman
    # (RFC 7541 6.2.2); every string here is shorter than 127 bytes.
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_request(stream, body):
    hdrs = b"".join(hpack_literal(n, v) for n, v in (
        (b":method", b"POST"), (b":scheme", b"https"),
        (b":authority", b"127.0.0.1"), (b":path", b"/dns-query"),
        (b"content-type", b"application/dns-message"),
        (b"accept", b"application/dns-message"),
        (b"content-length", str(len(body)).encode())))
    return frame(0x1, 0x4, stream, hdrs) + frame(0x0, 0x1, stream, body)


def h2_start(s):
    s.sendall(PREFACE + frame(0x4, 0, 0, b""))


def h2_read_frame(s):
    head = read_exact(s, 9)
    length = int.from_bytes(head[:3], "big")
    return head[3], head[4], struct.unpack(">I", head[5:9])[0] & 0x7fffffff, \
        read_exact(s, length)


def h2_until_settings(s):
    while True:
        ftype, flags, _, _ = h2_read_frame(s)
        if ftype == 0x4 and not flags & 0x1:
            s.sendall(frame(0x4, 0x1, 0, b""))
            return


def one_conn(ctx, mode, port, names, first, per_conn):
    """A connection, PER_CONN queries, their answers; returns answers."""
    s = connect(ctx, port)
    try:
        qs = [qwire(names[(first + i) % len(names)], (first + i) & 0xffff)
              for i in range(per_conn)]
        got = 0
        if mode == "dot":
            s.sendall(b"".join(struct.pack(">H", len(q)) + q for q in qs))
            while got < per_conn:
                n = struct.unpack(">H", read_exact(s, 2))[0]
                read_exact(s, n)
                got += 1
        else:
            h2_start(s)
            s.sendall(b"".join(h2_request(1 + 2 * i, q) for i, q in enumerate(qs)))
            while got < per_conn:
                ftype, flags, _, _ = h2_read_frame(s)
                if ftype == 0x4 and not flags & 0x1:
                    s.sendall(frame(0x4, 0x1, 0, b""))
                elif ftype == 0x0 and flags & 0x1:
                    got += 1
                elif ftype == 0x7:  # GOAWAY
                    break
        return got
    finally:
        s.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    cmd, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = context("dot" if mode == "dot" else "h2")
    if cmd == "hs":
        with open(sys.argv[4]) as f:
            names = [line.split()[0] for line in f if line.strip()]
        conns, per_conn, secs = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
        done = answers = failed = 0
        t0 = time.monotonic()
        while done < conns and time.monotonic() - t0 < secs:
            try:
                answers += one_conn(ctx, mode, port, names, done * per_conn, per_conn)
            except (OSError, ConnectionError, ssl.SSLError):
                failed += 1
            done += 1
        print("conns %d queries %d answers %d failed %d seconds %.3f" %
              (done, done * per_conn, answers, failed, time.monotonic() - t0))
    elif cmd == "idle":
        pid, conns = int(sys.argv[4]), int(sys.argv[5])
        before = rss_kb(pid)
        held = []
        for _ in range(conns):
            try:
                s = connect(ctx, port)
                if mode == "doh":
                    h2_start(s)
                    h2_until_settings(s)
                held.append(s)
            except (OSError, ConnectionError, ssl.SSLError):
                break
        time.sleep(0.5)
        after = rss_kb(pid)
        print("before %d after %d open %d" % (before, after, len(held)))
        for s in held:
            s.close()
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main()
