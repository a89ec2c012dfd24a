#!/bin/bash
# test_daemon_cachefile.sh -- cache_file: a name answered, SIGTERM, a
# restart with the same cache_file answers it from the cache (the upstream
# sees no new query, the TTL has gone down); the file is mode 0600;
# `stubresctl cache save` writes it; `cache flush` empties it at the next
# save; cache_save_interval saves it; a corrupt or truncated file starts
# with a warning and an empty cache; with serve_stale an entry that expired
# while stubresd was down answers stale (EDE 3) when the upstream is dead,
# without serve_stale that query gets SERVFAIL.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
CF=$T/sr.cache
conf=("servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" "cache_file = $CF")
start_stubresd sr "${conf[@]}"
seen() { fakedns_stat up1 qnames "$1"; }
ttl_of() { $SR_DIG "$1" "${2:-A}" +noall +answer | awk 'NR == 1 { print $2 }'; }

# --- saved at SIGTERM, read back at start ------------------------------------
assert_eq 300 "$(ttl_of www.$ZONE)" "first answer: the zone's TTL (300)"
assert_eq 1 "$(seen www.$ZONE.)" "the upstream saw www.example.test once"
stop_stubresd sr
[ -f "$CF" ] || fail "no cache file after SIGTERM"
ok "SIGTERM wrote $CF"
assert_eq 600 "$(stat -c %a "$CF")" "the cache file is mode 0600"
sleep 1.1
start_stubresd sr
assert_match 'cache_file .*: [1-9][0-9]* entries read back in [0-9]+ ms' "$(cat "$(log_of sr)")" \
    "the restart read it back"
t=$(ttl_of www.$ZONE)
[ -n "$t" ] && [ "$t" -lt 300 ] && [ "$t" -ge 280 ] || fail "TTL after restart '$t', expected 280..299"
ok "after the restart the answer's TTL went on counting down ($t)"
assert_eq 1 "$(seen www.$ZONE.)" "... and it came from the cache: the upstream saw no new query"
[ "$(sr_stat cache_file loaded)" -ge 1 ] || fail "stats: cache_file.loaded < 1"
ok "stats: cache_file.loaded counts the entries read back"

# --- stubresctl cache save; cache flush empties the file at the next save ----
rm -f "$CF"
$SR_DIG a.$ZONE A +short >/dev/null
out=$($SR_CTL cache save)
assert_match '^[1-9][0-9]* entries saved to ' "$out" "cache save: the entries"
[ -f "$CF" ] || fail "cache save wrote no file"
assert_eq 600 "$(stat -c %a "$CF")" "cache save: mode 0600"
size_full=$(stat -c %s "$CF")
$SR_CTL cache flush >/dev/null
assert_match '^0 entries saved to ' "$($SR_CTL cache save)" "after cache flush: 0 entries saved"
size_empty=$(stat -c %s "$CF")
[ "$size_empty" -lt "$size_full" ] || fail "the file did not shrink ($size_full -> $size_empty)"
ok "the flushed cache's file holds nothing ($size_full -> $size_empty bytes)"
stop_stubresd sr

# --- every cache_save_interval seconds ----------------------------------------
start_stubresd sr "${conf[@]}" "cache_save_interval = 1"
rm -f "$CF"
$SR_DIG www.$ZONE A +short >/dev/null
for _ in $(seq 1 50); do
    [ -f "$CF" ] && break
    sleep 0.2
done
[ -f "$CF" ] || fail "cache_save_interval = 1: no file within 10 s"
ok "cache_save_interval = 1: the timed save wrote the file"
assert_eq 600 "$(stat -c %a "$CF")" "the timed save: mode 0600"
stop_stubresd sr

# --- a corrupt file: a warning, an empty cache, answering as usual -----------
head -c 100 /dev/urandom >"$CF"
before=$(seen www.$ZONE.)
start_stubresd sr "${conf[@]}"
assert_match 'cache_file .*not a stubresd cache file; starting with an empty cache' \
    "$(cat "$(log_of sr)")" "a corrupt file is a warning"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "and stubresd answers"
assert_eq $((before + 1)) "$(seen www.$ZONE.)" "from the upstream: the cache started empty"
# Truncated: the header says more than is there.
stop_stubresd sr
head -c 60 "$CF" >"$CF.cut" && mv "$CF.cut" "$CF"
start_stubresd sr
assert_match 'cache_file .*truncated' "$(cat "$(log_of sr)")" "a truncated file is a warning"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "and stubresd answers"
stop_stubresd sr

# --- serve_stale: an entry that expired while stubresd was down --------------
# ttl3 (TTL 3 s) saved while fresh; the restart comes after it expired and
# with an upstream that answers nothing (a port where nothing listens).
DEAD=$(free_port)
stale_conf=("servers = udp://127.0.0.1:$DEAD" "timeout = 0.5" "cache_file = $CF")
start_stubresd sr "${conf[@]}" "serve_stale = true"
assert_eq 10.0.0.3 "$($SR_DIG ttl3.$ZONE A +short)" "ttl3 answered and cached"
assert_match '^[1-9][0-9]* entries saved to ' "$($SR_CTL cache save)" "cache save with ttl3 fresh"
stop_stubresd sr
cp "$CF" "$CF.saved"
sleep 4
start_stubresd sr "${stale_conf[@]}" "serve_stale = true"
out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$SR_PORT" ttl3.$ZONE A +noall +comments +answer)
assert_match 'ttl3\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.0\.0\.3' "$out" \
    "serve_stale: the entry read back after it expired answers stale (TTL 30) with the upstream dead"
assert_match 'EDE: 3' "$out" "... with EDE 3 (Stale Answer)"
stop_stubresd sr
cp "$CF.saved" "$CF"
start_stubresd sr "${stale_conf[@]}"
out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$SR_PORT" ttl3.$ZONE A)
assert_match 'status: SERVFAIL' "$out" "without serve_stale the expired entry is not used: SERVFAIL"
stop_stubresd sr

echo "all ok"
