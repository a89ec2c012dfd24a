#!/bin/sh
# stubresd quick start, for a fresh Debian 12 machine as root.
#
#   ./quickstart.sh          install build dependencies, build, run stubresd
#                            in the foreground
#   ./quickstart.sh test     the same set-up plus the test peers, then the
#                            whole test suite (normal build and ASan+UBSan
#                            build)
#
# Builds out of tree in build/ (and build-asan/ for the sanitizer run).
set -eu

mode=${1:-run}
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"

BUILD_DEPS="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev libcurl4-openssl-dev libinih-dev check libidn2-dev
libjansson-dev libsystemd-dev"
# Real DNS software the integration tests start on loopback, the clients
# they query with, and the tools of the fuzz and sanitizer runs.
TEST_DEPS="clang libclang-rt-14-dev unbound nsd knot knot-resolver dnsdist
dnsmasq bind9-dnsutils knot-dnsutils ldnsutils python3 python3-dnspython
openssl curl tshark tcpdump valgrind iproute2 procps psmisc dnsperf"

log() { printf '\033[1mquickstart:\033[0m %s\n' "$*"; }

missing_pkgs() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' \
            || printf '%s ' "$p"
    done
}

install_pkgs() {
    need=$(missing_pkgs "$@")
    [ -z "$need" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "quickstart: missing Debian packages: $need" >&2
        echo "quickstart: run as root, or: sudo apt-get install $need" >&2
        exit 1
    fi
    log "installing: $need"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; the answer is no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $need; then
        apt-get update -q
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $need
    fi
}

build() {
    dir=$1; shift
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
        log "autoreconf"
        autoreconf -fi
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
        log "configure $dir $*"
        (cd "$dir" && ../configure "$@")
    fi
    log "make ($dir)"
    make -C "$dir" -j"$(nproc)"
}

case "$mode" in
run)
    install_pkgs $BUILD_DEPS
    build build
    # stubresd on 127.0.0.1:53 forwarding to the machine's nameservers:
    # those of resolv.conf that are not loopback (a loopback one may be
    # stubresd itself, or another local resolver it would loop through).
    conf=$top/build/quickstart.conf
    resolv=${QUICKSTART_RESOLV_CONF:-/etc/resolv.conf}
    servers=$(awk '$1 == "nameserver" { print $2 }' "$resolv" 2>/dev/null |
        while read -r ns; do
            ns=${ns%%%*}
            case $ns in
                127.* | ::1 | 0:0:0:0:0:0:0:1 | ::ffff:127.*) continue ;;
                fe80:* | FE80:*) continue ;; # link-local: needs a scope id
                *:*) printf 'udp://[%s]:53 ' "$ns" ;;
                *) printf 'udp://%s:53 ' "$ns" ;;
            esac
        done)
    if [ -z "$servers" ]; then
        echo "quickstart: $resolv names no nameserver other than loopback;" >&2
        echo "quickstart: write servers = ... into $conf and run build/stubresd -f -c $conf" >&2
        exit 1
    fi
    cat >"$conf" <<EOF
; written by quickstart.sh: stubresd in the foreground on 127.0.0.1:53,
; forwarding to the nameservers of $resolv. See etc/stubresd.conf.
listen = 127.0.0.1:53
servers = $servers
resolv_conf = $resolv
control = $top/build/stubresd.sock
state_file = $top/build/quickstart.state
log_level = info
EOF
    log "starting stubresd in the foreground on 127.0.0.1:53 ($conf); Ctrl-C stops it"
    log "try: dig @127.0.0.1 www.debian.org; build/stubresctl -s build/stubresd.sock stats"
    exec build/stubresd -f -c "$conf"
    ;;
test)
    install_pkgs $BUILD_DEPS $TEST_DEPS
    build build
    log "make check (build)"
    make -C build check || { cat build/test-suite.log 2>/dev/null; exit 1; }
    build build-asan --enable-sanitizers
    log "make check (build-asan: AddressSanitizer + UndefinedBehaviorSanitizer)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        make -C build-asan check || { cat build-asan/test-suite.log 2>/dev/null; exit 1; }
    # libFuzzer: every target for 60 s from its committed corpus, in its own
    # build directory (build-fuzz/); fails on any crash, leak or timeout.
    log "fuzzing (tests/fuzz/run-all.sh ${QUICKSTART_FUZZ_SECONDS:-60})"
    tests/fuzz/run-all.sh "${QUICKSTART_FUZZ_SECONDS:-60}"
    log "all tests passed"
    ;;
*)
    echo "usage: $0 [test]" >&2
    exit 2
    ;;
esac
