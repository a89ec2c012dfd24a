#!/bin/bash
# test_daemon_forward.sh -- forward rules (split DNS) with two real
# upstreams on loopback that give different answers for the same names:
# each query reaches the upstream its longest matching rule names (label
# boundaries, any case); `forward add/remove` at run time drop the cached
# answers at and below the rule's domain and outlive a restart; `cache
# flush NAME --subtree`; a `resolvconf` rule follows its resolv.conf when
# the file changes; `stubresd -t` warns about a plaintext rule beside
# encrypted servers and names a bad forward line with file and line.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

# Zones of this test: up1 (the servers) and up2 (the VPN's DNS) both
# serve corp.example, with different addresses, so the answer says who
# was asked.
zone() { # ORIGIN FILE "NAME ADDRESS"...
    local origin=$1 file=$2 rr
    shift 2
    {
        echo "\$ORIGIN $origin."
        echo "\$TTL 300"
        echo "@ SOA ns1.$origin. hostmaster.$origin. 1 3600 900 604800 60"
        echo "@ NS ns1.$origin."
        echo "ns1 A 127.0.0.1"
        for rr in "$@"; do
            set -- $rr
            echo "$1 A $2"
        done
    } >"$file"
}
zone corp.example "$T/corp-up1.zone" "www 10.0.0.91" "www.lab 10.0.0.92"
zone corp.example "$T/corp-up2.zone" "www 10.8.0.2" "www.lab 10.8.0.22"
zone notcorp.example "$T/notcorp.zone" "www 10.0.0.93"
zone vpn.example "$T/vpn.zone" "www 10.8.0.3"
start_fakedns up1 --zone "$T/corp-up1.zone" --zone "$T/notcorp.zone"
start_fakedns up2 --zone "$T/corp-up2.zone" --zone "$T/vpn.zone"

# The VPN's resolv.conf, as NetworkManager would write it: none yet.
VPN_RESOLV=$T/vpn-resolv.conf
echo "# no VPN yet" >"$VPN_RESOLV"

qcount() { # UPSTREAM NAME: queries for NAME (lowercase, final dot) it saw
    fakedns_stat "$1" qnames "$2"
}

start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" \
    "forward = corp.example udp://127.0.0.1:$UP2_PORT" \
    "resolv_conf = $VPN_RESOLV" "dns_port = $UP2_PORT" "query_log = $T/sr.qlog"

# --- 1. which upstream each query reaches ------------------------------------------
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE +short)" "a name of no rule: the servers"
assert_eq 0 "$(qcount up2 www.$ZONE.)" "  and the rule's upstream never saw it"
assert_eq 10.8.0.2 "$($SR_DIG www.corp.example +short)" "www.corp.example: the rule's upstream"
assert_eq 0 "$(qcount up1 www.corp.example.)" "  and the servers never saw it"
assert_match "hostmaster.corp.example" "$($SR_DIG corp.example SOA +short)" "corp.example SOA answered"
assert_eq 1 "$(qcount up2 corp.example.)" "  the domain itself goes to the rule"
assert_eq 0 "$(qcount up1 corp.example.)" "  not to the servers"
assert_eq 10.8.0.22 "$($SR_DIG WWW.LAB.Corp.Example +short)" "a name two labels below, in capitals"
assert_eq 10.0.0.93 "$($SR_DIG www.notcorp.example +short)" \
    "notcorp.example is not below corp.example (label boundary): the servers"
assert_eq 0 "$(qcount up2 www.notcorp.example.)" "  and the rule's upstream never saw it"
assert_match "forward:corp.example" "$(cat "$T/sr.qlog")" "the query log names the rule"
assert_match '"forward":\[\{"domain":"corp.example","queries":[3-9]' \
    "$($SR_CTL --json stats)" "stats count the rule's queries"
assert_match "^  corp.example -> udp://127.0.0.1:$UP2_PORT\$" "$($SR_CTL status)" "status lists the rule"
out=$($SR_CTL --json forward)
assert_eq "{\"ok\":true,\"rules\":[{\"domain\":\"corp.example\",\"servers\":[\"udp://127.0.0.1:$UP2_PORT\"],\"encrypted\":false,\"resolvconf\":false}]}" \
    "$out" "forward lists the rule"

# --- 2. forward add at run time: the longest domain wins, its cache goes ------------
assert_match "^www\.lab\.corp\.example\. [0-9]+ IN A " "$($SR_CTL cache dump)" "www.lab.corp.example is cached"
out=$($SR_CTL forward add lab.corp.example "udp://127.0.0.1:$UP1_PORT")
assert_match "^lab.corp.example -> udp://127.0.0.1:$UP1_PORT" "$out" "forward add, for a person"
assert_eq 10.0.0.92 "$($SR_DIG www.lab.corp.example +short)" \
    "after forward add: the longer rule's upstream answers (the cached answer was dropped)"
assert_eq 1 "$(qcount up1 www.lab.corp.example.)" "  up1 was asked once"
assert_match "^www\.corp\.example\. [0-9]+ IN A " "$($SR_CTL cache dump)" \
    "an answer outside the new rule's domain stays cached"
assert_match "^forward = corp.example udp://127.0.0.1:$UP2_PORT; lab.corp.example udp://127.0.0.1:$UP1_PORT\$" \
    "$(cat "$SR_STATE")" "the rules are in the state file"
assert_match "^forward.file = corp.example udp://127.0.0.1:$UP2_PORT\$" "$(cat "$SR_STATE")" \
    "  with the config file's rules they replaced"
out=$($SR_CTL forward add . "udp://127.0.0.1:$UP1_PORT" 2>&1) && fail "forward add . was accepted"
assert_match "servers" "$out" "forward add . is refused, pointing at servers"

# --- 3. a restart keeps them ---------------------------------------------------------
stop_stubresd sr
start_stubresd sr
assert_match "\"domain\":\"lab.corp.example\"" "$($SR_CTL --json forward)" "after a restart the added rule is there"
assert_eq 10.0.0.92 "$($SR_DIG www.lab.corp.example +short)" "  and in force"
assert_eq 10.8.0.2 "$($SR_DIG www.corp.example +short)" "  beside the config file's"

# --- 4. forward remove --------------------------------------------------------------
$SR_CTL forward remove Lab.Corp.Example. >/dev/null
assert_eq 10.8.0.22 "$($SR_DIG www.lab.corp.example +short)" \
    "after forward remove: back to corp.example's upstream (the cached answer was dropped)"
assert_no_match "lab.corp.example" "$($SR_CTL --json forward)" "the rule is gone"
out=$($SR_CTL forward remove lab.corp.example 2>&1) && fail "removing a missing rule succeeded"
assert_match "no rule for" "$out" "removing it again says there is no such rule"

# --- 5. cache flush NAME --subtree ---------------------------------------------------
$SR_DIG www.corp.example +short >/dev/null
$SR_DIG www.$ZONE +short >/dev/null
out=$($SR_CTL --json cache flush corp.example --subtree)
assert_match '"flushed":[2-9]' "$out" "cache flush corp.example --subtree drops its names"
out=$($SR_CTL cache dump)
assert_no_match "corp.example" "$out" "  nothing at or below corp.example is left"
assert_match "^www\.example\.test\. [0-9]+ IN A " "$out" "  other names stay"

# --- 5b. a rule takes a special-use name from the local answers ---------------------
out=$($SR_DIG -x 10.0.0.1)
assert_match "status: NXDOMAIN" "$out" "10.in-addr.arpa is a private reverse zone: answered here"
assert_eq 0 "$(qcount up2 1.0.0.10.in-addr.arpa.)" "  and nothing went upstream"
$SR_CTL forward add 10.in-addr.arpa "udp://127.0.0.1:$UP2_PORT" >/dev/null
$SR_DIG -x 10.0.0.1 >/dev/null || true
assert_eq 1 "$(qcount up2 1.0.0.10.in-addr.arpa.)" \
    "with forward = 10.in-addr.arpa the VPN's server is asked (the rule wins over special_names)"
$SR_CTL forward remove 10.in-addr.arpa >/dev/null

# --- 6. resolvconf follows the file --------------------------------------------------
$SR_CTL forward add vpn.example resolvconf >/dev/null
out=$($SR_DIG www.vpn.example)
assert_match "status: SERVFAIL" "$out" "a resolvconf rule without a nameserver: SERVFAIL"
assert_eq 0 "$(qcount up1 www.vpn.example.)" "  never the servers"
echo "nameserver 127.0.0.1" >"$VPN_RESOLV"
got=""
for i in $(seq 1 $((IT_WAIT * 5))); do
    got=$($SR_DIG www.vpn.example +short 2>/dev/null || true)
    [ "$got" = 10.8.0.3 ] && break
    sleep 0.2
done
assert_eq 10.8.0.3 "$got" "once resolv.conf names the VPN's server, its names go there"
assert_match "resolv_conf $VPN_RESOLV changed" "$(cat "$(log_of sr)")" "the log says why"
stop_stubresd sr

# --- 7. stubresd -t ------------------------------------------------------------------
cat >"$T/enc.conf" <<CONF
listen = 127.0.0.1:$(free_port)
control =
state_file =
resolv_conf = $STUBRES_RESOLV_CONF
ca_file = $CA_FILE
servers = tls://127.0.0.1:$UP1_TLS_PORT#$TLS_NAME
forward = corp.example udp://127.0.0.1:$UP2_PORT
CONF
out=$("$STUBRESD" -t -c "$T/enc.conf" 2>&1) || fail "stubresd -t refused a plaintext rule: $out"
assert_match "forward corp.example: plaintext upstream udp://127.0.0.1:$UP2_PORT beside encrypted servers" \
    "$out" "stubresd -t warns about a plaintext rule beside encrypted servers"
assert_match "config OK" "$out" "  and accepts it"
echo "forward = lab.example ftp://10.9.0.1" >>"$T/enc.conf"
rc=0
out=$("$STUBRESD" -t -c "$T/enc.conf" 2>&1) || rc=$?
assert_eq 1 "$rc" "stubresd -t refuses a bad forward line"
assert_match "enc.conf:8: forward: bad value 'lab.example ftp://10.9.0.1': .*unknown scheme 'ftp'" \
    "$out" "  naming file, line and what is wrong"
