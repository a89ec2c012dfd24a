#!/bin/bash
# test_ops.sh -- what an operator's first commands print: quickstart's choice
# of upstream, stubresd -t, the config read-backs, stubresctl's tables,
# logging and Extended DNS Errors (test_ops_build.sh: building, installing).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

TOP_SRCDIR=$(cd "$IT_DIR/../.." && pwd)

# --- quickstart.sh upstream: which nameserver of resolv.conf it forwards to.
# Only the selection runs (no install, no build, no packet sent): the files
# are the test's own.
qs_upstream() {
    QUICKSTART_RESOLV_CONF=$T/qs.resolv QUICKSTART_RESOLVED_CONF=$T/qs.resolved \
        "$TOP_SRCDIR/quickstart.sh" upstream 2>"$T/qs.err"
}

printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n' >"$T/qs.resolv"
printf '# systemd-resolved\nnameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver fe80::1%%eth0\n' \
    >"$T/qs.resolved"
out=$(qs_upstream) || fail "quickstart upstream with 127.0.0.53: $(cat "$T/qs.err")"
assert_eq "servers = udp://192.0.2.1:53 udp://[2001:db8::1]:53" "$out" \
    "127.0.0.53 with systemd-resolved's file: its real upstreams (link-local skipped)"
assert_match "upstream: udp://192.0.2.1:53 udp://\[2001:db8::1\]:53 \(from $T/qs.resolv, $T/qs.resolved\)" \
    "$(cat "$T/qs.err")" "quickstart says which upstream it chose and from where"

rm "$T/qs.resolved"
out=$(qs_upstream) || fail "quickstart upstream, 127.0.0.53 alone: $(cat "$T/qs.err")"
assert_eq "servers = udp://127.0.0.53:53" "$out" "127.0.0.53 without systemd-resolved's file: the stub itself"

printf 'nameserver 127.0.0.11\noptions ndots:0\n' >"$T/qs.resolv"
out=$(qs_upstream) || fail "quickstart upstream, Docker: $(cat "$T/qs.err")"
assert_eq "servers = udp://127.0.0.11:53" "$out" "Docker's embedded DNS 127.0.0.11 is used"

printf 'nameserver 127.0.0.1\nnameserver 10.0.0.1\n' >"$T/qs.resolv"
out=$(qs_upstream) || fail "quickstart upstream, 127.0.0.1 and another: $(cat "$T/qs.err")"
assert_eq "servers = udp://10.0.0.1:53" "$out" "only stubresd's own listen address 127.0.0.1 is skipped"

printf 'nameserver 127.0.0.1\n' >"$T/qs.resolv"
if out=$(qs_upstream); then
    fail "quickstart chose an upstream from a resolv.conf naming only 127.0.0.1: $out"
fi
err=$(cat "$T/qs.err")
assert_match "names no usable nameserver .*127\.0\.0\.1: stubresd itself" "$err" \
    "nothing usable: quickstart says why"
assert_match "write servers = udp://IP:53 .* into .*/build/quickstart\.conf" "$err" \
    "nothing usable: quickstart says what to write"

# --- stubresd -t: only key = value, a file, and every error at once.
checkconf() { "$STUBRESD" -t -c "$1" 2>&1; }
# The lines every config of this section carries: nothing of the machine's.
own="state_file = $T/t.state
resolv_conf = $STUBRES_RESOLV_CONF
control = $T/t.sock"

mkdir "$T/conf.d"
out=$(checkconf "$T/conf.d") && fail "stubresd -t accepts a directory: $out"
assert_match "conf.d: is a directory, not a config file" "$out" "stubresd -t -c DIR: an error"
assert_no_match "config OK" "$out" "stubresd -t -c DIR: not OK"

printf '%s\ntimeout: 3\n' "$own" >"$T/colon.conf"
out=$(checkconf "$T/colon.conf") && fail "stubresd -t accepts 'timeout: 3': $out"
assert_match "colon.conf:4: 'timeout: 3': expected key = value, not ':' \(write 'timeout = 3'\)" \
    "$out" "'timeout: 3' is refused with the line to write"
printf '%s\nlisten 127.0.0.1:5353\n' "$own" >"$T/colon.conf"
out=$(checkconf "$T/colon.conf") && fail "stubresd -t accepts 'listen 127.0.0.1:5353': $out"
assert_match "colon.conf:4: 'listen 127.0.0.1:5353': expected key = value, not ':' \(write 'listen = 127.0.0.1:5353'\)" \
    "$out" "'listen 127.0.0.1:5353' is refused with the line to write"
printf '%s\nservers = udp://127.0.0.1:5353\n' "$own" >"$T/colon.conf"
assert_eq "config OK" "$(checkconf "$T/colon.conf")" "a ':' inside the value of a key = value line is fine"

mkdir "$T/notafile.log"
{
    printf '%s\n' "$own" | grep -v '^control'
    echo "timeout = soon"
    echo "user = no-such-user-ops"
    echo "control_group = no-such-group-ops"
    echo "control = $T/missing/dir/ctl.sock"
    echo "query_log = $T/notafile.log"
    echo "nosuchkey = 1"
} >"$T/many.conf"
out=$(checkconf "$T/many.conf") && fail "stubresd -t accepts many.conf: $out"
assert_match "many.conf:3: timeout: bad value 'soon'" "$out" "-t: the bad value"
assert_match "many.conf:4: user: no such user 'no-such-user-ops'" "$out" "-t: the unknown user, beside other errors"
assert_match "many.conf:5: control_group: no such group 'no-such-group-ops'" "$out" "-t: the unknown group"
assert_match "many.conf:6: control: directory $T/missing/dir is missing and so is $T/missing" "$out" \
    "-t: the control socket's directory"
assert_match "many.conf:7: query_log: $T/notafile.log is not a regular file" "$out" "-t: the query log's path"
assert_match "many.conf:8: unknown key 'nosuchkey'" "$out" "-t: the unknown key, after the others"
assert_match "many.conf: config has errors" "$out" "-t: config has errors"

# With no error of syntax or value, the paths are still checked.
{
    printf '%s\n' "$own"
    echo "query_log = $T/no/such/dir/q.log"
} >"$T/paths.conf"
out=$(checkconf "$T/paths.conf") && fail "stubresd -t accepts paths.conf: $out"
assert_match "paths.conf:4: query_log: $T/no/such/dir/q.log: directory $T/no/such/dir does not exist" \
    "$out" "-t: a query log in a missing directory, in an otherwise good file"
[ ! -e "$T/no" ] || fail "stubresd -t created $T/no"

# --- config dns_port reads back what is in force ---------------------------------
start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"
assert_eq "$UP1_PORT" "$($SR_CTL config dns_port)" "config dns_port: the port servers names, not 53"
P2=$(free_port)
$SR_CTL server "udp://127.0.0.1:$P2" >/dev/null
assert_eq "$P2" "$($SR_CTL config dns_port)" "config dns_port after server: the new upstream's port"
$SR_CTL server "udp://127.0.0.1:$UP1_PORT" >/dev/null
assert_eq "$UP1_PORT" "$($SR_CTL config dns_port)" "... and back"
$SR_CTL config dns_server=127.0.0.1 >/dev/null
assert_eq "dns_port set to 0 (in force: 53)" "$($SR_CTL config dns_port=0)" \
    "config dns_port=0: the value set and the port in force"
assert_eq 53 "$($SR_CTL config dns_port)" "config dns_port: 53 in force"
assert_eq '{"ok":true,"name":"dns_port","value":"53","configured":"0"}' \
    "$($SR_CTL --json config dns_port)" "--json config dns_port: in force and configured"
assert_eq "dns_port set to $UP1_PORT" "$($SR_CTL config dns_port="$UP1_PORT")" \
    "config dns_port=P: one value when it is the one in force"

# --- stubresctl: stats and status tables, cache dump, config with origins ---------
out=$($SR_DIG "www.$ZONE" +short)
assert_eq 10.0.0.1 "$out" "www through stubresd"
out=$($SR_CTL cache dump)
assert_match "^; www\.example\.test\. IN A NOERROR, [0-9]+ s left$" "$out" "cache dump: a comment per entry"
assert_match "^www\.example\.test\. [0-9]+ IN A 10\.0\.0\.1$" "$out" "cache dump: master-file lines (name TTL IN TYPE RDATA)"

fakedns_mode up1 servfail
out=$($SR_DIG "mx.$ZONE" MX | grep -o 'status: [A-Z]*')
fakedns_mode up1 good
assert_eq "status: SERVFAIL" "$out" "an upstream SERVFAIL reaches the client"
# the column named SERVFAILS of the upstream's row
col() { awk -v want="$2" -v row="$3" '$1 == "SERVER" { for (i = 1; i <= NF; i++) if ($i == want) c = i }
    $1 == row && c { print $c }' <<<"$1"; }
stats=$($SR_CTL stats)
up="udp://127.0.0.1:$UP1_PORT"
assert_eq "$(json_get <(${SR_CTL} --json stats) upstreams 0 servfails)" "$(col "$stats" SERVFAILS "$up")" \
    "stats table: SERVFAILS per upstream, as the JSON"
assert_match '^[1-9]' "$(col "$stats" SERVFAILS "$up")" "stats table: the SERVFAILs counted"
status=$($SR_CTL status)
assert_match '^  SERVER +HEALTH +QUERIES ' "$stats" "stats: SERVER HEALTH QUERIES first"
assert_match '^  SERVER +HEALTH +QUERIES ' "$status" "status: the same columns, named alike, in the same order"
assert_match ' RTT ms$' "$(grep '^  SERVER' <<<"$stats")" "stats: RTT ms last"
assert_match ' RTT ms$' "$(grep '^  SERVER' <<<"$status")" "status: RTT ms last"
assert_eq "$(col "$stats" QUERIES "$up")" "$(col "$status" QUERIES "$up")" "stats and status: the same QUERIES"

out=$($SR_CTL config)
assert_match "^timeout += 1  ; $SR_CONF:[0-9]+$" "$out" "config: a key from the file, with file:line"
assert_match "^dns_server += 127\.0\.0\.1  ; run-time change since 20[0-9-]+T[0-9:]+Z$" "$out" \
    "config: a run-time change, with since when"
assert_match "^strategy += failover  ; default$" "$out" "config: a default"
assert_eq "$(grep -c ' = ' <<<"$out")" "$($SR_CTL --json config | $PY -c 'import json, sys; print(len(json.load(sys.stdin)["config"]))')" \
    "config --json: the same keys"
stop_stubresd sr

# --- logging: timestamps; Extended DNS Errors (RFC 8914) in dig; POST /metrics --
skip_unless curl
MPORT=$(free_port)
start_stubresd ede "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 0.5" "serve_stale = yes" \
    "max_ttl = 1" "metrics = 127.0.0.1:$MPORT"
assert_match '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]{3}Z stubresd\[notice\]: stubresd [0-9.]+ ready' \
    "$(cat "$(log_of ede)")" "stderr log lines start with a UTC timestamp"

assert_eq 10.0.0.1 "$($SR_DIG "www.$ZONE" +short)" "www cached (max_ttl 1)"
fakedns_mode up1 drop
sleep 1.5 # past the one-second TTL: the entry is stale
out=$($SR_DIG "www.$ZONE")
assert_match 'status: NOERROR' "$out" "upstream silent: the stale answer"
assert_match '^; EDE: 3 \(Stale Answer\)' "$out" "dig shows EDE 3 Stale Answer"
out=$($SR_DIG "mx.$ZONE" MX)
assert_match 'status: SERVFAIL' "$out" "upstream silent, nothing cached: SERVFAIL"
assert_match '^; EDE: 22 \(No Reachable Authority\)' "$out" "dig shows EDE 22 No Reachable Authority"
fakedns_mode up1 good
# A dead loopback port: over TCP the connection is refused at once.
DEAD=$(free_port)
$SR_CTL server "tcp://127.0.0.1:$DEAD" >/dev/null
out=$($SR_DIG "txt.$ZONE" TXT)
assert_match 'status: SERVFAIL' "$out" "upstream refuses the connection: SERVFAIL"
assert_match '^; EDE: 23 \(Network Error\)' "$out" "dig shows EDE 23 Network Error"
$SR_CTL server "udp://127.0.0.1:$DEAD" >/dev/null
out=$($SR_DIG "hinfo.$ZONE" HINFO)
assert_match 'status: SERVFAIL' "$out" "a dead loopback upstream: SERVFAIL"
assert_match '^; EDE: (22 \(No Reachable Authority\)|23 \(Network Error\))' "$out" \
    "a dead loopback upstream: dig shows why"
out=$($SR_DIG +noedns "hinfo.$ZONE" HINFO)
assert_no_match 'EDE' "$out" "no EDNS in the query: no EDE (RFC 8914 2)"

out=$(curl -s -i --max-time 5 -X POST --data x=1 "http://127.0.0.1:$MPORT/metrics" | tr -d '\r')
assert_match '^HTTP/1\.1 405 ' "$out" "POST /metrics: 405"
assert_match '^Allow: GET, HEAD$' "$out" "POST /metrics: Allow: GET, HEAD"
stop_stubresd ede

