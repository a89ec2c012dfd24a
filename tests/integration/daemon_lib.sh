# shellcheck shell=bash
# daemon_lib.sh -- helpers for the stubresd tests (test_daemon_*.sh),
# sourced after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/daemon_lib.sh"
#   start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1"
#   $SR_DIG www.example.test +short
#   $SR_CTL stats
#   stop_stubresd sr        # SIGTERM, exit status 0, no sanitizer report
#
# stubresd gets its own temp files: config $T/NAME.conf, control socket
# $T/NAME.sock, state file $T/NAME.state, and a resolv.conf of its own
# ($T/resolv.conf, naming only loopback) so the machine's is never read.
# shellcheck disable=SC2034

STUBRESD=$BUILD_DIR/stubresd
STUBRESCTL=$BUILD_DIR/stubresctl
[ -x "$STUBRESD" ] || skip "$STUBRESD is not built (make first)"
[ -x "$STUBRESCTL" ] || skip "$STUBRESCTL is not built (make first)"
export STUBRES_RESOLV_CONF=$T/resolv.conf
[ -f "$STUBRES_RESOLV_CONF" ] || echo "nameserver 127.0.0.1" >"$STUBRES_RESOLV_CONF"
# Sanitizer builds: report, do not abort mid-test; leaks are checked when
# stubresd exits (stop_stubresd).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# write_stubresd_conf NAME PORT [LINE...]: the config of start_stubresd.
write_stubresd_conf() {
    local name=$1 port=$2 line listen
    shift 2
    listen="127.0.0.1:$port"
    [ "$HAVE_IPV6" = 1 ] && listen="$listen, [::1]:$port"
    {
        echo "; stubresd test config ($TEST_NAME)"
        echo "listen = $listen"
        echo "control = $T/$name.sock"
        echo "state_file = $T/$name.state"
        echo "resolv_conf = $STUBRES_RESOLV_CONF"
        echo "log_level = info"
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$T/$name.conf"
}

# start_stubresd NAME [CONFIG-LINE...]: stubresd in the foreground on a free
# port (127.0.0.1, and ::1 when HAVE_IPV6=1) with the extra config lines;
# ready on return. Sets SR_PORT, SR_CONF, SR_SOCK, SR_STATE, SR_DIG (dig
# with $DIG_OPTS at it), SR_CTL (stubresctl -s its socket). A later call
# with the same NAME (after stop_stubresd) reuses the port and files.
# STUBRESD_WRAP, when set, is a command run in front of stubresd (valgrind
# and its options); it must keep stubresd's PID and pass its exit status.
start_stubresd() {
    local name=$1
    shift
    if [ -z "${SR_PORT:-}" ] || [ "${SR_NAME:-}" != "$name" ]; then
        SR_PORT=$(free_port)
        SR_NAME=$name
        write_stubresd_conf "$name" "$SR_PORT" "$@"
    elif [ "$#" -gt 0 ]; then
        write_stubresd_conf "$name" "$SR_PORT" "$@"
    fi
    SR_CONF=$T/$name.conf
    SR_SOCK=$T/$name.sock
    SR_STATE=$T/$name.state
    SR_DIG="dig $DIG_OPTS @127.0.0.1 -p $SR_PORT"
    SR_CTL="$STUBRESCTL -s $SR_SOCK"
    "$STUBRESD" -t -c "$SR_CONF" >"$T/$name.checkconf.log" 2>&1 ||
        { cat "$T/$name.checkconf.log" >&2; fail "stubresd -t rejects $SR_CONF"; }
    # shellcheck disable=SC2086 # STUBRESD_WRAP: a command and its options
    start_bg "$name" ${STUBRESD_WRAP:-} "$STUBRESD" -f -c "$SR_CONF"
    wait_udp 127.0.0.1 "$SR_PORT" "$name"
    wait_tcp 127.0.0.1 "$SR_PORT" "$name"
    local i
    for i in $(seq 1 50); do
        [ -S "$SR_SOCK" ] && return 0
        sleep 0.1
    done
    fail "stubresd did not create its control socket $SR_SOCK"
}

# sanitizer_clean NAME: no AddressSanitizer/UBSan/LeakSanitizer report in
# NAME's log.
sanitizer_clean() {
    if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$(log_of "$1")"; then
        grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$(log_of "$1")" >&2
        fail "$1: sanitizer report in its log"
    fi
}

# stop_stubresd NAME: SIGTERM, then the exit status must be 0 (it drains
# and exits), within 15 s, with a clean sanitizer log.
stop_stubresd() {
    local name=$1 pid rc=0 i
    pid=$(pid_of "$name")
    kill -TERM "$pid"
    for i in $(seq 1 150); do
        _it_alive "$pid" || break
        sleep 0.1
    done
    _it_alive "$pid" && fail "$name did not exit within 15 s of SIGTERM"
    wait "$pid" || rc=$?
    assert_eq 0 "$rc" "$name exits with status 0 on SIGTERM"
    sanitizer_clean "$name"
    stop_bg "$name" >/dev/null 2>&1 || true
}

# sr_stat KEY...: a value of `stubresctl --json stats`.
sr_stat() {
    $SR_CTL --json stats >"$T/stats.json" || fail "stubresctl stats failed"
    local v
    v=$(json_get "$T/stats.json" "$@")
    echo "${v:-0}"
}
