#!/bin/bash
# test_daemon_guard.sh -- the poisoning defences towards udp:// upstreams,
# against fakedns: DNS Cookies (RFC 7873) with a server that does them
# (client cookie sent, server cookie learned and sent back, forgeries with
# a wrong cookie or none dropped), with one that does not (still served);
# 0x20 (the question in random case, the client's case echoed, a server
# that lowercases questions still served and, after three queries in a
# row, asked without 0x20); both counted in stats and metrics; both keys
# off at run time.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig curl

start_fakedns up1 --mode cookie
start_fakedns up2
MPORT=$(free_port)
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" "metrics = 127.0.0.1:$MPORT"

ustat() { sr_stat upstreams 0 "$1"; }

# --- cookies: a server that does them -------------------------------------------
# (start_stubresd's readiness probe was the first query through it.)
assert_eq 1 "$(fakedns_stat up1 cookies client_only)" "the first query carries a client cookie only (RFC 7873 5.1)"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "an answer through a cookie-speaking upstream"
assert_eq 1 "$(fakedns_stat up1 cookies with_server_cookie)" "the next one sends the server cookie back (RFC 7873 5.1)"
assert_eq 10.0.0.25 "$($SR_DIG mail.$ZONE A +short)" "a third answer"
assert_eq 2 "$(fakedns_stat up1 cookies with_server_cookie)" "... with the server cookie again"
assert_eq 1 "$(fakedns_stat up1 cookies client_only)" "... and never without it again"
assert_eq 3 "$(ustat cookies)" "stats: three answers with a valid server cookie"
assert_eq 0 "$(ustat cookie_mismatches)" "stats: no cookie mismatch yet"

# Forgeries with the right ID, port and question: one with another client
# cookie, one with none (the server does cookies, so none is a forgery too).
fakedns_mode up1 wrongcookie
assert_eq 10.0.0.26 "$($SR_DIG mail2.$ZONE A +short)" "forged replies with a wrong or no cookie are not believed; the real answer is"
assert_eq 2 "$(ustat cookie_mismatches)" "stats: both forgeries counted as cookie mismatches (RFC 7873 5.3)"
assert_no_match '10\.66\.66\.66' "$($SR_CTL --json cache dump)" "cache dump: the forged address is nowhere"
assert_eq 1 "$(fakedns_stat up1 modes wrongcookie)" "one upstream query (no retry was needed)"
out=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics")
assert_match "^stubresd_upstream_cookie_mismatches_total\\{server=\"udp://127.0.0.1:$UP1_PORT\"\\} 2\$" "$out" "metrics: the cookie mismatches"
assert_match "^stubresd_upstream_cookies_total\\{server=\"udp://127.0.0.1:$UP1_PORT\"\\} 4\$" "$out" "metrics: four answers with a server cookie"

# --- 0x20 -----------------------------------------------------------------------
fakedns_mode up1 cookie
fakedns_reset up1
out=$($SR_DIG WwW.ExAmPlE.tEsT AAAA +noall +question +answer)
assert_match '^;WwW\.ExAmPlE\.tEsT\.[[:space:]]+IN[[:space:]]+AAAA$' "$out" "the client's case is echoed in the question"
assert_match '2001:db8::1$' "$out" "... with the answer"
assert_eq 1 "$(fakedns_stat up1 case mixed)" "the upstream saw the question in random case (0x20)"
assert_eq 0 "$(ustat case_mismatches)" "stats: no case mismatch from a server that preserves case"

# A server that lowercases questions: each query is asked again in the
# client's case (answered, not failed); after three in a row, never again.
fakedns_mode up1 lowercase
assert_eq 10.0.0.27 "$($SR_DIG mailhost.$ZONE A +short)" "lowercasing server: answered after the fallback"
assert_eq 10.0.0.53 "$($SR_DIG sip.$ZONE A +short)" "... again"
assert_eq 2 "$(ustat case_fallbacks)" "stats: two queries asked again without 0x20"
assert_eq 10.0.1.1 "$($SR_DIG big.$ZONE A +short | sort | head -1)" "... a third time"
assert_eq 3 "$(ustat case_mismatches)" "stats: three replies in another case dropped"
fakedns_reset up1
assert_eq 127.0.0.1 "$($SR_DIG ns1.$ZONE A +short)" "after three, asked in the client's case at once"
assert_eq 0 "$(fakedns_stat up1 case mixed)" "0x20 is off for that upstream: no random case"
assert_eq 1 "$(fakedns_stat up1 queries udp)" "one query, no fallback any more"
assert_eq 3 "$(ustat case_fallbacks)" "stats: no new fallback"

out=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics")
assert_match "^stubresd_upstream_case_fallbacks_total\\{server=\"udp://127.0.0.1:$UP1_PORT\"\\} 3\$" "$out" "metrics: the 0x20 fallbacks"
stop_stubresd sr

# --- an upstream without cookies, and both keys off -----------------------------
start_stubresd sr2 "servers = udp://127.0.0.1:$UP2_PORT" "timeout = 1"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "an upstream that does not do cookies is served"
assert_eq 10.0.0.25 "$($SR_DIG mail.$ZONE A +short)" "... again"
assert_eq 3 "$(fakedns_stat up2 cookies client_only)" "it keeps getting the client cookie (RFC 7873 5.1; the readiness probe was the first)"
assert_eq 0 "$(ustat cookies)" "stats: no server cookie"
assert_eq 0 "$(ustat cookie_mismatches)" "stats: cookie-less answers are not mismatches from such a server"
$SR_CTL config cookies=false >/dev/null
$SR_CTL config case_randomization=false >/dev/null
fakedns_reset up2
assert_eq 10.0.0.26 "$($SR_DIG mail2.$ZONE A +short)" "answered with cookies and 0x20 off"
assert_eq 1 "$(fakedns_stat up2 cookies none)" "cookies = false: no COOKIE option"
assert_eq 1 "$(fakedns_stat up2 case lower)" "case_randomization = false: the question as the client wrote it"
stop_stubresd sr2
