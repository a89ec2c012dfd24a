#!/bin/bash
# test_daemon_upstream_compat.sh -- upstreams that cannot do what we ask:
# one that answers FORMERR or NOTIMP (without OPT) to a query with EDNS is
# asked again without EDNS and the client gets the answer (RFC 6891 7);
# one that answers FORMERR to both gets its FORMERR passed on; a DoH JSON
# API upstream, which has no class parameter, is never asked a CH question:
# the client gets NOTIMP instead of IN data labelled CH.
# shellcheck disable=SC2086
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
skip_unless dig

# status_of DIG-ARGS...: the RCODE mnemonic dig reports.
status_of() {
    $SR_DIG +noall +comments "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

start_fakedns up1

# --- EDNS fallback, over UDP and over TCP -------------------------------------------
for proto in udp tcp; do
    start_stubresd "sr_$proto" "servers = $proto://127.0.0.1:$UP1_PORT" "timeout = 2"

    fakedns_reset up1
    fakedns_mode up1 formerr-edns
    assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" \
        "$proto: an upstream answering FORMERR to EDNS: the client gets the answer"
    assert_eq "1 1" "$(fakedns_stat up1 edns with_edns) $(fakedns_stat up1 edns without_edns)" \
        "$proto: asked once with EDNS, once without"

    fakedns_reset up1
    fakedns_mode up1 notimp-edns
    assert_eq 10.0.0.25 "$($SR_DIG mail.$ZONE A +short)" \
        "$proto: an upstream answering NOTIMP to EDNS: the client gets the answer"
    assert_eq "1 1" "$(fakedns_stat up1 edns with_edns) $(fakedns_stat up1 edns without_edns)" \
        "$proto: NOTIMP: asked once with EDNS, once without"

    # The next question goes with EDNS again: the fallback is per query.
    fakedns_reset up1
    fakedns_mode up1 good
    assert_eq 10.0.0.1 "$($SR_DIG a.$ZONE A +short)" "$proto: a good upstream answers"
    assert_eq "1 0" "$(fakedns_stat up1 edns with_edns) $(fakedns_stat up1 edns without_edns)" \
        "$proto: the next query carries EDNS again"

    # FORMERR to both: passed on as before (no second retry, no loop).
    fakedns_reset up1
    fakedns_mode up1 formerr
    assert_eq FORMERR "$(status_of mx.$ZONE MX)" \
        "$proto: an upstream answering FORMERR with and without EDNS: the client gets FORMERR"
    assert_eq "1 1" "$(fakedns_stat up1 edns with_edns) $(fakedns_stat up1 edns without_edns)" \
        "$proto: FORMERR to both: asked twice, not more"
    fakedns_mode up1 good
    stop_stubresd "sr_$proto"
done

# --- the JSON API has no class ------------------------------------------------------
start_stubresd sr_json "servers = https://127.0.0.1:$UP1_HTTPS_PORT/resolve" \
    "doh_method = json" "ca_file = $CA_FILE" "timeout = 2"
fakedns_reset up1
assert_eq NOTIMP "$(status_of www.$ZONE TXT -c CH)" "JSON upstream: a CH question gets NOTIMP"
assert_eq "" "$($SR_DIG www.$ZONE TXT -c CH +short)" "JSON upstream: no IN data labelled CH"
assert_eq "0 0" "$(fakedns_stat up1 queries total) $(fakedns_stat up1 http requests)" \
    "JSON upstream: the CH question never reached the upstream"
assert_eq 10.0.0.1 "$($SR_DIG www.$ZONE A +short)" "JSON upstream: an IN question is answered"
assert_eq 1 "$(fakedns_stat up1 queries https)" "JSON upstream: asked the IN question"
stop_stubresd sr_json
