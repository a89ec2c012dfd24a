#!/bin/bash
# test_daemon_records.sh -- stubresd answers every record type as its
# upstream (unbound in front of nsd) does, for dig, kdig, drill and
# dnspython, over UDP and TCP; the reply carries the client's ID, question
# (with its case) and RD, with RA set; TC over UDP sends the client to TCP
# where it gets the whole answer; a source outside `allow` gets REFUSED;
# `stubresd -t` passes a good config and names file, line and key of a bad
# one.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless nsd unbound dig kdig drill

start_unbound
start_stubresd sr "servers = udp://127.0.0.1:$UNBOUND_PORT"
U="dig $DIG_OPTS @127.0.0.1 -p $UNBOUND_PORT"

# --- every record type, as unbound answers it ---------------------------------
for nt in a/A md/MD mf/MF cname/CNAME mb/MB mg/MG mr/MR null/TYPE10 wks/WKS \
    ptr/PTR hinfo/HINFO minfo/MINFO mx/MX txt/TXT txt-multi/TXT txt-escapes/TXT \
    txt-empty/TXT rp/RP afsdb/AFSDB x25/X25 isdn/ISDN isdn-sa/ISDN rt/RT \
    aaaa/AAAA _sip._tcp/SRV srv/SRV naptr/NAPTR cert/CERT unknown/TYPE65280 \
    www/A www/AAAA mx/ANY chain1/A dangling/A nodata/A @/NS @/SOA; do
    n=${nt%/*}
    t=${nt##*/}
    [ "$n" = @ ] && q=$ZONE || q=$n.$ZONE
    want=$($U "$q" "$t" +short | sort)
    [ -n "$want" ] || [ "$n" = dangling ] || [ "$n" = nodata ] || fail "unbound gave nothing for $q $t"
    got=$($SR_DIG "$q" "$t" +short | sort)
    assert_eq "$want" "$got" "dig: $q $t as the upstream answers it"
done
# The same through stubresd's cache (second time) and over TCP.
for nt in naptr/NAPTR cert/CERT wks/WKS unknown/TYPE65280; do
    q=${nt%/*}.$ZONE
    t=${nt##*/}
    assert_eq "$($U "$q" "$t" +short | sort)" "$($SR_DIG "$q" "$t" +tcp +short | sort)" \
        "dig +tcp: $q $t from the cache"
done

# --- other clients ------------------------------------------------------------
out=$(kdig $KDIG_OPTS @127.0.0.1 -p "$SR_PORT" mx.$ZONE MX +short | sort)
assert_eq "10 mail.example.test.
20 mail2.example.test." "$out" "kdig: mx.example.test MX"
out=$(kdig $KDIG_OPTS +tcp @127.0.0.1 -p "$SR_PORT" srv.$ZONE SRV +short)
assert_match '^0 5 443 www\.example\.test\.$' "$out" "kdig +tcp: srv.example.test SRV"
out=$(drill -p "$SR_PORT" txt-multi.$ZONE TXT @127.0.0.1)
assert_match 'txt-multi\.example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+TXT[[:space:]]+"first" "second"' \
    "$out" "drill: txt-multi.example.test TXT"
out=$(drill -t -p "$SR_PORT" aaaa.$ZONE AAAA @127.0.0.1)
assert_match 'IN[[:space:]]+AAAA[[:space:]]+2001:db8::1' "$out" "drill -t (TCP): aaaa.example.test AAAA"
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import sys, dns.message, dns.query, dns.rcode, dns.rdatatype, dns.flags
port = int(sys.argv[1])
for name, typ in (("hinfo.example.test", "HINFO"), ("rp.example.test", "RP"),
                  ("isdn-sa.example.test", "ISDN"), ("afsdb.example.test", "AFSDB")):
    q = dns.message.make_query(name, typ)
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
    assert r.id == q.id and r.rcode() == dns.rcode.NOERROR, r
    print(name, typ, " ".join(sorted(rr.to_text() for rrset in r.answer for rr in rrset)))
q = dns.message.make_query("nxdomain.example.test", "A")
r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=3)
print("nx", dns.rcode.to_text(r.rcode()), len(r.authority))
PYEOF
)
assert_match '^hinfo\.example\.test HINFO "INTEL-386" "Linux"$' "$out" "dnspython: HINFO"
assert_match '^rp\.example\.test RP admin\.example\.test\. info\.example\.test\.$' "$out" "dnspython: RP"
assert_match '^isdn-sa\.example\.test ISDN "150862028003217" "004"$' "$out" "dnspython: ISDN with subaddress"
assert_match '^afsdb\.example\.test AFSDB 1 afsdb-host\.example\.test\.$' "$out" "dnspython: AFSDB"
assert_match '^nx NXDOMAIN 1$' "$out" "dnspython over TCP: NXDOMAIN with the SOA"

# --- the header the client gets ------------------------------------------------
out=$($SR_DIG WwW.ExAmPlE.tEsT A)
assert_match '^;WwW\.ExAmPlE\.tEsT\.[[:space:]]+IN[[:space:]]+A$' "$out" "the question keeps the client's case"
assert_match '^;; flags: qr rd ra;' "$out" "QR, RD (as asked) and RA, not AA"
out=$($SR_DIG www.$ZONE A +norecurse)
assert_match '^;; flags: qr ra;' "$out" "RD=0 asked, RD=0 answered"
out=$("$PY" - "$SR_PORT" <<'PYEOF'
import sys, dns.message, dns.query
port = int(sys.argv[1])
for i in range(5):
    q = dns.message.make_query("www.example.test", "A")
    q.id = 4242 + i
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
    print(r.id)
PYEOF
)
assert_eq "4242
4243
4244
4245
4246" "$out" "every reply carries its query's ID"
out=$($SR_DIG nxdomain.$ZONE A)
assert_match 'status: NXDOMAIN' "$out" "NXDOMAIN passed on"
out=$($SR_DIG nodata.$ZONE A)
assert_match 'status: NOERROR.*' "$out" "NODATA: NOERROR"
assert_match 'ANSWER: 0, AUTHORITY: 1' "$out" "NODATA: no answer, the SOA"

# --- truncation: TC over UDP, the whole answer over TCP ---------------------------
out=$($SR_DIG big.$ZONE A +noedns +ignore)
assert_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" "big without EDNS: TC=1 (more than 512 bytes)"
assert_match 'ANSWER: 0,' "$out" "the truncated reply has no records"
assert_eq 40 "$($SR_DIG big.$ZONE A +noedns +short | wc -l)" "dig retries over TCP and gets all 40"
out=$($SR_DIG huge.$ZONE A +bufsize=4096 +ignore)
assert_no_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" \
    "huge with EDNS 4096: whole over UDP (stubresd fetched it over TCP after the upstream's TC)"
assert_match 'ANSWER: 100,' "$out" "huge: 100 records"
out=$($SR_DIG huge.$ZONE A +bufsize=1232 +ignore)
assert_match '^;; flags: qr( [a-z]+)* tc( |;)' "$out" "huge with EDNS 1232: TC=1 (the client's size is honoured)"
out=$(kdig $KDIG_OPTS @127.0.0.1 -p "$SR_PORT" jumbo.$ZONE TXT +bufsize=4096)
assert_match 'TC' "$out" "kdig: jumbo TXT (6.5 KB) truncated over UDP"
out=$(kdig $KDIG_OPTS +tcp @127.0.0.1 -p "$SR_PORT" jumbo.$ZONE TXT +short | wc -c)
[ "$out" -gt 6000 ] || fail "jumbo over TCP: only $out bytes"
ok "kdig +tcp: jumbo TXT whole over TCP ($out bytes)"

# --- not for outsiders: REFUSED to a source outside allow ---------------------------
out=$(dig $DIG_OPTS -b 127.0.0.2 @127.0.0.1 -p "$SR_PORT" www.$ZONE A)
assert_match 'status: NOERROR' "$out" "127.0.0.2 is inside the default allow (loopback)"
$SR_CTL config "allow=127.0.0.1/32, ::1" >/dev/null
out=$(dig $DIG_OPTS -b 127.0.0.2 @127.0.0.1 -p "$SR_PORT" www.$ZONE A)
assert_match 'status: REFUSED' "$out" "allow = 127.0.0.1/32: a query from 127.0.0.2 gets REFUSED"
assert_match 'ANSWER: 0,' "$out" "REFUSED carries no data"
out=$(dig $DIG_OPTS -b 127.0.0.2 @127.0.0.1 -p "$SR_PORT" www.$ZONE A +tcp)
assert_match 'status: REFUSED' "$out" "... and over TCP"
out=$($SR_DIG www.$ZONE A +short)
assert_eq 10.0.0.1 "$out" "127.0.0.1 is still served"
assert_eq 2 "$(sr_stat refused_acl)" "stats: refused_acl counts them (UDP and TCP)"

# --- stubresd -t -------------------------------------------------------------------
out=$("$STUBRESD" -t -c "$SR_CONF")
assert_eq "config OK" "$out" "stubresd -t: a good config"
cp "$SR_CONF" "$T/bad.conf"
printf 'timeout = soon\nbogus_key = 1\n' >>"$T/bad.conf"
lines=$(wc -l <"$T/bad.conf")
rc=0
out=$("$STUBRESD" -t -c "$T/bad.conf" 2>&1) || rc=$?
assert_eq 1 "$rc" "stubresd -t: a bad config exits 1"
assert_match "^stubresd: $T/bad.conf:$((lines - 1)): timeout: bad value 'soon': expected" "$out" \
    "the error names file, line and key"
assert_match "^stubresd: $T/bad.conf:$lines: unknown key 'bogus_key'" "$out" "and the unknown key"
rc=0
"$STUBRESD" -f -c "$T/bad.conf" >"$T/bad.log" 2>&1 || rc=$?
assert_eq 1 "$rc" "stubresd with a bad config does not start"

stop_stubresd sr
