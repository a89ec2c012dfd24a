#!/bin/bash
# test_daemon_local.sh -- stubresd answers local records, hosts files and
# special-use names itself, authoritative, with the TTL given (or
# local_ttl), NODATA for other types, the CNAME and its target, the PTR of
# an address, a CNAME to a name that is not local with the target's records
# from upstream (NXDOMAIN too); it re-reads a hosts file whose time changed
# and on reload; `stubresctl local add/remove` change the answers and
# survive a restart; the query log and stats name the source; `stubresd -t`
# names file and line of a bad local record; none of this but the CNAME
# targets reaches the upstream.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig kdig

start_fakedns up1
cat >"$T/hosts" <<'EOF'
# a LAN's hosts file
192.168.1.20   printer.lan printer
fd00::20       printer.lan
not-an-address oops.lan
EOF
start_stubresd sr "servers = udp://127.0.0.1:$UP1_PORT" "timeout = 1" \
    "query_log = $T/query.log" \
    "local = nas.home.arpa A 192.168.1.10" \
    "local = nas.home.arpa 60 IN AAAA fd00::10" \
    "local = files.home.arpa CNAME nas.home.arpa." \
    "local = www.home.arpa CNAME www.example.test." \
    "local = gone.home.arpa CNAME nosuch.example.test." \
    "local = _ipp._tcp.home.arpa 120 SRV 0 0 631 printer.lan." \
    "local = txt.home.arpa TXT \"a, b\" \"c d\"" \
    "hosts = $T/hosts"
fakedns_reset up1

# flags, status, answer of a dig query
flags() { $SR_DIG "$@" | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p'; }
status() { $SR_DIG "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
answer() { $SR_DIG "$@" +noall +answer | awk '{print $1, $2, $4, $5, $6, $7, $8, $9}' | sed 's/ *$//'; }

# --- local records --------------------------------------------------------------
assert_eq "nas.home.arpa. 300 A 192.168.1.10" "$(answer nas.home.arpa A)" \
    "local A: local_ttl 300 when the record has none"
assert_eq "qr aa rd ra" "$(flags nas.home.arpa A)" "local A: authoritative (AA)"
assert_eq "nas.home.arpa. 60 AAAA fd00::10" "$(answer nas.home.arpa AAAA)" "local AAAA: its own TTL"
assert_eq "NOERROR" "$(status nas.home.arpa MX)" "another type of a local name: NOERROR"
assert_eq "" "$(answer nas.home.arpa MX)" "... with no answer (NODATA)"
assert_eq "qr aa rd ra" "$(flags nas.home.arpa MX)" "... authoritative"
assert_eq "files.home.arpa. 300 CNAME nas.home.arpa.
nas.home.arpa. 300 A 192.168.1.10" "$(answer files.home.arpa A)" "local CNAME: the CNAME and the target's records"
assert_eq "_ipp._tcp.home.arpa. 120 SRV 0 0 631 printer.lan." "$(answer _ipp._tcp.home.arpa SRV)" "local SRV"
assert_eq '"a, b" "c d"' "$($SR_DIG txt.home.arpa TXT +short)" "local TXT with a comma and a blank inside quotes"
assert_eq "10.1.168.192.in-addr.arpa. 300 PTR nas.home.arpa." "$(answer -x 192.168.1.10)" \
    "the PTR of a local A record's address"
assert_eq "NaS.HoMe.ArPa. 300 A 192.168.1.10" "$(answer NaS.HoMe.ArPa A)" \
    "the client's case comes back in question and answer (0x20)"
out=$(kdig $KDIG_OPTS @127.0.0.1 -p "$SR_PORT" nas.home.arpa A)
assert_match 'Flags: qr aa rd ra' "$out" "kdig: AA"
out=$(kdig $KDIG_OPTS +tcp @127.0.0.1 -p "$SR_PORT" nas.home.arpa AAAA +short)
assert_eq "fd00::10" "$out" "kdig +tcp: local AAAA"

# --- hosts file -----------------------------------------------------------------
assert_eq "printer.lan. 300 A 192.168.1.20" "$(answer printer.lan A)" "hosts: A"
assert_eq "printer. 300 A 192.168.1.20" "$(answer printer A)" "hosts: an alias"
assert_eq "printer.lan. 300 AAAA fd00::20" "$(answer printer.lan AAAA)" "hosts: AAAA"
assert_eq "20.1.168.192.in-addr.arpa. 300 PTR printer.lan." "$(answer -x 192.168.1.20)" \
    "hosts: PTR of the address (the first name)"
assert_eq "qr aa rd ra" "$(flags printer.lan A)" "hosts: authoritative"
assert_match "hosts:4: 'not-an-address' is not an IP address" "$(cat "$(log_of sr)")" \
    "a bad hosts line is logged with file and line"

# --- special-use names ----------------------------------------------------------
assert_eq "127.0.0.1" "$($SR_DIG localhost A +short)" "localhost A"
assert_eq "::1" "$($SR_DIG foo.localhost AAAA +short)" "a name below localhost: ::1"
for n in x.home.arpa printer.local foo.invalid 3.2.1.10.in-addr.arpa 9.9.20.172.in-addr.arpa; do
    assert_eq "NXDOMAIN" "$(status "$n" A)" "$n: NXDOMAIN"
    assert_eq "qr aa rd ra" "$(flags "$n" A)" "$n: authoritative"
done
assert_match '^home\.arpa\.[[:space:]]+300[[:space:]]+IN[[:space:]]+SOA' \
    "$($SR_DIG x.home.arpa A +noall +authority)" "home.arpa NXDOMAIN carries the zone's SOA"

# None of it went upstream; a name that is not local does.
assert_eq 0 "$(fakedns_stat up1 queries udp)" "nothing above reached the upstream"
assert_eq "NXDOMAIN" "$(status nosuch.example.test A)" "a name that is not local goes upstream"
assert_eq 1 "$(fakedns_stat up1 qnames nosuch.example.test.)" "... and reaches it"

# --- a local CNAME to a name that is not local: its target from upstream ------
# owner, type, data of each answer record (the target's TTL counts down)
chain() { $SR_DIG "$@" +noall +answer | awk '{print $1, $4, $5}'; }
assert_eq "www.home.arpa. CNAME www.example.test.
www.example.test. A 10.0.0.1" "$(chain www.home.arpa A)" \
    "a CNAME to a name that is not local: the CNAME, then the target's records from upstream"
assert_eq "www.home.arpa. 300 CNAME www.example.test." "$(answer www.home.arpa A | head -1)" \
    "... the CNAME with its local TTL"
assert_eq "NOERROR" "$(status www.home.arpa A)" "... NOERROR"
assert_eq "qr rd ra" "$(flags www.home.arpa A)" "... not authoritative (the target is not ours)"
assert_eq "WwW.HoMe.ArPa. CNAME www.example.test.
www.example.test. A 10.0.0.1" "$(chain WwW.HoMe.ArPa A)" "... the client's case in question and answer"
assert_eq "www.home.arpa. CNAME www.example.test.
www.example.test. A 10.0.0.1" "$(chain +tcp www.home.arpa A)" "... over TCP too"
out=$(kdig $KDIG_OPTS +tcp @127.0.0.1 -p "$SR_PORT" www.home.arpa AAAA +short)
assert_eq "www.example.test.
2001:db8::1" "$out" "kdig +tcp: AAAA through the CNAME"
assert_eq 2 "$(fakedns_stat up1 qnames www.example.test.)" "... the target asked upstream once per type (then cached)"
assert_eq "NXDOMAIN" "$(status gone.home.arpa A)" "a CNAME to a name upstream says does not exist: NXDOMAIN"
assert_eq "gone.home.arpa. CNAME nosuch.example.test." "$(chain gone.home.arpa A)" "... with the CNAME"

# --- stats and query log --------------------------------------------------------
[ "$(sr_stat local answers)" -ge 15 ] || fail "stats local.answers is $(sr_stat local answers)"
ok "stats: local.answers counts local and hosts answers"
[ "$(sr_stat local special)" -ge 12 ] || fail "stats local.special is $(sr_stat local special)"
ok "stats: local.special counts special-use names"
assert_match ' nas\.home\.arpa A IN NOERROR udp local ' "$(cat "$T/query.log")" "query log: source local"
assert_match ' printer\.lan A IN NOERROR udp hosts ' "$(cat "$T/query.log")" "query log: source hosts"
assert_match ' x\.home\.arpa A IN NXDOMAIN udp special ' "$(cat "$T/query.log")" "query log: source special"

# --- hosts file changes ---------------------------------------------------------
# A new file of another size: seen whatever the file system's time stamps.
printf '192.168.1.21 printer.lan\n192.168.1.22 scanner.lan\n' >"$T/hosts.new"
mv -f "$T/hosts.new" "$T/hosts"
for i in $(seq 1 $((IT_WAIT * 10))); do
    [ "$($SR_DIG scanner.lan A +short)" = 192.168.1.22 ] && break
    sleep 0.1
done
assert_eq "192.168.1.22" "$($SR_DIG scanner.lan A +short)" "hosts: a changed file is read again"
assert_eq "192.168.1.21" "$($SR_DIG printer.lan A +short)" "hosts: the changed entry"
assert_eq "" "$($SR_DIG printer A +short)" "hosts: a name gone from the file is no longer answered"
[ "$(fakedns_stat up1 qnames printer.)" -ge 1 ] || fail "printer. did not go upstream"
ok "... it goes upstream"
# reload reads it even with its old time.
touch -r "$T/hosts" "$T/stamp"
printf '192.168.1.23 printer.lan\n192.168.1.22 scanner.lan\n' >"$T/hosts"
touch -r "$T/stamp" "$T/hosts"
$SR_CTL reload >/dev/null
assert_eq "192.168.1.23" "$($SR_DIG printer.lan A +short)" "hosts: reload reads the file again"

# --- control ---------------------------------------------------------------------
out=$($SR_CTL --json local)
assert_match '"nas.home.arpa 300 IN A 192.168.1.10"' "$out" "stubresctl local lists the records with their TTL"
$SR_CTL local add 'new.home.arpa 30 TXT "added at run time"' >/dev/null
assert_eq '"added at run time"' "$($SR_DIG new.home.arpa TXT +short)" "local add: answered at once"
$SR_CTL local remove nas.home.arpa AAAA >/dev/null
assert_eq "" "$(answer nas.home.arpa AAAA)" "local remove NAME TYPE: that type is gone (NODATA)"
assert_eq "192.168.1.10" "$($SR_DIG nas.home.arpa A +short)" "... the other types stay"
out=$($SR_CTL local add 'bad.home.arpa A 1.2' 2>&1) && fail "local add of a bad record succeeded"
assert_match "'1.2' is not A RDATA" "$out" "local add: a bad record is refused, saying why"
out=$($SR_CTL local remove none.home.arpa 2>&1) && fail "local remove of no record succeeded"
assert_match "no local record of none.home.arpa" "$out" "local remove: nothing to remove is an error"
stop_stubresd sr
start_stubresd sr
assert_eq '"added at run time"' "$($SR_DIG new.home.arpa TXT +short)" "local add survives a restart"
assert_eq "" "$(answer nas.home.arpa AAAA)" "local remove survives a restart"
stop_stubresd sr

# --- stubresd -t ----------------------------------------------------------------
write_stubresd_conf bad "$(free_port)" "servers = udp://127.0.0.1:$UP1_PORT" \
    "local = ok.home.arpa A 10.0.0.1" "local = broken.home.arpa AAAA 10.0.0.1"
out=$("$STUBRESD" -t -c "$T/bad.conf" 2>&1) && fail "stubresd -t accepted a bad local record"
assert_match "bad\.conf:[0-9]+: .*local.*broken\.home\.arpa AAAA: '10\.0\.0\.1' is not AAAA RDATA" "$out" \
    "stubresd -t names file, line and what is wrong in a local record"
assert_eq "$(grep -n broken "$T/bad.conf" | cut -d: -f1)" \
    "$(printf '%s\n' "$out" | sed -n 's/.*bad\.conf:\([0-9]*\):.*/\1/p' | head -1)" \
    "... the line of the bad record"
