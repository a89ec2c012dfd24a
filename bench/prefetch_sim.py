#!/usr/bin/env python3
"""bench/prefetch_sim.py -- what any refresh policy could gain on
bench/prefetch.sh's trace: a simulation, not a measurement.

    python3 bench/prefetch_sim.py

The same trace as bench/prefetch.sh (prefetch_lib.make_trace: Zipf s=1
over 20,000 names, 200 queries/s, 60 s warm-up with seed 1 then 120 s
measured with seed 2) and the same TTLs (prefetch_lib.ttl_of), replayed
against an ideal cache: upstream answers take no time, nothing is
evicted, a refresh happens exactly when it is due. Counted over the
measured 120 s: the fraction of queries that waited for an upstream, and
upstream queries, as ratios to unbound's rule (`prefetch = true`: a hit
in the last tenth of the TTL refreshes the entry).

The refresh policies, each on top of `prefetch = true`, decide at an
entry's refresh point (the last tenth of its TTL, at most 2 s before
expiry, as prefetch_popular does) from a decayed count of the name's
asks (half-life 60 s, stubresd's sketch halves every 60 s):
  - asks >= K: the entry was asked K times since it was stored, the
    storing ask included (K = 1 is every name asked during its last TTL,
    the most the issue's rule allows; K = 2 is prefetch_popular's rule);
  - expected use >= P: the chance that the name is asked during the next
    TTL, 1 - exp(-rate * TTL), the rate estimated from the decayed count,
    is at least P.
"""
import heapq
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prefetch_lib as lib  # noqa: E402

RATE, WARM, RUN, NAMES, HALF = 200, 60, 120, 20000, 60.0


def simulate(trace, ttl, policy, min_asks=1, min_use=0.0):
    exp, asks, count, gen, heap = {}, {}, {}, {}, []
    waited = upstream = measured = 0

    def decayed(n, t):
        v, t0 = count.get(n, (0.0, t))
        return v * 0.5 ** ((t - t0) / HALF)

    def store(n, t, by_ask):
        exp[n] = t + ttl[n]
        asks[n] = 1 if by_ask else 0
        gen[n] = gen.get(n, 0) + 1
        heapq.heappush(heap, (exp[n] - min(2.0, ttl[n] * 0.1), n, gen[n]))

    for t, n in trace:
        while heap and heap[0][0] <= t:
            due, k, g = heapq.heappop(heap)
            if gen.get(k) != g or policy != "popular":
                continue
            rate = decayed(k, due) * math.log(2) / HALF
            if asks[k] >= min_asks and 1 - math.exp(-rate * ttl[k]) >= min_use:
                upstream += due >= WARM
                store(k, due, False)
        count[n] = (decayed(n, t) + 1, t)
        m = t >= WARM
        measured += m
        if n in exp and exp[n] > t:
            asks[n] += 1
            if policy != "off" and exp[n] - t < 0.1 * ttl[n]:
                upstream += m
                store(n, t, True)
        else:
            waited += m
            upstream += m
            store(n, t, True)
    return waited / measured, upstream


def main():
    trace = lib.timed_trace(WARM, RUN, RATE, NAMES)
    ttl = [lib.ttl_of(i) for i in range(NAMES)]
    base_w, base_u = simulate(trace, ttl, "prefetch")
    print("| policy | waited fraction | vs prefetch | upstream queries vs prefetch |")
    print("| --- | ---: | ---: | ---: |")
    rows = [("off", "off", {}), ("prefetch = true", "prefetch", {})]
    for k in (1, 2):
        rows.append(("asks >= %d" % k, "popular", {"min_asks": k}))
    for p in (0.3, 0.5, 0.7, 0.9):
        rows.append(("asks >= 1, expected use >= %.1f" % p, "popular", {"min_use": p}))
    for label, policy, kw in rows:
        w, u = simulate(trace, ttl, policy, **kw)
        print("| %s | %.4f | %.2fx | %.2fx |" % (label, w, w / base_w, u / base_u))


if __name__ == "__main__":
    main()
