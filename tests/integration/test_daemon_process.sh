#!/bin/bash
# test_daemon_process.sh -- how stubresd runs as a process: several event
# loops (threads = 4, SO_REUSEPORT), dropping root for `user` (every
# capability gone, a privileged port still served, the state file still
# written; the control socket 0660 with control_group: a temporary user in
# that group may use it, one outside is refused), the query log, socket
# activation (sockets passed as systemd does, here by
# systemd-socket-activate), and prefetch refreshing a popular entry before
# it expires.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1
seen() { fakedns_stat up1 qnames "$1"; }

# --- threads = 4 ----------------------------------------------------------------
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "threads = 4" \
    "query_log = $T/query.log"
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import sys, concurrent.futures, dns.message, dns.query
port = int(sys.argv[1])
def ask(i):
    q = dns.message.make_query("t%d.example.test" % (i % 50) if i % 2 else "www.example.test", "A")
    f = dns.query.tcp if i % 5 == 0 else dns.query.udp
    return int(f(q, "127.0.0.1", port=port, timeout=5).rcode())
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    r = list(ex.map(ask, range(400)))
print(len(r), sorted(set(r)))
PYEOF
)
assert_eq "400 [0, 3]" "$out" "threads = 4: 400 queries from 16 clients (UDP and TCP) answered"
assert_eq 4 "$(sr_stat threads)" "stats: 4 threads"
q=$(sr_stat queries total)
[ "$q" -ge 400 ] || fail "stats: queries total $q, expected >= 400 summed over the threads"
ok "stats: the threads' counters are summed ($q queries)"
# The query log: one line per answered query.
$SR_DIG -b 127.0.0.1 mx.$ZONE MX +short >/dev/null
for i in $(seq 1 30); do grep -q ' mx\.example\.test MX ' "$T/query.log" 2>/dev/null && break; sleep 0.1; done
assert_match '^[0-9T:.-]+Z 127\.0\.0\.1 mx\.example\.test MX IN NOERROR udp upstream [0-9.]+ms$' \
    "$(cat "$T/query.log")" "query_log: client, name, type, class, RCODE, transport, source, time"
n=$(wc -l <"$T/query.log")
[ "$n" -ge 400 ] || fail "query_log has $n lines"
ok "query_log: $n lines"
stop_stubresd sr

# --- user = nobody ------------------------------------------------------------------
# Temporary accounts for the control socket: one in control_group, one not;
# removed when the test exits, however it exits.
TMPU_IN=stubres-t$$-in
TMPU_OUT=stubres-t$$-out
TMPG=stubres-t$$-ctl
drop_tmp_users() {
    userdel "$TMPU_IN" >/dev/null 2>&1 || true
    userdel "$TMPU_OUT" >/dev/null 2>&1 || true
    groupdel "$TMPG" >/dev/null 2>&1 || true
}
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v useradd >/dev/null &&
    command -v setpriv >/dev/null; then
    trap '_rc=$?; drop_tmp_users; (exit $_rc); _it_cleanup' EXIT
    groupadd "$TMPG"
    useradd -M -N -g nogroup -G "$TMPG" -s /usr/sbin/nologin "$TMPU_IN"
    useradd -M -N -g nogroup -s /usr/sbin/nologin "$TMPU_OUT"
    chmod 711 "$T" # nobody must reach its files below $T
    # A privileged port (below 1024) beside the usual one: bound as root,
    # served after the drop without any capability.
    PRIV_PORT=$("$PY" -c '
import socket, random
for p in random.sample(range(600, 1000), 400):
    try:
        for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", p)); s.close()
        print(p); break
    except OSError:
        pass')
    write_stubresd_conf srn "$(free_port)" "servers = udp://127.0.0.1:$UP1_PORT" "user = nobody" \
        "control_group = $TMPG"
    SR_PORT=$(sed -n 's/^listen = 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/srn.conf")
    sed -i -e "s|^control = .*|control = $T/run/control.sock|" \
        -e "s|^listen = \(.*\)|listen = \1, 127.0.0.1:$PRIV_PORT|" \
        -e "s|^state_file = .*|state_file = $T/lib/runtime.conf|" "$T/srn.conf"
    SR_NAME=srn
    start_bg srn "$STUBRESD" -f -c "$T/srn.conf"
    wait_udp 127.0.0.1 "$SR_PORT" srn
    pid=$(pid_of srn)
    assert_match '^Uid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$' \
        "$(grep '^Uid:' /proc/$pid/status)" "user = nobody: every uid is nobody's"
    assert_match '^Gid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$' \
        "$(grep '^Gid:' /proc/$pid/status)" "... and every gid nogroup's"
    assert_match '^Groups:[[:space:]]+65534[[:space:]]*$' "$(grep '^Groups:' /proc/$pid/status)" \
        "... with no supplementary group but its own"
    # No capability at all, not even CAP_NET_BIND_SERVICE: every socket is
    # bound before the drop, and the keys that would bind again (listen,
    # control) take effect only at a restart, which starts as root.
    for c in CapEff CapPrm CapInh CapAmb; do
        assert_match "^$c:[[:space:]]+0+\$" "$(grep "^$c:" /proc/$pid/status)" "... $c is 0: no capability"
    done
    assert_match '^NoNewPrivs:[[:space:]]+1$' "$(grep '^NoNewPrivs:' /proc/$pid/status)" "... and no_new_privs"
    CTL="$STUBRESCTL -s $T/run/control.sock"
    assert_eq 10.0.0.1 "$(dig $DIG_OPTS @127.0.0.1 -p "$SR_PORT" www.$ZONE A +short)" "it answers as nobody"
    assert_eq 10.0.0.1 "$(dig $DIG_OPTS @127.0.0.1 -p "$PRIV_PORT" www.$ZONE A +short)" \
        "... also on the privileged port $PRIV_PORT it bound as root"
    assert_eq "660 nobody $TMPG" "$(stat -c '%a %U %G' "$T/run/control.sock")" \
        "the control socket is 0660, owned by nobody, group control_group"
    rc=0
    out=$(setpriv --reuid "$TMPU_OUT" --regid nogroup --clear-groups \
        "$STUBRESCTL" -s "$T/run/control.sock" stats 2>&1) || rc=$?
    [ "$rc" != 0 ] || fail "a user outside control_group used the control socket: $out"
    assert_match '[Pp]ermission denied' "$out" "a user outside control_group is refused ($out)"
    out=$(setpriv --reuid "$TMPU_IN" --regid nogroup --init-groups \
        "$STUBRESCTL" -s "$T/run/control.sock" --json stats 2>&1) ||
        fail "a member of control_group was refused: $out"
    assert_match '"ok": ?true' "$out" "a member of control_group may use it"
    assert_eq "timeout set to 3" "$($CTL config timeout=3)" "the control socket works after the drop"
    assert_match '^timeout = 3$' "$(cat "$T/lib/runtime.conf")" "the state file is written as nobody"
    stop_stubresd srn
    [ -e "$T/run/control.sock" ] && fail "the control socket was left behind"
    ok "nobody removed its control socket at exit"
else
    note "not root, no user nobody, useradd or setpriv: privilege drop not tested"
fi

# --- socket activation ----------------------------------------------------------------
if command -v systemd-socket-activate >/dev/null 2>&1; then
    P=$(free_port)
    write_stubresd_conf sra "$P" "servers = udp://127.0.0.1:$UP1_PORT" "listen = 127.0.0.1:9"
    # One TCP and one UDP socket, both bound here and passed down (the
    # outer one passes its descriptor through the inner one); `listen`
    # names a port nobody could bind: it must be ignored.
    start_bg sra systemd-socket-activate -l "127.0.0.1:$P" \
        systemd-socket-activate -d -l "127.0.0.1:$P" "$STUBRESD" -f -c "$T/sra.conf"
    wait_tcp 127.0.0.1 "$P" sra
    out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$P" www.$ZONE A +tcp +short)
    assert_eq 10.0.0.1 "$out" "socket activation: TCP query on the passed socket"
    wait_log sra 'using 2 socket\(s\) from systemd'
    out=$(dig $DIG_OPTS @127.0.0.1 -p "$P" mx.$ZONE MX +short | sort | head -1)
    assert_eq "10 mail.example.test." "$out" "socket activation: UDP query on the passed socket"
    stop_stubresd sra
else
    note "no systemd-socket-activate: socket activation not tested"
fi

# --- prefetch: a popular entry refreshed before it expires -------------------------------
start_stubresd srp "servers = udp://127.0.0.1:$UP1_PORT" "prefetch = true" "max_ttl = 20"
SR_DIG="dig $DIG_OPTS @127.0.0.1 -p $SR_PORT"
fakedns_reset up1
$SR_DIG mail.$ZONE A +short >/dev/null
sleep 18.3 # inside the last tenth of the TTL (20 s), whole seconds counted
for i in 1 2 3; do $SR_DIG mail.$ZONE A +short >/dev/null; done
for i in $(seq 1 20); do [ "$(seen mail.$ZONE.)" = 2 ] && break; sleep 0.1; done
assert_eq 2 "$(seen mail.$ZONE.)" "prefetch: refreshed upstream while still cached"
assert_eq 1 "$(sr_stat cache prefetches)" "stats: one prefetch"
sleep 2 # past the first expiry
out=$($SR_DIG mail.$ZONE A +noall +answer | awk '{print $2}')
# The refreshed entry's TTL counts down from 20 since the prefetch; how
# far depends on how busy the machine is, so only its range is checked:
# the upstream count below is what tells the refreshed entry apart.
[ "$out" -ge 1 ] && [ "$out" -le 20 ] || fail "after the old entry expired: TTL $out, expected 1..20"
assert_eq 2 "$(seen mail.$ZONE.)" "past the old expiry: served from the refreshed entry (TTL $out)"
stop_stubresd srp
