#!/usr/bin/python3
"""compare_lib.py -- the helpers of bench/compare.sh (standard library only).

    compare_lib.py zone FILE ORIGIN COUNT      the benchmark zone: COUNT A records
    compare_lib.py names FILE ORIGIN START COUNT   a dnsperf query file
    compare_lib.py lat FILE                    dnsperf -v output -> "N P50_US P99_US"
    compare_lib.py cgtotal FILE                a callgrind dump -> its total Ir
    compare_lib.py report RAW META OUT         the results file (markdown)

The names are n000000.ORIGIN .. n(COUNT-1).ORIGIN, one A record each
(10.x.y.z), TTL one day, so nothing expires during a run. Every RRset has
the same wire size: owner (uncompressed) + 10 + 4 bytes of RDATA.

RAW is the tab-separated list of every measurement compare.sh made:
    SCENARIO PEER METRIC REP VALUE
META is KEY=VALUE lines (machine, versions, command, notes, profiles).
"""

import math
import os
import re
import statistics
import sys


def name_of(i, origin):
    return "n%06d.%s" % (i, origin)


def cmd_zone(path, origin, count):
    count = int(count)
    with open(path, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 86400\n" % origin)
        f.write("@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 3600\n" % (origin, origin))
        f.write("@ IN NS ns.%s.\nns IN A 127.0.0.1\n" % origin)
        for i in range(count):
            f.write("n%06d IN A 10.%d.%d.%d\n" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))


def cmd_names(path, origin, start, count):
    start, count = int(start), int(count)
    with open(path, "w") as f:
        for i in range(start, start + count):
            f.write("%s A\n" % name_of(i, origin))


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return float("nan")
    k = max(1, int(math.ceil(p / 100.0 * len(sorted_vals))))
    return sorted_vals[k - 1]


def cmd_lat(path):
    """dnsperf -v prints '> RCODE NAME TYPE SECONDS' per answered query."""
    vals = []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("> "):
                continue
            parts = line.split()
            try:
                vals.append(float(parts[-1]) * 1e6)
            except (ValueError, IndexError):
                continue
    vals.sort()
    print("%d %.1f %.1f" % (len(vals), percentile(vals, 50), percentile(vals, 99)))


def cmd_cgtotal(path):
    """The Ir total of a callgrind dump ('summary:' or 'totals:' line)."""
    found = {}
    with open(path, errors="replace") as f:
        for line in f:
            for key in ("summary:", "totals:"):
                if line.startswith(key):
                    found[key] = int(line.split()[1])
    total = found.get("summary:", found.get("totals:"))
    if total is None:
        sys.exit("cgtotal: no summary/totals line in %s" % path)
    print(total)


# --------------------------------------------------------------------------
# report

PEER_ORDER = ["stubresd", "stubresd-1t", "stubresd-2t", "unbound", "dnsmasq", "floor",
              "nsd-direct", "unbound-direct"]


def load_raw(path):
    data = {}  # (scenario, peer, metric) -> [values]
    if not os.path.exists(path):
        return data
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            scen, peer, metric, _rep, value = parts
            try:
                v = float(value)
            except ValueError:
                continue
            if math.isnan(v):
                continue
            data.setdefault((scen, peer, metric), []).append(v)
    return data


def load_meta(path):
    meta, order = {}, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" not in line:
                continue
            k, v = line.split("=", 1)
            v = v.replace("\\n", "\n")
            if k in meta:
                meta[k] += "\n" + v
            else:
                meta[k] = v
                order.append(k)
    return meta, order


def fmt(v, digits=None):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    a = abs(v)
    if digits is None and float(v).is_integer():
        digits = 0
    if digits is None:
        digits = 0 if a >= 1000 else (1 if a >= 10 else (2 if a >= 1 else 3))
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{d}f}".format(v, d=digits)


class Report:
    def __init__(self, data, meta):
        self.data = data
        self.meta = meta
        self.out = []

    def vals(self, scen, peer, metric):
        return self.data.get((scen, peer, metric), [])

    def med(self, scen, peer, metric):
        v = self.vals(scen, peer, metric)
        return statistics.median(v) if v else None

    def peers(self, scen):
        ps = {p for (s, p, _m) in self.data if s == scen}
        return sorted(ps, key=lambda p: (PEER_ORDER.index(p) if p in PEER_ORDER else 99, p))

    def w(self, s=""):
        self.out.append(s)

    def table(self, scen, metrics, peers=None):
        """metrics: list of (metric key, column title)."""
        peers = peers or self.peers(scen)
        rows = []
        for p in peers:
            for key, title in metrics:
                v = self.vals(scen, p, key)
                if not v:
                    continue
                rows.append("| %s | %s | %s | %s – %s | %d |" % (
                    p, title, fmt(statistics.median(v)), fmt(min(v)), fmt(max(v)), len(v)))
        if not rows:
            self.w("(no measurement)")
            self.w()
            return
        self.w("| peer | figure | median | min – max | runs |")
        self.w("| --- | --- | ---: | ---: | ---: |")
        for r in rows:
            self.w(r)
        self.w()

    def ratio(self, scen, metric, a, b):
        x, y = self.med(scen, a, metric), self.med(scen, b, metric)
        if x is None or y is None or y == 0:
            return None
        return x / y


def verdict(value, limit, lower_is_better=True):
    """'met (margin)' / 'missed (margin)' for value against limit."""
    if value is None or limit is None:
        return "not measured"
    if lower_is_better:
        ok = value <= limit
        margin = (limit - value) / limit * 100 if limit else 0
    else:
        ok = value >= limit
        margin = (value - limit) / limit * 100 if limit else 0
    if ok:
        return "**met** (%.0f%% margin)" % abs(margin)
    if lower_is_better and limit and value / limit >= 2:
        return "**missed** (%.1fx the limit)" % (value / limit)
    return "**missed** (by %.0f%%)" % abs(margin)


def _perf_objects(text):
    """{object: share %} from the 'By object:' block of profile_perf."""
    shares, on = {}, False
    for line in text.split("\n"):
        if line.startswith("By object"):
            on = True
            continue
        if on:
            parts = line.split()
            if not parts:
                break
            if not parts[0].endswith("%"):
                break
            shares[" ".join(parts[1:])] = float(parts[0].rstrip("%"))
    return shares


def _cg_incl(text, func):
    """Inclusive Ir of FUNC in the 'Inclusive Ir:' block of profile_callgrind."""
    on = False
    for line in text.split("\n"):
        if line.startswith("Inclusive"):
            on = True
            continue
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+)", line)
        if on and m and m.group(2).split(":")[-1] == func:
            return int(m.group(1).replace(",", ""))
    return None


def profile_summary(r, meta):
    out = []
    cpu = r.med("hit", "stubresd", "cpu_us")
    floor = r.med("hit", "floor", "cpu_us")
    objs = _perf_objects(meta.get("profile_perf", ""))
    if cpu is not None and objs:
        kern = sum(v for k, v in objs.items() if "kernel" in k)
        user = sum(v for k, v in objs.items() if "kernel" not in k)
        tot = kern + user if kern + user > 0 else 100.0
        out.append("Time (perf, hit load): stubresd spends %s µs of CPU per cache hit (hit scenario median). "
                   "%.0f%% of the perf samples are in the kernel (about %.2f µs: receiving and sending the datagrams, "
                   "the work the floor does in %s µs) and %.0f%% in user space (about %.2f µs: %s)." % (
                       fmt(cpu), kern / tot * 100, cpu * kern / tot, fmt(floor), user / tot * 100, cpu * user / tot,
                       ", ".join("%s %.1f%%" % (k, v) for k, v in sorted(objs.items(), key=lambda kv: -kv[1])
                                 if "kernel" not in k)))
    cg = meta.get("profile_callgrind", "")
    ir = r.med("instructions", "stubresd", "ir_per_query")
    if cg and ir:
        total = _cg_incl(cg, "event_base_loop")
        parts = []
        for f in ("udp_read", "fwd_query", "cache_lookup", "key_make", "render", "fwd_parse_query", "acl_match"):
            v = _cg_incl(cg, f)
            if v is not None and total:
                parts.append("%s %.0f%%" % (f, v * 100.0 / total))
        out.append("Instructions (callgrind, one query per wake-up): %s Ir per hit in user space (the floor: %s). "
                   "Inclusive shares: %s; the rest of the event loop (libevent dispatch, its locks, epoll_wait) "
                   "is what udp_read does not include." % (fmt(ir), fmt(r.med("instructions", "floor", "ir_per_query")),
                                                          ", ".join(parts)))
    return "\n\n".join(out)


def cmd_report(raw, metafile, outpath):
    data = load_raw(raw)
    meta, _order = load_meta(metafile)
    r = Report(data, meta)
    has_sr = any(p.startswith("stubresd") for (_s, p, _m) in data)
    w = r.w
    date = meta.get("date", "")
    title = "# compare.sh results, %s" % date
    if not has_sr:
        title += " — peers only (stubresd not built on this branch yet)"
    if meta.get("quick") == "1":
        title += " — QUICK smoke run (1 repetition, short runs: not for conclusions)"
    w(title)
    w()
    w("Produced by `%s` (from `%s`, git %s)." % (meta.get("command", "?"), meta.get("cwd", "?"),
                                                   meta.get("git", "?")))
    w("Each figure was measured %s time(s); tables give the median and the range." % meta.get("reps", "?"))
    w("Wall time of the run: %s s." % meta.get("elapsed", "?"))
    w()

    # ---------------- headline
    w("## Headline")
    w()
    if has_sr:
        w("Ratios of medians (stubresd / peer). For CPU, instructions, latency and")
        w("memory lower is better; for QPS higher is better.")
        w()
        w("| figure | stubresd / unbound | stubresd / dnsmasq | stubresd / floor |")
        w("| --- | ---: | ---: | ---: |")
        lines = [
            ("hit: CPU µs per query", "hit", "cpu_us"),
            ("hit: QPS", "hit", "qps"),
            ("instructions per hit (callgrind Ir)", "instructions", "ir_per_query"),
            ("latency at 50k QPS (SCHED_FIFO): p50", "latency-rt", "p50_us"),
            ("latency at 50k QPS (SCHED_FIFO): p99", "latency-rt", "p99_us"),
            ("latency at 50k QPS (normal priority): p99", "latency", "p99_us"),
            ("miss: QPS", "miss", "qps"),
            ("miss: p50 added over the upstream", "miss", "added_p50_us"),
            ("memory: bytes per cached RRset", "memory", "bytes_per_entry"),
        ]
        for title, scen, metric in lines:
            cells = []
            for peer in ("unbound", "dnsmasq", "floor"):
                x = r.ratio(scen, metric, "stubresd", peer)
                cells.append("%.2f" % x if x is not None else "–")
            if all(c == "–" for c in cells):
                continue
            w("| %s | %s |" % (title, " | ".join(cells)))
        w()
    else:
        w("stubresd is not on this branch yet: this run proves the harness on the peers.")
        w("Ratios between the peers, for scale:")
        w()
        w("| figure | unbound / dnsmasq | unbound / floor | dnsmasq / floor |")
        w("| --- | ---: | ---: | ---: |")
        for title, scen, metric in [("hit: CPU µs per query", "hit", "cpu_us"),
                                    ("hit: QPS", "hit", "qps"),
                                    ("instructions per hit", "instructions", "ir_per_query"),
                                    ("latency p99 at 50k QPS (SCHED_FIFO)", "latency-rt", "p99_us"),
                                    ("latency p99 at 50k QPS (normal priority)", "latency", "p99_us")]:
            cells = []
            for a, b in (("unbound", "dnsmasq"), ("unbound", "floor"), ("dnsmasq", "floor")):
                x = r.ratio(scen, metric, a, b)
                cells.append("%.2f" % x if x is not None else "–")
            w("| %s | %s |" % (title, " | ".join(cells)))
        w()

    # ---------------- targets
    if has_sr:
        w("## Targets")
        w()
        w("| target | measured | limit | verdict |")
        w("| --- | ---: | ---: | --- |")

        def best(scen, metric, lower=True, among=("unbound", "dnsmasq")):
            vs = [(r.med(scen, p, metric), p) for p in among if r.med(scen, p, metric) is not None]
            if not vs:
                return None, None
            return min(vs) if lower else max(vs)

        sr_cpu = r.med("hit", "stubresd", "cpu_us")
        for peer, k in (("floor", 1.2), ("unbound", 0.85), ("dnsmasq", 0.7)):
            x = r.med("hit", peer, "cpu_us")
            lim = x * k if x is not None else None
            w("| hit CPU per query <= %.2fx %s | %s µs | %s µs | %s |" % (
                k, peer, fmt(sr_cpu), fmt(lim), verdict(sr_cpu, lim)))
        bv, bp = best("instructions", "ir_per_query")
        sr_ir = r.med("instructions", "stubresd", "ir_per_query")
        w("| callgrind Ir per hit <= 0.33x best peer (%s) | %s | %s | %s |" % (
            bp or "?", fmt(sr_ir), fmt(bv * 0.33 if bv else None), verdict(sr_ir, bv * 0.33 if bv else None)))
        bv, bp = best("hit", "qps", lower=False)
        sr_q = r.med("hit", "stubresd", "qps")
        w("| hit QPS >= best peer (%s) | %s | %s | %s |" % (bp or "?", fmt(sr_q), fmt(bv), verdict(sr_q, bv, False)))
        for scen, how in (("latency-rt", "SCHED_FIFO"), ("latency", "normal priority, shared machine")):
            sr_p99 = r.med(scen, "stubresd", "p99_us")
            if sr_p99 is None:
                continue
            w("| p99 at 50k QPS <= 200 µs (%s) | %s µs | 200 µs | %s |" % (how, fmt(sr_p99), verdict(sr_p99, 200.0)))
            bv, bp = best(scen, "p99_us")
            w("| p99 at 50k QPS no worse than best peer, %s (%s) | %s µs | %s µs | %s |" % (
                bp or "?", how, fmt(sr_p99), fmt(bv), verdict(sr_p99, bv)))
        add = r.med("miss", "stubresd", "added_p50_us")
        w("| miss adds <= 50 µs at p50 over the upstream | %s µs | 50 µs | %s |" % (fmt(add), verdict(add, 50.0)))
        for proto in ("dot", "doh"):
            fq = r.med("encrypted", "stubresd-" + proto, "qps")
            dq = r.med("encrypted", "dnsperf-" + proto, "qps")
            lim = dq * 0.8 if dq is not None else None
            w("| %s forwarding >= 0.8x dnsperf's own %s QPS | %s | %s | %s |" % (
                proto.upper(), proto.upper(), fmt(fq), fmt(lim), verdict(fq, lim, False)))
            hs = r.med("encrypted", "stubresd-" + proto, "handshakes_per_100k")
            w("| %s: <= 4 TLS handshakes per 100,000 queries | %s | 4 | %s |" % (
                proto.upper(), fmt(hs, 2) if hs is not None else "n/a", verdict(hs, 4.0)))
        mem = r.med("memory", "stubresd", "beyond_wire")
        w("| memory <= 300 bytes per cached RRset beyond its wire size | %s B | 300 B | %s |" % (
            fmt(mem), verdict(mem, 300.0)))
        w()

    # ---------------- scenarios
    w("## Scenarios")
    w()
    w("### hit")
    w()
    w(meta.get("desc_hit", ""))
    w()
    r.table("hit", [("qps", "QPS"), ("cpu_us", "server CPU µs / answered query"),
                    ("lost", "queries lost")])
    w("### latency")
    w()
    w(meta.get("desc_latency", ""))
    w()
    w("#### latency (normal priority: the shared machine)")
    w()
    r.table("latency", [("p50_us", "p50 µs"), ("p99_us", "p99 µs"), ("qps", "achieved QPS"),
                        ("lost", "queries lost")])
    w("#### latency-rt (server and dnsperf at SCHED_FIFO 10)")
    w()
    r.table("latency-rt", [("p50_us", "p50 µs"), ("p99_us", "p99 µs"), ("qps", "achieved QPS"),
                           ("lost", "queries lost")])
    w("### miss")
    w()
    w(meta.get("desc_miss", ""))
    w()
    r.table("miss", [("qps", "QPS, unique names"), ("p50_us", "p50 µs at fixed rate"),
                     ("p99_us", "p99 µs at fixed rate"), ("added_p50_us", "p50 added over upstream µs"),
                     ("added_p99_us", "p99 added over upstream µs"), ("lost", "queries lost")])
    w("### encrypted")
    w()
    w(meta.get("desc_encrypted", ""))
    w()
    r.table("encrypted", [("qps", "QPS"), ("server_cpu_us", "stubresd CPU µs / query"),
                          ("upstream_cpu_us", "upstream unbound CPU µs / query"), ("handshakes", "TCP/TLS connections opened to the upstream"),
                          ("handshakes_per_100k", "handshakes per 100,000 queries"),
                          ("upstream_tls_queries", "queries unbound saw over TLS (DoT and DoH)"),
                          ("upstream_https_queries", "queries unbound saw over HTTPS"),
                          ("upstream_tls_resumed", "TLS resumptions unbound saw"),
                          ("lost", "queries lost")])
    w("### memory")
    w()
    w(meta.get("desc_memory", ""))
    w()
    r.table("memory", [("idle_off_kb", "idle RSS KiB, cache off"), ("idle_kb", "idle RSS KiB"),
                       ("full_kb", "RSS KiB after the names"),
                       ("entries", "names answered (RRsets cached)"),
                       ("bytes_per_entry_idle", "bytes per RRset over own idle"),
                       ("bytes_per_entry", "bytes per cached RRset"),
                       ("beyond_wire", "bytes per RRset beyond its wire size")])
    w("### instructions")
    w()
    w(meta.get("desc_instructions", ""))
    w()
    r.table("instructions", [("ir_per_query", "Ir per cache-hit query"), ("queries", "queries answered")])
    w("### threads")
    w()
    w(meta.get("desc_threads", ""))
    w()
    r.table("threads", [("qps", "QPS"), ("cpu_us", "server CPU µs / answered query"), ("lost", "queries lost")])

    # ---------------- profile
    if meta.get("profile_perf") or meta.get("profile_callgrind"):
        w("## Where stubresd's hit path goes")
        w()
        w(profile_summary(r, meta))
        w()
        if meta.get("profile_callgrind"):
            w("callgrind, instructions per function over the measured cache hits (self cost):")
            w()
            w("```")
            w(meta["profile_callgrind"])
            w("```")
            w()
        if meta.get("profile_perf"):
            w("perf record (cpu-clock, sampled) of stubresd under the hit load, self time per symbol:")
            w()
            w("```")
            w(meta["profile_perf"])
            w("```")
            w()

    # ---------------- machine
    w("## Machine and versions")
    w()
    for k, title in (("nproc", "nproc"), ("cpu", "CPU"), ("kernel", "kernel"), ("os", "OS"),
                     ("loadavg_start", "load average at start"),
                     ("loadavg_scenarios", "load average as each scenario began"),
                     ("loadavg_end", "load average at end"),
                     ("v_stubresd", "stubresd"), ("v_unbound", "unbound"), ("v_dnsmasq", "dnsmasq"),
                     ("v_nsd", "nsd (upstream)"), ("v_dnsperf", "dnsperf"), ("v_valgrind", "valgrind"),
                     ("v_perf", "perf"), ("build", "stubresd build")):
        if meta.get(k):
            w("- %s: %s" % (title, meta[k].replace("\n", "; ")))
    w()
    w("## Set-up")
    w()
    w(meta.get("setup", ""))
    w()
    if meta.get("notes"):
        w("## Notes of this run")
        w()
        for line in meta["notes"].split("\n"):
            w("- " + line)
        w()
    if meta.get("skipped"):
        w("## Not measured in this run")
        w()
        for line in meta["skipped"].split("\n"):
            w("- " + line)
        w()
    with open(outpath, "w") as f:
        f.write("\n".join(r.out).rstrip() + "\n")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    cmds = {"zone": (cmd_zone, 3), "names": (cmd_names, 4), "lat": (cmd_lat, 1),
            "cgtotal": (cmd_cgtotal, 1), "report": (cmd_report, 3)}
    if cmd not in cmds or len(args) != cmds[cmd][1]:
        sys.exit(__doc__)
    cmds[cmd][0](*args)


if __name__ == "__main__":
    main(sys.argv)
