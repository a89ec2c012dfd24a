#!/bin/sh
# stubresd quick start, for a fresh Debian 12 machine as root.
#
#   ./quickstart.sh          install build dependencies, build, run stubresd
#                            in the foreground
#   ./quickstart.sh test     the same set-up plus the test peers, make
#                            distcheck (build and install only), the Debian
#                            packages (with CI=true or QUICKSTART_DEB=1:
#                            they are installed and purged here), then the
#                            whole test suite (normal build and ASan+UBSan
#                            build)
#   ./quickstart.sh upstream print the servers line that "run" would write
#                            (from resolv.conf, see pick_upstreams), nothing
#                            installed or built
#
# QUICKSTART_RESOLV_CONF (/etc/resolv.conf) and QUICKSTART_RESOLVED_CONF
# (/run/systemd/resolve/resolv.conf) name the files the upstreams come from.
#
# Builds out of tree in build/ (and build-asan/ for the sanitizer run).
set -eu

mode=${1:-run}
top=$(cd "$(dirname "$0")" && pwd)
# Read before the cd below, so that a relative name is the caller's.
RESOLV=$(realpath -m "${QUICKSTART_RESOLV_CONF:-/etc/resolv.conf}")
RESOLVED=$(realpath -m "${QUICKSTART_RESOLVED_CONF:-/run/systemd/resolve/resolv.conf}")
cd "$top"

BUILD_DEPS="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev libcurl4-openssl-dev libinih-dev check libidn2-dev
libjansson-dev libsystemd-dev libhiredis-dev libnghttp2-dev"
# Real DNS software the integration tests start on loopback, the clients
# they query with, and the tools of the fuzz and sanitizer runs.
TEST_DEPS="clang libclang-rt-14-dev unbound nsd knot knot-resolver dnsdist
dnsmasq bind9-dnsutils knot-dnsutils ldnsutils python3 python3-dnspython
openssl curl tshark tcpdump valgrind iproute2 procps psmisc dnsperf
debhelper dh-autoreconf lintian redis-server redis-tools"

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

# stubresd listens on 127.0.0.1:53 (LISTEN_ADDR); every nameserver of
# resolv.conf but that one is a usable upstream, loopback ones too:
# 127.0.0.53 (systemd-resolved) on a workstation, 127.0.0.11 (Docker's
# embedded DNS) in a container. 0.0.0.0 and :: also reach this host's port
# 53, so ourselves.
LISTEN_ADDR=127.0.0.1

# upstreams FILE: the usable nameservers of FILE as udp:// URLs, one a line.
upstreams() {
    awk '$1 == "nameserver" { print $2 }' "$1" 2>/dev/null |
        while read -r ns; do
            ns=${ns%%%*}
            case $ns in
                "$LISTEN_ADDR" | 0.0.0.0 | :: | ::ffff:"$LISTEN_ADDR") continue ;;
                fe80:* | FE80:*) continue ;; # link-local: needs a scope id
                *:*) printf 'udp://[%s]:53\n' "$ns" ;;
                *) printf 'udp://%s:53\n' "$ns" ;;
            esac
        done
}

# pick_upstreams: sets SERVERS (space-separated URLs, empty when none is
# usable) and SOURCE (the files they came from). systemd-resolved's stub
# 127.0.0.53 is replaced by the real upstreams it lists in $RESOLVED when
# that file names any: one cache less, and the stub's answers lose the
# upstream's EDNS details.
pick_upstreams() {
    SERVERS= SOURCE=$RESOLV
    for u in $(upstreams "$RESOLV"); do
        if [ "$u" = udp://127.0.0.53:53 ] && [ -r "$RESOLVED" ] &&
            real=$(upstreams "$RESOLVED" | grep -v '^udp://127\.0\.0\.53:' | tr '\n' ' ') &&
            [ -n "$real" ]; then
            SERVERS="$SERVERS$real" SOURCE="$RESOLV, $RESOLVED"
        else
            SERVERS="$SERVERS$u "
        fi
    done
    SERVERS=${SERVERS% }
}

# no_upstream CONF: say what to write, exit 1.
no_upstream() {
    echo "quickstart: $RESOLV names no usable nameserver (none, or only $LISTEN_ADDR: stubresd itself)" >&2
    echo "quickstart: write servers = udp://IP:53 (your network's resolver) into $1" >&2
    echo "quickstart: and run build/stubresd -f -c $1" >&2
    exit 1
}

case "$mode" in
upstream)
    pick_upstreams
    [ -n "$SERVERS" ] || no_upstream "$top/build/quickstart.conf"
    echo "servers = $SERVERS"
    log "upstream: $SERVERS (from $SOURCE)" >&2
    ;;
run)
    # stubresd on 127.0.0.1:53 forwarding to the machine's nameservers.
    conf=$top/build/quickstart.conf
    pick_upstreams
    [ -n "$SERVERS" ] || no_upstream "$conf"
    install_pkgs $BUILD_DEPS
    build build
    log "upstream: $SERVERS (from $SOURCE)"
    cat >"$conf" <<EOF
; written by quickstart.sh: stubresd in the foreground on 127.0.0.1:53,
; forwarding to the nameservers of $SOURCE. See etc/stubresd.conf.
listen = $LISTEN_ADDR:53
servers = $SERVERS
resolv_conf = $RESOLV
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
    # The release tarball is complete: it configures (without .git, so
    # without -Werror), builds with its test programs, installs and
    # uninstalls cleanly. TESTS= leaves the test run to the two below;
    # QUICKSTART_DISTCHECK=0 skips it (about one more build's time).
    if [ "${QUICKSTART_DISTCHECK:-1}" != 0 ]; then
        log "make distcheck TESTS= (the tarball builds and installs)"
        make -C build -j"$(nproc)" distcheck TESTS=
    fi
    # The Debian packages (docs/packaging.md): built without their unit
    # suites (make check below runs them), lintian (no error), then
    # tests/packaging/test_deb.sh installs, upgrades and purges them on
    # this machine, which is why only CI (CI=true) or QUICKSTART_DEB=1
    # asks for it.
    if [ "${CI:-}" = true ] || [ "${QUICKSTART_DEB:-0}" = 1 ]; then
        deb_start=$(date +%s)
        log "make deb (nocheck), lintian, tests/packaging/test_deb.sh"
        DEB_BUILD_OPTIONS="nocheck noautodbgsym" DEB_JOBS=2 make -C build deb
        lintian --fail-on error --pedantic build/debs/stubresd_*.changes
        tests/packaging/test_deb.sh build || [ $? = 77 ] # 77: not root, it said so
        log "Debian packages: $(($(date +%s) - deb_start)) s"
    fi
    log "make check (build)"
    make -C build check || { cat build/test-suite.log 2>/dev/null; exit 1; }
    build build-asan --enable-sanitizers
    log "make check (build-asan: AddressSanitizer + UndefinedBehaviorSanitizer)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        make -C build-asan check || { cat build-asan/test-suite.log 2>/dev/null; exit 1; }
    # libFuzzer: every target for 40 s from its committed corpus, in its own
    # build directory (build-fuzz/); fails on any crash, leak or timeout.
    log "fuzzing (tests/fuzz/run-all.sh ${QUICKSTART_FUZZ_SECONDS:-40})"
    tests/fuzz/run-all.sh "${QUICKSTART_FUZZ_SECONDS:-40}"
    log "all tests passed"
    ;;
*)
    echo "usage: $0 [test | upstream]" >&2
    exit 2
    ;;
esac
