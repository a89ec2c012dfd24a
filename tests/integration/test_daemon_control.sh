#!/bin/bash
# test_daemon_control.sh -- every control command through stubresctl (for
# a person and --json), exit codes, errors that name the setting and the
# accepted values and change nothing, a server change under load with no
# query lost, the state file surviving a restart, reload (good and bad),
# the 0660 socket, and the Prometheus endpoint.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig curl

start_fakedns up1
start_fakedns up2
MPORT=$(free_port)
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "metrics = 127.0.0.1:$MPORT" \
    "control_group = root"
$SR_CTL --json stats >"$T/s0.json" # the readiness probes are counted too
$SR_DIG www.$ZONE A +short >/dev/null
$SR_DIG nxdomain.$ZONE A +short >/dev/null
$SR_DIG www.$ZONE A +short +tcp >/dev/null

# --- the socket -------------------------------------------------------------------
assert_eq "660 root" "$(stat -c '%a %G' "$SR_SOCK")" "control socket: mode 0660, group control_group"

# --- stats ---------------------------------------------------------------------------
out=$($SR_CTL stats)
assert_match '^queries: +[0-9]+ +\(udp [0-9]+, tcp [0-9]+, tls [0-9]+, https [0-9]+\)$' "$out" "stats for a person: queries"
assert_match '^  NXDOMAIN +[0-9]+$' "$out" "stats for a person: responses by RCODE"
assert_match "^  udp://127\.0\.0\.1:$UP1_PORT +up +[0-9]+" "$out" "stats for a person: the upstream table"
$SR_CTL --json stats >"$T/s.json"
"$PY" - "$T/s0.json" "$T/s.json" <<'PYEOF' || fail "stats --json lacks keys of stubresctl(8)"
import json, sys
s0, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert s["ok"] is True and isinstance(s["uptime_s"], int)
d = lambda a, b, k: b[k] - a[k]
q, q0 = s["queries"], s0["queries"]
assert q["total"] == q["udp"] + q["tcp"], q
assert d(q0, q, "total") == 3 and d(q0, q, "tcp") == 1, (q0, q)
r, r0 = s["responses"], s0["responses"]
for k in ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"):
    assert isinstance(r[k], int), k
assert d(r0, r, "NOERROR") == 2 and d(r0, r, "NXDOMAIN") == 1, r
c, c0 = s["cache"], s0["cache"]
for k in ("hits", "misses", "entries", "bytes", "evictions"):
    assert isinstance(c[k], int), k
assert d(c0, c, "hits") == 1 and d(c0, c, "misses") == 2 and d(c0, c, "entries") == 2, c
u, u0 = s["upstreams"][0], s0["upstreams"][0]
for k, t in (("server", str), ("queries", int), ("errors", int), ("timeouts", int),
             ("avg_rtt_ms", float), ("healthy", bool)):
    assert isinstance(u[k], t), k
assert d(u0, u, "queries") == 2 and u["healthy"] is True, u
assert sum(u["rtt_histogram"]["counts"]) == u["queries"], u
assert s["inflight"]["upstream"] == 0
PYEOF
ok "stats --json: every key of stubresd.conf(5), with the right counts"

# --- status ----------------------------------------------------------------------------
out=$($SR_CTL status)
assert_match '^stubresd [0-9.]+, pid [0-9]+, up [0-9]+s, 1 thread\(s\)$' "$out" "status for a person"
assert_match "^config: +$SR_CONF$" "$out" "status: the config file"
out=$($SR_CTL --json status)
assert_match '^\{"ok":true,"version":"[0-9.]+","uptime_s":[0-9]+,' "$out" "status --json"

# --- config NAME --------------------------------------------------------------------
assert_eq 2 "$($SR_CTL config timeout)" "config timeout: the default (2)"
assert_eq '{"ok":true,"name":"DoHMethod","value":"post"}' "$($SR_CTL --json config DoHMethod)" \
    "config DoHMethod (the class's name) --json"
assert_eq 127.0.0.1 "$($SR_CTL config dns_server)" "config dns_server: the upstream in use"
assert_eq "$UP1_PORT" "$($SR_CTL config dns_port)" "config dns_port: the port of the upstream in use"
assert_eq true "$($SR_CTL config idle)" "config idle: nothing in flight"
assert_match '^stubresd ' "$($SR_CTL config BuildInfo)" "config BuildInfo"
rc=0
out=$($SR_CTL --json config UseDNSAPIDLL 2>/dev/null) || rc=$?
assert_eq 1 "$rc" "config UseDNSAPIDLL: exit 1"
assert_eq '{"ok":false,"error":"UseDNSAPIDLL: not supported on this platform"}' "$out" \
    "... not supported on this platform (the man pages)"
rc=0
out=$($SR_CTL config query_type 2>&1) || rc=$?
assert_eq 1 "$rc" "config query_type: exit 1"
assert_match 'per-query property' "$out" "... a per-query property"
rc=0
out=$($SR_CTL config nosuch 2>&1) || rc=$?
assert_eq "1 stubresctl: unknown setting 'nosuch'" "$rc $out" "config nosuch: unknown setting"

# --- config NAME=VALUE: applied, persisted; bad ones change nothing --------------------
assert_eq "timeout set to 3" "$($SR_CTL config timeout=3)" "config timeout=3"
assert_eq 3 "$($SR_CTL config timeout)" "timeout reads 3"
assert_match '^timeout = 3$' "$(cat "$SR_STATE")" "the state file has timeout = 3"
cp "$SR_STATE" "$T/state.before"
rc=0
out=$($SR_CTL config timeout=soon 2>&1) || rc=$?
assert_eq 1 "$rc" "config timeout=soon: exit 1"
assert_eq "stubresctl: timeout: bad value 'soon': expected a number of seconds from 0.001 to 3600 (fractions such as 1.5 and units ms, s, m allowed)" \
    "$out" "the error names the setting and the accepted values"
rc=0
out=$($SR_CTL config strategy=random 2>&1) || rc=$?
assert_eq "1 stubresctl: strategy: bad value 'random': expected failover, round-robin or fastest" \
    "$rc $out" "config strategy=random: names the choices"
rc=0
out=$($SR_CTL config listen=127.0.0.1:5353 2>&1) || rc=$?
assert_match '^stubresctl: listen: cannot be changed while stubresd runs' "$out" "listen needs a restart"
assert_eq 3 "$($SR_CTL config timeout)" "a refused value changed nothing"
cmp -s "$SR_STATE" "$T/state.before" || fail "a refused value changed the state file"
ok "a refused value left the state file alone"
assert_eq "MaxPacketSize set to 1400" "$($SR_CTL config MaxPacketSize=1400)" "config MaxPacketSize=1400"
assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "queries still answered after upstream settings changed"
assert_match '^1400$' "$(json_get "$UP1_STATS" recent -1 payload)" "the upstream saw EDNS size 1400"

# --- unknown, ambiguous, usage: stubresctl refuses before asking ------------------------
rc=0; $SR_CTL bogus >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "stubresctl bogus: exit 2"
rc=0; out=$($SR_CTL st 2>&1) || rc=$?
assert_eq "2 stubresctl: ambiguous command 'st': stats, status" "$rc $out" "stubresctl st: ambiguous"
assert_match '^stubresd [0-9.]+, pid' "$($SR_CTL statu)" "stubresctl statu: a unique prefix of status"
rc=0; "$STUBRESCTL" -s "$T/none.sock" stats >/dev/null 2>&1 || rc=$?
assert_eq 3 "$rc" "no daemon: exit 3"

# --- server SPEC... under load: no query lost --------------------------------------------
fakedns_mode up1 delay delay=0.2 # queries are in flight at the switch
"$PY" "$IT_DIR/load.py" "$SR_PORT" 6 --concurrency 8 --timeout 10 --out "$T/load1.txt" >/dev/null &
lp=$!
sleep 2
out=$($SR_CTL server "udp://127.0.0.1:$UP2_PORT" "tcp://127.0.0.1:$UP2_PORT")
assert_eq "upstreams now:
  udp://127.0.0.1:$UP2_PORT
  tcp://127.0.0.1:$UP2_PORT" "$out" "server: replaced under load"
wait "$lp"
res=$(cat "$T/load1.txt")
note "load during the server change: $res"
assert_match '^sent=[1-9][0-9]* answered=[0-9]+ lost=0 servfail=0$' "$res" "no query lost or failed across the server change"
[ "$(fakedns_stat up2 queries udp)" -gt 10 ] || fail "up2 got no queries after the change"
ok "the new upstream took over ($(fakedns_stat up2 queries udp) queries)"
fakedns_mode up1 good

# --- cache commands, reload ----------------------------------------------------------------
assert_match 'entries flushed$' "$($SR_CTL cache flush)" "cache flush"
assert_eq "reloaded" "$($SR_CTL reload)" "reload"
assert_eq 3 "$($SR_CTL config timeout)" "after a reload the state file still wins (timeout 3)"
cp "$SR_CONF" "$T/conf.good"
echo "cache_size = lots" >>"$SR_CONF"
rc=0
out=$($SR_CTL reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload of a bad file: exit 1"
assert_match "$SR_CONF:[0-9]+: cache_size: bad value 'lots'" "$out" "... naming file, line and key"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "still answering with the old settings"
cp "$T/conf.good" "$SR_CONF"

# --- metrics ---------------------------------------------------------------------------------
out=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics")
assert_match '^stubresd_queries_total\{transport="udp"\} [0-9]+$' "$out" "metrics: queries by transport"
assert_match '^stubresd_responses_total\{rcode="NXDOMAIN"\} [0-9]+$' "$out" "metrics: responses by RCODE"
assert_match "^stubresd_upstream_rtt_seconds_bucket\{server=\"udp://127.0.0.1:$UP2_PORT\",le=\"\+Inf\"\} [0-9]+$" \
    "$out" "metrics: RTT histogram per upstream"
assert_match '^stubresd_cache_bytes [0-9]+$' "$out" "metrics: cache memory"
assert_match '^stubresd_inflight_upstream 0$' "$out" "metrics: in flight"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MPORT/other")
assert_eq 404 "$code" "metrics: other paths 404"

# --- the state file survives a restart ------------------------------------------------------
stop_stubresd sr
start_stubresd sr
assert_eq 3 "$($SR_CTL config timeout)" "after a restart: timeout 3 from the state file"
assert_eq 1400 "$($SR_CTL config MaxPacketSize)" "after a restart: MaxPacketSize 1400"
out=$($SR_CTL --json status)
assert_match "\"server\":\"udp://127.0.0.1:$UP2_PORT\"" "$out" "after a restart: the upstreams set with server"
fakedns_reset up2
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "answered after the restart"
assert_eq 1 "$(fakedns_stat up2 queries udp)" "through the upstream set at run time"
stop_stubresd sr
