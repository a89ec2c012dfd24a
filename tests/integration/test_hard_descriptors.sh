#!/bin/bash
# test_hard_descriptors.sh -- running out of file descriptors does not take
# DNS down. With `ulimit -n 256`: 1,100 idle connections to the metrics
# endpoint leave the resolver its descriptors (at most 16 scrape
# connections, a newcomer displacing the oldest): cache misses keep their
# answers, a scrape still works, the upstream stays healthy, and the log
# stays small (no accept loop spinning on EMFILE). Clients outside `allow`
# get no metrics. With `ulimit -n 64` and idle DNS TCP clients filling the
# descriptor table, a cache miss that cannot open its upstream socket gets
# SERVFAIL and counts as `local_errors`, and the upstream is not blamed:
# still healthy, no error counted.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig curl prlimit

FLOOD_N=1100
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge $((FLOOD_N + 100)) ] ||
    skip "the hard descriptor limit ($(ulimit -Hn)) is below what the flood needs"

start_fakedns up1

# flood.py PORT N READY STOP [DNSPORT]: N idle TCP connections to
# 127.0.0.1:PORT, opened non-blocking in batches of 100 (each batch given
# 2 s), then held until the file STOP appears (at most 60 s) and closed.
# With DNSPORT, after each batch one cache miss (probeK.example.test A)
# to stubresd there. READY gets "CONNECTED N" and "PROBES RCODE..." once
# every batch is done.
cat >"$T/flood.py" <<'PYEOF'
import os, resource, select, socket, sys, time
import dns.exception, dns.message, dns.query, dns.rcode
port, n, ready, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
dns_port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
probes = []

def probe(k):
    q = dns.message.make_query("probe%d.example.test" % k, "A")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=dns_port, timeout=3)
        probes.append(dns.rcode.to_text(r.rcode()))
    except dns.exception.Timeout:
        probes.append("timeout")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
socks, connected = [], 0
for start in range(0, n, 100):
    batch = []
    for _ in range(min(100, n - start)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        batch.append(s)
    p = select.poll()
    for s in batch:
        p.register(s, select.POLLOUT)
    pending, deadline = len(batch), time.monotonic() + 2
    while pending and time.monotonic() < deadline:
        for fd, ev in p.poll(100):
            p.unregister(fd)
            pending -= 1
    for s in batch:
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            connected += 1
    socks += batch
    if dns_port:
        probe(start // 100)
with open(ready + ".tmp", "w") as f:
    f.write("CONNECTED %d\nPROBES %s\n" % (connected, " ".join(probes)))
os.rename(ready + ".tmp", ready)
deadline = time.monotonic() + 60
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(0.05)
for s in socks:
    s.close()
print("closed %d" % len(socks), flush=True)
PYEOF

# flood NAME PORT N [DNSPORT]: start flood.py and wait until it holds its
# connections; unflood NAME: let it close them and exit.
flood() {
    rm -f "$T/$1.ready" "$T/$1.stop"
    start_bg "$1" "$PY" "$T/flood.py" "$2" "$3" "$T/$1.ready" "$T/$1.stop" ${4:-}
    # shellcheck disable=SC2017 # whole batches
    local i limit=$((($3 + 99) / 100 * 2 + IT_WAIT)) # 2 s a batch at most, and IT_WAIT
    for i in $(seq 1 $((limit * 4))); do
        [ -f "$T/$1.ready" ] && break
        _it_alive "$(pid_of "$1")" || fail "$1: flood.py died: $(cat "$(log_of "$1")")"
        sleep 0.25
    done
    [ -f "$T/$1.ready" ] || fail "$1: the flood did not finish connecting in $limit s"
    note "$1: $(head -1 "$T/$1.ready") of $3 connections to port $2"
}
unflood() {
    touch "$T/$1.stop"
    wait_log "$1" '^closed [0-9]+'
    stop_bg "$1" >/dev/null 2>&1 || true
}
# nfds [BELOW]: descriptors stubresd holds (numbered below BELOW: one
# inherited from the test harness may sit above its limit).
nfds() { find "/proc/$(pid_of "$SR_NAME")/fd" -mindepth 1 -printf '%f\n' | awk -v b="${1:-1000000}" '$1 < b' | wc -l; }
status_of() { $SR_DIG "$1" A +noall +comments | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
upstream_health() {
    $SR_CTL --json stats >"$T/stats.json" || fail "stubresctl stats failed"
    printf 'healthy=%s errors=%s timeouts=%s\n' "$(json_get "$T/stats.json" upstreams 0 healthy)" \
        "$(json_get "$T/stats.json" upstreams 0 errors)" "$(json_get "$T/stats.json" upstreams 0 timeouts)"
}

# --- 1,100 idle connections to metrics, ulimit -n 256 -------------------------------------
MPORT=$(free_port)
STUBRESD_WRAP="prlimit --nofile=256:256 --" \
    start_stubresd srm "servers = udp://127.0.0.1:$UP1_PORT" "metrics = 127.0.0.1:$MPORT"
assert_eq 256 "$(awk '/^Max open files/ {print $4}' "/proc/$(pid_of srm)/limits")" \
    "stubresd runs with 256 descriptors at most"
base_fds=$(nfds)
flood mflood "$MPORT" "$FLOOD_N" "$SR_PORT"
assert_eq "PROBES$(printf ' NXDOMAIN%.0s' $(seq 1 $((FLOOD_N / 100))))" "$(sed -n 2p "$T/mflood.ready")" \
    "a cache miss after each 100 connections to metrics is answered"
for i in $(seq 1 40); do
    st=$(status_of "miss$i.$ZONE")
    [ "$st" = NXDOMAIN ] || fail "cache miss $i during the flood: status '${st:-no answer}', expected NXDOMAIN"
done
ok "40 more cache misses (distinct names) answered while the flood holds"
out=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics") || fail "a scrape during the flood failed"
assert_match '^stubresd_upstream_healthy\{server="udp://127\.0\.0\.1:[0-9]+"\} 1$' "$out" \
    "a scrape during the flood is answered, the upstream healthy"
fds=$(nfds)
note "descriptors of stubresd: $base_fds before the flood, $fds during it"
[ "$fds" -le $((base_fds + 16 + 2)) ] ||
    fail "stubresd holds $fds descriptors during the flood ($base_fds before): no cap on metrics"
ok "the metrics flood costs stubresd at most 16 descriptors ($base_fds -> $fds)"
unflood mflood
assert_eq "healthy=true errors=0 timeouts=0" "$(upstream_health)" "the upstream stays healthy, no error counted"
assert_eq 0 "$(sr_stat local_errors)" "stats: no local error"
lines=$(wc -l <"$(log_of srm)")
[ "$lines" -le 50 ] || fail "stubresd logged $lines lines (an accept loop spinning?): $(sort "$(log_of srm)" | uniq -c | sort -rn | head -5)"
ok "the log stays small: $lines lines"

# --- metrics only for allow ----------------------------------------------------------------
assert_eq "allow set to 127.0.0.2/32" "$($SR_CTL config allow=127.0.0.2/32)" "allow = 127.0.0.2/32"
rc=0
out=$(curl -sS --max-time 5 --interface 127.0.0.1 "http://127.0.0.1:$MPORT/metrics" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "a client outside allow got metrics: $out"
assert_no_match '^stubresd_' "$out" "a client outside allow (127.0.0.1) gets no metrics (curl: $out)"
out=$(curl -sS --max-time 5 --interface 127.0.0.2 "http://127.0.0.1:$MPORT/metrics") ||
    fail "a client inside allow (127.0.0.2) was refused"
assert_match '^stubresd_queries_total\{transport="udp"\} [0-9]+$' "$out" "a client inside allow (127.0.0.2) gets them"
stop_stubresd srm

# --- a local shortage is not the upstream's fault: ulimit -n 64 ---------------------------------
STUBRESD_WRAP="prlimit --nofile=64:64 --" \
    start_stubresd srl "servers = udp://127.0.0.1:$UP1_PORT" "tcp_max_clients = 1000" \
    "tcp_idle_timeout = 60"
assert_eq NXDOMAIN "$(status_of "before.$ZONE")" "a cache miss is answered before the descriptors run out"
flood tflood "$SR_PORT" 100
for i in $(seq 1 $((IT_WAIT * 10))); do
    [ "$(nfds 64)" = 64 ] && break
    sleep 0.1
done
assert_eq 64 "$(nfds 64)" "idle DNS TCP clients fill stubresd's 64 descriptors"
assert_eq SERVFAIL "$(status_of "short.$ZONE")" "a cache miss that cannot open its upstream socket: SERVFAIL"
unflood tflood
for i in $(seq 1 $((IT_WAIT * 10))); do
    [ "$(nfds 64)" -lt 40 ] && break
    sleep 0.1
done
assert_eq "healthy=true errors=0 timeouts=0" "$(upstream_health)" \
    "the upstream is not blamed: healthy, no error counted"
n=$(sr_stat local_errors)
[ "$n" -ge 1 ] || fail "stats: local_errors is $n, expected >= 1"
ok "stats: local_errors counts it ($n)"
assert_eq NXDOMAIN "$(status_of "after.$ZONE")" "descriptors back: the next cache miss is answered"
lines=$(wc -l <"$(log_of srl)")
[ "$lines" -le 100 ] || fail "stubresd logged $lines lines: $(sort "$(log_of srl)" | uniq -c | sort -rn | head -5)"
ok "the log stays small: $lines lines"
stop_stubresd srl
