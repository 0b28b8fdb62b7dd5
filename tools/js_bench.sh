#!/usr/bin/env bash
# JetStream side by side: natsedge (twice: with the default sync_interval,
# "always", and with sync_interval "2m", nats-server's default) and
# nats-server 2.9 (-js, its store_dir in a temporary directory), each driven
# by `tools/bench js-*` (raw protocol, one connection) in the same run (not
# part of `make test`; `make bench-js`).
#
#   sync publish   one outstanding, 128 B and 16 KiB, to a file stream:
#                  publish-to-ack latency p50 / p99
#   async publish  a window of 256 acks outstanding, 128 B and 16 KiB: msgs/s
#   fetch          a durable pull consumer, explicit acks (each message acked
#                  as it arrives), pull requests of 128, two outstanding,
#                  128 B and 16 KiB: msgs/s of the fetch phase
#   KV             put then direct get, one outstanding, 128 B over 100 keys
#   RSS            the broker's RSS idle and after creating 1, 100 and 1,000
#                  file streams (a fresh broker each time)
#   N streams      `bench js-multi N` for N = 1, 16 and 256 (a fresh broker
#                  each): JS_MULTI_COUNT (default 50,000) publishes of 128 B
#                  round-robin over N file streams, 256 acks outstanding
#                  (append rate), then a durable pull consumer per stream
#                  with explicit acks reads them back (read+ack rate), and
#                  the broker's RSS growth with them kept
#
# natsedge's default build holds 64 file streams (NE_JS_FILE_STREAMS); the
# RSS runs use it rebuilt with 1,024 under build/bench-js, the N-stream runs
# rebuilt under build/bench-store-js with room for 256 streams and their
# durable consumers (and a 512 MiB max_file_store): every file stream and
# durable consumer is a log of at least one 256 KiB block, so 2,048 blocks
# (NE_STORE_MAX_BLOCKS), 2,048 waiting pulls, 65,536 pending acks (256
# consumers with 256 unacknowledged messages each; at the default 16,384
# they wait for acks) and a 4 MiB JetStream queue (NE_JS_QUEUE_BYTES: at the
# default 256 KiB, 16 consumers with 256 unacknowledged messages each fill
# it with acks, a pull request beyond it is dropped as differences.md says,
# and the run stalls).
#
# Usage: tools/js_bench.sh [NATSEDGE_BIN]
#   JS_BENCH_RUNS=3          median of 3 runs of each figure (default 1)
#   JS_BENCH_INTERVAL=1s     the second natsedge's sync_interval (default 2m)
#   JS_BENCH_SECTIONS="multi"  only these of "throughput rss multi" (default
#                            all three; `make bench-store-js` runs multi)
#   JS_MULTI_COUNT=50000     messages of the N-stream runs
set -euo pipefail
cd "$(dirname "$0")/.."

NATSEDGE=${1:-build/default/natsedge}
NATS_SERVER=${NATS_SERVER_BIN:-/usr/sbin/nats-server}
BENCH=build/bench/bench
RUNS=${JS_BENCH_RUNS:-1}
INTERVAL=${JS_BENCH_INTERVAL:-2m}
SECTIONS=${JS_BENCH_SECTIONS:-throughput rss multi}
MULTI_COUNT=${JS_MULTI_COUNT:-50000}
MANY="-DNE_JS_MAX_STREAMS=1024 -DNE_JS_FILE_STREAMS=1024 -DNE_STORE_MAX_LOGS=1100 -DNE_STORE_META_KEYS=4096"
MULTI="$MANY -DNE_JS_FILE_CONSUMERS=1024 -DNE_JS_MAX_WAITING=2048 -DNE_JS_QUEUE_BYTES=4194304 -DNE_STORE_MAX_BLOCKS=2048 -DNE_JS_MAX_PENDING=65536"
section() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }

make -s bench-tool >&2
[ -x "$NATSEDGE" ] || { echo "no natsedge binary at $NATSEDGE" >&2; exit 2; }
if section rss; then
    make -s BUILD=build/bench-js CFLAGS="$MANY" -j2 build/bench-js/natsedge >&2
fi
if section multi; then
    # make does not track CFLAGS: a build with other flags starts over.
    [ "$(cat build/bench-store-js/.cflags 2>/dev/null)" = "$MULTI" ] || rm -rf build/bench-store-js
    make -s BUILD=build/bench-store-js CFLAGS="$MULTI" -j2 build/bench-store-js/natsedge >&2
    echo "$MULTI" >build/bench-store-js/.cflags
fi

dir=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
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

# start_broker KIND [BIN [EXTRA]]: a fresh store directory and port; sets
# $pid, $port. EXTRA goes into natsedge's jetstream block.
start_broker() {
    local kind=$1 bin=${2:-$NATSEDGE} extra=${3:-}
    port=$(free_port)
    rm -rf "$dir/store"
    mkdir -p "$dir/store"
    case $kind in
    natsedge | natsedge-interval)
        printf 'listen: 127.0.0.1:%s\njetstream {\n  store_dir: "%s"\n  sync_interval: "%s"\n%s\n}\n' \
            "$port" "$dir/store" "$([ "$kind" = natsedge ] && echo always || echo "$INTERVAL")" \
            "$extra" >"$dir/ne.conf"
        "$bin" -c "$dir/ne.conf" >"$dir/broker.log" 2>&1 &
        ;;
    nats-server)
        printf 'listen: 127.0.0.1:%s\nserver_name: js-bench\njetstream { store_dir: "%s" }\n' \
            "$port" "$dir/store" >"$dir/ns.conf"
        "$NATS_SERVER" -c "$dir/ns.conf" >"$dir/broker.log" 2>&1 &
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
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR + 1) / 2)] : "-")}'; }
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }

# One figure, RUNS times: "rate p50_us p99_us" (medians) of the BENCH line of
# `phase`, or "- - -" when a run failed.
figure() { # phase bench-args...
    local phase=$1 out line
    shift
    local rates=() p50s=() p99s=()
    for _ in $(seq 1 "$RUNS"); do
        out=$("$BENCH" "$@" --port "$port" --timeout 30 --quiet 2>&1) || true
        line=$(echo "$out" | grep "phase=$phase " || true)
        if [ "$(echo "$line" | field ok)" != 1 ]; then
            echo "  $phase $*: $out" >&2
            echo "- - -"
            return
        fi
        rates+=("$(echo "$line" | field rate)")
        p50s+=("$(echo "$line" | field p50_ns | awk '{ if ($1 == "") print "-"; else printf "%.0f", $1 / 1000 }')")
        p99s+=("$(echo "$line" | field p99_ns | awk '{ if ($1 == "") print "-"; else printf "%.0f", $1 / 1000 }')")
    done
    echo "$(printf '%s\n' "${rates[@]}" | median) $(printf '%s\n' "${p50s[@]}" | median) $(printf '%s\n' "${p99s[@]}" | median)"
}

declare -A R
throughput() { # kind
    local kind=$1 size
    for size in 128 16384; do
        R[$kind,sync,$size]=$(figure sync-pub js-pub --size "$size" --count 1000 --window 1)
        echo "$kind sync-pub $size: ${R[$kind,sync,$size]}" >&2
        R[$kind,async,$size]=$(figure async-pub js-pub --size "$size" \
            --count "$([ "$size" = 128 ] && echo 50000 || echo 2000)" --window 256)
        echo "$kind async-pub $size: ${R[$kind,async,$size]}" >&2
        R[$kind,fetch,$size]=$(figure fetch js-fetch --size "$size" \
            --count "$([ "$size" = 128 ] && echo 50000 || echo 2000)" --batch 128)
        echo "$kind fetch $size: ${R[$kind,fetch,$size]}" >&2
    done
    R[$kind,kvput]=$(figure kv-put js-kv --size 128 --count 1000)
    R[$kind,kvget]=$(figure kv-get js-kv --size 128 --count 1000)
    echo "$kind kv put: ${R[$kind,kvput]} get: ${R[$kind,kvget]}" >&2
}
streams_rss() { # kind bin
    local kind=$1 bin=${2:-} n base rss out
    for n in 1 100 1000; do
        start_broker "$kind" "$bin"
        base=$(rss_kib "$pid")
        out=$("$BENCH" js-streams --count "$n" --port "$port" --timeout 30 --quiet 2>&1) || true
        sleep 1
        rss=$(rss_kib "$pid")
        if [ "$(echo "$out" | field ok)" != 1 ]; then
            echo "  $kind $n streams: $out" >&2
            rss="-"
        fi
        R[$kind,idle,$n]=$base
        R[$kind,rss,$n]=$rss
        echo "$kind $n streams: RSS $base -> $rss KiB" >&2
        stop_broker
    done
}

# N streams: a fresh broker for each kind and N; "pub fetch rss_growth_kib".
multi() { # kind
    local kind=$1 n bin out pubs fetches growths base rss
    bin=$([ "$kind" = nats-server ] || echo build/bench-store-js/natsedge)
    for n in 1 16 256; do
        pubs=() fetches=() growths=()
        for _ in $(seq 1 "$RUNS"); do
            start_broker "$kind" "$bin" "  max_file_store: 512M"
            base=$(rss_kib "$pid")
            out=$("$BENCH" js-multi "$n" --count "$MULTI_COUNT" --keep --port "$port" --timeout 30 \
                --quiet 2>&1) || true
            rss=$(rss_kib "$pid")
            stop_broker
            if ! echo "$out" | grep -q "phase=multi-fetch .*ok=1"; then
                echo "  $kind js-multi $n: $out" >&2
                continue
            fi
            pubs+=("$(echo "$out" | grep "phase=multi-pub " | field rate)")
            fetches+=("$(echo "$out" | grep "phase=multi-fetch " | field rate)")
            growths+=("$((rss - base))")
        done
        if [ "${#pubs[@]}" -eq 0 ]; then
            R[$kind,multi,$n]="- - -"
        else
            R[$kind,multi,$n]="$(printf '%s\n' "${pubs[@]}" | median) $(printf '%s\n' "${fetches[@]}" | median) $(printf '%s\n' "${growths[@]}" | median)"
        fi
        echo "$kind js-multi $n: ${R[$kind,multi,$n]}" >&2
    done
}

if section throughput; then
    for kind in natsedge natsedge-interval nats-server; do
        start_broker "$kind"
        throughput "$kind"
        stop_broker
    done
fi
if section rss; then
    streams_rss natsedge build/bench-js/natsedge
    streams_rss nats-server
fi
if section multi; then
    for kind in natsedge natsedge-interval nats-server; do
        multi "$kind"
    done
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
k() { awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.1f k", a / 1000 }'; }
if section throughput; then
echo
echo "JetStream, natsedge (sync_interval \"always\", the default, and \"$INTERVAL\") against nats-server 2.9.10 -js (file streams; median of $RUNS run(s)):"
echo
echo "| figure | size | natsedge always | natsedge $INTERVAL | nats-server | always / nats-server | $INTERVAL / nats-server |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row() { # label size-label key field(1 rate, 2 p50, 3 p99) unit
    local label=$1 size=$2 key=$3 f=$4 unit=$5 a b c
    a=$(echo "${R[natsedge,$key]}" | cut -d' ' -f"$f")
    b=$(echo "${R[natsedge-interval,$key]}" | cut -d' ' -f"$f")
    c=$(echo "${R[nats-server,$key]}" | cut -d' ' -f"$f")
    if [ "$unit" = k ]; then
        echo "| $label | $size | $(k "$a") | $(k "$b") | $(k "$c") | $(ratio "$a" "$c") | $(ratio "$b" "$c") |"
    else
        echo "| $label | $size | $a µs | $b µs | $c µs | $(ratio "$a" "$c") | $(ratio "$b" "$c") |"
    fi
}
for size in 128 16384; do
    label=$([ "$size" = 128 ] && echo "128 B" || echo "16 KiB")
    row "sync publish p50 latency" "$label" "sync,$size" 2 us
    row "sync publish p99 latency" "$label" "sync,$size" 3 us
    row "async publish (window 256), msgs/s" "$label" "async,$size" 1 k
    row "pull fetch, explicit acks, msgs/s" "$label" "fetch,$size" 1 k
done
for op in put get; do
    row "KV $op (one outstanding), ops/s" "128 B" "kv$op" 1 k
    row "KV $op p50 latency" "128 B" "kv$op" 2 us
done
fi
if section rss; then
echo
echo "RSS with N file streams (a fresh broker each; natsedge built with 1,024 file streams):"
echo
echo "| streams | natsedge idle | natsedge with them | nats-server idle | nats-server with them | per stream natsedge | per stream nats-server | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for n in 1 100 1000; do
    ai=${R[natsedge,idle,$n]} ar=${R[natsedge,rss,$n]}
    bi=${R[nats-server,idle,$n]} br=${R[nats-server,rss,$n]}
    pa=$(awk -v i="$ai" -v r="$ar" -v n="$n" 'BEGIN { if (r == "-") print "-"; else printf "%.0f", (r - i) * 1024 / n }')
    pb=$(awk -v i="$bi" -v r="$br" -v n="$n" 'BEGIN { if (r == "-") print "-"; else printf "%.0f", (r - i) * 1024 / n }')
    echo "| $n | $ai KiB | $ar KiB | $bi KiB | $br KiB | $pa B | $pb B | $(ratio "$pa" "$pb") |"
done
fi
if section multi; then
    echo
    echo "N file streams, $MULTI_COUNT messages of 128 B round-robin (256 acks outstanding), then a pull consumer per stream with explicit acks (natsedge built as build/bench-store-js; a fresh broker each; median of $RUNS run(s)):"
    echo
    echo "| streams | figure | natsedge always | natsedge $INTERVAL | nats-server | always / nats-server | $INTERVAL / nats-server |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for n in 1 16 256; do
        for f in 1 2 3; do
            label=$(case $f in 1) echo "append, msgs/s" ;; 2) echo "read + ack, msgs/s" ;; 3) echo "RSS growth, KiB" ;; esac)
            a=$(echo "${R[natsedge,multi,$n]}" | cut -d' ' -f"$f")
            b=$(echo "${R[natsedge-interval,multi,$n]}" | cut -d' ' -f"$f")
            c=$(echo "${R[nats-server,multi,$n]}" | cut -d' ' -f"$f")
            if [ "$f" = 3 ]; then
                echo "| $n | $label | $a | $b | $c | $(ratio "$a" "$c") | $(ratio "$b" "$c") |"
            else
                echo "| $n | $label | $(k "$a") | $(k "$b") | $(k "$c") | $(ratio "$a" "$c") | $(ratio "$b" "$c") |"
            fi
        done
    done
fi
