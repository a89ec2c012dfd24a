#!/bin/bash
# test_daemon_redis.sh -- shared_cache: two stubresd sharing one
# redis-server (started here on loopback): a name asked of the first is
# answered by the second without an upstream query, a negative answer
# too; Redis killed: queries still answered, connected false; restarted:
# both reconnect; a "Redis" that accepts and never answers: queries
# answered, timeouts counted; poisoned, misplaced and truncated values
# written with redis-cli: ignored, counted, the right answer given; a
# password-protected Redis (requirepass) with the password in the URL,
# set at run time through the control socket, never shown back nor logged
# (kept in the state file); redis+unix:// with ?db=N;
# stubresd -t refuses a host name.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig curl redis-server redis-cli

start_fakedns up1
seen() { fakedns_stat up1 qnames "$1"; }

# start_redis NAME PORT [ARG...]: a redis-server that keeps nothing on disk.
start_redis() {
    local name=$1 port=$2
    shift 2
    start_bg "$name" redis-server --save '' --appendonly no --port "$port" --bind 127.0.0.1 \
        --dir "$T" "$@"
}
wait_redis() { # PORT [ARG...]: until it answers PING
    local port=$1 i
    shift
    for i in $(seq 1 $((IT_WAIT * 10))); do
        [ "$(redis-cli -p "$port" "$@" PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    fail "redis-server on port $port does not answer PING"
}
RP=$(free_port)
start_redis redis "$RP"
wait_redis "$RP"
rcli() { redis-cli -p "$RP" "$@"; }

# stat CTL KEY...: a value of that daemon's stats.
stat() {
    local ctl=$1
    shift
    $ctl --json stats >"$T/stats.json" || fail "stubresctl stats failed"
    json_get "$T/stats.json" "$@"
}
# wait_stat CTL VALUE KEY...: until the stat is VALUE (at most IT_WAIT s).
wait_stat() {
    local ctl=$1 want=$2 got="" i
    shift 2
    for i in $(seq 1 $((IT_WAIT * 10))); do
        got=$(stat "$ctl" "$@")
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    fail "stats $*: '$got', expected '$want'"
}
# wait_ge CTL MIN KEY...: until the stat is at least MIN.
wait_ge() {
    local ctl=$1 want=$2 got=0 i
    shift 2
    for i in $(seq 1 $((IT_WAIT * 10))); do
        got=$(stat "$ctl" "$@")
        [ "${got:-0}" -ge "$want" ] && return 0
        sleep 0.1
    done
    fail "stats $*: $got, expected at least $want"
}
# wait_key KEY: until Redis holds KEY.
wait_key() {
    local i
    for i in $(seq 1 $((IT_WAIT * 10))); do
        [ "$(rcli EXISTS "$1")" = 1 ] && return 0
        sleep 0.1
    done
    fail "Redis never got $1"
}

conf=("servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" "shared_cache = redis://127.0.0.1:$RP")
start_stubresd a "${conf[@]}"
A_DIG=$SR_DIG A_CTL=$SR_CTL
start_stubresd b "${conf[@]}"
B_DIG=$SR_DIG B_CTL=$SR_CTL
wait_stat "$A_CTL" true shared_cache connected
wait_stat "$B_CTL" true shared_cache connected
ok "both daemons are connected to Redis"

# --- a positive answer: asked of a, answered by b without the upstream ------
assert_eq 10.0.0.1 "$($A_DIG www.$ZONE A +short)" "a answers www.example.test"
assert_eq 1 "$(seen www.$ZONE.)" "the upstream saw it once"
wait_key "stubres:www.$ZONE.:A:IN"
ok "a stored it as stubres:www.$ZONE.:A:IN"
assert_match "stubres:www.$ZONE.:A:IN" "$(rcli --scan --pattern 'stubres:*')" \
    "redis-cli --scan --pattern 'stubres:*' finds it"
pttl=$(rcli PTTL "stubres:www.$ZONE.:A:IN")
[ "$pttl" -gt 0 ] && [ "$pttl" -le 300000 ] || fail "PTTL $pttl, expected 1..300000 ms"
ok "it expires with the answer's TTL ($pttl ms left)"
hits=$(stat "$B_CTL" shared_cache hits)
out=$($B_DIG WWW.$ZONE A +noall +answer)
assert_match "^WWW\.example\.test\.[[:space:]]+(29[0-9]|300)[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.0\.0\.1" \
    "$out" "b answers it, in the client's case, TTL counted down"
assert_eq 1 "$(seen www.$ZONE.)" "... and the upstream saw no second query"
assert_eq $((hits + 1)) "$(stat "$B_CTL" shared_cache hits)" "b counts a shared_cache hit"
assert_eq 10.0.0.1 "$($B_DIG www.$ZONE A +short)" "b's next answer ..."
assert_eq $((hits + 1)) "$(stat "$B_CTL" shared_cache hits)" \
    "... is a local hit: the Redis hit went into b's cache"

# --- a negative answer ---------------------------------------------------------
assert_match 'status: NXDOMAIN' "$($A_DIG nxdomain.$ZONE A)" "a: nxdomain.example.test is NXDOMAIN"
wait_key "stubres:nxdomain.$ZONE.:A:IN"
out=$($B_DIG nxdomain.$ZONE A)
assert_match 'status: NXDOMAIN' "$out" "b: NXDOMAIN too"
assert_match 'example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+SOA' "$out" \
    "... with the SOA in the authority section"
assert_eq 1 "$(seen nxdomain.$ZONE.)" "... and the upstream saw nxdomain.example.test once"

# --- values that are not answers: ignored, counted, the right answer given ----
errors=$(stat "$B_CTL" shared_cache errors)
rcli SET "stubres:a.$ZONE.:A:IN" "not a stubresd value" PX 60000 >/dev/null
before=$(seen a.$ZONE.)
assert_eq 10.0.0.1 "$($B_DIG a.$ZONE A +short)" "a poisoned value: b answers from the upstream"
assert_eq $((before + 1)) "$(seen a.$ZONE.)" "... which saw the query"
assert_eq $((errors + 1)) "$(stat "$B_CTL" shared_cache errors)" "... and the value counts as an error"
# A good value under another question's key: www's answer for aaaa.
rcli EVAL "return redis.call('SET', KEYS[2], redis.call('GET', KEYS[1]), 'PX', 60000)" 2 \
    "stubres:www.$ZONE.:A:IN" "stubres:aaaa.$ZONE.:AAAA:IN" >/dev/null
assert_eq 2001:db8::1 "$($B_DIG aaaa.$ZONE AAAA +short)" \
    "another question's value under aaaa's key: the right answer"
assert_eq $((errors + 2)) "$(stat "$B_CTL" shared_cache errors)" "... and an error counted"
# Truncated: the first 40 bytes of a good value.
rcli EVAL "return redis.call('SET', KEYS[2], string.sub(redis.call('GET', KEYS[1]), 1, 40), 'PX', 60000)" 2 \
    "stubres:www.$ZONE.:A:IN" "stubres:ns1.$ZONE.:A:IN" >/dev/null
assert_eq 127.0.0.1 "$($B_DIG ns1.$ZONE A +short)" "a truncated value: the right answer"
assert_eq $((errors + 3)) "$(stat "$B_CTL" shared_cache errors)" "... and an error counted"
assert_eq 0 "$(stat "$B_CTL" shared_cache timeouts)" "no timeouts so far"

# --- Redis killed under the daemons, then restarted ---------------------------
stop_bg redis
wait_stat "$A_CTL" false shared_cache connected
ok "Redis killed: a says connected: false"
before=$(seen txt.$ZONE.)
assert_match 'v=spf1' "$($A_DIG txt.$ZONE TXT +short)" "queries are still answered"
assert_eq $((before + 1)) "$(seen txt.$ZONE.)" "... by the upstream"
start_redis redis "$RP"
wait_redis "$RP"
wait_stat "$A_CTL" true shared_cache connected
wait_stat "$B_CTL" true shared_cache connected
ok "Redis restarted: both reconnect"
assert_eq 10.0.0.1 "$($A_DIG cname.$ZONE A +short | tail -1)" "a asks a new name ..."
wait_key "stubres:cname.$ZONE.:A:IN"
ok "... and stores it in the new Redis"
stop_stubresd a
stop_stubresd b

# --- a Redis that accepts and never answers -----------------------------------
SP=$(free_port)
start_bg silent "$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
print("silent: ready", flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # read nothing, answer nothing
' "$SP"
wait_log silent '^silent: ready'
start_stubresd c "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" \
    "shared_cache = redis://127.0.0.1:$SP" "shared_cache_timeout = 0.05"
before=$(seen mx.$ZONE.)
assert_match '^10 mail\.example\.test\.' "$($SR_DIG mx.$ZONE MX +short | sort | head -1)" \
    "a silent Redis: the query is answered"
assert_eq $((before + 1)) "$(seen mx.$ZONE.)" "... by the upstream"
# The connection never gets its PING answered: a timeout, and Redis is
# skipped (no wait) until a reconnect works.
wait_ge "$SR_CTL" 1 shared_cache timeouts
ok "... and the silent Redis counts as timeouts ($(stat "$SR_CTL" shared_cache timeouts))"
assert_eq false "$(stat "$SR_CTL" shared_cache connected)" "connected: false"
assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "the next query is answered too"

# --- requirepass, the password in the URL, set through the control socket ----
PP=$(free_port)
PW='p@ss w0rd'
start_redis locked "$PP" --requirepass "$PW"
wait_redis "$PP" --no-auth-warning -a "$PW"
$SR_CTL config "shared_cache=redis://:wrong@127.0.0.1:$PP" >/dev/null
errors=$(stat "$SR_CTL" shared_cache errors)
wait_ge "$SR_CTL" $((errors + 1)) shared_cache errors
assert_eq false "$(stat "$SR_CTL" shared_cache connected)" "a wrong password: not connected"
assert_eq 2001:db8::1 "$($SR_DIG www.$ZONE AAAA +short)" "... and queries answered"
$SR_CTL config "shared_cache=redis://:p%40ss%20w0rd@127.0.0.1:$PP/5" >/dev/null
wait_stat "$SR_CTL" true shared_cache connected
ok "the password (%40, %20 escaped) in the URL: connected"
assert_eq 127.0.0.1 "$($SR_DIG ns2.$ZONE A +short)" "a query ..."
for _ in $(seq 1 $((IT_WAIT * 10))); do
    [ "$(redis-cli -p "$PP" --no-auth-warning -a "$PW" -n 5 EXISTS "stubres:ns2.$ZONE.:A:IN")" = 1 ] &&
        break
    sleep 0.1
done
assert_eq 1 "$(redis-cli -p "$PP" --no-auth-warning -a "$PW" -n 5 EXISTS "stubres:ns2.$ZONE.:A:IN")" \
    "... is stored in database 5 of the locked Redis"
# The password is never shown back nor logged ('w0rd' is in it, escaped or
# not); the state file keeps it, so a restart connects again.
shown='redis://:\*\*\*\*\*@127\.0\.0\.1'":$PP/5"
out=$($SR_CTL config shared_cache)
assert_match "^$shown\$" "$out" "stubresctl config shared_cache shows the URL ..."
assert_no_match 'w0rd' "$out" "... without the password"
assert_match "\"value\": *\"$shown\"" "$($SR_CTL --json config shared_cache)" \
    "... the JSON read-back too"
out=$($SR_CTL config)
assert_match "^shared_cache *= $shown " "$out" "stubresctl config lists it ..."
assert_no_match 'w0rd' "$out" "... without the password"
assert_no_match 'w0rd' "$($SR_CTL status)" "stubresctl status (overrides): no password"
out=$($SR_CTL config "shared_cache=redis://:p%40ss%20w0rd@cache.example:$PP" 2>&1 || true)
assert_match 'bad value' "$out" "a host name is refused ..."
assert_no_match 'w0rd' "$out" "... and the error does not echo the password"
grep -qF "p%40ss%20w0rd@127.0.0.1:$PP/5" "$SR_STATE" || fail "the state file lost the password"
stop_stubresd c
start_stubresd c
wait_stat "$SR_CTL" true shared_cache connected
ok "restarted: the state file's URL (with its password) connects again"
assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "... a query ..."
for _ in $(seq 1 $((IT_WAIT * 10))); do
    [ "$(redis-cli -p "$PP" --no-auth-warning -a "$PW" -n 5 EXISTS "stubres:a.$ZONE.:A:IN")" = 1 ] &&
        break
    sleep 0.1
done
assert_eq 1 "$(redis-cli -p "$PP" --no-auth-warning -a "$PW" -n 5 EXISTS "stubres:a.$ZONE.:A:IN")" \
    "... goes through the locked Redis"
assert_no_match 'w0rd|wrong@' "$(cat "$(log_of c)")" "the daemon's log never has a password"
stop_stubresd c

# --- redis+unix:// with ?db=N --------------------------------------------------
start_redis unixredis 0 --unixsocket "$T/redis.sock" --unixsocketperm 700
for _ in $(seq 1 $((IT_WAIT * 10))); do
    [ -S "$T/redis.sock" ] && break
    sleep 0.1
done
MP=$(free_port)
start_stubresd d "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" \
    "shared_cache = redis+unix://$T/redis.sock?db=3" "metrics = 127.0.0.1:$MP"
wait_stat "$SR_CTL" true shared_cache connected
ok "redis+unix://: connected"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "a query"
for _ in $(seq 1 $((IT_WAIT * 10))); do
    [ "$(redis-cli -s "$T/redis.sock" -n 3 EXISTS "stubres:www.$ZONE.:A:IN")" = 1 ] && break
    sleep 0.1
done
assert_eq 1 "$(redis-cli -s "$T/redis.sock" -n 3 EXISTS "stubres:www.$ZONE.:A:IN")" \
    "... is stored in database 3 behind the socket"
assert_match 'shared_cache:' "$($SR_CTL stats)" "stubresctl stats shows the shared_cache counters"
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$MP/metrics")
assert_match 'stubresd_shared_cache_connected 1' "$metrics" "/metrics: stubresd_shared_cache_connected 1"
assert_match 'stubresd_shared_cache_stores_total [1-9]' "$metrics" \
    "/metrics: stubresd_shared_cache_stores_total counts the stores"
stop_stubresd d

# --- stubresd -t: a host name (a lookup through itself) is refused -------------
write_stubresd_conf bad "$(free_port)" "shared_cache = redis://redis.example.net:6379"
if "$STUBRESD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1; then
    fail "stubresd -t accepts shared_cache = redis://redis.example.net:6379"
fi
assert_match 'shared_cache' "$(cat "$T/bad.out")" "stubresd -t refuses a host name and says which key"
