#!/bin/bash
# bench/compare.sh -- stubresd against dnsmasq, unbound and the floor
# (bench/floor.c, the do-nothing responder), all on loopback, one upstream
# (nsd serving a generated zone of 100,000 names). Writes
# bench/results/<YYYY-MM-DD>.md (tables, ratios, targets, machine, versions,
# profile of stubresd's hit path). bench/README.md explains each scenario.
#
#   bench/compare.sh                  the full run (3 repetitions, < 10 min)
#   bench/compare.sh --quick          a smoke run (1 repetition, short runs, about a minute)
#   bench/compare.sh --only hit,instructions   some scenarios only
#
# Options:
#   --quick            smoke run; writes bench/build-release/quick-results.md unless --out
#   --only LIST        comma-separated scenarios: hit latency instructions miss
#                      memory encrypted threads profile (default: all)
#   --reps N           repetitions of each measured figure (default 3; quick 1)
#   --out FILE         the markdown file to write
#   --no-install       never call apt-get (fail when something is missing)
#   --no-build         use bench/build-release as it is
#   --budget SECONDS   hard limit of the whole run (default 590; quick 150)
#   --keep             keep the temp dir (configs, logs, raw dnsperf output)
#   --no-rt            never use SCHED_FIFO (no latency-rt pass)
#
# Rules it keeps: traffic only on 127.0.0.1 (never the resolv.conf
# nameserver); ports from free_port (tests/integration/lib.sh); every
# program started is recorded by PID and killed by that PID on exit, also
# on failure or interruption; every run is bounded (dnsperf -l / -n under
# `timeout`, the lib.sh watchdog stops the whole run after --budget).
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
CMDLINE="bench/compare.sh${*:+ $*}"
START_TS=$(date +%s)

QUICK=0
REPS=""
ONLY=""
OUT=""
NO_INSTALL=0
NO_BUILD=0
NO_RT=0
BUDGET=""
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --only) ONLY=${2:?--only needs a list}; shift ;;
        --only=*) ONLY=${1#--only=} ;;
        --reps) REPS=${2:?--reps needs N}; shift ;;
        --out) OUT=${2:?--out needs FILE}; shift ;;
        --no-install) NO_INSTALL=1 ;;
        --no-build) NO_BUILD=1 ;;
        --budget) BUDGET=${2:?--budget needs SECONDS}; shift ;;
        --keep) export KEEP_T=1 ;;
        --no-rt) NO_RT=1 ;;
        -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
    shift
done

ALL_SCENARIOS="hit latency instructions miss memory encrypted threads profile"
SCENARIOS=${ONLY//,/ }
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
for s in $SCENARIOS; do
    case " $ALL_SCENARIOS " in *" $s "*) ;; *) echo "compare.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
want() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }

# --- parameters ------------------------------------------------------------
ZONE_ORIGIN=bench.test
ZONE_NAMES=100000
HIT_NAMES=1000
# wire size of one cached RRset: owner n000000.bench.test. (20 bytes,
# uncompressed) + type, class, TTL, RDLENGTH (10) + an IPv4 address (4)
RRSET_WIRE=34
DP_CLIENTS="-c 2 -q 100"
if [ "$QUICK" = 1 ]; then
    REPS=${REPS:-1}
    BUDGET=${BUDGET:-150}
    HIT_SECS=3; LAT_SECS=1; ENC_SECS=2; TH_SECS=2; PROF_SECS=0
    CG_N=200; MISS_LAT_N=500; MISS_QPS_N=2000; MEM_N=5000
else
    REPS=${REPS:-3}
    BUDGET=${BUDGET:-590}
    HIT_SECS=15; LAT_SECS=2; ENC_SECS=5; TH_SECS=6; PROF_SECS=5
    CG_N=1000; MISS_LAT_N=5000; MISS_QPS_N=20000; MEM_N=$ZONE_NAMES
fi
LAT_QPS=50000     # offered load of the latency scenario
MISS_RATE=5000    # offered load of the miss latency runs (unique names)
DEADLINE=$((START_TS + BUDGET))

DATE=$(date +%F)
RESULTS_DIR=$BENCH_DIR/results
BUILD=$BENCH_DIR/build-release
if [ -z "$OUT" ]; then
    if [ "$QUICK" = 1 ]; then OUT=$BUILD/quick-results.md; else OUT=$RESULTS_DIR/$DATE.md; fi
fi
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac

say() { printf '\033[1mcompare:\033[0m %s\n' "$*" >&2; }

# --- packages ---------------------------------------------------------------
# program:package pairs; apt-get only for what is missing.
NEED_PROGS="dnsperf:dnsperf dnsmasq:dnsmasq-base unbound:unbound unbound-control:unbound
unbound-checkconf:unbound nsd:nsd nsd-checkconf:nsd valgrind:valgrind
callgrind_control:valgrind callgrind_annotate:valgrind dumpcap:wireshark-common
tshark:tshark taskset:util-linux openssl:openssl timeout:coreutils
autoreconf:autoconf automake:automake libtoolize:libtool pkg-config:pkg-config
make:make gcc:gcc perf:linux-perf"
BUILD_DEBS="libevent-dev libssl-dev libcurl4-openssl-dev libinih-dev check libidn2-dev
libjansson-dev"
install_missing() {
    local pair prog pkg need="" p
    for pair in $NEED_PROGS; do
        prog=${pair%%:*}
        pkg=${pair#*:}
        command -v "$prog" >/dev/null 2>&1 && continue
        [ -x "/usr/sbin/$prog" ] && continue
        case " $need " in *" $pkg "*) ;; *) need="$need $pkg" ;; esac
    done
    /usr/bin/python3 -c 'import dns.message' 2>/dev/null || need="$need python3-dnspython"
    for p in $BUILD_DEBS; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
            need="$need $p"
    done
    [ -z "$need" ] && return 0
    if [ "$NO_INSTALL" = 1 ] || [ "$(id -u)" -ne 0 ]; then
        say "missing Debian packages:$need (run as root without --no-install, or apt-get install them)"
        exit 1
    fi
    say "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        debconf-set-selections 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! timeout 300 apt-get install -y -q --no-install-recommends $need; then
        timeout 120 apt-get update -q || true
        # shellcheck disable=SC2086
        timeout 300 apt-get install -y -q --no-install-recommends $need
    fi
}
install_missing
export PATH=$PATH:/usr/sbin:/sbin

# --- build (release flags, out of tree) -----------------------------------------
BUILD_NOTE=""
build_release() {
    mkdir -p "$BUILD"
    if [ ! -x "$TOP/configure" ] || [ "$TOP/configure.ac" -nt "$TOP/configure" ] ||
        [ "$TOP/Makefile.am" -nt "$TOP/configure" ]; then
        say "autoreconf"
        (cd "$TOP" && autoreconf -fi) >"$BUILD/autoreconf.log" 2>&1 || return 1
    fi
    if [ ! -f "$BUILD/Makefile" ] || [ "$TOP/configure" -nt "$BUILD/Makefile" ]; then
        say "configure (CFLAGS=\"-O2 -g\" --disable-werror) in $BUILD"
        (cd "$BUILD" && CFLAGS="-O2 -g" "$TOP/configure" --disable-werror) \
            >"$BUILD/configure.log" 2>&1 || return 1
    fi
    say "make -j$(nproc) in $BUILD"
    make -C "$BUILD" -j"$(nproc)" >"$BUILD/make.log" 2>&1 || return 1
}
if [ "$NO_BUILD" = 0 ]; then
    if ! build_release; then
        say "the release build failed (logs in $BUILD/*.log); last lines:"
        tail -n 20 "$BUILD"/autoreconf.log "$BUILD"/configure.log "$BUILD"/make.log 2>/dev/null >&2 || true
        BUILD_NOTE="the release build failed; stubresd left out of this run"
    fi
fi
FLOOR=$BUILD/bench/floor
if [ ! -x "$FLOOR" ]; then
    mkdir -p "$BUILD/bench"
    gcc -O2 -o "$FLOOR" "$BENCH_DIR/floor.c"
fi
STUBRESD=""
if [ -z "$BUILD_NOTE" ] && [ -x "$BUILD/stubresd" ]; then
    STUBRESD=$BUILD/stubresd
fi

# --- the harness of the integration tests: temp dir, ports, PIDs, watchdog ---
IT_TIMEOUT=$((DEADLINE - $(date +%s)))
[ "$IT_TIMEOUT" -gt 30 ] || { say "no time left after the build (--budget $BUDGET)"; exit 1; }
# shellcheck disable=SC2034 # read by lib.sh
IT_WAIT=20
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source=ab_lib.sh
. "$BENCH_DIR/ab_lib.sh"
LIB=$BENCH_DIR/compare_lib.py

RAW=$T/raw.tsv
META=$T/meta.txt
: >"$RAW"
: >"$META"
REPORT_DONE=0
CLK_TCK=$(getconf CLK_TCK)
if [ "$(nproc)" -ge 2 ]; then
    PIN0="taskset -c 0"
    PIN1="taskset -c 1"
else
    PIN0=""
    PIN1=""
fi
declare -A PORT
CACHE_OFF=0   # 1: srv_* start the program with its cache disabled (memory baseline)

meta() { printf '%s=%s\n' "$1" "$(printf '%s' "$2" | sed ':a;N;$!ba;s/\n/\\n/g')" >>"$META"; }
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
left() { echo $((DEADLINE - $(date +%s))); }

# fits SCENARIO SECONDS: enough time left (keeping 20 s for the report and
# the clean-up), else the scenario is noted as skipped.
fits() {
    if [ "$(left)" -lt $(($2 + 20)) ]; then
        say "skipping $1: it needs about $2 s, $(left) s left of --budget $BUDGET"
        meta skipped "$1: skipped, about $2 s needed and $(left) s left of the $BUDGET s budget"
        return 1
    fi
    meta loadavg_scenarios "$1: $(cut -d' ' -f1-3 /proc/loadavg)"
    return 0
}

write_report() {
    meta elapsed "$(($(date +%s) - START_TS))"
    meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    mkdir -p "$(dirname "$1")"
    "$PY" "$LIB" report "$RAW" "$META" "$1"
    case $1 in
        "$RESULTS_DIR"/*) cp "$RAW" "${1%.md}.tsv" ;;
    esac
}

# On any exit: a partial report (never over a good results file), then
# lib.sh's clean-up stops every program by PID.
_cmp_exit() {
    local rc=$?
    set +e
    if [ "$REPORT_DONE" != 1 ] && [ -s "$RAW" ]; then
        meta notes "PARTIAL: the run stopped early (exit status $rc)"
        write_report "$BUILD/partial-results.md" 2>/dev/null &&
            say "partial results in $BUILD/partial-results.md"
    fi
    (exit "$rc")
    _it_cleanup
}
trap _cmp_exit EXIT

# --- measuring helpers -------------------------------------------------------
# ticks PID (utime+stime in clock ticks) comes from ab_lib.sh.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# dp PIN OUT SECONDS ARGS...: dnsperf (at 127.0.0.1, -t 2) with its output
# in OUT, killed after SECONDS whatever happens.
dp() {
    local pin=$1 out=$2 lim=$3
    shift 3
    # shellcheck disable=SC2086
    timeout -k 3 "$lim" $pin dnsperf -s 127.0.0.1 -t 2 "$@" >"$out" 2>&1 || true
}
dp_qps() { awk '/Queries per second:/ { print $4; f = 1 } END { if (!f) print "nan" }' "$1"; }
dp_done() { awk '/Queries completed:/ { print $3; f = 1 } END { if (!f) print 0 }' "$1"; }
dp_lost() { awk '/Queries lost:/ { print $3; f = 1 } END { if (!f) print "nan" }' "$1"; }
# dp_check OUT WHAT: note when fewer than 99% of the answers were NOERROR.
dp_check() {
    local sent ok
    sent=$(awk '/Queries sent:/ { print $3 }' "$1")
    ok=$(awk '/Response codes:/ { for (i = 3; i <= NF; i++) if ($i == "NOERROR") print $(i + 1) }' "$1")
    if [ -z "$sent" ] || [ "${ok:-0}" -lt $((sent * 99 / 100)) ]; then
        meta notes "$2: ${ok:-0} NOERROR answers of ${sent:-?} queries ($(grep -m1 'Response codes' "$1" 2>/dev/null | sed 's/^ *//'))"
        say "$2: only ${ok:-0} NOERROR of ${sent:-?}"
    fi
}
# stop_if NAME: stop_bg when NAME runs.
stop_if() {
    if _it_index "$1" >/dev/null; then stop_bg "$1" >/dev/null 2>&1; fi
    return 0
}
# set_rt POLICY PRIO PID...: chrt every thread of each PID (-f 10: SCHED_FIFO;
# -o 0: back to normal).
set_rt() {
    local pol=$1 prio=$2 p
    shift 2
    for p in "$@"; do chrt -a "$pol" -p "$prio" "$p" >/dev/null 2>&1 || true; done
}
# nsd_pids: the upstream nsd and its children (it forks its server and xfrd).
nsd_pids() {
    local p
    p=$(pid_of nsd)
    # shellcheck disable=SC2046 # a list of PIDs
    echo "$p" $(cat /proc/"$p"/task/*/children 2>/dev/null)
}
# rotate N WORDS...: the words, rotated left by N (each repetition starts
# with another peer, so a slow phase of the machine does not hit one peer).
rotate() {
    local n=$1
    shift
    local a=("$@") i k
    k=${#a[@]}
    for ((i = 0; i < k; i++)); do printf '%s ' "${a[$(((i + n) % k))]}"; done
}

# --- the servers -------------------------------------------------------------
# Each srv_* NAME [PREFIX...] starts one program with start_bg (PREFIX: the
# pinning and/or valgrind command in front), sets PORT[NAME], waits until it
# answers over UDP.

srv_nsd() {
    local n=$1 d p
    d=$T/$n
    p=$(free_port)
    mkdir -p "$d"
    cat >"$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$p
    port: $p
    do-ip4: yes
    do-ip6: no
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
    verbosity: 0
    hide-version: yes
    refuse-any: no
remote-control:
    control-enable: no
zone:
    name: "$ZONE_ORIGIN."
    zonefile: "$T/zone/$ZONE_ORIGIN.zone"
EOF
    nsd-checkconf "$d/nsd.conf" >"$d/checkconf.log" 2>&1 ||
        { cat "$d/checkconf.log" >&2; fail "nsd-checkconf rejects $d/nsd.conf"; }
    start_bg "$n" nsd -d -c "$d/nsd.conf"
    PORT[$n]=$p
    IT_WAIT=60 wait_udp 127.0.0.1 "$p" "$n"
}

srv_floor() {
    local n=$1 p
    shift
    p=$(free_port)
    start_bg "$n" "$@" "$FLOOR" 127.0.0.1 "$p"
    PORT[$n]=$p
    IT_WAIT=60 wait_udp 127.0.0.1 "$p" "$n"
}

srv_dnsmasq() {
    local n=$1 p
    shift
    p=$(free_port)
    # -k: foreground; -C /dev/null: no /etc/dnsmasq.conf; --user=root: it
    # stays root (under valgrind it must write its dumps into $T).
    start_bg "$n" "$@" dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll \
        --server="127.0.0.1#${PORT[nsd]}" --cache-size="$([ "$CACHE_OFF" = 1 ] && echo 0 || echo 150000)" --dns-forward-max=1000 \
        --listen-address=127.0.0.1 --bind-interfaces --port="$p" \
        --pid-file="$T/$n.dnsmasq-pidfile" --user=root --log-facility=-
    PORT[$n]=$p
    IT_WAIT=60 wait_udp 127.0.0.1 "$p" "$n"
}

# unbound_conf FILE PORT: a caching forwarder to nsd, one thread, large caches.
unbound_conf() {
    cat >"$1" <<EOF
server:
    interface: 127.0.0.1@$2
    port: $2
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    access-control: 127.0.0.0/8 allow
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "$(dirname "$1")"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    module-config: "iterator"
    qname-minimisation: no
    do-not-query-localhost: no
    outgoing-interface: 127.0.0.1
    outgoing-port-avoid: 0-32767
    msg-cache-size: $([ "$CACHE_OFF" = 1 ] && echo 0 || echo 256m)
    rrset-cache-size: $([ "$CACHE_OFF" = 1 ] && echo 0 || echo 256m)
    msg-cache-slabs: 1
    rrset-cache-slabs: 1
    infra-cache-slabs: 1
    key-cache-slabs: 1
    prefetch: no
    local-zone: "test." nodefault
EOF
}

srv_unbound() {
    local n=$1 p d
    shift
    p=$(free_port)
    d=$T/$n
    mkdir -p "$d"
    unbound_conf "$d/unbound.conf" "$p"
    printf 'forward-zone:\n    name: "."\n    forward-addr: 127.0.0.1@%s\n' "${PORT[nsd]}" >>"$d/unbound.conf"
    unbound-checkconf "$d/unbound.conf" >"$d/checkconf.log" 2>&1 ||
        { cat "$d/checkconf.log" >&2; fail "unbound-checkconf rejects $d/unbound.conf"; }
    start_bg "$n" "$@" unbound -d -p -c "$d/unbound.conf"
    PORT[$n]=$p
    IT_WAIT=60 wait_udp 127.0.0.1 "$p" "$n"
}

# srv_unbound_up NAME: the encrypted upstream: unbound serving UDP, DoT and
# DoH (HTTP/2) with the test CA of lib.sh, bench.test from nsd (stub-zone),
# a control socket for its counters. Sets UP_TLS_PORT, UP_HTTPS_PORT, UP_CTL.
srv_unbound_up() {
    local n=$1 p d
    _it_need_ca
    p=$(free_port)
    UP_TLS_PORT=$(free_port)
    UP_HTTPS_PORT=$(free_port)
    d=$T/$n
    mkdir -p "$d"
    unbound_conf "$d/unbound.conf" "$p"
    UP_CTL="unbound-control -c $d/unbound.conf"
    cat >>"$d/unbound.conf" <<EOF
    interface: 127.0.0.1@$UP_TLS_PORT
    interface: 127.0.0.1@$UP_HTTPS_PORT
    tls-port: $UP_TLS_PORT
    https-port: $UP_HTTPS_PORT
    tls-service-key: "$CERT_DIR/server.key"
    tls-service-pem: "$CERT_DIR/server.pem"
    http-endpoint: "/dns-query"
    http-notls-downstream: no
    incoming-num-tcp: 1000
    extended-statistics: yes
    statistics-cumulative: no
    local-zone: "." refuse
    local-zone: "$ZONE_ORIGIN." transparent
remote-control:
    control-enable: yes
    control-interface: "$d/control.sock"
    control-use-cert: no
stub-zone:
    name: "$ZONE_ORIGIN."
    stub-addr: 127.0.0.1@${PORT[nsd]}
EOF
    unbound-checkconf "$d/unbound.conf" >"$d/checkconf.log" 2>&1 ||
        { cat "$d/checkconf.log" >&2; fail "unbound-checkconf rejects $d/unbound.conf"; }
    start_bg "$n" unbound -d -p -c "$d/unbound.conf"
    PORT[$n]=$p
    IT_WAIT=60 wait_udp 127.0.0.1 "$p" "$n"
    wait_tcp 127.0.0.1 "$UP_TLS_PORT" "$n"
    wait_tcp 127.0.0.1 "$UP_HTTPS_PORT" "$n"
}

# srv_stubresd NAME PREFIX CONFIG-LINE...: PREFIX is one word ("" for none,
# else e.g. "taskset -c 0"); servers defaults to the nsd upstream, cache 256M.
srv_stubresd() {
    local n=$1 pre=$2 p c line
    shift 2
    p=$(free_port)
    c=$T/$n.conf
    {
        echo "; compare.sh: $n"
        echo "listen = 127.0.0.1:$p"
        echo "control = $T/$n.sock"
        echo "state_file = $T/$n.state"
        echo "resolv_conf = $T/resolv.conf"
        echo "log_level = warning"
        case " $* " in *" servers = "*) ;; *) echo "servers = udp://127.0.0.1:${PORT[nsd]}" ;; esac
        case " $* " in *" cache_size = "*) ;; *) echo "cache_size = $([ "$CACHE_OFF" = 1 ] && echo 0 || echo 256M)" ;; esac
        for line in "$@"; do printf '%s\n' "$line"; done
    } >"$c"
    if ! "$STUBRESD" -t -c "$c" >"$T/$n.checkconf.log" 2>&1; then
        cat "$T/$n.checkconf.log" >&2
        fail "stubresd -t rejects $c"
    fi
    # shellcheck disable=SC2086
    start_bg "$n" $pre "$STUBRESD" -f -c "$c"
    PORT[$n]=$p
    IT_WAIT=60 wait_udp 127.0.0.1 "$p" "$n"
}

# srv PEER NAME PREFIX...: start PEER (floor, dnsmasq, unbound, stubresd) as NAME.
srv() {
    local peer=$1 n=$2
    shift 2
    case $peer in
        floor) srv_floor "$n" "$@" ;;
        dnsmasq) srv_dnsmasq "$n" "$@" ;;
        unbound) srv_unbound "$n" "$@" ;;
        stubresd) srv_stubresd "$n" "$*" ;;
    esac
}

# ============================================================================
say "temp dir $T; budget ${BUDGET} s, $(left) s left; scenarios: $SCENARIOS"

echo "nameserver 127.0.0.1" >"$T/resolv.conf"  # stubresd's own, never the machine's
export STUBRES_RESOLV_CONF=$T/resolv.conf

# --- metadata -------------------------------------------------------------------
deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
meta date "$DATE"
meta quick "$QUICK"
meta reps "$REPS"
meta command "$CMDLINE"
meta cwd "$TOP"
meta git "$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?') on branch $(git -C "$TOP" rev-parse --abbrev-ref HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
meta nproc "$(nproc)"
meta cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1); $(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1) guest"
meta kernel "$(uname -srm)"
meta os "Debian $(cat /etc/debian_version 2>/dev/null)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta v_unbound "$(unbound -V 2>/dev/null | head -1) (Debian $(deb_version unbound))"
meta v_dnsmasq "$(dnsmasq --version | head -1 | sed 's/  Copyright.*//') (Debian $(deb_version dnsmasq-base))"
meta v_nsd "$(nsd -v 2>&1 | head -1) (Debian $(deb_version nsd))"
meta v_dnsperf "dnsperf $(deb_version dnsperf)"
meta v_valgrind "$(valgrind --version)"
meta v_perf "$(perf version 2>/dev/null || echo none)"
if [ -n "$STUBRESD" ]; then
    meta v_stubresd "$("$STUBRESD" -V 2>&1 | head -1), git $(git -C "$TOP" rev-parse --short HEAD)"
    meta build "$BUILD (CFLAGS=\"-O2 -g\" configure --disable-werror)"
else
    meta v_stubresd "${BUILD_NOTE:-not on this branch yet (no stubresd in the build)}"
fi
[ -n "$BUILD_NOTE" ] && meta notes "$BUILD_NOTE"

PEERS="floor dnsmasq unbound"
FORWARDERS="dnsmasq unbound"
if [ -n "$STUBRESD" ]; then
    PEERS="$PEERS stubresd"
    FORWARDERS="$FORWARDERS stubresd"
fi

meta setup "Everything runs on 127.0.0.1 with ports from free_port (20000-32767).
The upstream is nsd $(nsd -v 2>&1 | sed -n 's/NSD version //p' | head -1) (server-count 1, not pinned) serving bench.test:
$ZONE_NAMES names n000000..n$(printf '%06d' $((ZONE_NAMES - 1))).bench.test, one A record each, TTL 86400.
Servers under test are pinned to CPU 0 (\`taskset -c 0\`), dnsperf to CPU 1 (except the threads scenario).
- floor: bench/floor (recvmmsg, flip QR, sendmmsg; no lookup).
- dnsmasq: \`dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll --server=127.0.0.1#NSD --cache-size=150000 --dns-forward-max=1000 --listen-address=127.0.0.1 --bind-interfaces --user=root\`.
- unbound: 1 thread, module-config iterator (no validation), forward-zone \".\" to nsd, do-not-query-localhost no, msg/rrset caches 256m with 1 slab, \`local-zone: \"test.\" nodefault\`, prefetch no.
- stubresd: \`servers = udp://127.0.0.1:NSD\`, \`cache_size = 256M\`, \`threads = 1\`, log_level warning; built by compare.sh with CFLAGS=\"-O2 -g\".
- dnsperf: \`$DP_CLIENTS\` (2 sockets, at most 100 queries outstanding), \`-t 2\`, no EDNS.
- CPU per query: utime+stime of the server from /proc/PID/stat (all threads; ${CLK_TCK} ticks/s) over the run, divided by the queries dnsperf saw answered."

# --- the zone and the query files ----------------------------------------------
mkdir -p "$T/zone" "$T/q"
"$PY" "$LIB" zone "$T/zone/$ZONE_ORIGIN.zone" "$ZONE_ORIGIN" "$ZONE_NAMES"
Q_HIT=$T/q/hit.txt
"$PY" "$LIB" names "$Q_HIT" "$ZONE_ORIGIN" 0 "$HIT_NAMES"
Q_CG=$T/q/cg.txt
"$PY" "$LIB" names "$Q_CG" "$ZONE_ORIGIN" 0 "$CG_N"
srv_nsd nsd
say "nsd ready on port ${PORT[nsd]} with $ZONE_NAMES names"

# ============================================================================
# hit and latency: long-lived instances, cache warmed with the 1,000 names.
if want hit || want latency || want profile; then
    for peer in $PEERS; do
        srv "$peer" "$peer" $PIN0
        dp "$PIN1" "$T/warm-$peer.out" 60 -p "${PORT[$peer]}" -d "$Q_HIT" -n 1 -q 20
        dp_check "$T/warm-$peer.out" "warming $peer"
    done
fi

if want hit && fits hit $(((HIT_SECS + 2) * REPS * $(wc -w <<<"$PEERS"))); then
    meta desc_hit "The $HIT_NAMES names, each asked once first (cache warm), then \`dnsperf $DP_CLIENTS -l $HIT_SECS\` over them at full rate.
QPS is dnsperf's; CPU µs per query is the server's utime+stime delta over the run divided by the queries answered.
With the server on one core and dnsperf on the other, QPS is bounded by dnsperf (about 140k/s on these machines): compare CPU per query."
    for rep in $(seq 1 "$REPS"); do
        for peer in $(rotate "$rep" $PEERS); do
            pid=$(pid_of "$peer")
            c0=$(ticks "$pid")
            dp "$PIN1" "$T/hit.out" $((HIT_SECS + 20)) -p "${PORT[$peer]}" -d "$Q_HIT" -l "$HIT_SECS" $DP_CLIENTS
            c1=$(ticks "$pid")
            n=$(dp_done "$T/hit.out")
            dp_check "$T/hit.out" "hit $peer rep $rep"
            rec hit "$peer" qps "$rep" "$(dp_qps "$T/hit.out")"
            rec hit "$peer" lost "$rep" "$(dp_lost "$T/hit.out")"
            [ "$n" -gt 0 ] && rec hit "$peer" cpu_us "$rep" "$(calc "($c1 - $c0) * 1000000 / $CLK_TCK / $n")"
            say "hit $peer rep $rep: $(dp_qps "$T/hit.out") QPS, $(calc "($c1 - $c0) * 1000000 / $CLK_TCK / ($n > 0 ? $n : 1)") µs CPU/query"
        done
    done
fi

# latency: normal priority (as on a shared machine), then with the server
# and dnsperf at SCHED_FIFO priority 10 (chrt), which keeps the other jobs
# of the machine from preempting them: the figure of the server itself.
RT_OK=0
[ "$NO_RT" = 0 ] && chrt -f 10 true 2>/dev/null && RT_OK=1
if want latency && fits latency $(((LAT_SECS + 2) * REPS * 2 * $(wc -w <<<"$PEERS"))); then
    meta desc_latency "The same warm instances and names at a fixed offered load: \`dnsperf $DP_CLIENTS -Q $LAT_QPS -l $LAT_SECS -v\`;
p50 and p99 come from the per-query latencies that dnsperf -v prints (one line per answered query, µs resolution), nearest rank.
dnsperf's own time is included (the floor shows how much of it is the client and the kernel).
Two passes: *latency* at normal priority, where other jobs on the shared machine preempt server and client for whole
scheduler slices (milliseconds: that is the p99 seen there), and *latency-rt* with the server (all its threads) and dnsperf at
SCHED_FIFO priority 10 (\`chrt\`), which isolates them from the neighbours: the figure the target is checked against."
    for mode in shared rt; do
        scen=latency
        pin=$PIN1
        if [ "$mode" = rt ]; then
            [ "$RT_OK" = 1 ] || { meta skipped "latency-rt: chrt -f does not work here"; break; }
            scen=latency-rt
            pin="chrt -f 10 $PIN1"
            for peer in $PEERS; do set_rt -f 10 "$(pid_of "$peer")"; done
        fi
        for rep in $(seq 1 "$REPS"); do
            for peer in $(rotate "$rep" $PEERS); do
                dp "$pin" "$T/lat.out" $((LAT_SECS + 20)) -p "${PORT[$peer]}" -d "$Q_HIT" -l "$LAT_SECS" -Q "$LAT_QPS" $DP_CLIENTS -v
                read -r n p50 p99 < <("$PY" "$LIB" lat "$T/lat.out")
                rec "$scen" "$peer" p50_us "$rep" "$p50"
                rec "$scen" "$peer" p99_us "$rep" "$p99"
                rec "$scen" "$peer" qps "$rep" "$(dp_qps "$T/lat.out")"
                rec "$scen" "$peer" lost "$rep" "$(dp_lost "$T/lat.out")"
                say "$scen $peer rep $rep: p50 $p50 µs, p99 $p99 µs over $n answers"
                rm -f "$T/lat.out"
            done
        done
        if [ "$mode" = rt ]; then
            for peer in $PEERS; do set_rt -o 0 "$(pid_of "$peer")"; done
        fi
    done
fi

# profile: where stubresd's time goes under the hit load (perf, sampled).
if want profile && [ -n "$STUBRESD" ] && [ "$PROF_SECS" -gt 0 ] && fits profile $((PROF_SECS + 10)); then
    pid=$(pid_of stubresd)
    dp "$PIN1" "$T/prof.out" $((PROF_SECS + 25)) -p "${PORT[stubresd]}" -d "$Q_HIT" -l $((PROF_SECS + 2)) $DP_CLIENTS &
    dpp=$!
    sleep 1
    if timeout $((PROF_SECS + 15)) perf record -e cpu-clock -F 1999 -g -p "$pid" -o "$T/perf.data" \
        -- sleep "$PROF_SECS" >"$T/perf-record.log" 2>&1; then
        perf report -i "$T/perf.data" --no-children --sort dso --stdio -g none --percent-limit 0.5 \
            2>/dev/null | grep -v '^#' | sed '/^$/d' | head -12 >"$T/perf-dso.txt" || true
        perf report -i "$T/perf.data" --no-children --sort dso,sym --stdio -g none --percent-limit 0.7 \
            2>/dev/null | grep -v '^#' | sed '/^$/d' | head -40 >"$T/perf-report.txt" || true
        # user space alone: which of stubresd's own functions
        perf report -i "$T/perf.data" --no-children --sort dso,sym --stdio -g none --percent-limit 0.2 \
            2>/dev/null | grep -v '^#' | sed '/^$/d' | grep -v '\[k\]' | head -30 >"$T/perf-user.txt" || true
        meta profile_perf "$(printf 'By object:\n%s\n\nBy symbol (kernel and user):\n%s\n\nUser-space symbols only (share of all samples):\n%s' \
            "$(cat "$T/perf-dso.txt")" "$(cat "$T/perf-report.txt")" "$(cat "$T/perf-user.txt")")"
    else
        meta notes "perf record failed here: $(tail -n 2 "$T/perf-record.log" | tr '\n' ' ')"
    fi
    wait "$dpp" || true
fi

if want hit || want latency || want profile; then
    for peer in $PEERS; do stop_if "$peer"; done
fi

# ============================================================================
# instructions: each server under callgrind; warm; zero; exactly CG_N queries,
# one at a time; dump; Ir / answered.
if want instructions && fits instructions $(((10 + CG_N * (REPS + 2) / 300) * $(wc -w <<<"$PEERS"))); then
    meta desc_instructions "Each server runs under \`valgrind --tool=callgrind --dump-instr=no\` (pinned to CPU 0). The $CG_N names are asked twice
to warm the cache, then per repetition: \`callgrind_control --zero\`, \`dnsperf -n 1 -q 1\` over the same $CG_N names
(one query outstanding at a time, so every read and write carries exactly one datagram: the count is repeatable),
\`callgrind_control --dump\`; the figure is the dump's total Ir divided by the queries answered.
User-space instructions only (the kernel's share of a query is not in it)."
    mkdir -p "$T/cg"
    for peer in $PEERS; do
        n=cg_$peer
        vg="valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$T/cg/$peer.out"
        if [ "$peer" = stubresd ]; then
            srv_stubresd "$n" "$PIN0 $vg"
        else
            # shellcheck disable=SC2086
            srv "$peer" "$n" $PIN0 $vg
        fi
        pid=$(pid_of "$n")
        # Warm with 20 outstanding: dnsperf -q 1 waits tens of ms between
        # answers that are not immediate (misses), which under callgrind ran
        # into the 120 s cap before the cache was warm.
        dp "$PIN1" "$T/cgwarm.out" 120 -p "${PORT[$n]}" -d "$Q_CG" -n 2 -q 20 -t 5
        for rep in $(seq 1 "$REPS"); do
            before=$(ls "$T/cg/$peer.out".* 2>/dev/null | wc -l)
            timeout 30 callgrind_control -z "$pid" >/dev/null 2>&1 || meta notes "callgrind_control -z failed for $peer"
            dp "$PIN1" "$T/cg.out" 120 -p "${PORT[$n]}" -d "$Q_CG" -n 1 -q 1 -t 5
            timeout 30 callgrind_control -d "$pid" >/dev/null 2>&1 || meta notes "callgrind_control -d failed for $peer"
            dump=""
            for i in $(seq 1 50); do
                dump=$(ls -t "$T/cg/$peer.out".* 2>/dev/null | head -1)
                [ "$(ls "$T/cg/$peer.out".* 2>/dev/null | wc -l)" -gt "$before" ] && break
                dump=""
                sleep 0.1
            done
            q=$(dp_done "$T/cg.out")
            if [ -n "$dump" ] && [ "$q" -gt 0 ]; then
                ir=$("$PY" "$LIB" cgtotal "$dump")
                rec instructions "$peer" ir_per_query "$rep" "$(calc "$ir / $q")"
                rec instructions "$peer" queries "$rep" "$q"
                say "instructions $peer rep $rep: $(calc "$ir / $q") Ir per query ($q queries)"
                [ "$peer" = stubresd ] && [ "$rep" = 1 ] && cp "$dump" "$T/cg/stubresd-profile.out"
            else
                meta notes "instructions $peer rep $rep: no dump or no answers"
            fi
        done
        stop_if "$n"
    done
    if [ -f "$T/cg/stubresd-profile.out" ]; then
        # A dump taken inside the event loop charges the frames still on
        # the stack (event_base_dispatch, run, start_thread: ~100%) as
        # self cost: those lines are left out of the self list.
        callgrind_annotate --inclusive=no --threshold=100 "$T/cg/stubresd-profile.out" 2>/dev/null |
            sed -n '/file:function/,$p' | grep -E '^ *[0-9,]+ ' |
            awk '{ p = $2; gsub(/[()%]/, "", p); if (p + 0 < 99) print }' | head -30 >"$T/cg-self.txt" || true
        callgrind_annotate --inclusive=yes "$T/cg/stubresd-profile.out" 2>/dev/null |
            sed -n '/file:function/,$p' | grep -E '^ *[0-9,]+ ' | head -30 >"$T/cg-incl.txt" || true
        meta profile_callgrind "$(printf 'Self (exclusive) Ir over %s hits:\n%s\n\nInclusive Ir:\n%s' \
            "$CG_N" "$(cat "$T/cg-self.txt")" "$(cat "$T/cg-incl.txt")")"
    fi
fi

# ============================================================================
# miss and memory: a fresh instance of each forwarder per repetition.
#   names [0, L)          fixed-rate latency, first to nsd directly, then to the forwarder
#   names [L, L+Q)        full-rate QPS, to nsd directly, then to the forwarder
#   names [L+Q, MEM_N)    the rest, so that MEM_N distinct RRsets are cached
# RSS before (idle) and after: the memory figure.
if (want miss || want memory) && fits miss/memory $((REPS * $(wc -w <<<"$FORWARDERS") * (MEM_N / 10000 + 6))); then
    declare -A IDLE_OFF=()
    Q_ML=$T/q/miss-lat.txt
    Q_MQ=$T/q/miss-qps.txt
    Q_MR=$T/q/miss-rest.txt
    "$PY" "$LIB" names "$Q_ML" "$ZONE_ORIGIN" 0 "$MISS_LAT_N"
    "$PY" "$LIB" names "$Q_MQ" "$ZONE_ORIGIN" "$MISS_LAT_N" "$MISS_QPS_N"
    "$PY" "$LIB" names "$Q_MR" "$ZONE_ORIGIN" $((MISS_LAT_N + MISS_QPS_N)) $((MEM_N - MISS_LAT_N - MISS_QPS_N))
    meta desc_miss "Each repetition starts each forwarder afresh (empty cache). Every name is asked once.
Latency: $MISS_LAT_N names at a fixed \`-Q $MISS_RATE\` (dnsperf -v, nearest-rank percentiles), asked of nsd directly and then,
the same names, of the forwarder; \"added\" is forwarder minus direct (same repetition, same names).
QPS: $MISS_QPS_N further names at full rate (\`dnsperf -n 1 $DP_CLIENTS\`), to nsd directly (row nsd-direct) and to the forwarder.
The latency runs (direct and forwarded) run nsd, the forwarder and dnsperf at SCHED_FIFO 10, like latency-rt.
nsd is not pinned: on 2 cores the forwarder (CPU 0), nsd and dnsperf (CPU 1) share the machine, so miss QPS is a chain figure."
    meta desc_memory "The same fresh instances: VmRSS (/proc/PID/status) once the forwarder answers (idle), and after $MEM_N distinct names
(the miss names plus the rest, each asked once; one A RRset each, wire size $RRSET_WIRE bytes: owner 20 + 10 + RDATA 4).
The baseline is the idle RSS of the same program started with its cache disabled (dnsmasq --cache-size=0, unbound msg/rrset-cache-size 0,
stubresd cache_size = 0): dnsmasq allocates and touches its whole cache (150,000 entries) at start, so the delta over its own idle RSS
would hide it. bytes per RRset = (RSS after - cache-off idle RSS) / names answered; \"beyond wire\" subtracts the $RRSET_WIRE bytes.
The delta over the instance's own idle RSS is the row \"bytes per RRset over own idle\".
dnsmasq sizes its cache in entries (--cache-size=150000) and unbound in bytes (256m): both have room for all the names."
    if want memory; then
        for peer in $FORWARDERS; do
            CACHE_OFF=1 srv "$peer" "off_$peer" $PIN0
            sleep 0.5
            IDLE_OFF[$peer]=$(rss_kb "$(pid_of "off_$peer")")
            stop_if "off_$peer"
        done
    fi
    for rep in $(seq 1 "$REPS"); do
        for peer in $(rotate "$rep" $FORWARDERS); do
            n=m_$peer
            srv "$peer" "$n" $PIN0
            pid=$(pid_of "$n")
            sleep 0.5
            rss0=$(rss_kb "$pid")
            entries=0
            if want miss; then
                # the latency runs at SCHED_FIFO, as latency-rt: nsd, the
                # forwarder and dnsperf, so neighbours' slices stay out of p99
                lpin=$PIN1
                if [ "$RT_OK" = 1 ]; then
                    lpin="chrt -f 10 $PIN1"
                    # shellcheck disable=SC2046 # a list of PIDs
                    set_rt -f 10 "$pid" $(nsd_pids)
                fi
                dp "$lpin" "$T/md.out" 60 -p "${PORT[nsd]}" -d "$Q_ML" -n 1 -Q "$MISS_RATE" $DP_CLIENTS -v
                read -r _ dp50 dp99 < <("$PY" "$LIB" lat "$T/md.out")
                dp "$lpin" "$T/mf.out" 60 -p "${PORT[$n]}" -d "$Q_ML" -n 1 -Q "$MISS_RATE" $DP_CLIENTS -v
                read -r _ fp50 fp99 < <("$PY" "$LIB" lat "$T/mf.out")
                # shellcheck disable=SC2046 # a list of PIDs
                [ "$RT_OK" = 1 ] && set_rt -o 0 "$pid" $(nsd_pids)
                dp_check "$T/mf.out" "miss latency $peer rep $rep"
                entries=$((entries + $(dp_done "$T/mf.out")))
                rec miss nsd-direct p50_us "$rep" "$dp50"
                rec miss nsd-direct p99_us "$rep" "$dp99"
                rec miss "$peer" p50_us "$rep" "$fp50"
                rec miss "$peer" p99_us "$rep" "$fp99"
                rec miss "$peer" added_p50_us "$rep" "$(calc "$fp50 - $dp50")"
                rec miss "$peer" added_p99_us "$rep" "$(calc "$fp99 - $dp99")"
                dp "$PIN1" "$T/mqd.out" 60 -p "${PORT[nsd]}" -d "$Q_MQ" -n 1 $DP_CLIENTS
                dp "$PIN1" "$T/mq.out" 60 -p "${PORT[$n]}" -d "$Q_MQ" -n 1 $DP_CLIENTS
                dp_check "$T/mq.out" "miss QPS $peer rep $rep"
                entries=$((entries + $(dp_done "$T/mq.out")))
                rec miss nsd-direct qps "$rep" "$(dp_qps "$T/mqd.out")"
                rec miss "$peer" qps "$rep" "$(dp_qps "$T/mq.out")"
                rec miss "$peer" lost "$rep" "$(($(dp_lost "$T/mf.out") + $(dp_lost "$T/mq.out")))"
                say "miss $peer rep $rep: p50 $fp50 µs (nsd direct $dp50), QPS $(dp_qps "$T/mq.out") (nsd direct $(dp_qps "$T/mqd.out"))"
            else
                cat "$Q_ML" "$Q_MQ" >"$T/q/miss-first.txt"
                dp "$PIN1" "$T/mf.out" 60 -p "${PORT[$n]}" -d "$T/q/miss-first.txt" -n 1 $DP_CLIENTS
                entries=$((entries + $(dp_done "$T/mf.out")))
            fi
            if want memory; then
                dp "$PIN1" "$T/mr.out" 120 -p "${PORT[$n]}" -d "$Q_MR" -n 1 $DP_CLIENTS
                dp_check "$T/mr.out" "memory fill $peer rep $rep"
                entries=$((entries + $(dp_done "$T/mr.out")))
                sleep 1
                rss1=$(rss_kb "$pid")
                rec memory "$peer" idle_kb "$rep" "$rss0"
                rec memory "$peer" full_kb "$rep" "$rss1"
                rec memory "$peer" entries "$rep" "$entries"
                rec memory "$peer" idle_off_kb "$rep" "${IDLE_OFF[$peer]}"
                rec memory "$peer" bytes_per_entry_idle "$rep" "$(calc "($rss1 - $rss0) * 1024 / $entries")"
                bpe=$(calc "($rss1 - ${IDLE_OFF[$peer]}) * 1024 / $entries")
                rec memory "$peer" bytes_per_entry "$rep" "$bpe"
                rec memory "$peer" beyond_wire "$rep" "$(calc "$bpe - $RRSET_WIRE")"
                say "memory $peer rep $rep: idle $rss0 KiB (cache off ${IDLE_OFF[$peer]}), $rss1 KiB after $entries names: $bpe bytes each"
            fi
            stop_if "$n"
        done
    done
fi

# ============================================================================
# encrypted: unbound as a DoT/DoH upstream (answering from its own warm cache),
# dnsperf straight at it, and stubresd (cache off) forwarding UDP clients to it.
# One capture of the TCP SYNs to both ports for the whole scenario; each run's
# window tells whose connections they were.
ENC_KINDS="dnsperf-dot dnsperf-doh"
[ -n "$STUBRESD" ] && ENC_KINDS="dnsperf-dot stubresd-dot dnsperf-doh stubresd-doh"
if want encrypted && fits encrypted $((15 + REPS * $(wc -w <<<"$ENC_KINDS") * (ENC_SECS + 3))); then
    srv_unbound_up up
    dp "$PIN1" "$T/upwarm.out" 60 -p "${PORT[up]}" -d "$Q_HIT" -n 1 -q 20
    dp_check "$T/upwarm.out" "warming the encrypted upstream"
    start_bg cap dumpcap -i lo -q -w "$T/syn.pcapng" \
        -f "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and (dst port $UP_TLS_PORT or dst port $UP_HTTPS_PORT)"
    wait_log cap 'Capturing on'
    enc_t0=$(date +%s.%N)
    if [ -n "$STUBRESD" ]; then
        srv_stubresd sr_dot "$PIN0" "servers = tls://127.0.0.1:$UP_TLS_PORT#$TLS_NAME" \
            "ca_file = $CA_FILE" "cache_size = 0"
        srv_stubresd sr_doh "$PIN0" "servers = https://127.0.0.1:$UP_HTTPS_PORT/dns-query" \
            "ca_file = $CA_FILE" "cache_size = 0" "doh_method = post"
    fi
    meta desc_encrypted "Upstream: unbound (1 thread, not pinned) serving UDP, DoT and DoH (HTTP/2, POST) with a test CA
(tests/integration/lib.sh make_ca), bench.test from nsd, its cache warmed with the $HIT_NAMES names, so it answers every query from cache.
dnsperf-dot / dnsperf-doh: \`dnsperf -m dot\` / \`-m doh -O doh-method=POST\` straight at unbound ($DP_CLIENTS, $ENC_SECS s) - dnsperf's own
figure over that protocol (its DoH numbers are unstable on these machines).
stubresd-dot / stubresd-doh: stubresd with \`cache_size = 0\` (every query forwarded) and \`servers = tls://...#$TLS_NAME\` /
\`https://127.0.0.1:PORT/dns-query\` (doh_method post, ca_file the test CA), pinned to CPU 0, dnsperf over UDP in front ($DP_CLIENTS, $ENC_SECS s).
Handshakes: dumpcap counts the TCP SYNs to unbound's DoT and DoH ports for the whole scenario (a TLS handshake per TCP connection);
stubresd's are all the SYNs outside dnsperf's own runs, from before stubresd started to the end, per 100,000 queries it forwarded.
The upstream's counters (unbound-control stats, extended: num.query.tls, num.query.tls.resume, num.query.https) are the cross-check.
CPU per query (/proc/PID/stat over the run): stubresd's, and the upstream unbound's (which serves TLS/HTTP/2 either way)."
    declare -A ENC_Q=()
    WIN=$T/windows.txt
    : >"$WIN"
    for rep in $(seq 1 "$REPS"); do
        for kind in $(rotate "$rep" $ENC_KINDS); do
            $UP_CTL stats >/dev/null 2>&1 || true   # zero unbound's counters
            upid=$(pid_of up)
            u0=$(ticks "$upid")
            spid=""
            case $kind in stubresd-*) spid=$(pid_of "sr_${kind#stubresd-}"); s0=$(ticks "$spid") ;; esac
            w0=$(date +%s.%N)
            case $kind in
                dnsperf-dot) dp "$PIN1" "$T/enc.out" $((ENC_SECS + 20)) -m dot -p "$UP_TLS_PORT" -d "$Q_HIT" -l "$ENC_SECS" $DP_CLIENTS ;;
                dnsperf-doh) dp "$PIN1" "$T/enc.out" $((ENC_SECS + 20)) -m doh -p "$UP_HTTPS_PORT" \
                    -O "doh-uri=https://127.0.0.1:$UP_HTTPS_PORT/dns-query" -O doh-method=POST \
                    -d "$Q_HIT" -l "$ENC_SECS" $DP_CLIENTS ;;
                stubresd-dot) dp "$PIN1" "$T/enc.out" $((ENC_SECS + 20)) -p "${PORT[sr_dot]}" -d "$Q_HIT" -l "$ENC_SECS" $DP_CLIENTS ;;
                stubresd-doh) dp "$PIN1" "$T/enc.out" $((ENC_SECS + 20)) -p "${PORT[sr_doh]}" -d "$Q_HIT" -l "$ENC_SECS" $DP_CLIENTS ;;
            esac
            w1=$(date +%s.%N)
            u1=$(ticks "$upid")
            [ -n "$spid" ] && s1=$(ticks "$spid")
            echo "$kind $w0 $w1" >>"$WIN"
            $UP_CTL stats >"$T/upstats.txt" 2>&1 || true
            dp_check "$T/enc.out" "encrypted $kind rep $rep"
            qd=$(dp_done "$T/enc.out")
            ENC_Q[$kind]=$((${ENC_Q[$kind]:-0} + qd))
            if [ "$qd" -gt 0 ]; then
                rec encrypted "$kind" upstream_cpu_us "$rep" "$(calc "($u1 - $u0) * 1000000 / $CLK_TCK / $qd")"
                [ -n "$spid" ] && rec encrypted "$kind" server_cpu_us "$rep" "$(calc "($s1 - $s0) * 1000000 / $CLK_TCK / $qd")"
            fi
            rec encrypted "$kind" qps "$rep" "$(dp_qps "$T/enc.out")"
            rec encrypted "$kind" lost "$rep" "$(dp_lost "$T/enc.out")"
            rec encrypted "$kind" upstream_tls_queries "$rep" "$(awk -F= '$1 == "num.query.tls" { print $2 }' "$T/upstats.txt")"
            rec encrypted "$kind" upstream_tls_resumed "$rep" "$(awk -F= '$1 == "num.query.tls.resume" { print $2 }' "$T/upstats.txt")"
            rec encrypted "$kind" upstream_https_queries "$rep" "$(awk -F= '$1 == "num.query.https" { print $2 }' "$T/upstats.txt")"
            say "encrypted $kind rep $rep: $(dp_qps "$T/enc.out") QPS"
        done
    done
    enc_t1=$(date +%s.%N)
    sleep 0.5
    stop_if cap
    tshark -r "$T/syn.pcapng" -T fields -e frame.time_epoch -e tcp.dstport >"$T/syn.txt" 2>/dev/null || true
    # per run: the SYNs inside its window
    while read -r kind w0 w1; do
        port=$UP_TLS_PORT
        case $kind in *doh) port=$UP_HTTPS_PORT ;; esac
        c=$(awk -v a="$w0" -v b="$w1" -v p="$port" '$2 == p && $1 >= a && $1 <= b' "$T/syn.txt" | wc -l)
        rec encrypted "$kind" handshakes run "$c"
    done <"$WIN"
    # whole scenario: stubresd's SYNs are those outside dnsperf's own runs
    for kind in $ENC_KINDS; do
        port=$UP_TLS_PORT
        case $kind in *doh) port=$UP_HTTPS_PORT ;; esac
        case $kind in
            dnsperf-*)
                c=$(awk -v k="$kind" '$1 == k' "$WIN" | while read -r _ a b; do
                    awk -v a="$a" -v b="$b" -v p="$port" '$2 == p && $1 >= a && $1 <= b' "$T/syn.txt"
                done | wc -l) ;;
            stubresd-*)
                other=dnsperf-${kind#stubresd-}
                c=$(awk -v t0="$enc_t0" -v t1="$enc_t1" -v p="$port" -v k="$other" '
                    FILENAME == ARGV[1] { if ($1 == k) { n++; a[n] = $2; b[n] = $3 } next }
                    $2 == p && $1 >= t0 && $1 <= t1 {
                        for (i = 1; i <= n; i++) if ($1 >= a[i] && $1 <= b[i]) next
                        c++
                    }
                    END { print c + 0 }' "$WIN" "$T/syn.txt") ;;
        esac
        q=${ENC_Q[$kind]:-0}
        [ "$q" -gt 0 ] && rec encrypted "$kind" handshakes_per_100k all "$(calc "$c * 100000 / $q")"
        say "encrypted $kind: $c TCP connections for $q queries"
    done
    for n in sr_doh sr_dot up; do stop_if "$n"; done
fi

# ============================================================================
# threads: stubresd with 1 and with 2 threads (SO_REUSEPORT), nothing pinned.
if want threads && [ -n "$STUBRESD" ] && fits threads $((REPS * 2 * (TH_SECS + 2) + 5)); then
    printf 'listen = 127.0.0.1:53\nthreads = 2\ncontrol = %s/x.sock\nstate_file = %s/x.state\nresolv_conf = %s/resolv.conf\nservers = udp://127.0.0.1:%s\n' \
        "$T" "$T" "$T" "${PORT[nsd]}" >"$T/threads-check.conf"
    if "$STUBRESD" -t -c "$T/threads-check.conf" >"$T/threads-check.log" 2>&1; then
        meta desc_threads "Hit throughput of stubresd with \`threads = 1\` and \`threads = 2\` (one SO_REUSEPORT socket per thread), warm cache,
\`dnsperf -T 2 -c 4 -q 200 -l $TH_SECS\` over the $HIT_NAMES names. NOTHING is pinned in this scenario (server threads and
both dnsperf threads share the 2 cores): the kernel spreads dnsperf's 4 sockets over the reuseport group by hash."
        srv_stubresd sr_1t "" "threads = 1"
        srv_stubresd sr_2t "" "threads = 2"
        for n in sr_1t sr_2t; do
            dp "" "$T/thwarm.out" 60 -p "${PORT[$n]}" -d "$Q_HIT" -n 1 -q 20
        done
        for rep in $(seq 1 "$REPS"); do
            for n in $(rotate "$rep" sr_1t sr_2t); do
                pid=$(pid_of "$n")
                c0=$(ticks "$pid")
                dp "" "$T/th.out" $((TH_SECS + 20)) -p "${PORT[$n]}" -d "$Q_HIT" -l "$TH_SECS" -T 2 -c 4 -q 200
                c1=$(ticks "$pid")
                q=$(dp_done "$T/th.out")
                peer=stubresd-${n#sr_}
                rec threads "$peer" qps "$rep" "$(dp_qps "$T/th.out")"
                rec threads "$peer" lost "$rep" "$(dp_lost "$T/th.out")"
                [ "$q" -gt 0 ] && rec threads "$peer" cpu_us "$rep" "$(calc "($c1 - $c0) * 1000000 / $CLK_TCK / $q")"
                say "threads $peer rep $rep: $(dp_qps "$T/th.out") QPS"
            done
        done
        stop_if sr_1t
        stop_if sr_2t
    else
        meta skipped "threads: this stubresd rejects threads = 2: $(tr '\n' ' ' <"$T/threads-check.log")"
    fi
elif want threads && [ -z "$STUBRESD" ]; then
    meta skipped "threads: needs stubresd"
fi

if want profile && [ -z "$STUBRESD" ]; then
    meta skipped "profile: needs stubresd"
fi

# ============================================================================
write_report "$OUT"
REPORT_DONE=1
say "results: $OUT ($(($(date +%s) - START_TS)) s)"
