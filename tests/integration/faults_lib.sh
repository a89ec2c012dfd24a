# shellcheck shell=bash
# faults_lib.sh -- the body of test_faults_*.sh: fakedns upstreams (up1
# faulty on demand, up2 good, and for DoT/DoH three servers with a bad
# certificate: for another name, expired, from an unknown CA), one stubresd
# with a short timeout (FAULT_TIMEOUT, 1 s), then faults.py runs the matrix
# for $FAULT_PROTOS (the faults in FAULT_ONLY if set; under valgrind
# memcheck if FAULT_VALGRIND is set). Sourced after FAULT_PROTOS is set:
#
#   FAULT_PROTOS="udp tcp"
#   . "$(dirname "$0")/faults_lib.sh"
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
if [ -n "${FAULT_VALGRIND:-}" ]; then
    skip_unless valgrind
    if grep -q __asan_init "$STUBRESD"; then
        skip "a sanitizer build: memcheck runs against the normal build"
    fi
fi

start_fakedns up1
start_fakedns up2
case " $FAULT_PROTOS " in
*" tls "* | *" post "* | *" get "* | *" json "*)
    start_fakedns badname --cert "$CERT_DIR/wrongname.pem" --key "$CERT_DIR/wrongname.key"
    start_fakedns expired --cert "$CERT_DIR/expired.pem" --key "$CERT_DIR/expired.key"
    start_fakedns unknownca --cert "$CERT_DIR/selfsigned.pem" --key "$CERT_DIR/selfsigned.key"
    ;;
esac
FAULT_TIMEOUT=${FAULT_TIMEOUT:-1}
if [ -n "${FAULT_VALGRIND:-}" ]; then
    # memcheck: any error, or a block lost at exit (definitely, indirectly
    # or possibly; still reachable is not a leak), makes the
    # exit status 99, which stop_stubresd refuses
    STUBRESD_WRAP="valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
        --errors-for-leak-kinds=definite,indirect,possible --num-callers=30"
fi
# servfail_ttl = 0: a SERVFAIL is not remembered, so the follow-up query of
# each row shows what the cache holds, not a SERVFAIL kept on purpose.
start_stubresd sr "servers = udp://127.0.0.1:$UP2_PORT" "timeout = $FAULT_TIMEOUT" \
    "ca_file = $CA_FILE" "servfail_ttl = 0" "strategy = failover"
# shellcheck disable=SC2086 # FAULT_PROTOS: one argument per transport
SR_PID=$(pid_of sr) SR_PORT=$SR_PORT SR_SOCK=$SR_SOCK T=$T SR_TIMEOUT=$FAULT_TIMEOUT \
    "$PY" "$IT_DIR/faults.py" $FAULT_PROTOS
kill -0 "$(pid_of sr)" || fail "stubresd died"
stop_stubresd sr
if [ -n "${FAULT_VALGRIND:-}" ]; then
    assert_match 'ERROR SUMMARY: 0 errors from 0 contexts' "$(cat "$(log_of sr)")" \
        "valgrind memcheck: 0 errors, 0 bytes lost"
fi
