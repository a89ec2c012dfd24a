#!/bin/bash
# bench/local_ir.sh -- callgrind instructions per local answer against
# instructions per cache hit, for the same N names, the same stubresd and
# the same client (bench/hit_ir.sh twice): once the names come from nsd and
# are answered from the cache, once they are in a hosts file and answered
# as local answers (the path of `local` records and hosts files alike).
#
#   bench/local_ir.sh [STUBRESD] [N]     default bench/build-release/stubresd, 1000
#
# Prints both figures and their ratio (the target is at most 1.0).
set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
STUBRESD=${1:-$BENCH_DIR/build-release/stubresd}
N=${2:-1000}
tmp=$(mktemp -d /tmp/local_ir.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The names hit_ir.sh asks (compare_lib.py: n%06d.bench.test), with the
# addresses nsd gives them.
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
    printf "10.%d.%d.%d n%06d.bench.test\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, i }' \
    >"$tmp/hosts"

ir() { sed -n 's/^Ir per hit: \([0-9.]*\) .*/\1/p'; }
hit=$("$BENCH_DIR/hit_ir.sh" "$STUBRESD" "$N" | ir)
local_=$(EXTRA_CONF="hosts = $tmp/hosts" "$BENCH_DIR/hit_ir.sh" "$STUBRESD" "$N" | ir)
[ -n "$hit" ] && [ -n "$local_" ] || { echo "local_ir.sh: hit_ir.sh gave no figure" >&2; exit 1; }
echo "Ir per cache hit:    $hit"
echo "Ir per local answer: $local_"
echo "local / hit:         $(awk -v a="$local_" -v b="$hit" 'BEGIN { printf "%.3f", a / b }')"
