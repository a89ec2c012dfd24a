#!/bin/bash
# test_ops_build.sh -- what building and installing leaves a user: make
# install keeps an edited config and adds the sysusers.d / tmpfiles.d
# entries; configure without Check builds with the tests disabled; -Werror
# in a git checkout. Runs configure once (not make): slow on a busy machine.
set -eu
IT_TIMEOUT=${IT_TIMEOUT:-300}
. "$(dirname "$0")/lib.sh"

TOP_SRCDIR=$(cd "$IT_DIR/../.." && pwd)

# --- make install keeps an edited config; sysusers.d, tmpfiles.d ------------------
# Into a DESTDIR of the test's own, from the build directory under test.
[ -f "$BUILD_DIR/Makefile" ] || skip "no Makefile in $BUILD_DIR"
root=$T/root
make -s -C "$BUILD_DIR" install DESTDIR="$root" prefix=/usr sysconfdir=/etc >"$T/install1.log" 2>&1 ||
    { cat "$T/install1.log" >&2; fail "make install"; }
cmp -s "$TOP_SRCDIR/etc/stubresd.conf" "$root/etc/stubresd.conf" ||
    fail "make install did not install etc/stubresd.conf as /etc/stubresd.conf"
ok "make install: /etc/stubresd.conf when there was none"
[ -f "$root/usr/share/doc/stubresd/stubresd.conf" ] || fail "no sample in the docdir"
ok "make install: the sample in /usr/share/doc/stubresd/stubresd.conf"
assert_match '^u stubresd ' "$(cat "$root/usr/lib/sysusers.d/stubresd.conf")" "sysusers.d: the stubresd user"
assert_match '^d /var/lib/stubresd 0750 stubresd stubresd' "$(cat "$root/usr/lib/tmpfiles.d/stubresd.conf")" \
    "tmpfiles.d: the state directory, the stubresd user's"
echo "servers = udp://127.0.0.1:5300 ; edited" >>"$root/etc/stubresd.conf"
cp "$root/etc/stubresd.conf" "$T/edited.conf"
make -s -C "$BUILD_DIR" install DESTDIR="$root" prefix=/usr sysconfdir=/etc >"$T/install2.log" 2>&1 ||
    { cat "$T/install2.log" >&2; fail "make install (again)"; }
cmp -s "$T/edited.conf" "$root/etc/stubresd.conf" || fail "make install overwrote an edited /etc/stubresd.conf"
ok "make install again: the edited /etc/stubresd.conf is kept"
assert_match "/etc/stubresd.conf exists: kept" "$(cat "$T/install2.log")" "make install says it kept it"
make -s -C "$BUILD_DIR" uninstall DESTDIR="$root" prefix=/usr sysconfdir=/etc >"$T/uninstall.log" 2>&1 ||
    { cat "$T/uninstall.log" >&2; fail "make uninstall"; }
cmp -s "$T/edited.conf" "$root/etc/stubresd.conf" || fail "make uninstall removed an edited /etc/stubresd.conf"
ok "make uninstall: the edited config stays"

# --- configure without Check: it builds, tests disabled; -Werror from git -------
# A pkg-config that knows no Check (nothing is built here: configure only).
printf '#!/bin/sh\nfor a; do case $a in check*) exit 1 ;; esac; done\nexec pkg-config "$@"\n' >"$T/pkg-config"
chmod +x "$T/pkg-config"
mkdir "$T/nocheck"
(cd "$T/nocheck" && PKG_CONFIG="$T/pkg-config" "$TOP_SRCDIR/configure" >"$T/configure.log" 2>&1) ||
    { cat "$T/configure.log" >&2; fail "configure fails without Check"; }
out=$(cat "$T/configure.log")
assert_match 'unit tests: +no' "$out" "configure without Check: succeeds, unit tests: no"
assert_match 'tests are disabled' "$out" "configure without Check: says tests are disabled"
if [ -e "$TOP_SRCDIR/.git" ]; then
    assert_match '^WARN_CFLAGS = .* -Werror' "$(cat "$T/nocheck/Makefile")" "-Werror by default in a git checkout"
fi
out=$(make -s -C "$T/nocheck" check-needs-check 2>&1 || true)
assert_match 'make check: the unit tests need Check: apt-get install check' "$out" \
    "make check without Check: says what to install"
