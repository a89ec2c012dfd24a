# shellcheck shell=bash
# lib.sh -- sourced by every integration test (tests/integration/*.sh).
#
#   #!/bin/bash
#   set -eu
#   . "$(dirname "$0")/lib.sh"
#   skip_unless nsd unbound dig
#   start_nsd
#   start_unbound
#   out=$(dig $DIG_OPTS @127.0.0.1 -p "$UNBOUND_PORT" www.example.test +short)
#   assert_eq 10.0.0.1 "$out" "www.example.test A through unbound"
#
# Rules every helper keeps (and tests must keep too): traffic goes to
# loopback only (127.0.0.0/8, ::1), never to the nameserver of
# /etc/resolv.conf; every program gets an explicit loopback address and a
# high port from free_port; every wait is bounded; every program started
# with start_bg is killed by its PID when the test exits, fails or is
# interrupted, and the whole test is killed after $IT_TIMEOUT seconds.
# tests/integration/README.md lists every helper and variable.

# Variables here are for the tests that source this file (SC2034); start_*
# take optional arguments (SC2119/SC2120).
# shellcheck disable=SC2034,SC2119,SC2120

[ -n "${BASH_VERSION:-}" ] || { echo "lib.sh needs bash" >&2; exit 99; }
set -eu

# --- where things are -------------------------------------------------------
# The directory of this file (sources, maybe read-only under distcheck) and
# the build directory (make check runs tests with cwd = top build dir).
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_ZONE_DIR=$IT_DIR/zone
FAKEDNS=$IT_DIR/servers/fakedns.py
PROBE=$IT_DIR/servers/probe.py
# Debian's interpreter: python3-dnspython belongs to it, and the python3
# first on PATH may be another one on these machines.
PY=/usr/bin/python3
BUILD_DIR=${abs_top_builddir:-$(pwd)}
# sr_tool NAME: the program NAME of the build. stubres-query links the
# shared libstubres, so $BUILD_DIR/NAME is libtool's wrapper script, which
# starts a shell before the program (half a second on a busy machine, for
# tests that run it hundreds of times); when the real binary is there, run
# it with the library path the wrapper would set.
sr_tool() {
    if [ -x "$BUILD_DIR/.libs/$1" ] && [ "$(head -c 2 "$BUILD_DIR/$1")" = "#!" ]; then
        printf '%s\n' "$BUILD_DIR/.libs/$1"
    else
        printf '%s\n' "$BUILD_DIR/$1"
    fi
}
LD_LIBRARY_PATH=$BUILD_DIR/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
TEST_NAME=$(basename "$0" .sh)
export PYTHONDONTWRITEBYTECODE=1

# The test zone and its reverse zones (zone/*.zone; comments there say
# which name serves which test).
ZONE=example.test
ZONE_FILE=$IT_ZONE_DIR/example.test.zone
ZONE_FILES="$IT_ZONE_DIR/example.test.zone $IT_ZONE_DIR/10.in-addr.arpa.zone $IT_ZONE_DIR/8.b.d.0.1.0.0.2.ip6.arpa.zone"
REVERSE_ZONES="10.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa"
# The name in the server certificates made by make_ca, and the wrong one.
TLS_NAME=dns.example.test
WRONG_TLS_NAME=other.example.test

# Bounded client options: dig/kdig give up after 2 s and do not retry.
DIG_OPTS="+time=2 +tries=1"
KDIG_OPTS="+time=2 +retry=0"

IT_TIMEOUT=${IT_TIMEOUT:-120}   # seconds before the watchdog stops the test
IT_WAIT=${IT_WAIT:-10}          # seconds a wait_* helper waits at most

# --- messages and assertions ------------------------------------------------
note() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }
ok() { printf 'ok - %s\n' "$*"; }

# fail MESSAGE...: print what went wrong and what to check, exit 1 (the
# EXIT trap prints the logs of the programs started and cleans up).
fail() {
    printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}

# skip REASON: exit 77, automake's SKIP.
skip() {
    printf '%s: SKIP: %s\n' "$TEST_NAME" "$*" >&2
    exit 77
}

# skip_unless CMD...: SKIP the test when one of the programs is missing.
skip_unless() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
    done
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$#" -eq 3 ] || fail "assert_eq needs EXPECTED ACTUAL WHAT, got $# arguments"
    if [ "$1" != "$2" ]; then
        printf '%s: FAIL: %s\n  expected: %s\n  got:      %s\n' \
            "$TEST_NAME" "$3" "$1" "$2" >&2
        exit 1
    fi
    ok "$3"
}

# assert_match REGEX TEXT WHAT: TEXT (may be several lines) has a line
# matching the extended regular expression REGEX.
assert_match() {
    [ "$#" -eq 3 ] || fail "assert_match needs REGEX TEXT WHAT, got $# arguments"
    if ! printf '%s\n' "$2" | grep -Eq -- "$1"; then
        printf '%s: FAIL: %s\n  expected a line matching: %s\n  got:\n%s\n' \
            "$TEST_NAME" "$3" "$1" "$(printf '%s\n' "$2" | sed 's/^/    | /')" >&2
        exit 1
    fi
    ok "$3"
}

# assert_no_match REGEX TEXT WHAT: no line of TEXT matches REGEX.
assert_no_match() {
    [ "$#" -eq 3 ] || fail "assert_no_match needs REGEX TEXT WHAT, got $# arguments"
    if printf '%s\n' "$2" | grep -Eq -- "$1"; then
        printf '%s: FAIL: %s\n  expected no line matching: %s\n  got:\n%s\n' \
            "$TEST_NAME" "$3" "$1" "$(printf '%s\n' "$2" | sed 's/^/    | /')" >&2
        exit 1
    fi
    ok "$3"
}

# --- temp dir, processes, cleanup -------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/stubres-$TEST_NAME.XXXXXX")
IT_NAMES=()      # names given to start_bg, in start order
IT_PIDS=()       # their PIDs ("" once stop_bg stopped one)
IT_LAST=""       # the last name started (whose log wait_* prints)
IT_WATCHDOG=""
IT_LOGS_SHOWN=" "   # logs already printed by a failed wait_*

# _it_alive PID: the process runs (an exited child that is not reaped yet
# is a zombie, which kill -0 would still report).
_it_alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

# _it_stop PID: SIGTERM, up to 5 s for it to go, then SIGKILL; reap it.
_it_stop() {
    local pid=$1 i
    if _it_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            _it_alive "$pid" || break
            sleep 0.1
        done
        if _it_alive "$pid"; then
            note "PID $pid did not stop on SIGTERM within 5 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

_it_cleanup() {
    local rc=$? i n
    trap - EXIT INT TERM
    set +e
    if [ -n "$IT_WATCHDOG" ]; then
        kill -TERM "$IT_WATCHDOG" 2>/dev/null
        wait "$IT_WATCHDOG" 2>/dev/null
    fi
    # stop in reverse start order: clients of a server go before it
    for ((i = ${#IT_PIDS[@]} - 1; i >= 0; i--)); do
        [ -n "${IT_PIDS[$i]}" ] && _it_stop "${IT_PIDS[$i]}"
    done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        for n in $(printf '%s\n' "${IT_NAMES[@]}" | awk '!seen[$0]++'); do
            [ -s "$T/$n.log" ] || continue
            case $IT_LOGS_SHOWN in *" $n "*) continue ;; esac
            printf '%s: ---- last lines of %s (%s/%s.log) ----\n' \
                "$TEST_NAME" "$n" "$T" "$n" >&2
            tail -n 40 "$T/$n.log" >&2
        done
    fi
    _it_release_ports
    if [ -n "${KEEP_T:-}" ]; then
        note "kept temp dir $T (KEEP_T is set)"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap _it_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The watchdog: after IT_TIMEOUT seconds, SIGTERM to the test and to the
# command it is blocked in (bash runs the trap only once that returns), by
# PID: the children of the test that start_bg did not record. The test's
# EXIT trap then stops the recorded ones. The watchdog's sleep dies with it.
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$IT_TIMEOUT" &
    sp=$!
    wait "$sp"
    echo "$TEST_NAME: FAIL: still running after IT_TIMEOUT=$IT_TIMEOUT s; stopping it" >&2
    kill -TERM $$
    for c in $(ps -o pid= --ppid $$ 2>/dev/null); do
        [ "$c" = "$BASHPID" ] && continue
        grep -qx "$c" "$T"/*.pid 2>/dev/null || kill -TERM "$c" 2>/dev/null
    done
) &
IT_WATCHDOG=$!

# _it_index NAME: the index in IT_PIDS of NAME while it runs, else fails.
_it_index() {
    local i
    for ((i = ${#IT_NAMES[@]} - 1; i >= 0; i--)); do
        if [ "${IT_NAMES[$i]}" = "$1" ] && [ -n "${IT_PIDS[$i]}" ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# start_bg NAME CMD [ARG...]: run CMD in the background, stdout and stderr
# appended to $T/NAME.log, its PID recorded (pid_of NAME, $T/NAME.pid) and
# killed on exit. CMD must stay in the foreground (unbound -d, nsd -d, ...).
# A NAME can be started again after stop_bg NAME.
start_bg() {
    [ "$#" -ge 2 ] || fail "start_bg needs NAME CMD..."
    local name=$1
    shift
    if _it_index "$name" >/dev/null; then
        fail "start_bg: $name is already running in this test"
    fi
    "$@" >>"$T/$name.log" 2>&1 </dev/null &
    local pid=$!
    IT_NAMES+=("$name")
    IT_PIDS+=("$pid")
    IT_LAST=$name
    echo "$pid" >"$T/$name.pid"
    note "started $name (PID $pid): $*"
}

# pid_of NAME: the PID start_bg recorded.
pid_of() {
    [ -f "$T/$1.pid" ] || fail "pid_of: nothing was started as $1"
    cat "$T/$1.pid"
}

# stop_bg NAME: stop one program now (e.g. to take an upstream down); it
# is forgotten, so its PID, once reused, is never signalled again.
stop_bg() {
    local i
    i=$(_it_index "$1") || fail "stop_bg: $1 is not running"
    _it_stop "${IT_PIDS[$i]}"
    IT_PIDS[i]=""
    note "stopped $1"
}

# log_of NAME: the log file of a program started with start_bg.
log_of() { echo "$T/$1.log"; }

# _it_not_ready WHAT NAME: the failure of the wait_* helpers: NAME's log,
# whether it is still running, then FAIL.
_it_not_ready() {
    local what=$1 name=$2 pid
    if [ -n "$name" ] && [ -f "$T/$name.pid" ]; then
        pid=$(cat "$T/$name.pid")
        _it_alive "$pid" || what="$what; $name (PID $pid) has exited"
        printf '%s: ---- last lines of %s (%s) ----\n' "$TEST_NAME" "$name" "$T/$name.log" >&2
        tail -n 60 "$T/$name.log" >&2 || true
        IT_LOGS_SHOWN="$IT_LOGS_SHOWN$name "
    fi
    fail "$what"
}

# _it_probe KIND ADDR PORT NAME: probe.py, giving up early when NAME's
# process has exited.
_it_probe() {
    local pid=""
    [ -n "$4" ] && [ -f "$T/$4.pid" ] && pid=$(cat "$T/$4.pid")
    # shellcheck disable=SC2086 # no PID: no argument
    "$PY" "$PROBE" "$1" "$2" "$3" "$IT_WAIT" $pid
}

# wait_udp ADDR PORT [NAME]: until a DNS query over UDP to ADDR#PORT gets
# any reply, at most IT_WAIT seconds; on failure print NAME's log (default:
# the program started last) and fail. Stops waiting when NAME has exited.
wait_udp() {
    local name=${3-$IT_LAST}
    _it_probe udp "$1" "$2" "$name" ||
        _it_not_ready "no DNS reply over UDP from $1#$2 within $IT_WAIT s" "$name"
}

# wait_tcp ADDR PORT [NAME]: until a TCP connection to ADDR#PORT succeeds.
wait_tcp() {
    local name=${3-$IT_LAST}
    _it_probe tcp "$1" "$2" "$name" ||
        _it_not_ready "nothing accepts TCP connections on $1#$2 within $IT_WAIT s" "$name"
}

# wait_log NAME REGEX: until NAME's log has a line matching REGEX.
wait_log() {
    local name=$1 re=$2 i pid
    pid=$(pid_of "$name")
    for i in $(seq 1 $((IT_WAIT * 10))); do
        grep -Eq -- "$re" "$T/$name.log" 2>/dev/null && return 0
        _it_alive "$pid" || break
        sleep 0.1
    done
    grep -Eq -- "$re" "$T/$name.log" 2>/dev/null && return 0
    _it_not_ready "$name did not log /$re/ within $IT_WAIT s" "$name"
}

# --- ports --------------------------------------------------------------------
# Is ::1 usable here? (HAVE_IPV6=1 or 0.)
if "$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    HAVE_IPV6=1
else
    HAVE_IPV6=0
fi

# free_port: print a port free for both TCP and UDP on 127.0.0.1 (and ::1
# when HAVE_IPV6=1), chosen at random in 20000-32767: below the kernel's
# ephemeral range (no clash with client source ports). Between the check
# and the bind of the program that gets it, the port stays reserved for
# this test in $IT_PORT_DIR/PORT (a directory holding the test's PID), so
# tests running in parallel (make -j check) never pick the same one; the
# reservations go when the test exits, or when its PID is gone.
IT_PORT_DIR=${TMPDIR:-/tmp}/stubres-ports
free_port() {
    local p
    p=$("$PY" "$PROBE" free "$HAVE_IPV6" "$IT_PORT_DIR" "$$") ||
        fail "free_port: could not find a free port"
    echo "$p" >>"$T/.ports"
    echo "$p"
}

# _it_release_ports: drop this test's port reservations.
_it_release_ports() {
    local p
    [ -f "$T/.ports" ] || return 0
    while read -r p; do
        if [ "$(cat "$IT_PORT_DIR/$p/pid" 2>/dev/null)" = "$$" ]; then
            rm -rf "${IT_PORT_DIR:?}/$p"
        fi
    done <"$T/.ports"
}

# --- JSON ---------------------------------------------------------------------
# json_get FILE KEY...: the value at FILE[KEY][KEY]... (strings raw,
# numbers and true/false as JSON, objects as JSON); empty when absent.
json_get() {
    "$PY" - "$@" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        v = json.load(f)
except (OSError, ValueError) as e:
    sys.exit("json_get: %s: %s" % (sys.argv[1], e))
for k in sys.argv[2:]:
    if isinstance(v, list) and k.lstrip("-").isdigit() and -len(v) <= int(k) < len(v):
        v = v[int(k)]
    elif isinstance(v, dict) and k in v:
        v = v[k]
    else:
        sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# --- certificates -------------------------------------------------------------
# make_ca DIR: a test CA and certificates, EC P-256, in DIR:
#   ca.pem ca.key                 the CA (trust anchor: CA_FILE)
#   server.pem server.key         CN/SAN dns.example.test, IP SAN 127.0.0.1 and ::1
#   wrongname.pem wrongname.key   from the CA, for other.example.test only (no IP SAN)
#   expired.pem expired.key       from the CA, names as server, valid 2020-01-01..2021-01-01
#   selfsigned.pem selfsigned.key names as server, self-signed (not from the CA)
# Exports CERT_DIR and CA_FILE.
make_ca() {
    [ "$#" -eq 1 ] || fail "make_ca needs DIR"
    local d=$1 n
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    local ossl="openssl"
    local key="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    cat >"$d/ext.cnf" <<EOF
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$TLS_NAME, IP:127.0.0.1, IP:::1
[wrongname]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$WRONG_TLS_NAME
EOF
    # shellcheck disable=SC2086
    {
        $ossl req -x509 $key -keyout "$d/ca.key" -out "$d/ca.pem" -days 3650 \
            -subj "/CN=stubresd integration test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign"
        for n in server wrongname; do
            $ossl req $key -keyout "$d/$n.key" -out "$d/$n.csr" \
                -subj "/CN=$([ $n = server ] && echo "$TLS_NAME" || echo "$WRONG_TLS_NAME")"
            $ossl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
                -set_serial "0x$(openssl rand -hex 8)" -days 365 -sha256 \
                -extfile "$d/ext.cnf" -extensions "$n" -out "$d/$n.pem"
        done
        # OpenSSL 3.0's x509 cannot set past dates; `openssl ca` can.
        mkdir -p "$d/ca.db"
        : >"$d/ca.db/index.txt"
        openssl rand -hex 8 >"$d/ca.db/serial"
        cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
dir = $d/ca.db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
EOF
        $ossl req $key -keyout "$d/expired.key" -out "$d/expired.csr" -subj "/CN=$TLS_NAME"
        $ossl ca -batch -notext -config "$d/ca.cnf" -in "$d/expired.csr" \
            -out "$d/expired.pem" -startdate 20200101000000Z -enddate 20210101000000Z \
            -extfile "$d/ext.cnf" -extensions server
        $ossl req -x509 $key -keyout "$d/selfsigned.key" -out "$d/selfsigned.pem" \
            -days 365 -subj "/CN=$TLS_NAME" \
            -addext "subjectAltName=DNS:$TLS_NAME,IP:127.0.0.1,IP:::1" \
            -addext "extendedKeyUsage=serverAuth"
    } >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; fail "make_ca: openssl failed"; }
    CERT_DIR=$d
    CA_FILE=$d/ca.pem
    export CERT_DIR CA_FILE
}

# _it_need_ca: make the certificates once per test, in $T/certs.
_it_need_ca() {
    if [ -z "${CA_FILE:-}" ] || [ ! -f "$CA_FILE" ]; then
        make_ca "$T/certs"
    fi
}

# --- nsd ----------------------------------------------------------------------
# start_nsd [ADDR [PORT]]: nsd serving example.test and the reverse zones on
# ADDR (default 127.0.0.1) and PORT (default free_port), UDP and TCP;
# returns when it answers. Exports NSD_ADDR, NSD_PORT.
start_nsd() {
    skip_unless nsd nsd-checkconf
    NSD_ADDR=${1:-127.0.0.1}
    NSD_PORT=${2:-$(free_port)}
    local d=$T/nsd z
    mkdir -p "$d"
    # copies: the source tree is read-only under distcheck
    for z in $ZONE_FILES; do cp "$z" "$d/"; done
    cat >"$d/nsd.conf" <<EOF
server:
    ip-address: $NSD_ADDR@$NSD_PORT
    port: $NSD_PORT
    do-ip4: yes
    do-ip6: $(case $NSD_ADDR in *:*) echo yes ;; *) echo no ;; esac)
    server-count: 1
    tcp-count: 200
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "$d"
    zonelistfile: "$d/zone.list"
    database: ""
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    verbosity: 1
    hide-version: yes
    identity: "stubresd-test-nsd"
    refuse-any: no
    # no response rate limiting: load tests send thousands of NXDOMAIN
    # queries a second from one address
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "$ZONE."
    zonefile: "$d/example.test.zone"
EOF
    for z in $REVERSE_ZONES; do
        printf 'zone:\n    name: "%s."\n    zonefile: "%s/%s.zone"\n' "$z" "$d" "$z" >>"$d/nsd.conf"
    done
    nsd-checkconf "$d/nsd.conf" >"$T/nsd-checkconf.log" 2>&1 ||
        { cat "$T/nsd-checkconf.log" >&2; fail "nsd-checkconf rejects $d/nsd.conf"; }
    start_bg nsd nsd -d -c "$d/nsd.conf"
    wait_udp "$NSD_ADDR" "$NSD_PORT" nsd
    export NSD_ADDR NSD_PORT
    note "nsd ready: $NSD_ADDR port $NSD_PORT (UDP, TCP)"
}

# --- unbound ------------------------------------------------------------------
# start_unbound [ADDR]: unbound on ADDR (default 127.0.0.1; plus ::1 on the
# same ports when HAVE_IPV6=1) resolving example.test and the reverse zones
# through the nsd of start_nsd (started here if not yet), everything else
# REFUSED (it never leaves loopback). Plain UDP/TCP on UNBOUND_PORT, DoT on
# UNBOUND_TLS_PORT, DoH (HTTP/2 only, path /dns-query) on UNBOUND_HTTPS_PORT,
# with certs/server.pem of make_ca. Exports UNBOUND_ADDR, UNBOUND_PORT,
# UNBOUND_TLS_PORT, UNBOUND_HTTPS_PORT, UNBOUND_DOH_URL.
start_unbound() {
    skip_unless unbound unbound-checkconf
    [ -n "${NSD_PORT:-}" ] || start_nsd
    _it_need_ca
    UNBOUND_ADDR=${1:-127.0.0.1}
    UNBOUND_PORT=$(free_port)
    UNBOUND_TLS_PORT=$(free_port)
    UNBOUND_HTTPS_PORT=$(free_port)
    local d=$T/unbound a p z addrs=$UNBOUND_ADDR
    [ "$HAVE_IPV6" = 1 ] && [ "$UNBOUND_ADDR" != "::1" ] && addrs="$addrs ::1"
    mkdir -p "$d"
    {
        echo "server:"
        for a in $addrs; do
            for p in $UNBOUND_PORT $UNBOUND_TLS_PORT $UNBOUND_HTTPS_PORT; do
                echo "    interface: $a@$p"
            done
        done
        cat <<EOF
    port: $UNBOUND_PORT
    tls-port: $UNBOUND_TLS_PORT
    https-port: $UNBOUND_HTTPS_PORT
    tls-service-key: "$CERT_DIR/server.key"
    tls-service-pem: "$CERT_DIR/server.pem"
    http-endpoint: "/dns-query"
    http-notls-downstream: no
    do-ip4: yes
    do-ip6: $([ "$HAVE_IPV6" = 1 ] && echo yes || echo no)
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    access-control: ::1/128 allow
    num-threads: 1
    incoming-num-tcp: 1000
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$d"
    pidfile: "$d/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    log-queries: yes
    module-config: "iterator"
    qname-minimisation: no
    do-not-query-localhost: no
    # upstream traffic only from loopback, on ports outside free_port's range
    outgoing-interface: 127.0.0.1
    outgoing-port-avoid: 0-32767
    # nothing outside the test zones resolves (and nothing leaves loopback)
    local-zone: "." refuse
    local-zone: "test." nodefault
    local-zone: "$ZONE." transparent
EOF
        for z in $REVERSE_ZONES; do
            printf '    local-zone: "%s." nodefault\n    local-zone: "%s." transparent\n' "$z" "$z"
        done
        if [ "$HAVE_IPV6" = 1 ]; then
            echo "    outgoing-interface: ::1"
        fi
        echo "remote-control:"
        echo "    control-enable: no"
        for z in "$ZONE" $REVERSE_ZONES; do
            printf 'stub-zone:\n    name: "%s."\n    stub-addr: %s@%s\n' "$z" "$NSD_ADDR" "$NSD_PORT"
        done
    } >"$d/unbound.conf"
    unbound-checkconf "$d/unbound.conf" >"$T/unbound-checkconf.log" 2>&1 ||
        { cat "$T/unbound-checkconf.log" >&2; fail "unbound-checkconf rejects $d/unbound.conf"; }
    start_bg unbound unbound -d -p -c "$d/unbound.conf"
    wait_udp "$UNBOUND_ADDR" "$UNBOUND_PORT" unbound
    wait_tcp "$UNBOUND_ADDR" "$UNBOUND_TLS_PORT" unbound
    wait_tcp "$UNBOUND_ADDR" "$UNBOUND_HTTPS_PORT" unbound
    case $UNBOUND_ADDR in
        *:*) UNBOUND_DOH_URL="https://[$UNBOUND_ADDR]:$UNBOUND_HTTPS_PORT/dns-query" ;;
        *) UNBOUND_DOH_URL="https://$UNBOUND_ADDR:$UNBOUND_HTTPS_PORT/dns-query" ;;
    esac
    export UNBOUND_ADDR UNBOUND_PORT UNBOUND_TLS_PORT UNBOUND_HTTPS_PORT UNBOUND_DOH_URL
    note "unbound ready: $UNBOUND_ADDR port $UNBOUND_PORT (UDP, TCP), $UNBOUND_TLS_PORT (DoT), $UNBOUND_DOH_URL (DoH)"
}

# --- fakedns ------------------------------------------------------------------
# start_fakedns NAME [FAKEDNS-ARG...]: servers/fakedns.py serving the test
# zones on 127.0.0.1 (and ::1 when HAVE_IPV6=1): UDP and TCP on one port,
# DoT, DoH/JSON over HTTP/1.1, with certs/server.pem; mode from the
# control file (fakedns_mode), counters in the stats file (fakedns_stat).
# Extra arguments go last, so --mode M, --delay S, --cert/--key (e.g.
# "$CERT_DIR/wrongname.pem") override the defaults. Sets, for the last
# one started, FAKEDNS_PORT (UDP+TCP), FAKEDNS_TLS_PORT, FAKEDNS_HTTPS_PORT,
# FAKEDNS_URL (https://127.0.0.1:PORT/dns-query), FAKEDNS_JSON_URL
# (.../resolve), FAKEDNS_STATS, FAKEDNS_CONTROL; and the same with NAME in
# capitals instead of FAKEDNS (start_fakedns up1 sets UP1_PORT, ...).
# NAME must be a shell identifier.
start_fakedns() {
    [ "$#" -ge 1 ] || fail "start_fakedns needs NAME"
    local name=$1
    shift
    case $name in
        [A-Za-z_]*[!A-Za-z0-9_]* | [!A-Za-z_]*) fail "start_fakedns: $name is not a shell identifier" ;;
    esac
    _it_need_ca
    local port tls https z listen="--listen 127.0.0.1" zones=""
    port=$(free_port)
    tls=$(free_port)
    https=$(free_port)
    [ "$HAVE_IPV6" = 1 ] && listen="$listen --listen ::1"
    for z in $ZONE_FILES; do zones="$zones --zone $z"; done
    # shellcheck disable=SC2086
    start_bg "$name" "$PY" "$FAKEDNS" $listen \
        --udp-port "$port" --tcp-port "$port" --tls-port "$tls" --https-port "$https" \
        --cert "$CERT_DIR/server.pem" --key "$CERT_DIR/server.key" $zones \
        --stats "$T/$name.stats.json" --control-file "$T/$name.mode" "$@"
    wait_log "$name" '^fakedns: ready '
    FAKEDNS_PORT=$port
    FAKEDNS_TLS_PORT=$tls
    FAKEDNS_HTTPS_PORT=$https
    FAKEDNS_URL=https://127.0.0.1:$https/dns-query
    FAKEDNS_JSON_URL=https://127.0.0.1:$https/resolve
    FAKEDNS_STATS=$T/$name.stats.json
    FAKEDNS_CONTROL=$T/$name.mode
    local up v
    up=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
    for v in PORT TLS_PORT HTTPS_PORT URL JSON_URL STATS CONTROL; do
        eval "${up}_$v=\$FAKEDNS_$v"
        export "${up}_$v"
    done
    export FAKEDNS_PORT FAKEDNS_TLS_PORT FAKEDNS_HTTPS_PORT FAKEDNS_URL \
        FAKEDNS_JSON_URL FAKEDNS_STATS FAKEDNS_CONTROL
    note "$name ready: port $port (UDP, TCP), $tls (DoT), $https (HTTPS); variables ${up}_*"
}

# fakedns_mode NAME MODE [delay=S] [count=N] [only=udp,tcp,tls,https]:
# switch a running fakedns (takes effect for its next query).
fakedns_mode() {
    [ "$#" -ge 2 ] || fail "fakedns_mode needs NAME MODE"
    local name=$1
    shift
    pid_of "$name" >/dev/null
    printf '%s\n' "$*" >"$T/$name.mode.tmp"
    mv -f "$T/$name.mode.tmp" "$T/$name.mode"
    note "$name: mode $*"
}

# fakedns_stat NAME KEY...: a counter of NAME's stats file, 0 when absent
# (fakedns_stat up1 queries udp; fakedns_stat up1 qnames www.example.test.).
fakedns_stat() {
    [ "$#" -ge 2 ] || fail "fakedns_stat needs NAME KEY..."
    local name=$1 v
    shift
    v=$(json_get "$T/$name.stats.json" "$@")
    echo "${v:-0}"
}

# fakedns_wait_stat NAME VALUE KEY...: wait (at most IT_WAIT s) until the
# counter is VALUE, e.g. after a client gave up on a handshake that the
# server records a moment later; fail showing the value seen last.
fakedns_wait_stat() {
    [ "$#" -ge 3 ] || fail "fakedns_wait_stat needs NAME VALUE KEY..."
    local name=$1 want=$2 got i
    shift 2
    for i in $(seq 1 $((IT_WAIT * 10))); do
        got=$(fakedns_stat "$name" "$@")
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    fail "fakedns $name: counter '$*' is $got, expected $want (stats: $T/$name.stats.json)"
}

# fakedns_reset NAME: zero NAME's counters (SIGUSR2) and wait until done.
fakedns_reset() {
    local name=$1 before i
    before=$(fakedns_stat "$name" resets)
    kill -USR2 "$(pid_of "$name")"
    for i in $(seq 1 50); do
        [ "$(fakedns_stat "$name" resets)" -gt "$before" ] && return 0
        sleep 0.1
    done
    fail "fakedns_reset: $name did not reset its counters within 5 s"
}
