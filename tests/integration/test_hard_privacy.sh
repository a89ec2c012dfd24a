#!/bin/bash
# test_hard_privacy.sh -- with DoT or DoH upstreams no query leaves in
# plaintext, whatever fails. tshark captures loopback traffic on this
# test's ports (stubresd's, every port of the two fakedns upstreams, and
# 53) while the upstreams time out, answer HTTP 500, present a certificate
# for another name, and all fail at once. Then, from the capture:
#  - no packet went to port 53 or to the upstreams' plaintext DNS port;
#  - the query names appear only in packets to and from stubresd's own
#    (client-facing) port, never on the way to an upstream;
#  - the DoT and DoH ports did carry traffic (the capture saw it all);
# and when every encrypted upstream fails the client gets SERVFAIL. DoT and
# DoH wire-format queries are padded to 128-byte blocks (RFC 7830, RFC
# 8467), as the test server sees them. (test_daemon_protocols.sh checks DoT
# padding under load and that tls:// and udp:// cannot be mixed.)
# shellcheck disable=SC2086,SC2153 # BAD_*: set by start_fakedns bad
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig tshark
[ "$(id -u)" = 0 ] || skip "capturing on lo needs root"

start_fakedns up1
start_fakedns up2
start_fakedns bad --cert "$CERT_DIR/wrongname.pem" --key "$CERT_DIR/wrongname.key"
# resolv.conf names a plaintext server: it must never be asked either.
echo "nameserver 127.0.0.1" >"$STUBRES_RESOLV_CONF"
start_stubresd sr "servers = tls://127.0.0.1:$UP1_TLS_PORT#$TLS_NAME, tls://127.0.0.1:$UP2_TLS_PORT#$TLS_NAME" \
    "ca_file = $CA_FILE" "timeout = 1" "servfail_ttl = 0"

ports="53 $SR_PORT"
for u in UP1 UP2 BAD; do
    for k in PORT TLS_PORT HTTPS_PORT; do
        v=${u}_$k
        ports="$ports ${!v}"
    done
done
filter=$(printf 'port %s or ' $ports)
filter=${filter% or }
start_bg tshark tshark -n -i lo -f "$filter" -w "$T/cap.pcap" -F pcap
wait_log tshark "Capturing on"
sleep 1

SALT=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
NAMES=""
# ask TAG EXPECTED-STATUS: a fresh name (leakTAG-SALT.example.test, no such
# name: NXDOMAIN when answered) through stubresd.
ask() {
    local name="leak$1-$SALT.$ZONE" st
    NAMES="$NAMES leak$1-$SALT"
    st=$(dig +time=6 +tries=1 @127.0.0.1 -p "$SR_PORT" "$name" A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
    assert_eq "$2" "$st" "$3"
}
fakedns_reset up1
fakedns_reset up2

# DoT: the first upstream silent, then a wrong certificate, then both down.
fakedns_mode up1 drop
ask 1 NXDOMAIN "DoT, up1 silent: up2 answers"
$SR_CTL server "tls://127.0.0.1:$BAD_TLS_PORT#$TLS_NAME" "tls://127.0.0.1:$UP2_TLS_PORT#$TLS_NAME" >/dev/null
ask 2 NXDOMAIN "DoT, up1 with a certificate for another name: up2 answers"
fakedns_mode up2 drop
ask 3 SERVFAIL "DoT, every upstream failing: SERVFAIL, no plaintext fallback"
fakedns_mode up2 servfail
ask 4 SERVFAIL "DoT, wrong certificate and SERVFAIL: SERVFAIL"
fakedns_mode up1 good
fakedns_mode up2 good

# DoH, POST and GET: HTTP 500 from the first, then both failing.
for m in post get; do
    $SR_CTL config "doh_method=$m" >/dev/null
    $SR_CTL server "https://127.0.0.1:$UP1_HTTPS_PORT/dns-query" "https://127.0.0.1:$UP2_HTTPS_PORT/dns-query" >/dev/null
    fakedns_mode up1 http500
    ask "5$m" NXDOMAIN "DoH $m, up1 answering 500: up2 answers"
    fakedns_mode up2 drop
    ask "6$m" SERVFAIL "DoH $m, every upstream failing: SERVFAIL, no plaintext fallback"
    $SR_CTL server "https://127.0.0.1:$BAD_HTTPS_PORT/dns-query" >/dev/null
    ask "7$m" SERVFAIL "DoH $m, the only upstream with a wrong certificate: SERVFAIL"
    fakedns_mode up1 good
    fakedns_mode up2 good
done
# The JSON API too.
$SR_CTL config doh_method=json >/dev/null
$SR_CTL server "https://127.0.0.1:$UP1_HTTPS_PORT/resolve" "https://127.0.0.1:$UP2_HTTPS_PORT/resolve" >/dev/null
fakedns_mode up1 jsonmissing
fakedns_mode up2 drop
ask 8 SERVFAIL "DoH JSON, both upstreams failing: SERVFAIL"
fakedns_mode up1 good
fakedns_mode up2 good

# --- padding, as the servers saw it --------------------------------------------------------
for u in up1 up2; do
    sizes=$(json_get "$T/$u.stats.json" padding sizes)
    unp=$(fakedns_stat "$u" padding unpadded)
    n=$(($(fakedns_stat "$u" queries tls) + $(fakedns_stat "$u" queries https)))
    # the JSON API carries no DNS message (nothing to pad): its requests
    # are counted as https queries and as unpadded
    json=$(fakedns_stat "$u" http paths /resolve)
    assert_eq "$json" "$unp" "$u: every DoT and DoH wire query padded ($n queries, $json JSON API requests without a message)"
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d and all(int(k) % 128 == 0 for k in d) else 1)' "$sizes" ||
        fail "$u: padded sizes not multiples of 128: $sizes"
    ok "$u: padded to 128-byte blocks: $sizes"
done

# --- the capture ---------------------------------------------------------------------------
sleep 1
stop_bg tshark
_it_alive "$(pid_of sr)" || fail "stubresd died"
out=$("$PY" - "$T/cap.pcap" "$SR_PORT" "$UP1_PORT $UP2_PORT $BAD_PORT" \
    "$UP1_TLS_PORT $UP2_TLS_PORT $BAD_TLS_PORT $UP1_HTTPS_PORT $UP2_HTTPS_PORT $BAD_HTTPS_PORT" $NAMES <<'PYEOF'
import struct, sys
path, sr = sys.argv[1], int(sys.argv[2])
plain = set(map(int, sys.argv[3].split()))
enc = set(map(int, sys.argv[4].split()))
names = [n.encode() for n in sys.argv[5:]]
data = open(path, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
linktype = struct.unpack(endian + "I", data[20:24])[0]
off = 24
stats = {"packets": 0, "client": 0, "encrypted": 0, "port53": 0, "plain": 0, "leaks": 0, "seen_client": 0}
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if linktype == 1:      # Ethernet (lo)
        et, p = struct.unpack("!H", pkt[12:14])[0], pkt[14:]
    elif linktype == 113:  # Linux cooked
        et, p = struct.unpack("!H", pkt[14:16])[0], pkt[16:]
    else:
        sys.exit("linktype %d" % linktype)
    if et == 0x0800:
        ihl = (p[0] & 15) * 4
        proto, l4 = p[9], p[ihl:]
    elif et == 0x86dd:
        proto, l4 = p[6], p[40:]
    else:
        continue
    if proto not in (6, 17):
        continue
    sport, dport = struct.unpack("!HH", l4[:4])
    payload = l4[8:] if proto == 17 else l4[(l4[12] >> 4) * 4:]
    stats["packets"] += 1
    ports = {sport, dport}
    if sr in ports:
        stats["client"] += 1
        if any(n in payload for n in names):
            stats["seen_client"] += 1
        continue
    if ports & enc:
        stats["encrypted"] += 1
    if 53 in ports:
        stats["port53"] += 1
    if ports & plain:
        stats["plain"] += 1
    if any(n in payload for n in names):
        stats["leaks"] += 1
print(" ".join("%s=%d" % kv for kv in stats.items()))
PYEOF
)
note "capture: $out"
get() { printf '%s\n' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
if [ "$(get client)" -eq 0 ] || [ "$(get seen_client)" -lt 12 ]; then
    fail "the capture does not show the client's queries ($out): it would prove nothing"
fi
ok "the capture holds the client side: $(get seen_client) packets with the query names on stubresd's port"
[ "$(get encrypted)" -gt 20 ] || fail "the capture shows no DoT/DoH traffic ($out)"
ok "and $(get encrypted) packets to and from the DoT/DoH ports"
assert_eq 0 "$(get port53)" "no packet to or from port 53"
assert_eq 0 "$(get plain)" "no packet to the upstreams' plaintext DNS port"
assert_eq 0 "$(get leaks)" "the query names appear in no packet but the client's"
for u in up1 up2 bad; do
    assert_eq "0 0" "$(fakedns_stat $u queries udp) $(fakedns_stat $u queries tcp)" \
        "$u received no plaintext query"
done
stop_stubresd sr
