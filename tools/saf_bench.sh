#!/usr/bin/env bash
# Backlog drain (issue 18, "Benchmark"; not part of `make test`; `make
# bench-saf`): BENCH_SAF_MSGS (default 1,000,000) messages of 128 B
# published at an edge while its leaf link is cut, then the time from the
# link's return until the cloud stream holds all of them, for two edges in
# the same run, each on a fresh topology:
#
#   natsedge     a file stream with `forward` (prefix site1, window 256) into
#                a cloud stream capturing site1.> (10-minute duplicate window)
#   nats-server  2.9.10 as the leaf, a file stream of its own, and a cloud
#                stream sourcing it through the leaf's domain ($JS.edge.API)
#
# The cloud is a single nats-server 2.9.10 node (domain hub; a 3-node
# cluster on a 2-core machine measures the cluster more than the edge), the
# edge its leaf through a TCP proxy the run owns; the publisher is nats.js
# with 256 acks outstanding (tests/interop/bench/saf_drain.mjs). The drain is
# polled with stream info every 100 ms.
#
# natsedge's default build holds at most 64 MiB of file store (256 blocks of
# 256 KiB, NE_STORE_MAX_BLOCKS): a million messages of 128 B do not fit. The
# run rebuilds it under build/bench-saf with NE_STORE_MAX_BLOCKS=2048 and
# gives it max_file_store 512M.
#
# Usage: tools/saf_bench.sh
#   BENCH_SAF_MSGS=100000    messages (default 1000000)
#   NATS_SERVER_BIN=...      the cloud and the reference edge (default
#                            /usr/sbin/nats-server)
set -euo pipefail
cd "$(dirname "$0")/.."

MSGS=${BENCH_SAF_MSGS:-1000000}
NATS_SERVER=${NATS_SERVER_BIN:-/usr/sbin/nats-server}
BIG="-DNE_STORE_MAX_BLOCKS=2048"
NATSEDGE=build/bench-saf/natsedge

# make does not track CFLAGS: a build with other flags starts over.
[ "$(cat build/bench-saf/.cflags 2>/dev/null)" = "$BIG" ] || rm -rf build/bench-saf
make -s BUILD=build/bench-saf CFLAGS="$BIG" -j2 "$NATSEDGE" >&2
echo "$BIG" >build/bench-saf/.cflags
[ -d tests/interop/node_modules ] || (cd tests/interop && npm ci --silent) >&2

run() {
    NATS_SERVER_BIN=$NATS_SERVER node tests/interop/bench/saf_drain.mjs "$@"
}
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

echo "backlog drain: $MSGS messages of 128 B queued at the edge during an outage"
ne=$(run natsedge "$PWD/$NATSEDGE" "$MSGS" "max_file_store: 512M")
echo "$ne"
ns=$(run nats-server "$NATS_SERVER" "$MSGS")
echo "$ns"
a=$(echo "$ne" | field drain_s)
b=$(echo "$ns" | field drain_s)
awk -v a="$a" -v b="$b" 'BEGIN { printf "drain time: natsedge %.2f s, nats-server %.2f s: nats-server / natsedge = %.2fx\n", a, b, b / a }'
