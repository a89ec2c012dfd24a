#!/bin/bash
# test_daemon_local_capture.sh -- special-use names never leave stubresd:
# with tcpdump capturing loopback on the upstream's port, asking for
# 3.2.1.10.in-addr.arpa PTR, x.home.arpa, printer.local and localhost
# sends nothing to the upstream, while a name that is not special (asked
# last, as the control) is seen going there.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig tcpdump
[ "$(id -u)" = 0 ] || skip "capturing on lo needs root"

start_fakedns up1
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"
# -U: every packet written as it comes, so stopping loses none.
start_bg tcpdump tcpdump -n -U -i lo -w "$T/cap.pcap" "port $UP1_PORT"
wait_log tcpdump "listening on"

for q in "3.2.1.10.in-addr.arpa PTR" "x.home.arpa A" "printer.local A" "localhost A" \
    "localhost AAAA" "x.home.arpa AAAA" "printer.local AAAA"; do
    out=$($SR_DIG $q)
    assert_match 'flags: qr aa rd ra' "$out" "$q: answered by stubresd itself (AA)"
done
# The control: a name that is not special goes upstream over the same port.
assert_eq "10.0.0.1" "$($SR_DIG www.example.test A +short)" "www.example.test: answered by the upstream"

fakedns_wait_stat up1 1 qnames www.example.test.
# -T domain: decode DNS on a port other than 53. Names in lower case:
# queries to udp:// upstreams go out in 0x20 random case. tcpdump writes a
# packet (-U) some time after the kernel gave it: wait until the control
# query is in the file before stopping it.
capture() { tcpdump -n -T domain -r "$T/cap.pcap" 2>/dev/null | tr 'A-Z' 'a-z'; }
for i in $(seq 1 $((IT_WAIT * 10))); do
    capture | grep -q 'www\.example\.test\.' && break
    sleep 0.1
done
stop_bg tcpdump
out=$(capture)
assert_match 'www\.example\.test\.' "$out" "the capture sees the upstream query of the control name"
for n in '3\.2\.1\.10\.in-addr\.arpa' 'home\.arpa' 'printer\.local' 'localhost'; do
    assert_no_match "$n" "$out" "nothing about $n reached the upstream's port"
done
assert_eq 0 "$(fakedns_stat up1 qnames localhost.)" "the upstream never saw localhost"
