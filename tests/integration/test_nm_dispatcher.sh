#!/bin/bash
# test_nm_dispatcher.sh -- the NetworkManager dispatcher script
# (etc/networkmanager/90-stubresd), run with the environment
# NetworkManager-dispatcher(8) gives it: vpn-up turns the VPN's domains and
# nameservers into forward rules, so the VPN's names are asked of the VPN's
# server (a fakedns on 127.0.0.X port 53, as NetworkManager names no port)
# and nothing else is; vpn-down removes exactly those rules; a domain or an
# address that is not one is skipped; connectivity-change to PORTAL opens
# a portal pass; with no stubresd running it does nothing.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig
[ "$(id -u)" = 0 ] || skip "the VPN's nameserver listens on port 53 (NetworkManager names no port): needs root"

NM_SCRIPT=$(cd "$IT_DIR/../.." && pwd)/etc/networkmanager/90-stubresd
[ -x "$NM_SCRIPT" ] || fail "$NM_SCRIPT is missing or not executable"
NM_RUNDIR=$T/nm-run

# The VPN's DNS server and the usual upstream both serve corp.example,
# with different addresses, so the answer says who was asked.
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
zone corp.example "$T/corp-up1.zone" "www 10.0.0.91"
zone corp.example "$T/corp-vpn.zone" "www 10.8.0.2"
zone lab.example "$T/lab-vpn.zone" "www 10.8.0.4"
start_fakedns up1 --zone "$T/corp-up1.zone"
# A loopback address of its own, so port 53 is free there (127.0.0.1 may
# have a resolver, 127.0.0.53 systemd-resolved).
VPN_ADDR=127.0.0.$((100 + RANDOM % 100))
start_bg vpn "$PY" "$FAKEDNS" --listen "$VPN_ADDR" --udp-port 53 --tcp-port 53 \
    --zone "$T/corp-vpn.zone" --zone "$T/lab-vpn.zone" \
    --stats "$T/vpn.stats.json" --control-file "$T/vpn.mode"
wait_log vpn '^fakedns: ready '
HOTEL_RESOLV=$T/hotel-resolv.conf
echo "nameserver 127.0.0.1" >"$HOTEL_RESOLV"

# nm ACTION [VAR=VALUE...]: the script as NetworkManager-dispatcher runs
# it: a clean environment, the interface and the action as arguments. The
# test's stubresctl first on PATH, its control socket in STUBRESCTL_SOCKET.
nm() {
    local action=$1 iface=tun0
    shift
    [ "$action" = connectivity-change ] && iface=""
    env -i PATH="$BUILD_DIR:/usr/bin:/bin" STUBRESCTL_SOCKET="${NM_SOCK:-$SR_SOCK}" \
        STUBRES_NM_RUNDIR="$NM_RUNDIR" NM_DISPATCHER_ACTION="$action" "$@" \
        "$NM_SCRIPT" "$iface" "$action"
}
VPN_ENV="CONNECTION_UUID=5e1f9a1c-0b7e-4d38-9c52-3c1f0e6d2a77 CONNECTION_ID=corp-vpn
VPN_IP_IFACE=tun0 DEVICE_IFACE=wlan0 VPN_IP4_NAMESERVERS=$VPN_ADDR
VPN_IP4_DOMAINS=corp.example VPN_IP6_DOMAINS=~lab.example."
qcount() { fakedns_stat "$1" qnames "$2"; }

# --- 1. no stubresd: nothing happens -------------------------------------------
out=$(NM_SOCK=$T/nothing.sock nm vpn-up $VPN_ENV 2>&1) || fail "vpn-up without stubresd failed: $out"
assert_eq "" "$out" "vpn-up with no stubresd running: exit 0, nothing said"
[ ! -e "$NM_RUNDIR" ] || fail "vpn-up without stubresd wrote $NM_RUNDIR"
ok "  and nothing recorded"

start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" \
    "portal_resolv_conf = $HOTEL_RESOLV"
assert_eq 10.0.0.91 "$($SR_DIG www.corp.example +short)" "before the VPN: corp.example from the servers"

# --- 2. vpn-up -----------------------------------------------------------------
nm vpn-up $VPN_ENV VPN_IP6_NAMESERVERS=::1 2>"$T/up.err" || fail "vpn-up failed: $(cat "$T/up.err")"
assert_match "forwarding corp.example lab.example to udp://$VPN_ADDR udp://\[::1\]" "$(cat "$T/up.err")" \
    "vpn-up says what it forwards where (NetworkManager logs it)"
out=$($SR_CTL forward)
assert_match "^corp\.example -> udp://$VPN_ADDR:53, udp://\[::1\]:53\$" "$out" \
    "stubresctl forward: corp.example (VPN_IP4_DOMAINS) to the VPN's nameservers, IPv4 and IPv6"
assert_match "^lab\.example -> udp://$VPN_ADDR:53, udp://\[::1\]:53\$" "$out" \
    "  and lab.example (VPN_IP6_DOMAINS' routing domain ~lab.example.)"
assert_eq 10.8.0.2 "$($SR_DIG www.corp.example +short)" \
    "www.corp.example is answered by the VPN's server (the cached answer was dropped)"
assert_eq 10.8.0.4 "$($SR_DIG www.lab.example +short)" "www.lab.example too"
assert_eq 1 "$(qcount vpn www.corp.example.)" "  the VPN's server on $VPN_ADDR:53 was asked"
assert_eq 1 "$(qcount up1 www.corp.example.)" "  the servers were not asked again"
$SR_DIG www.example.test +short >/dev/null || true
assert_eq 0 "$(qcount vpn www.example.test.)" "a name outside the VPN's domains never reaches the VPN's server"
assert_eq corp.example$'\n'lab.example "$(cat "$NM_RUNDIR/5e1f9a1c-0b7e-4d38-9c52-3c1f0e6d2a77")" \
    "the domains it added are recorded for vpn-down"

# --- 3. vpn-down ---------------------------------------------------------------
# NetworkManager may no longer pass the VPN's IP configuration on vpn-down:
# the record says what to remove.
nm vpn-down CONNECTION_UUID=5e1f9a1c-0b7e-4d38-9c52-3c1f0e6d2a77 CONNECTION_ID=corp-vpn \
    VPN_IP_IFACE=tun0 2>"$T/down.err" || fail "vpn-down failed: $(cat "$T/down.err")"
assert_match "no longer forwarding corp.example lab.example" "$(cat "$T/down.err")" "vpn-down says what it removed"
assert_eq "no forward rules: every name goes to the servers" "$($SR_CTL forward)" "vpn-down removed both rules"
assert_eq 10.0.0.91 "$($SR_DIG www.corp.example +short)" "www.corp.example goes to the servers again"
assert_eq 1 "$(qcount vpn www.corp.example.)" "  not to the VPN's server"
[ ! -e "$NM_RUNDIR/5e1f9a1c-0b7e-4d38-9c52-3c1f0e6d2a77" ] || fail "the record outlived vpn-down"
ok "  and the record is gone"

# Without a record (stubresd-nm's run dir lost), vpn-down uses the
# domains NetworkManager passes.
nm vpn-up $VPN_ENV 2>/dev/null
rm -rf "$NM_RUNDIR"
nm vpn-down $VPN_ENV 2>/dev/null
assert_eq "no forward rules: every name goes to the servers" "$($SR_CTL forward)" \
    "vpn-down without a record removes the domains NetworkManager passes"

# --- 4. hostile values from the VPN's server -----------------------------------
# shellcheck disable=SC2016 # the $(...) is for the script, which must not run it
nm vpn-up CONNECTION_UUID=../../evil VPN_IP4_NAMESERVERS="$VPN_ADDR 10.0.0.1;reboot" \
    VPN_IP4_DOMAINS='good.example bad;name $(touch${IFS}pwned) * ..x -x.example' 2>"$T/evil.err" ||
    fail "vpn-up with hostile values failed: $(cat "$T/evil.err")"
out=$($SR_CTL --json forward)
assert_eq "{\"ok\":true,\"rules\":[{\"domain\":\"good.example\",\"servers\":[\"udp://$VPN_ADDR:53\"],\"encrypted\":false,\"resolvconf\":false}]}" \
    "$out" "only the plain domain and the plain address make a rule"
assert_match "skipping nameserver '10.0.0.1;reboot'" "$(cat "$T/evil.err")" "  the bad address is named as skipped"
assert_match "skipping domain 'bad;name'" "$(cat "$T/evil.err")" "  and each bad domain"
[ -e pwned ] && fail "a domain was run as a command"
ok "  nothing the VPN sent was run"
assert_eq _._.._evil "$(ls "$NM_RUNDIR")" "  the connection's record stays in the run dir (../../evil -> _._.._evil)"
nm vpn-down CONNECTION_UUID=../../evil 2>/dev/null
assert_eq "no forward rules: every name goes to the servers" "$($SR_CTL forward)" "  and vpn-down removes it"

# --- 5. captive portal -----------------------------------------------------------
assert_match '"open":false' "$($SR_CTL --json portal)" "no portal pass yet"
nm connectivity-change CONNECTIVITY_STATE=FULL 2>/dev/null
assert_match '"open":false' "$($SR_CTL --json portal)" "connectivity FULL opens no pass"
nm connectivity-change CONNECTIVITY_STATE=PORTAL 2>"$T/portal.err"
out=$($SR_CTL --json portal)
assert_match '"open":true' "$out" "connectivity-change to PORTAL opens a portal pass"
assert_match '"remaining_s":(300|29[0-9])[,}]' "$out" "  of 300 s"
assert_match "portal pass open" "$(cat "$T/portal.err")" "  and says so"

stop_stubresd sr
