#!/usr/bin/python3
"""Seed corpora of the fuzz targets, from the unit-test vectors and the
malformed cases of tests/unit/check_msg.c and check_name.c.

    cd tests/fuzz && /usr/bin/python3 make-corpus.py

corpus/msg/seed-*    whole messages (fuzz_msg)
corpus/name/seed-*   2-byte big-endian offset + packet (fuzz_name)
Files named crash-*, regress-* are regression inputs found by fuzzing;
this script leaves them alone.
"""

import glob
import os
import struct

import dns.name

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "unit", "data")

HDR = "1234 8180 {} {} {} {} "


def rr_root(t, l):
    return "00 {} 0001 00000e10 {} ".format(t, l)


# The malformed messages of check_msg.c test_malformed.
MALFORMED = [
    "",
    "1234 8180 0000 0000 0000 00",
    HDR.format("0001", "0000", "0000", "0000"),
    HDR.format("0000", "0001", "0000", "0000") + "00 0001 0001 00000000 00",
    HDR.format("ffff", "ffff", "ffff", "ffff") + "00 0001 0001",
    HDR.format("0000", "0002", "0000", "0000") + rr_root("0001", "0004") + "c0000201",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0001", "0004") + "c00002",
    HDR.format("0001", "0000", "0000", "0000") + "03 777777 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "0161 00 0001 00",
    HDR.format("0001", "0000", "0000", "0000") + "c00c 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "c00e 0001 0001 00",
    HDR.format("0001", "0000", "0000", "0000") + "c005 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "01 61 c00c 0001 0001",
    HDR.format("0000", "0002", "0000", "0000") + rr_root("000a", "0004") +
    "c019 c017 c019 0001 0001 00000000 0000",
    HDR.format("0001", "0000", "0000", "0000") + "0161 0162 c0",
    HDR.format("0001", "0000", "0000", "0000") + "40 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "80 0001 0001",
    HDR.format("0000", "0000", "0000", "0002") + rr_root("0029", "0000") + rr_root("0029", "0000"),
    HDR.format("0000", "0000", "0000", "0001") + "01 61 00 0029 1000 00000000 0000",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0029", "0000"),
    HDR.format("0000", "0000", "0000", "0001") + rr_root("0029", "0006") + "000a 0004 0102",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0001", "0000"),
    HDR.format("0000", "0001", "0000", "0000") + rr_root("000f", "0003") + "000a c0",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0010", "0004") + "05616263",
]


def unhex(s):
    return bytes.fromhex(s.replace(" ", ""))


def write(d, name, data):
    with open(os.path.join(HERE, "corpus", d, name), "wb") as f:
        f.write(data)


def main():
    for d in ("msg", "name"):
        os.makedirs(os.path.join(HERE, "corpus", d), exist_ok=True)
        for old in glob.glob(os.path.join(HERE, "corpus", d, "seed-*")):
            os.remove(old)
    for path in sorted(glob.glob(os.path.join(DATA, "*.bin"))):
        base = os.path.basename(path)[:-4]
        wire = open(path, "rb").read()
        write("msg", "seed-" + base, wire)
        # For names: the question name and the first owner after it.
        offsets = [12]
        try:
            _, used = dns.name.from_wire(wire, 12)
            offsets.append(12 + used + 4)
        except Exception:
            pass
        for off in offsets:
            write("name", "seed-%s-%d" % (base, off), struct.pack("!H", off) + wire)
    for i, h in enumerate(MALFORMED):
        write("msg", "seed-malformed-%02d" % i, unhex(h))
        write("name", "seed-malformed-%02d" % i, struct.pack("!H", 12) + unhex(h))
    # Presentation names for the text half of fuzz_name.
    for i, t in enumerate([b"www.example.com.", b"a\\.b\\\\c\\000.", b".", b"",
                           b"a..b", b"\\256", b"x" * 64, (b"x" * 63 + b".") * 4]):
        write("name", "seed-text-%02d" % i, t)


if __name__ == "__main__":
    main()
