#!/bin/bash
# test_daemon_state.sh -- run-time changes against an edited config file:
# the config file wins when the key it overrode was edited (at start and at
# reload), with one log line saying so; a plaintext upstream set at run
# time never outlives a config file changed to DoT; a state file of another
# config file or an older stubresd is not applied; `config reset [NAME]`
# and the overrides listed by `status`; a change the daemon refuses is
# never written; a state file that cannot be written leaves the change in
# force, with "persisted": false.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1 # the DoT upstream the config file names in the end
start_fakedns up2 # the plaintext one set at run time

queries_of() { # NAME PROTO: queries NAME received over PROTO
    fakedns_stat "$1" queries "$2"
}

# --- 1. the downgrade of the report -------------------------------------------------
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "ca_file = $CA_FILE" "timeout = 2"
out=$($SR_CTL server "udp://127.0.0.1:$UP2_PORT")
assert_match "udp://127.0.0.1:$UP2_PORT" "$out" "server: a plaintext upstream at run time"
assert_match "^servers = udp://127.0.0.1:$UP2_PORT\$" "$(cat "$SR_STATE")" "the change is in the state file"
assert_match "^servers.file = udp://127.0.0.1:$UP1_PORT\$" "$(cat "$SR_STATE")" \
    "with the config file's value it replaced"
out=$($SR_CTL --json status)
assert_match "\"overrides\":\\[\\{\"key\":\"servers\",\"value\":\"udp://127.0.0.1:$UP2_PORT\",\"file_value\":\"udp://127.0.0.1:$UP1_PORT\",\"since\":\"20[0-9-]+T[0-9:]+Z\"\\}\\]" \
    "$out" "status --json lists the override: key, value, the file's value, since when"
out=$($SR_CTL status)
assert_match "^  servers = udp://127.0.0.1:$UP2_PORT\$" "$out" "status for a person lists it too"
stop_stubresd sr

# The operator edits the config file to DoT and starts again.
sed -i "s|^servers = .*|servers = tls://127.0.0.1:$UP1_TLS_PORT#$TLS_NAME|" "$SR_CONF"
fakedns_reset up1
fakedns_reset up2
start_stubresd sr
out=$($SR_DIG www.$ZONE A +short)
assert_eq 10.0.0.1 "$out" "after the edit: answered"
assert_eq 0 "$(queries_of up2 udp)" "the old plaintext upstream got no query"
assert_eq 0 "$(queries_of up1 udp)" "no plaintext query to the DoT server's host either"
[ "$(queries_of up1 tls)" -ge 1 ] || fail "the query did not go over DoT"
ok "the query went over DoT, as the config file says"
assert_match "dropped the run-time change servers = udp://127.0.0.1:$UP2_PORT: servers in [^ ]+ is now 'tls://127.0.0.1:$UP1_TLS_PORT#$TLS_NAME'" \
    "$(cat "$(log_of sr)")" "one log line says the file won, and why"
assert_match '"encrypted":true' "$($SR_CTL --json status)" "status: encrypted upstreams only"
assert_match '"overrides":\[\]' "$($SR_CTL --json status)" "status: no override left"
if grep -q "^servers" "$SR_STATE"; then fail "the dropped change is still in the state file"; fi
ok "the dropped change left the state file"

# --- 2. reload: strategy=fastest, then the file says round-robin --------------------
$SR_CTL config strategy=fastest >/dev/null
assert_eq fastest "$($SR_CTL config strategy)" "config strategy=fastest"
$SR_CTL reload >/dev/null
assert_eq fastest "$($SR_CTL config strategy)" "a reload of an unchanged file keeps the run-time change"
echo "strategy = round-robin" >>"$SR_CONF"
$SR_CTL reload >/dev/null
assert_eq round-robin "$($SR_CTL config strategy)" "after the file changed strategy, reload: the file wins"
assert_match "dropped the run-time change strategy = fastest: strategy in [^ ]+ is now 'round-robin', was 'failover'" \
    "$(cat "$(log_of sr)")" "and the log says so"

# --- 3. config reset ----------------------------------------------------------------
$SR_CTL config timeout=3 >/dev/null
$SR_CTL config min_ttl=5 >/dev/null
out=$($SR_CTL --json status)
assert_match '"key":"timeout","value":"3","file_value":"2"' "$out" "status: the timeout override"
out=$($SR_CTL config reset timeout)
assert_eq "timeout: back to the config file's value" "$out" "config reset timeout, for a person"
assert_eq 2 "$($SR_CTL config timeout)" "timeout is the file's 2 again"
assert_eq 5 "$($SR_CTL config min_ttl)" "min_ttl stays changed"
out=$($SR_CTL --json config reset)
assert_eq '{"ok":true,"reset":["min_ttl"]}' "$out" "config reset (all) --json"
assert_eq 0 "$($SR_CTL config min_ttl)" "min_ttl is the file's again"
assert_match '"overrides":\[\]' "$($SR_CTL --json status)" "no overrides after reset"
assert_eq "no run-time changes are in force" "$($SR_CTL config reset)" "reset with nothing to reset"
rc=0
$SR_CTL config reset bogus 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "config reset of an unknown setting fails"
assert_match "unknown setting 'bogus'" "$(cat "$T/err")" "and says which"

# --- 4. a refused change is never written -------------------------------------------
cp "$SR_STATE" "$T/state.before"
rc=0
$SR_CTL config query_log="$T/no-such-dir/q.log" 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "a query_log the daemon cannot open is refused"
cmp -s "$SR_STATE" "$T/state.before" || fail "the refused query_log reached the state file"
ok "the refused query_log is not in the state file"
stop_stubresd sr
start_stubresd sr
ok "and the next start is not blocked by it"

# --- 5. a state file that cannot be written -------------------------------------------
stop_stubresd sr
if [ "$(id -u)" -eq 0 ]; then
    # root writes anywhere: make the state file's place a file, not a dir.
    sed -i "s|^state_file = .*|state_file = $T/not-a-dir/sr.state|" "$SR_CONF"
    : >"$T/not-a-dir"
else
    chmod a-w "$T"
fi
start_stubresd sr
out=$($SR_CTL --json config timeout=4 2>"$T/err")
assert_match '"ok":true' "$out" "a change with an unwritable state file still applies"
assert_match '"persisted":false' "$out" "and the reply says it is not persisted"
assert_match '"warning":"state_file: cannot write' "$out" "with the reason"
assert_eq 4 "$($SR_CTL config timeout)" "timeout 4 is in force"
$SR_CTL config timeout=5 >/dev/null 2>"$T/err"
assert_match 'warning: not kept for the next start' "$(cat "$T/err")" "stubresctl warns a person"
[ "$(id -u)" -eq 0 ] || chmod u+w "$T"
stop_stubresd sr

# --- 6. a state file of another config file, or of an older stubresd ----------------------
cat >"$T/sr.state" <<EOF
servers = udp://127.0.0.1:$UP2_PORT
timeout = 7
EOF
sed -i "s|^state_file = .*|state_file = $T/sr.state|" "$SR_CONF"
start_stubresd sr
assert_eq 2 "$($SR_CTL config timeout)" "an older stubresd's state file is not applied"
assert_match "dropped the run-time change timeout = 7: it was written by an older stubresd" \
    "$(cat "$(log_of sr)")" "the log says why"
$SR_CTL config timeout=3 >/dev/null
stop_stubresd sr
cp "$SR_CONF" "$T/other.conf"
start_bg sr-other "$STUBRESD" -f -c "$T/other.conf"
for _ in $(seq 1 50); do [ -S "$SR_SOCK" ] && break; sleep 0.1; done
assert_eq 2 "$($SR_CTL config timeout)" "the state of another config file is not applied"
assert_match "dropped the run-time change timeout = 3: it was set for the config file [^ ]*/sr.conf, not [^ ]*/other.conf" \
    "$(cat "$(log_of sr-other)")" "the log names both files"
stop_stubresd sr-other
