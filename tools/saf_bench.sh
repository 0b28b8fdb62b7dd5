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
#   natsedge-sourced  the same with natsedge as the leaf (it serves the
#                cloud's sourcing consumer; nothing is freed at the edge)
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
# Then the cloud's ceiling for what a forwarder sends: the same number of
# messages published into a fresh cloud node's file stream by
# tools/bench js-pub --msg-id (raw protocol, 256 acks outstanding, each
# message with a Nats-Msg-Id), no edge at all. A forwarder that publishes
# each message with an id and waits for its ack cannot drain faster than
# this, whatever the edge costs; its ratio to the sourced drain's rate is
# printed with the rest.
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
make -s -j2 build/bench/bench >&2
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
nes=$(run natsedge-sourced "$PWD/$NATSEDGE" "$MSGS" "max_file_store: 512M")
echo "$nes"
a=$(echo "$ne" | field drain_s)
b=$(echo "$ns" | field drain_s)
c=$(echo "$nes" | field drain_s)
awk -v a="$a" -v b="$b" 'BEGIN { printf "drain time: natsedge %.2f s, nats-server %.2f s: nats-server / natsedge = %.2fx\n", a, b, b / a }'
awk -v c="$c" -v b="$b" 'BEGIN { printf "sourced from natsedge instead: %.2f s, nats-server / natsedge = %.2fx\n", c, b / c }'

# The cloud's ceiling: js-pub --msg-id straight into a fresh node.
dir=$(mktemp -d)
trap 'kill "$hub" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
printf 'listen: 127.0.0.1:%s\nserver_name: hub-0\njetstream { store_dir: "%s", domain: hub }\n' "$port" "$dir" >"$dir/hub.conf"
"$NATS_SERVER" -c "$dir/hub.conf" >"$dir/hub.log" 2>&1 &
hub=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
ceil=$(build/bench/bench js-pub --port "$port" --count "$MSGS" --window 256 --size 128 --msg-id --timeout 30 --quiet)
echo "$ceil"
r=$(echo "$ceil" | field rate)
s_rate=$(echo "$ns" | field rate)
awk -v r="$r" -v s="$s_rate" 'BEGIN { printf "cloud ceiling (acked publishes with Nats-Msg-Id, no edge): %.0f msgs/s = %.2fx the sourced drain rate\n", r, r / s }'
