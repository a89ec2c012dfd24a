#!/usr/bin/python3
"""probe.py -- wait until a server on loopback is ready (used by lib.sh).

    probe.py udp ADDR PORT SECONDS [PID]   until a DNS query (example.test.
                                           SOA) gets any reply over UDP
    probe.py tcp ADDR PORT SECONDS [PID]   until a TCP connect succeeds

Exit 0 when ready, 1 when SECONDS passed or process PID (the server
being waited for) has exited. Refuses non-loopback addresses: tests never
send traffic anywhere else.
"""

import ipaddress
import socket
import sys
import time

import dns.message
import dns.rdatatype


def running(pid):
    """False once pid has exited (a zombie counts as exited)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("udp", "tcp"):
        sys.stderr.write(__doc__)
        return 2
    kind, addr, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        float(sys.argv[4])
    pid = int(sys.argv[5]) if len(sys.argv) == 6 else None
    if not ipaddress.ip_address(addr).is_loopback:
        sys.stderr.write("probe.py: %s is not a loopback address\n" % addr)
        return 2
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    deadline = time.monotonic() + seconds
    wire = dns.message.make_query("example.test.", dns.rdatatype.SOA).to_wire()
    while time.monotonic() < deadline:
        if pid is not None and not running(pid):
            sys.stderr.write("probe.py: process %d has exited\n" % pid)
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


if __name__ == "__main__":
    sys.exit(main())
