#!/usr/bin/env bash
# Route throughput: messages/s across a 2-node cluster of natsedge against a
# 2-node cluster of nats-server, same topology, same run (not part of
# `make test`; issue 19's benchmark).
#
#   node A: the publisher's node; node B: the subscribers' node; one route
#   pubsub:   one publisher on A, one subscriber on B   (bench pubsub --sub-port)
#   fanout K: one publisher on A, K subscribers on B    (bench fanout K --sub-port)
#
# The clusters are measured in turns (natsedge, nats-server, natsedge, ...)
# so that both see the same machine load; the medians and the ratio are
# printed. Usage: tools/route_bench.sh [NATSEDGE_BIN] [COUNT] [SIZE]
set -euo pipefail

NATSEDGE=${1:-build/default/natsedge}
COUNT=${2:-1000000}
SIZE=${3:-128}
NATS_SERVER=${NATS_SERVER_BIN:-/usr/sbin/nats-server}
BENCH=build/bench/bench
RUNS=${ROUTE_BENCH_RUNS:-3}
FANOUT=${ROUTE_BENCH_FANOUT:-4}

[ -x "$BENCH" ] || { echo "build the bench tool first: make bench-tool" >&2; exit 2; }
[ -x "$NATSEDGE" ] || { echo "no natsedge binary at $NATSEDGE" >&2; exit 2; }

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 did not open" >&2
    return 1
}

# Waits until a node's /routez shows one route.
wait_route() { # http_port
    for _ in $(seq 1 200); do
        if python3 - "$1" <<'EOF' 2>/dev/null; then return 0; fi
import json, sys, urllib.request
z = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/routez", timeout=2))
sys.exit(0 if z["num_routes"] == 1 else 1)
EOF
        sleep 0.05
    done
    echo "no route on the node with monitoring port $1" >&2
    return 1
}

# Starts a 2-node cluster of `bin`; sets A_PORT and B_PORT.
start_cluster() { # name bin
    local name=$1 bin=$2
    A_PORT=$(free_port); B_PORT=$(free_port)
    local ra rb ma mb
    ra=$(free_port); rb=$(free_port); ma=$(free_port); mb=$(free_port)
    "$bin" -a 127.0.0.1 -p "$A_PORT" -m "$ma" -n "$name-a" --cluster "nats://127.0.0.1:$ra" \
        --cluster_name bench >"$dir/$name-a.log" 2>&1 &
    pids+=("$!")
    "$bin" -a 127.0.0.1 -p "$B_PORT" -m "$mb" -n "$name-b" --cluster "nats://127.0.0.1:$rb" \
        --cluster_name bench --routes "nats://127.0.0.1:$ra" >"$dir/$name-b.log" 2>&1 &
    pids+=("$!")
    wait_port "$A_PORT"
    wait_port "$B_PORT"
    wait_route "$ma"
    wait_route "$mb"
}

# One measurement: the receive rate of the bench's BENCH line.
measure() { # mode pub_port sub_port
    local out
    # shellcheck disable=SC2086
    out=$("$BENCH" $1 --port "$2" --sub-port "$3" --count "$COUNT" --size "$SIZE" \
        --settle 1 --timeout 20 --quiet) || { echo "bench failed: $out" >&2; echo 0; return; }
    echo "$out" | tr ' ' '\n' | sed -n 's/^deliver_rate=//p' | head -1
}

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

echo "route bench: $COUNT messages of $SIZE B, publisher on node A, subscribers on node B;" \
    "$("$NATS_SERVER" --version 2>&1 | head -1); $RUNS runs each, in turns" >&2
start_cluster natsedge "$NATSEDGE"
NE_A=$A_PORT; NE_B=$B_PORT
start_cluster nats-server "$NATS_SERVER"
NS_A=$A_PORT; NS_B=$B_PORT

declare -a ne_ps ns_ps ne_fo ns_fo
for _ in $(seq 1 "$RUNS"); do
    ne_ps+=("$(measure pubsub "$NE_A" "$NE_B")")
    ns_ps+=("$(measure pubsub "$NS_A" "$NS_B")")
    ne_fo+=("$(measure "fanout $FANOUT" "$NE_A" "$NE_B")")
    ns_fo+=("$(measure "fanout $FANOUT" "$NS_A" "$NS_B")")
done

ne1=$(median "${ne_ps[@]}"); ns1=$(median "${ns_ps[@]}")
ne4=$(median "${ne_fo[@]}"); ns4=$(median "${ns_fo[@]}")
printf 'pubsub across the route: natsedge %12s msgs/s   nats-server %12s msgs/s   (runs %s | %s)\n' \
    "$ne1" "$ns1" "${ne_ps[*]}" "${ns_ps[*]}"
printf 'fanout %s across the route: natsedge %12s msgs/s   nats-server %12s msgs/s   (runs %s | %s)\n' \
    "$FANOUT" "$ne4" "$ns4" "${ne_fo[*]}" "${ns_fo[*]}"
python3 - "$ne1" "$ns1" "$ne4" "$ns4" "$FANOUT" <<'EOF'
import sys
ne1, ns1, ne4, ns4 = (float(x or 0) for x in sys.argv[1:5])
ratio = lambda a, b: (a / b) if b else float("nan")
print(f"ratio natsedge/nats-server across a route: pubsub {ratio(ne1, ns1):.2f}, "
      f"fanout {sys.argv[5]} {ratio(ne4, ns4):.2f}")
EOF
