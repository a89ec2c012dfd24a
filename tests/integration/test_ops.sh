#!/bin/bash
# test_ops.sh -- what an operator's first commands print: quickstart's choice
# of upstream, stubresd -t, the config read-backs, stubresctl's tables,
# logging and what make install leaves behind.
set -eu
. "$(dirname "$0")/lib.sh"

TOP_SRCDIR=$(cd "$IT_DIR/../.." && pwd)

# --- quickstart.sh upstream: which nameserver of resolv.conf it forwards to.
# Only the selection runs (no install, no build, no packet sent): the files
# are the test's own.
qs_upstream() {
    QUICKSTART_RESOLV_CONF=$T/qs.resolv QUICKSTART_RESOLVED_CONF=$T/qs.resolved \
        "$TOP_SRCDIR/quickstart.sh" upstream 2>"$T/qs.err"
}

printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n' >"$T/qs.resolv"
printf '# systemd-resolved\nnameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver fe80::1%%eth0\n' \
    >"$T/qs.resolved"
out=$(qs_upstream) || fail "quickstart upstream with 127.0.0.53: $(cat "$T/qs.err")"
assert_eq "servers = udp://192.0.2.1:53 udp://[2001:db8::1]:53" "$out" \
    "127.0.0.53 with systemd-resolved's file: its real upstreams (link-local skipped)"
assert_match "upstream: udp://192.0.2.1:53 udp://\[2001:db8::1\]:53 \(from $T/qs.resolv, $T/qs.resolved\)" \
    "$(cat "$T/qs.err")" "quickstart says which upstream it chose and from where"

rm "$T/qs.resolved"
out=$(qs_upstream) || fail "quickstart upstream, 127.0.0.53 alone: $(cat "$T/qs.err")"
assert_eq "servers = udp://127.0.0.53:53" "$out" "127.0.0.53 without systemd-resolved's file: the stub itself"

printf 'nameserver 127.0.0.11\noptions ndots:0\n' >"$T/qs.resolv"
out=$(qs_upstream) || fail "quickstart upstream, Docker: $(cat "$T/qs.err")"
assert_eq "servers = udp://127.0.0.11:53" "$out" "Docker's embedded DNS 127.0.0.11 is used"

printf 'nameserver 127.0.0.1\nnameserver 10.0.0.1\n' >"$T/qs.resolv"
out=$(qs_upstream) || fail "quickstart upstream, 127.0.0.1 and another: $(cat "$T/qs.err")"
assert_eq "servers = udp://10.0.0.1:53" "$out" "only stubresd's own listen address 127.0.0.1 is skipped"

printf 'nameserver 127.0.0.1\n' >"$T/qs.resolv"
if out=$(qs_upstream); then
    fail "quickstart chose an upstream from a resolv.conf naming only 127.0.0.1: $out"
fi
err=$(cat "$T/qs.err")
assert_match "names no usable nameserver .*127\.0\.0\.1: stubresd itself" "$err" \
    "nothing usable: quickstart says why"
assert_match "write servers = udp://IP:53 .* into .*/build/quickstart\.conf" "$err" \
    "nothing usable: quickstart says what to write"
