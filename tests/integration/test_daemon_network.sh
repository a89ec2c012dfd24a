#!/bin/bash
# test_daemon_network.sh -- network changes (network_watch): `stubresctl
# network changed` is counted in stats, logged, and puts the next query
# on a new DoT connection; a query whose attempt was lost on the old
# connection is retried on the new one and answered. Then, when `ip netns`
# works (root), stubresd in a namespace of its own with a dummy link: an
# address added to the link is one network change (the burst of netlink
# events debounced), seen in stats. (A veth pair stands in for the dummy
# link where the kernel lacks the dummy module.)
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

# ---- inside the namespace (the outer run starts this) ----------------------
if [ -n "${NETWATCH_INNER:-}" ]; then
    ip link set lo up
    # No IPv6 on the new links: no autoconfigured address whose duplicate
    # address detection ends a second later with events of its own.
    sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
    # A dummy link; where the kernel has no dummy module, one end of a
    # veth pair (both ends inside the namespace).
    if ! ip link add nwdummy0 type dummy 2>/dev/null; then
        note "no dummy links here: a veth pair instead"
        ip link add nwdummy0 type veth peer name nwdummy1
        ip link set nwdummy1 up
    fi
    ip link set nwdummy0 up
    start_fakedns up1
    start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"
    out=$($SR_DIG a.$ZONE +short)
    assert_eq 10.0.0.1 "$out" "in the namespace: a.$ZONE answered"
    # Events of the start-up (lo and the dummy going up) are over by now:
    # wait for the count to stop moving before taking it.
    before=$(sr_stat network_changes)
    for i in $(seq 1 20); do
        sleep 0.6
        now=$(sr_stat network_changes)
        [ "$now" = "$before" ] && break
        before=$now
    done
    ip addr add 192.0.2.1/24 dev nwdummy0
    want=$((before + 1))
    for i in $(seq 1 $((IT_WAIT * 10))); do
        [ "$(sr_stat network_changes)" -ge "$want" ] && break
        sleep 0.1
    done
    # The burst is over once its 500 ms pass: one more second must not
    # add a second change.
    sleep 1
    assert_eq "$want" "$(sr_stat network_changes)" \
        "an address added to a link (a burst of netlink events): one network change"
    assert_match 'network changed \(netlink\)' "$(cat "$(log_of sr)")" "logged: network changed (netlink)"
    out=$($SR_DIG aaaa.$ZONE AAAA +short)
    assert_eq 2001:db8::1 "$out" "answers after the change"
    stop_stubresd sr
    exit 0
fi

# ---- the control command, on a DoT upstream ---------------------------------
start_fakedns up1
# network_watch off: only the control command counts here, whatever the
# machine's own network does meanwhile.
start_stubresd sr "servers = tls://127.0.0.1:$UP1_TLS_PORT#$TLS_NAME" "ca_file = $CA_FILE" \
    "timeout = 1" "network_watch = false"

out=$($SR_DIG a.$ZONE +short)
assert_eq 10.0.0.1 "$out" "a.$ZONE over DoT"
assert_eq 1 "$(fakedns_stat up1 connections tls)" "one DoT connection"
assert_eq 0 "$(sr_stat network_changes)" "stats: network_changes 0 at start"

out=$($SR_CTL network changed)
assert_match 'reconnecting \(1 network changes\)' "$out" "stubresctl network changed"
assert_eq 1 "$(sr_stat network_changes)" "stats: network_changes 1"
assert_match 'network changed \(control\)' "$(cat "$(log_of sr)")" "logged: network changed (control)"

out=$($SR_DIG aaaa.$ZONE AAAA +short)
assert_eq 2001:db8::1 "$out" "answered after the change"
assert_eq 2 "$(fakedns_stat up1 connections tls)" "the next query opened a new DoT connection"

# A query in flight when the network changes: its attempt on the old
# connection is lost (dropped), the retry goes over a new connection.
fakedns_mode up1 drop count=1
dig +time=5 +tries=1 @127.0.0.1 -p "$SR_PORT" srv.$ZONE SRV +short >"$T/inflight.out" 2>&1 &
digpid=$!
fakedns_wait_stat up1 1 qnames srv.$ZONE.
$SR_CTL network changed >/dev/null
wait "$digpid" || true
assert_match '0 5 443 www.example.test.' "$(cat "$T/inflight.out")" \
    "a query in flight across a change is answered"
assert_eq 3 "$(fakedns_stat up1 connections tls)" "its retry went over a new DoT connection"
assert_eq 2 "$(sr_stat network_changes)" "stats: network_changes 2"

# An upstream that failed while the network was gone is marked down; the
# change forgets that, so the next query tries it at once.
fakedns_mode up1 drop count=2
$SR_DIG mx.$ZONE MX >/dev/null || true
assert_match '"healthy":false' "$($SR_CTL --json status)" "the upstream is down after two timeouts"
fakedns_mode up1 good
$SR_CTL network changed >/dev/null
assert_match '"healthy":true' "$($SR_CTL --json status)" "after a network change it is up again"
assert_no_match '"healthy":false' "$($SR_CTL --json status)" "and none is down"
# (another name: mx's SERVFAIL is remembered for servfail_ttl)
out=$($SR_DIG txt.$ZONE TXT +short)
assert_eq '"v=spf1 -all"' "$out" "answered after the change"
stop_stubresd sr

# ---- netlink, in a namespace of its own -------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    note "SKIP the netlink part: needs root and ip(8)"
    exit 0
fi
NS=stubresd-nw$$
if ! ip netns add "$NS" 2>/dev/null; then
    note "SKIP the netlink part: ip netns does not work here"
    exit 0
fi
rc=0
NETWATCH_INNER=1 KEEP_T= ip netns exec "$NS" "$0" || rc=$?
ip netns del "$NS" 2>/dev/null || true
[ "$rc" = 0 ] || fail "the netlink part failed (status $rc)"
ok "the netlink part in namespace $NS"
