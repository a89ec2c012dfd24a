#!/bin/bash
# test_deb.sh -- the Debian packages installed on this machine, as a user
# gets them: `apt-get install ./*.deb` of the packages `make deb` built,
# then `stubresd -t`, the tools and the library, the stubresd user and
# /var/lib/stubresd, the units (systemd-analyze verify and security), the
# NetworkManager hook; the conffile /etc/stubresd.conf, edited, survives
# the upgrade to a next version built here (a changelog bump in a copy of
# make deb's tree); purge removes the files, the state and the user.
#
# NOT part of make check: it installs into /usr and /etc and runs apt-get,
# so it refuses to run where stubresd is installed already (packages, a
# `make install`'s /etc/stubresd.conf, a stubresd user), and purges what it
# installed when it ends, fails or is interrupted. CI runs it
# (quickstart.sh test, with CI=true or QUICKSTART_DEB=1).
#
#   tests/packaging/test_deb.sh BUILD_DIR    # after make -C BUILD_DIR deb
#
# Output: one `ok - WHAT` line per check; the security figure as
# `exposure: N.N`. Exit 0, 1 (a check failed) or 77 (not root, no apt-get).
set -eu

NAME=test_deb
note() { printf '%s: %s\n' "$NAME" "$*" >&2; }
ok() { printf 'ok - %s\n' "$*"; }
fail() {
    printf '%s: FAIL: %s\n' "$NAME" "$*" >&2
    exit 1
}
skip() {
    printf '%s: SKIP: %s\n' "$NAME" "$*" >&2
    exit 77
}
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"; ok "$3"; }
assert_match() { printf '%s\n' "$2" | grep -Eq -- "$1" || fail "$3: no line matches /$1/ in: $2"; ok "$3"; }

build=$(cd "${1:?usage: $0 BUILD_DIR (after make -C BUILD_DIR deb)}" && pwd)
[ "$(id -u)" = 0 ] || skip "installs packages: needs root"
for c in apt-get dpkg-buildpackage cc pkg-config; do
    command -v "$c" >/dev/null || skip "needs $c (Debian, build-essential, pkg-config)"
done
PKGS="stubresd stubres-query libstubres0 libstubres-dev"
debs() { # DIR: the four packages' files in DIR (not the -dbgsym ones)
    local p
    for p in $PKGS; do
        ls "$1/${p}_"*.deb
    done
}
debs "$build/debs" >/dev/null 2>&1 || fail "no packages in $build/debs: run make -C $build deb first"
version=$(dpkg-deb -f "$(ls "$build"/debs/stubresd_*.deb)" Version)
next=$version+test1

# Nothing of ours may be here: this test removes what it finds at the end.
for p in $PKGS; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$'; then
        fail "$p is installed on this machine; this test installs and purges it: remove it first"
    fi
done
[ ! -e /etc/stubresd.conf ] || fail "/etc/stubresd.conf exists (make install?); this test's purge would remove it"
! getent passwd stubresd >/dev/null || fail "a stubresd user exists; this test's purge would remove it"

T=$(mktemp -d /tmp/stubres-test_deb.XXXXXX)
builder=
installed=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [ -n "$builder" ] && kill -TERM -- "-$builder" 2>/dev/null && wait "$builder" 2>/dev/null
    if [ -n "$installed" ]; then
        note "purging $PKGS"
        # shellcheck disable=SC2086
        apt-get purge -y -q $PKGS </dev/null >"$T/cleanup-purge.log" 2>&1 ||
            { cat "$T/cleanup-purge.log" >&2; rc=1; }
    fi
    if [ "$rc" -ne 0 ] && [ -n "${KEEP_T:-}" ]; then
        note "kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export DEBIAN_FRONTEND=noninteractive
unset LD_LIBRARY_PATH # the installed library, not a build's

# --- version N+1, built meanwhile -----------------------------------------------
# A copy of make deb's build tree (debs/src) with its changelog one version
# on, packaged again by dpkg-buildpackage -nc: what was compiled for N is
# installed and packaged as N+1 (for a native package the changelog is
# all a new Debian version changes). In its own process group, so that the
# cleanup stops all of it.
[ -f "$build/debs/src/debian/changelog" ] || fail "no $build/debs/src: run make -C $build deb first"
cp -a "$build/debs/src" "$T/src"
{
    printf 'stubresd (%s) unstable; urgency=medium\n\n  * test_deb.sh: the next version.\n\n -- %s  %s\n\n' \
        "$next" "$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$T/src/debian/changelog" | head -n 1)" "$(date -R)"
    cat "$T/src/debian/changelog"
} >"$T/changelog" && mv "$T/changelog" "$T/src/debian/changelog"
set -m
(cd "$T/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b -nc) >"$T/build-next.log" 2>&1 &
builder=$!
set +m
note "packaging $next in $T/src (PID $builder, log $T/build-next.log)"

# --- install version N ----------------------------------------------------------
installed=1
# shellcheck disable=SC2046
apt-get install -y -q --no-install-recommends $(debs "$build/debs") </dev/null >"$T/install.log" 2>&1 ||
    { cat "$T/install.log" >&2; fail "apt-get install ./*.deb"; }
ok "apt-get install of $PKGS $version"
for p in $PKGS; do
    assert_eq "install ok installed $version" "$(dpkg-query -W -f='${Status} ${Version}' "$p")" "  $p is installed"
done

out=$(stubresd -t 2>&1) || fail "stubresd -t: $out"
assert_match "config OK" "$out" "stubresd -t checks /etc/stubresd.conf: config OK"
assert_eq /usr/sbin/stubresd "$(command -v stubresd)" "  stubresd is /usr/sbin/stubresd"
assert_match "^stubresctl .* $version\$" "$(stubresctl --version)" "stubresctl --version"
assert_match "$version" "$(stubres-query --version 2>&1)" "stubres-query --version"
lib=$(ldd "$(command -v stubres-query)" | awk '$1 == "libstubres.so.0" { print $3 }')
[ -n "$lib" ] || fail "stubres-query does not link libstubres.so.0"
assert_match "^libstubres0:[a-z0-9]+: " "$(dpkg -S "$(realpath "$lib")")" "  it links libstubres0's library ($lib)"
cat >"$T/client.c" <<'C'
#include <stdio.h>
#include <stubres/error.h>
int main(void)
{
    puts(sr_strerror(0));
    return 0;
}
C
# shellcheck disable=SC2046
cc -o "$T/client" "$T/client.c" $(pkg-config --cflags --libs libstubres) ||
    fail "a program using <stubres/error.h> does not build with pkg-config libstubres"
"$T/client" >/dev/null || fail "that program does not run"
ok "libstubres-dev: headers and libstubres.pc build a client, which runs"
for f in /usr/share/man/man8/stubresd.8.gz /usr/share/man/man8/stubresctl.8.gz \
    /usr/share/man/man5/stubresd.conf.5.gz /usr/share/man/man1/stubres-query.1.gz \
    /usr/share/man/man3/libstubres.3.gz; do
    [ -f "$f" ] || fail "no $f"
done
ok "the man pages are installed"

# The account and its directory.
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd stubresd) || fail "no stubresd user"
[ "$uid" -lt 1000 ] || fail "stubresd's uid $uid is not a system one"
assert_eq "/var/lib/stubresd /usr/sbin/nologin" "$home $shell" "a stubresd system user (uid $uid), home /var/lib/stubresd, no login"
assert_eq "stubresd stubresd 750" "$(stat -c '%U %G %a' /var/lib/stubresd)" "/var/lib/stubresd is the user's, 0750"
assert_match "^ /etc/stubresd.conf [0-9a-f]{32}\$" "$(dpkg-query -W -f='${Conffiles}\n' stubresd)" \
    "/etc/stubresd.conf is a conffile"
assert_eq "root root 755" "$(stat -c '%U %G %a' /usr/lib/NetworkManager/dispatcher.d/90-stubresd)" \
    "the NetworkManager hook is root's, 0755 (NetworkManager runs nothing else)"
out=$(env -i PATH=/usr/bin:/bin /usr/lib/NetworkManager/dispatcher.d/90-stubresd tun0 vpn-up 2>&1) ||
    fail "the hook fails with no stubresd running: $out"
assert_eq "" "$out" "  with no stubresd running it does nothing"

# The units.
for u in stubresd.service stubresd.socket; do
    [ -f "/lib/systemd/system/$u" ] || fail "no /lib/systemd/system/$u"
done
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify /lib/systemd/system/stubresd.service /lib/systemd/system/stubresd.socket 2>&1) ||
        fail "systemd-analyze verify: $out"
    assert_eq "" "$out" "systemd-analyze verify: both units clean"
    out=$(systemd-analyze security --offline=true --no-pager /lib/systemd/system/stubresd.service 2>&1) ||
        fail "systemd-analyze security: $out"
    level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for stubresd.service: \([0-9.]*\) .*/\1/p')
    [ -n "$level" ] || fail "no exposure level in: $out"
    echo "exposure: $level"
    awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || fail "stubresd.service exposure $level is above 2.0"
    ok "systemd-analyze security: stubresd.service exposure $level (<= 2.0, OK)"
else
    note "no systemd-analyze here: units not verified"
fi

# --- the conffile across an upgrade ----------------------------------------------
printf '\n; edited by test_deb.sh\ntimeout = 3\n' >>/etc/stubresd.conf
edited=$(cat /etc/stubresd.conf)
note "waiting for the build of $next"
rc=0
wait "$builder" || rc=$?
builder=
[ "$rc" = 0 ] || { tail -n 40 "$T/build-next.log" >&2; fail "building $next failed"; }
ok "built $next (a changelog bump in a copy of the build tree)"
# stdin from /dev/null: a conffile question would fail here, not hang.
# shellcheck disable=SC2046
apt-get install -y -q --no-install-recommends $(debs "$T") </dev/null >"$T/upgrade.log" 2>&1 ||
    { cat "$T/upgrade.log" >&2; fail "apt-get install of $next"; }
assert_eq "install ok installed $next" "$(dpkg-query -W -f='${Status} ${Version}' stubresd)" "upgraded to $next"
assert_eq "$edited" "$(cat /etc/stubresd.conf)" "the edited /etc/stubresd.conf is kept as it was"
leftover=$(ls /etc/stubresd.conf.* 2>/dev/null || true)
assert_eq "" "$leftover" "  no .dpkg-new or .dpkg-old beside it"
out=$(stubresd -t 2>&1) || fail "stubresd -t after the upgrade: $out"
ok "stubresd -t still accepts it"

# --- purge ------------------------------------------------------------------------
# shellcheck disable=SC2086
apt-get purge -y -q $PKGS </dev/null >"$T/purge.log" 2>&1 || { cat "$T/purge.log" >&2; fail "apt-get purge"; }
installed=
for p in $PKGS; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$'; then
        fail "$p is still installed after purge"
    fi
done
ok "apt-get purge removed the packages"
for f in /etc/stubresd.conf /var/lib/stubresd /usr/sbin/stubresd /usr/lib/NetworkManager/dispatcher.d/90-stubresd; do
    [ ! -e "$f" ] || fail "$f is still there after purge"
done
ok "  /etc/stubresd.conf, /var/lib/stubresd and the programs are gone"
! getent passwd stubresd >/dev/null || fail "the stubresd user outlived the purge"
! getent group stubresd >/dev/null || fail "the stubresd group outlived the purge"
ok "  and the stubresd user and group"
