#!/bin/bash
# test_hard_overload.sh -- stubresd (cache_size = 4M) in front of nsd,
# loaded by dnsperf with names that all miss the cache (NXDOMAIN):
#  1. capacity: what it serves in 5 s with 500 queries outstanding;
#  2. twice that offered for 30 s (dnsperf -Q, 20,000 outstanding): it
#     stays up, VmRSS stays under the bound below, and within a second of
#     the load stopping it answers UDP and TCP queries again at once;
#  3. a flood of 1,000,000 distinct names (at most 100 s): VmRSS stays
#     under the bound, the cache holds at most cache_size bytes, and
#     `stats` counts the evictions.
# The bound: VmRSS at start + cache_size + RSS_SLACK_KB (16 MiB: the
# per-query state of max_inflight upstream queries and their waiting
# clients, socket buffers, allocator slack; documented in README.md).
# shellcheck disable=SC2086
set -eu
IT_TIMEOUT=${IT_TIMEOUT:-240}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig dnsperf nsd

CACHE_KB=4096
RSS_SLACK_KB=16384
start_nsd
start_stubresd sr "servers = udp://127.0.0.1:$NSD_PORT" "timeout = 2" "cache_size = 4M"
PID=$(pid_of sr)
ASAN=0
grep -q __asan_init "$STUBRESD" && ASAN=1
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }
rss0=$(rss)
BOUND=$((rss0 + CACHE_KB + RSS_SLACK_KB))
note "VmRSS at start: $rss0 kB; bound $BOUND kB"

# Names nobody asked before: r<random hex><n>.example.test (NXDOMAIN).
"$PY" - "$T/names" <<'PYEOF'
import os, sys
salt = os.urandom(4).hex()
with open(sys.argv[1], "w") as f:
    for i in range(1300000):
        f.write("r%s%d.example.test A\n" % (salt, i))
PYEOF
# Each phase reads its own slice: no name is asked twice.
sed -n '1,200000p' "$T/names" >"$T/names.cap"
sed -n '200001,1300000p' "$T/names" >"$T/names.rest"

# rss_watch: sample VmRSS every 0.2 s into $T/rss.log until $T/rss.stop.
rss_watch() {
    rm -f "$T/rss.stop" "$T/rss.log"
    (while [ ! -e "$T/rss.stop" ] && [ -e "/proc/$PID/status" ]; do
        rss >>"$T/rss.log"
        sleep 0.2
    done) &
    WATCH=$!
}
rss_peak() {
    touch "$T/rss.stop"
    wait "$WATCH" 2>/dev/null || true
    sort -n "$T/rss.log" | tail -1
}
check_rss() {
    local what=$1 peak=$2
    if [ "$ASAN" = 1 ]; then
        note "ASan build: VmRSS peak $peak kB during $what (not asserted: shadow memory and quarantine)"
        return 0
    fi
    [ "$peak" -le "$BOUND" ] || fail "VmRSS peaked at $peak kB during $what (bound $BOUND kB)"
    ok "VmRSS peak $peak kB during $what, under the bound $BOUND kB (start $rss0 + cache $CACHE_KB + $RSS_SLACK_KB)"
}
perf_field() { sed -n "s/^ *$1: *\([0-9.]*\).*/\1/p" "$2" | head -1; }

# --- 1. capacity -------------------------------------------------------------------------
dnsperf -s 127.0.0.1 -p "$SR_PORT" -d "$T/names.cap" -n 1 -l 5 -q 500 -t 2 >"$T/cap.txt" 2>&1 ||
    { cat "$T/cap.txt" >&2; fail "dnsperf (capacity) failed"; }
cap=$(perf_field 'Queries per second' "$T/cap.txt")
cap=${cap%.*}
[ "${cap:-0}" -ge 500 ] || { cat "$T/cap.txt" >&2; fail "capacity only ${cap:-0} queries/s"; }
ok "capacity: $cap cache-missing queries/s answered (5 s, 500 outstanding)"

# --- 2. twice the capacity for 30 s ------------------------------------------------------------
rate=$((2 * cap))
rss_watch
dnsperf -s 127.0.0.1 -p "$SR_PORT" -d "$T/names.rest" -n 1 -l 30 -Q "$rate" -q 20000 -t 1 \
    >"$T/over.txt" 2>&1 || { cat "$T/over.txt" >&2; fail "dnsperf (overload) failed"; }
# Full service within a second: 10 UDP and 10 TCP queries (cached and not),
# all answered, the first of them sent at once.
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import sys, time
import dns.message, dns.query
port = int(sys.argv[1])
t0 = time.monotonic()
good = 0
worst = 0.0
for i in range(10):
    for fn in (dns.query.udp, dns.query.tcp):
        name = "www.example.test" if i % 2 else "after%d-%s.example.test" % (i, fn.__name__)
        t = time.monotonic()
        try:
            r = fn(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1)
            good += r.rcode() in (0, 3)
        except Exception:
            pass
        worst = max(worst, time.monotonic() - t)
print("answered %d/20 worst %.3f total %.3f" % (good, worst, time.monotonic() - t0))
PYEOF
)
peak=$(rss_peak)
sent=$(perf_field 'Queries sent' "$T/over.txt")
done_=$(perf_field 'Queries completed' "$T/over.txt")
secs=$(perf_field 'Run time (s)' "$T/over.txt")
offered=$("$PY" -c "print(int($sent / $secs))")
note "overload: $(grep -E 'Queries (sent|completed|lost)|Run time|per second' "$T/over.txt" | tr -s ' ' | tr '\n' ';')"
_it_alive "$PID" || fail "stubresd died under load"
ok "offered $offered queries/s for ${secs%.*} s (asked for $rate = twice the capacity); $done_ of $sent answered; stubresd still running"
[ "$offered" -ge $((cap * 3 / 2)) ] ||
    note "dnsperf could offer only $offered/s here (shares the two cores with stubresd and nsd)"
check_rss "the overload" "$peak"
assert_match '^answered 20/20 worst 0\.[0-9]+ total 0\.' "$out" \
    "at once after the load: 20 of 20 UDP and TCP queries answered within a second ($out)"

# --- 3. 1,000,000 names ------------------------------------------------------------------
ev0=$(sr_stat cache evictions)
sed -n '1,1000000p' "$T/names.rest" | tail -n 1000000 >"$T/names.flood"
rss_watch
dnsperf -s 127.0.0.1 -p "$SR_PORT" -d "$T/names.flood" -n 1 -l 100 -q 1000 -t 2 \
    >"$T/flood.txt" 2>&1 || { cat "$T/flood.txt" >&2; fail "dnsperf (flood) failed"; }
peak=$(rss_peak)
sent=$(perf_field 'Queries sent' "$T/flood.txt")
done_=$(perf_field 'Queries completed' "$T/flood.txt")
note "flood: $(grep -E 'Queries (sent|completed|lost)|Run time|per second' "$T/flood.txt" | tr -s ' ' | tr '\n' ';')"
_it_alive "$PID" || fail "stubresd died during the flood"
[ "$ASAN" = 1 ] || [ "$sent" -ge 1000000 ] || fail "only $sent of 1,000,000 names sent within 100 s"
ok "flood: $sent distinct names sent, $done_ answered"
check_rss "the flood" "$peak"
bytes=$(sr_stat cache bytes)
[ "$bytes" -le $((CACHE_KB * 1024)) ] || fail "cache bytes $bytes > cache_size"
ok "cache holds $bytes bytes in $(sr_stat cache entries) entries, within cache_size (4M)"
ev=$(($(sr_stat cache evictions) - ev0))
[ "$ev" -ge $((done_ / 2)) ] || fail "stats: $ev evictions for $done_ new names"
ok "stats: $ev evictions counted during the flood"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "service goes on after the flood"
stop_stubresd sr
