# bench/ab_lib.sh -- what the focused A/B scripts (hit_cpu.sh, hit_ir.sh,
# enc_ab.sh) share: sourced after tests/integration/lib.sh, with T, PY and
# LIB (compare_lib.py) set.
# shellcheck shell=bash

# ticks PID: utime+stime of the process (all threads), in clock ticks.
ticks() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    st=${st##*) }
    # shellcheck disable=SC2086
    set -- $st
    echo $((${12} + ${13}))
}

# start_bench_nsd N: nsd on a loopback port serving bench.test with N
# names, and the query file $T/q.txt asking each once; sets np (its port).
start_bench_nsd() {
    local n=$1
    mkdir -p "$T/zone" "$T/nsd"
    "$PY" "$LIB" zone "$T/zone/bench.test.zone" bench.test "$n"
    "$PY" "$LIB" names "$T/q.txt" bench.test 0 "$n"
    np=$(free_port)
    cat >"$T/nsd/nsd.conf" <<EOC
server:
    ip-address: 127.0.0.1@$np
    port: $np
    do-ip4: yes
    do-ip6: no
    server-count: 1
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "$T/nsd"
    zonelistfile: "$T/nsd/zone.list"
    database: ""
    xfrdfile: "$T/nsd/xfrd.state"
    xfrdir: "$T/nsd"
    pidfile: "$T/nsd/nsd.pid"
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: "bench.test."
    zonefile: "$T/zone/bench.test.zone"
EOC
    start_bg nsd nsd -d -c "$T/nsd/nsd.conf"
    wait_udp 127.0.0.1 "$np" nsd
}
