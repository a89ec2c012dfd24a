#!/bin/bash
# test_hard_files.sh -- root follows no link: started as root with
# `user = nobody`, stubresd creates its query log and control socket by
# descriptor, so a directory nobody owns cannot turn them into a write to,
# or a chown of, another file: a query_log that is a symbolic link or a
# hard link to a victim file (from the config file, from the state file
# as a control_group member's change leaves it, or set at run time) is
# refused with an error that says what to do, and the victim keeps its
# content, owner and mode. A log stubresd creates is 0640 and nobody's;
# the control socket comes up 0660, nobody's, group control_group.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig
[ "$(id -u)" = 0 ] || skip "needs root (to start stubresd as root with user = nobody)"
id nobody >/dev/null 2>&1 || skip "no user nobody"
command -v groupadd >/dev/null || skip "no groupadd"

start_fakedns up1

# A temporary group for control_group (nobody is not in it), removed when
# the test exits, however it exits.
TMPG=stubres-t$$-files
# (set +e first: under set -e the "(exit $_rc)" that hands the status on
# would end the trap before the cleanup.)
# shellcheck disable=SC2154 # _rc is set inside the trap
trap '_rc=$?; set +e; groupdel "$TMPG" >/dev/null 2>&1; (exit $_rc); _it_cleanup' EXIT
groupadd "$TMPG"

chmod 711 "$T" # nobody must reach its files below $T
QDIR=$T/qdir   # the daemon user's own directory, as a log directory is
mkdir "$QDIR"
chown nobody:nogroup "$QDIR"
VICTIM=$T/victim # stands for /etc/shadow
printf 'root:secret:1:0:99999:7:::\n' >"$VICTIM"
chmod 600 "$VICTIM"
victim_state() { printf '%s %s\n' "$(stat -c '%U:%G %a %s' "$VICTIM")" "$(md5sum <"$VICTIM")"; }
VICTIM_BEFORE=$(victim_state)
victim_unchanged() {
    assert_eq "$VICTIM_BEFORE" "$(victim_state)" "$1: the victim file's owner, mode and content are unchanged"
}
# Links as nobody would make them in its own directory (root makes the
# hard link: protected_hardlinks keeps nobody from linking a file it
# cannot write, which is one more fence, not the one tested here).
ln -s "$VICTIM" "$QDIR/query.log"
chown -h nobody:nogroup "$QDIR/query.log"
ln "$VICTIM" "$QDIR/hard.log"

P=$(free_port)
write_stubresd_conf srf "$P" "servers = udp://127.0.0.1:$UP1_PORT" "user = nobody" \
    "control_group = $TMPG" "query_log = $QDIR/query.log"
sed -i -e "s|^control = .*|control = $T/run/control.sock|" \
    -e "s|^state_file = .*|state_file = $T/lib/runtime.conf|" "$T/srf.conf"
SR_CONF=$T/srf.conf

# try_start NAME: start stubresd in the foreground on SR_CONF and return
# its exit status; one that starts (it should not) runs until IT_WAIT ends
# it, then the assertions after it fail.
try_start() {
    local rc=0
    timeout "$IT_WAIT" "$STUBRESD" -f -c "$SR_CONF" >"$T/$1.log" 2>&1 || rc=$?
    sanitizer_clean "$1"
    return $rc
}

# --- at start, from the config file -----------------------------------------------------
rc=0
try_start srf-symlink || rc=$?
assert_eq 1 "$rc" "query_log a symbolic link: stubresd refuses to start"
assert_match 'query_log: .*/qdir/query\.log is a symbolic link, which stubresd does not follow: name the file itself' \
    "$(cat "$T/srf-symlink.log")" "... saying so and what to do"
victim_unchanged "symbolic link at start"

sed -i -e "s|^query_log = .*|query_log = $QDIR/hard.log|" "$SR_CONF"
rc=0
try_start srf-hard || rc=$?
assert_eq 1 "$rc" "query_log a hard link to another file: stubresd refuses to start"
assert_match 'query_log: .*/qdir/hard\.log has 2 hard links: name a file of its own' \
    "$(cat "$T/srf-hard.log")" "... saying so"
victim_unchanged "hard link at start"

# A file that is not nobody's: root would append to it and hand it over.
touch "$QDIR/root.log"
sed -i -e "s|^query_log = .*|query_log = $QDIR/root.log|" "$SR_CONF"
rc=0
try_start srf-root || rc=$?
assert_eq 1 "$rc" "query_log an existing file of another user: stubresd refuses to start"
assert_match 'query_log: .*/qdir/root\.log belongs to uid 0, not to the daemon.s user \(uid [0-9]+\): remove it' \
    "$(cat "$T/srf-root.log")" "... saying whose it is and what to do"
assert_eq "root:root" "$(stat -c '%U:%G' "$QDIR/root.log")" "... and it stays root's"

# --- a good start: the files it makes --------------------------------------------------
sed -i -e "s|^query_log = .*|query_log = $QDIR/new.log|" "$SR_CONF"
SR_NAME=srf
SR_PORT=$P
SR_SOCK=$T/run/control.sock
SR_CTL="$STUBRESCTL -s $SR_SOCK"
start_bg srf "$STUBRESD" -f -c "$SR_CONF"
wait_udp 127.0.0.1 "$P" srf
for i in $(seq 1 50); do [ -S "$SR_SOCK" ] && break; sleep 0.1; done
assert_eq "660 nobody $TMPG" "$(stat -c '%a %U %G' "$SR_SOCK")" \
    "the control socket comes up 0660, nobody's, group control_group"
assert_eq "" "$(find "$T/run" -mindepth 1 ! -name control.sock)" \
    "... and nothing else is left in its directory"
assert_eq 10.0.0.1 "$(dig $DIG_OPTS @127.0.0.1 -p "$P" www.$ZONE A +short)" "it answers as nobody"
for i in $(seq 1 30); do [ -s "$QDIR/new.log" ] && break; sleep 0.1; done
assert_match ' www\.example\.test A IN NOERROR udp upstream ' "$(cat "$QDIR/new.log")" \
    "the query log it created is written"
assert_eq "640 nobody nogroup" "$(stat -c '%a %U %G' "$QDIR/new.log")" \
    "... mode 0640, nobody's"

# --- at run time, through the control socket ---------------------------------------------
ln -s "$VICTIM" "$QDIR/evil.log"
chown -h nobody:nogroup "$QDIR/evil.log"
rc=0
out=$($SR_CTL config "query_log=$QDIR/evil.log" 2>&1) || rc=$?
assert_eq 1 "$rc" "config query_log=<a symbolic link> is refused"
assert_match 'evil\.log is a symbolic link, which stubresd does not follow' "$out" "... saying why ($out)"
wait_log srf 'query_log: .*evil\.log is a symbolic link'
ok "... and the daemon logs it"
$SR_CTL config "query_log=$QDIR/hard.log" >/dev/null 2>&1 && fail "config query_log=<a hard link> was taken"
ok "config query_log=<a hard link> is refused"
dig $DIG_OPTS @127.0.0.1 -p "$P" mx.$ZONE MX +short >/dev/null
victim_unchanged "at run time"
stop_stubresd srf

# --- at the next start, from the state file ----------------------------------------------
# A refused change never reaches the state file (test_daemon_state.sh), but
# one written there by hand, in the form stubresd itself writes (for this
# config file, over its query_log), is read by root at the next start.
cat >>"$T/lib/runtime.conf" <<EOF
config_file = $(realpath "$SR_CONF")
query_log = $QDIR/evil.log
query_log.since = 1765060000
query_log.file = $QDIR/new.log
EOF
rc=0
try_start srf-state || rc=$?
assert_eq 1 "$rc" "query_log a symbolic link in the state file: stubresd refuses to start"
assert_match 'query_log: .*/qdir/evil\.log is a symbolic link' "$(cat "$T/srf-state.log")" \
    "... saying so"
victim_unchanged "symbolic link from the state file"
