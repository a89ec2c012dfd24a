#!/bin/bash
# test_daemon_contract.sh -- the documented contracts (man pages in docs/), name by name, the
# way a test outside this repository holds the project to them: every key
# of stubresd.conf(5)'s list is accepted in a config file (stubresd -t) and, unless
# it needs a restart, by stubresctl config NAME=VALUE; stubresctl config
# NAME reads back the default etc/stubresd.conf gives; the exact reply
# shapes of config and of errors; and stubres-query --json's schema (names,
# types, nesting) and exit statuses.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

Q=$(sr_tool stubres-query)
ETC=$IT_DIR/../../etc/stubresd.conf
[ -x "$Q" ] || fail "$Q is missing: build it first"
[ -f "$ETC" ] || fail "$ETC is missing"

# stubresd.conf(5): the keys every config file may use, the class's
# properties that work as keys, and a config setting by its own name.
DESIGN_KEYS="listen allow user threads control control_group metrics state_file
servers strategy ca_file bootstrap doh_method timeout cache_size min_ttl max_ttl
negative_ttl serve_stale prefetch log_level query_log resolv_conf
dns_server dns_port protocol recursive local_host DoHMethod
local local_ttl hosts special_names forward block block_answer network_watch
cache_file cache_save_interval prefetch_popular prefetch_rate portal_resolv_conf
tls_cert tls_key tls_max_clients tls_idle_timeout shared_cache shared_cache_timeout"
# docs/architecture.md: refused at run time, with a message saying so.
RESTART_KEYS=" listen user threads control control_group metrics state_file "
RESTART_KEYS+="cache_file cache_save_interval portal_resolv_conf "

# etc_default KEY: the default the commented etc/stubresd.conf gives.
etc_default() {
    sed -n "s/^# $1 = \{0,1\}//p" "$ETC" | head -n 1
}
for k in $DESIGN_KEYS; do
    [ "$k" = DoHMethod ] && continue # documented under doh_method
    grep -q "^# $k =" "$ETC" || fail "etc/stubresd.conf does not give the default of $k"
done
ok "etc/stubresd.conf gives a default for every key of stubresd.conf(5)"

start_fakedns up1

# --- stubresd -t: every key in one file ---------------------------------------------
P=$(free_port)
{
    for k in $DESIGN_KEYS; do
        case $k in
            listen) echo "listen = 127.0.0.1:$P" ;;
            control) echo "control = $T/all.sock" ;;
            state_file) echo "state_file = $T/all.state" ;;
            resolv_conf) echo "resolv_conf = $STUBRES_RESOLV_CONF" ;;
            servers) echo "servers =" ;;
            dns_server) echo "dns_server = 127.0.0.1" ;;
            dns_port) echo "dns_port = $UP1_PORT" ;;
            DoHMethod) echo "DoHMethod = 1" ;;
            *) echo "$k = $(etc_default "$k")" ;;
        esac
    done
} >"$T/all.conf"
out=$("$STUBRESD" -t -c "$T/all.conf" 2>&1) || fail "stubresd -t rejects stubresd.conf(5)'s keys: $out"
assert_eq "config OK" "$out" "stubresd -t accepts every key of stubresd.conf(5) (etc/stubresd.conf's defaults)"

# --- the defaults, read back -----------------------------------------------------------
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT"
for k in $DESIGN_KEYS; do
    case $k in
        # set by daemon_lib.sh (test paths, the test's log level) or above
        listen | control | state_file | resolv_conf | log_level | servers) continue ;;
        # the upstream in use: servers' host and port (docs/architecture.md)
        dns_server) want=127.0.0.1 ;;
        dns_port) want=$UP1_PORT ;;
        DoHMethod) want=$(etc_default doh_method) ;;
        *) want=$(etc_default "$k") ;;
    esac
    assert_eq "$want" "$($SR_CTL config "$k")" "config $k reads back its default '$want'"
done
assert_eq '{"ok":true,"name":"cache_size","value":"16M"}' "$($SR_CTL --json config cache_size)" \
    "config NAME: exactly {ok, name, value}"

# --- config NAME=VALUE: every run-time key ---------------------------------------------------
# a value other than the default, and what it reads back as (ca_file
# needs a readable file: the test CA of fakedns)
_it_need_ca
printf '10.9.9.8 printer.test\n' >"$T/hosts"
printf 'ads.invalid-test\n' >"$T/block.txt"
CHANGES="local=here.test. 60 IN A 10.9.9.9|here.test 60 IN A 10.9.9.9
local_ttl=60|60
hosts=$T/hosts|$T/hosts
special_names=false|false
forward=corp.test udp://127.0.0.1:$UP1_PORT|corp.test udp://127.0.0.1:$UP1_PORT
block=$T/block.txt|$T/block.txt
block_answer=nxdomain|nxdomain
network_watch=false|false
prefetch_popular=10|10
prefetch_rate=5|5
tls_cert=$CA_FILE|$CA_FILE
tls_key=$CA_FILE|$CA_FILE
tls_max_clients=50|50
tls_idle_timeout=10|10
shared_cache=redis://127.0.0.1:1|redis://127.0.0.1:1
shared_cache_timeout=0.1|0.1
allow=127.0.0.1/32|127.0.0.1/32
strategy=round-robin|round-robin
ca_file=$CA_FILE|$CA_FILE
bootstrap=127.0.0.1|127.0.0.1
doh_method=get|get
DoHMethod=2|json
timeout=1.5|1.5
cache_size=1M|1M
min_ttl=5|5
max_ttl=3600|3600
negative_ttl=60|60
serve_stale=yes|true
prefetch=on|true
log_level=debug|debug
query_log=$T/query.log|$T/query.log
resolv_conf=$STUBRES_RESOLV_CONF|$STUBRES_RESOLV_CONF
dns_port=$UP1_PORT|$UP1_PORT
protocol=1|tcp
recursive=false|false
local_host=127.0.0.1|127.0.0.1
servers=udp://127.0.0.1:$UP1_PORT|udp://127.0.0.1:$UP1_PORT
dns_server=127.0.0.1|127.0.0.1"
while IFS='|' read -r kv want; do
    k=${kv%%=*}
    out=$($SR_CTL --json config "$kv") || fail "config $kv refused: $out"
    assert_eq "{\"ok\":true,\"name\":\"$k\",\"value\":\"$want\"}" "$out" "config $kv"
    assert_eq "$want" "$($SR_CTL config "$k")" "... and $k reads back $want"
done <<<"$CHANGES"
for k in $DESIGN_KEYS; do
    case $RESTART_KEYS in *" $k "*) ;; *) continue ;; esac
    rc=0
    out=$($SR_CTL --json config "$k=$($SR_CTL config "$k")" 2>/dev/null) || rc=$?
    assert_eq "1 {\"ok\":false,\"error\":\"$k: cannot be changed while stubresd runs (edit the config file and restart)\"}" \
        "$rc $out" "config $k=...: needs a restart (docs/architecture.md)"
done
for k in $DESIGN_KEYS; do
    case $RESTART_KEYS in *" $k "*) continue ;; esac
    grep -q "^$k=" <<<"$CHANGES" || fail "no run-time change of $k tried"
done
ok "every run-time key of stubresd.conf(5) was changed through the control socket"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "still answering (over TCP, from 127.0.0.1) after every change"
assert_eq tcp "$(json_get "$UP1_STATS" recent -1 proto)" "... the upstream saw protocol = tcp"
assert_eq false "$(json_get "$UP1_STATS" recent -1 rd)" "... and recursive = false (RD=0)"

# --- the reply shapes of errors ------------------------------------------------------------
for k in UseDNSAPIDLL CaptureIPPacketInfo DestinationAddress SourceIPAddress SourceMacAddress QOSTrafficType; do
    rc=0
    out=$($SR_CTL --json config "$k" 2>/dev/null) || rc=$?
    assert_eq "1 {\"ok\":false,\"error\":\"$k: not supported on this platform\"}" "$rc $out" \
        "config $k: not supported on this platform"
    rc=0
    out=$($SR_CTL --json config "$k=true" 2>/dev/null) || rc=$?
    assert_eq "1 {\"ok\":false,\"error\":\"$k: not supported on this platform\"}" "$rc $out" \
        "config $k=true: not supported on this platform"
done
out=$($SR_CTL --json cache dump)
"$PY" -c 'import json,sys
j=json.loads(sys.argv[1])
assert set(j) == {"ok", "entries", "zone"} and j["ok"] is True, j
for k in ("entries", "zone"):
    assert isinstance(j[k], list) and all(isinstance(e, str) for e in j[k]), j' "$out" ||
    fail "cache dump: not {ok, entries: [strings], zone: [strings]}: $out"
ok "cache dump: the entries in the JSON array entries, one string each; zone: master-file lines"
stop_stubresd sr

# --- stubres-query --json: the schema of stubres-query(1) ---------------------------------------------
printf 'nameserver 127.0.0.1\n' >"$T/query-resolv.conf"
out=$(STUBRES_RESOLV_CONF=$T/query-resolv.conf "$Q" --json --timeout 5 --id 7 -p "$UP1_PORT" \
    -t MX mx.$ZONE) || fail "stubres-query --json -t MX failed"
"$PY" - "$out" <<'PYEOF' || fail "stubres-query --json differs from stubres-query(1)'s schema: $out"
import json, re, sys
text = sys.argv[1]
assert "\n" not in text.strip(), "one object on one line"
j = json.loads(text)
top = {"request_id": int, "domain": str, "query_type": int, "status_code": int,
       "status": str, "authoritative": bool, "truncated": bool, "records": list,
       # added for dig users (issue: stubres-query as good as dig/kdig)
       "flags": list, "server": str, "protocol": str, "elapsed_ms": int}
assert set(j) == set(top), sorted(j)
assert j["protocol"] == "UDP" and "qr" in j["flags"] and j["server"].startswith("127.0.0.1#"), j
for k, t in top.items():
    assert type(j[k]) is t, (k, j[k])
assert (j["request_id"], j["domain"], j["query_type"]) == (7, "mx.example.test", 15), j
assert (j["status_code"], j["status"], j["authoritative"], j["truncated"]) == (0, "NOERROR", True, False), j
rec = {"section": str, "domain": str, "type": int, "type_name": str, "ttl": int,
       "fields": list, "data": str}
assert len(j["records"]) == 2, j["records"]
for r in j["records"]:
    assert set(r) == set(rec), sorted(r)
    for k, t in rec.items():
        assert type(r[k]) is t, (k, r[k])
    assert (r["section"], r["domain"], r["type"], r["type_name"]) == \
        ("answer", "mx.example.test", 15, "MX"), r
    assert [f["name"] for f in r["fields"]] == ["PREFERENCE", "EXCHANGE"], r
    for f in r["fields"]:
        assert set(f) == {"name", "value"} and type(f["value"]) is str, f
    assert re.fullmatch(r"([0-9a-f]{2})+", r["data"]), r["data"]
got = sorted((r["fields"][0]["value"], r["fields"][1]["value"]) for r in j["records"])
assert got == [("10", "mail.example.test"), ("20", "mail2.example.test")], got
PYEOF
ok "stubres-query --json: every name, type and nesting of stubres-query(1)'s schema"
out=$(STUBRES_RESOLV_CONF=$T/query-resolv.conf "$Q" --json --timeout 5 -p "$UP1_PORT" nxdomain.$ZONE) ||
    fail "stubres-query: NXDOMAIN must exit 0"
assert_eq NXDOMAIN "$(printf '%s' "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" \
    "NXDOMAIN: exit 0, status NXDOMAIN"
fakedns_mode up1 drop
rc=0
err=$(STUBRES_RESOLV_CONF=$T/query-resolv.conf "$Q" --json --timeout 1 -p "$UP1_PORT" www.$ZONE 2>&1 >/dev/null) || rc=$?
assert_eq 1 "$rc" "no response: exit 1"
assert_match '^stubres-query: \[10060\] ' "$err" "... with stubres-query: [CODE] message on stderr"
fakedns_mode up1 good
