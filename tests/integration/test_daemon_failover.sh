#!/bin/bash
# test_daemon_failover.sh -- stubresd's upstream pool against failing
# upstreams (fakedns): a timeout, SERVFAIL, REFUSED or garbage from one
# upstream is retried on the next before the client gets its answer; a
# failed upstream is marked down and left alone while its backoff runs;
# it is used again once it answers (a mode change, and a real restart of
# the process); when every upstream fails the client gets SERVFAIL;
# round-robin spreads the queries; fastest prefers the fast one.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
start_fakedns up2
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT, udp://127.0.0.1:$UP2_PORT" \
    "strategy = failover" "timeout = 0.5"
DIG5="dig +time=5 +tries=1 @127.0.0.1 -p $SR_PORT"
n=0
# q: a fresh name each time (never cached), answered by the wildcard-free
# zone as NXDOMAIN, which is an answer like any other for the pool.
# (Not in $(...): the counter must survive; the status is left in $R.)
q() {
    n=$((n + 1))
    R=$($DIG5 "q$n.$ZONE" A +noall +comments | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
}
asked() { fakedns_stat "$1" queries udp; }
fakedns_reset up1 # the readiness probes do not count
fakedns_reset up2

q; assert_eq NXDOMAIN "$R" "a query through the first upstream"
assert_eq 1 "$(asked up1)" "failover: up1 asked first"
assert_eq 0 "$(asked up2)" "up2 not asked"

# --- a timeout: the next upstream answers, the first is left alone ----------------
fakedns_mode up1 drop
start=$(date +%s%N)
q; assert_eq NXDOMAIN "$R" "up1 silent: answered anyway"
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq 1 "$(asked up2)" "the answer came from up2"
note "answered in $ms ms (timeout 0.5 s, then up2)"
before=$(asked up1)
start=$(date +%s%N)
q; assert_eq NXDOMAIN "$R" "the next query"
ms=$((($(date +%s%N) - start) / 1000000))
# up1's first backoff is 500 ms: a query that ended within it must not
# have asked up1. On a machine so loaded that the query alone took longer,
# up1 may rightly have been probed again; the status below still shows it
# down (its probe timed out too).
if [ "$ms" -lt 450 ]; then
    assert_eq "$before" "$(asked up1)" "up1 is down: not asked again during its backoff ($ms ms)"
else
    note "the next query took $ms ms, past up1's 500 ms backoff: not checking that up1 was skipped"
fi
out=$($SR_CTL --json status)
assert_match '"server":"udp://127.0.0.1:'"$UP1_PORT"'","queries":[0-9]+,"errors":[0-9]+,"timeouts":[1-9][0-9]*,"avg_rtt_ms":[0-9.e+-]+,"healthy":false' \
    "$out" "status: up1 is down with a timeout counted"

# --- recovery: up1 answers again and gets its queries back ---------------------------
fakedns_mode up1 good
back=""
for i in $(seq 1 40); do
    before=$(asked up1)
    q
    if [ "$(asked up1)" -gt "$before" ]; then
        up2_before=$(asked up2)
        q
        if [ "$(asked up2)" = "$up2_before" ]; then back=$i; break; fi
    fi
    sleep 0.25
done
[ -n "$back" ] || fail "up1 never came back into use"
ok "up1 probed after its backoff and in front again ($back rounds)"

# --- SERVFAIL, REFUSED and garbage: the next upstream is asked ------------------------
for mode in servfail refused garbage; do
    fakedns_mode up1 "$mode"
    b1=$(asked up1)
    b2=$(asked up2)
    q; assert_eq NXDOMAIN "$R" "up1 in mode $mode: the client still gets the answer"
    [ "$(asked up1)" -gt "$b1" ] && [ "$(asked up2)" -gt "$b2" ] ||
        fail "mode $mode: expected up1 then up2 to be asked"
    ok "mode $mode: up1 asked, then up2"
    fakedns_mode up1 good
    sleep 0.6 # past any backoff
done

# --- mismatched replies are not believed (RFC 5452): the right one is taken -----
for mode in wrongquestion wrongid; do
    fakedns_mode up1 "$mode"
    out=$($DIG5 mail.$ZONE A +short)
    assert_eq 10.0.0.25 "$out" "up1 in mode $mode: the decoy is ignored, the real answer kept"
    $SR_CTL cache flush mail.$ZONE >/dev/null
done
fakedns_mode up1 good

# --- every upstream fails: SERVFAIL ------------------------------------------------------
fakedns_mode up1 servfail
fakedns_mode up2 servfail
q; assert_eq SERVFAIL "$R" "every upstream answers SERVFAIL: SERVFAIL"
fakedns_mode up1 drop
fakedns_mode up2 drop
start=$(date +%s%N)
q; assert_eq SERVFAIL "$R" "every upstream silent: SERVFAIL"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 4000 ] || fail "SERVFAIL took $ms ms"
ok "SERVFAIL within $ms ms, before the client gives up"
fakedns_mode up1 good
fakedns_mode up2 good

# --- a real death and a real restart ------------------------------------------------
sleep 1
for i in $(seq 1 20); do
    # until up1 is back in front after the drops above
    b2=$(asked up2)
    q
    [ "$(asked up2)" = "$b2" ] && break
    sleep 0.3
done
stop_bg up1
for i in 1 2 3; do
    q
    assert_eq NXDOMAIN "$R" "up1 dead (port closed): answered ($i)"
done
p1=$UP1_PORT
start_fakedns up1 --udp-port "$p1" --tcp-port "$p1"
UP1_PORT=$p1 # start_fakedns names the ports it picked; the override won
back=""
for i in $(seq 1 60); do
    before=$(asked up1)
    q
    [ "$(asked up1)" -gt "$before" ] && { back=$i; break; }
    sleep 0.25
done
[ -n "$back" ] || fail "the restarted up1 was never asked"
ok "up1 restarted on its port: asked again ($back rounds)"
out=$($SR_CTL status)
assert_match "udp://127\.0\.0\.1:$UP1_PORT +up " "$out" "stubresctl status: up1 is up"

# --- round-robin and fastest ---------------------------------------------------------
$SR_CTL config strategy=round-robin >/dev/null
b1=$(asked up1)
b2=$(asked up2)
for i in $(seq 1 20); do q; done
d1=$(($(asked up1) - b1))
d2=$(($(asked up2) - b2))
assert_eq "10 10" "$d1 $d2" "round-robin: 20 queries, 10 each"
$SR_CTL config strategy=fastest >/dev/null
fakedns_mode up1 delay delay=0.1
for i in $(seq 1 10); do q; done # both get measured
b1=$(asked up1)
b2=$(asked up2)
for i in $(seq 1 40); do q; done
d1=$(($(asked up1) - b1))
d2=$(($(asked up2) - b2))
[ "$d2" -gt 30 ] || fail "fastest: the fast up2 got $d2 of 40 (slow up1: $d1)"
ok "fastest: the fast upstream got $d2 of 40, the slow one $d1 (probes)"
fakedns_mode up1 good

stop_stubresd sr
