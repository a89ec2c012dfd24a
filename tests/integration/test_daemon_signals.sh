#!/bin/bash
# test_daemon_signals.sh -- stubresd's process life: sd_notify READY,
# RELOADING and STOPPING; SIGHUP re-reads the config under load without
# losing a query; SIGTERM finishes the queries in flight (their clients get
# answers) and exits 0; without -f it detaches and keeps serving.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

start_fakedns up1

# A stand-in for systemd's notification socket.
export NOTIFY_SOCKET=$T/notify.sock
start_bg notify "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data = s.recv(4096)
    with open(sys.argv[2], "a") as f:
        f.write(data.decode() + "\n---\n")
' "$NOTIFY_SOCKET" "$T/notify.log"
wait_log notify '^listening'
notified() { grep -c "^$1\$" "$T/notify.log" 2>/dev/null || true; }

start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 3"
assert_eq 1 "$(notified READY=1)" "sd_notify READY=1 at start"

# --- SIGHUP under load --------------------------------------------------------------
echo "timeout = 2.5" >>"$SR_CONF"
"$PY" "$IT_DIR/load.py" "$SR_PORT" 5 --concurrency 8 --timeout 10 --out "$T/load.txt" >/dev/null &
lp=$!
sleep 1.5
kill -HUP "$(pid_of sr)"
sleep 1
kill -HUP "$(pid_of sr)"
wait "$lp"
res=$(cat "$T/load.txt")
note "load across two SIGHUPs: $res"
assert_match '^sent=[1-9][0-9]* answered=[0-9]+ lost=0 servfail=0$' "$res" "SIGHUP under load: no query lost"
wait_log sr 'reloaded '
assert_eq 2.5 "$($SR_CTL config timeout)" "SIGHUP re-read the file (timeout 2.5)"
assert_eq 2 "$(notified RELOADING=1)" "sd_notify RELOADING=1 for each SIGHUP"
assert_eq 3 "$(notified READY=1)" "... and READY=1 after each"

# A bad file on SIGHUP: logged, the running settings stay.
cp "$SR_CONF" "$T/good.conf"
echo "threads = many" >>"$SR_CONF"
kill -HUP "$(pid_of sr)"
wait_log sr "reload failed, keeping the running configuration: .*threads: bad value 'many'"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "still answering after a failed reload"
cp "$T/good.conf" "$SR_CONF"

# --- SIGTERM: the queries in flight get their answers ----------------------------------
# 2 s, inside timeout (2.5): the window in which the 20 are seen waiting
# (each look at stats costs a stubresctl and a python, slow on a loaded
# machine; 1 s was missed at load 10).
fakedns_mode up1 delay delay=2
"$PY" - "$SR_PORT" >"$T/drain.txt" <<'PYEOF' &
import sys, threading, dns.message, dns.query, dns.rcode
port, res = int(sys.argv[1]), []
def ask(i):
    try:
        r = dns.query.udp(dns.message.make_query("drain%d.example.test" % i, "A"),
                          "127.0.0.1", port=port, timeout=10)
        res.append(dns.rcode.to_text(r.rcode()))
    except Exception as e:
        res.append(type(e).__name__)
ts = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
for t in ts: t.start()
for t in ts: t.join()
print(len(res), sorted(set(res)))
PYEOF
qp=$!
# until the 20 queries wait for the slow upstream
for i in $(seq 1 50); do
    [ "$(sr_stat inflight clients)" = 20 ] && break
    sleep 0.1
done
assert_eq 20 "$(sr_stat inflight clients)" "20 clients waiting for the slow upstream"
pid=$(pid_of sr)
kill -TERM "$pid"
wait "$qp"
assert_eq "20 ['NXDOMAIN']" "$(cat "$T/drain.txt")" "SIGTERM: all 20 queries in flight answered"
rc=0
for i in $(seq 1 100); do _it_alive "$pid" || break; sleep 0.1; done
wait "$pid" || rc=$?
assert_eq 0 "$rc" "SIGTERM: exit status 0 after the drain"
assert_eq 1 "$(notified STOPPING=1)" "sd_notify STOPPING=1"
sanitizer_clean sr
stop_bg sr >/dev/null 2>&1 || true
fakedns_mode up1 good

# --- without -f: detached, logging to syslog, still serving -------------------------------
unset NOTIFY_SOCKET
"$STUBRESD" -c "$SR_CONF" >"$T/bg.out" 2>&1
# Find it first (its control socket says its PID; else by its exact
# command line), so that this test's cleanup stops it whatever happens.
bgpid=""
for i in $(seq 1 50); do
    [ -S "$SR_SOCK" ] && bgpid=$($SR_CTL --json status 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
    [ -n "$bgpid" ] && break
    sleep 0.1
done
[ -n "$bgpid" ] || bgpid=$(pgrep -x -f "$STUBRESD -c $SR_CONF" || true)
[ -n "$bgpid" ] || fail "the detached daemon cannot be found"
IT_PIDS+=("$bgpid")
IT_NAMES+=("sr-detached")
assert_eq "" "$(cat "$T/bg.out")" "without -f: the parent exits at once, silent"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "the detached daemon answers"
assert_eq "$bgpid" "$(ps -o sid= -p "$bgpid" | tr -d ' ')" "it leads its own session"
kill -TERM "$bgpid"
for i in $(seq 1 100); do kill -0 "$bgpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$bgpid" 2>/dev/null && fail "the detached daemon did not exit on SIGTERM"
ok "the detached daemon exits on SIGTERM"
[ -e "$SR_SOCK" ] && fail "the control socket was left behind"
ok "its control socket is removed at exit"
