#!/usr/bin/python3
"""probe.py -- ports and readiness for lib.sh.

    probe.py udp ADDR PORT SECONDS [PID]   until a DNS query (example.test.
                                           SOA) gets any reply over UDP
    probe.py tcp ADDR PORT SECONDS [PID]   until a TCP connect succeeds
    probe.py free V6 RESDIR OWNER          print a port free for TCP and UDP

udp/tcp exit 0 when ready, 1 when SECONDS passed or process PID (the
server being waited for) has exited. They refuse non-loopback addresses:
tests never send traffic anywhere else.

free picks a random port in 20000-32767 (below the kernel's ephemeral
range) that binds for TCP and UDP on 127.0.0.1, and on ::1 when V6 is 1.
It reserves the port as the directory RESDIR/PORT holding OWNER (the PID
of the test), so that tests running in parallel never pick the same one;
a reservation whose owner has exited is taken over. Exit 1 after 500 tries.
"""

import ipaddress
import os
import random
import shutil
import socket
import sys
import time

import dns.message
import dns.rdatatype


def running(pid):
    """False once pid has exited (a zombie counts as exited)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_ready(kind, addr, port, seconds, pid):
    if not ipaddress.ip_address(addr).is_loopback:
        sys.stderr.write("probe.py: %s is not a loopback address\n" % addr)
        return 2
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    deadline = time.monotonic() + seconds
    wire = dns.message.make_query("example.test.", dns.rdatatype.SOA).to_wire()
    while time.monotonic() < deadline:
        if pid is not None and not running(pid):
            sys.stderr.write("probe.py: process %s has exited\n" % pid)
            return 1
        try:
            if kind == "udp":
                with socket.socket(fam, socket.SOCK_DGRAM) as s:
                    s.settimeout(0.2)
                    s.sendto(wire, (addr, port))
                    s.recvfrom(65535)
                    return 0
            else:
                with socket.create_connection((addr, port), timeout=0.2):
                    return 0
        except OSError:
            time.sleep(0.05)
    return 1


def reserve(resdir, port, owner):
    d = os.path.join(resdir, str(port))
    for _ in range(2):
        try:
            os.mkdir(d)
        except FileExistsError:
            try:
                with open(os.path.join(d, "pid")) as f:
                    holder = f.read().strip()
            except OSError:
                return False  # being created by someone right now
            if running(holder):
                return False
            shutil.rmtree(d, ignore_errors=True)  # its test died
            continue
        with open(os.path.join(d, "pid"), "w") as f:
            f.write(owner)
        return True
    return False


def free_port(v6, resdir, owner):
    addrs = [(socket.AF_INET, "127.0.0.1")]
    if v6:
        addrs.append((socket.AF_INET6, "::1"))
    os.makedirs(resdir, exist_ok=True)
    for _ in range(500):
        port = random.randint(20000, 32767)
        if not reserve(resdir, port, owner):
            continue
        socks = []
        try:
            for fam, addr in addrs:
                for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(fam, typ)
                    socks.append(s)
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, port))
        except OSError:
            shutil.rmtree(os.path.join(resdir, str(port)), ignore_errors=True)
            continue
        finally:
            for s in socks:
                s.close()
        print(port)
        return 0
    sys.stderr.write("probe.py: no free port found in 500 tries\n")
    return 1


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "free":
        return free_port(a[1] == "1", a[2], a[3])
    if len(a) in (4, 5) and a[0] in ("udp", "tcp"):
        return wait_ready(a[0], a[1], int(a[2]), float(a[3]),
                          a[4] if len(a) == 5 else None)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
