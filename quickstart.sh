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
openssl curl tshark valgrind iproute2 procps psmisc"

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
    if [ -x build/stubresd ]; then
        conf=$top/build/quickstart.conf
        log "starting stubresd in the foreground ($conf); Ctrl-C stops it"
        exec build/stubresd -f -c "$conf"
    elif [ -x build/stubres-query ]; then
        log "built; stubres-query is ready: build/stubres-query --help"
        exec build/stubres-query --help
    else
        log "built libstubres (build/.libs); the daemon does not exist yet"
    fi
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
    log "all tests passed"
    ;;
*)
    echo "usage: $0 [test]" >&2
    exit 2
    ;;
esac
