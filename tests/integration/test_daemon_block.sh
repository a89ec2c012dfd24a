#!/bin/bash
# test_daemon_block.sh -- block lists: the three line formats, a listed
# name blocking itself and every name below it (not its neighbours), each
# block_answer as dig sees it with the client's case echoed, `block check`
# naming FILE:LINE, `block add` / `block remove` kept across a restart, a
# reload that keeps the old list when a list became unreadable, CNAME
# cloaking through an upstream chain, the stats and query log, and no
# cached answer outliving a change of the lists that blocks its name.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1

LIST1=$T/hosts-format.txt
LIST2=$T/mixed.txt
cat >"$LIST1" <<'LISTEOF'
# a hosts-format list, as StevenBlack's
127.0.0.1 localhost
255.255.255.255 broadcasthost
::1 localhost
0.0.0.0 0.0.0.0
0.0.0.0 ads.example.test
0.0.0.0 Tracker.Example.Test  # a comment after the name
LISTEOF
cat >"$LIST2" <<'LISTEOF'
! an adblock-style list
||adblock.example.test^
plain.example.test
this line is not a rule
chain3.example.test
LISTEOF

start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "block = $LIST1, $LIST2" \
    "query_log = $T/sr.queries"

# --- formats, suffixes, label boundaries, case --------------------------------
assert_eq 0.0.0.0 "$($SR_DIG ads.example.test A +short)" "hosts-format line: A is 0.0.0.0"
assert_eq :: "$($SR_DIG ads.example.test AAAA +short)" "hosts-format line: AAAA is ::"
assert_eq 0.0.0.0 "$($SR_DIG deep.below.ADS.example.test A +short)" "a name below a listed one"
assert_eq 0.0.0.0 "$($SR_DIG tracker.example.test A +short)" "listed in mixed case"
assert_eq 0.0.0.0 "$($SR_DIG x.adblock.example.test A +short)" "adblock rule ||NAME^"
assert_eq 0.0.0.0 "$($SR_DIG plain.example.test A +short)" "a bare name"
assert_eq 10.0.0.1 "$($SR_DIG www.example.test A +short)" "an unlisted name resolves"
out=$($SR_DIG notads.example.test A)
assert_no_match '0\.0\.0\.0' "$out" "notads.example.test is not below ads.example.test"
assert_eq 0 "$(fakedns_stat up1 qnames ads.example.test.)" "a blocked name never reaches the upstream"
out=$($SR_DIG AdS.ExAmPlE.tEsT A +noall +question +answer)
assert_match '^;AdS\.ExAmPlE\.tEsT\.[[:space:]]+IN[[:space:]]+A$' "$out" "the question's case is echoed"
assert_match '^AdS\.ExAmPlE\.tEsT\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+0\.0\.0\.0$' \
    "$out" "the answer carries the client's case"
out=$($SR_DIG ads.example.test MX)
assert_match 'status: NOERROR' "$out" "null: another type gets NOERROR"
assert_match 'ANSWER: 0,' "$out" "null: ... with no answer (NODATA)"
assert_match "$LIST2:4: not a domain name" "$(cat "$(log_of sr)")" "a bad line is logged with file:line"
assert_no_match "localhost|broadcasthost" "$(grep -i warn "$(log_of sr)" || true)" \
    "a hosts file's own entries are no bad lines"

# --- block check ------------------------------------------------------------------
$SR_CTL --json block check deep.ads.example.test >"$T/c.json"
assert_eq "true $LIST1:6" "$(json_get "$T/c.json" blocked) $(json_get "$T/c.json" by)" \
    "block check names the file and line"
$SR_CTL --json block check chain3.example.test >"$T/c.json"
assert_eq "$LIST2:5" "$(json_get "$T/c.json" by)" "block check: the second list's line"
$SR_CTL --json block check www.example.test >"$T/c.json"
assert_eq false "$(json_get "$T/c.json" blocked)" "block check: not blocked"
$SR_CTL --json block >"$T/b.json"
assert_eq "$LIST1 2 $LIST2 3" "$(json_get "$T/b.json" lists 0 file) $(json_get "$T/b.json" lists 0 names) $(json_get "$T/b.json" lists 1 file) $(json_get "$T/b.json" lists 1 names)" \
    "block lists the files and their names"
assert_match "^$LIST1: 2 names$" "$($SR_CTL block)" "block for a person: each list"
assert_eq "x.ads.example.test is blocked by $LIST1:6" "$($SR_CTL block check x.ads.example.test)" \
    "block check for a person"

# --- CNAME cloaking ------------------------------------------------------------------
# chain1 -> chain2 -> chain3 (listed) -> www: the upstream answers, the
# client gets the blocked answer, and it is not cached as a normal one.
assert_eq 0.0.0.0 "$($SR_DIG chain1.example.test A +short)" "CNAME cloaking: a chain through a listed name is blocked"
assert_eq 0.0.0.0 "$($SR_DIG chain1.example.test A +short)" "CNAME cloaking: ... the second time too"
assert_eq 2 "$(fakedns_stat up1 qnames chain1.example.test.)" "CNAME cloaking: the answer was not cached"
$SR_CTL cache dump >"$T/dump.txt"
assert_no_match '^chain1' "$(cat "$T/dump.txt")" "CNAME cloaking: no cache entry for chain1"

# --- stats and query log ---------------------------------------------------------------
# 8 blocked names above, and the 2 cloaked answers.
assert_eq 10 "$(sr_stat local blocked)" "stats: local.blocked counts every blocked answer"
assert_match ' ads\.example\.test A IN NOERROR udp blocked ' "$(cat "$T/sr.queries")" "query log: source blocked"

# --- block add / remove, kept across a restart ----------------------------------------
$SR_CTL block add Extra.Example.Test >/dev/null
assert_eq 0.0.0.0 "$($SR_DIG www.extra.example.test A +short)" "block add blocks the name and below"
$SR_CTL --json block check www.extra.example.test >"$T/c.json"
assert_eq "block add" "$(json_get "$T/c.json" by)" "block check: by block add"
stop_stubresd sr
start_stubresd sr
assert_eq 0.0.0.0 "$($SR_DIG extra.example.test A +short)" "block add survives a restart (state file)"
$SR_CTL --json block >"$T/b.json"
assert_eq Extra.Example.Test "$(json_get "$T/b.json" added 0)" "block shows the added name"
$SR_CTL block remove extra.example.test >/dev/null
assert_eq 10.0.0.1 "$($SR_DIG www.example.test A +short)" "sanity"
out=$($SR_DIG extra.example.test A +short)
assert_no_match '0\.0\.0\.0' "$out" "block remove unblocks"
if $SR_CTL block remove ads.example.test >"$T/err.txt" 2>&1; then
    fail "block remove of a name from a list succeeded"
fi
assert_match 'not added by block add' "$(cat "$T/err.txt")" "block remove: only names of block add"

# --- each block_answer ---------------------------------------------------------------------
$SR_CTL config block_answer=nxdomain >/dev/null
assert_match 'status: NXDOMAIN' "$($SR_DIG ads.example.test A)" "block_answer = nxdomain"
$SR_CTL config block_answer=refused >/dev/null
assert_match 'status: REFUSED' "$($SR_DIG ads.example.test A)" "block_answer = refused"
$SR_CTL config reset block_answer >/dev/null
assert_eq 0.0.0.0 "$($SR_DIG ads.example.test A +short)" "block_answer back to null"

# --- reload: the lists are re-read; an unreadable list keeps the old ones ---------------
echo "0.0.0.0 new.example.test" >>"$LIST1"
$SR_CTL reload >/dev/null
wait_log sr 'block lists: 6 names from 2 files'
assert_eq 0.0.0.0 "$($SR_DIG new.example.test A +short)" "reload re-reads the lists"
mv "$LIST2" "$LIST2.gone"
$SR_CTL reload >/dev/null
wait_log sr "block lists not reloaded: $LIST2: No such file or directory"
assert_eq 0.0.0.0 "$($SR_DIG plain.example.test A +short)" "an unreadable list keeps the old lists in force"
assert_eq 0.0.0.0 "$($SR_DIG new.example.test A +short)" "... all of them"
# --- a change of the lists drops the cached answers it blocks --------------------------
# The lists are looked at only when the cache misses: a name cached before
# it was listed must be answered as blocked from the change on.
mv "$LIST2.gone" "$LIST2"
for pair in mail.example.test=10.0.0.25 a.example.test=10.0.0.1; do
    name=${pair%%=*}
    assert_eq "${pair#*=}" "$($SR_DIG $name A +short)" "$name resolves"
    assert_eq "${pair#*=}" "$($SR_DIG $name A +short)" "$name resolves again"
    assert_eq 1 "$(fakedns_stat up1 qnames $name.)" "$name is answered from the cache"
done
$SR_CTL block add mail.example.test >/dev/null
assert_eq 0.0.0.0 "$($SR_DIG mail.example.test A +short)" "block add: a cached name is blocked"
echo "0.0.0.0 a.example.test" >>"$LIST1"
$SR_CTL reload >/dev/null
wait_log sr 'block lists: 7 names from 2 files'
assert_eq 0.0.0.0 "$($SR_DIG a.example.test A +short)" \
    "a reloaded list newly naming a cached name: it is blocked"
assert_eq 10.0.0.1 "$($SR_DIG www.example.test A +short)" "an unlisted name still resolves"
stop_stubresd sr
