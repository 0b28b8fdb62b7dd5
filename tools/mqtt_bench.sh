#!/usr/bin/env bash
# MQTT side by side: natsedge, nats-server 2.9 (`mqtt {}` with JetStream) and
# mosquitto 2.0, each driven by `tools/bench mqtt` (MQTT 3.1.1, raw TCP, one
# publisher) in the same run (not part of `make test`; `make bench-mqtt`).
#
#   throughput and latency: QoS 0, 1 and 2 (nats-server 2.9 has no QoS 2), 16 B
#     and 1 KiB payloads, one subscriber and a fan-out to 4; the publisher at
#     most --window messages ahead of the slowest subscriber (QoS 0: about
#     2 MiB of messages; QoS 1 and 2: 20, mosquitto's max_inflight_messages);
#   unloaded latency: --window 1 (one message at a time), 16 B;
#   idle: 10,000 connections (keep-alive 60 s) held 10 s: the broker's RSS
#     and CPU with them. natsedge's default profile serves 256 connections:
#     the idle run uses it rebuilt with NE_MAX_CONNECTIONS=10100, and a lean
#     build (1 KiB read buffers, 8 filters, 32 in-flight messages per
#     session); both are built here under build/bench-mqtt-*, and each once
#     more linked statically (`make STATIC=1`: the natsedge-10k-static and
#     natsedge-lean-static rows, build/bench-mqtt-*-static).
#
# Usage: tools/mqtt_bench.sh [NATSEDGE_BIN]     (MQTT_BENCH_RUNS=3: median of 3)
#   MQTT_BENCH_ONLY=idle: only the idle measurement, natsedge (the four builds)
#   and mosquitto (MQTT_BENCH_IDLE_OTHERS="nats-server mosquitto" adds nats-server).
set -euo pipefail
cd "$(dirname "$0")/.."

NATSEDGE=${1:-build/default/natsedge}
NATS_SERVER=${NATS_SERVER_BIN:-/usr/sbin/nats-server}
MOSQUITTO=${MOSQUITTO_BIN:-/usr/sbin/mosquitto}
BENCH=build/bench/bench
RUNS=${MQTT_BENCH_RUNS:-1}
IDLE_CONNS=${MQTT_BENCH_IDLE:-10000}
IDLE_HOLD=${MQTT_BENCH_HOLD:-10}
ONLY=${MQTT_BENCH_ONLY:-}
if [ "$ONLY" = idle ]; then
    IDLE_OTHERS=${MQTT_BENCH_IDLE_OTHERS:-mosquitto}
else
    IDLE_OTHERS=${MQTT_BENCH_IDLE_OTHERS:-nats-server mosquitto}
fi
BIG="-DNE_MAX_CONNECTIONS=10100"
LEAN="$BIG -DNE_CONN_READ_BUFFER_BYTES=1088 -DNE_MAX_CONTROL_LINE_BYTES=1024 \
-DNE_MQTT_MAX_SUBS_PER_SESSION=8 -DNE_MQTT_MAX_INFLIGHT=32 -DNE_MQTT_MAX_INBOUND_QOS2=16 \
-DNE_MQTT_CLIENT_ID_BYTES=64 -DNE_MQTT_TOPIC_ALIAS_MAX=2"

make -s bench-tool >&2
[ -x "$NATSEDGE" ] || { echo "no natsedge binary at $NATSEDGE" >&2; exit 2; }
make -s BUILD=build/bench-mqtt-10k CFLAGS="$BIG" -j2 build/bench-mqtt-10k/natsedge >&2
make -s BUILD=build/bench-mqtt-10k-lean CFLAGS="$LEAN" -j2 build/bench-mqtt-10k-lean/natsedge >&2
# The same two linked statically (the link's getaddrinfo warning is expected:
# the Makefile's STATIC says why).
make -s BUILD=build/bench-mqtt-10k-static STATIC=1 CFLAGS="$BIG" -j2 \
    build/bench-mqtt-10k-static/natsedge >&2
make -s BUILD=build/bench-mqtt-10k-lean-static STATIC=1 CFLAGS="$LEAN" -j2 \
    build/bench-mqtt-10k-lean-static/natsedge >&2
IDLE_NATSEDGE="natsedge-10k:build/bench-mqtt-10k natsedge-lean:build/bench-mqtt-10k-lean
natsedge-10k-static:build/bench-mqtt-10k-static natsedge-lean-static:build/bench-mqtt-10k-lean-static"

dir=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

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

# start_broker KIND [BIN [MAX_CONNECTIONS]]: starts it on a fresh port; sets
# $pid and $port.
start_broker() {
    local kind=$1 bin=${2:-} maxc=${3:-}
    port=$(free_port)
    case $kind in
    natsedge)
        printf 'listen: 127.0.0.1:%s\n%smqtt { listen: 127.0.0.1:%s }\n' \
            "$(free_port)" "${maxc:+max_connections: $maxc
}" "$port" >"$dir/ne.conf"
        "$bin" -c "$dir/ne.conf" >"$dir/broker.log" 2>&1 &
        ;;
    nats-server)
        rm -rf "$dir/js"
        printf 'listen: 127.0.0.1:%s\nserver_name: mqtt-bench\njetstream { store_dir: "%s" }\nmqtt { listen: 127.0.0.1:%s }\n' \
            "$(free_port)" "$dir/js" "$port" >"$dir/ns.conf"
        "$NATS_SERVER" -c "$dir/ns.conf" >"$dir/broker.log" 2>&1 &
        ;;
    mosquitto)
        printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_connections -1\n' "$port" >"$dir/mosq.conf"
        "$MOSQUITTO" -c "$dir/mosq.conf" >"$dir/broker.log" 2>&1 &
        ;;
    esac
    pid=$!
    wait_port "$port" || { cat "$dir/broker.log" >&2; return 1; }
    sleep 0.5
}
stop_broker() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR + 1) / 2)] : "")}'; }
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
hwm_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One scenario, RUNS times: "deliver_rate p50_us p99_us" (medians) or "- - -".
scenario() { # qos subs size count [window]
    local qos=$1 subs=$2 size=$3 count=$4 window=${5:-}
    local rates=() p50s=() p99s=() out
    for _ in $(seq 1 "$RUNS"); do
        out=$("$BENCH" mqtt "$subs" --port "$port" --qos "$qos" --size "$size" --count "$count" \
            ${window:+--window "$window"} --timeout 20 --quiet 2>&1) || true
        if [ "$(echo "$out" | field ok)" != 1 ]; then
            echo "  qos $qos subs $subs size $size: $out" >&2
            echo "- - -"
            return
        fi
        rates+=("$(echo "$out" | field deliver_rate)")
        p50s+=("$(echo "$out" | field p50_us)")
        p99s+=("$(echo "$out" | field p99_us)")
    done
    echo "$(printf '%s\n' "${rates[@]}" | median) $(printf '%s\n' "${p50s[@]}" | median) $(printf '%s\n' "${p99s[@]}" | median)"
}

declare -A R
count_for() { # qos size
    case $1 in 0) echo 200000 ;; 1) echo 50000 ;; *) echo 20000 ;; esac
}
throughput() { # kind
    local kind=$1 qos subs size
    for qos in 0 1 2; do
        if [ "$kind" = nats-server ] && [ "$qos" = 2 ]; then
            for subs in 1 4; do for size in 16 1024; do R[$kind,$qos,$subs,$size]="- - -"; done; done
            R[$kind,lat,$qos]="- - -"
            continue
        fi
        for size in 16 1024; do
            for subs in 1 4; do
                R[$kind,$qos,$subs,$size]=$(scenario "$qos" "$subs" "$size" "$(count_for "$qos" "$size")")
                echo "$kind qos $qos subs $subs size $size: ${R[$kind,$qos,$subs,$size]}" >&2
            done
        done
        R[$kind,lat,$qos]=$(scenario "$qos" 1 16 5000 1)
        echo "$kind qos $qos unloaded: ${R[$kind,lat,$qos]}" >&2
    done
    R[$kind,hwm]=$(hwm_kib "$pid")
}
idle() { # label
    local label=$1 base t0 t1 out hz
    hz=$(getconf CLK_TCK)
    base=$(rss_kib "$pid")
    "$BENCH" mqtt-idle --port "$port" --conns "$IDLE_CONNS" --keepalive 60 --hold "$IDLE_HOLD" \
        --timeout 60 >"$dir/idle.out" 2>&1 &
    local bpid=$!
    for _ in $(seq 1 1200); do
        grep -q '^idle:' "$dir/idle.out" && break
        sleep 0.1
    done
    t0=$(cpu_ticks "$pid")
    sleep "$((IDLE_HOLD - 2))"
    t1=$(cpu_ticks "$pid")
    local rss
    rss=$(rss_kib "$pid")
    wait "$bpid" || true
    out=$(grep '^BENCH' "$dir/idle.out" || echo "BENCH ok=0")
    local ok
    ok=$(echo "$out" | field ok)
    R[$label,idle]="$base $rss $(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$((IDLE_HOLD - 2))" 'BEGIN {printf "%.1f", (b - a) / hz / s * 100}') $(echo "$out" | field connect_s) $ok"
    echo "$label idle: ${R[$label,idle]} ($out)" >&2
}

if [ "$ONLY" != idle ]; then
    for kind in natsedge nats-server mosquitto; do
        start_broker "$kind" "$NATSEDGE"
        throughput "$kind"
        stop_broker
    done
fi
for build in $IDLE_NATSEDGE; do
    start_broker natsedge "${build#*:}/natsedge" 10100
    idle "${build%%:*}"
    stop_broker
done
for kind in $IDLE_OTHERS; do
    start_broker "$kind"
    idle "$kind"
    stop_broker
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.1fx", a / b }'; }
k() { awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.1f k", a / 1000 }'; }
if [ "$ONLY" != idle ]; then
    echo
    echo "Throughput (deliveries/s; fan-out counts every subscriber's), median of $RUNS:"
    echo
    echo "| QoS | size | subscribers | natsedge | nats-server | mosquitto | natsedge / nats-server | natsedge / mosquitto |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for qos in 0 1 2; do for size in 16 1024; do for subs in 1 4; do
        read -r a _ _ <<<"${R[natsedge,$qos,$subs,$size]}"
        read -r b _ _ <<<"${R[nats-server,$qos,$subs,$size]}"
        read -r c _ _ <<<"${R[mosquitto,$qos,$subs,$size]}"
        echo "| $qos | $size B | $subs | $(k "$a") | $(k "$b") | $(k "$c") | $(ratio "$a" "$b") | $(ratio "$a" "$c") |"
    done; done; done
    echo
    echo "Latency, microseconds p50 / p99: loaded (the 1-subscriber 16 B runs above) and unloaded (--window 1):"
    echo
    echo "| QoS | natsedge loaded | nats-server loaded | mosquitto loaded | natsedge unloaded | nats-server unloaded | mosquitto unloaded |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for qos in 0 1 2; do
        row="| $qos"
        for what in "$qos,1,16" "lat,$qos"; do
            for kind in natsedge nats-server mosquitto; do
                read -r _ p50 p99 <<<"${R[$kind,$what]}"
                row="$row | $p50 / $p99"
            done
        done
        echo "$row |"
    done
    echo
    echo "Peak RSS after the throughput runs (VmHWM): natsedge $((R[natsedge,hwm] / 1024)) MiB, nats-server $((R[nats-server,hwm] / 1024)) MiB, mosquitto $((R[mosquitto,hwm] / 1024)) MiB"
    echo
fi
echo
echo "$IDLE_CONNS idle connections (keep-alive 60 s):"
echo
echo "| broker | RSS before | RSS with them | per connection | CPU while idle | connect time | all connected, none dropped |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
for label in $(for build in $IDLE_NATSEDGE; do echo "${build%%:*}"; done) $IDLE_OTHERS; do
    read -r base rss cpu cs ok <<<"${R[$label,idle]}"
    per=$(awk -v a="$base" -v b="$rss" -v n="$IDLE_CONNS" 'BEGIN {printf "%.0f B", (b - a) * 1024 / n}')
    echo "| $label | $(mib "$base") | $(mib "$rss") | $per | $cpu % | ${cs} s | $([ "$ok" = 1 ] && echo yes || echo NO) |"
done
