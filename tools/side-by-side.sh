#!/usr/bin/env bash
# Runs commands side by side and fails when any of them fails:
#
#   tools/side-by-side.sh <log dir> <name> <command> [<name> <command>]...
#
# Each command's output goes to <log dir>/<name>.log. While they run, a line
# every 60 s counts each one's finished tests ("ok"/"not ok" lines of node's
# TAP output); when all have ended, each log is printed whole, one after the
# other, followed by a summary with every command's exit status and time.
# `make test` runs its three interop passes (natsedge, nats-server, natsedge
# under ASan) so: most of their time is spent waiting on the timers the
# tests exercise (deadlines, keep-alives, reconnect delays), not on the CPU.
# Each command gets NATSEDGE_PASS=<its index> in its environment.
set -uo pipefail
[ $# -ge 3 ] && [ $((($# - 1) % 2)) -eq 0 ] || {
  echo "usage: $0 <log dir> <name> <command> [<name> <command>]..." >&2
  exit 2
}
dir=$1
shift
mkdir -p "$dir"
names=()
cmds=()
while [ $# -gt 0 ]; do
  names+=("$1")
  cmds+=("$2")
  shift 2
done

pids=()
starts=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
}
trap 'cleanup; exit 130' INT TERM

for i in "${!names[@]}"; do
  starts+=("$(date +%s)")
  # setsid: each command leads its own process group, so an interrupted run
  # stops everything it started and nothing else.
  NATSEDGE_PASS=$i setsid bash -c "${cmds[$i]}" >"$dir/${names[$i]}.log" 2>&1 </dev/null &
  pids+=("$!")
done

counts() {
  local i out=""
  for i in "${!names[@]}"; do
    out+=" ${names[$i]}: $(grep -cE '^ *(not )?ok ' "$dir/${names[$i]}.log" 2>/dev/null || echo 0)"
  done
  echo "side-by-side: tests finished so far:$out"
}

rcs=()
ends=()
for i in "${!names[@]}"; do
  rcs+=("")
  ends+=("")
done
left=${#names[@]}
last=$(date +%s)
while [ "$left" -gt 0 ]; do
  sleep 2
  for i in "${!names[@]}"; do
    [ -n "${rcs[$i]}" ] && continue
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      wait "${pids[$i]}"
      rcs[$i]=$?
      ends[$i]=$(date +%s)
      left=$((left - 1))
    fi
  done
  if [ $(($(date +%s) - last)) -ge 60 ]; then
    counts
    last=$(date +%s)
  fi
done

failed=0
for i in "${!names[@]}"; do
  echo "==== ${names[$i]}: ${cmds[$i]}"
  cat "$dir/${names[$i]}.log"
done
for i in "${!names[@]}"; do
  echo "side-by-side: ${names[$i]} exited ${rcs[$i]} after $((ends[i] - starts[i])) s (log: $dir/${names[$i]}.log)"
  [ "${rcs[$i]}" -eq 0 ] || failed=1
done
exit "$failed"
