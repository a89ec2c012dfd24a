#!/bin/bash
# bench/engine.sh -- queries/s of the query engine (bench/engine_bench)
# against a loopback unbound (cache hits) over UDP, TCP and DoT, with 100
# queries in flight; also the TCP connections and TLS handshakes it used.
#
#   cd build && make && ../bench/engine.sh [SECONDS] [INFLIGHT]
#
# unbound is pinned to CPU 0 and the bench to CPU 1 (measured here: run the
# client and the server on separate cores). Results go to stdout, one line
# per transport; bench/README.md records a run.
set -eu
. "$(dirname "$0")/../tests/integration/lib.sh"

SECONDS_PER_RUN=${1:-5}
INFLIGHT=${2:-100}
BENCH=$BUILD_DIR/bench/engine_bench
[ -x "$BENCH" ] || fail "$BENCH is not built (run make in the build dir)"
skip_unless nsd unbound taskset
export STUBRES_RESOLV_CONF=$T/resolv.conf
: >"$STUBRES_RESOLV_CONF"

start_unbound
# Queries are logged by the harness's unbound; that costs it more than the
# answer. Restart it without query logging for the measurement.
sed -i 's/^    log-queries: yes/    log-queries: no/; s/^    verbosity: 1/    verbosity: 0/' \
    "$T/unbound/unbound.conf"
stop_bg unbound
start_bg unbound_bench taskset -c 0 unbound -d -p -c "$T/unbound/unbound.conf"
wait_udp 127.0.0.1 "$UNBOUND_PORT" unbound_bench
wait_tcp 127.0.0.1 "$UNBOUND_TLS_PORT" unbound_bench

note "unbound $(unbound -V | sed -n 's/^Version //p') on CPU 0, engine_bench on CPU 1, ${SECONDS_PER_RUN}s per transport, $INFLIGHT in flight"
for p in udp tcp tls; do
    case $p in
        tls) args="-p $UNBOUND_TLS_PORT --ca $CA_FILE --tls-name $TLS_NAME" ;;
        *) args="-p $UNBOUND_PORT" ;;
    esac
    # shellcheck disable=SC2086
    # A run with failures (UDP datagrams dropped by unbound under a big
    # burst, say) still prints its line; go on with the next transport.
    taskset -c 1 "$BENCH" -P $p -s 127.0.0.1 $args -c "$INFLIGHT" -d "$SECONDS_PER_RUN" \
        www.example.test || note "$p: some queries failed (see failed=)"
done

# Instructions per query (CALLGRIND=1): two runs under callgrind that differ
# only in the number of queries; the difference divided by the extra
# queries is the engine's user-space cost per query, start-up excluded.
# Repeatable to a few instructions, unlike times on a shared machine.
if [ -n "${CALLGRIND:-}" ]; then
    skip_unless valgrind
    for p in udp tcp tls; do
        case $p in
            tls) args="-p $UNBOUND_TLS_PORT --ca $CA_FILE --tls-name $TLS_NAME" ;;
            *) args="-p $UNBOUND_PORT" ;;
        esac
        ir=()
        for n in 2000 4000; do
            # shellcheck disable=SC2086
            valgrind --tool=callgrind --callgrind-out-file="$T/cg.$p.$n" \
                "$BENCH" -P $p -s 127.0.0.1 $args -c "$INFLIGHT" -n $n \
                www.example.test >"$T/cg.$p.$n.out" 2>"$T/cg.$p.$n.err" ||
                fail "callgrind run failed: $(tail -3 "$T/cg.$p.$n.err")"
            ir+=("$(sed -n 's/^summary: //p' "$T/cg.$p.$n")")
        done
        echo "proto=$p instructions_per_query=$(( (ir[1] - ir[0]) / 2000 ))"
    done
fi
