#!/usr/bin/env bash
# Leaf node throughput: messages/s through natsedge-as-leaf against
# nats-server-as-leaf, in the same topology (not part of `make test`).
#
#   hub: nats-server with a leaf port; leaf: the broker under test, one remote
#   up:   publisher on the leaf, subscriber on the hub   (bench pubsub --sub-port)
#   down: publisher on the hub,  subscriber on the leaf
#
# Usage: tools/leaf_bench.sh [NATSEDGE_BIN] [COUNT] [SIZE]
# Prints one line per (leaf, direction) and the natsedge/nats-server ratio.
set -euo pipefail

NATSEDGE=${1:-build/default/natsedge}
COUNT=${2:-1000000}
SIZE=${3:-128}
HUB_BIN=${NATS_SERVER_BIN:-/usr/sbin/nats-server}
BENCH=build/bench/bench
RUNS=${LEAF_BENCH_RUNS:-3}

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

# One measurement: prints msgs/s of the bench's BENCH line.
measure() { # pub_port sub_port
    local out
    out=$("$BENCH" pubsub --port "$1" --sub-port "$2" --count "$COUNT" --size "$SIZE" \
        --settle 1 --timeout 20 --quiet) || { echo "bench failed: $out" >&2; echo 0; return; }
    # The BENCH line carries key=value pairs; deliver_rate is the receive rate.
    echo "$out" | tr ' ' '\n' | sed -n 's/^deliver_rate=//p' | head -1
}

run_leaf() { # name bin -> "up down" medians
    local name=$1 bin=$2
    local hub_port leaf_port hub_leaf_port
    hub_port=$(free_port); hub_leaf_port=$(free_port); leaf_port=$(free_port)
    printf 'port: %s\nleafnodes { listen: 127.0.0.1:%s }\n' "$hub_port" "$hub_leaf_port" >"$dir/hub.conf"
    printf 'leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:%s" } ] }\n' "$hub_leaf_port" >"$dir/leaf.conf"
    "$HUB_BIN" -a 127.0.0.1 -c "$dir/hub.conf" >"$dir/hub.log" 2>&1 &
    local hub_pid=$!
    pids+=("$hub_pid")
    wait_port "$hub_port"
    "$bin" -a 127.0.0.1 -p "$leaf_port" -c "$dir/leaf.conf" >"$dir/$name.log" 2>&1 &
    local leaf_pid=$!
    pids+=("$leaf_pid")
    wait_port "$leaf_port"
    sleep 1.5
    local ups=() downs=()
    for _ in $(seq 1 "$RUNS"); do
        ups+=("$(measure "$leaf_port" "$hub_port")")
        downs+=("$(measure "$hub_port" "$leaf_port")")
    done
    kill "$leaf_pid" "$hub_pid"
    wait "$leaf_pid" "$hub_pid" 2>/dev/null || true
    local up down
    up=$(printf '%s\n' "${ups[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    down=$(printf '%s\n' "${downs[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    printf '%-12s up (leaf -> hub) %12s msgs/s   down (hub -> leaf) %12s msgs/s   (median of %s, runs: up %s; down %s)\n' \
        "$name" "$up" "$down" "$RUNS" "${ups[*]}" "${downs[*]}" >&2
    echo "$up $down"
}

echo "leaf bench: $COUNT messages of $SIZE B, hub $("$HUB_BIN" --version 2>&1 | head -1)" >&2
read -r ne_up ne_down < <(run_leaf natsedge "$NATSEDGE")
read -r ns_up ns_down < <(run_leaf nats-server "$HUB_BIN")
python3 - "$ne_up" "$ne_down" "$ns_up" "$ns_down" <<'EOF'
import sys
ne_up, ne_down, ns_up, ns_down = (float(x or 0) for x in sys.argv[1:])
ratio = lambda a, b: (a / b) if b else float("nan")
print(f"ratio natsedge/nats-server as leaf: up {ratio(ne_up, ns_up):.2f}, down {ratio(ne_down, ns_down):.2f}")
EOF
