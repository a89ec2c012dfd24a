#!/usr/bin/python3
"""Seed inputs for tests/fuzz/fuzz_cache.c (written to tests/fuzz/corpus/cache).

The target reads its input as a program (see the comment at its top), and
every byte string is a valid one, so most seeds are deterministic random
bytes of assorted lengths, in strict mode (first byte even) and eviction
mode (odd). A few start by storing one of the real responses of
tests/unit/data/cache through the "fuzzer bytes" operation and then look
their names up. The committed corpus also holds inputs that libFuzzer found
(merged with -merge=1); this script only makes the starting set.
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'corpus', 'cache')
DATA = os.path.join(HERE, '..', 'unit', 'data', 'cache')


def main():
    os.makedirs(OUT, exist_ok=True)
    rnd = random.Random(20240101)
    for i in range(24):
        n = rnd.choice([64, 200, 600, 1500, 4000])
        body = bytearray(rnd.getrandbits(8) for _ in range(n))
        body[0] = i & 1  # strict / eviction
        with open(os.path.join(OUT, 'random-%02d' % i), 'wb') as f:
            f.write(bytes(body))

    # Every operation starts with op, name, qtype, bits and 4 case bytes.
    # op 3 (store fuzzer bytes): 16-bit length, the response, then the
    # rendering of it (flags byte, ID); op 5 (lookup): flags byte, ID;
    # op 8 (time): a step (index 5: 30 s, 7: 299 s).
    def store(wire):
        return (bytes([3, 0, 0, 0, 0, 0, 0, 0]) + len(wire).to_bytes(2, 'big') + wire
                + bytes([0, 0x12, 0x34]))

    def lookup(t=0, flags=0x05):
        return bytes([5, 0, t, 0, 0, 0, 0, 0, flags, 0x12, 0x34])

    def wait(step):
        return bytes([8, 0, 0, 0, 0, 0, 0, 0, step])

    for name in ('a_www', 'mx_glue', 'nxdomain', 'cname_chain', 'a_big',
                 'opt_middle'):
        with open(os.path.join(DATA, name + '.bin'), 'rb') as f:
            wire = f.read()
        prog = bytearray([0, 0x00, 0x21])  # strict; cfg; serve_stale+prefetch
        prog += store(wire)
        for t in (0, 3):  # A, MX
            prog += lookup(t) + wait(7) + bytes([6, 0, t, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x25, 0, 1])
        with open(os.path.join(OUT, 'real-' + name), 'wb') as f:
            f.write(bytes(prog))

    # Prefetch at its boundary (cache.h: reported once a popular entry has
    # at most a tenth of its TTL left): www.example.test A, TTL 300, two
    # hits, then 9 x 30 s leaves exactly 30 s; and one second either side.
    with open(os.path.join(DATA, 'a_www.bin'), 'rb') as f:
        wire = f.read()
    for label, extra in (('exact', b''), ('after', wait(1)), ('before', None)):
        prog = bytearray([0, 0x00, 0x20]) + store(wire) + lookup() + lookup()
        steps = [5] * 9 if extra is not None else [5] * 8 + [3]  # 3: 29 s
        for st in steps:
            prog += wait(st)
        prog += (extra or b'') + lookup() + lookup() + wait(5) + lookup()
        with open(os.path.join(OUT, 'real-prefetch-' + label), 'wb') as f:
            f.write(bytes(prog))


if __name__ == '__main__':
    main()
